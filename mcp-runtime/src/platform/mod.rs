//! The ConfidentialMind platform as a server sees it, in one place: the [`Mode`] it runs in (read once
//! at start), its settings (`Settings<T>`, feature `platform`), the [`connectors`](Connector) it
//! declares and their [live connections](Connection), and [`health`].
//!
//! Inside, one module per job, none importing another in a circle:
//! - `mode`: the mode, from `CONFIDENTIAL_MIND_LOCAL_CONFIG` and `SERVICE_NAME`;
//! - `error`: [`SettingsError`], bad configuration;
//! - `connectors`: declarations, connector types and the config manager's wire shapes;
//! - `endpoint`: where a connector points (what hooks and tools see of it);
//! - `connections`: the live state of every declared connector, and the reconnect hooks;
//! - `local`: local development's `{ID}_URL` / `{ID}_APIKEY` variables;
//! - `stack`: the config manager's client (GET, PATCH, realtime websocket);
//! - `outgoing`: [`ConnectorClient`], the HTTP client a connection gives tools (`Connection::http`);
//! - `settings`: the service's typed settings;
//! - [`health`]: the `/health` document.
//!
//! # The `platform` feature
//!
//! `stack`, `settings` and `outgoing` are compiled only with the feature `platform` (on by default):
//! they are the only code that needs the platform's client stack, reqwest, rustls and
//! tokio-tungstenite for the config manager and tools' outgoing calls, and the `config` crate for
//! settings from env vars: some 30 crates of a server's build. Everything else here stays in every build, because it needs none of them: the
//! mode, connectors in local mode (`{ID}_URL` is parsed with `url`, which rmcp links anyway),
//! connections, their reconnect hooks and `/health`. A build without the feature that is asked for
//! a stack deployment (`SERVICE_NAME` set) refuses to start, as bad configuration naming the feature
//! (`mode::detect`), instead of serving locally in a stack that expects it to register.

mod connections;
mod connectors;
mod endpoint;
mod error;
pub mod health;
mod local;
mod mode;
#[cfg(feature = "platform")]
mod outgoing;
#[cfg(feature = "platform")]
mod settings;
#[cfg(feature = "platform")]
mod stack;

use std::sync::Arc;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub use connections::{Connection, Connections, ConnectorId, Only, Which};
pub(crate) use connectors::ConnectorsBlock;
pub use connectors::{Connector, ConnectorType, stack_url};
pub use endpoint::ConnectionState;
pub use error::SettingsError;
pub(crate) use health::Health;
pub use local::ApiKeyFormatError;
pub use mode::Mode;
pub(crate) use mode::detect;
#[cfg(feature = "platform")]
pub use outgoing::ConnectorClient;
#[cfg(feature = "platform")]
pub use settings::{ServiceSettings, Settings};
#[cfg(feature = "platform")]
pub use stack::{DEFAULT_MANAGER_URL, DEFAULT_REALTIME_URL};

/// The settings as the config manager client sees them, whatever their type. Part of every build so
/// that the server's lifecycle has one shape; without the `platform` feature nothing implements it.
#[cfg_attr(not(feature = "platform"), allow(dead_code))]
pub(crate) trait SettingsSource: Send + Sync {
    /// The JSON Schema registered as the service's `config_schema`.
    fn schema(&self) -> Value;
    /// The current values, as the `config` registered.
    fn current(&self) -> Value;
    /// Lays a config from the manager over the settings; returns it with defaults filled.
    fn apply(&self, config: &Value) -> Result<Value, String>;
}

/// Starts what keeps the connectors' URLs current, and the connection workers. In local mode the
/// URLs are read now (a malformed API key is an error); in a stack, registration runs in the
/// background. `local_reason` says in the log why the mode is local.
pub(crate) fn start(
    mode: &Mode,
    local_reason: &str,
    settings: Option<Arc<dyn SettingsSource>>,
    connections: &Connections,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    match mode {
        Mode::Local => local::start(local_reason, connections, shutdown),
        #[cfg(feature = "platform")]
        Mode::Stack { service_name } => stack::start(service_name, settings, connections, shutdown),
        // `detect` refuses a stack in such a build; a `Mode::Stack` made by hand is refused alike.
        #[cfg(not(feature = "platform"))]
        Mode::Stack { service_name } => {
            let _ = settings;
            Err(mode::stack_unavailable(service_name).into())
        }
    }
}
