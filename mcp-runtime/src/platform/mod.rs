//! The ConfidentialMind platform as a server sees it, in one place: the [`Mode`] it runs in (read once
//! at start), its [`settings`](Settings), the [`connectors`](Connector) it declares and their
//! [live connections](Connection), and [`health`].
//!
//! Inside, one module per job, none importing another in a circle:
//! - `mode`: the mode, from `CONFIDENTIAL_MIND_LOCAL_CONFIG` and `SERVICE_NAME`;
//! - `connectors`: declarations, connector types and the config manager's wire shapes;
//! - `endpoint`: where a connector points (what hooks and tools see of it);
//! - `connections`: the live state of every declared connector, and the reconnect hooks;
//! - `local`: local development's `{ID}_URL` / `{ID}_APIKEY` variables;
//! - `stack`: the config manager's client (GET, PATCH, realtime websocket);
//! - `settings`: the service's typed settings;
//! - [`health`]: the `/health` document.

mod connections;
mod connectors;
mod endpoint;
pub mod health;
mod local;
mod mode;
mod settings;
mod stack;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

pub use connections::{Connection, Connections, ConnectorId, Only, Which};
pub(crate) use connectors::ConnectorsBlock;
pub use connectors::{Connector, ConnectorType, stack_url};
pub use endpoint::ConnectionState;
pub(crate) use health::Health;
pub use local::ApiKeyFormatError;
pub use mode::Mode;
pub(crate) use mode::detect;
pub(crate) use settings::SettingsSource;
pub use settings::{ServiceSettings, Settings, SettingsError};
pub use stack::{DEFAULT_MANAGER_URL, DEFAULT_REALTIME_URL};

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
        Mode::Stack { service_name } => stack::start(service_name, settings, connections, shutdown),
    }
}
