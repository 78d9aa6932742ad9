//! A plain MCP server: cm-mcp without its default `platform` feature, so without the platform's
//! client stack (reqwest, rustls, tokio-tungstenite, config). `tests/features.rs` checks that none of
//! those crates is linked, talks MCP to it over stdio, and checks that it refuses a stack deployment.
//!
//! It declares one connector (`UPSTREAM`) to show that local mode's connectors need no feature.

use cm_mcp::prelude::*;

connector_id!(
    /// The one connector: `UPSTREAM_URL` locally.
    Upstream = "UPSTREAM"
);

/// Greets `name`, and says where the upstream service is (`UPSTREAM_URL`), if anywhere.
///
/// # Arguments
/// * `name` - Who to greet.
#[cm_tool]
async fn greet(name: String, upstream: Connection<Upstream>) -> String {
    match upstream.assigned_url() {
        Some(url) => format!("Hello, {name}! Upstream is at {url}."),
        None => format!("Hello, {name}! No upstream."),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    Server::new("plain-server")
        .version(env!("CARGO_PKG_VERSION"))
        .connector(Connector::api("UPSTREAM", "Upstream"))
        .run()
        .await
}
