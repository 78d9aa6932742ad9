use cm_mcp::prelude::*;

#[cm_tool]
async fn greet(name: String) -> impl std::fmt::Display {
    format!("Hello, {name}")
}

fn main() {}
