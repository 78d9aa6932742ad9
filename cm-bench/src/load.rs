//! The load run: N concurrent clients repeating one tool call, for a time or a number of calls.

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::{
    client::{CallSpec, HttpClient, HttpEndpoint, Outcome, StderrTo, StdioServer},
    procinfo::{self, Pid},
    servers,
    stats::Latency,
};

/// The server under load.
#[derive(Debug, Clone)]
pub enum Target {
    /// A streamable HTTP endpoint (sessions are used when the server hands them out).
    Http(HttpEndpoint),
    /// A command speaking MCP on stdio, started for the run; the clients share its one session.
    Stdio {
        /// Program and arguments.
        command: Vec<String>,
        /// Where its stderr goes.
        stderr: StderrTo,
        /// When set, the server runs there with the platform's variables cleared (local mode),
        /// as the suite starts every server; otherwise it inherits this process's environment.
        isolate_in: Option<PathBuf>,
    },
}

/// When the clients stop.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    /// After a warm-up, measure for a duration.
    Time {
        /// Calls before the measurement starts (not counted).
        warmup: Duration,
        /// The measured time.
        duration: Duration,
    },
    /// Each client makes this many calls, all counted (the smoke mode).
    Calls(u64),
}

/// How to load the server.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Concurrent clients (HTTP: one connection and session each; stdio: requests in flight).
    pub clients: usize,
    /// When to stop.
    pub stop: Stop,
    /// The call to repeat.
    pub call: CallSpec,
    /// Protocol version: asked for in `initialize`, or, from 2026-07-28 on, sent with every request
    /// (HTTP only: no `initialize`, no session).
    pub protocol_version: String,
    /// Bound on every request.
    pub timeout: Duration,
    /// The server's process ids, for their CPU time and memory (stdio targets know theirs
    /// themselves). Several when the server is several processes (replicas, a proxy in front of
    /// them, the store they share): the result has each one's share and their sum.
    pub server_pids: Vec<u32>,
}

/// What a run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadResult {
    /// `http` or `stdio`.
    pub transport: String,
    /// Whether the server gave the clients sessions.
    pub sessions: bool,
    /// Concurrent clients.
    pub clients: usize,
    /// Measured seconds.
    pub seconds: f64,
    /// Calls answered in the measured time (errors included).
    pub calls: u64,
    /// Calls that failed (transport failures, JSON-RPC errors, tool errors, unexpected results).
    pub errors: u64,
    /// Successful calls per second.
    pub calls_per_s: f64,
    /// Latency of the successful calls.
    pub latency: Latency,
    /// CPU the load generator used per call, in microseconds (all its threads).
    pub client_cpu_us_per_call: f64,
    /// CPU the server used per call, in microseconds, when its process ids are known (the sum over
    /// all of them).
    pub server_cpu_us_per_call: Option<f64>,
    /// The server's resident memory at the end, in KiB, when its process ids are known (the sum).
    pub server_rss_kib: Option<u64>,
    /// Each of the server's processes, in the order their ids were given.
    #[serde(default)]
    pub server_processes: Vec<ProcessUsage>,
    /// Up to five distinct error messages.
    pub error_samples: Vec<String>,
}

/// What one of the server's processes used during the measured window.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessUsage {
    /// Its process id.
    pub pid: u32,
    /// Its command name (`/proc/PID/comm`), e.g. `my-service`, `nginx`, `redis-server`.
    pub name: String,
    /// CPU it used per call, in microseconds (`None` when `/proc` could not be read).
    pub cpu_us_per_call: Option<f64>,
    /// Its resident memory at the end, in KiB.
    pub rss_kib: Option<u64>,
    /// Context switches of its threads per call (each time one went to sleep or was preempted).
    #[serde(default)]
    pub context_switches_per_call: Option<f64>,
}

/// What one client saw.
#[derive(Default)]
struct Tally {
    nanos: Vec<u64>,
    errors: u64,
    samples: Vec<String>,
}

impl Tally {
    fn error(&mut self, message: String) {
        self.errors += 1;
        if self.samples.len() < 5 && !self.samples.contains(&message) {
            self.samples.push(message);
        }
    }

    fn record(&mut self, started: Instant, answer: anyhow::Result<(Instant, Outcome)>) {
        match answer {
            Ok((at, Outcome::Ok)) => self
                .nanos
                .push(at.duration_since(started).as_nanos() as u64),
            Ok((_, Outcome::Failed(message))) => self.error(message),
            Err(error) => self.error(format!("{error:#}")),
        }
    }
}

/// The measured window, shared by all clients.
#[derive(Clone, Copy)]
struct Window {
    from: Instant,
    until: Option<Instant>,
    calls: Option<u64>,
}

impl Window {
    fn new(stop: Stop) -> Window {
        let now = Instant::now();
        match stop {
            Stop::Time { warmup, duration } => Window {
                from: now + warmup,
                until: Some(now + warmup + duration),
                calls: None,
            },
            Stop::Calls(n) => Window {
                from: now,
                until: None,
                calls: Some(n),
            },
        }
    }

    /// Whether a client that has made `made` calls should make another, starting now.
    fn go_on(&self, made: u64, now: Instant) -> bool {
        self.until.is_none_or(|until| now < until) && self.calls.is_none_or(|n| made < n)
    }

    fn counts(&self, started: Instant) -> bool {
        started >= self.from
    }
}

/// CPU counters at the start of the measured window.
struct CpuMark {
    at: Instant,
    me: Option<f64>,
    /// CPU seconds of each server process, in the order of their ids.
    server: Vec<Option<f64>>,
    /// Context switches of each server process.
    switches: Vec<Option<u64>>,
}

impl CpuMark {
    fn take(server: &[u32]) -> CpuMark {
        CpuMark {
            at: Instant::now(),
            me: procinfo::cpu_seconds(Pid::Me),
            server: server
                .iter()
                .map(|&pid| procinfo::cpu_seconds(Pid::Other(pid)))
                .collect(),
            switches: server
                .iter()
                .map(|&pid| procinfo::context_switches(pid))
                .collect(),
        }
    }
}

/// Sleeps until the window opens, then marks the CPU counters.
async fn mark_at(from: Instant, server: Vec<u32>) -> CpuMark {
    tokio::time::sleep_until(from.into()).await;
    CpuMark::take(&server)
}

fn summarize(
    transport: &str,
    sessions: bool,
    options: &LoadOptions,
    tallies: Vec<Tally>,
    from: Instant,
    start: CpuMark,
    server: &[u32],
) -> LoadResult {
    let end = CpuMark::take(server);
    // From the window's nominal start (the marking task may wake a little late) to the end of the
    // last call: never shorter than the duration asked for, since clients stop only after it.
    let seconds = end.at.duration_since(from.min(start.at)).as_secs_f64();
    let mut nanos = Vec::new();
    let mut errors = 0;
    let mut error_samples: Vec<String> = Vec::new();
    for tally in tallies {
        nanos.extend(tally.nanos);
        errors += tally.errors;
        for sample in tally.samples {
            if error_samples.len() < 5 && !error_samples.contains(&sample) {
                error_samples.push(sample);
            }
        }
    }
    let ok = nanos.len() as u64;
    let calls = ok + errors;
    let per_call = |before: Option<f64>, after: Option<f64>| match (before, after) {
        (Some(b), Some(a)) if calls > 0 => Some((a - b) * 1e6 / calls as f64),
        _ => None,
    };
    let server_processes: Vec<ProcessUsage> = (0..server.len())
        .map(|i| ProcessUsage {
            pid: server[i],
            name: procinfo::name(server[i]).unwrap_or_default(),
            cpu_us_per_call: per_call(start.server[i], end.server[i]),
            rss_kib: procinfo::rss_kib(Pid::Other(server[i])),
            context_switches_per_call: match (start.switches[i], end.switches[i]) {
                (Some(b), Some(a)) if calls > 0 => Some(a.saturating_sub(b) as f64 / calls as f64),
                _ => None,
            },
        })
        .collect();
    // A sum is given only when every process could be read: a partial one would look cheaper.
    let total = |part: fn(&ProcessUsage) -> Option<f64>| -> Option<f64> {
        if server_processes.is_empty() {
            return None;
        }
        server_processes.iter().map(part).sum()
    };
    LoadResult {
        transport: transport.to_string(),
        sessions,
        clients: options.clients,
        seconds,
        calls,
        errors,
        calls_per_s: if seconds > 0.0 {
            ok as f64 / seconds
        } else {
            0.0
        },
        latency: Latency::from_nanos(&mut nanos),
        client_cpu_us_per_call: per_call(start.me, end.me).unwrap_or(f64::NAN),
        server_cpu_us_per_call: total(|p| p.cpu_us_per_call),
        server_rss_kib: total(|p| p.rss_kib.map(|kib| kib as f64)).map(|kib| kib as u64),
        server_processes,
        error_samples,
    }
}

/// Runs the load and measures it. Setup failures (cannot connect, initialize refused) are errors;
/// failures of individual calls are counted in the result.
pub async fn run(target: &Target, options: &LoadOptions) -> anyhow::Result<LoadResult> {
    anyhow::ensure!(options.clients > 0, "--clients must be at least 1");
    match target {
        Target::Http(endpoint) => run_http(endpoint, options).await,
        Target::Stdio {
            command,
            stderr,
            isolate_in,
        } => {
            let command = match isolate_in {
                Some(dir) => servers::command(command, dir, stderr)?,
                None => {
                    let (program, args) = command
                        .split_first()
                        .context("no command given for the stdio server")?;
                    let mut plain = std::process::Command::new(program);
                    plain.args(args).stderr(stderr.stdio()?);
                    plain
                }
            };
            run_stdio(command, options).await
        }
    }
}

async fn run_http(endpoint: &HttpEndpoint, options: &LoadOptions) -> anyhow::Result<LoadResult> {
    let endpoint = Arc::new(endpoint.clone());
    let setups = (0..options.clients).map(|_| {
        let endpoint = endpoint.clone();
        async move {
            let mut client = HttpClient::new(endpoint, options.timeout);
            client.begin(&options.protocol_version).await?;
            anyhow::Ok(client)
        }
    });
    let clients = futures::future::try_join_all(setups)
        .await
        .with_context(|| format!("cannot start a client session with {}", endpoint.url))?;
    let sessions = clients.iter().all(|c| c.session_id().is_some());
    let window = Window::new(options.stop);
    let server = options.server_pids.clone();
    let mark = tokio::spawn(mark_at(window.from, server.clone()));
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            let call = options.call.clone();
            // Do not spin on a server that is down.
            tokio::spawn(async move {
                let mut calls = Calls::new(window, AfterError::Pause);
                while let Some(started) = calls.next() {
                    let answer = client.call(&call).await;
                    calls.record(started, answer).await;
                }
                calls.tally
            })
        })
        .collect();
    let tallies = futures::future::try_join_all(tasks).await?;
    let start = mark.await?;
    Ok(summarize(
        "http",
        sessions,
        options,
        tallies,
        window.from,
        start,
        &server,
    ))
}

/// What a client does after a failed call.
#[derive(Clone, Copy, PartialEq)]
enum AfterError {
    Pause,
    Stop,
}

/// One client's calls, one at a time, until the window closes; those inside it are tallied.
struct Calls {
    window: Window,
    after_error: AfterError,
    made: u64,
    stopped: bool,
    tally: Tally,
}

impl Calls {
    fn new(window: Window, after_error: AfterError) -> Calls {
        Calls {
            window,
            after_error,
            made: 0,
            stopped: false,
            tally: Tally::default(),
        }
    }

    /// When the next call starts, or `None` when the client is done.
    fn next(&mut self) -> Option<Instant> {
        let now = Instant::now();
        (!self.stopped && self.window.go_on(self.made, now)).then_some(now)
    }

    async fn record(&mut self, started: Instant, answer: anyhow::Result<(Instant, Outcome)>) {
        self.made += 1;
        let failed = answer.is_err();
        if self.window.counts(started) {
            self.tally.record(started, answer);
        }
        match self.after_error {
            _ if !failed => {}
            AfterError::Pause => tokio::time::sleep(Duration::from_millis(10)).await,
            AfterError::Stop => self.stopped = true,
        }
    }
}

async fn run_stdio(
    command: std::process::Command,
    options: &LoadOptions,
) -> anyhow::Result<LoadResult> {
    anyhow::ensure!(
        crate::client::has_initialize(&options.protocol_version),
        "protocol {} over stdio is not supported by this load generator (HTTP only)",
        options.protocol_version
    );
    let server =
        Arc::new(StdioServer::start(command, &options.protocol_version, options.timeout).await?);
    let pids: Vec<u32> = server.pid().into_iter().collect();
    let window = Window::new(options.stop);
    let mark = tokio::spawn(mark_at(window.from, pids.clone()));
    let tasks: Vec<_> = (0..options.clients)
        .map(|_| {
            let call = options.call.clone();
            let server = server.clone();
            // A stdio server that stopped answering is not coming back.
            tokio::spawn(async move {
                let mut calls = Calls::new(window, AfterError::Stop);
                while let Some(started) = calls.next() {
                    let answer = server.call(&call).await;
                    calls.record(started, answer).await;
                }
                calls.tally
            })
        })
        .collect();
    let tallies = futures::future::try_join_all(tasks).await?;
    let start = mark.await?;
    let result = summarize("stdio", true, options, tallies, window.from, start, &pids);
    if let Ok(server) = Arc::try_unwrap(server) {
        server.stop(Duration::from_secs(2)).await;
    }
    Ok(result)
}
