//! Testing a server in-process: [`Client`] serves a [`Server`] over an in-memory pipe and speaks MCP
//! to it, so a test calls a tool with the same messages a real client sends, without a process, a
//! port or a log parser. The model is FastMCP's `Client(server)`.
//!
//! Enabled by the `testing` feature; a server turns it on for its tests only:
//!
//! ```toml
//! [dev-dependencies]
//! cm-mcp = { workspace = true, features = ["testing"] }
//! ```
//!
//! ```
//! use cm_mcp::prelude::*;
//! use cm_mcp::testing::{Client, ContentExt};
//! use serde_json::{Value, json};
//!
//! /// Processes the input.
//! #[cm_tool]
//! async fn my_tool(ctx: &Context, input_param: String) -> Result<String, ToolError> {
//!     ctx.info("processing").await;
//!     Ok(format!("Processed: {input_param}"))
//! }
//!
//! /// The service's status.
//! #[cm_resource("my-service://info", mime_type = "application/json")]
//! async fn info() -> Value {
//!     json!({"status": "available"})
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> anyhow::Result<()> {
//! let client = Client::connect(Server::new("my-service")).await?;
//!
//! let result = client.call_tool("my_tool", json!({"input_param": "hi"})).await?;
//! assert_eq!(result.text(), "Processed: hi");
//! assert_eq!(client.wait_for_log_messages(1).await[0].data, "processing");
//!
//! let info: Value = client.read_json("my-service://info").await?;
//! assert_eq!(info["status"], "available");
//!
//! let unknown = client.call_tool("no_such_tool", json!({})).await;
//! assert!(unknown.is_err());
//! # Ok(())
//! # }
//! ```
//!
//! The client serves every definition linked into the test binary, as [`Server::run`] does. For a
//! binary crate that means its unit tests (`#[cfg(test)] mod tests;` in `main.rs`): an integration
//! test under `tests/` cannot link a binary's functions.

// rmcp's logging types are deprecated by SEP-2577; `ctx.info` still sends them to every client, and
// `LogMessage` keeps the deprecation out of authors' tests.
#![allow(deprecated)]

use std::{
    ops::Deref,
    sync::{Arc, Mutex},
    time::Duration,
};

use rmcp::{
    ClientHandler, RoleClient, ServiceError, ServiceExt,
    model::{
        CallToolRequestParams, CallToolResult, ClientConfig, GetPromptRequestParams,
        GetPromptResult, LoggingMessageNotificationParam, ReadResourceRequestParams,
        ReadResourceResult, ResourceContents, Tool,
    },
    service::{NotificationContext, Peer, RunningService},
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::{sync::Notify, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::{JsonObject, Server};

/// The bound on every request and wait of a [`Client`] unless [`Client::timeout`] changes it: long
/// enough for a loaded CI machine, short enough that a hung tool fails its test instead of hanging
/// the run.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Room in the in-memory pipe between client and server; a writer waits when it is full.
const PIPE_BYTES: usize = 256 * 1024;

/// An MCP client connected in-process to a [`Server`].
///
/// It derefs to rmcp's [`Peer`] for every request it has no shortcut for (`list_all_prompts`,
/// `complete`, `subscribe`, ...). Dropping it ends the session and shuts the server down (in the
/// background); [`close`](Client::close) does the same and waits for the shutdown hook.
pub struct Client {
    session: RunningService<RoleClient, Recorder>,
    recorder: Recorder,
    shutdown: CancellationToken,
    server: Option<JoinHandle<()>>,
    timeout: Duration,
}

impl Client {
    /// Starts `server` in-process as [`Server::run`] would in local mode (settings loaded, connectors
    /// read from `{ID}_URL`, the startup hook run), without flags, signals or logging set-up, and
    /// connects to it. Settings and connectors come from the test process's environment (and a
    /// `.env` in its working directory: under `cargo test`, the package's directory), as they would
    /// for the server; it never registers with a stack, whatever `SERVICE_NAME` says.
    ///
    /// # Errors
    /// When the server cannot start (conflicting definitions, invalid settings) or the MCP
    /// initialization fails.
    pub async fn connect(server: Server) -> anyhow::Result<Client> {
        let shutdown = CancellationToken::new();
        let (handler, stop) = server.start_in_process(&shutdown).await?;
        let (client_io, server_io) = tokio::io::duplex(PIPE_BYTES);
        let server = tokio::spawn({
            let shutdown = shutdown.clone();
            async move {
                match handler.serve(server_io).await {
                    Ok(running) => {
                        // Dropping `running` ends the session; it ends by itself when the client leaves.
                        tokio::select! {
                            _ = running.waiting() => {},
                            () = shutdown.cancelled() => {},
                        }
                    }
                    Err(error) => {
                        tracing::debug!(%error, "the in-process client left before initializing");
                    }
                }
                shutdown.cancel();
                stop.await;
            }
        });
        let recorder = Recorder::default();
        let session = match tokio::time::timeout(TIMEOUT, recorder.clone().serve(client_io)).await {
            Ok(Ok(session)) => session,
            Ok(Err(error)) => {
                shutdown.cancel();
                anyhow::bail!("MCP initialization with the in-process server failed: {error}");
            }
            Err(_) => {
                shutdown.cancel();
                anyhow::bail!(
                    "MCP initialization with the in-process server took over {TIMEOUT:?}"
                );
            }
        };
        Ok(Client {
            session,
            recorder,
            shutdown,
            server: Some(server),
            timeout: TIMEOUT,
        })
    }

    /// Bounds every later request and wait by `timeout` instead of [`TIMEOUT`].
    pub fn timeout(mut self, timeout: Duration) -> Client {
        self.timeout = timeout;
        self
    }

    /// Sends `tools/call` for `name` with `arguments` (a `json!({...})` object, or `Value::Null` for
    /// none). A tool's own error comes back as `Ok` with `is_error`; an unknown tool or invalid
    /// arguments as `Err` (an MCP error).
    ///
    /// # Panics
    /// When `arguments` is neither an object nor null.
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: Value,
    ) -> Result<CallToolResult, ServiceError> {
        let mut params = CallToolRequestParams::new(name.to_string());
        match arguments {
            Value::Object(arguments) => params = params.with_arguments(arguments),
            Value::Null => {}
            other => panic!("tool arguments must be a JSON object (`json!({{...}})`), not {other}"),
        }
        self.bounded(self.session.call_tool(params)).await
    }

    /// Sends `resources/read` for `uri`.
    pub async fn read_resource(&self, uri: &str) -> Result<ReadResourceResult, ServiceError> {
        self.bounded(
            self.session
                .read_resource(ReadResourceRequestParams::new(uri)),
        )
        .await
    }

    /// Reads `uri` and returns the text of its one text content.
    ///
    /// # Errors
    /// When the read fails, or the resource is not exactly one text content.
    pub async fn read_text(&self, uri: &str) -> anyhow::Result<String> {
        let read = self.read_resource(uri).await?;
        match <[ResourceContents; 1]>::try_from(read.contents) {
            Ok([ResourceContents::TextResourceContents { text, .. }]) => Ok(text),
            Ok(other) => anyhow::bail!("{uri} is not text: {other:?}"),
            Err(contents) => anyhow::bail!(
                "{uri} has {} contents, not one: {contents:?}",
                contents.len()
            ),
        }
    }

    /// Reads `uri` and parses its one text content as JSON into `T` (e.g. `serde_json::Value`).
    ///
    /// # Errors
    /// When the read fails, or the resource is not one text content holding a `T` in JSON.
    pub async fn read_json<T: DeserializeOwned>(&self, uri: &str) -> anyhow::Result<T> {
        let text = self.read_text(uri).await?;
        serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{uri} is not the JSON expected ({e}): {text}"))
    }

    /// Sends `prompts/get` for `name` with `arguments` (an object of strings, or `Value::Null`).
    ///
    /// # Panics
    /// When `arguments` is neither an object nor null.
    pub async fn get_prompt(
        &self,
        name: &str,
        arguments: Value,
    ) -> Result<GetPromptResult, ServiceError> {
        let mut params = GetPromptRequestParams::new(name);
        match arguments {
            Value::Object(arguments) => params = params.with_arguments(arguments),
            Value::Null => {}
            other => {
                panic!("prompt arguments must be a JSON object (`json!({{...}})`), not {other}")
            }
        }
        self.bounded(self.session.get_prompt(params)).await
    }

    /// Every tool the server lists (all pages).
    pub async fn list_tools(&self) -> Result<Vec<Tool>, ServiceError> {
        self.bounded(self.session.list_all_tools()).await
    }

    /// The log messages (`ctx.info(...)` and the like) the server sent so far, oldest first.
    ///
    /// They travel as notifications, handled apart from the answers: one a tool sent may arrive
    /// just after its call returned. [`wait_for_log_messages`](Client::wait_for_log_messages) waits
    /// for them.
    pub fn log_messages(&self) -> Vec<LogMessage> {
        self.recorder
            .messages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits until the server has sent at least `count` log messages; returns all of them.
    ///
    /// # Panics
    /// When fewer arrive within the timeout, naming the ones that did.
    pub async fn wait_for_log_messages(&self, count: usize) -> Vec<LogMessage> {
        let waited = tokio::time::timeout(self.timeout, async {
            loop {
                let arrived = self.recorder.arrived.notified();
                let messages = self.log_messages();
                if messages.len() >= count {
                    return messages;
                }
                arrived.await;
            }
        })
        .await;
        waited.unwrap_or_else(|_| {
            panic!(
                "expected {count} log messages within {:?}; got {:?}",
                self.timeout,
                self.log_messages()
            )
        })
    }

    /// Ends the session and waits until the server has shut down (its shutdown hook included).
    pub async fn close(mut self) {
        let _ = self.session.close_with_timeout(self.timeout).await;
        self.shutdown.cancel();
        if let Some(server) = self.server.take()
            && tokio::time::timeout(self.timeout, server).await.is_err()
        {
            panic!(
                "the in-process server did not shut down within {:?}",
                self.timeout
            );
        }
    }

    async fn bounded<T>(
        &self,
        request: impl Future<Output = Result<T, ServiceError>>,
    ) -> Result<T, ServiceError> {
        tokio::time::timeout(self.timeout, request)
            .await
            .unwrap_or(Err(ServiceError::Timeout {
                timeout: self.timeout,
            }))
    }
}

impl Deref for Client {
    type Target = Peer<RoleClient>;

    fn deref(&self) -> &Peer<RoleClient> {
        self.session.peer()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // The session's own drop guard closes the pipe; this stops the platform tasks too.
        self.shutdown.cancel();
    }
}

/// A log message (`notifications/message`) the server sent the client, e.g. with `ctx.info(...)`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LogMessage {
    /// Its level as MCP names it: `debug`, `info`, `notice`, `warning`, `error`, ...
    pub level: String,
    /// The logger that sent it, when the server named one.
    pub logger: Option<String>,
    /// The message: a JSON string for `ctx.info("...")` and the like.
    pub data: Value,
}

impl From<LoggingMessageNotificationParam> for LogMessage {
    fn from(param: LoggingMessageNotificationParam) -> LogMessage {
        let level = match serde_json::to_value(param.level) {
            Ok(Value::String(level)) => level,
            other => format!("{other:?}"),
        };
        LogMessage {
            level,
            logger: param.logger,
            data: param.data,
        }
    }
}

/// The client side: records what the server sends unasked.
#[derive(Clone, Default)]
struct Recorder {
    messages: Arc<Mutex<Vec<LogMessage>>>,
    arrived: Arc<Notify>,
}

impl ClientHandler for Recorder {
    fn get_info(&self) -> ClientConfig {
        let mut info = ClientConfig::default();
        info.client_info.name = "cm-mcp-testing".into();
        info
    }

    fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) -> impl Future<Output = ()> + Send + '_ {
        self.messages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(LogMessage::from(params));
        self.arrived.notify_waiters();
        std::future::ready(())
    }
}

/// The text and JSON of a tool result or a resource read, for assertions.
///
/// ```
/// use cm_mcp::{rmcp::model::{CallToolResult, ContentBlock}, testing::ContentExt};
///
/// let result = CallToolResult::success(vec![ContentBlock::text(r#"{"rows": 2}"#)]);
/// assert_eq!(result.text(), r#"{"rows": 2}"#);
/// assert_eq!(result.json::<serde_json::Value>()["rows"], 2);
/// ```
pub trait ContentExt {
    /// The text of the one content, which must be text.
    ///
    /// # Panics
    /// When there is not exactly one content, or it is not text; the message shows what there is.
    fn text(&self) -> &str;

    /// The structured content when there is some, else the one text content, parsed into `T`.
    ///
    /// # Panics
    /// When neither holds a `T` in JSON; the message shows what there is.
    fn json<T: DeserializeOwned>(&self) -> T;
}

impl ContentExt for CallToolResult {
    fn text(&self) -> &str {
        match self.content.as_slice() {
            [content] => match content.as_text() {
                Some(text) => &text.text,
                None => panic!("the result's content is not text: {self:?}"),
            },
            _ => panic!(
                "the result has {} contents, not one: {self:?}",
                self.content.len()
            ),
        }
    }

    fn json<T: DeserializeOwned>(&self) -> T {
        let parsed = match &self.structured_content {
            Some(structured) => T::deserialize(structured).map_err(|e| e.to_string()),
            None => serde_json::from_str(self.text()).map_err(|e| e.to_string()),
        };
        parsed.unwrap_or_else(|e| panic!("the result is not the JSON expected ({e}): {self:?}"))
    }
}

impl ContentExt for ReadResourceResult {
    fn text(&self) -> &str {
        match self.contents.as_slice() {
            [ResourceContents::TextResourceContents { text, .. }] => text,
            _ => panic!("expected one text content: {self:?}"),
        }
    }

    fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_str(self.text())
            .unwrap_or_else(|e| panic!("the resource is not the JSON expected ({e}): {self:?}"))
    }
}

/// A JSON object from a `json!({...})` literal, for rmcp requests that take an argument map.
///
/// # Panics
/// When `value` is not an object.
pub fn arguments(value: Value) -> JsonObject {
    match value {
        Value::Object(map) => map,
        other => panic!("arguments must be a JSON object (`json!({{...}})`), not {other}"),
    }
}
