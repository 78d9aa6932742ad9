//! Connectors: the other services of a stack a server talks to (an API, a database, an LLM, ...), as
//! the ConfidentialMind platform declares and resolves them.
//!
//! A server declares its connectors on the builder; the platform assigns each one a deployment (its
//! `stack_id`) and the framework turns that into a URL:
//!
//! ```no_run
//! use mcp_runtime::{Connector, ConnectorType, Server};
//! # async fn main_() -> anyhow::Result<()> {
//! Server::new("my-service")
//!     .connector(Connector::api("MYSERVICE", "My Service"))
//!     .connector(Connector::array(ConnectorType::AgentTool, "agentTools", "MCP Tool Servers"))
//!     .run()
//!     .await
//! # }
//! ```
//!
//! In local development (`CONFIDENTIAL_MIND_LOCAL_CONFIG=true`, or no `SERVICE_NAME`) the URL comes from
//! `{ID}_URL` and an optional `{ID}_APIKEY` (sent as `Authorization: Bearer`); array connectors read
//! `{ID}_0_URL`, `{ID}_1_URL`, ... up to the first gap.

use std::{fmt, future::Future, sync::Arc};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::endpoint::ConnectionState;
use crate::registry::BoxFuture;

macro_rules! connector_types {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal, $namespace:literal, $ctor:ident; )*) => {
        /// A connector's type, which decides the Kubernetes namespace its deployments live in.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum ConnectorType {
            $( $(#[$doc])* $variant, )*
            /// A type this framework does not know; its deployments are looked up in `default`.
            Other(String),
        }

        impl ConnectorType {
            /// The type's name on the wire (`api`, `database`, ...).
            pub fn as_str(&self) -> &str {
                match self {
                    $( ConnectorType::$variant => $name, )*
                    ConnectorType::Other(name) => name,
                }
            }

            /// The namespace the platform deploys this type's services in.
            pub fn namespace(&self) -> &'static str {
                match self {
                    $( ConnectorType::$variant => $namespace, )*
                    ConnectorType::Other(_) => "default",
                }
            }

            /// The type called `name` on the wire; unknown names become [`ConnectorType::Other`].
            pub fn from_name(name: &str) -> ConnectorType {
                match name {
                    $( $name => ConnectorType::$variant, )*
                    other => ConnectorType::Other(other.to_string()),
                }
            }

            /// Every type the platform defines.
            pub fn all() -> Vec<ConnectorType> {
                vec![$( ConnectorType::$variant, )*]
            }
        }

        impl Connector {
            $(
                #[doc = concat!("A `", $name, "` connector (namespace `", $namespace, "`): `config_id` is its id (and the prefix of its local env vars), `label` what the stack's UI shows.")]
                pub fn $ctor(config_id: impl Into<String>, label: impl Into<String>) -> Connector {
                    Connector::new(ConnectorType::$variant, config_id, label)
                }
            )*
        }
    };
}

connector_types! {
    /// An object storage bucket.
    Bucket => "bucket", "rook-ceph", bucket;
    /// A PostgreSQL database; its URL is a host name, without scheme or port.
    Database => "database", "databases", database;
    /// A playground.
    Playground => "playground", "tools", playground;
    /// A frontend.
    Frontend => "frontend", "frontend", frontend;
    /// A generic endpoint.
    Endpoint => "endpoint", "api-services", endpoint;
    /// An agent's endpoint.
    AgentEndpoint => "agent_endpoint", "api-services", agent_endpoint;
    /// A model's endpoint.
    ModelEndpoint => "model_endpoint", "api-services", model_endpoint;
    /// A data source.
    DataSource => "data_source", "api-services", data_source;
    /// A tool of an agent, e.g. an MCP server.
    AgentTool => "agent_tool", "api-services", agent_tool;
    /// An API service.
    Api => "api", "api-services", api;
    /// A language model served in the stack.
    Llm => "llm", "api-services", llm;
    /// A model.
    Model => "model", "api-services", model;
    /// A language model outside the stack, reached through a proxy service.
    ExternalLlm => "external_llm", "api-services", external_llm;
    /// A database outside the stack, reached through a proxy service.
    ExternalDatabase => "external_database", "api-services", external_database;
    /// A volume.
    Volume => "volume", "api-services", volume;
}

impl fmt::Display for ConnectorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ConnectorType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ConnectorType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Ok(ConnectorType::from_name(&name))
    }
}

/// The URL of the deployment `stack_id` of a connector of type `kind`, inside the cluster:
/// `{stack_id}-rw.databases.svc.cluster.local` for a database (a host: no scheme, no port), else
/// `http://{stack_id}.{namespace}.svc.cluster.local:8080`.
///
/// ```
/// use mcp_runtime::{ConnectorType, stack_url};
/// assert_eq!(stack_url(&ConnectorType::Api, "abc"), "http://abc.api-services.svc.cluster.local:8080");
/// assert_eq!(stack_url(&ConnectorType::Database, "pg1"), "pg1-rw.databases.svc.cluster.local");
/// ```
pub fn stack_url(kind: &ConnectorType, stack_id: &str) -> String {
    match kind {
        ConnectorType::Database => format!("{stack_id}-rw.databases.svc.cluster.local"),
        other => format!(
            "http://{stack_id}.{}.svc.cluster.local:8080",
            other.namespace()
        ),
    }
}

/// Runs on every change of a connector's URL; see [`Connector::on_change`].
pub(crate) type ChangeHook =
    Arc<dyn Fn(ConnectionState) -> BoxFuture<anyhow::Result<()>> + Send + Sync>;

/// A connector a server declares: its type, id and label, whether it is an array (several deployments),
/// and what to do when its URL changes.
#[derive(Clone)]
pub struct Connector {
    pub(crate) kind: ConnectorType,
    pub(crate) config_id: String,
    pub(crate) label: String,
    pub(crate) array: bool,
    pub(crate) on_change: Option<ChangeHook>,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("kind", &self.kind)
            .field("config_id", &self.config_id)
            .field("label", &self.label)
            .field("array", &self.array)
            .field("on_change", &self.on_change.is_some())
            .finish()
    }
}

impl Connector {
    /// A connector of type `kind`. `config_id` identifies it to the platform and prefixes its local
    /// env vars (`{config_id}_URL`); `label` is what the stack's UI shows.
    pub fn new(
        kind: ConnectorType,
        config_id: impl Into<String>,
        label: impl Into<String>,
    ) -> Connector {
        Connector {
            kind,
            config_id: config_id.into(),
            label: label.into(),
            array: false,
            on_change: None,
        }
    }

    /// An array connector: any number of deployments of type `kind`, one URL each (e.g. the
    /// `agent_tool` connector `agentTools` through which an agent finds its MCP servers).
    pub fn array(
        kind: ConnectorType,
        config_id: impl Into<String>,
        label: impl Into<String>,
    ) -> Connector {
        Connector {
            array: true,
            ..Connector::new(kind, config_id, label)
        }
    }

    /// Runs `hook` every time the connector's URL changes (the first URL included), e.g. to rebuild a
    /// connection pool. The connector counts as connected once the hook has succeeded for the current
    /// URL; a failing hook is retried with exponential backoff (1 s doubling, at most 30 s) until it
    /// succeeds or the URL changes again. When the URL goes away it runs once more with a state
    /// without one (`state.url()` is `None`) to release what it holds; that run is not retried.
    ///
    /// ```
    /// use mcp_runtime::Connector;
    /// let connector = Connector::database("DATABASE", "PostgreSQL Database").on_change(|state| async move {
    ///     let host = state.url().unwrap_or_default();
    ///     // close the old pool, open one to `host` ...
    ///     anyhow::Ok(())
    /// });
    /// ```
    pub fn on_change<F, Fut>(mut self, hook: F) -> Connector
    where
        F: Fn(ConnectionState) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.on_change = Some(Arc::new(move |state| Box::pin(hook(state))));
        self
    }

    /// The connector's type.
    pub fn kind(&self) -> &ConnectorType {
        &self.kind
    }

    /// Its id (`config_id`).
    pub fn config_id(&self) -> &str {
        &self.config_id
    }

    /// Its label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Whether it is an array connector.
    pub fn is_array(&self) -> bool {
        self.array
    }
}

/// A connector as the config manager stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ConnectorSchema {
    #[serde(rename = "type")]
    pub kind: ConnectorType,
    pub label: String,
    pub config_id: String,
    #[serde(default)]
    pub stack_id: Option<String>,
    #[serde(default)]
    pub deployment_name: Option<String>,
}

/// An array connector as the config manager stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ArrayConnectorSchema {
    #[serde(rename = "type")]
    pub kind: ConnectorType,
    pub label: String,
    pub config_id: String,
    #[serde(default)]
    pub stack_ids: Option<Vec<String>>,
    #[serde(default)]
    pub deployment_names: Option<Vec<String>>,
}

/// The `connectors` block of the config manager's documents.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ConnectorsBlock {
    #[serde(default)]
    pub connectors: Vec<ConnectorSchema>,
    #[serde(default)]
    pub array_connectors: Option<Vec<ArrayConnectorSchema>>,
}

impl ConnectorsBlock {
    /// The block a service registers: its declared connectors, none assigned yet.
    pub fn declared(connectors: &[Connector]) -> ConnectorsBlock {
        let singles = connectors
            .iter()
            .filter(|c| !c.array)
            .map(|c| ConnectorSchema {
                kind: c.kind.clone(),
                label: c.label.clone(),
                config_id: c.config_id.clone(),
                stack_id: None,
                deployment_name: None,
            })
            .collect();
        let arrays: Vec<ArrayConnectorSchema> = connectors
            .iter()
            .filter(|c| c.array)
            .map(|c| ArrayConnectorSchema {
                kind: c.kind.clone(),
                label: c.label.clone(),
                config_id: c.config_id.clone(),
                stack_ids: None,
                deployment_names: None,
            })
            .collect();
        ConnectorsBlock {
            connectors: singles,
            array_connectors: (!arrays.is_empty()).then_some(arrays),
        }
    }

    /// The URLs the block assigns to `connector` (empty: none assigned yet). The type the manager
    /// stored wins over the declared one. Only the config manager's client reads assignments.
    #[cfg(feature = "platform")]
    pub fn urls_for(&self, connector: &Connector) -> Vec<String> {
        if connector.array {
            self.array_connectors
                .iter()
                .flatten()
                .find(|a| a.config_id == connector.config_id)
                .map(|a| {
                    a.stack_ids
                        .iter()
                        .flatten()
                        .filter(|id| !id.trim().is_empty())
                        .map(|id| stack_url(&a.kind, id.trim()))
                        .collect()
                })
                .unwrap_or_default()
        } else {
            self.connectors
                .iter()
                .find(|c| c.config_id == connector.config_id)
                .and_then(|c| {
                    let id = c.stack_id.as_deref()?.trim();
                    (!id.is_empty()).then(|| stack_url(&c.kind, id))
                })
                .into_iter()
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_follow_the_platform() {
        let expected = [
            ("bucket", "rook-ceph"),
            ("database", "databases"),
            ("playground", "tools"),
            ("frontend", "frontend"),
            ("endpoint", "api-services"),
            ("agent_endpoint", "api-services"),
            ("model_endpoint", "api-services"),
            ("data_source", "api-services"),
            ("agent_tool", "api-services"),
            ("api", "api-services"),
            ("llm", "api-services"),
            ("model", "api-services"),
            ("external_llm", "api-services"),
            ("external_database", "api-services"),
            ("volume", "api-services"),
            ("something_new", "default"),
        ];
        for (name, namespace) in expected {
            let kind = ConnectorType::from_name(name);
            assert_eq!(kind.as_str(), name);
            assert_eq!(kind.namespace(), namespace, "{name}");
        }
        assert_eq!(ConnectorType::all().len(), 15);
    }

    #[test]
    fn declared_block_has_the_wire_shape() {
        let block = ConnectorsBlock::declared(&[
            Connector::api("A", "An API"),
            Connector::array(ConnectorType::AgentTool, "T", "Tools"),
        ]);
        assert_eq!(
            serde_json::to_value(&block).unwrap(),
            serde_json::json!({
                "connectors": [{"type": "api", "label": "An API", "config_id": "A", "stack_id": null, "deployment_name": null}],
                "array_connectors": [{"type": "agent_tool", "label": "Tools", "config_id": "T", "stack_ids": null, "deployment_names": null}],
            })
        );
        let only_single = ConnectorsBlock::declared(&[Connector::api("A", "An API")]);
        assert_eq!(
            serde_json::to_value(&only_single).unwrap()["array_connectors"],
            serde_json::Value::Null
        );
    }
}
