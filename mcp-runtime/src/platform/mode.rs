//! Which mode the server runs in, read from the environment once at start.

use super::SettingsError;
use crate::{
    FromCall, ToolError,
    extract::{CallInput, ParamInfo},
};

/// Where the server runs: chosen once at start from `CONFIDENTIAL_MIND_LOCAL_CONFIG` and
/// `SERVICE_NAME`, then handed to everything that depends on it, so that nothing reads those
/// variables again: `/health` (`server_mode`), connector hooks ([`ConnectionState::mode`]), the
/// startup hook ([`Startup::mode`]) and tools (take `mode: Mode` as a parameter).
///
/// [`ConnectionState::mode`]: crate::ConnectionState::mode
/// [`Startup::mode`]: crate::Startup::mode
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Local development: no config manager; connectors read `{ID}_URL` and `{ID}_APIKEY`.
    #[default]
    Local,
    /// Deployed in a ConfidentialMind stack, registered with the config manager as `service_name`;
    /// connectors get their URLs from the manager.
    Stack {
        /// The service's id in the stack (`SERVICE_NAME`).
        service_name: String,
    },
}

impl Mode {
    /// The mode the environment selects: `CONFIDENTIAL_MIND_LOCAL_CONFIG=true` (any case) is local;
    /// neither variable set is local too (a first `cargo run` just works); anything else is a stack
    /// deployment, which needs `SERVICE_NAME` (its absence is an error naming it), and a server built
    /// with the `platform` feature (without it, a stack deployment is an error naming the feature).
    ///
    /// The server calls this once at start; code that runs in a server receives the result instead.
    pub fn from_env() -> anyhow::Result<Mode> {
        detect().map(|(mode, _)| mode)
    }

    /// `local` or `stack_deployment`, as `/health` reports it in `server_mode`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Mode::Local => "local",
            Mode::Stack { .. } => "stack_deployment",
        }
    }

    /// Whether this is local development.
    pub fn is_local(&self) -> bool {
        matches!(self, Mode::Local)
    }

    /// Whether this is a stack deployment.
    pub fn is_stack(&self) -> bool {
        matches!(self, Mode::Stack { .. })
    }

    /// The service's id in the stack; `None` locally.
    pub fn service_name(&self) -> Option<&str> {
        match self {
            Mode::Local => None,
            Mode::Stack { service_name } => Some(service_name),
        }
    }
}

/// The mode and, when local, the reason to log for it.
pub(crate) fn detect() -> anyhow::Result<(Mode, &'static str)> {
    let local = std::env::var("CONFIDENTIAL_MIND_LOCAL_CONFIG").ok();
    let service_name = std::env::var("SERVICE_NAME")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    match (local.as_deref().map(str::trim), service_name) {
        (Some(v), _) if v.eq_ignore_ascii_case("true") => {
            Ok((Mode::Local, "CONFIDENTIAL_MIND_LOCAL_CONFIG=true"))
        }
        (None, None) => Ok((Mode::Local, "set SERVICE_NAME to register with a stack")),
        #[cfg(feature = "platform")]
        (_, Some(service_name)) => Ok((Mode::Stack { service_name }, "")),
        #[cfg(not(feature = "platform"))]
        (_, Some(service_name)) => Err(stack_unavailable(&service_name).into()),
        (Some(v), None) => Err(SettingsError::new(
            "SERVICE_NAME",
            format!("SERVICE_NAME is not set: CONFIDENTIAL_MIND_LOCAL_CONFIG=`{v}` selects a stack deployment, which needs the service's id in the stack in SERVICE_NAME (or set CONFIDENTIAL_MIND_LOCAL_CONFIG=true for local development)"),
        )
        .into()),
    }
}

/// The refusal of a stack deployment by a server built without the config manager's client: serving
/// locally instead would leave the service unregistered in a stack that waits for it, with no error
/// anywhere.
#[cfg(not(feature = "platform"))]
pub(super) fn stack_unavailable(service_name: &str) -> SettingsError {
    SettingsError::new(
        "SERVICE_NAME",
        format!(
            "SERVICE_NAME=`{service_name}` selects a stack deployment, but this server was built without cm-mcp's `platform` feature, which registers with the config manager: enable it (it is a default feature of cm-mcp), or unset SERVICE_NAME (or set CONFIDENTIAL_MIND_LOCAL_CONFIG=true) to run locally"
        ),
    )
}

impl<'a> FromCall<'a> for Mode {
    fn from_call(_: &'static ParamInfo, input: &mut CallInput<'a>) -> Result<Self, ToolError> {
        // Servers register the mode at start; a bare registry (tests) runs locally.
        Ok(input
            .context()
            .state::<Mode>()
            .map(|mode| (*mode).clone())
            .unwrap_or_default())
    }
}
