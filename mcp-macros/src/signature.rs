//! The analysis all three macros share: a typed view of the annotated function, validated once, and the
//! pieces of generated code that depend only on the signature (parameter table, schema, extraction,
//! error conversion).
//!
//! Generated code names the author's types in positions where rustc reports a failed trait bound at
//! those very tokens (`<Type as Trait>::f` or `f::<Type>`), so that a type that cannot be a parameter
//! or be returned is reported at the author's type, with the runtime trait's own message.

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::{
    FnArg, GenericArgument, GenericParam, Ident, ItemFn, LitStr, Meta, Pat, PathArguments,
    ReturnType, Type, spanned::Spanned,
};

use crate::{
    docs::Docs,
    errors::Errors,
    options::{self, key, opt_str, parse_flag, set},
};

/// The annotated function, as the macros see it.
pub struct Function {
    /// The function as the author wrote it, minus the `#[arg(..)]` attributes the compiler would reject.
    pub item: ItemFn,
    pub ident: Ident,
    pub params: Vec<Param>,
    pub output: Output,
    pub docs: Docs,
}

/// One parameter of the function.
pub struct Param {
    /// The name callers use: the identifier without `r#`, or `#[arg(rename = "..")]`.
    pub name: String,
    pub ty: Type,
    pub description: Option<String>,
    pub secret: bool,
    /// `#[arg(complete = path)]`: the async fn suggesting values for `completion/complete`.
    pub complete: Option<syn::Path>,
}

/// What the function returns.
pub struct Output {
    /// The success type (`()` when the function returns nothing).
    pub ok: Type,
    /// Set when the function returns a `Result`.
    pub error: Option<ErrorType>,
}

/// The error type of a function returning a `Result`.
pub enum ErrorType {
    /// `Result<T, E>`: `E`.
    Written(Type),
    /// An alias such as `io::Result<T>`, whose error type is inferred; errors point at the alias.
    Inferred(Type),
}

/// The options `#[arg(...)]` accepts.
const ARG_OPTIONS: &[&str] = &["description", "rename", "secret", "complete"];

impl Function {
    /// Parses and validates `item`, reporting every problem found at its own span.
    pub fn analyze(item: TokenStream, macro_name: &str) -> syn::Result<Function> {
        let mut item: ItemFn = syn::parse2(item).map_err(|e| {
            syn::Error::new(
                e.span(),
                format!(
                    "#[{macro_name}] goes on an `async fn` with a body, and this item is not one"
                ),
            )
        })?;
        let mut errors = Errors::default();
        check_signature(&item.sig, macro_name, &mut errors);
        let docs = Docs::from_attrs(&item.attrs);
        let mut params: Vec<Param> = Vec::new();
        for input in item.sig.inputs.iter_mut() {
            let pat_type = match input {
                FnArg::Receiver(receiver) => {
                    errors.push(syn::Error::new_spanned(
                        &*receiver,
                        format!(
                            "#[{macro_name}] functions cannot take `self`: write a free `async fn` and reach shared data through a `State<T>` parameter"
                        ),
                    ));
                    continue;
                }
                FnArg::Typed(pat_type) => pat_type,
            };
            let attrs = ParamAttrs::take(&mut pat_type.attrs, &mut errors);
            let ident = match &*pat_type.pat {
                Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                    Some(pat.ident.clone())
                }
                Pat::Wild(wild) => {
                    errors.push(syn::Error::new_spanned(
                        wild,
                        "give this parameter a name: callers pass arguments by name (for an unused injected value, write e.g. `_ctx: &Context`)",
                    ));
                    None
                }
                other => {
                    errors.push(syn::Error::new_spanned(
                        other,
                        "use a plain parameter name instead of a pattern: the name is the argument's name in the schema; destructure inside the function",
                    ));
                    None
                }
            };
            let type_ok = errors.take(check_param_type(&pat_type.ty)).is_some();
            if let (Some(path), "cm_tool") = (&attrs.complete, macro_name) {
                errors.push(syn::Error::new_spanned(
                    path,
                    "`complete` applies to prompt arguments and resource template variables; MCP has no completion for tool arguments",
                ));
            }
            let (Some(ident), true) = (ident, type_ok) else {
                continue;
            };
            let plain = ident.to_string();
            let plain = plain.strip_prefix("r#").unwrap_or(&plain).to_string();
            let (name, name_span) = match &attrs.rename {
                Some(rename) => (rename.value(), rename.span()),
                None => (plain.clone(), ident.span()),
            };
            if params.iter().any(|p| p.name == name) {
                errors.push(syn::Error::new(
                    name_span,
                    format!(
                        "two parameters are named `{name}`; callers pass arguments by name, so rename one with #[arg(rename = \"...\")]"
                    ),
                ));
            }
            let description = attrs
                .description
                .map(|d| d.value())
                .or_else(|| docs.argument(&plain).map(str::to_string));
            params.push(Param {
                name,
                ty: (*pat_type.ty).clone(),
                description,
                secret: attrs.secret,
                complete: attrs.complete,
            });
        }
        let output = errors.take(Output::analyze(&item.sig.output));
        let output = errors.finish(output)?;
        Ok(Function {
            ident: item.sig.ident.clone(),
            item,
            params,
            output,
            docs,
        })
    }

    /// The static table of parameter descriptions the runtime reads.
    pub fn param_table(&self, krate: &TokenStream) -> TokenStream {
        let entries = self.params.iter().map(|p| {
            let name = &p.name;
            let description = opt_str(p.description.clone());
            let secret = p.secret;
            let complete = match &p.complete {
                Some(path) => {
                    // `&path` is the argument rustc blames when the function does not fit.
                    let call = quote_spanned! {path.span()=>
                        #krate::__private::CompletionFn::complete(&#path, __cm_request)
                    };
                    quote! {
                        ::core::option::Option::Some({
                            fn __cm_complete(
                                __cm_request: #krate::Completion,
                            ) -> #krate::__private::BoxFuture<::std::vec::Vec<::std::string::String>> {
                                #call
                            }
                            __cm_complete
                        })
                    }
                }
                None => quote!(::core::option::Option::None),
            };
            quote! {
                #krate::__private::ParamInfo {
                    name: #name, description: #description, secret: #secret, complete: #complete,
                }
            }
        });
        let len = self.params.len();
        quote! {
            static __CM_PARAMS: [#krate::__private::ParamInfo; #len] = [#(#entries),*];
        }
    }

    /// `fn __cm_describe(spec)`: each parameter type adds itself (or nothing, when injected) to the spec.
    ///
    /// This and [`extraction`](Self::extraction) name each type as `<Type as FromCall>` with identical
    /// spans, so a type that is not a parameter gets one error (rustc drops the identical second one),
    /// at the type, with `FromCall`'s message.
    pub fn describe_fn(&self, krate: &TokenStream) -> TokenStream {
        let calls = self.params.iter().enumerate().map(|(i, p)| {
            let from_call = from_call(krate, &p.ty);
            quote! { #from_call::describe(&__CM_PARAMS[#i], __cm_spec); }
        });
        quote! {
            fn __cm_describe(__cm_spec: &mut #krate::__private::ArgsSpec) {
                #(#calls)*
            }
        }
    }

    /// Statements extracting every parameter from `__cm_input`, and the variables holding them.
    pub fn extraction(&self, krate: &TokenStream) -> (TokenStream, Vec<Ident>) {
        let vars: Vec<Ident> = (0..self.params.len())
            .map(|i| format_ident!("__cm_p{}", i))
            .collect();
        let lets = self.params.iter().enumerate().map(|(i, p)| {
            let from_call = from_call(krate, &p.ty);
            let var = &vars[i];
            quote! { let #var = #from_call::from_call(&__CM_PARAMS[#i], &mut __cm_input)?; }
        });
        (quote! { #(#lets)* __cm_input.finish(&__CM_PARAMS)?; }, vars)
    }

    /// The source location of the function, for duplicate-definition errors.
    pub fn location(&self, krate: &TokenStream) -> TokenStream {
        let function = self.ident.to_string();
        let line = quote_spanned!(self.ident.span()=> ::core::line!());
        quote! {
            #krate::__private::Location {
                file: ::core::file!(),
                line: #line,
                module: ::core::module_path!(),
                function: #function,
            }
        }
    }

    /// The item as written, followed by its registration: the parameter table, the schema
    /// description, the conversion of the result (`conversion.items`, which define
    /// `fn __cm_convert(ok) -> Result<conversion.output, ToolError>`), the invoker, and `def`, the
    /// definition submitted to inventory (which names `__CM_PARAMS`, `__cm_describe`, `__cm_invoke`).
    pub fn registration(
        &self,
        krate: &TokenStream,
        conversion: Conversion,
        def: TokenStream,
    ) -> TokenStream {
        let Conversion { items, output } = conversion;
        let convert = match &self.output.error {
            Some(error) => {
                let to_error = error_conversion(krate, error);
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
        let item = &self.item;
        let ident = &self.ident;
        let params = self.param_table(krate);
        let describe = self.describe_fn(krate);
        let (extract, vars) = self.extraction(krate);
        // Named rather than `const _`: inside an `impl` block (where the function cannot be
        // registered), an unnamed const is a syntax error that hides the real problem, while a named
        // one leaves only rustc's "cannot find function" error at the function's name.
        let registration = format_ident!("__CM_REGISTER_{}", self.ident);
        quote! {
            #item

            #[doc(hidden)]
            #[allow(dead_code, non_upper_case_globals)]
            const #registration: () = {
                #params
                #describe
                #items

                fn __cm_invoke(
                    __cm_ctx: #krate::Context,
                    __cm_args: #krate::__private::JsonObject,
                ) -> #krate::__private::BoxFuture<::core::result::Result<#output, #krate::ToolError>> {
                    ::std::boxed::Box::pin(async move {
                        let mut __cm_input = #krate::__private::CallInput::new(&__cm_ctx, __cm_args);
                        #extract
                        let __cm_output = #ident(#(#vars),*).await;
                        #convert
                    })
                }

                #krate::__private::inventory::submit! { #def }
            };
        }
    }

    /// The description: the attribute's, else the doc comment's summary.
    pub fn description(&self, explicit: &Option<LitStr>) -> Option<String> {
        explicit
            .as_ref()
            .map(LitStr::value)
            .or_else(|| self.docs.description.clone())
    }
}

/// How a macro turns the function's success value into what MCP sends.
pub struct Conversion {
    /// Items defining `fn __cm_convert(__cm_value: Ok) -> Result<Output, ToolError>`.
    pub items: TokenStream,
    /// The converted type (`CallToolResult`, `ResourceBody`, `GetPromptResult`).
    pub output: TokenStream,
}

/// `<Type as FromCall<'_>>`, spanned at the type so that rustc reports a failed bound there.
fn from_call(krate: &TokenStream, ty: &Type) -> TokenStream {
    quote_spanned! {ty.span()=> <#ty as #krate::FromCall<'_>> }
}

/// The path that converts the function's error into `ToolError`, spanned at the error type so that
/// rustc reports an error type that does not convert there.
fn error_conversion(krate: &TokenStream, error: &ErrorType) -> TokenStream {
    match error {
        ErrorType::Written(ty) => {
            quote_spanned! {ty.span()=> <#ty as #krate::__private::IntoToolError>::into_tool_error }
        }
        ErrorType::Inferred(alias) => {
            // The alias's name (`Result` in `anyhow::Result<T>`) stands for the error type.
            let span = match alias {
                Type::Path(path) => path.path.segments.last().map(|s| s.ident.span()),
                _ => None,
            }
            .unwrap_or_else(|| alias.span());
            quote_spanned! {span=> <_ as #krate::__private::IntoToolError>::into_tool_error }
        }
    }
}

/// Checks the parts of the signature other than parameters and return type.
fn check_signature(sig: &syn::Signature, macro_name: &str, errors: &mut Errors) {
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            format!("#[{macro_name}] requires an `async fn`: add `async` before `fn`"),
        ));
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.push(syn::Error::new_spanned(
            unsafety,
            format!("#[{macro_name}] functions cannot be `unsafe`: the framework calls them"),
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
                "#[{macro_name}] functions cannot be generic: the argument schema is generated from concrete types; replace the type parameters with concrete types"
            ),
        ));
    } else if !generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            generics,
            format!(
                "#[{macro_name}] functions cannot declare lifetimes: write `&Context` or `&TraceContext` without one, and take arguments as owned types"
            ),
        ));
    } else if let Some(where_clause) = &generics.where_clause {
        errors.push(syn::Error::new_spanned(
            where_clause,
            format!("#[{macro_name}] functions cannot have a `where` clause"),
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new_spanned(
            variadic,
            "variadic parameters are not supported",
        ));
    }
}

impl Output {
    fn analyze(output: &ReturnType) -> syn::Result<Output> {
        let ty = match output {
            ReturnType::Default => {
                return Ok(Output {
                    ok: syn::parse_quote!(()),
                    error: None,
                });
            }
            ReturnType::Type(_, ty) => &**ty,
        };
        check_return_type(ty)?;
        match result_parts(ty) {
            Some((ok, err)) => {
                check_return_type(&ok)?;
                Ok(Output {
                    ok,
                    error: Some(match err {
                        Some(err) => ErrorType::Written(err),
                        None => ErrorType::Inferred(ty.clone()),
                    }),
                })
            }
            None => Ok(Output {
                ok: ty.clone(),
                error: None,
            }),
        }
    }
}

/// `Result<T, E>` (any path ending in `Result`) split into `T` and `E`; `E` is `None` for an alias
/// with one argument, such as `io::Result<T>`.
fn result_parts(ty: &Type) -> Option<(Type, Option<Type>)> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|a| match a {
        GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    });
    let ok = types.next()?;
    Some((ok, types.next()))
}

/// The last path segment's name of a type (`Vec` for `std::vec::Vec<u8>`), looking through `&`.
pub fn type_name(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
        Type::Reference(r) => type_name(&r.elem),
        Type::Tuple(t) if t.elems.is_empty() => Some("()".into()),
        Type::Paren(p) => type_name(&p.elem),
        Type::Group(g) => type_name(&g.elem),
        _ => None,
    }
}

/// The first generic type argument of a path type (`T` in `Vec<T>`).
pub fn first_type_arg(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let PathArguments::AngleBracketed(args) = &path.path.segments.last()?.arguments else {
        return None;
    };
    args.args.iter().find_map(|a| match a {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    })
}

const RETURN_HINT: &str = "return an owned, concrete type: String, a content type, or a type that implements Serialize + JsonSchema";

fn check_return_type(ty: &Type) -> syn::Result<()> {
    let problem = match ty {
        Type::ImplTrait(_) => "`impl Trait` has no schema",
        Type::TraitObject(_) => "a trait object has no schema",
        Type::BareFn(_) | Type::Never(_) | Type::Ptr(_) => "this type cannot be sent to a client",
        Type::Infer(_) => "the return type must be written out",
        Type::Reference(r) if type_name(&r.elem).as_deref() != Some("str") => {
            "a borrowed value cannot outlive the call"
        }
        _ => return Ok(()),
    };
    Err(syn::Error::new_spanned(
        ty,
        format!("unsupported return type: {problem}; {RETURN_HINT}"),
    ))
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

/// `#[arg(description = "..", rename = "..", secret, complete = path)]` on a parameter.
#[derive(Default)]
struct ParamAttrs {
    description: Option<LitStr>,
    rename: Option<LitStr>,
    secret: bool,
    complete: Option<syn::Path>,
}

impl ParamAttrs {
    /// Removes the `#[arg]` attributes from `attrs` and parses them, recording problems in `errors`.
    fn take(attrs: &mut Vec<syn::Attribute>, errors: &mut Errors) -> ParamAttrs {
        let mut out = ParamAttrs::default();
        attrs.retain(|attr| {
            if !attr.path().is_ident("arg") {
                return true;
            }
            let Meta::List(list) = &attr.meta else {
                errors.push(syn::Error::new_spanned(
                    attr,
                    "write the parameter's options in parentheses, e.g. #[arg(description = \"...\")]",
                ));
                return false;
            };
            options::parse_with(list.tokens.clone(), errors, |meta, _| {
                match key(meta).as_str() {
                    "description" => set(&mut out.description, meta, meta.value()?.parse()?),
                    "rename" => set(&mut out.rename, meta, parse_rename(meta)?),
                    "secret" => {
                        out.secret = parse_flag(meta)?;
                        Ok(())
                    }
                    "complete" => set(&mut out.complete, meta, meta.value()?.parse()?),
                    _ => Err(options::unknown(meta, "arg", ARG_OPTIONS)),
                }
            });
            false
        });
        out
    }
}

fn parse_rename(meta: &syn::meta::ParseNestedMeta) -> syn::Result<LitStr> {
    let rename: LitStr = meta.value()?.parse()?;
    let value = rename.value();
    if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(syn::Error::new(
            rename.span(),
            "an argument name cannot be empty or contain whitespace",
        ));
    }
    Ok(rename)
}

/// What to emit when an expansion fails: the item as the author wrote it (without the `#[arg]`
/// attributes rustc would reject), so the errors are not followed by "cannot find function" ones.
pub fn fallback(item: TokenStream) -> TokenStream {
    let Ok(mut function) = syn::parse2::<ItemFn>(item.clone()) else {
        return item;
    };
    for input in function.sig.inputs.iter_mut() {
        if let FnArg::Typed(pat_type) = input {
            pat_type.attrs.retain(|attr| !attr.path().is_ident("arg"));
        }
    }
    function.into_token_stream()
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn analyze(item: TokenStream) -> Result<Function, Vec<String>> {
        Function::analyze(item, "cm_tool")
            .map_err(|e| e.into_iter().map(|e| e.to_string()).collect())
    }

    fn errors(item: TokenStream) -> Vec<String> {
        match analyze(item) {
            Ok(f) => panic!("`{}` was accepted", f.ident),
            Err(errors) => errors,
        }
    }

    fn ty(tokens: TokenStream) -> Type {
        syn::parse2(tokens).unwrap()
    }

    #[test]
    fn names_descriptions_and_options_of_parameters() {
        let f = analyze(quote! {
            /// Runs it.
            ///
            /// # Arguments
            /// * `sql` - The statement.
            /// * `limit` - Overridden by the attribute.
            async fn run(
                ctx: &Context,
                sql: String,
                #[arg(description = "At most this many", rename = "max_rows")] limit: u32,
                #[arg(secret)] r#type: String,
            ) -> Result<String, ToolError> { todo!() }
        })
        .unwrap_or_else(|e| panic!("{e:?}"));
        let names: Vec<&str> = f.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["ctx", "sql", "max_rows", "type"]);
        assert_eq!(f.params[1].description.as_deref(), Some("The statement."));
        assert_eq!(
            f.params[2].description.as_deref(),
            Some("At most this many")
        );
        assert!(f.params[3].secret && !f.params[1].secret);
        assert!(matches!(f.output.error, Some(ErrorType::Written(_))));
        // The #[arg] attributes are gone from the emitted function.
        assert!(!f.item.to_token_stream().to_string().contains("arg"));
    }

    #[test]
    fn every_problem_is_reported() {
        let errors = errors(quote! {
            unsafe fn f<T>(&self, (a, b): (u8, u8), _: u8, #[arg(hidden, rename = "")] c: impl Sized) -> impl Sized {}
        });
        let expected = [
            "requires an `async fn`",
            "cannot be `unsafe`",
            "cannot be generic",
            "cannot take `self`",
            "instead of a pattern",
            "give this parameter a name",
            "unknown #[arg] option `hidden`",
            "cannot be empty",
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
        analyze(quote!(
            async fn f(ctx: &Context, trace: &TraceContext) {}
        ))
        .ok()
        .unwrap();
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
    fn not_a_function() {
        let e = errors(quote!(
            struct S;
        ));
        assert!(e[0].contains("goes on an `async fn`"), "{e:?}");
    }

    #[test]
    fn result_types_are_split() {
        let (ok, err) = result_parts(&ty(quote!(Result<String, MyError>))).unwrap();
        assert_eq!(ok, ty(quote!(String)));
        assert_eq!(err, Some(ty(quote!(MyError))));
        let (ok, err) = result_parts(&ty(quote!(std::io::Result<Vec<u8>>))).unwrap();
        assert_eq!(ok, ty(quote!(Vec<u8>)));
        assert!(err.is_none());
        assert!(result_parts(&ty(quote!(Option<String>))).is_none());
        assert!(result_parts(&ty(quote!(Result))).is_none());
    }

    #[test]
    fn return_types() {
        let f = analyze(quote!(
            async fn f() -> anyhow::Result<u8> {
                todo!()
            }
        ))
        .ok()
        .unwrap();
        assert_eq!(f.output.ok, ty(quote!(u8)));
        assert!(matches!(f.output.error, Some(ErrorType::Inferred(_))));
        let f = analyze(quote!(
            async fn f() {}
        ))
        .ok()
        .unwrap();
        assert_eq!(f.output.ok, ty(quote!(())));
        assert!(f.output.error.is_none());
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
        analyze(quote!(
            async fn f() -> &'static str {
                ""
            }
        ))
        .ok()
        .unwrap();
    }

    #[test]
    fn type_names() {
        assert_eq!(
            type_name(&ty(quote!(std::vec::Vec<u8>))).as_deref(),
            Some("Vec")
        );
        assert_eq!(type_name(&ty(quote!(&'static str))).as_deref(), Some("str"));
        assert_eq!(type_name(&ty(quote!(()))).as_deref(), Some("()"));
        assert_eq!(type_name(&ty(quote!((u8, u8)))), None);
        assert_eq!(
            first_type_arg(&ty(quote!(Vec<ContentBlock>))),
            Some(&ty(quote!(ContentBlock)))
        );
    }

    #[test]
    fn fallback_strips_arg_attributes_only() {
        let out = fallback(quote!(
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
        let other = quote!(
            struct S;
        );
        assert_eq!(fallback(other.clone()).to_string(), other.to_string());
    }
}
