use cm_mcp::prelude::*;

#[cm_tool]
fn greet(name: String) -> String {
    format!("Hello, {name}")
}

fn main() {}
