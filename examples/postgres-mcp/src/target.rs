//! The database to serve, chosen from the settings and the connector's URL as the platform's Postgres
//! server chooses: `PG_DSN` wins; else the `DATABASE` connector's URL (in a stack the `-rw` host the
//! manager assigns, locally `DATABASE_URL`) with `PG_USER`, `PG_PASSWORD` and `PG_DATABASE`; else
//! `PG_HOST`/`PG_PORT` when set. Where the platform would then try `localhost:5432`, this server serves
//! an SQLite file (`SQLITE_PATH`) or its embedded demo database, so that it answers with real data on a
//! machine without any database server. Also what logs may show of a connection string.

use std::{fmt, path::PathBuf, str::FromStr};

use cm_mcp::{Mode, SettingsError};
use tokio_postgres::config::Host;

use crate::settings::{Config, PgSettings};

/// Where the connector's URL comes from, as the integration hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectorUrl {
    /// Local development: the value of `{ID}_URL`, if set.
    Local(Option<String>),
    /// A stack: the host the manager assigned (`{stack_id}-rw.databases.svc.cluster.local`), or none
    /// yet.
    Stack(Option<String>),
}

impl ConnectorUrl {
    /// The connector's `url` in `mode`: locally a missing URL means "use the other settings", in a
    /// stack "wait for the manager to assign a deployment".
    pub fn new(mode: &Mode, url: Option<String>) -> ConnectorUrl {
        match mode {
            Mode::Local => ConnectorUrl::Local(url),
            Mode::Stack { .. } => ConnectorUrl::Stack(url),
        }
    }
}

/// Which setting chose a PostgreSQL target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSource {
    /// `PG_DSN`.
    Dsn,
    /// The connector (`{ID}_URL` locally, the manager in a stack).
    Connector,
    /// `PG_HOST`/`PG_PORT`.
    HostPort,
}

/// The database the server serves.
#[derive(Clone)]
pub enum DatabaseTarget {
    /// A PostgreSQL server.
    Postgres {
        /// How to connect (the password included: never print it, use `display`).
        config: Box<tokio_postgres::Config>,
        /// `postgresql://user@host:port/db`, without the password.
        display: String,
        /// The setting that chose it.
        source: TargetSource,
    },
    /// An SQLite file opened read-only, or the embedded demo database (`None`).
    Sqlite(Option<PathBuf>),
    /// A stack whose connector has no deployment assigned yet: nothing to connect to until the
    /// manager assigns one.
    AwaitingConnector {
        /// The connector's id.
        connector_id: String,
    },
}

impl fmt::Debug for DatabaseTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl DatabaseTarget {
    /// A one-line description for logs and errors, never with the password.
    pub fn describe(&self) -> String {
        match self {
            DatabaseTarget::Postgres {
                display, source, ..
            } => {
                let source = match source {
                    TargetSource::Dsn => "PG_DSN",
                    TargetSource::Connector => "the connector",
                    TargetSource::HostPort => "PG_HOST/PG_PORT",
                };
                format!("PostgreSQL at {display} (from {source})")
            }
            DatabaseTarget::Sqlite(Some(path)) => format!("SQLite file {}", path.display()),
            DatabaseTarget::Sqlite(None) => "the embedded demo database (SQLite)".into(),
            DatabaseTarget::AwaitingConnector { connector_id } => format!(
                "no database yet: the stack has not assigned a deployment to the {connector_id} connector"
            ),
        }
    }

    /// Chooses the database from the settings and the connector's URL, as the platform does.
    pub fn resolve(
        config: &Config,
        connector: &ConnectorUrl,
    ) -> Result<DatabaseTarget, SettingsError> {
        let settings = &config.pg;
        if let Some(dsn) = &settings.dsn {
            let config = tokio_postgres::Config::from_str(dsn.trim()).map_err(|e| {
                SettingsError::new(
                    "PG_DSN",
                    format!(
                        "PG_DSN ({}) is not a valid PostgreSQL connection string: {e}",
                        redact_dsn(dsn)
                    ),
                )
            })?;
            return Ok(postgres(config, TargetSource::Dsn));
        }
        let url = match connector {
            ConnectorUrl::Local(url) | ConnectorUrl::Stack(url) => url
                .as_deref()
                .map(|u| u.trim().trim_end_matches('/'))
                .filter(|u| !u.is_empty()),
        };
        if let Some(url) = url {
            let lower = url.to_ascii_lowercase();
            let config = if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
                // A full DSN (local development): the user, password and database it names win,
                // the PG_* values fill what it leaves out.
                let mut config = tokio_postgres::Config::from_str(url).map_err(|e| {
                    SettingsError::new(
                        settings.connector_url_var(),
                        format!(
                            "{} ({}) is not a valid PostgreSQL URL: {e}",
                            settings.connector_url_var(),
                            redact_dsn(url)
                        ),
                    )
                })?;
                if config.get_user().is_none() {
                    config.user(&settings.user);
                }
                if config.get_password().is_none()
                    && let Some(password) = &settings.password
                {
                    config.password(password);
                }
                if config.get_dbname().is_none() {
                    config.dbname(&settings.database);
                }
                config
            } else {
                let (host, port) = split_host_port(url).map_err(|e| {
                    SettingsError::new(
                        settings.connector_url_var(),
                        format!(
                            "{} ({url}) is not a host or host:port: {e}",
                            settings.connector_url_var()
                        ),
                    )
                })?;
                host_config(settings, &host, port.or(settings.port))
            };
            return Ok(postgres(config, TargetSource::Connector));
        }
        if let ConnectorUrl::Stack(None) = connector {
            return Ok(DatabaseTarget::AwaitingConnector {
                connector_id: settings.connector_id.clone(),
            });
        }
        if settings.host.is_some() || settings.port.is_some() {
            let host = settings.host.as_deref().unwrap_or("localhost");
            let config = host_config(settings, host, settings.port);
            return Ok(postgres(config, TargetSource::HostPort));
        }
        Ok(DatabaseTarget::Sqlite(config.sqlite.path.clone()))
    }
}

fn host_config(settings: &PgSettings, host: &str, port: Option<u16>) -> tokio_postgres::Config {
    let mut config = tokio_postgres::Config::new();
    config
        .host(host)
        .port(port.unwrap_or(5432))
        .user(&settings.user)
        .dbname(&settings.database);
    if let Some(password) = &settings.password {
        config.password(password);
    }
    config
}

fn postgres(config: tokio_postgres::Config, source: TargetSource) -> DatabaseTarget {
    DatabaseTarget::Postgres {
        display: display_config(&config),
        config: Box::new(config),
        source,
    }
}

/// `host`, `host:port`, `[v6]:port`.
fn split_host_port(url: &str) -> Result<(String, Option<u16>), String> {
    if url.contains('/') || url.contains('@') {
        return Err("expected no scheme, path or credentials".into());
    }
    if let Some(rest) = url.strip_prefix('[') {
        let (host, tail) = rest
            .split_once(']')
            .ok_or_else(|| "unclosed `[` in an IPv6 address".to_string())?;
        let port = match tail.strip_prefix(':') {
            Some(p) => Some(p.parse().map_err(|_| format!("bad port {p:?}"))?),
            None if tail.is_empty() => None,
            None => return Err(format!("unexpected {tail:?} after the address")),
        };
        return Ok((host.to_string(), port));
    }
    match url.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Ok((
            host.to_string(),
            Some(port.parse().map_err(|_| format!("bad port {port:?}"))?),
        )),
        _ => Ok((url.to_string(), None)),
    }
}

/// `postgresql://user@host:port/db`: what logs and `/health` may show of a connection.
pub fn display_config(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            Host::Tcp(name) if name.contains(':') => format!("[{name}]"),
            Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres");
    let db = config.get_dbname().unwrap_or(user);
    format!("postgresql://{user}@{host}:{port}/{db}")
}

/// A DSN with its password replaced by `***` (URL and `key=value` forms).
pub fn redact_dsn(dsn: &str) -> String {
    let trimmed = dsn.trim();
    if let Some((scheme, rest)) = trimmed.split_once("://") {
        // The credentials end at the last `@` before the path.
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        if let Some(at) = authority.rfind('@') {
            let userinfo = &authority[..at];
            let user = userinfo.split(':').next().unwrap_or("");
            let shown = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_string()
            };
            return format!("{scheme}://{shown}{}", &rest[at..]);
        }
        return trimmed.to_string();
    }
    // key=value form: hide the value of `password=` (quoted or not).
    let mut out = String::new();
    let mut rest = trimmed;
    while let Some(pos) = rest.find("password") {
        let (before, after) = rest.split_at(pos);
        out.push_str(before);
        let after_key = after["password".len()..].trim_start();
        if let Some(value) = after_key.strip_prefix('=') {
            out.push_str("password=***");
            let value = value.trim_start();
            let skip = if let Some(quoted) = value.strip_prefix('\'') {
                let mut end = quoted.len();
                let mut chars = quoted.char_indices();
                while let Some((i, c)) = chars.next() {
                    if c == '\\' {
                        chars.next();
                    } else if c == '\'' {
                        end = i + 1;
                        break;
                    }
                }
                1 + end
            } else {
                value.find(char::is_whitespace).unwrap_or(value.len())
            };
            rest = &value[skip.min(value.len())..];
        } else {
            out.push_str("password");
            rest = &after["password".len()..];
        }
    }
    out.push_str(rest);
    out
}

/// `message` with every occurrence of `secret` replaced: a last line of defence for errors that might
/// quote a connection string.
pub fn scrub(message: &str, secret: Option<&str>) -> String {
    match secret {
        Some(secret) if secret.len() >= 3 => message.replace(secret, "***"),
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Config {
        Config::from_vars(vars.iter().copied()).unwrap()
    }

    fn resolve(vars: &[(&str, &str)], connector: ConnectorUrl) -> DatabaseTarget {
        DatabaseTarget::resolve(&settings(vars), &connector).unwrap()
    }

    fn pg(target: &DatabaseTarget) -> (&tokio_postgres::Config, &str, &TargetSource) {
        match target {
            DatabaseTarget::Postgres {
                config,
                display,
                source,
            } => (config, display, source),
            other => panic!("expected PostgreSQL, got {other:?}"),
        }
    }

    #[test]
    fn nothing_configured_serves_the_demo() {
        let target = resolve(&[], ConnectorUrl::Local(None));
        assert!(matches!(target, DatabaseTarget::Sqlite(None)));
        let target = resolve(&[("SQLITE_PATH", "/tmp/x.db")], ConnectorUrl::Local(None));
        assert!(matches!(target, DatabaseTarget::Sqlite(Some(p)) if p == Path::new("/tmp/x.db")));
    }

    #[test]
    fn dsn_wins_over_everything() {
        let target = resolve(
            &[
                ("PG_DSN", "postgresql://app:s3cret@db.example:6543/shop"),
                ("PG_HOST", "other"),
            ],
            ConnectorUrl::Stack(Some("pg-rw.databases.svc.cluster.local".into())),
        );
        let (config, display, source) = pg(&target);
        assert_eq!(source, &TargetSource::Dsn);
        assert_eq!(display, "postgresql://app@db.example:6543/shop");
        assert_eq!(config.get_password(), Some(&b"s3cret"[..]));
        assert!(!target.describe().contains("s3cret"));
    }

    #[test]
    fn stack_connector_host_takes_the_pg_credentials() {
        let target = resolve(
            &[
                ("PG_USER", "reader"),
                ("PG_PASSWORD", "pw"),
                ("PG_DATABASE", "sales"),
            ],
            ConnectorUrl::Stack(Some("pg1-rw.databases.svc.cluster.local".into())),
        );
        let (config, display, source) = pg(&target);
        assert_eq!(source, &TargetSource::Connector);
        assert_eq!(
            display,
            "postgresql://reader@pg1-rw.databases.svc.cluster.local:5432/sales"
        );
        assert_eq!(config.get_password(), Some(&b"pw"[..]));
    }

    #[test]
    fn stack_without_a_deployment_waits() {
        let target = resolve(&[("PG_HOST", "ignored")], ConnectorUrl::Stack(None));
        assert!(
            matches!(target, DatabaseTarget::AwaitingConnector { connector_id } if connector_id == "DATABASE")
        );
    }

    #[test]
    fn local_url_is_a_dsn_or_a_host() {
        let target = resolve(
            &[("PG_PASSWORD", "fill")],
            ConnectorUrl::Local(Some("postgres://u@h:1234/d/".into())),
        );
        let (config, display, _) = pg(&target);
        assert_eq!(display, "postgresql://u@h:1234/d");
        assert_eq!(config.get_password(), Some(&b"fill"[..]));

        let target = resolve(
            &[("PG_DATABASE", "x")],
            ConnectorUrl::Local(Some("127.0.0.1:5433".into())),
        );
        assert_eq!(pg(&target).1, "postgresql://postgres@127.0.0.1:5433/x");

        let target = resolve(&[], ConnectorUrl::Local(Some("[::1]:7".into())));
        assert_eq!(pg(&target).1, "postgresql://postgres@[::1]:7/postgres");

        let bad = DatabaseTarget::resolve(
            &settings(&[]),
            &ConnectorUrl::Local(Some("http://x/y".into())),
        );
        let bad = bad.unwrap_err();
        assert_eq!(bad.variable(), Some("DATABASE_URL"), "{bad}");
    }

    #[test]
    fn host_and_port_when_set() {
        let target = resolve(&[("PG_PORT", "5544")], ConnectorUrl::Local(None));
        let (_, display, source) = pg(&target);
        assert_eq!(source, &TargetSource::HostPort);
        assert_eq!(display, "postgresql://postgres@localhost:5544/postgres");
    }

    #[test]
    fn redaction() {
        assert_eq!(
            redact_dsn("postgresql://u:p%40ss@h:1/d?sslmode=disable"),
            "postgresql://u:***@h:1/d?sslmode=disable"
        );
        assert_eq!(redact_dsn("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(
            redact_dsn("host=h password='a b\\'c' user=u"),
            "host=h password=*** user=u"
        );
        assert_eq!(
            redact_dsn("host=h password = x user=u"),
            "host=h password=*** user=u"
        );
        assert_eq!(
            scrub("failed for hunter2", Some("hunter2")),
            "failed for ***"
        );
        let debug = format!("{:?}", settings(&[("PG_PASSWORD", "hunter2")]));
        assert!(!debug.contains("hunter2"), "{debug}");
    }
}
