//! Definitions the macros submit through `inventory`, and the registry a server builds from them.

use std::{collections::HashMap, fmt, future::Future, pin::Pin, sync::Arc};

use rmcp::model::{
    CallToolResult, GetPromptResult, MetaObject as Meta, Prompt, PromptArgument, Reference,
    Resource, ResourceTemplate, Tool, ToolAnnotations,
};
use serde_json::{Value, json};

use crate::{
    Context, ToolError,
    completion::schema_values,
    extract::{ArgsSpec, JsonObject, ParamInfo},
    output::{OutputSchema, ResourceBody},
};

/// A boxed future, as generated invokers return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Where a definition was written, for error messages.
#[derive(Debug, Clone, Copy)]
pub struct Location {
    /// `file!()` of the definition.
    pub file: &'static str,
    /// The line of the function's name.
    pub line: u32,
    /// `module_path!()` of the definition.
    pub module: &'static str,
    /// The function's name.
    pub function: &'static str,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}::{} ({}:{})",
            self.module, self.function, self.file, self.line
        )
    }
}

/// The behaviour hints of a tool (MCP tool annotations).
#[derive(Debug, Clone, Copy, Default)]
pub struct ToolHints {
    /// The tool does not modify its environment.
    pub read_only: Option<bool>,
    /// The tool may perform destructive updates.
    pub destructive: Option<bool>,
    /// Calling the tool twice with the same arguments has no further effect.
    pub idempotent: Option<bool>,
    /// The tool talks to an open world of external entities.
    pub open_world: Option<bool>,
}

/// A tool, as `#[cm_tool]` describes it.
pub struct ToolDef {
    /// The tool's name.
    pub name: &'static str,
    /// A human-readable title.
    pub title: Option<&'static str>,
    /// The description (doc comment or attribute).
    pub description: Option<&'static str>,
    /// Behaviour hints.
    pub hints: ToolHints,
    /// Tags, listed in the tool's `_meta`.
    pub tags: &'static [&'static str],
    /// The event prefix (`tool.execution` by default).
    pub event: &'static str,
    /// The parameters.
    pub params: &'static [ParamInfo],
    /// Describes the arguments.
    pub describe: fn(&mut ArgsSpec),
    /// The output schema, for structured output.
    pub output_schema: Option<fn() -> OutputSchema>,
    /// Runs the tool.
    pub invoke: fn(Context, JsonObject) -> BoxFuture<Result<CallToolResult, ToolError>>,
    /// Where it was defined.
    pub location: Location,
}

/// A resource or resource template, as `#[cm_resource]` describes it.
pub struct ResourceDef {
    /// The URI, or URI template.
    pub uri: &'static str,
    /// The template's variables (empty for a plain resource).
    pub variables: &'static [&'static str],
    /// The resource's name.
    pub name: &'static str,
    /// A human-readable title.
    pub title: Option<&'static str>,
    /// The description.
    pub description: Option<&'static str>,
    /// The MIME type, when set.
    pub mime_type: Option<&'static str>,
    /// Tags, listed in `_meta`.
    pub tags: &'static [&'static str],
    /// The event prefix (`resource.read` by default).
    pub event: &'static str,
    /// The parameters.
    pub params: &'static [ParamInfo],
    /// Describes the arguments (the template variables).
    pub describe: fn(&mut ArgsSpec),
    /// Reads the resource.
    pub invoke: fn(Context, JsonObject) -> BoxFuture<Result<ResourceBody, ToolError>>,
    /// Where it was defined.
    pub location: Location,
}

/// A prompt, as `#[cm_prompt]` describes it.
pub struct PromptDef {
    /// The prompt's name.
    pub name: &'static str,
    /// A human-readable title.
    pub title: Option<&'static str>,
    /// The description.
    pub description: Option<&'static str>,
    /// Tags, listed in `_meta`.
    pub tags: &'static [&'static str],
    /// The event prefix (`prompt.get` by default).
    pub event: &'static str,
    /// The parameters.
    pub params: &'static [ParamInfo],
    /// Describes the arguments.
    pub describe: fn(&mut ArgsSpec),
    /// Renders the prompt.
    pub invoke: fn(Context, JsonObject) -> BoxFuture<Result<GetPromptResult, ToolError>>,
    /// Where it was defined.
    pub location: Location,
}

inventory::collect!(ToolDef);
inventory::collect!(ResourceDef);
inventory::collect!(PromptDef);

/// The event names of one definition, made once so that a call formats none.
pub(crate) struct Events {
    pub start: String,
    pub complete: String,
    pub error: String,
}

impl Events {
    fn new(prefix: &str) -> Events {
        Events {
            start: format!("{prefix}.start"),
            complete: format!("{prefix}.complete"),
            error: format!("{prefix}.error"),
        }
    }
}

pub(crate) struct ToolEntry {
    pub def: &'static ToolDef,
    pub tool: Tool,
    pub wrap_result: bool,
    pub events: Events,
    pub has_secrets: bool,
}

pub(crate) struct ResourceEntry {
    pub def: &'static ResourceDef,
    pub events: Events,
    pub template: Option<UriTemplate>,
    pub choices: Choices,
}

pub(crate) struct PromptEntry {
    pub def: &'static PromptDef,
    pub prompt: Prompt,
    pub events: Events,
    pub choices: Choices,
}

/// A definition's argument names, and the values each enum-typed argument allows, for
/// `completion/complete`.
#[derive(Default)]
pub(crate) struct Choices {
    pub names: Vec<String>,
    pub values: HashMap<String, Vec<String>>,
}

fn choices(spec: &ArgsSpec) -> Choices {
    let mut choices = Choices::default();
    for arg in &spec.args {
        choices.names.push(arg.name.to_string());
        let values = schema_values(arg.schema.as_value(), spec.definitions());
        choices.values.insert(arg.name.to_string(), values);
    }
    if let Some((_, whole)) = &spec.whole
        && let Some(Value::Object(properties)) = whole.get("properties")
    {
        let defs = match whole.get("$defs") {
            Some(Value::Object(defs)) => defs.clone(),
            _ => JsonObject::new(),
        };
        for (name, property) in properties {
            choices.names.push(name.clone());
            choices
                .values
                .insert(name.clone(), schema_values(property, &defs));
        }
    }
    choices.values.retain(|_, values| !values.is_empty());
    choices
}

/// What `completion/complete` can complete: a prompt's or a resource template's parameters.
pub(crate) struct CompletionTarget<'a> {
    pub params: &'static [ParamInfo],
    pub choices: &'a Choices,
}

/// Everything a server serves, checked once at startup.
pub struct Registry {
    pub(crate) tools: Vec<ToolEntry>,
    tool_index: HashMap<&'static str, usize>,
    pub(crate) resources: Vec<ResourceEntry>,
    resource_index: HashMap<&'static str, usize>,
    pub(crate) prompts: Vec<PromptEntry>,
    prompt_index: HashMap<&'static str, usize>,
    pub(crate) tool_list: Arc<Vec<Tool>>,
    pub(crate) resource_list: Arc<Vec<Resource>>,
    pub(crate) template_list: Arc<Vec<ResourceTemplate>>,
    pub(crate) prompt_list: Arc<Vec<Prompt>>,
}

/// Why a registry could not be built: every problem found, each naming where it was defined.
#[derive(Debug)]
pub struct RegistryError(Vec<String>);

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.join("\n"))
    }
}

impl std::error::Error for RegistryError {}

impl Registry {
    /// Collects every definition linked into the binary.
    pub fn collect() -> Result<Registry, RegistryError> {
        Registry::from_defs(
            inventory::iter::<ToolDef>.into_iter().collect(),
            inventory::iter::<ResourceDef>.into_iter().collect(),
            inventory::iter::<PromptDef>.into_iter().collect(),
        )
    }

    pub(crate) fn from_defs(
        mut tool_defs: Vec<&'static ToolDef>,
        mut resource_defs: Vec<&'static ResourceDef>,
        mut prompt_defs: Vec<&'static PromptDef>,
    ) -> Result<Registry, RegistryError> {
        // inventory's order depends on the linker; sort so lists and errors are stable.
        tool_defs.sort_by_key(|d| (d.name, d.location.file, d.location.line));
        resource_defs.sort_by_key(|d| (d.uri, d.location.file, d.location.line));
        prompt_defs.sort_by_key(|d| (d.name, d.location.file, d.location.line));
        let mut problems = Vec::new();

        let mut tools = Vec::new();
        let mut tool_index = HashMap::new();
        for def in tool_defs {
            if let Some(&i) = tool_index.get(def.name) {
                let first: &ToolEntry = &tools[i];
                problems.push(format!(
                    "duplicate tool name `{}`: defined by {} and by {}; rename one with #[cm_tool(name = \"...\")]",
                    def.name, first.def.location, def.location
                ));
                continue;
            }
            match build_tool(def) {
                Ok(entry) => {
                    tool_index.insert(def.name, tools.len());
                    tools.push(entry);
                }
                Err(problem) => {
                    problems.push(format!("tool `{}` ({}): {problem}", def.name, def.location))
                }
            }
        }

        let mut resources = Vec::new();
        let mut resource_index = HashMap::new();
        for def in resource_defs {
            if let Some(&i) = resource_index.get(def.uri) {
                let first: &ResourceEntry = &resources[i];
                problems.push(format!(
                    "duplicate resource URI `{}`: defined by {} and by {}",
                    def.uri, first.def.location, def.location
                ));
                continue;
            }
            let mut spec = ArgsSpec::default();
            (def.describe)(&mut spec);
            if let Some(problem) = spec.problem() {
                problems.push(format!(
                    "resource `{}` ({}): {problem}",
                    def.uri, def.location
                ));
            }
            for arg in &spec.args {
                if !def.variables.contains(&arg.name) {
                    problems.push(format!(
                        "resource `{}` ({}): the parameter `{}` is neither a variable of the URI nor an injected type; add `{{{}}}` to the URI",
                        def.uri, def.location, arg.name, arg.name
                    ));
                }
            }
            resource_index.insert(def.uri, resources.len());
            resources.push(ResourceEntry {
                def,
                events: Events::new(def.event),
                template: (!def.variables.is_empty()).then(|| UriTemplate::parse(def.uri)),
                choices: choices(&spec),
            });
        }

        let mut prompts = Vec::new();
        let mut prompt_index = HashMap::new();
        for def in prompt_defs {
            if let Some(&i) = prompt_index.get(def.name) {
                let first: &PromptEntry = &prompts[i];
                problems.push(format!(
                    "duplicate prompt name `{}`: defined by {} and by {}; rename one with #[cm_prompt(name = \"...\")]",
                    def.name, first.def.location, def.location
                ));
                continue;
            }
            match build_prompt(def) {
                Ok(entry) => {
                    prompt_index.insert(def.name, prompts.len());
                    prompts.push(entry);
                }
                Err(problem) => problems.push(format!(
                    "prompt `{}` ({}): {problem}",
                    def.name, def.location
                )),
            }
        }

        if !problems.is_empty() {
            return Err(RegistryError(problems));
        }
        let tool_list = Arc::new(tools.iter().map(|t| t.tool.clone()).collect());
        let resource_list = Arc::new(
            resources
                .iter()
                .filter(|r| r.template.is_none())
                .map(|r| describe_resource(r.def))
                .collect(),
        );
        let template_list = Arc::new(
            resources
                .iter()
                .filter(|r| r.template.is_some())
                .map(|r| describe_template(r.def))
                .collect(),
        );
        let prompt_list = Arc::new(prompts.iter().map(|p| p.prompt.clone()).collect());
        Ok(Registry {
            tools,
            tool_index,
            resources,
            resource_index,
            prompts,
            prompt_index,
            tool_list,
            resource_list,
            template_list,
            prompt_list,
        })
    }

    pub(crate) fn tool(&self, name: &str) -> Option<&ToolEntry> {
        self.tool_index.get(name).map(|&i| &self.tools[i])
    }

    pub(crate) fn prompt(&self, name: &str) -> Option<&PromptEntry> {
        self.prompt_index.get(name).map(|&i| &self.prompts[i])
    }

    /// The resource serving `uri`, and the template variables it bound.
    pub(crate) fn resource(&self, uri: &str) -> Option<(&ResourceEntry, JsonObject)> {
        if let Some(&i) = self.resource_index.get(uri) {
            let entry = &self.resources[i];
            if entry.template.is_none() {
                return Some((entry, JsonObject::new()));
            }
        }
        self.resources.iter().find_map(|entry| {
            let template = entry.template.as_ref()?;
            template.matches(uri).map(|vars| (entry, vars))
        })
    }

    /// Whether some resource or template serves `uri`.
    pub(crate) fn serves(&self, uri: &str) -> bool {
        self.resource(uri).is_some()
    }

    /// The prompt or resource template a completion request refers to, or an error message naming
    /// what exists.
    pub(crate) fn completion_target(
        &self,
        reference: &Reference,
    ) -> Result<CompletionTarget<'_>, String> {
        match reference {
            Reference::Prompt(prompt) => self
                .prompt(&prompt.name)
                .map(|entry| CompletionTarget {
                    params: entry.def.params,
                    choices: &entry.choices,
                })
                .ok_or_else(|| {
                    let names: Vec<&str> = self.prompts.iter().map(|p| p.def.name).collect();
                    format!(
                        "unknown prompt `{}`; this server has: {}",
                        prompt.name,
                        list_or_none(&names)
                    )
                }),
            Reference::Resource(resource) => self
                .resource_index
                .get(resource.uri.as_str())
                .map(|&i| &self.resources[i])
                .map(|entry| CompletionTarget {
                    params: entry.def.params,
                    choices: &entry.choices,
                })
                .ok_or_else(|| {
                    let templates: Vec<&str> = self
                        .resources
                        .iter()
                        .filter(|r| r.template.is_some())
                        .map(|r| r.def.uri)
                        .collect();
                    format!(
                        "unknown resource template `{}`; this server has: {}",
                        resource.uri,
                        list_or_none(&templates)
                    )
                }),
            other => Err(format!("cannot complete arguments of {other:?}")),
        }
    }

    /// The tool names, for error messages.
    pub(crate) fn tool_names(&self) -> String {
        let names: Vec<&str> = self.tools.iter().map(|t| t.def.name).collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    }

    /// Everything served, with schemas, as `--manifest` prints it.
    pub fn manifest(&self) -> Value {
        json!({
            "tools": *self.tool_list,
            "resources": *self.resource_list,
            "resourceTemplates": *self.template_list,
            "prompts": *self.prompt_list,
        })
    }
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn tags_meta(tags: &[&str]) -> Option<Meta> {
    if tags.is_empty() {
        return None;
    }
    let mut meta = Meta::new();
    meta.0.insert("tags".into(), json!(tags));
    Some(meta)
}

fn build_tool(def: &'static ToolDef) -> Result<ToolEntry, String> {
    let mut spec = ArgsSpec::default();
    (def.describe)(&mut spec);
    if let Some(problem) = spec.problem() {
        return Err(problem);
    }
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
    if let Some(meta) = tags_meta(def.tags) {
        tool = tool.with_meta(meta);
    }
    Ok(ToolEntry {
        def,
        tool,
        wrap_result,
        events: Events::new(def.event),
        has_secrets: def.params.iter().any(|p| p.secret),
    })
}

fn build_prompt(def: &'static PromptDef) -> Result<PromptEntry, String> {
    let mut spec = ArgsSpec::default();
    (def.describe)(&mut spec);
    if let Some(problem) = spec.problem() {
        return Err(problem);
    }
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
    Ok(PromptEntry {
        def,
        prompt,
        events: Events::new(def.event),
        choices: choices(&spec),
    })
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

fn describe_resource(def: &ResourceDef) -> Resource {
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

fn describe_template(def: &ResourceDef) -> ResourceTemplate {
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

/// A parsed URI template: literal text and `{var}` (no `/`) or `{+var}` (anything) expressions.
pub(crate) struct UriTemplate {
    parts: Vec<Part>,
}

enum Part {
    Literal(String),
    Var { name: String, reserved: bool },
}

impl UriTemplate {
    /// Parses a template the macro already validated.
    pub(crate) fn parse(template: &str) -> UriTemplate {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_string()));
            }
            let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
            let expr = &rest[open + 1..close];
            let (name, reserved) = match expr.strip_prefix('+') {
                Some(name) => (name, true),
                None => (expr, false),
            };
            parts.push(Part::Var {
                name: name.to_string(),
                reserved,
            });
            rest = rest.get(close + 1..).unwrap_or("");
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        UriTemplate { parts }
    }

    /// The variables bound by matching `uri`, percent-decoded, or `None` when it does not match.
    pub(crate) fn matches(&self, uri: &str) -> Option<JsonObject> {
        let mut vars = JsonObject::new();
        let mut rest = uri;
        let mut parts = self.parts.iter().peekable();
        while let Some(part) = parts.next() {
            match part {
                Part::Literal(lit) => rest = rest.strip_prefix(lit.as_str())?,
                Part::Var { name, reserved } => {
                    let end = match parts.peek() {
                        Some(Part::Literal(next)) => rest.find(next.as_str())?,
                        _ => rest.len(),
                    };
                    let value = &rest[..end];
                    if value.is_empty() || (!reserved && value.contains(['/', '?', '#'])) {
                        return None;
                    }
                    let decoded = percent_encoding::percent_decode_str(value)
                        .decode_utf8()
                        .ok()?
                        .into_owned();
                    vars.insert(name.clone(), Value::String(decoded));
                    rest = &rest[end..];
                }
            }
        }
        rest.is_empty().then_some(vars)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_matching() {
        let t = UriTemplate::parse("db://tables/{table}");
        assert_eq!(t.matches("db://tables/users").unwrap()["table"], "users");
        assert_eq!(t.matches("db://tables/a%20b").unwrap()["table"], "a b");
        assert!(t.matches("db://tables/").is_none());
        assert!(t.matches("db://tables/a/b").is_none());
        assert!(t.matches("db://other/users").is_none());

        let t = UriTemplate::parse("file:///{+path}");
        assert_eq!(t.matches("file:///a/b.txt").unwrap()["path"], "a/b.txt");

        let t = UriTemplate::parse("x://{schema}.{table}/rows");
        let vars = t.matches("x://public.users/rows").unwrap();
        assert_eq!(vars["schema"], "public");
        assert_eq!(vars["table"], "users");
    }
}
