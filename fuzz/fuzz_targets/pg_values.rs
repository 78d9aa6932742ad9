//! postgres-mcp's conversion of PostgreSQL values to JSON (`postgres_mcp::pgvalue::to_json`), which reads
//! the server's text format: arbitrary text for every type the conversion distinguishes, and values
//! printed exactly as PostgreSQL prints them (integers, floats, `bytea` in hex and escape format, and
//! arrays with PostgreSQL's quoting, NULLs, nesting and bounds), no database needed.
//!
//! An input `<type name>\xff<text>` (`_text\xff{a,"b c",NULL}`; the names are PostgreSQL's, arrays with
//! a leading underscore) is that text as a value of that type; any other input is read with
//! `arbitrary` as a value to print as PostgreSQL does and convert back.
//!
//! Properties: nothing panics, whatever the text; each type has its documented JSON shape (a number
//! only when the text is one, else the text itself; never a value lost); and every value PostgreSQL
//! prints comes back exactly: the integer, the float, the bytes (base64), the array's elements.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use postgres_mcp::pgvalue::to_json;
use serde_json::{Value, json};
use tokio_postgres::types::{Kind, Type};

/// A domain over `int4`, as `CREATE DOMAIN positive AS int4 CHECK (VALUE > 0)` makes one.
fn domain() -> Type {
    Type::new(
        "positive".into(),
        90001,
        Kind::Domain(Type::INT4),
        "public".into(),
    )
}

fn types() -> Vec<Type> {
    vec![
        Type::BOOL,
        Type::INT2,
        Type::INT4,
        Type::INT8,
        Type::OID,
        Type::XID,
        Type::CID,
        Type::FLOAT4,
        Type::FLOAT8,
        Type::JSON,
        Type::JSONB,
        Type::BYTEA,
        Type::NUMERIC,
        Type::TEXT,
        Type::TIMESTAMPTZ,
        Type::UUID,
        domain(),
        Type::BOOL_ARRAY,
        Type::INT4_ARRAY,
        Type::INT8_ARRAY,
        Type::FLOAT8_ARRAY,
        Type::TEXT_ARRAY,
        Type::JSONB_ARRAY,
        Type::BYTEA_ARRAY,
        Type::BOX_ARRAY,
        Type::NUMERIC_ARRAY,
    ]
}

#[derive(Arbitrary, Debug)]
enum Printed {
    Int(i64),
    Float(f64),
    Bytea {
        bytes: Vec<u8>,
        escape: bool,
    },
    /// A `text[]` (or `box[]`, whose delimiter is `;`), one or two dimensions.
    Array {
        elements: Vec<Option<String>>,
        rows: u8,
        boxes: bool,
        lower: Option<i8>,
    },
}

/// PostgreSQL's `array_out`: an element is quoted when it is empty, reads as NULL, or holds a quote,
/// a backslash, a brace, the delimiter or ASCII white space; inside quotes `"` and `\` are escaped.
fn pg_element(element: &Option<String>, delimiter: char) -> String {
    let Some(text) = element else {
        return "NULL".into();
    };
    let quote = text.is_empty()
        || text.eq_ignore_ascii_case("NULL")
        || text.chars().any(|c| {
            matches!(
                c,
                '"' | '\\' | '{' | '}' | ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'
            ) || c == delimiter
        });
    if !quote {
        return text.clone();
    }
    let mut out = String::from('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn pg_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        }
    } else if f != 0.0 && (f.abs() >= 1e16 || f.abs() < 1e-4) {
        // PostgreSQL's shortest-exact output switches to exponent form, with a sign and two digits.
        let e = format!("{f:e}");
        let (mantissa, exponent) = e.split_once('e').unwrap();
        let exponent: i32 = exponent.parse().unwrap();
        format!(
            "{mantissa}e{}{:02}",
            if exponent < 0 { '-' } else { '+' },
            exponent.abs()
        )
    } else {
        format!("{f}")
    }
}

/// PostgreSQL's `bytea_output = escape`.
fn pg_bytea_escape(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b'\\' => "\\\\".to_string(),
            0x20..=0x7e => char::from(b).to_string(),
            _ => format!("\\{b:03o}"),
        })
        .collect()
}

/// The documented shape of one scalar of type `ty` printed as `text`.
fn check_scalar(ty: &Type, text: &str, value: &Value) {
    let kept = Value::String(text.to_string());
    let base = match ty.kind() {
        Kind::Domain(base) => base.clone(),
        _ => ty.clone(),
    };
    match base {
        Type::BOOL => match text {
            "t" => assert_eq!(*value, json!(true)),
            "f" => assert_eq!(*value, json!(false)),
            _ => assert_eq!(*value, kept),
        },
        Type::INT2 | Type::INT4 | Type::INT8 => match text.parse::<i64>() {
            Ok(n) => assert_eq!(*value, json!(n)),
            Err(_) => assert_eq!(*value, kept),
        },
        Type::OID | Type::XID | Type::CID => match text.parse::<u64>() {
            Ok(n) => assert_eq!(*value, json!(n)),
            Err(_) => assert_eq!(*value, kept),
        },
        Type::FLOAT4 | Type::FLOAT8 => match text.parse::<f64>() {
            Ok(f) if f.is_finite() => assert_eq!(value.as_f64(), Some(f), "{text:?}"),
            _ => assert_eq!(*value, kept),
        },
        Type::JSON | Type::JSONB => match serde_json::from_str::<Value>(text) {
            Ok(parsed) => assert_eq!(*value, parsed),
            Err(_) => assert_eq!(*value, kept),
        },
        Type::BYTEA => {
            let Value::String(out) = value else {
                panic!("bytea gave {value:?}")
            };
            // Either the decoded bytes in base64 or, when the text is no bytea, the text itself.
            assert!(
                *out == text
                    || base64::engine::general_purpose::STANDARD
                        .decode(out)
                        .is_ok(),
                "{text:?} gave {out:?}"
            );
        }
        _ => assert_eq!(*value, kept),
    }
}

/// Any text as a value of `ty`: the documented shape, nothing lost.
fn check_text(ty: &Type, text: &str) {
    assert_eq!(to_json(ty, None), Value::Null);
    let value = to_json(ty, Some(text));
    match ty.kind() {
        // A list, or the text itself when it is no array literal (never lost).
        Kind::Array(_) => assert!(
            value.is_array() || value == Value::String(text.to_string()),
            "{ty} {text:?} gave {value:?}"
        ),
        _ => check_scalar(ty, text, &value),
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some(at) = data.iter().position(|b| *b == 0xff) {
        if let (Ok(name), Ok(text)) = (
            std::str::from_utf8(&data[..at]),
            std::str::from_utf8(&data[at + 1..]),
        ) && let Some(ty) = types().into_iter().find(|ty| ty.name() == name)
        {
            check_text(&ty, text);
        }
        return;
    }
    let Ok(input) = Printed::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    match input {
        Printed::Int(n) => {
            assert_eq!(to_json(&Type::INT8, Some(&n.to_string())), json!(n));
            assert_eq!(to_json(&domain(), Some(&n.to_string())), json!(n));
        }
        Printed::Float(f) => {
            let text = pg_float(f);
            let value = to_json(&Type::FLOAT8, Some(&text));
            if f.is_finite() {
                assert_eq!(value.as_f64(), Some(f), "{text:?} gave {value:?}");
            } else {
                assert_eq!(value, Value::String(text));
            }
        }
        Printed::Bytea { bytes, escape } => {
            let text = if escape {
                pg_bytea_escape(&bytes)
            } else {
                format!(
                    "\\x{}",
                    bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
                )
            };
            let want = base64::engine::general_purpose::STANDARD.encode(&bytes);
            assert_eq!(to_json(&Type::BYTEA, Some(&text)), json!(want), "{text:?}");
        }
        Printed::Array {
            elements,
            rows,
            boxes,
            lower,
        } => {
            let (ty, delimiter) = if boxes {
                (Type::BOX_ARRAY, ';')
            } else {
                (Type::TEXT_ARRAY, ',')
            };
            let sep = delimiter.to_string();
            let printed: Vec<String> = elements.iter().map(|e| pg_element(e, delimiter)).collect();
            let expected: Vec<Value> = elements
                .iter()
                .map(|e| e.as_deref().map_or(Value::Null, Value::from))
                .collect();
            // Two dimensions when the elements split evenly into `rows` rows (PostgreSQL's arrays are
            // rectangular).
            let rows = usize::from(rows % 4).max(1);
            let (mut text, want) = if rows > 1 && !elements.is_empty() && elements.len() % rows == 0
            {
                let width = elements.len() / rows;
                let text = printed
                    .chunks(width)
                    .map(|row| format!("{{{}}}", row.join(&sep)))
                    .collect::<Vec<_>>()
                    .join(&sep);
                let want: Vec<Value> = expected
                    .chunks(width)
                    .map(|row| Value::Array(row.to_vec()))
                    .collect();
                (format!("{{{text}}}"), want)
            } else {
                (format!("{{{}}}", printed.join(&sep)), expected)
            };
            if let Some(lower) = lower
                && !elements.is_empty()
                && rows == 1
            {
                // A lower bound other than 1 is printed as a decoration: `[0:2]={a,b,c}`.
                let upper = i64::from(lower) + elements.len() as i64 - 1;
                text = format!("[{lower}:{upper}]={text}");
            }
            assert_eq!(to_json(&ty, Some(&text)), Value::Array(want), "{text:?}");
        }
    }
});
