//! The settings every schema the server publishes is generated with: JSON Schema 2020-12, and only
//! the formats clients know.
//!
//! schemars names Rust's number types in `format` (`uint8`, `int64`, `double`, ...). Those are not
//! JSON Schema formats: MCP Inspector warns `unknown format "uint8" ignored` on every call, and strict
//! validators refuse the schema. The range a format implies is what a client can use, so it becomes
//! `minimum`/`maximum` (where a JSON number can carry it exactly) and the format goes.

use schemars::{
    Schema,
    generate::SchemaSettings,
    transform::{RecursiveTransform, Transform},
};
use serde_json::Value;

/// Draft 2020-12 with Rust's number formats replaced by bounds.
pub(crate) fn settings() -> SchemaSettings {
    SchemaSettings::draft2020_12().with_transform(RecursiveTransform(standard_formats))
}

/// Applies the settings' transform to a schema the generator hands out without it (`subschema_for`
/// gives inline schemas untransformed; root schemas and definitions get it by themselves).
pub(crate) fn standardize(schema: &mut Schema) {
    RecursiveTransform(standard_formats).transform(schema);
}

/// The largest integer a JSON number (an IEEE double) holds exactly: wider bounds would be rounded.
const MAX_SAFE: i64 = (1 << 53) - 1;

fn standard_formats(schema: &mut Schema) {
    let Some(format) = schema.get("format").and_then(Value::as_str) else {
        return;
    };
    let bounds: Option<(i64, i64)> = match format {
        "int8" => Some((i8::MIN.into(), i8::MAX.into())),
        "int16" => Some((i16::MIN.into(), i16::MAX.into())),
        "int32" => Some((i32::MIN.into(), i32::MAX.into())),
        "uint8" => Some((0, u8::MAX.into())),
        "uint16" => Some((0, u16::MAX.into())),
        "uint32" => Some((0, u32::MAX.into())),
        "int64" | "int128" | "int" => None,
        // Unsigned: the minimum says it; a maximum beyond 2^53 would be rounded, so there is none.
        "uint64" | "uint128" | "uint" => Some((0, i64::MAX)),
        // `float` and `double` say nothing a client can check; `ip` is not a format ("ipv4" and
        // "ipv6" are, and stay).
        "float" | "double" | "ip" => None,
        _ => return,
    };
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    object.remove("format");
    if let Some((min, max)) = bounds {
        object.entry("minimum").or_insert(min.into());
        if max <= MAX_SAFE {
            object.entry("maximum").or_insert(max.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use schemars::JsonSchema;
    use serde_json::json;

    use super::*;

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    struct Numbers {
        small: u8,
        signed: i16,
        count: u32,
        total: u64,
        offset: i64,
        ratio: f64,
        maybe: Option<u16>,
        many: Vec<i32>,
        address: std::net::Ipv4Addr,
    }

    #[test]
    fn number_formats_become_bounds_and_standard_formats_stay() {
        let schema = settings()
            .into_generator()
            .into_root_schema_for::<Numbers>()
            .to_value();
        let properties = &schema["properties"];
        assert_eq!(
            properties["small"],
            json!({"type": "integer", "minimum": 0, "maximum": 255})
        );
        assert_eq!(
            properties["signed"],
            json!({"type": "integer", "minimum": -32768, "maximum": 32767})
        );
        assert_eq!(
            properties["count"],
            json!({"type": "integer", "minimum": 0, "maximum": 4294967295u32})
        );
        assert_eq!(
            properties["total"],
            json!({"type": "integer", "minimum": 0})
        );
        assert_eq!(properties["offset"], json!({"type": "integer"}));
        assert_eq!(properties["ratio"], json!({"type": "number"}));
        assert_eq!(
            properties["maybe"],
            json!({"type": ["integer", "null"], "minimum": 0, "maximum": 65535})
        );
        assert_eq!(
            properties["many"]["items"],
            json!({"type": "integer", "minimum": -2147483648, "maximum": 2147483647})
        );
        assert_eq!(properties["address"]["format"], "ipv4");
        assert!(!schema.to_string().contains("uint"), "{schema}");
    }
}
