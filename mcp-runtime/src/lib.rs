//! The runtime of [`cm-mcp`](https://docs.rs/cm-mcp): everything the `#[cm_tool]`, `#[cm_resource]` and
//! `#[cm_prompt]` macros generate calls into. Use it through the `cm-mcp` facade crate.
//!
//! Modules are named after the platform's concepts: [`events`] (the JSON log format), [`trace`]
//! (trace context), [`health`], [`cli`] (flags shared by every server), and the server itself.

pub mod cli;
mod completion;
mod connection;
mod connectors;
mod context;
mod elicitation;
mod error;
pub mod events;
mod extract;
mod handler;
pub mod health;
mod instrument;
pub mod manager;
mod output;
mod registry;
mod sampling;
mod server;
mod settings;
mod subscriptions;
pub mod trace;
mod transport;

pub use completion::{Completer, Completion};
pub use connection::{Connection, ConnectionState, Connections, ConnectorId, Only, Which};
pub use connectors::{ApiKeyFormatError, Connector, ConnectorType, stack_url};
pub use context::{Context, State};
pub use elicitation::{Elicitation, elicitation_schema};
pub use error::{ErrorKind, ToolError};
pub use extract::{Arguments, FromCall, JsonObject};
pub use output::{
    Audio, Embedded, Image, IntoPromptResult, IntoResourceBody, IntoToolContent, Json,
};
pub use registry::{Registry, RegistryError};
pub use sampling::{Sampled, SamplingRequest};
pub use server::{RunningServer, Server};
pub use settings::{ServiceSettings, Settings, SettingsError};
pub use subscriptions::Subscriptions;
pub use trace::TraceContext;
pub use transport::HttpOptions;

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
        Completion, Context, FromCall, ToolError,
        completion::CompletionFn,
        error::IntoToolError,
        extract::{ArgsSpec, CallInput, JsonObject, ParamInfo},
        output::{
            IntoPromptResult, ResourceAsIs, ResourceAsJson, ResourceBody, ResourceReturn,
            ResourceUnsupported, Select, ToolAsIs, ToolAsJson, ToolReturn, ToolUnsupported,
            resource_body, resource_kind, tool_kind, tool_output_schema, tool_result,
        },
        registry::{BoxFuture, Location, PromptDef, ResourceDef, ToolDef, ToolHints},
    };
}

// Transitional: `subscriptions.rs` and `extract.rs`'s doc example still import
// `__private::{CallInput, ParamInfo}`; they move to the public `extract` module in the same series,
// and then this alias goes.
#[doc(hidden)]
pub use __private_v0_1 as __private;
