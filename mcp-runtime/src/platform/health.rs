//! `GET /health` in the platform's shape: always 200, the service's mode and connection state.
//!
//! The document has the platform template server's keys: `status`, `service`, `service_connected`
//! (whether every declared connector is connected: true for a server that declares none),
//! `server_mode` (`local` or `stack_deployment`), `server_time` and `connector_id` (the first
//! connector's id, or null), and `shared_state`: where the state several replicas share is kept
//! (`{"backend": "memory"}`, or `{"backend": "redis", "connected": .., "url": .., "replica": ..}`
//! with the URL's password masked). [`Server::health`](crate::Server::health) adds or overrides
//! fields.

use std::sync::Arc;

use axum::{Json, extract::State};
use serde_json::Value;

use super::{connections::Connections, mode::Mode};
use crate::{extract::JsonObject, replicas::Replicas};

/// Adds or overrides fields of the health document (e.g. `database_connected`).
pub type HealthHook = Arc<dyn Fn(&mut JsonObject) + Send + Sync>;

pub(crate) struct Health {
    pub service: String,
    pub mode: Mode,
    pub hooks: Vec<HealthHook>,
    pub connections: Connections,
    pub replicas: Replicas,
}

impl Health {
    pub(crate) fn document(&self) -> JsonObject {
        let mut doc = JsonObject::new();
        doc.insert("status".into(), "healthy".into());
        doc.insert("service".into(), self.service.clone().into());
        // True when every declared connector is connected, so also when none is declared.
        doc.insert(
            "service_connected".into(),
            self.connections.all_connected().into(),
        );
        doc.insert("server_mode".into(), self.mode.as_str().into());
        doc.insert("server_time".into(), crate::events::now_iso().into());
        doc.insert("connector_id".into(), Value::Null);
        doc.insert("shared_state".into(), self.replicas.health());
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
