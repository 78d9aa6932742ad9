//! [`SettingsError`]: bad configuration, whatever found it (a flag, the mode, a connector's URL, the
//! settings, the listener). It is compiled in every build, with or without the `platform` feature:
//! `Server::run` turns it into the one `service.init.error` line and exit status 2.

use std::fmt;

/// A configuration value that cannot be used (a setting, a flag, an environment variable): names
/// the variable and what it should hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    variable: Option<String>,
    message: String,
}

impl SettingsError {
    /// An error about `variable` (e.g. `PG_POOL_MIN_SIZE`), for checks a settings type makes after
    /// loading (a minimum larger than a maximum, ...). `message` names the variable and the fix.
    ///
    /// ```
    /// let error = mcp_runtime::SettingsError::new("APP_MAX_ROWS", "APP_MAX_ROWS=0 is not valid: expected at least 1");
    /// assert_eq!(error.variable(), Some("APP_MAX_ROWS"));
    /// assert_eq!(error.to_string(), "APP_MAX_ROWS=0 is not valid: expected at least 1");
    /// ```
    pub fn new(variable: impl Into<String>, message: impl Into<String>) -> SettingsError {
        SettingsError {
            variable: Some(variable.into()),
            message: message.into(),
        }
    }

    /// A configuration problem that may not be about one variable (an unknown flag).
    pub(crate) fn misconfigured(variable: Option<String>, message: String) -> SettingsError {
        SettingsError { variable, message }
    }

    /// The env var at fault, when one is.
    pub fn variable(&self) -> Option<&str> {
        self.variable.as_deref()
    }
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SettingsError {}
