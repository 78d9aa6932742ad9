//! The ceiling of the comparison: axum + serde_json answering the same JSON-RPC as an MCP server
//! serving `my_tool`, with no MCP machinery (no rmcp, no service loop, no channels, no per-request
//! tasks). What the machine can do for this request and answer; every other server is measured
//! against it.
//!
//! It still does the work a correct server cannot skip: each request is parsed with serde_json
//! (into small borrowed structs, the arguments included) and each answer serialized from structs;
//! the checks the real servers make on every POST (Host, Accept, Content-Type, the session, the
//! protocol version header, the 2026-07-28 `_meta` keys and `Mcp-Method`/`Mcp-Name` headers) are
//! made too. It answers `initialize`, notifications (202), `ping` and `tools/call` of `my_tool`, and
//! sends the tool's one `notifications/message` wherever a real server's reaches the client
//! (`my_tool_quiet` answers the same without it):
//!
//! - stateful HTTP (legacy sessions): nowhere. rmcp routes a tool's notification to the session's
//!   standalone GET stream, which the load client does not open, so nothing of it goes on the wire;
//!   a server that knows no such stream is open has nothing to build, and this one builds nothing.
//! - stateless HTTP (`--stateless`) and stdio: on the request's own answer, before the result (as
//!   bare rmcp and my-service do: the answer is then an event stream of two events).
//! - protocol 2026-07-28: on the request's answer when its `_meta` asks for log messages at `info` or
//!   below (`io.modelcontextprotocol/logLevel`), as my-service and FastMCP do; cm-bench asks for them.
//!
//! Answers have the shapes the rmcp servers send: an event stream in stateful mode, JSON in
//! stateless mode unless a notification comes first. Not supported: resumption (no priming event, no
//! event ids), the standalone GET stream (405), `logging/setLevel` and every other method (-32601).
//!
//! ```text
//! limit-server [--stdio [--tokio-stdio]] [--port 8080] [--host 127.0.0.1] [--stateless]
//! ```

use std::{
    borrow::Cow,
    collections::HashSet,
    io::{BufRead as _, Write as _},
    sync::{Arc, RwLock},
};

use anyhow::Context as _;
use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
    serve::ListenerExt,
};
use clap::Parser;
use serde::{Deserialize, Serialize, de::IgnoredAny};
use serde_json::value::RawValue;

/// Command-line flags: the same as cm-mcp's servers and bare-rmcp, so the suite starts it alike.
#[derive(Debug, Parser)]
#[command(about = "The limit of cm-bench: axum + serde_json answering my_tool's JSON-RPC")]
struct Cli {
    /// Over stdio: newline-delimited JSON-RPC. Stateless: JSON answers unless a notification
    /// comes first.
    #[command(flatten)]
    flags: cm_bench::servers::ServerFlags,
    /// With --stdio: read and write through tokio's stdin and stdout (which hand every read and
    /// write to its blocking thread pool, as rmcp's stdio transport does) instead of blocking
    /// reads and writes on the main thread. Not the limit: it shows what that hand-off costs.
    #[arg(long, requires = "stdio")]
    tokio_stdio: bool,
}

/// The revisions that have `initialize`, oldest first.
const LEGACY_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
/// The revision without sessions or `initialize`.
const REVISION_2026: &str = "2026-07-28";
// Constants, not `&str`: `HeaderMap::get(&str)` parses and hashes the name on every call.
const SESSION_HEADER: HeaderName = HeaderName::from_static("mcp-session-id");
const VERSION_HEADER: HeaderName = HeaderName::from_static("mcp-protocol-version");
const METHOD_HEADER: HeaderName = HeaderName::from_static("mcp-method");
const NAME_HEADER: HeaderName = HeaderName::from_static("mcp-name");

// JSON-RPC and MCP error codes.
const PARSE_ERROR: i32 = -32700;
const INVALID_REQUEST: i32 = -32600;
const METHOD_NOT_FOUND: i32 = -32601;
const INVALID_PARAMS: i32 = -32602;
const HEADER_MISMATCH: i32 = -32020;

/// One incoming JSON-RPC message, borrowed from the request body where no escapes forbid it.
#[derive(Debug, Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    jsonrpc: Cow<'a, str>,
    /// Absent for notifications; echoed as it came (checked to be a number or a string).
    #[serde(default, borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    method: Cow<'a, str>,
    #[serde(default, borrow)]
    params: Params<'a>,
}

/// The parameters of every method answered here, in one struct so that the body is parsed once.
#[derive(Debug, Default, Deserialize)]
struct Params<'a> {
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    arguments: Option<&'a RawValue>,
    #[serde(rename = "protocolVersion", default, borrow)]
    protocol_version: Option<Cow<'a, str>>,
    #[serde(rename = "clientInfo", default, borrow)]
    client_info: Option<Implementation<'a>>,
    #[serde(default)]
    capabilities: Option<IgnoredAny>,
    #[serde(rename = "_meta", default, borrow)]
    meta: Option<Meta<'a>>,
}

#[derive(Debug, Deserialize)]
struct Implementation<'a> {
    #[serde(borrow)]
    #[allow(dead_code)] // required by the schema, not used
    name: Cow<'a, str>,
    #[serde(borrow)]
    #[allow(dead_code)]
    version: Cow<'a, str>,
}

/// The request `_meta` keys of protocol 2026-07-28.
#[derive(Debug, Deserialize)]
struct Meta<'a> {
    #[serde(rename = "io.modelcontextprotocol/protocolVersion", default, borrow)]
    protocol_version: Option<Cow<'a, str>>,
    #[serde(rename = "io.modelcontextprotocol/clientInfo", default, borrow)]
    client_info: Option<Implementation<'a>>,
    #[serde(rename = "io.modelcontextprotocol/clientCapabilities", default)]
    client_capabilities: Option<IgnoredAny>,
    #[serde(rename = "io.modelcontextprotocol/logLevel", default)]
    log_level: Option<Level>,
}

/// Log levels, least severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Level {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

#[derive(Debug, Deserialize)]
struct MyToolArgs<'a> {
    #[serde(borrow)]
    input_param: Cow<'a, str>,
}

#[derive(Serialize)]
struct Success<'a, R> {
    jsonrpc: &'static str,
    id: &'a RawValue,
    result: R,
}

#[derive(Serialize)]
struct Failure<'a> {
    jsonrpc: &'static str,
    id: Option<&'a RawValue>,
    error: ErrorObject<'a>,
}

#[derive(Serialize)]
struct ErrorObject<'a> {
    code: i32,
    message: Cow<'a, str>,
}

#[derive(Serialize)]
struct InitializeResult<'a> {
    #[serde(rename = "protocolVersion")]
    protocol_version: &'a str,
    capabilities: Capabilities,
    #[serde(rename = "serverInfo")]
    server_info: ServerInfo,
}

#[derive(Serialize)]
struct Capabilities {
    logging: Empty,
    tools: Empty,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct ServerInfo {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct CallResult<'a> {
    #[serde(rename = "resultType", skip_serializing_if = "Option::is_none")]
    result_type: Option<&'static str>,
    content: [TextContent<'a>; 1],
    #[serde(rename = "isError")]
    is_error: bool,
}

#[derive(Serialize)]
struct TextContent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
}

#[derive(Serialize)]
struct Notification<'a, P> {
    jsonrpc: &'static str,
    method: &'a str,
    params: P,
}

#[derive(Serialize)]
struct LogParams<'a> {
    data: &'a str,
    level: &'static str,
}

fn to_json(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(value).expect("these structs always serialize")
}

fn error(id: Option<&RawValue>, code: i32, message: impl Into<Cow<'static, str>>) -> Vec<u8> {
    to_json(&Failure {
        jsonrpc: "2.0",
        id,
        error: ErrorObject {
            code,
            message: message.into(),
        },
    })
}

/// Where the tool's log message goes, by transport and revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Legacy HTTP with sessions: to the standalone GET stream nobody opened, i.e. nowhere.
    Sessions,
    /// Legacy stateless HTTP and stdio: on the request's answer.
    OnTheAnswer,
    /// 2026-07-28: on the answer when the request's `_meta` asks for `info`.
    Revision2026,
}

/// The answer to one request: the tool's log message (if sent), the response, and the HTTP status.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    log: Option<Vec<u8>>,
    response: Vec<u8>,
}

impl Answer {
    fn ok(response: Vec<u8>) -> Answer {
        Answer {
            status: StatusCode::OK,
            log: None,
            response,
        }
    }

    fn refused(status: StatusCode, id: Option<&RawValue>, code: i32, message: &str) -> Answer {
        Answer {
            status,
            log: None,
            response: error(id, code, message.to_string()),
        }
    }
}

/// The protocol version `initialize` settles on: the client's when known, else the newest.
fn negotiate(asked: &str) -> &'static str {
    LEGACY_VERSIONS
        .iter()
        .find(|v| **v == asked)
        .copied()
        .unwrap_or(LEGACY_VERSIONS[LEGACY_VERSIONS.len() - 1])
}

/// Whether the id is one JSON-RPC allows for a request (a number or a string).
fn valid_id(id: &RawValue) -> bool {
    matches!(id.get().as_bytes().first(), Some(b'"' | b'-' | b'0'..=b'9'))
}

/// Answers a request (a message with an id) other than `initialize`.
fn answer(id: &RawValue, message: &Message<'_>, mode: Mode) -> Answer {
    match message.method.as_ref() {
        "tools/call" => call(id, &message.params, mode),
        "ping" => Answer::ok(to_json(&Success {
            jsonrpc: "2.0",
            id,
            result: Empty {},
        })),
        other => Answer::refused(
            if mode == Mode::Revision2026 {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::OK
            },
            Some(id),
            METHOD_NOT_FOUND,
            &format!("method not found: {other}"),
        ),
    }
}

/// `tools/call`: `my_tool(input_param)` logs once and returns `Processed: <input_param>`;
/// `my_tool_quiet` returns the same without logging.
fn call(id: &RawValue, params: &Params<'_>, mode: Mode) -> Answer {
    let quiet = match params.name.as_deref() {
        Some("my_tool") => false,
        Some("my_tool_quiet") => true,
        other => {
            return Answer::refused(
                StatusCode::OK,
                Some(id),
                INVALID_PARAMS,
                &format!("tool not found: {}", other.unwrap_or("")),
            );
        }
    };
    let arguments = params.arguments.map_or("{}", RawValue::get);
    let args: MyToolArgs<'_> = match serde_json::from_str(arguments) {
        Ok(args) => args,
        Err(e) => {
            return Answer::refused(
                StatusCode::OK,
                Some(id),
                INVALID_PARAMS,
                &format!("invalid arguments for my_tool: {e}"),
            );
        }
    };
    let send_log = match mode {
        _ if quiet => false,
        Mode::Sessions => false,
        Mode::OnTheAnswer => true,
        Mode::Revision2026 => params
            .meta
            .as_ref()
            .and_then(|m| m.log_level)
            .is_some_and(|least| least <= Level::Info),
    };
    let log = send_log.then(|| {
        let data = format!(
            "Processing input of {} characters",
            args.input_param.chars().count()
        );
        to_json(&Notification {
            jsonrpc: "2.0",
            method: "notifications/message",
            params: LogParams {
                data: &data,
                level: "info",
            },
        })
    });
    let text = format!("Processed: {}", args.input_param);
    let response = to_json(&Success {
        jsonrpc: "2.0",
        id,
        result: CallResult {
            result_type: (mode == Mode::Revision2026).then_some("complete"),
            content: [TextContent {
                kind: "text",
                text: &text,
            }],
            is_error: false,
        },
    });
    Answer {
        status: StatusCode::OK,
        log,
        response,
    }
}

/// The `initialize` result for the version asked.
fn initialize(id: &RawValue, params: &Params<'_>) -> Answer {
    let (Some(asked), Some(_), Some(_)) = (
        params.protocol_version.as_deref(),
        params.client_info.as_ref(),
        params.capabilities.as_ref(),
    ) else {
        return Answer::refused(
            StatusCode::OK,
            Some(id),
            INVALID_PARAMS,
            "initialize needs protocolVersion, capabilities and clientInfo",
        );
    };
    Answer::ok(to_json(&Success {
        jsonrpc: "2.0",
        id,
        result: InitializeResult {
            protocol_version: negotiate(asked),
            capabilities: Capabilities {
                logging: Empty {},
                tools: Empty {},
            },
            server_info: ServerInfo {
                name: "limit-server",
                version: env!("CARGO_PKG_VERSION"),
            },
        },
    }))
}

/// The 2026-07-28 checks that depend only on the body: the `_meta` keys every request carries.
fn check_meta_2026(id: &RawValue, params: &Params<'_>) -> Result<(), Answer> {
    let meta = params.meta.as_ref();
    let complete = meta.is_some_and(|m| {
        m.protocol_version.as_deref() == Some(REVISION_2026)
            && m.client_info.is_some()
            && m.client_capabilities.is_some()
    });
    if complete {
        Ok(())
    } else {
        Err(Answer::refused(
            StatusCode::BAD_REQUEST,
            Some(id),
            INVALID_PARAMS,
            "a 2026-07-28 request needs io.modelcontextprotocol/protocolVersion, clientInfo and clientCapabilities in its _meta",
        ))
    }
}

struct App {
    stateless: bool,
    sessions: RwLock<HashSet<String>>,
}

fn text(status: StatusCode, body: &'static str) -> Response {
    (status, body).into_response()
}

fn json_body(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// An event stream of the given messages, one `data:` event each, written as one body.
fn sse_body(status: StatusCode, messages: &[&[u8]]) -> Response {
    let mut body = Vec::with_capacity(messages.iter().map(|m| m.len() + 8).sum());
    for message in messages {
        body.extend_from_slice(b"data: ");
        body.extend_from_slice(message);
        body.extend_from_slice(b"\n\n");
    }
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// An answer as the rmcp servers frame it: an event stream when a notification precedes the
/// response or the server is stateful; plain JSON otherwise.
fn framed(answer: Answer, json_allowed: bool) -> Response {
    match answer.log {
        Some(log) => sse_body(answer.status, &[&log, &answer.response]),
        None if json_allowed || answer.status != StatusCode::OK => {
            json_body(answer.status, answer.response)
        }
        None => sse_body(answer.status, &[&answer.response]),
    }
}

/// Whether `Host` names the loopback (rmcp's default DNS-rebinding protection, which cm-mcp keeps).
fn host_allowed(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    matches!(name, "localhost" | "127.0.0.1" | "::1")
}

fn accepts_json_and_sse(headers: &HeaderMap) -> bool {
    let (mut json, mut sse) = (false, false);
    for value in headers.get_all(header::ACCEPT) {
        for essence in value.to_str().unwrap_or("").split(',') {
            let essence = essence.split(';').next().unwrap_or("").trim();
            json |= essence.eq_ignore_ascii_case("application/json");
            sse |= essence.eq_ignore_ascii_case("text/event-stream");
        }
    }
    json && sse
}

fn content_type_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        })
}

fn header_str(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn post(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    if !host_allowed(&headers) {
        return text(StatusCode::FORBIDDEN, "Forbidden: Host not allowed");
    }
    if !accepts_json_and_sse(&headers) {
        return text(
            StatusCode::NOT_ACCEPTABLE,
            "Not Acceptable: Client must accept both application/json and text/event-stream",
        );
    }
    if !content_type_json(&headers) {
        return text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type: Content-Type must be application/json",
        );
    }
    let message: Message<'_> = match serde_json::from_slice(&body) {
        Ok(message) => message,
        Err(e) => {
            return json_body(
                StatusCode::BAD_REQUEST,
                error(None, PARSE_ERROR, format!("parse error: {e}")),
            );
        }
    };
    if message.jsonrpc != "2.0" || message.id.is_some_and(|id| !valid_id(id)) {
        return json_body(
            StatusCode::BAD_REQUEST,
            error(None, INVALID_REQUEST, "not a JSON-RPC 2.0 message"),
        );
    }
    match header_str(&headers, VERSION_HEADER) {
        Some(REVISION_2026) => revision_2026(&app, &headers, &message),
        version => legacy(&app, &headers, &message, version),
    }
}

/// A request of protocol 2026-07-28: no session, everything it needs in its headers and `_meta`.
fn revision_2026(app: &App, headers: &HeaderMap, message: &Message<'_>) -> Response {
    let Some(id) = message.id else {
        return StatusCode::ACCEPTED.into_response();
    };
    if header_str(headers, METHOD_HEADER) != Some(message.method.as_ref()) {
        return framed(
            Answer::refused(
                StatusCode::BAD_REQUEST,
                Some(id),
                HEADER_MISMATCH,
                "missing or mismatched Mcp-Method header",
            ),
            true,
        );
    }
    if message.method == "tools/call"
        && header_str(headers, NAME_HEADER) != message.params.name.as_deref()
    {
        return framed(
            Answer::refused(
                StatusCode::BAD_REQUEST,
                Some(id),
                HEADER_MISMATCH,
                "missing or mismatched Mcp-Name header",
            ),
            true,
        );
    }
    if let Err(refused) = check_meta_2026(id, &message.params) {
        return framed(refused, true);
    }
    framed(answer(id, message, Mode::Revision2026), app.stateless)
}

/// A message of the revisions with `initialize`, with or without sessions.
fn legacy(
    app: &App,
    headers: &HeaderMap,
    message: &Message<'_>,
    version: Option<&str>,
) -> Response {
    if message.method == "initialize" {
        let Some(id) = message.id else {
            return text(
                StatusCode::BAD_REQUEST,
                "Bad Request: initialize needs an id",
            );
        };
        let answer = initialize(id, &message.params);
        if app.stateless || answer.status != StatusCode::OK {
            return framed(answer, app.stateless);
        }
        let session = uuid::Uuid::new_v4().to_string();
        let value = HeaderValue::from_str(&session).expect("a uuid is a header value");
        app.sessions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(session);
        let mut response = framed(answer, false);
        response.headers_mut().insert(SESSION_HEADER, value);
        return response;
    }
    if version.is_some_and(|v| !LEGACY_VERSIONS.contains(&v)) {
        return text(
            StatusCode::BAD_REQUEST,
            "Bad Request: unsupported MCP-Protocol-Version",
        );
    }
    if !app.stateless {
        let Some(session) = header_str(headers, SESSION_HEADER) else {
            return text(
                StatusCode::BAD_REQUEST,
                "Bad Request: Session ID is required",
            );
        };
        let known = app
            .sessions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(session);
        if !known {
            return text(StatusCode::NOT_FOUND, "Not Found: Session not found");
        }
    }
    let Some(id) = message.id else {
        return StatusCode::ACCEPTED.into_response();
    };
    let mode = if app.stateless {
        Mode::OnTheAnswer
    } else {
        Mode::Sessions
    };
    framed(answer(id, message, mode), app.stateless)
}

async fn delete(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let Some(session) = header_str(&headers, SESSION_HEADER) else {
        return text(
            StatusCode::BAD_REQUEST,
            "Bad Request: Session ID is required",
        );
    };
    let removed = app
        .sessions
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .remove(session);
    if removed {
        StatusCode::ACCEPTED.into_response()
    } else {
        text(StatusCode::NOT_FOUND, "Not Found: Session not found")
    }
}

async fn no_stream() -> Response {
    text(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method Not Allowed: this server opens no standalone stream",
    )
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "healthy", "service": "limit-server" }))
}

/// Newline-delimited JSON-RPC on stdin, answers on stdout: one thread, blocking reads, one write
/// (and flush) per answer, as rmcp's stdio transport writes each message.
fn serve_stdio() -> anyhow::Result<()> {
    let mut input = std::io::stdin().lock();
    let mut output = std::io::BufWriter::new(std::io::stdout().lock());
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let Some(reply) = stdio_reply(&line) else {
            continue;
        };
        for message in reply {
            output.write_all(&message)?;
            output.write_all(b"\n")?;
        }
        output.flush()?;
    }
}

/// The lines answering one stdio line (none for a notification or a blank line).
fn stdio_reply(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let message: Message<'_> = match serde_json::from_slice(line) {
        Ok(message) => message,
        Err(e) => return Some(vec![error(None, PARSE_ERROR, format!("parse error: {e}"))]),
    };
    let id = message.id?;
    let answer = if message.method == "initialize" {
        initialize(id, &message.params)
    } else {
        answer(id, &message, Mode::OnTheAnswer)
    };
    Some(answer.log.into_iter().chain([answer.response]).collect())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.flags.stdio && !cli.tokio_stdio {
        return serve_stdio();
    }
    // The same runtime as the other servers' `#[tokio::main]`: one worker per core.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if cli.flags.stdio {
        runtime.block_on(serve_tokio_stdio())
    } else {
        runtime.block_on(serve_http(cli))
    }
}

/// The same loop as [`serve_stdio`] through tokio's stdin and stdout.
async fn serve_tokio_stdio() -> anyhow::Result<()> {
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};
    let mut input = tokio::io::BufReader::new(tokio::io::stdin());
    let mut output = tokio::io::stdout();
    let mut line = Vec::new();
    let mut out = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let Some(reply) = stdio_reply(&line) else {
            continue;
        };
        out.clear();
        for message in reply {
            out.extend_from_slice(&message);
            out.push(b'\n');
        }
        output.write_all(&out).await?;
        output.flush().await?;
    }
}

async fn serve_http(cli: Cli) -> anyhow::Result<()> {
    let app = Arc::new(App {
        stateless: cli.flags.stateless,
        sessions: RwLock::default(),
    });
    let router = Router::new()
        .route("/health", get(health))
        .route(
            "/mcp",
            axum::routing::post(post).get(no_stream).delete(delete),
        )
        .with_state(app);
    let addr = cli.flags.address();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}: choose another --port"))?
        .tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Message<'_> {
        serde_json::from_str(text).unwrap()
    }

    fn json(bytes: &[u8]) -> serde_json::Value {
        serde_json::from_slice(bytes).unwrap()
    }

    const CALL: &str = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"my_tool","arguments":{"input_param":"hé \"x\""}}}"#;

    #[test]
    fn a_call_is_answered_with_the_bytes_bare_rmcp_sends() {
        let message = parse(
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"my_tool","arguments":{"input_param":"hi"}}}"#,
        );
        let answer = answer(message.id.unwrap(), &message, Mode::OnTheAnswer);
        // Both copied from bare-rmcp --stateless's answer (curl).
        assert_eq!(
            String::from_utf8(answer.log.unwrap()).unwrap(),
            r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"Processing input of 2 characters","level":"info"}}"#
        );
        assert_eq!(
            String::from_utf8(answer.response).unwrap(),
            r#"{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"Processed: hi"}],"isError":false}}"#
        );
    }

    #[test]
    fn the_quiet_tool_answers_alike_without_logging() {
        let message = parse(
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"my_tool_quiet","arguments":{"input_param":"hi"}}}"#,
        );
        let answer = answer(message.id.unwrap(), &message, Mode::OnTheAnswer);
        assert!(answer.log.is_none());
        assert_eq!(
            String::from_utf8(answer.response).unwrap(),
            r#"{"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"Processed: hi"}],"isError":false}}"#
        );
    }

    #[test]
    fn escaped_input_is_parsed_and_written_back_escaped() {
        let message = parse(CALL);
        let answer = answer(message.id.unwrap(), &message, Mode::Sessions);
        assert!(answer.log.is_none(), "with sessions the log has no stream");
        let response = json(&answer.response);
        assert_eq!(response["id"], 7);
        assert_eq!(
            response["result"]["content"][0]["text"],
            "Processed: hé \"x\""
        );
    }

    #[test]
    fn the_2026_revision_logs_only_when_the_meta_asks_and_marks_the_result_complete() {
        let with = |level: &str| {
            format!(
                r#"{{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{{"name":"my_tool","arguments":{{"input_param":"abc"}},"_meta":{{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{{"name":"t","version":"1"}},"io.modelcontextprotocol/clientCapabilities":{{}}{level}}}}}}}"#
            )
        };
        for (level, logs) in [
            ("", false),
            (r#","io.modelcontextprotocol/logLevel":"info""#, true),
            (r#","io.modelcontextprotocol/logLevel":"debug""#, true),
            (r#","io.modelcontextprotocol/logLevel":"warning""#, false),
        ] {
            let text = with(level);
            let message = parse(&text);
            let id = message.id.unwrap();
            assert!(check_meta_2026(id, &message.params).is_ok());
            let answer = answer(id, &message, Mode::Revision2026);
            assert_eq!(answer.log.is_some(), logs, "{level}");
            let response = json(&answer.response);
            assert_eq!(response["id"], "a");
            assert_eq!(response["result"]["resultType"], "complete");
        }
        let incomplete = parse(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"my_tool","arguments":{"input_param":"x"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#,
        );
        let refused = check_meta_2026(incomplete.id.unwrap(), &incomplete.params).unwrap_err();
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_eq!(json(&refused.response)["error"]["code"], INVALID_PARAMS);
    }

    #[test]
    fn initialize_settles_on_a_known_version() {
        let message = parse(
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}"#,
        );
        let result = json(&initialize(message.id.unwrap(), &message.params).response);
        assert_eq!(result["result"]["protocolVersion"], "2025-06-18");
        assert_eq!(
            result["result"]["capabilities"],
            serde_json::json!({"logging": {}, "tools": {}})
        );
        assert_eq!(negotiate("1999-01-01"), "2025-11-25");
        let bad = parse(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#);
        let refused = json(&initialize(bad.id.unwrap(), &bad.params).response);
        assert_eq!(refused["error"]["code"], INVALID_PARAMS);
    }

    #[test]
    fn unknown_tools_bad_arguments_and_methods_are_errors() {
        for (text, code) in [
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"other","arguments":{}}}"#,
                INVALID_PARAMS,
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"my_tool","arguments":{"input_param":3}}}"#,
                INVALID_PARAMS,
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"my_tool"}}"#,
                INVALID_PARAMS,
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"info"}}"#,
                METHOD_NOT_FOUND,
            ),
        ] {
            let message = parse(text);
            let answer = answer(message.id.unwrap(), &message, Mode::OnTheAnswer);
            assert!(answer.log.is_none(), "{text}");
            assert_eq!(json(&answer.response)["error"]["code"], code, "{text}");
        }
    }

    #[test]
    fn stdio_answers_requests_and_not_notifications() {
        assert!(
            stdio_reply(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).is_none()
        );
        let lines = stdio_reply(CALL.as_bytes()).unwrap();
        assert_eq!(lines.len(), 2, "the log message, then the answer");
        assert_eq!(json(&lines[0])["method"], "notifications/message");
        assert_eq!(json(&lines[1])["id"], 7);
        let garbage = stdio_reply(b"{not json").unwrap();
        assert_eq!(json(&garbage[0])["error"]["code"], PARSE_ERROR);
    }

    #[test]
    fn only_loopback_hosts_and_proper_headers_pass() {
        let mut headers = HeaderMap::new();
        for (host, ok) in [
            ("127.0.0.1:8080", true),
            ("localhost", true),
            ("[::1]:80", true),
            ("evil.example:8080", false),
        ] {
            headers.insert(header::HOST, HeaderValue::from_static(host));
            assert_eq!(host_allowed(&headers), ok, "{host}");
        }
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(!accepts_json_and_sse(&headers));
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream;q=0.9"),
        );
        assert!(accepts_json_and_sse(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert!(content_type_json(&headers));
    }

    #[test]
    fn ids_must_be_numbers_or_strings() {
        for (text, ok) in [
            ("1", true),
            ("\"a\"", true),
            ("-3", true),
            ("null", false),
            ("{}", false),
        ] {
            let id: Box<RawValue> = RawValue::from_string(text.into()).unwrap();
            assert_eq!(valid_id(&id), ok, "{text}");
        }
    }
}
