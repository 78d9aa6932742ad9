//! Trace context: taken from the caller (platform `X-*` headers, W3C `traceparent`, or MCP's
//! `_meta.traceparent`), continued in a new span for this call, and attached to the tracing span the
//! call runs in so that every log line written during the call carries it.

use http::{HeaderMap, HeaderName};

const X_TRACE_ID: HeaderName = HeaderName::from_static("x-trace-id");
const X_SPAN_ID: HeaderName = HeaderName::from_static("x-span-id");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
const X_SESSION_ID: HeaderName = HeaderName::from_static("x-session-id");
const MCP_SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");
const X_ORIGIN_SERVICE: HeaderName = HeaderName::from_static("x-origin-service");
const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
use rmcp::model::RequestMetaObject;
use sha2::{Digest, Sha256};

/// The trace a call runs in, as the platform's log fields name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// The trace id (32 hex characters when made here).
    pub trace_id: String,
    /// This call's span id (16 hex characters, new for every call).
    pub span_id: String,
    /// The caller's span id, when the caller sent one.
    pub parent_span_id: Option<String>,
    /// `X-Session-ID` (or the MCP session id) of the call.
    pub session_id: Option<String>,
    /// `X-Origin-Service`: which service called.
    pub origin_service: Option<String>,
    /// First 16 hex characters of the SHA-256 of the caller's API key, or empty.
    pub api_key_hash: String,
    /// W3C `tracestate`, passed on unchanged.
    pub tracestate: Option<String>,
    /// Whether the caller sampled its trace (the `sampled` flag of its `traceparent`; true when it
    /// sent none): the `parentbased_*` samplers follow it, and outgoing `traceparent`s pass it on.
    pub sampled: bool,
}

impl TraceContext {
    /// A fresh trace with no caller.
    pub fn new_root() -> TraceContext {
        TraceContext {
            trace_id: new_trace_id(),
            span_id: new_span_id(),
            parent_span_id: None,
            session_id: None,
            origin_service: None,
            api_key_hash: String::new(),
            tracestate: None,
            sampled: true,
        }
    }

    /// The trace of an incoming request: platform headers win, then W3C `traceparent`, then
    /// `_meta.traceparent`; with none of them a new trace starts. The call always gets a new span id.
    pub fn from_request(headers: Option<&HeaderMap>, meta: &RequestMetaObject) -> TraceContext {
        let header = |name: &HeaderName| {
            headers
                .and_then(|h| h.get(name))
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let mut trace = TraceContext::new_root();
        if let Some(trace_id) = header(&X_TRACE_ID) {
            trace.trace_id = trace_id.to_string();
            trace.parent_span_id = header(&X_SPAN_ID).map(str::to_string);
        } else if let Some((trace_id, parent, sampled)) = header(&TRACEPARENT)
            .or_else(|| meta.get_traceparent())
            .and_then(parse_traceparent)
        {
            trace.trace_id = trace_id;
            trace.parent_span_id = Some(parent);
            trace.sampled = sampled;
            trace.tracestate = header(&TRACESTATE)
                .or_else(|| meta.get_tracestate())
                .map(str::to_string);
        }
        trace.session_id = header(&X_SESSION_ID)
            .or_else(|| header(&MCP_SESSION_ID))
            .map(str::to_string);
        trace.origin_service = header(&X_ORIGIN_SERVICE).map(str::to_string);
        if let Some(key) = header(&http::header::AUTHORIZATION)
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .or_else(|| header(&X_API_KEY))
        {
            trace.api_key_hash = api_key_hash(key);
        }
        trace
    }

    /// The W3C `traceparent` of this call's span, for outgoing requests.
    pub fn traceparent(&self) -> String {
        let flags = if self.sampled { "01" } else { "00" };
        format!("00-{}-{}-{flags}", self.w3c_trace_id(), self.span_id)
    }

    /// The trace id as W3C Trace Context and OpenTelemetry have it: the trace id itself when it is
    /// 32 hex characters (as the platform makes them), otherwise a stable hash of it.
    pub(crate) fn w3c_trace_id(&self) -> String {
        if is_hex(&self.trace_id, 32) && self.trace_id.bytes().any(|b| b != b'0') {
            self.trace_id.to_ascii_lowercase()
        } else {
            let digest = Sha256::digest(self.trace_id.as_bytes());
            hex::encode(&digest[..16])
        }
    }

    /// The headers for a call this span makes to another service: the platform's five (`X-Trace-ID`,
    /// `X-Span-ID`, `X-Parent-Span-ID`, `X-Session-ID`, `X-Origin-Service`), W3C `traceparent` naming
    /// this span as the parent, and the caller's `tracestate` unchanged.
    pub fn outgoing_headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let mut put = |name: &'static str, value: &str| {
            if let Ok(value) = value.parse() {
                headers.insert(name, value);
            }
        };
        put("x-trace-id", &self.trace_id);
        put("x-span-id", &self.span_id);
        put(
            "x-parent-span-id",
            self.parent_span_id.as_deref().unwrap_or(""),
        );
        if let Some(session) = &self.session_id {
            put("x-session-id", session);
        }
        if let Some(origin) = &self.origin_service {
            put("x-origin-service", origin);
        }
        put("traceparent", &self.traceparent());
        if let Some(state) = &self.tracestate {
            put("tracestate", state);
        }
        headers
    }
}

/// `00-<32 hex trace>-<16 hex span>-<2 hex flags>` → (trace id, span id, sampled).
fn parse_traceparent(value: &str) -> Option<(String, String, bool)> {
    let mut parts = value.trim().split('-');
    let version = parts.next()?;
    let trace_id = parts.next()?;
    let span_id = parts.next()?;
    let flags = parts.next()?;
    // Version 00 has exactly four fields; a later version may add fields after them.
    if version == "00" && parts.next().is_some() {
        return None;
    }
    // Version ff is forbidden in any case (found by the `trace_headers` fuzz target: `fF` passed).
    let valid = is_hex(version, 2)
        && !version.eq_ignore_ascii_case("ff")
        && is_hex(trace_id, 32)
        && trace_id.bytes().any(|b| b != b'0')
        && is_hex(span_id, 16)
        && span_id.bytes().any(|b| b != b'0')
        && is_hex(flags, 2);
    let sampled = u8::from_str_radix(flags, 16).is_ok_and(|flags| flags & 1 == 1);
    valid.then(|| {
        (
            trace_id.to_ascii_lowercase(),
            span_id.to_ascii_lowercase(),
            sampled,
        )
    })
}

/// Whether `s` is `len` hex digits.
pub(crate) fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The platform's API key hash: the first 16 hex characters of SHA-256 of the key.
pub fn api_key_hash(key: &str) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

/// A trace id as the platform makes them: uuid4 as 32 hex characters.
pub fn new_trace_id() -> String {
    let mut buf = [0u8; 32];
    String::from(uuid::Uuid::new_v4().simple().encode_lower(&mut buf) as &str)
}

/// A span id as the platform makes them: the first 16 hex characters of a uuid4.
pub fn new_span_id() -> String {
    let mut buf = [0u8; 32];
    String::from(&uuid::Uuid::new_v4().simple().encode_lower(&mut buf)[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn platform_headers_win() {
        let h = headers(&[
            ("x-trace-id", "t1"),
            ("x-span-id", "s1"),
            ("x-session-id", "sess"),
            ("x-origin-service", "agent-api"),
            (
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01",
            ),
            ("authorization", "Bearer abc"),
        ]);
        let t = TraceContext::from_request(Some(&h), &RequestMetaObject::default());
        assert_eq!(t.trace_id, "t1");
        assert_eq!(t.parent_span_id.as_deref(), Some("s1"));
        assert_ne!(t.span_id, "s1");
        assert_eq!(t.span_id.len(), 16);
        assert_eq!(t.session_id.as_deref(), Some("sess"));
        assert_eq!(t.origin_service.as_deref(), Some("agent-api"));
        assert_eq!(t.api_key_hash, api_key_hash("abc"));
        assert_eq!(t.api_key_hash.len(), 16);
    }

    #[test]
    fn w3c_from_header_or_meta() {
        let tp = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01";
        let t = TraceContext::from_request(
            Some(&headers(&[("traceparent", tp)])),
            &RequestMetaObject::default(),
        );
        assert_eq!(t.trace_id, "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(t.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));

        let mut meta = RequestMetaObject::default();
        meta.set_traceparent(tp);
        let t = TraceContext::from_request(None, &meta);
        assert_eq!(t.trace_id, "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(t.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert!(
            t.traceparent()
                .starts_with("00-0af7651916cd43dd8448eb211c80319c-")
        );
    }

    #[test]
    fn malformed_traceparent_starts_a_new_trace() {
        for malformed in [
            "00-zz-00f067aa0ba902b7-01",
            // Version 00 has exactly four fields.
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            // Version ff is invalid whatever its case.
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "fF-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ] {
            let mut meta = RequestMetaObject::default();
            meta.set_traceparent(malformed);
            let t = TraceContext::from_request(None, &meta);
            assert_eq!(t.trace_id.len(), 32);
            assert!(t.parent_span_id.is_none(), "{malformed}");
        }
        // A later version may carry more fields: its first four are read.
        let mut meta = RequestMetaObject::default();
        meta.set_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra");
        let t = TraceContext::from_request(None, &meta);
        assert_eq!(t.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
    }

    #[test]
    fn an_unsampled_caller_trace_stays_unsampled_in_outgoing_traceparents() {
        let mut meta = RequestMetaObject::default();
        meta.set_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
        let t = TraceContext::from_request(None, &meta);
        assert!(!t.sampled);
        assert!(t.traceparent().ends_with("-00"), "{}", t.traceparent());
        let root = TraceContext::from_request(None, &RequestMetaObject::default());
        assert!(root.sampled);
        assert!(root.traceparent().ends_with("-01"));
    }

    #[test]
    fn tracestate_is_passed_on_unchanged() {
        let t = TraceContext::from_request(
            Some(&headers(&[
                (
                    "traceparent",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                ),
                ("tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
            ])),
            &RequestMetaObject::default(),
        );
        let out = t.outgoing_headers();
        assert_eq!(out["tracestate"], "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
        let without = TraceContext::from_request(None, &RequestMetaObject::default());
        assert!(!without.outgoing_headers().contains_key("tracestate"));
    }

    #[test]
    fn api_key_hash_is_sha256_prefix() {
        // sha256("secret") = 2bb80d537b1da3e3...
        assert_eq!(api_key_hash("secret"), "2bb80d537b1da3e3");
    }
}
