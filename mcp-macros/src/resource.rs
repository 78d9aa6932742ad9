//! `#[cm_resource("uri")]`: a resource, or a resource template when the URI has `{variables}`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::{LitStr, Token, parse::Parser};

use crate::{
    options::{self, Common, opt_str},
    signature::{Errors, Function, first_type_arg, type_name},
    uri::UriTemplate,
};

const OPTIONS: &[&str] = &[
    "name",
    "description",
    "title",
    "mime_type",
    "tags",
    "event",
    "crate",
];

/// Everything `#[cm_resource("uri", ...)]` accepts.
struct ResourceOptions {
    uri: LitStr,
    common: Common,
    mime_type: Option<LitStr>,
}

impl ResourceOptions {
    fn parse(attr: TokenStream) -> syn::Result<ResourceOptions> {
        let (uri, rest) = (|input: syn::parse::ParseStream| {
            if input.is_empty() {
                return Err(input.error(
                    "#[cm_resource] needs the resource's URI first, e.g. #[cm_resource(\"my-service://info\")]",
                ));
            }
            let uri: LitStr = input.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "#[cm_resource] takes the resource's URI as its first argument, a string literal",
                )
            })?;
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
            Ok((uri, input.parse::<TokenStream>()?))
        })
        .parse2(attr)?;
        let mut common = Common::default();
        let mut mime_type = None;
        options::parse_with(rest, |meta| {
            if common.parse(&meta)? {
                return Ok(());
            }
            if meta.path.is_ident("mime_type") {
                return options::set(&mut mime_type, &meta, meta.value()?.parse()?);
            }
            Err(options::unknown(&meta, "cm_resource", OPTIONS))
        })?;
        Ok(ResourceOptions {
            uri,
            common,
            mime_type,
        })
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

fn is_direct(ty: &syn::Type) -> bool {
    match type_name(ty).as_deref() {
        Some("Vec") => first_type_arg(ty)
            .and_then(type_name)
            .is_some_and(|inner| matches!(inner.as_str(), "u8" | "ResourceContents")),
        Some(name) => DIRECT_TYPES.contains(&name),
        None => false,
    }
}

pub fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let opts = ResourceOptions::parse(attr);
    let function = Function::analyze(item, "cm_resource");
    let (opts, f) = match (opts, function) {
        (Ok(o), Ok(f)) => (o, f),
        (Err(mut a), Err(b)) => {
            a.combine(b);
            return Err(a);
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let template = UriTemplate::parse(&opts.uri)?;
    let mut errors = Errors::default();
    for var in &template.variables {
        if !f.params.iter().any(|p| &p.name == var) {
            let names: Vec<&str> = f.params.iter().map(|p| p.name.as_str()).collect();
            errors.push(syn::Error::new(
                opts.uri.span(),
                format!(
                    "the URI template variable `{{{var}}}` matches no parameter of `{}` (parameters: {}); add a parameter `{var}: String` or rename the variable",
                    f.ident,
                    if names.is_empty() { "none".to_string() } else { names.join(", ") },
                ),
            ));
        }
    }
    errors.finish()?;

    let krate = opts.common.krate();
    let ident = &f.ident;
    let uri = opts.uri.value();
    let name = opts
        .common
        .name
        .as_ref()
        .map(|n| n.value())
        .unwrap_or_else(|| ident.to_string().trim_start_matches("r#").to_string());
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
    let convert_ok = if is_direct(ok) {
        quote_spanned! {f.output.span=> #krate::__private::resource_body::<#ok>(__cm_value) }
    } else {
        quote_spanned! {f.output.span=> #krate::__private::resource_body(#krate::__private::json_body::<#ok>(__cm_value)) }
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
    Ok(f.registration(
        &krate,
        quote!(#krate::__private::ResourceBody),
        convert_ok,
        def,
    ))
}
