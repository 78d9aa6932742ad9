//! PostgreSQL values, as the server prints them in text format, turned into JSON with their types kept.
//!
//! Results are read in text format on purpose: every type (extensions, enums, ranges, geometric types,
//! composites) has a faithful text form chosen by the server, so nothing is ever undecodable. The column
//! types (known from the statement's description) then decide the JSON shape: integers and floats become
//! numbers, `numeric` a string with every digit, booleans booleans, `json`/`jsonb` JSON, arrays lists,
//! `bytea` base64, and everything else (timestamps, dates, uuid, intervals, ...) the server's own text.

use base64::Engine as _;
use serde_json::Value;
use tokio_postgres::types::{Kind, Type};

/// The JSON value of one column's text `text` (`None` is SQL NULL).
pub fn to_json(ty: &Type, text: Option<&str>) -> Value {
    match text {
        None => Value::Null,
        Some(text) => convert(ty, text),
    }
}

fn convert(ty: &Type, text: &str) -> Value {
    match ty.kind() {
        Kind::Array(element) => {
            let delimiter = if *ty == Type::BOX_ARRAY { ';' } else { ',' };
            match parse_array(text, delimiter) {
                Some(array) => array_to_json(element, array),
                // Not expected from a server; the text is still the value.
                None => Value::String(text.to_string()),
            }
        }
        Kind::Domain(base) => convert(base, text),
        _ => scalar(ty, text),
    }
}

fn scalar(ty: &Type, text: &str) -> Value {
    match *ty {
        Type::BOOL => match text {
            "t" => Value::Bool(true),
            "f" => Value::Bool(false),
            other => Value::String(other.to_string()),
        },
        Type::INT2 | Type::INT4 | Type::INT8 => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(text.to_string())),
        Type::OID | Type::XID | Type::CID => text
            .parse::<u64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(text.to_string())),
        // The server prints the shortest text that reads back to the same float, so this parse is
        // exact; NaN and the infinities have no JSON number and stay strings.
        Type::FLOAT4 | Type::FLOAT8 => match text.parse::<f64>() {
            Ok(f) if f.is_finite() => serde_json::Number::from_f64(f)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(text.to_string())),
            _ => Value::String(text.to_string()),
        },
        Type::JSON | Type::JSONB => {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
        }
        Type::BYTEA => match decode_bytea(text) {
            Some(bytes) => Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
            None => Value::String(text.to_string()),
        },
        // numeric keeps every digit as a string: a JSON number would go through f64 in most clients.
        _ => Value::String(text.to_string()),
    }
}

/// `\x0a0b` (the `hex` output the server is configured for) or the older escape format.
fn decode_bytea(text: &str) -> Option<Vec<u8>> {
    if let Some(hex) = text.strip_prefix("\\x") {
        // By bytes: text that is no hex may hold multi-byte characters, which a `str` slice would cut.
        let hex = hex.as_bytes();
        if hex.len() % 2 != 0 {
            return None;
        }
        let digit = |b: u8| char::from(b).to_digit(16).map(|d| d as u8);
        return hex
            .chunks(2)
            .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
            .collect();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
            } else {
                let octal = std::str::from_utf8(bytes.get(i + 1..i + 4)?).ok()?;
                out.push(u8::from_str_radix(octal, 8).ok()?);
                i += 4;
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// One parsed element of an array literal.
#[derive(Debug, PartialEq)]
enum Element {
    Null,
    Text(String),
    Array(Vec<Element>),
}

fn array_to_json(element_type: &Type, elements: Vec<Element>) -> Value {
    Value::Array(
        elements
            .into_iter()
            .map(|e| match e {
                Element::Null => Value::Null,
                Element::Text(text) => convert(element_type, &text),
                Element::Array(inner) => array_to_json(element_type, inner),
            })
            .collect(),
    )
}

/// White space around array elements, as PostgreSQL's `array_isspace` has it: ASCII only. The server
/// quotes an element holding one of these and no other; any other white space (a no-break space, an
/// ideographic space) is part of an unquoted element and must be kept.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// Parses an array's text form: `{1,2,NULL}`, `{{1,2},{3,4}}`, `{"a b","c\"d"}`, with an optional
/// `[1:2]=` bounds decoration.
fn parse_array(text: &str, delimiter: char) -> Option<Vec<Element>> {
    let body = match text.find('=') {
        Some(eq) if text.starts_with('[') => &text[eq + 1..],
        _ => text,
    };
    let mut chars = body.trim_matches(is_space).chars().peekable();
    let result = parse_level(&mut chars, delimiter)?;
    chars.next().is_none().then_some(result)
}

fn parse_level(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    delimiter: char,
) -> Option<Vec<Element>> {
    if chars.next()? != '{' {
        return None;
    }
    let mut items = Vec::new();
    loop {
        while chars.peek().copied().is_some_and(is_space) {
            chars.next();
        }
        match *chars.peek()? {
            '}' if items.is_empty() => {
                chars.next();
                return Some(items);
            }
            '{' => items.push(Element::Array(parse_level(chars, delimiter)?)),
            '"' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next()? {
                        '\\' => value.push(chars.next()?),
                        '"' => break,
                        c => value.push(c),
                    }
                }
                items.push(Element::Text(value));
            }
            _ => {
                let mut value = String::new();
                while let Some(&c) = chars.peek() {
                    if c == delimiter || c == '}' {
                        break;
                    }
                    if c == '\\' {
                        chars.next();
                        value.push(chars.next()?);
                        continue;
                    }
                    value.push(c);
                    chars.next();
                }
                let value = value.trim_end_matches(is_space).to_string();
                items.push(if value.eq_ignore_ascii_case("NULL") {
                    Element::Null
                } else {
                    Element::Text(value)
                });
            }
        }
        while chars.peek().copied().is_some_and(is_space) {
            chars.next();
        }
        match chars.next()? {
            '}' => return Some(items),
            c if c == delimiter => continue,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn scalars() {
        assert_eq!(
            to_json(&Type::INT8, Some("9007199254740993")),
            json!(9007199254740993i64)
        );
        assert_eq!(to_json(&Type::INT4, None), Value::Null);
        assert_eq!(to_json(&Type::FLOAT8, Some("0.1")), json!(0.1));
        assert_eq!(to_json(&Type::FLOAT8, Some("NaN")), json!("NaN"));
        assert_eq!(
            to_json(&Type::FLOAT4, Some("-Infinity")),
            json!("-Infinity")
        );
        assert_eq!(
            to_json(&Type::NUMERIC, Some("12345678901234567890.000000000001")),
            json!("12345678901234567890.000000000001")
        );
        assert_eq!(to_json(&Type::BOOL, Some("t")), json!(true));
        assert_eq!(
            to_json(&Type::JSONB, Some(r#"{"a": [1, null]}"#)),
            json!({"a": [1, null]})
        );
        assert_eq!(
            to_json(&Type::BYTEA, Some("\\xdeadbeef")),
            json!("3q2+7w==")
        );
        assert_eq!(
            to_json(&Type::BYTEA, Some("a\\\\b\\001")),
            json!("YVxiAQ==")
        );
        assert_eq!(
            to_json(&Type::TIMESTAMPTZ, Some("2024-01-02 03:04:05+00")),
            json!("2024-01-02 03:04:05+00")
        );
    }

    #[test]
    fn arrays() {
        assert_eq!(
            to_json(&Type::INT4_ARRAY, Some("{1,2,NULL}")),
            json!([1, 2, null])
        );
        assert_eq!(to_json(&Type::INT4_ARRAY, Some("{}")), json!([]));
        assert_eq!(
            to_json(&Type::INT4_ARRAY, Some("{{1,2},{3,4}}")),
            json!([[1, 2], [3, 4]])
        );
        assert_eq!(
            to_json(
                &Type::TEXT_ARRAY,
                Some(r#"{"a b","c\"d",NULL,"NULL",x\,y}"#)
            ),
            json!(["a b", "c\"d", null, "NULL", "x,y"])
        );
        assert_eq!(
            to_json(&Type::INT4_ARRAY, Some("[0:1]={7,8}")),
            json!([7, 8])
        );
        assert_eq!(
            to_json(&Type::BOOL_ARRAY, Some("{t,f}")),
            json!([true, false])
        );
        assert_eq!(
            to_json(&Type::JSONB_ARRAY, Some(r#"{"{\"a\": 1}",null}"#)),
            json!([{"a": 1}, null])
        );
        assert_eq!(
            to_json(&Type::BOX_ARRAY, Some("{(1,1),(0,0);(2,2),(1,1)}")),
            json!(["(1,1),(0,0)", "(2,2),(1,1)"])
        );
        // Malformed text is kept as it is rather than lost.
        assert_eq!(to_json(&Type::INT4_ARRAY, Some("{1,2")), json!("{1,2"));
    }

    // Found by the `pg_values` fuzz target: hex text with a multi-byte character was cut inside it.
    #[test]
    fn bytea_text_that_is_not_hex_is_kept_rather_than_a_panic() {
        assert_eq!(
            to_json(&Type::BYTEA, Some("\\xa\u{e9}a")),
            json!("\\xa\u{e9}a")
        );
        assert_eq!(to_json(&Type::BYTEA, Some("\\x\u{e9}")), json!("\\x\u{e9}"));
    }

    // Found by the `pg_values` fuzz target: PostgreSQL quotes an element only for ASCII white space,
    // so other white space (a no-break or ideographic space) is part of an unquoted element.
    #[test]
    fn array_elements_keep_white_space_that_postgresql_does_not_quote() {
        assert_eq!(
            to_json(&Type::TEXT_ARRAY, Some("{a\u{a0},\u{3000}b,\u{2028}}")),
            json!(["a\u{a0}", "\u{3000}b", "\u{2028}"])
        );
    }
}
