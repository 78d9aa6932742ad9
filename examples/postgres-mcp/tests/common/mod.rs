//! Helpers for the postgres-mcp tests: a throw-away PostgreSQL database per test (on the server at
//! 127.0.0.1:5432) and the `postgres-mcp` binary as a real process, built on the workspace's shared
//! `cm-test-support` (timeouts, processes, MCP clients, result helpers); and a PostgreSQL cluster of
//! a test's own, for a test that restarts the database ([`cluster`]).

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

pub mod cluster;

use std::{
    ops::{Deref, DerefMut},
    path::Path,
    sync::Arc,
};

use cm_mcp::rmcp::model::CallToolResult;
use cm_test_support::{
    Client as McpClient, HttpProcess, TIMEOUT, call_tool, server_command, service_missing,
    target_tmpdir,
};
use serde_json::{Value, json};
use tokio_postgres::{Client, NoTls};

/// The PostgreSQL server the tests use.
pub const ADMIN_DSN: &str =
    "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5";

/// Connects to `dsn`, driving the connection in the background.
pub async fn connect(dsn: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(dsn, NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// The admin connection, or `None` when no PostgreSQL is reachable: the test then returns early,
/// and the skip shows in `cargo test`'s output (see `cm_test_support::service_missing`). Under CI
/// (any truthy `CI`) an unreachable server fails the test instead.
pub async fn admin_or_skip(test: &str) -> Option<Client> {
    match connect(ADMIN_DSN).await {
        Ok(client) => Some(client),
        Err(error) => {
            // tokio-postgres's own message is only "error connecting to server": the why is in
            // its sources.
            let mut reason = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                reason = format!("{reason}: {cause}");
                source = cause.source();
            }
            service_missing(
                test,
                "PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth)",
                reason,
            );
            None
        }
    }
}

/// A database (and, when asked, a login role owning it) created for one test and dropped with it.
pub struct TestDb {
    /// The database's name.
    pub name: String,
    /// The owning role, when the database has one of its own.
    pub owner: Option<String>,
    /// The admin connection (superuser).
    pub admin: Client,
    /// The extensions [`TestDb::create`] created.
    pub extensions: Vec<String>,
    /// The extensions asked of [`TestDb::create`] that this server does not have, so were not
    /// created: a check that needs one is skipped through [`TestDb::has_extension`], visibly.
    pub missing_extensions: Vec<String>,
}

static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A name unique to this process and call.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}_{}_{nanos}_{n}", std::process::id())
}

impl TestDb {
    /// Creates a database; with `owned`, also a LOGIN role (no superuser) that owns it and everything
    /// `fixture` creates (the fixture runs as that role). Extensions in `extensions` are created by
    /// the superuser first, when the server has them; the others are in `missing_extensions`.
    pub async fn create(admin: Client, owned: bool, extensions: &[&str], fixture: &str) -> TestDb {
        let name = unique("cm_pg_test");
        let owner = owned.then(|| format!("{name}_owner"));
        if let Some(owner) = &owner {
            admin
                .batch_execute(&format!("CREATE ROLE {owner} LOGIN"))
                .await
                .expect("create the owner role");
        }
        let owner_clause = owner
            .as_ref()
            .map(|o| format!(" OWNER {o}"))
            .unwrap_or_default();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}{owner_clause}"))
            .await
            .expect("create the test database");
        let mut db = TestDb {
            name,
            owner,
            admin,
            extensions: Vec::new(),
            missing_extensions: Vec::new(),
        };
        let superuser = connect(&db.dsn_as("postgres"))
            .await
            .expect("connect as postgres");
        if let Some(owner) = &db.owner {
            superuser
                .batch_execute(&format!("ALTER SCHEMA public OWNER TO {owner}"))
                .await
                .expect("hand the public schema to the owner");
        }
        for extension in extensions {
            let available: bool = superuser
                .query_one(
                    "SELECT count(*) > 0 FROM pg_available_extensions WHERE name = $1",
                    &[extension],
                )
                .await
                .expect("list extensions")
                .get(0);
            if available {
                superuser
                    .batch_execute(&format!("CREATE EXTENSION {extension}"))
                    .await
                    .expect("create the extension");
                db.extensions.push(extension.to_string());
            } else {
                db.missing_extensions.push(extension.to_string());
            }
        }
        let user = db.owner.clone().unwrap_or_else(|| "postgres".into());
        let client = connect(&db.dsn_as(&user))
            .await
            .expect("connect as the owner");
        client
            .batch_execute(fixture)
            .await
            .expect("load the fixture");
        db
    }

    /// Whether `extension` was created; when it was not, the checks of `what` (e.g.
    /// "attack_corpus_changes_nothing: the dblink attacks") are reported skipped, or fail under CI
    /// (see `cm_test_support::service_missing`), and the caller leaves them out.
    pub fn has_extension(&self, what: &str, extension: &str) -> bool {
        if self.extensions.iter().any(|e| e == extension) {
            return true;
        }
        assert!(
            self.missing_extensions.iter().any(|e| e == extension),
            "{what}: the test database was not asked for the extension {extension}: add it to TestDb::create's list"
        );
        service_missing(
            what,
            &format!("the PostgreSQL extension {extension}"),
            "the server at 127.0.0.1:5432 does not have it (e.g. install postgresql-contrib)",
        );
        false
    }

    /// A key=value DSN for `user` on this database.
    pub fn dsn_as(&self, user: &str) -> String {
        format!(
            "host=127.0.0.1 port=5432 user={user} dbname={} connect_timeout=5",
            self.name
        )
    }

    /// A URL DSN for `user` on this database.
    pub fn url_as(&self, user: &str) -> String {
        format!("postgresql://{user}@127.0.0.1:5432/{}", self.name)
    }

    /// Runs `body`, then drops the database and its role whether `body` passed or panicked.
    pub async fn run<F, Fut>(self, body: F)
    where
        F: FnOnce(Arc<TestDb>) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let db = Arc::new(self);
        let outcome = tokio::spawn(body(db.clone())).await;
        db.drop_all().await;
        if let Err(error) = outcome {
            std::panic::resume_unwind(error.into_panic());
        }
    }

    /// A superuser connection to this database.
    pub async fn admin_on_db(&self) -> Client {
        connect(&self.dsn_as("postgres"))
            .await
            .expect("connect to the test database")
    }

    /// Drops the database (terminating its connections) and the owner role.
    pub async fn drop_all(&self) {
        let _ = self
            .admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await;
        if let Some(owner) = &self.owner {
            let _ = self
                .admin
                .batch_execute(&format!("DROP ROLE IF EXISTS {owner}"))
                .await;
        }
    }
}

/// The `postgres-mcp` binary serving streamable HTTP on a free port of 127.0.0.1, with its stderr
/// (the shared [`HttpProcess`]).
pub struct ServerProcess(HttpProcess);

impl Deref for ServerProcess {
    type Target = HttpProcess;

    fn deref(&self) -> &HttpProcess {
        &self.0
    }
}

impl DerefMut for ServerProcess {
    fn deref_mut(&mut self) -> &mut HttpProcess {
        &mut self.0
    }
}

/// Variables that would make a test's server pick another database than the test means (the
/// server's own variables are cleared by [`server_command`]).
const DATABASE_ENV: &[&str] = &[
    "PG_DSN",
    "PG_HOST",
    "PG_PORT",
    "PG_USER",
    "PG_PASSWORD",
    "PG_DATABASE",
    "PG_CONNECTOR_ID",
    "DATABASE_URL",
    "SQLITE_PATH",
];

impl ServerProcess {
    /// Starts the server with `env` (and nothing else of the database environment).
    pub async fn start(env: &[(&str, &str)]) -> ServerProcess {
        // No .env of the developer's is picked up.
        Self::start_in(&target_tmpdir(), env).await
    }

    /// Starts the server in `dir` (where it reads `.env`) with `env`.
    pub async fn start_in(dir: &Path, env: &[(&str, &str)]) -> ServerProcess {
        let mut command = server_command(env!("CARGO_BIN_EXE_postgres-mcp"), dir);
        for var in DATABASE_ENV {
            command.env_remove(var);
        }
        command.envs(env.iter().copied());
        ServerProcess(HttpProcess::spawn(command).await)
    }

    /// Polls `/health` until `database_connected` is `connected` (bounded by [`TIMEOUT`]).
    pub async fn wait_connected(&self, connected: bool) -> Value {
        self.wait_health(
            &format!("database_connected: {connected}"),
            TIMEOUT,
            |health| health["database_connected"] == connected,
        )
        .await
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.logs.dump()
    }
}

/// Calls `execute_sql` and returns the result (an `isError` result is returned, not a panic).
pub async fn execute_sql(client: &McpClient, sql: &str) -> CallToolResult {
    call_tool(client, "execute_sql", json!({ "sql_query": sql })).await
}

/// Waits (bounded by [`TIMEOUT`]) until `count` backends on `admin`'s database are inside `pg_sleep`:
/// the calls are running in the database, not queued in the server.
pub async fn wait_sleeping(admin: &tokio_postgres::Client, count: i64) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let sleeping: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE datname = current_database() AND wait_event = 'PgSleep'",
                &[],
            )
            .await
            .expect("read pg_stat_activity")
            .get(0);
        if sleeping == count {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{sleeping} of {count} calls were running in the database after {TIMEOUT:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
