//! The typed view of a macro's input: its options as values, and the annotated function taken apart
//! (parameters with their `#[arg]` options, return type split into success and error types, doc
//! comments). Building it judges nothing but the attributes' syntax; `valid` judges
//! the rest, so that every problem is reported at once.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::{
    FnArg, GenericArgument, Ident, Item, ItemFn, LitStr, Pat, PathArguments, Receiver, ReturnType,
    Type,
};

use crate::{attr, docs::Docs, errors::Errors, uri::UriTemplate};

/// Which macro is expanding.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Macro {
    Tool,
    Resource,
    Prompt,
}

impl Macro {
    /// The attribute's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Macro::Tool => "cm_tool",
            Macro::Resource => "cm_resource",
            Macro::Prompt => "cm_prompt",
        }
    }
}

/// Everything one macro invocation says.
pub struct Input {
    pub options: Options,
    pub function: Function,
}

/// The attribute's options, per macro.
pub enum Options {
    Tool(ToolOptions),
    Resource(ResourceOptions),
    Prompt(PromptOptions),
}

/// Options every macro accepts.
#[derive(Default)]
pub struct Common {
    pub name: Option<LitStr>,
    pub description: Option<LitStr>,
    pub title: Option<LitStr>,
    pub event: Option<LitStr>,
    pub tags: Vec<LitStr>,
    /// `crate = "path"`: where generated code finds the cm-mcp crate.
    pub krate: Option<syn::Path>,
}

/// `#[cm_tool(...)]`.
#[derive(Default)]
pub struct ToolOptions {
    pub common: Common,
    /// `annotations(...)`: read_only, destructive, idempotent, open_world, in [`attr::HINTS`] order.
    pub hints: [Option<bool>; 4],
    /// `task = "optional" | "required"`: whether a call may, or must, run as a task (the MCP tasks
    /// extension); `None` is a tool that always answers in the call.
    pub task: Option<TaskSupport>,
}

/// How a tool takes part in the tasks extension (`task = ".."`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskSupport {
    Optional,
    Required,
}

/// `#[cm_resource("uri", ...)]`.
#[derive(Default)]
pub struct ResourceOptions {
    /// `None` when the URI is missing (an error has been recorded).
    pub uri: Option<LitStr>,
    /// The URI's variables; `None` when the URI is missing or malformed (an error has been recorded).
    pub template: Option<UriTemplate>,
    pub common: Common,
    pub mime_type: Option<LitStr>,
}

/// `#[cm_prompt(...)]`.
#[derive(Default)]
pub struct PromptOptions {
    pub common: Common,
}

impl Options {
    pub fn common(&self) -> &Common {
        match self {
            Options::Tool(o) => &o.common,
            Options::Resource(o) => &o.common,
            Options::Prompt(o) => &o.common,
        }
    }
}

/// The annotated function.
pub struct Function {
    /// The function as the author wrote it, minus the `#[arg(..)]` attributes the compiler would reject.
    pub item: ItemFn,
    pub ident: Ident,
    /// `self`, which no definition can take.
    pub receiver: Option<Receiver>,
    pub params: Vec<Param>,
    pub output: Output,
    pub docs: Docs,
}

/// One parameter.
pub struct Param {
    /// The pattern as written; a plain name unless the author wrote something else.
    pub pat: Pat,
    /// The name callers use: the identifier without `r#`, or `#[arg(rename = "..")]`; `None` when the
    /// pattern is not a plain name and nothing renames it.
    pub name: Option<String>,
    /// Where a clash of [`name`](Self::name) is reported: the rename, else the identifier.
    pub name_span: Span,
    pub ty: Type,
    /// `#[arg(description)]`, else the doc comment's `# Arguments` entry.
    pub description: Option<String>,
    pub args: ArgOptions,
}

/// `#[arg(description = "..", rename = "..", secret, complete = path)]` on a parameter.
#[derive(Default)]
pub struct ArgOptions {
    pub description: Option<LitStr>,
    pub rename: Option<LitStr>,
    pub secret: bool,
    /// The async fn suggesting values for `completion/complete`.
    pub complete: Option<syn::Path>,
    /// The HTTP header that mirrors the argument (SEP-2243): `Mcp-Param-<header>`.
    pub header: Option<LitStr>,
}

/// What the function returns.
pub struct Output {
    /// The return type as written; `None` for `-> ()` left implicit.
    pub written: Option<Type>,
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

impl Input {
    /// Reads the attribute and the item, recording every attribute problem in `errors`; `None` when
    /// the item is not a function.
    pub fn from_syn(
        kind: Macro,
        attr: TokenStream,
        item: Item,
        errors: &mut Errors,
    ) -> Option<Input> {
        let options = match kind {
            Macro::Tool => Options::Tool(attr::tool_options(attr, errors)),
            Macro::Resource => Options::Resource(attr::resource_options(attr, errors)),
            Macro::Prompt => Options::Prompt(attr::prompt_options(attr, errors)),
        };
        let function = Function::from_syn(item, kind, errors);
        let function = errors.take(function)?;
        Some(Input { options, function })
    }
}

impl Function {
    fn from_syn(item: Item, kind: Macro, errors: &mut Errors) -> syn::Result<Function> {
        let Item::Fn(mut item) = item else {
            return Err(syn::Error::new(
                first_token_span(&item),
                format!(
                    "#[{}] goes on an `async fn` with a body, and this item is not one",
                    kind.name()
                ),
            ));
        };
        let docs = Docs::from_attrs(&item.attrs);
        let mut receiver = None;
        let mut params = Vec::new();
        for input in item.sig.inputs.iter_mut() {
            match input {
                FnArg::Receiver(r) => receiver = Some(r.clone()),
                FnArg::Typed(pat_type) => {
                    let args = attr::take_arg_options(&mut pat_type.attrs, errors);
                    params.push(Param::new(&pat_type.pat, &pat_type.ty, args, &docs));
                }
            }
        }
        Ok(Function {
            ident: item.sig.ident.clone(),
            receiver,
            params,
            output: Output::from_syn(&item.sig.output),
            docs,
            item,
        })
    }

    /// The description: the attribute's, else the doc comment's summary.
    pub fn description(&self, explicit: &Option<LitStr>) -> Option<String> {
        explicit
            .as_ref()
            .map(LitStr::value)
            .or_else(|| self.docs.description.clone())
    }
}

/// Where "this item is not a function" points: the item's first token after its attributes.
fn first_token_span(item: &Item) -> Span {
    let mut tokens = quote::ToTokens::into_token_stream(item.clone()).into_iter();
    while let Some(token) = tokens.next() {
        match token {
            // `#` and the `[...]` after it.
            TokenTree::Punct(p) if p.as_char() == '#' => {
                tokens.next();
            }
            other => return other.span(),
        }
    }
    Span::call_site()
}

impl Param {
    fn new(pat: &Pat, ty: &Type, args: ArgOptions, docs: &Docs) -> Param {
        let ident = match pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(&p.ident),
            _ => None,
        };
        let plain = ident.map(|i| {
            let i = i.to_string();
            i.strip_prefix("r#").unwrap_or(&i).to_string()
        });
        let (name, name_span) = match (&args.rename, &plain) {
            (Some(rename), _) => (Some(rename.value()), rename.span()),
            (None, Some(plain)) => (Some(plain.clone()), ident.unwrap().span()),
            (None, None) => (None, Span::call_site()),
        };
        // The `# Arguments` entry may name the parameter or the name callers use.
        let description = args.description.as_ref().map(LitStr::value).or_else(|| {
            plain
                .as_deref()
                .and_then(|p| docs.argument(p))
                .or_else(|| docs.argument(&args.rename.as_ref()?.value()))
                .map(str::to_string)
        });
        Param {
            pat: pat.clone(),
            name,
            name_span,
            ty: ty.clone(),
            description,
            args,
        }
    }
}

impl Output {
    fn from_syn(output: &ReturnType) -> Output {
        let ty = match output {
            ReturnType::Default => {
                return Output {
                    written: None,
                    ok: syn::parse_quote!(()),
                    error: None,
                };
            }
            ReturnType::Type(_, ty) => &**ty,
        };
        let (ok, error) = match result_parts(ty) {
            Some((ok, Some(err))) => (ok, Some(ErrorType::Written(err))),
            Some((ok, None)) => (ok, Some(ErrorType::Inferred(ty.clone()))),
            None => (ty.clone(), None),
        };
        Output {
            written: Some(ty.clone()),
            ok,
            error,
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

#[cfg(test)]
mod tests {
    use super::*;
    use quote::{ToTokens, quote};

    fn function(item: TokenStream) -> Function {
        let mut errors = Errors::default();
        let f = Function::from_syn(syn::parse2(item).unwrap(), Macro::Tool, &mut errors);
        errors.finish(Some(())).unwrap();
        f.unwrap_or_else(|e| panic!("{e}"))
    }

    fn ty(tokens: TokenStream) -> Type {
        syn::parse2(tokens).unwrap()
    }

    #[test]
    fn names_descriptions_and_options_of_parameters() {
        let f = function(quote! {
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
        });
        let names: Vec<&str> = f.params.iter().flat_map(|p| p.name.as_deref()).collect();
        assert_eq!(names, ["ctx", "sql", "max_rows", "type"]);
        assert_eq!(f.params[1].description.as_deref(), Some("The statement."));
        assert_eq!(
            f.params[2].description.as_deref(),
            Some("At most this many")
        );
        assert!(f.params[3].args.secret && !f.params[1].args.secret);
        assert!(matches!(f.output.error, Some(ErrorType::Written(_))));
        assert_eq!(f.description(&None).as_deref(), Some("Runs it."));
        // The #[arg] attributes are gone from the emitted function.
        assert!(!f.item.to_token_stream().to_string().contains("arg"));
    }

    #[test]
    fn not_a_function() {
        let mut errors = Errors::default();
        let item = syn::parse2(quote!(
            struct S;
        ))
        .unwrap();
        let e = Function::from_syn(item, Macro::Tool, &mut errors)
            .err()
            .unwrap();
        assert!(e.to_string().contains("goes on an `async fn`"), "{e}");
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
        let f = function(quote!(
            async fn f() -> anyhow::Result<u8> {
                todo!()
            }
        ));
        assert_eq!(f.output.ok, ty(quote!(u8)));
        assert!(matches!(f.output.error, Some(ErrorType::Inferred(_))));
        let f = function(quote!(
            async fn f() {}
        ));
        assert_eq!(f.output.ok, ty(quote!(())));
        assert!(f.output.error.is_none() && f.output.written.is_none());
    }
}
