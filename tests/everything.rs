//! The `everything` example (the server `.ci/conformance.sh` runs the official MCP conformance suite
//! against), served in-process over streamable HTTP and driven by rmcp's client. The suite checks the
//! shape of each answer; these tests check the exact contents, and the framework features behind
//! them: logging, progress, sampling, elicitation, subscriptions, completion and `Arguments<T>`.

#![allow(deprecated)] // Sampling and logging are deprecated by SEP-2577 and used by every 2025 client.

use std::{
    future::Future,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use cm_mcp::{HttpOptions, RunningServer};
use cm_test_support::{TIMEOUT, bounded, call_tool, text_of};
use rmcp::{
    ClientHandler, ErrorData as McpError, RoleClient, ServiceExt,
    model::{
        ArgumentInfo, ClientCapabilities, ClientConfig, CompleteRequestParams, CompletionContext,
        CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams, ElicitResult,
        ElicitationAction, GetPromptRequestParams, Implementation, LoggingLevel,
        LoggingMessageNotificationParam, ProgressNotificationParam, ProtocolVersion,
        ReadResourceRequestParams, Reference, ResourceContents, ResourceUpdatedNotificationParam,
        Role, SamplingMessage, SetLevelRequestParams, SubscribeRequestParams,
        UnsubscribeRequestParams,
    },
    service::{NotificationContext, RequestContext, RunningService},
    transport::StreamableHttpClientTransport,
};
use serde_json::{Value, json};
use tokio::sync::Notify;

/// `everything::media::RED_PIXEL_PNG`, base64-encoded (the canonical 1×1 red PNG).
const RED_PIXEL_BASE64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
/// `everything::media::SILENCE_WAV`, base64-encoded.
const SILENCE_WAV_BASE64: &str =
    "UklGRiwAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQgAAACAgICAgICAgA==";

/// Everything the server sent the client, and what the client answers to sampling and elicitation.
#[derive(Default)]
struct Recorded {
    logs: Vec<LoggingMessageNotificationParam>,
    progress: Vec<ProgressNotificationParam>,
    updated: Vec<String>,
    sampling: Vec<CreateMessageRequestParams>,
    elicitation: Vec<Value>,
}

/// A client that records what it receives; it declares sampling and elicitation unless told not to.
#[derive(Clone)]
struct Recorder {
    recorded: Arc<Mutex<Recorded>>,
    changed: Arc<Notify>,
    capabilities: ClientCapabilities,
    elicit_answer: Arc<Mutex<ElicitResult>>,
}

impl Recorder {
    fn new() -> Recorder {
        Recorder::with_capabilities(
            ClientCapabilities::builder()
                .enable_sampling()
                .enable_elicitation()
                .build(),
        )
    }

    fn with_capabilities(capabilities: ClientCapabilities) -> Recorder {
        Recorder {
            recorded: Arc::default(),
            changed: Arc::default(),
            capabilities,
            elicit_answer: Arc::new(Mutex::new(ElicitResult::new(ElicitationAction::Decline))),
        }
    }

    fn record(&self, f: impl FnOnce(&mut Recorded)) {
        f(&mut self.recorded.lock().unwrap());
        self.changed.notify_waiters();
    }

    fn answer_elicitation(&self, action: ElicitationAction, content: Option<Value>) {
        let mut answer = ElicitResult::new(action);
        answer.content = content;
        *self.elicit_answer.lock().unwrap() = answer;
    }

    /// Waits (bounded) until `done` holds for what was recorded, and returns its result.
    async fn wait_for<T>(&self, what: &str, done: impl Fn(&Recorded) -> Option<T>) -> T {
        let waited = tokio::time::timeout(TIMEOUT, async {
            loop {
                let changed = self.changed.notified();
                if let Some(value) = done(&self.recorded.lock().unwrap()) {
                    return value;
                }
                changed.await;
            }
        })
        .await;
        waited.unwrap_or_else(|_| panic!("{what} did not arrive within {TIMEOUT:?}"))
    }
}

impl ClientHandler for Recorder {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            self.capabilities.clone(),
            Implementation::new("everything-tests", "1.0.0"),
        )
        // The version the conformance suite's client speaks; 2026-07-28 has no server-to-client requests.
        .with_protocol_version(ProtocolVersion::V_2025_11_25)
    }

    fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> impl Future<Output = Result<CreateMessageResult, McpError>> + Send + '_ {
        self.record(|r| r.sampling.push(params));
        std::future::ready(Ok(CreateMessageResult::new(
            SamplingMessage::assistant_text("This is a test response from the client"),
            "test-model".into(),
        )
        .with_stop_reason(CreateMessageResult::STOP_REASON_END_TURN)))
    }

    fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> impl Future<Output = Result<ElicitResult, McpError>> + Send + '_ {
        let request = serde_json::to_value(&request).unwrap();
        self.record(|r| r.elicitation.push(request));
        std::future::ready(Ok(self.elicit_answer.lock().unwrap().clone()))
    }

    fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) -> impl Future<Output = ()> + Send + '_ {
        self.record(|r| r.logs.push(params));
        std::future::ready(())
    }

    fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) -> impl Future<Output = ()> + Send + '_ {
        self.record(|r| r.progress.push(params));
        std::future::ready(())
    }

    fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) -> impl Future<Output = ()> + Send + '_ {
        self.record(|r| r.updated.push(params.uri));
        std::future::ready(())
    }
}

type Client = RunningService<RoleClient, Recorder>;

/// `everything`, served on an ephemeral loopback port.
async fn start() -> RunningServer {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    everything::server()
        .start_http(addr, HttpOptions::default())
        .await
        .expect("start the everything server")
}

async fn connect(server: &RunningServer, recorder: Recorder) -> Client {
    let transport = StreamableHttpClientTransport::from_uri(server.url());
    tokio::time::timeout(TIMEOUT, recorder.serve(transport))
        .await
        .expect("initialize timed out")
        .expect("initialize over streamable HTTP")
}

fn json_of<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

#[tokio::test]
async fn content_tools_return_exact_content() {
    bounded("content_tools_return_exact_content", async {
    let server = start().await;
    let client = connect(&server, Recorder::new()).await;

    let tools = client.list_all_tools().await.unwrap();
    for tool in &tools {
        assert!(
            tool.description.is_some(),
            "{} has no description",
            tool.name
        );
    }
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "confirm_delete",
            "failing_job",
            "greet",
            "json_schema_2020_12_tool",
            "multi_input",
            "protocol_error_job",
            "slow_compute",
            "test_audio_content",
            "test_custom_header",
            "test_elicitation",
            "test_elicitation_sep1034_defaults",
            "test_elicitation_sep1330_enums",
            "test_embedded_resource",
            "test_error_handling",
            "test_image_content",
            "test_input_required_result_capabilities",
            "test_input_required_result_elicitation",
            "test_input_required_result_list_roots",
            "test_input_required_result_multi_round",
            "test_input_required_result_multiple_inputs",
            "test_input_required_result_request_state",
            "test_input_required_result_sampling",
            "test_input_required_result_tampered_state",
            "test_logging_tool",
            "test_missing_capability",
            "test_multiple_content_types",
            "test_reconnection",
            "test_sampling",
            "test_simple_text",
            "test_streaming_elicitation",
            "test_tool_with_logging",
            "test_tool_with_progress",
            "test_tool_with_task",
            "test_update_watched_resource",
        ]
    );

    let result = call_tool(&client, "test_simple_text", json!({})).await;
    assert_eq!(
        json_of(&result),
        json!({
            "content": [{"type": "text", "text": "This is a simple text response for testing."}],
            "isError": false,
        })
    );

    let result = call_tool(&client, "test_image_content", json!({})).await;
    assert_eq!(
        json_of(&result.content),
        json!([{"type": "image", "data": RED_PIXEL_BASE64, "mimeType": "image/png"}])
    );

    let result = call_tool(&client, "test_audio_content", json!({})).await;
    assert_eq!(
        json_of(&result.content),
        json!([{"type": "audio", "data": SILENCE_WAV_BASE64, "mimeType": "audio/wav"}])
    );

    let result = call_tool(&client, "test_embedded_resource", json!({})).await;
    assert_eq!(
        json_of(&result.content),
        json!([{"type": "resource", "resource": {
            "uri": "test://embedded-resource",
            "mimeType": "text/plain",
            "text": "This is an embedded resource content.",
        }}])
    );

    let result = call_tool(&client, "test_multiple_content_types", json!({})).await;
    assert_eq!(
        json_of(&result.content),
        json!([
            {"type": "text", "text": "Multiple content types test:"},
            {"type": "image", "data": RED_PIXEL_BASE64, "mimeType": "image/png"},
            {"type": "resource", "resource": {
                "uri": "test://mixed-content-resource",
                "mimeType": "application/json",
                "text": "{\"test\":\"data\",\"value\":123}",
            }},
        ])
    );

    let result = call_tool(&client, "test_error_handling", json!({})).await;
    assert_eq!(result.is_error, Some(true));
    assert_eq!(
        text_of(&result),
        "This tool intentionally returns an error for testing"
    );

    client.cancel().await.unwrap();
    server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn logging_tool_sends_three_messages_filtered_by_level() {
    bounded(
        "logging_tool_sends_three_messages_filtered_by_level",
        async {
            let server = start().await;
            let recorder = Recorder::new();
            let client = connect(&server, recorder.clone()).await;
            let set_level = |level| client.set_level(SetLevelRequestParams::new(level));

            set_level(LoggingLevel::Debug).await.unwrap();
            let result = call_tool(&client, "test_tool_with_logging", json!({})).await;
            assert_eq!(text_of(&result), "Tool with logging executed successfully");
            let expected = [
                "Tool execution started",
                "Tool processing data",
                "Tool execution completed",
            ];
            let logs = recorder
                .wait_for("three log messages", |r| {
                    (r.logs.len() >= 3).then(|| r.logs.clone())
                })
                .await;
            let seen: Vec<(LoggingLevel, Value)> =
                logs.iter().map(|l| (l.level, l.data.clone())).collect();
            let wanted: Vec<(LoggingLevel, Value)> = expected
                .iter()
                .map(|m| (LoggingLevel::Info, json!(m)))
                .collect();
            assert_eq!(seen, wanted);

            // Above the tool's level nothing is sent. Log messages and resource updates of a session reach
            // the client in the order they were sent, so once the update that follows the third call has
            // arrived, every message the second and third calls sent has too.
            let uri = everything::WATCHED_URI;
            client
                .subscribe(SubscribeRequestParams::new(uri))
                .await
                .unwrap();
            set_level(LoggingLevel::Warning).await.unwrap();
            call_tool(&client, "test_tool_with_logging", json!({})).await;
            set_level(LoggingLevel::Info).await.unwrap();
            call_tool(&client, "test_tool_with_logging", json!({})).await;
            call_tool(
                &client,
                "test_update_watched_resource",
                json!({"content": "x"}),
            )
            .await;
            let logs = recorder
                .wait_for("the update after the third call", |r| {
                    (!r.updated.is_empty()).then(|| r.logs.clone())
                })
                .await;
            assert_eq!(logs.len(), 6, "the call at level warning logged: {logs:?}");

            client.cancel().await.unwrap();
            server.shutdown().await.unwrap();
        },
    )
    .await;
}

#[tokio::test]
async fn progress_tool_reports_zero_fifty_hundred() {
    bounded("progress_tool_reports_zero_fifty_hundred", async {
        let server = start().await;
        let recorder = Recorder::new();
        let client = connect(&server, recorder.clone()).await;

        // rmcp's client gives every request a progress token, so the tool reports progress.
        let result = call_tool(&client, "test_tool_with_progress", json!({})).await;
        assert!(
            text_of(&result).starts_with("Progress completed for request "),
            "{result:?}"
        );
        let progress = recorder
            .wait_for("three progress notifications", |r| {
                (r.progress.len() >= 3).then(|| r.progress.clone())
            })
            .await;
        let values: Vec<(f64, Option<f64>)> =
            progress.iter().map(|p| (p.progress, p.total)).collect();
        assert_eq!(
            values,
            [
                (0.0, Some(100.0)),
                (50.0, Some(100.0)),
                (100.0, Some(100.0))
            ]
        );
        assert!(
            progress
                .iter()
                .all(|p| p.progress_token == progress[0].progress_token)
        );

        client.cancel().await.unwrap();
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn sampling_tool_relays_the_client_model_reply() {
    bounded("sampling_tool_relays_the_client_model_reply", async {
    let server = start().await;
    let recorder = Recorder::new();
    let client = connect(&server, recorder.clone()).await;

    let result = call_tool(
        &client,
        "test_sampling",
        json!({"prompt": "Test prompt for sampling"}),
    )
    .await;
    assert_eq!(result.is_error, Some(false), "{result:?}");
    assert_eq!(
        text_of(&result),
        "LLM response: This is a test response from the client"
    );
    let requests = recorder.recorded.lock().unwrap().sampling.clone();
    assert_eq!(requests.len(), 1);
    let request = json_of(&requests[0]);
    assert_eq!(request["maxTokens"], 100);
    assert_eq!(
        request["messages"],
        json!([{"role": "user", "content": {"type": "text", "text": "Test prompt for sampling"}}])
    );

    client.cancel().await.unwrap();

    // A client without the sampling capability gets a tool error that says so.
    let client = connect(
        &server,
        Recorder::with_capabilities(ClientCapabilities::default()),
    )
    .await;
    let result = call_tool(&client, "test_sampling", json!({"prompt": "hi"})).await;
    assert_eq!(result.is_error, Some(true));
    let message = text_of(&result);
    assert!(
        message.contains("did not declare the `sampling` capability"),
        "{message}"
    );

    client.cancel().await.unwrap();
    server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn elicitation_tool_sends_the_form_and_reports_the_answer() {
    bounded("elicitation_tool_sends_the_form_and_reports_the_answer", async {
    let server = start().await;
    let recorder = Recorder::new();
    let client = connect(&server, recorder.clone()).await;

    recorder.answer_elicitation(
        ElicitationAction::Accept,
        Some(json!({"username": "testuser", "email": "test@example.com"})),
    );
    let result = call_tool(
        &client,
        "test_elicitation",
        json!({"message": "Please provide your information"}),
    )
    .await;
    assert_eq!(
        text_of(&result),
        r#"User response: action=accept, content={"username":"testuser","email":"test@example.com"}"#
    );
    let request = recorder.recorded.lock().unwrap().elicitation[0].clone();
    assert_eq!(
        request,
        json!({
            "mode": "form",
            "message": "Please provide your information",
            "requestedSchema": {
                "type": "object",
                "properties": {
                    "email": {"type": "string", "description": "User's email address"},
                    "username": {"type": "string", "description": "User's response"},
                },
                "required": ["username", "email"],
            },
        })
    );

    recorder.answer_elicitation(ElicitationAction::Decline, None);
    let result = call_tool(&client, "test_elicitation", json!({"message": "again?"})).await;
    assert_eq!(
        text_of(&result),
        "User response: action=decline, content={}"
    );

    // Content that does not match the form is the client's mistake, reported as such.
    recorder.answer_elicitation(ElicitationAction::Accept, Some(json!({"username": 5})));
    let result = call_tool(&client, "test_elicitation", json!({"message": "once more"})).await;
    assert_eq!(result.is_error, Some(true));
    assert!(
        text_of(&result).contains("does not match the requested form"),
        "{result:?}"
    );

    client.cancel().await.unwrap();
    server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn elicitation_forms_carry_defaults_and_every_enum_kind() {
    bounded("elicitation_forms_carry_defaults_and_every_enum_kind", async {
    let server = start().await;
    let recorder = Recorder::new();
    let client = connect(&server, recorder.clone()).await;

    recorder.answer_elicitation(
        ElicitationAction::Accept,
        Some(json!({"name": "Jane Smith", "age": 25, "score": 88, "status": "inactive", "verified": false})),
    );
    let result = call_tool(&client, "test_elicitation_sep1034_defaults", json!({})).await;
    assert_eq!(
        text_of(&result),
        r#"Elicitation completed: action=accept, content={"name":"Jane Smith","age":25,"score":88.0,"status":"inactive","verified":false}"#
    );
    let request = recorder.recorded.lock().unwrap().elicitation[0].clone();
    assert_eq!(
        request["requestedSchema"],
        json!({
            "type": "object",
            "properties": {
                "age": {"type": "integer", "description": "Your age in years", "default": 30},
                "name": {"type": "string", "description": "Your name", "default": "John Doe"},
                "score": {"type": "number", "description": "Your score", "default": 95.5},
                "status": {
                    "type": "string",
                    "description": "Your account's status",
                    "enum": ["active", "inactive", "pending"],
                    "default": "active",
                },
                "verified": {"type": "boolean", "description": "Whether you are verified", "default": true},
            },
        })
    );

    recorder.answer_elicitation(
        ElicitationAction::Accept,
        Some(json!({
            "untitledSingle": "option1",
            "titledSingle": "value1",
            "legacyEnum": "opt1",
            "untitledMulti": ["option1", "option2"],
            "titledMulti": ["value1", "value2"],
        })),
    );
    let result = call_tool(&client, "test_elicitation_sep1330_enums", json!({})).await;
    assert_eq!(
        text_of(&result),
        r#"Elicitation completed: action=accept, content={"untitledSingle":"option1","titledSingle":"value1","legacyEnum":"opt1","untitledMulti":["option1","option2"],"titledMulti":["value1","value2"]}"#
    );
    let request = recorder.recorded.lock().unwrap().elicitation[1].clone();
    let options = |titles: [&str; 3]| -> Value {
        titles
            .iter()
            .enumerate()
            .map(|(i, title)| json!({"const": format!("value{}", i + 1), "title": title}))
            .collect()
    };
    assert_eq!(
        request["requestedSchema"],
        json!({
            "type": "object",
            "properties": {
                "untitledSingle": {
                    "type": "string",
                    "description": "Pick one (untitled)",
                    "enum": ["option1", "option2", "option3"],
                },
                "titledSingle": {
                    "type": "string",
                    "description": "Pick one (titled)",
                    "oneOf": options(["First Option", "Second Option", "Third Option"]),
                },
                "legacyEnum": {
                    "type": "string",
                    "description": "Pick one (legacy titles)",
                    "enum": ["opt1", "opt2", "opt3"],
                    "enumNames": ["Option One", "Option Two", "Option Three"],
                },
                "untitledMulti": {
                    "type": "array",
                    "description": "Pick any (untitled)",
                    "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
                },
                "titledMulti": {
                    "type": "array",
                    "description": "Pick any (titled)",
                    "items": {"anyOf": options(["First Choice", "Second Choice", "Third Choice"])},
                },
            },
            "required": ["untitledSingle", "titledSingle", "legacyEnum", "untitledMulti", "titledMulti"],
        })
    );

    client.cancel().await.unwrap();
    server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn resources_have_exact_contents() {
    bounded("resources_have_exact_contents", async {
    let server = start().await;
    let client = connect(&server, Recorder::new()).await;

    let resources = client.list_all_resources().await.unwrap();
    let listed: Vec<(&str, Option<&str>)> = resources
        .iter()
        .map(|r| (r.uri.as_str(), r.mime_type.as_deref()))
        .collect();
    assert_eq!(
        listed,
        [
            ("test://static-binary", Some("image/png")),
            ("test://static-text", Some("text/plain")),
            ("test://watched-resource", Some("text/plain")),
        ]
    );
    let templates = client.list_all_resource_templates().await.unwrap();
    assert_eq!(templates.len(), 1);
    assert_eq!(templates[0].uri_template, "test://template/{id}/data");

    let read = |uri: &'static str| client.read_resource(ReadResourceRequestParams::new(uri));
    assert_eq!(
        json_of(&read("test://static-text").await.unwrap().contents),
        json!([{
            "uri": "test://static-text",
            "mimeType": "text/plain",
            "text": "This is the content of the static text resource.",
        }])
    );
    assert_eq!(
        json_of(&read("test://static-binary").await.unwrap().contents),
        json!([{"uri": "test://static-binary", "mimeType": "image/png", "blob": RED_PIXEL_BASE64}])
    );
    assert_eq!(
        json_of(&read("test://template/123/data").await.unwrap().contents),
        json!([{
            "uri": "test://template/123/data",
            "mimeType": "application/json",
            "text": r#"{"id":"123","templateTest":true,"data":"Data for ID: 123"}"#,
        }])
    );
    let error = read("test://nothing").await.unwrap_err();
    assert!(error.to_string().contains("unknown resource"), "{error}");

    client.cancel().await.unwrap();
    server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn subscribers_and_only_subscribers_hear_of_updates() {
    bounded("subscribers_and_only_subscribers_hear_of_updates", async {
    let server = start().await;
    let watcher = Recorder::new();
    let a = connect(&server, watcher.clone()).await;
    let bystander = Recorder::new();
    let b = connect(&server, bystander.clone()).await;

    let caps = a.peer_info().unwrap().capabilities.clone();
    assert_eq!(caps.resources.and_then(|r| r.subscribe), Some(true));

    let uri = everything::WATCHED_URI;
    a.subscribe(SubscribeRequestParams::new(uri)).await.unwrap();
    // B changes the resource: A, subscribed, is told; B is not.
    let result = call_tool(&b, "test_update_watched_resource", json!({"content": "v2"})).await;
    assert_eq!(
        text_of(&result),
        "Updated test://watched-resource; notified 1 subscriber(s)"
    );
    let updated = watcher
        .wait_for("the update notification", |r| {
            (!r.updated.is_empty()).then(|| r.updated.clone())
        })
        .await;
    assert_eq!(updated, [uri]);
    let contents = a
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
        .unwrap()
        .contents;
    assert!(
        matches!(&contents[0], ResourceContents::TextResourceContents { text, .. } if text == "v2")
    );

    a.unsubscribe(UnsubscribeRequestParams::new(uri))
        .await
        .unwrap();
    let result = call_tool(&b, "test_update_watched_resource", json!({"content": "v3"})).await;
    assert_eq!(
        text_of(&result),
        "Updated test://watched-resource; notified 0 subscriber(s)"
    );
    // That B heard neither update is proven by the server's own count, a positive signal: each
    // update was sent to exactly the sessions counted ("notified 1", received by A; then "notified
    // 0"), so none went to B. B's own record is checked too, though a notification still on its way
    // could not show there yet.
    assert!(bystander.recorded.lock().unwrap().updated.is_empty());

    // A URI no resource serves cannot be subscribed to.
    let error = a
        .subscribe(SubscribeRequestParams::new("test://nothing"))
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("no resource or template serves it"),
        "{error}"
    );

    // A session that ends is forgotten.
    a.subscribe(SubscribeRequestParams::new(uri)).await.unwrap();
    a.cancel().await.unwrap();
    let forgotten = tokio::time::timeout(TIMEOUT, async {
        loop {
            let result =
                call_tool(&b, "test_update_watched_resource", json!({"content": "v4"})).await;
            if text_of(&result).ends_with("notified 0 subscriber(s)") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(forgotten.is_ok(), "a closed session is still notified");

    b.cancel().await.unwrap();
    server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn prompts_have_exact_messages() {
    bounded("prompts_have_exact_messages", async {
    let server = start().await;
    let client = connect(&server, Recorder::new()).await;

    let prompts = client.list_all_prompts().await.unwrap();
    let with_args = prompts
        .iter()
        .find(|p| p.name == "test_prompt_with_arguments")
        .unwrap();
    assert_eq!(
        json_of(&with_args.arguments),
        json!([
            {"name": "arg1", "description": "First test argument", "required": true},
            {"name": "arg2", "description": "Second test argument", "required": true},
        ])
    );
    for prompt in &prompts {
        assert!(
            prompt.description.is_some(),
            "{} has no description",
            prompt.name
        );
    }

    let get = |name: &'static str, arguments: Value| {
        let mut params = GetPromptRequestParams::new(name);
        if let Value::Object(arguments) = arguments {
            params = params.with_arguments(arguments);
        }
        client.get_prompt(params)
    };
    let messages = |result: rmcp::model::GetPromptResult| json_of(&result.messages);

    assert_eq!(
        messages(get("test_simple_prompt", Value::Null).await.unwrap()),
        json!([{"role": "user", "content": {"type": "text", "text": "This is a simple prompt for testing."}}])
    );
    assert_eq!(
        messages(
            get(
                "test_prompt_with_arguments",
                json!({"arg1": "hello", "arg2": "world"})
            )
            .await
            .unwrap()
        ),
        json!([{"role": "user", "content": {"type": "text", "text": "Prompt with arguments: arg1='hello', arg2='world'"}}])
    );
    assert_eq!(
        messages(
            get(
                "test_prompt_with_embedded_resource",
                json!({"resourceUri": "test://example-resource"})
            )
            .await
            .unwrap()
        ),
        json!([
            {"role": "user", "content": {"type": "resource", "resource": {
                "uri": "test://example-resource",
                "mimeType": "text/plain",
                "text": "Embedded resource content for testing.",
            }}},
            {"role": "user", "content": {"type": "text", "text": "Please process the embedded resource above."}},
        ])
    );
    let image = get("test_prompt_with_image", Value::Null).await.unwrap();
    assert_eq!(image.messages[0].role, Role::User);
    assert_eq!(
        messages(image),
        json!([
            {"role": "user", "content": {"type": "image", "data": RED_PIXEL_BASE64, "mimeType": "image/png"}},
            {"role": "user", "content": {"type": "text", "text": "Please analyze the image above."}},
        ])
    );

    client.cancel().await.unwrap();
    server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn completion_suggests_from_functions_and_enums() {
    bounded("completion_suggests_from_functions_and_enums", async {
        let server = start().await;
        let client = connect(&server, Recorder::new()).await;
        let caps = client.peer_info().unwrap().capabilities.clone();
        assert!(caps.completions.is_some());

        let complete = |reference: Reference, argument: &str, value: &str| {
            client.complete(CompleteRequestParams::new(
                reference,
                ArgumentInfo::new(argument, value),
            ))
        };
        let values = |result: rmcp::model::CompleteResult| result.completion.values;
        let prompt = Reference::for_prompt;

        // From `#[arg(complete = ..)]` functions, for a prompt argument and a template variable.
        let result = complete(prompt("test_prompt_with_arguments"), "arg1", "te")
            .await
            .unwrap();
        assert_eq!(result.completion.total, Some(2));
        assert_eq!(result.completion.has_more, Some(false));
        assert_eq!(values(result), ["test", "testValue1"]);
        let template = Reference::for_resource("test://template/{id}/data");
        assert_eq!(
            values(complete(template, "id", "4").await.unwrap()),
            ["456"]
        );
        // From an enum's values, with no code; case-insensitive prefix.
        assert_eq!(
            values(
                complete(prompt("test_prompt_with_enum_argument"), "tone", "F")
                    .await
                    .unwrap()
            ),
            ["formal", "friendly", "funny"]
        );
        // A free-form argument has nothing to suggest; an unknown one is an error naming the real ones.
        assert!(
            values(
                complete(prompt("test_prompt_with_arguments"), "arg2", "x")
                    .await
                    .unwrap()
            )
            .is_empty()
        );
        let error = complete(prompt("test_prompt_with_arguments"), "arg3", "x")
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("the arguments are: arg1, arg2"),
            "{error}"
        );
        let error = complete(prompt("nope"), "a", "").await.unwrap_err();
        assert!(
            error.to_string().contains("unknown prompt `nope`"),
            "{error}"
        );

        // The context's other arguments reach the completion function (here unused, but accepted).
        let mut params = CompleteRequestParams::new(
            prompt("test_prompt_with_arguments"),
            ArgumentInfo::new("arg1", "w"),
        );
        params.context = Some(CompletionContext::with_arguments(
            [("arg2".to_string(), "x".to_string())].into(),
        ));
        assert_eq!(values(client.complete(params).await.unwrap()), ["world"]);

        client.cancel().await.unwrap();
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_struct_can_be_the_whole_argument_object() {
    bounded("a_struct_can_be_the_whole_argument_object", async {
        let server = start().await;
        let client = connect(&server, Recorder::new()).await;

        let tools = client.list_all_tools().await.unwrap();
        let tool = tools
            .iter()
            .find(|t| t.name == "json_schema_2020_12_tool")
            .unwrap();
        assert_eq!(
            Value::Object(tool.input_schema.as_ref().clone()),
            json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {
                    "name": {"type": ["string", "null"]},
                    "address": {"anyOf": [{"$ref": "#/$defs/address"}, {"type": "null"}]},
                    "contactMethod": {"anyOf": [{"$ref": "#/$defs/ContactMethod"}, {"type": "null"}]},
                    "phone": {"type": ["string", "null"]},
                    "email": {"type": ["string", "null"]},
                },
                "additionalProperties": false,
                "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
                "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
                "then": {"required": ["phone"]},
                "else": {"required": ["email"]},
                "$defs": {
                    "address": {
                        "$anchor": "addressDef",
                        "type": "object",
                        "description": "A postal address.",
                        "properties": {
                            "street": {"type": ["string", "null"]},
                            "city": {"type": ["string", "null"]},
                        },
                    },
                    "ContactMethod": {
                        "description": "How to reach the person.",
                        "type": "string",
                        "enum": ["phone", "email"],
                    },
                },
            })
        );

        let result = call_tool(
            &client,
            "json_schema_2020_12_tool",
            json!({"name": "Ann", "address": {"city": "Oslo"}}),
        )
        .await;
        assert_eq!(text_of(&result), "Received name=Ann, city=Oslo");
        // additionalProperties: false is enforced, not only advertised.
        let result = call_tool(&client, "json_schema_2020_12_tool", json!({"nmae": "Ann"})).await;
        assert_eq!(result.is_error, Some(true));
        assert!(
            text_of(&result).contains("unknown field `nmae`"),
            "{result:?}"
        );

        client.cancel().await.unwrap();
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn requests_naming_another_host_are_refused() {
    bounded("requests_naming_another_host_are_refused", async {
        let server = start().await;
        let url = server.url();
        let port = server.local_addr().port();
        let initialize = json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "dns-rebinding-test", "version": "1.0.0"},
            },
        });
        let http = reqwest::Client::new();
        let post = |host: String| {
            http.post(&url)
                .header("host", host.as_str())
                .header("origin", format!("http://{host}"))
                .header("accept", "application/json, text/event-stream")
                .json(&initialize)
                .send()
        };
        let evil = post("evil.example.com".into()).await.unwrap();
        assert_eq!(evil.status(), 403, "a rebinding Host is served");
        let local = post(format!("localhost:{port}")).await.unwrap();
        assert_eq!(local.status(), 200);

        server.shutdown().await.unwrap();
    })
    .await;
}
