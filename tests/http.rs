//! End-to-end tests of a server defined in this file and served in-process over streamable HTTP on
//! 127.0.0.1, exercised with rmcp's own client (and raw HTTP for the protocol edges).

use std::{
    collections::BTreeSet,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
};

use cm_mcp::{
    HttpOptions, RunningServer,
    events::{LogFormat, PlatformLayer},
    prelude::*,
    rmcp::{
        ServiceError,
        model::{
            CallToolRequestParams, ErrorCode, GetPromptRequestParams, ReadResourceRequestParams,
        },
    },
};
use cm_test_support::{
    Client, INITIALIZE, TIMEOUT, bounded, call_tool, connect_http, post, stateless_json,
    text_contents, text_of,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt};

// ---------------------------------------------------------------------------------------------
// The server under test.

/// Adds two integers.
///
/// # Arguments
/// * `a` - The first addend.
/// * `b` - The second addend.
#[cm_tool(title = "Adder", annotations(read_only, idempotent))]
async fn add(a: i64, b: i64) -> String {
    (a + b).to_string()
}

/// Greets someone.
///
/// # Arguments
/// * `name` - Who to greet.
#[cm_tool(annotations(read_only, open_world = false))]
async fn greet(
    name: String,
    #[arg(description = "The greeting word; `Hello` when not given.")] greeting: Option<String>,
) -> String {
    format!("{}, {name}!", greeting.as_deref().unwrap_or("Hello"))
}

/// A user to create.
#[derive(Debug, Deserialize, JsonSchema)]
struct NewUser {
    /// The name shown to others.
    #[serde(rename = "displayName")]
    display_name: String,
    /// Age in years, if known.
    age: Option<u32>,
}

/// A created user.
#[derive(Debug, Serialize, JsonSchema)]
struct UserRecord {
    id: u64,
    #[serde(rename = "displayName")]
    display_name: String,
    adult: Option<bool>,
}

/// Creates a user.
///
/// # Arguments
/// * `user` - The user to create.
#[cm_tool(annotations(destructive = false))]
async fn create_user(user: NewUser) -> Result<UserRecord, ToolError> {
    if user.display_name.trim().is_empty() {
        return Err(ToolError::invalid_arguments(
            "displayName must not be blank",
        ));
    }
    Ok(UserRecord {
        id: 7,
        display_name: user.display_name,
        adult: user.age.map(|age| age >= 18),
    })
}

/// Counts the words of a text.
///
/// # Arguments
/// * `text` - The text.
#[cm_tool]
async fn count_words(text: String) -> usize {
    text.split_whitespace().count()
}

/// Always fails, with the reason given.
///
/// # Arguments
/// * `reason` - The error message.
#[cm_tool]
async fn always_fails(reason: String) -> Result<String, ToolError> {
    Err(ToolError::new(reason).with_type("DemoError"))
}

/// Answers pong.
#[cm_tool]
async fn ping_pong() -> &'static str {
    "pong"
}

/// Shared state of the test server: a call counter.
struct Counter(AtomicU64);

/// Counts its calls in the server's shared state.
#[cm_tool]
async fn bump(counter: State<Counter>) -> String {
    let n = counter.0.0.fetch_add(1, Ordering::SeqCst) + 1;
    format!("call {n}")
}

/// Reports what the call's context knows: a header and the trace.
#[cm_tool]
async fn whoami(ctx: &Context) -> String {
    let tenant = ctx
        .headers()
        .and_then(|h| h.get("x-tenant"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or("<none>");
    let trace = ctx.trace();
    format!(
        "tenant={tenant} trace={} parent={} origin={}",
        trace.trace_id,
        trace.parent_span_id.as_deref().unwrap_or("<none>"),
        trace.origin_service.as_deref().unwrap_or("<none>"),
    )
}

/// Logs in (the password must never reach the logs).
///
/// # Arguments
/// * `user` - The user name.
/// * `password` - The password.
#[cm_tool]
async fn login(user: String, #[arg(secret)] password: String) -> String {
    format!("{user} logged in with {} characters", password.len())
}

/// The server's configuration.
#[cm_resource("test://config", name = "config", mime_type = "application/json")]
async fn config_resource() -> Value {
    json!({"region": "eu-north", "replicas": 3})
}

/// The columns of a table.
#[cm_resource("test://tables/{table}", title = "Table columns")]
async fn table_columns(table: String) -> Result<String, ToolError> {
    if table == "missing" {
        return Err(ToolError::not_found("no table `missing`"));
    }
    Ok(format!("columns of {table}"))
}

/// Reviews code.
///
/// # Arguments
/// * `code` - The code to review.
/// * `language` - Its language, when known.
#[cm_prompt(title = "Code review")]
async fn review(code: String, language: Option<String>) -> Vec<PromptMessage> {
    vec![
        PromptMessage::new_text(
            Role::User,
            format!(
                "Review this {} code:\n{code}",
                language.as_deref().unwrap_or("unknown")
            ),
        ),
        PromptMessage::new_text(Role::Assistant, "Reviewing."),
    ]
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/// Log lines written by the platform layer in this test process.
fn captured_logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::filter::LevelFilter::INFO)
            .with(PlatformLayer::new(Capture(buffer.clone()), LogFormat::Json));
        subscriber.try_init().expect("no other global subscriber");
        buffer
    })
}

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

async fn start(options: HttpOptions) -> RunningServer {
    captured_logs();
    Server::new("http-test")
        .version("9.9.9")
        .instructions("Test server.")
        .state(Counter(AtomicU64::new(0)))
        .start_http("127.0.0.1:0".parse().unwrap(), options)
        .await
        .expect("start the server")
}

/// The test server with default options, and a client connected to it.
async fn start_connected() -> (RunningServer, Client) {
    let server = start(HttpOptions::default()).await;
    let client = connect_http(&server.url(), &[], None).await;
    (server, client)
}

/// Closes `clients`, in order, then shuts `server` down.
async fn close(server: RunningServer, clients: impl IntoIterator<Item = Client>) {
    for client in clients {
        client.cancel().await.unwrap();
    }
    server.shutdown().await.unwrap();
}

fn tool_json(tools: &[cm_mcp::rmcp::model::Tool], name: &str) -> Value {
    let tool = tools
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no tool `{name}` listed"));
    serde_json::to_value(tool).unwrap()
}

/// The JSON-RPC error of a failed request.
fn mcp_error(result: Result<impl std::fmt::Debug, ServiceError>) -> cm_mcp::rmcp::ErrorData {
    match result {
        Err(ServiceError::McpError(error)) => error,
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Listing.

#[tokio::test]
async fn initialize_reports_server_info_and_capabilities() {
    bounded("initialize_reports_server_info_and_capabilities", async {
        let (server, client) = start_connected().await;
        let info = client.peer_info().expect("server info after initialize");
        let server_info = info.server_info.clone().expect("serverInfo");
        assert_eq!(server_info.name, "http-test");
        assert_eq!(server_info.version, "9.9.9");
        assert_eq!(info.instructions.as_deref(), Some("Test server."));
        assert!(info.capabilities.tools.is_some());
        assert!(info.capabilities.resources.is_some());
        assert!(info.capabilities.prompts.is_some());
        close(server, [client]).await;
    })
    .await;
}

#[tokio::test]
async fn tools_list_has_exact_schemas() {
    bounded("tools_list_has_exact_schemas", async {
    let (server, client) = start_connected().await;
    let tools = client.list_all_tools().await.unwrap();

    let names: BTreeSet<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    let expected: BTreeSet<&str> = [
        "add",
        "greet",
        "create_user",
        "count_words",
        "always_fails",
        "ping_pong",
        "bump",
        "whoami",
        "login",
    ]
    .into();
    assert_eq!(names, expected);

    assert_eq!(
        tool_json(&tools, "add"),
        json!({
            "name": "add",
            "title": "Adder",
            "description": "Adds two integers.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "a": {"type": "integer", "description": "The first addend."},
                    "b": {"type": "integer", "description": "The second addend."},
                },
                "required": ["a", "b"],
            },
            "annotations": {"title": "Adder", "readOnlyHint": true, "idempotentHint": true},
        })
    );

    // An Option is not required; #[arg(description)] describes a parameter the doc comment does not.
    assert_eq!(
        tool_json(&tools, "greet"),
        json!({
            "name": "greet",
            "description": "Greets someone.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "Who to greet."},
                    "greeting": {
                        "type": ["string", "null"],
                        "description": "The greeting word; `Hello` when not given.",
                    },
                },
                "required": ["name"],
            },
            "annotations": {"readOnlyHint": true, "openWorldHint": false},
        })
    );

    // A struct argument: its schema in $defs, its serde-renamed field under the wire name; an
    // object result gets its own schema as outputSchema.
    let create_user = tool_json(&tools, "create_user");
    assert_eq!(
        create_user["inputSchema"],
        json!({
            "type": "object",
            "properties": {
                "user": {"$ref": "#/$defs/NewUser", "description": "The user to create."},
            },
            "required": ["user"],
            "$defs": {
                "NewUser": {
                    "type": "object",
                    "description": "A user to create.",
                    "properties": {
                        "displayName": {"type": "string", "description": "The name shown to others."},
                        "age": {
                            "type": ["integer", "null"],
                            "minimum": 0,
                            "maximum": 4294967295u32,
                            "description": "Age in years, if known.",
                        },
                    },
                    "required": ["displayName"],
                },
            },
        })
    );
    let output = &create_user["outputSchema"];
    assert_eq!(output["type"], "object");
    assert_eq!(output["title"], "UserRecord");
    assert_eq!(output["required"], json!(["id", "displayName"]));
    assert_eq!(
        output["properties"]["displayName"],
        json!({"type": "string"})
    );
    assert_eq!(
        output["properties"]["adult"],
        json!({"type": ["boolean", "null"]})
    );
    assert_eq!(
        create_user["annotations"],
        json!({"destructiveHint": false})
    );

    // A non-object result is wrapped: {"result": <schema>}.
    let count_words = tool_json(&tools, "count_words");
    let output = &count_words["outputSchema"];
    assert_eq!(output["type"], "object");
    assert_eq!(output["required"], json!(["result"]));
    assert_eq!(
        output["properties"]["result"]["type"], "integer",
        "{output}"
    );
    // Rust's number formats (`uint`) are not JSON Schema formats: the range is said with bounds.
    assert_eq!(
        output["properties"]["result"],
        json!({"type": "integer", "minimum": 0})
    );

    // A text result has no outputSchema; a tool without parameters takes an empty object; injected
    // parameters (State, Context) are not arguments.
    for name in ["ping_pong", "bump", "whoami"] {
        let tool = tool_json(&tools, name);
        assert_eq!(
            tool["inputSchema"],
            json!({"type": "object", "properties": {}}),
            "{name}"
        );
        assert!(tool.get("outputSchema").is_none(), "{name}: {tool}");
    }
    assert!(tool_json(&tools, "add").get("outputSchema").is_none());

    close(server, [client]).await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Calls.

#[tokio::test]
async fn calls_return_text_and_structured_results() {
    bounded("calls_return_text_and_structured_results", async {
        let (server, client) = start_connected().await;

        let result = call_tool(&client, "add", json!({"a": 2, "b": 40})).await;
        assert_eq!(result.is_error, Some(false));
        assert_eq!(text_of(&result), "42");
        assert!(result.structured_content.is_none());

        let result = call_tool(&client, "greet", json!({"name": "Ada"})).await;
        assert_eq!(text_of(&result), "Hello, Ada!");
        let result = call_tool(&client, "greet", json!({"name": "Ada", "greeting": "Hi"})).await;
        assert_eq!(text_of(&result), "Hi, Ada!");
        let result = call_tool(&client, "greet", json!({"name": "Ada", "greeting": null})).await;
        assert_eq!(text_of(&result), "Hello, Ada!");

        // Structured object: structuredContent, and the same JSON as text.
        let result = call_tool(
            &client,
            "create_user",
            json!({"user": {"displayName": "Grace", "age": 40}}),
        )
        .await;
        let expected = json!({"id": 7, "displayName": "Grace", "adult": true});
        assert_eq!(result.structured_content, Some(expected.clone()));
        let text: Value = serde_json::from_str(&text_of(&result)).unwrap();
        assert_eq!(text, expected);

        // Structured non-object: wrapped as {"result": ...}.
        let result = call_tool(&client, "count_words", json!({"text": "one two three"})).await;
        assert_eq!(result.structured_content, Some(json!({"result": 3})));
        assert_eq!(text_of(&result), "3");

        // Injected state is shared across calls and sessions.
        let first = text_of(&call_tool(&client, "bump", json!({})).await);
        let other = connect_http(&server.url(), &[], None).await;
        let second = text_of(&call_tool(&other, "bump", json!({})).await);
        let n = |s: &str| s.trim_start_matches("call ").parse::<u64>().unwrap();
        assert_eq!(n(&second), n(&first) + 1, "{first} then {second}");

        close(server, [other, client]).await;
    })
    .await;
}

#[tokio::test]
async fn a_tool_without_parameters_accepts_a_call_without_arguments() {
    bounded(
        "a_tool_without_parameters_accepts_a_call_without_arguments",
        async {
            let (server, client) = start_connected().await;
            // No `arguments` key at all, as the conformance suite sends it.
            let result = client
                .call_tool(CallToolRequestParams::new("ping_pong"))
                .await
                .unwrap();
            assert_eq!(result.is_error, Some(false));
            assert_eq!(text_of(&result), "pong");
            close(server, [client]).await;
        },
    )
    .await;
}

#[tokio::test]
async fn errors_are_tool_results_naming_the_problem() {
    bounded("errors_are_tool_results_naming_the_problem", async {
    let (server, client) = start_connected().await;

    let result = call_tool(&client, "always_fails", json!({"reason": "disk on fire"})).await;
    assert_eq!(result.is_error, Some(true));
    assert_eq!(text_of(&result), "disk on fire");

    let cases = [
        (
            json!({"a": 1}),
            "Invalid arguments for tool `add`: missing required argument `b`",
        ),
        (
            json!({"a": 1, "bb": 2}),
            "Invalid arguments for tool `add`: missing required argument `b` (an argument `bb` was given: did you mean `b`?)",
        ),
        (
            json!({"a": "one", "b": 2}),
            "Invalid arguments for tool `add`: invalid value for argument `a`: invalid type: string \"one\", expected i64",
        ),
        (
            json!({"a": 1, "b": 2, "c": 3}),
            "Invalid arguments for tool `add`: unknown argument `c`; expected only `a`, `b`",
        ),
    ];
    for (arguments, message) in cases {
        let result = call_tool(&client, "add", arguments.clone()).await;
        assert_eq!(result.is_error, Some(true), "{arguments}");
        assert_eq!(text_of(&result), message, "{arguments}");
    }

    let result = call_tool(&client, "ping_pong", json!({"x": 1})).await;
    assert_eq!(result.is_error, Some(true));
    assert_eq!(
        text_of(&result),
        "Invalid arguments for tool `ping_pong`: unknown argument `x`; expected no arguments"
    );

    // A field of a struct argument, and the tool's own validation.
    let result = call_tool(&client, "create_user", json!({"user": {"age": 3}})).await;
    assert_eq!(result.is_error, Some(true));
    let text = text_of(&result);
    assert!(
        text.starts_with(
            "Invalid arguments for tool `create_user`: invalid value for argument `user`:"
        ) && text.contains("displayName"),
        "{text}"
    );
    let result = call_tool(
        &client,
        "create_user",
        json!({"user": {"displayName": " "}}),
    )
    .await;
    assert_eq!(
        text_of(&result),
        "Invalid arguments for tool `create_user`: displayName must not be blank"
    );

    // An unknown tool is a JSON-RPC error naming it, not a tool result.
    let error = mcp_error(
        client
            .call_tool(CallToolRequestParams::new("no_such_tool"))
            .await,
    );
    assert_eq!(error.code, ErrorCode::INVALID_PARAMS);
    assert!(
        error.message.contains("unknown tool `no_such_tool`") && error.message.contains("add"),
        "{}",
        error.message
    );

    // The session survives all of it.
    assert_eq!(
        text_of(&call_tool(&client, "add", json!({"a": 1, "b": 1})).await),
        "2"
    );
    close(server, [client]).await;
    })
    .await;
}

#[tokio::test]
async fn context_sees_headers_and_trace() {
    bounded("context_sees_headers_and_trace", async {
    let server = start(HttpOptions::default()).await;
    let client = connect_http(
        &server.url(),
        &[
            ("x-tenant", "acme"),
            ("x-trace-id", "0af7651916cd43dd8448eb211c80319c"),
            ("x-span-id", "b7ad6b7169203331"),
            ("x-origin-service", "agent-api"),
        ],
        None,
    )
    .await;
    let result = call_tool(&client, "whoami", json!({})).await;
    assert_eq!(
        text_of(&result),
        "tenant=acme trace=0af7651916cd43dd8448eb211c80319c parent=b7ad6b7169203331 origin=agent-api"
    );
    client.cancel().await.unwrap();

    // Without the headers: a fresh trace, no parent.
    let client = connect_http(&server.url(), &[], None).await;
    let text = text_of(&call_tool(&client, "whoami", json!({})).await);
    assert!(
        text.starts_with("tenant=<none> trace=") && text.ends_with(" parent=<none> origin=<none>"),
        "{text}"
    );
    let trace = text.split(' ').nth(1).unwrap().trim_start_matches("trace=");
    cm_test_support::assert_hex(trace, 32);
    close(server, [client]).await;
    })
    .await;
}

#[tokio::test]
async fn secret_arguments_never_reach_the_logs() {
    bounded("secret_arguments_never_reach_the_logs", async {
        let server = start(HttpOptions::default()).await;
        let trace_id = "5ec2e75ec2e75ec2e75ec2e75ec2e7aa";
        let client = connect_http(&server.url(), &[("x-trace-id", trace_id)], None).await;
        let password = "hunter2-do-not-log";
        let result = call_tool(
            &client,
            "login",
            json!({"user": "ada", "password": password}),
        )
        .await;
        assert_eq!(text_of(&result), "ada logged in with 18 characters");
        close(server, [client]).await;

        let logs = String::from_utf8(captured_logs().lock().unwrap().clone()).unwrap();
        assert!(!logs.contains(password), "the password was logged:\n{logs}");
        let start = logs
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["event_type"] == "tool.execution.start" && v["trace_id"] == trace_id)
            .unwrap_or_else(|| panic!("no start event of the login call:\n{logs}"));
        assert_eq!(start["data"]["tool_name"], "login");
        let preview: Value = serde_json::from_str(start["data"]["input_preview"].as_str().unwrap())
            .expect("the preview is JSON");
        assert_eq!(preview, json!({"user": "ada", "password": "***"}));
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Resources and prompts.

#[tokio::test]
async fn resources_and_templates() {
    bounded("resources_and_templates", async {
        let (server, client) = start_connected().await;

        let resources = client.list_all_resources().await.unwrap();
        assert_eq!(
            serde_json::to_value(&resources).unwrap(),
            json!([{
                "uri": "test://config",
                "name": "config",
                "description": "The server's configuration.",
                "mimeType": "application/json",
            }])
        );
        let templates = client.list_all_resource_templates().await.unwrap();
        assert_eq!(
            serde_json::to_value(&templates).unwrap(),
            json!([{
                "uriTemplate": "test://tables/{table}",
                "name": "table_columns",
                "title": "Table columns",
                "description": "The columns of a table.",
            }])
        );

        let read = client
            .read_resource(ReadResourceRequestParams::new("test://config"))
            .await
            .unwrap();
        let (uri, mime_type, text) = text_contents(&read.contents);
        assert_eq!(uri, "test://config");
        assert_eq!(mime_type, Some("application/json"));
        assert_eq!(
            serde_json::from_str::<Value>(text).unwrap(),
            json!({"region": "eu-north", "replicas": 3})
        );

        // A template, with a percent-encoded variable.
        let read = client
            .read_resource(ReadResourceRequestParams::new(
                "test://tables/order%20items",
            ))
            .await
            .unwrap();
        let (uri, mime_type, text) = text_contents(&read.contents);
        assert_eq!(uri, "test://tables/order%20items");
        assert_eq!(mime_type, Some("text/plain"));
        assert_eq!(text, "columns of order items");

        // Unknown URIs, and a template whose function reports not-found: -32002.
        for uri in [
            "test://nothing",
            "test://tables/a/b",
            "test://tables/missing",
        ] {
            let error = mcp_error(
                client
                    .read_resource(ReadResourceRequestParams::new(uri))
                    .await,
            );
            assert_eq!(error.code, ErrorCode::RESOURCE_NOT_FOUND, "{uri}");
            assert_eq!(error.code.0, -32002);
        }
        let error = mcp_error(
            client
                .read_resource(ReadResourceRequestParams::new("test://nothing"))
                .await,
        );
        assert!(
            error.message.contains("test://nothing"),
            "{}",
            error.message
        );

        close(server, [client]).await;
    })
    .await;
}

#[tokio::test]
async fn prompts_list_and_get() {
    bounded("prompts_list_and_get", async {
    let (server, client) = start_connected().await;

    let prompts = client.list_all_prompts().await.unwrap();
    assert_eq!(
        serde_json::to_value(&prompts).unwrap(),
        json!([{
            "name": "review",
            "title": "Code review",
            "description": "Reviews code.",
            "arguments": [
                {"name": "code", "description": "The code to review.", "required": true},
                {"name": "language", "description": "Its language, when known.", "required": false},
            ],
        }])
    );

    let mut arguments = serde_json::Map::new();
    arguments.insert("code".into(), json!("fn main() {}"));
    arguments.insert("language".into(), json!("Rust"));
    let result = client
        .get_prompt(GetPromptRequestParams::new("review").with_arguments(arguments))
        .await
        .unwrap();
    assert_eq!(result.description.as_deref(), Some("Reviews code."));
    assert_eq!(result.messages.len(), 2);
    assert_eq!(result.messages[0].role, Role::User);
    let text = result.messages[0]
        .content
        .as_text()
        .map(|t| t.text.as_str());
    assert_eq!(text, Some("Review this Rust code:\nfn main() {}"));
    assert_eq!(result.messages[1].role, Role::Assistant);

    // A missing required argument is invalid params, naming it; an unknown prompt names itself.
    let error = mcp_error(
        client
            .get_prompt(GetPromptRequestParams::new("review"))
            .await,
    );
    assert_eq!(error.code, ErrorCode::INVALID_PARAMS);
    assert!(error.message.contains("`code`"), "{}", error.message);
    let error = mcp_error(client.get_prompt(GetPromptRequestParams::new("nope")).await);
    assert_eq!(error.code, ErrorCode::INVALID_PARAMS);
    assert!(error.message.contains("`nope`"), "{}", error.message);

    close(server, [client]).await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Protocol edges over raw HTTP.

#[tokio::test]
async fn health_has_the_platform_shape() {
    bounded("health_has_the_platform_shape", async {
        let server = start(HttpOptions::default()).await;
        let response = reqwest::Client::new()
            .get(format!("http://{}/health", server.local_addr()))
            .timeout(TIMEOUT)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let health: Value = response.json().await.unwrap();
        let keys: BTreeSet<&str> = health
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "status",
                "service",
                "service_connected",
                "server_mode",
                "server_time",
                "connector_id",
                "shared_state"
            ]
            .into()
        );
        assert_eq!(health["status"], "healthy");
        // One process: the state replicas would share is in memory.
        assert_eq!(
            health["shared_state"],
            serde_json::json!({"backend": "memory", "connected": true})
        );
        assert_eq!(health["service"], "http-test");
        // No connector declared: nothing to wait for, so connected (as the README says).
        assert_eq!(health["service_connected"], true);
        assert_eq!(health["connector_id"], Value::Null);
        // This test process is not in a stack unless its environment says so.
        let stack = std::env::var("SERVICE_NAME").is_ok_and(|v| !v.trim().is_empty())
            && !std::env::var("CONFIDENTIAL_MIND_LOCAL_CONFIG")
                .is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"));
        assert_eq!(
            health["server_mode"],
            if stack { "stack_deployment" } else { "local" }
        );
        cm_test_support::assert_platform_timestamp(health["server_time"].as_str().unwrap());
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn stateless_mode_answers_json_without_sessions() {
    bounded("stateless_mode_answers_json_without_sessions", async {
    let server = start(HttpOptions {
        stateless: true,
        ..HttpOptions::default()
    })
    .await;
    let response = post(&server.url(), INITIALIZE).send().await.unwrap();
    let body = stateless_json(response).await;
    assert_eq!(body["id"], 1);
    assert_eq!(body["result"]["serverInfo"]["name"], "http-test");

    // Any request stands alone: no session to refer to.
    let response = post(
        &server.url(),
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"add","arguments":{"a":20,"b":22}}}"#,
    )
    .header("mcp-protocol-version", "2025-06-18")
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("mcp-session-id").is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], 2);
    assert_eq!(body["result"]["content"][0]["text"], "42", "{body}");

    // rmcp's client works against it too.
    let client = connect_http(&server.url(), &[], None).await;
    assert_eq!(
        text_of(&call_tool(&client, "add", json!({"a": 1, "b": 2})).await),
        "3"
    );
    close(server, [client]).await;
    })
    .await;
}

#[tokio::test]
async fn dns_rebinding_is_refused_unless_the_host_is_allowed() {
    bounded(
        "dns_rebinding_is_refused_unless_the_host_is_allowed",
        async {
            let server = start(HttpOptions {
                allowed_hosts: vec!["mcp.internal".into()],
                ..HttpOptions::default()
            })
            .await;
            let refused = post(&server.url(), INITIALIZE)
                .header("host", "evil.example")
                .send()
                .await
                .unwrap();
            assert_eq!(refused.status(), 403);

            let port = server.local_addr().port();
            for host in [
                "mcp.internal".to_string(),
                format!("mcp.internal:{port}"),
                format!("localhost:{port}"),
                format!("127.0.0.1:{port}"),
            ] {
                let accepted = post(&server.url(), INITIALIZE)
                    .header("host", host.as_str())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(accepted.status(), 200, "{host}");
                assert!(accepted.headers().get("mcp-session-id").is_some(), "{host}");
            }
            server.shutdown().await.unwrap();
        },
    )
    .await;
}

#[tokio::test]
async fn malformed_json_is_refused_and_the_server_keeps_serving() {
    bounded(
        "malformed_json_is_refused_and_the_server_keeps_serving",
        async {
            let (server, client) = start_connected().await;
            for body in [r#"{"jsonrpc":"2.0","id":1,"method":"#, "not json", "{}"] {
                let response = post(&server.url(), body).send().await.unwrap();
                let status = response.status();
                assert!(status.is_client_error(), "{body}: {status}");
            }
            // The session opened before is unaffected, and new ones open.
            assert_eq!(
                text_of(&call_tool(&client, "add", json!({"a": 2, "b": 2})).await),
                "4"
            );
            let other = connect_http(&server.url(), &[], None).await;
            assert_eq!(
                text_of(&call_tool(&other, "add", json!({"a": 3, "b": 3})).await),
                "6"
            );
            close(server, [other, client]).await;
        },
    )
    .await;
}

/// JSON-RPC 2.0 answers unparseable input with a -32700 error (id null); MCP allows it as the body
/// of the HTTP error. The transport passes on rmcp's answer instead: 415 with a plain-text body.
#[tokio::test]
async fn malformed_json_gets_a_json_rpc_parse_error() {
    bounded("malformed_json_gets_a_json_rpc_parse_error", async {
        let server = start(HttpOptions::default()).await;
        let response = post(&server.url(), r#"{"jsonrpc":"2.0","id":1,"method":"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let text = response.text().await.unwrap();
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("the error is not JSON ({e}): {text}"));
        assert_eq!(body["jsonrpc"], "2.0", "{body}");
        assert_eq!(body["id"], Value::Null, "{body}");
        assert_eq!(body["error"]["code"], -32700, "{body}");
        server.shutdown().await.unwrap();
    })
    .await;
}
