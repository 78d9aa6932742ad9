//! The ConfidentialMind template MCP server, written with cm-mcp: one tool, one resource, and
//! everything else (schemas, tracing, logs, transports, /health, shutdown) from the framework.

use cm_mcp::prelude::*;
use serde_json::{Value, json};

const SERVICE_NAME: &str = "my-fastmcp-service";

/// Processes the input and returns the result.
///
/// # Arguments
/// * `input_param` - The text to process.
#[cm_tool(annotations(read_only, idempotent))]
async fn my_tool(ctx: &Context, input_param: String) -> Result<String, ToolError> {
    ctx.info(format!(
        "Processing input of {} characters",
        input_param.chars().count()
    ))
    .await;
    Ok(format!("Processed: {input_param}"))
}

/// The service's status and description.
#[cm_resource(
    "my-service://info",
    name = "service_info",
    mime_type = "application/json"
)]
async fn service_info() -> Value {
    json!({
        "status": "available",
        "service_name": SERVICE_NAME,
        "service_description": "A template MCP server for the ConfidentialMind stack",
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    Server::new(SERVICE_NAME)
        .version(env!("CARGO_PKG_VERSION"))
        .instructions(
            "Use my_tool to process text; read my-service://info for the service's status.",
        )
        .run()
        .await
}
