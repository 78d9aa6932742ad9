use cm_mcp::prelude::*;

#[cm_tool(annotations(readonly, idempotent))]
async fn query(sql: String) -> String {
    sql
}

fn main() {}
