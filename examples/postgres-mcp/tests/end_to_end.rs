//! The `postgres-mcp` binary as a process, driven by an rmcp client over streamable HTTP: the demo on
//! a machine without PostgreSQL, a real PostgreSQL, a database that is down at start and comes up, and
//! a database whose connections are terminated under load.

mod common;

use std::{path::Path, time::Duration};

use cm_test_support::{
    TIMEOUT, bounded, read_json, run_to_end, server_command, text_of, try_read_json,
};
use common::{
    ServerProcess, TestDb, admin_or_skip, cluster::Cluster, connect, execute_sql, unique,
    wait_sleeping,
};
use serde_json::{Value, json};

const FIXTURE: &str = include_str!("fixtures/postgres.sql");

/// How many calls are in flight when the backends are terminated: fewer than the pool's size (5),
/// so that each holds a connection of its own.
const IN_FLIGHT: i64 = 4;

#[tokio::test]
async fn demo_over_mcp() {
    let server = ServerProcess::start(&[]).await;
    let health = server.health().await;
    assert_eq!(health["database_connected"], true, "{health}");
    assert_eq!(health["database_error"], Value::Null);
    assert_eq!(health["database"], "sqlite");
    assert_eq!(health["connector_id"], "DATABASE");
    assert!(health.get("service_connected").is_none(), "{health}");
    assert!(
        server
            .stderr()
            .contains("serving the embedded demo database"),
        "the demo is announced:\n{}",
        server.stderr()
    );

    let client = server.client().await;
    let info = client.peer_info().expect("server info");
    assert_eq!(
        info.server_info.as_ref().expect("serverInfo").name,
        "Postgres Reader MCP"
    );
    let tools = client.list_all_tools().await.unwrap();
    let tool = tools
        .iter()
        .find(|t| t.name == "execute_sql")
        .expect("execute_sql");
    let annotations = tool.annotations.as_ref().expect("annotations");
    assert_eq!(annotations.read_only_hint, Some(true));
    assert_eq!(annotations.destructive_hint, Some(false));
    let output = tool.output_schema.as_ref().expect("an output schema");
    for field in ["rows", "columns", "row_count", "truncated", "duration_ms"] {
        assert!(
            output["properties"].get(field).is_some(),
            "{field} in {output:?}"
        );
    }
    assert_eq!(tool.input_schema["required"], json!(["sql_query"]));

    let result = execute_sql(
        &client,
        "SELECT p.category, round(sum(i.quantity * i.unit_price), 2) AS revenue FROM order_items i JOIN products p ON p.id = i.product_id GROUP BY p.category ORDER BY revenue DESC",
    )
    .await;
    assert_ne!(result.is_error, Some(true), "{}", text_of(&result));
    let structured = result
        .structured_content
        .clone()
        .expect("structured content");
    assert_eq!(structured["row_count"], 4);
    assert!(structured["rows"][0]["revenue"].is_f64());
    assert_eq!(structured["columns"][0]["name"], "category");
    let text: Value = serde_json::from_str(&text_of(&result)).unwrap();
    assert_eq!(text, structured);

    let result = execute_sql(&client, "SELECT 'delete me' AS note").await;
    assert_eq!(
        result.structured_content.unwrap()["rows"],
        json!([{"note": "delete me"}])
    );
    let result = execute_sql(&client, "DELETE FROM orders RETURNING id").await;
    assert_eq!(result.is_error, Some(true));
    assert!(
        text_of(&result).contains("read-only"),
        "{}",
        text_of(&result)
    );
    let result = execute_sql(&client, "SELECT count(*) AS n FROM orders").await;
    assert_eq!(result.structured_content.unwrap()["rows"][0]["n"], 24);

    let schemas = read_json(&client, "postgres://schemas").await;
    assert_eq!(
        schemas["main.orders"][0],
        json!({"column": "id", "type": "INTEGER", "nullable": true, "default": null})
    );
    let table = read_json(&client, "postgres://tables/orders").await;
    assert_eq!(table["primary_key"], json!(["id"]));
    assert_eq!(table["estimated_row_count"], 24);
    let error = try_read_json(&client, "postgres://tables/missing")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("missing"),
        "the error names the table: {error}"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn postgres_over_mcp() {
    let Some(admin) = admin_or_skip("postgres_over_mcp").await else {
        return;
    };
    let test = TestDb::create(admin, false, &[], FIXTURE).await;
    test.run(|test| async move {
        let dsn = test.url_as("postgres");
        let server = ServerProcess::start(&[("PG_DSN", dsn.as_str()), ("PG_MAX_ROWS", "2")]).await;
        let health = server.wait_connected(true).await;
        assert_eq!(health["database"], "postgresql");
        assert_eq!(health["database_error"], Value::Null);
        let client = server.client().await;

        let result = execute_sql(&client, "SELECT owner, balance, tags, meta FROM accounts ORDER BY id").await;
        assert_ne!(result.is_error, Some(true), "{}", text_of(&result));
        let structured = result.structured_content.unwrap();
        assert_eq!(structured["truncated"], true);
        assert_eq!(structured["row_limit"], 2);
        assert_eq!(
            structured["rows"],
            json!([
                {"owner": "alice", "balance": "100.50", "tags": ["vip", "early"], "meta": {"tier": 1}},
                {"owner": "bob", "balance": "20.00", "tags": [], "meta": null},
            ])
        );
        assert!(structured["duration_ms"].is_f64());
        // The duration reported is the query's: at least the time it sleeps.
        let result = execute_sql(&client, "SELECT pg_sleep(0.2) AS slept").await;
        let duration = result.structured_content.unwrap()["duration_ms"].as_f64();
        assert!(duration.is_some_and(|ms| ms >= 200.0), "{duration:?} for a 200 ms sleep");

        let result = execute_sql(&client, "COMMIT; DELETE FROM transfers").await;
        assert_eq!(result.is_error, Some(true));
        assert!(text_of(&result).contains("one SQL statement"), "{}", text_of(&result));
        let result = execute_sql(&client, "WITH d AS (DELETE FROM transfers RETURNING *) SELECT * FROM d").await;
        assert_eq!(result.is_error, Some(true));
        assert!(text_of(&result).contains("read-only"), "{}", text_of(&result));

        let schemas = read_json(&client, "postgres://schemas").await;
        assert_eq!(schemas["public.transfers"].as_array().unwrap().len(), 4);
        let table = read_json(&client, "postgres://tables/public.transfers").await;
        assert_eq!(table["foreign_keys"][0]["references_table"], "public.accounts");

        // The server's completion log carries the platform's event names (waited for: a line may
        // be written after the answer is sent).
        server.logs.wait_for_event("postgres.query.complete").await;
        server.logs.wait_for_event("postgres.query.error").await;
        client.cancel().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn database_url_connector_selects_postgres() {
    let Some(admin) = admin_or_skip("database_url_connector_selects_postgres").await else {
        return;
    };
    let test = TestDb::create(admin, false, &[], FIXTURE).await;
    test.run(|test| async move {
        // Local mode: DATABASE_URL as a full DSN ...
        let dsn = test.url_as("postgres");
        let server = ServerProcess::start(&[("DATABASE_URL", dsn.as_str())]).await;
        assert_serves(&server, &test.name).await;
        drop(server);
        // ... or as host:port, with PG_DATABASE naming the database.
        let server = ServerProcess::start(&[
            ("DATABASE_URL", "127.0.0.1:5432"),
            ("PG_DATABASE", test.name.as_str()),
        ])
        .await;
        server.wait_connected(true).await;
        let client = server.client().await;
        let result = execute_sql(&client, "SELECT count(*) AS n FROM accounts").await;
        assert_eq!(result.structured_content.unwrap()["rows"][0]["n"], 3);
        client.cancel().await.unwrap();
    })
    .await;
}

/// `server` connects to PostgreSQL and its queries run in `database`.
async fn assert_serves(server: &ServerProcess, database: &str) {
    let health = server.wait_connected(true).await;
    assert_eq!(health["database"], "postgresql", "{health}");
    let client = server.client().await;
    let result = execute_sql(&client, "SELECT current_database() AS db").await;
    assert_eq!(
        result.structured_content.unwrap()["rows"][0]["db"],
        database
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn dot_env_renames_the_connector() {
    let Some(admin) = admin_or_skip("dot_env_renames_the_connector").await else {
        return;
    };
    let test = TestDb::create(admin, false, &[], FIXTURE).await;
    test.run(|test| async move {
        // The connector's id is needed when the server is built, before `run` would load `.env`.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(unique("dotenv"));
        std::fs::create_dir_all(&dir).unwrap();
        let dsn = test.url_as("postgres");
        std::fs::write(
            dir.join(".env"),
            format!("PG_CONNECTOR_ID=ORDERS_DB\nORDERS_DB_URL={dsn}\n"),
        )
        .unwrap();
        // The id the service registers with the config manager in a stack.
        let mut command = server_command(env!("CARGO_BIN_EXE_postgres-mcp"), &dir);
        command.arg("--manifest").env_remove("PG_CONNECTOR_ID");
        let output = run_to_end(command).await;
        assert!(
            output.status.success(),
            "--manifest exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let manifest: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            manifest["connectors"]["connectors"][0]["config_id"], "ORDERS_DB",
            "{manifest}"
        );
        let server = ServerProcess::start_in(&dir, &[]).await;
        assert_serves(&server, &test.name).await;
        drop(server);
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await;
}

#[tokio::test]
async fn down_at_start_then_connects_and_survives_terminated_backends() {
    let Some(admin) =
        admin_or_skip("down_at_start_then_connects_and_survives_terminated_backends").await
    else {
        return;
    };
    let test = TestDb::create(admin, false, &[], FIXTURE).await;
    test.run(|test| async move {
        // The database's port has nothing behind it yet: bound by this test, not listening, so
        // connections are refused and no other process can take it before the database comes up.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(([127, 0, 0, 1], 0).into()).unwrap();
        let port_text = socket.local_addr().unwrap().port().to_string();
        let mut server = ServerProcess::start(&[
            ("PG_HOST", "127.0.0.1"),
            ("PG_PORT", port_text.as_str()),
            ("PG_DATABASE", test.name.as_str()),
            ("PG_PASSWORD", "hunter2-secret"),
            // Longer than any wait of the test: a call ends because its backend is terminated,
            // not because of the statement timeout.
            ("PG_QUERY_TIMEOUT_MS", "600000"),
            // A connection for each call in flight, and one more for the health check.
            ("PG_POOL_MAX_SIZE", "5"),
        ])
        .await;
        let health = server
            .wait_health("a database error", TIMEOUT, |health| {
                health["database_connected"] == false && health["database_error"].is_string()
            })
            .await;
        let error = health["database_error"]
            .as_str()
            .expect("database_error is a message");
        assert!(!error.is_empty() && !error.contains("hunter2"), "{health}");
        // The failed attempt's log line (with the driver's error) is written by now: the check of
        // the logs below covers it.
        let (retry, _) = server.logs.wait_for_event("connection.retry").await;
        assert!(retry.contains("\"error\":"), "{retry}");
        assert!(
            !server.stderr().contains("hunter2"),
            "the password reached the logs"
        );
        let client = server.client().await;
        let result = execute_sql(&client, "SELECT 1").await;
        assert_eq!(result.is_error, Some(true));
        assert_eq!(
            text_of(&result),
            "Database connection is not available yet. Please try again later."
        );

        // The database comes up on that port: the server connects without a restart.
        let forwarder = socket.listen(128).unwrap();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = forwarder.accept().await {
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect("127.0.0.1:5432").await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        let health = server.wait_connected(true).await;
        assert_eq!(health["database_error"], Value::Null);
        let result = execute_sql(&client, "SELECT 41 + 1 AS answer").await;
        assert_eq!(result.structured_content.unwrap()["rows"][0]["answer"], 42);

        // Every backend of the server is terminated (as a database restart does) while calls are
        // running in the database: seen in pg_stat_activity, not assumed after a sleep.
        let mut calls = Vec::new();
        for _ in 0..IN_FLIGHT {
            let client = server.client().await;
            calls.push(tokio::spawn(async move {
                let outcome = execute_sql(&client, "SELECT pg_sleep(600), 1 AS one").await;
                let _ = client.cancel().await;
                outcome
            }));
        }
        let killer = test.admin_on_db().await;
        wait_sleeping(&killer, IN_FLIGHT).await;
        let terminated: i64 = killer
            .query_one(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                  WHERE datname = current_database() AND application_name = 'postgres-mcp') t",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert!(
            terminated >= IN_FLIGHT,
            "{terminated} backends of the server were terminated"
        );
        for call in calls {
            let outcome = call.await.expect("a client task");
            assert_eq!(
                outcome.is_error,
                Some(true),
                "a call whose backend was terminated must fail: {outcome:?}"
            );
            let message = text_of(&outcome);
            assert!(
                message.starts_with("The database connection was lost")
                    && message.contains("Please try again"),
                "an unclear error for a terminated backend: {message}"
            );
        }
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let result = execute_sql(&client, "SELECT 1 AS one").await;
            if result.is_error != Some(true) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never recovered: {}",
                text_of(&result)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server.wait_connected(true).await;
        assert!(server.is_running(), "the server exited");
        assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
        client.cancel().await.unwrap();
    })
    .await;
}

/// What a call answers while the database is unreachable and the server knows it.
const NOT_AVAILABLE: &str = "Database connection is not available yet. Please try again later.";

/// PostgreSQL itself stops and starts again under the real server (a cluster of the test's own, so
/// that no other test's database goes away): the calls running in it fail with a clear error, calls
/// made while it is down are refused at once with another, `/health` says so, and once it is back
/// calls succeed again from the same server process. How soon is printed, not asserted (see
/// BENCHMARKS.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_restart_fails_calls_clearly_and_the_same_server_serves_again_after_it() {
    const NAME: &str =
        "a_postgresql_restart_fails_calls_clearly_and_the_same_server_serves_again_after_it";
    bounded(NAME, async {
        let Some(cluster) = Cluster::start_or_skip(NAME).await else {
            return;
        };
        let port = cluster.port.to_string();
        let mut server = ServerProcess::start(&[
            ("PG_HOST", "127.0.0.1"),
            ("PG_PORT", port.as_str()),
            ("PG_USER", "postgres"),
            ("PG_DATABASE", "postgres"),
            // Trust authentication ignores it; it must not show anywhere all the same.
            ("PG_PASSWORD", "hunter2-secret"),
            // Longer than the test: a call in flight ends because the database stops, not because
            // of the statement timeout.
            ("PG_QUERY_TIMEOUT_MS", "600000"),
            // A connection for each call in flight, and one more for the health check.
            ("PG_POOL_MAX_SIZE", "5"),
        ])
        .await;
        let pid = server.pid();
        server.wait_connected(true).await;
        let client = server.client().await;
        let result = execute_sql(&client, "SELECT 1 AS one").await;
        assert_ne!(result.is_error, Some(true), "{}", text_of(&result));

        // Calls running in the database (seen in pg_stat_activity, not assumed after a sleep) when
        // it stops as a restart stops it: backends terminated, new connections refused.
        let mut calls = Vec::new();
        for _ in 0..IN_FLIGHT {
            let client = server.client().await;
            calls.push(tokio::spawn(async move {
                let outcome = execute_sql(&client, "SELECT pg_sleep(600), 1 AS one").await;
                let _ = client.cancel().await;
                outcome
            }));
        }
        let admin = connect(&cluster.dsn()).await.expect("connect to the cluster");
        wait_sleeping(&admin, IN_FLIGHT).await;
        drop(admin);
        cluster.stop().await;
        for call in calls {
            let outcome = call.await.expect("a client task");
            assert_eq!(outcome.is_error, Some(true), "a call in flight must fail: {outcome:?}");
            let message = text_of(&outcome);
            assert!(
                message.starts_with("The database connection was lost")
                    && message.contains("Please try again"),
                "an unclear error for a call in flight when PostgreSQL stopped: {message}"
            );
        }

        // While it is down: /health says so and why, and calls are refused at once, saying so.
        let health = server
            .wait_health("the database down", TIMEOUT, |h| {
                h["database_connected"] == false && h["database_error"].is_string()
            })
            .await;
        assert_eq!(health["status"], "healthy", "the server itself is fine: {health}");
        let error = health["database_error"].as_str().unwrap();
        assert!(!error.contains("hunter2"), "{health}");
        let result = execute_sql(&client, "SELECT 1").await;
        assert_eq!(result.is_error, Some(true));
        assert_eq!(text_of(&result), NOT_AVAILABLE);
        let error = try_read_json(&client, "postgres://schemas")
            .await
            .expect_err("no schemas while the database is down")
            .to_string();
        assert!(error.contains(NOT_AVAILABLE), "{error}");
        server
            .logs
            .wait_for("the connection lost", |e| e["event_type"] == "connection.lost")
            .await;

        // PostgreSQL is back: the same server process serves again, by itself.
        cluster.start().await;
        let back = std::time::Instant::now();
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        let mut refused = 0;
        loop {
            let result = execute_sql(&client, "SELECT 41 + 1 AS answer").await;
            if result.is_error != Some(true) {
                assert_eq!(result.structured_content.unwrap()["rows"][0]["answer"], 42);
                break;
            }
            let message = text_of(&result);
            assert!(
                message == NOT_AVAILABLE || message.contains("Please try again"),
                "an unclear error while PostgreSQL comes back: {message}"
            );
            refused += 1;
            assert!(
                tokio::time::Instant::now() < deadline,
                "never served again after PostgreSQL came back: {message}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        eprintln!(
            "postgres-mcp answered a query {:?} after PostgreSQL accepted connections again ({refused} calls refused meanwhile)",
            back.elapsed()
        );
        let health = server.wait_connected(true).await;
        assert_eq!(health["database_error"], Value::Null);
        assert_eq!(read_json(&client, "postgres://schemas").await, json!({}));
        assert!(server.is_running(), "the server exited");
        assert_eq!(server.pid(), pid);
        server
            .logs
            .wait_until("connected a second time", |events| {
                events
                    .iter()
                    .filter(|e| e["event_type"] == "connection.established")
                    .count()
                    == 2
            })
            .await;
        let logs = server.stderr();
        assert!(!logs.contains("hunter2"), "the password reached the logs");
        assert!(!logs.contains("panicked"), "{logs}");
        client.cancel().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn an_invalid_setting_stops_the_start_naming_the_variable() {
    // A directory of its own, so that no `.env` is read.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(unique("invalid-setting"));
    std::fs::create_dir_all(&dir).unwrap();
    for (variable, value, expected) in [
        ("PG_PORT", "eighty", "PG_PORT=`eighty` is not valid"),
        (
            "PG_POOL_MIN_SIZE",
            "9",
            "PG_POOL_MIN_SIZE (9) is larger than PG_POOL_MAX_SIZE (5)",
        ),
    ] {
        let mut command = server_command(env!("CARGO_BIN_EXE_postgres-mcp"), &dir);
        command.args(["--port", "0"]);
        for (name, _) in std::env::vars().filter(|(k, _)| k.starts_with("PG_")) {
            command.env_remove(name);
        }
        command
            .env(variable, value)
            .env("PG_PASSWORD", "hunter2-secret");
        // Bounded: a server that starts anyway fails the test instead of hanging it.
        let output = run_to_end(command).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{variable}: {stderr}");
        assert!(stderr.contains(expected), "{variable}: {stderr}");
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
