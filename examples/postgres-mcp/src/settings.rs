//! Settings: the platform's `PG_*` variables and this server's `SQLITE_PATH`, read with the framework's
//! [`Settings`] (prefixes `PG_` and `SQLITE_`). [`target`](crate::target) turns them into the database
//! to serve.

use std::{fmt, path::PathBuf, time::Duration};

use cm_mcp::{Settings, SettingsError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::target::redact_dsn;

/// The platform Postgres server's settings: field `dsn` is `PG_DSN`, `pool_max_size` is
/// `PG_POOL_MAX_SIZE`, and so on (loaded with [`Settings`] and the prefix [`PgSettings::PREFIX`]).
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct PgSettings {
    /// `PG_DSN`: a full connection string (URL or `key=value` form); skips the connector.
    pub dsn: Option<String>,
    /// `PG_HOST`.
    pub host: Option<String>,
    /// `PG_PORT`.
    pub port: Option<u16>,
    /// `PG_USER` (default `postgres`).
    pub user: String,
    /// `PG_PASSWORD`.
    pub password: Option<String>,
    /// `PG_DATABASE` (default `postgres`).
    pub database: String,
    /// `PG_CONNECTOR_ID` (default `DATABASE`): the connector's id, and the prefix of its local URL
    /// variable (`DATABASE_URL`).
    pub connector_id: String,
    /// `PG_POOL_MIN_SIZE` (default 1): connections kept open once the database is reachable.
    pub pool_min_size: usize,
    /// `PG_POOL_MAX_SIZE` (default 5).
    pub pool_max_size: usize,
    /// `PG_QUERY_TIMEOUT_MS` (default 5000): the statement timeout of one `execute_sql` call.
    pub query_timeout_ms: u64,
    /// `PG_MAX_ROWS` (default 1000): rows returned at most; the result says when there were more.
    pub max_rows: usize,
    /// `PG_COMMAND_TIMEOUT_S` (default 60): the client-side bound on any one round trip.
    pub command_timeout_s: u64,
    /// `PG_CONNECT_TIMEOUT_S` (default 10): the bound on opening one connection.
    pub connect_timeout_s: u64,
}

impl Default for PgSettings {
    fn default() -> PgSettings {
        PgSettings {
            dsn: None,
            host: None,
            port: None,
            user: "postgres".into(),
            password: None,
            database: "postgres".into(),
            connector_id: "DATABASE".into(),
            pool_min_size: 1,
            pool_max_size: 5,
            query_timeout_ms: 5000,
            max_rows: 1000,
            command_timeout_s: 60,
            connect_timeout_s: 10,
        }
    }
}

impl fmt::Debug for PgSettings {
    // Written by hand so that the password never reaches a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgSettings")
            .field("dsn", &self.dsn.as_deref().map(redact_dsn))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("database", &self.database)
            .field("connector_id", &self.connector_id)
            .field("limits", &self.limits())
            .finish()
    }
}

impl PgSettings {
    /// The prefix of the platform's variables.
    pub const PREFIX: &str = "PG_";

    /// Checks what types alone do not say; the error names the variable and what it accepts.
    fn validate(&self) -> Result<(), SettingsError> {
        for (variable, value) in [
            ("PG_POOL_MAX_SIZE", self.pool_max_size as u64),
            ("PG_QUERY_TIMEOUT_MS", self.query_timeout_ms),
            ("PG_MAX_ROWS", self.max_rows as u64),
            ("PG_COMMAND_TIMEOUT_S", self.command_timeout_s),
            ("PG_CONNECT_TIMEOUT_S", self.connect_timeout_s),
        ] {
            if value == 0 {
                return Err(SettingsError::new(
                    variable,
                    format!("{variable}=0 is not valid: expected a whole number of at least 1"),
                ));
            }
        }
        if self.pool_min_size > self.pool_max_size {
            return Err(SettingsError::new(
                "PG_POOL_MIN_SIZE",
                format!(
                    "PG_POOL_MIN_SIZE ({}) is larger than PG_POOL_MAX_SIZE ({})",
                    self.pool_min_size, self.pool_max_size
                ),
            ));
        }
        if self.connector_id.trim().is_empty() {
            return Err(SettingsError::new(
                "PG_CONNECTOR_ID",
                "PG_CONNECTOR_ID is empty: leave it unset for DATABASE, or name the connector",
            ));
        }
        Ok(())
    }

    /// How queries and the pool are bounded.
    pub fn limits(&self) -> Limits {
        Limits {
            pool_min: self.pool_min_size,
            pool_max: self.pool_max_size,
            query_timeout: Duration::from_millis(self.query_timeout_ms),
            max_rows: self.max_rows,
            command_timeout: Duration::from_secs(self.command_timeout_s),
            connect_timeout: Duration::from_secs(self.connect_timeout_s),
        }
    }

    /// The local variable holding the connector's URL (`DATABASE_URL`).
    pub fn connector_url_var(&self) -> String {
        format!("{}_URL", self.connector_id)
    }
}

/// `SQLITE_PATH`: an SQLite file to serve read-only when no PostgreSQL is configured (the embedded
/// demo database when unset).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct SqliteSettings {
    /// `SQLITE_PATH`.
    pub path: Option<PathBuf>,
}

impl SqliteSettings {
    /// The prefix of its variable.
    pub const PREFIX: &str = "SQLITE_";
}

/// Everything the server reads from the environment: the platform's `PG_*` settings and this
/// server's `SQLITE_PATH`.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// `PG_*`.
    pub pg: PgSettings,
    /// `SQLITE_PATH`.
    pub sqlite: SqliteSettings,
}

impl Config {
    /// Loads `.env` and reads the process environment; the first invalid value is an error naming
    /// its variable.
    pub fn from_env() -> Result<Config, SettingsError> {
        Config::checked(
            Settings::<PgSettings>::from_env(PgSettings::PREFIX)?,
            Settings::<SqliteSettings>::from_env(SqliteSettings::PREFIX)?,
        )
    }

    /// [`from_env`](Config::from_env) over the given variables instead of the process's.
    pub fn from_vars<'a>(
        vars: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Config, SettingsError> {
        let vars: Vec<(String, String)> = vars
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::checked(
            Settings::<PgSettings>::from_vars(PgSettings::PREFIX, vars.clone())?,
            Settings::<SqliteSettings>::from_vars(SqliteSettings::PREFIX, vars)?,
        )
    }

    fn checked(
        pg: Settings<PgSettings>,
        sqlite: Settings<SqliteSettings>,
    ) -> Result<Config, SettingsError> {
        let mut pg = (*pg.get()).clone();
        // Blank values count as unset, as the platform's server treats them.
        for value in [&mut pg.dsn, &mut pg.host, &mut pg.password] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                *value = None;
            }
        }
        if let Some(host) = &mut pg.host {
            *host = host.trim().to_string();
        }
        pg.connector_id = pg.connector_id.trim().to_string();
        pg.validate()?;
        Ok(Config {
            pg,
            sqlite: (*sqlite.get()).clone(),
        })
    }
}

/// How queries and the pool are bounded.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections kept open once the database is reachable.
    pub pool_min: usize,
    /// Connections at most.
    pub pool_max: usize,
    /// The statement timeout of one `execute_sql` call.
    pub query_timeout: Duration,
    /// Rows returned at most.
    pub max_rows: usize,
    /// The client-side bound on any one round trip.
    pub command_timeout: Duration,
    /// The bound on opening one connection.
    pub connect_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        PgSettings::default().limits()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Config {
        Config::from_vars(vars.iter().copied()).unwrap()
    }

    #[test]
    fn invalid_values_name_the_variable() {
        let err = Config::from_vars([("PG_PORT", "eighty")]).unwrap_err();
        assert_eq!(err.variable(), Some("PG_PORT"), "{err}");
        assert!(err.to_string().contains("PG_PORT=`eighty`"), "{err}");
        let err = Config::from_vars([("PG_MAX_ROWS", "0")]).unwrap_err();
        assert_eq!(err.variable(), Some("PG_MAX_ROWS"), "{err}");
        let err = Config::from_vars([("PG_POOL_MIN_SIZE", "6")]).unwrap_err();
        assert!(err.to_string().contains("PG_POOL_MAX_SIZE"), "{err}");
        let err = Config::from_vars([("PG_PASSWORD", "hunter2"), ("PG_PORT", "x")]).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn variables_map_to_fields_and_blanks_count_as_unset() {
        let config = settings(&[
            ("PG_PORT", "5544"),
            ("PG_POOL_MAX_SIZE", "9"),
            ("PG_QUERY_TIMEOUT_MS", "250"),
            ("PG_HOST", " db.local "),
            ("PG_DSN", "  "),
            ("PG_CONNECTOR_ID", "ORDERS_DB"),
            ("SQLITE_PATH", "/tmp/x.db"),
        ]);
        assert_eq!(config.pg.port, Some(5544));
        assert_eq!(config.pg.host.as_deref(), Some("db.local"));
        assert_eq!(config.pg.dsn, None);
        assert_eq!(config.pg.limits().pool_max, 9);
        assert_eq!(config.pg.limits().query_timeout, Duration::from_millis(250));
        assert_eq!(config.pg.connector_url_var(), "ORDERS_DB_URL");
        assert_eq!(config.sqlite.path.as_deref(), Some(Path::new("/tmp/x.db")));
        let defaults = settings(&[]);
        assert_eq!(defaults.pg.user, "postgres");
        assert_eq!(defaults.pg.connector_id, "DATABASE");
        assert_eq!(defaults.pg.limits().max_rows, 1000);
    }
}
