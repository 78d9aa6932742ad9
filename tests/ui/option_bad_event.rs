use cm_mcp::prelude::*;

#[cm_tool(event = "SQL.Query")]
async fn query(sql: String) -> String {
    sql
}

fn main() {}
