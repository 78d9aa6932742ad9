//! The SQLite backend: the embedded demo database (built from `sql/demo.sql` into a file in the
//! temporary directory, once per version of the data), or an SQLite file given in `SQLITE_PATH`,
//! always opened read-only.
//!
//! Every query opens its own connection (cheap for SQLite, and nothing one query does to its
//! connection can reach the next) with `SQLITE_OPEN_READ_ONLY`, `PRAGMA query_only`, no attached
//! databases allowed, and an authorizer that denies ATTACH and DETACH. SQLite's
//! parser refuses more than one statement, a statement it knows writes is refused before it runs, and
//! the statement timeout interrupts the query.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Instant,
};

use base64::Engine as _;
use rusqlite::{
    Connection, OpenFlags,
    hooks::{AuthAction, AuthContext, Authorization},
    limits::Limit,
    types::ValueRef,
};
use serde_json::{Map, Value};

use crate::{
    database::{
        Fetched, ForeignKeyInfo, IndexInfo, QueryError, QueryResult, SchemaColumn, Schemas,
        TableInfo, result_columns, unique_names,
    },
    settings::Limits,
};

/// The demo database's schema and rows.
pub const DEMO_SQL: &str = include_str!("../sql/demo.sql");

/// A read-only SQLite database.
pub struct SqliteBackend {
    path: PathBuf,
    /// Whether this is the embedded demo.
    demo: bool,
    limits: Limits,
}

impl SqliteBackend {
    /// Opens `path` read-only, or builds the demo database when `path` is `None`.
    pub fn open(path: Option<PathBuf>, limits: Limits) -> Result<SqliteBackend, String> {
        let (path, demo) = match path {
            Some(path) => {
                if !path.is_file() {
                    return Err(format!(
                        "SQLITE_PATH={} is not a file: point it at an existing SQLite database, or unset it to serve the demo",
                        path.display()
                    ));
                }
                (path, false)
            }
            None => (build_demo()?, true),
        };
        let backend = SqliteBackend { path, demo, limits };
        // Fail at start, not at the first call, when the file is not a database.
        backend
            .connect()
            .and_then(|conn| {
                conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
                    .map_err(|e| e.to_string())
            })
            .map_err(|e| {
                format!(
                    "{} is not a readable SQLite database: {e}",
                    backend.path.display()
                )
            })?;
        Ok(backend)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What `/health` calls it.
    pub fn describe(&self) -> String {
        if self.demo {
            "the embedded demo database (SQLite)".into()
        } else {
            format!("SQLite file {}", self.path.display())
        }
    }

    fn connect(&self) -> Result<Connection, String> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| e.to_string())?;
        conn.pragma_update(None, "query_only", true)
            .map_err(|e| e.to_string())?;
        conn.set_limit(Limit::SQLITE_LIMIT_ATTACHED, 0)
            .map_err(|e| e.to_string())?;
        Ok(conn)
    }

    /// Runs `sql` on a fresh read-only connection, interrupted after the statement timeout.
    pub async fn execute(&self, sql: &str) -> Result<QueryResult, QueryError> {
        let conn = self.connect().map_err(QueryError::Database)?;
        conn.authorizer(Some(deny_configuration_changes));
        let interrupt = conn.get_interrupt_handle();
        let timeout = self.limits.query_timeout;
        let timer = tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            interrupt.interrupt();
        });
        let sql = sql.to_string();
        let limit = self.limits.max_rows;
        let started = Instant::now();
        let outcome = tokio::task::spawn_blocking(move || run(&conn, &sql, limit)).await;
        timer.abort();
        let duration_ms = cm_mcp::events::elapsed_ms(started);
        let fetched = match outcome {
            Ok(result) => result.map_err(|e| self.error(e))?,
            Err(join) => {
                return Err(QueryError::Database(format!(
                    "the query's worker thread failed: {join}"
                )));
            }
        };
        Ok(fetched.into_result(limit, duration_ms, "sqlite"))
    }

    fn error(&self, error: Failure) -> QueryError {
        match error {
            Failure::Refused(message) => QueryError::Refused(message),
            Failure::Sqlite(rusqlite::Error::MultipleStatement) => QueryError::Refused(
                "execute_sql runs one SQL statement per call, and this text holds several: send them as separate calls."
                    .into(),
            ),
            Failure::Sqlite(rusqlite::Error::SqliteFailure(code, message))
                if code.code == rusqlite::ErrorCode::OperationInterrupted =>
            {
                QueryError::Timeout(format!(
                    "The query was interrupted after the {} ms statement timeout{}. Narrow it (WHERE, LIMIT) and try again.",
                    self.limits.query_timeout.as_millis(),
                    message.map(|m| format!(" ({m})")).unwrap_or_default()
                ))
            }
            Failure::Sqlite(rusqlite::Error::SqliteFailure(code, message))
                if matches!(
                    code.code,
                    rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::AuthorizationForStatementDenied
                ) =>
            {
                QueryError::Database(format!(
                    "Refused by the database: this server is read-only ({}).",
                    message.unwrap_or_else(|| code.to_string())
                ))
            }
            Failure::Sqlite(error) => QueryError::Database(error.to_string()),
        }
    }

    /// Every table's and view's columns, keyed `main.<table>`.
    pub async fn schemas(&self) -> Result<Schemas, QueryError> {
        let conn = self.connect().map_err(QueryError::Database)?;
        tokio::task::spawn_blocking(move || -> rusqlite::Result<Schemas> {
            let mut schemas = BTreeMap::new();
            for table in tables(&conn)? {
                let columns = table_columns(&conn, &table)?;
                schemas.insert(
                    format!("main.{table}"),
                    columns.into_iter().map(|c| c.0).collect(),
                );
            }
            Ok(schemas)
        })
        .await
        .map_err(|e| QueryError::Database(e.to_string()))?
        .map_err(|e| QueryError::Database(e.to_string()))
    }

    /// One table or view: `name` or `main.name`.
    pub async fn table(&self, name: &str) -> Result<TableInfo, QueryError> {
        let conn = self.connect().map_err(QueryError::Database)?;
        let wanted = name.strip_prefix("main.").unwrap_or(name).to_string();
        let name = name.to_string();
        tokio::task::spawn_blocking(move || -> rusqlite::Result<Result<TableInfo, QueryError>> {
            let kind: Option<String> = conn
                .query_row(
                    "SELECT type FROM sqlite_schema WHERE type IN ('table', 'view') AND name = ?1 AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
                    [&wanted],
                    |row| row.get(0),
                )
                .ok();
            let Some(kind) = kind else {
                return Ok(Err(QueryError::NotFound(format!(
                    "No table or view named {name:?}. Read postgres://schemas for the list (names are case-sensitive)."
                ))));
            };
            let columns = table_columns(&conn, &wanted)?;
            let mut primary_key: Vec<(i64, String)> = columns
                .iter()
                .filter(|(_, pk)| *pk > 0)
                .map(|(c, pk)| (*pk, c.column.clone()))
                .collect();
            primary_key.sort();
            let mut indexes = Vec::new();
            let mut list = conn.prepare("SELECT name, \"unique\", origin FROM pragma_index_list(?1) ORDER BY name")?;
            let listed: Vec<(String, bool, String)> = list
                .query_map([&wanted], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
            for (index, unique, origin) in listed {
                let mut info = conn.prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")?;
                let columns: Vec<String> = info
                    .query_map([&index], |row| Ok(row.get::<_, Option<String>>(0)?.unwrap_or_default()))?
                    .collect::<rusqlite::Result<_>>()?;
                let definition: Option<String> = conn
                    .query_row("SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?1", [&index], |row| row.get(0))
                    .ok()
                    .flatten();
                indexes.push(IndexInfo {
                    name: index,
                    columns,
                    unique,
                    primary: origin == "pk",
                    definition,
                });
            }
            let mut fks = conn.prepare(
                "SELECT id, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?1) ORDER BY id, seq",
            )?;
            let mut foreign_keys: Vec<ForeignKeyInfo> = Vec::new();
            let mut last_id = None;
            for row in fks.query_map([&wanted], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, Option<String>>(3)?,
                ))
            })? {
                let (id, table, from, to) = row?;
                if last_id != Some(id) {
                    foreign_keys.push(ForeignKeyInfo {
                        name: format!("fk_{id}"),
                        columns: Vec::new(),
                        references_table: format!("main.{table}"),
                        references_columns: Vec::new(),
                    });
                    last_id = Some(id);
                }
                let fk = foreign_keys.last_mut().expect("pushed above");
                fk.columns.push(from);
                fk.references_columns.push(to.unwrap_or_default());
            }
            let count: i64 = conn.query_row(
                &format!("SELECT count(*) FROM \"{}\"", wanted.replace('"', "\"\"")),
                [],
                |row| row.get(0),
            )?;
            Ok(Ok(TableInfo {
                schema: "main".into(),
                table: wanted,
                kind,
                columns: columns.into_iter().map(|c| c.0).collect(),
                primary_key: primary_key.into_iter().map(|p| p.1).collect(),
                indexes,
                foreign_keys,
                estimated_row_count: Some(count),
            }))
        })
        .await
        .map_err(|e| QueryError::Database(e.to_string()))?
        .map_err(|e| QueryError::Database(e.to_string()))?
    }
}

/// The demo database's file: one per version of the demo data, shared by every process (they only
/// read it), so that no file is left behind per run, even by a killed process.
fn build_demo() -> Result<PathBuf, String> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    DEMO_SQL.hash(&mut hasher);
    let dir = std::env::temp_dir();
    let path = dir.join(format!("postgres-mcp-demo-{:016x}.sqlite", hasher.finish()));
    let complete = |path: &Path| {
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|conn| conn.query_row("SELECT count(*) FROM order_items", [], |_| Ok(())))
            .is_ok()
    };
    if complete(&path) {
        return Ok(path);
    }
    // Built under a name of its own, then renamed: another process never sees half a database.
    let partial = dir.join(format!(
        "postgres-mcp-demo-{:016x}.{}.partial",
        hasher.finish(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&partial);
    let conn = Connection::open(&partial).map_err(|e| {
        format!(
            "cannot create the demo database at {}: {e}",
            partial.display()
        )
    })?;
    conn.execute_batch(DEMO_SQL)
        .map_err(|e| format!("cannot load the demo data: {e}"))?;
    drop(conn);
    std::fs::rename(&partial, &path)
        .map_err(|e| format!("cannot move the demo database to {}: {e}", path.display()))?;
    Ok(path)
}

enum Failure {
    Refused(String),
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for Failure {
    fn from(error: rusqlite::Error) -> Failure {
        Failure::Sqlite(error)
    }
}

fn run(conn: &Connection, sql: &str, limit: usize) -> Result<Fetched, Failure> {
    let mut statement = conn.prepare(sql)?;
    if !statement.readonly() {
        return Err(Failure::Refused(
            "Refused by the database: SQLite reports that this statement writes, and this server is read-only."
                .into(),
        ));
    }
    if statement.column_count() == 0 {
        return Err(Failure::Refused(
            "execute_sql runs queries that return rows (SELECT, WITH ... SELECT, VALUES, EXPLAIN, PRAGMA reads); this statement returns none, so it was not run."
                .into(),
        ));
    }
    let declared: Vec<Option<String>> = statement
        .columns()
        .iter()
        .map(|c| c.decl_type().map(|t| t.to_ascii_uppercase()))
        .collect();
    let names = unique_names(statement.column_names().into_iter().map(String::from));
    let columns = result_columns(
        &names,
        declared.iter().map(|decl| decl.clone().unwrap_or_default()),
    );
    let mut rows = Vec::new();
    let mut truncated = false;
    let mut cursor = statement.query([])?;
    while let Some(row) = cursor.next()? {
        if rows.len() == limit {
            truncated = true;
            break;
        }
        let mut object = Map::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let value = to_json(row.get_ref(i)?, declared[i].as_deref());
            object.insert(name.clone(), value);
        }
        rows.push(object);
    }
    Ok(Fetched {
        columns,
        rows,
        truncated,
    })
}

/// A SQLite value as JSON; the declared type refines it (BOOLEAN 0/1 → false/true, JSON text → JSON).
fn to_json(value: ValueRef<'_>, declared: Option<&str>) -> Value {
    let declared = declared.unwrap_or("");
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) if declared.contains("BOOL") && (i == 0 || i == 1) => {
            Value::Bool(i == 1)
        }
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(f.to_string())),
        ValueRef::Text(bytes) => {
            let text = String::from_utf8_lossy(bytes);
            if declared.contains("JSON") {
                serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.into_owned()))
            } else {
                Value::String(text.into_owned())
            }
        }
        ValueRef::Blob(bytes) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
    }
}

/// Denies ATTACH and DETACH (another file must not come into reach); the read-only open and
/// `query_only` already stop writes. Pragmas stay allowed: their arguments cannot be told from
/// assignments here, assignments return no rows (refused before they run), and the connection is
/// thrown away after the query anyway.
fn deny_configuration_changes(context: AuthContext<'_>) -> Authorization {
    match context.action {
        AuthAction::Attach { .. } | AuthAction::Detach { .. } => Authorization::Deny,
        _ => Authorization::Allow,
    }
}

fn tables(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare(
        "SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )?;
    statement.query_map([], |row| row.get(0))?.collect()
}

/// A table's columns, with each column's position in the primary key (0 = not in it).
fn table_columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<(SchemaColumn, i64)>> {
    let mut statement = conn.prepare(
        "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1) ORDER BY cid",
    )?;
    statement
        .query_map([table], |row| {
            let pk: i64 = row.get(4)?;
            Ok((
                SchemaColumn {
                    column: row.get(0)?,
                    type_name: row.get(1)?,
                    // SQLite lets a non-INTEGER primary key column hold NULL unless declared NOT NULL.
                    nullable: row.get::<_, i64>(2)? == 0,
                    default: row.get(3)?,
                },
                pk,
            ))
        })?
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_follow_the_declared_type() {
        assert_eq!(
            to_json(ValueRef::Integer(1), Some("BOOLEAN")),
            Value::Bool(true)
        );
        assert_eq!(
            to_json(ValueRef::Integer(2), Some("BOOLEAN")),
            Value::from(2)
        );
        assert_eq!(
            to_json(ValueRef::Integer(1), Some("INTEGER")),
            Value::from(1)
        );
        assert_eq!(
            to_json(ValueRef::Text(br#"{"a":1}"#), Some("JSON")),
            serde_json::json!({"a": 1})
        );
        assert_eq!(
            to_json(ValueRef::Text(b"{oops"), Some("JSON")),
            Value::from("{oops")
        );
        assert_eq!(
            to_json(ValueRef::Blob(&[0xde, 0xad]), None),
            Value::from("3q0=")
        );
        assert_eq!(to_json(ValueRef::Real(f64::NAN), None), Value::from("NaN"));
    }
}
