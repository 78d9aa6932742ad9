//! The comparison suite: interleaved load runs of several servers, cold start, memory, build time,
//! and the smoke check.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail, ensure};
use serde::{Deserialize, Serialize};

use crate::{
    client::{CallSpec, HttpClient, HttpEndpoint, PROTOCOL_2026, StderrTo},
    load::{self, LoadOptions, LoadResult, Stop, Target},
    procinfo::{self, Pid},
    servers::{RunningServer, ServerSpec},
    stats::median,
};

/// The name the bare rmcp server has in every table (the baseline of the ratios).
pub const BARE: &str = "bare rmcp";

/// The name of the ceiling (`limit-server`: axum + serde_json, no MCP machinery), the other
/// baseline of the ratios.
pub const LIMIT: &str = "limit (axum + serde_json)";

/// The name of a `my-service` built from a changed runtime (`--candidate`), JSON logs on.
pub const CANDIDATE: &str = "cm-mcp + patch";

/// The servers the suite knows how to start.
#[derive(Debug, Clone)]
pub struct Lineup {
    /// Every server, in table order.
    pub servers: Vec<ServerSpec>,
    /// Where servers run and write their logs (a git-ignored scratch directory).
    pub workdir: PathBuf,
}

impl Lineup {
    /// cm-mcp's `my-service` with JSON logs on and off, the bare rmcp server, the limit server,
    /// FastMCP when a Python with it is given, and a `my-service` built from a changed runtime when
    /// one is given.
    pub fn new(
        my_service: &Path,
        bare: &Path,
        limit: &Path,
        fastmcp: Option<(PathBuf, PathBuf)>,
        candidate: Option<&Path>,
        workdir: &Path,
    ) -> anyhow::Result<Lineup> {
        for program in [my_service, bare, limit] {
            ensure!(
                program.is_file(),
                "{} does not exist: build it first (cargo build --release -p my-service -p cm-bench)",
                program.display()
            );
        }
        let logs = workdir.join("logs");
        std::fs::create_dir_all(&logs)
            .with_context(|| format!("cannot create {}", logs.display()))?;
        let mut servers = vec![
            ServerSpec::cm_style(
                "cm-mcp",
                my_service,
                StderrTo::File(logs.join("cm-mcp.log")),
            )
            .log_level("info"),
            ServerSpec::cm_style(
                "cm-mcp (logs off)",
                my_service,
                StderrTo::File(logs.join("cm-mcp-logs-off.log")),
            )
            .log_level("error"),
            ServerSpec::cm_style(BARE, bare, StderrTo::File(logs.join("bare-rmcp.log"))),
            ServerSpec::cm_style(LIMIT, limit, StderrTo::File(logs.join("limit-server.log"))),
        ];
        if let Some(candidate) = candidate {
            ensure!(
                candidate.is_file(),
                "{} does not exist",
                candidate.display()
            );
            servers.insert(
                1,
                ServerSpec::cm_style(
                    CANDIDATE,
                    candidate,
                    StderrTo::File(logs.join("cm-mcp-candidate.log")),
                )
                .log_level("info"),
            );
        }
        if let Some((python, script)) = fastmcp {
            let script = script.display().to_string();
            servers.push(ServerSpec {
                name: "FastMCP".into(),
                program: python,
                args: vec![script.clone(), "--port".into(), "{port}".into()],
                stateless_args: vec!["--stateless".into()],
                stdio_args: vec![script, "--stdio".into()],
                stderr: StderrTo::File(logs.join("fastmcp.log")),
                env: Vec::new(),
            });
        }
        Ok(Lineup {
            servers,
            workdir: workdir.to_path_buf(),
        })
    }

    /// Only the servers whose names are listed (all when the list is empty).
    pub fn only(mut self, names: &[String]) -> anyhow::Result<Lineup> {
        if names.is_empty() {
            return Ok(self);
        }
        for name in names {
            ensure!(
                self.servers.iter().any(|s| &s.name == name),
                "no server named `{name}`; the lineup has: {}",
                self.servers
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        self.servers.retain(|s| names.contains(&s.name));
        Ok(self)
    }
}

/// One comparison: a transport and a number of clients.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Scenario {
    /// Label in tables and the chart.
    pub name: String,
    /// `http`, `http-stateless`, `http-2026` or `stdio`.
    pub transport: String,
    /// Concurrent clients (stdio: requests in flight).
    pub clients: usize,
    /// The tool called instead of the comparison's own (same arguments and expected text), e.g. a
    /// variant that sends no log message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
}

impl Scenario {
    /// Parses `http:8`, `http-stateless:8`, `http-2026:8`, `stdio:1`, and with another tool than
    /// the comparison's, `stdio:8:my_tool_quiet`.
    pub fn parse(text: &str) -> anyhow::Result<Scenario> {
        let (transport, rest) = text.split_once(':').with_context(|| {
            format!("`{text}`: write a scenario as TRANSPORT:CLIENTS[:TOOL], e.g. http:8")
        })?;
        let (clients, tool) = match rest.split_once(':') {
            Some((clients, tool)) if !tool.is_empty() => (clients, Some(tool.to_string())),
            Some(_) => bail!("`{text}`: the tool after the second `:` is empty"),
            None => (rest, None),
        };
        let clients: usize = clients
            .parse()
            .ok()
            .filter(|&c| c > 0)
            .with_context(|| format!("`{text}`: the client count must be a positive number"))?;
        let name = match transport {
            "http" => format!("HTTP, {clients} client{}", plural(clients)),
            "http-stateless" => format!("HTTP stateless, {clients} client{}", plural(clients)),
            "http-2026" => format!("HTTP {PROTOCOL_2026}, {clients} client{}", plural(clients)),
            "stdio" => format!("stdio, {clients} in flight"),
            other => {
                bail!("`{other}` is not a transport: use http, http-stateless, http-2026 or stdio")
            }
        };
        let name = match &tool {
            Some(tool) => format!("{name}, {tool}"),
            None => name,
        };
        Ok(Scenario {
            name,
            transport: transport.to_string(),
            clients,
            tool,
        })
    }

    /// The call this scenario repeats: `call`, or the same arguments to its own tool.
    pub fn call(&self, call: &CallSpec) -> anyhow::Result<CallSpec> {
        match &self.tool {
            Some(tool) => Ok(CallSpec::new(
                tool.clone(),
                call.arguments.clone(),
                call.expect_text.clone(),
            )?
            .expecting_contains(call.expect_contains.clone())),
            None => Ok(call.clone()),
        }
    }

    /// The protocol version the clients speak: protocol 2026-07-28 for `http-2026` (no
    /// `initialize`, no session, every request on its own), otherwise `default`.
    pub fn protocol_version<'a>(&self, default: &'a str) -> &'a str {
        if self.transport == "http-2026" {
            PROTOCOL_2026
        } else {
            default
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// How the comparison runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompareSettings {
    /// Rounds; in each, every server runs once (order reversed every other round).
    pub rounds: usize,
    /// Measured seconds per run.
    pub seconds: f64,
    /// Warm-up seconds per run (not measured).
    pub warmup_seconds: f64,
    /// The scenarios.
    pub scenarios: Vec<Scenario>,
    /// The tool and arguments.
    pub tool: String,
    /// The arguments as JSON.
    pub arguments: serde_json::Value,
}

/// One server in one scenario: all its runs and their medians.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    /// The server.
    pub server: String,
    /// Median calls/s over the rounds.
    pub calls_per_s: f64,
    /// Lowest and highest calls/s.
    pub calls_per_s_range: (f64, f64),
    /// Median of the runs' p50 latency, ms.
    pub p50_ms: f64,
    /// Median of the runs' p90 latency, ms.
    pub p90_ms: f64,
    /// Median of the runs' p99 latency, ms.
    pub p99_ms: f64,
    /// Median server CPU per call, µs.
    pub server_cpu_us: f64,
    /// Median load-generator CPU per call, µs.
    pub client_cpu_us: f64,
    /// Errors over all runs.
    pub errors: u64,
    /// Median calls/s relative to the bare rmcp server's.
    pub throughput_vs_bare: Option<f64>,
    /// Median p50 relative to the bare rmcp server's.
    pub p50_vs_bare: Option<f64>,
    /// Median calls/s relative to the limit server's (absent in results from before it).
    #[serde(default)]
    pub throughput_vs_limit: Option<f64>,
    /// Median p50 relative to the limit server's.
    #[serde(default)]
    pub p50_vs_limit: Option<f64>,
    /// Server RSS after the scenario, KiB (HTTP: after all rounds; stdio: end of the last run).
    pub rss_kib: Option<u64>,
    /// Every run.
    pub runs: Vec<LoadResult>,
}

impl Row {
    /// Medians of `runs`; the ratios to the baselines are filled in by [`ScenarioResult::new`].
    pub fn from_runs(server: &str, runs: Vec<LoadResult>, rss_kib: Option<u64>) -> Row {
        let pick = |f: &dyn Fn(&LoadResult) -> f64| -> Vec<f64> { runs.iter().map(f).collect() };
        let cps = pick(&|r| r.calls_per_s);
        Row {
            server: server.to_string(),
            calls_per_s: median(&cps),
            calls_per_s_range: (
                cps.iter().copied().fold(f64::INFINITY, f64::min),
                cps.iter().copied().fold(0.0, f64::max),
            ),
            p50_ms: median(&pick(&|r| r.latency.p50_ms)),
            p90_ms: median(&pick(&|r| r.latency.p90_ms)),
            p99_ms: median(&pick(&|r| r.latency.p99_ms)),
            server_cpu_us: median(&pick(&|r| r.server_cpu_us_per_call.unwrap_or(f64::NAN))),
            client_cpu_us: median(&pick(&|r| r.client_cpu_us_per_call)),
            errors: runs.iter().map(|r| r.errors).sum(),
            throughput_vs_bare: None,
            p50_vs_bare: None,
            throughput_vs_limit: None,
            p50_vs_limit: None,
            rss_kib,
            runs,
        }
    }
}

/// One scenario's results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// The scenario.
    pub scenario: Scenario,
    /// One row per server, in lineup order.
    pub rows: Vec<Row>,
}

impl ScenarioResult {
    /// The rows with their ratios to the bare rmcp server's and the limit server's medians (to
    /// those among them).
    pub fn new(scenario: Scenario, mut rows: Vec<Row>) -> ScenarioResult {
        let medians = |name: &str| {
            rows.iter()
                .find(|r| r.server == name)
                .map(|r| (r.calls_per_s, r.p50_ms))
        };
        let (bare, limit) = (medians(BARE), medians(LIMIT));
        for row in &mut rows {
            if let Some((cps, p50)) = bare {
                row.throughput_vs_bare = Some(row.calls_per_s / cps);
                row.p50_vs_bare = Some(row.p50_ms / p50);
            }
            if let Some((cps, p50)) = limit {
                row.throughput_vs_limit = Some(row.calls_per_s / cps);
                row.p50_vs_limit = Some(row.p50_ms / p50);
            }
        }
        ScenarioResult { scenario, rows }
    }
}

/// The machine and its load while the suite ran.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Machine {
    /// CPU model.
    pub cpu: String,
    /// Logical CPUs.
    pub cpus: usize,
    /// Total memory, MiB.
    pub memory_mib: u64,
    /// `uname -r`.
    pub kernel: String,
    /// `rustc --version`.
    pub rustc: String,
    /// `/proc/loadavg` before the suite.
    pub load_before: String,
    /// `/proc/loadavg` after the suite.
    pub load_after: String,
    /// When the suite ran (UTC, `date -u`).
    pub date: String,
}

impl Machine {
    /// What this machine is and how busy it is now.
    pub fn describe() -> Machine {
        let lscpu = run_text("lscpu", &[]);
        let field = |key: &str| {
            lscpu
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim_start_matches(':').trim().to_string())
                .unwrap_or_default()
        };
        let memory_mib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .map_or(0, |kib| kib / 1024);
        Machine {
            cpu: field("Model name"),
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory_mib,
            kernel: run_text("uname", &["-r"]).trim().to_string(),
            rustc: run_text("rustc", &["--version"]).trim().to_string(),
            load_before: load_average(),
            load_after: String::new(),
            date: run_text("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
                .trim()
                .to_string(),
        }
    }
}

/// `/proc/loadavg`'s three averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn run_text(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default()
}

/// Runs every scenario, each server once per round, interleaved.
pub async fn compare(
    lineup: &Lineup,
    settings: &CompareSettings,
    call: &CallSpec,
    protocol_version: &str,
) -> anyhow::Result<Vec<ScenarioResult>> {
    let mut results = Vec::new();
    for scenario in &settings.scenarios {
        eprintln!("== {} ({} rounds)", scenario.name, settings.rounds);
        let protocol_version = scenario.protocol_version(protocol_version);
        let call = scenario.call(call)?;
        results.push(run_scenario(lineup, settings, scenario, &call, protocol_version).await?);
    }
    Ok(results)
}

async fn run_scenario(
    lineup: &Lineup,
    settings: &CompareSettings,
    scenario: &Scenario,
    call: &CallSpec,
    protocol_version: &str,
) -> anyhow::Result<ScenarioResult> {
    // 2026-07-28 requests are served statelessly whatever the mode: the servers run as shipped
    // (sessions on for the clients of older revisions), as a deployment serving both would.
    let stateless = scenario.transport == "http-stateless";
    let http = scenario.transport != "stdio";
    // HTTP servers start once per scenario and serve all its rounds.
    let mut running = Vec::new();
    if http {
        for spec in &lineup.servers {
            running.push(Some(RunningServer::start(
                spec,
                stateless,
                &lineup.workdir,
                Duration::from_secs(60),
            )?));
        }
    }
    let options = |server_pid: Option<u32>| LoadOptions {
        clients: scenario.clients,
        stop: Stop::Time {
            warmup: Duration::from_secs_f64(settings.warmup_seconds),
            duration: Duration::from_secs_f64(settings.seconds),
        },
        call: call.clone(),
        protocol_version: protocol_version.to_string(),
        timeout: Duration::from_secs(30),
        server_pids: server_pid.into_iter().collect(),
    };
    let names: Vec<&str> = lineup.servers.iter().map(|s| s.name.as_str()).collect();
    let mut runs = interleave(&scenario.name, &names, settings.rounds, async |i| {
        if http {
            let server = running[i].as_ref().context("server not running")?;
            let target = Target::Http(HttpEndpoint::parse(&server.url())?);
            load::run(&target, &options(Some(server.pid()))).await
        } else {
            let spec = &lineup.servers[i];
            ensure!(
                spec.env.is_empty(),
                "{}: the stdio comparison does not pass a server's environment",
                spec.name
            );
            let target = Target::Stdio {
                command: spec.stdio_command(),
                stderr: spec.stderr.clone(),
                isolate_in: Some(lineup.workdir.clone()),
            };
            load::run(&target, &options(None)).await
        }
    })
    .await?;
    let mut rows = Vec::new();
    for (i, spec) in lineup.servers.iter().enumerate() {
        let rss = if http {
            running[i]
                .as_ref()
                .and_then(|s| procinfo::rss_kib(Pid::Other(s.pid())))
        } else {
            runs[i].last().and_then(|r| r.server_rss_kib)
        };
        rows.push(Row::from_runs(
            &spec.name,
            std::mem::take(&mut runs[i]),
            rss,
        ));
    }
    drop(running);
    Ok(ScenarioResult::new(scenario.clone(), rows))
}

/// Runs every server `rounds` times, one run each per round, the order reversed every other round
/// (so that neither warms the machine for the other); `run(i)` runs server `i` (of `names`). Each
/// run is printed as it ends; the result has every server's runs in round order.
pub async fn interleave(
    label: &str,
    names: &[&str],
    rounds: usize,
    mut run: impl AsyncFnMut(usize) -> anyhow::Result<LoadResult>,
) -> anyhow::Result<Vec<Vec<LoadResult>>> {
    let mut runs: Vec<Vec<LoadResult>> = vec![Vec::new(); names.len()];
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..names.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let result = run(i)
                .await
                .with_context(|| format!("{label} / {}", names[i]))?;
            eprintln!(
                "   round {} {:<20} {:>9.0} calls/s  p50 {:>7.3} ms  p99 {:>7.3} ms  server {:>6.1} µs/call  client {:>5.1} µs/call  errors {}",
                round + 1,
                names[i],
                result.calls_per_s,
                result.latency.p50_ms,
                result.latency.p99_ms,
                result.server_cpu_us_per_call.unwrap_or(f64::NAN),
                result.client_cpu_us_per_call,
                result.errors
            );
            runs[i].push(result);
        }
    }
    Ok(runs)
}

/// Cold start of one server over several runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColdStart {
    /// The server.
    pub server: String,
    /// Runs.
    pub runs: usize,
    /// Median from spawn to the first `/health` 200, ms.
    pub median_ms: f64,
    /// Fastest, ms.
    pub min_ms: f64,
    /// Slowest, ms.
    pub max_ms: f64,
}

/// Starts each server `runs` times (HTTP, sessions) and times spawn → first `/health` 200.
pub fn cold_start(lineup: &Lineup, runs: usize) -> anyhow::Result<Vec<ColdStart>> {
    let mut results = Vec::new();
    for spec in dedup_binaries(lineup) {
        let mut times = Vec::new();
        for _ in 0..runs {
            let server =
                RunningServer::start(spec, false, &lineup.workdir, Duration::from_secs(60))?;
            times.push(server.started_in.as_secs_f64() * 1000.0);
            drop(server);
            std::thread::sleep(Duration::from_millis(50));
        }
        let result = ColdStart {
            server: spec.name.clone(),
            runs,
            median_ms: median(&times),
            min_ms: times.iter().copied().fold(f64::INFINITY, f64::min),
            max_ms: times.iter().copied().fold(0.0, f64::max),
        };
        eprintln!(
            "   cold start {:<20} median {:>8.1} ms (min {:.1}, max {:.1})",
            result.server, result.median_ms, result.min_ms, result.max_ms
        );
        results.push(result);
    }
    Ok(results)
}

/// The servers with distinct programs and log settings that matter for start and memory: the
/// logs-off variant of cm-mcp behaves the same there, so it is left out.
fn dedup_binaries(lineup: &Lineup) -> impl Iterator<Item = &ServerSpec> {
    lineup
        .servers
        .iter()
        .filter(|s| s.name != "cm-mcp (logs off)")
}

/// Resident memory of one server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Memory {
    /// The server.
    pub server: String,
    /// Right after `/health` first answered, KiB.
    pub started_kib: u64,
    /// After 100 calls and a second of rest, KiB.
    pub idle_kib: u64,
    /// Sessions opened (each: initialize, initialized, `calls_per_session` calls).
    pub sessions: usize,
    /// Calls made in each session before the measurement (1 in results written before it was
    /// recorded).
    #[serde(default = "one")]
    pub calls_per_session: usize,
    /// With that many sessions open, KiB.
    pub with_sessions_kib: u64,
    /// (with sessions − idle) / sessions, KiB.
    pub per_session_kib: f64,
    /// Whether sampled sessions still answered after the measurement (they were really open).
    pub sessions_verified: bool,
}

fn one() -> usize {
    1
}

/// Measures idle RSS and RSS with `sessions` open sessions, each after `calls_per_session` calls,
/// per server.
pub async fn memory(
    lineup: &Lineup,
    sessions: usize,
    calls_per_session: usize,
    call: &CallSpec,
    protocol_version: &str,
) -> anyhow::Result<Vec<Memory>> {
    let mut results = Vec::new();
    for spec in dedup_binaries(lineup) {
        let server = RunningServer::start(spec, false, &lineup.workdir, Duration::from_secs(60))?;
        let pid = server.pid();
        let rss = || procinfo::rss_kib(Pid::Other(pid)).unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started_kib = rss();
        let endpoint = HttpEndpoint::parse(&server.url())?;
        let warm = LoadOptions {
            clients: 1,
            stop: Stop::Calls(100),
            call: call.clone(),
            protocol_version: protocol_version.to_string(),
            timeout: Duration::from_secs(30),
            server_pids: vec![pid],
        };
        let warmed = load::run(&Target::Http(endpoint.clone()), &warm).await?;
        ensure!(
            warmed.errors == 0,
            "{}: warm-up calls failed: {:?}",
            spec.name,
            warmed.error_samples
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        let idle_kib = rss();
        let endpoint = std::sync::Arc::new(endpoint);
        let open = |_| {
            let endpoint = endpoint.clone();
            async move {
                let mut client = HttpClient::new(endpoint, Duration::from_secs(30));
                client.initialize(protocol_version).await?;
                for _ in 0..calls_per_session {
                    client.call(call).await?;
                }
                // The session stays open on the server; the connection need not.
                client.disconnect();
                anyhow::Ok(client)
            }
        };
        use futures::StreamExt as _;
        let clients: Vec<anyhow::Result<HttpClient>> = futures::stream::iter(0..sessions)
            .map(open)
            .buffer_unordered(8)
            .collect()
            .await;
        let mut clients: Vec<HttpClient> = clients
            .into_iter()
            .collect::<anyhow::Result<_>>()
            .with_context(|| format!("{}: opening {sessions} sessions failed", spec.name))?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let with_sessions_kib = rss();
        let mut verified = clients.iter().all(|c| c.session_id().is_some());
        let step = (clients.len() / 10).max(1);
        for client in clients.iter_mut().step_by(step) {
            verified &= matches!(client.call(call).await, Ok((_, crate::client::Outcome::Ok)));
        }
        let result = Memory {
            server: spec.name.clone(),
            started_kib,
            idle_kib,
            sessions,
            calls_per_session,
            with_sessions_kib,
            per_session_kib: (with_sessions_kib as f64 - idle_kib as f64) / sessions.max(1) as f64,
            sessions_verified: verified,
        };
        eprintln!(
            "   memory {:<20} start {:>7.1} MiB  idle {:>7.1} MiB  with {} sessions {:>7.1} MiB ({:.1} KiB/session{})",
            result.server,
            result.started_kib as f64 / 1024.0,
            result.idle_kib as f64 / 1024.0,
            sessions,
            result.with_sessions_kib as f64 / 1024.0,
            result.per_session_kib,
            if verified {
                ""
            } else {
                ", sessions NOT verified"
            }
        );
        results.push(result);
        drop(server);
    }
    Ok(results)
}

/// Build times of a generated crate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildTime {
    /// What the crate holds.
    pub variant: String,
    /// Functions in it.
    pub functions: usize,
    /// Median seconds to build the crate from scratch with its dependencies already built.
    pub clean_s: f64,
    /// Median seconds to rebuild after changing one function body.
    pub incremental_s: f64,
    /// Seconds of the first build, dependencies (cm-mcp, rmcp, tokio, ...) included; informative.
    pub first_build_s: f64,
    /// Repetitions behind each median.
    pub repetitions: usize,
}

/// Times `cargo build` (dev profile) of a crate with `functions` `#[cm_tool]` functions, and of the
/// same crate with plain functions (what the macro costs on top), under `dir` with its own target
/// directory.
pub fn build_time(
    repo: &Path,
    dir: &Path,
    functions: usize,
    repetitions: usize,
) -> anyhow::Result<Vec<BuildTime>> {
    let target = dir.join("target");
    let mut results = Vec::new();
    for (variant, macro_on) in [
        (format!("{functions} #[cm_tool] functions"), true),
        (
            format!("{functions} plain async functions (control)"),
            false,
        ),
    ] {
        let name = if macro_on { "gen-tools" } else { "gen-plain" };
        let krate = dir.join(name);
        std::fs::create_dir_all(krate.join("src"))?;
        let lock = repo.join("Cargo.lock");
        if lock.is_file() && !krate.join("Cargo.lock").is_file() {
            std::fs::copy(&lock, krate.join("Cargo.lock"))?;
        }
        let mut version = 0;
        let mut edit = 0;
        let write = |version: u32, edit: u32| -> anyhow::Result<()> {
            std::fs::write(
                krate.join("Cargo.toml"),
                generated_manifest(name, version, repo),
            )?;
            std::fs::write(
                krate.join("src/main.rs"),
                generated_source(functions, macro_on, edit),
            )?;
            Ok(())
        };
        write(version, edit)?;
        eprintln!("   build {variant}: first build (dependencies included)");
        let first_build_s = cargo_build(&krate, &target)?;
        let mut clean = Vec::new();
        let mut incremental = Vec::new();
        for _ in 0..repetitions {
            // A new version is a new crate to cargo: everything of it compiles again, while the
            // dependencies stay built.
            version += 1;
            write(version, edit)?;
            clean.push(cargo_build(&krate, &target)?);
            edit += 1;
            write(version, edit)?;
            incremental.push(cargo_build(&krate, &target)?);
        }
        let result = BuildTime {
            variant: variant.clone(),
            functions,
            clean_s: median(&clean),
            incremental_s: median(&incremental),
            first_build_s,
            repetitions,
        };
        eprintln!(
            "   build {variant}: clean {:.2} s, incremental {:.2} s (first build {:.1} s)",
            result.clean_s, result.incremental_s, result.first_build_s
        );
        results.push(result);
    }
    Ok(results)
}

fn cargo_build(krate: &Path, target: &Path) -> anyhow::Result<f64> {
    let started = Instant::now();
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "--manifest-path"])
        .arg(krate.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target)
        .output()
        .context("cannot run cargo")?;
    let seconds = started.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!(
            "building {} failed:\n{}",
            krate.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(seconds)
}

fn generated_manifest(name: &str, version: u32, repo: &Path) -> String {
    format!(
        r#"# Generated by cm-bench build-time; not part of the workspace.
[package]
name = "{name}"
version = "0.1.{version}"
edition = "2024"
publish = false

[workspace]

[dependencies]
cm-mcp = {{ path = "{repo}" }}
tokio = {{ version = "1", features = ["macros", "rt-multi-thread"] }}
anyhow = "1"
"#,
        repo = repo.display()
    )
}

fn generated_source(functions: usize, macro_on: bool, edit: u32) -> String {
    let mut src = String::from(
        "//! Generated by cm-bench build-time.\n#![allow(dead_code, missing_docs)]\n\nuse cm_mcp::prelude::*;\n\n",
    );
    for i in 0..functions {
        // The edit changes one body in the middle, as a developer's change would.
        let marker = if i == functions / 2 { edit } else { 0 };
        let attribute = if macro_on { "#[cm_tool]\n" } else { "" };
        src.push_str(&format!(
            r#"/// Tool number {i}: processes its input.
///
/// # Arguments
/// * `input_param` - The text to process.
/// * `count` - How many times to process it.
{attribute}async fn tool_{i}(ctx: &Context, input_param: String, count: Option<u32>) -> Result<String, ToolError> {{
    let _ = ctx;
    Ok(format!("tool {i}/{marker}: {{input_param}} x{{}}", count.unwrap_or(1)))
}}

"#
        ));
    }
    src.push_str(
        "#[tokio::main]\nasync fn main() -> anyhow::Result<()> {\n    Server::new(\"gen\").run().await\n}\n",
    );
    src
}

/// What the smoke check did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Smoke {
    /// One result per transport.
    pub results: Vec<LoadResult>,
}

/// A few hundred calls to `my-service` over HTTP (sessions and stateless) and stdio, each checked
/// for the expected answer; fails on any error. No timing is judged.
pub async fn smoke(
    my_service: &Path,
    workdir: &Path,
    calls_per_client: u64,
) -> anyhow::Result<Smoke> {
    ensure!(
        my_service.is_file(),
        "{} does not exist: build it first (cargo build -p my-service)",
        my_service.display()
    );
    std::fs::create_dir_all(workdir)?;
    let spec = ServerSpec::cm_style("my-service", my_service, StderrTo::Null);
    let call = CallSpec::new(
        "my_tool",
        serde_json::json!({ "input_param": "smoke \"test\" ✓" }),
        Some("Processed: smoke \"test\" ✓".into()),
    )?;
    let options = |clients, pid: Option<u32>| LoadOptions {
        clients,
        stop: Stop::Calls(calls_per_client),
        call: call.clone(),
        protocol_version: crate::client::DEFAULT_PROTOCOL_VERSION.into(),
        timeout: Duration::from_secs(30),
        server_pids: pid.into_iter().collect(),
    };
    let mut results = Vec::new();
    for stateless in [false, true] {
        let server = RunningServer::start(&spec, stateless, workdir, Duration::from_secs(60))?;
        let target = Target::Http(HttpEndpoint::parse(&server.url())?);
        let result = load::run(&target, &options(4, Some(server.pid()))).await?;
        ensure!(
            result.sessions != stateless,
            "HTTP{}: the server {} sessions",
            if stateless { " --stateless" } else { "" },
            if stateless {
                "handed out"
            } else {
                "did not hand out"
            }
        );
        results.push(result);
    }
    let target = Target::Stdio {
        command: spec.stdio_command(),
        stderr: StderrTo::Null,
        isolate_in: Some(workdir.to_path_buf()),
    };
    results.push(load::run(&target, &options(4, None)).await?);
    for result in &results {
        ensure!(
            result.errors == 0 && result.calls == 4 * calls_per_client,
            "{} ({} sessions): {} of {} calls failed, expected {} calls; first errors: {:?}",
            result.transport,
            if result.sessions { "with" } else { "without" },
            result.errors,
            result.calls,
            4 * calls_per_client,
            result.error_samples
        );
    }
    Ok(Smoke { results })
}

/// Everything the suite measured; each part is filled by its own subcommand.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Results {
    /// The machine.
    pub machine: Machine,
    /// The comparison's settings.
    pub settings: Option<CompareSettings>,
    /// The comparison.
    pub compare: Vec<ScenarioResult>,
    /// Cold starts.
    pub cold_start: Vec<ColdStart>,
    /// Memory.
    pub memory: Vec<Memory>,
    /// Build times.
    pub build: Vec<BuildTime>,
    /// postgres-mcp against the seed's design on PostgreSQL (absent in results from before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres: Option<crate::postgres::PostgresResult>,
}

impl Results {
    /// Reads `path`, or starts empty when it does not exist.
    pub fn load(path: &Path) -> anyhow::Result<Results> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .with_context(|| format!("{} is not a cm-bench results file", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Results::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Writes `path` (pretty JSON).
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_string_pretty(self)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_parse() {
        let s = Scenario::parse("http:8").unwrap();
        assert_eq!((s.transport.as_str(), s.clients), ("http", 8));
        assert_eq!(s.name, "HTTP, 8 clients");
        assert_eq!(
            Scenario::parse("stdio:1").unwrap().name,
            "stdio, 1 in flight"
        );
        let s = Scenario::parse("http-2026:8").unwrap();
        assert_eq!(s.name, "HTTP 2026-07-28, 8 clients");
        assert_eq!(s.protocol_version("2025-11-25"), "2026-07-28");
        assert_eq!(
            Scenario::parse("http:8")
                .unwrap()
                .protocol_version("2025-11-25"),
            "2025-11-25"
        );
        let s = Scenario::parse("stdio:8:my_tool_quiet").unwrap();
        assert_eq!(
            (s.name.as_str(), s.tool.as_deref()),
            ("stdio, 8 in flight, my_tool_quiet", Some("my_tool_quiet"))
        );
        let call = CallSpec::new(
            "my_tool",
            serde_json::json!({"input_param": "x"}),
            Some("Processed: x".into()),
        )
        .unwrap();
        let quiet = s.call(&call).unwrap();
        assert_eq!(quiet.tool, "my_tool_quiet");
        assert_eq!(quiet.expect_text.as_deref(), Some("Processed: x"));
        assert_eq!(
            Scenario::parse("http:8").unwrap().call(&call).unwrap().tool,
            "my_tool"
        );
        assert!(Scenario::parse("stdio:8:").is_err());
        assert!(Scenario::parse("ws:1").is_err());
        assert!(Scenario::parse("http:0").is_err());
        assert!(Scenario::parse("http").is_err());
    }

    #[test]
    fn generated_crate_has_every_function() {
        let src = generated_source(3, true, 7);
        assert_eq!(src.matches("#[cm_tool]").count(), 3);
        assert!(
            src.contains("tool 1/7:"),
            "the middle function carries the edit"
        );
        assert!(!generated_source(3, false, 0).contains("#[cm_tool]"));
        let manifest = generated_manifest("gen-tools", 4, Path::new("/repo"));
        assert!(manifest.contains("version = \"0.1.4\"") && manifest.contains("[workspace]"));
    }
}
