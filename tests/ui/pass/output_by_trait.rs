//! What a return type becomes is decided by the traits it implements: aliases and an author's own
//! content type are content, other `Serialize + JsonSchema` types structured output; a resource's
//! alias of a text type is text, other `Serialize` types JSON.

use std::borrow::Cow;

use cm_mcp::{IntoToolContent, ToolError, prelude::*, rmcp::model::CallToolResult};

type Reply = String;

#[cm_tool]
async fn alias() -> Reply {
    "text".into()
}

#[cm_tool]
async fn cow() -> Result<Cow<'static, str>, ToolError> {
    Ok(Cow::Borrowed("text"))
}

struct Shout(String);

impl IntoToolContent for Shout {
    fn into_tool_result(self) -> Result<CallToolResult, ToolError> {
        self.0.to_uppercase().into_tool_result()
    }
}

#[cm_tool]
async fn shout() -> Shout {
    Shout("hey".into())
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct Report {
    rows: u32,
}

#[cm_tool]
async fn report() -> Report {
    Report { rows: 1 }
}

#[cm_tool]
async fn numbers() -> Vec<u32> {
    vec![1, 2]
}

#[cm_tool]
async fn explicit_json() -> Json<Report> {
    Json(Report { rows: 1 })
}

type Page = Cow<'static, str>;

#[cm_resource("kinds://page")]
async fn page() -> Page {
    Cow::Borrowed("text")
}

#[cm_resource("kinds://report")]
async fn report_resource() -> Report {
    Report { rows: 1 }
}

fn main() {}
