use cm_mcp::prelude::*;

#[cm_tool]
async fn show(value: impl std::fmt::Display) -> String {
    value.to_string()
}

fn main() {}
