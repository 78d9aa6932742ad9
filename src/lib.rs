#![doc = include_str!("../README.md")]

pub use mcp_macros::{cm_prompt, cm_resource, cm_tool};
pub use mcp_runtime::*;

/// What a server's `main.rs` and tool modules usually need.
pub mod prelude {
    pub use mcp_macros::{cm_prompt, cm_resource, cm_tool};
    pub use mcp_runtime::{
        Context, Image, Json, Server, State, ToolError, TraceContext,
        rmcp::model::{ContentBlock, PromptMessage, Role},
    };
}
