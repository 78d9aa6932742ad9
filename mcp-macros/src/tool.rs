//! `#[cm_tool]`: options, validation and the generated registration.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::Type;

use crate::{
    options::{self, Common, opt_str},
    signature::{Function, first_type_arg, type_name},
};

const OPTIONS: &[&str] = &[
    "name",
    "description",
    "title",
    "annotations",
    "tags",
    "event",
    "crate",
];
const HINTS: &[&str] = &["read_only", "destructive", "idempotent", "open_world"];

/// Everything `#[cm_tool(...)]` accepts.
#[derive(Default)]
struct ToolOptions {
    common: Common,
    /// read_only, destructive, idempotent, open_world.
    hints: [Option<bool>; 4],
}

impl ToolOptions {
    fn parse(attr: TokenStream) -> syn::Result<ToolOptions> {
        let mut opts = ToolOptions::default();
        options::parse_with(attr, |meta| {
            if opts.common.parse(&meta)? {
                return Ok(());
            }
            if meta.path.is_ident("annotations") {
                return meta.parse_nested_meta(|hint| {
                    let key = options::key(&hint);
                    let Some(index) = HINTS.iter().position(|h| *h == key) else {
                        return Err(options::unknown(&hint, "cm_tool(annotations)", HINTS));
                    };
                    let value = options::parse_flag(&hint)?;
                    options::set(&mut opts.hints[index], &hint, value)
                });
            }
            Err(options::unknown(&meta, "cm_tool", OPTIONS))
        })?;
        Ok(opts)
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
    let opts = ToolOptions::parse(attr);
    let function = Function::analyze(item, "cm_tool");
    let (opts, function) = match (opts, function) {
        (Ok(o), Ok(f)) => (o, f),
        (Err(mut a), Err(b)) => {
            a.combine(b);
            return Err(a);
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let krate = opts.common.krate();
    let f = function;
    let ident = &f.ident;
    let name = opts
        .common
        .name
        .as_ref()
        .map(|n| n.value())
        .unwrap_or_else(|| ident.to_string().trim_start_matches("r#").to_string());
    let description = opt_str(f.description(&opts.common.description));
    let title = opt_str(opts.common.title.as_ref().map(|t| t.value()));
    let event = opts
        .common
        .event
        .as_ref()
        .map(|e| e.value())
        .unwrap_or_else(|| "tool.execution".into());
    let tags = opts.common.tags.iter();
    let hints = opts.hints.iter().map(|h| match h {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    });
    let [read_only, destructive, idempotent, open_world]: [TokenStream; 4] =
        hints.collect::<Vec<_>>().try_into().expect("four hints");

    let ok = &f.output.ok;
    let structured = !is_content(ok);
    let convert_ok = if structured {
        quote_spanned! {f.output.span=> #krate::__private::tool_result(#krate::__private::structured::<#ok>(__cm_value)) }
    } else {
        quote_spanned! {f.output.span=> #krate::__private::tool_result::<#ok>(__cm_value) }
    };
    let output_schema = if structured {
        quote_spanned! {f.output.span=> ::core::option::Option::Some(#krate::__private::output_schema::<#ok>) }
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
    Ok(f.registration(
        &krate,
        quote!(#krate::__private::CallToolResult),
        convert_ok,
        def,
    ))
}
