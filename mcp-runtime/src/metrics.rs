//! `GET /metrics`: what operators graph and alert on, in Prometheus's text format (OpenMetrics).
//!
//! Names and labels follow the OpenTelemetry semantic conventions for MCP as Prometheus spells them
//! (dots become underscores): `mcp_server_operation_duration_seconds`, one histogram observation per
//! call of a tool, resource or prompt, labelled with `mcp_method_name`, the definition
//! (`gen_ai_tool_name`, `gen_ai_prompt_name`, or `mcp_resource_uri`, the template for a templated
//! resource so that the label's values stay as few as the definitions), `error_type` on failures
//! only, `network_transport` (`tcp` for HTTP, `pipe` for stdio) and `mcp_protocol_version`; and
//! `mcp_server_session_duration_seconds`, one observation per ended session. The framework's own:
//! `cm_mcp_sessions_open`, `cm_mcp_calls_in_flight`, `cm_mcp_connector_connected` (per connector),
//! `cm_mcp_log_lines_dropped_total` (lines the non-blocking log writer dropped because its output was
//! stuck), `cm_mcp_spans_dropped_total` (spans of the OpenTelemetry traces that never reached the
//! collector, by `reason`: `queue_full` or `export_failed`).
//!
//! Every label value of a call is a `&'static str` taken from the registry or a fixed list, except
//! an error's type: recording a call costs a hash lookup under a read lock, no allocation. With
//! `--metrics false` nothing is recorded and `/metrics` is 404.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{extract::State, http::header, response::IntoResponse};
use prometheus_client::{
    encoding::{EncodeLabelSet, LabelSetEncoder},
    metrics::{
        counter::{ConstCounter, Counter},
        family::Family,
        gauge::Gauge,
        histogram::Histogram,
    },
    registry::Registry,
};
use rmcp::model::ProtocolVersion;

use crate::platform::Connections;

/// What a call's observation is labelled with.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub(crate) struct Operation {
    /// `tools/call`, `resources/read`, `prompts/get`.
    pub method: &'static str,
    /// The label naming the definition (`gen_ai_tool_name`, ...) and its value.
    pub target: (&'static str, &'static str),
    /// The error's type, on failures only.
    pub error_type: Option<Arc<str>>,
    /// `tcp` (HTTP) or `pipe` (stdio).
    pub transport: &'static str,
    /// The protocol revision the request was made in.
    pub protocol: &'static str,
}

impl EncodeLabelSet for Operation {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeLabel as _;
        ("mcp_method_name", self.method).encode(encoder.encode_label())?;
        self.target.encode(encoder.encode_label())?;
        if let Some(error_type) = &self.error_type {
            ("error_type", &**error_type).encode(encoder.encode_label())?;
        }
        ("network_transport", self.transport).encode(encoder.encode_label())?;
        ("mcp_protocol_version", self.protocol).encode(encoder.encode_label())
    }
}

/// What a session's observation is labelled with.
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct SessionLabels {
    network_transport: &'static str,
}

/// Why spans were dropped.
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct DropLabels {
    reason: &'static str,
}

/// A connector's gauge label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct ConnectorLabels {
    connector_id: String,
}

/// The server's metrics: shared by every session, recorded by the call path and the transports.
pub(crate) struct Metrics {
    registry: Registry,
    operations: Family<Operation, Histogram, fn() -> Histogram>,
    sessions: Family<SessionLabels, Histogram, fn() -> Histogram>,
    sessions_open: Gauge,
    in_flight: Gauge,
    connectors: Family<ConnectorLabels, Gauge>,
    connections: Option<Connections>,
}

/// Call durations from 0.1 ms to about 100 s.
fn operation_buckets() -> Histogram {
    Histogram::new([
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        5.0, 10.0, 30.0, 60.0, 120.0,
    ])
}

/// Session durations from a second to a day.
fn session_buckets() -> Histogram {
    Histogram::new([
        1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0,
    ])
}

impl Metrics {
    /// The metrics of a server whose connectors are `connections`.
    pub(crate) fn new(connections: Option<Connections>) -> Arc<Metrics> {
        let mut registry = Registry::default();
        let operations = Family::<Operation, Histogram, fn() -> Histogram>::new_with_constructor(
            operation_buckets as fn() -> Histogram,
        );
        registry.register(
            "mcp_server_operation_duration_seconds",
            "Duration of MCP requests as the server saw them (tools/call, resources/read, prompts/get)",
            operations.clone(),
        );
        let sessions = Family::<SessionLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            session_buckets as fn() -> Histogram,
        );
        registry.register(
            "mcp_server_session_duration_seconds",
            "Duration of MCP sessions, from initialize to their end",
            sessions.clone(),
        );
        let sessions_open = Gauge::default();
        registry.register(
            "cm_mcp_sessions_open",
            "Sessions open now",
            sessions_open.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "cm_mcp_calls_in_flight",
            "Calls of tools, resources and prompts running now",
            in_flight.clone(),
        );
        let connectors = Family::<ConnectorLabels, Gauge>::default();
        registry.register(
            "cm_mcp_connector_connected",
            "1 while the connector has a URL it connects to, 0 otherwise",
            connectors.clone(),
        );
        Arc::new(Metrics {
            registry,
            operations,
            sessions,
            sessions_open,
            in_flight,
            connectors,
            connections,
        })
    }

    /// A call begins: counted in flight until the returned guard is dropped.
    pub(crate) fn call_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.inc();
        InFlight(self.clone())
    }

    /// A call was answered after `elapsed`.
    pub(crate) fn observe(&self, operation: &Operation, elapsed: Duration) {
        self.operations
            .get_or_create(operation)
            .observe(elapsed.as_secs_f64());
    }

    /// A session was opened.
    pub(crate) fn session_opened(&self) {
        self.sessions_open.inc();
    }

    /// A session opened at `opened` over `transport` ended.
    pub(crate) fn session_closed(&self, transport: &'static str, opened: Instant) {
        self.sessions_open.dec();
        self.sessions
            .get_or_create(&SessionLabels {
                network_transport: transport,
            })
            .observe(opened.elapsed().as_secs_f64());
    }

    /// The text `/metrics` answers with: what is read at scrape time first, then every family.
    fn render(&self) -> String {
        if let Some(connections) = &self.connections {
            for connection in connections.all() {
                self.connectors
                    .get_or_create(&ConnectorLabels {
                        connector_id: connection.id().to_string(),
                    })
                    .set(i64::from(connection.is_connected()));
            }
        }
        let mut text = String::new();
        let dropped = ConstCounter::new(crate::events::dropped_lines());
        let mut scrape = Registry::default();
        scrape.register(
            "cm_mcp_log_lines_dropped",
            "Log lines dropped because the log output did not keep up (it is never waited for)",
            dropped,
        );
        let spans = Family::<DropLabels, Counter>::default();
        for (reason, count) in crate::otel::dropped_spans() {
            spans.get_or_create(&DropLabels { reason }).inc_by(count);
        }
        scrape.register(
            "cm_mcp_spans_dropped",
            "Spans of the OpenTelemetry traces that never reached the collector: the export queue was full (queue_full) or the collector did not take them (export_failed)",
            spans,
        );
        let _ = prometheus_client::encoding::text::encode_registry(&mut text, &self.registry);
        let _ = prometheus_client::encoding::text::encode_registry(&mut text, &scrape);
        let _ = prometheus_client::encoding::text::encode_eof(&mut text);
        text
    }
}

/// Keeps a call counted in flight.
pub(crate) struct InFlight(Arc<Metrics>);

impl InFlight {
    /// The metrics the call is counted in.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.dec();
    }
}

/// `GET /metrics`.
pub(crate) async fn handler(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
}

/// The protocol revision's name as a label value, without allocating.
pub(crate) fn protocol_label(version: Option<ProtocolVersion>) -> &'static str {
    let Some(version) = version else {
        return "";
    };
    match version.as_str() {
        "2024-11-05" => "2024-11-05",
        "2025-03-26" => "2025-03-26",
        "2025-06-18" => "2025-06-18",
        "2025-11-25" => "2025-11-25",
        "2026-07-28" => "2026-07-28",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_call_is_labelled_with_its_error_type_and_a_successful_one_is_not() {
        let metrics = Metrics::new(None);
        let ok = Operation {
            method: "tools/call",
            target: ("gen_ai_tool_name", "my_tool"),
            error_type: None,
            transport: "tcp",
            protocol: "2025-06-18",
        };
        let failed = Operation {
            error_type: Some(Arc::from("ValidationError")),
            ..ok.clone()
        };
        metrics.observe(&ok, Duration::from_millis(2));
        metrics.observe(&failed, Duration::from_millis(3));
        let text = metrics.render();
        assert!(
            text.contains(r#"mcp_server_operation_duration_seconds_count{mcp_method_name="tools/call",gen_ai_tool_name="my_tool",network_transport="tcp",mcp_protocol_version="2025-06-18"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"mcp_server_operation_duration_seconds_count{mcp_method_name="tools/call",gen_ai_tool_name="my_tool",error_type="ValidationError",network_transport="tcp",mcp_protocol_version="2025-06-18"} 1"#),
            "{text}"
        );
        // The count is the process's (other tests drop lines on purpose): only its presence is ours.
        assert!(text.contains("\ncm_mcp_log_lines_dropped_total "), "{text}");
        assert!(
            text.contains("\ncm_mcp_spans_dropped_total{reason=\"queue_full\"} "),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn a_call_is_in_flight_until_its_guard_is_dropped() {
        let metrics = Metrics::new(None);
        let guard = metrics.call_started();
        assert!(metrics.render().contains("cm_mcp_calls_in_flight 1"));
        drop(guard);
        assert!(metrics.render().contains("cm_mcp_calls_in_flight 0"));
    }
}
