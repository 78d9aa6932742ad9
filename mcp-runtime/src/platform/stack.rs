//! Stack deployment: the client of the platform's config manager, which assigns the connectors'
//! deployments and holds the service's config.
//!
//! It speaks the protocol of the platform's SDK (`confidentialmind-core`): `GET`, `PATCH`
//! (`deployment_state: "deployed"`), `GET` on `{manager}/internal/{SERVICE_NAME}`, then a websocket on
//! `{realtime}/internal/{SERVICE_NAME}` whose `{"payload": ...}` messages are applied and followed by a
//! fresh `GET`. A manager that is down, slow or failing never stops the server: it serves with the
//! last configuration it received, logs, registers when it can, and after any gap in the socket
//! fetches the document again until the manager answers (see `follow_realtime`).

use std::{sync::Arc, time::Duration};

use futures::{SinkExt as _, StreamExt};
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::{
    SettingsError, SettingsSource, connections::Connections, connectors::ConnectorsBlock,
    endpoint::Endpoint,
};

/// The manager's base URL inside a cluster (`MANAGER_URL` overrides it).
pub const DEFAULT_MANAGER_URL: &str = "http://manager.api-services.svc.cluster.local:8080";
/// The realtime service's base URL inside a cluster (`REALTIME_URL` overrides it).
pub const DEFAULT_REALTIME_URL: &str = "ws://realtime.api-services.svc.cluster.local:8080";

/// Registers `service_name` with the config manager and follows its updates, in the background.
pub(super) fn start(
    service_name: &str,
    settings: Option<Arc<dyn SettingsSource>>,
    connections: &Connections,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let client = StackClient::new(service_name, settings, connections.clone())?;
    tracing::info!(
        data.server_mode = "stack_deployment",
        data.service_name = service_name,
        data.manager_url = client.manager_url.as_str(),
        data.realtime_url = client.realtime_url.as_str(),
        "Running in a stack as {service_name}: registering with the config manager at {}",
        client.manager_url
    );
    connections.start(
        "waiting for the config manager to assign them".into(),
        shutdown,
    );
    tokio::spawn(client.run(shutdown.clone()));
    Ok(())
}

/// The answer of `GET {manager}/internal/{SERVICE_NAME}`, and the payload of realtime messages.
#[derive(Debug, Default, Deserialize)]
struct ManagerDoc {
    #[serde(default)]
    config: Option<Value>,
    #[serde(default)]
    config_schema: Option<Value>,
    #[serde(default)]
    connectors: Option<Value>,
}

/// The body of the registration `PATCH`, keys in the SDK's order.
#[derive(Debug, Serialize)]
struct Registration<'a> {
    config: Option<Value>,
    connectors: Option<&'a ConnectorsBlock>,
    config_schema: Option<Value>,
    deployment_state: &'static str,
}

/// Why a request to the manager failed.
enum Failure {
    /// Worth retrying: unreachable, timed out, 5xx, or an unreadable answer.
    Transient(String),
    /// A 4xx: retrying the same request will not help.
    Rejected(String),
}

impl Failure {
    fn message(&self) -> &str {
        match self {
            Failure::Transient(m) | Failure::Rejected(m) => m,
        }
    }
}

/// The SDK's reconnect waits: 1, 2, 3, 4, 5, 5, ... seconds.
pub(crate) fn manager_backoff(attempt: u32) -> Duration {
    Duration::from_secs(u64::from(attempt.clamp(1, 5)))
}

struct StackClient {
    http: reqwest::Client,
    manager_url: String,
    realtime_url: String,
    /// How often the realtime socket is pinged; a ping unanswered by the next one means the
    /// connection is dead.
    ping_every: Duration,
    settings: Option<Arc<dyn SettingsSource>>,
    connections: Connections,
    declared: ConnectorsBlock,
}

/// The realtime socket's keepalive, as the platform SDK's websocket library does it (a ping every
/// 20 s, 20 s for its answer): a connection that died without closing (a node gone, a NAT entry
/// dropped) is noticed and replaced instead of waited on forever. `REALTIME_PING_INTERVAL` (seconds)
/// changes it.
fn ping_interval() -> Result<Duration, SettingsError> {
    const VAR: &str = "REALTIME_PING_INTERVAL";
    let Some(value) = std::env::var(VAR).ok().filter(|v| !v.trim().is_empty()) else {
        return Ok(Duration::from_secs(20));
    };
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            SettingsError::new(
                VAR,
                format!("{VAR}=`{value}` is not a number of seconds above 0: set it to e.g. 20, or unset it"),
            )
        })
}

/// `var`'s value, or `default`; a value that is not an absolute URL with one of `schemes` is a
/// configuration error, not something to retry forever.
fn base_url(var: &str, default: &str, schemes: &[&str]) -> Result<String, SettingsError> {
    let Some(value) = std::env::var(var)
        .ok()
        .map(|v| v.trim().trim_end_matches('/').to_string())
        .filter(|v| !v.is_empty())
    else {
        return Ok(default.to_string());
    };
    let problem = match url::Url::parse(&value) {
        Ok(url) if !schemes.contains(&url.scheme()) => format!("its scheme is `{}`", url.scheme()),
        Ok(url) if url.host_str().is_none() => "it has no host".to_string(),
        Ok(_) => return Ok(value),
        Err(error) => error.to_string(),
    };
    Err(SettingsError::new(
        var,
        format!(
            "{var} is not a usable URL ({problem}): set it to a {} URL such as `{default}`, or unset it",
            schemes.join("/")
        ),
    ))
}

impl StackClient {
    fn new(
        service_name: &str,
        settings: Option<Arc<dyn SettingsSource>>,
        connections: Connections,
    ) -> anyhow::Result<StackClient> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()?;
        // Stack ids are DNS labels and pass unchanged; anything else is escaped into one path segment.
        const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'_')
            .remove(b'.');
        let name = percent_encoding::utf8_percent_encode(service_name, SEGMENT).to_string();
        let declared = ConnectorsBlock::declared(&connections.declared());
        Ok(StackClient {
            http,
            manager_url: format!(
                "{}/internal/{name}",
                base_url("MANAGER_URL", DEFAULT_MANAGER_URL, &["http", "https"])?
            ),
            realtime_url: format!(
                "{}/internal/{name}",
                base_url("REALTIME_URL", DEFAULT_REALTIME_URL, &["ws", "wss"])?
            ),
            ping_every: ping_interval()?,
            settings,
            connections,
            declared,
        })
    }

    async fn run(self, shutdown: CancellationToken) {
        tokio::select! {
            () = self.register_until_done() => {}
            () = shutdown.cancelled() => return,
        }
        tokio::select! {
            () = self.follow_realtime() => {}
            () = shutdown.cancelled() => {}
        }
    }

    /// GET, PATCH, GET; the whole sequence again, with backoff, while the manager is unreachable or
    /// failing.
    async fn register_until_done(&self) {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match self.register().await {
                Ok(()) => {
                    tracing::info!(
                        event_type = "connection.established",
                        success = true,
                        data.target = "config_manager",
                        data.url = self.manager_url.as_str(),
                        data.attempt = attempt,
                        "Registered with the config manager"
                    );
                    return;
                }
                Err(error) => {
                    let delay = retry_in(
                        &error,
                        "ConfigManagerError",
                        "config_manager",
                        &self.manager_url,
                        attempt,
                        "Could not register with the config manager; serving anyway",
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    async fn register(&self) -> Result<(), String> {
        // 1. What the manager has. On this first request, an answer without config and schema is ignored.
        let existing = match self.get().await {
            Ok(doc) if doc.config.is_none() && doc.config_schema.is_none() => None,
            Ok(doc) => Some(doc),
            Err(Failure::Rejected(message)) => {
                tracing::warn!(
                    data.target = "config_manager",
                    error = message.as_str(),
                    "The config manager refused the first GET; registering anyway"
                );
                None
            }
            Err(Failure::Transient(message)) => return Err(message),
        };
        if let Some(doc) = &existing {
            self.apply_connectors(doc.connectors.as_ref());
        }
        // 2. PATCH: the config re-validated against the settings type (defaults filled), else the
        // current values; the declared connectors; the schema.
        let config = self.settings.as_ref().map(|settings| {
            match existing.as_ref().and_then(|d| d.config.as_ref()) {
                Some(config) if config.is_object() => {
                    settings.apply(config).unwrap_or_else(|error| {
                        self.log_bad_config(&error);
                        settings.current()
                    })
                }
                _ => settings.current(),
            }
        });
        let body = Registration {
            config,
            connectors: (!self.connections.is_empty()).then_some(&self.declared),
            config_schema: self.settings.as_ref().map(|s| s.schema()),
            deployment_state: "deployed",
        };
        match self
            .send(self.http.patch(&self.manager_url).json(&body))
            .await
        {
            Ok(_) => {}
            Err(Failure::Rejected(message)) => tracing::error!(
                event_type = "service.registration.error",
                success = false,
                error = message.as_str(),
                error_type = "ConfigManagerError",
                data.target = "config_manager",
                "The config manager rejected the registration; serving with the current config"
            ),
            Err(Failure::Transient(message)) => return Err(message),
        }
        // 3. What the manager has now.
        match self.get().await {
            Ok(doc) => self.apply(&doc),
            Err(Failure::Rejected(message)) => tracing::warn!(
                data.target = "config_manager",
                error = message.as_str(),
                "The config manager refused the GET after registering; waiting for pushed updates"
            ),
            Err(Failure::Transient(message)) => return Err(message),
        }
        Ok(())
    }

    async fn get(&self) -> Result<ManagerDoc, Failure> {
        let body = self.send(self.http.get(&self.manager_url)).await?;
        if body.trim().is_empty() || body.trim() == "null" {
            return Ok(ManagerDoc::default());
        }
        serde_json::from_str(&body).map_err(|e| {
            Failure::Transient(format!(
                "the config manager's answer to GET {} is not the expected JSON: {e}",
                self.manager_url
            ))
        })
    }

    /// Sends a request; returns the body of a 2xx answer.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<String, Failure> {
        let response = request.send().await.map_err(|e| {
            Failure::Transient(format!(
                "the config manager at {} is unreachable: {}",
                self.manager_url,
                error_chain(&e)
            ))
        })?;
        let status = response.status();
        let body = response.text().await.map_err(|e| {
            Failure::Transient(format!(
                "reading the config manager's answer failed: {}",
                error_chain(&e)
            ))
        })?;
        if status.is_success() {
            return Ok(body);
        }
        // The manager answers failures with {"error": ..., "detail": ...}: keep both.
        let detail = serde_json::from_str::<Value>(&body)
            .ok()
            .map(|v| {
                let part = |k: &str| match &v[k] {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                };
                format!(
                    "error: {}, detail: {}",
                    part("error").unwrap_or_else(|| "-".into()),
                    part("detail").unwrap_or_else(|| "-".into())
                )
            })
            .unwrap_or_else(|| body.chars().take(300).collect());
        let message = format!("the config manager answered {status}: {detail}");
        Err(if status.is_client_error() {
            Failure::Rejected(message)
        } else {
            Failure::Transient(message)
        })
    }

    fn apply(&self, doc: &ManagerDoc) {
        if let (Some(settings), Some(config)) = (&self.settings, &doc.config)
            && config.is_object()
        {
            match settings.apply(config) {
                Ok(_) => tracing::debug!(data.target = "config_manager", "Config applied"),
                Err(error) => self.log_bad_config(&error),
            }
        }
        self.apply_connectors(doc.connectors.as_ref());
    }

    fn log_bad_config(&self, error: &str) {
        tracing::error!(
            event_type = "service.config.error",
            success = false,
            error = error,
            error_type = "ValidationError",
            data.target = "config_manager",
            "The config from the config manager is invalid; keeping the current settings"
        );
    }

    fn apply_connectors(&self, block: Option<&Value>) {
        let Some(block) = block.filter(|b| !b.is_null()) else {
            return;
        };
        let block: ConnectorsBlock = match serde_json::from_value(block.clone()) {
            Ok(block) => block,
            Err(error) => {
                tracing::warn!(
                    data.target = "config_manager",
                    error = %error,
                    "The config manager's connectors block is malformed; ignoring it"
                );
                return;
            }
        };
        for connector in self.connections.declared() {
            let urls = block.urls_for(&connector);
            let endpoint = Endpoint {
                urls,
                headers: HeaderMap::new(),
            };
            if self.connections.endpoint(&connector.config_id).as_ref() != Some(&endpoint) {
                tracing::info!(
                    data.target = "config_manager",
                    data.connector_id = connector.config_id.as_str(),
                    data.url = endpoint.urls.join(",").as_str(),
                    "Connector {} assigned {}",
                    connector.config_id,
                    if endpoint.urls.is_empty() {
                        "no deployment".to_string()
                    } else {
                        endpoint.urls.join(", ")
                    }
                );
            }
            self.connections.set(&connector.config_id, endpoint);
        }
    }

    /// Follows the realtime websocket for good: applies each pushed payload, then re-fetches;
    /// reconnects after a close or failure with the SDK's 1..5 s waits (reset after a connect).
    ///
    /// Updates pushed while no socket is open are lost, so after any gap (a first subscription that
    /// failed, a socket lost) the document is fetched again once subscribed. The manager and the
    /// realtime service are separate services that need not come back together: a catch-up `GET`
    /// that fails is retried with the same waits, while the socket is followed, until one succeeds.
    async fn follow_realtime(&self) {
        let mut failures = 0u32;
        // Registration has just fetched the document: nothing is missed until a socket fails.
        let mut missed = false;
        loop {
            match tokio_tungstenite::connect_async(self.realtime_url.as_str()).await {
                Ok((mut socket, _)) => {
                    failures = 0;
                    tracing::info!(
                        event_type = "connection.established",
                        success = true,
                        data.target = "realtime",
                        data.url = self.realtime_url.as_str(),
                        "Subscribed to config updates"
                    );
                    // When the catch-up fetch is due, while one is needed.
                    let mut catch_up = missed.then(tokio::time::Instant::now);
                    let mut catch_up_attempt = 0u32;
                    let mut ping = tokio::time::interval_at(
                        tokio::time::Instant::now() + self.ping_every,
                        self.ping_every,
                    );
                    // A ping was sent and nothing has been heard since.
                    let mut unanswered = false;
                    let reason = loop {
                        let due = catch_up.unwrap_or_else(tokio::time::Instant::now);
                        tokio::select! {
                            _ = ping.tick() => {
                                if unanswered {
                                    break format!(
                                        "no answer to a ping within {} s: the connection is dead",
                                        self.ping_every.as_secs_f64()
                                    );
                                }
                                if let Err(error) = socket.send(Message::Ping(Default::default())).await {
                                    break error.to_string();
                                }
                                unanswered = true;
                            }
                            message = socket.next() => match message {
                                Some(Ok(Message::Text(text))) => {
                                    unanswered = false;
                                    if self.on_message(text.as_str()).await {
                                        catch_up = None;
                                    }
                                }
                                Some(Ok(Message::Binary(bytes))) => {
                                    unanswered = false;
                                    if self.on_message(&String::from_utf8_lossy(&bytes)).await {
                                        catch_up = None;
                                    }
                                }
                                Some(Ok(Message::Close(frame))) => {
                                    break format!(
                                        "closed by the server{}",
                                        frame.map(|f| format!(" ({})", f.code)).unwrap_or_default()
                                    );
                                }
                                // A pong (or the server's own ping, which the library answers).
                                Some(Ok(_)) => unanswered = false,
                                Some(Err(error)) => break error.to_string(),
                                None => break "closed".to_string(),
                            },
                            () = tokio::time::sleep_until(due), if catch_up.is_some() => {
                                catch_up_attempt += 1;
                                catch_up = self.catch_up(catch_up_attempt).await;
                            }
                        }
                    };
                    missed = true;
                    failures += 1;
                    let delay = manager_backoff(failures);
                    tracing::warn!(
                        event_type = "connection.lost",
                        success = false,
                        error = reason.as_str(),
                        data.target = "realtime",
                        data.url = self.realtime_url.as_str(),
                        data.delay_s = delay.as_secs_f64(),
                        "Config updates connection lost; reconnecting in {} s",
                        delay.as_secs()
                    );
                    tokio::time::sleep(delay).await;
                }
                Err(error) => {
                    missed = true;
                    failures += 1;
                    let delay = retry_in(
                        &error.to_string(),
                        "RealtimeError",
                        "realtime",
                        &self.realtime_url,
                        failures,
                        "Could not subscribe to config updates",
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// One catch-up fetch of what was missed while no socket was open; when it failed in a way
    /// worth retrying, when to try again.
    async fn catch_up(&self, attempt: u32) -> Option<tokio::time::Instant> {
        match self.get().await {
            Ok(doc) => {
                tracing::info!(
                    data.target = "config_manager",
                    data.attempt = attempt,
                    "Fetched the config again after the config updates connection was restored"
                );
                self.apply(&doc);
                None
            }
            Err(Failure::Rejected(message)) => {
                tracing::warn!(
                    data.target = "config_manager",
                    error = message.as_str(),
                    "The config manager refused the GET after the config updates connection was restored; waiting for pushed updates"
                );
                None
            }
            Err(Failure::Transient(message)) => {
                let delay = retry_in(
                    &message,
                    "ConfigManagerError",
                    "config_manager",
                    &self.manager_url,
                    attempt,
                    "Could not fetch the config missed while the config updates connection was down",
                );
                Some(tokio::time::Instant::now() + delay)
            }
        }
    }

    /// Applies a pushed message, then fetches the whole document again; whether that fetch succeeded.
    async fn on_message(&self, text: &str) -> bool {
        #[derive(Deserialize)]
        struct Push {
            payload: Option<ManagerDoc>,
        }
        match serde_json::from_str::<Push>(text) {
            Ok(Push {
                payload: Some(payload),
            }) => {
                tracing::info!(
                    data.target = "realtime",
                    data.config = payload.config.is_some(),
                    data.connectors = payload.connectors.is_some(),
                    "Config update pushed"
                );
                self.apply(&payload);
            }
            Ok(Push { payload: None }) => {
                tracing::debug!(data.target = "realtime", "Message without payload");
            }
            Err(error) => {
                tracing::warn!(
                    data.target = "realtime",
                    error = %error,
                    "Unreadable message from the realtime service; re-fetching instead"
                );
            }
        }
        match self.get().await {
            Ok(doc) => {
                self.apply(&doc);
                true
            }
            Err(failure) => {
                tracing::warn!(
                    data.target = "config_manager",
                    error = failure.message(),
                    "Could not re-fetch the config; keeping what was pushed"
                );
                false
            }
        }
    }
}

/// Logs a failed attempt (`what` says at what) as `connection.retry` and returns how long to wait
/// before the next one: the SDK's 1..5 s for `attempt`.
fn retry_in(
    error: &str,
    error_type: &str,
    target: &str,
    url: &str,
    attempt: u32,
    what: &str,
) -> Duration {
    let delay = manager_backoff(attempt);
    tracing::warn!(
        event_type = "connection.retry",
        success = false,
        error = error,
        error_type = error_type,
        data.target = target,
        data.url = url,
        data.attempt = attempt,
        data.delay_s = delay.as_secs_f64(),
        "{what}; retrying in {} s",
        delay.as_secs()
    );
    delay
}

/// An error and its sources, e.g. "error sending request: connection refused".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manager_backoff_is_one_to_five_seconds() {
        let secs: Vec<u64> = (1..=7).map(|n| manager_backoff(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 3, 4, 5, 5, 5]);
    }
}
