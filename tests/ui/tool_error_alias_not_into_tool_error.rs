use cm_mcp::prelude::*;

// anyhow::Error is not a std::error::Error, so it does not convert into ToolError by itself.
#[cm_tool]
async fn fetch(url: String) -> anyhow::Result<String> {
    anyhow::ensure!(url.starts_with("https://"), "not https");
    Ok(url)
}

fn main() {}
