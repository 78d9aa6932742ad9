//! The transports: stdio, and streamable HTTP (`/mcp`, with `/health` at the root) on axum, served
//! by [`listener`] (connections bounded in number and idle time), with [`endpoint`] in front of rmcp
//! (bodies bounded, rmcp's answers put right) and [`sessions`] bounding rmcp's sessions.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use axum::{Router, routing::get};
use rmcp::transport::{
    StreamableHttpServerConfig, StreamableHttpService,
    streamable_http_server::session::local::SessionConfig,
};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

mod stdio;

pub(crate) use stdio::serve_stdio;

use crate::{
    cli::Cli,
    handler::{McpHandler, Shared},
    health::{self, Health},
    platform::SettingsError,
    replicas::{Message, SharedRedis, SharedSessions},
};

mod endpoint;
mod listener;
mod sessions;

use endpoint::{BodyLimits, McpEndpoint};
use listener::ConnectionLimits;
use sessions::BoundedSessions;
pub(crate) use sessions::OpenedSession;

/// How the HTTP transport behaves.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// No sessions and plain JSON responses, for replicas behind a load balancer.
    pub stateless: bool,
    /// Host header values accepted besides the defaults; `*` accepts any.
    pub allowed_hosts: Vec<String>,
    /// Browser origins accepted; when non-empty, other origins are refused.
    pub allowed_origins: Vec<String>,
    /// How long in-flight calls may run after shutdown begins.
    pub shutdown_grace: Duration,
    /// Sessions open at once; an `initialize` beyond is answered 503.
    pub max_sessions: usize,
    /// How long a session may go without a request before it is closed.
    pub session_idle_timeout: Duration,
    /// The largest request body accepted; a larger one is answered 413.
    pub max_body_bytes: usize,
    /// How long a connection may take to send a request's headers, or stay idle between requests.
    pub header_read_timeout: Duration,
    /// How long a request body may take to arrive; a slower one is answered 408.
    pub body_read_timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
}

impl HttpOptions {
    /// The default limit on live sessions: see BENCHMARKS.md for what a session costs.
    pub const DEFAULT_MAX_SESSIONS: usize = 1000;
    /// The default idle timeout of a session (rmcp's own).
    pub const DEFAULT_SESSION_IDLE_TIMEOUT: Duration = SessionConfig::DEFAULT_KEEP_ALIVE;
    /// The default limit on a request body (rmcp's own).
    pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
    /// The default header-read (and idle connection) timeout.
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
    /// The default body-read timeout.
    pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
    /// The default limit on connections served at once.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            stateless: false,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            shutdown_grace: Duration::from_secs(10),
            max_sessions: HttpOptions::DEFAULT_MAX_SESSIONS,
            session_idle_timeout: HttpOptions::DEFAULT_SESSION_IDLE_TIMEOUT,
            max_body_bytes: HttpOptions::DEFAULT_MAX_BODY_BYTES,
            header_read_timeout: HttpOptions::DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: HttpOptions::DEFAULT_BODY_READ_TIMEOUT,
            max_connections: HttpOptions::DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl HttpOptions {
    pub(crate) fn from_cli(cli: &Cli) -> HttpOptions {
        HttpOptions {
            stateless: cli.stateless,
            allowed_hosts: cli.allowed_hosts.clone(),
            allowed_origins: cli.allowed_origins.clone(),
            shutdown_grace: cli.shutdown_grace,
            max_sessions: cli.max_sessions,
            session_idle_timeout: cli.session_idle_timeout,
            max_body_bytes: cli.max_body_bytes,
            header_read_timeout: cli.header_read_timeout,
            body_read_timeout: cli.body_read_timeout,
            max_connections: cli.max_connections,
        }
    }

    /// The Host values accepted: loopback, this machine's hostname, the service's in-cluster names,
    /// and whatever the operator added. DNS-rebinding protection stays on unless `*` is given.
    fn hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(String::from).to_vec();
        if let Ok(hostname) = std::env::var("HOSTNAME") {
            hosts.push(hostname);
        }
        if let Ok(service) = std::env::var("SERVICE_NAME") {
            let service = service.trim();
            if !service.is_empty() {
                for suffix in [
                    "",
                    ".api-services",
                    ".api-services.svc",
                    ".api-services.svc.cluster.local",
                ] {
                    hosts.push(format!("{service}{suffix}"));
                }
            }
        }
        hosts.extend(
            self.allowed_hosts
                .iter()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty()),
        );
        hosts
    }

    fn config(&self, sessions: CancellationToken) -> StreamableHttpServerConfig {
        let mut config = StreamableHttpServerConfig::default()
            .with_cancellation_token(sessions)
            .with_legacy_session_mode(!self.stateless)
            .with_json_response(self.stateless)
            // `endpoint.rs` reads the body within this limit already; rmcp's check stays as a backstop.
            .with_max_request_body_bytes(self.max_body_bytes);
        config = if self.allowed_hosts.iter().any(|h| h.trim() == "*") {
            config.disable_allowed_hosts()
        } else {
            config.with_allowed_hosts(self.hosts())
        };
        if !self.allowed_origins.is_empty() {
            config = config.with_allowed_origins(self.allowed_origins.clone());
        }
        config
    }

    fn session_config(&self) -> SessionConfig {
        let mut config = SessionConfig::default();
        config.keep_alive = Some(self.session_idle_timeout);
        config
    }
}

/// A streamable HTTP server running in the background.
pub struct RunningServer {
    local_addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The MCP endpoint, e.g. `http://127.0.0.1:8080/mcp`.
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.local_addr)
    }

    /// Stops accepting, lets in-flight calls finish within the grace period, and waits for the end.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }

    /// Waits until the server stops (after its shutdown token is cancelled).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await.context("the HTTP server task failed")?
    }
}

pub(crate) async fn start_http(
    shared: Arc<Shared>,
    health: Arc<Health>,
    addr: SocketAddr,
    options: HttpOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<RunningServer> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|error| cannot_listen(addr, &error))?;
    let local_addr = listener.local_addr()?;
    let sessions = CancellationToken::new();
    let posts = TaskTracker::new();
    // Legacy sessions shared with the other replicas, when there are several.
    let shared_sessions = match shared.replicas.redis() {
        Some(redis) if !options.stateless => Some(SharedSessions::new(redis.clone())),
        _ => None,
    };
    let bounded = Arc::new(BoundedSessions::new(
        options.max_sessions,
        options.session_config(),
        shared_sessions.clone(),
        shared.metrics.clone(),
    ));
    let mut config = options.config(sessions.clone());
    if let Some(store) = &shared_sessions {
        config.session_store = Some(store.clone());
        follow_other_replicas(store.redis(), &bounded);
    }
    let factory_shared = shared.clone();
    let mcp = McpEndpoint::new(
        StreamableHttpService::new(
            move || Ok(McpHandler::new(factory_shared.clone())),
            bounded.clone(),
            config,
        ),
        bounded,
        posts.clone(),
        BodyLimits {
            max_bytes: options.max_body_bytes,
            read_timeout: options.body_read_timeout,
        },
        options.session_idle_timeout,
        options.stateless,
    );
    let mut router = Router::new()
        .route("/health", get(health::handler))
        .with_state(health)
        .nest_service("/mcp", mcp);
    if let Some(metrics) = &shared.metrics {
        router = router.merge(
            Router::new()
                .route("/metrics", get(crate::metrics::handler))
                .with_state(metrics.clone()),
        );
    }
    let limits = ConnectionLimits {
        max_connections: options.max_connections,
        header_read_timeout: options.header_read_timeout,
    };
    let server = listener::serve(listener, router, limits, shutdown.clone());
    let grace = options.shutdown_grace;
    let task_shutdown = shutdown.clone();
    let task = tokio::spawn(async move {
        task_shutdown.cancelled().await;
        drain(&posts, grace).await;
        // Close the sessions' event streams so that their connections end too.
        sessions.cancel();
        match tokio::time::timeout(Duration::from_secs(5), server).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(join)) => Err(anyhow::anyhow!("the HTTP server task failed: {join}")),
            Err(_) => Ok(()), // connections that would not close are dropped with the process
        }
    });
    Ok(RunningServer {
        local_addr,
        shutdown,
        task,
    })
}

/// Does on this replica what another asks of every replica's legacy sessions: close a session
/// deleted there, and hand a client's answer to the session's copy that may be waiting for it.
fn follow_other_replicas(redis: &SharedRedis, sessions: &Arc<BoundedSessions>) {
    use rmcp::transport::streamable_http_server::SessionManager as _;
    let weak = Arc::downgrade(sessions);
    redis.follow(move |message| {
        let sessions = weak.upgrade()?;
        Some(Box::pin(async move {
            match &*message {
                Message::SessionClosed { session } => {
                    let _ = sessions.close_session(&Arc::from(session.as_str())).await;
                }
                Message::ClientResponse { session, message } => {
                    let id = Arc::from(session.as_str());
                    if !sessions.contains(&id).await {
                        return;
                    }
                    match serde_json::from_value::<rmcp::model::ClientJsonRpcMessage>(
                        message.clone(),
                    ) {
                        Ok(response) => {
                            let _ = sessions.accept_message(&id, response).await;
                        }
                        Err(error) => {
                            tracing::debug!(%error, "another replica passed on a response that is not one")
                        }
                    }
                }
                _ => {}
            }
        }))
    });
}

/// A port that cannot be listened on is the operator's to fix: a configuration error naming the
/// variable to change.
fn cannot_listen(addr: SocketAddr, error: &std::io::Error) -> SettingsError {
    let (variable, fix) = match error.kind() {
        std::io::ErrorKind::AddrInUse => (
            "MCP_PORT",
            "another process uses the port: choose another with --port or MCP_PORT",
        ),
        std::io::ErrorKind::AddrNotAvailable => (
            "MCP_HOST",
            "the address is not one of this machine's: choose another with --host or MCP_HOST",
        ),
        std::io::ErrorKind::PermissionDenied => (
            "MCP_PORT",
            "ports below 1024 need privileges: choose a port from 1024 up with --port or MCP_PORT (the stack expects 8080)",
        ),
        _ => (
            "MCP_PORT",
            "choose another address with --host/MCP_HOST or port with --port/MCP_PORT",
        ),
    };
    SettingsError::new(
        variable,
        format!("cannot listen on {addr} ({error}): {fix}"),
    )
}

/// Waits for the calls in flight (`in_flight` counts them), at most `grace`.
async fn drain(in_flight: &TaskTracker, grace: Duration) {
    in_flight.close();
    if !in_flight.is_empty() {
        tracing::info!(
            data.in_flight = in_flight.len(),
            "Waiting for calls in flight"
        );
    }
    if tokio::time::timeout(grace, in_flight.wait()).await.is_err() {
        tracing::warn!(
            data.in_flight = in_flight.len(),
            "Calls still running after the shutdown grace period are abandoned"
        );
    }
}
