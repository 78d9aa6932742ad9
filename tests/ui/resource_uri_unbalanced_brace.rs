use cm_mcp::prelude::*;

#[cm_resource("files://{path")]
async fn file(path: String) -> String {
    path
}

fn main() {}
