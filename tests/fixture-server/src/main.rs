//! A server for the integration tests of cm-mcp: a slow tool (to test shutdown draining), a tool that
//! fails with a typed error, a tool with a secret argument, a startup hook slower than its timeout, a
//! shutdown hook, a resource template and a prompt, a tool, resource and prompt that panic, and a
//! custom injected parameter (a tenant read from a header).
//!
//! The startup hook's delay and timeout come from `FIXTURE_STARTUP_DELAY_MS` (default 300) and
//! `FIXTURE_STARTUP_TIMEOUT_MS` (default 50), so that tests do not wait long for either. With
//! `FIXTURE_STARTUP_GATE=127.0.0.1:PORT` the hook instead runs until the test opens that gate, and the
//! `wait_for_gate` tool is a call that runs until the test opens its gate: tests of what happens
//! *while* something runs hold it there, instead of hoping a sleep outlasts a slow machine.

use std::time::Duration;

use tokio::io::AsyncReadExt;

use cm_mcp::{
    extract::{CallInput, FromCall, ParamInfo},
    prelude::*,
};

/// What the startup hook produces, once it has finished.
struct StartupValue {
    message: String,
}

/// Sleeps, then says how long it slept.
///
/// # Arguments
/// * `ms` - How many milliseconds to sleep.
#[cm_tool]
async fn sleep_ms(ms: u64) -> String {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    format!("slept {ms} ms")
}

/// Runs until the test opens the gate it listens on at `gate` (a loopback address).
///
/// # Arguments
/// * `gate` - The test's gate, `127.0.0.1:PORT`.
#[cm_tool]
async fn wait_for_gate(gate: String) -> Result<String, ToolError> {
    gate_opened(&gate).await?;
    Ok("the gate opened".into())
}

/// Runs until the test opens its gate, then tells the client about it (a log message and a progress
/// notification) before answering: a call that still talks to the client after stdin has closed.
///
/// # Arguments
/// * `gate` - The test's gate, `127.0.0.1:PORT`.
/// * `note` - What the log message says.
#[cm_tool]
async fn report_after_gate(gate: String, note: String, ctx: Context) -> Result<String, ToolError> {
    gate_opened(&gate).await?;
    ctx.info(note.as_str()).await;
    ctx.report_progress(1.0, Some(1.0), Some("done")).await;
    Ok(format!("reported {note}"))
}

/// Connects to the test's gate at `addr` and waits until the test opens it (closes the connection).
async fn gate_opened(addr: &str) -> std::io::Result<()> {
    let mut gate = tokio::net::TcpStream::connect(addr).await?;
    // The test opens it by closing the connection.
    gate.read_to_end(&mut Vec::new()).await?;
    Ok(())
}

/// Checks a URL and its port with anyhow, as an author whose code already uses it would.
///
/// # Arguments
/// * `url` - An https URL.
/// * `port` - Its port.
#[cm_tool]
async fn require_https(url: String, port: String) -> anyhow::Result<String> {
    use anyhow::Context as _;
    anyhow::ensure!(url.starts_with("https://"), "`{url}` is not an https URL");
    let port: u16 = port.parse().context("reading the port")?;
    Ok(format!("{url}:{port}"))
}

/// Reads a file, failing with a boxed error.
///
/// # Arguments
/// * `path` - The file.
#[cm_tool]
async fn read_file(path: String) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    Ok(std::fs::read_to_string(path)?)
}

/// Parses a non-negative integer.
///
/// # Arguments
/// * `text` - The text to parse.
#[cm_tool]
async fn parse_number(text: String) -> Result<String, ToolError> {
    let n: u32 = text.trim().parse()?;
    Ok(format!("parsed {n}"))
}

/// Stores an access token (which must never be logged).
///
/// # Arguments
/// * `label` - What the token is for.
/// * `token` - The token.
#[cm_tool]
async fn store_token(label: String, #[arg(secret)] token: String) -> String {
    format!(
        "stored a {}-character token for {label}",
        token.chars().count()
    )
}

/// The value the startup hook made (an error until the hook has finished).
#[cm_tool]
async fn startup_value(value: State<StartupValue>) -> String {
    value.message.clone()
}

/// One item, by id.
#[cm_resource("fixture://items/{id}", mime_type = "text/plain")]
async fn item(id: String) -> String {
    format!("item {id}")
}

/// Asks for a summary of a topic.
///
/// # Arguments
/// * `topic` - What to summarize.
#[cm_prompt]
async fn summarize(topic: String) -> String {
    format!("Summarize {topic} in one paragraph.")
}

/// Panics with `message`: an author's bug.
///
/// # Arguments
/// * `message` - The panic's text.
#[cm_tool]
async fn panics(message: String) -> String {
    panic!("{message}")
}

/// A resource whose code panics.
#[cm_resource("fixture://panics")]
async fn panicking_resource() -> String {
    panic!("the resource's secret detail")
}

/// A prompt whose code panics.
#[cm_prompt]
async fn panicking_prompt() -> String {
    panic!("the prompt's secret detail")
}

/// The caller's tenant, from the `X-Tenant` header: a custom injected parameter.
struct Tenant(String);

impl<'a> FromCall<'a> for Tenant {
    fn from_call(_: &'static ParamInfo, input: &mut CallInput<'a>) -> Result<Self, ToolError> {
        input
            .context()
            .headers()
            .and_then(|h| h.get("x-tenant")?.to_str().ok())
            .map(|t| Tenant(t.to_string()))
            .ok_or_else(|| ToolError::invalid_arguments("this tool needs an X-Tenant header"))
    }
}

/// A report for the caller's tenant.
///
/// # Arguments
/// * `month` - The month (1-12).
#[cm_tool]
async fn tenant_report(tenant: Tenant, month: u8) -> String {
    format!("report for {} in month {month}", tenant.0)
}

fn env_ms(name: &str, default: u64) -> Duration {
    let ms = std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default);
    Duration::from_millis(ms)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let delay = env_ms("FIXTURE_STARTUP_DELAY_MS", 300);
    let gate = std::env::var("FIXTURE_STARTUP_GATE").ok();
    Server::new("fixture-server")
        .version(env!("CARGO_PKG_VERSION"))
        .startup_timeout(env_ms("FIXTURE_STARTUP_TIMEOUT_MS", 50))
        .on_startup(move |_| async move {
            match gate {
                Some(gate) => gate_opened(&gate).await?,
                None => tokio::time::sleep(delay).await,
            }
            Ok(StartupValue {
                message: "ready".into(),
            })
        })
        .on_shutdown(|| async {
            tracing::info!(
                event_type = "fixture.shutdown.hook",
                success = true,
                "Fixture shutdown hook ran"
            );
        })
        .run()
        .await
}

/// Logs `note` itself, once directly and once from code it calls after an `.await` (which may resume
/// on another worker thread): both lines must carry the call's trace fields.
///
/// # Arguments
/// * `note` - What to log.
#[cm_tool]
async fn log_note(note: String) -> String {
    tracing::info!(
        event_type = "fixture.note",
        data.note = note.as_str(),
        data.place = "tool",
        "Note from the tool"
    );
    tokio::task::yield_now().await;
    log_note_from_callee(&note).await;
    format!("logged {note}")
}

async fn log_note_from_callee(note: &str) {
    tokio::task::yield_now().await;
    tracing::info!(
        event_type = "fixture.note",
        data.note = note,
        data.place = "callee",
        "Note from code the tool calls"
    );
}
