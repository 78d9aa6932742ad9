use cm_mcp::prelude::*;

#[cm_resource(name = "info", "my-service://info")]
async fn info() -> String {
    "ok".into()
}

fn main() {}
