//! The caller's trace, from arbitrary headers (platform `X-Trace-Id`, `X-Span-Id`, `X-Session-Id`,
//! `X-Origin-Service`, `Authorization`, `X-Api-Key`, W3C `traceparent`/`tracestate`, any other) and an
//! arbitrary `_meta` object (`TraceContext::from_request`), then passed on
//! (`TraceContext::outgoing_headers`). The input is an HTTP header block, an empty line, and `_meta`
//! as JSON:
//!
//! ```text
//! traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
//! x-session-id: abc
//!
//! {"traceparent": "00-..."}
//! ```
//!
//! Properties: nothing panics; the call always gets a new 16-hex span id and a non-empty trace id;
//! platform headers win and are taken as sent (trimmed); a `traceparent` (the header, else `_meta`'s)
//! is taken exactly when it is well-formed by W3C's rules, and then as it says; an API key appears only
//! as its 16-hex hash; and the headers passed on carry the trace to the next service unchanged (read
//! back, they give the same trace, session and origin, with this call's span as the parent).
#![no_main]

use cm_mcp::{TraceContext, rmcp::model::RequestMetaObject, trace::api_key_hash};
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

/// W3C Trace Context's `traceparent`: `version-traceid-parentid-flags`, lowercase or uppercase hex here
/// (read leniently), version `ff` invalid, all-zero ids invalid; later versions may append fields.
fn w3c(value: &str) -> Option<(String, String)> {
    let fields: Vec<&str> = value.trim().split('-').collect();
    let [version, trace, parent, flags, ..] = fields[..] else {
        return None;
    };
    // W3C: version 00 has exactly four fields; later versions may append more.
    if version == "00" && fields.len() != 4 {
        return None;
    }
    let ok = is_hex(version, 2)
        && !version.eq_ignore_ascii_case("ff")
        && is_hex(trace, 32)
        && is_hex(parent, 16)
        && is_hex(flags, 2)
        && trace.bytes().any(|b| b != b'0')
        && parent.bytes().any(|b| b != b'0');
    ok.then(|| (trace.to_ascii_lowercase(), parent.to_ascii_lowercase()))
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn lower_hex(s: &str, len: usize) -> bool {
    is_hex(s, len) && !s.bytes().any(|b| b.is_ascii_uppercase())
}

/// A header as `from_request` reads it: text, trimmed, not empty.
fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Checks the invariants every trace context keeps.
fn check_shape(trace: &TraceContext) {
    assert!(lower_hex(&trace.span_id, 16), "span id {:?}", trace.span_id);
    assert!(!trace.trace_id.is_empty());
    assert!(
        trace.api_key_hash.is_empty() || lower_hex(&trace.api_key_hash, 16),
        "api key hash {:?}",
        trace.api_key_hash
    );
}

fuzz_target!(|data: &[u8]| {
    let (block, meta) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &[][..]),
    };
    let mut headers = HeaderMap::new();
    for line in block.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii_start()),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    let meta: RequestMetaObject = serde_json::from_slice(meta).unwrap_or_default();

    let trace = TraceContext::from_request(Some(&headers), &meta);
    check_shape(&trace);
    assert_ne!(
        trace.parent_span_id.as_deref(),
        Some(trace.span_id.as_str())
    );

    if let Some(platform) = header(&headers, "x-trace-id") {
        assert_eq!(trace.trace_id, platform);
        assert_eq!(
            trace.parent_span_id.as_deref(),
            header(&headers, "x-span-id")
        );
    } else {
        // The header's traceparent, else `_meta`'s: taken exactly when well-formed.
        let source = header(&headers, "traceparent").or_else(|| meta.get_traceparent());
        match source.and_then(w3c) {
            Some((trace_id, parent)) => {
                assert_eq!(
                    (&trace.trace_id, trace.parent_span_id.as_ref()),
                    (&trace_id, Some(&parent))
                );
                assert_eq!(
                    trace.tracestate.as_deref(),
                    header(&headers, "tracestate").or_else(|| meta.get_tracestate())
                );
            }
            None => {
                assert_eq!(trace.parent_span_id, None, "{source:?} is no traceparent");
                assert!(
                    lower_hex(&trace.trace_id, 32),
                    "a new trace id {:?}",
                    trace.trace_id
                );
            }
        }
    }

    let session = header(&headers, "x-session-id").or_else(|| header(&headers, "mcp-session-id"));
    assert_eq!(trace.session_id.as_deref(), session);
    assert_eq!(
        trace.origin_service.as_deref(),
        header(&headers, "x-origin-service")
    );
    let key = header(&headers, "authorization")
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .or_else(|| header(&headers, "x-api-key"));
    assert_eq!(
        trace.api_key_hash,
        key.map(api_key_hash).unwrap_or_default()
    );

    // Passed on and read back by the next service: the same trace, with this call as the parent.
    let outgoing = trace.outgoing_headers();
    let next = TraceContext::from_request(Some(&outgoing), &RequestMetaObject::default());
    check_shape(&next);
    assert_eq!(next.trace_id, trace.trace_id, "{outgoing:?}");
    assert_eq!(next.parent_span_id.as_deref(), Some(trace.span_id.as_str()));
    assert_eq!(next.session_id, trace.session_id);
    assert_eq!(next.origin_service, trace.origin_service);
    // tracestate is passed on unchanged, where it can be a header value at all.
    if let Some(state) = &trace.tracestate
        && http::HeaderValue::from_str(state).is_ok()
    {
        let passed = outgoing.get("tracestate").map(|v| v.as_bytes());
        assert_eq!(passed, Some(state.as_bytes()), "tracestate is passed on unchanged");
    }
    // A service that reads only W3C headers continues this span too.
    let mut w3c = HeaderMap::new();
    w3c.insert("traceparent", outgoing["traceparent"].clone());
    let next = TraceContext::from_request(Some(&w3c), &RequestMetaObject::default());
    assert_eq!(next.parent_span_id.as_deref(), Some(trace.span_id.as_str()));
    if lower_hex(&trace.trace_id, 32) {
        assert_eq!(next.trace_id, trace.trace_id);
    }
});
