//! Attribute macros of [`cm-mcp`](https://docs.rs/cm-mcp): `#[cm_tool]`, `#[cm_resource]` and `#[cm_prompt]`.
//!
//! Each macro keeps the annotated `async fn` exactly as written and adds, next to it, a definition that
//! the runtime collects through `inventory`. The macros only parse, validate and generate; everything a
//! call does at run time (argument extraction, instrumentation, conversion of results) lives in small
//! functions of `mcp-runtime`, so expansions stay thin. Use them through the `cm-mcp` facade crate.
//!
//! Layout: `options` parses attribute options (one struct per macro, in `tool`, `resource`, `prompt`),
//! `signature` validates the function and generates what depends on it, `uri` and `docs` read URIs
//! and doc comments. Problems are collected as `syn::Error`s with the span of the offending tokens
//! and turned into `compile_error!`s in one place, [`emit`].

mod docs;
mod errors;
mod options;
mod prompt;
mod resource;
mod signature;
mod tool;
mod uri;

use proc_macro::TokenStream;

/// Turns an `async fn` into an MCP tool.
///
/// See the `cm-mcp` crate documentation and README for the full reference.
#[proc_macro_attribute]
pub fn cm_tool(attr: TokenStream, item: TokenStream) -> TokenStream {
    emit(tool::expand(attr.into(), item.clone().into()), item)
}

/// Turns an `async fn` into an MCP resource, or a resource template when the URI has `{variables}`.
///
/// See the `cm-mcp` crate documentation and README for the full reference.
#[proc_macro_attribute]
pub fn cm_resource(attr: TokenStream, item: TokenStream) -> TokenStream {
    emit(resource::expand(attr.into(), item.clone().into()), item)
}

/// Turns an `async fn` into an MCP prompt.
///
/// See the `cm-mcp` crate documentation and README for the full reference.
#[proc_macro_attribute]
pub fn cm_prompt(attr: TokenStream, item: TokenStream) -> TokenStream {
    emit(prompt::expand(attr.into(), item.clone().into()), item)
}

/// The expansion, or, when it failed, the item as written followed by one `compile_error!` per
/// problem: keeping the item spares the author follow-up errors about a function that vanished.
fn emit(expansion: syn::Result<proc_macro2::TokenStream>, item: TokenStream) -> TokenStream {
    match expansion {
        Ok(tokens) => tokens.into(),
        Err(error) => {
            let mut tokens = signature::fallback(item.into());
            tokens.extend(error.into_compile_error());
            tokens.into()
        }
    }
}
