use cm_mcp::prelude::*;

#[cm_tool(timeout = 5)]
async fn greet(name: String) -> String {
    format!("Hello, {name}")
}

fn main() {}
