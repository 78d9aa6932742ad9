//! Injected parameters of every kind, structured output, and an error type that converts into ToolError.

use cm_mcp::prelude::*;

struct Db {
    rows: Vec<String>,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct Page {
    rows: Vec<String>,
    total: usize,
}

#[derive(Debug)]
struct DbError;

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("database unavailable")
    }
}

impl std::error::Error for DbError {}

#[cm_tool]
async fn page(
    ctx: Context,
    db: State<Db>,
    trace: &TraceContext,
    offset: usize,
) -> Result<Page, DbError> {
    let _ = (ctx, trace);
    let rows: Vec<String> = db.rows.iter().skip(offset).cloned().collect();
    Ok(Page {
        total: rows.len(),
        rows,
    })
}

#[cm_tool]
async fn ping() {}

#[cm_tool]
async fn blocks() -> Vec<ContentBlock> {
    vec![ContentBlock::text("one")]
}

fn main() {}

/// A one-argument `Result` alias: the error type is inferred.
#[cm_tool]
async fn read(path: String) -> std::io::Result<String> {
    std::fs::read_to_string(path)
}
