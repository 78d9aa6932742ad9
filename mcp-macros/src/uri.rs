//! Resource URIs and URI templates (RFC 6570 level 1 `{var}` and reserved `{+var}` expressions).

use syn::LitStr;

/// A resource URI and the variables of its template, in order (none for a plain resource), parsed
/// here once: the runtime matches URIs against [`parts`](UriTemplate::parts), emitted as data.
pub struct UriTemplate {
    pub variables: Vec<String>,
    /// Literal text and variables in order; empty for a plain resource.
    pub parts: Vec<Part>,
}

/// One piece of a template.
#[derive(Debug, PartialEq)]
pub enum Part {
    /// Text matched as it is.
    Literal(String),
    /// `{name}` (one path segment) or, `reserved`, `{+name}` (anything).
    Var { name: String, reserved: bool },
}

impl UriTemplate {
    /// Checks the URI's form and collects its variables; errors point at the literal.
    pub fn parse(lit: &LitStr) -> syn::Result<UriTemplate> {
        let uri = lit.value();
        parse(&uri)
            .map(|(variables, parts)| UriTemplate { variables, parts })
            .map_err(|problem| {
                syn::Error::new(
                    lit.span(),
                    format!("malformed resource URI `{uri}`: {problem}"),
                )
            })
    }
}

/// The variables of `uri`, or what is wrong with it.
#[cfg(test)]
fn variables(uri: &str) -> Result<Vec<String>, String> {
    parse(uri).map(|(variables, _)| variables)
}

/// The variables of `uri` and its parts (none for a plain resource), or what is wrong with it.
fn parse(uri: &str) -> Result<(Vec<String>, Vec<Part>), String> {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return Err("it needs a scheme, e.g. `my-service://info`".into());
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Err(format!(
            "the scheme `{scheme}` must start with a letter and contain only letters, digits, `+`, `-` or `.`"
        ));
    }
    if rest.is_empty() {
        return Err("nothing follows the scheme".into());
    }
    if let Some(c) = uri.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("it contains {c:?}; percent-encode it"));
    }
    // A lone `%` is not a URI character (RFC 3986), and in a template it would be ambiguous: whether
    // `x://%{a}` matches `x://%41` would depend on the value of `a`.
    let bytes = uri.as_bytes();
    if let Some(at) = (0..bytes.len()).find(|&i| {
        bytes[i] == b'%'
            && !(bytes.get(i + 1..i + 3)).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    }) {
        return Err(format!(
            "the `%` at byte {at} does not start a percent-encoded character; write `%25` for a percent sign"
        ));
    }
    let mut variables: Vec<String> = Vec::new();
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut chars = uri.chars();
    while let Some(c) = chars.next() {
        match c {
            '{' => {
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                let mut expression = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    if c == '{' {
                        break;
                    }
                    expression.push(c);
                }
                if !closed {
                    return Err(format!(
                        "`{{{expression}` is never closed; write `{{{expression}}}`"
                    ));
                }
                let name = variable_name(&expression)?;
                if variables.iter().any(|v| v == name) {
                    return Err(format!(
                        "the variable `{name}` appears twice; each variable binds one parameter"
                    ));
                }
                variables.push(name.to_string());
                parts.push(Part::Var {
                    name: name.to_string(),
                    reserved: expression.starts_with('+'),
                });
            }
            '}' => return Err("a `}` has no matching `{`".into()),
            c => literal.push(c),
        }
    }
    if variables.is_empty() {
        return Ok((variables, Vec::new()));
    }
    if !literal.is_empty() {
        parts.push(Part::Literal(literal));
    }
    Ok((variables, parts))
}

/// The variable an expression (the text between braces) names: `name` or `+name`.
fn variable_name(expression: &str) -> Result<&str, String> {
    if let Some(operator) = expression
        .chars()
        .next()
        .filter(|c| "#./;?&=,!@|".contains(*c))
    {
        return Err(format!(
            "`{{{expression}}}` uses the `{operator}` operator; only `{{name}}` and `{{+name}}` (which also matches `/`) are supported"
        ));
    }
    let name = expression.strip_prefix('+').unwrap_or(expression);
    let valid = name.starts_with(|c: char| c.is_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "`{{{expression}}}` is not a variable; write `{{name}}` (or `{{+name}}` to match `/` too) with the name of a parameter"
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::{Part, parse, variables};

    fn ok(uri: &str) -> Vec<String> {
        variables(uri).unwrap_or_else(|e| panic!("{uri}: {e}"))
    }

    fn err(uri: &str) -> String {
        match variables(uri) {
            Ok(vars) => panic!("{uri} was accepted with variables {vars:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn plain_uris_have_no_variables() {
        assert!(ok("my-service://info").is_empty());
        assert!(ok("urn:cm:config").is_empty());
        assert!(ok("file:///etc/hosts").is_empty());
        assert!(ok("a+b.c-d://x").is_empty());
    }

    #[test]
    fn template_parts_in_order() {
        let (_, parts) = parse("db://{schema}.{table}/rows/{+path}").unwrap();
        let var = |name: &str, reserved| Part::Var {
            name: name.into(),
            reserved,
        };
        assert_eq!(
            parts,
            [
                Part::Literal("db://".into()),
                var("schema", false),
                Part::Literal(".".into()),
                var("table", false),
                Part::Literal("/rows/".into()),
                var("path", true),
            ]
        );
        assert!(parse("db://plain").unwrap().1.is_empty());
    }

    #[test]
    fn template_variables_in_order() {
        assert_eq!(ok("files://{root}/{+path}"), ["root", "path"]);
        assert_eq!(ok("db://{schema}.{table}/rows"), ["schema", "table"]);
        assert_eq!(ok("x://{_private}{ünïcode}"), ["_private", "ünïcode"]);
    }

    #[test]
    fn scheme_is_required_and_well_formed() {
        assert!(err("service-info").contains("needs a scheme"));
        assert!(err("://x").contains("scheme ``"));
        assert!(err("1abc://x").contains("must start with a letter"));
        assert!(err("my_service://x").contains("must start with a letter"));
        assert!(err("my-service:").contains("nothing follows"));
    }

    #[test]
    fn a_percent_sign_must_start_a_percent_encoded_character() {
        assert!(ok("files://100%25/{name}") == ["name"]);
        assert!(ok("files://%C3%A9/{name}") == ["name"]);
        assert!(err("files://100%/{name}").contains("write `%25`"));
        assert!(err("files://%{name}").contains("byte 8"));
        assert!(err("files://%4").contains("`%`"));
        assert!(err("files://%zz").contains("`%`"));
    }

    #[test]
    fn whitespace_must_be_encoded() {
        assert!(err("files://my file").contains("percent-encode"));
        assert!(err("files://a\tb").contains("percent-encode"));
    }

    #[test]
    fn braces_must_balance() {
        assert_eq!(
            err("files://{path"),
            "`{path` is never closed; write `{path}`"
        );
        assert!(err("files://{a{b}").contains("never closed"));
        assert!(err("files://path}").contains("no matching `{`"));
        assert!(err("files://{a}}").contains("no matching `{`"));
    }

    #[test]
    fn expressions_must_name_a_variable() {
        assert!(err("files://{}").contains("is not a variable"));
        assert!(err("files://{1st}").contains("is not a variable"));
        assert!(err("files://{a-b}").contains("is not a variable"));
        assert!(err("files://{a,b}").contains("is not a variable"));
        assert!(err("search://{?q}").contains("the `?` operator"));
        assert!(err("docs://{#section}").contains("the `#` operator"));
        assert!(err("files://{/path}").contains("the `/` operator"));
    }

    #[test]
    fn a_variable_binds_once() {
        assert!(err("x://{id}/{+id}").contains("`id` appears twice"));
    }
}
