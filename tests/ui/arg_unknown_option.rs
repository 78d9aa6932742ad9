use cm_mcp::prelude::*;

#[cm_tool]
async fn login(user: String, #[arg(hidden)] password: String) -> String {
    let _ = password;
    user
}

fn main() {}
