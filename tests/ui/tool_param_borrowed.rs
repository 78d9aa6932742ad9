use cm_mcp::prelude::*;

#[cm_tool]
async fn greet(name: &str) -> String {
    format!("Hello, {name}")
}

fn main() {}
