//! The analysis all three macros share: a typed view of the annotated function, validated once, and the
//! pieces of generated code that depend only on the signature (parameter table, schema, extraction).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{
    FnArg, GenericArgument, Ident, ItemFn, LitStr, Pat, PathArguments, ReturnType, Type,
    spanned::Spanned,
};

use crate::docs::Docs;

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
    /// The error type when the function returns `Result<T, E>`.
    pub err: Option<Type>,
    /// Where to point errors about the return type.
    pub span: Span,
}

impl Function {
    /// Parses and validates `item`, reporting every problem found at its own span.
    pub fn analyze(item: TokenStream, macro_name: &str) -> syn::Result<Function> {
        let mut item: ItemFn = syn::parse2(item).map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("#[{macro_name}] goes on an `async fn`: {e}"),
            )
        })?;
        let mut errors = Errors::default();
        let sig = &item.sig;
        if sig.asyncness.is_none() {
            errors.push(syn::Error::new(
                sig.fn_token.span(),
                format!("#[{macro_name}] requires an `async fn`: add `async` before `fn`"),
            ));
        }
        if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
            errors.push(syn::Error::new(
                sig.generics.span(),
                format!(
                    "#[{macro_name}] functions cannot be generic: schemas are generated from concrete parameter types"
                ),
            ));
        }
        if let Some(variadic) = &sig.variadic {
            errors.push(syn::Error::new(
                variadic.span(),
                "variadic parameters are not supported",
            ));
        }
        let docs = Docs::from_attrs(&item.attrs);
        let mut params = Vec::new();
        for input in item.sig.inputs.iter_mut() {
            match input {
                FnArg::Receiver(receiver) => errors.push(syn::Error::new(
                    receiver.span(),
                    format!(
                        "#[{macro_name}] functions cannot take `self`: write a free `async fn` and share data through `State<T>`"
                    ),
                )),
                FnArg::Typed(pat_type) => {
                    let attrs = match ParamAttrs::take(&mut pat_type.attrs) {
                        Ok(attrs) => attrs,
                        Err(e) => {
                            errors.push(e);
                            continue;
                        }
                    };
                    let ident = match &*pat_type.pat {
                        Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                            pat.ident.clone()
                        }
                        other => {
                            errors.push(syn::Error::new(
                                other.span(),
                                "use a plain parameter name here: the name is what callers pass the argument as",
                            ));
                            continue;
                        }
                    };
                    if let Err(e) = check_param_type(&pat_type.ty) {
                        errors.push(e);
                        continue;
                    }
                    let plain = ident.to_string();
                    let plain = plain.strip_prefix("r#").unwrap_or(&plain).to_string();
                    let name = attrs.rename.map(|r| r.value()).unwrap_or(plain.clone());
                    let description = attrs
                        .description
                        .map(|d| d.value())
                        .or_else(|| docs.argument(&plain).map(str::to_string));
                    if let (Some(path), "cm_tool") = (&attrs.complete, macro_name) {
                        errors.push(syn::Error::new(
                            path.span(),
                            "`complete` applies to prompt arguments and resource template variables; MCP has no completion for tool arguments",
                        ));
                    }
                    params.push(Param {
                        name,
                        ty: (*pat_type.ty).clone(),
                        description,
                        secret: attrs.secret,
                        complete: attrs.complete,
                    });
                }
            }
        }
        let output = match Output::analyze(&item.sig.output) {
            Ok(output) => Some(output),
            Err(e) => {
                errors.push(e);
                None
            }
        };
        errors.finish()?;
        Ok(Function {
            ident: item.sig.ident.clone(),
            item,
            params,
            output: output.expect("errors reported above"),
            docs,
        })
    }

    /// The static table of parameter descriptions the runtime reads.
    pub fn param_table(&self, krate: &TokenStream) -> TokenStream {
        let entries = self.params.iter().map(|p| {
            let name = &p.name;
            let description = crate::options::opt_str(p.description.clone());
            let secret = p.secret;
            let complete = match &p.complete {
                // A named fn (not a closure) so that a wrong signature is reported at the path.
                Some(path) => quote_spanned! {path.span()=>
                    ::core::option::Option::Some({
                        fn __cm_complete(
                            __cm_request: #krate::Completion,
                        ) -> #krate::__private::BoxFuture<::std::vec::Vec<::std::string::String>> {
                            ::std::boxed::Box::pin(#path(__cm_request))
                        }
                        __cm_complete
                    })
                },
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
    pub fn describe_fn(&self, krate: &TokenStream) -> TokenStream {
        let calls = self.params.iter().enumerate().map(|(i, p)| {
            let ty = &p.ty;
            quote_spanned! {ty.span()=>
                #krate::__private::describe::<#ty>(&__CM_PARAMS[#i], __cm_spec);
            }
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
            let ty = &p.ty;
            let var = &vars[i];
            let extract = quote_spanned! {ty.span()=> #krate::__private::extract::<#ty> };
            quote! { let #var = #extract(&__CM_PARAMS[#i], &mut __cm_input)?; }
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

    /// The item as written, followed by its registration: the parameter table, the schema description,
    /// the invoker (extract arguments, call, convert with `convert_ok` applied to `__cm_value`) and
    /// `def`, the definition submitted to inventory (which names `__CM_PARAMS`, `__cm_describe`,
    /// `__cm_invoke`).
    pub fn registration(
        &self,
        krate: &TokenStream,
        output: TokenStream,
        convert_ok: TokenStream,
        def: TokenStream,
    ) -> TokenStream {
        let convert = match &self.output.err {
            Some(err) => {
                let to_error = quote_spanned! {err.span()=> #krate::__private::tool_error::<#err> };
                quote! {
                    match __cm_output {
                        ::core::result::Result::Ok(__cm_value) => #convert_ok,
                        ::core::result::Result::Err(__cm_error) => ::core::result::Result::Err(#to_error(__cm_error)),
                    }
                }
            }
            None => quote! {{ let __cm_value = __cm_output; #convert_ok }},
        };
        let item = &self.item;
        let ident = &self.ident;
        let params = self.param_table(krate);
        let describe = self.describe_fn(krate);
        let (extract, vars) = self.extraction(krate);
        quote! {
            #item

            #[doc(hidden)]
            const _: () = {
                #params
                #describe

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

impl Output {
    fn analyze(output: &ReturnType) -> syn::Result<Output> {
        let ty = match output {
            ReturnType::Default => {
                return Ok(Output {
                    ok: syn::parse_quote!(()),
                    err: None,
                    span: output.span(),
                });
            }
            ReturnType::Type(_, ty) => ty,
        };
        check_return_type(ty)?;
        if let Some((ok, err)) = result_parts(ty) {
            check_return_type(&ok)?;
            return Ok(Output {
                ok,
                err: Some(err),
                span: ty.span(),
            });
        }
        Ok(Output {
            ok: (**ty).clone(),
            err: None,
            span: ty.span(),
        })
    }
}

/// `Result<T, E>` (any path ending in `Result` with two arguments) split into `T` and `E`.
fn result_parts(ty: &Type) -> Option<(Type, Type)> {
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
    let err = types.next()?;
    Some((ok, err))
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

fn check_return_type(ty: &Type) -> syn::Result<()> {
    match ty {
        Type::ImplTrait(_) => Err(syn::Error::new(
            ty.span(),
            "unsupported return type: `impl Trait` has no schema; return a concrete type (String, a content type, or a type that implements Serialize + JsonSchema)",
        )),
        Type::TraitObject(_) | Type::BareFn(_) | Type::Never(_) | Type::Infer(_) | Type::Ptr(_) => {
            Err(syn::Error::new(
                ty.span(),
                "unsupported return type: return a concrete type (String, a content type, or a type that implements Serialize + JsonSchema)",
            ))
        }
        Type::Reference(r) if type_name(&r.elem).as_deref() != Some("str") => Err(syn::Error::new(
            ty.span(),
            "unsupported return type: a borrowed value cannot outlive the call; return an owned type",
        )),
        _ => Ok(()),
    }
}

fn check_param_type(ty: &Type) -> syn::Result<()> {
    match ty {
        Type::ImplTrait(_) => Err(syn::Error::new(
            ty.span(),
            "`impl Trait` parameters are not supported: use a concrete type",
        )),
        Type::Infer(_) => Err(syn::Error::new(
            ty.span(),
            "the parameter type must be written out",
        )),
        _ => Ok(()),
    }
}

/// `#[arg(description = "..", rename = "..", secret)]` on a parameter.
#[derive(Default)]
struct ParamAttrs {
    description: Option<LitStr>,
    rename: Option<LitStr>,
    secret: bool,
    complete: Option<syn::Path>,
}

impl ParamAttrs {
    /// Removes the `#[arg]` attributes from `attrs` and parses them.
    fn take(attrs: &mut Vec<syn::Attribute>) -> syn::Result<ParamAttrs> {
        let mut out = ParamAttrs::default();
        let mut result = Ok(());
        attrs.retain(|attr| {
            if !attr.path().is_ident("arg") {
                return true;
            }
            let parsed = attr.parse_nested_meta(|meta| {
                use crate::options::{key, set};
                match key(&meta).as_str() {
                    "description" => set(&mut out.description, &meta, meta.value()?.parse()?),
                    "rename" => set(&mut out.rename, &meta, meta.value()?.parse()?),
                    "secret" => {
                        out.secret = crate::options::parse_flag(&meta)?;
                        Ok(())
                    }
                    "complete" => set(&mut out.complete, &meta, meta.value()?.parse()?),
                    _ => Err(crate::options::unknown(
                        &meta,
                        "arg",
                        &["description", "rename", "secret", "complete"],
                    )),
                }
            });
            if let Err(e) = parsed {
                result = Err(e);
            }
            false
        });
        result.map(|()| out)
    }
}

/// Collects errors so an author sees all of them in one build.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(existing) => existing.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}
