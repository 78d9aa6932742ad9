//! The rmcp `ServerHandler` serving a [`Registry`]: one per client session, sharing everything else.
//! Calls go through the one call path ([`crate::call`]); lists are built once at startup; requests
//! rmcp could not parse arrive here as custom requests and are answered with what was wrong.

#![allow(deprecated)] // logging/setLevel is deprecated by SEP-2577, and still used by every client here.

use std::sync::Arc;

use tracing::Instrument as _;

use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams,
        ClientCapabilities, CompleteRequestParams, CompleteResult, CreateTaskResult, CustomRequest,
        CustomResult, ErrorCode, GetPromptRequestParams, GetPromptResponse, GetTaskParams,
        GetTaskResult, InitializeRequestParams, InitializeResult, ListPromptsResult,
        ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
        ProtocolVersion, ReadResourceRequestParams, ReadResourceResponse, ServerConfig,
        SetLevelRequestParams, SubscribeRequestParams, SubscriptionFilter, Tool,
        UnsubscribeRequestParams, UpdateTaskParams,
    },
    service::{RequestContext, SubscriptionContext},
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{
    Subscriptions,
    call::{self, CallEnv, Escalate, Retry, Running},
    completion,
    context::{self, ClientSession, StateKeys, StateMap},
    extract::edit_distance,
    registry::Registry,
    replicas::Replicas,
    tasks::{TaskStore, TaskSupport},
    transport::OpenedSession,
};

/// What all sessions of a server share.
pub(crate) struct Shared {
    pub registry: Registry,
    pub info: ServerConfig,
    pub state: StateMap,
    /// Every session's resource subscriptions.
    pub subscriptions: Subscriptions,
    /// The keys that seal `requestState` (protocol 2026-07-28's input-required rounds).
    pub state_keys: Arc<StateKeys>,
    /// Where calls that became tasks are kept (the tasks extension).
    pub tasks: Arc<dyn TaskStore>,
    /// What this replica shares with the others.
    pub replicas: Replicas,
    /// `/metrics`'s, unless turned off.
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
    /// The OpenTelemetry traces, when the `OTEL_*` variables ask for them.
    pub traces: Option<Arc<crate::otel::Traces>>,
}

/// The handler of one client session.
#[derive(Clone)]
pub(crate) struct McpHandler {
    shared: Arc<Shared>,
    server: context::Server,
}

impl McpHandler {
    pub(crate) fn new(shared: Arc<Shared>) -> McpHandler {
        let server = context::Server {
            state: shared.state.clone(),
            session: Arc::default(),
            subscriptions: shared.subscriptions.clone(),
            state_keys: shared.state_keys.clone(),
            metrics: shared.metrics.clone(),
            traces: shared.traces.clone(),
        };
        McpHandler { shared, server }
    }

    fn env(&self) -> CallEnv<'_> {
        CallEnv {
            registry: &self.shared.registry,
            server: &self.server,
        }
    }

    fn session(&self) -> &Arc<ClientSession> {
        &self.server.session
    }
}

impl McpHandler {
    /// The resources of a `subscriptions/listen` filter that this server serves (a resource, or
    /// a URI a template matches).
    fn served(&self, requested: &SubscriptionFilter) -> Option<Vec<String>> {
        let mut uris = requested.resource_subscriptions.clone()?;
        uris.retain(|uri| self.shared.registry.resource(uri).is_some());
        Some(uris)
    }

    /// How a call of the tool `name` becomes a task: the store starts it, with the running call
    /// as its operation, and the client gets the task.
    fn escalate(&self, name: String) -> Escalate<'static, CallToolResult, CallToolResponse> {
        let shared = self.shared.clone();
        Box::new(move |running: Running<CallToolResult>| {
            let tool_name = name.clone();
            let span = running.span.clone();
            let ctx = running.ctx.clone();
            let store = shared.tasks.clone();
            let operation: crate::tasks::TaskOperation = Box::new(move |task| {
                ctx.set_task(task.clone());
                Box::pin(
                    async move {
                        let call = call::tool(&shared.registry, &name)
                            .map_err(rmcp::task_manager::TaskExit::Error)?;
                        call::finish_task(call, running, task).await
                    }
                    .instrument(span),
                )
            });
            Box::pin(async move {
                // A refusal is logged by the call path, as the call's end.
                let task = store.create(operation).await?;
                tracing::info!(
                    event_type = "task.create",
                    data.task_id = task.task_id.as_str(),
                    data.tool_name = tool_name.as_str(),
                    "Call continues as a task"
                );
                Ok(CallToolResponse::Task(CreateTaskResult::new(task)))
            })
        })
    }
}

impl ServerHandler for McpHandler {
    fn get_info(&self) -> ServerConfig {
        self.shared.info.clone()
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, McpError> {
        // A legacy HTTP session (new, or restored from the shared state by another replica's
        // client): known by its id from now on, for updates other replicas publish.
        if let Some(OpenedSession(id)) = context.extensions.get::<OpenedSession>() {
            self.shared
                .subscriptions
                .opened(self.session(), id, &context.peer);
        }
        context.peer.set_peer_info(request.clone());
        self.negotiate_initialize(&request)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let tool =
            call::tool(&self.shared.registry, &request.name).map_err(refused("tools/call"))?;
        let declared_tasks = context
            .client_capabilities()
            .is_some_and(|capabilities| capabilities.supports_tasks());
        let escalate = match tool.task_support() {
            TaskSupport::Forbidden => None,
            TaskSupport::Optional | TaskSupport::Required if declared_tasks => {
                Some(self.escalate(request.name.to_string()))
            }
            TaskSupport::Optional => None,
            TaskSupport::Required => {
                // SEP-2663: a tool that can only answer with a task refuses a client that cannot
                // take one, naming the extension it must declare.
                return Err(refused("tools/call")(
                    McpError::missing_required_client_capability(
                        ClientCapabilities::builder().enable_tasks().build(),
                    ),
                ));
            }
        };
        let args = request.arguments.unwrap_or_default();
        let retry = Retry {
            responses: request.input_responses,
            state: request.request_state,
        };
        call::run(
            &self.env(),
            tool,
            args,
            retry,
            request.meta.as_ref(),
            context,
            escalate,
        )
        .await
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let (read, vars) = call::resource(&self.shared.registry, &request.uri)
            .map_err(refused("resources/read"))?;
        let retry = Retry {
            responses: request.input_responses,
            state: request.request_state,
        };
        call::run(
            &self.env(),
            read,
            vars,
            retry,
            request.meta.as_ref(),
            context,
            None,
        )
        .await
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let prompt =
            call::prompt(&self.shared.registry, &request.name).map_err(refused("prompts/get"))?;
        let args = request.arguments.unwrap_or_default();
        let retry = Retry {
            responses: request.input_responses,
            state: request.request_state,
        };
        call::run(
            &self.env(),
            prompt,
            args,
            retry,
            request.meta.as_ref(),
            context,
            None,
        )
        .await
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, McpError> {
        let task = self
            .shared
            .tasks
            .get(&request.task_id)
            .await
            .map_err(refused("tasks/get"))?;
        Ok(GetTaskResult::new(task))
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.shared
            .tasks
            .update(&request.task_id, request.input_responses)
            .await
            .map_err(refused("tasks/update"))
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.shared
            .tasks
            .cancel(&request.task_id)
            .await
            .map_err(refused("tasks/cancel"))?;
        tracing::info!(
            event_type = "task.cancel",
            data.task_id = request.task_id.as_str(),
            "Task cancellation requested"
        );
        Ok(())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        completion::complete(self.env(), request, context).await
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(
            self.shared.registry.tool_list.as_ref().clone(),
        ))
    }

    /// The tool's definition, which rmcp's HTTP transport checks `Mcp-Param-*` headers against
    /// (SEP-2243) before the call reaches the handler.
    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.shared
            .registry
            .tool(name)
            .map(|entry| entry.tool.clone())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(
            self.shared.registry.resource_list.as_ref().clone(),
        ))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(
            self.shared.registry.template_list.as_ref().clone(),
        ))
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Ok(ListPromptsResult::with_all_items(
            self.shared.registry.prompt_list.as_ref().clone(),
        ))
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.session().set_level(request.level);
        Ok(())
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        if !self.shared.registry.serves(&request.uri) {
            return Err(McpError::resource_not_found(
                format!(
                    "cannot subscribe to `{}`: no resource or template serves it; list them with resources/list and resources/templates/list",
                    request.uri
                ),
                Some(serde_json::json!({ "uri": request.uri })),
            ));
        }
        self.shared
            .subscriptions
            .subscribe(self.session(), &context.peer, &request.uri)
            .await
            .map_err(|message| McpError::internal_error(message, None))
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        // Resource updates for every URI this server serves; list changes as asked (rmcp keeps only
        // those the capabilities advertise). The acknowledgment tells the client what was accepted.
        let mut accepted = requested.clone();
        accepted.resource_subscriptions = self.served(requested);
        if let Some(uris) = &accepted.resource_subscriptions {
            self.shared.subscriptions.expect_listener(uris);
        }
        Some(accepted)
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), McpError> {
        let uris = self.served(context.requested()).unwrap_or_default();
        self.shared.subscriptions.listen(context, &uris).await;
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.shared
            .subscriptions
            .unsubscribe(self.session(), &request.uri)
            .await
            .map_err(|message| McpError::internal_error(message, None))
    }

    /// rmcp hands over every request it could not parse as a known one: an unknown method, or a
    /// known method whose params do not have its shape (`"arguments": "hello"`).
    async fn on_custom_request(
        &self,
        request: CustomRequest,
        context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, McpError> {
        let modern = context
            .protocol_version()
            .is_some_and(|version| version >= ProtocolVersion::V_2026_07_28);
        let error = match removed_in_2026(&request.method) {
            Some(instead) if modern => McpError::new(
                ErrorCode::METHOD_NOT_FOUND,
                format!(
                    "`{}` does not exist in MCP protocol 2026-07-28: {instead}",
                    request.method
                ),
                None,
            ),
            _ => unparsed(&request.method, request.params.as_ref()),
        };
        Err(refused(&request.method)(error))
    }
}

/// Logs a request answered with a JSON-RPC error before any call began (an unknown name, a request
/// that did not parse) as `mcp.request.error`, and passes the error on. rmcp's own line for it is
/// Rust debug text, kept out of the log by the default filter.
fn refused(method: &str) -> impl FnOnce(McpError) -> McpError + '_ {
    move |error| {
        tracing::warn!(
            event_type = "mcp.request.error",
            success = false,
            data.method = method,
            data.code = error.code.0,
            error = error.message.as_ref(),
            error_type = "RequestError",
            "Request refused"
        );
        error
    }
}

/// What replaces a method protocol 2026-07-28 removed, for the -32601 (HTTP 404) that names it.
fn removed_in_2026(method: &str) -> Option<&'static str> {
    Some(match method {
        "initialize" => {
            "a client starts with `server/discover` and sends its version, info and capabilities in each request's `_meta`"
        }
        "logging/setLevel" => {
            "a request asks for log messages with `io.modelcontextprotocol/logLevel` in its `_meta`"
        }
        "resources/subscribe" => {
            "open a `subscriptions/listen` request with the URIs in `resourceSubscriptions`"
        }
        "resources/unsubscribe" => "cancel the `subscriptions/listen` request",
        _ => return None,
    })
}

/// The methods this server answers, for the error naming an unknown one.
const METHODS: &[&str] = &[
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "tasks/get",
    "tasks/update",
    "tasks/cancel",
];

/// The error for a request rmcp could not parse: -32602 naming the parameter that is wrong for a
/// known method, -32601 naming the method otherwise.
fn unparsed(method: &str, params: Option<&Value>) -> McpError {
    let why = match method {
        "tools/call" => shape_error::<CallToolRequestParams>(params),
        "resources/read" => shape_error::<ReadResourceRequestParams>(params),
        "prompts/get" => shape_error::<GetPromptRequestParams>(params),
        "completion/complete" => shape_error::<CompleteRequestParams>(params),
        "resources/subscribe" => shape_error::<SubscribeRequestParams>(params),
        "resources/unsubscribe" => shape_error::<UnsubscribeRequestParams>(params),
        "logging/setLevel" => shape_error::<SetLevelRequestParams>(params),
        "initialize" => shape_error::<InitializeRequestParams>(params),
        "tools/list" | "resources/list" | "resources/templates/list" | "prompts/list" => {
            shape_error::<Option<PaginatedRequestParams>>(params)
        }
        _ => {
            let hint = METHODS
                .iter()
                .find(|known| edit_distance(known, method) <= 2)
                .map(|known| format!("; did you mean `{known}`?"))
                .unwrap_or_else(|| format!("; the methods it serves are: {}", METHODS.join(", ")));
            return McpError::new(
                ErrorCode::METHOD_NOT_FOUND,
                format!("unknown method `{method}`: this server does not implement it{hint}"),
                None,
            );
        }
    };
    McpError::invalid_params(
        format!(
            "invalid params for `{method}`: {}",
            why.unwrap_or_else(|| "they do not match the method's schema".into())
        ),
        None,
    )
}

/// Why `params` is not a `T`, naming the field at fault (`arguments: invalid type: string "hello",
/// expected a map`).
fn shape_error<T: DeserializeOwned>(params: Option<&Value>) -> Option<String> {
    let Some(params) = params else {
        return Some("the request has no `params`".into());
    };
    let error = serde_path_to_error::deserialize::<_, T>(params).err()?;
    let path = error.path().to_string();
    Some(if path == "." {
        error.inner().to_string()
    } else {
        format!("`{path}`: {}", error.inner())
    })
}
