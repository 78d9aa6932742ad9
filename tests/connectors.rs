//! Connectors: URL resolution for every type and for array connectors in a stack, local mode from
//! the environment and `.env`, API keys, and how the mode is chosen.

mod common;

use cm_test_support::*;
use common::platform::*;
use serde_json::{Value, json};

/// Every connector type the platform defines, with the URL a stack id `s-<type>` resolves to.
const TYPES: &[(&str, &str)] = &[
    ("bucket", "http://s-bucket.rook-ceph.svc.cluster.local:8080"),
    ("database", "s-database-rw.databases.svc.cluster.local"),
    (
        "playground",
        "http://s-playground.tools.svc.cluster.local:8080",
    ),
    (
        "frontend",
        "http://s-frontend.frontend.svc.cluster.local:8080",
    ),
    (
        "endpoint",
        "http://s-endpoint.api-services.svc.cluster.local:8080",
    ),
    (
        "agent_endpoint",
        "http://s-agent_endpoint.api-services.svc.cluster.local:8080",
    ),
    (
        "model_endpoint",
        "http://s-model_endpoint.api-services.svc.cluster.local:8080",
    ),
    (
        "data_source",
        "http://s-data_source.api-services.svc.cluster.local:8080",
    ),
    (
        "agent_tool",
        "http://s-agent_tool.api-services.svc.cluster.local:8080",
    ),
    ("api", "http://s-api.api-services.svc.cluster.local:8080"),
    ("llm", "http://s-llm.api-services.svc.cluster.local:8080"),
    (
        "model",
        "http://s-model.api-services.svc.cluster.local:8080",
    ),
    (
        "external_llm",
        "http://s-external_llm.api-services.svc.cluster.local:8080",
    ),
    (
        "external_database",
        "http://s-external_database.api-services.svc.cluster.local:8080",
    ),
    (
        "volume",
        "http://s-volume.api-services.svc.cluster.local:8080",
    ),
];

#[tokio::test]
async fn stack_urls_for_every_type_and_array_connectors() {
    let mut connectors: Vec<Value> = TYPES
        .iter()
        .map(|(kind, _)| {
            json!({
                "type": kind,
                "label": "A connector",
                "config_id": format!("T_{}", kind.to_ascii_uppercase()),
                "stack_id": format!("s-{kind}"),
                "deployment_name": format!("deployment s-{kind}"),
            })
        })
        .collect();
    connectors.push(json!({"type": "custom_thing", "label": "An unknown type", "config_id": "T_OTHER", "stack_id": "s-other", "deployment_name": null}));
    connectors.push(json!({"type": "api", "label": "The API", "config_id": "API", "stack_id": null, "deployment_name": null}));
    let block = json!({
        "connectors": connectors,
        "array_connectors": [{
            "type": "agent_tool",
            "label": "MCP Tool Servers",
            "config_id": "agentTools",
            "stack_ids": ["tools-b", "tools-a"],
            "deployment_names": ["b", "a"],
        }],
    });
    let manager =
        Manager::start(json!({"config": null, "config_schema": {}, "connectors": block})).await;
    let dir = scratch_dir();
    let server =
        HttpProcess::start_in("platform-fixture", dir.path(), &manager.env("fixture")).await;
    manager.wait_subscribed(1).await;

    let health = server
        .wait_health("the assigned connectors", TIMEOUT, |h| {
            h["connectors"]["agentTools"]["connected"] == true
        })
        .await;
    let each = &health["connectors"];
    for (kind, url) in TYPES {
        let id = format!("T_{}", kind.to_ascii_uppercase());
        assert_eq!(each[&id]["url"], *url, "{kind}: {health}");
        assert_eq!(each[&id]["type"], *kind);
        assert_eq!(each[&id]["connected"], true);
    }
    assert_eq!(
        each["T_OTHER"]["url"],
        "http://s-other.default.svc.cluster.local:8080"
    );
    // An array connector: one URL per stack id, in order.
    assert_eq!(
        each["agentTools"]["urls"],
        json!([
            "http://tools-b.api-services.svc.cluster.local:8080",
            "http://tools-a.api-services.svc.cluster.local:8080",
        ])
    );
    // API has no deployment yet, so the service as a whole is not connected.
    assert_eq!(each["API"]["url"], Value::Null);
    assert_eq!(each["API"]["connected"], false);
    assert_eq!(health["service_connected"], false);
    assert_eq!(health["connector_id"], "API");

    // The registration declares every connector, the array one among `array_connectors`.
    let patch = manager.requests()[1].body.clone().unwrap();
    let declared = &patch["connectors"];
    assert_eq!(
        declared["connectors"].as_array().unwrap().len(),
        TYPES.len() + 2
    );
    assert_eq!(
        declared["array_connectors"],
        json!([{"type": "agent_tool", "label": "MCP Tool Servers", "config_id": "agentTools", "stack_ids": null, "deployment_names": null}])
    );

    // With several connectors, `Connection` without a marker is ambiguous: a clear tool error.
    let client = server.client().await;
    let (is_error, text) = call(&client, "ambiguous", json!({})).await;
    assert!(is_error, "{text}");
    assert!(text.contains("Connection<Marker>"), "{text}");
}

const API_KEY: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJlLXNlY3JldA";

#[tokio::test]
async fn local_mode_from_dotenv() {
    // A manager that must never be contacted.
    let manager =
        Manager::start(json!({"config": null, "config_schema": null, "connectors": null})).await;
    let dir = scratch_dir();
    std::fs::write(
        dir.path().join(".env"),
        format!(
            "CONFIDENTIAL_MIND_LOCAL_CONFIG=True\nSERVICE_NAME=not-registered\nMANAGER_URL={}\nREALTIME_URL={}\nMYSERVICE_URL=http://127.0.0.1:9/api/\nMYSERVICE_APIKEY={API_KEY}\nMYSERVICE_NAME=from-dotenv\n",
            manager.url, manager.realtime_url
        ),
    )
    .unwrap();
    // .env overrides the environment, as the platform's SDK does.
    let mut server = HttpProcess::start_in(
        "my-service",
        dir.path(),
        &[("MYSERVICE_NAME", "from-the-environment")],
    )
    .await;
    let health = server
        .wait_health("service_connected", TIMEOUT, |h| {
            h["service_connected"] == true
        })
        .await;
    assert_eq!(health["server_mode"], "local");
    assert_eq!(health["connector_id"], "MYSERVICE");
    let client = server.client().await;
    let info = read_json(&client, "my-service://info").await;
    assert_eq!(
        info,
        json!({
            "status": "available",
            "service_name": "from-dotenv",
            "service_description": "A template MCP server for the ConfidentialMind stack",
            "url": "http://127.0.0.1:9/api",
        })
    );
    let (_, local) = server
        .logs
        .wait_for("the local mode line", |e| {
            e["event"]
                .as_str()
                .is_some_and(|m| m.starts_with("Running in local mode"))
        })
        .await;
    assert!(
        local["event"]
            .as_str()
            .unwrap()
            .contains("CONFIDENTIAL_MIND_LOCAL_CONFIG=true"),
        "{local}"
    );
    server
        .logs
        .wait_for_event("service.connection.established")
        .await;
    // Never contacted, for its whole life: once it has exited, it can contact nobody.
    let status = server.terminate().await;
    assert!(
        status.success(),
        "{status}; stderr:\n{}",
        server.logs.dump()
    );
    manager.settle().await;
    assert!(
        manager.connections().is_empty(),
        "connections {:?}, requests {:?}",
        manager.connections(),
        manager.requests()
    );
    assert!(!server.logs.dump().contains(API_KEY));
    assert!(!health.to_string().contains(API_KEY));
}

#[tokio::test]
async fn local_array_connectors_and_bearer_keys() {
    let dir = scratch_dir();
    let server = HttpProcess::start_in(
        "platform-fixture",
        dir.path(),
        &[
            ("API_URL", "http://127.0.0.1:7/v1/"),
            ("API_APIKEY", API_KEY),
            ("agentTools_0_URL", "http://127.0.0.1:7/zero"),
            ("agentTools_1_URL", "http://127.0.0.1:7/one/"),
            // A gap at 2: element 3 is not read.
            ("agentTools_3_URL", "http://127.0.0.1:7/three"),
        ],
    )
    .await;
    let health = server
        .wait_health("the API connected", TIMEOUT, |h| {
            h["connectors"]["API"]["connected"] == true
        })
        .await;
    assert_eq!(health["server_mode"], "local");
    assert_eq!(health["connectors"]["API"]["url"], "http://127.0.0.1:7/v1");
    assert_eq!(
        health["connectors"]["agentTools"]["urls"],
        json!(["http://127.0.0.1:7/zero", "http://127.0.0.1:7/one"])
    );
    assert_eq!(health["connectors"]["T_API"]["connected"], false);
    let client = server.client().await;
    let (_, headers) = call(&client, "api_headers", json!({})).await;
    assert_eq!(
        serde_json::from_str::<Value>(&headers).unwrap(),
        json!({"authorization": format!("Bearer {API_KEY}")})
    );
    // The deferred connectors say how to connect them.
    let (_, deferred) = server
        .logs
        .wait_for_event("service.connection.deferred")
        .await;
    assert!(
        deferred["data"]["reason"]
            .as_str()
            .unwrap()
            .contains("{ID}_URL"),
        "{deferred}"
    );
    assert!(!server.logs.dump().contains(API_KEY));
    assert!(!health.to_string().contains(API_KEY));
}

#[tokio::test]
async fn a_malformed_api_key_is_a_clear_startup_error() {
    let dir = scratch_dir();
    let (status, stderr) = run_to_end_in(
        "my-service",
        dir.path(),
        &[
            ("MYSERVICE_URL", "http://127.0.0.1:9"),
            ("MYSERVICE_APIKEY", "not-a-jwt-secret"),
        ],
    )
    .await;
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("API key for MYSERVICE_URL is not the right format"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-a-jwt-secret"), "{stderr}");
}

#[tokio::test]
async fn local_mode_picks_up_a_url_added_to_dotenv() {
    let dir = scratch_dir();
    std::fs::write(dir.path().join(".env"), "MYSERVICE_NAME=watching\n").unwrap();
    let server = HttpProcess::start_in("my-service", dir.path(), &[]).await;
    assert_eq!(server.health().await["service_connected"], false);
    std::fs::write(
        dir.path().join(".env"),
        "MYSERVICE_NAME=watching\nMYSERVICE_URL=http://127.0.0.1:9/late\n",
    )
    .unwrap();
    // The seed's re-check runs 7.5 s after start, then backs off: the one bound covers both.
    server
        .wait_health("the URL from .env", TIMEOUT, |h| {
            h["service_connected"] == true
        })
        .await;
    let client = server.client().await;
    assert_eq!(
        read_json(&client, "my-service://info").await["url"],
        "http://127.0.0.1:9/late"
    );
}

/// How a server started with `env` ran, for its whole life: its mode, whether it contacted the
/// manager, and its log. A stack deployment is left to subscribe; then the server is stopped, and
/// the stand-in has seen every connection it will ever get from it.
async fn mode_with(env: &[(&str, &str)]) -> (String, bool, Logs) {
    let manager =
        Manager::start(json!({"config": null, "config_schema": null, "connectors": null})).await;
    let mut all = vec![
        ("MANAGER_URL", manager.url.as_str()),
        ("REALTIME_URL", manager.realtime_url.as_str()),
    ];
    all.extend_from_slice(env);
    let dir = scratch_dir();
    let mut server = HttpProcess::start_in("my-service", dir.path(), &all).await;
    let mode = server.health().await["server_mode"]
        .as_str()
        .unwrap()
        .to_string();
    if mode == "stack_deployment" {
        manager.wait_subscribed(1).await;
    }
    let status = server.terminate().await;
    assert!(
        status.success(),
        "{status}; stderr:\n{}",
        server.logs.dump()
    );
    manager.settle().await;
    let contacted = !manager.connections().is_empty();
    (mode, contacted, server.logs)
}

#[tokio::test]
async fn the_mode_follows_service_name_and_local_config() {
    let (mode, contacted, logs) = mode_with(&[]).await;
    assert_eq!((mode.as_str(), contacted), ("local", false));
    // Counted in the whole log of a server that has exited: not one more can come.
    let hints: Vec<Value> = logs
        .events()
        .into_iter()
        .filter(|e| {
            e["event"]
                .as_str()
                .is_some_and(|m| m.contains("set SERVICE_NAME to register with a stack"))
        })
        .collect();
    assert_eq!(hints.len(), 1, "{}", logs.dump());

    let (mode, contacted, _) = mode_with(&[("SERVICE_NAME", "svc")]).await;
    assert_eq!((mode.as_str(), contacted), ("stack_deployment", true));

    let (mode, contacted, _) = mode_with(&[
        ("SERVICE_NAME", "svc"),
        ("CONFIDENTIAL_MIND_LOCAL_CONFIG", "TRUE"),
    ])
    .await;
    assert_eq!((mode.as_str(), contacted), ("local", false));

    let (mode, contacted, _) = mode_with(&[
        ("SERVICE_NAME", "svc"),
        ("CONFIDENTIAL_MIND_LOCAL_CONFIG", "false"),
    ])
    .await;
    assert_eq!((mode.as_str(), contacted), ("stack_deployment", true));

    // A stack deployment without SERVICE_NAME cannot register: a startup error naming it.
    let dir = scratch_dir();
    let (status, stderr) = run_to_end_in(
        "my-service",
        dir.path(),
        &[("CONFIDENTIAL_MIND_LOCAL_CONFIG", "false")],
    )
    .await;
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("SERVICE_NAME is not set"), "{stderr}");
}

/// Stops a server started in process (bounded).
async fn shut_down(server: cm_mcp::RunningServer) {
    tokio::time::timeout(TIMEOUT, server.shutdown())
        .await
        .expect("the in-process server did not shut down")
        .expect("shut the in-process server down");
}

/// `/health` of a server started in process, on a free port.
async fn in_process_health(server: cm_mcp::Server) -> (cm_mcp::RunningServer, Value) {
    let running = tokio::time::timeout(
        TIMEOUT,
        server.start_http(
            "127.0.0.1:0".parse().unwrap(),
            cm_mcp::HttpOptions::default(),
        ),
    )
    .await
    .expect("the in-process server did not start")
    .unwrap();
    let health = reqwest::Client::new()
        .get(format!("http://{}/health", running.local_addr()))
        .timeout(TIMEOUT)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (running, health)
}

#[tokio::test]
async fn a_server_without_connectors_is_service_connected() {
    let (server, health) = in_process_health(cm_mcp::Server::new("no-connectors")).await;
    // Every declared connector is connected when none is declared.
    assert_eq!(health["service_connected"], true, "{health}");
    assert_eq!(health["connector_id"], Value::Null, "{health}");
    shut_down(server).await;
}

#[tokio::test]
async fn the_startup_hook_receives_the_mode_and_the_settings_and_needs_no_state() {
    #[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
    struct HookConfig {
        greeting: String,
    }
    let (seen_tx, seen_rx) = tokio::sync::oneshot::channel();
    let server = cm_mcp::Server::new("startup-mode")
        .with_settings(cm_mcp::Settings::new(HookConfig {
            greeting: "hello".into(),
        }))
        .on_startup(move |start| async move {
            let settings = start
                .settings::<HookConfig>()
                .map(|s| s.get().greeting.clone());
            let _ = seen_tx.send((start.mode().clone(), settings));
            Ok(())
        });
    let (server, health) = in_process_health(server).await;
    let (mode, greeting) = tokio::time::timeout(TIMEOUT, seen_rx)
        .await
        .expect("the startup hook never reported")
        .expect("the startup hook ran");
    // The hook saw the mode /health reports, read once at start.
    assert_eq!(health["server_mode"], mode.as_str(), "{health}");
    assert_eq!(greeting.as_deref(), Some("hello"));
    shut_down(server).await;
}
