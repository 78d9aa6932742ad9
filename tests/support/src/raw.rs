//! Raw JSON-RPC over streamable HTTP, for what rmcp's client does not show (status codes, headers,
//! the response's content type).

use serde_json::Value;

use crate::TIMEOUT;

/// An `initialize` request of protocol 2025-06-18, id 1.
pub const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;

/// A raw MCP POST of `body` to `url`, as a client that accepts both JSON and event streams
/// (bounded by [`TIMEOUT`]).
pub fn post(url: &str, body: &'static str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .timeout(TIMEOUT)
        .body(body)
}

/// The JSON body of a stateless server's answer, after checking that it is one: 200, plain
/// `application/json` (no event stream), and no `mcp-session-id`.
pub async fn stateless_json(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("mcp-session-id").is_none());
    json_body(response).await
}

/// The body of a plain `application/json` answer (not an event stream), after checking that it is one.
pub async fn json_body(response: reqwest::Response) -> Value {
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    response.json().await.expect("a JSON body")
}
