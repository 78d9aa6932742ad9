use cm_mcp::prelude::*;

#[cm_tool(name = "greet", description = "Greets someone", name = "hello")]
async fn greet(name: String) -> String {
    format!("Hello, {name}")
}

fn main() {}
