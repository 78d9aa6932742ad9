//! The platform's formats: JSON log lines with their keys in order, timestamps, trace ids.

use std::fmt;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

/// The trace fields every line written during a call ends with, in the platform's order.
pub const TRACE_KEYS: [&str; 6] = [
    "trace_id",
    "span_id",
    "parent_span_id",
    "session_id",
    "api_key_hash",
    "origin_service",
];

/// The keys of a JSON object line, in the order they are written (serde_json's map sorts them).
pub fn keys_in_order(line: &str) -> Vec<String> {
    struct Keys(Vec<String>);
    impl<'de> Deserialize<'de> for Keys {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Keys, D::Error> {
            struct KeysVisitor;
            impl<'de> Visitor<'de> for KeysVisitor {
                type Value = Keys;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some(key) = map.next_key::<String>()? {
                        map.next_value::<IgnoredAny>()?;
                        keys.push(key);
                    }
                    Ok(Keys(keys))
                }
            }
            deserializer.deserialize_map(KeysVisitor)
        }
    }
    serde_json::from_str::<Keys>(line)
        .unwrap_or_else(|e| panic!("not a JSON object ({e}): {line}"))
        .0
}

/// Asserts `ts` is a UTC ISO-8601 timestamp with microseconds: `2026-11-24T14:17:46.806794Z`.
pub fn assert_platform_timestamp(ts: &str) {
    let shape: String = ts
        .chars()
        .map(|c| if c.is_ascii_digit() { 'D' } else { c })
        .collect();
    assert_eq!(shape, "DDDD-DD-DDTDD:DD:DD.DDDDDDZ", "timestamp {ts}");
}

/// Asserts `id` is `len` lower-case hex characters.
pub fn assert_hex(id: &str, len: usize) {
    assert!(
        id.len() == len && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "`{id}` is not {len} lower-case hex characters"
    );
}
