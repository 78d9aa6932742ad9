//! The PostgreSQL backend: a pool that connects (and reconnects) in the background, and queries run
//! read-only by construction.
//!
//! How a query runs, and why each step is there:
//! 1. `BEGIN READ ONLY`, `SET LOCAL statement_timeout`, then a trivial `SELECT` so the transaction has
//!    its snapshot, then a savepoint: from then on the server refuses `SET TRANSACTION READ WRITE`
//!    and any `set_config('transaction_read_only', ...)`, whatever the query does, for either
//!    reason (a snapshot was taken; a subtransaction of a read-only transaction).
//! 2. The query is parsed by the server through the extended protocol (`Parse`/`Describe`), which
//!    refuses a string holding more than one statement: no SQL is inspected here, the server's own
//!    parser decides.
//! 3. A statement whose description has no result columns (`COPY`, `DO`, `SET`, `LOCK`, `COMMIT`,
//!    `ANALYZE`, DDL, ...) is refused: this tool runs queries. None of those ran: the only statement
//!    of the caller's that runs before its description is read is the cursor of step 4, and a
//!    cursor holds only a query (a `SELECT` of no columns is one, and its rows are dropped).
//! 4. A query that can be a cursor is fetched through one (`DECLARE ... CURSOR FOR`, again through
//!    the extended protocol, then `FETCH limit+1`), so the row limit applies on the server. Others
//!    (`SHOW`, `EXPLAIN`, ...) fail to be declared; once step 5 has ended that transaction, they
//!    run as they are in a new one begun as in step 1 (its `BEGIN` answered before they are sent,
//!    so that they never run outside it). Rows come back in text form (see `pgvalue`).
//! 5. `ROLLBACK`, then what `DISCARD ALL` resets (session-level state the query may have created,
//!    such as advisory locks), prepared statements aside. A connection that cannot be cleaned, or a
//!    call that is dropped half-way, closes its connection instead of returning it to the pool.
//!
//! Steps 1 to 5 travel as one pipeline, a single round trip: every request is written before the
//! first answer is read, and the server runs them in order. A failing request aborts the
//! transaction, so that the ones after it fail without running (or, if `BEGIN` itself failed, the
//! cursor is refused: it exists only inside a transaction block), and the cleanup, a request of
//! its own, still runs. The caller gets the first failure.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, Weak},
    time::{Duration, Instant},
};

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use futures::StreamExt;
use serde_json::{Map, Value};
use tokio::sync::{Notify, watch};
use tokio_postgres::{NoTls, SimpleQueryMessage, SimpleQueryRow, error::SqlState, types::Type};

use crate::{
    database::{
        ColumnInfo, ConnectionStatus, Fetched, ForeignKeyInfo, IndexInfo, QueryError, QueryResult,
        SchemaColumn, Schemas, TableInfo, result_columns, unique_names,
    },
    pgvalue,
    settings::Limits,
    target::scrub,
};

/// The per-connection settings of the platform's server, plus the output formats `pgvalue` reads.
const SESSION_OPTIONS: &str = "-c statement_timeout=10000 -c idle_in_transaction_session_timeout=10000 -c lock_timeout=2000 -c bytea_output=hex -c DateStyle=ISO,MDY -c extra_float_digits=1";

/// Ends a call: the transaction, then what `DISCARD ALL` resets, except prepared statements (the
/// driver keeps its own, and a caller cannot create any: `PREPARE` returns no rows).
const CLEANUP: &str = "ROLLBACK; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; UNLISTEN *; \
                       SELECT pg_catalog.pg_advisory_unlock_all(); DISCARD PLANS; DISCARD TEMP; DISCARD SEQUENCES";

/// The longest wait between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often a connected pool is checked.
const CHECK_INTERVAL: Duration = Duration::from_secs(5);
/// The shortest time between two checks, however many calls ask for one: calls arriving while the
/// database is down try it again this soon (rather than at the end of a backoff of up to 30 s), and
/// a flood of them costs the database at most one connection attempt per interval.
const MIN_CHECK_GAP: Duration = Duration::from_millis(250);

/// A PostgreSQL database behind a pool.
pub struct PgBackend {
    pool: Pool,
    display: String,
    password: Option<String>,
    limits: Limits,
    /// Watched, so that waiting for the first connection needs no polling.
    state: watch::Sender<State>,
    wake: Arc<Notify>,
    monitor: Mutex<Option<tokio::task::AbortHandle>>,
}

#[derive(Default)]
struct State {
    connected: bool,
    error: Option<String>,
}

impl PgBackend {
    /// Builds the pool for `config` and starts connecting in the background.
    pub fn start(
        mut config: tokio_postgres::Config,
        display: String,
        limits: Limits,
    ) -> Arc<PgBackend> {
        let existing = config.get_options().unwrap_or_default().to_string();
        config
            .options(format!("{SESSION_OPTIONS} {existing}").trim())
            .application_name("postgres-mcp")
            .connect_timeout(limits.connect_timeout);
        let password = config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(limits.pool_max)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(limits.connect_timeout))
            .wait_timeout(Some(limits.command_timeout))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .expect("a pool with a runtime and timeouts always builds");
        let backend = Arc::new(PgBackend {
            pool,
            display,
            password,
            limits,
            state: watch::Sender::new(State {
                connected: false,
                error: Some("connecting".into()),
            }),
            wake: Arc::new(Notify::new()),
            monitor: Mutex::new(None),
        });
        let task = tokio::spawn(monitor(Arc::downgrade(&backend)));
        *backend.monitor.lock().unwrap_or_else(|e| e.into_inner()) = Some(task.abort_handle());
        backend
    }

    /// Stops reconnecting and closes idle connections; calls in flight finish on theirs.
    pub fn stop(&self) {
        if let Some(task) = self
            .monitor
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            task.abort();
        }
        self.pool.close();
    }

    /// The state `/health` reports.
    pub fn status(&self) -> ConnectionStatus {
        let state = self.state.borrow();
        ConnectionStatus {
            connected: state.connected,
            error: state.error.clone(),
            target: self.display.clone(),
            backend: "postgresql",
        }
    }

    fn is_connected(&self) -> bool {
        self.state.borrow().connected
    }

    /// Waits until a connection answers, at most `timeout`; whether one did.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        let mut state = self.state.subscribe();
        tokio::time::timeout(timeout, state.wait_for(|s| s.connected))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    fn set_state(&self, connected: bool, error: Option<String>) -> bool {
        let mut changed = false;
        self.state.send_modify(|state| {
            changed = state.connected != connected;
            state.connected = connected;
            state.error = error;
        });
        changed
    }

    /// Something failed in a way that suggests the server went away: check now.
    fn suspect(&self) {
        self.wake.notify_one();
    }

    /// An error's message with the password scrubbed.
    fn clean(&self, message: impl std::fmt::Display) -> String {
        scrub(&message.to_string(), self.password.as_deref())
    }

    /// One connection from the pool, set up for a call; fails fast while the database is down, and
    /// then asks for a check, so that a database that is back serves the next calls.
    async fn lease(&self) -> Result<Lease, QueryError> {
        if !self.is_connected() {
            self.suspect();
            return Err(QueryError::NotAvailable);
        }
        match self.pool.get().await {
            Ok(object) => Ok(Lease {
                object: Some(object),
            }),
            Err(error) => {
                self.suspect();
                Err(QueryError::ConnectionLost(format!(
                    "Could not get a database connection: {}. Please try again in a few seconds.",
                    self.clean(error)
                )))
            }
        }
    }

    /// Begins the read-only transaction of one call on a fresh lease; retries once on another
    /// connection when the first turns out to be dead (nothing of the caller's has run yet).
    async fn begin(&self, setup: &str) -> Result<Lease, QueryError> {
        let mut last = None;
        for _ in 0..2 {
            let lease = self.lease().await?;
            match self.bounded(lease.client().batch_execute(setup)).await {
                Ok(()) => return Ok(lease),
                Err(error) => {
                    lease.discard();
                    if !error.is_connection_error() {
                        return Err(self.db_error(error));
                    }
                    last = Some(error);
                }
            }
        }
        self.suspect();
        Err(self.db_error(last.expect("the loop ran")))
    }

    /// Bounds one round trip by the command timeout.
    async fn bounded<T>(
        &self,
        fut: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, Failure> {
        match tokio::time::timeout(self.limits.command_timeout, fut).await {
            Ok(result) => result.map_err(Failure::Pg),
            Err(_) => Err(Failure::CommandTimeout),
        }
    }

    /// Bounds a whole pipeline by the command timeout.
    async fn timed<T>(&self, fut: impl Future<Output = T>) -> Result<T, Failure> {
        tokio::time::timeout(self.limits.command_timeout, fut)
            .await
            .map_err(|_| Failure::CommandTimeout)
    }

    /// Runs `sql` read-only; see the module documentation for every step.
    pub async fn execute(&self, sql: &str) -> Result<QueryResult, QueryError> {
        let call = Call {
            setup: format!(
                "BEGIN READ ONLY; SET LOCAL statement_timeout = {}; SELECT 1; SAVEPOINT cm_mcp_declare",
                self.limits.query_timeout.as_millis()
            ),
            sql,
            // The cursor's text is the caller's statement after a fixed prefix, sent through the
            // extended protocol, so it is still exactly one statement, and a cursor holds only a
            // query.
            declare: format!("DECLARE cm_mcp_cursor NO SCROLL CURSOR FOR {sql}"),
            fetch: format!(
                "FETCH FORWARD {} FROM cm_mcp_cursor",
                self.limits.max_rows + 1
            ),
        };
        let mut last = None;
        for _ in 0..2 {
            let lease = self.lease().await?;
            let Ok(piped) = self.timed(self.pipeline(lease.client(), &call)).await else {
                // The connection's state is unknown.
                lease.discard();
                self.suspect();
                return Err(self.db_error(Failure::CommandTimeout));
            };
            let Piped {
                begun,
                described,
                declared,
                fetched,
                cleaned,
                read_ms,
            } = piped;
            if let Err(error) = begun {
                // The call's transaction never began. On a connection found dead, nothing of the
                // caller's ran, so another connection may try.
                let retry = error.is_connection_error();
                let error = self
                    .settle(lease, Err::<(), _>(error), cleaned)
                    .expect_err("a failure settles as an error");
                if retry {
                    last = Some(error);
                    continue;
                }
                return Err(error);
            }
            let result = match (described, declared) {
                (Err(error), _) => Err(error),
                (Ok(description), _) if description.types.is_empty() => Err(Failure::NoRows),
                (Ok(description), Ok(_)) => fetched.map(|(rows, truncated)| Fetched {
                    rows: description.json_rows(rows),
                    columns: description.columns(),
                    truncated,
                }),
                (Ok(_), Err(error)) if error.is_connection_error() => Err(error),
                (Ok(description), Err(_)) => {
                    // Not a query a cursor can hold (SHOW, EXPLAIN, CALL, ...): the pipeline
                    // ended its transaction; run the statement as it is in a new one, once the
                    // server has confirmed it began.
                    if let Err(error) = cleaned {
                        // A connection that could not be cleaned is closed, and the call fails
                        // with why.
                        lease.discard();
                        if error.is_connection_error() {
                            self.suspect();
                        }
                        return Err(self.db_error(error));
                    }
                    let started = Instant::now();
                    let (result, cleaned) = self.run_plain(&lease, &call, &description).await;
                    let duration_ms = cm_mcp::events::elapsed_ms(started);
                    let fetched = self.settle(lease, result, cleaned)?;
                    return Ok(fetched.into_result(
                        self.limits.max_rows,
                        duration_ms,
                        "postgresql",
                    ));
                }
            };
            let fetched = self.settle(lease, result, cleaned)?;
            return Ok(fetched.into_result(self.limits.max_rows, read_ms, "postgresql"));
        }
        self.suspect();
        Err(last.expect("the loop ran"))
    }

    /// Steps 1 to 5 in one round trip: every request is written before any answer is read
    /// (tokio-postgres sends a request when its future is first polled, and `join!` polls them in
    /// this order); the server runs them in order, and an error in one aborts the transaction, so
    /// that everything after it up to the cleanup fails without running.
    async fn pipeline(&self, client: &tokio_postgres::Client, call: &Call<'_>) -> Piped {
        let started = Instant::now();
        let limit = self.limits.max_rows;
        let (begun, described, declared, fetched, cleaned) = futures::join!(
            client.batch_execute(&call.setup),
            Description::of(client, call.sql),
            // One message (Parse, Bind, Execute): waiting for the Parse's answer first would put
            // the execution behind the cleanup.
            client.execute_typed(&call.declare, &[]),
            async {
                let read = read_rows(client, &call.fetch, limit).await;
                (read, cm_mcp::events::elapsed_ms(started))
            },
            client.batch_execute(CLEANUP),
        );
        let (fetched, read_ms) = fetched;
        Piped {
            begun: begun.map_err(Failure::Pg),
            described: described.map_err(Failure::Pg),
            declared: declared.map(drop).map_err(Failure::Pg),
            fetched: fetched.map_err(Failure::Pg),
            cleaned: cleaned.map_err(Failure::Pg),
            read_ms,
        }
    }

    /// Step 4's other branch: `sql` run as it is, in a read-only transaction begun (and confirmed)
    /// first, so that it never runs outside one; the cleanup travels with it.
    async fn run_plain(
        &self,
        lease: &Lease,
        call: &Call<'_>,
        description: &Description,
    ) -> (Result<Fetched, Failure>, Result<(), Failure>) {
        let client = lease.client();
        if let Err(error) = self.bounded(client.batch_execute(&call.setup)).await {
            if error.is_connection_error() {
                return (Err(error), Ok(()));
            }
            let cleaned = self.bounded(client.batch_execute(CLEANUP)).await;
            return (Err(error), cleaned);
        }
        let limit = self.limits.max_rows;
        let piped = self
            .timed(async {
                futures::join!(
                    read_rows(client, call.sql, limit),
                    client.batch_execute(CLEANUP)
                )
            })
            .await;
        match piped {
            Ok((read, cleaned)) => (
                read.map_err(Failure::Pg).map(|(rows, truncated)| Fetched {
                    rows: description.json_rows(rows),
                    columns: description.columns(),
                    truncated,
                }),
                cleaned.map_err(Failure::Pg),
            ),
            Err(timeout) => (Err(timeout), Err(Failure::CommandTimeout)),
        }
    }

    /// Ends a call whose cleanup already ran (or failed, as `cleaned` says): a clean connection goes
    /// back to the pool, any other is closed (and a broken one checked); a failure becomes the
    /// caller's error.
    fn settle<T>(
        &self,
        lease: Lease,
        result: Result<T, Failure>,
        cleaned: Result<(), Failure>,
    ) -> Result<T, QueryError> {
        let broken = result.as_ref().is_err_and(Failure::is_connection_error)
            || cleaned.as_ref().is_err_and(Failure::is_connection_error);
        if cleaned.is_ok() && !broken {
            lease.release();
        } else {
            lease.discard();
        }
        if broken {
            self.suspect();
        }
        result.map_err(|error| self.db_error(error))
    }

    /// Ends the call's transaction and session state; a connection that cannot be cleaned is closed.
    async fn finish(&self, lease: Lease) {
        let clean = self
            .bounded(lease.client().batch_execute(CLEANUP))
            .await
            .is_ok();
        if clean {
            lease.release();
        } else {
            lease.discard();
        }
    }

    fn db_error(&self, error: Failure) -> QueryError {
        let error = match error {
            Failure::NoRows => {
                return QueryError::Refused(
                    "execute_sql runs queries that return rows (SELECT, WITH ... SELECT, VALUES, TABLE, SHOW, EXPLAIN); this statement returns none, so it was not run. The database is read-only for this server."
                        .into(),
                );
            }
            Failure::CommandTimeout => {
                return QueryError::ConnectionLost(format!(
                    "The database did not answer within the {} s command timeout; the connection was closed. Please try again.",
                    self.limits.command_timeout.as_secs()
                ));
            }
            Failure::Pg(error) => error,
        };
        if let Some(db) = error.as_db_error() {
            let mut message = db.message().to_string();
            if let Some(detail) = db.detail() {
                message.push_str(&format!(" (detail: {detail})"));
            }
            if let Some(hint) = db.hint() {
                message.push_str(&format!(" (hint: {hint})"));
            }
            if let Some(tokio_postgres::error::ErrorPosition::Original(position)) = db.position() {
                message.push_str(&format!(" (at character {position})"));
            }
            let message = self.clean(message);
            let code = db.code();
            return if *code == SqlState::SYNTAX_ERROR
                && db.message().contains("cannot insert multiple commands")
            {
                QueryError::Refused(
                    "execute_sql runs one SQL statement per call, and this text holds several: send them as separate calls."
                        .into(),
                )
            } else if *code == SqlState::READ_ONLY_SQL_TRANSACTION {
                QueryError::Database(format!(
                    "Refused by the database: this server is read-only ({message})."
                ))
            } else if *code == SqlState::QUERY_CANCELED {
                QueryError::Timeout(format!(
                    "The query was cancelled after the {} ms statement timeout ({message}). Narrow it (WHERE, LIMIT, an index) and try again.",
                    self.limits.query_timeout.as_millis()
                ))
            } else if *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
            {
                QueryError::ConnectionLost(format!(
                    "The database connection was lost ({message}). Please try again in a few seconds."
                ))
            } else {
                QueryError::Database(format!("{} {}: {message}", db.severity(), code.code()))
            };
        }
        if Failure::is_pg_connection_error(&error) {
            return QueryError::ConnectionLost(format!(
                "The database connection was lost during the call ({}). Please try again in a few seconds.",
                self.clean(&error)
            ));
        }
        QueryError::Database(self.clean(&error))
    }

    /// Every table's and view's columns, from `information_schema.columns` as the platform reads them.
    pub async fn schemas(&self) -> Result<Schemas, QueryError> {
        let lease = self.begin("BEGIN READ ONLY").await?;
        let rows = self
            .bounded(lease.client().query(
                "SELECT table_schema::text, table_name::text, column_name::text, data_type::text,
                        is_nullable::text = 'YES', column_default::text
                   FROM information_schema.columns
                  WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
                  ORDER BY table_schema, table_name, ordinal_position",
                &[],
            ))
            .await;
        let rows = self.end_call(lease, rows).await?;
        let mut schemas: Schemas = BTreeMap::new();
        for row in rows {
            let key = format!("{}.{}", row.get::<_, String>(0), row.get::<_, String>(1));
            schemas.entry(key).or_default().push(SchemaColumn {
                column: row.get(2),
                type_name: row.get(3),
                nullable: row.get(4),
                default: row.get(5),
            });
        }
        Ok(schemas)
    }

    /// Ends a call on its lease: a connection that broke is closed (and checked), any other is
    /// cleaned and returned to the pool; a failure becomes the caller's error.
    async fn end_call<T>(&self, lease: Lease, result: Result<T, Failure>) -> Result<T, QueryError> {
        match result {
            Ok(value) => {
                self.finish(lease).await;
                Ok(value)
            }
            Err(error) => {
                if error.is_connection_error() {
                    lease.discard();
                    self.suspect();
                } else {
                    self.finish(lease).await;
                }
                Err(self.db_error(error))
            }
        }
    }

    /// One table, view or materialized view: `name` (searched in every non-system schema, the
    /// search path first) or `schema.name`.
    pub async fn table(&self, name: &str) -> Result<TableInfo, QueryError> {
        let lease = self.begin("BEGIN READ ONLY").await?;
        let result = self.table_in(&lease, name).await;
        self.end_call(lease, result).await?
    }

    async fn table_in(
        &self,
        lease: &Lease,
        name: &str,
    ) -> Result<Result<TableInfo, QueryError>, Failure> {
        let client = lease.client();
        let (schema, table) = match name.split_once('.') {
            Some((schema, table)) => (Some(schema), table),
            None => (None, name),
        };
        let candidates = self
            .bounded(client.query(
                "SELECT c.oid, n.nspname::text, c.relname::text,
                        CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view'
                             WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table'
                             WHEN 'p' THEN 'partitioned table' END,
                        CASE WHEN c.reltuples >= 0 THEN c.reltuples::int8
                             ELSE pg_catalog.pg_stat_get_live_tuples(c.oid) END
                   FROM pg_catalog.pg_class c
                   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relname = $1 AND ($2::text IS NULL OR n.nspname = $2)
                    AND c.relkind IN ('r', 'v', 'm', 'f', 'p')
                    AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                    AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
                  ORDER BY pg_catalog.pg_table_is_visible(c.oid) DESC, n.nspname",
                &[&table, &schema],
            ))
            .await?;
        let Some(first) = candidates.first() else {
            return Ok(Err(QueryError::NotFound(format!(
                "No table or view named {name:?}. Read postgres://schemas for the list (names are case-sensitive; use schema.table to pick a schema)."
            ))));
        };
        let oid: u32 = first.get(0);
        let relkind: String = first.get(3);
        let mut info = TableInfo {
            schema: first.get(1),
            table: first.get(2),
            kind: relkind,
            columns: Vec::new(),
            primary_key: Vec::new(),
            indexes: Vec::new(),
            foreign_keys: Vec::new(),
            estimated_row_count: first.get(4),
        };
        let columns = self
            .bounded(client.query(
                "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod),
                        NOT a.attnotnull, pg_catalog.pg_get_expr(d.adbin, d.adrelid)
                   FROM pg_catalog.pg_attribute a
                   LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                  WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
                  ORDER BY a.attnum",
                &[&oid],
            ))
            .await?;
        info.columns = columns
            .iter()
            .map(|row| SchemaColumn {
                column: row.get(0),
                type_name: row.get(1),
                nullable: row.get(2),
                default: row.get(3),
            })
            .collect();
        let indexes = self
            .bounded(client.query(
                "SELECT ic.relname::text, i.indisunique, i.indisprimary,
                        pg_catalog.pg_get_indexdef(i.indexrelid),
                        ARRAY(SELECT a.attname::text
                                FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                                JOIN pg_catalog.pg_attribute a
                                  ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                               ORDER BY k.ord)
                   FROM pg_catalog.pg_index i
                   JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
                  WHERE i.indrelid = $1
                  ORDER BY i.indisprimary DESC, ic.relname",
                &[&oid],
            ))
            .await?;
        for row in &indexes {
            let index = IndexInfo {
                name: row.get(0),
                unique: row.get(1),
                primary: row.get(2),
                definition: row.get(3),
                columns: row.get(4),
            };
            if index.primary {
                info.primary_key = index.columns.clone();
            }
            info.indexes.push(index);
        }
        let foreign_keys = self
            .bounded(client.query(
                "SELECT con.conname::text, fc.relname::text, fn.nspname::text,
                        ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, o)
                                JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n
                               ORDER BY k.o),
                        ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, o)
                                JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n
                               ORDER BY k.o)
                   FROM pg_catalog.pg_constraint con
                   JOIN pg_catalog.pg_class fc ON fc.oid = con.confrelid
                   JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace
                  WHERE con.conrelid = $1 AND con.contype = 'f'
                  ORDER BY con.conname",
                &[&oid],
            ))
            .await?;
        info.foreign_keys = foreign_keys
            .iter()
            .map(|row| ForeignKeyInfo {
                name: row.get(0),
                references_table: format!(
                    "{}.{}",
                    row.get::<_, String>(2),
                    row.get::<_, String>(1)
                ),
                columns: row.get(3),
                references_columns: row.get(4),
            })
            .collect();
        Ok(Ok(info))
    }

    /// Logs the role the server connects as, with a warning when it can act outside a read-only
    /// transaction (a superuser's functions open their own connections and files).
    async fn report_role(&self) {
        let Ok(object) = self.pool.get().await else {
            return;
        };
        let row = self
            .bounded(object.query_one(
                "SELECT current_user::text, rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user",
                &[],
            ))
            .await;
        if let Ok(row) = row {
            let role: String = row.get(0);
            let superuser: bool = row.get(1);
            if superuser {
                tracing::warn!(
                    event_type = "postgres.role.superuser",
                    data.role = role.as_str(),
                    "Connected as the superuser {role}: queries still run read-only, but a superuser's functions (dblink, lo_export, pg_terminate_backend, ...) act outside the transaction. Connect with a role that has only SELECT."
                );
            } else {
                tracing::info!(
                    event_type = "postgres.role",
                    data.role = role.as_str(),
                    "Querying as role {role}"
                );
            }
        }
    }

    /// One check: a connection answers `SELECT 1`; then the pool is topped up to its minimum size.
    async fn check(&self) -> Result<(), String> {
        let object = self.pool.get().await.map_err(|e| self.clean(e))?;
        match self.bounded(object.simple_query("SELECT 1")).await {
            Ok(_) => {}
            Err(Failure::Pg(e)) => return Err(self.clean(e)),
            Err(_) => return Err("the database did not answer SELECT 1 in time".into()),
        }
        drop(object);
        let missing = self.limits.pool_min.saturating_sub(self.pool.status().size);
        if missing > 0 {
            let opened = futures::future::join_all((0..missing).map(|_| self.pool.get())).await;
            drop(opened);
        }
        Ok(())
    }
}

/// Watches the connection: connects with backoff (1 s doubling to 30 s) while the database is
/// unreachable, and re-checks every few seconds; sooner when a call saw a broken connection or
/// found the database down, but never twice within [`MIN_CHECK_GAP`].
async fn monitor(backend: Weak<PgBackend>) {
    let mut delay = Duration::from_secs(1);
    let mut attempt: u32 = 0;
    loop {
        let Some(pg) = backend.upgrade() else { return };
        let checked = tokio::time::Instant::now();
        let wait = match pg.check().await {
            Ok(()) => {
                if pg.set_state(true, None) {
                    tracing::info!(
                        event_type = "connection.established",
                        success = true,
                        data.target = pg.display.as_str(),
                        data.attempts = attempt + 1,
                        "Connected to PostgreSQL at {}",
                        pg.display
                    );
                    pg.report_role().await;
                }
                delay = Duration::from_secs(1);
                attempt = 0;
                CHECK_INTERVAL
            }
            Err(error) => {
                let was_connected = pg.set_state(false, Some(error.clone()));
                if was_connected {
                    tracing::warn!(
                        event_type = "connection.lost",
                        success = false,
                        error = %error,
                        error_type = "ConnectionError",
                        data.target = pg.display.as_str(),
                        "Lost the connection to PostgreSQL; reconnecting"
                    );
                }
                attempt += 1;
                tracing::warn!(
                    event_type = "connection.retry",
                    success = false,
                    error = %error,
                    error_type = "ConnectionError",
                    data.target = pg.display.as_str(),
                    data.attempt = attempt,
                    data.retry_in_s = delay.as_secs_f64(),
                    "PostgreSQL is not reachable; retrying in {:?}, or when a call needs it",
                    delay
                );
                let wait = delay;
                delay = (delay * 2).min(MAX_BACKOFF);
                wait
            }
        };
        let wake = pg.wake.clone();
        drop(pg);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = wake.notified() => tokio::time::sleep_until(checked + MIN_CHECK_GAP).await,
        }
    }
}

/// One pooled connection, used by a single call. Dropped without [`Lease::release`] (the call failed
/// half-way or was cancelled), it closes the connection rather than hand a dirty session to the next
/// call.
struct Lease {
    object: Option<Object>,
}

impl Lease {
    fn client(&self) -> &tokio_postgres::Client {
        self.object
            .as_ref()
            .expect("a lease holds its connection until consumed")
    }

    /// Back to the pool: the session is clean.
    fn release(mut self) {
        self.object.take();
    }

    /// Closes the connection.
    fn discard(mut self) {
        if let Some(object) = self.object.take() {
            drop(Object::take(object));
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(object) = self.object.take() {
            drop(Object::take(object));
        }
    }
}

/// Why a step of a call failed.
enum Failure {
    /// The server (or the driver) reported an error.
    Pg(tokio_postgres::Error),
    /// A round trip took longer than the command timeout: the connection's state is unknown.
    CommandTimeout,
    /// The statement returns no rows, so it was not run.
    NoRows,
}

impl From<tokio_postgres::Error> for Failure {
    fn from(error: tokio_postgres::Error) -> Failure {
        Failure::Pg(error)
    }
}

impl Failure {
    /// Whether the connection itself is gone or unusable (closed, reset, timed out), not the query.
    fn is_connection_error(&self) -> bool {
        match self {
            Failure::Pg(error) => Failure::is_pg_connection_error(error),
            Failure::CommandTimeout => true,
            Failure::NoRows => false,
        }
    }

    fn is_pg_connection_error(error: &tokio_postgres::Error) -> bool {
        if let Some(db) = error.as_db_error() {
            let code = db.code();
            return *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW;
        }
        // Anything that is not a server error is the connection's: closed, an I/O error, a
        // protocol error.
        true
    }
}

/// The texts of one `execute_sql` call.
struct Call<'a> {
    setup: String,
    sql: &'a str,
    declare: String,
    fetch: String,
}

/// What each request of a call's pipeline answered, in the order they were sent.
struct Piped {
    begun: Result<(), Failure>,
    described: Result<Description, Failure>,
    declared: Result<(), Failure>,
    fetched: Result<(Vec<SimpleQueryRow>, bool), Failure>,
    cleaned: Result<(), Failure>,
    /// Milliseconds from the first request to the last row read.
    read_ms: f64,
}

/// The server's description of the caller's statement (step 2): its result columns.
struct Description {
    names: Vec<String>,
    types: Vec<Type>,
}

impl Description {
    /// Parses and describes `sql` as one statement; the prepared statement is closed at once.
    async fn of(
        client: &tokio_postgres::Client,
        sql: &str,
    ) -> Result<Description, tokio_postgres::Error> {
        let statement = client.prepare(sql).await?;
        Ok(Description {
            names: unique_names(statement.columns().iter().map(|c| c.name().to_string())),
            types: statement
                .columns()
                .iter()
                .map(|c| c.type_().clone())
                .collect(),
        })
    }

    fn columns(&self) -> Vec<ColumnInfo> {
        result_columns(
            &self.names,
            self.types.iter().map(|ty| ty.name().to_string()),
        )
    }

    /// The rows as JSON objects, each column converted by its type.
    fn json_rows(&self, rows: Vec<SimpleQueryRow>) -> Vec<Map<String, Value>> {
        rows.iter()
            .map(|row| {
                let mut object = Map::with_capacity(self.names.len());
                for (i, (name, ty)) in self.names.iter().zip(&self.types).enumerate() {
                    let text = row.try_get(i).ok().flatten();
                    object.insert(name.clone(), pgvalue::to_json(ty, text));
                }
                object
            })
            .collect()
    }
}

/// The rows `text` returns through the simple protocol, at most `limit`, and whether there were
/// more (the rest is discarded by the connection as it arrives; a cursor never sends more than
/// `limit + 1`).
async fn read_rows(
    client: &tokio_postgres::Client,
    text: &str,
    limit: usize,
) -> Result<(Vec<SimpleQueryRow>, bool), tokio_postgres::Error> {
    let stream = client.simple_query_raw(text).await?;
    let mut stream = std::pin::pin!(stream);
    let mut rows = Vec::new();
    while let Some(message) = stream.next().await {
        if let SimpleQueryMessage::Row(row) = message? {
            if rows.len() == limit {
                return Ok((rows, true));
            }
            rows.push(row);
        }
    }
    Ok((rows, false))
}
