//! The rmcp `ServerHandler` serving a [`Registry`]: one per client session, sharing everything else.

#![allow(deprecated)] // logging/setLevel is deprecated by SEP-2577, and still used by every client here.

use std::sync::Arc;

use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CompleteRequestParams, CompleteResult,
        GetPromptRequestParams, GetPromptResponse, ListPromptsResult, ListResourceTemplatesResult,
        ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams,
        ReadResourceResponse, ServerConfig, SetLevelRequestParams, SubscribeRequestParams,
        UnsubscribeRequestParams,
    },
    service::RequestContext,
};
use tokio_util::task::TaskTracker;

use crate::{
    Subscriptions,
    context::{ClientSession, StateMap},
    instrument::{self, CallEnv},
    registry::Registry,
};

/// What all sessions of a server share.
pub(crate) struct Shared {
    pub registry: Registry,
    pub info: ServerConfig,
    pub state: StateMap,
    /// Calls in flight, so that shutdown can wait for them.
    pub calls: TaskTracker,
}

/// The handler of one client session.
#[derive(Clone)]
pub(crate) struct McpHandler {
    shared: Arc<Shared>,
    session: Arc<ClientSession>,
}

impl McpHandler {
    pub(crate) fn new(shared: Arc<Shared>) -> McpHandler {
        McpHandler {
            shared,
            session: Arc::default(),
        }
    }

    fn env(&self) -> CallEnv<'_> {
        CallEnv {
            registry: &self.shared.registry,
            state: &self.shared.state,
            session: &self.session,
        }
    }
}

impl ServerHandler for McpHandler {
    fn get_info(&self) -> ServerConfig {
        self.shared.info.clone()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let _in_flight = self.shared.calls.token();
        instrument::call_tool(
            self.env(),
            &request.name,
            request.arguments,
            request.meta.as_ref(),
            context,
        )
        .await
        .map(Into::into)
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

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let _in_flight = self.shared.calls.token();
        instrument::read_resource(self.env(), &request.uri, request.meta.as_ref(), context)
            .await
            .map(Into::into)
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

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let _in_flight = self.shared.calls.token();
        instrument::get_prompt(
            self.env(),
            &request.name,
            request.arguments,
            request.meta.as_ref(),
            context,
        )
        .await
        .map(Into::into)
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.session.set_level(request.level);
        Ok(())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        instrument::complete(self.env(), request, context).await
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
        self.subscriptions()
            .subscribe(&self.session, &context.peer, &request.uri);
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.subscriptions()
            .unsubscribe(&self.session, &request.uri);
        Ok(())
    }
}

impl McpHandler {
    fn subscriptions(&self) -> Subscriptions {
        self.shared.state.runtime::<Subscriptions>()
    }
}
