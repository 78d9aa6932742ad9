//! `GET /health` in the platform's shape: always 200, the service's mode and connection state.

use std::sync::Arc;

use axum::{Json, extract::State};
use serde_json::Value;

use crate::{connection::Connections, extract::JsonObject};

/// Adds or overrides fields of the health document (e.g. `database_connected`).
pub type HealthHook = Arc<dyn Fn(&mut JsonObject) + Send + Sync>;

/// Where the service runs, as `/health` reports it in `server_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerMode {
    /// Local development: no config manager.
    Local,
    /// Deployed in a ConfidentialMind stack.
    StackDeployment,
}

impl ServerMode {
    /// The mode the environment selects: local when `CONFIDENTIAL_MIND_LOCAL_CONFIG` is `true`
    /// (any case) or when `SERVICE_NAME` is not set; otherwise a stack deployment. (A server refuses
    /// to start when `CONFIDENTIAL_MIND_LOCAL_CONFIG` is set to something else and `SERVICE_NAME` is
    /// missing.)
    pub fn from_env() -> ServerMode {
        let local = std::env::var("CONFIDENTIAL_MIND_LOCAL_CONFIG")
            .is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"));
        let service_name = std::env::var("SERVICE_NAME").is_ok_and(|v| !v.trim().is_empty());
        if local || !service_name {
            ServerMode::Local
        } else {
            ServerMode::StackDeployment
        }
    }

    /// `local` or `stack_deployment`.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerMode::Local => "local",
            ServerMode::StackDeployment => "stack_deployment",
        }
    }
}

pub(crate) struct Health {
    pub service: String,
    pub mode: ServerMode,
    pub hooks: Vec<HealthHook>,
    pub connections: Connections,
}

impl Health {
    pub(crate) fn document(&self) -> JsonObject {
        let mut doc = JsonObject::new();
        doc.insert("status".into(), "healthy".into());
        doc.insert("service".into(), self.service.clone().into());
        doc.insert("service_connected".into(), false.into());
        doc.insert("server_mode".into(), self.mode.as_str().into());
        doc.insert("server_time".into(), crate::events::now_iso().into());
        doc.insert("connector_id".into(), Value::Null);
        self.connections.health(&mut doc);
        for hook in &self.hooks {
            hook(&mut doc);
        }
        doc
    }
}

pub(crate) async fn handler(State(health): State<Arc<Health>>) -> Json<Value> {
    tracing::debug!(
        event_type = "health.check.requested",
        "Health check requested"
    );
    let doc = health.document();
    tracing::debug!(
        event_type = "health.check.complete",
        success = true,
        "Health check complete"
    );
    Json(Value::Object(doc))
}
