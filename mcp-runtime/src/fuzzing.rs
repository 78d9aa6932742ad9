//! What the fuzz targets in `fuzz/` reach that no public API exposes. Compiled only under
//! `--cfg fuzzing`, which `cargo fuzz` passes to every crate it builds, so it is absent from every
//! normal build and is no API: nothing here may be used outside `fuzz/`.
//!
//! Why it exists: URI-template matching runs on templates the macro parsed at compile time, so a fuzz
//! target driving it through a server could only try the few templates compiled into it; to try
//! arbitrary templates it needs the matcher itself. A line's trace fields come from the
//! [`TraceContext`] attached to the call's span, which only the call path attaches; the log-format
//! target attaches one of its own to check that every trace field is escaped. Everything else the
//! targets drive (argument extraction, trace headers, the log layer) is public API.

use std::sync::Arc;

use crate::{extract::JsonObject, registry::UriTemplate, trace::TraceContext};

pub use crate::registry::UriPart;

/// The variables bound by matching `uri` against the template `parts`, percent-decoded, as a
/// `resources/read` of a template binds them; `None` when it does not match.
pub fn match_uri_template(parts: &[UriPart], uri: &str) -> Option<JsonObject> {
    UriTemplate::new(parts).matches(uri)
}

/// Attaches `trace` to `span` as the call path does, so that every event inside carries its fields.
pub fn attach_trace(span: &tracing::Span, trace: TraceContext) {
    crate::events::attach_trace(span, Arc::new(trace));
}
