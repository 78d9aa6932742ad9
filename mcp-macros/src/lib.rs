//! Attribute macros of [`cm-mcp`](https://docs.rs/cm-mcp): `#[cm_tool]`, `#[cm_resource]` and `#[cm_prompt]`.
//!
//! Each macro keeps the annotated `async fn` exactly as written and adds, next to it, a definition that
//! the runtime collects through `inventory`. The macros only parse, validate and generate; everything a
//! call does at run time (argument extraction, instrumentation, conversion of results) lives in small
//! functions of `mcp-runtime`, so expansions stay thin. Use them through the `cm-mcp` facade crate.
//!
//! Layout, after thiserror-impl: `ast` is the typed view of the input (options as values, the
//! function taken apart), `attr` parses the attributes into it, `valid` checks it, `expand`
//! generates code (per macro in `expand/{tool,resource,prompt}.rs`) and turns the problems found,
//! each a `syn::Error` with the span of the offending tokens, into `compile_error!`s in one place.
//! `docs` reads doc comments and `uri` resource URI templates; `errors` collects problems so that
//! one build reports them all.

mod ast;
mod attr;
mod docs;
mod errors;
mod expand;
mod uri;
mod valid;

use proc_macro::TokenStream;
use syn::{Item, parse_macro_input};

use crate::ast::Macro;

/// Turns an `async fn` into an MCP tool.
///
/// See the `cm-mcp` crate documentation and README for the full reference.
#[proc_macro_attribute]
pub fn cm_tool(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = parse_macro_input!(item as Item);
    expand::expand(Macro::Tool, attr.into(), item).into()
}

/// Turns an `async fn` into an MCP resource, or a resource template when the URI has `{variables}`.
///
/// See the `cm-mcp` crate documentation and README for the full reference.
#[proc_macro_attribute]
pub fn cm_resource(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = parse_macro_input!(item as Item);
    expand::expand(Macro::Resource, attr.into(), item).into()
}

/// Turns an `async fn` into an MCP prompt.
///
/// See the `cm-mcp` crate documentation and README for the full reference.
#[proc_macro_attribute]
pub fn cm_prompt(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = parse_macro_input!(item as Item);
    expand::expand(Macro::Prompt, attr.into(), item).into()
}
