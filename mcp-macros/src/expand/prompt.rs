//! `#[cm_prompt]`: the prompt's definition, and the conversion of the messages it renders.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::{Paths, Registration, event, location, name, opt_str, registration};
use crate::ast::{Function, PromptOptions};

pub(super) fn expand(opts: &PromptOptions, f: &Function, paths: &Paths) -> TokenStream {
    let p = &paths.private;
    let common = &opts.common;
    let name = name(common, f);
    let description = opt_str(f.description(&common.description));
    let title = opt_str(common.title.as_ref().map(|t| t.value()));
    let event = event(common, "prompt.get");
    let tags = common.tags.iter();

    let ok = &f.output.ok;
    let into = quote_spanned! {ok.span()=> <#ok as #p::IntoPromptResult>::into_prompt_result };
    let conversion = quote! {
        fn __cm_convert(
            __cm_value: #ok,
        ) -> ::core::result::Result<#p::GetPromptResult, #p::ToolError> {
            ::core::result::Result::Ok(#into(__cm_value))
        }
    };
    let location = location(f, p);
    let def = quote! {
        #p::PromptDef {
            name: #name,
            title: #title,
            description: #description,
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
            output: quote!(#p::GetPromptResult),
            def,
        },
    )
}
