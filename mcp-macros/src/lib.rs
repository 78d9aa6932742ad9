//! Attribute macros of [`cm-mcp`](https://docs.rs/cm-mcp): `#[cm_tool]`, `#[cm_resource]` and `#[cm_prompt]`.
//!
//! Each macro keeps the annotated `async fn` exactly as written and adds, next to it, a definition that
//! the runtime collects through `inventory`. The macros only parse, validate and generate; everything a
//! call does at run time (argument extraction, instrumentation, conversion of results) lives in small
//! functions of `mcp-runtime`, so expansions stay thin. Use them through the `cm-mcp` facade crate.

mod docs;
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
    tool::expand(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Turns an `async fn` into an MCP resource, or a resource template when the URI has `{variables}`.
///
/// See the `cm-mcp` crate documentation and README for the full reference.
#[proc_macro_attribute]
pub fn cm_resource(attr: TokenStream, item: TokenStream) -> TokenStream {
    resource::expand(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Turns an `async fn` into an MCP prompt.
///
/// See the `cm-mcp` crate documentation and README for the full reference.
#[proc_macro_attribute]
pub fn cm_prompt(attr: TokenStream, item: TokenStream) -> TokenStream {
    prompt::expand(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
