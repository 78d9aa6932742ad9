#![allow(deprecated)]
// Client logging (notifications/message, logging/setLevel) is deprecated by SEP-2577; the clients in use still rely on it.

//! The per-call [`Context`] and shared [`State<T>`], both injected into tools by type.

use std::{
    any::{Any, TypeId, type_name},
    collections::HashMap,
    ops::Deref,
    sync::{
        Arc, Mutex, MutexGuard, RwLock,
        atomic::{AtomicU8, Ordering},
    },
};

use rmcp::{
    Peer, RoleServer,
    model::{LoggingLevel, ProgressNotificationParam, RequestId},
    service::RequestContext,
};
use tokio_util::sync::CancellationToken;

use crate::{ToolError, subscriptions::SessionSubscriptions, trace::TraceContext};

/// Everything a tool may want to know about the call it is serving.
///
/// Take it as a parameter (`ctx: &Context` or `ctx: Context`); it is injected, never an argument.
/// It carries the call's trace, the HTTP request headers, the client's cancellation, and lets the tool
/// log to the client (`ctx.info(..)`) and report progress.
#[derive(Clone)]
pub struct Context {
    inner: Arc<Inner>,
}

struct Inner {
    request: RequestContext<RoleServer>,
    trace: Arc<TraceContext>,
    state: StateMap,
    session: Arc<ClientSession>,
}

impl Context {
    pub(crate) fn new(
        request: RequestContext<RoleServer>,
        trace: Arc<TraceContext>,
        state: StateMap,
        session: Arc<ClientSession>,
    ) -> Context {
        Context {
            inner: Arc::new(Inner {
                request,
                trace,
                state,
                session,
            }),
        }
    }

    /// The call's trace: ids taken from the caller, and the new span this call runs in.
    pub fn trace(&self) -> &TraceContext {
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

    /// Cancelled when the client sends `notifications/cancelled` for this request.
    pub fn cancellation_token(&self) -> &CancellationToken {
        &self.inner.request.ct
    }

    /// Whether the client has cancelled this request.
    pub fn is_cancelled(&self) -> bool {
        self.inner.request.ct.is_cancelled()
    }

    /// The connected client, for requests towards it (sampling, elicitation, roots).
    pub fn peer(&self) -> &Peer<RoleServer> {
        &self.inner.request.peer
    }

    /// The raw rmcp request context.
    pub fn request(&self) -> &RequestContext<RoleServer> {
        &self.inner.request
    }

    /// Shared state of type `T`, if the server has it (see [`State`]).
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<State<T>> {
        self.inner.state.get::<T>()
    }

    pub(crate) fn state_map(&self) -> &StateMap {
        &self.inner.state
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
        if level_rank(level) < self.inner.session.min_level.load(Ordering::Relaxed) {
            return;
        }
        let param = rmcp::model::LoggingMessageNotificationParam::new(
            level,
            serde_json::Value::String(message.into()),
        );
        if let Err(error) = self.inner.request.peer.notify_logging_message(param).await {
            tracing::debug!(%error, "could not send a log message to the client");
        }
    }

    /// Reports progress to the client, when it asked for it with a progress token; otherwise does nothing.
    pub async fn report_progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
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
}

/// What one client session chose: its `logging/setLevel` and its resource subscriptions.
#[derive(Default)]
pub(crate) struct ClientSession {
    min_level: AtomicU8,
    subscriptions: Mutex<SessionSubscriptions>,
}

impl ClientSession {
    pub(crate) fn set_level(&self, level: LoggingLevel) {
        self.min_level.store(level_rank(level), Ordering::Relaxed);
    }

    pub(crate) fn subscriptions(&self) -> MutexGuard<'_, SessionSubscriptions> {
        self.subscriptions.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn level_rank(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

/// Shared state a tool takes by type: `db: State<Db>`.
///
/// Set it on the server with [`Server::state`](crate::Server::state), or return it from the startup
/// hook ([`Server::on_startup`](crate::Server::on_startup)). A tool asking for state the server does not
/// have gets a clear tool error, not a panic.
pub struct State<T>(pub Arc<T>);

impl<T> Deref for State<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Clone for State<T> {
    fn clone(&self) -> Self {
        State(self.0.clone())
    }
}

impl<T> State<T> {
    /// The shared pointer itself.
    pub fn into_inner(self) -> Arc<T> {
        self.0
    }
}

impl<T: Send + Sync + 'static> State<T> {
    pub(crate) fn from_context(ctx: &Context) -> Result<State<T>, ToolError> {
        ctx.state::<T>().ok_or_else(|| {
            ToolError::internal(format!(
                "the server has no state of type `{}`: set it with Server::state(..), or return it from the startup hook (if that hook failed or is still running, see the service.init.* events)",
                type_name::<T>()
            ))
        })
    }
}

/// Typed values shared by every call, keyed by type.
#[derive(Clone, Default)]
pub(crate) struct StateMap(Arc<RwLock<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>>);

impl StateMap {
    pub(crate) fn insert_arc(&self, type_id: TypeId, value: Arc<dyn Any + Send + Sync>) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(type_id, value);
    }

    pub(crate) fn get<T: Send + Sync + 'static>(&self) -> Option<State<T>> {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        let value = map.get(&TypeId::of::<T>())?.clone();
        value.downcast::<T>().ok().map(State)
    }

    /// A value the framework itself keeps per server (e.g. the resource subscriptions), created on
    /// first use. It is keyed by a private wrapper type, so no author's `State<T>` can reach it.
    pub(crate) fn runtime<T: Default + Clone + Send + Sync + 'static>(&self) -> T {
        struct Internal<T>(T);
        let key = TypeId::of::<Internal<T>>();
        let read = |value: &Arc<dyn Any + Send + Sync>| {
            value
                .downcast_ref::<Internal<T>>()
                .map(|internal| internal.0.clone())
        };
        if let Some(value) = self
            .0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .and_then(read)
        {
            return value;
        }
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        let entry = map
            .entry(key)
            .or_insert_with(|| Arc::new(Internal(T::default())));
        read(entry).unwrap_or_default()
    }
}
