use cm_mcp::prelude::*;

#[cm_resource]
async fn info() -> String {
    "ok".into()
}

fn main() {}
