//! Without the feature `otel`: no traces. A server whose environment asks for them says so once.

use std::sync::Arc;

use super::{CallAttributes, Failure};
use crate::platform::SettingsError;

/// Never made: without the feature `otel` there are no traces.
pub(crate) enum Traces {}

/// Never made.
pub(crate) enum CallSpan {}

impl Traces {
    /// Warns when a variable asks for traces, which this build cannot send.
    pub(crate) fn from_env(
        _service: &str,
        _version: &str,
    ) -> Result<Option<Arc<Traces>>, SettingsError> {
        let asked = [
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ]
        .into_iter()
        .find(|name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty()));
        if let Some(variable) = asked {
            tracing::warn!(
                event_type = "telemetry.traces.unavailable",
                data.variable = variable,
                "{variable} is set, but this server was built without the `otel` feature of cm-mcp: no traces are sent"
            );
        }
        Ok(None)
    }

    pub(crate) fn start(&self, _call: &CallAttributes<'_>) -> CallSpan {
        match *self {}
    }

    pub(crate) async fn shutdown(&self) {
        match *self {}
    }
}

impl CallSpan {
    pub(crate) fn end(self, _failure: Option<Failure<'_>>) {
        match self {}
    }
}
