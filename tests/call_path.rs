//! The one call path, as clients see it: argument names checked against the real arguments only,
//! requests that do not parse answered with what was wrong, panics in an author's code answered as
//! errors while the server goes on serving, and a custom injected parameter (`FromCall`) end to end.

use std::process::Stdio;

use cm_test_support::{
    HttpProcess, Logs, TIMEOUT, binary, bounded, call_tool, connect_http, connect_stdio, text_of,
};
use rmcp::model::{GetPromptRequestParams, ReadResourceRequestParams};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    process::{Child, ChildStdin, ChildStdout, Command},
};

#[tokio::test]
async fn an_unknown_argument_is_named_with_only_the_real_arguments() {
    bounded("an_unknown_argument_is_named_with_only_the_real_arguments", async {
    // my_tool takes `ctx: &Context` (injected) and `input_param` (an argument).
    let server = connect_stdio("my-service", &["--stdio"], &[]).await;
    let result = call_tool(
        &server.client,
        "my_tool",
        json!({"input_param": "x", "bogus": 1}),
    )
    .await;
    assert_eq!(result.is_error, Some(true));
    assert_eq!(
        text_of(&result),
        "Invalid arguments for tool `my_tool`: unknown argument `bogus`; expected only `input_param`"
    );
    server.client.cancel().await.unwrap();
    })
    .await;
}

/// A client speaking raw JSON-RPC lines to a stdio server, to send what rmcp's client cannot.
struct RawClient {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    logs: Logs,
}

impl RawClient {
    async fn start(name: &str) -> RawClient {
        let mut child = Command::new(binary(name))
            .arg("--stdio")
            .current_dir(env!("CARGO_TARGET_TMPDIR"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the stdio server");
        let logs = Logs::collect(child.stderr.take().unwrap());
        let mut client = RawClient {
            stdin: child.stdin.take().unwrap(),
            stdout: BufReader::new(child.stdout.take().unwrap()).lines(),
            child,
            logs,
        };
        let init = client
            .request(
                1,
                "initialize",
                json!({
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "raw", "version": "0"}
                }),
            )
            .await;
        assert!(init["result"]["serverInfo"].is_object(), "{init}");
        client
            .send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        client
    }

    async fn send(&mut self, message: Value) {
        let mut line = message.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.unwrap();
    }

    /// Sends a request and returns the response with its id (bounded by [`TIMEOUT`]).
    async fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        let wait = async {
            while let Some(line) = self.stdout.next_line().await.unwrap() {
                let message: Value = serde_json::from_str(&line).expect("a JSON-RPC line");
                if message["id"] == id {
                    return message;
                }
            }
            panic!("stdout closed before the answer to {method}");
        };
        tokio::time::timeout(TIMEOUT, wait)
            .await
            .unwrap_or_else(|_| panic!("no answer to {method}; stderr:\n{}", self.logs.dump()))
    }
}

#[tokio::test]
async fn arguments_that_are_not_an_object_are_invalid_params_naming_arguments() {
    bounded("arguments_that_are_not_an_object_are_invalid_params_naming_arguments", async {
    let mut client = RawClient::start("my-service").await;
    let answer = client
        .request(
            2,
            "tools/call",
            json!({"name": "my_tool", "arguments": "hello"}),
        )
        .await;
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    assert_eq!(
        answer["error"]["message"],
        "invalid params for `tools/call`: `arguments`: invalid type: string \"hello\", expected a map",
    );
    // The refusal is an event of the platform's format, and rmcp's debug text stays out of the log.
    let (_, event) = client.logs.wait_for_event("mcp.request.error").await;
    assert_eq!(event["data"]["method"], "tools/call");
    assert_eq!(event["data"]["code"], -32602);
    // The server goes on serving.
    let answer = client
        .request(
            3,
            "tools/call",
            json!({"name": "my_tool", "arguments": {"input_param": "x"}}),
        )
        .await;
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    assert!(
        !client.logs.dump().contains("ErrorData {"),
        "{}",
        client.logs.dump()
    );
    client.child.kill().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn an_unknown_method_is_answered_naming_it() {
    bounded("an_unknown_method_is_answered_naming_it", async {
    let mut client = RawClient::start("my-service").await;
    let answer = client.request(2, "tools/callx", json!({})).await;
    assert_eq!(answer["error"]["code"], -32601, "{answer}");
    assert_eq!(
        answer["error"]["message"],
        "unknown method `tools/callx`: this server does not implement it; did you mean `tools/call`?"
    );
    let answer = client.request(3, "frobnicate", json!({})).await;
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("unknown method `frobnicate`: this server does not implement it; the methods it serves are: initialize, ping, tools/list, tools/call"),
        "{message}"
    );
    client.child.kill().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_panic_in_a_tool_resource_or_prompt_is_an_error_and_the_server_keeps_serving() {
    bounded(
        "a_panic_in_a_tool_resource_or_prompt_is_an_error_and_the_server_keeps_serving",
        async {
            let server = connect_stdio("fixture-server", &["--stdio"], &[]).await;
            let client = &server.client;

            let result = call_tool(
                client,
                "panics",
                json!({"message": "the tool's secret detail"}),
            )
            .await;
            assert_eq!(result.is_error, Some(true));
            assert_eq!(
                text_of(&result),
                "`panics` failed: the server's code panicked (the server's log has the details)"
            );
            let event = server
                .logs
                .wait_for("the tool's error event", |v| {
                    v["event_type"] == "tool.execution.error" && v["data"]["tool_name"] == "panics"
                })
                .await
                .1;
            assert_eq!(event["error_type"], "Panic");
            assert_eq!(
                event["error"],
                "`panics` panicked: the tool's secret detail"
            );
            // The panic itself is an event too (not the standard hook's raw text), with where it
            // happened, inside the call's trace.
            let (_, panic) = server.logs.wait_for_event("service.panic").await;
            assert_eq!(panic["level"], "error");
            assert_eq!(panic["error"], "the tool's secret detail");
            assert_eq!(panic["error_type"], "Panic");
            let location = panic["data"]["location"].as_str().unwrap_or_default();
            assert!(location.contains("fixture-server/src/main.rs:"), "{panic}");
            assert_eq!(panic["trace_id"], event["trace_id"], "{panic}\n{event}");

            let error = client
                .read_resource(ReadResourceRequestParams::new("fixture://panics"))
                .await
                .expect_err("a panicking resource is an error");
            let text = error.to_string();
            assert!(text.contains("`fixture://panics` failed"), "{text}");
            assert!(!text.contains("secret detail"), "{text}");
            let (_, event) = server.logs.wait_for_event("resource.read.error").await;
            assert_eq!(event["error_type"], "Panic");

            let error = client
                .get_prompt(GetPromptRequestParams::new("panicking_prompt"))
                .await
                .expect_err("a panicking prompt is an error");
            assert!(
                error.to_string().contains("`panicking_prompt` failed"),
                "{error}"
            );
            let (_, event) = server.logs.wait_for_event("prompt.get.error").await;
            assert_eq!(event["error_type"], "Panic");

            let result = call_tool(client, "parse_number", json!({"text": "7"})).await;
            assert_eq!(text_of(&result), "parsed 7");
            server.client.cancel().await.unwrap();
            server.logs.wait_closed().await;
            assert_eq!(server.logs.of_type("service.panic").len(), 3);
            for line in server.logs.lines() {
                assert!(
                    serde_json::from_str::<Value>(&line).is_ok_and(|v| v.is_object()),
                    "every line of the log is one JSON object, panics included: {line}"
                );
            }
        },
    )
    .await;
}

#[tokio::test]
async fn anyhow_and_boxed_errors_are_tool_errors_with_their_chain_and_root_cause_type() {
    bounded(
        "anyhow_and_boxed_errors_are_tool_errors_with_their_chain_and_root_cause_type",
        async {
            let server = connect_stdio("fixture-server", &["--stdio"], &[]).await;
            let client = &server.client;
            let cases = [
                (
                    "require_https",
                    json!({"url": "http://example.com", "port": "443"}),
                    "`http://example.com` is not an https URL",
                    "Error",
                ),
                (
                    "require_https",
                    json!({"url": "https://example.com", "port": "https"}),
                    "reading the port: invalid digit found in string",
                    "ParseIntError",
                ),
                (
                    "read_file",
                    json!({"path": "/nonexistent/cm-mcp-test"}),
                    "No such file or directory (os error 2)",
                    "io::Error",
                ),
            ];
            for (tool, args, message, error_type) in cases {
                let result = call_tool(client, tool, args.clone()).await;
                assert_eq!(result.is_error, Some(true), "{tool} {args}");
                assert_eq!(text_of(&result), message, "{tool} {args}");
                let (_, event) = server
                    .logs
                    .wait_for("the error event", |v| {
                        v["event_type"] == "tool.execution.error" && v["error"] == message
                    })
                    .await;
                assert_eq!(event["error_type"], error_type, "{event}");
            }
            let result = call_tool(
                client,
                "require_https",
                json!({"url": "https://example.com", "port": "8443"}),
            )
            .await;
            assert_eq!(text_of(&result), "https://example.com:8443");
            server.client.cancel().await.unwrap();
        },
    )
    .await;
}

#[tokio::test]
async fn a_custom_injected_parameter_reads_its_header_and_stays_out_of_the_schema() {
    bounded(
        "a_custom_injected_parameter_reads_its_header_and_stays_out_of_the_schema",
        async {
            let server = HttpProcess::start("fixture-server", &[], &[]).await;
            let client = connect_http(&server.mcp_url(), &[("x-tenant", "acme")], None).await;

            let tools = client.list_all_tools().await.unwrap();
            let report = tools
                .iter()
                .find(|t| t.name == "tenant_report")
                .expect("tenant_report is listed");
            let properties: Vec<&String> = report.input_schema["properties"]
                .as_object()
                .unwrap()
                .keys()
                .collect();
            assert_eq!(properties, ["month"]);

            let result = call_tool(&client, "tenant_report", json!({"month": 3})).await;
            assert_eq!(text_of(&result), "report for acme in month 3");

            let anonymous = connect_http(&server.mcp_url(), &[], None).await;
            let result = call_tool(&anonymous, "tenant_report", json!({"month": 3})).await;
            assert_eq!(result.is_error, Some(true));
            assert_eq!(
                text_of(&result),
                "Invalid arguments for tool `tenant_report`: this tool needs an X-Tenant header"
            );
            client.cancel().await.unwrap();
            anonymous.cancel().await.unwrap();
        },
    )
    .await;
}
