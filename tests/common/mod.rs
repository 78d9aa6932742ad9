//! Helpers shared by the integration tests: building and spawning the workspace's server binaries,
//! reading their JSON log lines from stderr, connecting rmcp clients and calling tools. The stand-in
//! for the platform's config manager and realtime service is in [`platform`].

// Every test file compiles this module anew and uses a different subset of it.
#![allow(dead_code)]

pub mod platform;

use std::{
    collections::HashMap,
    fmt,
    future::Future,
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use rmcp::{
    ClientHandler, RoleClient, ServiceError, ServiceExt,
    model::{CallToolRequestParams, CallToolResult, ReadResourceRequestParams, ResourceContents},
    service::{Peer, RunningService},
    transport::{
        ConfigureCommandExt, StreamableHttpClientTransport, TokioChildProcess,
        streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::{Child, Command},
    sync::watch,
    task::{JoinError, JoinHandle},
    time::error::Elapsed,
};

/// The bound on every wait in the tests: long enough for a loaded CI machine, short enough that a
/// hang fails the test instead of the whole run.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// An rmcp client session.
pub type Client = RunningService<RoleClient, ()>;

/// The workspace binaries the tests spawn, with the package that builds each.
const BINARIES: &[(&str, &str)] = &[
    ("my-service", "my-service"),
    ("fixture-server", "fixture-server"),
    ("platform-fixture", "platform-fixture"),
];

/// The path of a workspace binary (one of [`BINARIES`]).
///
/// The binaries belong to other packages, so `CARGO_BIN_EXE_*` does not name them, and a plain
/// `cargo test -p cm-mcp` does not rebuild them. The first call in a test process therefore runs
/// `cargo build` for them into the target directory this test executable lives in (a no-op when they
/// are fresh), so a test never runs a stale binary.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let profile_dir = BUILT
        .get_or_init(build_binaries)
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}"));
    let path = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} was not built; run `cargo build -p {name}`",
        path.display()
    );
    path
}

/// Builds every binary of [`BINARIES`]; returns the directory they are in (`target/debug`).
fn build_binaries() -> Result<PathBuf, String> {
    // The test executable is <target>/<profile>/deps/<name>-<hash>.
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot locate the test executable: {e}"))?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| format!("unexpected test executable path {}", exe.display()))?
        .to_path_buf();
    let target_dir = profile_dir
        .parent()
        .ok_or_else(|| format!("unexpected test executable path {}", exe.display()))?;
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("debug");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = std::process::Command::new(&cargo);
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--quiet", "--target-dir"])
        .arg(target_dir);
    match profile {
        "debug" => {}
        "release" => {
            command.arg("--release");
        }
        other => {
            command.args(["--profile", other]);
        }
    }
    for (bin, package) in BINARIES {
        command.args(["-p", package, "--bin", bin]);
    }
    let status = command
        .status()
        .map_err(|e| format!("cannot run {}: {e}", cargo.to_string_lossy()))?;
    let all_present = BINARIES.iter().all(|(bin, _)| {
        profile_dir
            .join(format!("{bin}{}", std::env::consts::EXE_SUFFIX))
            .is_file()
    });
    if !status.success() {
        if all_present {
            // e.g. offline without a cached dependency: the existing binaries are the best we have.
            eprintln!(
                "warning: `cargo build` of the test binaries failed ({status}); using the existing ones"
            );
        } else {
            return Err(format!(
                "`cargo build` of the test binaries failed ({status}); build them with `cargo build --workspace`"
            ));
        }
    }
    Ok(profile_dir)
}

/// Environment variables that change how a server starts; removed from every spawned server so
/// that the developer's shell cannot change a test's outcome.
const SERVER_ENV: &[&str] = &[
    "FastMCP_TRANSPORT",
    "MCP_HOST",
    "MCP_PORT",
    "MCP_STATELESS",
    "MCP_ALLOWED_HOSTS",
    "MCP_ALLOWED_ORIGINS",
    "MCP_SHUTDOWN_GRACE",
    "LOG_LEVEL",
    "RUST_LOG",
    "DEBUG",
    "SERVICE_NAME",
    "CONFIDENTIAL_MIND_LOCAL_CONFIG",
    "MANAGER_URL",
    "REALTIME_URL",
];

/// The variables of [`SERVER_ENV`], plus the test servers' own settings and connectors
/// (`MYSERVICE_*`, `FIXTURE_*`) when the developer's environment has any.
fn server_env() -> Vec<String> {
    let own = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| k.starts_with("MYSERVICE_") || k.starts_with("FIXTURE_"));
    SERVER_ENV
        .iter()
        .map(|v| v.to_string())
        .chain(own)
        .collect()
}

/// A scratch working directory of its own, for a test that writes a `.env` file there.
pub fn scratch_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cm-platform-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("create a scratch directory")
}

/// A command for a workspace binary with a clean server environment, run in the shared scratch
/// directory (so that no `.env` file of the developer is loaded).
pub fn command(name: &str) -> Command {
    command_in(name, Path::new(env!("CARGO_TARGET_TMPDIR")))
}

/// [`command`], run in `dir`.
pub fn command_in(name: &str, dir: &Path) -> Command {
    let mut command = Command::new(binary(name));
    for var in server_env() {
        command.env_remove(var);
    }
    command
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs a workspace binary to completion (bounded by [`TIMEOUT`]) and returns its output.
pub async fn run_to_end(mut command: Command) -> std::process::Output {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = command.spawn().expect("spawn the server binary");
    tokio::time::timeout(TIMEOUT, child.wait_with_output())
        .await
        .expect("the process did not exit in time")
        .expect("wait for the process")
}

/// Runs `name` in `dir` with `env` as an HTTP server on an ephemeral port until it exits (bounded);
/// returns its exit status and stderr. For servers that are expected to refuse to start.
pub async fn run_to_end_in(name: &str, dir: &Path, env: &[(&str, &str)]) -> (ExitStatus, String) {
    let mut command = command_in(name, dir);
    command
        .args(["--host", "127.0.0.1", "--port", "0"])
        .envs(env.iter().copied());
    let output = run_to_end(command).await;
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The lines a process writes to stderr, collected in the background.
#[derive(Clone)]
pub struct Logs {
    lines: Arc<Mutex<Vec<String>>>,
    count: watch::Receiver<(usize, bool)>,
}

impl Logs {
    /// Starts collecting the lines of `stream`.
    pub fn collect(stream: impl AsyncRead + Unpin + Send + 'static) -> Logs {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, count) = watch::channel((0, false));
        let sink = lines.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stream).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let n = {
                    let mut all = sink.lock().unwrap();
                    all.push(line);
                    all.len()
                };
                tx.send_replace((n, false));
            }
            tx.send_modify(|(_, closed)| *closed = true);
        });
        Logs { lines, count }
    }

    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Every line so far, one per line, for failure messages.
    pub fn dump(&self) -> String {
        self.lines().join("\n")
    }

    /// Every line so far that is a JSON object, with its raw text (which keeps the key order).
    fn parsed(&self) -> Vec<(String, Value)> {
        self.lines()
            .into_iter()
            .filter_map(|line| {
                let value: Value = serde_json::from_str(&line).ok()?;
                value.is_object().then_some((line, value))
            })
            .collect()
    }

    /// Every event (JSON object line) so far.
    pub fn events(&self) -> Vec<Value> {
        self.parsed().into_iter().map(|(_, v)| v).collect()
    }

    /// Every event so far of `event_type`.
    pub fn of_type(&self, event_type: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event_type"] == event_type)
            .collect()
    }

    /// Waits (bounded by [`TIMEOUT`]) until `found` picks something from the events so far. Fails
    /// with every line seen when nothing comes.
    async fn wait_with<T>(
        &self,
        what: impl fmt::Display,
        found: impl Fn(Vec<(String, Value)>) -> Option<T>,
    ) -> T {
        let mut count = self.count.clone();
        let waited = tokio::time::timeout(TIMEOUT, async {
            loop {
                if let Some(hit) = found(self.parsed()) {
                    return Some(hit);
                }
                let closed = count.borrow_and_update().1;
                if closed || count.changed().await.is_err() {
                    // The stream ended: one last look at lines that arrived meanwhile.
                    return found(self.parsed());
                }
            }
        })
        .await;
        match waited {
            Ok(Some(hit)) => hit,
            Ok(None) => panic!("stderr closed without {what}; it had:\n{}", self.dump()),
            Err(_) => panic!("no {what} within {TIMEOUT:?}; stderr had:\n{}", self.dump()),
        }
    }

    /// Waits for the first event matching `matches`; returns its raw text and value.
    pub async fn wait_for(
        &self,
        what: impl fmt::Display,
        matches: impl Fn(&Value) -> bool,
    ) -> (String, Value) {
        self.wait_with(what, |events| events.into_iter().find(|(_, v)| matches(v)))
            .await
    }

    /// Waits until `matches` holds for all the events so far; returns them.
    pub async fn wait_until(
        &self,
        what: impl fmt::Display,
        matches: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        self.wait_with(what, |events| {
            let events: Vec<Value> = events.into_iter().map(|(_, v)| v).collect();
            matches(&events).then_some(events)
        })
        .await
    }

    /// Waits for the first event of `event_type`.
    pub async fn wait_for_event(&self, event_type: &str) -> (String, Value) {
        self.wait_for(format!("`{event_type}` event"), |v| {
            v["event_type"] == event_type
        })
        .await
    }

    /// Waits for the first event of `event_type` whose `data.target` is `target` (`config_manager`,
    /// `realtime`, `connector`).
    pub async fn wait_for_target(&self, event_type: &str, target: &str) -> (String, Value) {
        self.wait_for(format!("`{event_type}` event ({target})"), |v| {
            v["event_type"] == event_type && v["data"]["target"] == target
        })
        .await
    }

    /// Waits for the first `event_type` event (`tool.execution.start`, ...) of a call to `tool`.
    pub async fn wait_for_tool(&self, event_type: &str, tool: &str) -> (String, Value) {
        self.wait_for(format!("`{event_type}` of {tool}"), |v| {
            v["event_type"] == event_type && v["data"]["tool_name"] == tool
        })
        .await
    }

    /// Waits until the stream is closed (the process exited or closed stderr).
    pub async fn wait_closed(&self) {
        let mut count = self.count.clone();
        tokio::time::timeout(TIMEOUT, count.wait_for(|(_, closed)| *closed))
            .await
            .expect("stderr was not closed in time")
            .ok();
    }
}

/// A server process serving streamable HTTP on an ephemeral loopback port.
pub struct HttpProcess {
    /// The process; killed when dropped.
    pub child: Child,
    /// Its stderr.
    pub logs: Logs,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    http: reqwest::Client,
}

impl HttpProcess {
    /// Starts `name` with `args` and `env` in the shared scratch directory; see [`Self::spawn`].
    pub async fn start(name: &str, args: &[&str], env: &[(&str, &str)]) -> HttpProcess {
        let mut command = command(name);
        command.args(args).envs(env.iter().copied());
        HttpProcess::spawn(command).await
    }

    /// Starts `name` with `env` in `dir` (which may hold a `.env` file); see [`Self::spawn`].
    pub async fn start_in(name: &str, dir: &Path, env: &[(&str, &str)]) -> HttpProcess {
        let mut command = command_in(name, dir);
        command.envs(env.iter().copied());
        HttpProcess::spawn(command).await
    }

    /// Runs `command` with `--host 127.0.0.1 --port 0`, waits for the address it logs and for
    /// `/health` to answer.
    async fn spawn(mut command: Command) -> HttpProcess {
        command.args(["--host", "127.0.0.1", "--port", "0"]);
        let mut child = command.spawn().expect("spawn the server binary");
        let logs = Logs::collect(child.stderr.take().expect("stderr is piped"));
        let (_, ready) = logs
            .wait_for("`service.ready` event with the address", |v| {
                v["event_type"] == "service.ready" && v["data"]["address"].is_string()
            })
            .await;
        let address = ready["data"]["address"].as_str().unwrap().to_string();
        let server = HttpProcess {
            child,
            logs,
            base: format!("http://{address}"),
            http: reqwest::Client::new(),
        };
        server.wait_healthy().await;
        server
    }

    /// Polls `/health` until it answers 200 (bounded by [`TIMEOUT`]).
    async fn wait_healthy(&self) {
        let url = format!("{}/health", self.base);
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            match self.http.get(&url).send().await {
                Ok(response) if response.status() == 200 => return,
                result => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "{url} never answered 200; last: {result:?}"
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }

    /// The MCP endpoint.
    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base)
    }

    /// An MCP client connected over streamable HTTP, without extra headers.
    pub async fn client(&self) -> Client {
        connect_http(&self.mcp_url(), &[], None).await
    }

    /// `GET /health`, which must answer 200.
    pub async fn health(&self) -> Value {
        let response = self
            .http
            .get(format!("{}/health", self.base))
            .send()
            .await
            .expect("GET /health");
        assert_eq!(response.status(), 200);
        response.json().await.expect("health is JSON")
    }

    /// Polls `/health` until `matches` holds (bounded by `within`); returns the document.
    pub async fn wait_health(
        &self,
        what: &str,
        within: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> Value {
        poll_until(within, || self.health(), matches)
            .await
            .unwrap_or_else(|last| {
                panic!(
                    "/health never showed {what} within {within:?}; last: {last}\nstderr:\n{}",
                    self.logs.dump()
                )
            })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the process is running")
    }

    /// Waits (bounded) for the process to exit.
    pub async fn wait_exit(&mut self) -> ExitStatus {
        wait_exit(&mut self.child, &self.logs).await
    }

    /// Waits (bounded) for the process to exit, which must be a success, and for its stderr to
    /// close (so that [`Self::logs`] has every line).
    pub async fn wait_clean_exit(&mut self) {
        wait_clean_exit(&mut self.child, &self.logs).await;
    }

    /// Sends SIGTERM, waits for the process to exit and for its stderr to close (so that
    /// [`Self::logs`] has every line); returns the exit status.
    pub async fn terminate(&mut self) -> ExitStatus {
        signal(self.pid(), nix::sys::signal::Signal::SIGTERM);
        let status = self.wait_exit().await;
        self.logs.wait_closed().await;
        status
    }
}

/// Waits (bounded) for `child` to exit; fails with its stderr when it does not.
async fn wait_exit(child: &mut Child, logs: &Logs) -> ExitStatus {
    tokio::time::timeout(TIMEOUT, child.wait())
        .await
        .unwrap_or_else(|_| panic!("the server did not exit; stderr:\n{}", logs.dump()))
        .expect("wait for the server")
}

/// Waits (bounded) for `child` to exit, which must be a success, and for its stderr to close.
async fn wait_clean_exit(child: &mut Child, logs: &Logs) {
    let status = wait_exit(child, logs).await;
    assert!(status.success(), "{status}; stderr:\n{}", logs.dump());
    logs.wait_closed().await;
}

/// Calls `fetch` every 10 ms until `matches` holds for its answer, which it returns; the last answer
/// as the error when that does not happen within `within`.
async fn poll_until<F: Future<Output = Value>>(
    within: Duration,
    mut fetch: impl FnMut() -> F,
    matches: impl Fn(&Value) -> bool,
) -> Result<Value, Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let value = fetch().await;
        if matches(&value) {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(value);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Sends `signal` to the process `pid` (a child this test started).
pub fn signal(pid: u32, signal: nix::sys::signal::Signal) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).expect("pid fits in i32"));
    nix::sys::signal::kill(pid, signal).expect("send the signal");
}

/// Connects an rmcp client over streamable HTTP, sending `headers` (and `Authorization: Bearer
/// <bearer>`) with every request.
pub async fn connect_http(url: &str, headers: &[(&str, &str)], bearer: Option<&str>) -> Client {
    let headers: HashMap<http::HeaderName, http::HeaderValue> = headers
        .iter()
        .map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap()))
        .collect();
    let mut config = StreamableHttpClientTransportConfig::with_uri(url).custom_headers(headers);
    if let Some(key) = bearer {
        config = config.auth_header(key);
    }
    let transport = StreamableHttpClientTransport::from_config(config);
    tokio::time::timeout(TIMEOUT, ().serve(transport))
        .await
        .expect("initialize timed out")
        .expect("initialize over HTTP")
}

/// A server process speaking MCP over stdio, with an rmcp client connected to it.
pub struct StdioProcess {
    /// The client session.
    pub client: Client,
    /// The server's stderr.
    pub logs: Logs,
    /// The server's process id.
    pub pid: u32,
}

/// Spawns `name` with `args` and `env` as an MCP server over stdio and connects a client.
pub async fn connect_stdio(name: &str, args: &[&str], env: &[(&str, &str)]) -> StdioProcess {
    let command = tokio::process::Command::new(binary(name)).configure(|cmd| {
        for var in server_env() {
            cmd.env_remove(var);
        }
        cmd.args(args)
            .envs(env.iter().copied())
            .current_dir(env!("CARGO_TARGET_TMPDIR"));
    });
    let (transport, stderr) = TokioChildProcess::builder(command)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the stdio server");
    let pid = transport.id().expect("the server is running");
    let logs = Logs::collect(stderr.expect("stderr is piped"));
    let client = match tokio::time::timeout(TIMEOUT, ().serve(transport)).await {
        Ok(Ok(client)) => client,
        other => panic!(
            "initialize over stdio failed: {other:?}; stderr:\n{}",
            logs.dump()
        ),
    };
    StdioProcess { client, logs, pid }
}

/// A stdio server spawned by hand (rather than by rmcp's `TokioChildProcess`), so that the test owns
/// the child and sees its exit status.
pub struct OwnedStdioServer {
    /// The process; killed when dropped.
    pub child: Child,
    /// Its stderr.
    pub logs: Logs,
}

impl OwnedStdioServer {
    /// Waits (bounded) for the process to exit, which must be a success, and for its stderr to
    /// close (so that [`Self::logs`] has every line).
    pub async fn wait_clean_exit(&mut self) {
        wait_clean_exit(&mut self.child, &self.logs).await;
    }
}

/// Spawns `name` with `args` with piped stdio and connects a client with `handler` to it.
pub async fn connect_owned_stdio<H: ClientHandler>(
    name: &str,
    args: &[&str],
    handler: H,
) -> (OwnedStdioServer, RunningService<RoleClient, H>) {
    let mut command = command(name);
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child = command.spawn().expect("spawn the server binary");
    let stdout = child.stdout.take().expect("stdout is piped");
    let stdin = child.stdin.take().expect("stdin is piped");
    let logs = Logs::collect(child.stderr.take().expect("stderr is piped"));
    let client = tokio::time::timeout(TIMEOUT, handler.serve((stdout, stdin)))
        .await
        .expect("initialize in time")
        .expect("initialize");
    (OwnedStdioServer { child, logs }, client)
}

/// Calls `tool` with `arguments` (bounded by [`TIMEOUT`]); fails unless a result comes back.
pub async fn call_tool(client: &Peer<RoleClient>, tool: &str, arguments: Value) -> CallToolResult {
    let params = CallToolRequestParams::new(tool.to_string()).with_arguments(args(arguments));
    tokio::time::timeout(TIMEOUT, client.call_tool(params))
        .await
        .expect("tools/call timed out")
        .unwrap_or_else(|e| panic!("tools/call {tool} failed: {e}"))
}

/// Calls `tool` with `arguments`; returns (is_error, text).
pub async fn call(client: &Peer<RoleClient>, tool: &str, arguments: Value) -> (bool, String) {
    let result = call_tool(client, tool, arguments).await;
    (result.is_error == Some(true), text_of(&result))
}

/// Reads a JSON resource.
pub async fn read_json(client: &Peer<RoleClient>, uri: &str) -> Value {
    let read = tokio::time::timeout(
        TIMEOUT,
        client.read_resource(ReadResourceRequestParams::new(uri)),
    )
    .await
    .expect("the read timed out")
    .expect("resources/read");
    match &read.contents[0] {
        ResourceContents::TextResourceContents { text, .. } => {
            serde_json::from_str(text).expect("the resource is JSON")
        }
        other => panic!("expected text contents: {other:?}"),
    }
}

/// Polls a JSON resource until `matches` holds (bounded by `within`).
pub async fn wait_resource(
    client: &Peer<RoleClient>,
    uri: &str,
    within: Duration,
    matches: impl Fn(&Value) -> bool,
) -> Value {
    poll_until(within, || read_json(client, uri), matches)
        .await
        .unwrap_or_else(|last| panic!("{uri} never matched within {within:?}; last: {last}"))
}

/// A fixture-server `sleep_ms` call running in the background.
pub type SlowCall = JoinHandle<Result<CallToolResult, ServiceError>>;

/// Starts a `sleep_ms` call of `ms` on a fixture server in the background and waits (in `logs`)
/// until the server has started it, so that a signal sent next finds it in flight.
pub async fn start_slow_call(client: &Peer<RoleClient>, logs: &Logs, ms: u64) -> SlowCall {
    let call = tokio::spawn({
        let peer = client.clone();
        async move {
            peer.call_tool(
                CallToolRequestParams::new("sleep_ms")
                    .with_arguments(args(serde_json::json!({"ms": ms}))),
            )
            .await
        }
    });
    logs.wait_for_tool("tool.execution.start", "sleep_ms").await;
    call
}

/// The result of a [`SlowCall`] awaited with a timeout: it must have answered, successfully.
/// Fails with the server's stderr otherwise.
pub fn expect_answer(
    answer: Result<Result<Result<CallToolResult, ServiceError>, JoinError>, Elapsed>,
    logs: &Logs,
) -> CallToolResult {
    match answer {
        Ok(joined) => joined
            .unwrap()
            .unwrap_or_else(|e| panic!("the call in flight failed: {e}; stderr:\n{}", logs.dump())),
        Err(_) => panic!("the call in flight got no answer; stderr:\n{}", logs.dump()),
    }
}

/// The keys of a JSON object line, in the order they are written (serde_json's map sorts them).
pub fn keys_in_order(line: &str) -> Vec<String> {
    struct Keys(Vec<String>);
    impl<'de> Deserialize<'de> for Keys {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Keys, D::Error> {
            struct KeysVisitor;
            impl<'de> Visitor<'de> for KeysVisitor {
                type Value = Keys;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some(key) = map.next_key::<String>()? {
                        map.next_value::<IgnoredAny>()?;
                        keys.push(key);
                    }
                    Ok(Keys(keys))
                }
            }
            deserializer.deserialize_map(KeysVisitor)
        }
    }
    serde_json::from_str::<Keys>(line)
        .unwrap_or_else(|e| panic!("not a JSON object ({e}): {line}"))
        .0
}

/// Asserts `ts` is a UTC ISO-8601 timestamp with microseconds: `2026-11-24T14:17:46.806794Z`.
pub fn assert_platform_timestamp(ts: &str) {
    let shape: String = ts
        .chars()
        .map(|c| if c.is_ascii_digit() { 'D' } else { c })
        .collect();
    assert_eq!(shape, "DDDD-DD-DDTDD:DD:DD.DDDDDDZ", "timestamp {ts}");
}

/// Asserts `id` is `len` lower-case hex characters.
pub fn assert_hex(id: &str, len: usize) {
    assert!(
        id.len() == len && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "`{id}` is not {len} lower-case hex characters"
    );
}

/// The text of every text content block of a tool result, joined.
pub fn text_of(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("")
}

/// The URI, MIME type and text of the one text content of a resource read; fails unless that is
/// all it has.
pub fn text_contents(contents: &[ResourceContents]) -> (&str, Option<&str>, &str) {
    match contents {
        [
            ResourceContents::TextResourceContents {
                uri,
                mime_type,
                text,
                ..
            },
        ] => (uri, mime_type.as_deref(), text),
        other => panic!("expected one text content, got {other:?}"),
    }
}

/// A JSON object from a `json!` literal, for call arguments.
pub fn args(value: Value) -> serde_json::Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("arguments must be an object, not {other}"),
    }
}
