//! cm-mcp without its default `platform` feature: `tests/plain-server` depends on it with
//! `default-features = false`. Its build must link none of the platform's client stack, and what it
//! builds must be a working MCP server that refuses, naming the feature, to start in a stack.
//!
//! plain-server is built by a `cargo build -p plain-server` of its own ([`binary_built_alone`]):
//! built together with the other test binaries, Cargo would unify cm-mcp's features and give it
//! `platform` back.

use std::{collections::BTreeSet, path::PathBuf};

use cm_mcp::rmcp::model::CallToolRequestParams;
use cm_test_support::{
    HttpProcess, args, binary_built_alone, bounded, call_tool_with, cargo_command,
    connect_stdio_program, refused_to_start, server_command, target_tmpdir, text_of, within,
};
use serde_json::json;

/// The crates of the platform's client stack: the config manager's HTTP and websocket clients, their
/// TLS, and the settings loader; and those of the trace export (feature `otel`, which plain-server
/// leaves off too).
const PLATFORM_STACK: &[&str] = &[
    "opentelemetry",
    "opentelemetry_sdk",
    "opentelemetry-otlp",
    "reqwest",
    "tokio-tungstenite",
    "tungstenite",
    "rustls",
    "hyper-rustls",
    "ring",
    "config",
];

/// The names of the crates `package` links (normal dependencies, all the way down), as
/// `cargo tree -p package` resolves them: for that package alone, as `cargo build -p` does.
fn linked_crates(package: &str) -> BTreeSet<String> {
    let output = cargo_command()
        .args(["tree", "-p", package, "-e", "normal", "--prefix", "none"])
        .args(["--format", "{p}"])
        .output()
        .expect("run cargo tree");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "cargo tree -p {package} failed ({}):\n{stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    // Each line is `name vX.Y.Z [(path)] [(*)]`.
    stdout
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// The plain server's binary, built before a test's bounded part: a clean build takes minutes.
fn plain_server() -> PathBuf {
    binary_built_alone("plain-server")
}

#[test]
fn a_server_without_the_platform_feature_links_none_of_the_platform_client_stack() {
    let plain = linked_crates("plain-server");
    assert!(
        plain.contains("mcp-runtime") && plain.contains("rmcp") && plain.contains("tokio"),
        "cargo tree listed no framework crates for plain-server: {plain:?}"
    );
    let linked: Vec<&&str> = PLATFORM_STACK
        .iter()
        .filter(|name| plain.contains(**name))
        .collect();
    assert!(
        linked.is_empty(),
        "plain-server (cm-mcp with default-features = false) links {linked:?}: a dependency of mcp-runtime or cm-mcp that only the `platform` feature may enable is on without it"
    );

    // The same names are found where the feature is on: the check above can see them.
    let default = linked_crates("my-service");
    let missing: Vec<&&str> = PLATFORM_STACK
        .iter()
        .filter(|name| !default.contains(**name))
        .collect();
    assert!(
        missing.is_empty(),
        "my-service (default features) does not link {missing:?}: update PLATFORM_STACK"
    );
}

#[tokio::test]
async fn a_server_without_the_platform_feature_serves_its_tool_over_stdio() {
    let program = plain_server();
    bounded(
        "a_server_without_the_platform_feature_serves_its_tool_over_stdio",
        async {
            let server = connect_stdio_program(
                &program,
                &["--stdio"],
                &[("UPSTREAM_URL", "http://localhost:9000/")],
            )
            .await;
            let client = &server.client;
            let info = client.peer_info().expect("initialized");
            assert_eq!(
                info.server_info.as_ref().map(|i| i.name.as_str()),
                Some("plain-server")
            );

            let tools = within("tools/list", client.list_all_tools()).await.unwrap();
            let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
            assert_eq!(names, ["greet"]);

            // Local mode's connectors need no feature: UPSTREAM_URL reaches the tool.
            let result = call_tool_with(
                client,
                CallToolRequestParams::new("greet").with_arguments(args(json!({"name": "Ada"}))),
            )
            .await;
            assert_eq!(result.is_error, Some(false), "{result:?}");
            assert_eq!(
                text_of(&result),
                "Hello, Ada! Upstream is at http://localhost:9000."
            );

            let (_, start) = server.logs.wait_for_event("service.init.start").await;
            assert_eq!(start["data"]["server_mode"], "local", "{start}");
            within("closing the client", server.client.cancel())
                .await
                .unwrap();
        },
    )
    .await;
}

#[tokio::test]
async fn a_server_without_the_platform_feature_refuses_a_stack_deployment_naming_the_feature() {
    let program = plain_server();
    bounded(
        "a_server_without_the_platform_feature_refuses_a_stack_deployment_naming_the_feature",
        async {
            let mut command = server_command(&program, &target_tmpdir());
            command
                .args(["--host", "127.0.0.1", "--port", "0"])
                .env("SERVICE_NAME", "x");
            let event = refused_to_start(command).await;
            assert_eq!(event["data"]["variable"], "SERVICE_NAME", "{event}");
            let error = event["error"].as_str().unwrap_or_default();
            for says in [
                "SERVICE_NAME=`x` selects a stack deployment",
                "built without cm-mcp's `platform` feature",
                "enable it",
                "unset SERVICE_NAME",
            ] {
                assert!(error.contains(says), "`{says}` is not in: {error}");
            }

            // The other fix the message names: local mode, whatever SERVICE_NAME says.
            let mut command = server_command(&program, &target_tmpdir());
            command.envs([
                ("SERVICE_NAME", "x"),
                ("CONFIDENTIAL_MIND_LOCAL_CONFIG", "true"),
            ]);
            let mut server = HttpProcess::spawn(command).await;
            let health = server.health().await;
            assert_eq!(health["server_mode"], "local", "{health}");
            server.terminate_cleanly().await;
        },
    )
    .await;
}
