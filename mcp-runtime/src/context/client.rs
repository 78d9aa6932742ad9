//! What sampling and elicitation share as requests from the server to the client: whether the
//! session's protocol can carry them, what the client declared, and how a failed one reads to the
//! model that called the tool.

use rmcp::{
    model::{ClientCapabilities, ProtocolVersion},
    service::ServiceError,
};

use super::Context;
use crate::ToolError;

/// The capabilities the client declared (under protocol 2026-07-28, in the request's `_meta`), once
/// it is sure the call can ask the client at all: by a request to it, or, under 2026-07-28, in an
/// input-required round, which only a tool, resource or prompt call has.
pub(super) fn capabilities(ctx: &Context, method: &str) -> Result<ClientCapabilities, ToolError> {
    let request = ctx.request();
    if ctx.inner.rounds.is_none()
        && ctx.inner.task.get().is_none()
        && request
            .protocol_version()
            .is_some_and(|version| version >= ProtocolVersion::V_2026_07_28)
    {
        return Err(ToolError::not_connected(format!(
            "this sends {method} to the client, but the session uses MCP protocol 2026-07-28 or later, where only a tool, resource or prompt call can ask the client (in an input-required round)"
        ))
        .with_type("ClientRequestUnsupported"));
    }
    Ok(request.client_capabilities().unwrap_or_default())
}

/// The error for a client that did not declare `capability` (named in the message as `declared`),
/// which `method` needs.
pub(super) fn unsupported(
    method: &str,
    does: &str,
    capability: &'static str,
    declared: &str,
    error_type: &'static str,
) -> ToolError {
    ToolError::missing_capability(
        format!(
            "this tool {does}, but the client did not declare {declared}; use a client that supports {method}"
        ),
        capability,
        error_type,
    )
}

/// A failed request to the client, as a tool error that says which request failed and why.
pub(super) fn request_error(method: &str, error: ServiceError) -> ToolError {
    match error {
        ServiceError::McpError(data) => ToolError::new(format!(
            "the client answered {method} with an error ({}): {}",
            data.code.0, data.message
        ))
        .with_type("ClientRequestError"),
        ServiceError::TransportClosed => {
            ToolError::not_connected(format!("the client disconnected before answering {method}"))
        }
        ServiceError::Cancelled { .. } => ToolError::cancelled(),
        other => {
            ToolError::new(format!("{method} failed: {other}")).with_type("ClientRequestError")
        }
    }
}
