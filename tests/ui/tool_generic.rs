use cm_mcp::prelude::*;

#[cm_tool]
async fn echo<T: serde::Serialize>(value: T) -> String {
    serde_json::to_string(&value).unwrap_or_default()
}

fn main() {}
