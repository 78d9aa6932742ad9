//! Stack mode against a stand-in config manager and realtime service on loopback: registration,
//! pushed updates, the reconnect hook, and a manager that is down, failing, slow or drops its socket.

mod common;

use std::time::{Duration, Instant};

use cm_test_support::*;
use common::{gate::Gate, platform::*};
use serde_json::{Value, json};

/// How long a pushed update may take to show. The service does not poll the manager, so an update that
/// shows at all came over the websocket; the time it took is printed (milliseconds here; the platform
/// asks for "within a second"), not asserted: a loaded CI machine must not turn latency into failures.
const PUSH_BOUND: Duration = TIMEOUT;

fn my_service_doc(config: Value, schema: Value, connectors: Value) -> Value {
    json!({"config": config, "config_schema": schema, "connectors": connectors})
}

#[tokio::test]
async fn registers_with_get_patch_get_then_subscribes() {
    let manager = Manager::start(my_service_doc(
        json!({"name": "named in the stack"}),
        json!({"type": "object"}),
        Value::Null,
    ))
    .await;
    let dir = scratch_dir();
    let server =
        HttpProcess::start_in("my-service", dir.path(), &manager.env("my-service-abc")).await;
    manager.wait_subscribed(1).await;

    let requests = manager.requests();
    let methods: Vec<&str> = requests.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(methods, ["GET", "PATCH", "GET", "WS"], "{requests:?}");
    for request in &requests {
        assert_eq!(request.path, "/internal/my-service-abc");
    }

    let body = requests[1].body.clone().expect("the PATCH has a JSON body");
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        ["config", "config_schema", "connectors", "deployment_state"]
    );
    // The manager's config, re-validated with the defaults filled in.
    assert_eq!(
        body["config"],
        json!({
            "name": "named in the stack",
            "description": "A template MCP server for the ConfidentialMind stack",
        })
    );
    assert_eq!(
        body["connectors"],
        json!({
            "connectors": [{
                "type": "api",
                "label": "My Service",
                "config_id": "MYSERVICE",
                "stack_id": null,
                "deployment_name": null,
            }],
            "array_connectors": null,
        })
    );
    let schema = &body["config_schema"];
    assert_eq!(schema["type"], "object", "{schema}");
    assert_eq!(schema["properties"]["name"]["type"], "string", "{schema}");
    assert_eq!(
        schema["properties"]["description"]["type"], "string",
        "{schema}"
    );
    assert_eq!(body["deployment_state"], "deployed");

    let health = server.health().await;
    assert_eq!(health["server_mode"], "stack_deployment");
    assert_eq!(health["service_connected"], false);
    assert_eq!(health["connector_id"], "MYSERVICE");
    server
        .logs
        .wait_for_target("connection.established", "config_manager")
        .await;
    server
        .logs
        .wait_for_event("service.connection.deferred")
        .await;
}

#[tokio::test]
async fn an_empty_first_answer_is_ignored_and_the_defaults_registered() {
    let manager = Manager::start(my_service_doc(Value::Null, Value::Null, Value::Null)).await;
    let dir = scratch_dir();
    let mut env = manager.env("my-service");
    env.push(("MYSERVICE_DESCRIPTION", "described by env"));
    let _server = HttpProcess::start_in("my-service", dir.path(), &env).await;
    manager.wait_subscribed(1).await;
    let patch = manager.requests()[1].clone();
    assert_eq!(patch.method, "PATCH");
    assert_eq!(
        patch.body.unwrap()["config"],
        json!({"name": "my-fastmcp-service", "description": "described by env"})
    );
}

#[tokio::test]
async fn a_pushed_stack_id_reaches_health_and_the_info_resource() {
    let manager = Manager::start(my_service_doc(Value::Null, Value::Null, Value::Null)).await;
    let dir = scratch_dir();
    let server = HttpProcess::start_in("my-service", dir.path(), &manager.env("my-service")).await;
    manager.wait_subscribed(1).await;
    let client = server.client().await;

    let info = read_json(&client, "my-service://info").await;
    assert_eq!(info["status"], "unavailable", "{info}");
    assert_eq!(info["url"], Value::Null);
    let message = info["message"].as_str().unwrap();
    assert!(
        message.contains("My Service (MYSERVICE) is not connected yet"),
        "{message}"
    );

    let pushed = Instant::now();
    manager.push_connectors(my_service_block(Some("svc-123")));
    server
        .wait_health("service_connected", PUSH_BOUND, |h| {
            h["service_connected"] == true
        })
        .await;
    let info = wait_resource(&client, "my-service://info", PUSH_BOUND, |v| {
        v["status"] == "available"
    })
    .await;
    eprintln!("the pushed stack id showed after {:?}", pushed.elapsed());
    assert_eq!(
        info["url"],
        "http://svc-123.api-services.svc.cluster.local:8080"
    );
    assert_eq!(info["service_name"], "my-fastmcp-service");
    // After applying a push, the service fetches the whole document again.
    manager
        .wait_methods("a GET after the push", |m| {
            m == ["GET", "PATCH", "GET", "WS", "GET"]
        })
        .await;

    manager.push_config(json!({"name": "renamed", "description": "pushed"}));
    let info = wait_resource(&client, "my-service://info", PUSH_BOUND, |v| {
        v["service_name"] == "renamed"
    })
    .await;
    assert_eq!(info["service_description"], "pushed");

    manager.push_connectors(my_service_block(None));
    server
        .wait_health("service_connected false", PUSH_BOUND, |h| {
            h["service_connected"] == false
        })
        .await;
    let info = read_json(&client, "my-service://info").await;
    assert_eq!(info["status"], "unavailable");
    server
        .logs
        .wait_for_target("connection.lost", "connector")
        .await;
}

/// The fixture's connectors block: `api` for `API`, nothing for the others.
fn fixture_block(api: Option<&str>) -> Value {
    json!({
        "connectors": [{"type": "api", "label": "The API", "config_id": "API", "stack_id": api, "deployment_name": null}],
        "array_connectors": null,
    })
}

fn hook_urls(server: &HttpProcess) -> Vec<String> {
    server
        .logs
        .of_type("fixture.hook.run")
        .iter()
        .map(|e| e["data"]["url"].as_str().unwrap().to_string())
        .collect()
}

fn api_url(stack_id: &str) -> String {
    format!("http://{stack_id}.api-services.svc.cluster.local:8080")
}

#[tokio::test]
async fn the_reconnect_hook_runs_once_per_change() {
    let manager = Manager::start(my_service_doc(Value::Null, Value::Null, Value::Null)).await;
    let dir = scratch_dir();
    let server =
        HttpProcess::start_in("platform-fixture", dir.path(), &manager.env("fixture")).await;
    manager.wait_subscribed(1).await;
    let client = server.client().await;

    let (is_error, text) = call(&client, "api_url", json!({})).await;
    assert!(is_error, "{text}");
    assert!(
        text.contains("The API (API) is not connected yet"),
        "{text}"
    );
    assert_eq!(call(&client, "hook_runs", json!({})).await.1, "0");

    let wait_hooks = |n: usize| {
        let logs = server.logs.clone();
        async move {
            logs.wait_until(&format!("{n} hook runs"), |events| {
                events
                    .iter()
                    .filter(|e| e["event_type"] == "fixture.hook.run")
                    .count()
                    >= n
            })
            .await;
        }
    };

    manager.push_connectors(fixture_block(Some("a1")));
    wait_hooks(1).await;
    server
        .wait_health("API connected", TIMEOUT, |h| {
            h["connectors"]["API"]["connected"] == true
        })
        .await;
    assert_eq!(
        call(&client, "api_url", json!({})).await,
        (false, api_url("a1"))
    );

    // The same assignment again, and a config change: no URL change, no hook run.
    manager.push_connectors(fixture_block(Some("a1")));
    manager.push_config(json!({"name": "x"}));
    manager
        .wait_methods("the re-fetches of both pushes", |m| {
            m.iter().filter(|m| *m == "GET").count() >= 4
        })
        .await;

    manager.push_connectors(fixture_block(Some("a2")));
    wait_hooks(2).await;
    // Unassigned: one run without a URL, for the hook to release the old connection.
    manager.push_connectors(fixture_block(None));
    server
        .logs
        .wait_for_target("connection.lost", "connector")
        .await;
    wait_hooks(3).await;
    manager.push_connectors(fixture_block(Some("a3")));
    wait_hooks(4).await;
    server
        .wait_health("API connected to a3", TIMEOUT, |h| {
            h["connectors"]["API"]["url"] == api_url("a3").as_str()
                && h["connectors"]["API"]["connected"] == true
        })
        .await;
    assert_eq!(
        hook_urls(&server),
        [api_url("a1"), api_url("a2"), String::new(), api_url("a3")]
    );
    assert_eq!(call(&client, "hook_runs", json!({})).await.1, "4");
    // Every run, the release without a URL included, was told the mode read at start; tools get it too.
    for run in server.logs.of_type("fixture.hook.run") {
        assert_eq!(run["data"]["mode"], "stack_deployment", "{run}");
        assert_eq!(run["data"]["service_name"], "fixture", "{run}");
    }
    assert_eq!(
        call(&client, "mode", json!({})).await,
        (false, "stack_deployment:fixture".to_string())
    );
}

#[tokio::test]
async fn a_failing_hook_is_retried_and_tools_wait_for_the_connection() {
    let manager = Manager::start(my_service_doc(Value::Null, Value::Null, Value::Null)).await;
    let dir = scratch_dir();
    // Two failed runs, then a run that succeeds only when the test opens the gate: until then the
    // connector is, for certain, not connected.
    let mut gate = Gate::new().await;
    let gate_addr = gate.addr();
    let mut env = manager.env("fixture");
    env.extend([
        ("PROBE_HOOK_FAILURES", "2"),
        ("PROBE_HOOK_GATE", &gate_addr),
    ]);
    let server = HttpProcess::start_in("platform-fixture", dir.path(), &env).await;
    manager.wait_subscribed(1).await;
    let client = server.client().await;

    let (is_error, text) = call(&client, "wait_api", json!({"ms": 50})).await;
    assert!(is_error && text.contains("is not connected yet"), "{text}");
    assert_eq!(
        call(&client, "api_assigned", json!({})).await,
        (false, String::new())
    );

    // A tool waiting for the connector gets it as soon as it is connected. It waits longer than
    // the test does, so that a hang shows as the test's timeout below, not as the tool's error.
    let waiting = {
        let client = server.client().await;
        let ms = 2 * TIMEOUT.as_secs() * 1000;
        tokio::spawn(async move { call(&client, "wait_api", json!({"ms": ms})).await })
    };
    manager.push_connectors(fixture_block(Some("h1")));
    let (_, retry) = server
        .logs
        .wait_for("a hook retry", |e| {
            e["event_type"] == "connection.retry" && e["data"]["connector_id"] == "API"
        })
        .await;
    assert_eq!(retry["data"]["attempt"], 1);
    assert_eq!(retry["data"]["delay_s"], 1.0);
    assert!(
        retry["error"]
            .as_str()
            .unwrap()
            .contains("simulated failure 1 of 2"),
        "{retry}"
    );
    let (is_error, text) = call(&client, "api_url", json!({})).await;
    assert!(is_error, "{text}");
    assert!(
        text.contains("is not connected yet") && text.contains("simulated failure"),
        "{text}"
    );
    // Assigned but not connected: what a startup hook configures from.
    assert_eq!(
        call(&client, "api_assigned", json!({})).await,
        (false, api_url("h1"))
    );

    // The third run is held at the gate: both failures are behind it, and it is still not connected,
    // saying why the last attempt failed.
    gate.arrived("the third run of the reconnect hook").await;
    let (is_error, text) = call(&client, "api_url", json!({})).await;
    assert!(is_error, "{text}");
    assert!(
        text.contains("is not connected yet") && text.contains("simulated failure 2 of 2"),
        "{text}"
    );
    gate.open();
    let (_, established) = server
        .logs
        .wait_for("the API established", |e| {
            e["event_type"] == "connection.established" && e["data"]["connector_id"] == "API"
        })
        .await;
    assert_eq!(established["data"]["attempt"], 3);
    let (is_error, text) = tokio::time::timeout(TIMEOUT, waiting)
        .await
        .expect("the waiting tool returned")
        .unwrap();
    assert!(!is_error, "{text}");
    assert_eq!(text, api_url("h1"));
    let retries = server.logs.of_type("connection.retry");
    let delays: Vec<&Value> = retries
        .iter()
        .filter(|e| e["data"]["connector_id"] == "API")
        .map(|e| &e["data"]["delay_s"])
        .collect();
    assert_eq!(delays, [&json!(1.0), &json!(2.0)]);
}

#[tokio::test]
async fn a_manager_down_at_startup_is_registered_with_when_it_appears() {
    // Its ports are held, not listening: refused until it comes up, and nobody else can take them.
    let down = Manager::down();
    let dir = scratch_dir();
    let server = HttpProcess::start_in("my-service", dir.path(), &down.env("late")).await;
    // It serves while the manager is unreachable.
    let health = server.health().await;
    assert_eq!(health["server_mode"], "stack_deployment");
    assert_eq!(health["service_connected"], false);
    let client = server.client().await;
    assert_eq!(
        call(&client, "my_tool", json!({"input_param": "hi"})).await,
        (false, "Processed: hi".to_string())
    );
    let (_, retry) = server
        .logs
        .wait_for_target("connection.retry", "config_manager")
        .await;
    assert!(
        retry["error"].as_str().unwrap().contains("unreachable"),
        "{retry}"
    );

    let manager = down.up(my_service_doc(
        Value::Null,
        json!({"type": "object"}),
        my_service_block(Some("late-1")),
    ));
    manager.wait_subscribed(1).await;
    assert_eq!(&manager.methods()[..4], ["GET", "PATCH", "GET", "WS"]);
    let health = server
        .wait_health("service_connected", TIMEOUT, |h| {
            h["service_connected"] == true
        })
        .await;
    assert_eq!(health["connector_id"], "MYSERVICE");
    let info = read_json(&client, "my-service://info").await;
    assert_eq!(
        info["url"],
        "http://late-1.api-services.svc.cluster.local:8080"
    );
}

#[tokio::test]
async fn manager_errors_are_logged_and_do_not_stop_the_server() {
    let manager = Manager::start(my_service_doc(Value::Null, Value::Null, Value::Null)).await;
    manager.answer_patches(vec![
        (500, json!({"error": "boom", "detail": "database down"})),
        (
            422,
            json!({"error": "invalid", "detail": "schema rejected"}),
        ),
    ]);
    let dir = scratch_dir();
    let server = HttpProcess::start_in("my-service", dir.path(), &manager.env("failing")).await;
    manager.wait_subscribed(1).await;
    // A 5xx is retried (the whole sequence); a 4xx is logged and registration goes on.
    assert_eq!(
        manager.methods(),
        ["GET", "PATCH", "GET", "PATCH", "GET", "WS"]
    );
    let (_, retry) = server
        .logs
        .wait_for_target("connection.retry", "config_manager")
        .await;
    let error = retry["error"].as_str().unwrap();
    assert!(
        error.contains("500") && error.contains("boom") && error.contains("database down"),
        "{retry}"
    );
    let (_, rejected) = server
        .logs
        .wait_for_event("service.registration.error")
        .await;
    let error = rejected["error"].as_str().unwrap();
    assert!(
        error.contains("422") && error.contains("invalid") && error.contains("schema rejected"),
        "{rejected}"
    );
    assert_eq!(server.health().await["status"], "healthy");
    // Pushed updates still work.
    manager.push_connectors(my_service_block(Some("ok-1")));
    server
        .wait_health("service_connected", PUSH_BOUND, |h| {
            h["service_connected"] == true
        })
        .await;
}

#[tokio::test]
async fn a_slow_manager_does_not_delay_serving() {
    let manager = Manager::start(my_service_doc(Value::Null, Value::Null, Value::Null)).await;
    // A manager that does not answer until the test lets it.
    manager.hold_gets();
    let dir = scratch_dir();
    let server = HttpProcess::start_in("my-service", dir.path(), &manager.env("slow")).await;
    manager
        .wait_methods("the first GET", |m| !m.is_empty())
        .await;
    // The GET is still unanswered, and the server serves.
    assert_eq!(server.health().await["service_connected"], false);
    let client = server.client().await;
    assert_eq!(
        call(&client, "my_tool", json!({"input_param": "x"})).await,
        (false, "Processed: x".to_string())
    );
    // Nothing past the first step (a GET that timed out on a very slow machine is sent again).
    let methods = manager.methods();
    assert!(methods.iter().all(|m| m == "GET"), "{methods:?}");
    // Answered, the registration goes on from there.
    manager.release_gets();
    manager.wait_subscribed(1).await;
    let methods = manager.methods();
    assert!(
        methods.ends_with(&["PATCH", "GET", "WS"].map(String::from)),
        "{methods:?}"
    );
}

#[tokio::test]
async fn a_websocket_that_goes_silent_without_closing_is_noticed_by_its_unanswered_ping_and_replaced()
 {
    let manager = Manager::start(my_service_doc(Value::Null, Value::Null, Value::Null)).await;
    let dir = scratch_dir();
    let mut env = manager.env("silent");
    env.push(("REALTIME_PING_INTERVAL", "0.2"));
    let server = HttpProcess::start_in("my-service", dir.path(), &env).await;
    manager.wait_subscribed(1).await;

    // The peer stops answering without closing: only the missing answer to a ping can tell.
    manager.freeze_sockets();
    let (_, lost) = server
        .logs
        .wait_for_target("connection.lost", "realtime")
        .await;
    assert!(
        lost["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("no answer to a ping within 0.2 s")),
        "{lost}"
    );
    manager.wait_subscribed(2).await;

    // The new socket carries pushes.
    manager.push_connectors(my_service_block(Some("after-silence")));
    server
        .wait_health("the pushed assignment", TIMEOUT, |h| {
            h["service_connected"] == true
        })
        .await;
}

#[tokio::test]
async fn a_dropped_websocket_is_restored_and_missed_updates_fetched() {
    let manager = Manager::start(my_service_doc(Value::Null, Value::Null, Value::Null)).await;
    let dir = scratch_dir();
    let server = HttpProcess::start_in("my-service", dir.path(), &manager.env("dropped")).await;
    manager.wait_subscribed(1).await;

    manager.refuse_realtime(true);
    manager.drop_sockets();
    server
        .logs
        .wait_for_target("connection.lost", "realtime")
        .await;
    manager
        .wait_methods("a refused re-subscription", |m| {
            m.iter().any(|m| m == "WS-REFUSED")
        })
        .await;
    server
        .logs
        .wait_for_target("connection.retry", "realtime")
        .await;
    assert_eq!(server.health().await["status"], "healthy");
    // Calls are served while no socket is open.
    let client = server.client().await;
    assert_eq!(
        call(&client, "my_tool", json!({"input_param": "unsubscribed"})).await,
        (false, "Processed: unsubscribed".to_string())
    );

    // Assigned while the socket is down: nobody can push it; the re-fetch after reconnecting finds it.
    manager.set_connectors(my_service_block(Some("missed-1")));
    manager.refuse_realtime(false);
    manager.wait_subscribed(2).await;
    server
        .wait_health("the missed assignment", TIMEOUT, |h| {
            h["service_connected"] == true
        })
        .await;
    let info = read_json(&client, "my-service://info").await;
    assert_eq!(
        info["url"],
        "http://missed-1.api-services.svc.cluster.local:8080"
    );

    // And pushes arrive over the new socket.
    manager.push_connectors(my_service_block(Some("pushed-2")));
    wait_resource(&client, "my-service://info", PUSH_BOUND, |v| {
        v["url"] == "http://pushed-2.api-services.svc.cluster.local:8080"
    })
    .await;
}

/// `my-service://info`'s URL for the stack id `id`.
fn my_service_url(id: &str) -> String {
    format!("http://{id}.api-services.svc.cluster.local:8080")
}

#[tokio::test]
async fn while_the_manager_is_down_calls_use_the_last_configuration_and_it_is_followed_again_when_back()
 {
    bounded(
        "while_the_manager_is_down_calls_use_the_last_configuration_and_it_is_followed_again_when_back",
        async {
            let manager = Manager::start(my_service_doc(
                json!({"name": "before", "description": "known before the outage"}),
                Value::Null,
                my_service_block(Some("before-1")),
            ))
            .await;
            let dir = scratch_dir();
            let server =
                HttpProcess::start_in("my-service", dir.path(), &manager.env("outage")).await;
            manager.wait_subscribed(1).await;
            server
                .wait_health("the assignment", TIMEOUT, |h| h["service_connected"] == true)
                .await;
            let client = server.client().await;

            // The manager goes away (its socket cut, its ports closing every connection) and stays
            // away through two failed re-subscriptions.
            manager.go_down();
            server
                .logs
                .wait_for_target("connection.lost", "realtime")
                .await;
            server
                .logs
                .wait_for("a second failed re-subscription", |e| {
                    e["event_type"] == "connection.retry"
                        && e["data"]["target"] == "realtime"
                        && e["data"]["attempt"] == 2
                })
                .await;
            // Meanwhile calls are served with what was known last, and /health says so.
            assert_eq!(
                call(&client, "my_tool", json!({"input_param": "down"})).await,
                (false, "Processed: down".to_string())
            );
            let info = read_json(&client, "my-service://info").await;
            assert_eq!(info["status"], "available", "{info}");
            assert_eq!(info["url"], my_service_url("before-1"));
            assert_eq!(info["service_name"], "before");
            let health = server.health().await;
            assert_eq!(health["status"], "healthy", "{health}");
            assert_eq!(health["service_connected"], true, "{health}");

            // Reassigned while it was down: nobody could push it.
            manager.set_connectors(my_service_block(Some("during-2")));
            manager.come_up();
            manager.wait_subscribed(2).await;
            wait_resource(&client, "my-service://info", TIMEOUT, |v| {
                v["url"] == my_service_url("during-2").as_str()
            })
            .await;

            // Pushed after the reconnect: reaches calls and /health.
            manager.push_connectors(my_service_block(None));
            server
                .wait_health("the connector unassigned", PUSH_BOUND, |h| {
                    h["service_connected"] == false
                })
                .await;
            manager.push_connectors(my_service_block(Some("after-3")));
            manager.push_config(json!({"name": "after", "description": "pushed after the outage"}));
            let info = wait_resource(&client, "my-service://info", PUSH_BOUND, |v| {
                v["url"] == my_service_url("after-3").as_str() && v["service_name"] == "after"
            })
            .await;
            assert_eq!(info["status"], "available", "{info}");
            assert_eq!(server.health().await["service_connected"], true);
            // The server reconnected by itself, once: one more subscription, no restart.
            assert_eq!(
                manager.methods().iter().filter(|m| *m == "WS").count(),
                2,
                "{:?}",
                manager.methods()
            );
        },
    )
    .await;
}

#[tokio::test]
async fn an_update_missed_before_the_first_subscription_is_fetched_once_subscribed() {
    bounded(
        "an_update_missed_before_the_first_subscription_is_fetched_once_subscribed",
        async {
            let manager =
                Manager::start(my_service_doc(Value::Null, Value::Null, Value::Null)).await;
            manager.refuse_realtime(true);
            let dir = scratch_dir();
            let server =
                HttpProcess::start_in("my-service", dir.path(), &manager.env("late-socket")).await;
            // Registered (GET, PATCH, GET), but not subscribed.
            manager
                .wait_methods("a refused first subscription", |m| {
                    m.iter().any(|m| m == "WS-REFUSED")
                })
                .await;
            assert_eq!(&manager.methods()[..3], ["GET", "PATCH", "GET"]);

            // Assigned before the service could subscribe: nobody could push it to the service.
            manager.set_connectors(my_service_block(Some("early-1")));
            manager.refuse_realtime(false);
            manager.wait_subscribed(1).await;
            server
                .wait_health("the assignment made before subscribing", TIMEOUT, |h| {
                    h["service_connected"] == true
                })
                .await;
            let client = server.client().await;
            let info = read_json(&client, "my-service://info").await;
            assert_eq!(info["url"], my_service_url("early-1"));
        },
    )
    .await;
}

#[tokio::test]
async fn a_missed_update_is_fetched_even_when_the_manager_is_back_only_after_the_socket() {
    bounded(
        "a_missed_update_is_fetched_even_when_the_manager_is_back_only_after_the_socket",
        async {
            let manager =
                Manager::start(my_service_doc(Value::Null, Value::Null, Value::Null)).await;
            let dir = scratch_dir();
            let server =
                HttpProcess::start_in("my-service", dir.path(), &manager.env("split")).await;
            manager.wait_subscribed(1).await;

            // The manager goes down; the realtime service only drops its socket and is back at once.
            manager.manager_down(true);
            manager.set_connectors(my_service_block(Some("missed-1")));
            manager.drop_sockets();
            manager.wait_subscribed(2).await;
            // The catch-up GET after re-subscribing found the manager down.
            manager
                .wait_methods("a GET refused after re-subscribing", |m| {
                    let second = m.iter().enumerate().filter(|(_, m)| *m == "WS").nth(1);
                    second.is_some_and(|(i, _)| m[i..].iter().any(|m| m == "DROPPED-HTTP"))
                })
                .await;
            let client = server.client().await;
            assert_eq!(
                call(&client, "my_tool", json!({"input_param": "meanwhile"})).await,
                (false, "Processed: meanwhile".to_string())
            );
            assert_eq!(server.health().await["service_connected"], false);

            // The manager is back, with nothing pushed: the missed assignment is fetched all the same.
            manager.manager_down(false);
            server
                .wait_health("the missed assignment", TIMEOUT, |h| {
                    h["service_connected"] == true
                })
                .await;
            let info = read_json(&client, "my-service://info").await;
            assert_eq!(info["url"], my_service_url("missed-1"));
            let (_, retry) = server
                .logs
                .wait_for_target("connection.retry", "config_manager")
                .await;
            assert_eq!(retry["error_type"], "ConfigManagerError", "{retry}");
            assert!(
                retry["error"].as_str().unwrap().contains("unreachable"),
                "{retry}"
            );
        },
    )
    .await;
}
