//! The transports: stdio, and streamable HTTP (`/mcp`, with `/health` at the root) on axum.

use std::{
    convert::Infallible,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use anyhow::Context as _;
use axum::{
    Router,
    body::{Body, Bytes},
    extract::Request,
    response::{IntoResponse, Response},
    routing::get,
    serve::ListenerExt,
};
use futures::future::BoxFuture;
use http_body::{Frame, SizeHint};
use rmcp::transport::{
    StreamableHttpServerConfig, StreamableHttpService,
    streamable_http_server::session::local::LocalSessionManager,
};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::{
    sync::CancellationToken,
    task::{TaskTracker, task_tracker::TaskTrackerToken},
};

mod stdio;

pub(crate) use stdio::serve_stdio;

use crate::{
    cli::Cli,
    handler::{McpHandler, Shared},
    health::{self, Health},
    platform::SettingsError,
};

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
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            stateless: false,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            shutdown_grace: Duration::from_secs(10),
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
            .with_json_response(self.stateless);
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
    let factory_shared = shared.clone();
    let mcp = McpEndpoint {
        rmcp: Arc::new(StreamableHttpService::new(
            move || Ok(McpHandler::new(factory_shared.clone())),
            Arc::new(LocalSessionManager::default()),
            options.config(sessions.clone()),
        )),
        posts: posts.clone(),
    };
    let router = Router::new()
        .route("/health", get(health::handler))
        .with_state(health)
        .nest_service("/mcp", mcp);
    // Without TCP_NODELAY, responses written in pieces wait for delayed ACKs: ~44 ms per call.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let stop_accepting = shutdown.clone();
    let server = axum::serve(listener, router)
        .with_graceful_shutdown(async move { stop_accepting.cancelled().await })
        .into_future();
    let grace = options.shutdown_grace;
    let task_shutdown = shutdown.clone();
    let task = tokio::spawn(async move {
        let server = tokio::spawn(server);
        task_shutdown.cancelled().await;
        drain(&posts, grace).await;
        // Close the sessions' event streams so that their connections end too.
        sessions.cancel();
        match tokio::time::timeout(Duration::from_secs(5), server).await {
            Ok(Ok(result)) => result.context("the HTTP server failed"),
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

/// `/mcp`: rmcp's streamable HTTP service, called through a shared reference (its own `Service` impl
/// and a `from_fn` middleware would each clone it, configuration included, on every request), plus
/// the two things rmcp does not do for us, kept off the hot path: POSTs counted as in flight for
/// shutdown, and rmcp's `415` for an unparseable body turned into a JSON-RPC parse error.
#[derive(Clone)]
struct McpEndpoint {
    rmcp: Arc<StreamableHttpService<McpHandler, LocalSessionManager>>,
    posts: TaskTracker,
}

impl tower_service::Service<Request> for McpEndpoint {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let rmcp = self.rmcp.clone();
        // GET streams are not counted: they last as long as a session.
        let in_flight = (request.method() == http::Method::POST).then(|| self.posts.token());
        Box::pin(async move {
            let response = rmcp.handle(request).await;
            if is_rmcp_parse_error(&response) {
                return Ok(json_rpc_parse_error(response).await);
            }
            Ok(response.map(|body| match in_flight {
                Some(token) => Body::new(InFlight {
                    body,
                    _token: token,
                }),
                None => Body::new(body),
            }))
        })
    }
}

/// A response body that keeps its POST counted as in flight until it has been sent: the handler's
/// own token ends when it returns, before rmcp has written the answer to the request's event stream,
/// and shutdown must not close the sessions in between.
struct InFlight<B> {
    body: B,
    _token: TaskTrackerToken,
}

impl<B: http_body::Body + Unpin> http_body::Body for InFlight<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// rmcp answers an unparseable POST body with `415 text/plain` ("fail to deserialize request body").
fn is_rmcp_parse_error<B>(response: &http::Response<B>) -> bool {
    response.status() == http::StatusCode::UNSUPPORTED_MEDIA_TYPE
        && response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .is_none_or(|v| v.as_bytes().starts_with(b"text/plain"))
}

/// JSON-RPC clients expect a `-32700` parse error object where rmcp sends plain text.
async fn json_rpc_parse_error<B>(response: http::Response<B>) -> Response
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(Body::new(body), 64 * 1024).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let text = String::from_utf8_lossy(&bytes);
    let Some(detail) = text.strip_prefix("fail to deserialize request body") else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let error = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {
            "code": -32700,
            "message": format!("Parse error: the body is not a JSON-RPC message ({})", detail.trim()),
        },
    });
    (http::StatusCode::BAD_REQUEST, axum::Json(error)).into_response()
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
