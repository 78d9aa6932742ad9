//! A static resource, a resource template with a reserved expansion, and prompts.

use cm_mcp::prelude::*;

/// The service's status.
#[cm_resource(
    "my-service://info",
    name = "service_info",
    mime_type = "application/json"
)]
async fn info() -> serde_json::Value {
    serde_json::json!({ "status": "available" })
}

/// A file's bytes.
#[cm_resource("files://{root}/{+path}", title = "File", tags = ["fs"], event = "fs.read")]
async fn file(root: String, path: String) -> Result<Vec<u8>, ToolError> {
    Ok(format!("{root}/{path}").into_bytes())
}

/// Asks for a code review.
///
/// # Arguments
/// * `code` - The code to review.
#[cm_prompt(title = "Review", tags = ["code"])]
async fn review(code: String, strict: Option<bool>) -> Vec<PromptMessage> {
    let tone = if strict.unwrap_or(false) {
        "strictly"
    } else {
        "kindly"
    };
    vec![PromptMessage::new_text(
        Role::User,
        format!("Review {tone}:\n{code}"),
    )]
}

#[cm_prompt(name = "summarize")]
async fn summary(text: String) -> String {
    format!("Summarize: {text}")
}

fn main() {}

async fn languages(request: cm_mcp::Completion) -> Vec<String> {
    let _ = request;
    vec!["rust".into(), "python".into()]
}

/// Completion functions on a prompt argument and on a template variable.
#[cm_prompt]
async fn explain(#[arg(complete = languages)] language: String) -> String {
    format!("Explain {language}")
}

#[cm_resource("docs://{language}/intro")]
async fn intro(#[arg(complete = self::languages)] language: String) -> String {
    format!("{language} intro")
}
