//! The sessions of the streamable HTTP transport, bounded in number and in idle time.
//!
//! rmcp's `LocalSessionManager` keeps every session a client opens until it has been idle for its
//! `keep_alive`, and nothing caps how many there are: a client looping on `initialize` grows the
//! server by tens of kilobytes a call until it is killed. [`BoundedSessions`] wraps it (rather than
//! forking it) and refuses a session beyond `max`; the refusal reaches the client as a 503 with a
//! JSON-RPC error built in `endpoint.rs` (which, when every place is taken, refuses an `initialize`
//! before it reaches rmcp). The idle timeout is rmcp's own `SessionConfig::keep_alive`. Sessions that exist keep working: a flood is refused, it
//! does not evict anyone. The count is exact because only the manager that removes a session from
//! the map gives its place back; rmcp closes a session twice (on `DELETE`, then when its worker
//! ends), and idle expiry comes through the same `close_session`.

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use crate::{metrics::Metrics, replicas::SharedSessions};
use futures::Stream;
use rmcp::{
    model::{ClientJsonRpcMessage, ServerJsonRpcMessage},
    transport::{
        WorkerTransport,
        streamable_http_server::session::{
            RestoreOutcome, ServerSseMessage, SessionId, SessionManager,
            local::{
                LocalSessionManager, LocalSessionManagerError, LocalSessionWorker, SessionConfig,
            },
        },
    },
};

/// The text rmcp puts, after its own prefix, into the 500 it answers a refused session with: what
/// `endpoint.rs` recognises to answer 503 instead.
pub(crate) const SESSION_LIMIT: &str = "the server's session limit is reached";

/// rmcp's in-memory sessions, at most `max` of them.
pub(crate) struct BoundedSessions {
    inner: LocalSessionManager,
    live: AtomicUsize,
    max: usize,
    /// Whether the refusals since the last free place were logged: once per episode, not per request
    /// of a flood.
    refusing: AtomicBool,
    /// The sessions of every replica, when there are several (`MCP_REDIS_URL`).
    shared: Option<Arc<SharedSessions>>,
    /// When each live session was opened (or restored here), for `/metrics`.
    opened: std::sync::Mutex<std::collections::HashMap<SessionId, std::time::Instant>>,
    metrics: Option<Arc<Metrics>>,
}

/// The id of the session an `initialize` opens (or restores), put into the request's extensions:
/// rmcp tells a handler its session id only in the headers of later requests, and the handler needs
/// it at once to receive the resource updates other replicas publish for the session.
#[derive(Debug, Clone)]
pub(crate) struct OpenedSession(pub SessionId);

/// Why a session operation failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SessionsError {
    /// rmcp's own failure.
    #[error(transparent)]
    Local(#[from] LocalSessionManagerError),
    /// `max` sessions are live already.
    #[error("{SESSION_LIMIT} ({max} live sessions)")]
    Full {
        /// The limit.
        max: usize,
    },
}

impl BoundedSessions {
    /// At most `max` sessions, configured by `config` (its `keep_alive` is the idle timeout).
    pub(crate) fn new(
        max: usize,
        config: SessionConfig,
        shared: Option<Arc<SharedSessions>>,
        metrics: Option<Arc<Metrics>>,
    ) -> BoundedSessions {
        let mut inner = LocalSessionManager::default();
        inner.session_config = config;
        BoundedSessions {
            inner,
            live: AtomicUsize::new(0),
            max,
            refusing: AtomicBool::new(false),
            shared,
            opened: Default::default(),
            metrics,
        }
    }

    /// Counts a session opened (or restored) here.
    fn opened(&self, id: &SessionId) {
        if let Some(metrics) = &self.metrics {
            metrics.session_opened();
            self.opened_at()
                .insert(id.clone(), std::time::Instant::now());
        }
    }

    fn opened_at(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<SessionId, std::time::Instant>> {
        self.opened.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The sessions shared with other replicas, when there are several.
    pub(crate) fn shared(&self) -> Option<&Arc<SharedSessions>> {
        self.shared.as_ref()
    }

    /// Takes a place for one more session, or refuses.
    fn reserve(&self) -> Result<(), SessionsError> {
        let max = self.max;
        // Reserve the place before creating: concurrent floods cannot overshoot the limit.
        self.live
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .map(drop)
            .map_err(|_| {
                self.refused();
                SessionsError::Full { max }
            })
    }

    /// Whether every place is taken (a look, not a reservation: `create_session` decides).
    pub(crate) fn is_full(&self) -> bool {
        self.live.load(Ordering::Relaxed) >= self.max
    }

    /// Logs that sessions are refused: once until a place is free again, not once per request of a
    /// flood.
    pub(crate) fn refused(&self) {
        if !self.refusing.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                event_type = "mcp.session.refused",
                data.max_sessions = self.max,
                "New sessions are refused with 503: {} are live, the limit (--max-sessions, MCP_MAX_SESSIONS)",
                self.max
            );
        }
    }

    /// The limit.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// Whether `id` names a live session.
    pub(crate) async fn contains(&self, id: &SessionId) -> bool {
        self.inner.sessions.read().await.contains_key(id)
    }
}

impl SessionManager for BoundedSessions {
    type Error = SessionsError;
    type Transport = WorkerTransport<LocalSessionWorker>;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        self.reserve()?;
        match self.inner.create_session().await {
            Ok(created) => {
                self.opened(&created.0);
                Ok(created)
            }
            Err(error) => {
                self.live.fetch_sub(1, Ordering::AcqRel);
                Err(error.into())
            }
        }
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        let mut message = message;
        message.insert_extension(OpenedSession(id.clone()));
        Ok(self.inner.initialize_session(id, message).await?)
    }

    async fn restore_session(
        &self,
        id: SessionId,
    ) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        // A session restored here from the shared store takes a place like a new one.
        self.reserve()?;
        let restored = self.inner.restore_session(id.clone()).await;
        if matches!(restored, Ok(RestoreOutcome::Restored(_))) {
            self.opened(&id);
            tracing::info!(
                event_type = "mcp.session.restored",
                // A session id lets whoever holds it use the session: only its hash is logged.
                data.session_hash = crate::trace::api_key_hash(&id),
                "Session continued on this replica (restored from the shared state)"
            );
        } else {
            self.live.fetch_sub(1, Ordering::AcqRel);
        }
        Ok(restored?)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        Ok(self.inner.has_session(id).await?)
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        // What `LocalSessionManager::close_session` does, keeping the removal in hand: whoever
        // removes the session from the map, and only they, give its place back.
        let handle = self.inner.sessions.write().await.remove(id);
        if let Some(shared) = &self.shared {
            shared.forget(id);
        }
        if let Some(handle) = handle {
            if let Some(metrics) = &self.metrics
                && let Some(opened) = self.opened_at().remove(id)
            {
                metrics.session_closed("tcp", opened);
            }
            self.live.fetch_sub(1, Ordering::AcqRel);
            self.refusing.store(false, Ordering::Relaxed);
            // An error means the worker has ended already: nothing is left to close.
            let _ = handle.close().await;
        }
        Ok(())
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.create_stream(id, message).await?)
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        Ok(self.inner.accept_message(id, message).await?)
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.create_standalone_stream(id).await?)
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.resume(id, last_event_id).await?)
    }
}
