use cm_mcp::prelude::*;

#[cm_prompt]
async fn review(code: String) -> usize {
    code.len()
}

fn main() {}
