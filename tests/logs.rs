//! The platform's JSON log events as a real server process writes them to stderr: key order, trace
//! fields taken from the caller (HTTP headers, or `_meta.traceparent` over stdio), API key hashing,
//! validation and execution errors, and secrets kept out.

use cm_mcp::rmcp::model::{CallToolRequestParams, RequestMetaObject};
use cm_test_support::{
    HttpProcess, Logs, TRACE_KEYS, args, assert_hex, assert_platform_timestamp, call_tool_with,
    connect_http, connect_stdio, keys_in_order, text_of, within,
};
use serde_json::{Value, json};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";
const API_KEY: &str = "sk-test-6f1d2c";
/// `printf %s sk-test-6f1d2c | sha256sum`, first 16 hex characters.
const API_KEY_HASH: &str = "ed8f770f5a79cde1";

fn expected_keys(head: &[&str]) -> Vec<String> {
    head.iter()
        .chain(["event", "level", "timestamp"].iter())
        .chain(TRACE_KEYS.iter())
        .map(|k| k.to_string())
        .collect()
}

/// Waits for the `event_type` event of the call to `tool` in trace `trace_id`.
async fn call_event(logs: &Logs, event_type: &str, tool: &str, trace_id: &str) -> (String, Value) {
    logs.wait_for(
        format!("`{event_type}` of {tool} in trace {trace_id}"),
        |v| {
            v["event_type"] == event_type
                && v["data"]["tool_name"] == tool
                && v["trace_id"] == trace_id
        },
    )
    .await
}

/// A call of `tool` with `arguments` whose `_meta.traceparent` continues trace `trace_id` from
/// [`CALLER_SPAN`].
fn traced_call(tool: &'static str, arguments: Value, trace_id: &str) -> CallToolRequestParams {
    let mut meta = RequestMetaObject::new();
    meta.set_traceparent(format!("00-{trace_id}-{CALLER_SPAN}-01"));
    let mut params = CallToolRequestParams::new(tool).with_arguments(args(arguments));
    params.meta = Some(meta);
    params
}

/// Waits for the start and completion events of the call to `tool` in trace `trace_id`, called
/// from [`CALLER_SPAN`]; checks what every transport has in common: the start event's key order,
/// and one new span for both events, a child of the caller's. Returns (raw line, event) of each.
async fn expect_tool_events(
    logs: &Logs,
    tool: &str,
    trace_id: &str,
) -> ((String, Value), (String, Value)) {
    let (start_line, start) = call_event(logs, "tool.execution.start", tool, trace_id).await;
    let complete = call_event(logs, "tool.execution.complete", tool, trace_id).await;
    assert_eq!(
        keys_in_order(&start_line),
        expected_keys(&["event_type", "data"]),
        "{start_line}"
    );
    for event in [&start, &complete.1] {
        assert_eq!(event["parent_span_id"], CALLER_SPAN, "{event}");
    }
    // The call runs in a new span of its own: one id for all its events.
    let span = start["span_id"].as_str().unwrap();
    assert_hex(span, 16);
    assert_ne!(span, CALLER_SPAN);
    assert_eq!(complete.1["span_id"], span);
    ((start_line, start), complete)
}

/// Waits for the `event_type` error event of the call to `tool` in trace `trace_id`, and checks
/// the key order and `success` every error event has.
async fn expect_error_event(logs: &Logs, event_type: &str, tool: &str, trace_id: &str) -> Value {
    let (line, event) = call_event(logs, event_type, tool, trace_id).await;
    assert_eq!(
        keys_in_order(&line),
        expected_keys(&[
            "event_type",
            "duration_ms",
            "success",
            "data",
            "error",
            "error_type"
        ]),
        "{line}"
    );
    assert_eq!(event["success"], false);
    event
}

#[tokio::test]
async fn http_call_events_continue_the_callers_trace() {
    let mut server = HttpProcess::start("my-service", &[], &[]).await;
    let client = connect_http(
        &server.mcp_url(),
        &[
            ("x-trace-id", TRACE_ID),
            ("x-span-id", CALLER_SPAN),
            ("x-session-id", "session-42"),
            ("x-origin-service", "agent-api"),
        ],
        Some(API_KEY),
    )
    .await;
    let params = CallToolRequestParams::new("my_tool")
        .with_arguments(args(json!({"input_param": "hello logs"})));
    let called = std::time::Instant::now();
    let result = call_tool_with(&client, params).await;
    let round_trip_ms = called.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(text_of(&result), "Processed: hello logs");

    let ((_, start), (complete_line, complete)) =
        expect_tool_events(&server.logs, "my_tool", TRACE_ID).await;
    assert_eq!(
        keys_in_order(&complete_line),
        expected_keys(&["event_type", "duration_ms", "success", "data"]),
        "{complete_line}"
    );

    for event in [&start, &complete] {
        assert_eq!(event["level"], "info");
        assert_eq!(event["trace_id"], TRACE_ID);
        assert_eq!(event["session_id"], "session-42");
        assert_eq!(event["origin_service"], "agent-api");
        assert_eq!(event["api_key_hash"], API_KEY_HASH);
        assert_platform_timestamp(event["timestamp"].as_str().unwrap());
    }
    let span = start["span_id"].as_str().unwrap();

    assert_eq!(start["event"], "Tool execution started");
    assert_eq!(
        start["data"],
        json!({
            "tool_name": "my_tool",
            "input_length": r#"{"input_param":"hello logs"}"#.len(),
            "input_preview": r#"{"input_param":"hello logs"}"#,
        })
    );
    assert_eq!(complete["event"], "Tool execution completed");
    assert_eq!(complete["success"], true);
    // The server timed the call itself: a positive duration inside the client's round trip.
    let duration_ms = complete["duration_ms"]
        .as_f64()
        .expect("duration_ms is a number");
    assert!(
        duration_ms > 0.0 && duration_ms <= round_trip_ms,
        "duration_ms {duration_ms} outside (0, {round_trip_ms}]"
    );
    assert_eq!(
        complete["data"],
        json!({"tool_name": "my_tool", "result_length": "Processed: hello logs".len()})
    );

    // A second call gets a new span in the same trace.
    let params =
        CallToolRequestParams::new("my_tool").with_arguments(args(json!({"input_param": "again"})));
    call_tool_with(&client, params).await;
    let (_, second) = server
        .logs
        .wait_for("the second call's start event", |v| {
            v["event_type"] == "tool.execution.start"
                && v["data"]["input_preview"] == r#"{"input_param":"again"}"#
        })
        .await;
    assert_eq!(second["trace_id"], TRACE_ID);
    assert_ne!(second["span_id"], span);

    // The API key itself appears nowhere, even after a full shutdown flushed every line.
    within("closing the client", client.cancel()).await.unwrap();
    server.terminate_cleanly().await;
    let all = server.logs.dump();
    assert!(all.contains("service.shutdown.complete"), "{all}");
    assert!(!all.contains(API_KEY), "the API key was logged:\n{all}");
}

#[tokio::test]
async fn lifecycle_events_without_a_trace_have_no_trace_fields() {
    let mut server = HttpProcess::start("my-service", &[], &[]).await;
    let (line, start) = server.logs.wait_for_event("service.init.start").await;
    assert_eq!(
        keys_in_order(&line),
        ["event_type", "data", "event", "level", "timestamp"],
        "{line}"
    );
    assert_eq!(
        start["data"],
        json!({
            "service": "my-fastmcp-service",
            "server_mode": "local",
            "transport": "streamable-http",
        })
    );
    let (_, ready) = server
        .logs
        .wait_for("the address event", |v| v["data"]["address"].is_string())
        .await;
    assert_eq!(ready["success"], true);
    assert_eq!(ready["event_type"], "service.ready");
    assert_eq!(ready["data"]["transport"], "streamable-http");
    assert_eq!(
        ready["event"],
        format!("Serving MCP at {}/mcp", server.base)
    );
    // Initialization has its own event, before the server is ready: my-service has no startup hook.
    let events = server.logs.events();
    let position = |t: &str| events.iter().position(|v| v["event_type"] == t);
    let init = position("service.init.complete").expect("a service.init.complete event");
    assert_eq!(events[init]["data"]["startup_hook"], false);
    assert!(Some(init) < position("service.ready"), "{events:?}");
    server.terminate_cleanly().await;
}

#[tokio::test]
async fn stdio_call_events_continue_the_meta_traceparent() {
    let server = connect_stdio("my-service", &["--stdio"], &[]).await;
    let params = traced_call("my_tool", json!({"input_param": "over stdio"}), TRACE_ID);
    let result = call_tool_with(&server.client, params).await;
    assert_eq!(text_of(&result), "Processed: over stdio");

    let ((_, start), (_, complete)) = expect_tool_events(&server.logs, "my_tool", TRACE_ID).await;
    for event in [&start, &complete] {
        // No HTTP: no session header, no API key, no origin.
        assert_eq!(event["session_id"], Value::Null);
        assert_eq!(event["api_key_hash"], "");
        assert_eq!(event["origin_service"], Value::Null);
    }

    // Without a traceparent, every call starts a trace of its own.
    let params = CallToolRequestParams::new("my_tool")
        .with_arguments(args(json!({"input_param": "untraced"})));
    call_tool_with(&server.client, params).await;
    let (_, untraced) = server
        .logs
        .wait_for("the untraced call's start event", |v| {
            v["event_type"] == "tool.execution.start"
                && v["data"]["input_preview"] == r#"{"input_param":"untraced"}"#
        })
        .await;
    assert_hex(untraced["trace_id"].as_str().unwrap(), 32);
    assert_ne!(untraced["trace_id"], TRACE_ID);
    assert_eq!(untraced["parent_span_id"], Value::Null);

    within("closing the client", server.client.cancel())
        .await
        .unwrap();
}

#[tokio::test]
async fn invalid_arguments_log_a_validation_error() {
    let server = connect_stdio("my-service", &["--stdio"], &[]).await;
    let trace = "11111111111111111111111111111111";
    let params = traced_call("my_tool", json!({"input": "typo"}), trace);
    let result = call_tool_with(&server.client, params).await;
    assert_eq!(result.is_error, Some(true));
    assert_eq!(
        text_of(&result),
        "Invalid arguments for tool `my_tool`: missing required argument `input_param`"
    );

    let event = expect_error_event(&server.logs, "tool.validation.error", "my_tool", trace).await;
    assert_eq!(event["level"], "warning");
    assert_eq!(event["error_type"], "ValidationError");
    assert_eq!(event["error"], "missing required argument `input_param`");
    assert_eq!(event["data"], json!({"tool_name": "my_tool"}));
    within("closing the client", server.client.cancel())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_failing_tool_logs_an_error_event_with_its_type() {
    let server = connect_stdio("fixture-server", &["--stdio"], &[]).await;
    let trace = "22222222222222222222222222222222";
    let params = traced_call("parse_number", json!({"text": "twelve"}), trace);
    let result = call_tool_with(&server.client, params).await;
    assert_eq!(result.is_error, Some(true));
    assert_eq!(text_of(&result), "invalid digit found in string");

    let event =
        expect_error_event(&server.logs, "tool.execution.error", "parse_number", trace).await;
    assert_eq!(event["level"], "error");
    assert_eq!(event["error"], "invalid digit found in string");
    assert_eq!(event["error_type"], "ParseIntError");
    assert_eq!(event["event"], "Tool execution failed");
    within("closing the client", server.client.cancel())
        .await
        .unwrap();
}

const TOKEN: &str = "tok-3c1f0a9e-never-log-me";

async fn store_token_and_collect_logs(extra_args: &[&str]) -> String {
    let mut server = HttpProcess::start("fixture-server", extra_args, &[]).await;
    let client = connect_http(&server.mcp_url(), &[], None).await;
    let params = CallToolRequestParams::new("store_token")
        .with_arguments(args(json!({"label": "billing", "token": TOKEN})));
    let result = call_tool_with(&client, params).await;
    assert_eq!(
        text_of(&result),
        format!("stored a {}-character token for billing", TOKEN.len())
    );
    let (_, start) = server
        .logs
        .wait_for_tool("tool.execution.start", "store_token")
        .await;
    let preview: Value =
        serde_json::from_str(start["data"]["input_preview"].as_str().unwrap()).unwrap();
    assert_eq!(preview, json!({"label": "billing", "token": "***"}));
    within("closing the client", client.cancel()).await.unwrap();
    server.terminate_cleanly().await;
    server.logs.dump()
}

#[tokio::test]
async fn secret_arguments_are_redacted_in_the_logs() {
    let logs = store_token_and_collect_logs(&[]).await;
    assert!(!logs.contains(TOKEN), "the secret was logged:\n{logs}");
}

/// At debug level rmcp logs every request it receives (`received request`, with the arguments), so
/// a secret argument reaches the logs unless the framework keeps rmcp's debug events out.
#[tokio::test]
async fn secret_arguments_stay_out_of_debug_logs() {
    let logs = store_token_and_collect_logs(&["--log-level", "debug"]).await;
    let leaks: Vec<&str> = logs.lines().filter(|l| l.contains(TOKEN)).collect();
    assert!(
        leaks.is_empty(),
        "the secret was logged:\n{}",
        leaks.join("\n")
    );
}
