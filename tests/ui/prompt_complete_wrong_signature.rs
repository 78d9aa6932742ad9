use cm_mcp::prelude::*;

fn languages() -> Vec<String> {
    vec!["rust".into()]
}

#[cm_prompt]
async fn review(code: String, #[arg(complete = languages)] language: String) -> String {
    format!("Review this {language}:\n{code}")
}

fn main() {}
