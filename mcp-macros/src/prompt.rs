//! `#[cm_prompt]`: a prompt whose arguments are the function's parameters.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use crate::{
    options::{self, Common, opt_str},
    signature::Function,
};

const OPTIONS: &[&str] = &["name", "description", "title", "tags", "event", "crate"];

pub fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut common = Common::default();
    let opts = options::parse_with(attr, |meta| {
        if common.parse(&meta)? {
            return Ok(());
        }
        Err(options::unknown(&meta, "cm_prompt", OPTIONS))
    });
    let function = Function::analyze(item, "cm_prompt");
    let f = match (opts, function) {
        (Ok(()), Ok(f)) => f,
        (Err(mut a), Err(b)) => {
            a.combine(b);
            return Err(a);
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let krate = common.krate();
    let ident = &f.ident;
    let name = common
        .name
        .as_ref()
        .map(|n| n.value())
        .unwrap_or_else(|| ident.to_string().trim_start_matches("r#").to_string());
    let description = opt_str(f.description(&common.description));
    let title = opt_str(common.title.as_ref().map(|t| t.value()));
    let event = common
        .event
        .as_ref()
        .map(|e| e.value())
        .unwrap_or_else(|| "prompt.get".into());
    let tags = common.tags.iter();

    let ok = &f.output.ok;
    let convert_ok =
        quote_spanned! {f.output.span=> #krate::__private::prompt_result::<#ok>(__cm_value) };
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
    Ok(f.registration(
        &krate,
        quote!(#krate::__private::GetPromptResult),
        convert_ok,
        def,
    ))
}
