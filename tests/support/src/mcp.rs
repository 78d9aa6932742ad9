//! MCP requests bounded by [`TIMEOUT`], and what their results hold.

use std::{collections::HashMap, time::Duration};

pub use cm_mcp::testing::ContentExt;
use rmcp::{
    RoleClient, ServiceError, ServiceExt,
    model::{CallToolRequestParams, CallToolResult, ReadResourceRequestParams, ResourceContents},
    service::{Peer, RunningService},
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::Value;
use tokio::{
    task::{JoinError, JoinHandle},
    time::error::Elapsed,
};

use crate::{Logs, TIMEOUT, process::poll_until};

/// An rmcp client session.
pub type Client = RunningService<RoleClient, ()>;

/// Connects an rmcp client over streamable HTTP, sending `headers` (and `Authorization: Bearer
/// <bearer>`) with every request.
pub async fn connect_http(url: &str, headers: &[(&str, &str)], bearer: Option<&str>) -> Client {
    let headers: HashMap<http::HeaderName, http::HeaderValue> = headers
        .iter()
        .map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap()))
        .collect();
    let mut config = StreamableHttpClientTransportConfig::with_uri(url).custom_headers(headers);
    if let Some(key) = bearer {
        config = config.auth_header(key);
    }
    let transport = StreamableHttpClientTransport::from_config(config);
    tokio::time::timeout(TIMEOUT, ().serve(transport))
        .await
        .expect("initialize timed out")
        .expect("initialize over HTTP")
}

/// Calls `tool` with `arguments` (bounded by [`TIMEOUT`]); fails unless a result comes back.
pub async fn call_tool(client: &Peer<RoleClient>, tool: &str, arguments: Value) -> CallToolResult {
    let params = CallToolRequestParams::new(tool.to_string()).with_arguments(args(arguments));
    tokio::time::timeout(TIMEOUT, client.call_tool(params))
        .await
        .expect("tools/call timed out")
        .unwrap_or_else(|e| panic!("tools/call {tool} failed: {e}"))
}

/// Sends `params` (e.g. with a `_meta`) as a `tools/call` (bounded by [`TIMEOUT`]); fails unless a
/// result comes back.
pub async fn call_tool_with(
    client: &Peer<RoleClient>,
    params: CallToolRequestParams,
) -> CallToolResult {
    let tool = params.name.clone();
    tokio::time::timeout(TIMEOUT, client.call_tool(params))
        .await
        .unwrap_or_else(|_| panic!("tools/call {tool} did not answer within {TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("tools/call {tool} failed: {e}"))
}

/// Calls `tool` with `arguments`; returns (is_error, text).
pub async fn call(client: &Peer<RoleClient>, tool: &str, arguments: Value) -> (bool, String) {
    let result = call_tool(client, tool, arguments).await;
    (result.is_error == Some(true), text_of(&result))
}

/// Reads a resource and parses its one text content as JSON; fails unless it is that.
pub async fn read_json(client: &Peer<RoleClient>, uri: &str) -> Value {
    try_read_json(client, uri)
        .await
        .unwrap_or_else(|e| panic!("resources/read {uri} failed: {e}"))
}

/// [`read_json`] for a read that may fail: the MCP error when it does (bounded by [`TIMEOUT`]).
pub async fn try_read_json(client: &Peer<RoleClient>, uri: &str) -> Result<Value, ServiceError> {
    let read = tokio::time::timeout(
        TIMEOUT,
        client.read_resource(ReadResourceRequestParams::new(uri)),
    )
    .await
    .unwrap_or_else(|_| panic!("resources/read {uri} timed out"))?;
    match read.contents.as_slice() {
        [ResourceContents::TextResourceContents { text, .. }] => Ok(serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("{uri} is not JSON ({e}): {text}"))),
        other => panic!("expected one text content from {uri}: {other:?}"),
    }
}

/// Polls a JSON resource until `matches` holds (bounded by `within`).
pub async fn wait_resource(
    client: &Peer<RoleClient>,
    uri: &str,
    within: Duration,
    matches: impl Fn(&Value) -> bool,
) -> Value {
    poll_until(within, || read_json(client, uri), matches)
        .await
        .unwrap_or_else(|last| panic!("{uri} never matched within {within:?}; last: {last}"))
}

/// A fixture-server `sleep_ms` call running in the background.
pub type SlowCall = JoinHandle<Result<CallToolResult, ServiceError>>;

/// Starts a `sleep_ms` call of `ms` on a fixture server in the background and waits (in `logs`)
/// until the server has started it, so that a signal sent next finds it in flight.
pub async fn start_slow_call(client: &Peer<RoleClient>, logs: &Logs, ms: u64) -> SlowCall {
    let call = tokio::spawn({
        let peer = client.clone();
        async move {
            peer.call_tool(
                CallToolRequestParams::new("sleep_ms")
                    .with_arguments(args(serde_json::json!({"ms": ms}))),
            )
            .await
        }
    });
    logs.wait_for_tool("tool.execution.start", "sleep_ms").await;
    call
}

/// The result of a [`SlowCall`] awaited with a timeout: it must have answered, successfully.
/// Fails with the server's stderr otherwise.
pub fn expect_answer(
    answer: Result<Result<Result<CallToolResult, ServiceError>, JoinError>, Elapsed>,
    logs: &Logs,
) -> CallToolResult {
    match answer {
        Ok(joined) => joined
            .unwrap()
            .unwrap_or_else(|e| panic!("the call in flight failed: {e}; stderr:\n{}", logs.dump())),
        Err(_) => panic!("the call in flight got no answer; stderr:\n{}", logs.dump()),
    }
}

/// The text of a tool result's one content, which must be text (`cm_mcp::testing::ContentExt::text`);
/// fails showing the result otherwise.
pub fn text_of(result: &CallToolResult) -> String {
    result.text().to_owned()
}

/// The URI, MIME type and text of the one text content of a resource read; fails unless that is
/// all it has.
pub fn text_contents(contents: &[ResourceContents]) -> (&str, Option<&str>, &str) {
    match contents {
        [
            ResourceContents::TextResourceContents {
                uri,
                mime_type,
                text,
                ..
            },
        ] => (uri, mime_type.as_deref(), text),
        other => panic!("expected one text content, got {other:?}"),
    }
}

/// A JSON object from a `json!` literal, for call arguments.
pub fn args(value: Value) -> serde_json::Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("arguments must be an object, not {other}"),
    }
}
