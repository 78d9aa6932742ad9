//! Matching a URI against a resource template (RFC 6570 level 1 and 2 expressions: `{var}` binds one
//! path segment, `{+var}` anything), binding the template's variables for the call.

use serde_json::Value;

use crate::extract::JsonObject;

/// A parsed URI template: literal text and `{var}` (no `/`) or `{+var}` (anything) expressions.
pub(crate) struct UriTemplate {
    parts: Vec<Part>,
}

enum Part {
    Literal(String),
    Var { name: String, reserved: bool },
}

impl UriTemplate {
    /// Parses a template the macro already validated.
    pub(crate) fn parse(template: &str) -> UriTemplate {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_string()));
            }
            let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
            let expr = &rest[open + 1..close];
            let (name, reserved) = match expr.strip_prefix('+') {
                Some(name) => (name, true),
                None => (expr, false),
            };
            parts.push(Part::Var {
                name: name.to_string(),
                reserved,
            });
            rest = rest.get(close + 1..).unwrap_or("");
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        UriTemplate { parts }
    }

    /// The template with every variable's name left out: two templates of the same shape match the
    /// same URIs.
    pub(crate) fn shape(&self) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Literal(text) => text.as_str(),
                Part::Var {
                    reserved: false, ..
                } => "{}",
                Part::Var { reserved: true, .. } => "{+}",
            })
            .collect()
    }

    /// The variables bound by matching `uri`, percent-decoded, or `None` when it does not match.
    pub(crate) fn matches(&self, uri: &str) -> Option<JsonObject> {
        let mut vars = JsonObject::new();
        let mut rest = uri;
        let mut parts = self.parts.iter().peekable();
        while let Some(part) = parts.next() {
            match part {
                Part::Literal(lit) => rest = rest.strip_prefix(lit.as_str())?,
                Part::Var { name, reserved } => {
                    let end = match parts.peek() {
                        Some(Part::Literal(next)) => rest.find(next.as_str())?,
                        _ => rest.len(),
                    };
                    let value = &rest[..end];
                    if value.is_empty() || (!reserved && value.contains(['/', '?', '#'])) {
                        return None;
                    }
                    let decoded = percent_encoding::percent_decode_str(value)
                        .decode_utf8()
                        .ok()?
                        .into_owned();
                    vars.insert(name.clone(), Value::String(decoded));
                    rest = &rest[end..];
                }
            }
        }
        rest.is_empty().then_some(vars)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_matching() {
        let t = UriTemplate::parse("db://tables/{table}");
        assert_eq!(t.matches("db://tables/users").unwrap()["table"], "users");
        assert_eq!(t.matches("db://tables/a%20b").unwrap()["table"], "a b");
        assert!(t.matches("db://tables/").is_none());
        assert!(t.matches("db://tables/a/b").is_none());
        assert!(t.matches("db://other/users").is_none());

        let t = UriTemplate::parse("file:///{+path}");
        assert_eq!(t.matches("file:///a/b.txt").unwrap()["path"], "a/b.txt");

        let t = UriTemplate::parse("x://{schema}.{table}/rows");
        let vars = t.matches("x://public.users/rows").unwrap();
        assert_eq!(vars["schema"], "public");
        assert_eq!(vars["table"], "users");
    }

    #[test]
    fn templates_differing_only_in_names_have_one_shape() {
        let a = UriTemplate::parse("db://{schema}/{+path}");
        let b = UriTemplate::parse("db://{s}/{+p}");
        assert_eq!(a.shape(), b.shape());
        assert_ne!(a.shape(), UriTemplate::parse("db://{s}/{p}").shape());
    }
}
