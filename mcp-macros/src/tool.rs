//! `#[cm_tool]`: options, validation and the generated registration.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::{Type, spanned::Spanned};

use crate::{
    errors::Errors,
    options::{self, COMMON_KEYS, Common, opt_str},
    signature::{Conversion, Function, first_type_arg, type_name},
};

/// The hints `annotations(...)` accepts, in the order of [`ToolOptions::hints`].
const HINTS: &[&str] = &["read_only", "destructive", "idempotent", "open_world"];

/// Everything `#[cm_tool(...)]` accepts.
#[derive(Default)]
struct ToolOptions {
    common: Common,
    /// read_only, destructive, idempotent, open_world.
    hints: [Option<bool>; 4],
}

impl ToolOptions {
    fn parse(attr: TokenStream, errors: &mut Errors) -> ToolOptions {
        let mut opts = ToolOptions::default();
        let valid: Vec<&str> = COMMON_KEYS.iter().copied().chain(["annotations"]).collect();
        options::parse_with(attr, errors, |meta, errors| {
            if opts.common.parse(meta)? {
                return Ok(());
            }
            if meta.path.is_ident("annotations") {
                return options::parse_nested(meta, errors, |hint| {
                    let key = options::key(hint);
                    let Some(index) = HINTS.iter().position(|h| *h == key) else {
                        return Err(options::unknown(hint, "cm_tool(annotations)", HINTS));
                    };
                    let value = options::parse_flag(hint)?;
                    options::set(&mut opts.hints[index], hint, value)
                });
            }
            Err(options::unknown(meta, "cm_tool", &valid))
        });
        opts
    }
}

/// Types a tool returns as content as they are; every other type is structured output.
const CONTENT_TYPES: &[&str] = &[
    "String",
    "str",
    "Cow",
    "()",
    "CallToolResult",
    "Content",
    "ContentBlock",
    "Image",
    "Audio",
    "Embedded",
    "EmbeddedResource",
    "ResourceLink",
];

fn is_content(ty: &Type) -> bool {
    match type_name(ty).as_deref() {
        Some("Vec") => first_type_arg(ty)
            .and_then(type_name)
            .is_some_and(|inner| matches!(inner.as_str(), "Content" | "ContentBlock")),
        Some(name) => CONTENT_TYPES.contains(&name),
        None => false,
    }
}

pub fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let opts = ToolOptions::parse(attr, &mut errors);
    let function = errors.take(Function::analyze(item, "cm_tool"));
    let function = errors.finish(function)?;
    Ok(generate(&opts, &function))
}

fn generate(opts: &ToolOptions, f: &Function) -> TokenStream {
    let krate = opts.common.krate();
    let name = opts.common.name_or(&f.ident);
    let description = opt_str(f.description(&opts.common.description));
    let title = opt_str(opts.common.title.as_ref().map(|t| t.value()));
    let event = opts
        .common
        .event
        .as_ref()
        .map(|e| e.value())
        .unwrap_or_else(|| "tool.execution".into());
    let tags = opts.common.tags.iter();
    let [read_only, destructive, idempotent, open_world] = opts.hints.map(|h| match h {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    });
    let ok = &f.output.ok;
    let structured = !is_content(ok);
    let conversion = if structured {
        structured_output(&krate, ok)
    } else {
        let into = quote_spanned! {ok.span()=> <#ok as #krate::IntoToolContent>::into_tool_result };
        quote! {
            fn __cm_convert(
                __cm_value: #ok,
            ) -> ::core::result::Result<#krate::__private::CallToolResult, #krate::ToolError> {
                #into(__cm_value)
            }
        }
    };
    let output_schema = if structured {
        quote!(::core::option::Option::Some(__cm_output_schema))
    } else {
        quote!(::core::option::Option::None)
    };
    let location = f.location(&krate);
    let def = quote! {
        #krate::__private::ToolDef {
            name: #name,
            title: #title,
            description: #description,
            hints: #krate::__private::ToolHints {
                read_only: #read_only,
                destructive: #destructive,
                idempotent: #idempotent,
                open_world: #open_world,
            },
            tags: &[#(#tags),*],
            event: #event,
            params: &__CM_PARAMS,
            describe: __cm_describe,
            output_schema: #output_schema,
            invoke: __cm_invoke,
            location: #location,
        }
    };
    f.registration(
        &krate,
        Conversion {
            items: conversion,
            output: quote!(#krate::__private::CallToolResult),
        },
        def,
    )
}

/// `__cm_convert` and `__cm_output_schema` for a tool returning structured output.
///
/// Every bound on the type sits in one body and names the author's type with `::<T>`, so rustc
/// reports a type that is not `Serialize + JsonSchema` once, at the return type, with
/// `StructuredOutput`'s message: the later, identical failures at the same span are suppressed.
fn structured_output(krate: &TokenStream, ok: &Type) -> TokenStream {
    quote! {
        fn __cm_output() -> (
            fn(#ok) -> ::core::result::Result<#krate::__private::CallToolResult, #krate::ToolError>,
            fn() -> #krate::__private::OutputSchema,
        ) {
            fn __cm_json<T>() -> fn(T) -> ::core::result::Result<#krate::__private::CallToolResult, #krate::ToolError>
            where
                #krate::Json<T>: #krate::IntoToolContent,
            {
                |__cm_value| #krate::IntoToolContent::into_tool_result(#krate::Json(__cm_value))
            }
            let _ = #krate::__private::structured::<#ok>;
            (__cm_json::<#ok>(), #krate::__private::output_schema::<#ok>)
        }

        fn __cm_convert(
            __cm_value: #ok,
        ) -> ::core::result::Result<#krate::__private::CallToolResult, #krate::ToolError> {
            (__cm_output().0)(__cm_value)
        }

        fn __cm_output_schema() -> #krate::__private::OutputSchema {
            (__cm_output().1)()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(attr: TokenStream) -> (ToolOptions, Vec<String>) {
        let mut errors = Errors::default();
        let opts = ToolOptions::parse(attr, &mut errors);
        let errors = match errors.finish(Some(())) {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        };
        (opts, errors)
    }

    #[test]
    fn every_option() {
        let (opts, errors) = parse(quote! {
            name = "run_query", title = "Run", description = "Runs it.",
            annotations(read_only, destructive = false, open_world = true),
            tags = ["a"], tags("b", "c"), event = "sql.query", crate = "my::cm"
        });
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(opts.common.name.as_ref().unwrap().value(), "run_query");
        assert_eq!(opts.hints, [Some(true), Some(false), None, Some(true)]);
        assert_eq!(opts.common.tags.len(), 3);
        assert_eq!(opts.common.event.as_ref().unwrap().value(), "sql.query");
        assert_eq!(opts.common.krate().to_string(), "my :: cm");
    }

    #[test]
    fn every_bad_option_is_reported_and_parsing_goes_on() {
        let (opts, errors) = parse(quote! {
            titel = "x", name = "a b", timeout = 5, annotations(readonly, idempotent, idempotent),
            event = "SQL", description = "kept", description = "twice", crate = "not a path"
        });
        let expected = [
            "unknown #[cm_tool] option `titel`; did you mean `title`?",
            "invalid name \"a b\"",
            "unknown #[cm_tool] option `timeout` (expected one of: name, description, title, tags, event, crate, annotations)",
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
    fn content_types_are_sent_as_they_are() {
        let content = |tokens: TokenStream| is_content(&syn::parse2(tokens).unwrap());
        assert!(content(quote!(String)));
        assert!(content(quote!(&'static str)));
        assert!(content(quote!(())));
        assert!(content(quote!(Vec<ContentBlock>)));
        assert!(content(quote!(rmcp::model::CallToolResult)));
        assert!(!content(quote!(Vec<String>)));
        assert!(!content(quote!(Report)));
        assert!(!content(quote!(serde_json::Value)));
    }
}
