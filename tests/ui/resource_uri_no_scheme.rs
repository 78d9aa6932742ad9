use cm_mcp::prelude::*;

#[cm_resource("service-info")]
async fn info() -> String {
    "ok".into()
}

fn main() {}
