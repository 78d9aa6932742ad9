//! Attribute options: the parsing every macro shares. Each macro keeps its options in one struct
//! (`ToolOptions`, `ResourceOptions`, `PromptOptions`) built from [`Common`] plus its own keys.

use proc_macro2::{TokenStream, TokenTree};
use syn::{
    LitBool, LitStr, Path, Token, bracketed,
    meta::ParseNestedMeta,
    parse::{ParseStream, Parser},
    punctuated::Punctuated,
};

use crate::errors::Errors;

/// Options every macro accepts.
#[derive(Default)]
pub struct Common {
    pub name: Option<LitStr>,
    pub description: Option<LitStr>,
    pub title: Option<LitStr>,
    pub event: Option<LitStr>,
    pub tags: Vec<LitStr>,
    pub krate: Option<Path>,
}

/// The keys [`Common`] parses, for the list an unknown option's error shows.
pub const COMMON_KEYS: &[&str] = &["name", "description", "title", "tags", "event", "crate"];

impl Common {
    /// Parses one option if it is a common one; `Ok(false)` when the key is not common.
    pub fn parse(&mut self, meta: &ParseNestedMeta) -> syn::Result<bool> {
        match key(meta).as_str() {
            "name" => set(&mut self.name, meta, parse_name(meta)?)?,
            "description" => set(&mut self.description, meta, meta.value()?.parse()?)?,
            "title" => set(&mut self.title, meta, meta.value()?.parse()?)?,
            "event" => set(&mut self.event, meta, parse_event(meta)?)?,
            "tags" => self.tags.extend(parse_list(meta)?),
            "crate" => {
                let path = meta.value()?.parse::<LitStr>()?;
                let parsed = path.parse().map_err(|_| {
                    syn::Error::new(
                        path.span(),
                        "`crate` takes the path of the cm-mcp crate as a string, e.g. `crate = \"my_facade::cm_mcp\"`",
                    )
                })?;
                set(&mut self.krate, meta, parsed)?
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The path generated code uses for the cm-mcp crate.
    pub fn krate(&self) -> TokenStream {
        match &self.krate {
            Some(path) => quote::quote!(#path),
            None => quote::quote!(::cm_mcp),
        }
    }

    /// The name of the definition: the option, else the function's name without `r#`.
    pub fn name_or(&self, ident: &syn::Ident) -> String {
        self.name.as_ref().map(LitStr::value).unwrap_or_else(|| {
            let ident = ident.to_string();
            ident.strip_prefix("r#").unwrap_or(&ident).to_string()
        })
    }
}

/// Parses `attr` as comma-separated options, calling `logic` for each. An option that fails is
/// recorded and skipped, so the next options are still checked and one build shows every mistake.
pub fn parse_with(
    attr: TokenStream,
    errors: &mut Errors,
    mut logic: impl FnMut(&ParseNestedMeta, &mut Errors) -> syn::Result<()>,
) {
    let parsed = syn::meta::parser(|meta| {
        if let Err(error) = logic(&meta, errors) {
            errors.push(error);
            skip_option(meta.input);
        }
        Ok(())
    })
    .parse2(attr);
    if let Err(error) = parsed {
        errors.push(error);
    }
}

/// Like [`parse_with`], for the options inside `key(...)`.
pub fn parse_nested(
    meta: &ParseNestedMeta,
    errors: &mut Errors,
    mut logic: impl FnMut(&ParseNestedMeta) -> syn::Result<()>,
) -> syn::Result<()> {
    meta.parse_nested_meta(|inner| {
        if let Err(error) = logic(&inner) {
            errors.push(error);
            skip_option(inner.input);
        }
        Ok(())
    })
}

/// Skips what is left of a failed option, up to the comma before the next one.
fn skip_option(input: ParseStream) {
    while !input.is_empty() && !input.peek(Token![,]) {
        if input.parse::<TokenTree>().is_err() {
            break;
        }
    }
}

/// The name of an option's key (`crate` is a keyword, so it is read as a token).
pub fn key(meta: &ParseNestedMeta) -> String {
    if meta
        .path
        .segments
        .first()
        .is_some_and(|s| s.ident == "crate")
    {
        return "crate".into();
    }
    meta.path
        .get_ident()
        .map(|i| i.to_string())
        .unwrap_or_else(|| {
            let path = &meta.path;
            quote::quote!(#path).to_string().replace(' ', "")
        })
}

/// Stores an option, refusing a second occurrence.
pub fn set<T>(slot: &mut Option<T>, meta: &ParseNestedMeta, value: T) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new_spanned(
            &meta.path,
            format!("duplicate option `{}`: give it once", key(meta)),
        ));
    }
    *slot = Some(value);
    Ok(())
}

/// `flag` or `flag = true|false`.
pub fn parse_flag(meta: &ParseNestedMeta) -> syn::Result<bool> {
    if meta.input.peek(Token![=]) {
        Ok(meta.value()?.parse::<LitBool>()?.value)
    } else {
        Ok(true)
    }
}

/// `tags = ["a", "b"]` or `tags("a", "b")`.
fn parse_list(meta: &ParseNestedMeta) -> syn::Result<Vec<LitStr>> {
    let parse_items = |input: ParseStream| -> syn::Result<Vec<LitStr>> {
        Ok(Punctuated::<LitStr, Token![,]>::parse_terminated(input)?
            .into_iter()
            .collect())
    };
    let content;
    if meta.input.peek(Token![=]) {
        let value = meta.value()?;
        bracketed!(content in value);
    } else {
        syn::parenthesized!(content in meta.input);
    }
    parse_items(&content)
}

fn parse_name(meta: &ParseNestedMeta) -> syn::Result<LitStr> {
    let name: LitStr = meta.value()?.parse()?;
    if !valid_name(&name.value()) {
        return Err(syn::Error::new(
            name.span(),
            format!(
                "invalid name {:?}: a name is 1 to 128 characters of A-Z, a-z, 0-9, `_`, `-` or `.`",
                name.value()
            ),
        ));
    }
    Ok(name)
}

/// What MCP clients accept as a tool, resource or prompt name.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn parse_event(meta: &ParseNestedMeta) -> syn::Result<LitStr> {
    let event: LitStr = meta.value()?.parse()?;
    if !valid_event(&event.value()) {
        return Err(syn::Error::new(
            event.span(),
            format!(
                "invalid event prefix {:?}: write dotted lower-case words, e.g. `sql.query` (the events become `sql.query.start`, `.complete` and `.error`)",
                event.value()
            ),
        ));
    }
    Ok(event)
}

/// Dotted lower-case words: `sql.query`, `fs_read`.
fn valid_event(event: &str) -> bool {
    !event.is_empty()
        && event.split('.').all(|word| {
            !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

/// The error for an option the macro does not know, with the closest valid option suggested.
pub fn unknown(meta: &ParseNestedMeta, attribute: &str, valid: &[&str]) -> syn::Error {
    let key = key(meta);
    let hint = suggestion(&key, valid)
        .map(|v| format!("; did you mean `{v}`?"))
        .unwrap_or_default();
    syn::Error::new_spanned(
        &meta.path,
        format!(
            "unknown #[{attribute}] option `{key}`{hint} (expected one of: {})",
            valid.join(", ")
        ),
    )
}

/// The valid key closest to `key`, when it is close enough to be a likely typo.
fn suggestion<'a>(key: &str, valid: &[&'a str]) -> Option<&'a str> {
    let limit = if key.chars().count() <= 4 { 1 } else { 2 };
    let typo = valid
        .iter()
        .map(|v| (distance(key, v), *v))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, v)| v);
    // An abbreviation (`mime` for `mime_type`, `desc` for `description`).
    typo.or_else(|| {
        valid
            .iter()
            .copied()
            .find(|v| key.chars().count() >= 3 && v.starts_with(key))
    })
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A string literal for an optional value: `Some("..")` or `None`.
pub fn opt_str(value: Option<String>) -> TokenStream {
    match value {
        Some(v) => quote::quote!(::core::option::Option::Some(#v)),
        None => quote::quote!(::core::option::Option::None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance() {
        assert_eq!(distance("naem", "name"), 2);
        assert_eq!(distance("titel", "title"), 2);
        assert_eq!(distance("descripton", "description"), 1);
        assert_eq!(distance("event", "event"), 0);
        assert_eq!(distance("", "tags"), 4);
    }

    #[test]
    fn suggestions() {
        let valid = [
            "name",
            "description",
            "title",
            "tags",
            "event",
            "crate",
            "mime_type",
        ];
        assert_eq!(suggestion("descripton", &valid), Some("description"));
        assert_eq!(suggestion("titel", &valid), Some("title"));
        assert_eq!(suggestion("tag", &valid), Some("tags"));
        assert_eq!(suggestion("mime", &valid), Some("mime_type"));
        assert_eq!(suggestion("desc", &valid), Some("description"));
        // Short keys get a suggestion only for a one-letter slip.
        assert_eq!(suggestion("nm", &valid), None);
        assert_eq!(suggestion("timeout", &valid), None);
    }

    #[test]
    fn names_and_event_prefixes() {
        assert!(valid_name("run_query") && valid_name("a.b-c") && valid_name(&"x".repeat(128)));
        assert!(!valid_name("") && !valid_name("run query") && !valid_name(&"x".repeat(129)));
        assert!(valid_event("sql.query") && valid_event("fs_read") && valid_event("v2.get"));
        for bad in [
            "",
            "SQL.query",
            ".sql",
            "sql.",
            "sql..query",
            "sql-query",
            "sql query",
        ] {
            assert!(!valid_event(bad), "{bad:?} was accepted");
        }
    }
}
