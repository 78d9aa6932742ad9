//! The validation pass: what the typed input must satisfy before code is generated. Each problem is
//! recorded with the span of the offending tokens and a message that names the fix; checks go on
//! after a failure, so one build reports every problem.
//!
//! What rustc judges better is left to it: whether a parameter type is an argument or an injected
//! value, whether a return type converts, whether an error type converts. Generated code names the
//! author's types where rustc reports those failures at the author's tokens with the runtime trait's
//! message.

use syn::{GenericParam, Type};

use crate::{
    ast::{Function, Input, Macro, Options, Param, ResourceOptions},
    errors::Errors,
};

/// Checks `input`, recording every problem in `errors`.
pub fn check(kind: Macro, input: &Input, errors: &mut Errors) {
    let f = &input.function;
    check_signature(f, kind, errors);
    for (i, param) in f.params.iter().enumerate() {
        check_param(param, &f.params[..i], kind, errors);
    }
    check_output(f, errors);
    check_doc_arguments(f, errors);
    if let Options::Resource(opts) = &input.options {
        check_uri_variables(opts, f, errors);
    }
}

/// The parts of the signature other than parameter types and the return type.
fn check_signature(f: &Function, kind: Macro, errors: &mut Errors) {
    let name = kind.name();
    let sig = &f.item.sig;
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            format!("#[{name}] requires an `async fn`: add `async` before `fn`"),
        ));
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.push(syn::Error::new_spanned(
            unsafety,
            format!("#[{name}] functions cannot be `unsafe`: the framework calls them"),
        ));
    }
    let generics = &sig.generics;
    if generics
        .params
        .iter()
        .any(|p| !matches!(p, GenericParam::Lifetime(_)))
    {
        errors.push(syn::Error::new_spanned(
            generics,
            format!(
                "#[{name}] functions cannot be generic: the argument schema is generated from concrete types; replace the type parameters with concrete types"
            ),
        ));
    } else if !generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            generics,
            format!(
                "#[{name}] functions cannot declare lifetimes: write `&Context` or `&TraceContext` without one, and take arguments as owned types"
            ),
        ));
    } else if let Some(where_clause) = &generics.where_clause {
        errors.push(syn::Error::new_spanned(
            where_clause,
            format!("#[{name}] functions cannot have a `where` clause"),
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new_spanned(
            variadic,
            "variadic parameters are not supported",
        ));
    }
    if let Some(receiver) = &f.receiver {
        errors.push(syn::Error::new_spanned(
            receiver,
            format!(
                "#[{name}] functions cannot take `self`: write a free `async fn` and reach shared data through a `State<T>` parameter"
            ),
        ));
    }
}

/// One parameter; `before` are the parameters preceding it, for name clashes.
fn check_param(param: &Param, before: &[Param], kind: Macro, errors: &mut Errors) {
    match &param.pat {
        syn::Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {}
        syn::Pat::Wild(wild) => errors.push(syn::Error::new_spanned(
            wild,
            "give this parameter a name: callers pass arguments by name (for an unused injected value, write e.g. `_ctx: &Context`)",
        )),
        other => errors.push(syn::Error::new_spanned(
            other,
            "use a plain parameter name instead of a pattern: the name is the argument's name in the schema; destructure inside the function",
        )),
    }
    if let Err(error) = check_param_type(&param.ty) {
        errors.push(error);
    }
    if let Some(header) = &param.args.header
        && kind != Macro::Tool
    {
        errors.push(syn::Error::new_spanned(
            header,
            "`header` applies to tool arguments: MCP mirrors only a tools/call argument in an HTTP header (`Mcp-Param-*`, SEP-2243)",
        ));
    }
    if let (Some(path), Macro::Tool) = (&param.args.complete, kind) {
        errors.push(syn::Error::new_spanned(
            path,
            "`complete` applies to prompt arguments and resource template variables; MCP has no completion for tool arguments",
        ));
    }
    if let Some(name) = &param.name
        && before.iter().any(|p| p.name.as_ref() == Some(name))
    {
        errors.push(syn::Error::new(
            param.name_span,
            format!(
                "two parameters are named `{name}`; callers pass arguments by name, so rename one with #[arg(rename = \"...\")]"
            ),
        ));
    }
}

fn check_param_type(ty: &Type) -> syn::Result<()> {
    match ty {
        Type::ImplTrait(_) => Err(syn::Error::new_spanned(
            ty,
            "`impl Trait` parameters are not supported: the argument schema is generated from a concrete type; use one",
        )),
        Type::Infer(_) => Err(syn::Error::new_spanned(
            ty,
            "the parameter type must be written out",
        )),
        // Arguments are deserialized from a JSON object that does not outlive extraction. Other
        // references (`&Context`, `&TraceContext`) are injected values, and FromCall judges them.
        Type::Reference(r) => {
            let owned = match &*r.elem {
                Type::Path(p) if p.path.is_ident("str") => "String",
                Type::Slice(_) => "Vec<T>",
                Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Path") => {
                    "PathBuf"
                }
                _ => return Ok(()),
            };
            Err(syn::Error::new_spanned(
                ty,
                format!("arguments cannot be borrowed: take an owned `{owned}` instead"),
            ))
        }
        _ => Ok(()),
    }
}

/// The return type, and the success type inside a `Result`: what no trait can make sendable.
fn check_output(f: &Function, errors: &mut Errors) {
    let Some(written) = &f.output.written else {
        return;
    };
    let checked = check_return_type(written).and_then(|()| match &f.output.error {
        Some(_) => check_return_type(&f.output.ok),
        None => Ok(()),
    });
    if let Err(error) = checked {
        errors.push(error);
    }
}

const RETURN_HINT: &str = "return an owned, concrete type: String, a content type, or a type that implements Serialize + JsonSchema";

fn check_return_type(ty: &Type) -> syn::Result<()> {
    let problem = match ty {
        Type::ImplTrait(_) => "`impl Trait` has no schema",
        Type::TraitObject(_) => "a trait object has no schema",
        Type::BareFn(_) | Type::Never(_) | Type::Ptr(_) => "this type cannot be sent to a client",
        Type::Infer(_) => "the return type must be written out",
        Type::Reference(r) if !is_str(&r.elem) => "a borrowed value cannot outlive the call",
        _ => return Ok(()),
    };
    Err(syn::Error::new_spanned(
        ty,
        format!("unsupported return type: {problem}; {RETURN_HINT}"),
    ))
}

/// `str`, seen through parentheses and invisible groups (`&'static str` is returned as text).
fn is_str(ty: &Type) -> bool {
    match ty {
        Type::Path(path) => path.path.segments.last().is_some_and(|s| s.ident == "str"),
        Type::Paren(p) => is_str(&p.elem),
        Type::Group(g) => is_str(&g.elem),
        _ => false,
    }
}

/// Every entry of the doc comment's `# Arguments` section must name a parameter: an entry for a
/// renamed or removed parameter would otherwise leave the argument undescribed without a word.
fn check_doc_arguments(f: &Function, errors: &mut Errors) {
    let idents: Vec<String> = f
        .params
        .iter()
        .filter_map(|p| match &p.pat {
            syn::Pat::Ident(pat) => {
                Some(pat.ident.to_string().trim_start_matches("r#").to_string())
            }
            _ => None,
        })
        .collect();
    // An entry may also use the name callers see (`#[arg(rename)]`).
    let renames: Vec<&str> = f.params.iter().filter_map(|p| p.name.as_deref()).collect();
    for (name, _) in &f.docs.arguments {
        if idents.contains(name) || renames.contains(&name.as_str()) {
            continue;
        }
        // The doc line that holds the entry, else the function's name.
        let span = f
            .item
            .attrs
            .iter()
            .filter(|attr| attr.path().is_ident("doc"))
            .find(|attr| {
                quote::ToTokens::to_token_stream(attr)
                    .to_string()
                    .contains(name.as_str())
            })
            .map(syn::spanned::Spanned::span)
            .unwrap_or_else(|| f.ident.span());
        let listed: Vec<String> = idents.iter().map(|n| format!("`{n}`")).collect();
        errors.push(syn::Error::new(
            span,
            format!(
                "the `# Arguments` entry `{name}` names no parameter of `{}` (parameters: {}); rename the entry after its parameter, or remove it",
                f.ident,
                if listed.is_empty() {
                    "none".to_string()
                } else {
                    listed.join(", ")
                },
            ),
        ));
    }
}

/// Every variable of a resource's URI must bind a parameter.
fn check_uri_variables(opts: &ResourceOptions, f: &Function, errors: &mut Errors) {
    let (Some(uri), Some(template)) = (&opts.uri, &opts.template) else {
        return;
    };
    let names: Vec<&str> = f.params.iter().filter_map(|p| p.name.as_deref()).collect();
    for var in &template.variables {
        if names.contains(&var.as_str()) {
            continue;
        }
        let listed: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        errors.push(syn::Error::new(
            uri.span(),
            format!(
                "the URI variable `{{{var}}}` matches no parameter of `{}` (parameters: {}); add a parameter `{var}: String`, or rename the variable",
                f.ident,
                if listed.is_empty() {
                    "none".to_string()
                } else {
                    listed.join(", ")
                },
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::TokenStream;
    use quote::quote;

    fn errors_of(kind: Macro, attr: TokenStream, item: TokenStream) -> Vec<String> {
        let mut errors = Errors::default();
        let input = Input::from_syn(kind, attr, syn::parse2(item).unwrap(), &mut errors);
        if let Some(input) = &input {
            check(kind, input, &mut errors);
        }
        match errors.finish(input) {
            Ok(_) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    fn errors(item: TokenStream) -> Vec<String> {
        let errors = errors_of(Macro::Tool, TokenStream::new(), item.clone());
        assert!(!errors.is_empty(), "`{item}` was accepted");
        errors
    }

    fn accepted(item: TokenStream) {
        let errors = errors_of(Macro::Tool, TokenStream::new(), item);
        assert!(errors.is_empty(), "{errors:#?}");
    }

    #[test]
    fn every_problem_is_reported() {
        let errors = errors(quote! {
            unsafe fn f<T>(&self, (a, b): (u8, u8), _: u8, #[arg(hidden, rename = "")] c: impl Sized) -> impl Sized {}
        });
        // Attributes are read (and their mistakes reported) before the function is checked.
        let expected = [
            "unknown #[arg] option `hidden`",
            "cannot be empty",
            "requires an `async fn`",
            "cannot be `unsafe`",
            "cannot be generic",
            "cannot take `self`",
            "instead of a pattern",
            "give this parameter a name",
            "`impl Trait` parameters",
            "unsupported return type: `impl Trait`",
        ];
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
        for (error, expected) in errors.iter().zip(expected) {
            assert!(error.contains(expected), "{error:?} lacks {expected:?}");
        }
    }

    #[test]
    fn lifetimes_and_where_clauses_have_their_own_messages() {
        let e = errors(quote!(
            async fn f<'a>(ctx: &'a Context) {}
        ));
        assert!(e[0].contains("cannot declare lifetimes"), "{e:?}");
        let e = errors(quote!(
            async fn f()
            where
                String: Clone,
            {
            }
        ));
        assert!(e[0].contains("`where` clause"), "{e:?}");
    }

    #[test]
    fn arguments_are_owned() {
        let e = errors(quote!(
            async fn f(a: &str, b: &[u8], c: &std::path::Path) {}
        ));
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[0].contains("take an owned `String`"), "{e:?}");
        assert!(e[1].contains("take an owned `Vec<T>`"), "{e:?}");
        assert!(e[2].contains("take an owned `PathBuf`"), "{e:?}");
        // Injected references are left to FromCall.
        accepted(quote!(
            async fn f(ctx: &Context, trace: &TraceContext) {}
        ));
    }

    #[test]
    fn renamed_parameters_must_stay_distinct() {
        let e = errors(quote!(
            async fn f(#[arg(rename = "b")] a: u8, b: u8) {}
        ));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("two parameters are named `b`"), "{e:?}");
    }

    #[test]
    fn completion_is_for_prompts_and_resources() {
        let item = quote!(
            async fn f(#[arg(complete = langs)] lang: String) {}
        );
        let e = errors(item.clone());
        assert!(
            e[0].contains("MCP has no completion for tool arguments"),
            "{e:?}"
        );
        assert!(errors_of(Macro::Prompt, TokenStream::new(), item).is_empty());
    }

    #[test]
    fn a_header_is_for_tool_arguments() {
        let item = quote!(
            async fn f(#[arg(header = "Region")] region: String) {}
        );
        accepted(item.clone());
        let e = errors_of(Macro::Prompt, TokenStream::new(), item);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("`header` applies to tool arguments"), "{e:?}");
    }

    #[test]
    fn return_types() {
        for bad in [
            quote!(&String),
            quote!(dyn std::fmt::Display),
            quote!(Result<impl Sized, E>),
            quote!(*const u8),
            quote!(fn()),
            quote!(_),
        ] {
            let e = errors(quote!(async fn f() -> #bad { todo!() }));
            assert!(
                e[0].starts_with("unsupported return type") || e[0].contains("written out"),
                "{e:?}"
            );
        }
        accepted(quote!(
            async fn f() -> &'static str {
                ""
            }
        ));
    }

    #[test]
    fn uri_variables_bind_parameters() {
        let e = errors_of(
            Macro::Resource,
            quote!("files://{dir}/{name}"),
            quote!(
                async fn file(ctx: &Context, dir: String) -> String {
                    todo!()
                }
            ),
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with(
                "the URI variable `{name}` matches no parameter of `file` (parameters: `ctx`, `dir`)"
            ),
            "{e:?}"
        );
    }

    #[test]
    fn doc_argument_entries_name_parameters() {
        let e = errors(quote!(
            /// Adds.
            ///
            /// # Arguments
            /// * `a` - The first.
            /// * `bee` - The second, by the name callers use.
            /// * `c` - A parameter removed since.
            async fn add(a: i64, #[arg(rename = "bee")] b: i64) -> i64 {
                a + b
            }
        ));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with(
                "the `# Arguments` entry `c` names no parameter of `add` (parameters: `a`, `b`)"
            ),
            "{e:?}"
        );
        accepted(quote!(
            /// Adds.
            ///
            /// # Arguments
            /// * `r#type` - A keyword.
            async fn add(r#type: i64) -> i64 {
                r#type
            }
        ));
    }
}
