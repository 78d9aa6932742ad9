//! Build MCP servers for the ConfidentialMind stack from plain `async fn`s.
//!
//! Annotate functions with [`cm_tool`], [`cm_resource`] or [`cm_prompt`]; [`Server`] serves every one
//! linked into the binary over stdio or streamable HTTP, with schemas, trace context, the platform's
//! JSON log events, `/health` and graceful shutdown built in. The README is the full guide.
//!
//! # Features
//!
//! - `platform` (default): the ConfidentialMind platform's client stack. With it a server registers
//!   with the stack's config manager when `SERVICE_NAME` is set, loads typed settings
//!   (`Settings<T>`, `Server::settings`), and gives tools an HTTP client for each connector
//!   (`Connection::http`, sending the call's trace headers). Without it (`default-features = false`) the server is a plain
//!   MCP server, some 30 crates lighter: everything else works (tools, resources, prompts, both
//!   transports, connectors from `{ID}_URL`, `/health`, the log format), and a start with
//!   `SERVICE_NAME` set exits with status 2 naming the feature instead of running locally.
//! - `testing`: `cm_mcp::testing`, an in-process client for testing a server's tools, resources and prompts.
//!
//! ```no_run
//! use cm_mcp::prelude::*;
//!
//! /// Processes the input.
//! #[cm_tool]
//! async fn my_tool(ctx: &Context, input_param: String) -> Result<String, ToolError> {
//!     ctx.info("processing").await;
//!     Ok(format!("Processed: {input_param}"))
//! }
//!
//! #[tokio::main]
//! async fn main() -> anyhow::Result<()> {
//!     Server::new("my-service").run().await
//! }
//! ```

pub use mcp_macros::{cm_prompt, cm_resource, cm_tool};
pub use mcp_runtime::*;

/// What a server's `main.rs` and tool modules usually need, the derives of argument and result types
/// included (their expansions name `serde` and `schemars`, so a server depends on both, as the quick
/// start's `[dependencies]` show).
pub mod prelude {
    pub use mcp_macros::{cm_prompt, cm_resource, cm_tool};
    /// Typed settings (feature `platform`).
    #[cfg(feature = "platform")]
    pub use mcp_runtime::Settings;
    pub use mcp_runtime::{
        Arguments, Audio, Completer, Completion, Connection, ConnectionState, Connector,
        ConnectorType, Context, Elicitation, Embedded, ErrorKind, Image, Json, JsonObject, Mode,
        Sampled, SamplingRequest, Server, Startup, State, Subscriptions, ToolError, TraceContext,
        connector_id,
        rmcp::model::{ContentBlock, PromptMessage, Role},
    };
    pub use schemars::JsonSchema;
    pub use serde::{Deserialize, Serialize};
}
