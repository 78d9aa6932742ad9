use cm_mcp::prelude::*;

#[cm_tool(descripton = "Greets someone")]
async fn greet(name: String) -> String {
    format!("Hello, {name}")
}

fn main() {}
