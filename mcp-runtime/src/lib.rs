//! The runtime of [`cm-mcp`](https://docs.rs/cm-mcp): everything the `#[cm_tool]`, `#[cm_resource]` and
//! `#[cm_prompt]` macros generate calls into. Use it through the `cm-mcp` facade crate.
//!
//! Modules are named after the platform's concepts: [`events`] (the JSON log format), [`trace`]
//! (trace context), [`platform`] (the mode, settings, connectors, connections and [`health`]),
//! [`cli`] (flags shared by every server), and the server itself.
//!
//! # Features
//!
//! - `platform` (default): stack mode, where the server registers with the platform's config
//!   manager and follows its updates (reqwest, rustls, tokio-tungstenite), typed settings,
//!   `Settings<T>` and `Server::settings` (the `config` crate), and `Connection::http`, the HTTP
//!   client of a connector's service for tools, with the call's trace headers. Without it the server is a plain MCP
//!   server that runs locally: connectors read `{ID}_URL`, `/health` and the log format are the same,
//!   and a start asking for a stack deployment (`SERVICE_NAME`) exits 2 naming the feature.
//! - `otel` (default): OpenTelemetry traces, a SERVER span per call of a tool, resource or prompt,
//!   sent over OTLP/HTTP when the standard `OTEL_*` variables ask for them (the opentelemetry crates
//!   and reqwest). Without it the variables are ignored, with a warning at start.
//! - `testing`: `testing::Client`, an in-process MCP client for authors' tests.

mod call;
pub mod cli;
mod completion;
mod context;
mod error;
pub mod events;
pub mod extract;
#[cfg(fuzzing)]
pub mod fuzzing;
mod handler;
mod metrics;
mod otel;
mod output;
pub mod platform;
mod registry;
mod replicas;
mod schema;
mod server;
pub mod tasks;
#[cfg(feature = "testing")]
pub mod testing;
pub mod trace;
mod transport;

pub use completion::{Completer, Completion};
pub use context::{
    Context, Elicitation, Input, Sampled, SamplingRequest, State, Subscriptions, elicitation_schema,
};
pub use error::{ErrorKind, ToolError};
pub use extract::{Arguments, FromCall, JsonObject};
pub use output::{
    Audio, Embedded, Image, IntoPromptResult, IntoResourceBody, IntoToolContent, Json, ResourceBody,
};
pub use platform::{
    ApiKeyFormatError, Connection, ConnectionState, Connections, Connector, ConnectorId,
    ConnectorType, Mode, Only, SettingsError, Which, health, stack_url,
};
#[cfg(feature = "platform")]
pub use platform::{ConnectorClient, ServiceSettings, Settings};
pub use registry::{Registry, RegistryError};
pub use server::{RunningServer, Server, Startup};
pub use tasks::{InMemoryTaskStore, TaskStore, TaskSupport};
pub use trace::TraceContext;
pub use transport::HttpOptions;

/// reqwest, the HTTP client of [`Connection::http`] (feature `platform`): its `RequestBuilder`,
/// `Response` and `Method`, without a dependency of the author's own that must match its version.
#[cfg(feature = "platform")]
pub use reqwest;
/// rmcp, for its model types (`ContentBlock`, `PromptMessage`, `Role`, ...) and client.
pub use rmcp;

/// Items generated code refers to. Not an API: the name carries the version so that nobody takes it
/// for one, and so that macros and runtime of different versions fail loudly instead of subtly. The
/// macros spell this name once (`mcp-macros/src/expand/mod.rs`); keep the two in step. Generated code
/// names even public items through here, so that moving them in the public API never breaks it.
#[doc(hidden)]
pub mod __private_v0_1 {
    pub use inventory;
    pub use rmcp::model::{CallToolResult, GetPromptResult};

    pub use crate::{
        Completion, Context, FromCall, TaskSupport, ToolError,
        completion::CompletionFn,
        error::IntoToolError,
        extract::{ArgsSpec, CallInput, JsonObject, ParamInfo},
        output::{
            IntoPromptResult, ResourceAsIs, ResourceAsJson, ResourceBody, ResourceReturn,
            ResourceUnsupported, Select, ToolAsIs, ToolAsJson, ToolReturn, ToolUnsupported,
            resource_body, resource_kind, tool_kind, tool_output_schema, tool_result,
        },
        registry::{BoxFuture, Location, PromptDef, ResourceDef, ToolDef, ToolHints, UriPart},
    };
}
