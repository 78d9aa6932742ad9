//! Matching a URI against a resource template (RFC 6570 level 1 and 2 expressions: `{var}` binds one
//! path segment, `{+var}` anything), binding the template's variables for the call. The template was
//! parsed by `#[cm_resource]` at compile time and arrives as [`UriPart`]s: nothing is parsed here.

use serde_json::Value;

use super::UriPart;
use crate::extract::JsonObject;

/// A resource template's parts, as the macro emitted them.
#[derive(Clone, Copy)]
pub(crate) struct UriTemplate(pub &'static [UriPart]);

impl UriTemplate {
    /// The template with every variable's name left out: two templates of the same shape match the
    /// same URIs.
    pub(crate) fn shape(self) -> String {
        self.0
            .iter()
            .map(|part| match part {
                UriPart::Literal(text) => text,
                UriPart::Var {
                    reserved: false, ..
                } => "{}",
                UriPart::Var { reserved: true, .. } => "{+}",
            })
            .collect()
    }

    /// The variables bound by matching `uri`, percent-decoded, or `None` when it does not match.
    pub(crate) fn matches(self, uri: &str) -> Option<JsonObject> {
        let mut vars = JsonObject::new();
        let mut rest = uri;
        let mut parts = self.0.iter().peekable();
        while let Some(part) = parts.next() {
            match part {
                UriPart::Literal(lit) => rest = rest.strip_prefix(lit)?,
                UriPart::Var { name, reserved } => {
                    let end = match parts.peek() {
                        Some(UriPart::Literal(next)) => rest.find(next)?,
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
                    vars.insert((*name).to_string(), Value::String(decoded));
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

    fn template(parts: Vec<UriPart>) -> UriTemplate {
        UriTemplate(parts.leak())
    }

    const fn var(name: &'static str) -> UriPart {
        UriPart::Var {
            name,
            reserved: false,
        }
    }

    const fn any(name: &'static str) -> UriPart {
        UriPart::Var {
            name,
            reserved: true,
        }
    }

    #[test]
    fn template_matching() {
        let t = template(vec![UriPart::Literal("db://tables/"), var("table")]);
        assert_eq!(t.matches("db://tables/users").unwrap()["table"], "users");
        assert_eq!(t.matches("db://tables/a%20b").unwrap()["table"], "a b");
        assert!(t.matches("db://tables/").is_none());
        assert!(t.matches("db://tables/a/b").is_none());
        assert!(t.matches("db://other/users").is_none());

        let t = template(vec![UriPart::Literal("file:///"), any("path")]);
        assert_eq!(t.matches("file:///a/b.txt").unwrap()["path"], "a/b.txt");

        let t = template(vec![
            UriPart::Literal("x://"),
            var("schema"),
            UriPart::Literal("."),
            var("table"),
            UriPart::Literal("/rows"),
        ]);
        let vars = t.matches("x://public.users/rows").unwrap();
        assert_eq!(vars["schema"], "public");
        assert_eq!(vars["table"], "users");
    }

    #[test]
    fn templates_differing_only_in_names_have_one_shape() {
        let db = UriPart::Literal("db://");
        let slash = UriPart::Literal("/");
        let a = template(vec![db, var("schema"), slash, any("path")]);
        let b = template(vec![db, var("s"), slash, any("p")]);
        assert_eq!(a.shape(), b.shape());
        assert_ne!(
            a.shape(),
            template(vec![db, var("s"), slash, var("p")]).shape()
        );
    }
}
