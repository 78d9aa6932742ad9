//! What a tool or resource sends is decided by the traits its return type implements, not by the
//! type's name: served over streamable HTTP and read by rmcp's client, a `String` behind an alias is
//! text, an author's `IntoToolContent` type is content, and any other `Serialize + JsonSchema` type is
//! structured output with an `outputSchema`.

use std::{borrow::Cow, net::SocketAddr};

use cm_mcp::{
    __private_v0_1::{ToolDef, inventory},
    HttpOptions, IntoToolContent, RunningServer, Server, ToolError,
    prelude::*,
    rmcp::model::CallToolResult,
};
use cm_test_support::{TIMEOUT, bounded, call_tool, text_of};
use rmcp::{
    RoleClient, ServiceExt,
    model::{ReadResourceRequestParams, ResourceContents},
    service::RunningService,
    transport::StreamableHttpClientTransport,
};
use serde_json::json;

type Reply = String;

/// Greets, as text behind an alias.
#[cm_tool]
async fn greet(name: String) -> Reply {
    format!("Hello, {name}")
}

/// Text an author converts as they like.
struct Shout(String);

impl IntoToolContent for Shout {
    fn into_tool_result(self) -> Result<CallToolResult, ToolError> {
        self.0.to_uppercase().into_tool_result()
    }
}

/// Shouts.
#[cm_tool]
async fn shout(text: String) -> Result<Shout, ToolError> {
    Ok(Shout(text))
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct Count {
    words: usize,
}

/// Counts words, as structured output.
#[cm_tool]
async fn count(text: String) -> Count {
    Count {
        words: text.split_whitespace().count(),
    }
}

type Page = Cow<'static, str>;

/// A page of text behind an alias.
#[cm_resource("kinds://page")]
async fn page() -> Page {
    Cow::Borrowed("plain text")
}

/// Counts, as JSON.
#[cm_resource("kinds://count")]
async fn counted() -> Count {
    Count { words: 2 }
}

type Client = RunningService<RoleClient, ()>;

async fn start() -> (RunningServer, Client) {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = Server::new("kinds")
        .start_http(addr, HttpOptions::default())
        .await
        .expect("start the server");
    let transport = StreamableHttpClientTransport::from_uri(server.url());
    let client = tokio::time::timeout(TIMEOUT, ().serve(transport))
        .await
        .expect("initialize timed out")
        .expect("initialize over streamable HTTP");
    (server, client)
}

#[test]
fn definitions_carry_an_output_schema_only_for_structured_output() {
    let schema_of = |name: &str| {
        let def = inventory::iter::<ToolDef>
            .into_iter()
            .find(|d| d.name == name)
            .unwrap_or_else(|| panic!("no tool `{name}`"));
        def.output_schema.map(|schema| schema().schema)
    };
    assert!(schema_of("greet").is_none());
    assert!(schema_of("shout").is_none());
    let schema = schema_of("count").expect("`count` has an output schema");
    assert_eq!(schema["type"], "object");
    assert!(schema["properties"].get("words").is_some(), "{schema:?}");
}

#[tokio::test]
async fn a_client_sees_text_for_text_types_and_structured_output_for_the_rest() {
    bounded(
        "a_client_sees_text_for_text_types_and_structured_output_for_the_rest",
        async {
            let (server, client) = start().await;
            let tools = tokio::time::timeout(TIMEOUT, client.list_all_tools())
                .await
                .expect("tools/list timed out")
                .expect("tools/list");
            let tool = |name: &str| {
                tools
                    .iter()
                    .find(|t| t.name == name)
                    .unwrap_or_else(|| panic!("no tool `{name}` in {tools:?}"))
            };
            assert!(tool("greet").output_schema.is_none());
            assert!(tool("shout").output_schema.is_none());
            let schema = tool("count")
                .output_schema
                .clone()
                .expect("an outputSchema");
            assert!(schema["properties"].get("words").is_some(), "{schema:?}");

            let greeted = call_tool(&client, "greet", json!({"name": "Ada"})).await;
            assert_eq!(text_of(&greeted), "Hello, Ada");
            assert!(greeted.structured_content.is_none(), "{greeted:?}");

            let shouted = call_tool(&client, "shout", json!({"text": "hey"})).await;
            assert_eq!(text_of(&shouted), "HEY");
            assert!(shouted.structured_content.is_none(), "{shouted:?}");

            let counted = call_tool(&client, "count", json!({"text": "one two three"})).await;
            assert_eq!(counted.structured_content, Some(json!({"words": 3})));

            client.cancel().await.unwrap();
            server.shutdown().await.unwrap();
        },
    )
    .await;
}

#[tokio::test]
async fn a_resource_sends_text_types_as_text_and_the_rest_as_json() {
    bounded(
        "a_resource_sends_text_types_as_text_and_the_rest_as_json",
        async {
            let (server, client) = start().await;
            let read = |uri: &'static str| {
                let client = &client;
                async move {
                    let params = ReadResourceRequestParams::new(uri);
                    let mut result = tokio::time::timeout(TIMEOUT, client.read_resource(params))
                        .await
                        .unwrap_or_else(|_| panic!("{uri} timed out"))
                        .unwrap_or_else(|e| panic!("{uri} failed: {e}"));
                    assert_eq!(result.contents.len(), 1, "{result:?}");
                    match result.contents.remove(0) {
                        ResourceContents::TextResourceContents {
                            text, mime_type, ..
                        } => (text, mime_type),
                        other => panic!("not text: {other:?}"),
                    }
                }
            };
            assert_eq!(
                read("kinds://page").await,
                ("plain text".to_string(), Some("text/plain".to_string()))
            );
            assert_eq!(
                read("kinds://count").await,
                (
                    r#"{"words":2}"#.to_string(),
                    Some("application/json".to_string())
                )
            );
            client.cancel().await.unwrap();
            server.shutdown().await.unwrap();
        },
    )
    .await;
}
