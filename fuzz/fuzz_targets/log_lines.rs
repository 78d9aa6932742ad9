//! The platform's JSON log lines (`events::PlatformLayer`), with arbitrary text in every place a string
//! reaches a line: the message (as a format argument and as a plain string), `event_type`, `error`,
//! `error_type`, `data.*` fields, other fields, a `Debug` value, and every trace field a caller's
//! headers set (trace id, parent span id, session id, origin service).
//!
//! The input is those strings apart by `\xff` bytes (which UTF-8 text never contains), in the order of
//! `Input`'s fields; the trace is attached when there are strings for it.
//!
//! Properties: each event is exactly one line, which is one JSON object whose fields give back the
//! exact strings that went in (so every quote, backslash, control character and non-ASCII character
//! is escaped correctly, and nothing else is touched).
#![no_main]

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use cm_mcp::{
    TraceContext,
    events::{LogFormat, PlatformLayer},
    fuzzing::attach_trace,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tracing_subscriber::{fmt::MakeWriter, layer::SubscriberExt};

struct Input<'a> {
    message: &'a str,
    event_type: &'a str,
    error: &'a str,
    error_type: &'a str,
    data: &'a str,
    other: &'a str,
    debug: &'a str,
    trace: Option<TraceContext>,
}

impl<'a> Input<'a> {
    fn read(data: &'a [u8]) -> Option<Input<'a>> {
        let fields = data
            .split(|b| *b == 0xff)
            .map(std::str::from_utf8)
            .collect::<Result<Vec<&str>, _>>()
            .ok()?;
        let field = |i: usize| fields.get(i).copied().unwrap_or("");
        let optional = |i: usize| fields.get(i).map(|s| s.to_string());
        let trace = fields.get(7).map(|trace_id| {
            let mut trace = TraceContext::new_root();
            trace.trace_id = trace_id.to_string();
            trace.parent_span_id = optional(8);
            trace.session_id = optional(9);
            trace.origin_service = optional(10);
            trace
        });
        Some(Input {
            message: field(0),
            event_type: field(1),
            error: field(2),
            error_type: field(3),
            data: field(4),
            other: field(5),
            debug: field(6),
            trace,
        })
    }
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
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

const NUMBER: i64 = -42;

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::read(data) else {
        return;
    };
    let capture = Capture::default();
    let subscriber =
        tracing_subscriber::registry().with(PlatformLayer::new(capture.clone(), LogFormat::Json));
    let trace = input.trace;
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("mcp.call");
        if let Some(trace) = &trace {
            attach_trace(&span, trace.clone());
        }
        let _entered = span.enter();
        tracing::info!(
            event_type = input.event_type,
            duration_ms = 1.5,
            success = false,
            data.value = input.data,
            data.number = NUMBER,
            error = input.error,
            error_type = input.error_type,
            other = input.other,
            debug = ?input.debug,
            "{}",
            input.message
        );
        tracing::warn!(message = input.message, detail = %input.other);
    });

    let out = capture.0.lock().unwrap().clone();
    let text = String::from_utf8(out).expect("log output is UTF-8");
    assert!(text.ends_with('\n'), "{text:?}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "two events, two lines: {text:?}");
    let parsed: Vec<serde_json::Map<String, Value>> = lines
        .iter()
        .map(|line| match serde_json::from_str(line) {
            Ok(Value::Object(object)) => object,
            other => panic!("not one JSON object: {line:?} ({other:?})"),
        })
        .collect();

    let first = &parsed[0];
    assert_eq!(first["event"], input.message);
    assert_eq!(first["event_type"], input.event_type);
    assert_eq!(first["error"], input.error);
    assert_eq!(first["error_type"], input.error_type);
    assert_eq!(first["data"]["value"], input.data);
    assert_eq!(first["data"]["number"], NUMBER);
    assert_eq!(first["other"], input.other);
    assert_eq!(first["debug"], format!("{:?}", input.debug));
    assert_eq!(first["level"], "info");
    let second = &parsed[1];
    assert_eq!(second["event"], input.message);
    assert_eq!(second["detail"], input.other);
    assert_eq!(second["level"], "warning");

    for line in &parsed {
        match &trace {
            None => assert!(!line.contains_key("trace_id"), "{line:?}"),
            Some(trace) => {
                let text = |v: &Option<String>| v.as_deref().map_or(Value::Null, Value::from);
                assert_eq!(line["trace_id"], trace.trace_id.as_str());
                assert_eq!(line["span_id"], trace.span_id.as_str());
                assert_eq!(line["parent_span_id"], text(&trace.parent_span_id));
                assert_eq!(line["session_id"], text(&trace.session_id));
                assert_eq!(line["origin_service"], text(&trace.origin_service));
                assert_eq!(line["api_key_hash"], "");
            }
        }
    }
});
