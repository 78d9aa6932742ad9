//! `cm-bench`: load-test any MCP server, and run the comparison behind BENCHMARKS.md.
//!
//! ```text
//! cm-bench load --url http://127.0.0.1:8080/mcp --clients 8 --duration 10
//! cm-bench load --stdio --clients 1 -- ./target/release/my-service --stdio
//! cm-bench smoke                      # a few hundred checked calls to my-service; CI runs this
//! cm-bench compare | cold-start | memory | build-time | postgres | report   # the suite (bench/run.sh)
//! ```

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use cm_bench::{
    client::{CallSpec, DEFAULT_PROTOCOL_VERSION, HttpEndpoint, StderrTo},
    load::{self, LoadOptions, Stop, Target},
    postgres::{self, PostgresResult, PostgresSettings, ScratchDatabase},
    report,
    suite::{self, CompareSettings, Lineup, Machine, Results, Scenario},
};

#[derive(Debug, Parser)]
#[command(
    name = "cm-bench",
    version,
    about = "Load generator and comparison suite for MCP servers"
)]
struct Cli {
    /// Worker threads of the load generator (1 = a single-threaded runtime, the lightest client).
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Load one server: N clients repeating one tool call; prints a table, or JSON with --json.
    Load(LoadArgs),
    /// A few hundred calls to my-service over HTTP (sessions, stateless) and stdio, each checked;
    /// exits non-zero on any error. Judges no timing.
    Smoke(SmokeArgs),
    /// Interleaved comparison of cm-mcp (logs on and off), bare rmcp, the limit server and FastMCP.
    Compare(CompareArgs),
    /// Spawn → first /health 200, per server.
    ColdStart(ColdStartArgs),
    /// Idle RSS and RSS with many open sessions, per server.
    Memory(MemoryArgs),
    /// Build time of a generated crate with many #[cm_tool] functions.
    BuildTime(BuildTimeArgs),
    /// postgres-mcp's execute_sql against the seed's design (FastMCP + asyncpg) on a real PostgreSQL,
    /// interleaved, in a scratch database created and dropped by the run.
    Postgres(PostgresArgs),
    /// Renders the results file as Markdown (into a file's results block) and as an SVG chart.
    Report(ReportArgs),
}

#[derive(Debug, Args)]
struct CallArgs {
    /// The tool to call.
    #[arg(long, default_value = "my_tool")]
    tool: String,
    /// Its arguments, a JSON object.
    #[arg(long = "args", default_value = r#"{"input_param":"hello"}"#)]
    arguments: String,
    /// Count a call as an error unless its text result is exactly this.
    #[arg(long)]
    expect_text: Option<String>,
    /// Count a call as an error unless its text result contains this (repeat it: every one must).
    #[arg(long)]
    expect_contains: Vec<String>,
    /// Protocol version asked for in initialize; 2026-07-28 sends every request on its own instead
    /// (no initialize, no session; its headers and `_meta` on each request; HTTP only).
    #[arg(long, default_value = DEFAULT_PROTOCOL_VERSION)]
    protocol_version: String,
    /// Seconds before a request counts as failed.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
}

impl CallArgs {
    fn spec(&self) -> anyhow::Result<CallSpec> {
        let arguments = serde_json::from_str(&self.arguments)
            .with_context(|| format!("--args `{}` is not JSON", self.arguments))?;
        Ok(
            CallSpec::new(self.tool.clone(), arguments, self.expect_text.clone())?
                .expecting_contains(self.expect_contains.clone()),
        )
    }
}

#[derive(Debug, Args)]
struct LoadArgs {
    /// The server's streamable HTTP endpoint, e.g. http://127.0.0.1:8080/mcp.
    #[arg(long, conflicts_with = "stdio", required_unless_present = "stdio")]
    url: Option<String>,
    /// Start the command after `--` and speak MCP over its stdin/stdout.
    #[arg(long)]
    stdio: bool,
    /// The stdio server's command and arguments.
    #[arg(last = true)]
    command: Vec<String>,
    /// Where the stdio server's stderr goes: `null`, `inherit`, or a file path.
    #[arg(long, default_value = "null")]
    server_stderr: String,
    /// Concurrent clients (HTTP: a connection and session each; stdio: requests in flight).
    #[arg(long, short = 'c', default_value_t = 8)]
    clients: usize,
    /// Measured seconds.
    #[arg(long, short = 'd', default_value_t = 10.0)]
    duration: f64,
    /// Seconds of calls before measuring.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Instead of a duration: this many calls per client, all measured.
    #[arg(long)]
    calls: Option<u64>,
    /// The HTTP server's process id, to report its CPU per call and memory. Repeat it (or give
    /// a comma-separated list) for a server made of several processes, e.g. replicas, the proxy in
    /// front of them and their Redis: each one's share is reported, and the sum.
    #[arg(long = "server-pid", value_delimiter = ',')]
    server_pids: Vec<u32>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    call: CallArgs,
}

#[derive(Debug, Args)]
struct SmokeArgs {
    /// The my-service binary (default: next to this one).
    #[arg(long)]
    my_service: Option<PathBuf>,
    /// Calls per client (4 clients per transport).
    #[arg(long, default_value_t = 50)]
    calls: u64,
}

#[derive(Debug, Args)]
struct LineupArgs {
    /// The my-service binary (default: next to this one).
    #[arg(long)]
    my_service: Option<PathBuf>,
    /// The bare rmcp server (default: bare-rmcp next to this one).
    #[arg(long)]
    bare: Option<PathBuf>,
    /// The limit server, axum + serde_json without MCP machinery (default: limit-server next to
    /// this one).
    #[arg(long)]
    limit: Option<PathBuf>,
    /// A Python with FastMCP 4.x (bench/setup-fastmcp.sh prints one); FastMCP is skipped without it.
    #[arg(long)]
    python: Option<PathBuf>,
    /// A my-service built from a changed runtime, compared as "cm-mcp + patch" (JSON logs on).
    #[arg(long)]
    candidate: Option<PathBuf>,
    /// The FastMCP server script.
    #[arg(long, default_value = "bench/fastmcp_server.py")]
    fastmcp_script: PathBuf,
    /// Only these servers (comma-separated names: cm-mcp, "cm-mcp (logs off)", "bare rmcp",
    /// "limit (axum + serde_json)", FastMCP).
    #[arg(long, value_delimiter = ',')]
    servers: Vec<String>,
    /// Scratch directory for server logs and generated crates (git-ignored).
    #[arg(long, default_value = ".bench")]
    workdir: PathBuf,
    /// The results file each suite command adds its part to.
    #[arg(long, default_value = "bench/results.json")]
    results: PathBuf,
}

impl LineupArgs {
    fn lineup(&self) -> anyhow::Result<Lineup> {
        let fastmcp = python_server(
            self.python.as_deref(),
            &self.fastmcp_script,
            "--fastmcp-script",
        )?;
        let workdir = absolute(&self.workdir)?;
        Lineup::new(
            &sibling(self.my_service.as_deref(), "my-service")?,
            &sibling(self.bare.as_deref(), "bare-rmcp")?,
            &sibling(self.limit.as_deref(), "limit-server")?,
            fastmcp,
            self.candidate.as_deref(),
            &workdir,
        )?
        .only(&self.servers)
    }

    fn update(&self, change: impl FnOnce(&mut Results)) -> anyhow::Result<()> {
        update(&self.results, change)
    }
}

/// Adds a part to the results file `path`.
fn update(path: &Path, change: impl FnOnce(&mut Results)) -> anyhow::Result<()> {
    let mut results = Results::load(path)?;
    if results.machine.cpu.is_empty() {
        results.machine = Machine::describe();
    }
    change(&mut results);
    results.machine.load_after = suite::load_average();
    results.save(path)?;
    eprintln!("results written to {}", path.display());
    Ok(())
}

#[derive(Debug, Args)]
struct CompareArgs {
    #[command(flatten)]
    lineup: LineupArgs,
    /// Rounds (each server runs once per round).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Measured seconds per run.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Warm-up seconds per run.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Scenarios, TRANSPORT:CLIENTS[:TOOL] with TRANSPORT http, http-stateless, http-2026
    /// (protocol 2026-07-28: no initialize, no session) or stdio; TOOL, when given, is called
    /// instead of --tool with the same arguments (e.g. stdio:8:my_tool_quiet).
    #[arg(
        long = "scenario",
        value_delimiter = ',',
        default_value = "http:1,http:8,http-stateless:8,http-2026:8,stdio:1,stdio:8"
    )]
    scenarios: Vec<String>,
    #[command(flatten)]
    call: CallArgs,
}

#[derive(Debug, Args)]
struct ColdStartArgs {
    #[command(flatten)]
    lineup: LineupArgs,
    /// Starts per server.
    #[arg(long, default_value_t = 20)]
    runs: usize,
}

#[derive(Debug, Args)]
struct MemoryArgs {
    #[command(flatten)]
    lineup: LineupArgs,
    /// Sessions to open.
    #[arg(long, default_value_t = 1000)]
    sessions: usize,
    /// Calls made in each session before the measurement (what a session keeps after its calls
    /// counts too).
    #[arg(long, default_value_t = 1)]
    calls_per_session: usize,
    #[command(flatten)]
    call: CallArgs,
}

#[derive(Debug, Args)]
struct BuildTimeArgs {
    /// Functions in the generated crate.
    #[arg(long, default_value_t = 200)]
    functions: usize,
    /// Repetitions per measurement.
    #[arg(long, default_value_t = 3)]
    repetitions: usize,
    /// The cm-mcp repository (its root Cargo.toml is the facade crate).
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// Where the generated crates and their target directory go (git-ignored).
    #[arg(long, default_value = ".bench/build-time")]
    dir: PathBuf,
    /// The results file to add to.
    #[arg(long, default_value = "bench/results.json")]
    results: PathBuf,
}

#[derive(Debug, Args)]
struct PostgresArgs {
    /// The postgres-mcp binary (default: next to this one).
    #[arg(long)]
    postgres_mcp: Option<PathBuf>,
    /// A Python with FastMCP 4.x and asyncpg (bench/setup-fastmcp.sh prints one); without it
    /// postgres-mcp runs alone.
    #[arg(long)]
    python: Option<PathBuf>,
    /// The seed's server script.
    #[arg(long, default_value = "bench/seed_postgres_server.py")]
    seed_script: PathBuf,
    /// The PostgreSQL to use, as a URL whose user may create and drop databases.
    #[arg(long, default_value = "postgresql://postgres@127.0.0.1:5432/postgres")]
    dsn: String,
    /// The scratch database, created (dropped first if it exists) and dropped by the run.
    #[arg(long, default_value = postgres::DATABASE)]
    database: String,
    /// When PostgreSQL cannot be reached, say so and exit 0 instead of failing.
    #[arg(long)]
    skip_unreachable: bool,
    /// Rounds (each server runs once per round).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Measured seconds per run.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Warm-up seconds per run.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Scenarios, TRANSPORT:CLIENTS with TRANSPORT http, http-stateless or http-2026.
    #[arg(long = "scenario", value_delimiter = ',', default_value = "http:8")]
    scenarios: Vec<String>,
    /// Scratch directory for server logs (git-ignored).
    #[arg(long, default_value = ".bench")]
    workdir: PathBuf,
    /// The results file to add to.
    #[arg(long, default_value = "bench/results.json")]
    results: PathBuf,
}

#[derive(Debug, Args)]
struct ReportArgs {
    /// The results file.
    #[arg(long, default_value = "bench/results.json")]
    results: PathBuf,
    /// Where the chart goes.
    #[arg(long, default_value = "bench/chart.svg")]
    chart: PathBuf,
    /// A Markdown file whose `<!-- results -->` … `<!-- /results -->` block gets the tables.
    #[arg(long)]
    update: Option<PathBuf>,
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("bad path {}", path.display()))
}

/// `given`, or the binary `name` next to this executable (the same target directory).
/// A Python server of the lineup: the interpreter and its script, both absolute, when a Python was
/// given; `flag` is the option that names the script, for the error when it is missing.
fn python_server(
    python: Option<&Path>,
    script: &Path,
    flag: &str,
) -> anyhow::Result<Option<(PathBuf, PathBuf)>> {
    let Some(python) = python else {
        return Ok(None);
    };
    anyhow::ensure!(
        script.is_file(),
        "{} does not exist; run from the repository root or pass {flag}",
        script.display()
    );
    Ok(Some((absolute(python)?, absolute(script)?)))
}

fn sibling(given: Option<&Path>, name: &str) -> anyhow::Result<PathBuf> {
    match given {
        Some(path) => absolute(path),
        None => Ok(std::env::current_exe()
            .context("cannot locate cm-bench's own executable")?
            .with_file_name(name)),
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = if cli.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cli.threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(run(cli.command))
}

async fn run(command: Cmd) -> anyhow::Result<()> {
    match command {
        Cmd::Load(args) => {
            let target = match &args.url {
                Some(url) => Target::Http(HttpEndpoint::parse(url)?),
                None => {
                    anyhow::ensure!(
                        !args.command.is_empty(),
                        "--stdio needs the server's command after `--`, e.g. cm-bench load --stdio -- ./my-service --stdio"
                    );
                    Target::Stdio {
                        command: args.command.clone(),
                        stderr: match args.server_stderr.as_str() {
                            "null" => StderrTo::Null,
                            "inherit" => StderrTo::Inherit,
                            path => StderrTo::File(path.into()),
                        },
                        isolate_in: None,
                    }
                }
            };
            let options = LoadOptions {
                clients: args.clients,
                stop: match args.calls {
                    Some(n) => Stop::Calls(n),
                    None => Stop::Time {
                        warmup: Duration::from_secs_f64(args.warmup),
                        duration: Duration::from_secs_f64(args.duration),
                    },
                },
                call: args.call.spec()?,
                protocol_version: args.call.protocol_version.clone(),
                timeout: Duration::from_secs_f64(args.call.timeout),
                server_pids: args.server_pids.clone(),
            };
            let result = load::run(&target, &options).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                let label = args.url.clone().unwrap_or_else(|| args.command.join(" "));
                print!("{}", report::load_table(&label, &result));
            }
            Ok(())
        }
        Cmd::Smoke(args) => {
            let my_service = sibling(args.my_service.as_deref(), "my-service")?;
            let workdir =
                std::env::temp_dir().join(format!("cm-bench-smoke-{}", std::process::id()));
            let outcome = suite::smoke(&my_service, &workdir, args.calls).await;
            let _ = std::fs::remove_dir_all(&workdir);
            let smoke = outcome?;
            for r in &smoke.results {
                println!(
                    "smoke: {} ({}): {} calls, {} errors",
                    r.transport,
                    if r.sessions { "sessions" } else { "stateless" },
                    r.calls,
                    r.errors
                );
            }
            println!("smoke: ok");
            Ok(())
        }
        Cmd::Compare(args) => {
            let lineup = args.lineup.lineup()?;
            let scenarios = args
                .scenarios
                .iter()
                .map(|s| Scenario::parse(s))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let call = args.call.spec()?;
            let settings = CompareSettings {
                rounds: args.rounds,
                seconds: args.duration,
                warmup_seconds: args.warmup,
                scenarios,
                tool: call.tool.clone(),
                arguments: call.arguments.clone(),
            };
            let machine = Machine::describe();
            eprintln!("load average before: {}", machine.load_before);
            let compare =
                suite::compare(&lineup, &settings, &call, &args.call.protocol_version).await?;
            args.lineup.update(|r| {
                r.machine = machine;
                r.settings = Some(settings);
                r.compare = compare;
            })
        }
        Cmd::ColdStart(args) => {
            let lineup = args.lineup.lineup()?;
            let cold = suite::cold_start(&lineup, args.runs)?;
            args.lineup.update(|r| r.cold_start = cold)
        }
        Cmd::Memory(args) => {
            let lineup = args.lineup.lineup()?;
            let call = args.call.spec()?;
            let memory = suite::memory(
                &lineup,
                args.sessions,
                args.calls_per_session,
                &call,
                &args.call.protocol_version,
            )
            .await?;
            args.lineup.update(|r| r.memory = memory)
        }
        Cmd::BuildTime(args) => {
            let repo = absolute(&args.repo)?;
            anyhow::ensure!(
                repo.join("Cargo.toml").is_file() && repo.join("mcp-runtime").is_dir(),
                "{} is not the cm-mcp repository; pass --repo",
                repo.display()
            );
            let build = suite::build_time(
                &repo,
                &absolute(&args.dir)?,
                args.functions,
                args.repetitions,
            )?;
            let mut results = Results::load(&args.results)?;
            if results.machine.cpu.is_empty() {
                results.machine = Machine::describe();
            }
            results.build = build;
            results.save(&args.results)
        }
        Cmd::Postgres(args) => {
            let scenarios = args
                .scenarios
                .iter()
                .map(|s| Scenario::parse(s))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let seed = python_server(args.python.as_deref(), &args.seed_script, "--seed-script")?;
            let postgres_mcp = sibling(args.postgres_mcp.as_deref(), "postgres-mcp")?;
            let workdir = absolute(&args.workdir)?;
            let database =
                match ScratchDatabase::create(&args.dsn, &args.database, postgres::ROWS).await {
                    Ok(database) => database,
                    Err(error)
                        if args.skip_unreachable
                            && error.downcast_ref::<postgres::Unreachable>().is_some() =>
                    {
                        println!("postgres: skipped: {error:#}");
                        return Ok(());
                    }
                    Err(error) => return Err(error),
                };
            let call = postgres::execute_sql();
            let settings = PostgresSettings {
                rounds: args.rounds,
                seconds: args.duration,
                warmup_seconds: args.warmup,
                scenarios,
                database: database.name().to_string(),
                rows: postgres::ROWS,
                tool: call.tool.clone(),
                query: postgres::QUERY.into(),
                expect_contains: call.expect_contains.clone(),
            };
            // The database is dropped whether the comparison worked or not.
            let outcome = async {
                let servers = postgres::lineup(&postgres_mcp, seed, &database, &workdir)?;
                postgres::compare(
                    &servers,
                    &database,
                    &settings,
                    &workdir,
                    DEFAULT_PROTOCOL_VERSION,
                )
                .await
            }
            .await;
            let dropped = database.drop().await;
            let scenarios = outcome?;
            dropped?;
            update(&args.results, |r| {
                r.postgres = Some(PostgresResult {
                    settings,
                    scenarios,
                })
            })
        }
        Cmd::Report(args) => {
            let results = Results::load(&args.results)?;
            let md = report::markdown(&results);
            if !results.compare.is_empty() {
                report::chart(&results, &args.chart)?;
                eprintln!("chart written to {}", args.chart.display());
            }
            match &args.update {
                Some(file) => {
                    report::splice(file, &md)?;
                    eprintln!("results block of {} updated", file.display());
                }
                None => print!("{md}"),
            }
            Ok(())
        }
    }
}
