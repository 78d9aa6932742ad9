//! `#[cm_tool]`: the tool's definition, and the conversion of its result.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Paths, Registration, event, location, name, opt_str, registration};
use crate::ast::{Function, TaskSupport, ToolOptions};

pub(super) fn expand(opts: &ToolOptions, f: &Function, paths: &Paths) -> TokenStream {
    let p = &paths.private;
    let common = &opts.common;
    let name = name(common, f);
    let description = opt_str(f.description(&common.description));
    let title = opt_str(common.title.as_ref().map(|t| t.value()));
    let event = event(common, "tool.execution");
    let tags = common.tags.iter();
    let [read_only, destructive, idempotent, open_world] = opts.hints.map(|h| match h {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    });
    let task = match opts.task {
        None => quote!(#p::TaskSupport::Forbidden),
        Some(TaskSupport::Optional) => quote!(#p::TaskSupport::Optional),
        Some(TaskSupport::Required) => quote!(#p::TaskSupport::Required),
    };
    let ok = &f.output.ok;
    // Content or structured output, chosen by the traits `ok` implements (see the runtime's
    // output.rs). `tool_kind::<#ok, _>` names the type as written: a type that is neither is
    // reported there, once, with `StructuredOutput`'s message.
    let select = quote! {
        (&&&#p::Select::<#ok>::NEW).tool_return()
    };
    let conversion = quote! {
        fn __cm_output() -> impl #p::ToolReturn<#ok> {
            #[allow(unused_imports)]
            use #p::{ToolAsIs as _, ToolAsJson as _, ToolUnsupported as _};
            #p::tool_kind::<#ok, _>(#select)
        }

        fn __cm_convert(
            __cm_value: #ok,
        ) -> ::core::result::Result<#p::CallToolResult, #p::ToolError> {
            #p::tool_result(__cm_output, __cm_value)
        }
    };
    let location = location(f, p);
    let def = quote! {
        #p::ToolDef {
            name: #name,
            title: #title,
            description: #description,
            hints: #p::ToolHints {
                read_only: #read_only,
                destructive: #destructive,
                idempotent: #idempotent,
                open_world: #open_world,
            },
            tags: &[#(#tags),*],
            event: #event,
            task: #task,
            params: &__CM_PARAMS,
            describe: __cm_describe,
            output_schema: #p::tool_output_schema(__cm_output),
            invoke: __cm_invoke,
            location: #location,
        }
    };
    registration(
        f,
        paths,
        Registration {
            conversion,
            output: quote!(#p::CallToolResult),
            def,
        },
    )
}
