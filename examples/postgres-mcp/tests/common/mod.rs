//! Helpers for the postgres-mcp tests: a throw-away PostgreSQL database per test (on the server at
//! 127.0.0.1:5432), the `postgres-mcp` binary as a real process, and an rmcp client over streamable
//! HTTP.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::{
    path::Path,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use rmcp::{
    RoleClient, ServiceExt,
    model::{CallToolRequestParams, CallToolResult, ReadResourceRequestParams, ResourceContents},
    service::RunningService,
    transport::StreamableHttpClientTransport,
};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_postgres::{Client, NoTls};

/// The bound on every wait: long enough for a loaded CI machine, short enough that a hang fails.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The PostgreSQL server the tests use.
pub const ADMIN_DSN: &str =
    "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5";

/// An rmcp client session.
pub type McpClient = RunningService<RoleClient, ()>;

/// Connects to `dsn`, driving the connection in the background.
pub async fn connect(dsn: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(dsn, NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// The admin connection, or `None` (with the reason printed) when no PostgreSQL is reachable outside
/// CI. Under `CI=true` an unreachable server fails the test.
pub async fn admin_or_skip(test: &str) -> Option<Client> {
    match connect(ADMIN_DSN).await {
        Ok(client) => Some(client),
        Err(error) => {
            let ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
            assert!(
                !ci,
                "{test}: PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth) is required under CI=true, and it is not reachable: {error}"
            );
            eprintln!(
                "SKIPPED {test}: no PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth): {error}. Start one (or set CI=true to make this a failure)."
            );
            None
        }
    }
}

/// A port of 127.0.0.1 that nothing listens on (it was free a moment ago): a database that is down.
pub fn unused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("the bound address").port()
}

/// A database (and, when asked, a login role owning it) created for one test and dropped with it.
pub struct TestDb {
    /// The database's name.
    pub name: String,
    /// The owning role, when the database has one of its own.
    pub owner: Option<String>,
    /// The admin connection (superuser).
    pub admin: Client,
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
    /// the superuser first, when the server has them.
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
        let db = TestDb { name, owner, admin };
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

/// The `postgres-mcp` binary serving streamable HTTP on a free port of 127.0.0.1, with its stderr.
pub struct ServerProcess {
    child: tokio::process::Child,
    /// Every stderr line so far.
    pub logs: Arc<Mutex<Vec<String>>>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

/// Variables that would make a test's server pick another database than the test means.
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
    "SERVICE_NAME",
    "CONFIDENTIAL_MIND_LOCAL_CONFIG",
    "FastMCP_TRANSPORT",
    "MCP_PORT",
    "MCP_HOST",
    "DEBUG",
    "RUST_LOG",
    "LOG_LEVEL",
];

impl ServerProcess {
    /// Starts the server with `env` (and nothing else of the database environment).
    pub async fn start(env: &[(&str, &str)]) -> ServerProcess {
        // No .env of the developer's is picked up.
        Self::start_in(Path::new(env!("CARGO_TARGET_TMPDIR")), env).await
    }

    /// Starts the server in `dir` (where it reads `.env`) with `env`.
    pub async fn start_in(dir: &Path, env: &[(&str, &str)]) -> ServerProcess {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_postgres-mcp"));
        for var in DATABASE_ENV {
            command.env_remove(var);
        }
        command
            .args(["--host", "127.0.0.1", "--port", "0"])
            .envs(env.iter().copied())
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("spawn postgres-mcp");
        let stderr = child.stderr.take().expect("stderr is piped");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (address_tx, address_rx) = tokio::sync::oneshot::channel();
        let sink = logs.clone();
        tokio::spawn(async move {
            let mut address_tx = Some(address_tx);
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(event) = serde_json::from_str::<Value>(&line)
                    && event["event_type"] == "service.ready"
                    && let Some(address) = event["data"]["address"].as_str()
                    && let Some(tx) = address_tx.take()
                {
                    let _ = tx.send(address.to_string());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let address = tokio::time::timeout(TIMEOUT, address_rx)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the server did not start; stderr:\n{}",
                    logs.lock().unwrap().join("\n")
                )
            })
            .expect("the server exited before serving");
        ServerProcess {
            child,
            logs,
            base: format!("http://{address}"),
        }
    }

    /// `GET /health` as JSON.
    pub async fn health(&self) -> Value {
        reqwest::get(format!("{}/health", self.base))
            .await
            .expect("GET /health")
            .json()
            .await
            .expect("health is JSON")
    }

    /// Polls `/health` until `database_connected` is `connected` (bounded by [`TIMEOUT`]).
    pub async fn wait_connected(&self, connected: bool) -> Value {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let health = self.health().await;
            if health["database_connected"] == connected {
                return health;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "database_connected never became {connected}: {health}; stderr:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Connects an rmcp client over streamable HTTP.
    pub async fn client(&self) -> McpClient {
        let transport = StreamableHttpClientTransport::from_uri(format!("{}/mcp", self.base));
        tokio::time::timeout(TIMEOUT, ().serve(transport))
            .await
            .expect("initialize timed out")
            .expect("initialize")
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("poll the child").is_none()
    }
}

/// Calls `execute_sql` and returns the result (an `isError` result is returned, not a panic).
pub async fn execute_sql(client: &McpClient, sql: &str) -> CallToolResult {
    let mut arguments = serde_json::Map::new();
    arguments.insert("sql_query".into(), sql.into());
    tokio::time::timeout(
        TIMEOUT,
        client.call_tool(CallToolRequestParams::new("execute_sql").with_arguments(arguments)),
    )
    .await
    .expect("tools/call timed out")
    .expect("tools/call answered")
}

/// The text of a tool result's first content block.
pub fn text_of(result: &CallToolResult) -> String {
    result
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .unwrap_or_default()
}

/// Reads a resource and parses its text as JSON.
pub async fn read_json(client: &McpClient, uri: &str) -> Result<Value, rmcp::ServiceError> {
    let result = tokio::time::timeout(
        TIMEOUT,
        client.read_resource(ReadResourceRequestParams::new(uri)),
    )
    .await
    .expect("resources/read timed out")?;
    match result.contents.first() {
        Some(ResourceContents::TextResourceContents { text, .. }) => {
            Ok(serde_json::from_str(text).expect("the resource is JSON"))
        }
        other => panic!("expected text contents, got {other:?}"),
    }
}
