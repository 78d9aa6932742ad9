//! Settings: loaded from prefixed env vars over defaults, a bad value stops the start with a message
//! naming the variable, and in a stack they are the registered config that the manager can replace.

mod common;

use cm_test_support::*;
use common::platform::*;
use serde_json::{Value, json};

#[tokio::test]
async fn a_bad_value_is_a_startup_error_naming_the_variable_and_type() {
    let dir = scratch_dir();
    let (status, stderr) = run_to_end_in(
        "platform-fixture",
        dir.path(),
        &[("FIXTURE_PORT", "eighty")],
    )
    .await;
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("FIXTURE_PORT=`eighty` is not valid: expected an integer"),
        "{stderr}"
    );
    let error_line: Value = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["event_type"] == "service.init.error")
        .unwrap_or_else(|| panic!("no service.init.error in:\n{stderr}"));
    assert!(
        error_line["error"]
            .as_str()
            .unwrap()
            .contains("FIXTURE_PORT"),
        "{error_line}"
    );

    let (status, stderr) =
        run_to_end_in("platform-fixture", dir.path(), &[("FIXTURE_PORT", "70000")]).await;
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("FIXTURE_PORT=`70000` is not valid: expected an unsigned 16 bit integer"),
        "{stderr}"
    );

    // A .env value is checked the same way.
    std::fs::write(dir.path().join(".env"), "FIXTURE_VERBOSE=perhaps\n").unwrap();
    let (status, stderr) = run_to_end_in("platform-fixture", dir.path(), &[]).await;
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("FIXTURE_VERBOSE=`perhaps` is not valid"),
        "{stderr}"
    );
}

#[tokio::test]
async fn env_values_reach_tools_locally() {
    let dir = scratch_dir();
    let server = HttpProcess::start_in(
        "platform-fixture",
        dir.path(),
        &[("FIXTURE_NAME", "1234"), ("FIXTURE_VERBOSE", "yes")],
    )
    .await;
    let client = server.client().await;
    let (is_error, text) = call(&client, "config", json!({})).await;
    assert!(!is_error, "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"name": "1234", "port": 8080, "verbose": true})
    );
}

#[tokio::test]
async fn in_a_stack_the_settings_are_the_registered_config_and_follow_the_manager() {
    let manager = Manager::start(json!({
        "config": {"verbose": true},
        "config_schema": {"type": "object"},
        "connectors": null,
    }))
    .await;
    let dir = scratch_dir();
    let mut env = manager.env("fixture");
    env.extend([("FIXTURE_NAME", "from-env"), ("FIXTURE_PORT", "9000")]);
    let server = HttpProcess::start_in("platform-fixture", dir.path(), &env).await;
    manager.wait_subscribed(1).await;

    let patch = manager.requests()[1].body.clone().unwrap();
    // The manager's config over the env values and defaults.
    assert_eq!(
        patch["config"],
        json!({"name": "from-env", "port": 9000, "verbose": true})
    );
    let schema = &patch["config_schema"];
    assert_eq!(schema["properties"]["port"]["type"], "integer", "{schema}");
    assert_eq!(
        schema["properties"]["verbose"]["type"], "boolean",
        "{schema}"
    );
    assert_eq!(schema["properties"]["name"]["type"], "string", "{schema}");

    let client = server.client().await;
    let config = || async {
        let (_, text) = call(&client, "config", json!({})).await;
        serde_json::from_str::<Value>(&text).unwrap()
    };
    assert_eq!(
        config().await,
        json!({"name": "from-env", "port": 9000, "verbose": true})
    );

    manager.push_config(json!({"name": "pushed", "verbose": true}));
    manager
        .wait_methods("the re-fetch after the push", |m| {
            m == ["GET", "PATCH", "GET", "WS", "GET"]
        })
        .await;
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while config().await["name"] != "pushed" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the pushed config never applied"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        config().await,
        json!({"name": "pushed", "port": 9000, "verbose": true})
    );

    // A config that does not fit is refused, logged, and changes nothing.
    manager.push_config(json!({"port": "not a port"}));
    let (_, error) = server.logs.wait_for_event("service.config.error").await;
    assert!(error["error"].as_str().unwrap().contains("port"), "{error}");
    assert_eq!(config().await["name"], "pushed");
}
