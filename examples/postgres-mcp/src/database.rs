//! [`Database`]: the one thing tools and resources talk to. It holds the current backend (a PostgreSQL
//! pool or an SQLite file) behind a swappable pointer, so that a connector URL change rebuilds the pool
//! without touching the tools, and it reports the connection state `/health` shows.

use std::{
    collections::BTreeMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use cm_mcp::{Mode, SettingsError, ToolError};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{
    postgres::PgBackend,
    settings::{Config, Limits},
    sqlite::SqliteBackend,
    target::{ConnectorUrl, DatabaseTarget},
};

/// What the platform's server answers while it has no pool; kept word for word.
pub const NOT_AVAILABLE: &str = "Database connection is not available yet. Please try again later.";

const NOT_CONFIGURED: &str = "not configured yet";

/// The result of one `execute_sql` call.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct QueryResult {
    /// The rows, each an object from column name to value. Integers and floats are numbers, `numeric`
    /// is a string with every digit, json/jsonb is JSON, arrays are lists, bytea/blobs are base64, and
    /// timestamps, dates, uuids and other types are the database's text.
    pub rows: Vec<Map<String, Value>>,
    /// The columns in the query's order (object keys above are not ordered). A repeated name gets a
    /// suffix (`id`, `id_2`) so that no value is lost.
    pub columns: Vec<ColumnInfo>,
    /// How many rows are in `rows`.
    pub row_count: usize,
    /// Whether the query produced more rows than `row_limit` (only the first `row_limit` are here).
    pub truncated: bool,
    /// The most rows one call returns.
    pub row_limit: usize,
    /// How long the query took, in milliseconds.
    pub duration_ms: f64,
    /// `postgresql` or `sqlite`.
    pub database: String,
    /// A hint for the caller, e.g. how to get the rows beyond the limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A result column.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ColumnInfo {
    /// The key of this column in each row.
    pub name: String,
    /// The database's type name (`int4`, `numeric`, `timestamptz`, `_text` for text[], SQLite's
    /// declared type, ...).
    #[serde(rename = "type")]
    pub type_name: String,
}

/// A column as `postgres://schemas` lists it (the platform's shape).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SchemaColumn {
    /// The column's name.
    pub column: String,
    /// Its type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Whether it accepts NULL.
    pub nullable: bool,
    /// Its default expression, if any.
    pub default: Option<String>,
}

/// `postgres://schemas`: `"schema.table"` → its columns.
pub type Schemas = BTreeMap<String, Vec<SchemaColumn>>;

/// `postgres://tables/{table}`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TableInfo {
    /// The schema (`main` for SQLite).
    pub schema: String,
    /// The table's name.
    pub table: String,
    /// `table`, `view`, `materialized view`, `foreign table` or `partitioned table`.
    pub kind: String,
    /// Its columns, in order.
    pub columns: Vec<SchemaColumn>,
    /// The primary key's columns, in key order (empty when there is none).
    pub primary_key: Vec<String>,
    /// Its indexes.
    pub indexes: Vec<IndexInfo>,
    /// Its foreign keys.
    pub foreign_keys: Vec<ForeignKeyInfo>,
    /// The planner's estimate of the number of rows (exact for SQLite); null when the database has
    /// none yet.
    pub estimated_row_count: Option<i64>,
}

/// An index of a table.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct IndexInfo {
    /// The index's name.
    pub name: String,
    /// The indexed columns (empty for expression indexes; see `definition`).
    pub columns: Vec<String>,
    /// Whether it enforces uniqueness.
    pub unique: bool,
    /// Whether it is the primary key's index.
    pub primary: bool,
    /// The statement that creates it, when the database keeps one.
    pub definition: Option<String>,
}

/// A foreign key of a table.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ForeignKeyInfo {
    /// The constraint's name (SQLite: `fk_<n>`).
    pub name: String,
    /// The referencing columns.
    pub columns: Vec<String>,
    /// The referenced table.
    pub references_table: String,
    /// The referenced columns.
    pub references_columns: Vec<String>,
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryError {
    /// There is no usable connection (never connected, or the database is down).
    NotAvailable,
    /// The server refused to run the query (several statements, a statement that returns no rows,
    /// a statement SQLite knows writes).
    Refused(String),
    /// The database ran the query and reported an error (including read-only violations).
    Database(String),
    /// The statement timeout cancelled the query.
    Timeout(String),
    /// The connection broke during the call.
    ConnectionLost(String),
    /// What was asked for does not exist (an unknown table).
    NotFound(String),
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryError::NotAvailable => f.write_str(NOT_AVAILABLE),
            QueryError::Refused(m)
            | QueryError::Database(m)
            | QueryError::Timeout(m)
            | QueryError::ConnectionLost(m)
            | QueryError::NotFound(m) => f.write_str(m),
        }
    }
}

impl From<QueryError> for ToolError {
    fn from(error: QueryError) -> ToolError {
        let message = error.to_string();
        match error {
            QueryError::NotAvailable => ToolError::not_connected(message),
            QueryError::Refused(_) => ToolError::new(message).with_type("QueryRefused"),
            QueryError::Database(_) => ToolError::new(message).with_type("DatabaseError"),
            QueryError::Timeout(_) => ToolError::new(message).with_type("QueryTimeout"),
            QueryError::ConnectionLost(_) => ToolError::new(message).with_type("ConnectionLost"),
            QueryError::NotFound(_) => ToolError::not_found(message),
        }
    }
}

/// The connection state `/health` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionStatus {
    /// Whether the last check reached the database.
    pub connected: bool,
    /// Why not, when not (never containing the password).
    pub error: Option<String>,
    /// Which database this is, without the password.
    pub target: String,
    /// `postgresql`, `sqlite` or `none`.
    pub backend: &'static str,
}

/// The current backend.
pub(crate) enum Backend {
    Postgres(Arc<PgBackend>),
    Sqlite(Arc<SqliteBackend>),
    /// Nothing to connect to yet (a stack connector without a deployment, or a bad setting).
    Unavailable {
        reason: String,
        target: String,
    },
}

/// The database the tools query: shared by the tools, the resources and `/health`; clones share it.
#[derive(Clone)]
pub struct Database {
    inner: Arc<RwLock<Current>>,
}

struct Current {
    config: Arc<Config>,
    backend: Arc<Backend>,
    /// Whether the startup hook configured the database (before that, connector changes wait for it).
    configured: bool,
    /// The description of the target being served, to skip rebuilding the pool for the same one.
    described: Option<String>,
}

impl Database {
    /// A database that is not configured yet: calls answer [`NOT_AVAILABLE`] until
    /// [`configure`](Database::configure) runs (the server's startup hook does, once logging is up).
    pub fn unconfigured() -> Database {
        Database {
            inner: Arc::new(RwLock::new(Current {
                config: Arc::new(Config::default()),
                backend: Arc::new(Backend::Unavailable {
                    reason: "the server is starting".into(),
                    target: NOT_CONFIGURED.into(),
                }),
                configured: false,
                described: None,
            })),
        }
    }

    /// A database for `target`. PostgreSQL connects in the background (the server starts without
    /// waiting); SQLite is ready at once (the demo is built here).
    pub fn open(config: Config, target: DatabaseTarget) -> Database {
        let database = Database::unconfigured();
        database.configure(config, target);
        database
    }

    /// Whether [`configure`](Database::configure) (or [`open`](Database::open)) ran.
    pub fn is_configured(&self) -> bool {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .configured
    }

    /// Sets the settings and the target (replacing whatever was there).
    pub fn configure(&self, config: Config, target: DatabaseTarget) {
        let described = target.describe();
        let backend = Database::backend_for(&config, target);
        self.replace(Some(Arc::new(config)), backend);
        self.inner
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .described = Some(described);
    }

    /// Serves what `config` chooses in `mode`, with the URL the platform assigns the connector now
    /// (`{ID}_URL` locally, none yet or the manager's in a stack). A bad connector URL leaves the
    /// database unavailable, with the message in `/health`, and is returned. This is the body of the
    /// server's startup hook.
    pub fn configure_for(
        &self,
        config: Config,
        mode: &Mode,
        assigned_url: Option<String>,
    ) -> Result<(), SettingsError> {
        let target = DatabaseTarget::resolve(&config, &ConnectorUrl::new(mode, assigned_url))
            .inspect_err(|error| self.unavailable(error))?;
        self.configure(config, target);
        Ok(())
    }

    fn unavailable(&self, error: &SettingsError) {
        self.replace(
            None,
            Backend::Unavailable {
                reason: error.to_string(),
                target: "invalid settings".into(),
            },
        );
    }

    fn backend_for(config: &Config, target: DatabaseTarget) -> Backend {
        let description = target.describe();
        match target {
            DatabaseTarget::Postgres {
                config: pg,
                display,
                ..
            } => {
                tracing::info!(
                    event_type = "service.connection.deferred",
                    data.target = %description,
                    "Serving {description}; connecting in the background"
                );
                Backend::Postgres(PgBackend::start(*pg, display, config.pg.limits()))
            }
            DatabaseTarget::Sqlite(path) => {
                let demo = path.is_none();
                match SqliteBackend::open(path, config.pg.limits()) {
                    Ok(backend) => {
                        if demo {
                            tracing::warn!(
                                event_type = "service.connection.established",
                                data.target = %description,
                                data.demo = true,
                                "No PostgreSQL configured (PG_DSN, DATABASE_URL, PG_HOST/PG_PORT): serving the embedded demo database (SQLite, read-only) at {}",
                                backend.path().display()
                            );
                        } else {
                            tracing::info!(
                                event_type = "service.connection.established",
                                data.target = %description,
                                "Serving {description} (read-only)"
                            );
                        }
                        Backend::Sqlite(Arc::new(backend))
                    }
                    Err(error) => {
                        tracing::error!(
                            event_type = "connection.lost",
                            success = false,
                            error = %error,
                            error_type = "SqliteError",
                            "Cannot open {description}"
                        );
                        Backend::Unavailable {
                            reason: error,
                            target: description,
                        }
                    }
                }
            }
            DatabaseTarget::AwaitingConnector { .. } => {
                tracing::info!(
                    event_type = "service.connection.deferred",
                    "{description}; the server answers, and connects once a deployment is assigned"
                );
                Backend::Unavailable {
                    reason: description.clone(),
                    target: description,
                }
            }
        }
    }

    /// Points the server at a new connector URL: resolves the target again (PG_DSN still wins) and,
    /// when it changed, replaces the backend (the old pool closes once its calls finish). This is the
    /// body of the connector's reconnect hook.
    pub fn connector_changed(&self, url: ConnectorUrl) -> Result<(), SettingsError> {
        if !self.is_configured() {
            // The startup hook has not run yet; it configures from the URL assigned then.
            return Ok(());
        }
        let config = self.config();
        let target = match DatabaseTarget::resolve(&config, &url) {
            Ok(target) => target,
            Err(error) => {
                self.replace(
                    None,
                    Backend::Unavailable {
                        reason: error.to_string(),
                        target: "an invalid connector URL".into(),
                    },
                );
                return Err(error);
            }
        };
        let described = target.describe();
        if self
            .inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .described
            .as_ref()
            == Some(&described)
        {
            return Ok(());
        }
        self.retarget(target);
        Ok(())
    }

    /// Replaces the backend with one for `target`.
    pub fn retarget(&self, target: DatabaseTarget) {
        let described = target.describe();
        let backend = Database::backend_for(&self.config(), target);
        self.replace(None, backend);
        self.inner
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .described = Some(described);
    }

    fn replace(&self, config: Option<Arc<Config>>, backend: Backend) {
        let old = {
            let mut current = self.inner.write().unwrap_or_else(|e| e.into_inner());
            if let Some(config) = config {
                current.config = config;
                current.configured = true;
            }
            current.described = None;
            std::mem::replace(&mut current.backend, Arc::new(backend))
        };
        if let Backend::Postgres(pg) = &*old {
            pg.stop();
        }
    }

    /// Closes the pool (at shutdown).
    pub fn close(&self) {
        if let Backend::Postgres(pg) = &*self.current() {
            pg.stop();
        }
    }

    /// Waits until the current backend is connected, up to `timeout`; whether it is. Follows the
    /// pool's state (no polling), so it returns as soon as the first connection answers.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        match &*self.current() {
            Backend::Postgres(pg) => pg.wait_connected(timeout).await,
            Backend::Sqlite(_) => true,
            Backend::Unavailable { .. } => false,
        }
    }

    fn current(&self) -> Arc<Backend> {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .backend
            .clone()
    }

    /// The settings in force.
    pub fn config(&self) -> Arc<Config> {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .config
            .clone()
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.config().pg.limits()
    }

    /// The state `/health` reports.
    pub fn status(&self) -> ConnectionStatus {
        match &*self.current() {
            Backend::Postgres(pg) => pg.status(),
            Backend::Sqlite(sqlite) => ConnectionStatus {
                connected: true,
                error: None,
                target: sqlite.describe(),
                backend: "sqlite",
            },
            Backend::Unavailable { reason, target } => ConnectionStatus {
                connected: false,
                error: Some(reason.clone()),
                target: target.clone(),
                backend: "none",
            },
        }
    }

    /// Runs one read-only query.
    pub async fn execute(&self, sql: &str) -> Result<QueryResult, QueryError> {
        if sql.trim().is_empty() {
            return Err(QueryError::Refused(
                "sql_query is empty: pass one SQL statement, e.g. SELECT * FROM orders LIMIT 10"
                    .into(),
            ));
        }
        match &*self.current() {
            Backend::Postgres(pg) => pg.execute(sql).await,
            Backend::Sqlite(sqlite) => sqlite.execute(sql).await,
            Backend::Unavailable { .. } => Err(QueryError::NotAvailable),
        }
    }

    /// Every table's columns, in the platform's shape.
    pub async fn schemas(&self) -> Result<Schemas, QueryError> {
        match &*self.current() {
            Backend::Postgres(pg) => pg.schemas().await,
            Backend::Sqlite(sqlite) => sqlite.schemas().await,
            Backend::Unavailable { .. } => Err(QueryError::NotAvailable),
        }
    }

    /// One table: `name` or `schema.name`.
    pub async fn table(&self, name: &str) -> Result<TableInfo, QueryError> {
        match &*self.current() {
            Backend::Postgres(pg) => pg.table(name).await,
            Backend::Sqlite(sqlite) => sqlite.table(name).await,
            Backend::Unavailable { .. } => Err(QueryError::NotAvailable),
        }
    }
}

/// Unique object keys for the columns: a repeated name gets `_2`, `_3`, ...
pub(crate) fn unique_names(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    names
        .into_iter()
        .map(|name| {
            if seen.insert(name.clone()) {
                return name;
            }
            let mut n = 2;
            loop {
                let candidate = format!("{name}_{n}");
                if seen.insert(candidate.clone()) {
                    return candidate;
                }
                n += 1;
            }
        })
        .collect()
}

/// The result columns: `names` (already made unique) with the backend's type name of each.
pub(crate) fn result_columns(
    names: &[String],
    type_names: impl IntoIterator<Item = String>,
) -> Vec<ColumnInfo> {
    names
        .iter()
        .zip(type_names)
        .map(|(name, type_name)| ColumnInfo {
            name: name.clone(),
            type_name,
        })
        .collect()
}

/// What a backend read for one query: at most the row limit's rows, and whether there were more.
pub(crate) struct Fetched {
    pub(crate) columns: Vec<ColumnInfo>,
    pub(crate) rows: Vec<Map<String, Value>>,
    /// The query had rows beyond the limit (they were not read).
    pub(crate) truncated: bool,
}

impl Fetched {
    /// The call's result; built here for both backends so that they count, limit and explain
    /// truncation the same way.
    pub(crate) fn into_result(
        self,
        row_limit: usize,
        duration_ms: f64,
        database: &str,
    ) -> QueryResult {
        QueryResult {
            row_count: self.rows.len(),
            rows: self.rows,
            columns: self.columns,
            truncated: self.truncated,
            row_limit,
            duration_ms,
            database: database.into(),
            note: self.truncated.then(|| {
                format!(
                    "The query returned more than {row_limit} rows; only the first {row_limit} are shown. Add a WHERE clause, an aggregate, or LIMIT/OFFSET to see the rest."
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_column_names_are_kept() {
        let names = unique_names(["id", "id", "name", "id_2", "id"].map(String::from));
        assert_eq!(names, ["id", "id_2", "name", "id_2_2", "id_3"]);
    }
}
