//! The README's claims about how a server process serves, each through the path a user takes (the
//! flag or environment variable, against the real binary over streamable HTTP): `DEBUG=true`'s
//! human-readable format at debug level, the `health.check.*` events, `MCP_STATELESS`,
//! `--allowed-origins` / `MCP_ALLOWED_ORIGINS`, and `MCP_ALLOWED_HOSTS`.

use std::time::Duration;

use cm_test_support::{
    HttpProcess, INITIALIZE, Logs, TIMEOUT, assert_platform_timestamp, bounded, call_tool, command,
    keys_in_order, post, stateless_json, text_of,
};
use nix::sys::signal::Signal;
use serde_json::{Value, json};

/// Waits (bounded by [`TIMEOUT`]) for a raw stderr line for which `matches` holds; returns it.
/// For the human-readable format, which [`Logs`]' JSON helpers cannot parse.
async fn wait_for_line(logs: &Logs, what: &str, matches: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        if let Some(line) = logs.lines().into_iter().find(|l| matches(l)) {
            return line;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {what} within {TIMEOUT:?}; stderr had:\n{}",
            logs.dump()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The whitespace-separated words of a human-readable line: timestamp, level, event type, message...
fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[tokio::test]
async fn debug_true_writes_human_readable_lines_at_debug_level() {
    bounded(
        "debug_true_writes_human_readable_lines_at_debug_level",
        async {
            let mut command = command("my-service");
            command
                .args(["--host", "127.0.0.1", "--port", "0"])
                .env("DEBUG", "true");
            let mut child = command.spawn().expect("spawn my-service");
            let logs = Logs::collect(child.stderr.take().expect("stderr is piped"));

            let ready = wait_for_line(&logs, "human-readable service.ready line", |l| {
                words(l).get(2) == Some(&"service.ready")
            })
            .await;
            let address = words(&ready)
                .into_iter()
                .find_map(|w| w.strip_prefix("address="))
                .unwrap_or_else(|| panic!("no address= in {ready}"))
                .to_string();
            assert_eq!(words(&ready)[1], "INFO", "{ready}");
            assert!(
                ready.contains(&format!("Serving MCP at http://{address}/mcp")),
                "{ready}"
            );

            // `/health` logs its events at debug level only: they show that the level is debug.
            let response = reqwest::Client::new()
                .get(format!("http://{address}/health"))
                .timeout(TIMEOUT)
                .send()
                .await
                .expect("GET /health");
            assert_eq!(response.status(), 200);
            let complete = wait_for_line(&logs, "human-readable health.check.complete line", |l| {
                words(l).get(2) == Some(&"health.check.complete")
            })
            .await;
            let w = words(&complete);
            assert_platform_timestamp(w[0]);
            assert_eq!(w[1], "DEBUG", "{complete}");
            assert!(
                complete.contains("Health check complete success=true"),
                "{complete}"
            );

            cm_test_support::signal(child.id().unwrap(), Signal::SIGTERM);
            let status = tokio::time::timeout(TIMEOUT, child.wait())
                .await
                .unwrap_or_else(|_| panic!("my-service did not exit; stderr:\n{}", logs.dump()))
                .unwrap();
            assert!(status.success(), "{status}");
            logs.wait_closed().await;
            let lines = logs.lines();
            assert!(
                lines
                    .iter()
                    .any(|l| words(l).get(2) == Some(&"service.shutdown.complete")),
                "{lines:#?}"
            );
            // Not one line in the JSON format.
            for line in &lines {
                assert!(
                    serde_json::from_str::<Value>(line).is_err(),
                    "a JSON line with DEBUG=true: {line}"
                );
            }
        },
    )
    .await;
}

#[tokio::test]
async fn health_checks_log_requested_and_complete_at_debug_level() {
    bounded(
        "health_checks_log_requested_and_complete_at_debug_level",
        async {
            let mut server = HttpProcess::start("my-service", &["--log-level", "debug"], &[]).await;
            server.health().await;
            let (requested_line, requested) =
                server.logs.wait_for_event("health.check.requested").await;
            let (complete_line, complete) =
                server.logs.wait_for_event("health.check.complete").await;
            assert_eq!(
                keys_in_order(&requested_line),
                ["event_type", "data", "event", "level", "timestamp"],
                "{requested_line}"
            );
            assert_eq!(
                keys_in_order(&complete_line),
                [
                    "event_type",
                    "success",
                    "data",
                    "event",
                    "level",
                    "timestamp"
                ],
                "{complete_line}"
            );
            assert_eq!(requested["level"], "debug");
            assert_eq!(requested["event"], "Health check requested");
            assert_eq!(complete["level"], "debug");
            assert_eq!(complete["success"], true);
            assert!(server.terminate().await.success());
        },
    )
    .await;
}

#[tokio::test]
async fn health_checks_are_not_logged_at_the_default_level() {
    bounded("health_checks_are_not_logged_at_the_default_level", async {
        let mut server = HttpProcess::start("my-service", &[], &[]).await;
        server.health().await;
        // A call after the health check: the writer keeps the order of events, so once the call's
        // completion is on stderr, a health check event would be too.
        let client = server.client().await;
        let result = call_tool(&client, "my_tool", json!({"input_param": "after health"})).await;
        assert_eq!(text_of(&result), "Processed: after health");
        server
            .logs
            .wait_for_tool("tool.execution.complete", "my_tool")
            .await;
        let health_events: Vec<Value> = server
            .logs
            .events()
            .into_iter()
            .filter(|v| {
                v["event_type"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("health.check"))
            })
            .collect();
        assert!(health_events.is_empty(), "{health_events:?}");
        client.cancel().await.unwrap();
        assert!(server.terminate().await.success());
    })
    .await;
}

#[tokio::test]
async fn mcp_stateless_true_serves_each_request_without_a_session() {
    bounded("mcp_stateless_true_serves_each_request_without_a_session", async {
    // The contrast first: by default, initialize opens a session and answers with an event stream.
    let mut stateful = HttpProcess::start("my-service", &[], &[]).await;
    let response = post(&stateful.mcp_url(), INITIALIZE).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("mcp-session-id").is_some());
    assert!(stateful.terminate().await.success());

    let mut server = HttpProcess::start("my-service", &[], &[("MCP_STATELESS", "true")]).await;
    let response = post(&server.mcp_url(), INITIALIZE).send().await.unwrap();
    let body = stateless_json(response).await;
    assert_eq!(
        body["result"]["serverInfo"]["name"], "my-fastmcp-service",
        "{body}"
    );

    // A call without any session: each request stands alone. my_tool sends the client a log
    // message before its result, so the answer is an event stream carrying both, in order (rmcp keeps
    // JSON for answers that are the only message).
    let response = post(
        &server.mcp_url(),
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"my_tool","arguments":{"input_param":"replica"}}}"#,
    )
    .header("mcp-protocol-version", "2025-06-18")
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("mcp-session-id").is_none());
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    let stream = response.text().await.unwrap();
    let messages: Vec<Value> = stream
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter(|d| !d.trim().is_empty())
        .map(|d| serde_json::from_str(d.trim()).unwrap_or_else(|e| panic!("{e}: {d}")))
        .collect();
    assert_eq!(messages.len(), 2, "{stream}");
    assert_eq!(messages[0]["method"], "notifications/message", "{stream}");
    assert_eq!(
        messages[0]["params"]["data"], "Processing input of 7 characters",
        "{stream}"
    );
    assert_eq!(messages[1]["id"], 2, "{stream}");
    assert_eq!(
        messages[1]["result"]["content"][0]["text"], "Processed: replica",
        "{stream}"
    );
    assert!(server.terminate().await.success());
    })
    .await;
}

/// The status of an initialize POST to `server` with `Origin: origin`.
async fn initialize_from(server: &HttpProcess, origin: &str) -> u16 {
    post(&server.mcp_url(), INITIALIZE)
        .header("origin", origin)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

const APP: &str = "http://app.example:3000";
const EVIL: &str = "http://evil.example:3000";

#[tokio::test]
async fn without_allowed_origins_any_origin_is_accepted() {
    bounded("without_allowed_origins_any_origin_is_accepted", async {
        let mut server = HttpProcess::start("my-service", &[], &[]).await;
        assert_eq!(initialize_from(&server, EVIL).await, 200);
        assert!(server.terminate().await.success());
    })
    .await;
}

#[tokio::test]
async fn allowed_origins_by_flag_or_environment_refuse_other_origins() {
    bounded(
        "allowed_origins_by_flag_or_environment_refuse_other_origins",
        async {
            let by_flag = HttpProcess::start("my-service", &["--allowed-origins", APP], &[]).await;
            let by_env =
                HttpProcess::start("my-service", &[], &[("MCP_ALLOWED_ORIGINS", APP)]).await;
            for (how, mut server) in [
                ("--allowed-origins", by_flag),
                ("MCP_ALLOWED_ORIGINS", by_env),
            ] {
                assert_eq!(initialize_from(&server, APP).await, 200, "{how}: {APP}");
                assert_eq!(initialize_from(&server, EVIL).await, 403, "{how}: {EVIL}");
                // The refusal is per request: the allowed origin is still served afterwards.
                assert_eq!(initialize_from(&server, APP).await, 200, "{how}: {APP}");
                assert!(server.terminate().await.success(), "{how}");
            }
        },
    )
    .await;
}

#[tokio::test]
async fn mcp_allowed_hosts_from_the_environment_accepts_each_listed_host() {
    bounded(
        "mcp_allowed_hosts_from_the_environment_accepts_each_listed_host",
        async {
            let mut server = HttpProcess::start(
                "my-service",
                &[],
                &[("MCP_ALLOWED_HOSTS", "mcp.internal,other.internal")],
            )
            .await;
            let port = server.base.rsplit(':').next().unwrap().to_string();
            let status = |host: String| {
                let request = post(&server.mcp_url(), INITIALIZE).header("host", host);
                async move { request.send().await.unwrap().status().as_u16() }
            };
            assert_eq!(status("evil.example".into()).await, 403);
            for host in [
                "mcp.internal".to_string(),
                format!("other.internal:{port}"),
                format!("127.0.0.1:{port}"),
            ] {
                assert_eq!(status(host.clone()).await, 200, "{host}");
            }
            assert!(server.terminate().await.success());
        },
    )
    .await;
}
