//! Outgoing calls: a tool calls its connector's service through `Connection::http`, and the service
//! (an HTTP server of the test's own, the connector's `{ID}_URL`) sees the connector's API key, the
//! platform's five trace headers and a W3C `traceparent` naming the call's span in the caller's trace;
//! a connector with no URL is a tool error saying which variable to set.

use std::sync::{Arc, Mutex};

use axum::{Router, extract::Request};
use cm_test_support::{HttpProcess, TIMEOUT, assert_hex, bounded, call, connect_http, scratch_dir};
use serde_json::json;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";
/// The connector's key (`API_APIKEY`), JWT-shaped as the platform requires.
const CONNECTOR_KEY: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvdXRnb2luZyJ9.c2lnbmF0dXJlLW91dA";
/// The key the MCP client sends the server: it must not travel on to the connector's service.
const CALLER_KEY: &str = "sk-caller-outgoing-5e1d";

/// One request the upstream service received.
#[derive(Debug, Clone)]
struct Received {
    uri: String,
    headers: http::HeaderMap,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// The connector's service: answers every request `ok <path>` and records it.
struct Upstream {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Upstream {
    async fn start() -> Upstream {
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        let router = Router::new().fallback(move |request: Request| {
            let log = log.clone();
            async move {
                let uri = request.uri().to_string();
                log.lock().unwrap().push(Received {
                    uri: uri.clone(),
                    headers: request.headers().clone(),
                });
                format!("ok {uri}")
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Upstream {
            url,
            received,
            task,
        }
    }

    /// The one request received for `uri`.
    fn request_for(&self, uri: &str) -> Received {
        let received = self.received.lock().unwrap();
        let matching: Vec<&Received> = received.iter().filter(|r| r.uri == uri).collect();
        assert_eq!(matching.len(), 1, "requests for {uri}: {received:#?}");
        matching[0].clone()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// platform-fixture with its `API` connector pointed at `upstream` (under the path `/v1`, with a
/// trailing `/` as operators write it), connected.
async fn fixture_calling(upstream: &Upstream, extra: &[(&str, &str)]) -> HttpProcess {
    let url = format!("{}/v1/", upstream.url);
    let mut env = vec![("API_URL", url.as_str()), ("API_APIKEY", CONNECTOR_KEY)];
    env.extend_from_slice(extra);
    let dir = scratch_dir();
    let server = HttpProcess::start_in("platform-fixture", dir.path(), &env).await;
    server
        .wait_health("the API connector connected", TIMEOUT, |h| {
            h["connectors"]["API"]["connected"] == true
        })
        .await;
    server
}

/// The span id of the one call of `tool` whose `data.input_preview` mentions `marker`.
async fn span_of_call(server: &HttpProcess, tool: &str, marker: &str) -> String {
    let (_, start) = server
        .logs
        .wait_for(format!("the start of {tool} for {marker}"), |v| {
            v["event_type"] == "tool.execution.start"
                && v["data"]["tool_name"] == tool
                && v["data"]["input_preview"]
                    .as_str()
                    .is_some_and(|p| p.contains(marker))
        })
        .await;
    let span = start["span_id"].as_str().expect("a span id").to_string();
    assert_hex(&span, 16);
    span
}

/// `00-<trace>-<span>-<flags>`, checked as W3C Trace Context version 00 defines it.
fn parse_traceparent(value: &str) -> (String, String) {
    let parts: Vec<&str> = value.split('-').collect();
    assert_eq!(parts.len(), 4, "traceparent `{value}`");
    assert_eq!(parts[0], "00", "traceparent `{value}`");
    assert_hex(parts[1], 32);
    assert_ne!(parts[1], "0".repeat(32), "an all-zero trace id is invalid");
    assert_hex(parts[2], 16);
    assert_ne!(parts[2], "0".repeat(16), "an all-zero span id is invalid");
    assert_hex(parts[3], 2);
    (parts[1].to_string(), parts[2].to_string())
}

#[tokio::test]
async fn a_tools_outgoing_call_carries_the_connectors_key_and_the_callers_trace_in_the_calls_span()
{
    bounded(
        "a_tools_outgoing_call_carries_the_connectors_key_and_the_callers_trace_in_the_calls_span",
        async {
            let upstream = Upstream::start().await;
            let mut server = fixture_calling(&upstream, &[]).await;
            let client = connect_http(
                &server.mcp_url(),
                &[
                    ("x-trace-id", TRACE_ID),
                    ("x-span-id", CALLER_SPAN),
                    ("x-session-id", "session-outgoing"),
                    ("x-origin-service", "agent-api"),
                ],
                Some(CALLER_KEY),
            )
            .await;

            // Three ways a tool reaches the client: the injected connection in the call's span, the
            // same from a task spawned outside the span, and a connection taken from every
            // connection (no injected trace: the call's span is the only source).
            let cases = [
                (
                    "api_get",
                    json!({"path": "/items?case=injected", "detached": false}),
                ),
                (
                    "api_get",
                    json!({"path": "items?case=detached", "detached": true}),
                ),
                (
                    "connector_get",
                    json!({"connector": "API", "path": "/items?case=state"}),
                ),
            ];
            for (tool, arguments) in cases {
                let path = arguments["path"].as_str().unwrap().to_string();
                let (is_error, text) = call(&client, tool, arguments).await;
                let uri = format!("/v1/{}", path.trim_start_matches('/'));
                assert!(!is_error, "{tool} {path}: {text}");
                assert_eq!(text, format!("200 ok {uri}"));

                let span = span_of_call(&server, tool, &path).await;
                let request = upstream.request_for(&uri);
                let expected = [
                    ("authorization", format!("Bearer {CONNECTOR_KEY}")),
                    ("x-trace-id", TRACE_ID.to_string()),
                    ("x-span-id", span.clone()),
                    ("x-parent-span-id", CALLER_SPAN.to_string()),
                    ("x-session-id", "session-outgoing".to_string()),
                    ("x-origin-service", "agent-api".to_string()),
                    ("traceparent", format!("00-{TRACE_ID}-{span}-01")),
                ];
                for (name, value) in expected {
                    assert_eq!(
                        request.header(name),
                        Some(value.as_str()),
                        "{tool} {path}: {name} in {:?}",
                        request.headers
                    );
                }
                parse_traceparent(request.header("traceparent").unwrap());
                assert!(
                    request
                        .header("user-agent")
                        .is_some_and(|ua| ua.starts_with("cm-mcp/")),
                    "{:?}",
                    request.headers
                );
            }

            client.cancel().await.unwrap();
            assert!(server.terminate().await.success());
            let all = server.logs.dump();
            assert!(
                !all.contains(CONNECTOR_KEY),
                "the connector's key was logged:\n{all}"
            );
        },
    )
    .await;
}

#[tokio::test]
async fn a_caller_with_only_a_w3c_traceparent_gets_its_trace_continued_in_both_header_sets() {
    bounded(
        "a_caller_with_only_a_w3c_traceparent_gets_its_trace_continued_in_both_header_sets",
        async {
            let upstream = Upstream::start().await;
            let mut server = fixture_calling(&upstream, &[]).await;
            let caller = format!("00-{TRACE_ID}-{CALLER_SPAN}-01");
            let client = connect_http(&server.mcp_url(), &[("traceparent", &caller)], None).await;
            let (is_error, text) = call(
                &client,
                "api_get",
                json!({"path": "/w3c", "detached": false}),
            )
            .await;
            assert!(!is_error, "{text}");
            let span = span_of_call(&server, "api_get", "/w3c").await;

            let request = upstream.request_for("/v1/w3c");
            let (trace, parent) = parse_traceparent(request.header("traceparent").unwrap());
            assert_eq!(trace, TRACE_ID, "{:?}", request.headers);
            // The service called is a child of this call's span, not of our caller's.
            assert_eq!(parent, span);
            assert_eq!(request.header("x-trace-id"), Some(TRACE_ID));
            assert_eq!(request.header("x-span-id"), Some(span.as_str()));
            assert_eq!(request.header("x-parent-span-id"), Some(CALLER_SPAN));
            // No X-Session-ID from the caller: the MCP session stands for it.
            let session = request.header("x-session-id").expect("a session id");
            assert!(!session.is_empty(), "{:?}", request.headers);
            // Not the caller's key: the connector's.
            assert_eq!(
                request.header("authorization"),
                Some(format!("Bearer {CONNECTOR_KEY}").as_str())
            );

            client.cancel().await.unwrap();
            assert!(server.terminate().await.success());
        },
    )
    .await;
}

#[tokio::test]
async fn a_connector_without_a_url_or_with_a_database_host_is_a_tool_error_that_says_what_to_do() {
    bounded(
        "a_connector_without_a_url_or_with_a_database_host_is_a_tool_error_that_says_what_to_do",
        async {
            let upstream = Upstream::start().await;
            let mut server = fixture_calling(
                &upstream,
                &[("T_DATABASE_URL", "db.example.internal:5432")],
            )
            .await;
            let client = server.client().await;

            // T_API is declared but has no T_API_URL.
            let (is_error, text) = call(
                &client,
                "connector_get",
                json!({"connector": "T_API", "path": "/x"}),
            )
            .await;
            assert!(is_error, "{text}");
            assert!(text.contains("(T_API) is not connected yet"), "{text}");
            assert!(text.contains("locally set T_API_URL"), "{text}");

            let (is_error, text) = call(
                &client,
                "connector_get",
                json!({"connector": "T_DATABASE", "path": "/x"}),
            )
            .await;
            assert!(is_error, "{text}");
            assert!(
                text.contains("(T_DATABASE) is a `database` connector whose URL `db.example.internal:5432` is not an HTTP URL"),
                "{text}"
            );

            let (_, failed) = server
                .logs
                .wait_for("the not-connected error of connector_get", |v| {
                    v["event_type"] == "tool.execution.error" && v["error_type"] == "NotConnected"
                })
                .await;
            assert_eq!(failed["data"]["tool_name"], "connector_get", "{failed}");
            assert!(upstream.received.lock().unwrap().is_empty());

            client.cancel().await.unwrap();
            assert!(server.terminate().await.success());
        },
    )
    .await;
}
