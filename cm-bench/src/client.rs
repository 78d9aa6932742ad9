//! Minimal MCP clients for load generation: streamable HTTP over one HTTP/1.1 connection per client
//! (hyper, TCP_NODELAY), and stdio over a child process's pipes. They do the initialize handshake
//! like any client, then send `tools/call` requests and read only what they need of each answer.
//! Under protocol 2026-07-28, which has no `initialize` and no sessions, the HTTP client sends every
//! request on its own: the `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers and the
//! request `_meta` the revision requires.

use std::{
    collections::HashMap,
    process::Stdio,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context as _, anyhow, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{
    Request, Uri,
    client::conn::http1::SendRequest,
    header::{ACCEPT, CONTENT_TYPE, HOST, HeaderName, HeaderValue},
};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, de::IgnoredAny};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
    process::{Child, ChildStdin, Command},
    sync::oneshot,
};

/// The protocol version the clients ask for in `initialize` (the newest one that still has it).
pub const DEFAULT_PROTOCOL_VERSION: &str = "2025-11-25";

/// The first protocol revision without `initialize` or sessions: every request stands alone.
pub const PROTOCOL_2026: &str = "2026-07-28";

/// Whether `version` begins with the initialize handshake (every revision before 2026-07-28;
/// revisions are dates, so they compare as strings).
pub fn has_initialize(version: &str) -> bool {
    version < PROTOCOL_2026
}

const MCP_METHOD: HeaderName = HeaderName::from_static("mcp-method");
const MCP_NAME: HeaderName = HeaderName::from_static("mcp-name");
const MCP_PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");
const MCP_SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");

/// How long to wait for the rest of an SSE response after its answer arrived before giving up on
/// reusing the connection.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// The tool call every client repeats.
#[derive(Debug, Clone)]
pub struct CallSpec {
    /// The tool's name.
    pub tool: String,
    /// Its `arguments` object.
    pub arguments: serde_json::Value,
    /// When set, a result whose text content differs counts as an error.
    pub expect_text: Option<String>,
    /// Text the result must contain, every piece of it (e.g. a value of the first and of the last
    /// row a query must return), for answers whose exact text differs between servers.
    pub expect_contains: Vec<String>,
    params: String,
    /// The params with the 2026-07-28 request `_meta`, made once.
    params_2026: String,
    /// The `Mcp-Name` header (`None` when the name cannot be sent plainly in a header).
    name_header: Option<HeaderValue>,
}

impl CallSpec {
    /// A call of `tool` with `arguments` (a JSON object).
    pub fn new(
        tool: impl Into<String>,
        arguments: serde_json::Value,
        expect_text: Option<String>,
    ) -> anyhow::Result<CallSpec> {
        let tool = tool.into();
        if !arguments.is_object() {
            bail!(
                "tool arguments must be a JSON object, e.g. {{\"input_param\": \"hello\"}}; got {arguments}"
            );
        }
        let params = serde_json::json!({ "name": tool, "arguments": arguments }).to_string();
        let params_2026 = serde_json::json!({
            "name": tool,
            "arguments": arguments,
            "_meta": request_meta(PROTOCOL_2026),
        })
        .to_string();
        // Names outside printable ASCII would need the header's Base64 form, which no tool here has.
        let name_header = tool
            .bytes()
            .all(|b| b.is_ascii_graphic())
            .then(|| HeaderValue::from_str(&tool).ok())
            .flatten();
        Ok(CallSpec {
            tool,
            arguments,
            expect_text,
            expect_contains: Vec::new(),
            params,
            params_2026,
            name_header,
        })
    }

    /// The same call, whose result text must also contain every one of `pieces`.
    pub fn expecting_contains(mut self, pieces: Vec<String>) -> CallSpec {
        self.expect_contains = pieces;
        self
    }

    /// The JSON-RPC request with id `id`.
    fn request(&self, id: u64) -> String {
        format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{}}}"#,
            self.params
        )
    }

    /// The JSON-RPC request with id `id` as a request of `version` (2026-07-28 or later), with the
    /// request `_meta` that revision requires.
    fn request_standalone(&self, id: u64, version: &str) -> String {
        if version == PROTOCOL_2026 {
            return format!(
                r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{}}}"#,
                self.params_2026
            );
        }
        serde_json::json!({
            "jsonrpc": "2.0",
            "id": id,
            "method": "tools/call",
            "params": {
                "name": self.tool,
                "arguments": self.arguments,
                "_meta": request_meta(version),
            },
        })
        .to_string()
    }
}

/// What a 2026-07-28 request carries in its `_meta` instead of an `initialize`: the protocol
/// version, the client and its capabilities (none), and the least severe log level it wants. A
/// legacy session gets every log message until it says otherwise; asking for `info` here gets the
/// same one message per call from every server (without it my-service and FastMCP send none, while
/// bare rmcp sends it regardless).
fn request_meta(version: &str) -> serde_json::Value {
    serde_json::json!({
        "io.modelcontextprotocol/protocolVersion": version,
        "io.modelcontextprotocol/clientInfo": {
            "name": "cm-bench",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/logLevel": "info",
    })
}

fn initialize_request(id: u64, protocol_version: &str) -> String {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": "initialize",
        "params": {
            "protocolVersion": protocol_version,
            "capabilities": {},
            "clientInfo": { "name": "cm-bench", "version": env!("CARGO_PKG_VERSION") },
        },
    })
    .to_string()
}

const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

/// What a call came back with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A successful result (with the expected text, when one was asked for).
    Ok,
    /// A JSON-RPC error, a tool error result, or an unexpected result; the text says which.
    Failed(String),
}

/// The parts of an incoming JSON-RPC message the clients look at; everything else is skipped
/// without being built.
#[derive(Debug, Deserialize)]
pub(crate) struct Incoming {
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    method: Option<IgnoredAny>,
    #[serde(default)]
    result: Option<RpcResult>,
    #[serde(default)]
    error: Option<RpcError>,
}

#[derive(Debug, Deserialize)]
struct RpcResult {
    #[serde(rename = "isError", default)]
    is_error: bool,
    #[serde(rename = "protocolVersion", default)]
    protocol_version: Option<String>,
    /// 2026-07-28: `complete`, or `input_required` for a call that needs the client's input.
    #[serde(rename = "resultType", default)]
    result_type: Option<String>,
    #[serde(default)]
    content: Vec<Content>,
}

#[derive(Debug, Deserialize)]
struct Content {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RpcError {
    code: i64,
    message: String,
}

impl Incoming {
    fn parse(raw: &[u8]) -> Option<Incoming> {
        serde_json::from_slice(raw).ok()
    }

    /// Whether this is the response (result or error) to request `id`.
    fn answers(&self, id: u64) -> bool {
        self.method.is_none() && self.id.as_ref().and_then(serde_json::Value::as_u64) == Some(id)
    }

    fn text(&self) -> String {
        self.result
            .as_ref()
            .map(|r| {
                r.content
                    .iter()
                    .filter_map(|c| c.text.as_deref())
                    .collect::<Vec<_>>()
                    .join("")
            })
            .unwrap_or_default()
    }

    /// Judges a `tools/call` response.
    pub(crate) fn outcome(&self, expect_text: Option<&str>) -> Outcome {
        if let Some(error) = &self.error {
            return Outcome::Failed(format!("JSON-RPC error {}: {}", error.code, error.message));
        }
        let Some(result) = &self.result else {
            return Outcome::Failed("a response with neither result nor error".into());
        };
        if result.is_error {
            return Outcome::Failed(format!("tool error: {}", self.text()));
        }
        if let Some(kind) = result.result_type.as_deref().filter(|k| *k != "complete") {
            return Outcome::Failed(format!("result type {kind:?}, not a complete result"));
        }
        if let Some(expected) = expect_text {
            let text = self.text();
            if text != expected {
                return Outcome::Failed(format!("result {text:?}, expected {expected:?}"));
            }
        }
        Outcome::Ok
    }

    /// Judges a `tools/call` response against everything `spec` expects of it.
    pub(crate) fn judged(&self, spec: &CallSpec) -> Outcome {
        let outcome = self.outcome(spec.expect_text.as_deref());
        if outcome != Outcome::Ok || spec.expect_contains.is_empty() {
            return outcome;
        }
        let text = self.text();
        match spec
            .expect_contains
            .iter()
            .find(|p| !text.contains(p.as_str()))
        {
            Some(missing) => {
                // The start is enough to see what came instead; a result may be long.
                let start: String = text.chars().take(200).collect();
                Outcome::Failed(format!("result {start:?}... does not contain {missing:?}"))
            }
            None => Outcome::Ok,
        }
    }

    /// Checks an `initialize` response and returns the protocol version the server chose.
    fn initialized(self) -> anyhow::Result<String> {
        if let Some(error) = self.error {
            bail!(
                "the server refused initialize: JSON-RPC error {}: {}",
                error.code,
                error.message
            );
        }
        self.result
            .and_then(|r| r.protocol_version)
            .context("the initialize result has no protocolVersion: is this an MCP server?")
    }
}

/// Splits a `text/event-stream` body into the `data` of its events, across chunk boundaries.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    buf: Vec<u8>,
    data: Vec<u8>,
}

impl SseParser {
    /// Feeds a chunk; returns the data of every event it completed.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Vec<Vec<u8>> {
        self.buf.extend_from_slice(chunk);
        let mut events = Vec::new();
        let mut start = 0;
        while let Some(pos) = self.buf[start..].iter().position(|&b| b == b'\n') {
            let mut line = &self.buf[start..start + pos];
            start += pos + 1;
            if let Some(stripped) = line.strip_suffix(b"\r") {
                line = stripped;
            }
            if line.is_empty() {
                if !self.data.is_empty() {
                    self.data.pop(); // the newline after the last data line
                    events.push(std::mem::take(&mut self.data));
                }
            } else if let Some(value) = line.strip_prefix(b"data:") {
                self.data
                    .extend_from_slice(value.strip_prefix(b" ").unwrap_or(value));
                self.data.push(b'\n');
            }
            // `event:`, `id:`, `retry:` and comments do not matter here.
        }
        self.buf.drain(..start);
        events
    }
}

/// An MCP endpoint over streamable HTTP (`http://` only: this is for loopback benchmarks).
#[derive(Debug, Clone)]
pub struct HttpEndpoint {
    /// The URL as given.
    pub url: String,
    connect: String,
    host: HeaderValue,
    path: String,
}

impl HttpEndpoint {
    /// Parses `http://host:port/path`.
    pub fn parse(url: &str) -> anyhow::Result<HttpEndpoint> {
        let uri: Uri = url
            .parse()
            .with_context(|| format!("`{url}` is not a URL; use e.g. http://127.0.0.1:8080/mcp"))?;
        if uri.scheme_str() != Some("http") {
            bail!(
                "`{url}`: only http:// URLs are supported (the load generator is for local servers)"
            );
        }
        let authority = uri
            .authority()
            .with_context(|| format!("`{url}` has no host"))?;
        let port = authority.port_u16().unwrap_or(80);
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let connect = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        Ok(HttpEndpoint {
            url: url.to_string(),
            connect,
            host: HeaderValue::from_str(authority.as_str())?,
            path: uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
        })
    }
}

type Sender = SendRequest<Full<Bytes>>;

async fn connect(endpoint: &HttpEndpoint) -> anyhow::Result<Sender> {
    let stream = TcpStream::connect(&endpoint.connect)
        .await
        .with_context(|| format!("cannot connect to {}", endpoint.url))?;
    // Without it, requests written in pieces wait for delayed ACKs just like responses do.
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// What one POST brought back.
struct Reply {
    /// When the answer was complete (the matching SSE event or the whole JSON body).
    at: Instant,
    session: Option<HeaderValue>,
    message: Option<Incoming>,
}

/// One MCP client over streamable HTTP, with its own connection (reconnected after a failure) and,
/// when the server hands one out, its own session.
pub struct HttpClient {
    endpoint: Arc<HttpEndpoint>,
    sender: Option<Sender>,
    session: Option<HeaderValue>,
    protocol: Option<HeaderValue>,
    /// Requests stand alone (protocol 2026-07-28 and later): no session, `_meta` on each.
    standalone: bool,
    next_id: u64,
    timeout: Duration,
}

impl HttpClient {
    /// A client for `endpoint`; it connects on first use. `timeout` bounds every request.
    pub fn new(endpoint: Arc<HttpEndpoint>, timeout: Duration) -> HttpClient {
        HttpClient {
            endpoint,
            sender: None,
            session: None,
            protocol: None,
            standalone: false,
            next_id: 1,
            timeout,
        }
    }

    /// The session the server gave this client, if any (a stateless server gives none).
    pub fn session_id(&self) -> Option<&str> {
        self.session.as_ref().and_then(|s| s.to_str().ok())
    }

    /// Closes the connection; the session stays (the next call reconnects and goes on using it).
    pub fn disconnect(&mut self) {
        self.sender = None;
    }

    /// Starts speaking `protocol_version`: the initialize handshake for revisions that have it;
    /// for 2026-07-28 and later nothing is sent, every call then carries what the revision needs.
    pub async fn begin(&mut self, protocol_version: &str) -> anyhow::Result<()> {
        if has_initialize(protocol_version) {
            return self.initialize(protocol_version).await;
        }
        self.protocol = Some(HeaderValue::from_str(protocol_version)?);
        self.standalone = true;
        Ok(())
    }

    /// `initialize` then `notifications/initialized`, as every MCP client starts.
    pub async fn initialize(&mut self, protocol_version: &str) -> anyhow::Result<()> {
        let id = self.take_id();
        let reply = self
            .post(initialize_request(id, protocol_version), Some(id), None)
            .await
            .context("initialize failed")?;
        let version = reply
            .message
            .context("no initialize response")?
            .initialized()?;
        self.session = reply.session;
        self.protocol = Some(HeaderValue::from_str(&version)?);
        self.post(INITIALIZED.to_string(), None, None)
            .await
            .context("notifications/initialized failed")?;
        Ok(())
    }

    /// One `tools/call`: when its answer arrived, and what it was. `Err` is a transport failure
    /// (the connection is then dropped and made anew by the next call).
    pub async fn call(&mut self, spec: &CallSpec) -> anyhow::Result<(Instant, Outcome)> {
        let id = self.take_id();
        let reply = if self.standalone {
            let version = self
                .protocol
                .as_ref()
                .and_then(|v| v.to_str().ok())
                .unwrap_or(PROTOCOL_2026);
            let body = spec.request_standalone(id, version);
            self.post(body, Some(id), Some(spec)).await?
        } else {
            self.post(spec.request(id), Some(id), None).await?
        };
        let message = reply
            .message
            .context("the server sent no answer to tools/call")?;
        Ok((reply.at, message.judged(spec)))
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// POSTs `body`; `call` is the tool call it carries, for the headers of a standalone request.
    async fn post(
        &mut self,
        body: String,
        answer_to: Option<u64>,
        call: Option<&CallSpec>,
    ) -> anyhow::Result<Reply> {
        let mut builder = Request::post(self.endpoint.path.as_str())
            .header(HOST, self.endpoint.host.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json, text/event-stream");
        if let Some(session) = &self.session {
            builder = builder.header(MCP_SESSION_ID, session.clone());
        }
        if let Some(protocol) = &self.protocol {
            builder = builder.header(MCP_PROTOCOL_VERSION, protocol.clone());
        }
        if let Some(call) = call.filter(|_| self.standalone) {
            let name = call.name_header.clone().with_context(|| {
                format!(
                    "the tool name {:?} cannot go in an Mcp-Name header as it is",
                    call.tool
                )
            })?;
            builder = builder
                .header(MCP_METHOD, HeaderValue::from_static("tools/call"))
                .header(MCP_NAME, name);
        }
        let request = builder.body(Full::new(Bytes::from(body)))?;
        let timeout = self.timeout;
        match tokio::time::timeout(timeout, self.exchange(request, answer_to)).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(error)) => {
                self.sender = None;
                Err(error)
            }
            Err(_) => {
                self.sender = None;
                Err(anyhow!("no answer within {timeout:?}"))
            }
        }
    }

    async fn exchange(
        &mut self,
        request: Request<Full<Bytes>>,
        answer_to: Option<u64>,
    ) -> anyhow::Result<Reply> {
        let sender = match &mut self.sender {
            Some(sender) if !sender.is_closed() => sender,
            slot => slot.insert(connect(&self.endpoint).await?),
        };
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let session = response.headers().get(MCP_SESSION_ID).cloned();
        let sse = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let mut body = response.into_body();
        if !status.is_success() {
            let bytes = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
            bail!("HTTP {status}: {text}");
        }
        let Some(id) = answer_to else {
            // A notification: 202 Accepted with no body is the norm.
            body.collect().await?;
            return Ok(Reply {
                at: Instant::now(),
                session,
                message: None,
            });
        };
        if !sse {
            let bytes = body.collect().await?.to_bytes();
            let at = Instant::now();
            let message = Incoming::parse(&bytes).filter(|m| m.answers(id));
            if message.is_none() {
                bail!(
                    "HTTP {status} without the answer to request {id}: {}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
                );
            }
            return Ok(Reply {
                at,
                session,
                message,
            });
        }
        let mut parser = SseParser::default();
        let mut answer: Option<(Instant, Incoming)> = None;
        loop {
            let frame = if answer.is_some() {
                // The server normally ends the stream right after the answer; one that keeps it
                // open costs the connection, not the call.
                match tokio::time::timeout(DRAIN_TIMEOUT, body.frame()).await {
                    Ok(frame) => frame,
                    Err(_) => {
                        self.sender = None;
                        break;
                    }
                }
            } else {
                body.frame().await
            };
            let Some(frame) = frame else { break };
            let Ok(data) = frame?.into_data() else {
                continue;
            };
            for event in parser.feed(&data) {
                if answer.is_none()
                    && let Some(message) = Incoming::parse(&event).filter(|m| m.answers(id))
                {
                    answer = Some((Instant::now(), message));
                }
            }
        }
        let (at, message) = answer.with_context(|| {
            format!("HTTP {status}: the event stream ended without the answer to request {id}")
        })?;
        Ok(Reply {
            at,
            session,
            message: Some(message),
        })
    }
}

/// Where a stdio server's stderr goes.
#[derive(Debug, Clone)]
pub enum StderrTo {
    /// Discarded.
    Null,
    /// Appended to a file.
    File(std::path::PathBuf),
    /// This process's stderr.
    Inherit,
}

impl StderrTo {
    /// The `Stdio` for a child.
    pub fn stdio(&self) -> anyhow::Result<Stdio> {
        Ok(match self {
            StderrTo::Null => Stdio::null(),
            StderrTo::Inherit => Stdio::inherit(),
            StderrTo::File(path) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?,
            ),
        })
    }
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<(Instant, Incoming)>>>>;

/// An MCP server running as a child process, spoken to over its stdin/stdout. Any number of tasks
/// may call it at once: requests are matched to answers by id.
pub struct StdioServer {
    child: Child,
    stdin: tokio::sync::Mutex<Option<ChildStdin>>,
    pending: Pending,
    next_id: AtomicU64,
    timeout: Duration,
}

impl StdioServer {
    /// Starts `command` (its stdin and stdout are replaced by pipes) and performs the initialize
    /// handshake.
    pub async fn start(
        command: std::process::Command,
        protocol_version: &str,
        timeout: Duration,
    ) -> anyhow::Result<StdioServer> {
        let shown = format!("{command:?}");
        let mut child = Command::from(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {shown}"))?;
        let stdin = child.stdin.take().context("no stdin pipe")?;
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let pending: Pending = Arc::default();
        let reader_pending = pending.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let at = Instant::now();
                let Some(message) = Incoming::parse(&line) else {
                    continue;
                };
                let Some(id) = message
                    .id
                    .as_ref()
                    .and_then(serde_json::Value::as_u64)
                    .filter(|_| message.method.is_none())
                else {
                    continue; // notifications (and requests from the server) are not waited for
                };
                let waiter = reader_pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
                if let Some(waiter) = waiter {
                    let _ = waiter.send((at, message));
                }
            }
            // Whoever still waits learns that the server is gone.
            reader_pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
        });
        let server = StdioServer {
            child,
            stdin: tokio::sync::Mutex::new(Some(stdin)),
            pending,
            next_id: AtomicU64::new(1),
            timeout,
        };
        let id = server.take_id();
        let (_, message) = server
            .request(id, initialize_request(id, protocol_version))
            .await
            .context("initialize failed")?;
        message.initialized()?;
        server.send_line(INITIALIZED.to_string()).await?;
        Ok(server)
    }

    /// The child's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    fn take_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    async fn send_line(&self, mut line: String) -> anyhow::Result<()> {
        line.push('\n');
        let mut stdin = self.stdin.lock().await;
        let pipe = stdin.as_mut().context("the server's stdin is closed")?;
        pipe.write_all(line.as_bytes())
            .await
            .context("cannot write to the server's stdin (did it exit?)")
    }

    async fn request(&self, id: u64, line: String) -> anyhow::Result<(Instant, Incoming)> {
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, tx);
        let result = async {
            self.send_line(line).await?;
            match tokio::time::timeout(self.timeout, rx).await {
                Ok(Ok(answer)) => Ok(answer),
                Ok(Err(_)) => Err(anyhow!("the server closed its stdout (did it exit?)")),
                Err(_) => Err(anyhow!("no answer within {:?}", self.timeout)),
            }
        }
        .await;
        if result.is_err() {
            self.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
        }
        result
    }

    /// One `tools/call`: when its answer arrived, and what it was; `Err` is a transport failure.
    pub async fn call(&self, spec: &CallSpec) -> anyhow::Result<(Instant, Outcome)> {
        let id = self.take_id();
        let (at, message) = self.request(id, spec.request(id)).await?;
        Ok((at, message.judged(spec)))
    }

    /// Closes stdin (the MCP way to end a stdio session) and waits for the exit; kills the child
    /// after `grace`.
    pub async fn stop(mut self, grace: Duration) {
        self.stdin.lock().await.take();
        if tokio::time::timeout(grace, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_across_chunks() {
        let mut p = SseParser::default();
        assert!(p.feed(b"event: message\r\nid: 0\r\nda").is_empty());
        assert!(p.feed(b"ta: {\"a\":").is_empty());
        let events = p.feed(b"1}\r\n\r\n: comment\n\ndata: x\ndata:y\n\n");
        assert_eq!(events, vec![b"{\"a\":1}".to_vec(), b"x\ny".to_vec()]);
        assert!(
            p.feed(b"retry: 3000\n\n").is_empty(),
            "an event without data is not one"
        );
    }

    #[test]
    fn classifies_answers() {
        let ok = br#"{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"Processed: hi"}],"isError":false}}"#;
        let m = Incoming::parse(ok).unwrap();
        assert!(m.answers(7) && !m.answers(8));
        assert_eq!(m.outcome(None), Outcome::Ok);
        assert_eq!(m.outcome(Some("Processed: hi")), Outcome::Ok);
        assert!(
            matches!(m.outcome(Some("other")), Outcome::Failed(t) if t.contains("expected \"other\""))
        );

        let tool_error = br#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"boom"}],"isError":true}}"#;
        assert_eq!(
            Incoming::parse(tool_error).unwrap().outcome(None),
            Outcome::Failed("tool error: boom".into())
        );
        let rpc_error =
            br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"unknown tool"}}"#;
        assert_eq!(
            Incoming::parse(rpc_error).unwrap().outcome(None),
            Outcome::Failed("JSON-RPC error -32602: unknown tool".into())
        );
        let rows = CallSpec::new("execute_sql", serde_json::json!({}), None)
            .unwrap()
            .expecting_contains(vec!["Processed".into(), ": hi".into()]);
        assert_eq!(m.judged(&rows), Outcome::Ok);
        let missing = rows.expecting_contains(vec!["hi".into(), "item-010".into()]);
        assert!(
            matches!(m.judged(&missing), Outcome::Failed(t) if t.contains("does not contain \"item-010\"")),
            "{:?}",
            m.judged(&missing)
        );
        let notification = br#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}"#;
        assert!(!Incoming::parse(notification).unwrap().answers(1));
        let request = br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
        assert!(!Incoming::parse(request).unwrap().answers(1));
    }

    #[test]
    fn initialize_answers() {
        let ok = br#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-11-25","capabilities":{}}}"#;
        assert_eq!(
            Incoming::parse(ok).unwrap().initialized().unwrap(),
            "2025-11-25"
        );
        let refused = br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"no"}}"#;
        let err = Incoming::parse(refused).unwrap().initialized().unwrap_err();
        assert!(err.to_string().contains("refused initialize"), "{err}");
    }

    #[test]
    fn endpoints() {
        let e = HttpEndpoint::parse("http://127.0.0.1:8080/mcp").unwrap();
        assert_eq!(
            (e.connect.as_str(), e.path.as_str()),
            ("127.0.0.1:8080", "/mcp")
        );
        assert_eq!(e.host, "127.0.0.1:8080");
        let e = HttpEndpoint::parse("http://[::1]:9/").unwrap();
        assert_eq!(e.connect, "[::1]:9");
        assert!(HttpEndpoint::parse("https://example.com/mcp").is_err());
        assert!(HttpEndpoint::parse("not a url").is_err());
    }

    #[test]
    fn call_requests() {
        let spec =
            CallSpec::new("my_tool", serde_json::json!({"input_param": "a\"b"}), None).unwrap();
        let request: serde_json::Value = serde_json::from_str(&spec.request(3)).unwrap();
        assert_eq!(request["id"], 3);
        assert_eq!(request["params"]["arguments"]["input_param"], "a\"b");
        assert!(CallSpec::new("t", serde_json::json!([1]), None).is_err());
    }

    #[test]
    fn a_2026_request_carries_the_meta_its_revision_requires() {
        let spec = CallSpec::new("my_tool", serde_json::json!({"input_param": "a"}), None).unwrap();
        for version in [PROTOCOL_2026, "2027-01-01"] {
            let request: serde_json::Value =
                serde_json::from_str(&spec.request_standalone(9, version)).unwrap();
            assert_eq!(request["id"], 9);
            assert_eq!(request["method"], "tools/call");
            assert_eq!(request["params"]["arguments"]["input_param"], "a");
            let meta = &request["params"]["_meta"];
            assert_eq!(meta["io.modelcontextprotocol/protocolVersion"], version);
            assert_eq!(
                meta["io.modelcontextprotocol/clientInfo"]["name"],
                "cm-bench"
            );
            assert!(meta["io.modelcontextprotocol/clientCapabilities"].is_object());
            assert_eq!(meta["io.modelcontextprotocol/logLevel"], "info");
        }
        assert_eq!(spec.name_header.as_ref().unwrap(), "my_tool");
        let odd = CallSpec::new("tööl", serde_json::json!({}), None).unwrap();
        assert!(odd.name_header.is_none());
        assert!(has_initialize(DEFAULT_PROTOCOL_VERSION) && has_initialize("2024-11-05"));
        assert!(!has_initialize(PROTOCOL_2026));
    }

    #[test]
    fn a_result_that_is_not_complete_is_an_error() {
        let complete = br#"{"jsonrpc":"2.0","id":1,"result":{"resultType":"complete","content":[{"type":"text","text":"x"}],"isError":false}}"#;
        assert_eq!(
            Incoming::parse(complete).unwrap().outcome(Some("x")),
            Outcome::Ok
        );
        let input = br#"{"jsonrpc":"2.0","id":1,"result":{"resultType":"input_required","inputRequests":{}}}"#;
        assert!(matches!(
            Incoming::parse(input).unwrap().outcome(None),
            Outcome::Failed(t) if t.contains("input_required")
        ));
    }
}
