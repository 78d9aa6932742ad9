//! Argument completion (`completion/complete`) for prompt arguments and resource template variables.
//!
//! An argument whose type is an enum completes from the enum's values with no code. Any other argument
//! gets suggestions from an `async fn` named in `#[arg(complete = path)]`:
//!
//! ```ignore
//! async fn cities(request: Completion) -> Vec<String> {
//!     request.matching(["Paris", "Park City", "Berlin"])
//! }
//!
//! #[cm_prompt]
//! async fn travel(#[arg(complete = cities)] city: String) -> String { .. }
//! ```

use std::collections::HashMap;

use rmcp::{
    ErrorData as McpError, RoleServer,
    model::{CompleteRequestParams, CompleteResult, CompletionInfo},
    service::RequestContext,
};
use serde_json::Value;
use tracing::Instrument;

use crate::{
    Context,
    call::{CallEnv, begin},
    extract::{ArgsSpec, JsonObject},
    registry::BoxFuture,
};

/// `completion/complete`: suggestions for a prompt argument or resource template variable, from its
/// `#[arg(complete = ..)]` function or, for enum-typed arguments, from the enum's values.
pub(crate) async fn complete(
    env: CallEnv<'_>,
    params: CompleteRequestParams,
    request: RequestContext<RoleServer>,
) -> Result<CompleteResult, McpError> {
    let target = env
        .registry
        .completion_target(&params.r#ref)
        .map_err(|message| McpError::invalid_params(message, None))?;
    let argument = params.argument.name;
    let completer = target
        .params
        .iter()
        .find(|p| p.name == argument)
        .and_then(|p| p.complete);
    let choices = &target.choices;
    let values = match (completer, choices.values.get(&argument)) {
        (Some(completer), _) => {
            let (ctx, span) = begin(&env, request, params.meta.as_ref(), None, false);
            let completion = Completion {
                argument,
                value: params.argument.value,
                arguments: params.context.and_then(|c| c.arguments).unwrap_or_default(),
                ctx: ctx.clone(),
            };
            let ct = ctx.cancellation_token().clone();
            tokio::select! {
                biased;
                values = completer(completion).instrument(span) => values,
                () = ct.cancelled() => {
                    return Err(McpError::internal_error("the completion request was cancelled", None));
                }
            }
        }
        (None, Some(values)) => filter_prefix(values.iter().cloned(), &params.argument.value),
        // An argument without suggestions completes to nothing: clients ask for every field.
        (None, None) if choices.names.contains(&argument) => Vec::new(),
        (None, None) => {
            let names = &choices.names;
            return Err(McpError::invalid_params(
                format!(
                    "no argument `{argument}` to complete; the arguments are: {}",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
                None,
            ));
        }
    };
    Ok(CompleteResult::new(completion_info(values)))
}

/// A completion function, as `#[arg(complete = path)]` records it.
pub type Completer = fn(Completion) -> BoxFuture<Vec<String>>;

/// The functions `#[arg(complete = path)]` accepts: `async fn name(request: Completion) -> Vec<String>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot complete an argument",
    label = "not an `async fn(Completion) -> Vec<String>`",
    note = "`complete` names a function declared as `async fn name(request: Completion) -> Vec<String>`"
)]
pub trait CompletionFn {
    /// Calls the function, boxing its future.
    fn complete(&self, request: Completion) -> BoxFuture<Vec<String>>;
}

#[diagnostic::do_not_recommend]
impl<F, Fut> CompletionFn for F
where
    F: Fn(Completion) -> Fut,
    Fut: Future<Output = Vec<String>> + Send + 'static,
{
    fn complete(&self, request: Completion) -> BoxFuture<Vec<String>> {
        Box::pin(self(request))
    }
}

/// One `completion/complete` request, as a completion function receives it.
pub struct Completion {
    pub(crate) argument: String,
    pub(crate) value: String,
    pub(crate) arguments: HashMap<String, String>,
    pub(crate) ctx: Context,
}

impl Completion {
    /// The argument (or template variable) being completed.
    pub fn argument(&self) -> &str {
        &self.argument
    }

    /// What the user typed so far.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Values of the other arguments the client already knows (may be empty).
    pub fn arguments(&self) -> &HashMap<String, String> {
        &self.arguments
    }

    /// The request's context: trace, headers, shared state.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The candidates that start with what the user typed (ignoring case), in the given order.
    pub fn matching<I, S>(&self, candidates: I) -> Vec<String>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        filter_prefix(candidates.into_iter().map(Into::into), &self.value)
    }
}

/// A definition's argument names, and the values each enum-typed argument allows, worked out once
/// at startup.
#[derive(Default)]
pub(crate) struct Choices {
    pub names: Vec<String>,
    pub values: HashMap<String, Vec<String>>,
}

impl Choices {
    pub(crate) fn of(spec: &ArgsSpec) -> Choices {
        let mut choices = Choices::default();
        for arg in &spec.args {
            choices.names.push(arg.name.to_string());
            let values = schema_values(arg.schema.as_value(), spec.definitions());
            choices.values.insert(arg.name.to_string(), values);
        }
        if let Some((_, whole)) = &spec.whole
            && let Some(Value::Object(properties)) = whole.get("properties")
        {
            let defs = match whole.get("$defs") {
                Some(Value::Object(defs)) => defs.clone(),
                _ => JsonObject::new(),
            };
            for (name, property) in properties {
                choices.names.push(name.clone());
                choices
                    .values
                    .insert(name.clone(), schema_values(property, &defs));
            }
        }
        choices.values.retain(|_, values| !values.is_empty());
        choices
    }
}

pub(crate) fn filter_prefix(candidates: impl Iterator<Item = String>, typed: &str) -> Vec<String> {
    let typed = typed.to_lowercase();
    candidates
        .filter(|candidate| candidate.to_lowercase().starts_with(&typed))
        .collect()
}

/// The values an argument's schema allows, when it is an enum of strings (`enum`, or `oneOf` of
/// `const`s as schemars writes enums whose variants have docs), following `$ref`s into `defs`.
pub(crate) fn schema_values(schema: &Value, defs: &serde_json::Map<String, Value>) -> Vec<String> {
    values_at(schema, defs, 0)
}

fn values_at(schema: &Value, defs: &serde_json::Map<String, Value>, depth: usize) -> Vec<String> {
    // Enum schemas are shallow; the bound only stops a self-referencing schema.
    if depth > 8 {
        return Vec::new();
    }
    if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
        let name = target.rsplit('/').next().unwrap_or_default();
        return defs
            .get(name)
            .map(|def| values_at(def, defs, depth + 1))
            .unwrap_or_default();
    }
    if let Some(value) = schema.get("const").and_then(Value::as_str) {
        return vec![value.to_string()];
    }
    if let Some(Value::Array(values)) = schema.get("enum") {
        return values
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect();
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(variants)) = schema.get(key) {
            return variants
                .iter()
                .flat_map(|variant| values_at(variant, defs, depth + 1))
                .collect();
        }
    }
    Vec::new()
}

/// The completion result: at most the 100 values MCP allows, with the total when there are more.
pub(crate) fn completion_info(mut values: Vec<String>) -> CompletionInfo {
    let total = values.len();
    values.truncate(CompletionInfo::MAX_VALUES);
    let mut info = CompletionInfo::default();
    info.has_more = Some(total > values.len());
    info.total = Some(u32::try_from(total).unwrap_or(u32::MAX));
    info.values = values;
    info
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_from_enum_schemas() {
        let none = serde_json::Map::new();
        let values = |schema| schema_values(&schema, &none);
        assert_eq!(
            values(json!({"type": "string", "enum": ["a", "b"]})),
            ["a", "b"]
        );
        assert_eq!(
            values(json!({"oneOf": [{"const": "x"}, {"enum": ["y", "z"]}]})),
            ["x", "y", "z"]
        );
        assert!(values(json!({"type": "string"})).is_empty());
        let mut defs = serde_json::Map::new();
        defs.insert("Colour".into(), json!({"enum": ["red", "green"]}));
        let optional = json!({"anyOf": [{"$ref": "#/$defs/Colour"}, {"type": "null"}]});
        assert_eq!(schema_values(&optional, &defs), ["red", "green"]);
    }

    #[test]
    fn prefix_filter_ignores_case() {
        let names = ["Paris", "park", "Berlin"].map(String::from);
        assert_eq!(filter_prefix(names.into_iter(), "PAR"), ["Paris", "park"]);
    }

    #[test]
    fn long_lists_are_cut_to_the_protocol_maximum() {
        let info = completion_info((0..150).map(|i| i.to_string()).collect());
        assert_eq!(info.values.len(), 100);
        assert_eq!(info.total, Some(150));
        assert_eq!(info.has_more, Some(true));
    }
}
