//! `#[cm_resource("uri")]`: a resource, or a resource template when the URI has `{variables}`.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens as _, quote, quote_spanned};
use syn::{LitStr, Type, spanned::Spanned};

use crate::{
    errors::Errors,
    options::{self, COMMON_KEYS, Common, opt_str},
    signature::{Conversion, Function, first_type_arg, type_name},
    uri::UriTemplate,
};

const EXAMPLE: &str = "#[cm_resource(\"my-service://info\")]";

/// Everything `#[cm_resource("uri", ...)]` accepts.
struct ResourceOptions {
    /// `None` when the URI is missing (an error has been recorded).
    uri: Option<LitStr>,
    common: Common,
    mime_type: Option<LitStr>,
}

impl ResourceOptions {
    fn parse(attr: TokenStream, errors: &mut Errors) -> ResourceOptions {
        let mut opts = ResourceOptions {
            uri: None,
            common: Common::default(),
            mime_type: None,
        };
        let mut tokens = attr.into_iter().peekable();
        let Some(first) = tokens.next() else {
            errors.push(syn::Error::new(
                Span::call_site(),
                format!(
                    "#[cm_resource] needs the resource's URI as its first argument, e.g. {EXAMPLE}"
                ),
            ));
            return opts;
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
                    "#[cm_resource] takes the resource's URI as its first argument, a string literal, e.g. {EXAMPLE}"
                ),
            ));
            return opts;
        };
        opts.uri = Some(uri);
        match tokens.next() {
            None => return opts,
            Some(TokenTree::Punct(p)) if p.as_char() == ',' => {}
            Some(other) => {
                errors.push(syn::Error::new(
                    other.span(),
                    "expected `,` after the URI, then the options",
                ));
                return opts;
            }
        }
        let valid: Vec<&str> = COMMON_KEYS.iter().copied().chain(["mime_type"]).collect();
        options::parse_with(tokens.collect(), errors, |meta, _| {
            if opts.common.parse(meta)? {
                return Ok(());
            }
            if meta.path.is_ident("mime_type") {
                return options::set(&mut opts.mime_type, meta, meta.value()?.parse()?);
            }
            Err(options::unknown(meta, "cm_resource", &valid))
        });
        opts
    }
}

/// Types a resource returns as they are; any other type is serialized to JSON.
const DIRECT_TYPES: &[&str] = &[
    "String",
    "str",
    "Cow",
    "ResourceContents",
    "ReadResourceResult",
    "Blob",
    "Text",
    "Bytes",
];

fn is_direct(ty: &Type) -> bool {
    match type_name(ty).as_deref() {
        Some("Vec") => first_type_arg(ty)
            .and_then(type_name)
            .is_some_and(|inner| matches!(inner.as_str(), "u8" | "ResourceContents")),
        Some(name) => DIRECT_TYPES.contains(&name),
        None => false,
    }
}

pub fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let opts = ResourceOptions::parse(attr, &mut errors);
    let template = opts
        .uri
        .as_ref()
        .and_then(|uri| errors.take(UriTemplate::parse(uri)));
    let function = errors.take(Function::analyze(item, "cm_resource"));
    if let (Some(uri), Some(template), Some(f)) = (&opts.uri, &template, &function) {
        validate(uri, template, f, &mut errors);
    }
    let function = errors.finish(function)?;
    let template = template.unwrap_or(UriTemplate {
        variables: Vec::new(),
    });
    Ok(generate(&opts, &template, &function))
}

/// Every variable of the URI must bind a parameter.
fn validate(uri: &LitStr, template: &UriTemplate, f: &Function, errors: &mut Errors) {
    for var in &template.variables {
        if f.params.iter().any(|p| &p.name == var) {
            continue;
        }
        let names: Vec<String> = f.params.iter().map(|p| format!("`{}`", p.name)).collect();
        errors.push(syn::Error::new(
            uri.span(),
            format!(
                "the URI variable `{{{var}}}` matches no parameter of `{}` (parameters: {}); add a parameter `{var}: String`, or rename the variable",
                f.ident,
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                },
            ),
        ));
    }
}

fn generate(opts: &ResourceOptions, template: &UriTemplate, f: &Function) -> TokenStream {
    let krate = opts.common.krate();
    let uri = opts.uri.as_ref().map(LitStr::value).unwrap_or_default();
    let name = opts.common.name_or(&f.ident);
    let description = opt_str(f.description(&opts.common.description));
    let title = opt_str(opts.common.title.as_ref().map(|t| t.value()));
    let mime_type = opt_str(opts.mime_type.as_ref().map(|m| m.value()));
    let event = opts
        .common
        .event
        .as_ref()
        .map(|e| e.value())
        .unwrap_or_else(|| "resource.read".into());
    let tags = opts.common.tags.iter();
    let variables = template.variables.iter();

    let ok = &f.output.ok;
    let into = if is_direct(ok) {
        quote_spanned! {ok.span()=> <#ok as #krate::IntoResourceBody>::into_body }
    } else {
        // Sent as JSON, through a trait whose message names #[cm_resource] when it cannot be.
        quote_spanned! {ok.span()=> <#ok as #krate::__private::IntoJsonResource>::into_json_body }
    };
    let conversion = quote! {
        fn __cm_convert(
            __cm_value: #ok,
        ) -> ::core::result::Result<#krate::__private::ResourceBody, #krate::ToolError> {
            #into(__cm_value)
        }
    };
    let location = f.location(&krate);
    let def = quote! {
        #krate::__private::ResourceDef {
            uri: #uri,
            variables: &[#(#variables),*],
            name: #name,
            title: #title,
            description: #description,
            mime_type: #mime_type,
            tags: &[#(#tags),*],
            event: #event,
            params: &__CM_PARAMS,
            describe: __cm_describe,
            invoke: __cm_invoke,
            location: #location,
        }
    };
    f.registration(
        &krate,
        Conversion {
            items: conversion,
            output: quote!(#krate::__private::ResourceBody),
        },
        def,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(attr: TokenStream) -> (ResourceOptions, Vec<String>) {
        let mut errors = Errors::default();
        let opts = ResourceOptions::parse(attr, &mut errors);
        let errors = match errors.finish(Some(())) {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        };
        (opts, errors)
    }

    #[test]
    fn uri_then_options() {
        let (opts, errors) = parse(quote!(
            "files://{path}",
            mime_type = "text/plain",
            name = "f"
        ));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(opts.uri.unwrap().value(), "files://{path}");
        assert_eq!(opts.mime_type.unwrap().value(), "text/plain");
        let (opts, errors) = parse(quote!("my-service://info"));
        assert!(errors.is_empty() && opts.uri.is_some(), "{errors:?}");
    }

    #[test]
    fn the_uri_comes_first() {
        let (_, errors) = parse(quote!());
        assert!(
            errors[0].starts_with("#[cm_resource] needs the resource's URI"),
            "{errors:?}"
        );
        let (_, errors) = parse(quote!(name = "info", "x://y"));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("as its first argument, a string literal"),
            "{errors:?}"
        );
        let (_, errors) = parse(quote!("x://y" name = "info"));
        assert!(errors[0].contains("expected `,`"), "{errors:?}");
    }

    #[test]
    fn options_are_checked_after_the_uri() {
        let (_, errors) = parse(quote!(
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
    fn direct_types() {
        let direct = |tokens: TokenStream| is_direct(&syn::parse2(tokens).unwrap());
        assert!(direct(quote!(String)));
        assert!(direct(quote!(Vec<u8>)));
        assert!(direct(quote!(Vec<ResourceContents>)));
        assert!(!direct(quote!(Vec<String>)));
        assert!(!direct(quote!(serde_json::Value)));
    }
}
