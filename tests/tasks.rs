//! The tasks extension (SEP-2663, `io.modelcontextprotocol/tasks`) as clients see it, served by the
//! `everything` example over real HTTP and driven by rmcp's client of protocol 2026-07-28: a call
//! of a tool with `task = ".."` that does not finish at once becomes a task, polled with
//! `tasks/get` to its result; `tasks/cancel` reaches the tool's cancellation token; its requests to
//! the client are answered with `tasks/update`; tasks expire after `--task-ttl` and are bounded by
//! `--max-tasks`.

use std::future::Future;

use cm_test_support::{HttpProcess, bounded, python_with_mcp, run_python, service_missing, within};
use rmcp::{
    ClientHandler, RoleClient,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams,
        ClientCapabilities, ClientConfig, DetailedTask, ErrorCode, GetTaskParams, Implementation,
        ProtocolVersion, TaskPayload, TaskStatus, UpdateTaskParams,
    },
    service::{
        ClientLifecycleMode, ClientServiceExt, RunningService, ServiceError, ServiceExt as _,
    },
    transport::StreamableHttpClientTransport,
};
use serde_json::{Value, json};

/// A client of protocol 2026-07-28 declaring elicitation and, with `tasks`, the tasks extension.
#[derive(Clone)]
struct TasksClient {
    tasks: bool,
    version: ProtocolVersion,
}

impl ClientHandler for TasksClient {
    fn get_info(&self) -> ClientConfig {
        let capabilities = if self.tasks {
            ClientCapabilities::builder()
                .enable_elicitation()
                .enable_tasks()
                .build()
        } else {
            ClientCapabilities::builder().enable_elicitation().build()
        };
        ClientConfig::new(capabilities, Implementation::new("tasks-tests", "1.0.0"))
            .with_protocol_version(self.version.clone())
    }
}

type Client = RunningService<RoleClient, TasksClient>;

async fn connect(server: &HttpProcess, tasks: bool) -> Client {
    let transport = StreamableHttpClientTransport::from_uri(server.mcp_url());
    let lifecycle = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    let client = TasksClient {
        tasks,
        version: ProtocolVersion::V_2026_07_28,
    };
    within(
        "connecting",
        client.serve_with_lifecycle(transport, lifecycle),
    )
    .await
    .expect("connect with protocol 2026-07-28")
}

/// A client of protocol 2025-11-25 (`initialize`, a session) declaring the tasks extension.
async fn connect_2025(server: &HttpProcess) -> Client {
    let transport = StreamableHttpClientTransport::from_uri(server.mcp_url());
    let client = TasksClient {
        tasks: true,
        version: ProtocolVersion::V_2025_11_25,
    };
    within("initialize", client.serve(transport))
        .await
        .expect("initialize with protocol 2025-11-25")
}

/// `everything`, with `args`.
async fn everything(args: &[&str]) -> HttpProcess {
    HttpProcess::start("everything", args, &[]).await
}

/// One `tools/call` of `tool`, answered as the server chose (a result, or a task).
async fn call(
    client: &Client,
    tool: &str,
    arguments: Value,
) -> Result<CallToolResponse, ServiceError> {
    let params = CallToolRequestParams::new(tool.to_string())
        .with_arguments(arguments.as_object().unwrap().clone());
    within(
        &format!("tools/call of {tool}"),
        client.call_tool_once(params),
    )
    .await
}

/// Calls `tool` and returns the id of the task it became.
async fn start_task(client: &Client, tool: &str, arguments: Value) -> String {
    match call(client, tool, arguments).await {
        Ok(CallToolResponse::Task(created)) => {
            assert_eq!(created.task.status, TaskStatus::Working);
            created.task.task_id
        }
        other => panic!("{tool} did not become a task: {other:?}"),
    }
}

async fn get(client: &Client, task_id: &str) -> Result<DetailedTask, ServiceError> {
    within(
        "tasks/get",
        client.get_task(GetTaskParams::new(task_id.to_string())),
    )
    .await
    .map(|result| result.task)
}

/// Polls `tasks/get` until `until` holds for the task, within `cm_test_support::TIMEOUT`, at the interval a client
/// is told to poll at.
async fn poll(
    client: &Client,
    task_id: &str,
    what: &str,
    until: impl Fn(&Result<DetailedTask, ServiceError>) -> bool,
) -> Result<DetailedTask, ServiceError> {
    within(&format!("the task to be {what}"), async {
        loop {
            let task = get(client, task_id).await;
            if until(&task) {
                return task;
            }
            let interval = task.as_ref().ok().and_then(|t| t.task.poll_interval_ms);
            tokio::time::sleep(std::time::Duration::from_millis(
                interval.unwrap_or(50).min(200),
            ))
            .await;
        }
    })
    .await
}

/// Polls until the task has ended, and returns it.
async fn ended(client: &Client, task_id: &str) -> DetailedTask {
    poll(client, task_id, "ended", |task| {
        task.as_ref().is_ok_and(|t| t.status().is_terminal())
    })
    .await
    .expect("tasks/get of a known task")
}

fn completed_result(task: DetailedTask) -> CallToolResult {
    match task.payload {
        TaskPayload::Completed { result } => serde_json::from_value(Value::Object(result)).unwrap(),
        other => panic!("expected a completed task, got {other:?}"),
    }
}

fn text(result: &CallToolResult) -> &str {
    result.content[0]
        .as_text()
        .map(|t| t.text.as_str())
        .unwrap_or("")
}

fn error_code(error: ServiceError) -> i32 {
    match error {
        ServiceError::McpError(data) => data.code.0,
        other => panic!("expected a JSON-RPC error, got {other}"),
    }
}

async fn test<F: Future<Output = ()>>(name: &str, body: F) {
    bounded(name, body).await;
}

#[tokio::test]
async fn a_call_that_waits_becomes_a_task_whose_result_tasks_get_returns_once_it_has_ended() {
    test(
        "a_call_that_waits_becomes_a_task_whose_result_tasks_get_returns_once_it_has_ended",
        async {
            let server = everything(&[]).await;
            let client = connect(&server, true).await;

            let task_id = start_task(
                &client,
                "slow_compute",
                json!({"seconds": 0.3, "label": "poll"}),
            )
            .await;
            // The task is there as soon as the client has its id.
            assert!(get(&client, &task_id).await.is_ok());
            let result = completed_result(ended(&client, &task_id).await);
            assert_eq!(text(&result), "poll: done after 0.3s");

            // The call is logged once, start to end, with the trace of the request that created it.
            let (_, created) = server.logs.wait_for_event("task.create").await;
            assert_eq!(created["data"]["task_id"], task_id.as_str());
            let (_, complete) = server
                .logs
                .wait_for_tool("tool.execution.complete", "slow_compute")
                .await;
            assert_eq!(complete["trace_id"], created["trace_id"]);
            assert_eq!(server.logs.of_type("tool.execution.start").len(), 1);

            // A tool's error is a completed task whose result says so; a panic is a failed task.
            let failing = start_task(&client, "failing_job", json!({})).await;
            let result = completed_result(ended(&client, &failing).await);
            assert_eq!(result.is_error, Some(true));
            assert_eq!(text(&result), "failing_job failed, as it always does");
            let panicking = start_task(&client, "protocol_error_job", json!({})).await;
            match ended(&client, &panicking).await.payload {
                TaskPayload::Failed { error } => {
                    assert_eq!(error["code"], -32603);
                    assert!(
                        error["message"].as_str().unwrap().contains("panicked"),
                        "{error:?}"
                    );
                }
                other => panic!("expected a failed task, got {other:?}"),
            }
        },
    )
    .await;
}

#[tokio::test]
async fn progress_a_task_reports_is_its_status_message_on_tasks_get() {
    test(
        "progress_a_task_reports_is_its_status_message_on_tasks_get",
        async {
            let server = everything(&[]).await;
            let client = connect(&server, true).await;
            // slow_compute reports its progress halfway; 4 s leaves 2 s to see it while working.
            let task_id = start_task(
                &client,
                "slow_compute",
                json!({"seconds": 4.0, "label": "halfway"}),
            )
            .await;
            let working = poll(&client, &task_id, "reporting its progress", |task| {
                task.as_ref()
                    .is_ok_and(|t| t.task.status_message.is_some() || t.status().is_terminal())
            })
            .await
            .unwrap();
            assert_eq!(working.status(), TaskStatus::Working, "{working:?}");
            assert_eq!(
                working.task.status_message.as_deref(),
                Some("halfway (2/4)")
            );
            let result = completed_result(ended(&client, &task_id).await);
            assert_eq!(text(&result), "halfway: done after 4s");
        },
    )
    .await;
}

#[tokio::test]
async fn tasks_cancel_fires_the_tools_cancellation_token_and_the_task_ends_cancelled() {
    test(
        "tasks_cancel_fires_the_tools_cancellation_token_and_the_task_ends_cancelled",
        async {
            let server = everything(&[]).await;
            let client = connect(&server, true).await;

            let task_id = start_task(
                &client,
                "slow_compute",
                json!({"seconds": 60, "label": "long"}),
            )
            .await;
            within(
                "tasks/cancel",
                client.cancel_task(CancelTaskParams::new(task_id.clone())),
            )
            .await
            .expect("tasks/cancel of a running task");
            assert_eq!(
                ended(&client, &task_id).await.status(),
                TaskStatus::Cancelled
            );
            // The tool's own branch on its token wrote that error: it saw the cancellation.
            let (_, error) = server
                .logs
                .wait_for_tool("tool.execution.error", "slow_compute")
                .await;
            assert_eq!(
                error["error"],
                "slow_compute `long` saw its cancellation token and stopped"
            );
            server.logs.wait_for_event("task.cancel").await;

            // Cancelling an ended task is acknowledged all the same.
            within(
                "tasks/cancel again",
                client.cancel_task(CancelTaskParams::new(task_id.clone())),
            )
            .await
            .expect("tasks/cancel of an ended task");
        },
    )
    .await;
}

#[tokio::test]
async fn a_request_to_the_client_inside_a_task_waits_for_tasks_update() {
    test(
        "a_request_to_the_client_inside_a_task_waits_for_tasks_update",
        async {
            let server = everything(&[]).await;
            let client = connect(&server, true).await;

            let task_id = start_task(&client, "confirm_delete", json!({"filename": "a.txt"})).await;
            let waiting = poll(&client, &task_id, "waiting for input", |task| {
                task.as_ref()
                    .is_ok_and(|t| t.status() == TaskStatus::InputRequired)
            })
            .await
            .unwrap();
            let TaskPayload::InputRequired { input_requests } = waiting.payload else {
                panic!("no input requests");
            };
            let keys: Vec<String> = input_requests.keys().cloned().collect();
            assert_eq!(keys, ["elicit-1"]);
            let request = serde_json::to_value(&input_requests["elicit-1"]).unwrap();
            assert_eq!(request["method"], "elicitation/create");
            assert_eq!(request["params"]["message"], "Delete a.txt?");

            let answers = [(
                keys[0].clone(),
                json!({"action": "accept", "content": {"confirm": true}}),
            )];
            within(
                "tasks/update",
                client.update_task(UpdateTaskParams::new(task_id.clone(), answers.into())),
            )
            .await
            .expect("tasks/update");
            let result = completed_result(ended(&client, &task_id).await);
            assert_eq!(text(&result), "Deleted a.txt");
        },
    )
    .await;
}

#[tokio::test]
async fn a_task_and_its_result_expire_after_the_task_ttl_and_its_id_is_then_unknown() {
    test(
        "a_task_and_its_result_expire_after_the_task_ttl_and_its_id_is_then_unknown",
        async {
            let server = everything(&["--task-ttl", "0.5"]).await;
            let client = connect(&server, true).await;

            let task_id = start_task(&client, "slow_compute", json!({"seconds": 60})).await;
            let expired = poll(&client, &task_id, "failed at its TTL", |task| {
                task.as_ref().is_ok_and(|t| t.status().is_terminal())
            })
            .await
            .unwrap();
            assert_eq!(expired.task.ttl_ms, Some(500));
            match expired.payload {
                TaskPayload::Failed { error } => {
                    assert!(
                        error["message"].as_str().unwrap().contains("TTL"),
                        "{error:?}"
                    )
                }
                other => panic!("expected a failed task, got {other:?}"),
            }
            // The call stopped at its TTL is ended in the log as any call is.
            server
                .logs
                .wait_for("the stopped call's error event", |event| {
                    event["event_type"] == "tool.execution.error"
                        && event["error_type"] == "TaskStopped"
                })
                .await;
            let gone = poll(&client, &task_id, "forgotten", Result::is_err).await;
            let error = gone.expect_err("an expired task is unknown");
            match error {
                ServiceError::McpError(data) => {
                    assert_eq!(data.code, ErrorCode::INVALID_PARAMS);
                    assert!(data.message.contains("--task-ttl"), "{}", data.message);
                }
                other => panic!("expected -32602, got {other}"),
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_call_beyond_max_tasks_is_refused_naming_the_flag_until_a_task_ends() {
    test(
        "a_call_beyond_max_tasks_is_refused_naming_the_flag_until_a_task_ends",
        async {
            let server = everything(&["--max-tasks", "1"]).await;
            let client = connect(&server, true).await;

            let first = start_task(&client, "slow_compute", json!({"seconds": 60})).await;
            match call(&client, "slow_compute", json!({"seconds": 60})).await {
                Err(ServiceError::McpError(data)) => {
                    assert_eq!(data.code, ErrorCode::INTERNAL_ERROR);
                    assert!(data.message.contains("--max-tasks"), "{}", data.message);
                }
                other => panic!("expected a refusal, got {other:?}"),
            }
            // The refused call is ended in the log as any call is.
            server
                .logs
                .wait_for("the refused call's error event", |event| {
                    event["event_type"] == "tool.execution.error"
                        && event["error_type"] == "TaskRefused"
                })
                .await;
            within(
                "tasks/cancel",
                client.cancel_task(CancelTaskParams::new(first.clone())),
            )
            .await
            .unwrap();
            ended(&client, &first).await;
            start_task(&client, "slow_compute", json!({"seconds": 60})).await;
        },
    )
    .await;
}

#[tokio::test]
async fn an_unknown_task_id_is_invalid_params() {
    test("an_unknown_task_id_is_invalid_params", async {
        let server = everything(&[]).await;
        let client = connect(&server, true).await;
        let error = get(&client, "no-such-task").await.expect_err("unknown");
        assert_eq!(error_code(error), -32602);
        let error = within(
            "tasks/cancel",
            client.cancel_task(CancelTaskParams::new("no-such-task")),
        )
        .await
        .expect_err("unknown");
        assert_eq!(error_code(error), -32602);
    })
    .await;
}

#[tokio::test]
async fn a_client_without_the_extension_gets_optional_tools_answered_in_the_call_and_required_ones_refused()
 {
    test("a_client_without_the_extension_gets_optional_tools_answered_in_the_call_and_required_ones_refused", async {
        let server = everything(&[]).await;
        let client = connect(&server, false).await;

        match call(&client, "slow_compute", json!({"seconds": 0.1, "label": "sync"})).await {
            Ok(CallToolResponse::Complete(result)) => assert_eq!(text(&result), "sync: done after 0.1s"),
            other => panic!("expected an answer in the call, got {other:?}"),
        }
        match call(&client, "failing_job", json!({})).await {
            Err(ServiceError::McpError(data)) => {
                assert_eq!(data.code.0, -32021);
                let data = data.data.expect("the error names the capability");
                assert!(
                    data["requiredCapabilities"]["extensions"]["io.modelcontextprotocol/tasks"].is_object(),
                    "{data}"
                );
            }
            other => panic!("expected -32021, got {other:?}"),
        }
        // tasks/* are refused the same way.
        let error = get(&client, "any").await.expect_err("refused");
        assert_eq!(error_code(error), -32021);
    })
    .await;
}

#[tokio::test]
async fn tools_list_shows_each_tools_task_support_and_discover_the_extension() {
    test(
        "tools_list_shows_each_tools_task_support_and_discover_the_extension",
        async {
            let server = everything(&[]).await;
            let client = connect(&server, true).await;
            let info = client.peer_info().expect("discovered");
            let capabilities = serde_json::to_value(&info.capabilities).unwrap();
            assert!(
                capabilities["extensions"]["io.modelcontextprotocol/tasks"].is_object(),
                "{capabilities}"
            );
            let tools = within("tools/list", client.list_all_tools()).await.unwrap();
            let support = |name: &str| {
                let tool = tools.iter().find(|t| t.name == name).unwrap();
                let meta = serde_json::to_value(&tool.meta).unwrap();
                meta["io.modelcontextprotocol/tasks"]["taskSupport"].clone()
            };
            assert_eq!(support("slow_compute"), "optional");
            assert_eq!(support("failing_job"), "required");
            assert_eq!(support("greet"), Value::Null);
        },
    )
    .await;
}

#[tokio::test]
async fn input_gathered_in_rounds_of_the_call_reaches_the_task_it_goes_on_as() {
    test(
        "input_gathered_in_rounds_of_the_call_reaches_the_task_it_goes_on_as",
        async {
            let server = everything(&[]).await;
            let client = connect(&server, true).await;

            let first = match call(&client, "test_tool_with_task", json!({})).await {
                Ok(CallToolResponse::InputRequired(result)) => result,
                other => panic!("expected an input-required round, got {other:?}"),
            };
            let mut params = CallToolRequestParams::new("test_tool_with_task")
                .with_arguments(Default::default());
            params.input_responses = Some(
                [(
                    "user_name".to_string(),
                    json!({"action": "accept", "content": {"name": "Alice"}}),
                )]
                .into(),
            );
            params.request_state = first.request_state;
            let task_id = match within("round 2", client.call_tool_once(params)).await {
                Ok(CallToolResponse::Task(created)) => created.task.task_id,
                other => panic!("expected a task, got {other:?}"),
            };
            let result = completed_result(ended(&client, &task_id).await);
            assert_eq!(text(&result), "Hello, Alice! (from the task)");
        },
    )
    .await;
}

#[tokio::test]
async fn a_2025_client_that_declares_the_extension_answers_its_tasks_requests_with_tasks_update() {
    test(
        "a_2025_client_that_declares_the_extension_answers_its_tasks_requests_with_tasks_update",
        async {
            let server = everything(&[]).await;
            let client = connect_2025(&server).await;

            // Without rounds, the form the function asks first is the task's input request, not a
            // request on the stream of a call the task outlives.
            let task_id = start_task(&client, "test_tool_with_task", json!({})).await;
            let waiting = poll(&client, &task_id, "waiting for input", |task| {
                task.as_ref()
                    .is_ok_and(|t| t.status() == TaskStatus::InputRequired)
            })
            .await
            .unwrap();
            let TaskPayload::InputRequired { input_requests } = waiting.payload else {
                panic!("no input requests");
            };
            assert_eq!(input_requests.keys().collect::<Vec<_>>(), ["user_name"]);
            let answers = [(
                "user_name".to_string(),
                json!({"action": "accept", "content": {"name": "Bob"}}),
            )];
            within(
                "tasks/update",
                client.update_task(UpdateTaskParams::new(task_id.clone(), answers.into())),
            )
            .await
            .expect("tasks/update");
            let result = completed_result(ended(&client, &task_id).await);
            assert_eq!(text(&result), "Hello, Bob! (from the task)");
        },
    )
    .await;
}

/// The Python SDK (`mcp` 2.3) as a tasks client: it has no tasks API of its own, but its extension
/// mechanism (`ClientExtension` with a `ResultClaim` for `resultType: "task"`) is how a Python client
/// takes part in SEP-2663, and this one is the smallest such client: it resolves a task by polling
/// `tasks/get`, and cancels one with `tasks/cancel`.
const PYTHON_TASKS_CLIENT: &str = r#"
import asyncio, sys
from typing import Any, Literal
from pydantic import ConfigDict, Field, TypeAdapter
import mcp.types as t
from mcp.client.client import Client
from mcp.client.extension import ClientExtension, ResultClaim

TERMINAL = ("completed", "failed", "cancelled")

class TasksGet(t.Request[dict[str, Any], Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    name_param = "taskId"

class TasksCancel(t.Request[dict[str, Any], Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"
    name_param = "taskId"

class CreatedTask(t.Result):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    result_type: Literal["task"] = Field(alias="resultType")
    task_id: str = Field(alias="taskId")
    status: str

ANY = TypeAdapter(dict[str, Any])

async def poll(session, task_id):
    while True:
        got = await session.send_request(TasksGet(params={"taskId": task_id}), ANY)
        if got["status"] in TERMINAL:
            return got
        await asyncio.sleep(min(got.get("pollIntervalMs", 100), 100) / 1000)

async def resolve(created, ctx):
    got = await poll(ctx.session, created.task_id)
    if got["status"] != "completed":
        raise RuntimeError(f"task {got['status']}: {got}")
    return t.CallToolResult.model_validate(got["result"])

class Tasks(ClientExtension):
    identifier = "io.modelcontextprotocol/tasks"
    def claims(self):
        return [ResultClaim(result_type="task", model=CreatedTask, resolve=resolve)]

async def main(url):
    async with Client(url, extensions=[Tasks()]) as client:
        r = await client.call_tool("slow_compute", {"seconds": 0.3, "label": "py"})
        print("COMPLETED", r.content[0].text, flush=True)
        created = await client.session.call_tool("slow_compute", {"seconds": 60, "label": "long"}, allow_claimed=True)
        print("CREATED", type(created).__name__, created.status, flush=True)
        ack = await client.session.send_request(TasksCancel(params={"taskId": created.task_id}), ANY)
        print("ACK", ack.get("resultType"), flush=True)
        got = await poll(client.session, created.task_id)
        print("CANCELLED", got["status"], flush=True)

asyncio.run(main(sys.argv[1]))
"#;

#[tokio::test]
async fn the_python_sdk_polls_a_task_to_completion_and_cancels_another() {
    bounded(
        "the_python_sdk_polls_a_task_to_completion_and_cancels_another",
        async {
            let test = "the_python_sdk_polls_a_task_to_completion_and_cancels_another";
            let python = match tokio::task::spawn_blocking(python_with_mcp).await.unwrap() {
                Ok(python) => python,
                Err(why) => return service_missing(test, "Python with the mcp package", why),
            };
            let server = everything(&[]).await;
            let (lines, stderr) =
                run_python(&python, PYTHON_TASKS_CLIENT, &[&server.mcp_url()]).await;
            assert_eq!(
                lines,
                [
                    "COMPLETED py: done after 0.3s",
                    "CREATED CreatedTask working",
                    "ACK complete",
                    "CANCELLED cancelled",
                ],
                "{stderr}"
            );
            server
                .logs
                .wait_for("the long task's tool seeing its cancellation", |v| {
                    v["event_type"] == "tool.execution.error"
                        && v["error"]
                            .as_str()
                            .is_some_and(|e| e.contains("`long` saw its cancellation token"))
                })
                .await;
        },
    )
    .await;
}
