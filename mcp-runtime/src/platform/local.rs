//! Local development: connectors' URLs and API keys from `{ID}_URL` / `{ID}_APIKEY` (and
//! `{ID}_{N}_URL` for array connectors), read from the environment and `.env`, as the platform SDK's
//! `get_api_parameters` does when `CONFIDENTIAL_MIND_LOCAL_CONFIG=true`.

use std::{collections::HashMap, time::Duration};

use http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
use tokio_util::sync::CancellationToken;

use super::{
    SettingsError,
    connections::Connections,
    connectors::{Connector, ConnectorType},
    endpoint::Endpoint,
};

/// The error `get_api_parameters` raises for an API key that is not JWT-shaped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "API key for {url_var} is not the right format: {key_var} must look like a JWT (three base64url parts separated by dots)"
)]
pub struct ApiKeyFormatError {
    /// The variable holding the URL, e.g. `MYSERVICE_URL`.
    pub url_var: String,
    /// The variable holding the key, e.g. `MYSERVICE_APIKEY`.
    pub key_var: String,
}

/// `^[A-Za-z0-9-_]+\.[A-Za-z0-9-_]+\.[A-Za-z0-9-_]+$`
fn is_jwt_shaped(key: &str) -> bool {
    let parts: Vec<&str> = key.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// One endpoint read from local env vars.
struct LocalEndpoint {
    url: Option<String>,
    key: Option<String>,
}

/// `prefix`'s URL and key. A database connector's URL is a host (`host` or `host:port`, as in a
/// stack); every other connector's must be an absolute URL, or the service would only find out at its
/// first request.
fn local_endpoint(
    prefix: &str,
    database: bool,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<LocalEndpoint, SettingsError> {
    let url_var = format!("{prefix}_URL");
    let key_var = format!("{prefix}_APIKEY");
    let url = lookup(&url_var).map(|u| {
        let u = u.trim();
        u.strip_suffix('/').unwrap_or(u).to_string()
    });
    if let Some(url) = url.as_deref().filter(|u| !u.is_empty() && !database) {
        let problem = match url::Url::parse(url) {
            Ok(parsed) if parsed.host_str().is_none() => Some("it has no host".to_string()),
            Ok(_) => None,
            Err(error) => Some(error.to_string()),
        };
        if let Some(problem) = problem {
            return Err(SettingsError::new(
                &url_var,
                format!(
                    "{url_var} is not a URL ({problem}): set it to the service's address with its scheme, e.g. `http://localhost:8000`"
                ),
            ));
        }
    }
    let key = match lookup(&key_var).map(|k| k.trim().to_string()) {
        Some(key) if !key.is_empty() => {
            if !is_jwt_shaped(&key) {
                let message = ApiKeyFormatError {
                    url_var,
                    key_var: key_var.clone(),
                }
                .to_string();
                return Err(SettingsError::new(key_var, message));
            }
            Some(key)
        }
        _ => None,
    };
    Ok(LocalEndpoint {
        url: url.filter(|u| !u.is_empty()),
        key,
    })
}

/// A connector's URLs and headers in local mode, from `lookup` (the environment and `.env`).
/// For an array connector the elements `{ID}_0_...` to `{ID}_9_...` are read up to the first missing
/// URL; the first element's key is sent to every element.
pub(crate) fn local_parameters(
    connector: &Connector,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(Vec<String>, HeaderMap), SettingsError> {
    let database = connector.kind == ConnectorType::Database;
    let mut urls = Vec::new();
    let mut key = None;
    if connector.array {
        for n in 0..10 {
            let element =
                local_endpoint(&format!("{}_{n}", connector.config_id), database, lookup)?;
            let Some(url) = element.url else { break };
            urls.push(url);
            key = key.or(element.key);
        }
    } else {
        let endpoint = local_endpoint(&connector.config_id, database, lookup)?;
        urls.extend(endpoint.url);
        key = endpoint.key;
    }
    let mut headers = HeaderMap::new();
    if let Some(key) = key
        && let Ok(mut value) = HeaderValue::try_from(format!("Bearer {key}"))
    {
        // Sensitive values print as "Sensitive" in Debug output, so a logged state leaks no key.
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    Ok((urls, headers))
}

/// Reads every connector's URL now (a malformed API key is an error), starts the connection workers,
/// and re-reads the environment in the background.
pub(super) fn start(
    why: &str,
    connections: &Connections,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
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
) -> Result<(), SettingsError> {
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
                error_type = "SettingsError",
                data.target = "connector",
                data.attempt = attempt,
                "Connector settings in the environment are invalid; keeping the current ones"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::ConnectorType;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn local_url_loses_one_trailing_slash_and_key_becomes_bearer() {
        let c = Connector::api("SVC", "Service");
        let (urls, headers) = local_parameters(
            &c,
            &lookup(&[("SVC_URL", "http://h:1//"), ("SVC_APIKEY", "a.b.c")]),
        )
        .unwrap();
        assert_eq!(urls, ["http://h:1/"]);
        assert_eq!(headers[AUTHORIZATION], "Bearer a.b.c");
        assert!(format!("{headers:?}").contains("Sensitive"));
        assert!(!format!("{headers:?}").contains("a.b.c"));
    }

    #[test]
    fn malformed_key_names_the_url_variable() {
        let c = Connector::api("SVC", "Service");
        for bad in ["nodots", "a.b", "a.b.c.d", "a.b!.c", "a..c"] {
            let err =
                local_parameters(&c, &lookup(&[("SVC_URL", "http://h"), ("SVC_APIKEY", bad)]))
                    .unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("API key for SVC_URL is not the right format"),
                "{err}"
            );
            assert!(!err.to_string().contains(bad));
        }
    }

    #[test]
    fn a_malformed_url_names_its_variable_without_echoing_it() {
        let c = Connector::api("SVC", "Service");
        for bad in ["localhost:8000", "not a url", "http://user:secret@"] {
            let err = local_parameters(&c, &lookup(&[("SVC_URL", bad)])).unwrap_err();
            assert_eq!(err.variable(), Some("SVC_URL"));
            assert!(
                err.to_string().starts_with("SVC_URL is not a URL ("),
                "{err}"
            );
            assert!(!err.to_string().contains("secret"), "{err}");
        }
        // A database connector's URL is a host, as the stack gives it.
        let db = Connector::new(ConnectorType::Database, "DB", "Database");
        let (urls, _) = local_parameters(&db, &lookup(&[("DB_URL", "db-host:5432")])).unwrap();
        assert_eq!(urls, ["db-host:5432"]);
    }

    #[test]
    fn array_elements_stop_at_the_first_gap() {
        let c = Connector::array(ConnectorType::AgentTool, "TOOLS", "Tools");
        let (urls, _) = local_parameters(
            &c,
            &lookup(&[
                ("TOOLS_0_URL", "http://a/"),
                ("TOOLS_1_URL", "http://b"),
                ("TOOLS_3_URL", "http://d"),
            ]),
        )
        .unwrap();
        assert_eq!(urls, ["http://a", "http://b"]);
    }

    #[test]
    fn recheck_follows_the_seed() {
        let secs: Vec<f64> = (1..=7).map(|n| recheck_delay(n).as_secs_f64()).collect();
        let expected = [7.5, 11.25, 16.875, 25.3125, 30.0, 30.0, 30.0];
        for (got, want) in secs.iter().zip(expected) {
            assert!((got - want).abs() < 1e-9, "{secs:?}");
        }
    }
}
