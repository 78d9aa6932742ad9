//! The ConfidentialMind template MCP server, written with cm-mcp: one tool, one resource, settings the
//! config manager can change, one `api` connector, and everything else (schemas, tracing, logs,
//! transports, /health, registration with the stack, shutdown) from the framework.

use cm_mcp::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const SERVICE_NAME: &str = "my-fastmcp-service";

/// The service's configuration: `MYSERVICE_NAME` and `MYSERVICE_DESCRIPTION` locally, the config
/// manager's `config` in a stack.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
struct ServiceConfig {
    /// The service's name.
    name: String,
    /// What the service does.
    description: String,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            name: SERVICE_NAME.into(),
            description: "A template MCP server for the ConfidentialMind stack".into(),
        }
    }
}

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

/// The service's status and description, and where it reaches My Service.
#[cm_resource(
    "my-service://info",
    name = "service_info",
    mime_type = "application/json"
)]
async fn service_info(config: Settings<ServiceConfig>, api: Connection) -> Value {
    let config = config.get();
    match api.require() {
        Ok(state) => json!({
            "status": "available",
            "service_name": config.name,
            "service_description": config.description,
            "url": state.url(),
        }),
        Err(not_connected) => json!({
            "status": "unavailable",
            "service_name": config.name,
            "service_description": config.description,
            "url": null,
            "message": not_connected.message(),
        }),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    server().run().await
}

/// The server, apart from `main` so that the tests serve the same one.
fn server() -> Server {
    Server::new(SERVICE_NAME)
        .version(env!("CARGO_PKG_VERSION"))
        .instructions(
            "Use my_tool to process text; read my-service://info for the service's status.",
        )
        .settings::<ServiceConfig>("MYSERVICE_")
        .connector(Connector::api("MYSERVICE", "My Service"))
}

#[cfg(test)]
mod tests;
