//! Service settings: a plain serde struct loaded from prefixed env vars and `.env`, with defaults,
//! sent to the config manager as the service's `config` and `config_schema`, and updated by it.
//!
//! ```no_run
//! use mcp_runtime::{Server, Settings};
//! use schemars::JsonSchema;
//! use serde::{Deserialize, Serialize};
//!
//! /// What the service can be configured with.
//! #[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
//! struct Config {
//!     /// The service's display name.
//!     name: String,
//!     /// How many rows a query returns at most.
//!     max_rows: u32,
//! }
//!
//! impl Default for Config {
//!     fn default() -> Self {
//!         Config { name: "my-service".into(), max_rows: 100 }
//!     }
//! }
//!
//! # async fn main_() -> anyhow::Result<()> {
//! // MYSERVICE_NAME=demo MYSERVICE_MAX_ROWS=10 override the defaults; tools take `Settings<Config>`.
//! Server::new("my-service").settings::<Config>("MYSERVICE_").run().await
//! # }
//! ```
//!
//! Field `max_rows` reads `MYSERVICE_MAX_ROWS`; a nested struct's field reads `MYSERVICE_OUTER__INNER`.
//! Values convert to the field's type on demand (`8080` for a `u16`, `true`/`yes`/`1` for a `bool`,
//! anything for a `String`); one that does not is a startup error naming the variable.

use std::{fmt, sync::Arc};

use schemars::JsonSchema;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use tokio::sync::watch;

use super::{SettingsError, SettingsSource};
use crate::{
    FromCall, ToolError,
    extract::{CallInput, ParamInfo},
};

/// What a settings type needs: serde both ways, a JSON schema, and defaults. Implemented for every
/// type that has them (derive `Serialize`, `Deserialize`, `JsonSchema`, and implement `Default`).
pub trait ServiceSettings:
    Serialize + DeserializeOwned + JsonSchema + Default + Send + Sync + 'static
{
}

impl<T: Serialize + DeserializeOwned + JsonSchema + Default + Send + Sync + 'static> ServiceSettings
    for T
{
}

/// The live settings of type `T`: loaded at start, replaced when the config manager pushes a new
/// config. Cheap to clone; take it in a tool as `settings: Settings<Config>` and read `settings.get()`.
pub struct Settings<T> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    prefix: String,
    /// Defaults and env vars, as JSON: what a config from the manager is laid over.
    base: Value,
    current: watch::Sender<Arc<T>>,
}

impl<T> Clone for Settings<T> {
    fn clone(&self) -> Self {
        Settings {
            inner: self.inner.clone(),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Settings<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("prefix", &self.inner.prefix)
            .field("current", &*self.inner.current.borrow())
            .finish()
    }
}

impl<T: ServiceSettings> Settings<T> {
    /// Loads `.env` from the working directory (its values override the environment, as the
    /// platform's SDK does), then reads every `{prefix}FIELD` variable over `T::default()`.
    /// `prefix` is e.g. `"MYSERVICE_"` (a missing trailing `_` is added).
    pub fn from_env(prefix: &str) -> Result<Settings<T>, SettingsError> {
        let _ = dotenvy::dotenv_override();
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        Settings::from_vars(prefix, vars)
    }

    /// [`from_env`](Settings::from_env) over the given variables instead of the process's.
    pub fn from_vars(
        prefix: &str,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings<T>, SettingsError> {
        let prefix = format!("{}_", prefix.trim_end_matches('_'));
        let vars: config::Map<String, String> = vars
            .into_iter()
            .filter(|(k, _)| {
                k.to_ascii_uppercase()
                    .starts_with(&prefix.to_ascii_uppercase())
            })
            .collect();
        let defaults = config::Config::try_from(&T::default()).map_err(|e| {
            SettingsError::misconfigured(
                None,
                format!(
                    "the defaults of the settings type `{}` cannot be represented: {e}",
                    std::any::type_name::<T>()
                ),
            )
        })?;
        let env = config::Environment::with_prefix(prefix.trim_end_matches('_'))
            .prefix_separator("_")
            .separator("__")
            .ignore_empty(true)
            .source(Some(vars.clone()));
        let value: T = config::Config::builder()
            .add_source(defaults)
            .add_source(env)
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| explain(&prefix, &vars, e))?;
        Ok(Settings::with_prefix(prefix, value))
    }

    /// Fixed settings (no env vars), e.g. for tests. The config manager can still replace them.
    pub fn new(value: T) -> Settings<T> {
        Settings::with_prefix(String::new(), value)
    }

    fn with_prefix(prefix: String, value: T) -> Settings<T> {
        let base = serde_json::to_value(&value).unwrap_or(Value::Null);
        Settings {
            inner: Arc::new(Inner {
                prefix,
                base,
                current: watch::Sender::new(Arc::new(value)),
            }),
        }
    }

    /// The current values.
    pub fn get(&self) -> Arc<T> {
        self.inner.current.borrow().clone()
    }

    /// A receiver that sees every new value (a config pushed by the manager).
    pub fn subscribe(&self) -> watch::Receiver<Arc<T>> {
        self.inner.current.subscribe()
    }

    /// The env var prefix, e.g. `MYSERVICE_` (empty for [`Settings::new`]).
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The JSON Schema of `T`: the `config_schema` sent to the config manager.
    pub fn schema() -> Value {
        crate::schema::settings()
            .into_generator()
            .into_root_schema_for::<T>()
            .to_value()
    }

    /// The current values as JSON: the `config` sent to the config manager.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(&*self.get()).unwrap_or(Value::Null)
    }

    /// Lays `config` (a JSON object from the manager) over the defaults and env vars, validates it as
    /// `T` and makes it current; returns it with defaults filled. An invalid one changes nothing.
    pub fn apply_json(&self, config: &Value) -> Result<Value, String> {
        let Value::Object(_) = config else {
            return Err(format!("the config is not a JSON object: {config}"));
        };
        let mut merged = self.inner.base.clone();
        merge(&mut merged, config);
        let value: T = serde_json::from_value(merged).map_err(|e| {
            format!(
                "the config does not fit the settings type `{}`: {e}",
                std::any::type_name::<T>()
            )
        })?;
        let json = serde_json::to_value(&value).unwrap_or(Value::Null);
        self.inner.current.send_replace(Arc::new(value));
        Ok(json)
    }
}

/// Lays `overlay` over `base`, object by object.
fn merge(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge(existing, value)
                    }
                    _ => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, overlay) => *base = overlay.clone(),
    }
}

/// Whether a field's value must stay out of messages.
fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["key", "secret", "password", "token", "credential", "dsn"]
        .iter()
        .any(|s| key.contains(s))
}

/// Turns config's error into one naming the env var and what it should hold.
fn explain(
    prefix: &str,
    vars: &config::Map<String, String>,
    error: config::ConfigError,
) -> SettingsError {
    use config::ConfigError;
    let (inner, key) = match error {
        ConfigError::At {
            error,
            key: Some(key),
            ..
        } => (*error, Some(key)),
        ConfigError::Type {
            key: Some(ref key), ..
        } => {
            let key = key.clone();
            (error, Some(key))
        }
        other => (other, None),
    };
    let Some(key) = key else {
        return SettingsError::misconfigured(
            None,
            format!("invalid settings ({prefix}*): {inner}"),
        );
    };
    let variable = format!("{prefix}{}", key.replace('.', "__").to_ascii_uppercase());
    let value = vars
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(&variable))
        .map(|(_, v)| v.as_str());
    let what = match &inner {
        ConfigError::Type { expected, .. } => format!("expected {expected}"),
        other => other.to_string(),
    };
    let message = match value {
        Some(_) if is_secret(&key) => format!("{variable} is not valid: {what}"),
        Some(value) => format!("{variable}=`{value}` is not valid: {what}"),
        None => format!("{variable} is not valid: {what}"),
    };
    SettingsError::misconfigured(Some(variable), message)
}

impl<T: ServiceSettings> SettingsSource for Settings<T> {
    fn schema(&self) -> Value {
        Settings::<T>::schema()
    }

    fn current(&self) -> Value {
        self.to_json()
    }

    fn apply(&self, config: &Value) -> Result<Value, String> {
        self.apply_json(config)
    }
}

impl<'a, T: ServiceSettings> FromCall<'a> for Settings<T> {
    fn from_call(_: &'static ParamInfo, input: &mut CallInput<'a>) -> Result<Self, ToolError> {
        input
            .context()
            .state::<Settings<T>>()
            .map(|s| (*s).clone())
            .ok_or_else(|| {
                ToolError::internal(format!(
                    "the server has no settings of type `{}`: register them with Server::settings::<{0}>(\"PREFIX_\")",
                    std::any::type_name::<T>()
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
    struct Config {
        name: String,
        port: u16,
        verbose: bool,
        api_key: Option<String>,
        nested: Nested,
    }

    #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
    struct Nested {
        depth: u32,
    }

    impl Default for Config {
        fn default() -> Self {
            Config {
                name: "svc".into(),
                port: 8080,
                verbose: false,
                api_key: None,
                nested: Nested { depth: 1 },
            }
        }
    }

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn env_vars_override_defaults() {
        let s = Settings::<Config>::from_vars(
            "APP_",
            vars(&[
                ("APP_NAME", "123"),
                ("APP_PORT", "9000"),
                ("APP_VERBOSE", "true"),
                ("APP_NESTED__DEPTH", "3"),
                ("OTHER_PORT", "x"),
            ]),
        )
        .unwrap();
        let c = s.get();
        assert_eq!(c.name, "123");
        assert_eq!(c.port, 9000);
        assert!(c.verbose);
        assert_eq!(c.nested.depth, 3);
        assert_eq!(c.api_key, None);
        let defaults = Settings::<Config>::from_vars("APP", vars(&[])).unwrap();
        assert_eq!(*defaults.get(), Config::default());
    }

    #[test]
    fn bad_value_names_the_variable_and_the_type() {
        let err =
            Settings::<Config>::from_vars("APP_", vars(&[("APP_PORT", "eighty")])).unwrap_err();
        assert_eq!(err.variable(), Some("APP_PORT"));
        assert!(err.to_string().contains("APP_PORT=`eighty`"), "{err}");
        assert!(err.to_string().contains("integer"), "{err}");
        let err =
            Settings::<Config>::from_vars("APP_", vars(&[("APP_PORT", "70000")])).unwrap_err();
        assert!(err.to_string().contains("16 bit"), "{err}");
        let err = Settings::<Config>::from_vars("APP_", vars(&[("APP_NESTED__DEPTH", "deep")]))
            .unwrap_err();
        assert_eq!(err.variable(), Some("APP_NESTED__DEPTH"), "{err}");
    }

    #[test]
    fn manager_config_is_laid_over_the_base() {
        let s = Settings::<Config>::from_vars("APP_", vars(&[("APP_PORT", "9000")])).unwrap();
        let applied = s
            .apply_json(&serde_json::json!({"name": "pushed", "nested": {}}))
            .unwrap();
        assert_eq!(applied["name"], "pushed");
        assert_eq!(applied["port"], 9000);
        assert_eq!(applied["nested"]["depth"], 1);
        assert_eq!(s.get().name, "pushed");
        assert!(s.apply_json(&serde_json::json!({"port": "x"})).is_err());
        assert_eq!(s.get().name, "pushed");
        let schema = Settings::<Config>::schema();
        assert_eq!(schema["properties"]["port"]["type"], "integer");
    }
}
