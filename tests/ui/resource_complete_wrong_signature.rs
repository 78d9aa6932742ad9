use cm_mcp::prelude::*;

/// Takes the request but returns the wrong type.
async fn tables(_request: cm_mcp::Completion) -> Vec<&'static str> {
    vec!["users"]
}

#[cm_resource("db://{table}/schema")]
async fn schema(#[arg(complete = tables)] table: String) -> String {
    table
}

fn main() {}
