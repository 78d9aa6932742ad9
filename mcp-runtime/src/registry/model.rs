//! Definitions as rmcp's model types: the entries of `tools/list`, `resources/list`,
//! `resources/templates/list` and `prompts/list`, built once at startup.

use rmcp::model::{
    MetaObject as Meta, Prompt, PromptArgument, Resource, ResourceTemplate, TASKS_EXTENSION_ID,
    Tool, ToolAnnotations,
};
use serde_json::{Value, json};

use super::{PromptDef, ResourceDef, ToolDef};
use crate::{
    TaskSupport,
    extract::{ArgsSpec, JsonObject},
};

fn tags_meta(tags: &[&str]) -> Option<Meta> {
    if tags.is_empty() {
        return None;
    }
    let mut meta = Meta::new();
    meta.0.insert("tags".into(), json!(tags));
    Some(meta)
}

/// The tool as `tools/list` shows it, and whether its result must be wrapped as `{"result": ..}` to
/// match its output schema.
pub(super) fn tool(def: &ToolDef, spec: ArgsSpec) -> (Tool, bool) {
    let mut tool = Tool::new_with_raw(
        def.name,
        def.description.map(Into::into),
        spec.input_schema(),
    );
    if let Some(title) = def.title {
        tool = tool.with_title(title);
    }
    let hints = def.hints;
    if hints.read_only.is_some()
        || hints.destructive.is_some()
        || hints.idempotent.is_some()
        || hints.open_world.is_some()
        || def.title.is_some()
    {
        tool = tool.with_annotations(ToolAnnotations::from_raw(
            def.title.map(Into::into),
            hints.read_only,
            hints.destructive,
            hints.idempotent,
            hints.open_world,
        ));
    }
    let mut wrap_result = false;
    if let Some(output_schema) = def.output_schema {
        let output = output_schema();
        wrap_result = output.wrapped;
        tool = tool.with_raw_output_schema(output.schema);
    }
    let mut meta = tags_meta(def.tags);
    if def.task != TaskSupport::Forbidden {
        // rmcp's `Tool` has no `execution` field: the task support goes in `_meta`, under the
        // extension's id.
        meta.get_or_insert_with(Meta::new).0.insert(
            TASKS_EXTENSION_ID.into(),
            json!({ "taskSupport": def.task.as_str() }),
        );
    }
    if let Some(meta) = meta {
        tool = tool.with_meta(meta);
    }
    (tool, wrap_result)
}

/// The prompt as `prompts/list` shows it.
pub(super) fn prompt(def: &PromptDef, spec: &ArgsSpec) -> Prompt {
    let mut arguments: Vec<PromptArgument> = spec
        .args
        .iter()
        .map(|arg| {
            let mut argument = PromptArgument::new(arg.name).with_required(arg.required);
            if let Some(description) = arg.description {
                argument = argument.with_description(description);
            }
            argument
        })
        .collect();
    if let Some((_, whole)) = &spec.whole {
        arguments.extend(whole_arguments(whole));
    }
    let mut prompt = Prompt::new(
        def.name,
        def.description,
        (!arguments.is_empty()).then_some(arguments),
    );
    if let Some(title) = def.title {
        prompt = prompt.with_title(title);
    }
    if let Some(meta) = tags_meta(def.tags) {
        prompt = prompt.with_meta(meta);
    }
    prompt
}

/// The prompt arguments an [`Arguments<T>`](crate::Arguments) parameter stands for: `T`'s fields.
fn whole_arguments(schema: &JsonObject) -> Vec<PromptArgument> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(Value::Object(properties)) = schema.get("properties") else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, property)| {
            let mut argument =
                PromptArgument::new(name.clone()).with_required(required.contains(&name.as_str()));
            if let Some(description) = property.get("description").and_then(Value::as_str) {
                argument = argument.with_description(description);
            }
            argument
        })
        .collect()
}

/// A plain resource as `resources/list` shows it.
pub(super) fn resource(def: &ResourceDef) -> Resource {
    let mut resource = Resource::new(def.uri, def.name);
    if let Some(title) = def.title {
        resource = resource.with_title(title);
    }
    if let Some(description) = def.description {
        resource = resource.with_description(description);
    }
    if let Some(mime_type) = def.mime_type {
        resource = resource.with_mime_type(mime_type);
    }
    if let Some(meta) = tags_meta(def.tags) {
        resource = resource.with_meta(meta);
    }
    resource
}

/// A resource template as `resources/templates/list` shows it.
pub(super) fn template(def: &ResourceDef) -> ResourceTemplate {
    let mut template = ResourceTemplate::new(def.uri, def.name);
    if let Some(title) = def.title {
        template = template.with_title(title);
    }
    if let Some(description) = def.description {
        template = template.with_description(description);
    }
    if let Some(mime_type) = def.mime_type {
        template = template.with_mime_type(mime_type);
    }
    if let Some(meta) = tags_meta(def.tags) {
        template = template.with_meta(meta);
    }
    template
}
