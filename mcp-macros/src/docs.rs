//! Doc comments: the summary becomes the description, `# Arguments` describes parameters (rustdoc style).

use syn::{Attribute, Expr, ExprLit, Lit, Meta};

/// What the doc comment of a function says.
#[derive(Default)]
pub struct Docs {
    /// Prose before the first heading: lines joined, paragraphs kept, code blocks left out.
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
            // A `/** */` block comment is one attribute holding many lines.
            .flat_map(|text| text.lines().map(str::to_string).collect::<Vec<_>>())
            .collect();
        parse(&lines)
    }

    pub fn argument(&self, name: &str) -> Option<&str> {
        self.arguments
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d.as_str())
            .filter(|d| !d.is_empty())
    }
}

fn parse(lines: &[String]) -> Docs {
    let mut description = String::new();
    let mut arguments: Vec<(String, String)> = Vec::new();
    let mut section: Option<String> = None;
    // Code blocks are examples for readers of the source, not for a client: skipped, and a `# `
    // line inside one (a hidden rustdoc line) is not a heading.
    let mut in_code = false;
    for raw in lines {
        let line = raw.strip_prefix(' ').unwrap_or(raw).trim_end();
        if line.trim_start().starts_with("```") || line.trim_start().starts_with("~~~") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        if let Some(heading) = heading(line.trim_start()) {
            section = Some(heading.to_ascii_lowercase());
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
                        // `r#type` and `type` both name the parameter `r#type`.
                        let name = name.strip_prefix("r#").map(str::to_string).unwrap_or(name);
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

/// The title of a Markdown heading line (`# Arguments`, `## Errors`).
fn heading(line: &str) -> Option<&str> {
    let rest = line.trim_start_matches('#');
    let level = line.len() - rest.len();
    ((1..=6).contains(&level) && rest.starts_with(' ')).then(|| rest.trim())
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
    fn item_styles() {
        let d = docs(
            "# Arguments\n* `a` — em dash\n* b: colon\n- `c`: backticks and colon\n* d - hyphen\n* `e`",
        );
        assert_eq!(d.argument("a"), Some("em dash"));
        assert_eq!(d.argument("b"), Some("colon"));
        assert_eq!(d.argument("c"), Some("backticks and colon"));
        assert_eq!(d.argument("d"), Some("hyphen"));
        assert_eq!(d.argument("e"), None);
        assert!(d.description.is_none());
    }

    #[test]
    fn parameters_heading_and_levels() {
        let d =
            docs("Summary.\n\n## Parameters\n* `x` - the x\n\n## Returns\n* `y` - not an argument");
        assert_eq!(d.description.as_deref(), Some("Summary."));
        assert_eq!(d.argument("x"), Some("the x"));
        assert_eq!(d.argument("y"), None);
    }

    #[test]
    fn paragraphs_are_kept_apart() {
        let d = docs("First line\nsame paragraph.\n\n\nSecond paragraph.");
        assert_eq!(
            d.description.as_deref(),
            Some("First line same paragraph.\n\nSecond paragraph.")
        );
    }

    #[test]
    fn code_blocks_are_skipped() {
        let d = docs(
            "Adds numbers.\n\n```\n# use demo::add;\nassert_eq!(add(1, 2), 3);\n```\n\nMore text.\n\n# Arguments\n* `a` - first\n  ```text\n  # not a heading\n  ```\n* `b` - second",
        );
        assert_eq!(
            d.description.as_deref(),
            Some("Adds numbers.\n\nMore text.")
        );
        assert_eq!(d.argument("a"), Some("first"));
        assert_eq!(d.argument("b"), Some("second"));
    }

    #[test]
    fn hash_without_space_is_text() {
        let d = docs("Counts #hashtags.\n#not a heading");
        assert_eq!(
            d.description.as_deref(),
            Some("Counts #hashtags. #not a heading")
        );
    }

    #[test]
    fn from_line_and_block_comments() {
        let f: syn::ItemFn = syn::parse_quote! {
            /// Line one.
            /** Block line.

            # Arguments
            * `x` - from the block
            */
            fn f() {}
        };
        let d = Docs::from_attrs(&f.attrs);
        assert_eq!(d.description.as_deref(), Some("Line one. Block line."));
        assert_eq!(d.argument("x"), Some("from the block"));
    }

    #[test]
    fn no_docs() {
        let d = docs("");
        assert!(d.description.is_none());
    }
}
