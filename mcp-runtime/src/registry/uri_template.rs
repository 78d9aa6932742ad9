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
//! occurrence matched, it binds what that did.
//!
//! A value is made of whole characters: a percent-encoded character, including the two to four
//! `%XX` of one non-ASCII character, is one unit the regex never splits. Otherwise the shortest split
//! of `x://%C3%A9z` over `{a}{b}` would give `a` the bytes `%C3`, which decode to no text, and the
//! URI, an expansion of the template, would match nothing (found by the `uri_template` fuzz target).
//! A `%` that starts no `%XX` stands for itself: it is read as `%25` before matching.

use std::borrow::Cow;

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
                UriPart::Var {
                    reserved: false, ..
                } => pattern.push_str(&format!("((?:{ENCODED}|[^/?#%])+?)")),
                UriPart::Var { reserved: true, .. } => {
                    pattern.push_str(&format!("((?:{ENCODED}|[^%])+?)"))
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
        let uri = lone_percents_encoded(uri);
        let captures = self.pattern.captures(&uri)?;
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

/// One percent-encoded character: an ASCII one, or the lead and continuation bytes of a UTF-8 one
/// (`%C3%A9`), so that a value never ends inside a character.
const ENCODED: &str = concat!(
    "%[0-7][0-9A-Fa-f]",
    "|%[C-Dc-d][0-9A-Fa-f]%[89ABab][0-9A-Fa-f]",
    "|%[Ee][0-9A-Fa-f](?:%[89ABab][0-9A-Fa-f]){2}",
    "|%[Ff][0-7](?:%[89ABab][0-9A-Fa-f]){3}",
);

/// `uri` with every `%` that starts no `%XX` written `%25`, the percent sign it stands for. Borrowed
/// when there is none, as in every well-formed URI.
fn lone_percents_encoded(uri: &str) -> Cow<'_, str> {
    let bytes = uri.as_bytes();
    let lone = |i: usize| {
        bytes[i] == b'%'
            && !bytes
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    };
    if !(0..bytes.len()).any(lone) {
        return Cow::Borrowed(uri);
    }
    let mut encoded = String::with_capacity(uri.len() + 4);
    for (i, c) in uri.char_indices() {
        if lone(i) {
            encoded.push_str("%25");
        } else {
            encoded.push(c);
        }
    }
    Cow::Owned(encoded)
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
        assert_eq!(t.matches("x://%%4").unwrap()["a"], "%%4");
        assert_eq!(t.matches("x://a%25b").unwrap()["a"], "a%b");
    }

    // Found by the `uri_template` fuzz target: the shortest value of `a` was `%C3`, the first byte of
    // `é`, which is no text, so an expansion of the template matched nothing.
    #[test]
    fn a_variable_never_ends_inside_an_encoded_non_ascii_character() {
        let t = template(vec![UriPart::Literal("x://"), var("a"), var("b")]);
        let vars = t.matches("x://%C3%A9z").unwrap();
        assert_eq!((&vars["a"], &vars["b"]), (&"é".into(), &"z".into()));
        let vars = t.matches("x://%F0%9F%A6%80%E2%82%AC").unwrap();
        assert_eq!((&vars["a"], &vars["b"]), (&"🦀".into(), &"€".into()));
        let t = template(vec![UriPart::Literal("x://"), any("a"), var("b")]);
        let vars = t.matches("x://%C3%A9/%C3%A9").unwrap();
        assert_eq!((&vars["a"], &vars["b"]), (&"é/".into(), &"é".into()));
        // Bytes that are no UTF-8 text bind nothing: the URI names no resource.
        assert!(t.matches("x://%FF%FE").is_none());
        assert!(t.matches("x://%C3z").is_none());
    }
}
