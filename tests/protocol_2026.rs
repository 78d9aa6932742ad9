//! Protocol 2026-07-28 as its clients see it, served by the `everything` example over real HTTP and
//! driven by rmcp's client negotiating the revision with `server/discover` (as the Python clients do):
//! input-required rounds (SEP-2322: the same author code, `ctx.elicit`, `ctx.sample`, `ctx.list_roots`,
//! that sends requests to a 2025 client ends a round, and the function runs again with the client's
//! answers; checked through rmcp's own round driving and by hand with `*_once`), and resource updates
//! on `subscriptions/listen` streams.

#![allow(deprecated)] // Sampling and roots are deprecated by SEP-2577; 2026-07-28 carries them in rounds.

use std::{
    future::Future,
    sync::{Arc, Mutex},
};

use cm_test_support::{
    HttpProcess, TIMEOUT, bounded, python_with_mcp, run_python, service_missing, text_of,
};
use rmcp::{
    ClientHandler, ErrorData as McpError, RoleClient,
    model::{
        CallToolRequestParams, CallToolResponse, ClientCapabilities, ClientConfig,
        CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams, ElicitResult,
        ElicitationAction, GetPromptRequestParams, Implementation, InputRequiredResult,
        InputResponses, ListRootsResult, ProtocolVersion, Root, SamplingMessage,
        ServerNotification, SubscriptionFilter,
    },
    service::{
        ClientLifecycleMode, ClientServiceExt, RequestContext, RunningService, ServiceError,
    },
    transport::StreamableHttpClientTransport,
};
use serde_json::{Value, json};

/// A client of protocol 2026-07-28 that answers every form, sampling request and roots request, and
/// records what it was asked, in order.
#[derive(Clone, Default)]
struct Answering {
    asked: Arc<Mutex<Vec<String>>>,
}

impl Answering {
    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

/// The answer to a form: a value for each property it asks for.
fn fill(schema: &Value) -> Value {
    let mut content = serde_json::Map::new();
    for (field, spec) in schema["properties"].as_object().into_iter().flatten() {
        let value = match (field.as_str(), spec["type"].as_str()) {
            ("name" | "username", _) => json!("Alice"),
            ("color", _) => json!("green"),
            ("email", _) => json!("alice@example.com"),
            (_, Some("boolean")) => json!(true),
            (_, Some("integer" | "number")) => json!(7),
            _ => json!("testing"),
        };
        content.insert(field.clone(), value);
    }
    Value::Object(content)
}

impl ClientHandler for Answering {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::builder()
                .enable_sampling()
                .enable_elicitation()
                .enable_roots()
                .build(),
            Implementation::new("input-required-tests", "1.0.0"),
        )
        .with_protocol_version(ProtocolVersion::V_2026_07_28)
    }

    fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> impl Future<Output = Result<ElicitResult, McpError>> + Send + '_ {
        let request = serde_json::to_value(&request).unwrap();
        self.asked
            .lock()
            .unwrap()
            .push(format!("elicit: {}", request["message"].as_str().unwrap()));
        let mut answer = ElicitResult::new(ElicitationAction::Accept);
        answer.content = Some(fill(&request["requestedSchema"]));
        std::future::ready(Ok(answer))
    }

    fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> impl Future<Output = Result<CreateMessageResult, McpError>> + Send + '_ {
        let prompt = serde_json::to_value(&params.messages[0]).unwrap();
        self.asked.lock().unwrap().push(format!(
            "sample: {}",
            prompt["content"]["text"].as_str().unwrap_or("?")
        ));
        std::future::ready(Ok(CreateMessageResult::new(
            SamplingMessage::assistant_text("Paris"),
            "test-model".into(),
        )))
    }

    fn list_roots(
        &self,
        _context: RequestContext<RoleClient>,
    ) -> impl Future<Output = Result<ListRootsResult, McpError>> + Send + '_ {
        self.asked.lock().unwrap().push("roots".into());
        std::future::ready(Ok(ListRootsResult::new(vec![
            Root::new("file:///projects/one"),
            Root::new("file:///projects/two"),
        ])))
    }
}

type Client = RunningService<RoleClient, Answering>;

async fn connect(server: &HttpProcess, handler: Answering) -> Client {
    let transport = StreamableHttpClientTransport::from_uri(server.mcp_url());
    // `server/discover` with 2026-07-28 first, as the Python clients do: no initialize, no session.
    let lifecycle = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    tokio::time::timeout(TIMEOUT, handler.serve_with_lifecycle(transport, lifecycle))
        .await
        .expect("connecting timed out")
        .expect("connect with protocol 2026-07-28")
}

/// `everything`, with `env`.
async fn everything(env: &[(&str, &str)]) -> HttpProcess {
    HttpProcess::start("everything", &[], env).await
}

/// Calls `tool` and drives its rounds to the end, as a client of 2026-07-28 does.
async fn call(client: &Client, tool: &str, arguments: Value) -> String {
    let params = CallToolRequestParams::new(tool.to_string())
        .with_arguments(arguments.as_object().unwrap().clone());
    let result = tokio::time::timeout(TIMEOUT, client.call_tool(params))
        .await
        .unwrap_or_else(|_| panic!("{tool} did not answer within {TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("{tool} failed: {e}"));
    assert_ne!(result.is_error, Some(true), "{tool}: {result:?}");
    text_of(&result)
}

/// One round of `tool`: the client's `responses` and `state` in, what the server answered out.
async fn round(
    client: &Client,
    tool: &str,
    responses: Option<InputResponses>,
    state: Option<String>,
) -> Result<CallToolResponse, ServiceError> {
    let mut params =
        CallToolRequestParams::new(tool.to_string()).with_arguments(Default::default());
    params.input_responses = responses;
    params.request_state = state;
    tokio::time::timeout(TIMEOUT, client.call_tool_once(params))
        .await
        .unwrap_or_else(|_| panic!("{tool} did not answer within {TIMEOUT:?}"))
}

fn input_required(response: CallToolResponse) -> InputRequiredResult {
    match response {
        CallToolResponse::InputRequired(result) => result,
        other => panic!("expected an input-required result, got {other:?}"),
    }
}

fn keys(result: &InputRequiredResult) -> Vec<String> {
    result
        .input_requests
        .as_ref()
        .map(|requests| requests.keys().cloned().collect())
        .unwrap_or_default()
}

fn accept(content: Value) -> Value {
    json!({"action": "accept", "content": content})
}

#[tokio::test]
async fn the_eliciting_tool_a_2025_client_uses_completes_for_a_2026_client_through_a_round() {
    bounded("the_eliciting_tool_a_2025_client_uses_completes_for_a_2026_client_through_a_round", async {
    let server = everything(&[]).await;
    let handler = Answering::default();
    let client = connect(&server, handler.clone()).await;

    // The same tool the 2025 tests drive with a server-to-client request.
    let text = call(&client, "test_elicitation", json!({"message": "Who are you?"})).await;
    assert_eq!(
        text,
        r#"User response: action=accept, content={"username":"Alice","email":"alice@example.com"}"#
    );
    assert_eq!(handler.asked(), ["elicit: Who are you?"]);

    let text = call(&client, "test_sampling", json!({"prompt": "Capital of France?"})).await;
    assert_eq!(text, "LLM response: Paris");
    assert_eq!(handler.asked()[1], "sample: Capital of France?");

    let text = call(&client, "test_input_required_result_list_roots", json!({})).await;
    assert_eq!(text, "Client roots: file:///projects/one, file:///projects/two");
    assert_eq!(handler.asked()[2], "roots");
    server
        .logs
        .wait_for("the round's input_required event", |v| {
            v["event_type"] == "tool.execution.input_required"
                && v["data"]["definition"] == "test_elicitation"
                && v["data"]["input_keys"] == "elicit-1"
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn a_second_round_runs_the_function_again_with_the_first_answer_sealed_in_the_state() {
    bounded(
        "a_second_round_runs_the_function_again_with_the_first_answer_sealed_in_the_state",
        async {
            let server = everything(&[]).await;
            let handler = Answering::default();
            let client = connect(&server, handler.clone()).await;

            let text = call(&client, "test_input_required_result_multi_round", json!({})).await;
            assert_eq!(text, "Alice likes green");
            assert_eq!(
                handler.asked(),
                [
                    "elicit: Step 1: What is your name?",
                    "elicit: Step 2: What is your favorite color?"
                ]
            );

            // By hand: round 2 asks for step2 only, and round 3 completes with step1's answer coming from the
            // sealed state alone (the client sends only step2's).
            let first = input_required(
                round(
                    &client,
                    "test_input_required_result_multi_round",
                    None,
                    None,
                )
                .await
                .unwrap(),
            );
            assert_eq!(keys(&first), ["step1"]);
            let responses =
                InputResponses::from([("step1".to_string(), accept(json!({"name": "Bob"})))]);
            let second = input_required(
                round(
                    &client,
                    "test_input_required_result_multi_round",
                    Some(responses),
                    first.request_state,
                )
                .await
                .unwrap(),
            );
            assert_eq!(keys(&second), ["step2"]);
            let responses =
                InputResponses::from([("step2".to_string(), accept(json!({"color": "red"})))]);
            let done = round(
                &client,
                "test_input_required_result_multi_round",
                Some(responses),
                second.request_state,
            )
            .await
            .unwrap();
            let CallToolResponse::Complete(result) = done else {
                panic!("round 3 did not complete: {done:?}")
            };
            assert_eq!(text_of(&result), "Bob likes red");
        },
    )
    .await;
}

#[tokio::test]
async fn requests_made_together_go_out_in_one_round_and_a_missing_answer_is_asked_again() {
    bounded("requests_made_together_go_out_in_one_round_and_a_missing_answer_is_asked_again", async {
    let server = everything(&[]).await;
    let client = connect(&server, Answering::default()).await;
    let tool = "test_input_required_result_multiple_inputs";

    let first = input_required(round(&client, tool, None, None).await.unwrap());
    assert_eq!(keys(&first), ["client_roots", "greeting", "user_name"]);
    let requests = serde_json::to_value(first.input_requests.as_ref().unwrap()).unwrap();
    assert_eq!(requests["user_name"]["method"], "elicitation/create");
    assert_eq!(requests["greeting"]["method"], "sampling/createMessage");
    assert_eq!(requests["greeting"]["params"]["maxTokens"], 50);
    assert_eq!(requests["client_roots"]["method"], "roots/list");

    // Two of three answers, one of them malformed: both missing ones are asked for again.
    let responses = InputResponses::from([
        ("user_name".to_string(), accept(json!({"name": "Carol"}))),
        ("greeting".to_string(), json!(12345)),
        ("unrelated".to_string(), json!({"ignored": true})),
    ]);
    let again = input_required(round(&client, tool, Some(responses), first.request_state).await.unwrap());
    assert_eq!(keys(&again), ["client_roots", "greeting"]);

    let responses = InputResponses::from([
        (
            "greeting".to_string(),
            json!({"role": "assistant", "content": {"type": "text", "text": "Hi"}, "model": "m"}),
        ),
        ("client_roots".to_string(), json!({"roots": [{"uri": "file:///x"}]})),
    ]);
    let done = round(&client, tool, Some(responses), again.request_state).await.unwrap();
    let CallToolResponse::Complete(result) = done else { panic!("did not complete: {done:?}") };
    assert_eq!(text_of(&result), "Hi Carol (1 roots)");
    })
    .await;
}

#[tokio::test]
async fn an_altered_or_foreign_request_state_is_refused_with_invalid_params() {
    bounded(
        "an_altered_or_foreign_request_state_is_refused_with_invalid_params",
        async {
            let server = everything(&[]).await;
            let other = everything(&[]).await;
            let client = connect(&server, Answering::default()).await;
            let tool = "test_input_required_result_tampered_state";
            let answer = || {
                Some(InputResponses::from([(
                    "confirm".to_string(),
                    accept(json!({"ok": true})),
                )]))
            };

            let first = input_required(round(&client, tool, None, None).await.unwrap());
            let state = first.request_state.clone().expect("a requestState");
            let mut altered = state.clone().into_bytes();
            let middle = altered.len() / 2;
            altered[middle] = if altered[middle] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(altered).unwrap();

            let refused = |outcome: Result<CallToolResponse, ServiceError>| match outcome {
                Err(ServiceError::McpError(error)) => {
                    assert_eq!(error.code.0, -32602, "{error:?}");
                    assert!(
                        error.message.contains("requestState failed verification"),
                        "{error:?}"
                    );
                }
                other => panic!("expected -32602, got {other:?}"),
            };
            refused(round(&client, tool, answer(), Some(altered)).await);
            // Sealed for another tool.
            refused(
                round(
                    &client,
                    "test_input_required_result_request_state",
                    answer(),
                    Some(state.clone()),
                )
                .await,
            );
            // Sealed by another process, whose random key this one does not hold.
            let other_client = connect(&other, Answering::default()).await;
            refused(round(&other_client, tool, answer(), Some(state.clone())).await);
            server
                .logs
                .wait_for("the refusal's reason in the log", |v| {
                    v["event_type"] == "mcp.request_state.rejected" && v["level"] == "warning"
                })
                .await;

            // The genuine state still completes.
            let done = round(&client, tool, answer(), Some(state)).await.unwrap();
            let CallToolResponse::Complete(result) = done else {
                panic!("did not complete: {done:?}")
            };
            assert_eq!(text_of(&result), "confirmed true");
        },
    )
    .await;
}

#[tokio::test]
async fn replicas_sharing_mcp_state_key_continue_each_others_rounds_and_rotation_keeps_old_states()
{
    bounded(
        "replicas_sharing_mcp_state_key_continue_each_others_rounds_and_rotation_keeps_old_states",
        async {
            const OLD: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
            const NEW: &str = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
            let first_replica = everything(&[("MCP_STATE_KEY", OLD)]).await;
            let rotated = format!("{NEW},{OLD}");
            let second_replica = everything(&[("MCP_STATE_KEY", &rotated)]).await;
            let tool = "test_input_required_result_multi_round";

            let a = connect(&first_replica, Answering::default()).await;
            let b = connect(&second_replica, Answering::default()).await;
            let first = input_required(round(&a, tool, None, None).await.unwrap());
            // Round 2 on the other replica, which verifies with the old key and seals with the new one.
            let responses =
                InputResponses::from([("step1".to_string(), accept(json!({"name": "Dan"})))]);
            let second = input_required(
                round(&b, tool, Some(responses), first.request_state)
                    .await
                    .unwrap(),
            );
            assert_eq!(keys(&second), ["step2"]);
            let responses = || {
                Some(InputResponses::from([(
                    "step2".to_string(),
                    accept(json!({"color": "blue"})),
                )]))
            };
            // The first replica does not hold the new key yet: refused, and nothing is lost.
            assert!(matches!(
                round(&a, tool, responses(), second.request_state.clone()).await,
                Err(ServiceError::McpError(ref e)) if e.code.0 == -32602
            ));
            let done = round(&b, tool, responses(), second.request_state)
                .await
                .unwrap();
            let CallToolResponse::Complete(result) = done else {
                panic!("did not complete: {done:?}")
            };
            assert_eq!(text_of(&result), "Dan likes blue");
            assert!(
                first_replica
                    .logs
                    .lines()
                    .iter()
                    .all(|line| !line.contains("service.init.state_key")),
                "a replica with MCP_STATE_KEY does not say its key is random"
            );
        },
    )
    .await;
}

#[tokio::test]
async fn a_server_without_mcp_state_key_says_at_start_that_its_key_is_random() {
    bounded(
        "a_server_without_mcp_state_key_says_at_start_that_its_key_is_random",
        async {
            let server = everything(&[]).await;
            server
                .logs
                .wait_for("the random key's start-up line", |v| {
                    v["event_type"] == "service.init.state_key"
                        && v["data"]["state_key"] == "random"
                })
                .await;
        },
    )
    .await;
}

#[tokio::test]
async fn a_prompt_asks_through_a_round_too() {
    bounded("a_prompt_asks_through_a_round_too", async {
        let server = everything(&[]).await;
        let handler = Answering::default();
        let client = connect(&server, handler.clone()).await;
        let params = GetPromptRequestParams::new("test_input_required_result_prompt");
        let result = tokio::time::timeout(TIMEOUT, client.get_prompt(params))
            .await
            .expect("prompts/get timed out")
            .expect("prompts/get");
        let message = serde_json::to_value(&result.messages[0]).unwrap();
        assert_eq!(
            message["content"]["text"],
            "Answer with this context in mind: testing"
        );
        assert_eq!(
            handler.asked(),
            ["elicit: What context should the prompt use?"]
        );
    })
    .await;
}

/// A raw request of protocol 2026-07-28 (`_meta` carrying the version, the client and `capabilities`,
/// and `extra_meta`; `headers` besides the standard ones): the HTTP status and every JSON-RPC message
/// of the answer, as JSON or as an event stream. For what rmcp's client does not let a test choose (it
/// puts its own `_meta` and headers in).
async fn raw_2026(
    server: &HttpProcess,
    method: &str,
    mut params: Value,
    capabilities: Value,
    extra_meta: Value,
    headers: &[(&str, &str)],
) -> (u16, Vec<Value>) {
    let mut meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": capabilities,
    });
    meta.as_object_mut()
        .unwrap()
        .extend(extra_meta.as_object().cloned().unwrap_or_default());
    params["_meta"] = meta;
    let mut request = reqwest::Client::new()
        .post(server.mcp_url())
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method)
        .timeout(TIMEOUT);
    if let Some(name) = params["name"].as_str() {
        request = request.header("mcp-name", name);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let response = request.json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let messages = if text.trim_start().starts_with('{') {
        vec![serde_json::from_str(&text).unwrap()]
    } else {
        text.lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .map(str::trim)
            .filter(|data| !data.is_empty())
            .map(|data| serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {data}")))
            .collect()
    };
    (status, messages)
}

/// The message of `messages` answering the request (id 1).
fn answer(messages: &[Value]) -> &Value {
    messages
        .iter()
        .find(|m| m["id"] == 1)
        .unwrap_or_else(|| panic!("no answer among {messages:?}"))
}

#[tokio::test]
async fn a_client_that_declared_only_sampling_is_asked_only_for_sampling() {
    bounded(
        "a_client_that_declared_only_sampling_is_asked_only_for_sampling",
        async {
            let server = everything(&[]).await;
            let params =
                json!({"name": "test_input_required_result_capabilities", "arguments": {}});
            let (_, messages) = raw_2026(
                &server,
                "tools/call",
                params,
                json!({"sampling": {}}),
                json!({}),
                &[],
            )
            .await;
            let answer = answer(&messages);
            assert_eq!(answer["result"]["resultType"], "input_required", "{answer}");
            let requests = answer["result"]["inputRequests"].as_object().unwrap();
            assert_eq!(
                requests.keys().collect::<Vec<_>>(),
                ["greeting"],
                "{answer}"
            );
        },
    )
    .await;
}

#[tokio::test]
async fn a_call_needing_an_undeclared_capability_is_refused_with_32021_and_http_400() {
    bounded(
        "a_call_needing_an_undeclared_capability_is_refused_with_32021_and_http_400",
        async {
            let server = everything(&[]).await;
            let params = json!({"name": "test_missing_capability", "arguments": {}});
            let (status, messages) = raw_2026(
                &server,
                "tools/call",
                params.clone(),
                json!({}),
                json!({}),
                &[],
            )
            .await;
            let refused = answer(&messages);
            assert_eq!(status, 400, "{refused}");
            assert_eq!(refused["error"]["code"], -32021, "{refused}");
            assert_eq!(
                refused["error"]["data"]["requiredCapabilities"],
                json!({"sampling": {}})
            );
            // Declared, the same call asks for its input instead.
            let (status, messages) = raw_2026(
                &server,
                "tools/call",
                params,
                json!({"sampling": {}}),
                json!({}),
                &[],
            )
            .await;
            assert_eq!(status, 200);
            assert_eq!(answer(&messages)["result"]["resultType"], "input_required");
        },
    )
    .await;
}

#[tokio::test]
async fn log_messages_reach_a_2026_client_only_at_the_level_its_request_asks_for() {
    bounded(
        "log_messages_reach_a_2026_client_only_at_the_level_its_request_asks_for",
        async {
            let server = everything(&[]).await;
            let params = json!({"name": "test_logging_tool", "arguments": {}});
            let logs = |messages: &[Value]| -> Vec<String> {
                messages
                    .iter()
                    .filter(|m| m["method"] == "notifications/message")
                    .map(|m| m["params"]["level"].as_str().unwrap().to_string())
                    .collect()
            };
            let (_, silent) = raw_2026(
                &server,
                "tools/call",
                params.clone(),
                json!({}),
                json!({}),
                &[],
            )
            .await;
            assert_eq!(
                answer(&silent)["result"]["content"][0]["text"],
                "Logged at debug, info and warning"
            );
            assert!(logs(&silent).is_empty(), "{silent:?}");
            let level = json!({"io.modelcontextprotocol/logLevel": "info"});
            let (_, heard) = raw_2026(&server, "tools/call", params, json!({}), level, &[]).await;
            assert_eq!(logs(&heard), ["info", "warning"]);
        },
    )
    .await;
}

#[tokio::test]
async fn methods_the_revision_removed_are_not_found_and_the_error_names_what_replaced_them() {
    bounded(
        "methods_the_revision_removed_are_not_found_and_the_error_names_what_replaced_them",
        async {
            let server = everything(&[]).await;
            for (method, replaced_by) in [
                ("initialize", "server/discover"),
                ("logging/setLevel", "io.modelcontextprotocol/logLevel"),
                ("resources/subscribe", "subscriptions/listen"),
                ("resources/unsubscribe", "subscriptions/listen"),
            ] {
                let (status, messages) =
                    raw_2026(&server, method, json!({}), json!({}), json!({}), &[]).await;
                let refused = answer(&messages);
                assert_eq!(status, 404, "{method}: {refused}");
                assert_eq!(refused["error"]["code"], -32601, "{method}: {refused}");
                let message = refused["error"]["message"].as_str().unwrap();
                assert!(
                    message.contains("does not exist in MCP protocol 2026-07-28"),
                    "{message}"
                );
                assert!(message.contains(replaced_by), "{message}");
            }
        },
    )
    .await;
}

/// A raw `tools/call` of `test_custom_header` with `region` in the body and `header` (if any) as
/// `Mcp-Param-Region`: the HTTP status and the answer.
async fn call_with_region_header(
    server: &HttpProcess,
    region: &str,
    header: Option<&str>,
) -> (u16, Value) {
    let params = json!({"name": "test_custom_header", "arguments": {"region": region}});
    let headers: Vec<(&str, &str)> = header
        .map(|h| ("mcp-param-region", h))
        .into_iter()
        .collect();
    let (status, messages) =
        raw_2026(server, "tools/call", params, json!({}), json!({}), &headers).await;
    (status, answer(&messages).clone())
}

#[tokio::test]
async fn an_argument_bound_to_a_header_is_announced_and_checked_against_the_header() {
    bounded(
        "an_argument_bound_to_a_header_is_announced_and_checked_against_the_header",
        async {
            let server = everything(&[]).await;
            let client = connect(&server, Answering::default()).await;
            let tools = client.list_all_tools().await.unwrap();
            let tool = tools
                .iter()
                .find(|t| t.name == "test_custom_header")
                .unwrap();
            assert_eq!(
                tool.input_schema["properties"]["region"]["x-mcp-header"],
                "Region"
            );

            // rmcp's client mirrors the argument in the header by itself.
            let text = call(&client, "test_custom_header", json!({"region": "eu-west"})).await;
            assert_eq!(text, "Region: eu-west");

            // By hand: the literal value, and the same value base64-encoded, agree with the body.
            let (status, answer) =
                call_with_region_header(&server, "eu-west", Some("eu-west")).await;
            assert_eq!(
                (status, &answer["result"]["content"][0]["text"]),
                (200, &json!("Region: eu-west"))
            );
            let (status, answer) =
                call_with_region_header(&server, "eu-west", Some("=?base64?ZXUtd2VzdA==?=")).await;
            assert_eq!(
                (status, &answer["result"]["content"][0]["text"]),
                (200, &json!("Region: eu-west"))
            );
            // A header that disagrees, a malformed encoding, or none at all: refused before the tool runs.
            for header in [Some("us-east"), Some("=?base64?ZXUtd2VzdA?="), None] {
                let (status, answer) = call_with_region_header(&server, "eu-west", header).await;
                assert_eq!(status, 400, "{header:?}: {answer}");
                assert_eq!(answer["error"]["code"], -32020, "{header:?}: {answer}");
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_listen_stream_is_acknowledged_with_what_it_accepted_and_hears_updates_tagged_with_its_id()
 {
    bounded("a_listen_stream_is_acknowledged_with_what_it_accepted_and_hears_updates_tagged_with_its_id", async {
    let server = everything(&[]).await;
    let listener = connect(&server, Answering::default()).await;
    let caller = connect(&server, Answering::default()).await;

    let mut filter = SubscriptionFilter::new();
    filter.resource_subscriptions = Some(vec![
        everything::WATCHED_URI.to_string(),
        "nothing://serves-this".to_string(),
    ]);
    let mut subscription = tokio::time::timeout(TIMEOUT, listener.listen(filter))
        .await
        .expect("the acknowledgment timed out")
        .expect("subscriptions/listen");
    assert_eq!(
        subscription.acknowledged().resource_subscriptions.as_deref(),
        Some(&[everything::WATCHED_URI.to_string()][..]),
        "a URI no resource serves is not accepted"
    );

    let text = call(&caller, "test_update_watched_resource", json!({"content": "new"})).await;
    assert_eq!(text, "Updated test://watched-resource; notified 1 subscriber(s)");
    let notification = tokio::time::timeout(TIMEOUT, subscription.next())
        .await
        .expect("no update within the timeout")
        .expect("the stream")
        .expect("an update before the stream ended");
    let ServerNotification::ResourceUpdatedNotification(updated) = &notification else {
        panic!("expected resources/updated, got {notification:?}");
    };
    assert_eq!(updated.params.uri, everything::WATCHED_URI);
    let wire = serde_json::to_value(&notification).unwrap();
    assert_eq!(
        wire["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        serde_json::to_value(subscription.id()).unwrap(),
        "{wire}"
    );

    // Once the client cancels it, the stream is no longer a subscriber.
    tokio::time::timeout(TIMEOUT, subscription.cancel())
        .await
        .expect("cancelling timed out")
        .expect("cancel the subscription");
    let text = tokio::time::timeout(TIMEOUT, async {
        loop {
            let text = call(&caller, "test_update_watched_resource", json!({"content": "newer"})).await;
            if text.ends_with("notified 0 subscriber(s)") {
                return text;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the cancelled stream was still a subscriber");
    assert_eq!(text, "Updated test://watched-resource; notified 0 subscriber(s)");
    })
    .await;
}

#[tokio::test]
async fn an_update_raised_the_moment_the_acknowledgment_arrives_reaches_the_listener_every_time() {
    bounded(
        "an_update_raised_the_moment_the_acknowledgment_arrives_reaches_the_listener_every_time",
        async {
            // rmcp acknowledges a listen before the handler holds it: the framework keeps updates
            // raised in between. Repeated, because the gap is short and only sometimes hit.
            let server = everything(&[]).await;
            let listener = connect(&server, Answering::default()).await;
            let caller = connect(&server, Answering::default()).await;
            for attempt in 0..30 {
                let mut filter = SubscriptionFilter::new();
                filter.resource_subscriptions = Some(vec![everything::WATCHED_URI.to_string()]);
                let mut subscription = tokio::time::timeout(TIMEOUT, listener.listen(filter))
                    .await
                    .expect("the acknowledgment timed out")
                    .expect("subscriptions/listen");
                let text = call(
                    &caller,
                    "test_update_watched_resource",
                    json!({"content": "x"}),
                )
                .await;
                assert!(
                    !text.ends_with("notified 0 subscriber(s)"),
                    "attempt {attempt}: {text}"
                );
                let notification = tokio::time::timeout(TIMEOUT, subscription.next())
                    .await
                    .unwrap_or_else(|_| panic!("attempt {attempt}: no update within the timeout"))
                    .expect("the stream")
                    .expect("an update before the stream ended");
                assert!(
                    matches!(
                        notification,
                        ServerNotification::ResourceUpdatedNotification(_)
                    ),
                    "attempt {attempt}: {notification:?}"
                );
                tokio::time::timeout(TIMEOUT, subscription.cancel())
                    .await
                    .expect("cancelling timed out")
                    .expect("cancel the subscription");
            }
        },
    )
    .await;
}

/// The Python clients of the revision against `everything`: `fastmcp`'s `Client` in its default mode
/// (it negotiates 2026-07-28) answers a form, a sampling request and two rounds through its handlers,
/// and hears a resource update on a `subscriptions/listen` stream opened on its session with the
/// SDK's `listen` (fastmcp has no method of its own for it); the SDK's own `Client.listen` hears one too.
const PYTHON_CLIENTS: &str = r#"
import asyncio, sys
from fastmcp import Client as FastClient
from mcp.client.client import Client as McpClient
from mcp.client.subscriptions import listen

ANSWERS = {"username": "Alice", "email": "alice@example.com", "name": "Bob", "color": "green"}

async def elicit(message, response_type, params, context):
    return {field: ANSWERS[field] for field in params.requested_schema["properties"]}

async def sample(messages, params, context):
    return "Paris"

async def main(url, watched):
    async with FastClient(url, elicitation_handler=elicit, sampling_handler=sample) as client:
        print("PROTOCOL", client.session.protocol_version, flush=True)
        r = await client.call_tool("test_elicitation", {"message": "Who are you?"})
        print("ELICIT", r.content[0].text, flush=True)
        r = await client.call_tool("test_sampling", {"prompt": "Capital of France?"})
        print("SAMPLE", r.content[0].text, flush=True)
        r = await client.call_tool("test_input_required_result_multi_round", {})
        print("ROUNDS", r.content[0].text, flush=True)
        async with listen(client.session, resource_subscriptions=[watched]) as sub:
            await client.call_tool("test_update_watched_resource", {"content": "from fastmcp"})
            async for event in sub:
                print("FASTMCP EVENT", type(event).__name__, event.uri, flush=True)
                break
    async with McpClient(url) as listener, McpClient(url) as caller:
        async with listener.listen(resource_subscriptions=[watched, "nothing://here"]) as sub:
            print("HONORED", sub.honored.resource_subscriptions, flush=True)
            await caller.call_tool("test_update_watched_resource", {"content": "from python"})
            async for event in sub:
                print("EVENT", type(event).__name__, event.uri, flush=True)
                break

asyncio.run(main(sys.argv[1], sys.argv[2]))
"#;

#[tokio::test]
async fn the_python_clients_of_the_revision_get_forms_sampling_rounds_and_updates() {
    bounded("the_python_clients_of_the_revision_get_forms_sampling_rounds_and_updates", async {
    let test = "the_python_clients_of_the_revision_get_forms_sampling_rounds_and_updates";
    let python = match tokio::task::spawn_blocking(python_with_mcp).await.unwrap() {
        Ok(python) => python,
        Err(why) => return service_missing(test, "Python with the mcp and fastmcp packages", why),
    };
    let server = everything(&[]).await;
    let (lines, stderr) = run_python(
        &python,
        PYTHON_CLIENTS,
        &[&server.mcp_url(), everything::WATCHED_URI],
    )
    .await;
    assert_eq!(
        lines,
        [
            "PROTOCOL 2026-07-28",
            r#"ELICIT User response: action=accept, content={"username":"Alice","email":"alice@example.com"}"#,
            "SAMPLE LLM response: Paris",
            "ROUNDS Bob likes green",
            "FASTMCP EVENT ResourceUpdated test://watched-resource",
            "HONORED ['test://watched-resource']",
            "EVENT ResourceUpdated test://watched-resource",
        ],
        "{stderr}"
    );
    })
    .await;
}
