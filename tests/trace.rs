//! The README's trace claims, end to end against real server processes over streamable HTTP: the W3C
//! `traceparent` header continued in a new span, the trace fields on lines a tool logs itself (also
//! from code it calls, after an `.await`), and the events of resource reads and prompts.

use cm_mcp::rmcp::model::{GetPromptRequestParams, ReadResourceRequestParams};
use cm_test_support::{
    HttpProcess, Logs, TIMEOUT, TRACE_KEYS, args, assert_hex, bounded, call_tool, connect_http,
    keys_in_order, text_contents, text_of,
};
use serde_json::{Value, json};

const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const CALLER_SPAN: &str = "b7ad6b7169203331";
const API_KEY: &str = "sk-trace-test-91c2";
/// `printf %s sk-trace-test-91c2 | sha256sum`, first 16 hex characters.
const API_KEY_HASH: &str = "9dd51f056bc81748";

/// The last six keys of `line`, which must be [`TRACE_KEYS`].
fn assert_ends_with_trace_keys(line: &str) {
    let keys = keys_in_order(line);
    assert!(keys.len() > TRACE_KEYS.len(), "{line}");
    assert_eq!(keys[keys.len() - TRACE_KEYS.len()..], TRACE_KEYS, "{line}");
}

/// Waits for the event of `event_type` whose `data.<key>` is `value`; returns (raw line, event).
async fn event_with(logs: &Logs, event_type: &str, key: &str, value: &str) -> (String, Value) {
    logs.wait_for(format!("`{event_type}` with data.{key} = {value}"), |v| {
        v["event_type"] == event_type && v["data"][key] == value
    })
    .await
}

#[tokio::test]
async fn the_w3c_traceparent_header_is_continued_in_a_new_span_of_the_call() {
    bounded(
        "the_w3c_traceparent_header_is_continued_in_a_new_span_of_the_call",
        async {
            let mut server = HttpProcess::start("my-service", &[], &[]).await;
            let traceparent = format!("00-{TRACE_ID}-{CALLER_SPAN}-01");
            // No platform X-Trace-ID header: the trace can only come from `traceparent`.
            let client =
                connect_http(&server.mcp_url(), &[("traceparent", &traceparent)], None).await;
            let result = call_tool(&client, "my_tool", json!({"input_param": "w3c"})).await;
            assert_eq!(text_of(&result), "Processed: w3c");

            let (start_line, start) = server
                .logs
                .wait_for_tool("tool.execution.start", "my_tool")
                .await;
            let (_, complete) = server
                .logs
                .wait_for_tool("tool.execution.complete", "my_tool")
                .await;
            assert_ends_with_trace_keys(&start_line);
            for event in [&start, &complete] {
                assert_eq!(event["trace_id"], TRACE_ID, "{event}");
                assert_eq!(event["parent_span_id"], CALLER_SPAN, "{event}");
            }
            let span = start["span_id"].as_str().expect("a span id");
            assert_hex(span, 16);
            assert_ne!(span, CALLER_SPAN, "the call must run in a span of its own");
            assert_eq!(complete["span_id"], span);

            client.cancel().await.unwrap();
            assert!(server.terminate().await.success());
        },
    )
    .await;
}

#[tokio::test]
async fn lines_a_tool_logs_itself_carry_the_trace_fields_of_its_call() {
    bounded(
        "lines_a_tool_logs_itself_carry_the_trace_fields_of_its_call",
        async {
            let mut server = HttpProcess::start("fixture-server", &[], &[]).await;
            let client = connect_http(
                &server.mcp_url(),
                &[
                    ("x-trace-id", TRACE_ID),
                    ("x-span-id", CALLER_SPAN),
                    ("x-session-id", "session-own-lines"),
                    ("x-origin-service", "agent-api"),
                ],
                Some(API_KEY),
            )
            .await;
            let result = call_tool(&client, "log_note", json!({"note": "hello"})).await;
            assert_eq!(text_of(&result), "logged hello");

            let (_, start) = server
                .logs
                .wait_for_tool("tool.execution.start", "log_note")
                .await;
            let span = start["span_id"].as_str().expect("a span id");
            assert_hex(span, 16);
            for place in ["tool", "callee"] {
                let (line, note) = event_with(&server.logs, "fixture.note", "place", place).await;
                assert_ends_with_trace_keys(&line);
                assert_eq!(note["data"]["note"], "hello", "{line}");
                assert_eq!(note["trace_id"], TRACE_ID, "{line}");
                assert_eq!(note["span_id"], span, "{line}");
                assert_eq!(note["parent_span_id"], CALLER_SPAN, "{line}");
                assert_eq!(note["session_id"], "session-own-lines", "{line}");
                assert_eq!(note["api_key_hash"], API_KEY_HASH, "{line}");
                assert_eq!(note["origin_service"], "agent-api", "{line}");
            }

            client.cancel().await.unwrap();
            assert!(server.terminate().await.success());
            let all = server.logs.dump();
            assert!(!all.contains(API_KEY), "the API key was logged:\n{all}");
        },
    )
    .await;
}

#[tokio::test]
async fn resource_reads_and_prompts_log_start_and_complete_events_in_the_callers_trace() {
    bounded(
        "resource_reads_and_prompts_log_start_and_complete_events_in_the_callers_trace",
        async {
            let mut server = HttpProcess::start("fixture-server", &[], &[]).await;
            let client = connect_http(
                &server.mcp_url(),
                &[("x-trace-id", TRACE_ID), ("x-span-id", CALLER_SPAN)],
                None,
            )
            .await;

            let read = tokio::time::timeout(
                TIMEOUT,
                client.read_resource(ReadResourceRequestParams::new("fixture://items/42")),
            )
            .await
            .expect("resources/read timed out")
            .expect("resources/read");
            let (_, _, text) = text_contents(&read.contents);
            assert_eq!(text, "item 42");

            let mut prompt = GetPromptRequestParams::new("summarize");
            prompt.arguments = Some(args(json!({"topic": "tracing"})));
            let got = tokio::time::timeout(TIMEOUT, client.get_prompt(prompt))
                .await
                .expect("prompts/get timed out")
                .expect("prompts/get");
            assert_eq!(got.messages.len(), 1);

            let uri = "fixture://items/42";
            let (resource_start_line, resource_start) =
                event_with(&server.logs, "resource.read.start", "resource_uri", uri).await;
            let (resource_done_line, resource_done) =
                event_with(&server.logs, "resource.read.complete", "resource_uri", uri).await;
            assert_eq!(resource_start["event"], "Resource read started");
            assert_eq!(resource_done["success"], true);
            assert_eq!(resource_done["data"]["result_length"], "item 42".len());
            assert!(resource_done["duration_ms"].is_f64(), "{resource_done}");

            let (prompt_start_line, prompt_start) =
                event_with(&server.logs, "prompt.get.start", "prompt_name", "summarize").await;
            let (prompt_done_line, prompt_done) = event_with(
                &server.logs,
                "prompt.get.complete",
                "prompt_name",
                "summarize",
            )
            .await;
            assert_eq!(prompt_start["event"], "Prompt requested");
            assert_eq!(prompt_done["success"], true);
            assert_eq!(prompt_done["data"]["message_count"], 1);
            assert!(prompt_done["duration_ms"].is_f64(), "{prompt_done}");

            for (line, event) in [
                (&resource_start_line, &resource_start),
                (&resource_done_line, &resource_done),
                (&prompt_start_line, &prompt_start),
                (&prompt_done_line, &prompt_done),
            ] {
                assert_ends_with_trace_keys(line);
                assert_eq!(event["level"], "info", "{line}");
                assert_eq!(event["trace_id"], TRACE_ID, "{line}");
                assert_eq!(event["parent_span_id"], CALLER_SPAN, "{line}");
            }
            // Each is a call of its own: one span for its two events, another for the other call's.
            assert_eq!(resource_start["span_id"], resource_done["span_id"]);
            assert_eq!(prompt_start["span_id"], prompt_done["span_id"]);
            assert_ne!(resource_start["span_id"], prompt_start["span_id"]);

            client.cancel().await.unwrap();
            assert!(server.terminate().await.success());
        },
    )
    .await;
}
