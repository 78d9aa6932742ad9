//! JSON Schema 2020-12 as an author writes it through schemars reaches `inputSchema` unchanged:
//! composition (`allOf`, `oneOf`, `anyOf`), conditionals (`if`/`then`/`else`), `$anchor` and `$defs`,
//! whether the arguments are one `Arguments<T>` or one parameter each. The framework only removes
//! Rust's number formats (`schema.rs`); everything else is the author's.

use cm_mcp::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

/// How to travel.
#[derive(Deserialize, JsonSchema)]
#[serde(tag = "mode", rename_all = "lowercase")]
#[allow(dead_code)]
enum Travel {
    /// By train, in a class.
    Train { class: u8 },
    /// By plane, with a seat.
    Plane { seat: String },
}

/// A booking: a conditional (a `return` date is required when `round_trip` is true), a composition,
/// and an anchor.
#[derive(Deserialize, JsonSchema)]
#[schemars(extend(
    "$anchor" = "booking",
    "if" = {"properties": {"round_trip": {"const": true}}},
    "then" = {"required": ["return"]},
    "else" = {"not": {"required": ["return"]}},
    "allOf" = [{"required": ["city"]}],
))]
#[allow(dead_code)]
struct Booking {
    city: String,
    round_trip: bool,
    #[serde(rename = "return")]
    return_date: Option<String>,
    travel: Travel,
    /// A number or a text.
    #[schemars(extend("anyOf" = [{"type": "integer"}, {"type": "string"}]))]
    reference: Option<Value>,
}

/// Books with one `Arguments<T>`.
#[cm_tool]
async fn book(booking: Arguments<Booking>) -> String {
    booking.city.clone()
}

/// Books with one parameter per argument.
#[cm_tool]
async fn book_each(travel: Travel, city: String) -> String {
    let _ = travel;
    city
}

fn input_schema(manifest: &Value, tool: &str) -> Value {
    manifest["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == tool)
        .unwrap_or_else(|| panic!("no tool {tool}"))["inputSchema"]
        .clone()
}

#[test]
fn composition_conditionals_and_anchors_reach_the_input_schema_unchanged() {
    let manifest = Server::new("schemas").manifest().unwrap();
    let schema = input_schema(&manifest, "book");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["$anchor"], "booking");
    assert_eq!(
        schema["if"],
        json!({"properties": {"round_trip": {"const": true}}})
    );
    assert_eq!(schema["then"], json!({"required": ["return"]}));
    assert_eq!(schema["else"], json!({"not": {"required": ["return"]}}));
    assert_eq!(schema["allOf"], json!([{"required": ["city"]}]));
    assert_eq!(
        schema["properties"]["reference"]["anyOf"],
        json!([{"type": "integer"}, {"type": "string"}])
    );
    // An internally tagged enum is a `oneOf` of its variants, kept in `$defs` and referenced.
    assert_eq!(
        schema["properties"]["travel"],
        json!({"$ref": "#/$defs/Travel"})
    );
    let travel = &schema["$defs"]["Travel"];
    let variants = travel["oneOf"].as_array().expect("oneOf");
    assert_eq!(variants.len(), 2, "{travel}");
    assert_eq!(
        variants[0]["properties"]["mode"],
        json!({"type": "string", "const": "train"})
    );
    // Rust's number format became bounds; nothing else changed.
    assert_eq!(
        variants[0]["properties"]["class"],
        json!({"type": "integer", "minimum": 0, "maximum": 255})
    );

    let each = input_schema(&manifest, "book_each");
    assert_eq!(
        each["properties"]["travel"],
        json!({"$ref": "#/$defs/Travel"})
    );
    assert_eq!(
        each["$defs"]["Travel"], *travel,
        "the same definition either way"
    );
}
