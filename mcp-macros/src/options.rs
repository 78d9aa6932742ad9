//! Attribute options shared by the three macros, parsed into one struct per macro.

use syn::{
    LitBool, LitStr, Path, Token, bracketed,
    meta::ParseNestedMeta,
    parse::{ParseStream, Parser},
    punctuated::Punctuated,
};

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

impl Common {
    /// Parses one option if it is a common one; `Ok(false)` when the key is not common.
    pub fn parse(&mut self, meta: &ParseNestedMeta) -> syn::Result<bool> {
        let key = key(meta);
        match key.as_str() {
            "name" => set(&mut self.name, meta, parse_name(meta)?)?,
            "description" => set(&mut self.description, meta, meta.value()?.parse()?)?,
            "title" => set(&mut self.title, meta, meta.value()?.parse()?)?,
            "event" => set(&mut self.event, meta, parse_event(meta)?)?,
            "tags" => self.tags.extend(parse_list(meta)?),
            "crate" => set(
                &mut self.krate,
                meta,
                meta.value()?.parse::<LitStr>()?.parse()?,
            )?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    pub fn krate(&self) -> proc_macro2::TokenStream {
        match &self.krate {
            Some(path) => quote::quote!(#path),
            None => quote::quote!(::cm_mcp),
        }
    }
}

/// The name a path key has (`crate` is a keyword, so it is read as a token).
pub fn key(meta: &ParseNestedMeta) -> String {
    if meta.path.is_ident("crate")
        || meta
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
        return Err(meta.error(format!("duplicate option `{}`", key(meta))));
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
    if meta.input.peek(Token![=]) {
        let value = meta.value()?;
        let content;
        bracketed!(content in value);
        parse_items(&content)
    } else {
        let content;
        syn::parenthesized!(content in meta.input);
        parse_items(&content)
    }
}

fn parse_name(meta: &ParseNestedMeta) -> syn::Result<LitStr> {
    let name: LitStr = meta.value()?.parse()?;
    let value = name.value();
    let valid = !value.is_empty()
        && value.len() <= 128
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !valid {
        return Err(syn::Error::new(
            name.span(),
            "a name must be 1 to 128 characters of A-Z, a-z, 0-9, `_`, `-` or `.`",
        ));
    }
    Ok(name)
}

fn parse_event(meta: &ParseNestedMeta) -> syn::Result<LitStr> {
    let event: LitStr = meta.value()?.parse()?;
    let value = event.value();
    let valid = !value.is_empty()
        && !value.starts_with('.')
        && !value.ends_with('.')
        && !value.contains("..")
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.'));
    if !valid {
        return Err(syn::Error::new(
            event.span(),
            "an event prefix is dotted lower-case words, e.g. `sql.query` (events become `sql.query.start|complete|error`)",
        ));
    }
    Ok(event)
}

/// The error for an option no macro knows, with the closest valid option suggested.
pub fn unknown(meta: &ParseNestedMeta, macro_name: &str, valid: &[&str]) -> syn::Error {
    let key = key(meta);
    let hint = valid
        .iter()
        .map(|v| (distance(&key, v), *v))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, v)| format!("; did you mean `{v}`?"))
        .unwrap_or_default();
    meta.error(format!(
        "unknown #[{macro_name}] option `{key}`{hint} (expected one of: {})",
        valid.join(", ")
    ))
}

/// Parses `attr` with `logic`, reporting errors at the attribute.
pub fn parse_with(
    attr: proc_macro2::TokenStream,
    logic: impl FnMut(ParseNestedMeta) -> syn::Result<()>,
) -> syn::Result<()> {
    syn::meta::parser(logic).parse2(attr)
}

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
pub fn opt_str(value: Option<String>) -> proc_macro2::TokenStream {
    match value {
        Some(v) => quote::quote!(::core::option::Option::Some(#v)),
        None => quote::quote!(::core::option::Option::None),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn edit_distance() {
        assert_eq!(super::distance("naem", "name"), 2);
        assert_eq!(super::distance("titel", "title"), 2);
        assert_eq!(super::distance("event", "event"), 0);
    }
}
