use cm_mcp::prelude::*;

#[cm_tool]
async fn open(path: String) -> Result<std::fs::File, ToolError> {
    std::fs::File::open(path).map_err(ToolError::internal)
}

fn main() {}
