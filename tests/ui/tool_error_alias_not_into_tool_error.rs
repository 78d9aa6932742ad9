use cm_mcp::prelude::*;

mod lookup {
    /// Not a std::error::Error: it does not convert into ToolError.
    pub struct Missing;
    pub type Result<T> = std::result::Result<T, Missing>;
}

#[cm_tool]
async fn fetch(key: String) -> lookup::Result<String> {
    Err(lookup::Missing).or(Ok(key))
}

fn main() {}
