use cm_mcp::prelude::*;

#[cm_tool(name = "run query")]
async fn query(sql: String) -> String {
    sql
}

fn main() {}
