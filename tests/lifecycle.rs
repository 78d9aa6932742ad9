//! A server process's life: flags, `--manifest`, transport selection, the startup hook and its
//! timeout, and shutdown on SIGTERM (draining calls in flight) or a second signal (at once).

mod common;

use cm_mcp::rmcp::{RoleClient, model::CallToolRequestParams, service::Peer};
use cm_test_support::{
    Client, HttpProcess, Logs, SlowCall, TIMEOUT, call_tool, command, connect_http, connect_stdio,
    expect_answer, run_to_end, text_of,
};
use common::{
    gate::Gate,
    shutdown::{DRAINED_SHUTDOWN, shutdown_sequence},
};
use nix::sys::signal::Signal;
use serde_json::{Value, json};

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn version_prints_the_server_name_and_its_version() {
    let mut cmd = command("my-service");
    cmd.arg("--version");
    let output = run_to_end(cmd).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        format!("my-fastmcp-service {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test]
async fn a_host_name_is_accepted_for_host() {
    let mut cmd = command("my-service");
    cmd.args(["--host", "localhost", "--port", "0"]);
    let mut child = cmd.spawn().expect("spawn my-service");
    let logs = Logs::collect(child.stderr.take().unwrap());
    let (_, ready) = logs.wait_for_event("service.ready").await;
    let address = ready["data"]["address"].as_str().unwrap_or_default();
    let port = address
        .strip_prefix("127.0.0.1:")
        .unwrap_or_else(|| panic!("`localhost` listens on the IPv4 loopback: {ready}"));
    let health = reqwest::Client::new()
        .get(format!("http://localhost:{port}/health"))
        .timeout(TIMEOUT)
        .send()
        .await
        .expect("/health at localhost");
    assert_eq!(health.status(), 200);
    child.kill().await.unwrap();
}

#[tokio::test]
async fn manifest_prints_every_definition_and_exits() {
    let mut cmd = command("my-service");
    cmd.arg("--manifest");
    let output = run_to_end(cmd).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let manifest: Value = serde_json::from_str(&stdout(&output))
        .unwrap_or_else(|e| panic!("--manifest printed no JSON ({e}):\n{}", stdout(&output)));
    assert_eq!(
        manifest["server"],
        json!({
            "name": "my-fastmcp-service",
            "version": env!("CARGO_PKG_VERSION"),
            "instructions": "Use my_tool to process text; read my-service://info for the service's status.",
        })
    );
    assert_eq!(
        manifest["tools"],
        json!([{
            "name": "my_tool",
            "description": "Processes the input and returns the result.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "input_param": {"type": "string", "description": "The text to process."},
                },
                "required": ["input_param"],
            },
            "annotations": {"readOnlyHint": true, "idempotentHint": true},
        }])
    );
    assert_eq!(manifest["resources"][0]["uri"], "my-service://info");
    assert_eq!(manifest["resourceTemplates"], json!([]));
    assert_eq!(manifest["prompts"], json!([]));
    // Lists are lists, never null, the empty one of array connectors included.
    assert_eq!(
        manifest["connectors"]["connectors"][0]["config_id"],
        "MYSERVICE"
    );
    assert_eq!(manifest["connectors"]["array_connectors"], json!([]));
    // No transport, no lifecycle: nothing was started.
    assert!(
        !stderr(&output).contains("service.init"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn manifest_does_not_run_the_startup_hook() {
    let mut cmd = command("fixture-server");
    cmd.arg("--manifest");
    let output = run_to_end(cmd).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let manifest: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let tools: Vec<&str> = manifest["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tools,
        [
            "log_note",
            "panics",
            "parse_number",
            "read_file",
            "report_after_gate",
            "require_https",
            "sleep_ms",
            "startup_value",
            "store_token",
            "tenant_report",
            "wait_for_gate"
        ]
    );
    assert_eq!(
        manifest["resourceTemplates"][0]["uriTemplate"],
        "fixture://items/{id}"
    );
    assert_eq!(manifest["prompts"][1]["name"], "summarize");
    assert!(
        !stderr(&output).contains("service.init"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn help_lists_the_flags() {
    let mut cmd = command("my-service");
    cmd.arg("--help");
    let output = run_to_end(cmd).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let help = stdout(&output);
    for flag in [
        "--stdio",
        "--streamable-http",
        "--host",
        "--port",
        "--log-level",
        "--stateless",
        "--allowed-hosts",
        "--shutdown-grace",
        "--manifest",
    ] {
        assert!(
            help.contains(flag),
            "--help does not mention {flag}:\n{help}"
        );
    }
    assert!(help.contains("my-fastmcp-service"), "{help}");
}

#[tokio::test]
async fn fastmcp_transport_stdio_selects_stdio() {
    let server = connect_stdio("my-service", &[], &[("FastMCP_TRANSPORT", "stdio")]).await;
    let tools = tokio::time::timeout(cm_test_support::TIMEOUT, server.client.list_all_tools())
        .await
        .expect("tools/list over stdio hung")
        .unwrap();
    assert_eq!(tools.len(), 1);
    let (_, start) = server.logs.wait_for_event("service.init.start").await;
    assert_eq!(start["data"]["transport"], "stdio");
    close(server.client).await;
}

#[tokio::test]
async fn a_flag_wins_over_fastmcp_transport() {
    let mut server = HttpProcess::start(
        "my-service",
        &["--streamable-http"],
        &[("FastMCP_TRANSPORT", "stdio")],
    )
    .await;
    let (_, start) = server.logs.wait_for_event("service.init.start").await;
    assert_eq!(start["data"]["transport"], "streamable-http");
    assert!(server.terminate().await.success());
}

#[tokio::test]
async fn a_slow_startup_hook_times_out_and_the_server_serves_anyway() {
    // The hook runs until the test opens its gate: it is still running for as long as the test needs.
    let mut gate = Gate::new().await;
    let mut server = HttpProcess::start(
        "fixture-server",
        &[],
        &[
            ("FIXTURE_STARTUP_GATE", &gate.addr()),
            ("FIXTURE_STARTUP_TIMEOUT_MS", "50"),
        ],
    )
    .await;
    gate.arrived("the startup hook").await;
    let (_, timeout) = server.logs.wait_for_event("service.init.timeout").await;
    assert_eq!(timeout["level"], "warning");
    assert_eq!(timeout["success"], false);
    assert_eq!(timeout["data"]["timeout_s"], 0.05);

    // The timeout was logged before the server reported it was serving, and the hook, held at the
    // gate, cannot have completed.
    let types: Vec<Value> = server
        .logs
        .events()
        .into_iter()
        .map(|v| v["event_type"].clone())
        .collect();
    let position = |t: &str| types.iter().position(|v| v == t);
    assert!(
        position("service.init.timeout") < position("service.ready")
            && position("service.init.complete").is_none(),
        "{types:?}"
    );

    // Serving while the hook runs: its state is missing, and the tool says so.
    let client = connect_http(&server.mcp_url(), &[], None).await;
    let early = call_tool(&client, "startup_value", json!({})).await;
    assert_eq!(early.is_error, Some(true));
    assert!(
        text_of(&early).contains("the server has no state of type")
            && text_of(&early).contains("StartupValue"),
        "{}",
        text_of(&early)
    );

    // When the hook finishes, its state arrives.
    gate.open();
    let (_, late) = server
        .logs
        .wait_for("the late completion of the startup hook", |v| {
            v["event_type"] == "service.init.complete" && v["data"]["late"] == true
        })
        .await;
    assert_eq!(late["success"], true);
    let ready = call_tool(&client, "startup_value", json!({})).await;
    assert_eq!(ready.is_error, Some(false));
    assert_eq!(text_of(&ready), "ready");

    close(client).await;
    assert!(server.terminate().await.success());
}

/// Ends a client session (bounded).
async fn close(client: Client) {
    tokio::time::timeout(cm_test_support::TIMEOUT, client.cancel())
        .await
        .expect("closing the client session hung")
        .expect("close the client session");
}

/// Starts a `wait_for_gate` call in the background and waits until the server runs it: it has
/// reached the gate, where it stays until the test opens it.
async fn start_held_call(client: &Peer<RoleClient>, gate: &mut Gate) -> SlowCall {
    let mut call = tokio::spawn({
        let peer = client.clone();
        let arguments = json!({"gate": gate.addr()});
        async move {
            peer.call_tool(
                CallToolRequestParams::new("wait_for_gate")
                    .with_arguments(cm_test_support::args(arguments)),
            )
            .await
        }
    });
    tokio::select! {
        () = gate.arrived("the `wait_for_gate` call") => call,
        ended = &mut call => panic!("the held call ended before it reached the gate: {ended:?}"),
    }
}

/// Starts the fixture server with `server_args`, connects a client, starts a call held at a gate
/// and sends SIGTERM once the server runs it.
async fn sigterm_during_held_call(server_args: &[&str]) -> (HttpProcess, Client, SlowCall, Gate) {
    let server = HttpProcess::start("fixture-server", server_args, &[]).await;
    let client = connect_http(&server.mcp_url(), &[], None).await;
    let mut gate = Gate::new().await;
    let call = start_held_call(&client, &mut gate).await;
    cm_test_support::signal(server.pid(), Signal::SIGTERM);
    (server, client, call, gate)
}

#[tokio::test]
async fn sigterm_drains_the_call_in_flight_then_exits_cleanly() {
    let (mut server, _client, call, mut gate) = sigterm_during_held_call(&[]).await;
    // The call cannot end before the server has taken the signal: the gate opens only then.
    server.logs.wait_for_event("service.shutdown.signal").await;
    gate.open();
    server.wait_clean_exit().await;
    assert_eq!(
        shutdown_sequence(&server.logs),
        DRAINED_SHUTDOWN,
        "stderr:\n{}",
        server.logs.dump()
    );
    // Whether the answer reached the client is the next test's subject.
    call.abort();
}

#[tokio::test]
async fn sigterm_delivers_the_answer_of_the_call_in_flight() {
    let (mut server, _client, call, mut gate) = sigterm_during_held_call(&[]).await;
    server.logs.wait_for_event("service.shutdown.signal").await;
    gate.open();
    let answer = tokio::time::timeout(cm_test_support::TIMEOUT, call).await;
    let status = server.wait_exit().await;
    let result = expect_answer(answer, &server.logs);
    assert_eq!(text_of(&result), "the gate opened");
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn sigterm_over_stdio_delivers_the_answer_of_the_call_in_flight() {
    let (mut server, client) =
        cm_test_support::connect_owned_stdio("fixture-server", &["--stdio"], ()).await;
    let mut gate = Gate::new().await;
    let call = start_held_call(&client, &mut gate).await;
    cm_test_support::signal(server.child.id().unwrap(), Signal::SIGTERM);
    server.logs.wait_for_event("service.shutdown.signal").await;
    gate.open();
    let answer = tokio::time::timeout(cm_test_support::TIMEOUT, call).await;
    let status = match tokio::time::timeout(cm_test_support::TIMEOUT, server.child.wait()).await {
        Ok(status) => status.unwrap(),
        Err(_) => panic!(
            "the server did not exit after SIGTERM (answer: {answer:?}); stderr:\n{}",
            server.logs.dump()
        ),
    };
    server.logs.wait_closed().await;
    let result = expect_answer(answer, &server.logs);
    assert_eq!(text_of(&result), "the gate opened");
    assert!(status.success(), "{status}");
    assert_eq!(
        shutdown_sequence(&server.logs),
        DRAINED_SHUTDOWN,
        "stderr:\n{}",
        server.logs.dump()
    );
}

#[tokio::test]
async fn a_second_signal_exits_at_once() {
    // A grace period longer than the test's patience, and a call that never ends: only the second
    // signal can end it in time.
    let (mut server, client, call, _gate) =
        sigterm_during_held_call(&["--shutdown-grace", "600"]).await;
    server.logs.wait_for_event("service.shutdown.signal").await;
    cm_test_support::signal(server.pid(), Signal::SIGTERM);
    let status = server.wait_exit().await;
    assert!(!status.success(), "{status}");
    assert_eq!(status.code(), Some(130), "{status}");
    call.abort();
    drop(client);
}

#[tokio::test]
async fn calls_beyond_the_grace_period_are_abandoned() {
    // The call is held at the gate for as long as the test lives: it outlasts any grace period.
    let (mut server, client, call, _gate) =
        sigterm_during_held_call(&["--shutdown-grace", "0.2"]).await;
    server.wait_clean_exit().await;
    let (_, abandoned) = server
        .logs
        .wait_for("the warning about abandoned calls", |v| {
            v["event"]
                .as_str()
                .is_some_and(|e| e.contains("grace period are abandoned"))
        })
        .await;
    assert_eq!(abandoned["level"], "warning");
    assert_eq!(abandoned["data"]["in_flight"], 1);
    server
        .logs
        .wait_for_event("service.shutdown.complete")
        .await;
    call.abort();
    drop(client);
}
