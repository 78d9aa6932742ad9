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
#[cfg(feature = "testing")]
pub mod testing;
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

/// Items generated code refers to. Not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use inventory;
    pub use rmcp::model::{CallToolResult, GetPromptResult};

    use crate::{
        FromCall, ToolError,
        output::{IntoPromptResult, IntoResourceBody, IntoToolContent, Json, StructuredOutput},
    };
    pub use crate::{
        completion::CompletionFn,
        error::IntoToolError,
        extract::{ArgsSpec, CallInput, JsonObject, ParamInfo},
        output::{IntoJsonResource, OutputSchema, ResourceBody, output_schema},
        registry::{BoxFuture, Location, PromptDef, ResourceDef, ToolDef, ToolHints},
    };

    /// Adds parameter `T` to the definition's arguments (nothing when `T` is injected).
    pub fn describe<'a, T: FromCall<'a>>(param: &'static ParamInfo, spec: &mut ArgsSpec) {
        T::describe(param, spec);
    }

    /// Extracts parameter `T` for one call.
    pub fn extract<'a, T: FromCall<'a>>(
        param: &'static ParamInfo,
        input: &mut CallInput<'a>,
    ) -> Result<T, ToolError> {
        T::from_call(param, input)
    }

    /// Converts a tool's successful return value.
    pub fn tool_result<T: IntoToolContent>(value: T) -> Result<CallToolResult, ToolError> {
        value.into_tool_result()
    }

    /// Marks a tool's return value as structured output.
    pub fn structured<T: StructuredOutput>(value: T) -> Json<T> {
        Json(value)
    }

    /// Converts a resource's return value.
    pub fn resource_body<T: IntoResourceBody>(value: T) -> Result<ResourceBody, ToolError> {
        value.into_body()
    }

    /// Marks a resource's return value as JSON.
    pub fn json_body<T: serde::Serialize>(value: T) -> Json<T> {
        Json(value)
    }

    /// Converts a prompt's return value.
    pub fn prompt_result<T: IntoPromptResult>(value: T) -> Result<GetPromptResult, ToolError> {
        Ok(value.into_prompt_result())
    }

    /// Converts an author's error.
    pub fn tool_error<E: Into<ToolError>>(error: E) -> ToolError {
        error.into()
    }
}
