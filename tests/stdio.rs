//! The example server and the fixture server over stdio, with rmcp's client spawning them as child
//! processes: tools, resources, templates, prompts, client log messages, and a graceful exit when
//! the client closes stdin.

// Client logging (notifications/message) is deprecated by SEP-2577; servers built with cm-mcp still
// send it, and this file checks that they do.
#![allow(deprecated)]

mod common;

use std::{
    collections::BTreeMap,
    process::Stdio,
    sync::{Arc, Mutex},
};

use cm_mcp::rmcp::{
    ClientHandler, RoleClient,
    model::{
        CallToolRequestParams, GetPromptRequestParams, LoggingLevel,
        LoggingMessageNotificationParam, ReadResourceRequestParams,
    },
    service::NotificationContext,
};
use cm_test_support::{
    TIMEOUT, args, bounded, call_tool_with, command, connect_stdio, text_contents, text_of,
    wait_exit, within,
};
use common::gate::Gate;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[tokio::test]
async fn my_service_serves_its_tool_and_resource_over_stdio() {
    let server = connect_stdio("my-service", &["--stdio"], &[]).await;
    let client = &server.client;

    let info = client.peer_info().expect("initialized");
    let implementation = info.server_info.clone().expect("serverInfo");
    assert_eq!(implementation.name, "my-fastmcp-service");
    assert_eq!(
        info.instructions.as_deref(),
        Some("Use my_tool to process text; read my-service://info for the service's status.")
    );

    let tools = within("tools/list", client.list_all_tools()).await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["my_tool"]);

    let result = call_tool_with(
        client,
        CallToolRequestParams::new("my_tool").with_arguments(args(json!({"input_param": "hi"}))),
    )
    .await;
    assert_eq!(result.is_error, Some(false));
    assert_eq!(text_of(&result), "Processed: hi");

    let read = within(
        "resources/read my-service://info",
        client.read_resource(ReadResourceRequestParams::new("my-service://info")),
    )
    .await
    .unwrap();
    let (uri, mime_type, text) = text_contents(&read.contents);
    assert_eq!(uri, "my-service://info");
    assert_eq!(mime_type, Some("application/json"));
    // Locally, without `MYSERVICE_URL`, the service says it is not connected and how to fix it.
    let info: Value = serde_json::from_str(text).unwrap();
    assert_eq!(info["status"], "unavailable", "{info}");
    assert_eq!(info["service_name"], "my-fastmcp-service");
    assert_eq!(
        info["service_description"],
        "A template MCP server for the ConfidentialMind stack"
    );
    assert_eq!(info["url"], Value::Null);
    assert!(
        info["message"]
            .as_str()
            .is_some_and(|m| m.contains("MYSERVICE_URL")),
        "{info}"
    );

    // stdout carries only the protocol: the logs are on stderr.
    server.logs.wait_for_event("tool.execution.complete").await;
    within("closing the client", server.client.cancel())
        .await
        .unwrap();
}

#[tokio::test]
async fn templates_and_prompts_over_stdio() {
    let server = connect_stdio("fixture-server", &["--stdio"], &[]).await;
    let client = &server.client;

    let templates = within(
        "resources/templates/list",
        client.list_all_resource_templates(),
    )
    .await
    .unwrap();
    assert_eq!(
        serde_json::to_value(&templates).unwrap(),
        json!([{
            "uriTemplate": "fixture://items/{id}",
            "name": "item",
            "description": "One item, by id.",
            "mimeType": "text/plain",
        }])
    );
    let read = within(
        "resources/read fixture://items/42",
        client.read_resource(ReadResourceRequestParams::new("fixture://items/42")),
    )
    .await
    .unwrap();
    assert_eq!(
        text_contents(&read.contents),
        ("fixture://items/42", Some("text/plain"), "item 42")
    );

    let prompts = within("prompts/list", client.list_all_prompts())
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&prompts).unwrap(),
        json!([{
            "name": "panicking_prompt",
            "description": "A prompt whose code panics.",
        }, {
            "name": "summarize",
            "description": "Asks for a summary of a topic.",
            "arguments": [{"name": "topic", "description": "What to summarize.", "required": true}],
        }])
    );
    let prompt = within(
        "prompts/get summarize",
        client.get_prompt(
            GetPromptRequestParams::new("summarize")
                .with_arguments(args(json!({"topic": "tides"}))),
        ),
    )
    .await
    .unwrap();
    assert_eq!(prompt.messages.len(), 1);
    assert_eq!(
        prompt.messages[0]
            .content
            .as_text()
            .map(|t| t.text.as_str()),
        Some("Summarize tides in one paragraph.")
    );
    within("closing the client", server.client.cancel())
        .await
        .unwrap();
}

/// A client that records the log messages (`notifications/message`) servers send it.
#[derive(Clone, Default)]
struct RecordingClient {
    messages: Arc<Mutex<Vec<LoggingMessageNotificationParam>>>,
    arrived: Arc<tokio::sync::Notify>,
}

impl ClientHandler for RecordingClient {
    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.messages.lock().unwrap().push(params);
        self.arrived.notify_waiters();
    }
}

impl RecordingClient {
    /// Waits (bounded by [`TIMEOUT`]) until `count` messages have arrived; returns them all.
    async fn wait_for_messages(&self, count: usize) -> Vec<LoggingMessageNotificationParam> {
        let waited = tokio::time::timeout(TIMEOUT, async {
            loop {
                let arrived = self.arrived.notified();
                let messages = self.messages.lock().unwrap().clone();
                if messages.len() >= count {
                    return messages;
                }
                arrived.await;
            }
        })
        .await;
        waited.unwrap_or_else(|_| {
            panic!(
                "{count} log messages did not reach the client within {TIMEOUT:?}; got {:?}",
                self.messages.lock().unwrap()
            )
        })
    }
}

#[tokio::test]
async fn tools_log_to_the_client() {
    let handler = RecordingClient::default();
    let (mut server, client) =
        cm_test_support::connect_owned_stdio("my-service", &["--stdio"], handler.clone()).await;
    let call = |input: &str| {
        CallToolRequestParams::new("my_tool").with_arguments(args(json!({"input_param": input})))
    };
    call_tool_with(&client, call("héllo")).await;
    // A second call, whose message is sent after the first call's answer: once it has arrived,
    // every message of the first call has too, so "exactly one" is a count of all of them.
    call_tool_with(&client, call("hi")).await;
    let messages = handler.wait_for_messages(2).await;
    let texts: Vec<&Value> = messages.iter().map(|m| &m.data).collect();
    assert_eq!(
        texts,
        [
            &json!("Processing input of 5 characters"),
            &json!("Processing input of 2 characters")
        ],
        "{messages:?}"
    );
    assert!(
        messages.iter().all(|m| m.level == LoggingLevel::Info),
        "{messages:?}"
    );

    // Dropping the client's transport closes the server's stdin: it must exit cleanly.
    within("closing the client", client.cancel()).await.unwrap();
    server.wait_clean_exit().await;
}

#[tokio::test]
async fn closing_stdin_shuts_the_server_down_cleanly() {
    let (mut server, client) =
        cm_test_support::connect_owned_stdio("fixture-server", &["--stdio"], ()).await;
    let result = call_tool_with(
        &client,
        CallToolRequestParams::new("sleep_ms").with_arguments(args(json!({"ms": 1}))),
    )
    .await;
    assert_eq!(text_of(&result), "slept 1 ms");
    // Dropping the client's transport closes the server's stdin.
    within("closing the client", client.cancel()).await.unwrap();

    server.wait_clean_exit().await;
    let order: Vec<String> = server
        .logs
        .events()
        .into_iter()
        .filter_map(|v| v["event_type"].as_str().map(str::to_string))
        .filter(|t| t.starts_with("service.shutdown") || t == "fixture.shutdown.hook")
        .collect();
    assert_eq!(
        order,
        [
            "service.shutdown.start",
            "fixture.shutdown.hook",
            "service.shutdown.complete"
        ],
        "stderr:\n{}",
        server.logs.dump()
    );
}

/// How many calls are held in flight when stdin closes.
const HELD: usize = 5;

#[tokio::test]
async fn when_stdin_closes_every_call_in_flight_is_answered_with_its_notifications_and_the_server_exits()
 {
    bounded(
        "when_stdin_closes_every_call_in_flight_is_answered_with_its_notifications_and_the_server_exits",
        async {
            let mut gate = Gate::new().await;
            // A grace period far longer than the test's bound: exiting within the bound shows the
            // server left at its last answer rather than waiting the grace period out.
            let mut child = command("fixture-server")
                .args(["--stdio"])
                .env("MCP_SHUTDOWN_GRACE", "600")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn the fixture server");
            let logs = cm_test_support::Logs::collect(child.stderr.take().unwrap());
            let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();

            // What a host sends before it closes stdin: the handshake, calls that will still talk to
            // the client after stdin has closed, and a quick request behind them.
            let mut input = String::new();
            let mut line = |message: Value| input.push_str(&format!("{message}\n"));
            line(json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "host", "version": "1"}}}));
            line(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
            for id in 1..=HELD {
                line(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
                    "name": "report_after_gate",
                    "arguments": {"gate": gate.addr(), "note": format!("note {id}")},
                    "_meta": {"progressToken": format!("progress {id}")}}}));
            }
            line(json!({"jsonrpc": "2.0", "id": HELD + 1, "method": "tools/list"}));
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(input.as_bytes()).await.unwrap();
            drop(stdin);

            for id in 1..=HELD {
                gate.arrived(&format!("call {id}")).await;
            }
            gate.open();

            let mut answers = BTreeMap::new();
            let (mut messages, mut progress) = (Vec::new(), 0);
            while let Some(line) = within("the server's stdout", stdout.next_line())
                .await
                .expect("read stdout")
            {
                let message: Value = serde_json::from_str(&line).expect("one JSON-RPC message per line");
                match message["method"].as_str() {
                    Some("notifications/message") => messages.push(message["params"]["data"].clone()),
                    Some("notifications/progress") => progress += 1,
                    Some(other) => panic!("unexpected message {other}: {line}"),
                    None => {
                        answers.insert(message["id"].as_u64().expect("an id"), message);
                    }
                }
            }
            let status = wait_exit(&mut child, &logs).await;
            assert!(status.success(), "{status}; stderr:\n{}", logs.dump());

            let answered: Vec<u64> = answers.keys().copied().collect();
            assert_eq!(
                answered,
                (0..=HELD as u64 + 1).collect::<Vec<_>>(),
                "every request is answered; stderr:\n{}",
                logs.dump()
            );
            for id in 1..=HELD as u64 {
                assert_eq!(
                    answers[&id]["result"]["content"][0]["text"],
                    format!("reported note {id}"),
                    "{:?}",
                    answers[&id]
                );
            }
            assert!(answers[&(HELD as u64 + 1)]["result"]["tools"].is_array());
            messages.sort_by_key(|m| m.to_string());
            let expected: Vec<Value> = (1..=HELD).map(|id| json!(format!("note {id}"))).collect();
            assert_eq!(messages, expected, "each call's log message reaches the client");
            assert_eq!(progress, HELD, "each call's progress reaches the client");
        },
    )
    .await;
}

/// What a host writes to my-service's stdin for one call of `my_tool` (id 1) with `input`: the
/// handshake, then the call, one message per line.
fn host_session(input: &str) -> String {
    [
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "host", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "my_tool", "arguments": {"input_param": input}}}),
    ]
    .iter()
    .map(|message| format!("{message}\n"))
    .collect()
}

#[tokio::test]
async fn stdin_and_stdout_that_are_files_instead_of_pipes_are_served_too() {
    bounded(
        "stdin_and_stdout_that_are_files_instead_of_pipes_are_served_too",
        async {
            // Pipes are read and written by the event loop; anything else (here: files, as with
            // `server < requests.jsonl > answers.jsonl`) keeps tokio's blocking streams.
            let dir = tempfile::tempdir().unwrap();
            let requests = dir.path().join("requests.jsonl");
            let answers = dir.path().join("answers.jsonl");
            std::fs::write(&requests, host_session("from a file")).unwrap();
            let mut child = command("my-service")
                .arg("--stdio")
                .stdin(std::fs::File::open(&requests).unwrap())
                .stdout(std::fs::File::create(&answers).unwrap())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn my-service");
            let logs = cm_test_support::Logs::collect(child.stderr.take().unwrap());
            let status = wait_exit(&mut child, &logs).await;
            assert!(status.success(), "{status}; stderr:\n{}", logs.dump());

            let written = std::fs::read_to_string(&answers).unwrap();
            let messages: Vec<Value> = written
                .lines()
                .map(|line| serde_json::from_str(line).expect("one JSON-RPC message per line"))
                .collect();
            let answer = messages
                .iter()
                .find(|m| m["id"] == 1)
                .unwrap_or_else(|| panic!("no answer to the call in {written}"));
            assert_eq!(
                answer["result"]["content"][0]["text"], "Processed: from a file",
                "{written}"
            );
            assert!(
                messages
                    .iter()
                    .any(|m| m["method"] == "notifications/message"),
                "the tool's log message is written too: {written}"
            );
        },
    )
    .await;
}

#[cfg(unix)]
#[tokio::test]
async fn stdin_and_stdout_that_are_unix_sockets_as_node_hosts_give_are_served() {
    bounded(
        "stdin_and_stdout_that_are_unix_sockets_as_node_hosts_give_are_served",
        async {
            use std::{
                io::{Read, Write},
                os::{fd::OwnedFd, unix::net::UnixStream},
            };
            // Node (Claude Desktop, the MCP Inspector) gives a child Unix sockets, not pipes.
            let (mut requests, server_stdin) = UnixStream::pair().unwrap();
            let (mut answers, server_stdout) = UnixStream::pair().unwrap();
            let mut child = command("my-service")
                .arg("--stdio")
                .stdin(Stdio::from(OwnedFd::from(server_stdin)))
                .stdout(Stdio::from(OwnedFd::from(server_stdout)))
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn my-service");
            let logs = cm_test_support::Logs::collect(child.stderr.take().unwrap());
            let input = host_session("over a socket");
            let written = tokio::task::spawn_blocking(move || {
                requests.write_all(input.as_bytes())?;
                // The end of stdin, as when a host closes it.
                requests.shutdown(std::net::Shutdown::Write)?;
                let mut written = String::new();
                answers.read_to_string(&mut written)?;
                Ok::<_, std::io::Error>(written)
            })
            .await
            .unwrap()
            .expect("talk to the server over its sockets");
            let status = wait_exit(&mut child, &logs).await;
            assert!(status.success(), "{status}; stderr:\n{}", logs.dump());

            let answer = written
                .lines()
                .map(|line| {
                    serde_json::from_str::<Value>(line).expect("one JSON-RPC message per line")
                })
                .find(|m| m["id"] == 1)
                .unwrap_or_else(|| panic!("no answer to the call in {written}"));
            assert_eq!(
                answer["result"]["content"][0]["text"], "Processed: over a socket",
                "{written}"
            );
        },
    )
    .await;
}
