use cm_mcp::prelude::*;

#[cm_resource("files://{path}")]
async fn file(name: String) -> String {
    name
}

fn main() {}
