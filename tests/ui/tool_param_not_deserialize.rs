use cm_mcp::prelude::*;

/// Neither an argument (no Deserialize + JsonSchema) nor an injected value.
struct Connection;

#[cm_tool]
async fn query(conn: Connection, sql: String) -> String {
    let _ = conn;
    sql
}

fn main() {}
