//! The definitions `#[cm_tool]`, `#[cm_resource]` and `#[cm_prompt]` submit through `inventory`: plain
//! static data and two function pointers per definition (describe the arguments, invoke the function).
//! The generated code builds them; [`Registry`](super::Registry) validates them once at startup.

use std::{fmt, future::Future, pin::Pin};

use rmcp::model::{CallToolResult, GetPromptResult};

use crate::{
    Context, ToolError,
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
    /// Whether its calls may run as tasks (`task = ".."`).
    pub task: crate::TaskSupport,
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

/// One piece of a resource template, parsed by `#[cm_resource]` at compile time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriPart {
    /// Text matched as it is.
    Literal(&'static str),
    /// `{name}` binds one path segment (no `/`, `?` or `#`); `{+name}` (`reserved`) binds anything.
    Var {
        /// The variable, which names a parameter.
        name: &'static str,
        /// `{+name}`.
        reserved: bool,
    },
}

impl ResourceDef {
    /// Whether this is a template (it has variables).
    pub fn is_template(&self) -> bool {
        !self.template.is_empty()
    }

    /// The template's variables, in order.
    pub fn variables(&self) -> impl Iterator<Item = &'static str> {
        self.template.iter().filter_map(|part| match part {
            UriPart::Var { name, .. } => Some(*name),
            UriPart::Literal(_) => None,
        })
    }
}

/// A resource or resource template, as `#[cm_resource]` describes it.
pub struct ResourceDef {
    /// The URI, or URI template.
    pub uri: &'static str,
    /// The template, as the macro parsed it (empty for a plain resource).
    pub template: &'static [UriPart],
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
