//! `everything`: every server scenario of the official MCP conformance suite, written with cm-mcp.
//! See `.ci/conformance.sh`, which runs the suite against it.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    everything::server().run().await
}
