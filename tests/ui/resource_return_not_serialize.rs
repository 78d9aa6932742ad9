use cm_mcp::prelude::*;

#[cm_resource("files://{path}")]
async fn file(path: String) -> std::fs::File {
    std::fs::File::open(path).unwrap()
}

fn main() {}
