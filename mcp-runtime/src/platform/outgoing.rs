//! Outgoing calls: the HTTP client a connector hands tools ([`Connection::http`]), bound to the
//! connector's URL, sending its auth headers and, on every request, the trace headers of the call
//! that makes it, so that the service called continues the caller's trace with no code of the
//! author's.
//!
//! Feature `platform` (reqwest is the platform's HTTP client; a plain build links none).
//!
//! [`Connection::http`]: super::Connection::http

use std::{fmt, sync::Arc, time::Duration};

use http::HeaderMap;
use reqwest::{Method, RequestBuilder};

use super::{connectors::Connector, endpoint::ConnectionState};
use crate::{ToolError, trace::TraceContext};

/// A client for a connector's HTTP service, from [`Connection::http`](super::Connection::http): each
/// request goes to the connector's URL with the connector's headers (`Authorization: Bearer <key>`
/// when `{ID}_APIKEY` is set locally; none inside a stack) and the trace headers of the call it is
/// made in: the platform's `X-Trace-ID`, `X-Span-ID` (this call's span), `X-Parent-Span-ID` (the
/// caller's span, empty when none), `X-Session-ID` and `X-Origin-Service` (when the call has them),
/// and W3C `traceparent` (plus the caller's `tracestate`), as [`TraceContext::outgoing_headers`] makes
/// them.
///
/// ```no_run
/// # use mcp_runtime::{Connection, ToolError};
/// // In a #[cm_tool] fn: `api: Connection` (or `Connection<Marker>`).
/// async fn items(api: Connection) -> Result<String, ToolError> {
///     let response = api.http()?.get("/items?limit=10").send().await?;
///     Ok(response.error_for_status()?.text().await?)
/// }
/// ```
///
/// The methods return reqwest's [`RequestBuilder`](reqwest::RequestBuilder) (re-exported as
/// `cm_mcp::reqwest`), to add a body, a query, headers or a timeout before `send()`. The underlying
/// [`reqwest::Client`] is one per connector, shared by every call, so connections are pooled; a
/// `ConnectorClient` holds the URL and headers of the moment [`http`](super::Connection::http) was
/// called, so take a new one per call rather than keep one.
#[derive(Clone)]
pub struct ConnectorClient {
    client: reqwest::Client,
    config_id: Arc<str>,
    base: String,
    headers: HeaderMap,
    /// The trace of the call the connection was injected into: used when a request is built where no
    /// call's span is current (a task the tool spawned).
    trace: Option<Arc<TraceContext>>,
}

impl ConnectorClient {
    /// The client of `decl`'s connection in `state` (connected), sending through `client`.
    pub(super) fn new(
        decl: &Connector,
        client: reqwest::Client,
        state: &ConnectionState,
        trace: Option<Arc<TraceContext>>,
    ) -> Result<ConnectorClient, ToolError> {
        let url = state.url().unwrap_or_default();
        let is_http = url::Url::parse(url)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
        if !is_http {
            // A database connector's URL is a host name for the database's own protocol.
            return Err(ToolError::internal(format!(
                "{} ({}) is a `{}` connector whose URL `{url}` is not an HTTP URL: Connection::http() is for HTTP services; connect with url() and the service's own client",
                decl.label,
                decl.config_id,
                decl.kind.as_str()
            )));
        }
        Ok(ConnectorClient {
            client,
            config_id: decl.config_id.as_str().into(),
            base: url.trim_end_matches('/').to_string(),
            headers: state.headers().clone(),
            trace,
        })
    }

    /// The client a connector shares among its calls. reqwest sets no timeout by default: a connect
    /// bound keeps a service that is down from holding a call until the client gives up; how long a
    /// response may take is the author's (`RequestBuilder::timeout`).
    pub(super) fn pooled() -> reqwest::Client {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("cm-mcp/", env!("CARGO_PKG_VERSION")))
            .build()
            // Only a TLS back end that fails to initialise makes `build` fail; its requests then
            // fail alike, with the reason, rather than the server panicking.
            .unwrap_or_default()
    }

    /// The connector's `config_id`.
    pub fn id(&self) -> &str {
        &self.config_id
    }

    /// The connector's URL, without a trailing `/`, that paths are appended to.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The URL of `path` on the connector: `path` is appended to the connector's URL (which may have
    /// a path of its own: `http://host/v1` + `/items` is `http://host/v1/items`); a path starting with
    /// `?` adds a query to it.
    pub fn url(&self, path: &str) -> String {
        if path.is_empty() || path.starts_with('?') || path.starts_with('#') {
            format!("{}{path}", self.base)
        } else {
            format!("{}/{}", self.base, path.trim_start_matches('/'))
        }
    }

    /// A `method` request for `path` (see [`url`](Self::url)), with the connector's headers and the
    /// current call's trace headers.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut headers = self.headers.clone();
        if let Some(trace) = current_trace().or_else(|| self.trace.clone()) {
            headers.extend(trace.outgoing_headers());
        }
        self.client.request(method, self.url(path)).headers(headers)
    }

    /// A `GET` request for `path`.
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }

    /// A `POST` request for `path`.
    pub fn post(&self, path: &str) -> RequestBuilder {
        self.request(Method::POST, path)
    }

    /// A `PUT` request for `path`.
    pub fn put(&self, path: &str) -> RequestBuilder {
        self.request(Method::PUT, path)
    }

    /// A `PATCH` request for `path`.
    pub fn patch(&self, path: &str) -> RequestBuilder {
        self.request(Method::PATCH, path)
    }

    /// A `DELETE` request for `path`.
    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.request(Method::DELETE, path)
    }

    /// The pooled client itself, for what the builders do not cover; requests made with it directly
    /// get neither the connector's headers nor the trace headers.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

impl fmt::Debug for ConnectorClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the headers: they may carry the connector's API key.
        f.debug_struct("ConnectorClient")
            .field("config_id", &self.config_id)
            .field("base_url", &self.base)
            .finish()
    }
}

/// The trace of the call whose span is current: the `TraceContext` the call path attached to its
/// `mcp.call` span (`events::attach_trace`), found from the current span or any of its parents
/// (a span the tool opened inside the call).
fn current_trace() -> Option<Arc<TraceContext>> {
    tracing::Span::current()
        .with_subscriber(|(id, dispatch)| {
            let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
            let span = tracing_subscriber::registry::LookupSpan::span(registry, id)?;
            span.scope()
                .find_map(|s| s.extensions().get::<Arc<TraceContext>>().cloned())
        })
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::{ConnectorType, Mode};

    fn state(url: &str) -> ConnectionState {
        ConnectionState {
            urls: vec![url.to_string()],
            connected: true,
            ..ConnectionState::unassigned(Mode::Local)
        }
    }

    fn client(url: &str) -> Result<ConnectorClient, ToolError> {
        ConnectorClient::new(
            &Connector::api("API", "The API"),
            reqwest::Client::new(),
            &state(url),
            None,
        )
    }

    #[test]
    fn paths_are_appended_to_the_connectors_url_and_its_own_path() {
        let api = client("http://host:8080/v1").unwrap();
        assert_eq!(api.url("/items"), "http://host:8080/v1/items");
        assert_eq!(api.url("items?a=1"), "http://host:8080/v1/items?a=1");
        assert_eq!(api.url(""), "http://host:8080/v1");
        assert_eq!(api.url("?q=x"), "http://host:8080/v1?q=x");
        let root = client("https://host").unwrap();
        assert_eq!(root.url("/"), "https://host/");
        assert_eq!(root.base_url(), "https://host");
    }

    #[test]
    fn a_database_connectors_host_is_not_an_http_url() {
        let error = ConnectorClient::new(
            &Connector::new(ConnectorType::Database, "DATABASE", "The database"),
            reqwest::Client::new(),
            &state("pg-rw.databases.svc.cluster.local"),
            None,
        )
        .unwrap_err();
        assert!(
            error
                .message()
                .contains("The database (DATABASE) is a `database` connector"),
            "{error}"
        );
        assert!(error.message().contains("not an HTTP URL"), "{error}");
    }

    #[test]
    fn outside_a_call_the_injected_trace_is_used_and_without_one_no_trace_header() {
        let mut api = client("http://host").unwrap();
        let request = api.get("/x").build().unwrap();
        assert!(!request.headers().contains_key("x-trace-id"));
        assert!(!request.headers().contains_key("traceparent"));

        let trace = Arc::new(TraceContext::new_root());
        api.trace = Some(trace.clone());
        let request = api.get("/x").build().unwrap();
        assert_eq!(request.headers()["x-trace-id"], trace.trace_id.as_str());
        assert_eq!(
            request.headers()["traceparent"],
            trace.traceparent().as_str()
        );
    }
}
