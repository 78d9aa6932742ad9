//! Matching a URI against a resource template (RFC 6570 level 1 and 2 expressions: `{var}` binds one
//! path segment, `{+var}` anything), binding the template's variables for the call. The template was
//! parsed by `#[cm_resource]` at compile time and arrives as [`UriPart`]s: nothing is parsed here.
//!
//! Each template becomes an anchored regular expression once, when the registry is built: a variable
//! may have to take a later occurrence of the text that follows it (`file:///{+path}.txt` must bind
//! `a.txt.bak/b` in `file:///a.txt.bak/b.txt`), and adjacent variables (`{a}{b}`) must share what is
//! between their neighbours. Cutting at the first occurrence refused such URIs, expansions of the
//! template itself (found by the `uri_template` fuzz target); trying every occurrence by hand is
//! exponential in the variables. The `regex` crate matches in time linear in the URI and, with lazy
//! repetitions, binds the shortest values that let the rest match: where cutting at the first
//! occurrence matched, it binds what that did. A percent-encoded character counts as one character.

use regex::Regex;
use serde_json::Value;

use super::UriPart;
use crate::extract::JsonObject;

/// A resource template: its parts, as the macro emitted them (or, for the fuzz targets, as they built
/// them for one input: hence a lifetime rather than `'static`), and the expression that matches them.
pub(crate) struct UriTemplate<'a> {
    parts: &'a [UriPart],
    pattern: Regex,
}

impl<'a> UriTemplate<'a> {
    /// The template of `parts`, ready to match URIs.
    pub(crate) fn new(parts: &'a [UriPart]) -> UriTemplate<'a> {
        let mut pattern = String::from("(?s)^");
        for part in parts {
            match part {
                UriPart::Literal(text) => pattern.push_str(&regex::escape(text)),
                // Characters, a percent-encoded one taken whole when it can be: a value never ends
                // inside `%2F`, which would bind `%` to one variable and `2F` to the next.
                UriPart::Var {
                    reserved: false, ..
                } => pattern.push_str("((?:%[0-9A-Fa-f]{2}|[^/?#])+?)"),
                UriPart::Var { reserved: true, .. } => {
                    pattern.push_str("((?:%[0-9A-Fa-f]{2}|.)+?)")
                }
            }
        }
        pattern.push('$');
        UriTemplate {
            parts,
            // Escaped text and two fixed classes: valid whatever the template, and far below the
            // regex crate's size limits for any template a source file could hold.
            pattern: Regex::new(&pattern).expect("a template's expression is a valid regex"),
        }
    }

    /// The template with every variable's name left out: two templates of the same shape match the
    /// same URIs.
    pub(crate) fn shape(parts: &[UriPart]) -> String {
        parts
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
    pub(crate) fn matches(&self, uri: &str) -> Option<JsonObject> {
        let captures = self.pattern.captures(uri)?;
        let names = self.parts.iter().filter_map(|part| match part {
            UriPart::Var { name, .. } => Some(*name),
            UriPart::Literal(_) => None,
        });
        let mut vars = JsonObject::new();
        for (name, value) in names.zip(captures.iter().skip(1)) {
            let decoded = percent_encoding::percent_decode_str(value?.as_str())
                .decode_utf8()
                .ok()?
                .into_owned();
            vars.insert(name.to_string(), Value::String(decoded));
        }
        Some(vars)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(parts: Vec<UriPart>) -> UriTemplate<'static> {
        UriTemplate::new(parts.leak())
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
        let a = UriTemplate::shape(&[db, var("schema"), slash, any("path")]);
        let b = UriTemplate::shape(&[db, var("s"), slash, any("p")]);
        assert_eq!(a, b);
        assert_ne!(a, UriTemplate::shape(&[db, var("s"), slash, var("p")]));
    }

    // Found by the `uri_template` fuzz target: these URIs are expansions of their templates, and
    // matching cut each variable at the first occurrence of the text after it, or gave the first of
    // two adjacent variables everything.
    #[test]
    fn a_variable_takes_a_later_occurrence_of_the_text_after_it_when_the_rest_needs_it() {
        let t = template(vec![
            UriPart::Literal("file:///"),
            any("path"),
            UriPart::Literal(".txt"),
        ]);
        let vars = t.matches("file:///notes.txt.bak/x.txt").unwrap();
        assert_eq!(vars["path"], "notes.txt.bak/x");

        let t = template(vec![
            UriPart::Literal("files://"),
            any("dir"),
            UriPart::Literal("/meta/"),
            var("name"),
        ]);
        let vars = t.matches("files://a/meta/b/meta/c").unwrap();
        assert_eq!(
            (&vars["dir"], &vars["name"]),
            (&"a/meta/b".into(), &"c".into())
        );
    }

    #[test]
    fn adjacent_variables_share_the_text_between_their_neighbours() {
        let t = template(vec![UriPart::Literal("x://"), var("a"), var("b")]);
        let vars = t.matches("x://ab").unwrap();
        assert_eq!((&vars["a"], &vars["b"]), (&"a".into(), &"b".into()));
        assert!(
            t.matches("x://a").is_none(),
            "each variable binds one character at least"
        );
    }

    #[test]
    fn the_shortest_values_are_bound_when_a_uri_matches_in_several_ways() {
        let t = template(vec![
            UriPart::Literal("x://"),
            var("schema"),
            UriPart::Literal("."),
            var("table"),
        ]);
        let vars = t.matches("x://public.users.v2").unwrap();
        assert_eq!(
            (&vars["schema"], &vars["table"]),
            (&"public".into(), &"users.v2".into())
        );
    }

    // Found by the `uri_template` fuzz target: the shortest value of `a` was `%`, leaving `2Fb` to `b`.
    #[test]
    fn a_variable_never_ends_inside_a_percent_encoded_character() {
        let t = template(vec![UriPart::Literal("x://"), var("a"), var("b")]);
        let vars = t.matches("x://%2Fb").unwrap();
        assert_eq!((&vars["a"], &vars["b"]), (&"/".into(), &"b".into()));
        let t = template(vec![
            UriPart::Literal("x://"),
            var("a"),
            UriPart::Literal("2F"),
            var("b"),
        ]);
        let vars = t.matches("x://%2F2Fc").unwrap();
        assert_eq!((&vars["a"], &vars["b"]), (&"/".into(), &"c".into()));
        // A `%` that encodes nothing is still an ordinary character of a value.
        let t = template(vec![UriPart::Literal("x://"), var("a")]);
        assert_eq!(t.matches("x://100%").unwrap()["a"], "100%");
    }
}
