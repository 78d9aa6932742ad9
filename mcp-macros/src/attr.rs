//! Attribute parsing: the options of `#[cm_tool(..)]`, `#[cm_resource("uri", ..)]` and
//! `#[cm_prompt(..)]`, and `#[arg(..)]` on parameters, into the typed values of [`ast`](crate::ast).
//! Each option is checked for its own syntax here (a name's characters, an event prefix's form); an
//! option that fails is recorded and skipped, so one build shows every mistake.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens as _;
use syn::{
    LitBool, LitStr, Meta, Token, bracketed,
    meta::ParseNestedMeta,
    parse::{ParseStream, Parser},
    punctuated::Punctuated,
};

use crate::{
    ast::{ArgOptions, Common, PromptOptions, ResourceOptions, TaskSupport, ToolOptions},
    errors::Errors,
    uri::UriTemplate,
};

/// The keys [`Common`] parses, for the list an unknown option's error shows.
const COMMON_KEYS: &[&str] = &["name", "description", "title", "tags", "event", "crate"];

impl Common {
    /// Parses one option if it is a common one; `Ok(false)` when the key is not common.
    fn parse(&mut self, meta: &ParseNestedMeta) -> syn::Result<bool> {
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
}

/// Parses `attr` as comma-separated options, calling `logic` for each. An option that fails is
/// recorded and skipped, so the next options are still checked and one build shows every mistake.
fn parse_with(
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
fn parse_nested(
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
fn key(meta: &ParseNestedMeta) -> String {
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
fn set<T>(slot: &mut Option<T>, meta: &ParseNestedMeta, value: T) -> syn::Result<()> {
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
fn parse_flag(meta: &ParseNestedMeta) -> syn::Result<bool> {
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

/// `task = "optional"` or `task = "required"`.
fn parse_task(meta: &ParseNestedMeta) -> syn::Result<TaskSupport> {
    let value: LitStr = meta.value()?.parse()?;
    match value.value().as_str() {
        "optional" => Ok(TaskSupport::Optional),
        "required" => Ok(TaskSupport::Required),
        other => Err(syn::Error::new(
            value.span(),
            format!(
                "invalid task support {other:?}: write `task = \"optional\"` (a client that supports tasks gets one, others an answer in the call) or `task = \"required\"` (only clients that support tasks may call it); leave `task` out for a tool that always answers in the call"
            ),
        )),
    }
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
fn unknown(meta: &ParseNestedMeta, attribute: &str, valid: &[&str]) -> syn::Error {
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

/// The hints `annotations(...)` accepts, in the order of [`ToolOptions::hints`].
pub const HINTS: &[&str] = &["read_only", "destructive", "idempotent", "open_world"];

/// `#[cm_tool(...)]`.
pub fn tool_options(attr: TokenStream, errors: &mut Errors) -> ToolOptions {
    let mut opts = ToolOptions::default();
    let valid: Vec<&str> = COMMON_KEYS
        .iter()
        .copied()
        .chain(["annotations", "task"])
        .collect();
    parse_with(attr, errors, |meta, errors| {
        if opts.common.parse(meta)? {
            return Ok(());
        }
        if meta.path.is_ident("task") {
            let support = parse_task(meta)?;
            return set(&mut opts.task, meta, support);
        }
        if meta.path.is_ident("annotations") {
            return parse_nested(meta, errors, |hint| {
                let key = key(hint);
                let Some(index) = HINTS.iter().position(|h| *h == key) else {
                    return Err(unknown(hint, "cm_tool(annotations)", HINTS));
                };
                let value = parse_flag(hint)?;
                set(&mut opts.hints[index], hint, value)
            });
        }
        Err(unknown(meta, "cm_tool", &valid))
    });
    opts
}

const RESOURCE_EXAMPLE: &str = "#[cm_resource(\"my-service://info\")]";

/// `#[cm_resource("uri", ...)]`: the URI first, then options.
pub fn resource_options(attr: TokenStream, errors: &mut Errors) -> ResourceOptions {
    let mut opts = ResourceOptions::default();
    resource_uri_and_options(attr, errors, &mut opts);
    opts.template = opts
        .uri
        .as_ref()
        .and_then(|uri| errors.take(UriTemplate::parse(uri)));
    opts
}

fn resource_uri_and_options(attr: TokenStream, errors: &mut Errors, opts: &mut ResourceOptions) {
    let mut tokens = attr.into_iter().peekable();
    let Some(first) = tokens.next() else {
        errors.push(syn::Error::new(
            Span::call_site(),
            format!(
                "#[cm_resource] needs the resource's URI as its first argument, e.g. {RESOURCE_EXAMPLE}"
            ),
        ));
        return;
    };
    let uri = match &first {
        TokenTree::Literal(lit) => syn::parse2::<LitStr>(lit.clone().into_token_stream()).ok(),
        _ => None,
    };
    let Some(uri) = uri else {
        // Without the URI in front, the options cannot be told apart reliably: report only this.
        errors.push(syn::Error::new(
            first.span(),
            format!(
                "#[cm_resource] takes the resource's URI as its first argument, a string literal, e.g. {RESOURCE_EXAMPLE}"
            ),
        ));
        return;
    };
    opts.uri = Some(uri);
    match tokens.next() {
        None => return,
        Some(TokenTree::Punct(p)) if p.as_char() == ',' => {}
        Some(other) => {
            errors.push(syn::Error::new(
                other.span(),
                "expected `,` after the URI, then the options",
            ));
            return;
        }
    }
    let valid: Vec<&str> = COMMON_KEYS.iter().copied().chain(["mime_type"]).collect();
    parse_with(tokens.collect(), errors, |meta, _| {
        if opts.common.parse(meta)? {
            return Ok(());
        }
        if meta.path.is_ident("mime_type") {
            return set(&mut opts.mime_type, meta, meta.value()?.parse()?);
        }
        Err(unknown(meta, "cm_resource", &valid))
    });
}

/// `#[cm_prompt(...)]`.
pub fn prompt_options(attr: TokenStream, errors: &mut Errors) -> PromptOptions {
    let mut opts = PromptOptions::default();
    parse_with(attr, errors, |meta, _| {
        if opts.common.parse(meta)? {
            return Ok(());
        }
        Err(unknown(meta, "cm_prompt", COMMON_KEYS))
    });
    opts
}

/// The options `#[arg(...)]` accepts.
const ARG_OPTIONS: &[&str] = &["description", "rename", "secret", "complete", "header"];

/// Removes the `#[arg]` attributes from a parameter's `attrs` and parses them.
pub fn take_arg_options(attrs: &mut Vec<syn::Attribute>, errors: &mut Errors) -> ArgOptions {
    let mut out = ArgOptions::default();
    attrs.retain(|attr| {
        if !is_arg(attr) {
            return true;
        }
        let Meta::List(list) = &attr.meta else {
            errors.push(syn::Error::new_spanned(
                attr,
                "write the parameter's options in parentheses, e.g. #[arg(description = \"...\")]",
            ));
            return false;
        };
        parse_with(list.tokens.clone(), errors, |meta, _| {
            match key(meta).as_str() {
                "description" => set(&mut out.description, meta, meta.value()?.parse()?),
                "rename" => set(&mut out.rename, meta, parse_rename(meta)?),
                "secret" => {
                    out.secret = parse_flag(meta)?;
                    Ok(())
                }
                "complete" => set(&mut out.complete, meta, meta.value()?.parse()?),
                "header" => set(&mut out.header, meta, parse_header(meta)?),
                _ => Err(unknown(meta, "arg", ARG_OPTIONS)),
            }
        });
        false
    });
    out
}

/// Whether `attr` is one of ours: `#[arg(..)]` exists only for the macros and rustc rejects it.
pub fn is_arg(attr: &syn::Attribute) -> bool {
    attr.path().is_ident("arg")
}

/// `header = "Region"`: the part of the header's name after `Mcp-Param-`, an HTTP token (RFC 9110).
fn parse_header(meta: &ParseNestedMeta) -> syn::Result<LitStr> {
    let header: LitStr = meta.value()?.parse()?;
    let value = header.value();
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if value.is_empty() || !value.chars().all(token) {
        return Err(syn::Error::new(
            header.span(),
            "a header name is letters, digits and `-` (an HTTP token), e.g. `header = \"Region\"` for the header `Mcp-Param-Region`",
        ));
    }
    Ok(header)
}

fn parse_rename(meta: &ParseNestedMeta) -> syn::Result<LitStr> {
    let rename: LitStr = meta.value()?.parse()?;
    let value = rename.value();
    if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(syn::Error::new(
            rename.span(),
            "an argument name cannot be empty or contain whitespace",
        ));
    }
    Ok(rename)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect<T>(parse: impl FnOnce(&mut Errors) -> T) -> (T, Vec<String>) {
        let mut errors = Errors::default();
        let value = parse(&mut errors);
        let errors = match errors.finish(Some(())) {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        };
        (value, errors)
    }

    fn tool(attr: TokenStream) -> (ToolOptions, Vec<String>) {
        collect(|errors| tool_options(attr, errors))
    }

    fn resource(attr: TokenStream) -> (ResourceOptions, Vec<String>) {
        collect(|errors| resource_options(attr, errors))
    }

    #[test]
    fn every_tool_option() {
        let (opts, errors) = tool(quote::quote! {
            name = "run_query", title = "Run", description = "Runs it.",
            annotations(read_only, destructive = false, open_world = true),
            tags = ["a"], tags("b", "c"), event = "sql.query", crate = "my::cm"
        });
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(opts.common.name.as_ref().unwrap().value(), "run_query");
        assert_eq!(opts.hints, [Some(true), Some(false), None, Some(true)]);
        assert_eq!(opts.common.tags.len(), 3);
        assert_eq!(opts.common.event.as_ref().unwrap().value(), "sql.query");
        let krate = opts.common.krate.as_ref().unwrap();
        assert_eq!(quote::quote!(#krate).to_string(), "my :: cm");
    }

    #[test]
    fn task_takes_optional_or_required_and_names_both_otherwise() {
        let (opts, errors) = tool(quote::quote! { task = "optional" });
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(opts.task, Some(TaskSupport::Optional));
        let (opts, _) = tool(quote::quote! { task = "required" });
        assert_eq!(opts.task, Some(TaskSupport::Required));
        let (opts, errors) =
            tool(quote::quote! { task = "always", task = "required", task = "optional" });
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert!(
            errors[0].starts_with("invalid task support \"always\": write `task = \"optional\"`"),
            "{}",
            errors[0]
        );
        assert!(errors[0].contains("`task = \"required\"`"), "{}", errors[0]);
        assert!(
            errors[1].starts_with("duplicate option `task`"),
            "{}",
            errors[1]
        );
        assert_eq!(opts.task, Some(TaskSupport::Required));
    }

    #[test]
    fn every_bad_option_is_reported_and_parsing_goes_on() {
        let (opts, errors) = tool(quote::quote! {
            titel = "x", name = "a b", timeout = 5, annotations(readonly, idempotent, idempotent),
            event = "SQL", description = "kept", description = "twice", crate = "not a path"
        });
        let expected = [
            "unknown #[cm_tool] option `titel`; did you mean `title`?",
            "invalid name \"a b\"",
            "unknown #[cm_tool] option `timeout` (expected one of: name, description, title, tags, event, crate, annotations, task)",
            "unknown #[cm_tool(annotations)] option `readonly`; did you mean `read_only`?",
            "duplicate option `idempotent`",
            "invalid event prefix \"SQL\"",
            "duplicate option `description`",
            "`crate` takes the path",
        ];
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
        for (error, expected) in errors.iter().zip(expected) {
            assert!(
                error.starts_with(expected),
                "{error:?} does not start with {expected:?}"
            );
        }
        assert_eq!(opts.common.description.unwrap().value(), "kept");
        assert_eq!(opts.hints[2], Some(true));
    }

    #[test]
    fn resource_uri_then_options() {
        let (opts, errors) = resource(quote::quote!(
            "files://{path}",
            mime_type = "text/plain",
            name = "f"
        ));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(opts.uri.unwrap().value(), "files://{path}");
        assert_eq!(opts.template.unwrap().variables, ["path"]);
        assert_eq!(opts.mime_type.unwrap().value(), "text/plain");
        let (opts, errors) = resource(quote::quote!("my-service://info"));
        assert!(errors.is_empty() && opts.uri.is_some(), "{errors:?}");
    }

    #[test]
    fn the_resource_uri_comes_first() {
        let (_, errors) = resource(quote::quote!());
        assert!(
            errors[0].starts_with("#[cm_resource] needs the resource's URI"),
            "{errors:?}"
        );
        let (_, errors) = resource(quote::quote!(name = "info", "x://y"));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("as its first argument, a string literal"),
            "{errors:?}"
        );
        let (_, errors) = resource(quote::quote!("x://y" name = "info"));
        assert!(errors[0].contains("expected `,`"), "{errors:?}");
    }

    #[test]
    fn resource_options_are_checked_after_the_uri() {
        let (_, errors) = resource(quote::quote!(
            "x://y",
            mime = "text/plain",
            mime_type = "a",
            mime_type = "b"
        ));
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].contains("`mime`; did you mean `mime_type`?"),
            "{errors:?}"
        );
        assert!(
            errors[1].contains("duplicate option `mime_type`"),
            "{errors:?}"
        );
    }

    #[test]
    fn a_header_name_is_an_http_token() {
        let mut attrs: Vec<syn::Attribute> = vec![syn::parse_quote!(#[arg(header = "Region-1")])];
        let (args, errors) = collect(|errors| take_arg_options(&mut attrs, errors));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(args.header.unwrap().value(), "Region-1");
        for bad in ["", "Mcp Region", "Région", "a:b"] {
            let mut attrs: Vec<syn::Attribute> = vec![syn::parse_quote!(#[arg(header = #bad)])];
            let (_, errors) = collect(|errors| take_arg_options(&mut attrs, errors));
            assert_eq!(errors.len(), 1, "{bad:?}: {errors:?}");
            assert!(errors[0].contains("an HTTP token"), "{errors:?}");
        }
    }

    #[test]
    fn arg_options() {
        let mut attrs: Vec<syn::Attribute> = vec![
            syn::parse_quote!(#[doc = "kept"]),
            syn::parse_quote!(#[arg(description = "d", rename = "r", secret)]),
        ];
        let (args, errors) = collect(|errors| take_arg_options(&mut attrs, errors));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(attrs.len(), 1);
        assert!(args.secret && args.rename.unwrap().value() == "r");
        let mut attrs: Vec<syn::Attribute> = vec![
            syn::parse_quote!(#[arg]),
            syn::parse_quote!(#[arg(hidden, rename = "")]),
        ];
        let (_, errors) = collect(|errors| take_arg_options(&mut attrs, errors));
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].contains("in parentheses"), "{errors:?}");
        assert!(
            errors[1].contains("unknown #[arg] option `hidden`"),
            "{errors:?}"
        );
        assert!(errors[2].contains("cannot be empty"), "{errors:?}");
    }

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
