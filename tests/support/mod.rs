//! Helpers of the platform integration tests: a stand-in for the ConfidentialMind config manager and
//! realtime service (a real HTTP + websocket server on loopback that records every request), and the
//! server binaries (`my-service`, `platform-fixture`) run as processes against it.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::{
    collections::VecDeque,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{
        State,
        ws::{Message, WebSocket, WebSocketUpgrade},
    },
    http::{StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::get,
};
use rmcp::{
    RoleClient, ServiceExt,
    model::{CallToolRequestParams, ReadResourceRequestParams, ResourceContents},
    service::RunningService,
    transport::StreamableHttpClientTransport,
};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    net::TcpListener,
    process::{Child, Command},
    sync::{broadcast, watch},
};

/// The bound on every wait: long enough for a loaded CI machine, short enough that a hang fails.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// An rmcp client session.
pub type Client = RunningService<RoleClient, ()>;

/// The binaries these tests run, with their packages.
const BINARIES: &[(&str, &str)] = &[
    ("my-service", "my-service"),
    ("platform-fixture", "platform-fixture"),
];

/// The path of a workspace binary. They belong to other packages, so the first call builds them
/// (`cargo build`, a no-op when fresh) into the target directory this test executable lives in.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = BUILT
        .get_or_init(build)
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}"));
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

fn build() -> Result<PathBuf, String> {
    // The test executable is <target>/<profile>/deps/<name>-<hash>.
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("unexpected test executable path")?
        .to_path_buf();
    let target_dir = profile_dir.parent().ok_or("unexpected target path")?;
    let mut command =
        std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--quiet", "--target-dir"])
        .arg(target_dir);
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            command.arg("--release");
        }
        Some(other) => {
            command.args(["--profile", other]);
        }
    }
    for (bin, package) in BINARIES {
        command.args(["-p", package, "--bin", bin]);
    }
    let status = command
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let present = BINARIES.iter().all(|(bin, _)| {
        profile_dir
            .join(format!("{bin}{}", std::env::consts::EXE_SUFFIX))
            .is_file()
    });
    if !status.success() && !present {
        return Err(format!("building the test binaries failed ({status})"));
    }
    Ok(profile_dir)
}

/// Variables that change how a server starts: removed from every spawned server so that the
/// developer's shell cannot change a test's outcome.
const SERVER_ENV: &[&str] = &[
    "FastMCP_TRANSPORT",
    "MCP_HOST",
    "MCP_PORT",
    "LOG_LEVEL",
    "RUST_LOG",
    "DEBUG",
    "SERVICE_NAME",
    "CONFIDENTIAL_MIND_LOCAL_CONFIG",
    "MANAGER_URL",
    "REALTIME_URL",
    "MYSERVICE_URL",
    "MYSERVICE_APIKEY",
    "MYSERVICE_NAME",
    "MYSERVICE_DESCRIPTION",
];

/// A scratch working directory (no `.env` unless a test writes one).
pub fn scratch_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cm-platform-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("create a scratch directory")
}

fn command(name: &str, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(binary(name));
    for var in SERVER_ENV {
        command.env_remove(var);
    }
    command
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs `name` to its end (bounded); returns its exit status and stderr.
pub async fn run_to_end(
    name: &str,
    dir: &Path,
    env: &[(&str, &str)],
) -> (std::process::ExitStatus, String) {
    let mut command = command(name, dir, &["--host", "127.0.0.1", "--port", "0"], env);
    command.stdout(Stdio::piped());
    let child = command.spawn().expect("spawn the server");
    let output = tokio::time::timeout(TIMEOUT, child.wait_with_output())
        .await
        .expect("the process did not exit")
        .expect("wait for the process");
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
    fn collect(stream: impl AsyncRead + Unpin + Send + 'static) -> Logs {
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
    pub fn text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// Every JSON line so far.
    pub fn events(&self) -> Vec<Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Every event of `event_type`.
    pub fn of_type(&self, event_type: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event_type"] == event_type)
            .collect()
    }

    /// Waits (bounded) until `matches` holds for the events so far; returns them.
    pub async fn wait_until(&self, what: &str, matches: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let mut count = self.count.clone();
        let found = tokio::time::timeout(TIMEOUT, async {
            loop {
                let events = self.events();
                if matches(&events) {
                    return Some(events);
                }
                let closed = count.borrow_and_update().1;
                if closed || count.changed().await.is_err() {
                    let events = self.events();
                    return matches(&events).then_some(events);
                }
            }
        })
        .await;
        match found {
            Ok(Some(events)) => events,
            Ok(None) => panic!("stderr closed before {what}; it had:\n{}", self.text()),
            Err(_) => panic!("no {what} within {TIMEOUT:?}; stderr had:\n{}", self.text()),
        }
    }

    /// Waits for the first event matching `matches`.
    pub async fn wait_for(&self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let events = self
            .wait_until(what, |events| events.iter().any(&matches))
            .await;
        events.into_iter().find(|e| matches(e)).unwrap()
    }

    /// Waits for the first event of `event_type` whose `data.target` is `target` (any when empty).
    pub async fn wait_event(&self, event_type: &str, target: &str) -> Value {
        self.wait_for(&format!("`{event_type}` event ({target})"), |e| {
            e["event_type"] == event_type && (target.is_empty() || e["data"]["target"] == target)
        })
        .await
    }
}

/// A server process serving HTTP on a loopback port.
pub struct Process {
    /// The process; killed when dropped.
    pub child: Child,
    /// Its stderr.
    pub logs: Logs,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    http: reqwest::Client,
}

impl Process {
    /// Starts `name` in `dir` with `env`, on an ephemeral port; waits until it serves.
    pub async fn start(name: &str, dir: &Path, env: &[(&str, &str)]) -> Process {
        let mut child = command(name, dir, &["--host", "127.0.0.1", "--port", "0"], env)
            .spawn()
            .expect("spawn the server");
        let logs = Logs::collect(child.stderr.take().expect("stderr is piped"));
        let ready = logs
            .wait_for("`service.init.complete` with the address", |e| {
                e["event_type"] == "service.init.complete" && e["data"]["address"].is_string()
            })
            .await;
        let base = format!("http://{}", ready["data"]["address"].as_str().unwrap());
        Process {
            child,
            logs,
            base,
            http: reqwest::Client::new(),
        }
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
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let doc = self.health().await;
            if matches(&doc) {
                return doc;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "/health never showed {what} within {within:?}; last: {doc}\nstderr:\n{}",
                self.logs.text()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// An MCP client connected over streamable HTTP.
    pub async fn client(&self) -> Client {
        let transport = StreamableHttpClientTransport::from_uri(format!("{}/mcp", self.base));
        tokio::time::timeout(TIMEOUT, ().serve(transport))
            .await
            .expect("initialize timed out")
            .expect("initialize")
    }
}

/// Calls `tool` with `arguments`; returns (is_error, text).
pub async fn call(client: &Client, tool: &str, arguments: Value) -> (bool, String) {
    let Value::Object(arguments) = arguments else {
        panic!("arguments must be an object")
    };
    let result = tokio::time::timeout(
        TIMEOUT,
        client.call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments)),
    )
    .await
    .expect("the call timed out")
    .expect("tools/call");
    let text = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("");
    (result.is_error == Some(true), text)
}

/// Reads a JSON resource.
pub async fn read_json(client: &Client, uri: &str) -> Value {
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
    client: &Client,
    uri: &str,
    within: Duration,
    matches: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let value = read_json(client, uri).await;
        if matches(&value) {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{uri} never matched within {within:?}; last: {value}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A port on 127.0.0.1 that was free a moment ago, for a stand-in started later.
pub fn reserve_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a loopback port")
        .port()
}

/// One request the stand-in received: `GET`, `PATCH`, or `WS` (a websocket subscription).
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `PATCH` or `WS`.
    pub method: String,
    /// The request path.
    pub path: String,
    /// The JSON body of a `PATCH`.
    pub body: Option<Value>,
}

enum Push {
    Text(String),
    Close,
}

struct ManagerState {
    /// What `GET` answers.
    doc: Value,
    requests: Vec<Recorded>,
    /// Answers for the next `PATCH`es (status, body); 200 with the stored doc when empty.
    patch_answers: VecDeque<(StatusCode, Value)>,
    get_delay: Option<Duration>,
    refuse_realtime: bool,
}

#[derive(Clone)]
struct Shared {
    state: Arc<Mutex<ManagerState>>,
    changes: watch::Sender<u64>,
    pushes: broadcast::Sender<Arc<Push>>,
}

impl Shared {
    fn record(&self, method: &str, path: &str, body: Option<Value>) {
        self.state.lock().unwrap().requests.push(Recorded {
            method: method.into(),
            path: path.into(),
            body,
        });
        self.changes.send_modify(|n| *n += 1);
    }
}

/// The config manager (`GET`/`PATCH {base}/internal/{service}`) and the realtime service
/// (websocket `{base}/internal/{service}`), on loopback.
pub struct Manager {
    /// `http://127.0.0.1:PORT`: for `MANAGER_URL`.
    pub url: String,
    /// `ws://127.0.0.1:PORT`: for `REALTIME_URL`.
    pub realtime_url: String,
    shared: Shared,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Manager {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Manager {
    /// A stand-in whose `GET` answers `doc`, on ephemeral ports.
    pub async fn start(doc: Value) -> Manager {
        Manager::start_on(0, 0, doc).await
    }

    /// A stand-in on the given ports (0: any).
    pub async fn start_on(manager_port: u16, realtime_port: u16, doc: Value) -> Manager {
        let shared = Shared {
            state: Arc::new(Mutex::new(ManagerState {
                doc,
                requests: Vec::new(),
                patch_answers: VecDeque::new(),
                get_delay: None,
                refuse_realtime: false,
            })),
            changes: watch::Sender::new(0),
            pushes: broadcast::channel(16).0,
        };
        let manager = Router::new()
            .route("/internal/{service}", get(get_doc).patch(patch_doc))
            .with_state(shared.clone());
        let realtime = Router::new()
            .route("/internal/{service}", get(subscribe))
            .with_state(shared.clone());
        let (manager_addr, manager_task) = serve(manager_port, manager).await;
        let (realtime_addr, realtime_task) = serve(realtime_port, realtime).await;
        Manager {
            url: format!("http://{manager_addr}"),
            realtime_url: format!("ws://{realtime_addr}"),
            shared,
            tasks: vec![manager_task, realtime_task],
        }
    }

    /// The env vars pointing a server at this stand-in as `service`.
    pub fn env<'a>(&'a self, service: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("SERVICE_NAME", service),
            ("MANAGER_URL", self.url.as_str()),
            ("REALTIME_URL", self.realtime_url.as_str()),
        ]
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.state.lock().unwrap().requests.clone()
    }

    /// The methods of every request so far, e.g. `["GET", "PATCH", "GET", "WS"]`.
    pub fn methods(&self) -> Vec<String> {
        self.requests().into_iter().map(|r| r.method).collect()
    }

    /// Waits (bounded) until the recorded methods satisfy `matches`.
    pub async fn wait_methods(&self, what: &str, matches: impl Fn(&[String]) -> bool) {
        let mut changes = self.shared.changes.subscribe();
        let waited = tokio::time::timeout(TIMEOUT, async {
            loop {
                if matches(&self.methods()) {
                    return;
                }
                if changes.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        assert!(
            waited.is_ok() && matches(&self.methods()),
            "the stand-in never saw {what}; requests: {:?}",
            self.methods()
        );
    }

    /// Waits until the service has subscribed `n` times in all.
    pub async fn wait_subscribed(&self, n: usize) {
        self.wait_methods(&format!("{n} websocket subscriptions"), |m| {
            m.iter().filter(|m| *m == "WS").count() >= n
        })
        .await;
    }

    /// Answers the next `PATCH`es with these statuses and bodies.
    pub fn answer_patches(&self, answers: Vec<(u16, Value)>) {
        self.shared.state.lock().unwrap().patch_answers = answers
            .into_iter()
            .map(|(s, b)| (StatusCode::from_u16(s).unwrap(), b))
            .collect();
    }

    /// Delays every `GET` answer.
    pub fn delay_gets(&self, delay: Option<Duration>) {
        self.shared.state.lock().unwrap().get_delay = delay;
    }

    /// Answers websocket subscriptions with 503 while `refuse`.
    pub fn refuse_realtime(&self, refuse: bool) {
        self.shared.state.lock().unwrap().refuse_realtime = refuse;
    }

    /// Replaces the stored connectors block and pushes it, as the manager does when a connector is
    /// assigned in the UI.
    pub fn push_connectors(&self, block: Value) {
        self.shared.state.lock().unwrap().doc["connectors"] = block.clone();
        self.push_raw(json!({"payload": {"connectors": block}}).to_string());
    }

    /// Replaces the stored connectors block without pushing it (an update the service misses).
    pub fn set_connectors(&self, block: Value) {
        self.shared.state.lock().unwrap().doc["connectors"] = block;
    }

    /// Replaces the stored config and pushes it.
    pub fn push_config(&self, config: Value) {
        self.shared.state.lock().unwrap().doc["config"] = config.clone();
        self.push_raw(json!({"payload": {"config": config}}).to_string());
    }

    /// Sends `text` to every subscribed socket.
    pub fn push_raw(&self, text: String) {
        let _ = self.shared.pushes.send(Arc::new(Push::Text(text)));
    }

    /// Closes every subscribed socket.
    pub fn drop_sockets(&self) {
        let _ = self.shared.pushes.send(Arc::new(Push::Close));
    }
}

async fn serve(port: u16, router: Router) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind the stand-in");
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (addr, task)
}

async fn get_doc(State(shared): State<Shared>, uri: Uri) -> Json<Value> {
    shared.record("GET", uri.path(), None);
    let delay = shared.state.lock().unwrap().get_delay;
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    Json(shared.state.lock().unwrap().doc.clone())
}

async fn patch_doc(State(shared): State<Shared>, uri: Uri, body: Json<Value>) -> Response {
    shared.record("PATCH", uri.path(), Some(body.0.clone()));
    let mut state = shared.state.lock().unwrap();
    if let Some((status, answer)) = state.patch_answers.pop_front() {
        return (status, Json(answer)).into_response();
    }
    // Like the manager: keep the config and schema, keep assignments already made.
    state.doc["config"] = body["config"].clone();
    state.doc["config_schema"] = body["config_schema"].clone();
    if state.doc["connectors"].is_null() {
        state.doc["connectors"] = body["connectors"].clone();
    }
    (StatusCode::OK, Json(state.doc.clone())).into_response()
}

async fn subscribe(State(shared): State<Shared>, uri: Uri, upgrade: WebSocketUpgrade) -> Response {
    if shared.state.lock().unwrap().refuse_realtime {
        shared.record("WS-REFUSED", uri.path(), None);
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let path = uri.path().to_string();
    upgrade.on_upgrade(move |socket| follow(shared, path, socket))
}

async fn follow(shared: Shared, path: String, mut socket: WebSocket) {
    let mut pushes = shared.pushes.subscribe();
    // Recorded once subscribed to pushes, so that a test waiting for "WS" can push right away.
    shared.record("WS", &path, None);
    loop {
        tokio::select! {
            push = pushes.recv() => match push.as_deref() {
                Ok(Push::Text(text)) => {
                    if socket.send(Message::Text(text.clone().into())).await.is_err() {
                        return;
                    }
                }
                Ok(Push::Close) | Err(_) => {
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
            },
            incoming = socket.recv() => if incoming.is_none() || matches!(incoming, Some(Err(_))) {
                return;
            },
        }
    }
}

/// A connectors block assigning `stack_id` to my-service's `MYSERVICE` connector (null: none).
pub fn my_service_block(stack_id: Option<&str>) -> Value {
    json!({
        "connectors": [{
            "type": "api",
            "label": "My Service",
            "config_id": "MYSERVICE",
            "stack_id": stack_id,
            "deployment_name": stack_id.map(|s| format!("deployment of {s}")),
        }],
        "array_connectors": null,
    })
}
