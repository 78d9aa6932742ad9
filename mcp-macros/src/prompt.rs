//! `#[cm_prompt]`: a prompt whose arguments are the function's parameters.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::{
    errors::Errors,
    options::{self, COMMON_KEYS, Common, opt_str},
    signature::{Conversion, Function},
};

/// Everything `#[cm_prompt(...)]` accepts.
#[derive(Default)]
struct PromptOptions {
    common: Common,
}

impl PromptOptions {
    fn parse(attr: TokenStream, errors: &mut Errors) -> PromptOptions {
        let mut opts = PromptOptions::default();
        options::parse_with(attr, errors, |meta, _| {
            if opts.common.parse(meta)? {
                return Ok(());
            }
            Err(options::unknown(meta, "cm_prompt", COMMON_KEYS))
        });
        opts
    }
}

pub fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let opts = PromptOptions::parse(attr, &mut errors);
    let function = errors.take(Function::analyze(item, "cm_prompt"));
    let function = errors.finish(function)?;
    Ok(generate(&opts, &function))
}

fn generate(opts: &PromptOptions, f: &Function) -> TokenStream {
    let common = &opts.common;
    let krate = common.krate();
    let name = common.name_or(&f.ident);
    let description = opt_str(f.description(&common.description));
    let title = opt_str(common.title.as_ref().map(|t| t.value()));
    let event = common
        .event
        .as_ref()
        .map(|e| e.value())
        .unwrap_or_else(|| "prompt.get".into());
    let tags = common.tags.iter();

    let ok = &f.output.ok;
    let into = quote_spanned! {ok.span()=> <#ok as #krate::IntoPromptResult>::into_prompt_result };
    let conversion = quote! {
        fn __cm_convert(
            __cm_value: #ok,
        ) -> ::core::result::Result<#krate::__private::GetPromptResult, #krate::ToolError> {
            ::core::result::Result::Ok(#into(__cm_value))
        }
    };
    let location = f.location(&krate);
    let def = quote! {
        #krate::__private::PromptDef {
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
    f.registration(
        &krate,
        Conversion {
            items: conversion,
            output: quote!(#krate::__private::GetPromptResult),
        },
        def,
    )
}
