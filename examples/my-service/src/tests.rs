//! The service tested in-process with real MCP messages: `cm_mcp::testing::Client` serves `server()`
//! over an in-memory pipe.

use cm_mcp::testing::{Client, ContentExt};
use serde_json::{Value, json};

use super::server;

#[tokio::test]
async fn my_tool_processes_its_input_and_tells_the_client_how_long_it_was() -> anyhow::Result<()> {
    let client = Client::connect(server()).await?;

    let result = client
        .call_tool("my_tool", json!({"input_param": "hi"}))
        .await?;

    assert_eq!(result.text(), "Processed: hi");
    let logs = client.wait_for_log_messages(1).await;
    assert_eq!(logs[0].level, "info");
    assert_eq!(logs[0].data, "Processing input of 2 characters");
    Ok(())
}

#[tokio::test]
async fn my_tool_without_its_argument_answers_an_error_naming_it() -> anyhow::Result<()> {
    let client = Client::connect(server()).await?;

    let result = client.call_tool("my_tool", json!({})).await?;

    assert_eq!(result.is_error, Some(true), "{result:?}");
    assert!(
        result
            .text()
            .contains("missing required argument `input_param`"),
        "{result:?}"
    );
    Ok(())
}

#[tokio::test]
async fn an_unknown_tool_is_a_protocol_error_naming_it() -> anyhow::Result<()> {
    let client = Client::connect(server()).await?;

    let error = client
        .call_tool("no_such_tool", json!({}))
        .await
        .unwrap_err();

    let cm_mcp::rmcp::ServiceError::McpError(error) = error else {
        panic!("expected an MCP error, got {error}");
    };
    assert!(error.message.contains("no_such_tool"), "{error:?}");
    Ok(())
}

#[tokio::test]
async fn the_info_resource_reports_the_settings_and_whether_my_service_is_reachable()
-> anyhow::Result<()> {
    // The test process's environment decides, as it would for the server.
    let url = std::env::var("MYSERVICE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty());
    let client = Client::connect(server()).await?;

    let info: Value = client.read_json("my-service://info").await?;

    let name = std::env::var("MYSERVICE_NAME").unwrap_or_else(|_| "my-fastmcp-service".into());
    assert_eq!(info["service_name"], name, "{info}");
    match url {
        Some(_) => assert_eq!(info["status"], "available", "{info}"),
        None => {
            assert_eq!(info["status"], "unavailable", "{info}");
            assert_eq!(info["url"], Value::Null, "{info}");
            assert!(
                info["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("MYSERVICE_URL")),
                "{info}"
            );
        }
    }
    Ok(())
}
