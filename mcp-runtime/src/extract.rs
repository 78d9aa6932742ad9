//! Parameters: each parameter type says whether it is an argument the caller passes (any
//! `Deserialize + JsonSchema` type) or a value the framework injects (`Context`, `State<T>`, ...).
//!
//! Modelled on axum's extractors: a new injectable is a new impl of [`FromCall`], not a macro change.
//! This is the framework's extension point for per-call values: the macros know nothing of any
//! parameter type; for each parameter they call [`FromCall::describe`] once at startup (an argument
//! adds itself to the definition's [`ArgsSpec`], so to its input schema) and [`FromCall::from_call`]
//! on every call, handing it the call's [`CallInput`]: the [`Context`] and the arguments not yet
//! taken. The call path has checked the argument names against the spec before any extraction
//! runs, so an extractor only takes what it described.

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{Context, State, Subscriptions, ToolError, registry::Accepted, trace::TraceContext};

/// A JSON object: the arguments of a call.
pub type JsonObject = serde_json::Map<String, Value>;

/// What the macros record about each parameter.
#[derive(Debug)]
pub struct ParamInfo {
    /// The name callers use.
    pub name: &'static str,
    /// From `#[arg(description = ..)]` or the doc comment's `# Arguments` section.
    pub description: Option<&'static str>,
    /// `#[arg(secret)]`: the value never reaches the logs.
    pub secret: bool,
    /// `#[arg(complete = path)]`: suggests values in `completion/complete` (prompts and resource
    /// templates).
    pub complete: Option<crate::completion::Completer>,
    /// `#[arg(header = "Region")]`: a client of protocol 2026-07-28 also sends the argument in the
    /// HTTP header `Mcp-Param-Region` (SEP-2243), which the schema announces as `x-mcp-header`
    /// and the server checks against the argument.
    pub header: Option<&'static str>,
}

/// One call's input while its parameters are extracted.
pub struct CallInput<'a> {
    ctx: &'a Context,
    args: JsonObject,
}

impl<'a> CallInput<'a> {
    /// Wraps a call's context and arguments.
    pub fn new(ctx: &'a Context, args: JsonObject) -> CallInput<'a> {
        CallInput { ctx, args }
    }

    /// The call's context, for injected values.
    pub fn context(&self) -> &'a Context {
        self.ctx
    }

    /// Removes and returns the argument called `name`.
    pub fn take(&mut self, name: &str) -> Option<Value> {
        self.args.remove(name)
    }

    /// Removes and returns every argument left.
    pub fn take_all(&mut self) -> JsonObject {
        std::mem::take(&mut self.args)
    }
}

/// Checks the names of a call's arguments against those its definition accepts, before anything is
/// extracted. A missing required argument is reported first (as a misspelling when an unknown name
/// is close to it), then any unknown name, with the valid ones. Only arguments are named: injected
/// parameters are no business of the caller's.
pub(crate) fn check_names(accepted: &Accepted, args: &JsonObject) -> Result<(), ToolError> {
    let Accepted::Named(known) = accepted else {
        return Ok(()); // Arguments<T>: T's Deserialize decides.
    };
    let is_known = |key: &str| known.iter().any(|(name, _)| *name == key);
    let unknown: Vec<&str> = args
        .keys()
        .map(String::as_str)
        .filter(|key| !is_known(key))
        .collect();
    let missing = known
        .iter()
        .find(|(name, required)| *required && !matches!(args.get(*name), Some(v) if !v.is_null()));
    if let Some((name, _)) = missing {
        let typo = unknown
            .iter()
            .find(|key| edit_distance(key, name) <= 2)
            .map(|key| format!(" (an argument `{key}` was given: did you mean `{name}`?)"))
            .unwrap_or_default();
        return Err(ToolError::invalid_arguments(format!(
            "missing required argument `{name}`{typo}"
        )));
    }
    if unknown.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = known.iter().map(|(name, _)| *name).collect();
    Err(ToolError::invalid_arguments(format!(
        "unknown argument{} {}; expected {}",
        if unknown.len() > 1 { "s" } else { "" },
        quoted(&unknown),
        if names.is_empty() {
            "no arguments".to_string()
        } else {
            format!("only {}", quoted(&names))
        }
    )))
}

/// The Levenshtein distance between `a` and `b`, for "did you mean" hints.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The arguments a definition takes, as its parameters describe them.
pub struct ArgsSpec {
    generator: SchemaGenerator,
    pub(crate) args: Vec<ArgSpec>,
    /// The whole argument object's schema, from an [`Arguments<T>`] parameter.
    pub(crate) whole: Option<(&'static str, JsonObject)>,
}

/// One argument: name, schema, whether it is required.
pub(crate) struct ArgSpec {
    pub name: &'static str,
    pub description: Option<&'static str>,
    pub required: bool,
    pub schema: Schema,
}

impl Default for ArgsSpec {
    fn default() -> Self {
        ArgsSpec {
            generator: crate::schema::settings().into_generator(),
            args: Vec::new(),
            whole: None,
        }
    }
}

impl ArgsSpec {
    /// Adds an argument of type `T`. It is required unless `null` is a valid `T` (`Option<_>`).
    pub fn add<T: DeserializeOwned + JsonSchema>(&mut self, param: &'static ParamInfo) {
        let mut schema = self.generator.subschema_for::<T>();
        crate::schema::standardize(&mut schema);
        if let Some(description) = param.description {
            schema.insert("description".into(), description.into());
        }
        if let Some(header) = param.header {
            schema.insert("x-mcp-header".into(), header.into());
        }
        self.args.push(ArgSpec {
            name: param.name,
            description: param.description,
            required: serde_json::from_value::<T>(Value::Null).is_err(),
            schema,
        });
    }

    /// Makes `T`'s own (root) schema the whole argument object's schema, as [`Arguments<T>`] does.
    pub fn set_whole<T: JsonSchema>(&mut self, param: &'static ParamInfo) {
        let schema = crate::schema::settings()
            .into_generator()
            .into_root_schema_for::<T>();
        let mut object = match schema.to_value() {
            Value::Object(object) => object,
            // Not an object schema: kept as it is, so that the registry reports it.
            other => JsonObject::from_iter([("const".to_string(), other)]),
        };
        // schemars titles the root with the Rust type's name, which means nothing to a client.
        if object.get("title").and_then(Value::as_str) == Some(T::schema_name().as_ref()) {
            object.remove("title");
        }
        self.whole = Some((param.name, object));
    }

    /// Why this spec cannot describe a definition's arguments, if it cannot.
    pub(crate) fn problem(&self) -> Option<String> {
        let (name, schema) = self.whole.as_ref()?;
        if schema.get("type").and_then(Value::as_str) != Some("object") {
            return Some(format!(
                "the parameter `{name}` is `Arguments<T>` but `T` is not a struct: its schema must be an object"
            ));
        }
        if !self.args.is_empty() {
            let others: Vec<&str> = self.args.iter().map(|a| a.name).collect();
            return Some(format!(
                "the parameter `{name}` is `Arguments<T>`, which takes every argument, so there can be no other argument parameters (found {}); move them into `T`",
                quoted(&others)
            ));
        }
        None
    }

    /// The schemas the arguments' `$ref`s point to.
    pub(crate) fn definitions(&self) -> &serde_json::Map<String, Value> {
        self.generator.definitions()
    }

    /// The input schema of a tool: an object with one property per argument, or the schema of the
    /// [`Arguments<T>`] parameter's `T`.
    pub(crate) fn input_schema(mut self) -> JsonObject {
        if let Some((_, whole)) = self.whole.take() {
            return whole;
        }
        let mut properties = JsonObject::new();
        let mut required = Vec::new();
        for arg in self.args {
            if arg.required {
                required.push(Value::from(arg.name));
            }
            properties.insert(arg.name.into(), arg.schema.to_value());
        }
        let mut schema = JsonObject::new();
        schema.insert("type".into(), "object".into());
        schema.insert("properties".into(), properties.into());
        if !required.is_empty() {
            schema.insert("required".into(), required.into());
        }
        let defs = self.generator.take_definitions(true);
        if !defs.is_empty() {
            schema.insert("$defs".into(), defs.into());
        }
        schema
    }
}

/// A parameter type of a `#[cm_tool]`, `#[cm_resource]` or `#[cm_prompt]` function.
///
/// Every `Deserialize + JsonSchema` type is an argument. Injected types implement this trait
/// themselves, leaving [`describe`](FromCall::describe) empty so they stay out of the schema. For
/// instance a tenant read from a header, in any tool that takes a `Tenant`:
///
/// ```
/// use mcp_runtime::{
///     Context, ToolError,
///     extract::{CallInput, FromCall, ParamInfo},
/// };
///
/// /// The caller's `X-Tenant` header.
/// struct Tenant(String);
///
/// impl<'a> FromCall<'a> for Tenant {
///     fn from_call(_: &'static ParamInfo, input: &mut CallInput<'a>) -> Result<Self, ToolError> {
///         let ctx: &Context = input.context();
///         ctx.headers()
///             .and_then(|h| h.get("x-tenant")?.to_str().ok())
///             .map(|t| Tenant(t.to_string()))
///             .ok_or_else(|| ToolError::invalid_arguments("this tool needs an X-Tenant header"))
///     }
/// }
///
/// // In a server: `#[cm_tool] async fn report(tenant: Tenant, month: u8) -> String { .. }` takes
/// // `month` from the caller and `tenant` from the header; the schema lists only `month`.
/// # fn takes_tenant<'a, T: FromCall<'a>>() {}
/// # takes_tenant::<Tenant>();
/// ```
///
/// An extractor that reads an argument of its own adds it in `describe` (with
/// [`ArgsSpec::add`]) and takes it in `from_call` with [`CallInput::take`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a parameter of a #[cm_tool], #[cm_resource] or #[cm_prompt] function",
    label = "neither an argument nor an injected value",
    note = "an argument's type implements serde::Deserialize and schemars::JsonSchema (derive both); injected types are Context, &Context, State<T>, &TraceContext, or any type that implements FromCall"
)]
pub trait FromCall<'a>: Sized {
    /// Whether the caller passes this parameter as an argument (`true` for every
    /// `Deserialize + JsonSchema` type and [`Arguments<T>`]). `#[cm_resource]` checks it at compile
    /// time: a resource's arguments come from its URI's variables, so a parameter no variable binds
    /// must be injected. An extractor that takes an argument of its own says `true`.
    const IS_ARGUMENT: bool = false;

    /// Adds the parameter to the definition's arguments; injected types add nothing.
    fn describe(param: &'static ParamInfo, spec: &mut ArgsSpec) {
        let _ = (param, spec);
    }

    /// Produces the value for one call.
    fn from_call(param: &'static ParamInfo, input: &mut CallInput<'a>) -> Result<Self, ToolError>;
}

// Not recommended in errors: an unsupported parameter type reports `FromCall`'s own message instead of
// the missing `Deserialize`/`JsonSchema` bounds with their lists of unrelated implementors.
#[diagnostic::do_not_recommend]
impl<'a, T: DeserializeOwned + JsonSchema> FromCall<'a> for T {
    const IS_ARGUMENT: bool = true;

    fn describe(param: &'static ParamInfo, spec: &mut ArgsSpec) {
        spec.add::<T>(param);
    }

    fn from_call(param: &'static ParamInfo, input: &mut CallInput<'a>) -> Result<Self, ToolError> {
        match input.take(param.name) {
            None | Some(Value::Null) => serde_json::from_value(Value::Null).map_err(|_| {
                ToolError::invalid_arguments(format!("missing required argument `{}`", param.name))
            }),
            Some(value) => deserialize_lenient(value).map_err(|e| {
                ToolError::invalid_arguments(format!(
                    "invalid value for argument `{}`: {e}",
                    param.name
                ))
            }),
        }
    }
}

/// Deserializes `value`. A string that is not a valid `T` but reads as JSON (`"5"`, `"true"`, `"[1]"`) is
/// parsed as JSON: prompt arguments and URI variables are always strings, and some clients quote numbers.
fn deserialize_lenient<T: DeserializeOwned>(value: Value) -> Result<T, serde_json::Error> {
    match value {
        // Only a string that could be JSON is kept for the retry; any other string moves without a copy.
        Value::String(text) if looks_like_json(&text) => {
            let retry = text.clone();
            serde_json::from_value(Value::String(text))
                .or_else(|error| serde_json::from_str(&retry).map_err(|_| error))
        }
        other => serde_json::from_value(other),
    }
}

fn looks_like_json(text: &str) -> bool {
    matches!(
        text.trim_start().as_bytes().first(),
        Some(b'0'..=b'9' | b'-' | b'[' | b'{' | b't' | b'f' | b'n' | b'"')
    )
}

/// Every argument of a call as one struct: `T`'s schema (with its `$schema`, `$defs`, and
/// `additionalProperties: false` from `#[serde(deny_unknown_fields)]`) is the tool's whole
/// `inputSchema`, and the arguments object is deserialized into `T`.
///
/// ```ignore
/// #[derive(Deserialize, JsonSchema)]
/// #[serde(deny_unknown_fields)]
/// struct Search { query: String, limit: Option<u32> }
///
/// #[cm_tool]
/// async fn search(ctx: &Context, search: Arguments<Search>) -> String {
///     format!("{} (at most {:?})", search.query, search.limit) // Arguments<T> derefs to T
/// }
/// ```
///
/// It takes every argument, so it is the only argument parameter (injected ones may accompany it).
/// In a prompt, `T`'s fields are the prompt's arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Arguments<T>(pub T);

impl<T> Arguments<T> {
    /// The arguments.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Arguments<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<'a, T: DeserializeOwned + JsonSchema> FromCall<'a> for Arguments<T> {
    const IS_ARGUMENT: bool = true;

    fn describe(param: &'static ParamInfo, spec: &mut ArgsSpec) {
        spec.set_whole::<T>(param);
    }

    fn from_call(_: &'static ParamInfo, input: &mut CallInput<'a>) -> Result<Self, ToolError> {
        serde_json::from_value(Value::Object(input.take_all()))
            .map(Arguments)
            .map_err(|e| ToolError::invalid_arguments(e.to_string()))
    }
}

impl<'a> FromCall<'a> for &'a Context {
    fn from_call(_: &'static ParamInfo, input: &mut CallInput<'a>) -> Result<Self, ToolError> {
        Ok(input.context())
    }
}

impl<'a> FromCall<'a> for Context {
    fn from_call(_: &'static ParamInfo, input: &mut CallInput<'a>) -> Result<Self, ToolError> {
        Ok(input.context().clone())
    }
}

impl<'a> FromCall<'a> for &'a TraceContext {
    fn from_call(_: &'static ParamInfo, input: &mut CallInput<'a>) -> Result<Self, ToolError> {
        Ok(input.context().trace())
    }
}

impl<'a> FromCall<'a> for Subscriptions {
    fn from_call(_: &'static ParamInfo, input: &mut CallInput<'a>) -> Result<Self, ToolError> {
        Ok(input.context().subscriptions())
    }
}

impl<'a, T: Send + Sync + 'static> FromCall<'a> for State<T> {
    fn from_call(_: &'static ParamInfo, input: &mut CallInput<'a>) -> Result<Self, ToolError> {
        State::from_context(input.context())
    }
}
