use cm_mcp::prelude::*;

#[cm_tool]
async fn add((a, b): (u8, u8)) -> String {
    (a + b).to_string()
}

fn main() {}
