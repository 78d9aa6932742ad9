//! `postgres-mcp`: a read-only SQL MCP server, the ConfidentialMind platform's Postgres server done with
//! cm-mcp.
//!
//! - Tool `execute_sql(sql_query)`: one statement, run in a READ ONLY transaction the query cannot end or
//!   alter, under a statement timeout, with a row limit; rows come back as JSON objects with their types
//!   kept (see [`QueryResult`]).
//! - Resource `postgres://schemas` (`{"schema.table": [{column, type, nullable, default}]}`, the
//!   platform's shape) and template `postgres://tables/{table}` (columns, primary key, indexes,
//!   foreign keys, estimated row count).
//! - `/health` reports `database_connected` and `database_error`.
//!
//! The database is PostgreSQL when one is configured (`PG_DSN`, the `DATABASE` connector, or
//! `PG_HOST`/`PG_PORT`; see [`settings`] and [`target`], read with the framework's `Settings` and the prefix `PG_`),
//! and otherwise an embedded SQLite demo database, so the server answers with real data on a machine
//! without a database server.
//!
//! The binary is `main.rs`; this library holds everything so that tests can run the same server in
//! process ([`server`]).

pub mod database;
pub mod pgvalue;
pub mod postgres;
pub mod settings;
pub mod sqlite;
pub mod target;

use std::time::Duration;

use cm_mcp::{ConnectionState, prelude::*};
use serde_json::Value;

pub use database::{Database, QueryError, QueryResult, Schemas, TableInfo};
pub use settings::{Config, PgSettings, SqliteSettings};
pub use target::{ConnectorUrl, DatabaseTarget};

/// The server's name, as the platform's Postgres server calls itself.
pub const SERVER_NAME: &str = "Postgres Reader MCP";

/// Execute a read-only SQL query and return its rows.
///
/// One statement per call (SELECT, WITH ... SELECT, VALUES, TABLE, SHOW, EXPLAIN). It runs in a
/// read-only transaction with a statement timeout; writes, DDL and transaction control are refused by
/// the database. Rows are JSON objects (column order is in `columns`); at most `row_limit` rows are
/// returned and `truncated` says when there were more. Read `postgres://schemas` for the tables.
///
/// # Arguments
/// * `sql_query` - One SQL statement, e.g. `SELECT name, price FROM products ORDER BY price DESC LIMIT 5`.
#[cm_tool(
    event = "postgres.query",
    annotations(read_only, idempotent, destructive = false, open_world = false)
)]
async fn execute_sql(db: State<Database>, sql_query: String) -> Result<QueryResult, ToolError> {
    let result = db.execute(&sql_query).await?;
    tracing::info!(
        event_type = "postgres.query.rows",
        duration_ms = result.duration_ms,
        success = true,
        data.row_count = result.row_count,
        data.truncated = result.truncated,
        data.database = result.database.as_str(),
        "SQL query completed successfully"
    );
    Ok(result)
}

/// Every table's and view's columns: `{"schema.table": [{column, type, nullable, default}]}`, system
/// schemas left out.
#[cm_resource(
    "postgres://schemas",
    name = "schemas",
    event = "resource.schemas",
    mime_type = "application/json"
)]
async fn schemas(db: State<Database>) -> Result<Schemas, ToolError> {
    Ok(db.schemas().await?)
}

/// One table or view: its columns, primary key, indexes, foreign keys and estimated row count.
/// `{table}` is `name` or `schema.name`.
#[cm_resource(
    "postgres://tables/{table}",
    name = "table",
    event = "resource.table",
    mime_type = "application/json"
)]
async fn table(db: State<Database>, table: String) -> Result<TableInfo, ToolError> {
    Ok(db.table(&table).await?)
}

/// How long the connector's reconnect hook waits for a new pool's first connection before it reports
/// a failure (the framework then retries it with backoff; the pool keeps connecting meanwhile).
const HOOK_WAIT: Duration = Duration::from_secs(10);

/// The server for `config`: the tools and resources above with `db` as their state, `/health`
/// reporting its connection, and the `DATABASE` connector (`PG_CONNECTOR_ID`) whose URL changes
/// rebuild the pool.
///
/// The startup hook configures `db` (once logging is up, with the mode the framework read) unless it
/// already is: tests configure it themselves.
pub fn server(config: Config, db: Database) -> Server {
    let connector_id = config.pg.connector_id.clone();
    let (for_hook, for_startup, for_shutdown, for_health) =
        (db.clone(), db.clone(), db.clone(), db.clone());
    let connector =
        Connector::database(connector_id.clone(), "PostgreSQL Database").on_change(move |state| {
            let db = for_hook.clone();
            async move { reconnect(&db, state).await }
        });
    Server::new(SERVER_NAME)
        .version(env!("CARGO_PKG_VERSION"))
        .instructions(
            "Provides read-only access to a PostgreSQL database. Read postgres://schemas for the tables and \
             their columns (postgres://tables/{table} for one table's keys, indexes and size), then call \
             execute_sql with one SELECT at a time.",
        )
        .state(db)
        .connector(connector)
        .on_startup(move |start| async move {
            if !for_startup.is_configured() {
                let assigned = start
                    .connection(&config.pg.connector_id)
                    .and_then(|c| c.assigned_url());
                for_startup.configure_for(config, start.mode(), assigned)?;
            }
            anyhow::Ok(())
        })
        .on_shutdown(move || async move { for_shutdown.close() })
        .health(move |doc| {
            let status = for_health.status();
            doc.remove("service_connected");
            doc.insert("database_connected".into(), status.connected.into());
            doc.insert(
                "database_error".into(),
                status.error.map_or(Value::Null, Value::from),
            );
            doc.insert("database".into(), status.backend.into());
            doc.insert("connector_id".into(), connector_id.clone().into());
        })
}

/// The connector's reconnect hook: points `db` at the new URL, and succeeds once its pool connects
/// (or at once when there is nothing to connect to), so that the connector counts as connected
/// exactly when the database is.
async fn reconnect(db: &Database, state: ConnectionState) -> anyhow::Result<()> {
    let url = ConnectorUrl::new(state.mode(), state.url().map(str::to_string));
    db.connector_changed(url)?;
    if state.url().is_none() || !db.is_configured() || db.wait_connected(HOOK_WAIT).await {
        return Ok(());
    }
    let status = db.status();
    anyhow::bail!(
        "{} is not reachable yet: {}",
        status.target,
        status.error.unwrap_or_else(|| "connecting".into())
    )
}
