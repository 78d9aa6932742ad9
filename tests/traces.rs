//! OpenTelemetry traces as an operator's collector receives them: `everything` is run with the
//! standard `OTEL_*` variables pointing at a stand-in collector inside the test (an OTLP/HTTP
//! receiver decoding the protobuf bodies), and the spans it gets are checked: names, kind,
//! attributes, parents, the same ids as the JSON log lines, failures. A collector that is down or
//! hangs never keeps a call from being answered; without the variables nothing is sent.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, routing::post};
use cm_mcp::rmcp::model::{
    CallToolRequestParams, GetPromptRequestParams, ReadResourceRequestParams, RequestMetaObject,
};
use cm_test_support::{
    HeldPort, HttpProcess, Logs, TIMEOUT, args, bounded, call_tool, call_tool_with, command,
    connect_http, connect_stdio, refused_to_start, text_of, within,
};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse},
    common::v1::{KeyValue, any_value},
    trace::v1::{Span, span::SpanKind, status::StatusCode},
};
use prost::Message as _;
use serde_json::{Value, json};
use tokio::sync::watch;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// A span as the collector received it, with the attributes of the resource it came with.
#[derive(Clone, Debug)]
struct Received {
    resource: Vec<KeyValue>,
    span: Span,
}

impl Received {
    fn attribute(&self, key: &str) -> Option<String> {
        attribute(&self.span.attributes, key)
    }

    fn resource_attribute(&self, key: &str) -> Option<String> {
        attribute(&self.resource, key)
    }

    fn trace_id(&self) -> String {
        hex(&self.span.trace_id)
    }

    fn span_id(&self) -> String {
        hex(&self.span.span_id)
    }

    fn parent_span_id(&self) -> String {
        hex(&self.span.parent_span_id)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    let value = attributes.iter().find(|kv| kv.key == key)?.value.as_ref()?;
    match value.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::IntValue(n) => Some(n.to_string()),
        any_value::Value::BoolValue(b) => Some(b.to_string()),
        other => Some(format!("{other:?}")),
    }
}

/// What the collector has received.
#[derive(Default)]
struct Inbox {
    spans: Vec<Received>,
    /// Each request's `Content-Type`.
    content_types: Vec<String>,
}

/// The stand-in for an OpenTelemetry collector: `POST /v1/traces` with an OTLP protobuf body,
/// answered as a collector does.
struct Collector {
    url: String,
    inbox: Arc<Mutex<Inbox>>,
    received: watch::Receiver<usize>,
}

type Shared = (Arc<Mutex<Inbox>>, Arc<watch::Sender<usize>>);

async fn receive(State((inbox, tx)): State<Shared>, headers: HeaderMap, body: Bytes) -> Vec<u8> {
    let request = ExportTraceServiceRequest::decode(body)
        .expect("the body is an OTLP ExportTraceServiceRequest");
    let mut inbox = inbox.lock().unwrap();
    inbox.content_types.push(
        headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
    );
    for resource_spans in request.resource_spans {
        let resource = resource_spans
            .resource
            .map(|r| r.attributes)
            .unwrap_or_default();
        for scope_spans in resource_spans.scope_spans {
            for span in scope_spans.spans {
                inbox.spans.push(Received {
                    resource: resource.clone(),
                    span,
                });
            }
        }
    }
    tx.send_replace(inbox.spans.len());
    ExportTraceServiceResponse::default().encode_to_vec()
}

impl Collector {
    /// Listens on `listener` (in the background, for the rest of the test).
    fn serve(listener: tokio::net::TcpListener) -> Collector {
        let address: SocketAddr = listener.local_addr().unwrap();
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        let (tx, received) = watch::channel(0);
        let app = Router::new()
            .route("/v1/traces", post(receive))
            .with_state((inbox.clone(), Arc::new(tx)));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Collector {
            url: format!("http://{address}"),
            inbox,
            received,
        }
    }

    async fn start() -> Collector {
        Collector::serve(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
    }

    /// The variables that send a server's traces here, batched every 50 ms.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", self.url.clone()),
            ("OTEL_BSP_SCHEDULE_DELAY", "50".into()),
        ]
    }

    fn spans(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().spans.clone()
    }

    /// Waits (bounded) for the span `matches` picks.
    async fn wait_span(&self, what: &str, matches: impl Fn(&Received) -> bool) -> Received {
        let mut received = self.received.clone();
        let found = tokio::time::timeout(TIMEOUT, async {
            loop {
                if let Some(span) = self.spans().into_iter().find(|s| matches(s)) {
                    return span;
                }
                received.changed().await.expect("the collector is running");
            }
        })
        .await;
        found.unwrap_or_else(|_| {
            panic!(
                "the collector never received {what}; it has: {:#?}",
                self.spans()
                    .iter()
                    .map(|s| (&s.span.name, s.trace_id()))
                    .collect::<Vec<_>>()
            )
        })
    }
}

fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The `event_type` event of the call whose `data.<key>` is `value`, in trace `trace_id`.
async fn call_event(
    logs: &Logs,
    event_type: &str,
    key: &str,
    value: &str,
    trace_id: &str,
) -> Value {
    logs.wait_for(
        format!("`{event_type}` of {value} in trace {trace_id}"),
        |v| v["event_type"] == event_type && v["data"][key] == value && v["trace_id"] == trace_id,
    )
    .await
    .1
}

/// Samples of `/metrics` starting with `prefix`, summed.
async fn metric(server: &HttpProcess, prefix: &str) -> f64 {
    let text = reqwest::get(format!("{}/metrics", server.base))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("a text body");
    text.lines()
        .filter(|line| line.starts_with(prefix))
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// Polls `/metrics` (bounded) until the samples starting with `prefix` add up to at least `least`.
async fn wait_metric(server: &HttpProcess, prefix: &str, least: f64) -> f64 {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let value = metric(server, prefix).await;
        if value >= least {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{prefix} stayed at {value}, below {least}; stderr:\n{}",
            server.logs.dump()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn every_call_is_a_server_span_named_and_attributed_as_the_mcp_conventions_say() {
    bounded(
        "every_call_is_a_server_span_named_and_attributed_as_the_mcp_conventions_say",
        async {
            let collector = Collector::start().await;
            let mut env = collector.env();
            env.push((
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=test".into(),
            ));
            let mut server = HttpProcess::start("everything", &[], &env_refs(&env)).await;
            let (_, enabled) = server.logs.wait_for_event("telemetry.traces.enabled").await;
            assert_eq!(
                enabled["data"]["endpoint"],
                format!("{}/v1/traces", collector.url)
            );
            let traceparent = format!("00-{TRACE_ID}-{CALLER_SPAN}-01");
            let client =
                connect_http(&server.mcp_url(), &[("traceparent", &traceparent)], None).await;

            // A tool: the span continues the caller's trace, as the log lines do, with the same ids.
            call_tool(&client, "test_simple_text", json!({})).await;
            let tool = collector
                .wait_span("the span of tools/call test_simple_text", |s| {
                    s.span.name == "tools/call test_simple_text"
                })
                .await;
            let logged = call_event(
                &server.logs,
                "tool.execution.complete",
                "tool_name",
                "test_simple_text",
                TRACE_ID,
            )
            .await;
            assert_eq!(tool.span.kind, SpanKind::Server as i32);
            assert_eq!(tool.trace_id(), TRACE_ID);
            assert_eq!(tool.parent_span_id(), CALLER_SPAN);
            assert_eq!(logged["span_id"], tool.span_id(), "{logged}");
            assert_eq!(logged["parent_span_id"], CALLER_SPAN);
            assert_eq!(
                tool.attribute("mcp.method.name").as_deref(),
                Some("tools/call")
            );
            assert_eq!(
                tool.attribute("gen_ai.tool.name").as_deref(),
                Some("test_simple_text")
            );
            assert_eq!(
                tool.attribute("gen_ai.operation.name").as_deref(),
                Some("execute_tool")
            );
            let request_id = tool
                .attribute("jsonrpc.request.id")
                .expect("jsonrpc.request.id");
            assert!(request_id.parse::<u64>().is_ok(), "{request_id}");
            // The log's session_id is the MCP session's (Mcp-Session-Id) when the platform sends none.
            let session = logged["session_id"]
                .as_str()
                .expect("a session id in the log");
            assert_eq!(tool.attribute("mcp.session.id").as_deref(), Some(session));
            assert_eq!(
                tool.attribute("mcp.protocol.version").as_deref(),
                Some("2025-11-25")
            );
            assert_eq!(tool.attribute("network.transport").as_deref(), Some("tcp"));
            assert_eq!(tool.attribute("error.type"), None);
            let status = tool.span.status.clone().unwrap_or_default();
            assert_ne!(status.code, StatusCode::Error as i32, "{status:?}");
            // The resource: the server's name unless OTEL_SERVICE_NAME says otherwise, its version,
            // and OTEL_RESOURCE_ATTRIBUTES.
            assert_eq!(
                tool.resource_attribute("service.name").as_deref(),
                Some("everything")
            );
            assert_eq!(
                tool.resource_attribute("service.version").as_deref(),
                Some(env!("CARGO_PKG_VERSION"))
            );
            assert_eq!(
                tool.resource_attribute("deployment.environment").as_deref(),
                Some("test")
            );

            // A templated resource: named after its template (low cardinality), the URI read as
            // the attribute.
            client
                .read_resource(ReadResourceRequestParams::new("test://template/42/data"))
                .await
                .expect("read the templated resource");
            let resource = collector
                .wait_span("the span of the resource read", |s| {
                    s.attribute("mcp.method.name").as_deref() == Some("resources/read")
                })
                .await;
            assert_eq!(
                resource.span.name,
                "resources/read test://template/{id}/data"
            );
            assert_eq!(
                resource.attribute("mcp.resource.uri").as_deref(),
                Some("test://template/42/data")
            );
            assert_eq!(resource.attribute("gen_ai.operation.name"), None);
            assert_eq!(resource.trace_id(), TRACE_ID);

            client
                .get_prompt(GetPromptRequestParams::new("test_simple_prompt"))
                .await
                .expect("get the prompt");
            let prompt = collector
                .wait_span("the span of prompts/get test_simple_prompt", |s| {
                    s.span.name == "prompts/get test_simple_prompt"
                })
                .await;
            assert_eq!(
                prompt.attribute("gen_ai.prompt.name").as_deref(),
                Some("test_simple_prompt")
            );
            assert_eq!(prompt.span.kind, SpanKind::Server as i32);

            // Every call has a span of its own; OTLP/HTTP with protobuf bodies.
            let spans = collector.spans();
            let mut ids: Vec<String> = spans.iter().map(Received::span_id).collect();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), spans.len(), "{spans:#?}");
            assert!(
                collector
                    .inbox
                    .lock()
                    .unwrap()
                    .content_types
                    .iter()
                    .all(|t| t == "application/x-protobuf")
            );
            client.cancel().await.unwrap();
            server.terminate_cleanly().await;
            assert!(server.logs.of_type("telemetry.export.error").is_empty());
        },
    )
    .await;
}

#[tokio::test]
async fn a_failing_call_ends_its_span_with_status_error_and_its_error_type() {
    bounded(
        "a_failing_call_ends_its_span_with_status_error_and_its_error_type",
        async {
            let collector = Collector::start().await;
            let server = HttpProcess::start("everything", &[], &env_refs(&collector.env())).await;
            // The platform's headers, with W3C-shaped ids: the span continues them.
            let trace = "0af7651916cd43dd8448eb211c80319c";
            let caller = "b7ad6b7169203331";
            let client = connect_http(
                &server.mcp_url(),
                &[("x-trace-id", trace), ("x-span-id", caller)],
                None,
            )
            .await;

            let failed = call_tool(&client, "test_error_handling", json!({})).await;
            assert_eq!(failed.is_error, Some(true));
            let span = collector
                .wait_span("the span of the failing tool", |s| {
                    s.span.name == "tools/call test_error_handling"
                })
                .await;
            let logged = call_event(
                &server.logs,
                "tool.execution.error",
                "tool_name",
                "test_error_handling",
                trace,
            )
            .await;
            let status = span.span.status.clone().expect("a status");
            assert_eq!(status.code, StatusCode::Error as i32, "{status:?}");
            assert_eq!(status.message, text_of(&failed));
            assert_eq!(
                span.attribute("error.type").as_deref(),
                logged["error_type"].as_str(),
                "{logged}"
            );
            assert_eq!(span.trace_id(), trace);
            assert_eq!(span.parent_span_id(), caller);
            assert_eq!(logged["span_id"], span.span_id());
            // A tool's failure is a result, not a JSON-RPC error.
            assert_eq!(span.attribute("rpc.response.status_code"), None);

            // A prompt called without its arguments: a JSON-RPC error (-32602), which the span
            // records as the response's status code.
            let refused = client
                .get_prompt(GetPromptRequestParams::new("test_prompt_with_arguments"))
                .await;
            assert!(refused.is_err(), "{refused:?}");
            let prompt = collector
                .wait_span("the span of the prompt without its arguments", |s| {
                    s.span.name == "prompts/get test_prompt_with_arguments"
                })
                .await;
            assert_eq!(
                prompt.span.status.clone().unwrap_or_default().code,
                StatusCode::Error as i32
            );
            assert_eq!(
                prompt.attribute("rpc.response.status_code").as_deref(),
                Some("-32602")
            );
            assert!(prompt.attribute("error.type").is_some());
            client.cancel().await.unwrap();
        },
    )
    .await;
}

#[tokio::test]
async fn stdio_calls_continue_the_meta_traceparent_in_their_span() {
    bounded(
        "stdio_calls_continue_the_meta_traceparent_in_their_span",
        async {
            let collector = Collector::start().await;
            let server =
                connect_stdio("everything", &["--stdio"], &env_refs(&collector.env())).await;
            let mut meta = RequestMetaObject::new();
            meta.set_traceparent(format!("00-{TRACE_ID}-{CALLER_SPAN}-01"));
            let mut params =
                CallToolRequestParams::new("test_simple_text").with_arguments(args(json!({})));
            params.meta = Some(meta);
            call_tool_with(&server.client, params).await;

            let span = collector
                .wait_span("the span of the stdio call", |s| s.trace_id() == TRACE_ID)
                .await;
            let logged = call_event(
                &server.logs,
                "tool.execution.complete",
                "tool_name",
                "test_simple_text",
                TRACE_ID,
            )
            .await;
            assert_eq!(span.span.name, "tools/call test_simple_text");
            assert_eq!(span.parent_span_id(), CALLER_SPAN);
            assert_eq!(logged["span_id"], span.span_id());
            assert_eq!(span.attribute("network.transport").as_deref(), Some("pipe"));
            // No HTTP: no MCP session id.
            assert_eq!(span.attribute("mcp.session.id"), None);
            within("closing the client", server.client.cancel())
                .await
                .unwrap();
        },
    )
    .await;
}

#[tokio::test]
async fn a_collector_that_is_down_never_keeps_a_call_from_being_answered_and_is_logged_once() {
    bounded(
        "a_collector_that_is_down_never_keeps_a_call_from_being_answered_and_is_logged_once",
        async {
            // Bound but not listening: every connection is refused.
            let down = HeldPort::new();
            let endpoint = format!("http://{}", down.address());
            let server = HttpProcess::start(
                "everything",
                &[],
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
                    ("OTEL_BSP_SCHEDULE_DELAY", "20"),
                ],
            )
            .await;
            let client = server.client().await;
            let first = call_tool(&client, "test_simple_text", json!({})).await;
            assert_eq!(first.is_error, Some(false));
            let (_, error) = server.logs.wait_for_event("telemetry.export.error").await;
            assert_eq!(error["level"], "warning");
            assert_eq!(error["data"]["endpoint"], format!("{endpoint}/v1/traces"));
            assert_eq!(error["data"]["spans_lost"], 1);

            // More calls, more failed exports: all answered, and the failure is not logged again
            // within the minute, though each lost span is counted.
            let failed = r#"cm_mcp_spans_dropped_total{reason="export_failed"}"#;
            wait_metric(&server, failed, 1.0).await;
            for _ in 0..3 {
                let lost = metric(&server, failed).await;
                let result = call_tool(&client, "test_simple_text", json!({})).await;
                assert_eq!(result.is_error, Some(false));
                wait_metric(&server, failed, lost + 1.0).await;
            }
            assert_eq!(metric(&server, failed).await, 4.0);
            assert_eq!(
                server.logs.of_type("telemetry.export.error").len(),
                1,
                "{}",
                server.logs.dump()
            );
            client.cancel().await.unwrap();
        },
    )
    .await;
}

#[tokio::test]
async fn spans_beyond_the_queue_are_dropped_and_counted_while_the_collector_hangs() {
    bounded(
        "spans_beyond_the_queue_are_dropped_and_counted_while_the_collector_hangs",
        async {
            // A collector that accepts connections and never answers.
            let hanging = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let endpoint = format!("http://{}", hanging.local_addr().unwrap());
            let held = tokio::spawn(async move {
                let mut open = Vec::new();
                while let Ok((socket, _)) = hanging.accept().await {
                    open.push(socket);
                }
            });
            let server = HttpProcess::start(
                "everything",
                &[],
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
                    ("OTEL_BSP_SCHEDULE_DELAY", "1"),
                    ("OTEL_BSP_MAX_QUEUE_SIZE", "1"),
                    ("OTEL_EXPORTER_OTLP_TIMEOUT", "600000"),
                ],
            )
            .await;
            let client = server.client().await;
            for _ in 0..5 {
                let result = call_tool(&client, "test_simple_text", json!({})).await;
                assert_eq!(result.is_error, Some(false));
            }
            // One span is being sent (and hangs), one waits in the queue of one: the other three
            // were dropped, and counted.
            let dropped = metric(
                &server,
                r#"cm_mcp_spans_dropped_total{reason="queue_full"}"#,
            )
            .await;
            assert!((3.0..=4.0).contains(&dropped), "{dropped}");
            client.cancel().await.unwrap();
            held.abort();
        },
    )
    .await;
}

#[tokio::test]
async fn shutdown_sends_the_spans_still_queued() {
    bounded("shutdown_sends_the_spans_still_queued", async {
        let collector = Collector::start().await;
        let endpoint = format!("{}/v1/traces", collector.url);
        let mut server = HttpProcess::start(
            "everything",
            &[],
            &[
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint.as_str()),
                // Nothing is sent before the server stops.
                ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
            ],
        )
        .await;
        let client = server.client().await;
        call_tool(&client, "test_simple_text", json!({})).await;
        client.cancel().await.unwrap();
        assert!(collector.spans().is_empty());
        server.terminate_cleanly().await;
        let span = collector
            .wait_span("the span sent at shutdown", |s| {
                s.span.name == "tools/call test_simple_text"
            })
            .await;
        assert_eq!(span.span.kind, SpanKind::Server as i32);
    })
    .await;
}

#[tokio::test]
async fn without_an_endpoint_variable_no_span_is_sent() {
    bounded("without_an_endpoint_variable_no_span_is_sent", async {
        // A collector at the OTLP default address, http://localhost:4318, where an SDK that
        // exported by default would send.
        let collector = match tokio::net::TcpListener::bind("127.0.0.1:4318").await {
            Ok(listener) => Some(Collector::serve(listener)),
            Err(error) => {
                println!(
                    "without_an_endpoint_variable_no_span_is_sent: port 4318 is taken ({error}); only the logs are checked"
                );
                None
            }
        };
        let mut server = HttpProcess::start(
            "everything",
            &[],
            // Other OTEL_* variables do not turn traces on: only an endpoint (or
            // OTEL_TRACES_EXPORTER=otlp) does.
            &[
                ("OTEL_SERVICE_NAME", "no-traces"),
                ("OTEL_TRACES_SAMPLER", "always_on"),
                ("OTEL_BSP_SCHEDULE_DELAY", "1"),
            ],
        )
        .await;
        let client = server.client().await;
        call_tool(&client, "test_simple_text", json!({})).await;
        client.cancel().await.unwrap();
        server.terminate_cleanly().await;
        let telemetry: Vec<Value> = server
            .logs
            .events()
            .into_iter()
            .filter(|e| e["event_type"].as_str().is_some_and(|t| t.starts_with("telemetry.")))
            .collect();
        assert!(telemetry.is_empty(), "{telemetry:?}");
        if let Some(collector) = collector {
            assert!(collector.spans().is_empty());
            assert!(collector.inbox.lock().unwrap().content_types.is_empty());
        }
    })
    .await;
}

#[tokio::test]
async fn an_otlp_protocol_this_server_cannot_send_stops_the_start_naming_the_variable() {
    bounded(
        "an_otlp_protocol_this_server_cannot_send_stops_the_start_naming_the_variable",
        async {
            for (variable, value) in [
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_TRACES_SAMPLER", "jaeger_remote"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318"),
            ] {
                let mut command = command("everything");
                command.args(["--host", "127.0.0.1", "--port", "0"]);
                if variable != "OTEL_EXPORTER_OTLP_ENDPOINT" {
                    command.env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");
                }
                command.env(variable, value);
                let event = refused_to_start(command).await;
                assert_eq!(event["data"]["variable"], variable, "{event}");
                assert!(event["error"].as_str().unwrap().contains(value), "{event}");
            }
        },
    )
    .await;
}
