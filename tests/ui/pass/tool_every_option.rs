//! Every #[cm_tool] option at once, every #[arg] option, and `crate` naming the facade by another path.

use cm_mcp::prelude::*;

mod facade {
    pub use cm_mcp as mcp;
}

/// Runs a query.
///
/// # Arguments
/// * `sql` - The statement to run.
#[cm_tool(
    name = "run_query",
    title = "Run a query",
    description = "Runs a read-only SQL query.",
    annotations(read_only, destructive = false, idempotent = true, open_world = false),
    tags = ["sql", "read"],
    tags("reporting"),
    event = "sql.query",
    crate = "facade::mcp"
)]
async fn query(
    ctx: &Context,
    sql: String,
    #[arg(description = "Rows to return at most", rename = "max_rows")] limit: Option<u32>,
    #[arg(secret)] password: String,
    #[arg(secret = false)] r#type: Option<String>,
) -> Result<String, ToolError> {
    ctx.info("running").await;
    let _ = (password, r#type);
    Ok(format!("{sql} limit {}", limit.unwrap_or(10)))
}

fn main() {}
