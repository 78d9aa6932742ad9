//! postgres-mcp's `execute_sql` against the seed's design (the platform's Postgres MCP server on
//! FastMCP + asyncpg, `bench/seed_postgres_server.py`), on a real PostgreSQL: both servers query
//! one scratch database that the run creates and drops, in interleaved rounds like
//! [`compare`](crate::suite::compare), and every answer is checked for the rows it must hold.
//!
//! Besides each server's own CPU per call, the CPU of the PostgreSQL backends serving it is
//! measured (from `/proc`, found in `pg_stat_activity` by the server's `application_name`): a
//! server that saves round trips saves the database's work too.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context as _, bail, ensure};
use serde::{Deserialize, Serialize};
use tokio_postgres::{Client, NoTls};

use crate::{
    client::{CallSpec, HttpEndpoint, StderrTo},
    load::{self, LoadOptions, LoadResult, Stop, Target},
    procinfo::{self, Pid},
    servers::{RunningServer, ServerSpec},
    stats::median,
    suite::{Row, Scenario, interleave},
};

/// postgres-mcp's name in the tables.
pub const POSTGRES_MCP: &str = "postgres-mcp";

/// The seed's server's name in the tables (the baseline of the ratios).
pub const SEED: &str = "seed (FastMCP + asyncpg)";

/// The scratch database's name unless one is given.
pub const DATABASE: &str = "cm_bench_pg";

/// Rows in the scratch database's one table, `items`.
pub const ROWS: usize = 100;

/// The query both servers run: ten rows of an int, a text, a numeric and a timestamptz column
/// (the last two are not JSON types: each server turns them into text its own way).
pub const QUERY: &str = "SELECT id, name, price, created_at FROM items ORDER BY id LIMIT 10";

/// postgres-mcp names its connections this, whatever the DSN says.
const POSTGRES_MCP_APPLICATION: &str = "postgres-mcp";

/// The seed's connections get this name from its DSN (asyncpg passes the DSN's query parameters
/// to the server as settings), so that its backends can be told from postgres-mcp's.
const SEED_APPLICATION: &str = "cm-bench-seed";

/// Checked calls per client before the rounds: they fill both connection pools, so that every
/// backend exists when the measured runs look them up, and prove the answers right.
const PRIME_CALLS: u64 = 20;

/// What every answer must contain: the first and the tenth row's `name` (both servers write JSON
/// objects without spaces; their key order and their text for the non-JSON types differ).
pub fn expected_rows() -> Vec<String> {
    vec![r#""name":"item-001""#.into(), r#""name":"item-010""#.into()]
}

/// The checked `execute_sql` call of [`QUERY`] (both servers name the argument `sql_query`, as the
/// platform's server does).
pub fn execute_sql() -> CallSpec {
    CallSpec::new(
        "execute_sql",
        serde_json::json!({ "sql_query": QUERY }),
        None,
    )
    .expect("the arguments are an object")
    .expecting_contains(expected_rows())
}

/// The error of [`ScratchDatabase::create`] when PostgreSQL cannot be reached at all (as opposed to
/// refusing what the benchmark asks of it).
#[derive(Debug)]
pub struct Unreachable(String);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreachable {}

/// A database of the benchmark's own, with [`ROWS`] rows in `items`, dropped by
/// [`ScratchDatabase::drop`] (or by the next run's [`ScratchDatabase::create`] of the same name).
pub struct ScratchDatabase {
    admin: Client,
    /// The admin DSN, as a URL.
    url: url::Url,
    name: String,
}

impl ScratchDatabase {
    /// Connects with `admin_dsn` (a `postgresql://` URL) and creates database `name` anew, with the
    /// table `items` of `rows` rows. An unreachable server is an error saying so.
    pub async fn create(admin_dsn: &str, name: &str, rows: usize) -> anyhow::Result<Self> {
        let url = url::Url::parse(admin_dsn)
            .ok()
            .filter(|u| matches!(u.scheme(), "postgres" | "postgresql"))
            .with_context(|| {
                format!(
                    "`{}` is not a PostgreSQL URL such as postgresql://postgres@127.0.0.1:5432/postgres",
                    redact(admin_dsn)
                )
            })?;
        // The name goes into SQL and into a URL as it is.
        ensure!(
            !name.is_empty()
                && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "`{name}` is not a plain database name (lower-case letters, digits and `_`)"
        );
        let admin = connect(admin_dsn).await.map_err(|error| {
            anyhow::Error::new(Unreachable(format!(
                "PostgreSQL at {} is not reachable: {error:#}",
                redact(admin_dsn)
            )))
        })?;
        // Separate statements: PostgreSQL runs a multi-statement query in one transaction, where
        // neither may run. FORCE ends what a killed run may have left connected.
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .with_context(|| format!("cannot drop the old scratch database {name}"))?;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .with_context(|| format!("cannot create the scratch database {name}"))?;
        let database = ScratchDatabase {
            admin,
            url,
            name: name.to_string(),
        };
        let filled = async {
            let client = connect(&database.dsn(None)).await?;
            client
                .batch_execute(&format!(
                    "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, \
                     price numeric(10, 2) NOT NULL, created_at timestamptz NOT NULL);
                     INSERT INTO items SELECT i, 'item-' || lpad(i::text, 3, '0'), i * 1.25, \
                     timestamptz '2026-01-01 00:00:00+00' + i * interval '1 hour' \
                     FROM generate_series(1, {rows}) AS i;
                     ANALYZE items;"
                ))
                .await?;
            anyhow::Ok(())
        };
        match filled.await {
            Ok(()) => Ok(database),
            Err(error) => {
                let _ = database.drop().await;
                Err(error.context(format!("cannot fill the scratch database {name}")))
            }
        }
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A URL DSN of this database (the admin DSN's user, password, host and port; its parameters
    /// are for cm-bench's own connection: asyncpg would send a libpq-only one such as
    /// `connect_timeout` to the server as a setting, which refuses it), naming the connections
    /// `application_name` when given.
    pub fn dsn(&self, application_name: Option<&str>) -> String {
        let mut url = self.url.clone();
        url.set_path(&self.name);
        url.set_query(None);
        if let Some(name) = application_name {
            url.query_pairs_mut().append_pair("application_name", name);
        }
        url.to_string()
    }

    /// The process ids of the backends serving connections named `application_name` to this
    /// database right now.
    pub async fn backends(&self, application_name: &str) -> anyhow::Result<Vec<u32>> {
        let rows = self
            .admin
            .query(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 \
                 ORDER BY pid",
                &[&self.name, &application_name],
            )
            .await
            .context("cannot read pg_stat_activity")?;
        Ok(rows
            .iter()
            .map(|row| row.get::<_, i32>(0).unsigned_abs())
            .collect())
    }

    /// Drops the database (ending whatever is still connected to it).
    pub async fn drop(self) -> anyhow::Result<()> {
        self.admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await
            .with_context(|| format!("cannot drop the scratch database {}", self.name))
    }
}

/// Connects, driving the connection in the background; the error carries tokio-postgres's
/// causes (its own message is only "error connecting to server").
async fn connect(dsn: &str) -> anyhow::Result<Client> {
    let (client, connection) = tokio_postgres::connect(dsn, NoTls).await.map_err(|error| {
        let mut reason = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            reason = format!("{reason}: {cause}");
            source = cause.source();
        }
        anyhow::anyhow!(reason)
    })?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// `dsn` without its password, for messages.
fn redact(dsn: &str) -> String {
    match url::Url::parse(dsn) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        Ok(url) => url.to_string(),
        Err(_) => "(an unparsable DSN)".into(),
    }
}

/// One server of this comparison: how to start it, the name its connections carry, and its call
/// (a server whose tool or argument were named differently would get its own).
#[derive(Debug, Clone)]
pub struct PgServer {
    /// How to start it (with `PG_DSN` naming the scratch database).
    pub spec: ServerSpec,
    /// The `application_name` of its connections in `pg_stat_activity`.
    pub application_name: String,
    /// The checked call it repeats.
    pub call: CallSpec,
}

/// postgres-mcp (as shipped: JSON logs at `info`, default pool of at most 5), and the seed's server
/// when a Python with FastMCP and asyncpg and the script are given; both on `database`, writing
/// their logs under `workdir/logs`.
pub fn lineup(
    postgres_mcp: &Path,
    seed: Option<(PathBuf, PathBuf)>,
    database: &ScratchDatabase,
    workdir: &Path,
) -> anyhow::Result<Vec<PgServer>> {
    ensure!(
        postgres_mcp.is_file(),
        "{} does not exist: build it first (cargo build --release -p postgres-mcp)",
        postgres_mcp.display()
    );
    let logs = workdir.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
    let mut servers = vec![PgServer {
        spec: ServerSpec::cm_style(
            POSTGRES_MCP,
            postgres_mcp,
            StderrTo::File(logs.join("postgres-mcp.log")),
        )
        .env("PG_DSN", database.dsn(None)),
        application_name: POSTGRES_MCP_APPLICATION.into(),
        call: execute_sql(),
    }];
    if let Some((python, script)) = seed {
        let script = script.display().to_string();
        servers.push(PgServer {
            spec: ServerSpec {
                name: SEED.into(),
                program: python,
                args: vec![script.clone(), "--port".into(), "{port}".into()],
                stateless_args: vec!["--stateless".into()],
                stdio_args: vec![script, "--stdio".into()],
                stderr: StderrTo::File(logs.join("seed-postgres.log")),
                env: Vec::new(),
            }
            .env("PG_DSN", database.dsn(Some(SEED_APPLICATION))),
            application_name: SEED_APPLICATION.into(),
            call: execute_sql(),
        });
    }
    Ok(servers)
}

/// How the comparison ran.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PostgresSettings {
    /// Rounds; in each, every server runs once (order reversed every other round).
    pub rounds: usize,
    /// Measured seconds per run.
    pub seconds: f64,
    /// Warm-up seconds per run (not measured).
    pub warmup_seconds: f64,
    /// The scenarios (HTTP only).
    pub scenarios: Vec<Scenario>,
    /// The scratch database.
    pub database: String,
    /// Rows in its table.
    pub rows: usize,
    /// The tool.
    pub tool: String,
    /// The query.
    pub query: String,
    /// What every answer had to contain.
    pub expect_contains: Vec<String>,
}

/// One server in one scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PostgresRow {
    /// Medians and runs, as in the main comparison; `server_cpu_us` is the server's own process
    /// (each run's `server_processes` also has the backends).
    pub row: Row,
    /// Median CPU of the PostgreSQL backends serving the server, µs per call (`None` when one of
    /// them could not be read in some run).
    pub postgres_cpu_us: Option<f64>,
    /// Backends serving it in the last round.
    pub backends: usize,
    /// Median calls/s relative to the seed's.
    pub throughput_vs_seed: Option<f64>,
    /// Median p50 relative to the seed's.
    pub p50_vs_seed: Option<f64>,
}

impl PostgresRow {
    /// Medians of `runs`, whose first process is the server and the others its backends.
    pub fn from_runs(server: &str, runs: Vec<LoadResult>, rss_kib: Option<u64>) -> PostgresRow {
        let own: Vec<f64> = runs
            .iter()
            .map(|r| {
                r.server_processes
                    .first()
                    .and_then(|p| p.cpu_us_per_call)
                    .unwrap_or(f64::NAN)
            })
            .collect();
        let postgres: Option<Vec<f64>> = runs
            .iter()
            .map(|r| match r.server_processes.get(1..) {
                Some(backends) if !backends.is_empty() => {
                    backends.iter().map(|p| p.cpu_us_per_call).sum()
                }
                _ => None,
            })
            .collect();
        let backends = runs
            .last()
            .map_or(0, |r| r.server_processes.len().saturating_sub(1));
        let mut row = Row::from_runs(server, runs, rss_kib);
        row.server_cpu_us = median(&own);
        PostgresRow {
            row,
            postgres_cpu_us: postgres.map(|cpu| median(&cpu)),
            backends,
            throughput_vs_seed: None,
            p50_vs_seed: None,
        }
    }
}

/// One scenario's results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PostgresScenario {
    /// The scenario.
    pub scenario: Scenario,
    /// One row per server, in lineup order.
    pub rows: Vec<PostgresRow>,
}

impl PostgresScenario {
    /// The rows with their ratios to the seed's medians (when the seed ran).
    pub fn new(scenario: Scenario, mut rows: Vec<PostgresRow>) -> PostgresScenario {
        let seed = rows
            .iter()
            .find(|r| r.row.server == SEED)
            .map(|r| (r.row.calls_per_s, r.row.p50_ms));
        if let Some((cps, p50)) = seed {
            for row in &mut rows {
                row.throughput_vs_seed = Some(row.row.calls_per_s / cps);
                row.p50_vs_seed = Some(row.row.p50_ms / p50);
            }
        }
        PostgresScenario { scenario, rows }
    }

    /// postgres-mcp's calls/s relative to the seed's, when both ran.
    pub fn speedup(&self) -> Option<f64> {
        self.rows
            .iter()
            .find(|r| r.row.server == POSTGRES_MCP)?
            .throughput_vs_seed
    }
}

/// The comparison's settings and results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PostgresResult {
    /// How it ran.
    pub settings: PostgresSettings,
    /// Every scenario.
    pub scenarios: Vec<PostgresScenario>,
}

/// Runs every scenario: the servers start once per scenario on `database`, answer [`PRIME_CALLS`]
/// checked calls per client (any failure stops the comparison), then run once per round,
/// interleaved; each run measures the server's process and the backends serving it.
pub async fn compare(
    servers: &[PgServer],
    database: &ScratchDatabase,
    settings: &PostgresSettings,
    workdir: &Path,
    protocol_version: &str,
) -> anyhow::Result<Vec<PostgresScenario>> {
    let mut results = Vec::new();
    for scenario in &settings.scenarios {
        if scenario.transport == "stdio" {
            bail!(
                "{}: the PostgreSQL comparison runs over HTTP only (http, http-stateless, http-2026)",
                scenario.name
            );
        }
        eprintln!("== {} ({} rounds)", scenario.name, settings.rounds);
        let protocol_version = scenario.protocol_version(protocol_version);
        let stateless = scenario.transport == "http-stateless";
        let mut running = Vec::new();
        for server in servers {
            running.push(RunningServer::start(
                &server.spec,
                stateless,
                workdir,
                Duration::from_secs(60),
            )?);
        }
        let calls = servers
            .iter()
            .map(|s| scenario.call(&s.call))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let options = |i: usize, stop: Stop, server_pids: Vec<u32>| LoadOptions {
            clients: scenario.clients,
            stop,
            call: calls[i].clone(),
            protocol_version: protocol_version.to_string(),
            timeout: Duration::from_secs(30),
            server_pids,
        };
        for (i, server) in running.iter().enumerate() {
            let target = Target::Http(HttpEndpoint::parse(&server.url())?);
            // Both servers serve before their pool has connected and answer with a tool error
            // meanwhile (as the platform's servers do): on a loaded machine the check is repeated
            // while that is all that fails, for as long as a connection may take. A wrong answer
            // fails at once.
            let connecting = std::time::Instant::now();
            let primed = loop {
                let primed =
                    load::run(&target, &options(i, Stop::Calls(PRIME_CALLS), vec![])).await?;
                let not_ready = primed.errors > 0
                    && primed
                        .error_samples
                        .iter()
                        .all(|e| e.starts_with("tool error:"));
                if !not_ready || connecting.elapsed() > Duration::from_secs(30) {
                    break primed;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            };
            ensure!(
                primed.errors == 0,
                "{}: {} of {} checked calls failed before the rounds; first errors: {:?}",
                servers[i].spec.name,
                primed.errors,
                primed.calls,
                primed.error_samples
            );
        }
        let names: Vec<&str> = servers.iter().map(|s| s.spec.name.as_str()).collect();
        let mut runs = interleave(&scenario.name, &names, settings.rounds, async |i| {
            let server = &running[i];
            // Looked up before every run: a pool may have replaced a connection since.
            let mut pids = vec![server.pid()];
            pids.extend(database.backends(&servers[i].application_name).await?);
            let target = Target::Http(HttpEndpoint::parse(&server.url())?);
            let stop = Stop::Time {
                warmup: Duration::from_secs_f64(settings.warmup_seconds),
                duration: Duration::from_secs_f64(settings.seconds),
            };
            load::run(&target, &options(i, stop, pids)).await
        })
        .await?;
        let rows = servers
            .iter()
            .enumerate()
            .map(|(i, server)| {
                let rss = procinfo::rss_kib(Pid::Other(running[i].pid()));
                PostgresRow::from_runs(&server.spec.name, std::mem::take(&mut runs[i]), rss)
            })
            .collect();
        drop(running);
        let result = PostgresScenario::new(scenario.clone(), rows);
        if let Some(speedup) = result.speedup() {
            eprintln!("   {POSTGRES_MCP} vs the seed: {speedup:.1}× the calls/s");
        }
        results.push(result);
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{load::ProcessUsage, stats::Latency};

    fn run(cps: f64, own: f64, backends: &[Option<f64>]) -> LoadResult {
        let process = |pid, cpu| ProcessUsage {
            pid,
            name: String::new(),
            cpu_us_per_call: cpu,
            rss_kib: None,
            context_switches_per_call: None,
        };
        let mut processes = vec![process(1, Some(own))];
        processes.extend(backends.iter().map(|&cpu| process(2, cpu)));
        LoadResult {
            transport: "http".into(),
            sessions: true,
            clients: 8,
            seconds: 1.0,
            calls: cps as u64,
            errors: 0,
            calls_per_s: cps,
            latency: Latency {
                p50_ms: 8000.0 / cps,
                p90_ms: 1.0,
                p99_ms: 1.0,
                max_ms: 1.0,
                mean_ms: 1.0,
            },
            client_cpu_us_per_call: 10.0,
            server_cpu_us_per_call: None,
            server_rss_kib: None,
            server_processes: processes,
            error_samples: vec![],
        }
    }

    #[test]
    fn the_server_and_its_backends_are_counted_apart_and_compared_with_the_seed() {
        let fast = PostgresRow::from_runs(
            POSTGRES_MCP,
            vec![
                run(4000.0, 100.0, &[Some(20.0), Some(10.0)]),
                run(4400.0, 90.0, &[Some(25.0)]),
                run(3600.0, 110.0, &[Some(30.0), Some(5.0)]),
            ],
            Some(20000),
        );
        assert_eq!(fast.row.server_cpu_us, 100.0, "the server's own process");
        assert_eq!(
            fast.postgres_cpu_us,
            Some(30.0),
            "the backends' sum, median"
        );
        assert_eq!(fast.backends, 2);
        let seed = PostgresRow::from_runs(SEED, vec![run(400.0, 2000.0, &[None])], None);
        assert_eq!(seed.postgres_cpu_us, None, "an unreadable backend: unknown");
        let scenario = PostgresScenario::new(Scenario::parse("http:8").unwrap(), vec![fast, seed]);
        assert_eq!(scenario.speedup(), Some(10.0));
        assert_eq!(scenario.rows[1].throughput_vs_seed, Some(1.0));
        assert_eq!(scenario.rows[0].p50_vs_seed, Some(0.1));
    }

    #[test]
    fn without_the_seed_there_is_no_ratio() {
        let alone = PostgresRow::from_runs(POSTGRES_MCP, vec![run(4000.0, 100.0, &[])], None);
        assert_eq!(
            alone.postgres_cpu_us, None,
            "no backend found: unknown, not 0"
        );
        let scenario = PostgresScenario::new(Scenario::parse("http:8").unwrap(), vec![alone]);
        assert_eq!(scenario.speedup(), None);
    }

    #[test]
    fn the_expected_rows_are_the_first_and_the_tenth() {
        let call = execute_sql();
        assert_eq!(call.arguments["sql_query"], QUERY);
        assert!(QUERY.ends_with("LIMIT 10"));
        assert_eq!(
            call.expect_contains,
            [r#""name":"item-001""#, r#""name":"item-010""#]
        );
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redact("postgresql://u:secret@h:5432/db"),
            "postgresql://u:***@h:5432/db"
        );
        assert_eq!(redact("postgresql://u@h/db"), "postgresql://u@h/db");
        assert!(!redact("host=h password=secret").contains("secret"));
    }
}
