//! The baseline of the comparison: a bare rmcp 3.11 server with the same tool as `my-service`
//! (`my_tool(input_param)` sends one log message to the client and returns `Processed: <input>`;
//! `my_tool_quiet` returns the same without the log message),
//! written the way rmcp's own examples do it, with TCP_NODELAY on (without it every call waits on a
//! delayed ACK) and no logging, tracing or instrumentation of any kind.
//!
//! ```text
//! bare-rmcp [--stdio] [--port 8080] [--host 127.0.0.1] [--stateless]
//! ```
//! HTTP serves MCP at `/mcp` and `GET /health` (200, a small JSON document) at the root.

#![allow(deprecated)] // notify_logging_message is deprecated by SEP-2577; my-service still sends it.

use anyhow::Context as _;
use axum::{Json, Router, routing::get, serve::ListenerExt};
use clap::Parser;
use rmcp::{
    Peer, RoleServer, ServerHandler, ServiceExt,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{
        Implementation, LoggingLevel, LoggingMessageNotificationParam, ServerCapabilities,
        ServerConfig,
    },
    schemars, tool, tool_handler, tool_router,
    transport::{
        StreamableHttpServerConfig, StreamableHttpService,
        streamable_http_server::session::local::LocalSessionManager,
    },
};

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(about = "A bare rmcp 3.11 server serving my_tool, the baseline of cm-bench")]
struct Cli {
    /// Stateless answers are plain JSON, as `my-service --stateless` gives.
    #[command(flatten)]
    flags: cm_bench::servers::ServerFlags,
}

/// `my_tool`'s arguments.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
struct MyToolArgs {
    /// The text to process.
    input_param: String,
}

#[derive(Debug, Clone)]
struct Bare {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Bare {
    #[tool(
        description = "Processes the input and returns the result.",
        annotations(read_only_hint = true, idempotent_hint = true)
    )]
    async fn my_tool(
        &self,
        peer: Peer<RoleServer>,
        Parameters(MyToolArgs { input_param }): Parameters<MyToolArgs>,
    ) -> String {
        // The same client log message my-service's tool sends with ctx.info(..).
        let message = format!(
            "Processing input of {} characters",
            input_param.chars().count()
        );
        let _ = peer
            .notify_logging_message(LoggingMessageNotificationParam::new(
                LoggingLevel::Info,
                message.into(),
            ))
            .await;
        format!("Processed: {input_param}")
    }

    #[tool(
        description = "Processes the input and returns the result, without a log message.",
        annotations(read_only_hint = true, idempotent_hint = true)
    )]
    async fn my_tool_quiet(
        &self,
        Parameters(MyToolArgs { input_param }): Parameters<MyToolArgs>,
    ) -> String {
        format!("Processed: {input_param}")
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Bare {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_logging()
                .build(),
        )
        .with_server_info(Implementation::new("bare-rmcp", env!("CARGO_PKG_VERSION")))
    }
}

fn bare() -> Bare {
    Bare {
        tool_router: Bare::tool_router(),
    }
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "healthy", "service": "bare-rmcp" }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.flags.stdio {
        let running = bare()
            .serve(rmcp::transport::stdio())
            .await
            .context("the stdio client did not initialize")?;
        running.waiting().await?;
        return Ok(());
    }
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(!cli.flags.stateless)
        .with_json_response(cli.flags.stateless);
    // The same session manager and config switches as cm-mcp's transport, so that only the
    // framework's own work differs.
    let mcp =
        StreamableHttpService::new(|| Ok(bare()), LocalSessionManager::default().into(), config);
    let router = Router::new()
        .route("/health", get(health))
        .nest_service("/mcp", mcp);
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
