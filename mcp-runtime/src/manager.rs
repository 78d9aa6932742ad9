//! The platform side of a server: which mode it runs in, and where its connectors' URLs come from —
//! env vars in local mode, the config manager (HTTP + realtime websocket) in a stack.
//!
//! Stack mode speaks the protocol of the platform's SDK (`confidentialmind-core`):
//! `GET`, `PATCH` (`deployment_state: "deployed"`), `GET` on `{manager}/internal/{SERVICE_NAME}`, then a
//! websocket on `{realtime}/internal/{SERVICE_NAME}` whose `{"payload": ...}` messages are applied and
//! followed by a fresh `GET`. A manager that is down, slow or failing never stops the server: it
//! serves, logs, and registers when it can.

use std::{collections::HashMap, sync::Arc, time::Duration};

use futures::StreamExt;
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::{
    connection::{Connections, Endpoint},
    connectors::{ApiKeyFormatError, ConnectorsBlock, local_parameters},
    settings::SettingsSource,
};

/// The manager's base URL inside a cluster.
pub const DEFAULT_MANAGER_URL: &str = "http://manager.api-services.svc.cluster.local:8080";
/// The realtime service's base URL inside a cluster.
pub const DEFAULT_REALTIME_URL: &str = "ws://realtime.api-services.svc.cluster.local:8080";

/// How the server was told to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Deployment {
    /// No config manager; `why` says which variable chose this.
    Local { why: &'static str },
    /// Registered as `service_name` with the config manager.
    Stack { service_name: String },
}

impl Deployment {
    /// The mode `CONFIDENTIAL_MIND_LOCAL_CONFIG` and `SERVICE_NAME` select. `true` (any case) is local;
    /// neither variable set is local too (a first `cargo run` just works); anything else is a stack
    /// deployment, which needs `SERVICE_NAME`.
    pub fn detect() -> anyhow::Result<Deployment> {
        let local = std::env::var("CONFIDENTIAL_MIND_LOCAL_CONFIG").ok();
        let service_name = std::env::var("SERVICE_NAME")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        match (local.as_deref().map(str::trim), service_name) {
            (Some(v), _) if v.eq_ignore_ascii_case("true") => Ok(Deployment::Local {
                why: "CONFIDENTIAL_MIND_LOCAL_CONFIG=true",
            }),
            (None, None) => Ok(Deployment::Local {
                why: "set SERVICE_NAME to register with a stack",
            }),
            (_, Some(service_name)) => Ok(Deployment::Stack { service_name }),
            (Some(v), None) => anyhow::bail!(
                "SERVICE_NAME is not set: CONFIDENTIAL_MIND_LOCAL_CONFIG=`{v}` selects a stack deployment, which needs the service's id in the stack in SERVICE_NAME (or set CONFIDENTIAL_MIND_LOCAL_CONFIG=true for local development)"
            ),
        }
    }
}

/// Starts what keeps the connectors' URLs current, and the connection workers. In local mode the
/// URLs are read now (a malformed API key is an error); in a stack, registration runs in the
/// background.
pub(crate) fn start(
    deployment: &Deployment,
    settings: Option<Arc<dyn SettingsSource>>,
    connections: &Connections,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    match deployment {
        Deployment::Local { why } => {
            tracing::info!(
                data.server_mode = "local",
                "Running in local mode: {why}; connectors read {{ID}}_URL and {{ID}}_APIKEY"
            );
            resolve_local(connections, &env_lookup(false))?;
            connections.start(
                "set their {ID}_URL variables (in the environment or .env)".into(),
                shutdown,
            );
            if !connections.is_empty() {
                tokio::spawn(recheck_local(connections.clone(), shutdown.clone()));
            }
        }
        Deployment::Stack { service_name } => {
            let client = StackClient::new(service_name, settings, connections.clone())?;
            tracing::info!(
                data.server_mode = "stack_deployment",
                data.service_name = service_name.as_str(),
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
        }
    }
    Ok(())
}

/// Reads a variable from `.env` (when `reread`, the file as it is now) or else the environment.
fn env_lookup(reread: bool) -> impl Fn(&str) -> Option<String> {
    let file: HashMap<String, String> = if reread {
        dotenvy::from_path_iter(".env")
            .map(|iter| iter.filter_map(Result::ok).collect())
            .unwrap_or_default()
    } else {
        HashMap::new()
    };
    move |name| {
        file.get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
            .filter(|v| !v.trim().is_empty())
    }
}

fn resolve_local(
    connections: &Connections,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ApiKeyFormatError> {
    // Check every connector before changing any, so that a bad key changes nothing.
    let mut resolved = Vec::new();
    for connector in connections.declared() {
        let (urls, headers) = local_parameters(&connector, lookup)?;
        resolved.push((connector.config_id, Endpoint { urls, headers }));
    }
    for (id, endpoint) in resolved {
        connections.set(&id, endpoint);
    }
    Ok(())
}

/// The seed's background re-check: `min(30, 5 * 1.5^min(n, 5))` seconds after attempt n.
pub(crate) fn recheck_delay(attempt: u32) -> Duration {
    let secs = 5.0 * 1.5f64.powi(attempt.min(5) as i32);
    Duration::from_secs_f64(secs.min(30.0))
}

/// Local mode's fallback: re-reads the environment and `.env` with the seed's backoff, so that a
/// connector added to `.env` while the server runs is picked up.
async fn recheck_local(connections: Connections, shutdown: CancellationToken) {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        tokio::select! {
            () = tokio::time::sleep(recheck_delay(attempt)) => {}
            () = shutdown.cancelled() => return,
        }
        if let Err(error) = resolve_local(&connections, &env_lookup(true)) {
            tracing::error!(
                event_type = "connection.retry",
                success = false,
                error = %error,
                error_type = "ApiKeyFormatError",
                data.target = "connector",
                data.attempt = attempt,
                "Connector settings in the environment are invalid; keeping the current ones"
            );
        }
    }
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
    settings: Option<Arc<dyn SettingsSource>>,
    connections: Connections,
    declared: ConnectorsBlock,
}

fn base_url(var: &str, default: &str) -> String {
    std::env::var(var)
        .ok()
        .map(|v| v.trim().trim_end_matches('/').to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
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
                base_url("MANAGER_URL", DEFAULT_MANAGER_URL)
            ),
            realtime_url: format!(
                "{}/internal/{name}",
                base_url("REALTIME_URL", DEFAULT_REALTIME_URL)
            ),
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
                    let delay = manager_backoff(attempt);
                    tracing::warn!(
                        event_type = "connection.retry",
                        success = false,
                        error = error.as_str(),
                        error_type = "ConfigManagerError",
                        data.target = "config_manager",
                        data.url = self.manager_url.as_str(),
                        data.attempt = attempt,
                        data.delay_s = delay.as_secs_f64(),
                        "Could not register with the config manager; serving anyway, retrying in {} s",
                        delay.as_secs()
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
    async fn follow_realtime(&self) {
        let mut failures = 0u32;
        let mut connected_before = false;
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
                    if connected_before {
                        // Updates pushed while the socket was down are lost: catch up.
                        self.refetch().await;
                    }
                    connected_before = true;
                    let reason = loop {
                        match socket.next().await {
                            Some(Ok(Message::Text(text))) => self.on_message(text.as_str()).await,
                            Some(Ok(Message::Binary(bytes))) => {
                                self.on_message(&String::from_utf8_lossy(&bytes)).await
                            }
                            Some(Ok(Message::Close(frame))) => {
                                break format!(
                                    "closed by the server{}",
                                    frame.map(|f| format!(" ({})", f.code)).unwrap_or_default()
                                );
                            }
                            Some(Ok(_)) => {} // ping/pong are answered by the library
                            Some(Err(error)) => break error.to_string(),
                            None => break "closed".to_string(),
                        }
                    };
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
                    failures += 1;
                    let delay = manager_backoff(failures);
                    tracing::warn!(
                        event_type = "connection.retry",
                        success = false,
                        error = %error,
                        error_type = "RealtimeError",
                        data.target = "realtime",
                        data.url = self.realtime_url.as_str(),
                        data.attempt = failures,
                        data.delay_s = delay.as_secs_f64(),
                        "Could not subscribe to config updates; retrying in {} s",
                        delay.as_secs()
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    async fn on_message(&self, text: &str) {
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
        self.refetch().await;
    }

    async fn refetch(&self) {
        match self.get().await {
            Ok(doc) => self.apply(&doc),
            Err(failure) => tracing::warn!(
                data.target = "config_manager",
                error = failure.message(),
                "Could not re-fetch the config; keeping what was pushed"
            ),
        }
    }
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
    fn recheck_follows_the_seed() {
        let secs: Vec<f64> = (1..=7).map(|n| recheck_delay(n).as_secs_f64()).collect();
        let expected = [7.5, 11.25, 16.875, 25.3125, 30.0, 30.0, 30.0];
        for (got, want) in secs.iter().zip(expected) {
            assert!((got - want).abs() < 1e-9, "{secs:?}");
        }
    }

    #[test]
    fn manager_backoff_is_one_to_five_seconds() {
        let secs: Vec<u64> = (1..=7).map(|n| manager_backoff(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 3, 4, 5, 5, 5]);
    }
}
