//! A server for the platform integration tests of cm-mcp: one connector of every type the platform
//! defines (ids `T_<TYPE>`), one of an unknown type (`T_OTHER`), the array connector `agentTools`, and
//! the `api` connector `API` whose reconnect hook counts its runs.
//!
//! `PROBE_HOOK_FAILURES=n` makes the hook's first `n` runs fail, to test its retries.
//! `PROBE_HOOK_GATE=127.0.0.1:PORT` makes every run that would succeed first wait until the test opens
//! that gate (closes the connection): the test decides when "not connected yet" ends.
//!
//! `api_get` and `connector_get` call a connector's service through `Connection::http`, for the
//! tests of outgoing calls (`tests/outgoing.rs`).

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use cm_mcp::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::AsyncReadExt;

connector_id!(
    /// The connector with the reconnect hook.
    Api = "API"
);

/// The fixture's settings (`FIXTURE_NAME`, `FIXTURE_PORT`, `FIXTURE_VERBOSE`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
struct FixtureConfig {
    /// A name.
    name: String,
    /// A port.
    port: u16,
    /// A flag.
    verbose: bool,
}

impl Default for FixtureConfig {
    fn default() -> Self {
        FixtureConfig {
            name: "fixture".into(),
            port: 8080,
            verbose: false,
        }
    }
}

/// How often the reconnect hook ran (failed runs included), shared by the hook and the tools.
#[derive(Default, Clone)]
struct HookRuns(Arc<AtomicU64>);

/// How often the API connector's reconnect hook has run.
#[cm_tool]
async fn hook_runs(runs: State<HookRuns>) -> u64 {
    runs.0.0.load(Ordering::SeqCst)
}

/// The API connector's URL, or the not-connected error.
#[cm_tool]
async fn api_url(api: Connection<Api>) -> Result<String, ToolError> {
    Ok(api.require()?.url().unwrap_or_default().to_string())
}

/// The URL the platform assigns the API connector, connected or not ("" when none).
#[cm_tool]
async fn api_assigned(api: Connection<Api>) -> String {
    api.assigned_url().unwrap_or_default()
}

/// Waits for the API connector, at most `ms` milliseconds.
///
/// # Arguments
/// * `ms` - How long to wait.
#[cm_tool]
async fn wait_api(api: Connection<Api>, ms: u64) -> Result<String, ToolError> {
    let state = api
        .wait_connected(std::time::Duration::from_millis(ms))
        .await?;
    Ok(state.url().unwrap_or_default().to_string())
}

/// The headers the API connector sends, as a JSON object.
#[cm_tool]
async fn api_headers(api: Connection<Api>) -> String {
    let headers: serde_json::Map<String, Value> = api
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().into()))
        .collect();
    Value::Object(headers).to_string()
}

/// GETs `path` from the API connector through its HTTP client; answers `<status> <body>`.
///
/// # Arguments
/// * `path` - The path on the connector's URL.
/// * `detached` - Send it from a task the tool spawns, outside the call's span.
#[cm_tool]
async fn api_get(api: Connection<Api>, path: String, detached: bool) -> Result<String, ToolError> {
    let request = api.http()?.get(&path);
    let response = if detached {
        // A plain `tokio::spawn`, not instrumented: the trace can only come with the connection.
        tokio::spawn(request.send())
            .await
            .map_err(ToolError::internal)??
    } else {
        request.send().await?
    };
    Ok(format!(
        "{} {}",
        response.status().as_u16(),
        response.text().await?
    ))
}

/// GETs `path` from the connector `connector`, taken from every connection rather than injected.
///
/// # Arguments
/// * `connector` - The connector's config_id.
/// * `path` - The path on the connector's URL.
#[cm_tool]
async fn connector_get(
    connections: State<cm_mcp::Connections>,
    connector: String,
    path: String,
) -> Result<String, ToolError> {
    let connection = connections
        .get(&connector)
        .ok_or_else(|| ToolError::not_found(format!("no connector `{connector}`")))?;
    let response = connection.http()?.get(&path).send().await?;
    Ok(format!(
        "{} {}",
        response.status().as_u16(),
        response.text().await?
    ))
}

/// The current settings, as JSON.
#[cm_tool]
async fn config(settings: Settings<FixtureConfig>) -> String {
    serde_json::to_string(&*settings.get()).unwrap_or_default()
}

/// The mode the server runs in, as `<server_mode>:<service name>`.
#[cm_tool]
async fn mode(mode: Mode) -> String {
    format!(
        "{}:{}",
        mode.as_str(),
        mode.service_name().unwrap_or_default()
    )
}

/// A connection taken without a marker, on a server with several connectors.
#[cm_tool]
async fn ambiguous(conn: Connection) -> String {
    conn.id().to_string()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let failures: u64 = std::env::var("PROBE_HOOK_FAILURES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let gate = std::env::var("PROBE_HOOK_GATE").ok();
    let runs = HookRuns::default();
    let hook_runs = runs.clone();
    let api = Connector::api("API", "The API").on_change(move |state| {
        let run = hook_runs.0.fetch_add(1, Ordering::SeqCst) + 1;
        let url = state.url().unwrap_or_default().to_string();
        let mode = state.mode().clone();
        let gate = gate.clone();
        async move {
            tracing::info!(
                event_type = "fixture.hook.run",
                data.run = run,
                data.url = url.as_str(),
                data.mode = mode.as_str(),
                data.service_name = mode.service_name().unwrap_or_default(),
                "Reconnect hook run {run} for {url}"
            );
            anyhow::ensure!(run > failures, "simulated failure {run} of {failures}");
            if let Some(gate) = gate {
                let mut gate = tokio::net::TcpStream::connect(gate).await?;
                // The test opens it by closing the connection.
                gate.read_to_end(&mut Vec::new()).await?;
            }
            Ok(())
        }
    });
    let mut server = Server::new("platform-fixture")
        .settings::<FixtureConfig>("FIXTURE_")
        .state(runs)
        .connector(api);
    for kind in ConnectorType::all() {
        let id = format!("T_{}", kind.as_str().to_ascii_uppercase());
        server = server.connector(Connector::new(kind, id, "A connector"));
    }
    server
        .connector(Connector::new(
            ConnectorType::Other("custom_thing".into()),
            "T_OTHER",
            "An unknown type",
        ))
        .connector(Connector::array(
            ConnectorType::AgentTool,
            "agentTools",
            "MCP Tool Servers",
        ))
        .run()
        .await
}
