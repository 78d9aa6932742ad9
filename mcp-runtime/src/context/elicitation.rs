//! Elicitation's form and answer: what [`Context::elicit`](super::Context::elicit) asks the user
//! through the client, and what comes back.
//!
//! The form's schema is generated from `T` with schemars and rewritten into the restricted dialect MCP
//! allows (a flat object of strings, numbers, integers, booleans and enums): subschemas inlined, titled
//! enums as `oneOf` of `{const, title}` (single-select) or `items.anyOf` (multi-select), `Option<_>`
//! fields as plain optional properties, and serde defaults as `default` (SEP-1034).

use rmcp::model::ElicitationSchema;
use schemars::JsonSchema;
use serde_json::{Map, Value};

use crate::ToolError;

/// The user's answer to [`Context::elicit`](super::Context::elicit).
#[derive(Debug, Clone, PartialEq)]
pub enum Elicitation<T> {
    /// The user submitted the form; its content, parsed.
    Accept(T),
    /// The user explicitly declined to answer.
    Decline,
    /// The user dismissed the request without choosing.
    Cancel,
}

impl<T> Elicitation<T> {
    /// `accept`, `decline` or `cancel`, as the protocol names the action.
    pub fn action(&self) -> &'static str {
        match self {
            Elicitation::Accept(_) => "accept",
            Elicitation::Decline => "decline",
            Elicitation::Cancel => "cancel",
        }
    }

    /// The content, when the user accepted.
    pub fn accepted(self) -> Option<T> {
        match self {
            Elicitation::Accept(value) => Some(value),
            _ => None,
        }
    }
}

/// The elicitation schema for `T`, or a tool error naming what `T` uses that a form cannot express.
pub fn elicitation_schema<T: JsonSchema>() -> Result<ElicitationSchema, ToolError> {
    let invalid = |problem: String| {
        ToolError::internal(format!(
            "`{}` cannot be an elicitation form: {problem}",
            std::any::type_name::<T>()
        ))
        .with_type("InvalidElicitationSchema")
    };
    let mut settings = crate::schema::settings();
    settings.inline_subschemas = true;
    let root = settings.into_generator().into_root_schema_for::<T>();
    let Value::Object(mut root) = root.to_value() else {
        return Err(invalid("its schema is not an object".into()));
    };
    if root.get("type").and_then(Value::as_str) != Some("object") {
        return Err(invalid(
            "a form is a struct with named fields (its schema must be an object)".into(),
        ));
    }
    // schemars titles the root with the type's name, which means nothing to the user.
    if root.get("title").and_then(Value::as_str) == Some(T::schema_name().as_ref()) {
        root.remove("title");
    }
    root.remove("$defs");
    // The dialect of a form is fixed by MCP; clients of 2025-06-18 do not expect the keyword.
    root.remove("$schema");
    if let Some(Value::Object(properties)) = root.get_mut("properties") {
        for (name, property) in properties.iter_mut() {
            normalize_property(property)
                .map_err(|problem| invalid(format!("field `{name}` {problem}")))?;
        }
    }
    ElicitationSchema::from_json_schema(root.clone()).map_err(|error| {
        invalid(format!(
            "its schema is outside what MCP allows in a form ({error}): {}",
            Value::Object(root)
        ))
    })
}

/// String formats MCP allows in a form; schemars may emit others (`uuid`, `ipv4`, ...).
const STRING_FORMATS: &[&str] = &["email", "uri", "date", "date-time"];

/// Rewrites one property into MCP's form dialect.
fn normalize_property(property: &mut Value) -> Result<(), String> {
    let Value::Object(schema) = property else {
        return Err("has a boolean schema".into());
    };
    // `Option<T>` is `"type": [T, "null"]`: optional already means "may be absent".
    if let Some(Value::Array(types)) = schema.get("type") {
        let kept: Vec<&Value> = types.iter().filter(|t| *t != "null").collect();
        let [single] = kept.as_slice() else {
            return Err(format!("has several types {}", Value::Array(types.clone())));
        };
        let single = (*single).clone();
        schema.insert("type".into(), single);
    }
    if let Some(Value::Array(variants)) = schema.get_mut("anyOf")
        && variants
            .iter()
            .any(|v| v.get("type").and_then(Value::as_str) == Some("null"))
    {
        // `Option<Enum>`: `anyOf: [enum schema, {type: null}]`.
        variants.retain(|v| v.get("type").and_then(Value::as_str) != Some("null"));
        if variants.len() == 1 {
            let Some(Value::Object(inner)) = variants.pop() else {
                return Err("has an unsupported optional schema".into());
            };
            schema.remove("anyOf");
            for (key, value) in inner {
                schema.entry(key).or_insert(value);
            }
        }
    }
    if schema.contains_key("oneOf") {
        titled_options(schema, "oneOf")?;
        schema.insert("type".into(), "string".into());
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("string") => {
            let allowed = schema
                .get("format")
                .and_then(Value::as_str)
                .is_none_or(|f| STRING_FORMATS.contains(&f));
            if !allowed {
                schema.remove("format");
            }
        }
        Some("integer" | "number") => {
            schema.remove("format");
        }
        Some("boolean") => {}
        Some("array") => {
            let Some(Value::Object(items)) = schema.get_mut("items") else {
                return Err("is a list without an item schema".into());
            };
            if items.contains_key("oneOf") || items.contains_key("anyOf") {
                let key = if items.contains_key("oneOf") {
                    "oneOf"
                } else {
                    "anyOf"
                };
                titled_options(items, key)?;
                // Multi-select titled options are `items.anyOf` (SEP-1330).
                if let Some(options) = items.remove("oneOf") {
                    items.insert("anyOf".into(), options);
                }
                items.remove("type");
            } else if items.contains_key("enum") {
                items.insert("type".into(), "string".into());
            } else {
                return Err("is a list of something other than enum values (a form's lists are multi-selects of an enum)".into());
            }
        }
        Some(other) => return Err(format!("has type `{other}`, which a form cannot hold")),
        None => return Err("has no type (nested or untagged types cannot be form fields)".into()),
    }
    Ok(())
}

/// Makes every entry of `schema[key]` a `{const, title}` pair (a variant without a title is titled by
/// its value); fails when an entry is not a string constant.
fn titled_options(schema: &mut Map<String, Value>, key: &str) -> Result<(), String> {
    let Some(Value::Array(variants)) = schema.get_mut(key) else {
        return Err(format!("has a malformed `{key}`"));
    };
    let mut options = Vec::new();
    for variant in variants.iter() {
        // Variants without metadata may come grouped as `{"enum": [..]}`.
        let values: Vec<&Value> =
            match (variant.get("const"), variant.get("enum")) {
                (Some(value), _) => vec![value],
                (None, Some(Value::Array(values))) => values.iter().collect(),
                _ => return Err(
                    "has a choice that is not a constant (only unit enum variants can be choices)"
                        .into(),
                ),
            };
        for value in values {
            let Some(text) = value.as_str() else {
                return Err(format!("has a choice {value} that is not a string"));
            };
            let title = variant.get("title").and_then(Value::as_str).unwrap_or(text);
            let mut option = Map::new();
            option.insert("const".into(), text.into());
            option.insert("title".into(), title.into());
            options.push(Value::Object(option));
        }
    }
    *variants = options;
    Ok(())
}

#[cfg(test)]
mod tests {
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    use super::*;

    // Serialize: schemars writes a field's `default` only when it can serialize the value.
    #[derive(Deserialize, Serialize, JsonSchema, Default)]
    #[serde(rename_all = "lowercase")]
    #[allow(dead_code)]
    enum Status {
        #[default]
        Active,
        Inactive,
    }

    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)]
    enum Choice {
        #[serde(rename = "a")]
        #[schemars(title = "Choice A")]
        A,
        #[serde(rename = "b")]
        B,
    }

    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Form {
        /// Your name
        #[serde(default = "default_name")]
        name: String,
        #[serde(default)]
        status: Status,
        choice: Choice,
        choices: Vec<Choice>,
        statuses: Vec<Status>,
        nickname: Option<String>,
        maybe_choice: Option<Choice>,
        count: u8,
    }

    fn default_name() -> String {
        "Ann".into()
    }

    #[test]
    fn form_schema_uses_the_mcp_dialect() {
        let schema = serde_json::to_value(elicitation_schema::<Form>().unwrap()).unwrap();
        let p = &schema["properties"];
        assert_eq!(schema["type"], "object");
        assert!(schema.get("title").is_none(), "{schema}");
        assert_eq!(
            p["name"],
            json!({"type": "string", "description": "Your name", "default": "Ann"})
        );
        assert_eq!(
            p["status"],
            json!({"type": "string", "enum": ["active", "inactive"], "default": "active"})
        );
        // schemars lists the variants without metadata first; each gets its value as title.
        assert_eq!(
            p["choice"],
            json!({"type": "string", "oneOf": [
                {"const": "b", "title": "b"}, {"const": "a", "title": "Choice A"}
            ]})
        );
        assert_eq!(
            p["choices"],
            json!({"type": "array", "items": {"anyOf": [
                {"const": "b", "title": "b"}, {"const": "a", "title": "Choice A"}
            ]}})
        );
        assert_eq!(
            p["statuses"],
            json!({"type": "array", "items": {"type": "string", "enum": ["active", "inactive"]}})
        );
        assert_eq!(p["nickname"], json!({"type": "string"}));
        assert_eq!(p["maybe_choice"]["type"], "string");
        assert_eq!(p["count"]["type"], "integer");
        let mut required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        required.sort_unstable();
        assert_eq!(required, ["choice", "choices", "count", "statuses"]);
    }

    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Nested {
        inner: Form,
    }

    #[test]
    fn nested_types_are_refused_with_the_field_named() {
        let error = elicitation_schema::<Nested>().unwrap_err();
        assert!(
            error.message().contains("field `inner`"),
            "{}",
            error.message()
        );
        let error = elicitation_schema::<String>().unwrap_err();
        assert!(
            error.message().contains("struct with named fields"),
            "{}",
            error.message()
        );
    }
}
