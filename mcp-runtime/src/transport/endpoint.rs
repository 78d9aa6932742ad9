//! `/mcp`: rmcp's streamable HTTP service, plus what rmcp does not do for us:
//!
//! - POSTs counted as in flight, so that shutdown waits for them;
//! - the request body read here, within a size limit and a deadline, so that an oversized body is
//!   answered 413 and a slow one 408, each with a JSON-RPC error naming the limit and the flag that
//!   sets it (rmcp would answer the first in plain text and wait for the second forever);
//! - rmcp's `500` for a refused session turned into a `503` that says which limit was reached;
//! - `DELETE` of a session answered `204` (rmcp's `202` makes the Python client print "Session
//!   termination failed"), and of an unknown session `404`, as the specification wants;
//! - rmcp's `415` for an unparseable body turned into a JSON-RPC parse error;
//! - a POST's response head held until its answer (at most [`HEAD_WAITS_FOR`]) and its event stream
//!   ended with the answer, so that a short call's response leaves in one write, not three;
//! - with several replicas (`MCP_REDIS_URL`): a legacy request refused with a `503` naming the shared
//!   state while Redis is away, each request renewing its session's TTL in the shared state, and a
//!   client's answer to a server request passed on to the replica that waits for it.

use std::{
    collections::VecDeque,
    convert::Infallible,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    extract::Request,
    response::{IntoResponse, Response},
};
use futures::future::BoxFuture;
use http::{HeaderValue, StatusCode, header};
use http_body::{Frame, SizeHint};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use rmcp::transport::StreamableHttpService;
use tokio_util::task::{TaskTracker, task_tracker::TaskTrackerToken};

use super::sessions::{BoundedSessions, SESSION_LIMIT};
use crate::{handler::McpHandler, replicas::Message};

/// The bounds on a request body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimits {
    /// The largest body accepted.
    pub max_bytes: usize,
    /// How long the whole body may take to arrive.
    pub read_timeout: Duration,
}

/// `/mcp`; cheap to clone (one `Arc`), as axum clones a service for every request.
#[derive(Clone)]
pub(crate) struct McpEndpoint(Arc<Endpoint>);

struct Endpoint {
    /// Called through a shared reference: rmcp's own `Service` impl and a `from_fn` middleware
    /// would each clone it, configuration included, on every request.
    rmcp: StreamableHttpService<McpHandler, BoundedSessions>,
    sessions: Arc<BoundedSessions>,
    posts: TaskTracker,
    body: BodyLimits,
    /// Told to a client refused a session: how long until an idle one makes room.
    idle_timeout: Duration,
    /// Without sessions, rmcp answers `DELETE` with 405 itself.
    stateless: bool,
}

impl McpEndpoint {
    pub(crate) fn new(
        rmcp: StreamableHttpService<McpHandler, BoundedSessions>,
        sessions: Arc<BoundedSessions>,
        posts: TaskTracker,
        body: BodyLimits,
        idle_timeout: Duration,
        stateless: bool,
    ) -> McpEndpoint {
        McpEndpoint(Arc::new(Endpoint {
            rmcp,
            sessions,
            posts,
            body,
            idle_timeout,
            stateless,
        }))
    }
}

impl tower_service::Service<Request> for McpEndpoint {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let endpoint = self.0.clone();
        Box::pin(async move { Ok(endpoint.handle(request).await) })
    }
}

impl Endpoint {
    async fn handle(&self, request: Request) -> Response {
        let method = request.method().clone();
        let mut in_flight = None;
        // A POST of one message (not a batch) has at most one answer.
        let mut single = false;
        let session = (!self.stateless)
            .then(|| request.headers().get("mcp-session-id"))
            .flatten()
            .and_then(|id| id.to_str().ok())
            .map(str::to_string);
        if method != http::Method::POST
            && let Some(refused) = self.share(session.as_deref(), None)
        {
            return refused;
        }
        let request = if method == http::Method::POST {
            // GET streams are not counted: they last as long as a session.
            in_flight = Some(self.posts.token());
            let (parts, body) = match self.read_body(request).await {
                Ok(read) => read,
                Err(refused) => return refused,
            };
            if let Some(refused) = self.share(session.as_deref(), Some(&body)) {
                return refused;
            }
            single = body.trim_ascii_start().first() == Some(&b'{');
            if !self.stateless
                && self.sessions.is_full()
                && !parts.headers.contains_key("mcp-session-id")
                && let Some(refused) = self.refuse_initialize(&body)
            {
                return refused;
            }
            Request::from_parts(parts, Body::from(body))
        } else if method == http::Method::DELETE && !self.stateless {
            if let Some(unknown) = self.unknown_session(request.headers()).await {
                return unknown;
            }
            request
        } else {
            request
        };
        let request_method = request.headers().get("mcp-method").cloned();
        let response = self.rmcp.handle(request).await;
        let response = match response.status() {
            StatusCode::UNSUPPORTED_MEDIA_TYPE if is_rmcp_parse_error(&response) => {
                return json_rpc_parse_error(response).await;
            }
            StatusCode::INTERNAL_SERVER_ERROR => return self.session_limit(response).await,
            StatusCode::ACCEPTED if method == http::Method::DELETE => {
                let (mut parts, body) = response.into_parts();
                parts.status = StatusCode::NO_CONTENT;
                http::Response::from_parts(parts, body)
            }
            _ => response,
        };
        let event_stream = response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        let strip_ids = event_stream && self.sessions.shared().is_some();
        // A listen request's stream has no answer to wait for.
        let answered = single
            && request_method
                .as_ref()
                .is_none_or(|m| m != "subscriptions/listen");
        let response = if event_stream && answered {
            let (parts, body) = response.into_parts();
            let body = EndsAtAnswer {
                body,
                answered: false,
            };
            Response::from_parts(parts, Body::new(FirstEvents::read(body).await))
        } else {
            response.map(Body::new)
        };
        response.map(|body| {
            let body = match in_flight {
                Some(token) => Body::new(InFlight {
                    body,
                    _token: token,
                }),
                None => Body::new(body),
            };
            if strip_ids {
                Body::new(WithoutEventIds(body))
            } else {
                body
            }
        })
    }

    /// The request's head and its body read in full, or the answer to a body too large or too slow.
    async fn read_body(&self, request: Request) -> Result<(http::request::Parts, Bytes), Response> {
        let BodyLimits {
            max_bytes,
            read_timeout,
        } = self.body;
        let (parts, body) = request.into_parts();
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > max_bytes as u64) {
            return Err(self.too_large());
        }
        let read = Limited::new(body, max_bytes).collect();
        match tokio::time::timeout(read_timeout, read).await {
            Ok(Ok(collected)) => Ok((parts, collected.to_bytes())),
            Ok(Err(error)) if error.is::<LengthLimitError>() => Err(self.too_large()),
            Ok(Err(error)) => Err(refusal(
                StatusCode::BAD_REQUEST,
                None,
                -32600,
                format!("Invalid request: the body could not be read ({error})"),
            )),
            Err(_) => Err(refusal(
                StatusCode::REQUEST_TIMEOUT,
                None,
                -32600,
                format!(
                    "Request timeout: the body did not arrive within {} (the limit; \
                     raise it with --body-read-timeout or MCP_BODY_READ_TIMEOUT)",
                    seconds(read_timeout)
                ),
            )),
        }
    }

    fn too_large(&self) -> Response {
        refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            -32600,
            format!(
                "Request body too large: the limit is {} bytes (raise it with --max-body-bytes \
                 or MCP_MAX_BODY_BYTES)",
                self.body.max_bytes
            ),
        )
    }

    /// What a request of a legacy session needs from the shared state, when there is one: it is
    /// refused while Redis is away (answered `503`: another replica could not continue the session);
    /// otherwise its session's TTL is renewed, and a client's answer to a server request is
    /// published, for the replica that sent the request may not be this one.
    fn share(&self, session: Option<&str>, body: Option<&Bytes>) -> Option<Response> {
        let shared = self.sessions.shared()?;
        let redis = shared.redis();
        // Only legacy requests: those of a session, and the `initialize` that opens one.
        if !redis.is_connected() && (session.is_some() || body.is_some_and(|b| is_initialize(b))) {
            return Some(refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                body.and_then(|body| request_id(body)),
                -32000,
                format!(
                    "Shared state unavailable: sessions of protocol revisions before 2026-07-28 live in the shared state (Redis at {}), which does not answer now; retry shortly (requests of protocol 2026-07-28, which has no sessions, are served meanwhile)",
                    redis.display()
                ),
            ));
        }
        let session = session?;
        let response = body.and_then(|body| client_response(body));
        let renew = shared.renewal_due(session);
        if renew || response.is_some() {
            let session = session.to_string();
            let shared = shared.clone();
            tokio::spawn(async move {
                if renew {
                    shared.touch(&session).await;
                }
                if let Some(message) = response {
                    shared
                        .redis()
                        .publish(Message::ClientResponse { session, message })
                        .await;
                }
            });
        }
        None
    }

    /// `404` for a `DELETE` of a session that does not exist (rmcp would answer `202`).
    async fn unknown_session(&self, headers: &http::HeaderMap) -> Option<Response> {
        let id: Arc<str> = Arc::from(headers.get("mcp-session-id")?.to_str().ok()?);
        if self.sessions.contains(&id).await {
            return None;
        }
        if let Some(shared) = self.sessions.shared()
            && shared.exists(&id).await.unwrap_or(true)
        {
            // Held by another replica: rmcp removes it from the store, and every replica closes it.
            return None;
        }
        Some(
            (
                StatusCode::NOT_FOUND,
                "Not Found: Session not found (it was closed, or expired after being idle)",
            )
                .into_response(),
        )
    }

    /// When every place is taken, an `initialize` is answered 503 here, with its id, before rmcp
    /// creates a handler for it and logs the manager's refusal as an internal error.
    fn refuse_initialize(&self, body: &[u8]) -> Option<Response> {
        let probe = probe(body)?;
        (probe.method == Some("initialize")).then(|| self.too_many_sessions(probe.id))
    }

    fn too_many_sessions(&self, id: Option<serde_json::Value>) -> Response {
        self.sessions.refused();
        refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            id,
            -32000,
            format!(
                "Too many sessions: this server holds its limit of {} live sessions. Close \
                 unused sessions (DELETE /mcp), wait for idle ones to expire (after {}, \
                 --session-idle-timeout or MCP_SESSION_IDLE_TIMEOUT), or raise the limit with \
                 --max-sessions or MCP_MAX_SESSIONS",
                self.sessions.max(),
                seconds(self.idle_timeout)
            ),
        )
    }

    /// rmcp answers a session the manager refused with `500` and the manager's error as text (when
    /// a place was taken between [`Self::refuse_initialize`]'s look and rmcp's request): that one
    /// becomes a `503` naming the limit; any other `500` passes unchanged.
    async fn session_limit<B>(&self, response: http::Response<B>) -> Response
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<axum::BoxError>,
    {
        let (parts, body) = response.into_parts();
        let Ok(bytes) = axum::body::to_bytes(Body::new(body), 64 * 1024).await else {
            return Response::from_parts(parts, Body::empty());
        };
        if !String::from_utf8_lossy(&bytes).contains(SESSION_LIMIT) {
            return Response::from_parts(parts, Body::from(bytes));
        }
        self.too_many_sessions(None)
    }
}

/// The start of a JSON-RPC message, read without copying its params.
#[derive(serde::Deserialize)]
struct Probe<'a> {
    #[serde(borrow)]
    method: Option<&'a str>,
    id: Option<serde_json::Value>,
    result: Option<&'a serde_json::value::RawValue>,
    error: Option<&'a serde_json::value::RawValue>,
}

fn probe(body: &[u8]) -> Option<Probe<'_>> {
    serde_json::from_slice(body).ok()
}

fn is_initialize(body: &[u8]) -> bool {
    probe(body).is_some_and(|p| p.method == Some("initialize"))
}

fn request_id(body: &[u8]) -> Option<serde_json::Value> {
    probe(body)?.id
}

/// The body, when it is a client's answer (a JSON-RPC response) to a request of the server's.
fn client_response(body: &[u8]) -> Option<serde_json::Value> {
    // A response has a `"result"` or an `"error"` key; nearly every POST is a request with
    // neither anywhere in it, which a scan finds more cheaply than a parse.
    let has = |key: &[u8]| body.windows(key.len()).any(|w| w == key);
    if !has(b"\"result\"") && !has(b"\"error\"") {
        return None;
    }
    let probe = probe(body)?;
    if probe.method.is_some() || (probe.result.is_none() && probe.error.is_none()) {
        return None;
    }
    serde_json::from_slice(body).ok()
}

/// An HTTP error with a JSON-RPC error object (id `null` when the request was not read as JSON-RPC).
fn refusal(
    status: StatusCode,
    id: Option<serde_json::Value>,
    code: i32,
    message: String,
) -> Response {
    let error = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": { "code": code, "message": message },
    });
    let mut response = (status, axum::Json(error)).into_response();
    if status == StatusCode::PAYLOAD_TOO_LARGE || status == StatusCode::REQUEST_TIMEOUT {
        // The rest of the body was not read: the connection cannot carry another request.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// `300 s`, `0.5 s`.
fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

/// A response body that keeps its POST counted as in flight until it has been sent: the handler's
/// own token ends when it returns, before rmcp has written the answer to the request's event stream,
/// and shutdown must not close the sessions in between.
struct InFlight<B> {
    body: B,
    _token: TaskTrackerToken,
}

impl<B: http_body::Body + Unpin> http_body::Body for InFlight<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// An event stream of a legacy session without its events' ids, when several replicas serve the
/// session. rmcp numbers a session's events per process: after a replica dies, a client resuming a
/// stream with `Last-Event-ID` on another replica would be answered with that replica's events of
/// the same number (another request's), or with an empty stream it would resume again forever (rmcp's
/// client and the Python SDK both do, so a call in flight on a dead replica never ended). Without
/// ids a client cannot resume: a stream cut by a replica's death fails its call at once, as a
/// request to a dead server does, and the client may call again. rmcp writes one event per frame.
struct WithoutEventIds<B>(B);

impl<B: http_body::Body<Data = Bytes> + Unpin> http_body::Body for WithoutEventIds<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let polled = Pin::new(&mut self.0).poll_frame(cx);
        polled.map(|frame| {
            frame.map(|frame| {
                frame.map(|frame| {
                    frame.map_data(|data| {
                        if !data.starts_with(b"id:") && !data.windows(4).any(|w| w == b"\nid:") {
                            return data;
                        }
                        let kept: Vec<u8> = data
                            .split_inclusive(|b| *b == b'\n')
                            .filter(|line| !line.starts_with(b"id:"))
                            .flatten()
                            .copied()
                            .collect();
                        Bytes::from(kept)
                    })
                })
            })
        })
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// A POST's event stream that ends with the event answering its request.
///
/// The answer is the last event a POST's stream carries (the specification has the server close the
/// stream after it), but rmcp ends the stream only once its service for the request has wound down,
/// a moment later: the end then travels as one more write and one more wake-up of the client, for
/// every call. Ended here, the answer and the end of the stream leave in one write.
struct EndsAtAnswer<B> {
    body: B,
    answered: bool,
}

impl<B: http_body::Body<Data = Bytes> + Unpin> http_body::Body for EndsAtAnswer<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        if self.answered {
            return Poll::Ready(None);
        }
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && frame.data_ref().is_some_and(|data| is_answer_event(data))
        {
            self.answered = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.answered || self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        if self.answered {
            SizeHint::with_exact(0)
        } else {
            self.body.size_hint()
        }
    }
}

/// How long a POST's response head waits for the answer to its request.
///
/// rmcp returns a POST's response as soon as the request is handed to its service, before any
/// event: hyper then sends the head (with the priming event, with sessions, and a log message the
/// call sends first) in one write and the answer in another, and the client wakes for each. Held
/// until the answer (short calls answer within microseconds), head, events and answer leave in one
/// write. A call that takes longer gets its head and first events after this wait, as before, so a
/// client still learns early that its request was taken and, from the priming event, where to
/// resume; a request of the server's (sampling, elicitation), which the call waits on, is sent at once.
const HEAD_WAITS_FOR: Duration = Duration::from_millis(20);

/// At most this many events are held back with the head.
const HEAD_WAITS_FOR_EVENTS: usize = 32;

/// A POST's event stream with the events read before its response head was sent.
struct FirstEvents<B> {
    read: VecDeque<Frame<Bytes>>,
    body: B,
}

impl<B: http_body::Body<Data = Bytes, Error = Infallible> + Unpin> FirstEvents<B> {
    /// Reads `body`'s events up to the answer or a request of the server's, for at most
    /// [`HEAD_WAITS_FOR`].
    async fn read(mut body: B) -> FirstEvents<B> {
        let mut read = VecDeque::new();
        // Not started (no timer is set) unless an event has to be waited for.
        let deadline = tokio::time::sleep(HEAD_WAITS_FOR);
        tokio::pin!(deadline);
        loop {
            let frame = tokio::select! {
                biased;
                frame = body.frame() => frame,
                () = &mut deadline => break,
            };
            let Some(Ok(frame)) = frame else { break };
            let more = frame
                .data_ref()
                .is_some_and(|data| leads_up_to_answer(data));
            read.push_back(frame);
            if !more || read.len() == HEAD_WAITS_FOR_EVENTS {
                break;
            }
        }
        FirstEvents { read, body }
    }
}

impl<B: http_body::Body<Data = Bytes, Error = Infallible> + Unpin> http_body::Body
    for FirstEvents<B>
{
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.read.pop_front() {
            Some(frame) => Poll::Ready(Some(Ok(frame))),
            None => Pin::new(&mut self.body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.read.is_empty() && self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// Whether an event can wait for the answer that follows it: rmcp's priming event (SEP-1699, an
/// empty `data` line with the stream's first event id) or a notification (a log message,
/// progress), written by rmcp as `data: {"jsonrpc":"2.0","method":…` (its types' field order).
fn leads_up_to_answer(event: &[u8]) -> bool {
    event.starts_with(b"data: \n")
        || event.starts_with(b"data:\n")
        || event.starts_with(b"data: {\"jsonrpc\":\"2.0\",\"method\":")
}

/// Whether an event of a stream written by rmcp carries a JSON-RPC answer (a result or an error)
/// rather than a notification or a request of the server's. rmcp writes each message as
/// `data: {"jsonrpc":"2.0","id":…,"result"…` (its types' field order), one event per frame; reading
/// that order is enough, and anything else is taken for "not an answer", which only leaves the
/// stream to end as rmcp ends it.
fn is_answer_event(event: &[u8]) -> bool {
    let Some(rest) = event.strip_prefix(b"data: {\"jsonrpc\":\"2.0\",\"id\":") else {
        return false;
    };
    let after_id = match rest.first() {
        Some(b'"') => {
            let mut escaped = false;
            let end = rest[1..].iter().position(|&b| {
                let closes = b == b'"' && !escaped;
                escaped = b == b'\\' && !escaped;
                closes
            });
            match end {
                Some(end) => &rest[end + 2..],
                None => return false,
            }
        }
        _ => {
            let end = rest
                .iter()
                .position(|b| !(b.is_ascii_digit() || *b == b'-'))
                .unwrap_or(rest.len());
            &rest[end..]
        }
    };
    after_id.starts_with(b",\"result\":") || after_id.starts_with(b",\"error\":")
}

/// rmcp answers an unparseable POST body with `415 text/plain` ("fail to deserialize request body").
fn is_rmcp_parse_error<B>(response: &http::Response<B>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| v.as_bytes().starts_with(b"text/plain"))
}

/// JSON-RPC clients expect a `-32700` parse error object where rmcp sends plain text.
async fn json_rpc_parse_error<B>(response: http::Response<B>) -> Response
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(Body::new(body), 64 * 1024).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let text = String::from_utf8_lossy(&bytes);
    let Some(detail) = text.strip_prefix("fail to deserialize request body") else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    refusal(
        StatusCode::BAD_REQUEST,
        None,
        -32700,
        format!(
            "Parse error: the body is not a JSON-RPC message ({})",
            detail.trim()
        ),
    )
}

#[cfg(test)]
// Log messages are deprecated by SEP-2577 and still sent: the tests need one.
#[allow(deprecated)]
mod tests {
    use rmcp::model::{
        CallToolResult, ContentBlock, ErrorData, LoggingLevel, LoggingMessageNotification,
        LoggingMessageNotificationParam, PingRequest, RequestId, ServerJsonRpcMessage,
        ServerNotification, ServerRequest, ServerResult,
    };

    use super::*;
    use futures::StreamExt as _;

    /// A message as rmcp writes it on an event stream.
    fn event(message: ServerJsonRpcMessage) -> Vec<u8> {
        format!("data: {}\n\n", serde_json::to_string(&message).unwrap()).into_bytes()
    }

    fn answer(id: RequestId) -> ServerJsonRpcMessage {
        let result = CallToolResult::success(vec![ContentBlock::text("done \"quoted\", result")]);
        ServerJsonRpcMessage::response(ServerResult::CallToolResult(result), id)
    }

    fn log_message() -> ServerJsonRpcMessage {
        let param = LoggingMessageNotificationParam::new(
            LoggingLevel::Info,
            serde_json::json!("\"id\":1,\"result\":{}"),
        );
        ServerJsonRpcMessage::notification(ServerNotification::LoggingMessageNotification(
            LoggingMessageNotification::new(param),
        ))
    }

    #[test]
    fn answers_are_told_from_notifications_and_requests_as_rmcp_writes_them() {
        for id in [
            RequestId::Number(7),
            RequestId::Number(-1),
            RequestId::String("a \"quoted\\\" id".into()),
        ] {
            assert!(is_answer_event(&event(answer(id.clone()))), "{id:?}");
            let error =
                ServerJsonRpcMessage::error(ErrorData::invalid_params("no", None), Some(id));
            assert!(is_answer_event(&event(error)));
        }
        assert!(!is_answer_event(&event(log_message())));
        let ping = ServerJsonRpcMessage::request(
            ServerRequest::PingRequest(PingRequest::default()),
            RequestId::Number(1),
        );
        assert!(!is_answer_event(&event(ping)));
        assert!(!is_answer_event(b"data: \nid: 0/0\nretry: 3000\n\n"));
        assert!(!is_answer_event(b": keep-alive\n\n"));
    }

    #[tokio::test]
    async fn a_posts_stream_ends_with_its_answer_though_rmcp_has_not_ended_it_yet() {
        let events = futures::stream::iter([
            Ok::<_, Infallible>(Frame::data(Bytes::from(event(log_message())))),
            Ok(Frame::data(Bytes::from(event(answer(RequestId::Number(
                3,
            )))))),
        ])
        .chain(futures::stream::pending());
        let body = EndsAtAnswer {
            body: Body::new(http_body_util::StreamBody::new(events)),
            answered: false,
        };
        let bytes = tokio::time::timeout(Duration::from_secs(10), body.collect())
            .await
            .expect("the stream ends at the answer")
            .unwrap()
            .to_bytes();
        let expected = [event(log_message()), event(answer(RequestId::Number(3)))].concat();
        assert_eq!(bytes, expected);
    }

    #[tokio::test]
    async fn a_posts_head_waits_for_its_answer_and_takes_the_events_before_it_along() {
        let priming = Bytes::from_static(b"data: \nid: 0/0\nretry: 3000\n\n");
        let answer = Bytes::from(event(answer(RequestId::Number(3))));
        let log = Bytes::from(event(log_message()));
        let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Frame<Bytes>, Infallible>>();
        tx.unbounded_send(Ok(Frame::data(priming.clone()))).unwrap();
        let (late_log, late) = (log.clone(), answer.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            tx.unbounded_send(Ok(Frame::data(late_log))).unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
            tx.unbounded_send(Ok(Frame::data(late))).unwrap();
            // The sender stays open: the answer alone must end the stream.
            std::future::pending::<()>().await;
        });
        let body = EndsAtAnswer {
            body: http_body_util::StreamBody::new(rx),
            answered: false,
        };
        let first = FirstEvents::read(body).await;
        let read: Vec<_> = first
            .read
            .iter()
            .filter_map(|f| f.data_ref().cloned())
            .collect();
        assert_eq!(read, [priming.clone(), log.clone(), answer.clone()]);
        let bytes = tokio::time::timeout(Duration::from_secs(10), first.collect())
            .await
            .expect("the stream ends at the answer")
            .unwrap()
            .to_bytes();
        assert_eq!(bytes, [priming, log, answer].concat());
    }

    #[tokio::test]
    async fn a_slow_calls_head_goes_out_after_the_wait_and_its_events_follow() {
        let priming = Bytes::from_static(b"data: \nid: 0/0\nretry: 3000\n\n");
        let answer = Bytes::from(event(answer(RequestId::Number(4))));
        let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Frame<Bytes>, Infallible>>();
        tx.unbounded_send(Ok(Frame::data(priming.clone()))).unwrap();
        let body = EndsAtAnswer {
            body: http_body_util::StreamBody::new(rx),
            answered: false,
        };
        let first = tokio::time::timeout(Duration::from_secs(10), FirstEvents::read(body))
            .await
            .expect("the head waits no longer than HEAD_WAITS_FOR");
        assert_eq!(first.read.len(), 1, "only the priming event was there");
        assert!(!http_body::Body::is_end_stream(&first));
        tx.unbounded_send(Ok(Frame::data(answer.clone()))).unwrap();
        let bytes = first.collect().await.unwrap().to_bytes();
        assert_eq!(bytes, [priming, answer].concat());
    }

    #[test]
    fn priming_events_and_notifications_wait_for_the_answer_and_nothing_else_does() {
        assert!(leads_up_to_answer(b"data: \nid: 0\nretry: 3000\n\n"));
        assert!(leads_up_to_answer(b"data:\nid: 0/1\n\n"));
        assert!(leads_up_to_answer(&event(log_message())));
        assert!(!leads_up_to_answer(&event(answer(RequestId::Number(1)))));
        let ping = ServerJsonRpcMessage::request(
            ServerRequest::PingRequest(PingRequest::default()),
            RequestId::Number(1),
        );
        assert!(
            !leads_up_to_answer(&event(ping)),
            "the call waits on the client"
        );
        assert!(!leads_up_to_answer(b": keep-alive\n\n"));
    }

    #[tokio::test]
    async fn an_event_streams_ids_are_left_out_and_the_rest_of_each_event_kept() {
        let events = futures::stream::iter([
            Ok::<_, Infallible>(Frame::data(Bytes::from_static(
                b"data: \nid: 0/0\nretry: 3000\n\n",
            ))),
            Ok(Frame::data(Bytes::from_static(
                b"data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\nid: 0/1\n\n",
            ))),
            Ok(Frame::data(Bytes::from_static(
                b"data: {\"id:\":\"no line\"}\n\n",
            ))),
        ]);
        let body = WithoutEventIds(Body::new(http_body_util::StreamBody::new(events)));
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            "data: \nretry: 3000\n\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\ndata: {\"id:\":\"no line\"}\n\n"
        );
    }
}
