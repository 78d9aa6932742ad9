//! The `everything` server: every server scenario of the official MCP conformance suite
//! (`@modelcontextprotocol/conformance`), written with cm-mcp's macros and public API only.
//!
//! Each scenario's expectations are in its source in the suite; the names, texts and URIs below are
//! the ones it asks for. `.ci/conformance.sh` runs the suite against the binary, and
//! `tests/everything*.rs` check the exact contents with rmcp's client.

use std::sync::RwLock;

use cm_mcp::Server;

pub mod media;
mod prompts;
mod protocol_2026;
mod resources;
mod tasks;
mod tools;

pub use resources::WATCHED_URI;

/// The server, with its shared state; `main` runs it, tests start it in-process.
pub fn server() -> Server {
    Server::new("everything")
        .version(env!("CARGO_PKG_VERSION"))
        .title("cm-mcp everything server")
        .instructions(
            "A test server implementing every scenario of the MCP conformance suite: tools, resources, prompts, logging, progress, sampling, elicitation, completion, subscriptions and tasks.",
        )
        .state(Watched::default())
}

/// The contents of the watched resource, which `test_update_watched_resource` changes.
pub struct Watched(RwLock<String>);

impl Default for Watched {
    fn default() -> Self {
        Watched(RwLock::new(
            "The watched resource's initial content.".into(),
        ))
    }
}

impl Watched {
    fn get(&self) -> String {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, content: String) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = content;
    }
}
