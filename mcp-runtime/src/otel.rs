//! OpenTelemetry traces: one SERVER span per call of a tool, resource or prompt, named and
//! attributed as the OpenTelemetry semantic conventions for MCP say, exported over OTLP/HTTP when the
//! standard `OTEL_*` variables ask for it (feature `otel`).
//!
//! The span *is* the call's span of the JSON log: its trace id, span id and parent are the
//! [`TraceContext`]'s, so an operator goes from a log line to its span and back by `trace_id` and
//! `span_id`. Without an endpoint variable nothing is set up and a call pays one `Option` check.
//!
//! A call never waits for the collector: a finished span is put on a bounded queue
//! (`OTEL_BSP_MAX_QUEUE_SIZE`) or, when the queue is full, dropped and counted; a task sends the
//! queue in batches. A batch the collector does not take is dropped and counted too, and the failure
//! logged (`telemetry.export.error`) at most once a minute. `/metrics` shows both counts as
//! `cm_mcp_spans_dropped_total{reason="queue_full"|"export_failed"}`.

use std::sync::atomic::{AtomicU64, Ordering};

use rmcp::{RoleServer, service::RequestContext};

use crate::trace::TraceContext;

#[cfg(feature = "otel")]
mod export;
#[cfg(feature = "otel")]
pub(crate) use export::Traces;

#[cfg(not(feature = "otel"))]
mod disabled;
#[cfg(not(feature = "otel"))]
pub(crate) use disabled::Traces;

/// Spans dropped because the queue was full (the collector slower than the calls).
static QUEUE_FULL: AtomicU64 = AtomicU64::new(0);
/// Spans dropped because the collector did not take them (unreachable, refusing, too slow).
static EXPORT_FAILED: AtomicU64 = AtomicU64::new(0);

/// The spans dropped since the start, by reason, for `/metrics`.
pub(crate) fn dropped_spans() -> [(&'static str, u64); 2] {
    [
        ("queue_full", QUEUE_FULL.load(Ordering::Relaxed)),
        ("export_failed", EXPORT_FAILED.load(Ordering::Relaxed)),
    ]
}

/// What a call's span is made of.
#[cfg_attr(not(feature = "otel"), allow(dead_code))]
pub(crate) struct CallAttributes<'a> {
    /// `tools/call`, `resources/read`, `prompts/get`.
    pub method: &'static str,
    /// The definition: a tool's or prompt's name, a resource's URI or template (low cardinality,
    /// so it names the span).
    pub label: &'static str,
    /// The attribute naming what was called (`gen_ai.tool.name`, `gen_ai.prompt.name`, or
    /// `mcp.resource.uri` with the URI read) and its value.
    pub target: (&'static str, &'a str),
    /// `tcp` (streamable HTTP) or `pipe` (stdio).
    pub transport: &'static str,
    /// The request: its id, protocol version and HTTP headers.
    pub request: &'a RequestContext<RoleServer>,
    /// The call's trace, whose ids the span takes.
    pub trace: &'a TraceContext,
}

/// How a call failed, as its span records it.
#[cfg_attr(not(feature = "otel"), allow(dead_code))]
pub(crate) struct Failure<'a> {
    /// `error.type`: the error's type, as the log line's `error_type` and the metric's label have it.
    pub error_type: &'a str,
    /// The span status's description: what the client was told.
    pub message: &'a str,
    /// `rpc.response.status_code`: the JSON-RPC error code, when the answer is a JSON-RPC error.
    pub rpc_code: Option<i32>,
}
