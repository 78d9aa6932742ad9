//! Resources: static text, static binary, a template, and a resource clients can subscribe to.

use cm_mcp::prelude::*;
use serde::Serialize;

use crate::{Watched, media::RED_PIXEL_PNG};

/// The URI of the resource `test_update_watched_resource` changes.
pub const WATCHED_URI: &str = "test://watched-resource";

/// A static text resource.
#[cm_resource("test://static-text", mime_type = "text/plain")]
async fn static_text() -> &'static str {
    "This is the content of the static text resource."
}

/// A static binary resource: a 1×1 red pixel.
#[cm_resource("test://static-binary", mime_type = "image/png")]
async fn static_binary() -> Vec<u8> {
    RED_PIXEL_PNG.to_vec()
}

/// What the template serves for one id.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TemplateData {
    id: String,
    template_test: bool,
    data: String,
}

/// Data for one id, from a resource template.
///
/// # Arguments
/// * `id` - The id to describe.
#[cm_resource("test://template/{id}/data", mime_type = "application/json")]
async fn template_data(#[arg(complete = known_ids)] id: String) -> TemplateData {
    TemplateData {
        data: format!("Data for ID: {id}"),
        id,
        template_test: true,
    }
}

/// Completes the template's `{id}` from the ids this server knows best.
async fn known_ids(request: cm_mcp::Completion) -> Vec<String> {
    request.matching(["123", "456", "789"])
}

/// A resource that changes when `test_update_watched_resource` is called; subscribe to it.
#[cm_resource("test://watched-resource", mime_type = "text/plain")]
async fn watched_resource(watched: State<Watched>) -> String {
    watched.get()
}
