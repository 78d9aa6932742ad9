//! The README's shutdown claims for SIGINT, and for what happens to new connections once a signal
//! has arrived, against the fixture server over streamable HTTP. The call kept in flight waits at a
//! gate the test opens (`tests/common/gate.rs`), so that no outcome depends on the machine's speed.

mod common;

use std::io::ErrorKind;

use cm_mcp::rmcp::{
    RoleClient, ServiceError,
    model::{CallToolRequestParams, CallToolResult},
    service::Peer,
};
use cm_test_support::{HttpProcess, TIMEOUT, args, connect_http, expect_answer, text_of};
use common::{
    gate::Gate,
    shutdown::{DRAINED_SHUTDOWN, shutdown_sequence},
};
use nix::sys::signal::Signal;
use serde_json::json;
use tokio::{net::TcpStream, task::JoinHandle};

/// Starts a `wait_for_gate` call in the background and waits until it has reached `gate`: it stays
/// in flight until the test opens the gate.
async fn start_held_call(
    client: &Peer<RoleClient>,
    gate: &mut Gate,
) -> JoinHandle<Result<CallToolResult, ServiceError>> {
    let params = CallToolRequestParams::new("wait_for_gate")
        .with_arguments(args(json!({"gate": gate.addr()})));
    let call = tokio::spawn({
        let peer = client.clone();
        async move { peer.call_tool(params).await }
    });
    gate.arrived("the held call").await;
    call
}

/// `host:port` of a server's `base` URL.
fn address(server: &HttpProcess) -> String {
    server.base.trim_start_matches("http://").to_string()
}

#[tokio::test]
async fn sigint_lets_the_call_in_flight_answer_runs_the_shutdown_hook_and_exits_0() {
    let mut server = HttpProcess::start("fixture-server", &[], &[]).await;
    let client = connect_http(&server.mcp_url(), &[], None).await;
    let mut gate = Gate::new().await;
    let call = start_held_call(&client, &mut gate).await;

    cm_test_support::signal(server.pid(), Signal::SIGINT);
    server.logs.wait_for_event("service.shutdown.signal").await;
    // The call is held at the gate: the server must still be waiting for it.
    assert!(
        !call.is_finished(),
        "the held call ended before its release"
    );
    gate.open();

    let answer = tokio::time::timeout(TIMEOUT, call).await;
    let result = expect_answer(answer, &server.logs);
    assert_eq!(text_of(&result), "the gate opened");
    server.wait_clean_exit().await;
    assert_eq!(
        shutdown_sequence(&server.logs),
        DRAINED_SHUTDOWN,
        "stderr:\n{}",
        server.logs.dump()
    );
    drop(client);
}

#[tokio::test]
async fn after_the_signal_new_connections_are_refused_while_the_call_in_flight_finishes() {
    let mut server = HttpProcess::start("fixture-server", &[], &[]).await;
    let address = address(&server);
    let client = connect_http(&server.mcp_url(), &[], None).await;
    let mut gate = Gate::new().await;
    let call = start_held_call(&client, &mut gate).await;

    // Before the signal a new connection is accepted: the check below can tell the difference.
    TcpStream::connect(&address)
        .await
        .expect("a new connection before the signal");

    cm_test_support::signal(server.pid(), Signal::SIGTERM);
    server.logs.wait_for_event("service.shutdown.signal").await;
    // The listener closes once the signal has reached the accept loop; the held call keeps the
    // server running meanwhile, so a refusal can only come from the closed listener.
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let refused = loop {
        match TcpStream::connect(&address).await {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => break e,
            result => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "new connections were still accepted {TIMEOUT:?} after the signal: {result:?}; stderr:\n{}",
                    server.logs.dump()
                );
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    };
    // Refused by a server that has exited would not show the listener closing on the signal.
    assert!(
        server.is_running(),
        "connections were refused ({refused}) only once the server had exited, before the call in \
         flight finished: the listener stayed open after the signal; stderr:\n{}",
        server.logs.dump()
    );
    assert!(
        !call.is_finished(),
        "the held call ended before its release"
    );

    gate.open();
    let answer = tokio::time::timeout(TIMEOUT, call).await;
    let result = expect_answer(answer, &server.logs);
    assert_eq!(text_of(&result), "the gate opened");
    server.wait_clean_exit().await;
    drop(client);
}
