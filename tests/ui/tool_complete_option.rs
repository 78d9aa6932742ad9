use cm_mcp::prelude::*;

async fn languages(_request: cm_mcp::Completion) -> Vec<String> {
    vec!["rust".into()]
}

#[cm_tool]
async fn run(#[arg(complete = languages)] language: String) -> String {
    language
}

fn main() {}
