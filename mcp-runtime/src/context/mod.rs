//! The per-call [`Context`]: everything a tool may ask of the call it serves, in one place.
//!
//! Its methods are all here (trace, headers, cancellation, shared state, client log messages,
//! progress, sampling, elicitation, resource subscriptions); the types those methods take and return
//! live in the submodules: [`State`] in `state`, sampling's request and answer in `sampling`,
//! elicitation's form schema in `elicitation`, [`Subscriptions`] in `subscriptions`. Sampling and
//! elicitation are requests from the server to the client: `client` holds what they share (is the
//! protocol able to carry it, what did the client declare, how a failed request reads).

// Client logging (notifications/message, logging/setLevel), sampling and elicitation are deprecated by
// SEP-2577; the clients in use still rely on them.
#![allow(deprecated)]

mod client;
mod elicitation;
mod rounds;
mod sampling;
mod session;
mod state;
mod subscriptions;

use std::sync::{
    Arc, OnceLock,
    atomic::{AtomicUsize, Ordering},
};

use rmcp::{
    Peer, RoleServer,
    model::{
        CreateMessageRequest, CreateMessageResult, ElicitRequest, ElicitRequestParams,
        ElicitResult, ElicitationAction, InputRequest, ListRootsRequest, ListRootsResult,
        LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam, ProtocolVersion,
        RequestId, Root,
    },
    service::RequestContext,
    task_manager::{TaskContext, TaskExit},
};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

pub use elicitation::{Elicitation, elicitation_schema};
pub(crate) use rounds::{Rounds, STATE_KEY_VARIABLE, StateKeys, binding};
pub use sampling::{Sampled, SamplingRequest};
pub(crate) use session::ClientSession;
pub use state::State;
pub(crate) use state::StateMap;
pub use subscriptions::Subscriptions;

use crate::{ToolError, trace::TraceContext};

/// Everything a tool may want to know about the call it is serving.
///
/// Take it as a parameter (`ctx: &Context` or `ctx: Context`); it is injected, never an argument.
/// It carries the call's trace, the HTTP request headers, the client's cancellation, and lets the tool
/// log to the client (`ctx.info(..)`), report progress, ask the client's model (`ctx.sample(..)`) or
/// its user (`ctx.elicit::<T>(..)`), and tell subscribers a resource changed.
#[derive(Clone)]
pub struct Context {
    inner: Arc<Inner>,
}

struct Inner {
    request: RequestContext<RoleServer>,
    trace: Arc<TraceContext>,
    state: StateMap,
    session: Arc<ClientSession>,
    subscriptions: Subscriptions,
    /// Under protocol 2026-07-28, the call's input-required rounds (see `rounds`).
    rounds: Option<Arc<Rounds>>,
    /// The call's cancellation: the request's own, or, for a call that may become a task, one of
    /// its own that the request's cancellation and then `tasks/cancel` fire (a task outlives the
    /// request that created it).
    ct: CancellationToken,
    /// Set when the call has become a task: requests to the client then wait on `tasks/update`.
    task: OnceLock<TaskContext>,
    /// Numbers the unnamed input requests of a task whose call had no rounds.
    numbered: AtomicUsize,
    /// Whether the call becomes a task when it waits (see [`Context::go_async`]).
    may_become_task: bool,
}

/// What the server hands every call: its state, the client's session, the subscriptions, the keys of
/// `requestState`.
#[derive(Clone)]
pub(crate) struct Server {
    pub state: StateMap,
    pub session: Arc<ClientSession>,
    pub subscriptions: Subscriptions,
    pub state_keys: Arc<StateKeys>,
    /// `/metrics`'s, unless turned off.
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
    /// The OpenTelemetry traces, when the `OTEL_*` variables ask for them.
    pub traces: Option<Arc<crate::otel::Traces>>,
}

impl Context {
    pub(crate) fn new(
        request: RequestContext<RoleServer>,
        trace: Arc<TraceContext>,
        server: Server,
        rounds: Option<Arc<Rounds>>,
        task_ct: Option<CancellationToken>,
    ) -> Context {
        let may_become_task = task_ct.is_some();
        let ct = task_ct.unwrap_or_else(|| request.ct.clone());
        Context {
            inner: Arc::new(Inner {
                request,
                trace,
                state: server.state,
                session: server.session,
                subscriptions: server.subscriptions,
                rounds,
                ct,
                task: OnceLock::new(),
                numbered: AtomicUsize::new(0),
                may_become_task,
            }),
        }
    }

    /// Makes this call a task's: its requests to the client become the task's input requests.
    pub(crate) fn set_task(&self, task: TaskContext) {
        let _ = self.inner.task.set(task);
    }

    /// The id of the task this call runs as, once it has become one (the MCP tasks extension, a
    /// tool with `#[cm_tool(task = "optional" | "required")]`).
    pub fn task_id(&self) -> Option<&str> {
        self.inner.task.get().map(TaskContext::task_id)
    }

    /// Lets a call that may become a task become one here, when the client declared the tasks
    /// extension: the client gets the task at once and the function goes on in the background.
    /// Otherwise it returns at once.
    ///
    /// Any wait of the function does the same (a call that does not finish at once becomes a
    /// task); this says so where the function has nothing to wait on yet. Requests to the client
    /// made before are protocol 2026-07-28's input-required rounds of the call; those made after
    /// are the task's, answered with `tasks/update`. So a tool that gathers input first and then
    /// works for long asks, then calls this:
    ///
    /// ```no_run
    /// # use mcp_runtime::{Context, Elicitation, ToolError};
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// struct Name { name: String }
    ///
    /// # async fn tool(ctx: &Context) -> Result<String, ToolError> {
    /// let name = match ctx.input("user_name").elicit::<Name>("Who is it for?").await? {
    ///     Elicitation::Accept(answer) => answer.name,
    ///     _ => "nobody".into(),
    /// };
    /// ctx.go_async().await; // the task starts here
    /// Ok(format!("Report for {name}"))
    /// # }
    /// ```
    pub async fn go_async(&self) {
        if self.inner.may_become_task && self.inner.task.get().is_none() {
            // A wait the call path sees: it moves the call into a task before polling it again.
            tokio::task::yield_now().await;
        }
    }

    /// The call's trace: ids taken from the caller, and the new span this call runs in.
    pub fn trace(&self) -> &TraceContext {
        &self.inner.trace
    }

    /// The call's trace, shared: what a [`Connection`](crate::Connection) injected into the call keeps.
    pub(crate) fn trace_handle(&self) -> &Arc<TraceContext> {
        &self.inner.trace
    }

    /// The HTTP request headers, when the call came over streamable HTTP.
    pub fn headers(&self) -> Option<&http::HeaderMap> {
        self.inner
            .request
            .extensions
            .get::<http::request::Parts>()
            .map(|parts| &parts.headers)
    }

    /// The JSON-RPC id of the request.
    pub fn request_id(&self) -> &RequestId {
        &self.inner.request.id
    }

    /// Cancelled when the client sends `notifications/cancelled` for this request, or, once the
    /// call is a task, `tasks/cancel` for the task.
    pub fn cancellation_token(&self) -> &CancellationToken {
        &self.inner.ct
    }

    /// Whether the client has cancelled this request (or its task).
    pub fn is_cancelled(&self) -> bool {
        self.inner.ct.is_cancelled()
    }

    /// The connected client, for requests towards it (sampling, elicitation, roots).
    pub fn peer(&self) -> &Peer<RoleServer> {
        &self.inner.request.peer
    }

    /// The call's input-required rounds, under protocol 2026-07-28.
    pub(crate) fn rounds(&self) -> Option<&Arc<Rounds>> {
        self.inner.rounds.as_ref()
    }

    /// The raw rmcp request context.
    pub fn request(&self) -> &RequestContext<RoleServer> {
        &self.inner.request
    }

    /// Shared state of type `T`, if the server has it (see [`State`]).
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<State<T>> {
        self.inner.state.get::<T>()
    }

    /// Sends a `debug` log message to the client.
    pub async fn debug(&self, message: impl Into<String>) {
        self.log(LoggingLevel::Debug, message).await
    }

    /// Sends an `info` log message to the client.
    pub async fn info(&self, message: impl Into<String>) {
        self.log(LoggingLevel::Info, message).await
    }

    /// Sends a `warning` log message to the client.
    pub async fn warning(&self, message: impl Into<String>) {
        self.log(LoggingLevel::Warning, message).await
    }

    /// Sends an `error` log message to the client.
    pub async fn error(&self, message: impl Into<String>) {
        self.log(LoggingLevel::Error, message).await
    }

    /// Sends a log message (`notifications/message`) to the client, if its `logging/setLevel` lets it
    /// through. A client that is gone is not an error for the tool.
    pub async fn log(&self, level: LoggingLevel, message: impl Into<String>) {
        if !self.wants(level) {
            return;
        }
        let param = LoggingMessageNotificationParam::new(level, Value::String(message.into()));
        if let Err(error) = self.inner.request.peer.notify_logging_message(param).await {
            tracing::debug!(%error, "could not send a log message to the client");
        }
    }

    /// Whether the client wants log messages of `level`: up to protocol 2025-11-25 as its session's
    /// `logging/setLevel` says (all by default); under 2026-07-28, which has no sessions, only when
    /// the request's `_meta` asks for a level (`io.modelcontextprotocol/logLevel`) at or below it.
    fn wants(&self, level: LoggingLevel) -> bool {
        let request = &self.inner.request;
        if request
            .protocol_version()
            .is_some_and(|version| version >= ProtocolVersion::V_2026_07_28)
        {
            return request
                .meta
                .log_level()
                .is_some_and(|least| session::level_rank(level) >= session::level_rank(least));
        }
        self.inner.session.wants(level)
    }

    /// Reports progress to the client, when it asked for it with a progress token; otherwise does
    /// nothing. In a task (whose request has ended), it is the task's status message instead, which
    /// `tasks/get` shows: `message (progress/total)`.
    pub async fn report_progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        if let Some(task) = self.inner.task.get() {
            let amount = match total {
                Some(total) => format!("{progress}/{total}"),
                None => progress.to_string(),
            };
            task.set_status_message(match message {
                Some(message) => format!("{message} ({amount})"),
                None => amount,
            });
            return;
        }
        let Some(token) = self.inner.request.meta.get_progress_token() else {
            return;
        };
        let mut param = ProgressNotificationParam::new(token, progress);
        if let Some(total) = total {
            param = param.with_total(total);
        }
        if let Some(message) = message {
            param = param.with_message(message);
        }
        if let Err(error) = self.inner.request.peer.notify_progress(param).await {
            tracing::debug!(%error, "could not send a progress notification to the client");
        }
    }

    /// Asks the client's language model for a completion (`sampling/createMessage`) and waits for it.
    ///
    /// ```no_run
    /// # use mcp_runtime::{Context, SamplingRequest, ToolError};
    /// # async fn tool(ctx: &Context) -> Result<String, ToolError> {
    /// let reply = ctx.sample("Summarize: ...").await?;
    /// let short = ctx
    ///     .sample(SamplingRequest::new("Name three colours").max_tokens(50).system_prompt("Be brief."))
    ///     .await?;
    /// Ok(format!("{} / {}", reply.text(), short.text()))
    /// # }
    /// ```
    ///
    /// Over streamable HTTP the request travels on the response stream of the call that made it.
    /// Under protocol 2026-07-28 it ends the round instead, and the function runs again with the
    /// answer (see [`Context::input`]). Fails with a tool error naming the problem when the client did
    /// not declare the `sampling` capability, or when the client refuses or fails the request.
    pub async fn sample(&self, request: impl Into<SamplingRequest>) -> Result<Sampled, ToolError> {
        self.input_request(None).sample(request).await
    }

    /// Asks the user to fill in a form (`elicitation/create`) whose schema is generated from `T`, and
    /// waits for the answer.
    ///
    /// `T` is a struct whose fields are strings, numbers, integers, booleans, unit-variant enums (a
    /// variant with `#[schemars(title = "..")]` becomes a titled option), `Vec`s of such enums
    /// (multi-select) or `Option`s of these. Doc comments become field descriptions (and the
    /// struct's doc comment the form's description), and `#[serde(default = "..")]` or
    /// `#[serde(default)]` becomes the field's default value (SEP-1034) when the field's type
    /// implements `Serialize`.
    ///
    /// ```no_run
    /// # use mcp_runtime::{Context, Elicitation, ToolError};
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// struct Contact {
    ///     /// Your name
    ///     name: String,
    ///     /// Where we may write to you
    ///     email: Option<String>,
    /// }
    ///
    /// # async fn tool(ctx: &Context) -> Result<String, ToolError> {
    /// match ctx.elicit::<Contact>("Who should we contact?").await? {
    ///     Elicitation::Accept(contact) => Ok(format!("Hello {}", contact.name)),
    ///     Elicitation::Decline | Elicitation::Cancel => Ok("Nobody, then.".into()),
    /// }
    /// # }
    /// ```
    ///
    /// Under protocol 2026-07-28 it ends the round, and the function runs again with the answer (see
    /// [`Context::input`]). Fails with a tool error when `T` cannot be expressed as a form, when the
    /// client did not declare the `elicitation` capability (form mode), or when the submitted
    /// content does not match `T`.
    pub async fn elicit<T>(&self, message: impl Into<String>) -> Result<Elicitation<T>, ToolError>
    where
        T: DeserializeOwned + JsonSchema,
    {
        self.input_request(None).elicit(message).await
    }

    /// Asks the client for its roots (`roots/list`): the directories or files it lets the server see.
    /// Under protocol 2026-07-28 it ends the round, and the function runs again with the answer (see
    /// [`Context::input`]). Fails with a tool error when the client did not declare the `roots`
    /// capability, or fails the request.
    pub async fn list_roots(&self) -> Result<Vec<Root>, ToolError> {
        self.input_request(None).list_roots().await
    }

    /// A request to the client with its own key, `key`, for protocol 2026-07-28's input-required
    /// rounds; `ctx.input("name").elicit::<T>(..)` is `ctx.elicit::<T>(..)` otherwise.
    ///
    /// Under protocol 2026-07-28 the server cannot send the client a request and wait: the call's
    /// answer is "input required", with the requests the function made and a sealed `requestState`,
    /// and the client sends the call again with its answers. **The function runs again, from the
    /// start**, each round: a request that has its answer returns it at once, and the round ends at
    /// the first one that has none (requests made together, with `join!`, go out together). So what
    /// the function does before its last request must be safe to repeat: read, compute, log; write
    /// after the answers, not before. Each request is known by its key: by default its kind and its
    /// place in call order (`elicit-1`, `sample-2`), which is right while the function asks in the
    /// same order every time; give a key here when the order may change (a request inside a branch)
    /// or a client expects a name. Older protocol versions send the requests to the client as they
    /// are made, and the key is not used.
    ///
    /// ```no_run
    /// # use mcp_runtime::{Context, Elicitation, ToolError};
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// struct Name { name: String }
    ///
    /// # async fn tool(ctx: &Context) -> Result<String, ToolError> {
    /// let name = match ctx.input("user_name").elicit::<Name>("What is your name?").await? {
    ///     Elicitation::Accept(answer) => answer.name,
    ///     _ => "stranger".into(),
    /// };
    /// Ok(format!("Hello, {name}!"))
    /// # }
    /// ```
    pub fn input(&self, key: impl Into<String>) -> Input<'_> {
        self.input_request(Some(key.into()))
    }

    fn input_request(&self, key: Option<String>) -> Input<'_> {
        Input { ctx: self, key }
    }

    /// The key of a request of `kind` made now, under protocol 2026-07-28.
    fn round_key(rounds: &Rounds, key: Option<String>, kind: &str) -> String {
        key.unwrap_or_else(|| rounds.numbered_key(kind))
    }

    /// The call's task, once it has become one. A call that may become one and has no rounds
    /// (protocol 2025-11-25 or older) becomes one before it asks the client anything: its request
    /// would otherwise travel on the response stream of a request the task outlives.
    async fn task(&self) -> Option<&TaskContext> {
        if self.inner.rounds.is_none() {
            self.go_async().await;
        }
        self.inner.task.get()
    }

    /// Asks the client `request` as an input request of the call's task, under `key` (or a numbered
    /// one), and waits for its answer (`tasks/update`).
    async fn task_input<R: DeserializeOwned>(
        &self,
        task: &TaskContext,
        key: Option<String>,
        kind: &str,
        method: &str,
        request: InputRequest,
    ) -> Result<R, ToolError> {
        let key = key.unwrap_or_else(|| match &self.inner.rounds {
            Some(rounds) => rounds.numbered_key(kind),
            None => format!(
                "{kind}-{}",
                self.inner.numbered.fetch_add(1, Ordering::Relaxed) + 1
            ),
        });
        match task.request_input(key, request).await {
            Ok(answer) => serde_json::from_value(answer).map_err(|error| {
                ToolError::new(format!(
                    "the client's answer to {method} (tasks/update) does not read as one: {error}"
                ))
                .with_type("ClientRequestError")
            }),
            Err(TaskExit::Cancelled) => Err(ToolError::cancelled()),
            Err(TaskExit::Error(error)) => Err(ToolError::new(format!(
                "{method} inside the task failed: {}",
                error.message
            ))
            .with_type("ClientRequestError")),
        }
    }

    /// The server's resource subscriptions, to keep for notifying subscribers later.
    pub fn subscriptions(&self) -> Subscriptions {
        self.inner.subscriptions.clone()
    }

    /// Tells every client subscribed to `uri` that the resource changed
    /// (`notifications/resources/updated`); returns how many were notified.
    pub async fn notify_resource_updated(&self, uri: &str) -> usize {
        self.inner.subscriptions.notify_updated(uri).await
    }
}

/// A request to the client with its own key (see [`Context::input`]).
pub struct Input<'a> {
    ctx: &'a Context,
    key: Option<String>,
}

impl Input<'_> {
    /// The answer to the request `make` builds (a `kind` of `method`) when the call cannot send it to
    /// the client as a request of its own: inside a task (answered with `tasks/update`) or in a
    /// protocol 2026-07-28 round (the round ends here until the client answers). `None`: send it.
    async fn answered_in_call<R: DeserializeOwned>(
        &mut self,
        kind: &str,
        method: &str,
        make: impl FnOnce() -> InputRequest,
    ) -> Option<Result<R, ToolError>> {
        let ctx = self.ctx;
        if let Some(task) = ctx.task().await {
            return Some(
                ctx.task_input(task, self.key.take(), kind, method, make())
                    .await,
            );
        }
        let rounds = ctx.inner.rounds.as_ref()?;
        let key = Context::round_key(rounds, self.key.take(), kind);
        Some(Ok(rounds.answer(key, make()).await))
    }

    /// [`Context::sample`], with this request's key.
    pub async fn sample(
        mut self,
        request: impl Into<SamplingRequest>,
    ) -> Result<Sampled, ToolError> {
        const METHOD: &str = "sampling/createMessage";
        let ctx = self.ctx;
        let capabilities = client::capabilities(ctx, METHOD)?;
        if capabilities.sampling.is_none() {
            return Err(client::unsupported(
                METHOD,
                "asks the client's model for a completion",
                "sampling",
                "the `sampling` capability",
                "SamplingUnsupported",
            ));
        }
        let params = request.into().into_params();
        let request = || InputRequest::CreateMessage(CreateMessageRequest::new(params.clone()));
        if let Some(answer) = self
            .answered_in_call::<CreateMessageResult>("sample", METHOD, request)
            .await
        {
            return answer.map(Sampled::new);
        }
        ctx.peer()
            .create_message(params)
            .await
            .map(Sampled::new)
            .map_err(|error| client::request_error(METHOD, error))
    }

    /// [`Context::elicit`], with this request's key.
    pub async fn elicit<T>(
        mut self,
        message: impl Into<String>,
    ) -> Result<Elicitation<T>, ToolError>
    where
        T: DeserializeOwned + JsonSchema,
    {
        const METHOD: &str = "elicitation/create";
        let ctx = self.ctx;
        let schema = elicitation_schema::<T>()?;
        let capabilities = client::capabilities(ctx, METHOD)?;
        // A client declaring neither mode supports forms (the 2025-06-18 capability had no modes).
        let form_supported = capabilities
            .elicitation
            .as_ref()
            .is_some_and(|e| e.form.is_some() || e.url.is_none());
        if !form_supported {
            return Err(client::unsupported(
                METHOD,
                "asks the user for input",
                "elicitation",
                "the `elicitation` capability (form mode)",
                "ElicitationUnsupported",
            ));
        }
        let params = ElicitRequestParams::FormElicitationParams {
            meta: None,
            message: message.into(),
            requested_schema: schema,
        };
        let request = || InputRequest::Elicitation(ElicitRequest::new(params.clone()));
        let result: ElicitResult = match self.answered_in_call("elicit", METHOD, request).await {
            Some(answer) => answer?,
            None => ctx
                .peer()
                .create_elicitation(params)
                .await
                .map_err(|error| client::request_error(METHOD, error))?,
        };
        match result.action {
            ElicitationAction::Accept => {
                let content = result.content.unwrap_or(Value::Object(Map::new()));
                serde_json::from_value(content.clone())
                    .map(Elicitation::Accept)
                    .map_err(|error| {
                        ToolError::invalid_arguments(format!(
                            "the user's answer does not match the requested form ({error}): {content}"
                        ))
                    })
            }
            ElicitationAction::Decline => Ok(Elicitation::Decline),
            // A future action this version does not know is treated as the user backing out.
            _ => Ok(Elicitation::Cancel),
        }
    }

    /// [`Context::list_roots`], with this request's key.
    pub async fn list_roots(mut self) -> Result<Vec<Root>, ToolError> {
        const METHOD: &str = "roots/list";
        let ctx = self.ctx;
        let capabilities = client::capabilities(ctx, METHOD)?;
        if capabilities.roots.is_none() {
            return Err(client::unsupported(
                METHOD,
                "asks the client for its roots",
                "roots",
                "the `roots` capability",
                "RootsUnsupported",
            ));
        }
        let request = || InputRequest::ListRoots(ListRootsRequest::default());
        let result: ListRootsResult = match self.answered_in_call("roots", METHOD, request).await {
            Some(answer) => answer?,
            None => ctx
                .peer()
                .list_roots()
                .await
                .map_err(|error| client::request_error(METHOD, error))?,
        };
        Ok(result.roots)
    }
}
