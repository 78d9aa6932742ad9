//! The life of one call, for tools, resources and prompts alike: the definition looked up, the call's
//! trace span opened, the start event, the argument names checked, the function invoked (the
//! client's cancellation and the function's panics both end it with an error), the complete or
//! error event, and the failure mapped onto what MCP sends.
//!
//! [`run`] is that path, written once. What differs per kind is data: the [`Call`] trait says how a
//! kind logs (tracing needs literal field names, so each kind writes its own three events) and how
//! its output and its failures reach the client (a tool's failure is a result with `isError`, a
//! resource's or prompt's a JSON-RPC error). Anything that must happen around every call (metrics,
//! input-required rounds, tasks) belongs in `run`, once.

use std::{
    any::Any, future::poll_fn, panic::AssertUnwindSafe, sync::Arc, task::Poll, time::Instant,
};

use futures::FutureExt as _;
use rmcp::{
    ErrorData as McpError, RoleServer,
    model::{
        CallToolResult, ContentBlock, GetPromptResult, InputRequiredResult, InputResponses,
        ProtocolVersion, ReadResourceResult, RequestMetaObject,
    },
    service::RequestContext,
    task_manager::{TaskContext, TaskExit},
};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, Level};

use crate::{
    Context, ToolError,
    context::{self, Rounds, Server},
    error::ErrorKind,
    events::{attach_trace, elapsed_ms},
    extract::{self, JsonObject, ParamInfo},
    metrics::{self, Operation},
    otel::{self, CallAttributes},
    output::ResourceBody,
    registry::{BoxFuture, Common, Known, PromptEntry, Registry, ResourceEntry, ToolEntry},
    trace::TraceContext,
};

/// What every call needs from the server.
pub(crate) struct CallEnv<'a> {
    pub registry: &'a Registry,
    pub server: &'a Server,
}

/// One kind of call: how it invokes, logs, and answers. Implemented by [`ToolCall`], [`ResourceRead`]
/// and [`PromptGet`].
pub(crate) trait Call: Send + Sync {
    /// The request's method, which a `requestState` is bound to.
    const METHOD: &'static str;
    /// The metrics label naming the definition ([`Call::label`] is its value).
    const TARGET_LABEL: &'static str;
    /// What the author's function produces (already converted by the generated code).
    type Output: Send;
    /// What the client receives.
    type Response;

    /// The definition's parameters, events and accepted arguments.
    fn common(&self) -> &Common;
    /// Runs the generated invoker.
    fn invoke(&self, ctx: Context, args: JsonObject) -> BoxFuture<Result<Self::Output, ToolError>>;
    /// Writes the start event.
    fn started(&self, args: &JsonObject);
    /// Writes the complete event and builds the answer.
    fn completed(&self, output: Self::Output, duration_ms: f64)
    -> Result<Self::Response, McpError>;
    /// Writes the error event and builds the answer to a failure.
    fn failed(&self, error: ToolError, duration_ms: f64) -> Result<Self::Response, McpError>;
    /// How a panic's message names the definition: a tool's or prompt's name, a resource's URI.
    fn label(&self) -> &'static str;
    /// The span attribute naming what was called, and its value: a tool's or prompt's name, the
    /// URI read.
    fn span_target(&self) -> (&'static str, &str);
    /// The type and message of a failure the function returned as its output (a tool's result
    /// with `isError`), for the call's span.
    fn output_failure(&self, _output: &Self::Output) -> Option<(&'static str, &'static str)> {
        None
    }
}

/// What a client sent back for an input-required round (protocol 2026-07-28): its answers and the
/// `requestState` it was given.
#[derive(Default)]
pub(crate) struct Retry {
    pub responses: Option<InputResponses>,
    pub state: Option<String>,
}

/// The author's function, caught for panics, as the call path polls it.
pub(crate) type Caught<T> =
    futures::future::CatchUnwind<AssertUnwindSafe<BoxFuture<Result<T, ToolError>>>>;

/// A call that has become a task: its function, still running, and what its end needs.
pub(crate) struct Running<T> {
    pub fut: Caught<T>,
    pub ctx: Context,
    pub span: tracing::Span,
    pub started: Instant,
}

/// How a call that may become a task becomes one: given the running call, it starts the task and
/// returns the answer that names it.
pub(crate) type Escalate<'e, T, R> =
    Box<dyn FnOnce(Running<T>) -> futures::future::BoxFuture<'e, Result<R, McpError>> + Send + 'e>;

/// Runs one call of any kind: the whole path the module doc describes. Its answer is the kind's
/// result or, under protocol 2026-07-28, an input-required result: `R` is rmcp's response enum.
/// With `escalate` (a tool with task support, for a client that declared the tasks extension), a
/// function that has to wait becomes a task instead: `escalate` gets it, and its end is written
/// by [`finish_task`] in the background.
pub(crate) async fn run<C, R>(
    env: &CallEnv<'_>,
    call: C,
    args: JsonObject,
    retry: Retry,
    params_meta: Option<&RequestMetaObject>,
    request: RequestContext<RoleServer>,
    escalate: Option<Escalate<'_, C::Output, R>>,
) -> Result<R, McpError>
where
    C: Call,
    R: From<C::Response> + From<InputRequiredResult>,
{
    let rounds = if request
        .protocol_version()
        .is_some_and(|version| version >= ProtocolVersion::V_2026_07_28)
    {
        let binding = context::binding(C::METHOD, call.label(), &args);
        let keys = &env.server.state_keys;
        let rounds = Rounds::open(keys, &binding, retry.state.as_deref(), retry.responses)?;
        Some((Arc::new(rounds), binding))
    } else {
        None
    };
    let transport = if request.extensions.get::<http::request::Parts>().is_some() {
        "tcp"
    } else {
        "pipe"
    };
    let measured = env.server.metrics.clone().map(|metrics| {
        let operation = Operation {
            method: C::METHOD,
            target: (C::TARGET_LABEL, call.label()),
            error_type: None,
            transport,
            protocol: metrics::protocol_label(request.protocol_version()),
        };
        (metrics.call_started(), operation)
    });
    let (ctx, span) = begin(
        env,
        request,
        params_meta,
        rounds.as_ref().map(|(r, _)| r.clone()),
        escalate.is_some(),
    );
    let call_span = env.server.traces.as_ref().map(|traces| {
        traces.start(&CallAttributes {
            method: C::METHOD,
            label: call.label(),
            target: call.span_target(),
            transport,
            request: ctx.request(),
            trace: ctx.trace(),
        })
    });
    async move {
        let started = Instant::now();
        call.started(&args);
        let mut failure: Option<&str> = None;
        let mut fut = None;
        let ended = match extract::check_names(&call.common().accepted, &args) {
            Ok(()) => {
                let invoked =
                    fut.insert(AssertUnwindSafe(call.invoke(ctx.clone(), args)).catch_unwind());
                guarded(&ctx, call.label(), invoked, escalate.is_some()).await
            }
            Err(error) => Ended::Returned(Err(error)),
        };
        let duration_ms = elapsed_ms(started);
        let error_type = match &ended {
            Ended::Returned(Err(error)) => Some(Arc::<str>::from(error.error_type())),
            _ => None,
        };
        // What the span says of a failure: only worked out when there is a span.
        let mut span_failure = call_span.as_ref().and_then(|_| match &ended {
            Ended::Returned(Err(error)) => {
                Some((error.error_type().to_string(), error.message().to_string()))
            }
            Ended::Returned(Ok(output)) => call
                .output_failure(output)
                .map(|(kind, message)| (kind.to_string(), message.to_string())),
            _ => None,
        });
        let answer = match ended {
            Ended::Returned(Ok(output)) => call.completed(output, duration_ms).map(R::from),
            Ended::Returned(Err(error)) => {
                // Protocol 2026-07-28 wants a request that needs an undeclared client capability
                // refused as such (-32021, HTTP 400), whatever kind of call it is.
                let refusal = rounds.as_ref().and(error.capability()).map(|capability| {
                    let required = serde_json::from_value(serde_json::json!({ capability: {} }))
                        .unwrap_or_default();
                    McpError::missing_required_client_capability(required)
                });
                let answer = call.failed(error, duration_ms).map(R::from);
                match refusal {
                    Some(refusal) => Err(refusal),
                    None => answer,
                }
            }
            Ended::InputRequired => {
                let (rounds, binding) = rounds.expect("only a call with rounds asks for input");
                tracing::info!(
                    event_type = call.common().events.input_required.as_str(),
                    duration_ms,
                    data.definition = call.label(),
                    data.input_keys = rounds.asked_keys(),
                    "Input required from the client"
                );
                Ok(R::from(
                    rounds.input_required(&env.server.state_keys, &binding),
                ))
            }
            Ended::Waiting => {
                let escalate = escalate.expect("only a call that may become a task waits");
                let fut = fut.expect("a waiting call has its function");
                let answer = escalate(Running {
                    fut,
                    ctx,
                    span: tracing::Span::current(),
                    started,
                })
                .await;
                if let Err(refusal) = &answer {
                    // The store refused the task (full): the call ends here, and is logged so.
                    let error =
                        ToolError::new(refusal.message.to_string()).with_type("TaskRefused");
                    let _ = call.failed(error, duration_ms);
                    failure = Some("TaskRefused");
                    if call_span.is_some() {
                        span_failure = Some(("TaskRefused".into(), refusal.message.to_string()));
                    }
                }
                answer
            }
        };
        if let Some(call_span) = call_span {
            let rpc_code = answer.as_ref().err().map(|error| error.code.0);
            if let (None, Err(error)) = (&span_failure, &answer) {
                span_failure = Some((error.code.0.to_string(), error.message.to_string()));
            }
            call_span.end(
                span_failure
                    .as_ref()
                    .map(|(error_type, message)| otel::Failure {
                        error_type,
                        message,
                        rpc_code,
                    }),
            );
        }
        if let Some((in_flight, mut operation)) = measured {
            operation.error_type = error_type.or_else(|| failure.map(Arc::from));
            in_flight.metrics().observe(&operation, started.elapsed());
        }
        answer
    }
    .instrument(span)
    .await
}

/// The end of a call that became a task, in the background: the function runs on until it
/// returns, panics, or the task is cancelled (`tasks/cancel` fires the call's cancellation token),
/// and the call's end is written as any call's is. A tool's failure is a completed task whose
/// result has `isError`; a panic is a failed task; a cancelled call a cancelled task.
pub(crate) async fn finish_task(
    call: ToolCall<'_>,
    running: Running<CallToolResult>,
    task: TaskContext,
) -> Result<CallToolResult, TaskExit> {
    let Running {
        mut fut,
        ctx,
        started,
        ..
    } = running;
    let ct = ctx.cancellation_token().clone();
    let cancel = async {
        task.cancelled().await;
        ct.cancel();
        std::future::pending::<()>().await
    };
    // The store may drop this future before the function ends (its TTL elapsed): the call's end
    // is written then by the guard.
    let mut unfinished = Unfinished {
        call: &call,
        started,
        ended: false,
    };
    let ended = tokio::select! {
        ended = guarded(&ctx, call.label(), &mut fut, false) => ended,
        () = cancel => unreachable!("the watch on tasks/cancel never ends"),
    };
    unfinished.ended = true;
    let duration_ms = elapsed_ms(started);
    match ended {
        Ended::Returned(Ok(output)) => call.completed(output, duration_ms).map_err(TaskExit::Error),
        Ended::Returned(Err(error)) => {
            // A function that stops with an error once its task was cancelled ended because of
            // the cancellation, whatever it says; a panic is a fault of the server all the same.
            let panic = (error.error_type() == "Panic").then(|| error.message().to_string());
            let answer = call.failed(error, duration_ms);
            match panic {
                Some(message) => Err(TaskExit::Error(McpError::internal_error(message, None))),
                None if ctx.is_cancelled() => Err(TaskExit::Cancelled),
                None => answer.map_err(TaskExit::Error),
            }
        }
        // A task's requests to the client wait on tasks/update, not on rounds, and it waits in
        // the background: neither ends it.
        Ended::InputRequired | Ended::Waiting => Err(TaskExit::Error(McpError::internal_error(
            "the task ended in an impossible state",
            None,
        ))),
    }
}

/// Writes the end of a task's call that was stopped before its function ended.
struct Unfinished<'a> {
    call: &'a ToolCall<'a>,
    started: Instant,
    ended: bool,
}

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        if !self.ended {
            let error = ToolError::new(
                "the task was stopped before it ended: its TTL (--task-ttl) elapsed, or the server stopped",
            )
            .with_type("TaskStopped");
            let _ = self.call.failed(error, elapsed_ms(self.started));
        }
    }
}

/// Builds the call's context and the span it runs in. The trace comes from the HTTP headers, or from
/// the request's `_meta` (SEP-414; the only carrier over stdio).
pub(crate) fn begin(
    env: &CallEnv<'_>,
    request: RequestContext<RoleServer>,
    params_meta: Option<&RequestMetaObject>,
    rounds: Option<Arc<Rounds>>,
    may_become_task: bool,
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
    // A call that may become a task outlives its request: its cancellation is its own.
    let task_ct = may_become_task.then(CancellationToken::new);
    let ctx = Context::new(request, trace, env.server.clone(), rounds, task_ct);
    (ctx, span)
}

/// How the author's function ended.
enum Ended<T> {
    /// It returned (or panicked, or the client cancelled it).
    Returned(Result<T, ToolError>),
    /// It waits on a request to the client that has no answer yet: the round ends here.
    InputRequired,
    /// It waits on something else, and may become a task: it goes on as one.
    Waiting,
}

/// Runs `fut` unless the client cancels the request first; a panic inside it becomes an error that
/// names `name` (the panic's text goes to the log only: it may say more than a caller should see).
/// Under protocol 2026-07-28 it also ends when `fut` waits on an unanswered request to the client:
/// `fut` is dropped, and runs again in the next round. With `may_become_task`, it ends at the first
/// other wait, and `fut` is left to the task.
async fn guarded<T>(
    ctx: &Context,
    name: &str,
    fut: &mut Caught<T>,
    may_become_task: bool,
) -> Ended<T> {
    let ct = ctx.cancellation_token().clone();
    // Until the call is a task, the request's own cancellation ends it too.
    let request_ct = ctx.request().ct.clone();
    let rounds = ctx.rounds().cloned();
    let until_input = poll_fn(|cx| {
        if let Some(rounds) = &rounds {
            rounds.register(cx.waker());
        }
        match fut.poll_unpin(cx) {
            Poll::Ready(result) => {
                Poll::Ready(Ended::Returned(result.unwrap_or_else(|panic| {
                    Err(ToolError::panicked(name, &panic_text(&*panic)))
                })))
            }
            Poll::Pending if rounds.as_ref().is_some_and(|r| r.has_asked()) => {
                Poll::Ready(Ended::InputRequired)
            }
            Poll::Pending if may_become_task => Poll::Ready(Ended::Waiting),
            Poll::Pending => Poll::Pending,
        }
    });
    let own_ct = ct.clone();
    let request_cancelled = async {
        if may_become_task {
            request_ct.cancelled().await;
            // The function's own token says so too, as it would for any call.
            own_ct.cancel();
        } else {
            std::future::pending().await
        }
    };
    tokio::select! {
        biased;
        ended = until_input => ended,
        () = ct.cancelled() => Ended::Returned(Err(ToolError::cancelled())),
        () = request_cancelled => Ended::Returned(Err(ToolError::cancelled())),
    }
}

fn panic_text(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-string payload".into())
}

/// The tool named `name`, or the error a client gets for an unknown one.
pub(crate) fn tool<'a>(registry: &'a Registry, name: &str) -> Result<ToolCall<'a>, McpError> {
    registry.tool(name).map(ToolCall).ok_or_else(|| {
        McpError::invalid_params(
            format!("unknown tool `{name}`; {}", registry.known(Known::Tools)),
            None,
        )
    })
}

/// The resource serving `uri` with the variables it bound, or the error for a URI nothing serves.
pub(crate) fn resource<'a>(
    registry: &'a Registry,
    uri: &'a str,
) -> Result<(ResourceRead<'a>, JsonObject), McpError> {
    registry
        .resource(uri)
        .map(|(entry, vars)| (ResourceRead { entry, uri }, vars))
        .ok_or_else(|| {
            McpError::resource_not_found(
                format!(
                    "unknown resource `{uri}`; list them with resources/list and resources/templates/list"
                ),
                Some(serde_json::json!({ "uri": uri })),
            )
        })
}

/// The prompt named `name`, or the error a client gets for an unknown one.
pub(crate) fn prompt<'a>(registry: &'a Registry, name: &str) -> Result<PromptGet<'a>, McpError> {
    registry.prompt(name).map(PromptGet).ok_or_else(|| {
        McpError::invalid_params(
            format!(
                "unknown prompt `{name}`; {}",
                registry.known(Known::Prompts)
            ),
            None,
        )
    })
}

/// `tools/call`.
pub(crate) struct ToolCall<'a>(&'a ToolEntry);

/// `resources/read` of one URI.
pub(crate) struct ResourceRead<'a> {
    entry: &'a ResourceEntry,
    uri: &'a str,
}

/// `prompts/get`.
pub(crate) struct PromptGet<'a>(&'a PromptEntry);

impl ToolCall<'_> {
    /// Whether the tool's calls may run as tasks.
    pub(crate) fn task_support(&self) -> crate::TaskSupport {
        self.0.def.task
    }
}

impl Call for ToolCall<'_> {
    const METHOD: &'static str = "tools/call";
    const TARGET_LABEL: &'static str = "gen_ai_tool_name";
    type Output = CallToolResult;
    type Response = CallToolResult;

    fn common(&self) -> &Common {
        &self.0.common
    }

    fn label(&self) -> &'static str {
        self.0.def.name
    }

    fn span_target(&self) -> (&'static str, &str) {
        ("gen_ai.tool.name", self.0.def.name)
    }

    fn output_failure(&self, result: &CallToolResult) -> Option<(&'static str, &'static str)> {
        (result.is_error == Some(true))
            .then_some(("ToolResultError", "the tool returned an error result"))
    }

    fn invoke(
        &self,
        ctx: Context,
        args: JsonObject,
    ) -> BoxFuture<Result<CallToolResult, ToolError>> {
        (self.0.def.invoke)(ctx, args)
    }

    fn started(&self, args: &JsonObject) {
        if tracing::enabled!(Level::INFO) {
            let common = &self.0.common;
            let (length, preview) = input_summary(args, common.params, common.has_secrets);
            tracing::info!(
                event_type = common.events.start.as_str(),
                data.tool_name = self.0.def.name,
                data.input_length = length,
                data.input_preview = preview,
                "Tool execution started"
            );
        }
    }

    fn completed(
        &self,
        mut result: CallToolResult,
        duration_ms: f64,
    ) -> Result<CallToolResult, McpError> {
        let (entry, tool_name) = (self.0, self.0.def.name);
        if entry.wrap_result
            && let Some(value) = result.structured_content.take()
        {
            let mut wrapped = JsonObject::new();
            wrapped.insert("result".into(), value);
            result.structured_content = Some(Value::Object(wrapped));
        }
        if result.is_error == Some(true) {
            tracing::error!(
                event_type = entry.common.events.error.as_str(),
                duration_ms,
                success = false,
                data.tool_name = tool_name,
                error = "the tool returned an error result",
                error_type = "ToolResultError",
                "Tool execution failed"
            );
        } else {
            tracing::info!(
                event_type = entry.common.events.complete.as_str(),
                duration_ms,
                success = true,
                data.tool_name = tool_name,
                data.result_length = result_length(&result),
                "Tool execution completed"
            );
        }
        Ok(result)
    }

    fn failed(&self, error: ToolError, duration_ms: f64) -> Result<CallToolResult, McpError> {
        let (entry, tool_name) = (self.0, self.0.def.name);
        let message = if error.kind() == ErrorKind::InvalidArguments {
            tracing::warn!(
                event_type = "tool.validation.error",
                duration_ms,
                success = false,
                data.tool_name = tool_name,
                error = error.logged(),
                error_type = error.error_type(),
                "Tool arguments are invalid"
            );
            format!(
                "Invalid arguments for tool `{tool_name}`: {}",
                error.message()
            )
        } else {
            tracing::error!(
                event_type = entry.common.events.error.as_str(),
                duration_ms,
                success = false,
                data.tool_name = tool_name,
                error = error.logged(),
                error_type = error.error_type(),
                "Tool execution failed"
            );
            error.message().to_string()
        };
        Ok(CallToolResult::error(vec![ContentBlock::text(message)]))
    }
}

impl Call for ResourceRead<'_> {
    const METHOD: &'static str = "resources/read";
    // The template's URI for a templated resource: one label value per definition.
    const TARGET_LABEL: &'static str = "mcp_resource_uri";
    type Output = ResourceBody;
    type Response = ReadResourceResult;

    fn common(&self) -> &Common {
        &self.entry.common
    }

    fn label(&self) -> &'static str {
        self.entry.def.uri
    }

    fn span_target(&self) -> (&'static str, &str) {
        ("mcp.resource.uri", self.uri)
    }

    fn invoke(&self, ctx: Context, vars: JsonObject) -> BoxFuture<Result<ResourceBody, ToolError>> {
        (self.entry.def.invoke)(ctx, vars)
    }

    fn started(&self, _: &JsonObject) {
        tracing::info!(
            event_type = self.entry.common.events.start.as_str(),
            data.resource_uri = self.uri,
            "Resource read started"
        );
    }

    fn completed(
        &self,
        body: ResourceBody,
        duration_ms: f64,
    ) -> Result<ReadResourceResult, McpError> {
        tracing::info!(
            event_type = self.entry.common.events.complete.as_str(),
            duration_ms,
            success = true,
            data.resource_uri = self.uri,
            data.result_length = body.len(),
            "Resource read completed"
        );
        Ok(body.into_result(self.uri, self.entry.def.mime_type))
    }

    fn failed(&self, error: ToolError, duration_ms: f64) -> Result<ReadResourceResult, McpError> {
        tracing::error!(
            event_type = self.entry.common.events.error.as_str(),
            duration_ms,
            success = false,
            data.resource_uri = self.uri,
            error = error.logged(),
            error_type = error.error_type(),
            "Resource read failed"
        );
        Err(to_mcp_error(&error))
    }
}

impl Call for PromptGet<'_> {
    const METHOD: &'static str = "prompts/get";
    const TARGET_LABEL: &'static str = "gen_ai_prompt_name";
    type Output = GetPromptResult;
    type Response = GetPromptResult;

    fn common(&self) -> &Common {
        &self.0.common
    }

    fn label(&self) -> &'static str {
        self.0.def.name
    }

    fn span_target(&self) -> (&'static str, &str) {
        ("gen_ai.prompt.name", self.0.def.name)
    }

    fn invoke(
        &self,
        ctx: Context,
        args: JsonObject,
    ) -> BoxFuture<Result<GetPromptResult, ToolError>> {
        (self.0.def.invoke)(ctx, args)
    }

    fn started(&self, _: &JsonObject) {
        tracing::info!(
            event_type = self.0.common.events.start.as_str(),
            data.prompt_name = self.0.def.name,
            "Prompt requested"
        );
    }

    fn completed(
        &self,
        mut result: GetPromptResult,
        duration_ms: f64,
    ) -> Result<GetPromptResult, McpError> {
        if result.description.is_none() {
            result.description = self.0.def.description.map(Into::into);
        }
        tracing::info!(
            event_type = self.0.common.events.complete.as_str(),
            duration_ms,
            success = true,
            data.prompt_name = self.0.def.name,
            data.message_count = result.messages.len(),
            "Prompt rendered"
        );
        Ok(result)
    }

    fn failed(&self, error: ToolError, duration_ms: f64) -> Result<GetPromptResult, McpError> {
        tracing::error!(
            event_type = self.0.common.events.error.as_str(),
            duration_ms,
            success = false,
            data.prompt_name = self.0.def.name,
            error = error.logged(),
            error_type = error.error_type(),
            "Prompt failed"
        );
        Err(to_mcp_error(&error))
    }
}

const PREVIEW_CHARS: usize = 100;

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
        serde_json::to_string(&redacted).unwrap_or_default()
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

/// Maps a failed resource read or prompt onto the JSON-RPC error a client expects.
fn to_mcp_error(error: &ToolError) -> McpError {
    match error.kind() {
        ErrorKind::InvalidArguments => McpError::invalid_params(error.message().to_string(), None),
        ErrorKind::NotFound => McpError::resource_not_found(error.message().to_string(), None),
        _ => McpError::internal_error(error.message().to_string(), None),
    }
}
