//! The PostgreSQL comparison against a real PostgreSQL (127.0.0.1:5432, user postgres, trust auth):
//! its scratch database, postgres-mcp and the seed's server (bench/seed_postgres_server.py, in a
//! venv of FastMCP and asyncpg made by bench/setup-fastmcp.sh under the target directory) each
//! answering checked `execute_sql` calls through the lineup, one short round. Without PostgreSQL or
//! the venv these tests are skipped, visibly; under CI they fail. Nothing here judges speed.

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicUsize, Ordering},
};

use cm_bench::{
    client::{CallSpec, DEFAULT_PROTOCOL_VERSION},
    postgres::{self, POSTGRES_MCP, PostgresSettings, SEED, ScratchDatabase, Unreachable},
    suite::Scenario,
};
use cm_test_support::{binary_built_alone, service_missing, target_tmpdir};

const ADMIN_DSN: &str = "postgresql://postgres@127.0.0.1:5432/postgres?connect_timeout=5";
const SERVICE: &str = "PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth)";

/// A database name no other test (or test process) uses at the same time.
fn database_name() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "cm_bench_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh scratch database, or `None` (the skip recorded) when PostgreSQL is not reachable.
async fn scratch_or_skip(test: &str) -> Option<ScratchDatabase> {
    match ScratchDatabase::create(ADMIN_DSN, &database_name(), postgres::ROWS).await {
        Ok(database) => Some(database),
        Err(error) if error.downcast_ref::<Unreachable>().is_some() => {
            service_missing(test, SERVICE, format!("{error:#}"));
            None
        }
        Err(error) => panic!("{error:#}"),
    }
}

/// The venv's Python with FastMCP and asyncpg, made by the benchmark's own setup script.
fn seed_python() -> Result<PathBuf, String> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = std::process::Command::new("bash")
        .arg(repo.join("bench/setup-fastmcp.sh"))
        .env("BENCH_VENV", target_tmpdir().join("bench-venv"))
        .output()
        .map_err(|e| format!("cannot run bench/setup-fastmcp.sh: {e}"))?;
    let python = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if !output.status.success() || python.is_empty() {
        return Err(format!(
            "bench/setup-fastmcp.sh made no venv (python3 or its venv module missing?): {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let asyncpg = std::process::Command::new(&python)
        .args(["-c", "import asyncpg"])
        .output()
        .map_err(|e| format!("{python}: {e}"))?;
    if !asyncpg.status.success() {
        return Err(format!(
            "asyncpg does not import: {}",
            String::from_utf8_lossy(&asyncpg.stderr)
        ));
    }
    Ok(python.into())
}

fn settings(database: &ScratchDatabase) -> PostgresSettings {
    PostgresSettings {
        rounds: 1,
        seconds: 0.3,
        warmup_seconds: 0.1,
        scenarios: vec![Scenario::parse("http:3").unwrap()],
        database: database.name().to_string(),
        rows: postgres::ROWS,
        tool: "execute_sql".into(),
        query: postgres::QUERY.into(),
        expect_contains: postgres::expected_rows(),
    }
}

fn workdir() -> PathBuf {
    target_tmpdir().join("cm-bench-postgres")
}

async fn database_exists(database: &str) -> bool {
    let (client, connection) = tokio_postgres::connect(ADMIN_DSN, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let rows = client
        .query("SELECT 1 FROM pg_database WHERE datname = $1", &[&database])
        .await
        .unwrap();
    !rows.is_empty()
}

/// Runs the comparison of postgres-mcp (and the seed, when given) in `database`, then drops it,
/// whatever the comparison's outcome.
async fn compare_and_drop(
    database: ScratchDatabase,
    seed: Option<(PathBuf, PathBuf)>,
) -> Vec<postgres::PostgresScenario> {
    let servers = postgres::lineup(
        &binary_built_alone("postgres-mcp"),
        seed,
        &database,
        &workdir(),
    )
    .unwrap();
    let outcome = postgres::compare(
        &servers,
        &database,
        &settings(&database),
        &workdir(),
        DEFAULT_PROTOCOL_VERSION,
    )
    .await;
    database.drop().await.unwrap();
    outcome.unwrap()
}

#[tokio::test]
async fn postgres_mcp_answers_checked_calls_in_a_scratch_database_the_run_drops() {
    let test = "postgres_mcp_answers_checked_calls_in_a_scratch_database_the_run_drops";
    let Some(database) = scratch_or_skip(test).await else {
        return;
    };
    let name = database.name().to_string();
    let results = compare_and_drop(database, None).await;

    let row = &results[0].rows[0];
    assert_eq!(row.row.server, POSTGRES_MCP);
    let run = &row.row.runs[0];
    assert!(run.calls > 0);
    assert_eq!(run.errors, 0, "{:?}", run.error_samples);
    assert!(row.backends > 0, "its connections are found by name");
    assert!(
        run.server_processes[1..]
            .iter()
            .all(|p| p.name == "postgres"),
        "{:?}",
        run.server_processes
    );
    assert!(row.postgres_cpu_us.is_some());
    assert_eq!(
        results[0].speedup(),
        None,
        "no seed in this lineup, no ratio"
    );
    assert!(!database_exists(&name).await, "{name} is dropped");
}

#[tokio::test]
async fn the_seed_and_postgres_mcp_both_answer_through_the_lineup() {
    let test = "the_seed_and_postgres_mcp_both_answer_through_the_lineup";
    let Some(database) = scratch_or_skip(test).await else {
        return;
    };
    let python = match tokio::task::spawn_blocking(seed_python).await.unwrap() {
        Ok(python) => python,
        Err(why) => {
            database.drop().await.unwrap();
            return service_missing(test, "Python with FastMCP 4.x and asyncpg", why);
        }
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/seed_postgres_server.py");
    let results = compare_and_drop(database, Some((python, script))).await;

    let names: Vec<&str> = results[0]
        .rows
        .iter()
        .map(|r| r.row.server.as_str())
        .collect();
    assert_eq!(names, [POSTGRES_MCP, SEED]);
    for row in &results[0].rows {
        let run = &row.row.runs[0];
        assert!(run.calls > 0, "{}", row.row.server);
        assert_eq!(run.errors, 0, "{}: {:?}", row.row.server, run.error_samples);
        assert!(row.backends > 0, "{}: no backend found", row.row.server);
        assert!(row.throughput_vs_seed.is_some());
    }
    assert!(results[0].speedup().is_some());
}

#[tokio::test]
async fn an_answer_without_the_expected_rows_stops_the_comparison_before_the_rounds() {
    let test = "an_answer_without_the_expected_rows_stops_the_comparison_before_the_rounds";
    let Some(database) = scratch_or_skip(test).await else {
        return;
    };
    let mut servers = postgres::lineup(
        &binary_built_alone("postgres-mcp"),
        None,
        &database,
        &workdir(),
    )
    .unwrap();
    // LIMIT 10 never returns the eleventh row.
    servers[0].call = CallSpec::new(
        "execute_sql",
        serde_json::json!({ "sql_query": postgres::QUERY }),
        None,
    )
    .unwrap()
    .expecting_contains(vec![r#""name":"item-011""#.into()]);
    let outcome = postgres::compare(
        &servers,
        &database,
        &settings(&database),
        &workdir(),
        DEFAULT_PROTOCOL_VERSION,
    )
    .await;
    database.drop().await.unwrap();
    let error = format!("{:#}", outcome.unwrap_err());
    assert!(
        error.contains("checked calls failed before the rounds")
            && error.contains("does not contain")
            && error.contains("item-011"),
        "{error}"
    );
}

#[tokio::test]
async fn an_unreachable_postgres_is_told_apart_from_other_failures() {
    let port = cm_bench::servers::free_port().unwrap();
    let error = ScratchDatabase::create(
        &format!("postgresql://postgres@127.0.0.1:{port}/postgres"),
        "cm_bench_unused",
        1,
    )
    .await
    .err()
    .expect("nothing listens there");
    assert!(error.downcast_ref::<Unreachable>().is_some(), "{error:#}");
    assert!(format!("{error:#}").contains("not reachable"), "{error:#}");

    let error = ScratchDatabase::create("mysql://127.0.0.1/x", "cm_bench_unused", 1)
        .await
        .err()
        .expect("not a PostgreSQL URL");
    assert!(error.downcast_ref::<Unreachable>().is_none());
    let error = ScratchDatabase::create(ADMIN_DSN, "Robert'); DROP TABLE x;--", 1)
        .await
        .err()
        .expect("not a plain name");
    assert!(
        format!("{error:#}").contains("not a plain database name"),
        "{error:#}"
    );
}
