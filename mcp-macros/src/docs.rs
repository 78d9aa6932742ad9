//! Doc comments: the summary becomes the description, `# Arguments` describes parameters (rustdoc style).

use syn::{Attribute, Expr, ExprLit, Lit, Meta};

/// What the doc comment of a function says.
#[derive(Default)]
pub struct Docs {
    /// Text before the first `# ` heading, lines joined, trimmed.
    pub description: Option<String>,
    /// `(name, description)` pairs from the `# Arguments` section.
    pub arguments: Vec<(String, String)>,
}

impl Docs {
    pub fn from_attrs(attrs: &[Attribute]) -> Docs {
        let lines: Vec<String> = attrs
            .iter()
            .filter_map(|attr| match &attr.meta {
                Meta::NameValue(nv) if nv.path.is_ident("doc") => match &nv.value {
                    Expr::Lit(ExprLit {
                        lit: Lit::Str(s), ..
                    }) => Some(s.value()),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        parse(&lines)
    }

    pub fn argument(&self, name: &str) -> Option<&str> {
        self.arguments
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d.as_str())
    }
}

fn parse(lines: &[String]) -> Docs {
    let mut description = String::new();
    let mut arguments: Vec<(String, String)> = Vec::new();
    let mut section: Option<String> = None;
    for raw in lines {
        let line = raw.strip_prefix(' ').unwrap_or(raw).trim_end();
        if let Some(heading) = line.strip_prefix("# ") {
            section = Some(heading.trim().to_ascii_lowercase());
            continue;
        }
        match section.as_deref() {
            None => {
                if line.trim().is_empty() {
                    if !description.is_empty() && !description.ends_with("\n\n") {
                        description.push_str("\n\n");
                    }
                } else {
                    if !description.is_empty() && !description.ends_with('\n') {
                        description.push(' ');
                    }
                    description.push_str(line.trim());
                }
            }
            Some("arguments" | "parameters" | "args") => {
                let trimmed = line.trim();
                if let Some(item) = trimmed
                    .strip_prefix("* ")
                    .or_else(|| trimmed.strip_prefix("- "))
                {
                    if let Some((name, text)) = split_item(item) {
                        arguments.push((name, text));
                    }
                } else if !trimmed.is_empty() {
                    // A continuation line of the previous item.
                    if let Some((_, text)) = arguments.last_mut() {
                        text.push(' ');
                        text.push_str(trimmed);
                    }
                }
            }
            Some(_) => {}
        }
    }
    let description = description.trim().to_string();
    Docs {
        description: (!description.is_empty()).then_some(description),
        arguments,
    }
}

/// Splits "`name` - text", "name: text" or "`name` — text" into its parts.
fn split_item(item: &str) -> Option<(String, String)> {
    let item = item.trim();
    let (name, rest) = if let Some(rest) = item.strip_prefix('`') {
        let end = rest.find('`')?;
        (&rest[..end], &rest[end + 1..])
    } else {
        let end = item.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
        (&item[..end], &item[end..])
    };
    let text = rest
        .trim_start()
        .trim_start_matches(['-', ':', '—', '–'])
        .trim();
    (!name.is_empty()).then(|| (name.to_string(), text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(text: &str) -> Docs {
        parse(&text.lines().map(|l| format!(" {l}")).collect::<Vec<_>>())
    }

    #[test]
    fn summary_and_arguments() {
        let d = docs(
            "Processes the input.\nTwice.\n\n# Arguments\n\n* `input_param` - The text to process,\n  trimmed.\n- count: how often\n\n# Errors\nnever",
        );
        assert_eq!(
            d.description.as_deref(),
            Some("Processes the input. Twice.")
        );
        assert_eq!(
            d.argument("input_param"),
            Some("The text to process, trimmed.")
        );
        assert_eq!(d.argument("count"), Some("how often"));
        assert_eq!(d.arguments.len(), 2);
    }

    #[test]
    fn no_docs() {
        let d = docs("");
        assert!(d.description.is_none());
    }
}
