//! Resource URIs and URI templates (RFC 6570 level 1 `{var}` and reserved `{+var}` expressions).

use syn::LitStr;

/// The variables of a URI template, in order.
pub struct UriTemplate {
    pub variables: Vec<String>,
}

impl UriTemplate {
    /// Checks the URI's form and collects its variables; errors point at the literal.
    pub fn parse(lit: &LitStr) -> syn::Result<UriTemplate> {
        let uri = lit.value();
        let fail = |msg: String| Err(syn::Error::new(lit.span(), msg));
        let Some((scheme, rest)) = uri.split_once(':') else {
            return fail(format!(
                "malformed resource URI `{uri}`: it needs a scheme, e.g. `my-service://info`"
            ));
        };
        let scheme_ok = scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !scheme_ok {
            return fail(format!(
                "malformed resource URI `{uri}`: the scheme `{scheme}` must start with a letter and contain only letters, digits, `+`, `-` or `.`"
            ));
        }
        if rest.is_empty() {
            return fail(format!(
                "malformed resource URI `{uri}`: nothing follows the scheme"
            ));
        }
        if let Some(c) = uri.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return fail(format!(
                "malformed resource URI `{uri}`: it contains {c:?}; percent-encode it"
            ));
        }
        let mut variables: Vec<String> = Vec::new();
        let mut chars = rest.char_indices();
        while let Some((_, c)) = chars.next() {
            match c {
                '{' => {
                    let mut name = String::new();
                    let mut closed = false;
                    for (_, c) in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        name.push(c);
                    }
                    if !closed {
                        return fail(format!(
                            "malformed resource URI `{uri}`: a `{{` is never closed"
                        ));
                    }
                    let bare = name.strip_prefix('+').unwrap_or(&name);
                    let valid = bare
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_alphabetic() || c == '_')
                        && bare.chars().all(|c| c.is_alphanumeric() || c == '_');
                    if !valid {
                        return fail(format!(
                            "malformed resource URI `{uri}`: `{{{name}}}` is not a variable; write `{{name}}` (or `{{+name}}` to match `/` too) with a parameter's name"
                        ));
                    }
                    if variables.iter().any(|v| v == bare) {
                        return fail(format!(
                            "malformed resource URI `{uri}`: the variable `{bare}` appears twice"
                        ));
                    }
                    variables.push(bare.to_string());
                }
                '}' => {
                    return fail(format!(
                        "malformed resource URI `{uri}`: a `}}` has no matching `{{`"
                    ));
                }
                _ => {}
            }
        }
        Ok(UriTemplate { variables })
    }
}
