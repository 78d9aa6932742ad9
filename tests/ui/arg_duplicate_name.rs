use cm_mcp::prelude::*;

#[cm_tool]
async fn copy(#[arg(rename = "path")] from: String, path: String) -> String {
    format!("{from} -> {path}")
}

fn main() {}
