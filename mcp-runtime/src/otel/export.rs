//! The OpenTelemetry SDK set up from the standard variables, the call's span, and the export: a
//! bounded queue that never blocks a call, and a task sending it to the collector in batches.

use std::{
    cell::Cell,
    sync::{Arc, Mutex, atomic::Ordering},
    time::{Duration, Instant},
};

use opentelemetry::{
    Context, InstrumentationScope, Key, KeyValue,
    trace::{
        Span as _, SpanBuilder, SpanContext, SpanId, SpanKind, Status, TraceContextExt as _,
        TraceFlags, TraceId, TraceState, Tracer as _, TracerProvider as _,
    },
};
use opentelemetry_http::{Bytes, HttpClient, HttpError};
use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::{
    Resource,
    error::OTelSdkResult,
    resource::{EnvResourceDetector, ResourceDetector as _},
    trace::{
        IdGenerator, RandomIdGenerator, Sampler, SdkTracer, SdkTracerProvider, SpanData,
        SpanExporter as _, SpanProcessor,
    },
};
use tokio::{sync::mpsc, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use super::{CallAttributes, EXPORT_FAILED, Failure, QUEUE_FULL};
use crate::{platform::SettingsError, trace::is_hex};

/// How long shutdown waits for the last spans to be sent.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);
/// At most one `telemetry.export.error` line per this long.
const ERROR_LOG_INTERVAL: Duration = Duration::from_secs(60);
/// What a collector may answer: its answers are a few bytes.
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// The server's traces: the tracer the call path starts spans with, and the export task.
pub(crate) struct Traces {
    tracer: SdkTracer,
    // Kept so that the tracer's provider outlives every span.
    _provider: SdkTracerProvider,
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// The span of one call, ended with its outcome by [`CallSpan::end`] (or when dropped, for a call
/// whose request went away).
pub(crate) struct CallSpan(opentelemetry_sdk::trace::Span);

impl Traces {
    /// The traces the standard variables ask for, or `None` when none does: an endpoint
    /// (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_ENDPOINT`) or
    /// `OTEL_TRACES_EXPORTER=otlp` (then the default `http://localhost:4318`), unless
    /// `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. A variable that says something this
    /// server cannot do is a [`SettingsError`] naming it. Starts the export task: call inside Tokio.
    pub(crate) fn from_env(
        service: &str,
        version: &str,
    ) -> Result<Option<Arc<Traces>>, SettingsError> {
        let Some(config) = Config::from_env(service)? else {
            return Ok(None);
        };
        let resource = resource(&config.service_name, version);
        let client = reqwest::Client::builder()
            .timeout(config.export_timeout)
            .build()
            .map_err(|e| {
                SettingsError::new(
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    format!("the HTTP client for the OTLP exporter cannot be built: {e}"),
                )
            })?;
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(Reqwest(client))
            .with_endpoint(config.endpoint.clone())
            .with_protocol(Protocol::HttpBinary)
            .with_timeout(config.export_timeout)
            .build()
            .map_err(|e| SettingsError::new(config.endpoint_variable, e.to_string()))?;
        exporter.set_resource(&resource);

        let (queue, spans) = mpsc::channel(config.max_queue_size);
        let provider = SdkTracerProvider::builder()
            .with_span_processor(Queue(queue))
            .with_id_generator(CallIds::default())
            .with_sampler(config.sampler)
            .with_resource(resource)
            .build();
        let tracer = provider.tracer_with_scope(
            InstrumentationScope::builder("cm-mcp")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        );
        let stop = CancellationToken::new();
        let batching = config.batching;
        let task = tokio::spawn(send_batches(
            exporter,
            spans,
            batching,
            stop.clone(),
            Reporter::new(&config.endpoint),
        ));
        let shown = crate::events::url_without_password(&config.endpoint);
        tracing::info!(
            event_type = "telemetry.traces.enabled",
            data.endpoint = shown.as_str(),
            data.protocol = "http/protobuf",
            data.service_name = config.service_name.as_str(),
            data.sampler = config.sampler_name.as_str(),
            "Sending traces to {} (OTLP/HTTP)",
            shown
        );
        Ok(Some(Arc::new(Traces {
            tracer,
            _provider: provider,
            stop,
            task: Mutex::new(Some(task)),
        })))
    }

    /// Starts the SERVER span of a call, with the ids of its trace: its own span id, and the
    /// caller's trace and span as its trace and parent.
    pub(crate) fn start(&self, call: &CallAttributes<'_>) -> CallSpan {
        let trace = call.trace;
        let trace_id = TraceId::from_hex(&trace.w3c_trace_id()).unwrap_or(TraceId::INVALID);
        let span_id = SpanId::from_hex(&trace.span_id).unwrap_or(SpanId::INVALID);
        let parent = trace
            .parent_span_id
            .as_deref()
            .filter(|id| is_hex(id, 16))
            .and_then(|id| SpanId::from_hex(id).ok())
            .filter(|id| *id != SpanId::INVALID);
        let cx = match parent {
            Some(parent) => {
                let flags = if trace.sampled {
                    TraceFlags::SAMPLED
                } else {
                    TraceFlags::default()
                };
                let state = trace
                    .tracestate
                    .as_deref()
                    .and_then(|s| s.parse::<TraceState>().ok())
                    .unwrap_or_default();
                Context::new().with_remote_span_context(SpanContext::new(
                    trace_id, parent, flags, true, state,
                ))
            }
            None => Context::new(),
        };

        let request = call.request;
        let mut attributes = Vec::with_capacity(9);
        attributes.push(KeyValue::new("mcp.method.name", call.method));
        attributes.push(KeyValue::new(call.target.0, call.target.1.to_string()));
        if call.method == "tools/call" {
            attributes.push(KeyValue::new("gen_ai.operation.name", "execute_tool"));
        }
        attributes.push(KeyValue::new("jsonrpc.request.id", request.id.to_string()));
        let headers = request
            .extensions
            .get::<http::request::Parts>()
            .map(|parts| &parts.headers);
        if let Some(session) = headers
            .and_then(|h| h.get("mcp-session-id"))
            .and_then(|v| v.to_str().ok())
        {
            attributes.push(KeyValue::new("mcp.session.id", session.to_string()));
        }
        if let Some(version) = request.protocol_version() {
            attributes.push(KeyValue::new(
                "mcp.protocol.version",
                version.as_str().to_string(),
            ));
        }
        attributes.push(KeyValue::new("network.transport", call.transport));
        if headers.is_some() {
            attributes.push(KeyValue::new("network.protocol.name", "http"));
        }
        let builder = SpanBuilder::from_name(format!("{} {}", call.method, call.label))
            .with_kind(SpanKind::Server)
            .with_attributes(attributes);
        NEXT_IDS.with(|next| next.set(Some((trace_id, span_id))));
        let span = self.tracer.build_with_context(builder, &cx);
        NEXT_IDS.with(|next| next.set(None));
        CallSpan(span)
    }

    /// Sends what is queued (within [`FLUSH_TIMEOUT`]) and stops the export task. Spans that end
    /// afterwards are dropped.
    pub(crate) async fn shutdown(&self) {
        self.stop.cancel();
        let task = self.task.lock().ok().and_then(|mut task| task.take());
        let Some(mut task) = task else { return };
        if tokio::time::timeout(FLUSH_TIMEOUT, &mut task)
            .await
            .is_err()
        {
            task.abort();
            tracing::warn!(
                event_type = "telemetry.export.error",
                success = false,
                error = "the collector did not take the last spans in time",
                error_type = "ExportTimeout",
                data.timeout_s = FLUSH_TIMEOUT.as_secs_f64(),
                "The last spans were not all sent before the server stopped"
            );
        }
    }
}

impl CallSpan {
    /// Ends the span: with `error.type`, the status ERROR and its description when the call failed.
    pub(crate) fn end(mut self, failure: Option<Failure<'_>>) {
        if let Some(failure) = failure {
            self.0
                .set_attribute(KeyValue::new("error.type", failure.error_type.to_string()));
            if let Some(code) = failure.rpc_code {
                self.0
                    .set_attribute(KeyValue::new("rpc.response.status_code", code.to_string()));
            }
            self.0
                .set_status(Status::error(failure.message.to_string()));
        }
        self.0.end();
    }
}

thread_local! {
    /// The ids of the span being started on this thread: the call's own, which the SDK asks
    /// [`CallIds`] for (it has no other way to take ids it did not make).
    static NEXT_IDS: Cell<Option<(TraceId, SpanId)>> = const { Cell::new(None) };
}

/// The SDK's ids: the call's, set by [`Traces::start`] around the span's start; random otherwise.
#[derive(Debug, Default)]
struct CallIds(RandomIdGenerator);

impl IdGenerator for CallIds {
    fn new_trace_id(&self) -> TraceId {
        match NEXT_IDS.with(Cell::get) {
            Some((trace_id, _)) if trace_id != TraceId::INVALID => trace_id,
            _ => self.0.new_trace_id(),
        }
    }

    fn new_span_id(&self) -> SpanId {
        match NEXT_IDS.with(Cell::get) {
            Some((_, span_id)) if span_id != SpanId::INVALID => span_id,
            _ => self.0.new_span_id(),
        }
    }
}

/// The span processor: puts each sampled span on the bounded queue, or drops and counts it.
#[derive(Debug)]
struct Queue(mpsc::Sender<SpanData>);

impl SpanProcessor for Queue {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() && self.0.try_send(span).is_err() {
            QUEUE_FULL.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// How spans are batched (`OTEL_BSP_*`).
#[derive(Clone, Copy, Debug)]
struct Batching {
    /// `OTEL_BSP_SCHEDULE_DELAY`: how long the first span of a batch waits for others.
    delay: Duration,
    /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, at most the queue's size.
    batch_size: usize,
    /// `OTEL_BSP_EXPORT_TIMEOUT`: how long one export may take, retries included.
    export_timeout: Duration,
}

/// Sends the queued spans in batches until `stop`, then what is left.
async fn send_batches(
    exporter: opentelemetry_otlp::SpanExporter,
    mut spans: mpsc::Receiver<SpanData>,
    batching: Batching,
    stop: CancellationToken,
    mut reporter: Reporter,
) {
    let mut batch = Vec::with_capacity(batching.batch_size);
    loop {
        let first = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            span = spans.recv() => span,
        };
        let Some(first) = first else { break };
        batch.push(first);
        let deadline = tokio::time::Instant::now() + batching.delay;
        while batch.len() < batching.batch_size {
            tokio::select! {
                biased;
                () = stop.cancelled() => break,
                () = tokio::time::sleep_until(deadline) => break,
                span = spans.recv() => match span {
                    Some(span) => batch.push(span),
                    None => break,
                },
            }
        }
        export(&exporter, &mut batch, batching, &mut reporter).await;
    }
    // Stopping: what is queued goes out now, and nothing more is taken.
    spans.close();
    while let Some(span) = spans.recv().await {
        batch.push(span);
        if batch.len() >= batching.batch_size {
            export(&exporter, &mut batch, batching, &mut reporter).await;
        }
    }
    if !batch.is_empty() {
        export(&exporter, &mut batch, batching, &mut reporter).await;
    }
}

async fn export(
    exporter: &opentelemetry_otlp::SpanExporter,
    batch: &mut Vec<SpanData>,
    batching: Batching,
    reporter: &mut Reporter,
) {
    let count = batch.len() as u64;
    let sent = tokio::time::timeout(
        batching.export_timeout,
        exporter.export(std::mem::take(batch)),
    );
    match sent.await {
        Ok(Ok(())) => reporter.sent(),
        Ok(Err(error)) => reporter.failed(count, &error.to_string()),
        Err(_) => reporter.failed(
            count,
            &format!(
                "the collector did not answer within {:?} (OTEL_BSP_EXPORT_TIMEOUT)",
                batching.export_timeout
            ),
        ),
    }
}

/// Counts lost spans and logs export failures, at most once a minute, and the recovery after one.
struct Reporter {
    /// The endpoint as logs show it (its password masked).
    endpoint: String,
    last_logged: Option<Instant>,
    /// Spans lost since the last line that said so.
    lost: u64,
    failing: bool,
}

impl Reporter {
    fn new(endpoint: &str) -> Reporter {
        Reporter {
            endpoint: crate::events::url_without_password(endpoint),
            last_logged: None,
            lost: 0,
            failing: false,
        }
    }

    fn failed(&mut self, count: u64, error: &str) {
        EXPORT_FAILED.fetch_add(count, Ordering::Relaxed);
        self.lost += count;
        self.failing = true;
        if self
            .last_logged
            .is_none_or(|at| at.elapsed() >= ERROR_LOG_INTERVAL)
        {
            // The exporter's errors quote the URL, with any credentials in it.
            let error = crate::events::without_url_credentials(error);
            tracing::warn!(
                event_type = "telemetry.export.error",
                success = false,
                error = &*error,
                error_type = "ExportError",
                data.endpoint = self.endpoint.as_str(),
                data.spans_lost = self.lost,
                "Spans could not be sent to the OpenTelemetry collector and were dropped (logged at most once a minute; cm_mcp_spans_dropped_total counts them)"
            );
            self.last_logged = Some(Instant::now());
            self.lost = 0;
        }
    }

    fn sent(&mut self) {
        if std::mem::take(&mut self.failing) {
            tracing::info!(
                event_type = "telemetry.export.recovered",
                success = true,
                data.endpoint = self.endpoint.as_str(),
                data.spans_lost = std::mem::take(&mut self.lost),
                "Spans reach the OpenTelemetry collector again"
            );
        }
    }
}

/// The exporter's HTTP client: the reqwest of the platform's client stack.
#[derive(Debug)]
struct Reqwest(reqwest::Client);

#[async_trait::async_trait]
impl HttpClient for Reqwest {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let mut response = self.0.execute(reqwest::Request::try_from(request)?).await?;
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err("the collector's answer is larger than 4 MiB".into());
            }
            body.extend_from_slice(&chunk);
        }
        let mut answer = http::Response::builder()
            .status(status)
            .body(Bytes::from(body))?;
        *answer.headers_mut() = headers;
        Ok(answer)
    }
}

/// The resource every span is sent with: the SDK's (`telemetry.sdk.*`) and `OTEL_RESOURCE_ATTRIBUTES`,
/// `service.name` as [`Config::service_name`] says, and `service.version` the server's own unless
/// the attributes name one.
fn resource(service_name: &str, version: &str) -> Resource {
    let from_env = EnvResourceDetector::new().detect();
    let mut builder = Resource::builder().with_service_name(service_name.to_string());
    if from_env.get(&Key::new("service.version")).is_none() {
        builder = builder.with_attribute(KeyValue::new("service.version", version.to_string()));
    }
    builder.build()
}

/// What the variables say.
struct Config {
    endpoint: String,
    /// The variable the endpoint came from, for errors.
    endpoint_variable: &'static str,
    export_timeout: Duration,
    service_name: String,
    sampler: Sampler,
    sampler_name: String,
    max_queue_size: usize,
    batching: Batching,
}

/// A variable's value, when it is set and not blank.
fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A whole number of milliseconds or a count from `name`, or `default`.
fn number(name: &'static str, default: u64, what: &str) -> Result<u64, SettingsError> {
    match var(name) {
        None => Ok(default),
        Some(value) => value
            .parse()
            .map_err(|_| SettingsError::new(name, format!("{name}={value} is not {what}"))),
    }
}

impl Config {
    fn from_env(server_name: &str) -> Result<Option<Config>, SettingsError> {
        if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        let otlp_asked = match var("OTEL_TRACES_EXPORTER") {
            None => false,
            Some(exporters) => {
                let exporters: Vec<String> = exporters
                    .split(',')
                    .map(|e| e.trim().to_ascii_lowercase())
                    .collect();
                if exporters.iter().any(|e| e == "none") {
                    return Ok(None);
                }
                if let Some(other) = exporters.iter().find(|e| *e != "otlp") {
                    return Err(SettingsError::new(
                        "OTEL_TRACES_EXPORTER",
                        format!(
                            "OTEL_TRACES_EXPORTER={other} is not supported: this server sends traces with `otlp` (OTLP/HTTP) or not at all (`none`)"
                        ),
                    ));
                }
                true
            }
        };
        let (endpoint_variable, endpoint) =
            if let Some(endpoint) = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
                // The signal's own endpoint is used as it is.
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint)
            } else if let Some(endpoint) = var("OTEL_EXPORTER_OTLP_ENDPOINT") {
                (
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    format!("{}/v1/traces", endpoint.trim_end_matches('/')),
                )
            } else if otlp_asked {
                (
                    "OTEL_TRACES_EXPORTER",
                    "http://localhost:4318/v1/traces".to_string(),
                )
            } else {
                return Ok(None);
            };
        match url::Url::parse(&endpoint) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {}
            _ => {
                return Err(SettingsError::new(
                    endpoint_variable,
                    format!(
                        "{endpoint_variable} must be an http:// or https:// URL of an OTLP/HTTP collector (such as http://otel-collector:4318), not `{endpoint}`"
                    ),
                ));
            }
        }
        for name in [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ] {
            if let Some(protocol) = var(name) {
                if protocol != "http/protobuf" {
                    return Err(SettingsError::new(
                        name,
                        format!(
                            "{name}={protocol} is not supported: this server sends traces over OTLP/HTTP with protobuf bodies; set http/protobuf and the collector's OTLP/HTTP endpoint (port 4318 by default)"
                        ),
                    ));
                }
                // The signal's own variable wins over the general one.
                break;
            }
        }
        let timeout_ms = match var("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") {
            Some(_) => number(
                "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
                10_000,
                "a number of milliseconds",
            )?,
            None => number(
                "OTEL_EXPORTER_OTLP_TIMEOUT",
                10_000,
                "a number of milliseconds",
            )?,
        };
        let service_name = var("OTEL_SERVICE_NAME")
            .or_else(|| {
                EnvResourceDetector::new()
                    .detect()
                    .get(&Key::new("service.name"))
                    .map(|v| v.to_string())
            })
            .unwrap_or_else(|| server_name.to_string());
        let (sampler, sampler_name) = sampler()?;
        let max_queue_size =
            number("OTEL_BSP_MAX_QUEUE_SIZE", 2048, "a number of spans")?.max(1) as usize;
        let batch_size =
            (number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512, "a number of spans")?.max(1) as usize)
                .min(max_queue_size);
        let delay = number("OTEL_BSP_SCHEDULE_DELAY", 5000, "a number of milliseconds")?;
        let export_timeout = number(
            "OTEL_BSP_EXPORT_TIMEOUT",
            30_000,
            "a number of milliseconds",
        )?;
        Ok(Some(Config {
            endpoint,
            endpoint_variable,
            export_timeout: Duration::from_millis(timeout_ms),
            service_name,
            sampler,
            sampler_name,
            max_queue_size,
            batching: Batching {
                delay: Duration::from_millis(delay),
                batch_size,
                export_timeout: Duration::from_millis(export_timeout),
            },
        }))
    }
}

/// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` (default `parentbased_always_on`).
fn sampler() -> Result<(Sampler, String), SettingsError> {
    let name = var("OTEL_TRACES_SAMPLER").unwrap_or_else(|| "parentbased_always_on".into());
    let ratio = || -> Result<f64, SettingsError> {
        match var("OTEL_TRACES_SAMPLER_ARG") {
            None => Ok(1.0),
            Some(arg) => arg
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| {
                    SettingsError::new(
                        "OTEL_TRACES_SAMPLER_ARG",
                        format!(
                            "OTEL_TRACES_SAMPLER_ARG={arg} is not a sampling ratio between 0 and 1"
                        ),
                    )
                }),
        }
    };
    let parent_based = |root: Sampler| Sampler::ParentBased(Box::new(root));
    let sampler = match name.as_str() {
        "always_on" => Sampler::AlwaysOn,
        "always_off" => Sampler::AlwaysOff,
        "traceidratio" => Sampler::TraceIdRatioBased(ratio()?),
        "parentbased_always_on" => parent_based(Sampler::AlwaysOn),
        "parentbased_always_off" => parent_based(Sampler::AlwaysOff),
        "parentbased_traceidratio" => parent_based(Sampler::TraceIdRatioBased(ratio()?)),
        other => {
            return Err(SettingsError::new(
                "OTEL_TRACES_SAMPLER",
                format!(
                    "OTEL_TRACES_SAMPLER={other} is not supported: use always_on, always_off, traceidratio, parentbased_always_on (the default), parentbased_always_off or parentbased_traceidratio"
                ),
            ));
        }
    };
    Ok((sampler, name))
}
