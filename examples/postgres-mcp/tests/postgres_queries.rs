//! `execute_sql` and the schema resources against a real PostgreSQL: faithful types, the row limit,
//! the statement timeout, one statement per call, and queries the platform's keyword filter refused.

mod common;

use std::time::Duration;

use cm_test_support::TIMEOUT;
use common::{TestDb, admin_or_skip, wait_sleeping};
use postgres_mcp::{Config, ConnectorUrl, Database, DatabaseTarget, QueryError};
use serde_json::json;

const FIXTURE: &str = include_str!("fixtures/postgres.sql");

async fn open(dsn: &str, max_rows: usize, timeout: Duration) -> Database {
    let mut settings = Config::from_vars([("PG_DSN", dsn)]).expect("settings");
    settings.pg.max_rows = max_rows;
    settings.pg.query_timeout_ms = timeout.as_millis() as u64;
    // Every round trip of a call is bounded by the shared TIMEOUT (the server's own command
    // timeout): a hang fails the call with a message instead of stalling the test.
    settings.pg.command_timeout_s = TIMEOUT.as_secs();
    let target = DatabaseTarget::resolve(&settings, &ConnectorUrl::Local(None)).expect("resolve");
    let db = Database::open(settings, target);
    assert!(
        db.wait_connected(TIMEOUT).await,
        "never connected: {:?}",
        db.status()
    );
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_types_limits_and_resources() {
    let Some(admin) = admin_or_skip("queries_types_limits_and_resources").await else {
        return;
    };
    let test = TestDb::create(admin, false, &[], FIXTURE).await;
    test.run(|test| async move {
        let db = open(&test.url_as("postgres"), 1000, Duration::from_millis(500)).await;

        // Every type keeps its shape.
        let result = db.execute("SELECT * FROM types").await.expect("select types");
        assert_eq!(result.row_count, 1);
        assert!(!result.truncated);
        assert_eq!(result.database, "postgresql");
        let row = &result.rows[0];
        let expected = json!({
            "i2": -32768, "i4": 2147483647, "i8": 9007199254740993i64, "f4": 1.5, "f8": 0.1,
            "num": "12345678901234567890.123456789012345678", "num_nan": "NaN",
            "b": true, "t": "text with \"quotes\", commas and ünïcode", "vc": "short", "ch": "ab ",
            "j": {"a": [1, 2.5, "x"], "b": null}, "jb": {"nested": {"k": [true, false]}},
            "ia": [1, null, 3], "ta": ["a b", "c,d", null, "NULL"], "nested": [[1, 2], [3, 4]],
            "ts": "2024-02-29 13:14:15.123456", "d": "2024-02-29", "tm": "23:59:59",
            "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "bin": "3q2+7wA=",
            "iv": "1 day 02:03:04", "e": "happy", "ip": "192.168.0.1/24", "nothing": null,
        });
        for (key, value) in expected.as_object().unwrap() {
            assert_eq!(&row[key], value, "column {key}: {row:?}");
        }
        assert!(row["tstz"].as_str().is_some_and(|s| s.starts_with("2024-02-29")));
        let names: Vec<&str> = result.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(&names[..3], ["i2", "i4", "i8"], "columns keep the query's order");
        assert_eq!(result.columns[5].type_name, "numeric");

        // Expressions, repeated names, computed types.
        let result = db
            .execute("SELECT 1 AS id, 2 AS id, 10.50::numeric * 3 AS total, now() IS NOT NULL AS ok, ARRAY['x', NULL] AS arr, '{\"k\": 1}'::jsonb -> 'k' AS k")
            .await
            .expect("expressions");
        assert_eq!(
            serde_json::Value::Object(result.rows[0].clone()),
            json!({"id": 1, "id_2": 2, "total": "31.50", "ok": true, "arr": ["x", null], "k": 1})
        );

        // The duration is the query's: at least the time it sleeps, at most the call's whole time.
        let started = std::time::Instant::now();
        let result = db.execute("SELECT pg_sleep(0.2) AS slept").await.expect("a sleep");
        let call_ms = started.elapsed().as_secs_f64() * 1000.0;
        assert!(
            result.duration_ms >= 200.0 && result.duration_ms <= call_ms,
            "duration_ms {} for a 200 ms sleep in a {call_ms} ms call",
            result.duration_ms
        );

        // What the platform's keyword filter refused works, because the database decides.
        for (sql, rows) in [
            ("SELECT 'delete me' AS note", json!([{"note": "delete me"}])),
            (
                "SELECT 'set' AS word, 'DROP TABLE x; UPDATE y' AS text",
                json!([{"word": "set", "text": "DROP TABLE x; UPDATE y"}]),
            ),
            (
                "select owner as created_by from accounts where owner <> 'update' order by id",
                json!([{"created_by": "alice"}, {"created_by": "bob"}, {"created_by": "carol"}]),
            ),
            (
                "WITH grants AS (SELECT 'GRANT' AS revoke) SELECT * FROM grants",
                json!([{"revoke": "GRANT"}]),
            ),
            (
                "VALUES (1, 'insert'), (2, 'truncate')",
                json!([{"column1": 1, "column2": "insert"}, {"column1": 2, "column2": "truncate"}]),
            ),
            (
                "TABLE rich_accounts ORDER BY id",
                json!([{"id": 1, "owner": "alice"}, {"id": 2, "owner": "bob"}]),
            ),
            ("SHOW statement_timeout", json!([{"statement_timeout": "500ms"}])),
            ("SELECT 1;", json!([{"?column?": 1}])),
            ("-- a comment first\nSELECT 2 AS two", json!([{"two": 2}])),
        ] {
            let result = db
                .execute(sql)
                .await
                .unwrap_or_else(|e| panic!("`{sql}` should run: {e}"));
            let got = serde_json::to_value(&result.rows).unwrap();
            assert_eq!(got, rows, "`{sql}`");
        }
        let plan = db
            .execute("EXPLAIN SELECT * FROM accounts WHERE owner = 'alice'")
            .await
            .expect("EXPLAIN should run");
        assert_eq!(plan.columns[0].name, "QUERY PLAN");
        let plan_text = serde_json::to_string(&plan.rows).unwrap();
        assert!(plan_text.contains("accounts") && plan_text.contains("alice"), "{plan_text}");

        // The row limit is applied on the server and reported.
        let small = open(&test.url_as("postgres"), 10, Duration::from_secs(5)).await;
        let result = small
            .execute("SELECT g FROM generate_series(1, 100000) g ORDER BY g")
            .await
            .expect("a large result");
        assert_eq!(result.row_count, 10);
        assert!(result.truncated);
        assert_eq!(result.row_limit, 10);
        assert_eq!(result.rows[9]["g"], 10);
        assert!(result.note.as_deref().is_some_and(|n| n.contains("10 rows")));
        let result = small
            .execute("SELECT g FROM generate_series(1, 10) g")
            .await
            .unwrap();
        assert_eq!((result.row_count, result.truncated), (10, false));
        // Statements a cursor cannot hold are limited too (this plan has more than 10 lines).
        let result = small
            .execute("EXPLAIN (COSTS OFF, VERBOSE) SELECT * FROM types, accounts, transfers WHERE i4 > 0 AND balance > 1 ORDER BY 1")
            .await
            .unwrap();
        assert_eq!((result.row_count, result.truncated), (10, true), "{:?}", result.rows);
        small.close();

        // The statement timeout stops a slow query, and the next call is fine.
        let error = db.execute("SELECT pg_sleep(5)").await.unwrap_err();
        assert!(matches!(&error, QueryError::Timeout(m) if m.contains("500 ms")), "{error:?}");
        assert_eq!(db.execute("SELECT 1 AS one").await.unwrap().rows[0]["one"], 1);

        // One statement per call, decided by the server's parser.
        let error = db.execute("SELECT 1; SELECT 2").await.unwrap_err();
        assert!(matches!(&error, QueryError::Refused(m) if m.contains("one SQL statement")), "{error:?}");
        let error = db.execute("SELECT * FROM missing_table").await.unwrap_err();
        assert!(
            matches!(&error, QueryError::Database(m) if m.contains("missing_table") && m.contains("42P01")),
            "{error:?}"
        );
        let error = db.execute("DELETE FROM accounts").await.unwrap_err();
        assert!(matches!(&error, QueryError::Refused(m) if m.contains("return rows")), "{error:?}");
        let error = db.execute("DELETE FROM accounts RETURNING id").await.unwrap_err();
        assert!(matches!(&error, QueryError::Database(m) if m.contains("read-only")), "{error:?}");
        let error = db.execute("   ").await.unwrap_err();
        assert!(matches!(error, QueryError::Refused(_)));

        // postgres://schemas in the platform's shape, without system schemas.
        let schemas = db.schemas().await.expect("schemas");
        let accounts = &schemas["public.accounts"];
        let first = serde_json::to_value(&accounts[0]).unwrap();
        assert_eq!(
            first,
            json!({"column": "id", "type": "integer", "nullable": false, "default": "nextval('accounts_id_seq'::regclass)"})
        );
        assert_eq!(accounts.len(), 5);
        assert!(schemas.contains_key("public.rich_accounts"));
        assert!(schemas.keys().all(|k| !k.starts_with("pg_catalog.") && !k.starts_with("information_schema.")));

        // postgres://tables/{table}: keys, indexes, foreign keys, size.
        let table = db.table("transfers").await.expect("transfers");
        assert_eq!(table.schema, "public");
        assert_eq!(table.kind, "table");
        assert_eq!(table.primary_key, ["id"]);
        assert_eq!(table.foreign_keys.len(), 2);
        assert_eq!(table.foreign_keys[0].references_table, "public.accounts");
        assert_eq!(table.foreign_keys[0].columns, ["from_account"]);
        let accounts = db.table("public.accounts").await.expect("accounts");
        let names: Vec<&str> = accounts.indexes.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["accounts_pkey", "accounts_owner_idx"]);
        assert_eq!(accounts.indexes[1].columns, ["owner"]);
        assert!(accounts.indexes[0].primary && accounts.indexes[0].unique);
        assert_eq!(accounts.columns[2].type_name, "numeric(12,2)");
        // The estimate is the planner's once the table is analyzed (before, it is the statistics
        // collector's count, which lags behind).
        test.admin_on_db().await.batch_execute("ANALYZE accounts").await.unwrap();
        let analyzed = db.table("public.accounts").await.expect("accounts");
        assert_eq!(analyzed.estimated_row_count, Some(3), "after ANALYZE: the planner's estimate");
        let error = db.table("nope").await.unwrap_err();
        assert!(matches!(&error, QueryError::NotFound(m) if m.contains("nope")), "{error:?}");
        let view = db.table("rich_accounts").await.unwrap();
        assert_eq!((view.kind.as_str(), view.primary_key.len()), ("view", 0));
        db.close();
    })
    .await;
}

/// Whether a call failed the way it should.
type Expected = fn(&QueryError) -> bool;

/// The session a call's connection is in once the call is over, seen from another connection:
/// its backend's pid (the same pid means the connection went back to the pool rather than being
/// closed), its state, and the advisory locks it holds.
async fn settled_session(admin: &tokio_postgres::Client, db_name: &str) -> (i32, String, i64) {
    let row = admin
        .query_one(
            "SELECT a.pid, a.state, (SELECT count(*) FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory')
               FROM pg_stat_activity a
              WHERE a.datname = $1 AND a.application_name = 'postgres-mcp'",
            &[&db_name],
        )
        .await
        .expect("the pool's one connection");
    (row.get(0), row.get(1), row.get(2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_failing_at_any_request_of_its_pipeline_leaves_its_connection_clean_and_pooled() {
    let Some(admin) = admin_or_skip(
        "a_call_failing_at_any_request_of_its_pipeline_leaves_its_connection_clean_and_pooled",
    )
    .await
    else {
        return;
    };
    let test = TestDb::create(admin, false, &[], FIXTURE).await;
    test.run(|test| async move {
        let mut settings =
            Config::from_vars([("PG_DSN", test.url_as("postgres").as_str())]).expect("settings");
        // One connection, so that every call reuses the session the one before left.
        settings.pg.pool_min_size = 1;
        settings.pg.pool_max_size = 1;
        settings.pg.query_timeout_ms = 500;
        settings.pg.command_timeout_s = TIMEOUT.as_secs();
        let target =
            DatabaseTarget::resolve(&settings, &ConnectorUrl::Local(None)).expect("resolve");
        let db = Database::open(settings, target);
        assert!(
            db.wait_connected(TIMEOUT).await,
            "never connected: {:?}",
            db.status()
        );
        let admin = test.admin_on_db().await;
        db.execute("SELECT 1 AS one").await.expect("a first call");
        let (pid, _, _) = settled_session(&admin, &test.name).await;

        // Each fails at a different request: the description (a missing table, a parameter
        // without a type), the cursor (a plan that divides by zero: the statement then runs as
        // it is and fails the same way), the fetch (a row that divides by zero, the statement
        // timeout), or is refused after its description (no columns). Each holds an advisory
        // lock first where it can, which the cleanup must release.
        let failing: &[(&str, Expected)] = &[
            (
                "SELECT * FROM missing_table",
                |e| matches!(e, QueryError::Database(m) if m.contains("42P01")),
            ),
            ("SELECT $1 AS param", |e| {
                matches!(e, QueryError::Database(_))
            }),
            ("SELECT $1::int AS typed_param", |e| {
                matches!(e, QueryError::Database(_))
            }),
            (
                "SELECT pg_advisory_lock(7), 1 / 0 AS x",
                |e| matches!(e, QueryError::Database(m) if m.contains("22012")),
            ),
            (
                "SELECT pg_advisory_lock(8), 1 / (g - 2) FROM generate_series(1, 3) g",
                |e| matches!(e, QueryError::Database(m) if m.contains("22012")),
            ),
            ("SELECT pg_advisory_lock(9), pg_sleep(5)", |e| {
                matches!(e, QueryError::Timeout(_))
            }),
            (
                "SELECT FROM accounts",
                |e| matches!(e, QueryError::Refused(m) if m.contains("return rows")),
            ),
            (
                "EXPLAIN ANALYZE SELECT pg_advisory_lock(11), 1 / 0",
                |e| matches!(e, QueryError::Database(m) if m.contains("22012")),
            ),
        ];
        for (sql, expected) in failing {
            let error = db.execute(sql).await.expect_err(sql);
            assert!(expected(&error), "`{sql}`: {error:?}");
            let session = settled_session(&admin, &test.name).await;
            assert_eq!(session, (pid, "idle".to_string(), 0), "after `{sql}`");
            let check = db
                .execute("SELECT current_setting('transaction_read_only') AS ro, 2 AS two")
                .await
                .unwrap_or_else(|e| panic!("after `{sql}`: {e}"));
            assert_eq!(
                (&check.rows[0]["ro"], &check.rows[0]["two"]),
                (&json!("on"), &json!(2))
            );
        }
        // A call that succeeds releases its locks too.
        db.execute("SELECT pg_advisory_lock(12) AS locked")
            .await
            .expect("a lock");
        assert_eq!(
            settled_session(&admin, &test.name).await,
            (pid, "idle".to_string(), 0)
        );
        // A statement a cursor cannot hold runs in a transaction of its own, as read-only.
        let shown = db
            .execute("SHOW transaction_read_only")
            .await
            .expect("SHOW");
        assert_eq!(shown.rows[0]["transaction_read_only"], "on");
        assert_eq!(
            settled_session(&admin, &test.name).await,
            (pid, "idle".to_string(), 0)
        );
        db.close();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_at_start_then_up_and_restarts() {
    let Some(admin) = admin_or_skip("down_at_start_then_up_and_restarts").await else {
        return;
    };
    let test = TestDb::create(admin, false, &[], FIXTURE).await;
    test.run(|test| async move {
        // A port held by this test that nothing listens on yet: the database is "down" (connections
        // are refused), and no other process can take the port before the database comes up on it.
        let (socket, port) = common_proxy::hold_port();
        let port_text = port.to_string();
        let settings = Config::from_vars([
            ("PG_HOST", "127.0.0.1"),
            ("PG_PORT", port_text.as_str()),
            ("PG_DATABASE", test.name.as_str()),
            ("PG_PASSWORD", "hunter2-secret"),
            // Longer than any wait of the test: a call ends because its connection is cut, not
            // because of the statement timeout.
            ("PG_QUERY_TIMEOUT_MS", "600000"),
            // A connection for each call in flight, and one more for the health check.
            ("PG_POOL_MAX_SIZE", "5"),
        ])
        .unwrap();
        let target = DatabaseTarget::resolve(&settings, &ConnectorUrl::Local(None)).unwrap();
        let db = Database::open(settings, target);
        let status = wait_for(
            "the status of the first failed attempt to connect",
            || db.status(),
            |s| s.error.is_some(),
        )
        .await;
        assert!(!status.connected);
        let error = status.error.expect("an error while down");
        assert!(!error.contains("hunter2"), "{error}");
        assert_eq!(
            bounded(db.execute("SELECT 1")).await.unwrap_err().to_string(),
            "Database connection is not available yet. Please try again later."
        );

        // The database comes up (a forwarder to the real server on that port): the backend connects
        // by itself.
        let proxy = common_proxy::start(socket);
        assert!(
            db.wait_connected(TIMEOUT).await,
            "never connected after the database came up: {:?}",
            db.status()
        );
        assert_eq!(
            db.execute("SELECT 1 AS one").await.unwrap().rows[0]["one"],
            1
        );

        // The server restarts under load: every connection is cut while calls are running in the
        // database (seen in pg_stat_activity, not assumed after a sleep).
        let mut calls = Vec::new();
        for _ in 0..IN_FLIGHT {
            let db = db.clone();
            calls.push(tokio::spawn(async move {
                bounded(db.execute("SELECT pg_sleep(600), 1 AS one")).await
            }));
        }
        wait_sleeping(&test.admin_on_db().await, IN_FLIGHT).await;
        proxy.cut_all();
        for call in calls {
            match call.await.expect("no panic") {
                Err(QueryError::ConnectionLost(m)) => assert!(
                    m.contains("connection was lost") && m.contains("Please try again"),
                    "an unclear error for a lost connection: {m}"
                ),
                other => panic!(
                    "a call in flight when the connection was cut must fail with ConnectionLost, got {other:?}"
                ),
            }
        }
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            match db.execute("SELECT 1 AS one").await {
                Ok(result) => {
                    assert_eq!(result.rows[0]["one"], 1);
                    break;
                }
                Err(error) => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "never recovered: {error:?}"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        db.close();
    })
    .await;
}

/// How many calls are in flight when the connections are cut: fewer than the pool's size (5), so
/// that each holds a connection of its own.
const IN_FLIGHT: i64 = 4;

/// Bounds a call by the shared [`TIMEOUT`]: a hang fails the test with a message.
async fn bounded<T>(call: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(TIMEOUT, call)
        .await
        .unwrap_or_else(|_| panic!("a database call did not end within {TIMEOUT:?}"))
}

/// Polls `fetch` until `matches` holds for its answer (bounded by [`TIMEOUT`]), and returns it.
async fn wait_for<T: std::fmt::Debug>(
    what: &str,
    fetch: impl Fn() -> T,
    matches: impl Fn(&T) -> bool,
) -> T {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let value = fetch();
        if matches(&value) {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never saw {what} within {TIMEOUT:?}; last: {value:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A TCP forwarder to the real server, standing in for a database that comes up and restarts.
mod common_proxy {
    use std::sync::{Arc, Mutex};

    use tokio::{
        net::{TcpListener, TcpSocket},
        task::AbortHandle,
    };

    pub struct Proxy {
        connections: Arc<Mutex<Vec<AbortHandle>>>,
    }

    impl Proxy {
        /// Cuts every forwarded connection, as a server restart does.
        pub fn cut_all(&self) {
            for handle in self.connections.lock().unwrap().drain(..) {
                handle.abort();
            }
        }
    }

    /// A port of 127.0.0.1 bound but not listening: connecting to it is refused (a database that
    /// is down), and it stays this test's until the socket is dropped or listens.
    pub fn hold_port() -> (TcpSocket, u16) {
        let socket = TcpSocket::new_v4().expect("a TCP socket");
        socket
            .bind(([127, 0, 0, 1], 0).into())
            .expect("bind a loopback port");
        let port = socket.local_addr().expect("the bound address").port();
        (socket, port)
    }

    /// The database comes up on `socket`'s port: forwards every connection to the real server.
    pub fn start(socket: TcpSocket) -> Proxy {
        let listener: TcpListener = socket.listen(128).expect("listen on the held port");
        let connections = Arc::new(Mutex::new(Vec::new()));
        let registry = connections.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect("127.0.0.1:5432").await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                registry.lock().unwrap().push(task.abort_handle());
            }
        });
        Proxy { connections }
    }
}

/// Asserts that `db` is not connected and that a call answers [`QueryError::NotAvailable`].
async fn assert_not_available(db: &Database) {
    assert!(!db.status().connected);
    assert!(matches!(
        db.execute("SELECT 1").await,
        Err(QueryError::NotAvailable)
    ));
}

/// Points the connector at the deployment `host` (as the manager does in a stack) and waits until
/// the new pool is connected.
async fn connect_to(db: &Database, host: &str) {
    db.connector_changed(ConnectorUrl::Stack(Some(host.into())))
        .unwrap();
    assert!(db.wait_connected(TIMEOUT).await, "{:?}", db.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_url_changes_rebuild_the_pool() {
    let Some(admin) = admin_or_skip("connector_url_changes_rebuild_the_pool").await else {
        return;
    };
    let test = TestDb::create(admin, false, &[], FIXTURE).await;
    test.run(|test| async move {
        let name = test.name.clone();
        let settings = Config::from_vars([("PG_DATABASE", name.as_str())]).unwrap();
        // A stack whose connector has no deployment yet: nothing to serve.
        let target = DatabaseTarget::resolve(&settings, &ConnectorUrl::Stack(None)).unwrap();
        let db = Database::open(settings, target);
        assert_not_available(&db).await;

        // The manager assigns a deployment (a host, as in a stack).
        connect_to(&db, "127.0.0.1:5432").await;
        assert_eq!(
            db.status().target,
            format!("postgresql://postgres@127.0.0.1:5432/{name}")
        );
        let result = db.execute("SELECT current_database() AS db").await.unwrap();
        assert_eq!(result.rows[0]["db"], name.as_str());

        // It moves to a host where nothing answers: the old pool is closed, the new one waits.
        // A port this test holds without listening: connections to it are refused.
        let (_held, dead_port) = common_proxy::hold_port();
        let dead = format!("127.0.0.1:{dead_port}");
        db.connector_changed(ConnectorUrl::Stack(Some(dead)))
            .unwrap();
        assert_not_available(&db).await;

        // And back.
        connect_to(&db, "127.0.0.1:5432").await;
        assert_eq!(
            db.execute("SELECT 1 AS one").await.unwrap().rows[0]["one"],
            1
        );
        // Unassigned (the reconnect hook's run without a URL): the pool is closed, nothing served.
        db.connector_changed(ConnectorUrl::Stack(None)).unwrap();
        assert_not_available(&db).await;
        connect_to(&db, "127.0.0.1:5432").await;
        // A bad URL is reported, not a panic.
        let error = db
            .connector_changed(ConnectorUrl::Stack(Some("a/b".into())))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("a/b"),
            "the error names the bad URL: {error}"
        );
        assert!(!db.status().connected);
        db.close();
    })
    .await;
}
