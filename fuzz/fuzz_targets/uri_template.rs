//! URI-template matching (`resources/read` of a template). The input is the template, the URI and
//! values for the template's variables, apart by `\xff` bytes (which UTF-8 text never contains):
//! `file:///{+path}\xfffile:///a/b.txt\xffa/b.txt`. A template the macro would refuse is skipped.
//!
//! Properties: matching never panics; a match binds exactly the template's variables, none empty, and
//! those values re-expand (RFC 6570) to a URI the template matches again; and every URI that is an
//! expansion of the template with non-empty values matches, binding values that expand to that URI.
#![no_main]

use std::{collections::BTreeSet, sync::Mutex};

use cm_mcp::fuzzing::{UriPart, match_uri_template};
use libfuzzer_sys::fuzz_target;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Distinct strings kept (see `intern`); beyond it, inputs with new ones are skipped.
const MAX_INTERNED: usize = 200_000;

/// `UriPart` holds `&'static str`s, as the macro emits them: each distinct literal or name is leaked
/// once and kept here (reachable, so no leak report), up to `MAX_INTERNED` of them.
fn intern(text: &str) -> Option<&'static str> {
    static SEEN: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut seen = SEEN.lock().unwrap();
    if let Some(known) = seen.get(text) {
        return Some(known);
    }
    if seen.len() >= MAX_INTERNED {
        return None;
    }
    let leaked: &'static str = String::leak(text.to_string());
    seen.insert(leaked);
    Some(leaked)
}

/// The template's parts as `#[cm_resource]` parses it (`mcp-macros/src/uri.rs`): a scheme, no white
/// space or controls, no `%` but in `%XX`, `{name}` and `{+name}` expressions with distinct names;
/// `None` if it refuses it.
fn parse(template: &str) -> Option<Vec<UriPart>> {
    let (scheme, rest) = template.split_once(':')?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok
        || rest.is_empty()
        || template
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        || lone_percent(template)
    {
        return None;
    }
    let mut parts = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return None;
        }
        if open > 0 {
            parts.push(UriPart::Literal(intern(&rest[..open])?));
        }
        let close = open + rest[open..].find('}')?;
        let expression = &rest[open + 1..close];
        let name = expression.strip_prefix('+').unwrap_or(expression);
        let valid = name.starts_with(|c: char| c.is_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_alphanumeric() || c == '_');
        if !valid || names.contains(&name) {
            return None;
        }
        names.push(name);
        parts.push(UriPart::Var {
            name: intern(name)?,
            reserved: expression.starts_with('+'),
        });
        rest = &rest[close + 1..];
    }
    if names.is_empty() {
        return None; // a plain resource, looked up by its URI
    }
    if !rest.is_empty() {
        parts.push(UriPart::Literal(intern(rest)?));
    }
    Some(parts)
}

/// Whether a `%` in `text` starts no `%XX`, which the macro refuses.
fn lone_percent(text: &str) -> bool {
    let bytes = text.as_bytes();
    (0..bytes.len()).any(|i| {
        bytes[i] == b'%'
            && !bytes
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    })
}

/// What `{name}` leaves as it is: RFC 6570's unreserved characters.
const SIMPLE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// What `{+name}` leaves as it is: unreserved and reserved characters (`%` is always encoded here, so
/// that a value's own `%` survives the round trip).
const RESERVED: &AsciiSet = &SIMPLE
    .remove(b':')
    .remove(b'/')
    .remove(b'?')
    .remove(b'#')
    .remove(b'[')
    .remove(b']')
    .remove(b'@')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=');

/// The template expanded with `value(name)` for each variable.
fn expand<'v>(parts: &[UriPart], value: impl Fn(&str) -> &'v str) -> String {
    parts
        .iter()
        .map(|part| match part {
            UriPart::Literal(text) => text.to_string(),
            UriPart::Var { name, reserved } => {
                let set = if *reserved { RESERVED } else { SIMPLE };
                utf8_percent_encode(value(name), set).to_string()
            }
        })
        .collect()
}

fn names(parts: &[UriPart]) -> Vec<&'static str> {
    parts
        .iter()
        .filter_map(|part| match part {
            UriPart::Var { name, .. } => Some(*name),
            UriPart::Literal(_) => None,
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let mut fields = data.split(|b| *b == 0xff).map(std::str::from_utf8);
    let (Some(Ok(template)), Some(Ok(uri))) = (fields.next(), fields.next()) else {
        return;
    };
    let Ok(given) = fields.collect::<Result<Vec<&str>, _>>() else {
        return;
    };
    let Some(parts) = parse(template) else {
        return;
    };
    let names = names(&parts);

    // Any URI: a match binds every variable to a non-empty value that re-expands to a matching URI.
    if let Some(vars) = match_uri_template(&parts, uri) {
        let mut keys: Vec<&str> = vars.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut own = names.clone();
        own.sort_unstable();
        assert_eq!(keys, own, "{:?} bound other variables than its own", parts);
        let value = |name: &str| vars[name].as_str().expect("a string");
        assert!(
            names.iter().all(|n| !value(n).is_empty()),
            "an empty value: {vars:?}"
        );
        let again = expand(&parts, value);
        assert!(
            match_uri_template(&parts, &again).is_some(),
            "{:?} matched {:?} as {vars:?}, whose expansion {again:?} it does not match",
            parts,
            uri
        );
    }

    // Any expansion of the template matches, and what it binds expands to a URI that binds the same
    // values again. (Not always to the same bytes: where two variables touch, the split between them is
    // ambiguous, and a simple variable given a reserved character such as `!` re-expands it encoded.)
    let values: Vec<&str> = (0..names.len())
        .map(|i| given.get(i).copied().unwrap_or("v"))
        .map(|v| if v.is_empty() { "v" } else { v })
        .collect();
    let value_of = |name: &str| values[names.iter().position(|n| *n == name).unwrap()];
    let uri = expand(&parts, value_of);
    let vars = match_uri_template(&parts, &uri).unwrap_or_else(|| {
        panic!("{parts:?} does not match its own expansion {uri:?} of {values:?}")
    });
    let again = expand(&parts, |name| vars[name].as_str().expect("a string"));
    let rebound = match_uri_template(&parts, &again).unwrap_or_else(|| {
        panic!("{parts:?}: {uri:?} bound {vars:?}, whose expansion {again:?} it does not match")
    });
    assert_eq!(
        rebound, vars,
        "{parts:?}: {uri:?} bound {vars:?}, whose expansion {again:?} binds otherwise"
    );
});
