//! Several replicas of one server behind a load balancer that pins nothing: three `everything`
//! processes sharing their state through Redis (`MCP_REDIS_URL`, one key prefix, one
//! `MCP_STATE_KEY`) behind nginx round-robin (deploy/nginx/mcp-replicas.conf), driven by real
//! clients: the Python SDK and fastmcp in legacy mode (a session, `initialize`) and in protocol
//! 2026-07-28, and rmcp's client in both. A client must see one coherent server: a legacy session
//! goes on whichever replica a request lands on, resource updates reach subscribers held by any
//! replica, input-required rounds and tasks continue anywhere, and nothing is lost when a replica
//! dies or Redis restarts.
//!
//! The machine's Redis (127.0.0.1:6379) serves the tests that do not stop it, each under a key
//! prefix of its own, deleted at the end; the tests that stop Redis start a `redis-server` of their
//! own (`cm_test_support::RedisServer`).

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use cm_test_support::{
    HttpProcess, Nginx, RedisServer, SharedRedis, TIMEOUT, bounded, command, nginx_or_skip,
    python_with_mcp, refused_to_start, service_missing, shared_redis, signal, text_of,
    try_run_python, unique_prefix, within,
};
use rmcp::{
    ClientHandler, RoleClient,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams,
        ClientCapabilities, ClientConfig, DetailedTask, GetTaskParams, Implementation,
        ProtocolVersion, TaskPayload, TaskStatus, UpdateTaskParams,
    },
    service::{ClientLifecycleMode, ClientServiceExt, Peer, RunningService, ServiceError},
    transport::StreamableHttpClientTransport,
};
use serde_json::{Value, json};
use tokio::time::Instant;

/// The replicas' shared key for sealed request state (`MCP_STATE_KEY`: 32 bytes as hex).
const STATE_KEY: &str = "5f0c2a7e9d41b3866e1f0a4c2b9d7e3a18c6f5d40e2b9a7c3d1f8e6b5a49c2d7";

/// The protocol version of the legacy clients here: the last one with `initialize` and sessions.
const LEGACY: &str = "2025-11-25";

/// An `initialize` request of protocol [`LEGACY`], id 1.
const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;

/// The environment of a replica whose state is shared through `redis_url` under `prefix`.
fn shared_env<'a>(redis_url: &'a str, prefix: &'a str) -> [(&'static str, &'a str); 3] {
    [
        ("MCP_REDIS_URL", redis_url),
        ("MCP_REDIS_PREFIX", prefix),
        ("MCP_STATE_KEY", STATE_KEY),
    ]
}

/// Three replicas of `everything` sharing their state, behind nginx round-robin.
struct Replicas {
    replicas: Vec<HttpProcess>,
    nginx: Nginx,
}

impl Replicas {
    /// Starts the three replicas (at once) with [`shared_env`], then nginx in front of them. Call
    /// [`nginx_or_skip`] first.
    async fn start(redis_url: &str, prefix: &str) -> Replicas {
        Replicas::start_with(redis_url, prefix, &[]).await
    }

    /// [`Replicas::start`], each replica also given `extra` variables.
    async fn start_with(redis_url: &str, prefix: &str, extra: &[(&str, &str)]) -> Replicas {
        let mut env = shared_env(redis_url, prefix).to_vec();
        env.extend_from_slice(extra);
        let (a, b, c) = tokio::join!(
            HttpProcess::start("everything", &[], &env),
            HttpProcess::start("everything", &[], &env),
            HttpProcess::start("everything", &[], &env),
        );
        let replicas = vec![a, b, c];
        let ports: Vec<u16> = replicas.iter().map(port_of).collect();
        let nginx = Nginx::round_robin(&ports);
        Replicas { replicas, nginx }
    }

    /// Three replicas sharing the machine's Redis under `redis`'s prefix.
    async fn on(redis: &SharedRedis) -> Replicas {
        Replicas::start(redis.url(), redis.prefix()).await
    }

    /// The MCP endpoint, through nginx.
    fn url(&self) -> String {
        self.nginx.mcp_url()
    }

    /// The MCP endpoints of the replicas themselves, comma-separated.
    fn direct_urls(&self) -> String {
        self.replicas
            .iter()
            .map(HttpProcess::mcp_url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// How many calls of `tool` each replica has started.
    fn starts(&self, tool: &str) -> Vec<usize> {
        self.replicas
            .iter()
            .map(|replica| tool_starts(replica, tool))
            .collect()
    }

    /// Every replica's stderr and nginx's logs, for failure messages.
    fn dump(&self) -> String {
        let replicas = self
            .replicas
            .iter()
            .enumerate()
            .map(|(i, r)| format!("--- replica {i} ({}):\n{}", r.base, r.logs.dump()))
            .collect::<Vec<_>>()
            .join("\n");
        format!("{replicas}\n--- {}", self.nginx.logs())
    }

    /// Waits until every replica's `/health` reports the Redis backend `connected` (or not).
    async fn wait_connected(&self, connected: bool, within: Duration) {
        for replica in &self.replicas {
            wait_connected(replica, connected, within).await;
        }
    }
}

/// The port of a replica's `http://127.0.0.1:PORT`.
fn port_of(replica: &HttpProcess) -> u16 {
    replica
        .base
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no port in {}", replica.base))
}

/// How many calls of `tool` `replica` has started.
fn tool_starts(replica: &HttpProcess, tool: &str) -> usize {
    replica
        .logs
        .of_type("tool.execution.start")
        .iter()
        .filter(|event| event["data"]["tool_name"] == tool)
        .count()
}

/// Waits until `replica`'s `/health` says its Redis backend is `connected` (or not).
async fn wait_connected(replica: &HttpProcess, connected: bool, within: Duration) -> Value {
    let what = format!("shared_state backend redis, connected {connected}");
    replica
        .wait_health(&what, within, |health| {
            health["shared_state"]["backend"] == "redis"
                && health["shared_state"]["connected"] == connected
        })
        .await
}

/// A client of the `version` era: legacy (`initialize`, a session) or 2026-07-28 (`server/discover`,
/// no session), declaring the tasks extension when `tasks`.
#[derive(Clone)]
struct Era {
    version: ProtocolVersion,
    tasks: bool,
}

impl ClientHandler for Era {
    fn get_info(&self) -> ClientConfig {
        let capabilities = if self.tasks {
            // A task's input requests (elicitation) are answered with tasks/update.
            ClientCapabilities::builder()
                .enable_elicitation()
                .enable_tasks()
                .build()
        } else {
            ClientCapabilities::default()
        };
        ClientConfig::new(capabilities, Implementation::new("replicas-tests", "1.0.0"))
            .with_protocol_version(self.version.clone())
    }
}

type Client = RunningService<RoleClient, Era>;

/// An rmcp client of protocol 2025-11-25 with a session, through `url`.
async fn connect_legacy(url: &str) -> Client {
    let client = Era {
        version: ProtocolVersion::V_2025_11_25,
        tasks: false,
    };
    within(
        "initialize",
        client.serve_with_lifecycle(
            StreamableHttpClientTransport::from_uri(url.to_string()),
            ClientLifecycleMode::Initialize,
        ),
    )
    .await
    .expect("initialize with protocol 2025-11-25")
}

/// An rmcp client of protocol 2026-07-28 through `url`.
async fn connect_2026(url: &str, tasks: bool) -> Client {
    let client = Era {
        version: ProtocolVersion::V_2026_07_28,
        tasks,
    };
    within(
        "server/discover",
        client.serve_with_lifecycle(
            StreamableHttpClientTransport::from_uri(url.to_string()),
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        ),
    )
    .await
    .expect("connect with protocol 2026-07-28")
}

/// `greet` with `name`, bounded: its text, or what went wrong.
async fn greet(peer: &Peer<RoleClient>, name: &str) -> Result<(), String> {
    let params = CallToolRequestParams::new("greet").with_arguments(
        json!({"name": name})
            .as_object()
            .expect("an object")
            .clone(),
    );
    match tokio::time::timeout(TIMEOUT, peer.call_tool(params)).await {
        Err(_) => Err(format!("no answer within {TIMEOUT:?}")),
        Ok(Err(error)) => Err(error.to_string()),
        Ok(Ok(result)) => {
            let text = text_of(&result);
            if text == format!("Hello, {name}!") {
                Ok(())
            } else {
                Err(format!("unexpected answer: {text}"))
            }
        }
    }
}

/// `count` calls of `greet`, one after the other, each of which must succeed.
async fn greet_many(peer: &Peer<RoleClient>, label: &str, count: usize, dump: impl Fn() -> String) {
    for i in 0..count {
        if let Err(error) = greet(peer, &format!("{label}-{i}")).await {
            panic!("call {i} of {label} failed: {error}\n{}", dump());
        }
    }
}

/// One call of a [`CallLoop`]: when it was sent, how long it took, and how it ended.
struct Call {
    sent: Instant,
    took: Duration,
    outcome: Result<(), String>,
}

/// What a [`CallLoop`] has seen so far: the calls that ended, and those in flight (by number: when
/// sent, and the name they greet).
#[derive(Default)]
struct Seen {
    ended: Vec<Call>,
    in_flight: std::collections::BTreeMap<u64, (Instant, String)>,
}

/// A client calling `greet` in the background, a new call every 10 ms whether the ones before have
/// answered or not (as a busy client's concurrent requests do): a call that never ends does not
/// hold back the calls sent after it.
struct CallLoop {
    label: &'static str,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl CallLoop {
    /// Starts calling through `peer`.
    fn start(peer: Peer<RoleClient>, label: &'static str) -> CallLoop {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let (seen, stop) = (seen.clone(), stop.clone());
            async move {
                let mut calls = tokio::task::JoinSet::new();
                let mut number = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let name = format!("{label}-{number}");
                    let sent = Instant::now();
                    seen.lock()
                        .unwrap()
                        .in_flight
                        .insert(number, (sent, name.clone()));
                    let (peer, seen) = (peer.clone(), seen.clone());
                    calls.spawn(async move {
                        let outcome = greet(&peer, &name).await;
                        let mut seen = seen.lock().unwrap();
                        seen.in_flight.remove(&number);
                        seen.ended.push(Call {
                            sent,
                            took: sent.elapsed(),
                            outcome,
                        });
                    });
                    number += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                // The calls still in flight get a moment to end; those that do not are failures,
                // recorded by `stop`.
                let _ = tokio::time::timeout(Duration::from_secs(5), async {
                    while calls.join_next().await.is_some() {}
                })
                .await;
                calls.abort_all();
            }
        });
        CallLoop {
            label,
            seen,
            stop,
            task,
        }
    }

    /// Waits (bounded) until `count` calls sent after `since` have ended; fails with the loop's
    /// calls since then, those in flight, and `dump` otherwise.
    async fn wait_calls_after(&self, since: Instant, count: usize, dump: impl Fn() -> String) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let done = self.since(since);
            if done.len() >= count {
                return;
            }
            if Instant::now() >= deadline {
                let in_flight: Vec<String> = self
                    .seen
                    .lock()
                    .unwrap()
                    .in_flight
                    .values()
                    .map(|(sent, name)| format!("{name}, sent {:?} ago", sent.elapsed()))
                    .collect();
                panic!(
                    "only {} of {count} calls of the {} loop ended within {TIMEOUT:?}: {done:?}; in flight: {in_flight:?}\n{}",
                    done.len(),
                    self.label,
                    dump()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The outcomes of the calls sent after `since` that have ended.
    fn since(&self, since: Instant) -> Vec<Result<(), String>> {
        self.seen
            .lock()
            .unwrap()
            .ended
            .iter()
            .filter(|call| call.sent >= since)
            .map(|call| call.outcome.clone())
            .collect()
    }

    /// Stops sending; returns every call, a call that did not end within 5 s of the stop counting
    /// as failed.
    async fn stop(self) -> Vec<Call> {
        self.stop.store(true, Ordering::Relaxed);
        within("the call loop to stop", self.task)
            .await
            .expect("the call loop");
        let mut seen = self.seen.lock().unwrap();
        let unanswered: Vec<Call> = std::mem::take(&mut seen.in_flight)
            .into_values()
            .map(|(sent, name)| Call {
                sent,
                took: sent.elapsed(),
                outcome: Err(format!("{name}: no answer before the loop stopped")),
            })
            .collect();
        let mut calls = std::mem::take(&mut seen.ended);
        calls.extend(unanswered);
        calls.sort_by_key(|call| call.sent);
        calls
    }
}

/// The failures among `calls` sent after `since`, described.
fn failures_after(calls: &[Call], since: Instant) -> Vec<String> {
    calls
        .iter()
        .enumerate()
        .filter(|(_, call)| call.sent >= since)
        .filter_map(|(i, call)| {
            call.outcome
                .as_ref()
                .err()
                .map(|e| format!("call {i}: {e}"))
        })
        .collect()
}

/// One JSON-RPC request with raw HTTP in protocol [`LEGACY`], in `session` when given: the status,
/// the session id the answer gives, and the JSON-RPC messages of its body (plain JSON or an event
/// stream).
async fn legacy_post(
    url: &str,
    session: Option<&str>,
    body: &str,
) -> (u16, Option<String>, Vec<Value>) {
    let mut request = reqwest::Client::new()
        .post(url)
        .timeout(TIMEOUT)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", LEGACY)
        .body(body.to_string());
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    let response = request.send().await.expect("a raw POST");
    let status = response.status().as_u16();
    let session = response
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_string());
    let text = response.text().await.expect("the body");
    (status, session, messages(&text))
}

/// The JSON-RPC messages of a body: one JSON document, or the `data:` lines of an event stream.
fn messages(body: &str) -> Vec<Value> {
    if let Ok(message) = serde_json::from_str::<Value>(body) {
        return vec![message];
    }
    body.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str(data.trim()).ok())
        .collect()
}

/// A legacy `initialize` while Redis is down: refused (see [`assert_refused_naming_redis`]).
async fn assert_legacy_initialize_refused(url: &str, dump: impl Fn() -> String) {
    let (status, session, answer) = legacy_post(url, None, INITIALIZE).await;
    assert_eq!(session, None, "no session is opened: {answer:?}");
    assert_refused_naming_redis(status, &answer, 1, dump);
}

/// A legacy request refused while Redis is down: 503 and a JSON-RPC error answering request `id`
/// that names what is missing (Redis), so that an operator knows where to look.
fn assert_refused_naming_redis(status: u16, answer: &[Value], id: i64, dump: impl Fn() -> String) {
    assert_eq!(status, 503, "{answer:?}\n{}", dump());
    let [answer] = answer else {
        panic!("one JSON-RPC message, got {answer:?}");
    };
    assert_eq!(
        answer["id"], id,
        "the refusal answers the request: {answer}"
    );
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(
        answer["error"]["code"].is_i64() && message.contains("Redis"),
        "the error must name Redis: {answer}"
    );
}

/// Opens a legacy session with raw HTTP (`initialize`, then `notifications/initialized`, which
/// round-robin sends to another replica); returns its id.
async fn open_raw_session(url: &str) -> String {
    let (status, session, answer) = legacy_post(url, None, INITIALIZE).await;
    assert_eq!(status, 200, "{answer:?}");
    let session = session.expect("a session id");
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let (status, _, answer) = legacy_post(url, Some(&session), initialized).await;
    assert_eq!(status, 202, "{answer:?}");
    session
}

/// A `tools/call` of `greet` with `name`, id 7.
fn greet_request(name: &str) -> String {
    json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "greet", "arguments": {"name": name}}})
    .to_string()
}

/// `greet` called with raw HTTP in `session`: the status and the tool's text (or the answer).
async fn raw_greet(url: &str, session: &str, name: &str) -> (u16, String) {
    let (status, _, answer) = legacy_post(url, Some(session), &greet_request(name)).await;
    let text = answer
        .iter()
        .find_map(|message| message["result"]["content"][0]["text"].as_str())
        .map_or_else(|| format!("{answer:?}"), str::to_string);
    (status, text)
}

/// The Python SDK's client in legacy mode (its `ClientSession.initialize`: protocol 2025-11-25 and
/// a session) through the load balancer: many calls, a subscription to the watched resource, the
/// update its own call raises and those another client raises on each replica (the URLs of the
/// replicas themselves), one at a time, then leaving (a `DELETE`); then
/// fastmcp's client with `mode="legacy"`, the one that failed every call with "Session terminated"
/// when sessions lived in one process. Prints the session id and the status of the `DELETE`.
const PYTHON_LEGACY: &str = r#"
import asyncio, sys
import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.client.client import Client as McpClient
from fastmcp import Client as FastClient

async def sample(messages, params, context):
    return "Paris"

async def main(url, watched, replicas):
    seen = {"session": None, "delete": None}
    async def on_response(response):
        session = response.headers.get("mcp-session-id")
        if session and seen["session"] is None:
            seen["session"] = session
        if response.request.method == "DELETE":
            seen["delete"] = response.status_code
    updates = asyncio.Queue()
    async def on_message(message):
        if getattr(message, "method", None) == "notifications/resources/updated":
            updates.put_nowait(message.params.uri)
    http = httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=300), event_hooks={"response": [on_response]})
    async with http:
        async with streamable_http_client(url, http_client=http) as (read, write):
            async with ClientSession(read, write, message_handler=on_message) as session:
                init = await session.initialize()
                print("PROTOCOL", init.protocol_version, flush=True)
                ok = 0
                for i in range(30):
                    r = await session.call_tool("greet", {"name": str(i)})
                    ok += r.content[0].text == f"Hello, {i}!"
                print("CALLS", ok, flush=True)
                await session.subscribe_resource(watched)
                await session.call_tool("test_update_watched_resource", {"content": "own"})
                heard = [await asyncio.wait_for(updates.get(), 10)]
                for replica in replicas.split(","):
                    async with McpClient(replica) as caller:
                        await caller.call_tool("test_update_watched_resource", {"content": replica})
                    heard.append(await asyncio.wait_for(updates.get(), 10))
                await asyncio.sleep(0.5)
                heard += [updates.get_nowait() for _ in range(updates.qsize())]
                print("UPDATES", len(heard), sorted(set(heard)), flush=True)
    print("DELETE", seen["delete"], flush=True)
    print("SESSION", seen["session"], flush=True)
    async with FastClient(url, mode="legacy", sampling_handler=sample) as client:
        ok = 0
        for i in range(12):
            r = await client.call_tool("greet", {"name": f"f{i}"})
            ok += r.content[0].text == f"Hello, f{i}!"
        print("FASTMCP CALLS", ok, flush=True)
        # The server's sampling request goes out on the call's stream from the replica running it;
        # the client's answer is a new POST, which round-robin takes to another replica.
        sampled = 0
        for i in range(6):
            r = await client.call_tool("test_sampling", {"prompt": f"q{i}"})
            sampled += r.content[0].text == "LLM response: Paris"
        print("FASTMCP SAMPLED", sampled, flush=True)

asyncio.run(main(*sys.argv[1:]))
"#;

/// The Python venv, or `None` after saying why the test is skipped.
async fn python(test: &str) -> Option<std::path::PathBuf> {
    match tokio::task::spawn_blocking(python_with_mcp).await.unwrap() {
        Ok(python) => Some(python),
        Err(why) => {
            service_missing(test, "Python with the mcp and fastmcp packages", why);
            None
        }
    }
}

#[tokio::test]
async fn a_legacy_python_session_goes_on_across_three_replicas_hears_updates_raised_on_any_and_ends_on_all()
 {
    let test = "a_legacy_python_session_goes_on_across_three_replicas_hears_updates_raised_on_any_and_ends_on_all";
    bounded(test, async {
        let Some(python) = python(test).await else {
            return;
        };
        let Some(_) = nginx_or_skip(test) else { return };
        let Some(redis) = shared_redis(test).await else {
            return;
        };
        let replicas = Replicas::on(&redis).await;
        let url = replicas.url();
        let output = try_run_python(
            &python,
            PYTHON_LEGACY,
            &[&url, everything::WATCHED_URI, &replicas.direct_urls()],
        )
        .await;
        let (lines, stderr) = match output {
            Ok(output) => output,
            Err(failure) => panic!("{failure}\n{}", replicas.dump()),
        };
        let session = lines
            .iter()
            .find_map(|line| line.strip_prefix("SESSION "))
            .unwrap_or_else(|| panic!("no session id: {lines:?}\n{stderr}"))
            .to_string();
        assert_eq!(
            lines,
            [
                format!("PROTOCOL {LEGACY}"),
                "CALLS 30".to_string(),
                format!("UPDATES 4 ['{}']", everything::WATCHED_URI),
                "DELETE 204".to_string(),
                format!("SESSION {session}"),
                "FASTMCP CALLS 12".to_string(),
                "FASTMCP SAMPLED 6".to_string(),
            ],
            "{stderr}\n{}",
            replicas.dump()
        );
        assert!(!stderr.contains("termination failed"), "{stderr}");
        // Round-robin put the session's calls on every replica.
        let starts = replicas.starts("greet");
        assert!(
            starts.iter().all(|n| *n > 0),
            "calls per replica: {starts:?}"
        );

        // The DELETE went to one replica; the session is gone from all of them.
        for replica in &replicas.replicas {
            let (status, _, answer) =
                legacy_post(&replica.mcp_url(), Some(&session), &greet_request("after")).await;
            assert_eq!(
                status, 404,
                "{}: the deleted session answered {answer:?}",
                replica.base
            );
        }
    })
    .await;
}

/// fastmcp's client in its default mode (it negotiates 2026-07-28: no session, any request may land
/// anywhere) through the load balancer: calls, a tool that asks for input over several rounds (each
/// round a new request, on the next replica, carrying the state the previous one sealed), and a
/// `subscriptions/listen` stream that hears the updates another client raises on each replica (the
/// URLs of the replicas themselves), one at a time.
const PYTHON_2026: &str = r#"
import asyncio, sys
from fastmcp import Client as FastClient
from mcp.client.client import Client as McpClient
from mcp.client.subscriptions import listen

ANSWERS = {"username": "Alice", "email": "alice@example.com", "name": "Bob", "color": "green"}

async def elicit(message, response_type, params, context):
    return {field: ANSWERS[field] for field in params.requested_schema["properties"]}

async def main(url, watched, replicas):
    async with FastClient(url, elicitation_handler=elicit) as client:
        print("PROTOCOL", client.session.protocol_version, flush=True)
        ok = 0
        for i in range(12):
            r = await client.call_tool("greet", {"name": str(i)})
            ok += r.content[0].text == f"Hello, {i}!"
        print("CALLS", ok, flush=True)
        for _ in range(3):
            r = await client.call_tool("test_input_required_result_multi_round", {})
            print("ROUNDS", r.content[0].text, flush=True)
        async with listen(client.session, resource_subscriptions=[watched]) as sub:
            # One update at a time: the SDK folds an event into an equal one still unread.
            events = sub.__aiter__()
            heard = []
            for replica in replicas.split(","):
                async with McpClient(replica) as caller:
                    await caller.call_tool("test_update_watched_resource", {"content": replica})
                heard.append((await asyncio.wait_for(events.__anext__(), 10)).uri)
            try:
                heard.append((await asyncio.wait_for(events.__anext__(), 0.5)).uri)
            except (asyncio.TimeoutError, StopAsyncIteration):
                pass
            print("EVENTS", len(heard), sorted(set(heard)), flush=True)

asyncio.run(main(*sys.argv[1:]))
"#;

#[tokio::test]
async fn a_2026_python_client_gets_calls_rounds_and_updates_from_any_replica() {
    let test = "a_2026_python_client_gets_calls_rounds_and_updates_from_any_replica";
    bounded(test, async {
        let Some(python) = python(test).await else {
            return;
        };
        let Some(_) = nginx_or_skip(test) else { return };
        let Some(redis) = shared_redis(test).await else {
            return;
        };
        let replicas = Replicas::on(&redis).await;
        let url = replicas.url();
        let (lines, stderr) = match try_run_python(
            &python,
            PYTHON_2026,
            &[&url, everything::WATCHED_URI, &replicas.direct_urls()],
        )
        .await
        {
            Ok(output) => output,
            Err(failure) => panic!("{failure}\n{}", replicas.dump()),
        };
        assert_eq!(
            lines,
            [
                "PROTOCOL 2026-07-28".to_string(),
                "CALLS 12".to_string(),
                "ROUNDS Bob likes green".to_string(),
                "ROUNDS Bob likes green".to_string(),
                "ROUNDS Bob likes green".to_string(),
                format!("EVENTS 3 ['{}']", everything::WATCHED_URI),
            ],
            "{stderr}\n{}",
            replicas.dump()
        );
        // Each round ran on the replica the request landed on: not the one that sealed the state.
        let rounds = replicas.starts("test_input_required_result_multi_round");
        assert!(
            rounds.iter().filter(|n| **n > 0).count() >= 2,
            "the rounds ran on one replica only: {rounds:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_replica_killed_mid_run_fails_no_call_sent_after_it_died_and_the_legacy_session_goes_on()
{
    let test =
        "a_replica_killed_mid_run_fails_no_call_sent_after_it_died_and_the_legacy_session_goes_on";
    bounded(test, async {
        let Some(_) = nginx_or_skip(test) else { return };
        let Some(redis) = shared_redis(test).await else {
            return;
        };
        let mut replicas = Replicas::on(&redis).await;
        let url = replicas.url();
        let legacy = connect_legacy(&url).await;
        let modern = connect_2026(&url, false).await;
        let loops = [
            CallLoop::start(legacy.peer().clone(), "legacy"),
            CallLoop::start(modern.peer().clone(), "2026"),
        ];
        let start = Instant::now();
        for call_loop in &loops {
            call_loop
                .wait_calls_after(start, 15, || replicas.dump())
                .await;
        }

        let victim = &mut replicas.replicas[1];
        signal(victim.pid(), nix::sys::signal::Signal::SIGKILL);
        victim.wait_exit().await;
        let died = Instant::now();
        for call_loop in &loops {
            call_loop
                .wait_calls_after(died, 30, || replicas.dump())
                .await;
        }
        let mut failed = Vec::new();
        for call_loop in loops {
            let label = call_loop.label;
            let calls = call_loop.stop().await;
            // In flight when the replica died: may fail, and the test says how.
            for call in calls
                .iter()
                .filter(|call| call.sent < died && call.sent + call.took > died)
            {
                eprintln!(
                    "{label}: a call in flight at the kill took {:?}: {:?}",
                    call.took, call.outcome
                );
            }
            failed.extend(
                failures_after(&calls, died)
                    .into_iter()
                    .map(|failure| format!("{label} {failure}")),
            );
        }
        assert!(
            failed.is_empty(),
            "calls sent after the replica died failed:\n{}\n{}",
            failed.join("\n"),
            replicas.dump()
        );
        // The legacy session, which every replica served, goes on on the other two; so does a new one.
        greet_many(legacy.peer(), "legacy-after", 6, || replicas.dump()).await;
        let again = connect_legacy(&url).await;
        greet_many(again.peer(), "new-legacy", 6, || replicas.dump()).await;
    })
    .await;
}

/// A call a replica was serving when it died: the client gets an error for it promptly (it may then
/// retry, and the retry lands on a live replica) instead of waiting forever for an answer no
/// replica will send. nginx cuts the call's event stream when the replica dies; the client resumes
/// it (`GET` with `Last-Event-ID`), and that lands on another replica.
#[tokio::test]
async fn a_call_in_flight_on_a_replica_that_dies_fails_promptly_for_clients_of_both_eras() {
    let test = "a_call_in_flight_on_a_replica_that_dies_fails_promptly_for_clients_of_both_eras";
    bounded(test, async {
        let Some(_) = nginx_or_skip(test) else { return };
        let Some(redis) = shared_redis(test).await else {
            return;
        };
        let mut replicas = Replicas::on(&redis).await;
        let url = replicas.url();
        let mut problems = Vec::new();
        for (era, client) in [
            ("legacy", connect_legacy(&url).await),
            ("2026-07-28", connect_2026(&url, false).await),
        ] {
            let before = replicas.starts("slow_compute");
            let call = tokio::spawn({
                let peer = client.peer().clone();
                async move {
                    let params = CallToolRequestParams::new("slow_compute").with_arguments(
                        json!({"seconds": 20, "label": "in-flight"})
                            .as_object()
                            .unwrap()
                            .clone(),
                    );
                    peer.call_tool(params).await
                }
            });
            let runner = within("the slow call to start on a replica", async {
                loop {
                    let now = replicas.starts("slow_compute");
                    if let Some(runner) = (0..now.len()).find(|&i| now[i] > before[i]) {
                        return runner;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
            .await;
            let victim = &mut replicas.replicas[runner];
            signal(victim.pid(), nix::sys::signal::Signal::SIGKILL);
            victim.wait_exit().await;
            let died = Instant::now();
            match tokio::time::timeout(Duration::from_secs(10), call).await {
                Err(_) => problems.push(format!(
                    "{era}: the call the dead replica was serving got neither an answer nor an error within 10 s of its death"
                )),
                Ok(outcome) => match outcome.expect("the call's task") {
                    Ok(result) => problems.push(format!(
                        "{era}: the dead replica's call got a result: {result:?}"
                    )),
                    Err(error) => {
                        eprintln!("{era}: failed {:?} after the death: {error}", died.elapsed())
                    }
                },
            }
            // The client goes on.
            greet_many(client.peer(), era, 4, || replicas.dump()).await;
            // The next era's call runs on one of the two left, and that one dies too.
        }
        assert!(
            problems.is_empty(),
            "{}\n{}",
            problems.join("\n"),
            replicas.dump()
        );
    })
    .await;
}

#[tokio::test]
async fn while_redis_restarts_2026_calls_go_on_health_shows_the_outage_and_legacy_sessions_work_again()
 {
    let test = "while_redis_restarts_2026_calls_go_on_health_shows_the_outage_and_legacy_sessions_work_again";
    bounded(test, async {
        let Some(_) = nginx_or_skip(test) else { return };
        let Some(mut redis) = RedisServer::start(test).await else {
            return;
        };
        let replicas = Replicas::start(&redis.url(), &unique_prefix(test)).await;
        let url = replicas.url();
        replicas.wait_connected(true, TIMEOUT).await;
        let legacy = connect_legacy(&url).await;
        greet_many(legacy.peer(), "legacy-before", 6, || replicas.dump()).await;
        let raw = open_raw_session(&url).await;
        let modern = connect_2026(&url, false).await;
        let calls = CallLoop::start(modern.peer().clone(), "2026");
        calls
            .wait_calls_after(Instant::now(), 10, || replicas.dump())
            .await;

        redis.stop().await;
        replicas.wait_connected(false, TIMEOUT).await;
        calls
            .wait_calls_after(Instant::now(), 10, || replicas.dump())
            .await;
        assert_legacy_initialize_refused(&url, || replicas.dump()).await;
        // On each replica, whichever holds the session in memory or not.
        for _ in &replicas.replicas {
            let (status, _, answer) = legacy_post(&url, Some(&raw), &greet_request("down")).await;
            assert_refused_naming_redis(status, &answer, 7, || replicas.dump());
        }

        redis.restart().await;
        // Reconnected by the replicas themselves, with backoff: no restart.
        replicas.wait_connected(true, TIMEOUT).await;
        calls
            .wait_calls_after(Instant::now(), 10, || replicas.dump())
            .await;
        let calls = calls.stop().await;
        let failed = failures_after(&calls, calls[0].sent);
        assert!(
            failed.is_empty(),
            "2026-07-28 calls failed around the Redis restart:\n{}\n{}",
            failed.join("\n"),
            replicas.dump()
        );

        // The sessions opened before go on, on every replica (the restarted Redis was empty: the
        // replicas wrote them back), and new ones open.
        greet_many(legacy.peer(), "legacy-after", 6, || replicas.dump()).await;
        for i in 0..3 {
            let name = format!("raw-after-{i}");
            assert_eq!(
                raw_greet(&url, &raw, &name).await,
                (200, format!("Hello, {name}!")),
                "{}",
                replicas.dump()
            );
        }
        let again = connect_legacy(&url).await;
        greet_many(again.peer(), "new-legacy", 6, || replicas.dump()).await;
    })
    .await;
}

#[tokio::test]
async fn a_replica_started_while_redis_is_down_serves_2026_refuses_legacy_naming_redis_and_recovers()
 {
    let test = "a_replica_started_while_redis_is_down_serves_2026_refuses_legacy_naming_redis_and_recovers";
    bounded(test, async {
        let Some(mut redis) = RedisServer::down(test).await else {
            return;
        };
        let redis_url = redis.url();
        let prefix = unique_prefix(test);
        let replica = HttpProcess::start("everything", &[], &shared_env(&redis_url, &prefix)).await;
        wait_connected(&replica, false, TIMEOUT).await;

        let modern = connect_2026(&replica.mcp_url(), false).await;
        greet_many(modern.peer(), "2026", 3, || replica.logs.dump()).await;
        assert_legacy_initialize_refused(&replica.mcp_url(), || replica.logs.dump()).await;

        redis.restart().await;
        wait_connected(&replica, true, TIMEOUT).await;
        let legacy = connect_legacy(&replica.mcp_url()).await;
        greet_many(legacy.peer(), "legacy", 3, || replica.logs.dump()).await;
        greet_many(modern.peer(), "2026-after", 3, || replica.logs.dump()).await;
    })
    .await;
}

#[tokio::test]
async fn a_server_sharing_state_through_redis_without_a_state_key_refuses_to_start_naming_mcp_state_key()
 {
    bounded(
        "a_server_sharing_state_through_redis_without_a_state_key_refuses_to_start_naming_mcp_state_key",
        async {
            // No Redis needed: the key is checked before any connection.
            let held = cm_test_support::HeldPort::new();
            let mut server = command("everything");
            server
                .args(["--host", "127.0.0.1", "--port", "0"])
                .env("MCP_REDIS_URL", format!("redis://{}/0", held.address()));
            let event = refused_to_start(server).await;
            let error = event["error"].as_str().unwrap_or_default();
            assert!(error.contains("MCP_STATE_KEY"), "{event}");
        },
    )
    .await;
}

/// Calls `tool` through `client` and returns the id of the task it became.
async fn start_task(client: &Client, tool: &str, arguments: Value) -> String {
    let params = CallToolRequestParams::new(tool.to_string())
        .with_arguments(arguments.as_object().expect("an object").clone());
    match within(
        &format!("tools/call of {tool}"),
        client.call_tool_once(params),
    )
    .await
    {
        Ok(CallToolResponse::Task(created)) => created.task.task_id,
        other => panic!("{tool} did not become a task: {other:?}"),
    }
}

/// Polls `tasks/get` (through the load balancer: each poll lands on another replica) until the
/// task has ended, within `within`.
async fn ended(client: &Client, task_id: &str, within: Duration) -> DetailedTask {
    let deadline = Instant::now() + within;
    loop {
        let got: Result<DetailedTask, ServiceError> = cm_test_support::within(
            "tasks/get",
            client.get_task(GetTaskParams::new(task_id.to_string())),
        )
        .await
        .map(|result| result.task);
        match got {
            Ok(task) if task.status().is_terminal() => return task,
            other => assert!(
                Instant::now() < deadline,
                "task {task_id} did not end within {within:?}; last: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn completed_text(task: DetailedTask) -> String {
    match task.payload {
        TaskPayload::Completed { result } => {
            let result: CallToolResult =
                serde_json::from_value(Value::Object(result)).expect("a tool result");
            text_of(&result)
        }
        other => panic!("expected a completed task, got {other:?}"),
    }
}

/// Tasks are stored in Redis: created on one replica, polled and cancelled from the others; and a
/// task whose replica dies ends failed, saying so, instead of "working" forever.
#[tokio::test]
async fn tasks_are_seen_and_cancelled_from_any_replica_and_a_task_whose_replica_died_fails_saying_so()
 {
    let test = "tasks_are_seen_and_cancelled_from_any_replica_and_a_task_whose_replica_died_fails_saying_so";
    bounded(test, async {
        let Some(_) = nginx_or_skip(test) else { return };
        let Some(redis) = shared_redis(test).await else {
            return;
        };
        let mut replicas = Replicas::on(&redis).await;
        let client = connect_2026(&replicas.url(), true).await;

        let done = start_task(
            &client,
            "slow_compute",
            json!({"seconds": 1.0, "label": "across"}),
        )
        .await;
        assert_eq!(
            completed_text(ended(&client, &done, TIMEOUT).await),
            "across: done after 1s"
        );

        let cancelled = start_task(
            &client,
            "slow_compute",
            json!({"seconds": 60, "label": "cancelled"}),
        )
        .await;
        within(
            "tasks/cancel",
            client.cancel_task(CancelTaskParams::new(cancelled.clone())),
        )
        .await
        .expect("tasks/cancel of a running task, from another replica");
        assert_eq!(
            ended(&client, &cancelled, TIMEOUT).await.status(),
            TaskStatus::Cancelled
        );
        within("the cancelled tool to see its token", async {
            loop {
                let seen = replicas.replicas.iter().any(|replica| {
                    replica
                        .logs
                        .of_type("tool.execution.error")
                        .iter()
                        .any(|e| {
                            e["error"]
                                == "slow_compute `cancelled` saw its cancellation token and stopped"
                        })
                });
                if seen {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;

        // The replica running a task dies.
        let before = replicas.starts("slow_compute");
        let orphan = start_task(
            &client,
            "slow_compute",
            json!({"seconds": 60, "label": "orphan"}),
        )
        .await;
        let runner = within("the task to start on a replica", async {
            loop {
                let now = replicas.starts("slow_compute");
                if let Some(runner) = (0..now.len()).find(|&i| now[i] > before[i]) {
                    return runner;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        let victim = &mut replicas.replicas[runner];
        signal(victim.pid(), nix::sys::signal::Signal::SIGKILL);
        victim.wait_exit().await;
        let task = ended(&client, &orphan, TIMEOUT).await;
        let TaskPayload::Failed { error } = &task.payload else {
            panic!(
                "the orphaned task ended {:?}, not failed: {task:?}",
                task.status()
            );
        };
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert!(
            message.contains("replica"),
            "the failure must say the replica running it stopped: {error:?}"
        );
    })
    .await;
}

/// A task runs on the replica its call reached; `tasks/get`, `tasks/update` and `tasks/cancel` sent to
/// another replica reach it there. Each client talks to one replica, without the load balancer, so
/// which replica runs the task and which one is asked is certain.
#[tokio::test]
async fn tasks_update_and_tasks_cancel_sent_to_another_replica_reach_the_one_running_the_task() {
    let test =
        "tasks_update_and_tasks_cancel_sent_to_another_replica_reach_the_one_running_the_task";
    bounded(test, async {
        let Some(_) = nginx_or_skip(test) else { return };
        let Some(redis) = shared_redis(test).await else {
            return;
        };
        let replicas = Replicas::on(&redis).await;
        let runner = connect_2026(&replicas.replicas[0].mcp_url(), true).await;
        let other = connect_2026(&replicas.replicas[1].mcp_url(), true).await;

        let asking = start_task(&runner, "confirm_delete", json!({"filename": "a.txt"})).await;
        let deadline = Instant::now() + TIMEOUT;
        let waiting = loop {
            let got = within(
                "tasks/get through the other replica",
                other.get_task(GetTaskParams::new(asking.clone())),
            )
            .await
            .map(|result| result.task);
            match got {
                Ok(task) if task.status() == TaskStatus::InputRequired => break task,
                last => assert!(
                    Instant::now() < deadline,
                    "the other replica never showed the task waiting for input; last: {last:?}\n{}",
                    replicas.dump()
                ),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let TaskPayload::InputRequired { input_requests } = waiting.payload else {
            panic!("no input requests: {waiting:?}");
        };
        let key = input_requests
            .keys()
            .next()
            .expect("one input request")
            .clone();
        let answers = [(
            key,
            json!({"action": "accept", "content": {"confirm": true}}),
        )];
        within(
            "tasks/update through the other replica",
            other.update_task(UpdateTaskParams::new(asking.clone(), answers.into())),
        )
        .await
        .expect("tasks/update of a task another replica runs");
        assert_eq!(
            completed_text(ended(&other, &asking, TIMEOUT).await),
            "Deleted a.txt",
            "{}",
            replicas.dump()
        );

        let slow = start_task(
            &runner,
            "slow_compute",
            json!({"seconds": 60, "label": "far"}),
        )
        .await;
        within(
            "tasks/cancel through the other replica",
            other.cancel_task(CancelTaskParams::new(slow.clone())),
        )
        .await
        .expect("tasks/cancel of a task another replica runs");
        assert_eq!(
            ended(&other, &slow, TIMEOUT).await.status(),
            TaskStatus::Cancelled,
            "{}",
            replicas.dump()
        );
        // It ran where its call arrived, and only there.
        assert_eq!(replicas.starts("slow_compute"), vec![1, 0, 0]);
    })
    .await;
}

/// A legacy session lives as long as it is used, whichever replicas serve it, and expires everywhere
/// once idle: its key in Redis is renewed by the replicas serving it, then lapses, and each replica's
/// copy closes. An idle timeout of one second makes that quick; the renewal every tenth of it.
#[tokio::test]
async fn a_legacy_session_lives_while_used_on_any_replica_and_expires_everywhere_once_idle() {
    let test = "a_legacy_session_lives_while_used_on_any_replica_and_expires_everywhere_once_idle";
    bounded(test, async {
        let Some(_) = nginx_or_skip(test) else { return };
        let Some(redis) = shared_redis(test).await else {
            return;
        };
        let replicas = Replicas::start_with(
            redis.url(),
            redis.prefix(),
            &[("MCP_SESSION_IDLE_TIMEOUT", "1")],
        )
        .await;
        let url = replicas.url();
        let session = open_raw_session(&url).await;
        let key = format!("{}:session:{session}", redis.prefix());
        // Used for three times its idle timeout, round-robin over the three replicas.
        let used_until = Instant::now() + Duration::from_secs(3);
        let mut calls = 0;
        while Instant::now() < used_until {
            let name = format!("busy-{calls}");
            assert_eq!(
                raw_greet(&url, &session, &name).await,
                (200, format!("Hello, {name}!")),
                "{}",
                replicas.dump()
            );
            calls += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Without renewals the key would have lapsed two seconds ago.
        assert!(
            redis.keys().await.contains(&key),
            "the session's key lapsed while the session was in use: {:?}",
            redis.keys().await
        );

        // Idle: the key lapses, then every replica's copy closes.
        within("the idle session's key to lapse", async {
            while redis.keys().await.contains(&key) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        // Each copy closes after its own idle timeout (seen in /metrics, without a request that
        // would keep it alive), and then no replica knows the session.
        for replica in &replicas.replicas {
            within("each replica's copy of the session to close", async {
                loop {
                    let metrics = reqwest::get(format!("{}/metrics", replica.base))
                        .await
                        .expect("GET /metrics")
                        .text()
                        .await
                        .expect("the metrics");
                    if metrics.lines().any(|line| line == "cm_mcp_sessions_open 0") {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
            .await;
        }
        for replica in &replicas.replicas {
            let (status, _, answer) =
                legacy_post(&replica.mcp_url(), Some(&session), &greet_request("late")).await;
            assert_eq!(
                status,
                404,
                "{}: the expired session answered {answer:?}\n{}",
                replica.base,
                replicas.dump()
            );
        }
    })
    .await;
}
