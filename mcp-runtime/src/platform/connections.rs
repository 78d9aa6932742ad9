//! Connection management: each declared connector's current URL(s) and headers, whether it is
//! connected, a watch on changes, and the author's reconnect hook run on every change.
//!
//! Tools take a connector's handle by type, like [`State`](crate::State):
//!
//! ```
//! use mcp_runtime::{Connection, ToolError};
//!
//! mcp_runtime::connector_id!(
//!     /// The API this server fronts.
//!     pub MyService = "MYSERVICE"
//! );
//!
//! // In a #[cm_tool] fn: `api: Connection<MyService>` (or `api: Connection` when the server has one connector).
//! async fn fetch(api: Connection<MyService>) -> Result<String, ToolError> {
//!     let state = api.require()?; // "My Service (MYSERVICE) is not connected yet ..." while there is no URL
//!     Ok(format!("GET {}/items", state.url().unwrap_or_default()))
//! }
//! ```

use std::{
    collections::HashSet,
    fmt,
    marker::PhantomData,
    sync::Arc,
    time::{Duration, Instant},
};

use http::HeaderMap;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

#[cfg(feature = "platform")]
use super::outgoing::ConnectorClient;
use super::{
    connectors::{ChangeHook, Connector, ConnectorType},
    endpoint::{ConnectionState, Endpoint},
    mode::Mode,
};
use crate::{
    FromCall, ToolError,
    extract::{CallInput, JsonObject, ParamInfo},
    trace::TraceContext,
};

/// One declared connector and its live state.
pub(crate) struct Slot {
    pub decl: Connector,
    endpoint: watch::Sender<Endpoint>,
    state: watch::Sender<ConnectionState>,
    mode: Mode,
    /// Bumped on every state change of any slot, so that one task can watch them all.
    any_change: watch::Sender<u64>,
    /// The client of [`Connection::http`], made at its first use and shared by every call after.
    #[cfg(feature = "platform")]
    http: std::sync::OnceLock<reqwest::Client>,
}

impl Slot {
    fn set_state(&self, state: ConnectionState) {
        self.state.send_replace(state);
        self.any_change.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn label(&self) -> String {
        format!("{} ({})", self.decl.label, self.decl.config_id)
    }

    /// Applies every endpoint the platform sets, running the reconnect hook once per change.
    async fn run(self: Arc<Slot>, shutdown: CancellationToken) {
        let mut endpoints = self.endpoint.subscribe();
        let mut applied = Endpoint::default();
        loop {
            let endpoint = endpoints.borrow_and_update().clone();
            if endpoint != applied {
                applied = endpoint.clone();
                tokio::select! {
                    () = self.apply(endpoint, &mut endpoints) => {}
                    () = shutdown.cancelled() => return,
                }
                // `apply` may have consumed a change notification: compare with the latest again.
                continue;
            }
            tokio::select! {
                changed = endpoints.changed() => if changed.is_err() { return },
                () = shutdown.cancelled() => return,
            }
        }
    }

    /// Makes `endpoint` current. Returns early when another endpoint arrives during hook retries.
    async fn apply(&self, endpoint: Endpoint, endpoints: &mut watch::Receiver<Endpoint>) {
        let was_connected = self.state.borrow().connected;
        let id = self.decl.config_id.as_str();
        if endpoint.urls.is_empty() {
            let had_url = !self.state.borrow().urls.is_empty();
            self.set_state(ConnectionState::unassigned(self.mode.clone()));
            if was_connected {
                tracing::warn!(
                    event_type = "connection.lost",
                    success = false,
                    data.target = "connector",
                    data.connector_id = id,
                    "{} lost its URL; waiting for a new one",
                    self.label()
                );
            }
            if had_url && let Some(hook) = self.decl.on_change.clone() {
                // Once, not retried: there is nothing to connect to, only the old URL's resources
                // (a pool, a client) for the hook to release.
                let Err(error) =
                    run_hook(&hook, ConnectionState::unassigned(self.mode.clone())).await
                else {
                    return;
                };
                tracing::warn!(
                    event_type = "connection.release.error",
                    success = false,
                    error = error.as_str(),
                    error_type = "ReconnectError",
                    data.target = "connector",
                    data.connector_id = id,
                    "Reconnect hook of {} failed for the lost URL",
                    self.label()
                );
            }
            return;
        }
        let urls = endpoint.urls.join(",");
        let mut state = ConnectionState {
            urls: endpoint.urls,
            headers: endpoint.headers,
            connected: false,
            error: None,
            mode: self.mode.clone(),
        };
        let Some(hook) = self.decl.on_change.clone() else {
            state.connected = true;
            self.set_state(state);
            tracing::info!(
                event_type = "connection.established",
                success = true,
                data.target = "connector",
                data.connector_id = id,
                data.url = urls.as_str(),
                "{} connected at {urls}",
                self.label()
            );
            return;
        };
        self.set_state(state.clone());
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let started = Instant::now();
            let result = run_hook(&hook, state.clone()).await;
            let duration_ms = crate::events::elapsed_ms(started);
            let error = match result {
                Ok(()) => {
                    state.connected = true;
                    state.error = None;
                    self.set_state(state);
                    tracing::info!(
                        event_type = "connection.established",
                        duration_ms,
                        success = true,
                        data.target = "connector",
                        data.connector_id = id,
                        data.url = urls.as_str(),
                        data.attempt = attempt,
                        "{} connected at {urls}",
                        self.label()
                    );
                    return;
                }
                Err(error) => error,
            };
            if attempt == 1 && was_connected {
                tracing::warn!(
                    event_type = "connection.lost",
                    success = false,
                    data.target = "connector",
                    data.connector_id = id,
                    "{} is disconnected while its new URL is being connected",
                    self.label()
                );
            }
            let delay = hook_backoff(attempt);
            state.error = Some(error.clone());
            self.set_state(state.clone());
            tracing::warn!(
                event_type = "connection.retry",
                duration_ms,
                success = false,
                error = error.as_str(),
                error_type = "ReconnectError",
                data.target = "connector",
                data.connector_id = id,
                data.url = urls.as_str(),
                data.attempt = attempt,
                data.delay_s = delay.as_secs_f64(),
                "Reconnect hook of {} failed; retrying in {:.0} s",
                self.label(),
                delay.as_secs_f64()
            );
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                changed = endpoints.changed() => {
                    // A new endpoint replaces this one (the caller applies it); a closed channel ends.
                    let _ = changed;
                    return;
                }
            }
        }
    }
}

/// 1 s doubling up to 30 s: the seed's "failed connects retry with exponential backoff".
/// Runs the author's hook on its own task, so that a panic in it is an error, not a dead worker.
async fn run_hook(hook: &ChangeHook, state: ConnectionState) -> Result<(), String> {
    match tokio::spawn(hook(state)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(format!("{error:#}")),
        Err(join) => Err(format!("the reconnect hook panicked: {join}")),
    }
}

fn hook_backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.saturating_sub(1).min(5)).min(Duration::from_secs(30))
}

/// Every connector a server declared, with its live state. Tools usually take one [`Connection`]; this
/// is the whole set (`State<Connections>`), e.g. for code outside tools.
#[derive(Clone)]
pub struct Connections {
    slots: Arc<Vec<Arc<Slot>>>,
    any_change: watch::Sender<u64>,
}

impl fmt::Debug for Connections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.slots.iter().map(|s| &s.decl.config_id))
            .finish()
    }
}

impl Connections {
    /// The connections of `connectors` in `mode`; fails on two connectors with one id.
    pub(crate) fn new(connectors: Vec<Connector>, mode: &Mode) -> anyhow::Result<Connections> {
        let mut seen = HashSet::new();
        for c in &connectors {
            anyhow::ensure!(
                !c.config_id.trim().is_empty(),
                "a connector labelled `{}` has an empty config_id",
                c.label
            );
            anyhow::ensure!(
                seen.insert(c.config_id.clone()),
                "two connectors are declared with the config_id `{}`: each needs its own",
                c.config_id
            );
        }
        let any_change = watch::Sender::new(0);
        let slots = connectors
            .into_iter()
            .map(|decl| {
                Arc::new(Slot {
                    decl,
                    endpoint: watch::Sender::new(Endpoint::default()),
                    state: watch::Sender::new(ConnectionState::unassigned(mode.clone())),
                    mode: mode.clone(),
                    any_change: any_change.clone(),
                    #[cfg(feature = "platform")]
                    http: std::sync::OnceLock::new(),
                })
            })
            .collect();
        Ok(Connections {
            slots: Arc::new(slots),
            any_change,
        })
    }

    /// Whether no connector is declared.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The connection of the connector `config_id`.
    pub fn get(&self, config_id: &str) -> Option<Connection> {
        self.slot(config_id).map(Connection::from_slot)
    }

    /// Every connection, in the order the connectors were declared.
    pub fn all(&self) -> Vec<Connection> {
        self.slots
            .iter()
            .cloned()
            .map(Connection::from_slot)
            .collect()
    }

    /// Whether every declared connector is connected (true when none is declared: the service
    /// waits for nothing), as `/health` reports it in `service_connected`.
    pub fn all_connected(&self) -> bool {
        self.slots.iter().all(|s| s.state.borrow().connected)
    }

    pub(crate) fn slot(&self, config_id: &str) -> Option<Arc<Slot>> {
        self.slots
            .iter()
            .find(|s| s.decl.config_id == config_id)
            .cloned()
    }

    pub(crate) fn declared(&self) -> Vec<Connector> {
        self.slots.iter().map(|s| s.decl.clone()).collect()
    }

    /// Points `config_id` at `endpoint` (no-op when unchanged); its worker runs the hook.
    pub(crate) fn set(&self, config_id: &str, endpoint: Endpoint) {
        if let Some(slot) = self.slot(config_id) {
            slot.endpoint.send_if_modified(|current| {
                let changed = *current != endpoint;
                *current = endpoint;
                changed
            });
        }
    }

    /// The endpoint the platform last set for `config_id` (the config manager's client compares).
    #[cfg(feature = "platform")]
    pub(crate) fn endpoint(&self, config_id: &str) -> Option<Endpoint> {
        self.slot(config_id).map(|s| s.endpoint.borrow().clone())
    }

    /// Starts one worker per connector and the task logging `service.connection.*`.
    pub(crate) fn start(&self, reason_if_deferred: String, shutdown: &CancellationToken) {
        for slot in self.slots.iter() {
            tokio::spawn(slot.clone().run(shutdown.clone()));
        }
        if !self.is_empty() {
            tokio::spawn(self.clone().report(reason_if_deferred, shutdown.clone()));
        }
    }

    /// Logs `service.connection.deferred` when the connectors are not all connected at start, and
    /// `service.connection.established` each time they all become connected.
    async fn report(self, reason: String, shutdown: CancellationToken) {
        let mut changes = self.any_change.subscribe();
        let started = Instant::now();
        // Judge once the workers have applied what is already known (local URLs, first hook runs),
        // so that a local connector does not log "deferred" a moment before "established".
        let settled = async {
            while !self.settled() {
                if changes.changed().await.is_err() {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), settled).await;
        let mut connected = false;
        let mut first = true;
        loop {
            let now = self.all_connected();
            if now && !connected {
                tracing::info!(
                    event_type = "service.connection.established",
                    duration_ms = crate::events::elapsed_ms(started),
                    success = true,
                    data.connector_ids = self.ids().as_str(),
                    "Every connector is connected"
                );
            } else if !now && first {
                let pending = self.pending();
                tracing::info!(
                    event_type = "service.connection.deferred",
                    data.connector_ids = pending.as_str(),
                    data.reason = reason.as_str(),
                    "Serving before {pending} connected: {reason}; tools that need a connector say so until then"
                );
            } else if !now && connected {
                tracing::warn!(
                    event_type = "connection.lost",
                    success = false,
                    data.target = "service",
                    data.connector_ids = self.pending().as_str(),
                    "The service lost a connector"
                );
            }
            connected = now;
            first = false;
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                () = shutdown.cancelled() => return,
            }
        }
    }

    /// Whether every worker has applied its endpoint: connected, failed once, or nothing to apply.
    fn settled(&self) -> bool {
        self.slots.iter().all(|s| {
            let endpoint = s.endpoint.borrow();
            let state = s.state.borrow();
            state.urls == endpoint.urls
                && (state.connected || state.error.is_some() || state.urls.is_empty())
        })
    }

    fn ids(&self) -> String {
        self.slots
            .iter()
            .map(|s| s.decl.config_id.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    fn pending(&self) -> String {
        self.slots
            .iter()
            .filter(|s| !s.state.borrow().connected)
            .map(|s| s.decl.config_id.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Adds the connection fields to a `/health` document: `service_connected` (true when no
    /// connector is declared), `connector_id`, and with several connectors a `connectors` object with
    /// each one's state. Never headers.
    pub(crate) fn health(&self, doc: &mut JsonObject) {
        doc.insert("service_connected".into(), self.all_connected().into());
        if self.slots.is_empty() {
            return;
        }
        doc.insert(
            "connector_id".into(),
            self.slots[0].decl.config_id.clone().into(),
        );
        if self.slots.len() > 1 {
            let mut each = JsonObject::new();
            for slot in self.slots.iter() {
                let state = slot.state.borrow();
                let mut entry = json!({
                    "type": slot.decl.kind.as_str(),
                    "connected": state.connected,
                });
                if slot.decl.array {
                    entry["urls"] = json!(state.urls);
                } else {
                    entry["url"] = state.url().map_or(Value::Null, Value::from);
                }
                each.insert(slot.decl.config_id.clone(), entry);
            }
            doc.insert("connectors".into(), each.into());
        }
    }
}

/// Names the connector a [`Connection`] parameter refers to: implement it for a marker type with
/// [`connector_id!`](crate::connector_id), then take `Connection<Marker>`.
pub trait ConnectorId: Send + Sync + 'static {
    /// The connector's `config_id`, as declared on the server.
    const ID: &'static str;
}

/// Declares a marker type naming a connector, for `Connection<Marker>` parameters:
///
/// ```
/// mcp_runtime::connector_id!(
///     /// The database this server reads.
///     pub Database = "DATABASE"
/// );
/// assert_eq!(<Database as mcp_runtime::ConnectorId>::ID, "DATABASE");
/// ```
#[macro_export]
macro_rules! connector_id {
    ($(#[$meta:meta])* $vis:vis $name:ident = $id:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        $vis struct $name;
        impl $crate::ConnectorId for $name {
            const ID: &'static str = $id;
        }
    };
}

/// The default of [`Connection`]'s parameter: the server's only connector.
#[derive(Debug, Clone, Copy)]
pub enum Only {}

/// How a `Connection<C>` parameter finds its connector. Implemented for [`Only`] and every
/// [`ConnectorId`]; not meant to be implemented otherwise.
pub trait Which: Send + Sync + 'static {
    /// The `config_id` asked for; `None`: the only connector.
    fn config_id() -> Option<&'static str>;
}

impl Which for Only {
    fn config_id() -> Option<&'static str> {
        None
    }
}

impl<C: ConnectorId> Which for C {
    fn config_id() -> Option<&'static str> {
        Some(C::ID)
    }
}

/// A connector's connection, injected into tools and resources by type: `api: Connection` when the
/// server declares one connector, `db: Connection<Database>` (see [`connector_id!`](crate::connector_id))
/// to pick one of several. Cheap to clone; always reflects the current state.
pub struct Connection<C = Only> {
    slot: Arc<Slot>,
    /// The trace of the call it was injected into (none when taken from [`Connections`]): what
    /// [`Connection::http`]'s requests carry where no call's span is current.
    #[cfg_attr(not(feature = "platform"), allow(dead_code))]
    trace: Option<Arc<TraceContext>>,
    _which: PhantomData<fn() -> C>,
}

impl<C> Clone for Connection<C> {
    fn clone(&self) -> Self {
        Connection {
            slot: self.slot.clone(),
            trace: self.trace.clone(),
            _which: PhantomData,
        }
    }
}

impl<C> fmt::Debug for Connection<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("config_id", &self.slot.decl.config_id)
            .field("state", &*self.slot.state.borrow())
            .finish()
    }
}

impl Connection {
    fn from_slot(slot: Arc<Slot>) -> Connection {
        Connection {
            slot,
            trace: None,
            _which: PhantomData,
        }
    }
}

impl<C> Connection<C> {
    /// The connector's `config_id`.
    pub fn id(&self) -> &str {
        &self.slot.decl.config_id
    }

    /// The connector's label.
    pub fn label(&self) -> &str {
        &self.slot.decl.label
    }

    /// The connector's type.
    pub fn kind(&self) -> &ConnectorType {
        &self.slot.decl.kind
    }

    /// The current state.
    pub fn state(&self) -> ConnectionState {
        self.slot.state.borrow().clone()
    }

    /// The current URL (the first, for an array connector).
    pub fn url(&self) -> Option<String> {
        self.slot.state.borrow().url().map(str::to_string)
    }

    /// The URL the platform assigns now (the first, for an array connector), even before the
    /// reconnect hook has succeeded for it: what a startup hook configures from. Locally it is known
    /// from the start (`{ID}_URL`); in a stack, once the config manager assigns a deployment.
    pub fn assigned_url(&self) -> Option<String> {
        self.slot.endpoint.borrow().urls.first().cloned()
    }

    /// Every current URL.
    pub fn urls(&self) -> Vec<String> {
        self.slot.state.borrow().urls.clone()
    }

    /// The headers to send (see [`ConnectionState::headers`]).
    pub fn headers(&self) -> HeaderMap {
        self.slot.state.borrow().headers.clone()
    }

    /// Whether the connector has a URL and its reconnect hook succeeded for it.
    pub fn is_connected(&self) -> bool {
        self.slot.state.borrow().connected
    }

    /// A receiver that sees every change of the state.
    pub fn subscribe(&self) -> watch::Receiver<ConnectionState> {
        self.slot.state.subscribe()
    }

    /// The state if connected, else the tool error callers should see:
    /// "My Service (MYSERVICE) is not connected yet ...".
    pub fn require(&self) -> Result<ConnectionState, ToolError> {
        let state = self.state();
        if state.connected {
            Ok(state)
        } else {
            Err(self.not_connected(&state))
        }
    }

    /// Waits until connected, at most `max_wait`; then the same error as [`require`](Self::require).
    /// The wait follows the state (no polling), so it returns as soon as the platform assigns a URL
    /// and the reconnect hook succeeds: the seed's "retry with backoff" for tools, without the sleeps.
    pub async fn wait_connected(&self, max_wait: Duration) -> Result<ConnectionState, ToolError> {
        let mut states = self.subscribe();
        match tokio::time::timeout(max_wait, states.wait_for(|s| s.connected)).await {
            Ok(Ok(state)) => Ok(state.clone()),
            _ => Err(self.not_connected(&self.state())),
        }
    }

    /// An HTTP client for the connector's service: requests go to its URL (the first, for an array
    /// connector) with its headers and the current call's trace headers (see [`ConnectorClient`]).
    /// The same error as [`require`](Self::require) while it is not connected, naming the connector
    /// and `{ID}_URL`; an internal error for a connector whose URL is not an HTTP one (a database's
    /// host).
    ///
    /// ```no_run
    /// # use mcp_runtime::{Connection, ToolError};
    /// # async fn tool(api: Connection) -> Result<String, ToolError> {
    /// let created = api
    ///     .http()?
    ///     .post("/items")
    ///     .json(&serde_json::json!({"name": "x"}))
    ///     .send()
    ///     .await?
    ///     .error_for_status()?;
    /// # Ok(created.text().await?)
    /// # }
    /// ```
    #[cfg(feature = "platform")]
    pub fn http(&self) -> Result<ConnectorClient, ToolError> {
        let state = self.require()?;
        let client = self.slot.http.get_or_init(ConnectorClient::pooled).clone();
        ConnectorClient::new(&self.slot.decl, client, &state, self.trace.clone())
    }

    fn not_connected(&self, state: &ConnectionState) -> ToolError {
        let why = match (&state.error, state.urls.is_empty()) {
            (Some(error), _) => format!(
                "connecting to {} failed ({error}); retrying",
                state.urls.join(", ")
            ),
            (None, true) => format!(
                "no URL is assigned yet (in a stack the config manager assigns it; locally set {}_URL)",
                self.slot.decl.config_id
            ),
            (None, false) => "its connection is being set up".to_string(),
        };
        ToolError::not_connected(format!(
            "{} is not connected yet: {why}. Try again shortly.",
            self.slot.label()
        ))
    }
}

impl<'a, C: Which> FromCall<'a> for Connection<C> {
    fn from_call(_: &'static ParamInfo, input: &mut CallInput<'a>) -> Result<Self, ToolError> {
        let connections = input.context().state::<Connections>().ok_or_else(|| {
            ToolError::internal(
                "this server declares no connectors: add one with Server::connector(Connector::api(\"ID\", \"Label\"))",
            )
        })?;
        let slot = match C::config_id() {
            Some(id) => connections.slot(id).ok_or_else(|| {
                ToolError::internal(format!(
                    "no connector `{id}` is declared on the server (declared: {}); add it with Server::connector(..)",
                    connections.ids()
                ))
            })?,
            None if connections.slots.len() == 1 => connections.slots[0].clone(),
            None => {
                return Err(ToolError::internal(format!(
                    "the server declares {} connectors ({}); name the one this parameter wants with `Connection<Marker>` (see connector_id!)",
                    connections.slots.len(),
                    connections.ids()
                )));
            }
        };
        Ok(Connection {
            slot,
            trace: Some(input.context().trace_handle().clone()),
            _which: PhantomData,
        })
    }
}
