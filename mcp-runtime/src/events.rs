//! The platform's log format: one JSON object per line on stderr, keys in the order the platform's
//! structlog pipeline writes them, trace fields taken from the call the line was written in.
//!
//! Platform events are ordinary `tracing` events with well-known field names, so authors can write
//! their own in the same shape:
//!
//! ```
//! tracing::info!(
//!     event_type = "postgres.query.complete",
//!     duration_ms = 1.5,
//!     success = true,
//!     data.row_count = 1,
//!     "SQL query completed successfully"
//! );
//! ```
//!
//! Fields named `data.<key>` are gathered into the `data` object; `event_type`, `duration_ms`,
//! `success`, `error` and `error_type` are top-level keys; any other field follows them.

use std::{cell::RefCell, fmt::Write as _, io::Write as _, sync::Arc};

use time::{OffsetDateTime, format_description::FormatItem, macros::format_description};
use tracing::{
    Event, Level, Subscriber,
    field::{Field, Visit},
};
use tracing_subscriber::{
    EnvFilter, Layer,
    fmt::MakeWriter,
    layer::{Context, SubscriberExt},
    registry::LookupSpan,
    util::SubscriberInitExt,
};

use crate::trace::TraceContext;

mod writer;

pub use writer::{BatchGuard, BatchWriter, dropped_lines};

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (the platform's format; the default).
    Json,
    /// Human-readable lines (`DEBUG=true`, as on the platform).
    Human,
}

/// Keeps the background log writer alive; dropping it flushes what is queued.
pub struct LogGuard {
    _worker: Option<BatchGuard>,
}

/// Installs the platform log format on stderr as the global subscriber, written in batches by a
/// background thread so that a slow stderr never stalls a request (see [`BatchWriter`]).
/// `filter` is an `EnvFilter` directive such as `info`. Does nothing when a global subscriber is
/// already set (e.g. by a test harness).
pub fn init(format: LogFormat, filter: &str) -> LogGuard {
    if tracing::dispatcher::has_been_set() {
        // No writer thread for a subscriber that could not be installed.
        return LogGuard { _worker: None };
    }
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, worker) = BatchWriter::new(std::io::stderr());
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(PlatformLayer::new(writer, format))
        .try_init()
        .is_ok();
    if installed {
        install_panic_hook();
    }
    LogGuard {
        _worker: installed.then_some(worker),
    }
}

/// Replaces the standard panic hook, which writes raw text lines to stderr, with one that writes the
/// panic as a `service.panic` event: the log stays one JSON object per line, and a panic inside a call
/// carries that call's trace fields (the hook runs in the panicking task, inside the call's span).
/// The call path still answers the caller and writes the kind's `.error` event; this event adds where
/// the panic happened, and the backtrace when `RUST_BACKTRACE` asks for one.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("a panic with a non-string payload");
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        let thread = std::thread::current();
        let backtrace = std::backtrace::Backtrace::capture();
        let backtrace = (backtrace.status() == std::backtrace::BacktraceStatus::Captured)
            .then(|| backtrace.to_string());
        tracing::error!(
            event_type = "service.panic",
            success = false,
            error = message,
            error_type = "Panic",
            data.location = location,
            data.thread = thread.name().unwrap_or("unnamed"),
            data.backtrace = backtrace,
            "The server's code panicked at {location}"
        );
    }));
}

/// A `tracing-subscriber` layer writing the platform's format to `W`.
pub struct PlatformLayer<W> {
    writer: W,
    format: LogFormat,
}

impl<W> PlatformLayer<W> {
    /// A layer writing `format` lines to `writer`.
    pub fn new(writer: W, format: LogFormat) -> PlatformLayer<W> {
        PlatformLayer { writer, format }
    }
}

impl<S, W> Layer<S> for PlatformLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + 'static,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let trace = ctx.event_scope(event).and_then(|scope| {
            scope
                .into_iter()
                .find_map(|span| span.extensions().get::<Arc<TraceContext>>().cloned())
        });
        LINE.with(|cell| {
            let Ok(mut state) = cell.try_borrow_mut() else {
                return; // an event emitted while formatting one: drop it rather than recurse
            };
            let LineState { fields, buf } = &mut *state;
            fields.clear();
            event.record(fields);
            let metadata = event.metadata();
            if fields.event_type.is_none() && metadata.target().starts_with("rmcp") {
                // rmcp's own lines get a type, so that every line can be filtered by one.
                let kind = rmcp_event_type(metadata.level());
                fields.event_type = Some(fields.text(|s| s.push_str(kind)));
            }
            buf.clear();
            match self.format {
                LogFormat::Json => {
                    write_json(buf, fields, event.metadata().level(), trace.as_deref())
                }
                LogFormat::Human => {
                    write_human(buf, fields, event.metadata().level(), trace.as_deref())
                }
            }
            let _ = self.writer.make_writer().write_all(buf);
        });
    }
}

fn rmcp_event_type(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "mcp.protocol.error",
        Level::WARN => "mcp.protocol.warning",
        _ => "mcp.protocol.debug",
    }
}

/// Attaches `trace` to `span`, so that every event inside it carries the trace fields.
pub(crate) fn attach_trace(span: &tracing::Span, trace: Arc<TraceContext>) {
    span.with_subscriber(|(id, dispatch)| {
        if let Some(registry) = dispatch.downcast_ref::<tracing_subscriber::Registry>()
            && let Some(span) = registry.span(id)
        {
            span.extensions_mut().insert(trace);
        }
    });
}

/// `redis://user:secret@host/0` as `redis://user:***@host/0`: a URL an operator configured may carry
/// a password, which never reaches logs, `/health` or metrics.
pub(crate) fn url_without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "(not a URL)".to_string(),
    }
}

/// `text` with the credentials of every URL in it (`scheme://user:secret@`) masked: for errors of
/// clients (an exporter's, say) that quote the URL they failed to reach.
#[cfg_attr(not(feature = "otel"), allow(dead_code))] // only the trace exporter's errors need it yet
pub(crate) fn without_url_credentials(text: &str) -> std::borrow::Cow<'_, str> {
    static USERINFO: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@").expect("a valid pattern")
    });
    USERINFO.replace_all(text, "${1}***@")
}

thread_local! {
    static LINE: RefCell<LineState> = RefCell::new(LineState::default());
}

/// Buffers reused for every line a thread writes.
#[derive(Default)]
struct LineState {
    fields: Fields,
    buf: Vec<u8>,
}

#[derive(Default)]
struct Fields {
    message: String,
    event_type: Option<Value>,
    duration_ms: Option<Value>,
    success: Option<Value>,
    error: Option<Value>,
    error_type: Option<Value>,
    data: Vec<(&'static str, Value)>,
    other: Vec<(&'static str, Value)>,
    /// The text of every string value, reused from line to line.
    strings: String,
}

impl Fields {
    fn clear(&mut self) {
        self.message.clear();
        self.event_type = None;
        self.duration_ms = None;
        self.success = None;
        self.error = None;
        self.error_type = None;
        self.data.clear();
        self.other.clear();
        self.strings.clear();
    }

    fn text(&mut self, f: impl FnOnce(&mut String)) -> Value {
        let start = self.strings.len();
        f(&mut self.strings);
        Value::Str(start..self.strings.len())
    }

    fn put(&mut self, field: &Field, value: Value) {
        let name = field.name();
        match name {
            "event_type" => self.event_type = Some(value),
            "duration_ms" => self.duration_ms = Some(value),
            "success" => self.success = Some(value),
            "error" => self.error = Some(value),
            "error_type" => self.error_type = Some(value),
            _ => {
                if let Some(key) = name.strip_prefix("data.") {
                    self.data.push((key, value));
                } else if !name.starts_with("log.") {
                    self.other.push((name, value));
                }
            }
        }
    }
}

enum Value {
    /// A range of `Fields::strings`.
    Str(std::ops::Range<usize>),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let value = self.text(|s| s.push_str(value));
            self.put(field, value);
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::U64(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::F64(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let value = self.text(|s| {
            let _ = write!(s, "{value}");
        });
        self.put(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let value = self.text(|s| {
                let _ = write!(s, "{value:?}");
            });
            self.put(field, value);
        }
    }
}

fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        _ => "debug",
    }
}

const TIMESTAMP: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// Milliseconds since `started`, rounded to microseconds as the platform logs `duration_ms`: for
/// an author's own events and results, so that they read like the framework's.
///
/// ```
/// let started = std::time::Instant::now();
/// let ms = mcp_runtime::events::elapsed_ms(started);
/// assert!(ms >= 0.0);
/// ```
pub fn elapsed_ms(started: std::time::Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// The current UTC time in the log format (`2026-11-24T14:17:46.806794Z`).
pub(crate) fn now_iso() -> String {
    let mut buf = Vec::with_capacity(27);
    write_timestamp(&mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

thread_local! {
    /// The last second formatted, and its `YYYY-MM-DDTHH:MM:SS.` text.
    static SECOND: std::cell::Cell<(u64, [u8; 20])> = const { std::cell::Cell::new((u64::MAX, [0; 20])) };
}

const SECOND_FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].");

fn write_timestamp(buf: &mut Vec<u8>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (cached, mut prefix) = SECOND.with(|c| c.get());
    if cached != secs {
        let mut text = Vec::with_capacity(20);
        if let Ok(t) = OffsetDateTime::from_unix_timestamp(secs as i64) {
            let _ = t.format_into(&mut text, SECOND_FORMAT);
        }
        if text.len() == 20 {
            prefix.copy_from_slice(&text);
            SECOND.with(|c| c.set((secs, prefix)));
        } else {
            let _ = OffsetDateTime::now_utc().format_into(buf, TIMESTAMP);
            return;
        }
    }
    buf.extend_from_slice(&prefix);
    let mut micros = now.subsec_micros();
    let mut digits = [b'0'; 6];
    for d in digits.iter_mut().rev() {
        *d = b'0' + (micros % 10) as u8;
        micros /= 10;
    }
    buf.extend_from_slice(&digits);
    buf.push(b'Z');
}

/// Most log strings need no escaping and are copied as they are; serde_json escapes the rest.
fn write_str(buf: &mut Vec<u8>, s: &str) {
    // No early exit: the whole-string scan vectorizes, a short-circuiting one does not.
    let escape = s.bytes().fold(false, |found, b| {
        found | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if !escape {
        buf.push(b'"');
        buf.extend_from_slice(s.as_bytes());
        buf.push(b'"');
    } else {
        let _ = serde_json::to_writer(&mut *buf, s);
    }
}

fn write_value(buf: &mut Vec<u8>, strings: &str, value: &Value) {
    match value {
        Value::Str(r) => write_str(buf, &strings[r.clone()]),
        Value::I64(n) => {
            let _ = write!(buf, "{n}");
        }
        Value::U64(n) => {
            let _ = write!(buf, "{n}");
        }
        Value::F64(n) => {
            let _ = serde_json::to_writer(&mut *buf, n);
        }
        Value::Bool(b) => buf.extend_from_slice(if *b { b"true" } else { b"false" }),
    }
}

fn write_key(buf: &mut Vec<u8>, first: &mut bool, key: &str) {
    if !std::mem::take(first) {
        buf.push(b',');
    }
    write_str(buf, key);
    buf.push(b':');
}

fn write_opt_str(buf: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(s) => write_str(buf, s),
        None => buf.extend_from_slice(b"null"),
    }
}

/// `"key":` for a key known at compile time: no escaping to check.
macro_rules! key {
    ($key:literal) => {
        concat!("\"", $key, "\":").as_bytes()
    };
}

/// A key known at compile time, after `first` (which it clears) or a comma.
fn write_const_key(buf: &mut Vec<u8>, first: &mut bool, quoted: &[u8]) {
    if !std::mem::take(first) {
        buf.push(b',');
    }
    buf.extend_from_slice(quoted);
}

fn write_json(buf: &mut Vec<u8>, f: &Fields, level: &Level, trace: Option<&TraceContext>) {
    let first = &mut true;
    buf.push(b'{');
    for (key, value) in [
        (key!("event_type"), &f.event_type),
        (key!("duration_ms"), &f.duration_ms),
        (key!("success"), &f.success),
    ] {
        if let Some(value) = value {
            write_const_key(buf, first, key);
            write_value(buf, &f.strings, value);
        }
    }
    if f.event_type.is_some() || !f.data.is_empty() {
        write_const_key(buf, first, key!("data"));
        buf.push(b'{');
        let data_first = &mut true;
        for (key, value) in &f.data {
            write_key(buf, data_first, key);
            write_value(buf, &f.strings, value);
        }
        buf.push(b'}');
    }
    for (key, value) in [
        (key!("error"), &f.error),
        (key!("error_type"), &f.error_type),
    ] {
        if let Some(value) = value {
            write_const_key(buf, first, key);
            write_value(buf, &f.strings, value);
        }
    }
    for (key, value) in &f.other {
        write_key(buf, first, key);
        write_value(buf, &f.strings, value);
    }
    write_const_key(buf, first, key!("event"));
    write_str(buf, &f.message);
    buf.extend_from_slice(match *level {
        Level::ERROR => b",\"level\":\"error\",\"timestamp\":\"",
        Level::WARN => b",\"level\":\"warning\",\"timestamp\":\"",
        Level::INFO => b",\"level\":\"info\",\"timestamp\":\"",
        _ => b",\"level\":\"debug\",\"timestamp\":\"",
    });
    write_timestamp(buf);
    buf.push(b'"');
    if let Some(t) = trace {
        buf.extend_from_slice(b",\"trace_id\":");
        write_str(buf, &t.trace_id);
        buf.extend_from_slice(b",\"span_id\":");
        write_str(buf, &t.span_id);
        buf.extend_from_slice(b",\"parent_span_id\":");
        write_opt_str(buf, t.parent_span_id.as_deref());
        buf.extend_from_slice(b",\"session_id\":");
        write_opt_str(buf, t.session_id.as_deref());
        buf.extend_from_slice(b",\"api_key_hash\":");
        write_str(buf, &t.api_key_hash);
        buf.extend_from_slice(b",\"origin_service\":");
        write_opt_str(buf, t.origin_service.as_deref());
    }
    buf.extend_from_slice(b"}\n");
}

fn write_plain(buf: &mut Vec<u8>, strings: &str, value: &Value) {
    match value {
        Value::Str(r) => buf.extend_from_slice(strings[r.clone()].as_bytes()),
        other => write_value(buf, strings, other),
    }
}

fn write_human(buf: &mut Vec<u8>, f: &Fields, level: &Level, trace: Option<&TraceContext>) {
    write_timestamp(buf);
    let _ = write!(buf, " {:>7} ", level_name(level).to_ascii_uppercase());
    if let Some(event_type) = &f.event_type {
        write_plain(buf, &f.strings, event_type);
        buf.push(b' ');
    }
    buf.extend_from_slice(f.message.as_bytes());
    let named = [
        ("duration_ms", &f.duration_ms),
        ("success", &f.success),
        ("error", &f.error),
        ("error_type", &f.error_type),
    ];
    let pairs = named
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
        .chain(f.data.iter().map(|(k, v)| (*k, v)))
        .chain(f.other.iter().map(|(k, v)| (*k, v)));
    for (key, value) in pairs {
        let _ = write!(buf, " {key}=");
        write_plain(buf, &f.strings, value);
    }
    if let Some(t) = trace {
        let _ = write!(buf, " trace_id={} span_id={}", t.trace_id, t.span_id);
    }
    buf.push(b'\n');
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_in_urls_never_reach_a_log_line() {
        assert_eq!(
            super::url_without_password("redis://:hunter2@redis:6379/0"),
            "redis://:***@redis:6379/0"
        );
        assert_eq!(
            super::url_without_password("redis://127.0.0.1:6379/3"),
            "redis://127.0.0.1:6379/3"
        );
        assert_eq!(
            super::without_url_credentials(
                "error sending request for url (http://user:pw@collector:4318/v1/traces)"
            ),
            "error sending request for url (http://***@collector:4318/v1/traces)"
        );
        assert_eq!(
            super::without_url_credentials("connection refused"),
            "connection refused"
        );
    }

    use super::*;
    use std::sync::Mutex;
    use tracing_subscriber::layer::SubscriberExt;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Capture {
            self.clone()
        }
    }

    #[test]
    fn platform_key_order_and_trace_fields() {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::registry()
            .with(PlatformLayer::new(capture.clone(), LogFormat::Json));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("call");
            let mut trace = TraceContext::new_root();
            trace.trace_id = "t1".into();
            trace.session_id = Some("s1".into());
            trace.origin_service = Some("agent-api".into());
            attach_trace(&span, Arc::new(trace));
            let _guard = span.enter();
            tracing::info!(
                event_type = "postgres.query.complete",
                duration_ms = 1.5,
                success = true,
                data.row_count = 1,
                "SQL query completed successfully"
            );
        });
        let out = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        let line = out.lines().next().unwrap();
        assert!(
            line.starts_with(r#"{"event_type":"postgres.query.complete","duration_ms":1.5,"success":true,"data":{"row_count":1},"event":"SQL query completed successfully","level":"info","timestamp":""#),
            "{line}"
        );
        assert!(line.contains(r#"Z","trace_id":"t1","span_id":""#), "{line}");
        assert!(
            line.ends_with(r#","parent_span_id":null,"session_id":"s1","api_key_hash":"","origin_service":"agent-api"}"#),
            "{line}"
        );
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let ts = value["timestamp"].as_str().unwrap();
        assert_eq!(ts.len(), "2026-11-24T14:17:46.806794Z".len(), "{ts}");
    }

    #[test]
    fn plain_events_have_no_trace_and_escape_text() {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::registry()
            .with(PlatformLayer::new(capture.clone(), LogFormat::Json));
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(
                port = 8080u64,
                detail = "back\\slash \u{1} tab\t é \"q\"",
                plain = "no escapes, ünïcode",
                "quote \" and\nnewline"
            );
        });
        let out = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        let value: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(value["event"], "quote \" and\nnewline");
        assert_eq!(value["level"], "warning");
        assert_eq!(value["port"], 8080);
        assert_eq!(value["detail"], "back\\slash \u{1} tab\t é \"q\"");
        assert_eq!(value["plain"], "no escapes, ünïcode");
        assert!(value.get("trace_id").is_none());
    }

    #[test]
    fn timestamps_match_a_full_format_of_the_current_time() {
        // The date and time are cached per second: compare with a full format taken in the same second.
        let matched = (0..5).any(|_| {
            let before = OffsetDateTime::now_utc().format(TIMESTAMP).unwrap();
            let mut buf = Vec::new();
            write_timestamp(&mut buf);
            let text = String::from_utf8(buf).unwrap();
            assert_eq!(text.len(), "2026-11-24T14:17:46.806794Z".len(), "{text}");
            assert!(text.ends_with('Z') && text.as_bytes()[19] == b'.', "{text}");
            text[..19] == before[..19]
        });
        assert!(matched, "the cached seconds never matched the clock");
    }
}
