//! Code generation, from an input `valid` accepted. The registration every macro
//! shares (parameter table, argument description, extraction, invoker, location) is here; what
//! differs per macro (the definition and the conversion of the result) is in `tool`, `resource` and
//! `prompt`. Problems found on the way become `compile_error!`s in one place, [`expand`].
//!
//! Generated code names the author's types in positions where rustc reports a failed trait bound at
//! those very tokens (`<Type as Trait>::f`, or a method call spanned at the type), so that a type that
//! cannot be a parameter or be returned is reported at the author's type, with the runtime trait's own
//! message.

mod prompt;
mod resource;
mod tool;

use proc_macro2::{Ident, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::{FnArg, Item, Type, spanned::Spanned};

use crate::{
    ast::{Common, ErrorType, Function, Input, Macro, Options},
    attr,
    errors::Errors,
    valid,
};

/// The expansion of one macro invocation: the function as written and its registration, or, when
/// the input has problems, the function as written followed by one `compile_error!` per problem
/// (keeping the item spares the author follow-up errors about a function that vanished).
pub fn expand(kind: Macro, attr: TokenStream, item: Item) -> TokenStream {
    match try_expand(kind, attr, item.clone()) {
        Ok(tokens) => tokens,
        Err(error) => {
            let mut tokens = fallback(item);
            tokens.extend(error.into_compile_error());
            tokens
        }
    }
}

fn try_expand(kind: Macro, attr: TokenStream, item: Item) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let input = Input::from_syn(kind, attr, item, &mut errors);
    if let Some(input) = &input {
        valid::check(kind, input, &mut errors);
    }
    let input = errors.finish(input)?;
    let f = &input.function;
    let paths = Paths::new(input.options.common());
    Ok(match &input.options {
        Options::Tool(opts) => tool::expand(opts, f, &paths),
        Options::Resource(opts) => resource::expand(opts, f, &paths),
        Options::Prompt(opts) => prompt::expand(opts, f, &paths),
    })
}

/// The item as the author wrote it, without the `#[arg]` attributes rustc would reject.
fn fallback(mut item: Item) -> TokenStream {
    if let Item::Fn(function) = &mut item {
        for input in function.sig.inputs.iter_mut() {
            if let FnArg::Typed(pat_type) = input {
                pat_type.attrs.retain(|a| !attr::is_arg(a));
            }
        }
    }
    item.into_token_stream()
}

/// Where generated code finds the runtime.
struct Paths {
    /// The runtime's module for generated code: every runtime item generated code names, public or
    /// not, is reached through it, so that reshaping the public API never breaks an expansion.
    private: TokenStream,
}

impl Paths {
    fn new(common: &Common) -> Paths {
        let krate = match &common.krate {
            Some(path) => quote!(#path),
            None => quote!(::cm_mcp),
        };
        // The one place the module's name is spelled; the runtime's lib.rs spells it too.
        Paths {
            private: quote!(#krate::__private_v0_1),
        }
    }
}

/// What differs between the macros' registrations.
struct Registration {
    /// Items defining `fn __cm_convert(__cm_value: Ok) -> Result<Output, ToolError>` and whatever the
    /// definition needs besides.
    conversion: TokenStream,
    /// The converted type (`CallToolResult`, `ResourceBody`, `GetPromptResult`).
    output: TokenStream,
    /// The definition submitted to inventory, naming `__CM_PARAMS`, `__cm_describe`, `__cm_invoke`.
    def: TokenStream,
}

/// The name of the definition: the option, else the function's name without `r#`.
fn name(common: &Common, f: &Function) -> String {
    common
        .name
        .as_ref()
        .map(syn::LitStr::value)
        .unwrap_or_else(|| {
            let ident = f.ident.to_string();
            ident.strip_prefix("r#").unwrap_or(&ident).to_string()
        })
}

/// The event prefix: the option, else the macro's default.
fn event(common: &Common, default: &str) -> String {
    common
        .event
        .as_ref()
        .map_or_else(|| default.to_string(), syn::LitStr::value)
}

/// A string literal for an optional value: `Some("..")` or `None`.
fn opt_str(value: Option<String>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

/// The item as written, followed by its registration.
fn registration(f: &Function, paths: &Paths, parts: Registration) -> TokenStream {
    let p = &paths.private;
    let Registration {
        conversion,
        output,
        def,
    } = parts;
    let convert = match &f.output.error {
        Some(error) => {
            let to_error = error_conversion(p, error);
            quote! {
                match __cm_output {
                    ::core::result::Result::Ok(__cm_value) => __cm_convert(__cm_value),
                    ::core::result::Result::Err(__cm_error) => {
                        ::core::result::Result::Err(#to_error(__cm_error))
                    }
                }
            }
        }
        None => quote!(__cm_convert(__cm_output)),
    };
    let item = &f.item;
    let ident = &f.ident;
    let params = param_table(f, p);
    let describe = describe_fn(f, p);
    let (extract, vars) = extraction(f, p);
    // Named rather than `const _`: inside an `impl` block (where the function cannot be
    // registered), an unnamed const is a syntax error that hides the real problem, while a named
    // one leaves only rustc's "cannot find function" error at the function's name.
    let registration = format_ident!("__CM_REGISTER_{}", f.ident);
    quote! {
        #item

        #[doc(hidden)]
        #[allow(dead_code, non_upper_case_globals)]
        const #registration: () = {
            #params
            #describe
            #conversion

            fn __cm_invoke(
                __cm_ctx: #p::Context,
                __cm_args: #p::JsonObject,
            ) -> #p::BoxFuture<::core::result::Result<#output, #p::ToolError>> {
                ::std::boxed::Box::pin(async move {
                    let mut __cm_input = #p::CallInput::new(&__cm_ctx, __cm_args);
                    #extract
                    let __cm_output = #ident(#(#vars),*).await;
                    #convert
                })
            }

            #p::inventory::submit! { #def }
        };
    }
}

/// The static table of parameter descriptions the runtime reads.
fn param_table(f: &Function, p: &TokenStream) -> TokenStream {
    let entries = f.params.iter().map(|param| {
        let name = param.name.as_deref().unwrap_or_default();
        let description = opt_str(param.description.clone());
        let secret = param.args.secret;
        let complete = match &param.args.complete {
            Some(path) => {
                // `&path` is the argument rustc blames when the function does not fit.
                let call = quote_spanned! {path.span()=>
                    #p::CompletionFn::complete(&#path, __cm_request)
                };
                quote! {
                    ::core::option::Option::Some({
                        fn __cm_complete(
                            __cm_request: #p::Completion,
                        ) -> #p::BoxFuture<::std::vec::Vec<::std::string::String>> {
                            #call
                        }
                        __cm_complete
                    })
                }
            }
            None => quote!(::core::option::Option::None),
        };
        let header = match &param.args.header {
            Some(header) => quote!(::core::option::Option::Some(#header)),
            None => quote!(::core::option::Option::None),
        };
        quote! {
            #p::ParamInfo {
                name: #name, description: #description, secret: #secret, complete: #complete,
                header: #header,
            }
        }
    });
    let len = f.params.len();
    quote! {
        static __CM_PARAMS: [#p::ParamInfo; #len] = [#(#entries),*];
    }
}

/// `fn __cm_describe(spec)`: each parameter type adds itself (or nothing, when injected) to the spec.
///
/// This and [`extraction`] name each type as `<Type as FromCall>` with identical spans, so a type
/// that is not a parameter gets one error (rustc drops the identical second one), at the type, with
/// `FromCall`'s message.
fn describe_fn(f: &Function, p: &TokenStream) -> TokenStream {
    let calls = f.params.iter().enumerate().map(|(i, param)| {
        let from_call = from_call(p, &param.ty);
        quote! { #from_call::describe(&__CM_PARAMS[#i], __cm_spec); }
    });
    quote! {
        fn __cm_describe(__cm_spec: &mut #p::ArgsSpec) {
            #(#calls)*
        }
    }
}

/// Statements extracting every parameter from `__cm_input`, and the variables holding them.
fn extraction(f: &Function, p: &TokenStream) -> (TokenStream, Vec<Ident>) {
    let vars: Vec<Ident> = (0..f.params.len())
        .map(|i| format_ident!("__cm_p{}", i))
        .collect();
    let lets = f.params.iter().enumerate().map(|(i, param)| {
        let from_call = from_call(p, &param.ty);
        let var = &vars[i];
        quote! { let #var = #from_call::from_call(&__CM_PARAMS[#i], &mut __cm_input)?; }
    });
    // Argument names were checked by the call path before the invoker runs (the runtime's
    // `extract::check_names`), so nothing is left to check after the extractions.
    (quote! { #(#lets)* }, vars)
}

/// The source location of the function, for duplicate-definition errors.
fn location(f: &Function, p: &TokenStream) -> TokenStream {
    let function = f.ident.to_string();
    let line = quote_spanned!(f.ident.span()=> ::core::line!());
    quote! {
        #p::Location {
            file: ::core::file!(),
            line: #line,
            module: ::core::module_path!(),
            function: #function,
        }
    }
}

/// `<Type as FromCall<'_>>`, spanned at the type so that rustc reports a failed bound there.
fn from_call(p: &TokenStream, ty: &Type) -> TokenStream {
    quote_spanned! {ty.span()=> <#ty as #p::FromCall<'_>> }
}

/// The path that converts the function's error into `ToolError`, spanned at the error type so that
/// rustc reports an error type that does not convert there.
fn error_conversion(p: &TokenStream, error: &ErrorType) -> TokenStream {
    match error {
        ErrorType::Written(ty) => {
            quote_spanned! {ty.span()=> <#ty as #p::IntoToolError<_>>::into_tool_error }
        }
        ErrorType::Inferred(alias) => {
            // The alias's name (`Result` in `anyhow::Result<T>`) stands for the error type.
            let span = match alias {
                Type::Path(path) => path.path.segments.last().map(|s| s.ident.span()),
                _ => None,
            }
            .unwrap_or_else(|| alias.span());
            quote_spanned! {span=> <_ as #p::IntoToolError<_>>::into_tool_error }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_strips_arg_attributes_only() {
        let out = fallback(syn::parse_quote!(
            #[doc = "x"]
            fn f(
                #[arg(secret)]
                #[allow(unused)]
                a: u8,
            ) {
            }
        ))
        .to_string();
        assert!(!out.contains("arg"), "{out}");
        assert!(out.contains("allow") && out.contains("doc"), "{out}");
        let other: Item = syn::parse_quote!(
            struct S;
        );
        assert_eq!(
            fallback(other.clone()).to_string(),
            other.to_token_stream().to_string()
        );
    }

    #[test]
    fn generated_code_reaches_the_runtime_through_one_private_module() {
        let out = expand(
            Macro::Tool,
            TokenStream::new(),
            syn::parse_quote!(
                async fn f(ctx: &Context, a: u8) -> Result<String, E> {
                    todo!()
                }
            ),
        )
        .to_string();
        assert!(
            out.contains(":: cm_mcp :: __private_v0_1 :: ToolDef"),
            "{out}"
        );
        assert!(!out.contains(":: cm_mcp :: __private ::"), "{out}");
        // Every `::cm_mcp::` path goes through the private module.
        let through_private = out.matches(":: cm_mcp :: __private_v0_1 ::").count();
        assert_eq!(
            out.matches(":: cm_mcp ::").count(),
            through_private,
            "{out}"
        );
    }
}
