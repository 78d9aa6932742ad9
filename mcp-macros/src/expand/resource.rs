//! `#[cm_resource("uri")]`: the resource's (or resource template's) definition, and the conversion of
//! what it reads.

use proc_macro2::TokenStream;
use quote::{ToTokens as _, quote, quote_spanned};
use syn::LitStr;
use syn::spanned::Spanned as _;

use super::{Paths, Registration, event, location, name, opt_str, registration};
use crate::{
    ast::{Function, ResourceOptions},
    uri::Part,
};

pub(super) fn expand(opts: &ResourceOptions, f: &Function, paths: &Paths) -> TokenStream {
    let p = &paths.private;
    let common = &opts.common;
    let uri = opts.uri.as_ref().map(LitStr::value).unwrap_or_default();
    let name = name(common, f);
    let description = opt_str(f.description(&common.description));
    let title = opt_str(common.title.as_ref().map(|t| t.value()));
    let mime_type = opt_str(opts.mime_type.as_ref().map(|m| m.value()));
    let event = event(common, "resource.read");
    let tags = common.tags.iter();
    let parts = opts
        .template
        .iter()
        .flat_map(|t| &t.parts)
        .map(|part| match part {
            Part::Literal(text) => quote!(#p::UriPart::Literal(#text)),
            Part::Var { name, reserved } => {
                quote!(#p::UriPart::Var { name: #name, reserved: #reserved })
            }
        });

    let ok = &f.output.ok;
    // A body as it is, or JSON, chosen by the traits `ok` implements (see the runtime's output.rs).
    // `resource_kind::<#ok, _>` names the type as written: a type that is neither is reported
    // there, once, in #[cm_resource]'s terms.
    let select = quote! {
        (&&&#p::Select::<#ok>::NEW).resource_return()
    };
    let conversion = quote! {
        fn __cm_output() -> impl #p::ResourceReturn<#ok> {
            #[allow(unused_imports)]
            use #p::{ResourceAsIs as _, ResourceAsJson as _, ResourceUnsupported as _};
            #p::resource_kind::<#ok, _>(#select)
        }

        fn __cm_convert(
            __cm_value: #ok,
        ) -> ::core::result::Result<#p::ResourceBody, #p::ToolError> {
            #p::resource_body(__cm_output, __cm_value)
        }
    };
    let unbound = unbound_params(opts, f, p, &uri);
    let conversion = quote!(#conversion #(#unbound)*);
    let location = location(f, p);
    let def = quote! {
        #p::ResourceDef {
            uri: #uri,
            template: &[#(#parts),*],
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
    registration(
        f,
        paths,
        Registration {
            conversion,
            output: quote!(#p::ResourceBody),
            def,
        },
    )
}

/// A resource's arguments are its URI's variables: a parameter that no variable binds must be
/// injected. Whether its type is an argument is its `FromCall` impl's to say, so the check is a
/// constant evaluated by rustc (reported at the parameter's type). Types with lifetimes (`&Context`)
/// are injected by construction and cannot be named in a constant; the registry checks them again
/// at start.
fn unbound_params(
    opts: &ResourceOptions,
    f: &Function,
    p: &TokenStream,
    uri: &str,
) -> Vec<TokenStream> {
    let Some(template) = &opts.template else {
        return Vec::new();
    };
    f.params
        .iter()
        .filter(|param| {
            param
                .name
                .as_ref()
                .is_some_and(|name| !template.variables.contains(name))
        })
        .filter(|param| !param.ty.to_token_stream().to_string().contains('\''))
        .map(|param| {
            let ty = &param.ty;
            let name = param.name.as_deref().unwrap_or_default();
            let message = format!(
                "resource `{uri}`: the parameter `{name}` is an argument, but no variable of the URI binds it and a resource has no other arguments; add `{{{name}}}` to the URI, or make `{name}` an injected type (Context, State<T>, any FromCall type)"
            )
            // `assert!` reads its message as a format string.
            .replace('{', "{{")
            .replace('}', "}}");
            quote_spanned! {ty.span()=>
                const _: () = ::core::assert!(
                    !<#ty as #p::FromCall<'static>>::IS_ARGUMENT,
                    #message
                );
            }
        })
        .collect()
}
