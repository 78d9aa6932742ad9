use cm_mcp::prelude::*;

/// Not a std::error::Error, so it does not convert into ToolError.
#[derive(Debug)]
struct LookupFailed;

#[cm_tool]
async fn lookup(key: String) -> Result<String, LookupFailed> {
    if key.is_empty() {
        Err(LookupFailed)
    } else {
        Ok(key)
    }
}

fn main() {}
