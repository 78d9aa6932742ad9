//! `cm_mcp::testing::Client`, the in-process client authors test their servers with: the server's
//! startup and shutdown hooks, every kind of definition, log messages, and rmcp's `Peer` for the rest.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use cm_mcp::{
    prelude::*,
    rmcp::model::ServerCapabilities,
    testing::{Client, ContentExt},
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The greeting the startup hook prepares.
struct Greeting {
    text: String,
}

/// Greets `name` with the greeting the startup hook prepared.
#[cm_tool]
async fn greet(greeting: State<Greeting>, name: String) -> Result<String, ToolError> {
    Ok(format!("{}, {name}!", greeting.text))
}

/// A sum as structured output.
#[derive(Serialize, Deserialize, JsonSchema, Debug, PartialEq)]
struct Sum {
    total: i64,
}

/// Adds two numbers.
#[cm_tool]
async fn add(ctx: &Context, a: i64, b: i64) -> Sum {
    ctx.warning("adding").await;
    Sum { total: a + b }
}

/// Always refuses.
#[cm_tool]
async fn refuse() -> Result<String, ToolError> {
    Err(ToolError::invalid_arguments("no, thank you"))
}

/// A plain-text note.
#[cm_resource("testing://note", mime_type = "text/plain")]
async fn note() -> String {
    "remember the milk".into()
}

/// Asks for a haiku about `topic`.
#[cm_prompt]
async fn haiku(topic: String) -> String {
    format!("Write a haiku about {topic}.")
}

fn server() -> Server {
    Server::new("testing-tests").on_startup(|_| async {
        Ok(Greeting {
            text: "Hello".into(),
        })
    })
}

#[tokio::test]
async fn tools_see_the_state_the_startup_hook_returned() -> anyhow::Result<()> {
    let client = Client::connect(server()).await?;

    let result = client.call_tool("greet", json!({"name": "Ann"})).await?;

    assert_eq!(result.text(), "Hello, Ann!");
    Ok(())
}

#[tokio::test]
async fn structured_output_reads_back_as_json_and_log_messages_keep_their_level()
-> anyhow::Result<()> {
    let client = Client::connect(server()).await?;

    let result = client.call_tool("add", json!({"a": 2, "b": 3})).await?;

    assert_eq!(result.json::<Sum>(), Sum { total: 5 });
    let logs = client.wait_for_log_messages(1).await;
    assert_eq!(
        (logs[0].level.as_str(), &logs[0].data),
        ("warning", &json!("adding"))
    );
    Ok(())
}

#[tokio::test]
async fn a_tool_error_is_a_result_marked_as_error() -> anyhow::Result<()> {
    let client = Client::connect(server()).await?;

    let result = client.call_tool("refuse", Value::Null).await?;

    assert_eq!(result.is_error, Some(true), "{result:?}");
    assert!(result.text().contains("no, thank you"), "{result:?}");
    Ok(())
}

#[tokio::test]
async fn resources_prompts_and_the_tool_list_are_served() -> anyhow::Result<()> {
    let client = Client::connect(server()).await?;

    assert_eq!(
        client.read_text("testing://note").await?,
        "remember the milk"
    );
    let prompt = client
        .get_prompt("haiku", json!({"topic": "tests"}))
        .await?;
    let text = prompt.messages[0]
        .content
        .as_text()
        .map(|t| t.text.as_str());
    assert_eq!(text, Some("Write a haiku about tests."), "{prompt:?}");
    let mut tools: Vec<String> = client
        .list_tools()
        .await?
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    tools.sort();
    assert_eq!(tools, ["add", "greet", "refuse"]);
    Ok(())
}

#[tokio::test]
async fn the_client_is_an_rmcp_peer_for_everything_else() -> anyhow::Result<()> {
    let client = Client::connect(server()).await?;

    let resources = client.list_all_resources().await?;
    let capabilities: Option<ServerCapabilities> =
        client.peer_info().map(|info| info.capabilities.clone());

    assert_eq!(resources.len(), 1, "{resources:?}");
    assert_eq!(resources[0].uri, "testing://note");
    assert!(capabilities.is_some_and(|c| c.prompts.is_some()));
    Ok(())
}

#[tokio::test]
async fn close_waits_for_the_shutdown_hook() -> anyhow::Result<()> {
    let stopped = Arc::new(AtomicBool::new(false));
    let flag = stopped.clone();
    let client = Client::connect(server().on_shutdown(move || async move {
        flag.store(true, Ordering::SeqCst);
    }))
    .await?;
    assert!(!stopped.load(Ordering::SeqCst));

    client.close().await;

    assert!(stopped.load(Ordering::SeqCst));
    Ok(())
}
