//! Every call's instrumentation: the trace span, the timed start/complete/error events, argument
//! validation errors, cancellation, and the mapping of failures onto MCP results and errors.

use std::{sync::Arc, time::Instant};

use rmcp::{
    ErrorData as McpError, RoleServer,
    model::{
        CallToolResult, CompleteRequestParams, CompleteResult, ContentBlock, GetPromptResult,
        ReadResourceResult, RequestMetaObject,
    },
    service::RequestContext,
};
use serde_json::Value;
use tracing::{Instrument, Level};

use crate::{
    Context, ToolError,
    completion::{Completion, completion_info, filter_prefix},
    context::{ClientSession, StateMap},
    error::ErrorKind,
    events::attach_trace,
    events::elapsed_ms,
    extract::{JsonObject, ParamInfo},
    registry::Registry,
    trace::TraceContext,
};

/// What every call needs from the server.
pub(crate) struct CallEnv<'a> {
    pub registry: &'a Registry,
    pub state: &'a StateMap,
    pub session: &'a Arc<ClientSession>,
}

const PREVIEW_CHARS: usize = 100;

/// Builds the call's context and the span it runs in.
fn begin(
    env: &CallEnv<'_>,
    request: RequestContext<RoleServer>,
    params_meta: Option<&RequestMetaObject>,
) -> (Context, tracing::Span) {
    let headers = request
        .extensions
        .get::<http::request::Parts>()
        .map(|parts| &parts.headers);
    let meta = match params_meta {
        Some(meta) if request.meta.get_traceparent().is_none() => meta,
        _ => &request.meta,
    };
    let trace = Arc::new(TraceContext::from_request(headers, meta));
    let span = tracing::info_span!("mcp.call");
    attach_trace(&span, trace.clone());
    let ctx = Context::new(request, trace, env.state.clone(), env.session.clone());
    (ctx, span)
}

/// The arguments as the logs show them: JSON, secrets replaced, cut to a preview.
fn input_summary(args: &JsonObject, params: &[ParamInfo], has_secrets: bool) -> (usize, String) {
    let text = if has_secrets {
        let redacted: JsonObject = args
            .iter()
            .map(|(k, v)| {
                let secret = params.iter().any(|p| p.secret && p.name == k);
                let v = if secret {
                    Value::from("***")
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect();
        Value::Object(redacted).to_string()
    } else {
        // Serializing the map directly avoids cloning the arguments.
        serde_json::to_string(args).unwrap_or_default()
    };
    let length = text.chars().count();
    let preview = match text.char_indices().nth(PREVIEW_CHARS) {
        Some((cut, _)) => text[..cut].to_string(),
        None => text,
    };
    (length, preview)
}

fn result_length(result: &CallToolResult) -> usize {
    result
        .content
        .iter()
        .map(|c| c.as_text().map_or(0, |t| t.text.chars().count()))
        .sum()
}

/// Runs `fut` unless the client cancels the request first.
async fn cancellable<T>(
    ctx: &Context,
    fut: impl Future<Output = Result<T, ToolError>>,
) -> Result<T, ToolError> {
    let ct = ctx.cancellation_token().clone();
    tokio::select! {
        biased;
        result = fut => result,
        () = ct.cancelled() => Err(ToolError::cancelled()),
    }
}

/// `tools/call`.
pub(crate) async fn call_tool(
    env: CallEnv<'_>,
    name: &str,
    arguments: Option<JsonObject>,
    params_meta: Option<&RequestMetaObject>,
    request: RequestContext<RoleServer>,
) -> Result<CallToolResult, McpError> {
    let Some(entry) = env.registry.tool(name) else {
        return Err(McpError::invalid_params(
            format!(
                "unknown tool `{name}`; this server has: {}",
                env.registry.tool_names()
            ),
            None,
        ));
    };
    let args = arguments.unwrap_or_default();
    let (ctx, span) = begin(&env, request, params_meta);
    let tool_name = entry.def.name;
    async move {
        let started = Instant::now();
        if tracing::enabled!(Level::INFO) {
            let (length, preview) = input_summary(&args, entry.def.params, entry.has_secrets);
            tracing::info!(
                event_type = entry.events.start.as_str(),
                data.tool_name = tool_name,
                data.input_length = length,
                data.input_preview = preview,
                "Tool execution started"
            );
        }
        let outcome = cancellable(&ctx, (entry.def.invoke)(ctx.clone(), args)).await;
        let duration_ms = elapsed_ms(started);
        match outcome {
            Ok(mut result) => {
                if entry.wrap_result
                    && let Some(value) = result.structured_content.take()
                {
                    let mut wrapped = JsonObject::new();
                    wrapped.insert("result".into(), value);
                    result.structured_content = Some(Value::Object(wrapped));
                }
                let failed = result.is_error == Some(true);
                if failed {
                    tracing::error!(
                        event_type = entry.events.error.as_str(),
                        duration_ms,
                        success = false,
                        data.tool_name = tool_name,
                        error = "the tool returned an error result",
                        error_type = "ToolResultError",
                        "Tool execution failed"
                    );
                } else {
                    tracing::info!(
                        event_type = entry.events.complete.as_str(),
                        duration_ms,
                        success = true,
                        data.tool_name = tool_name,
                        data.result_length = result_length(&result),
                        "Tool execution completed"
                    );
                }
                Ok(result)
            }
            Err(error) => {
                let message = if error.kind() == ErrorKind::InvalidArguments {
                    tracing::warn!(
                        event_type = "tool.validation.error",
                        duration_ms,
                        success = false,
                        data.tool_name = tool_name,
                        error = error.message(),
                        error_type = error.error_type(),
                        "Tool arguments are invalid"
                    );
                    format!(
                        "Invalid arguments for tool `{tool_name}`: {}",
                        error.message()
                    )
                } else {
                    tracing::error!(
                        event_type = entry.events.error.as_str(),
                        duration_ms,
                        success = false,
                        data.tool_name = tool_name,
                        error = error.message(),
                        error_type = error.error_type(),
                        "Tool execution failed"
                    );
                    error.message().to_string()
                };
                Ok(CallToolResult::error(vec![ContentBlock::text(message)]))
            }
        }
    }
    .instrument(span)
    .await
}

/// Maps a failed resource read or prompt onto the JSON-RPC error a client expects.
fn to_mcp_error(error: &ToolError) -> McpError {
    match error.kind() {
        ErrorKind::InvalidArguments => McpError::invalid_params(error.message().to_string(), None),
        ErrorKind::NotFound => McpError::resource_not_found(error.message().to_string(), None),
        _ => McpError::internal_error(error.message().to_string(), None),
    }
}

/// `resources/read`.
pub(crate) async fn read_resource(
    env: CallEnv<'_>,
    uri: &str,
    params_meta: Option<&RequestMetaObject>,
    request: RequestContext<RoleServer>,
) -> Result<ReadResourceResult, McpError> {
    let Some((entry, vars)) = env.registry.resource(uri) else {
        return Err(McpError::resource_not_found(
            format!(
                "unknown resource `{uri}`; list them with resources/list and resources/templates/list"
            ),
            Some(serde_json::json!({ "uri": uri })),
        ));
    };
    let (ctx, span) = begin(&env, request, params_meta);
    async move {
        let started = Instant::now();
        tracing::info!(
            event_type = entry.events.start.as_str(),
            data.resource_uri = uri,
            "Resource read started"
        );
        let outcome = cancellable(&ctx, (entry.def.invoke)(ctx.clone(), vars)).await;
        let duration_ms = elapsed_ms(started);
        match outcome {
            Ok(body) => {
                tracing::info!(
                    event_type = entry.events.complete.as_str(),
                    duration_ms,
                    success = true,
                    data.resource_uri = uri,
                    data.result_length = body.len(),
                    "Resource read completed"
                );
                Ok(body.into_result(uri, entry.def.mime_type))
            }
            Err(error) => {
                tracing::error!(
                    event_type = entry.events.error.as_str(),
                    duration_ms,
                    success = false,
                    data.resource_uri = uri,
                    error = error.message(),
                    error_type = error.error_type(),
                    "Resource read failed"
                );
                Err(to_mcp_error(&error))
            }
        }
    }
    .instrument(span)
    .await
}

/// `prompts/get`.
pub(crate) async fn get_prompt(
    env: CallEnv<'_>,
    name: &str,
    arguments: Option<JsonObject>,
    params_meta: Option<&RequestMetaObject>,
    request: RequestContext<RoleServer>,
) -> Result<GetPromptResult, McpError> {
    let Some(entry) = env.registry.prompt(name) else {
        let names: Vec<&str> = env.registry.prompts.iter().map(|p| p.def.name).collect();
        return Err(McpError::invalid_params(
            format!(
                "unknown prompt `{name}`; this server has: {}",
                if names.is_empty() {
                    "none".into()
                } else {
                    names.join(", ")
                }
            ),
            None,
        ));
    };
    let args = arguments.unwrap_or_default();
    let (ctx, span) = begin(&env, request, params_meta);
    async move {
        let started = Instant::now();
        tracing::info!(
            event_type = entry.events.start.as_str(),
            data.prompt_name = entry.def.name,
            "Prompt requested"
        );
        let outcome = cancellable(&ctx, (entry.def.invoke)(ctx.clone(), args)).await;
        let duration_ms = elapsed_ms(started);
        match outcome {
            Ok(mut result) => {
                if result.description.is_none() {
                    result.description = entry.def.description.map(Into::into);
                }
                tracing::info!(
                    event_type = entry.events.complete.as_str(),
                    duration_ms,
                    success = true,
                    data.prompt_name = entry.def.name,
                    data.message_count = result.messages.len(),
                    "Prompt rendered"
                );
                Ok(result)
            }
            Err(error) => {
                tracing::error!(
                    event_type = entry.events.error.as_str(),
                    duration_ms,
                    success = false,
                    data.prompt_name = entry.def.name,
                    error = error.message(),
                    error_type = error.error_type(),
                    "Prompt failed"
                );
                Err(to_mcp_error(&error))
            }
        }
    }
    .instrument(span)
    .await
}

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
    let values = match (completer, target.choices.values.get(&argument)) {
        (Some(completer), _) => {
            let (ctx, span) = begin(&env, request, params.meta.as_ref());
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
        (None, Some(choices)) => filter_prefix(choices.iter().cloned(), &params.argument.value),
        // An argument without suggestions completes to nothing: clients ask for every field.
        (None, None) if target.choices.names.contains(&argument) => Vec::new(),
        (None, None) => {
            let names = &target.choices.names;
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
