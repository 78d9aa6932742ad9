//! The registry: every definition linked into the binary, checked once at startup, indexed for the
//! call path, and turned once into the lists clients receive.
//!
//! Split by job: [`definitions`](self) holds what the macros submit; this module validates them
//! (one duplicate check for every kind) and keeps the entries the call path looks up; `model` turns
//! them into rmcp's model types; `uri_template` matches URIs against resource templates.
//! Everything a call could need from a definition's parameters (its argument names, the choices for
//! completion, whether it has secrets) is worked out here, so that a call computes none of it.

mod definitions;
mod model;
mod uri_template;

use std::{
    borrow::Cow,
    collections::{HashMap, hash_map::Entry},
    fmt,
    sync::Arc,
};

use rmcp::model::{Prompt, Reference, Resource, ResourceTemplate, Tool};
use serde_json::{Value, json};

pub use definitions::{BoxFuture, Location, PromptDef, ResourceDef, ToolDef, ToolHints, UriPart};
pub(crate) use uri_template::UriTemplate;

use crate::{
    completion::Choices,
    extract::{ArgsSpec, JsonObject, ParamInfo},
};

/// The event names of one definition, made once so that a call formats none.
pub(crate) struct Events {
    pub start: String,
    pub complete: String,
    pub error: String,
    /// A round that ended waiting for the client's input (protocol 2026-07-28).
    pub input_required: String,
}

impl Events {
    fn new(prefix: &str) -> Events {
        Events {
            start: format!("{prefix}.start"),
            complete: format!("{prefix}.complete"),
            error: format!("{prefix}.error"),
            input_required: format!("{prefix}.input_required"),
        }
    }
}

/// The arguments a definition accepts, as its parameters described them.
pub(crate) enum Accepted {
    /// Named arguments, each with whether it is required.
    Named(Vec<(&'static str, bool)>),
    /// One [`Arguments<T>`](crate::Arguments) parameter takes the whole object; `T` decides.
    Whole,
}

/// What every entry carries, whatever its kind.
pub(crate) struct Common {
    pub params: &'static [ParamInfo],
    pub events: Events,
    pub accepted: Accepted,
    pub choices: Choices,
    /// Some parameter is `#[arg(secret)]`: the logged input is redacted.
    pub has_secrets: bool,
}

impl Common {
    fn new(params: &'static [ParamInfo], event: &str, spec: &ArgsSpec) -> Common {
        Common {
            params,
            events: Events::new(event),
            accepted: match spec.whole {
                Some(_) => Accepted::Whole,
                None => Accepted::Named(spec.args.iter().map(|a| (a.name, a.required)).collect()),
            },
            choices: Choices::of(spec),
            has_secrets: params.iter().any(|p| p.secret),
        }
    }
}

pub(crate) struct ToolEntry {
    pub def: &'static ToolDef,
    pub common: Common,
    pub tool: Tool,
    /// The output schema wraps a non-object result as `{"result": ..}`; so must the call.
    pub wrap_result: bool,
}

pub(crate) struct ResourceEntry {
    pub def: &'static ResourceDef,
    pub common: Common,
    pub template: Option<UriTemplate<'static>>,
}

pub(crate) struct PromptEntry {
    pub def: &'static PromptDef,
    pub common: Common,
    pub prompt: Prompt,
}

/// One kind of definition, for the checks every kind shares.
trait Definition: 'static {
    /// What its key is called in a duplicate error, and the hint that ends it.
    fn kind(&self) -> (&'static str, &'static str);
    /// What must be unique.
    fn key(&self) -> Cow<'static, str>;
    /// What the error shows.
    fn shown(&self) -> &'static str;
    fn location(&self) -> &Location;
}

/// Tools and prompts: unique by name, renamed with the macro's `name` option.
macro_rules! named_definition {
    ($def:ty, $kind:literal, $hint:literal) => {
        impl Definition for $def {
            fn kind(&self) -> (&'static str, &'static str) {
                ($kind, $hint)
            }
            fn key(&self) -> Cow<'static, str> {
                Cow::Borrowed(self.name)
            }
            fn shown(&self) -> &'static str {
                self.name
            }
            fn location(&self) -> &Location {
                &self.location
            }
        }
    };
}

named_definition!(
    ToolDef,
    "tool name",
    "; rename one with #[cm_tool(name = \"...\")]"
);
named_definition!(
    PromptDef,
    "prompt name",
    "; rename one with #[cm_prompt(name = \"...\")]"
);

impl Definition for ResourceDef {
    fn kind(&self) -> (&'static str, &'static str) {
        if !self.is_template() {
            ("resource URI", "")
        } else {
            (
                "resource template",
                " (templates that differ only in their variables' names match the same URIs)",
            )
        }
    }
    fn key(&self) -> Cow<'static, str> {
        if self.is_template() {
            // Two templates match the same URIs when they differ only in their variables' names.
            Cow::Owned(UriTemplate::shape(self.template))
        } else {
            Cow::Borrowed(self.uri)
        }
    }
    fn shown(&self) -> &'static str {
        self.uri
    }
    fn location(&self) -> &Location {
        &self.location
    }
}

/// `defs` without the second and later definitions of a key, each of those reported in `problems`.
/// Sorted first: inventory's order depends on the linker, and lists and errors must be stable.
fn unique<D: Definition>(mut defs: Vec<&'static D>, problems: &mut Vec<String>) -> Vec<&'static D> {
    // Cached: a template's key is its shape, built once per definition rather than per comparison.
    defs.sort_by_cached_key(|d| (d.key(), d.location().file, d.location().line));
    let mut first: HashMap<Cow<'static, str>, &'static D> = HashMap::new();
    defs.into_iter()
        .filter(|def| match first.entry(def.key()) {
            Entry::Occupied(earlier) => {
                let (kind, hint) = def.kind();
                problems.push(format!(
                    "duplicate {kind} `{}`: defined by {} and by {}{hint}",
                    earlier.get().shown(),
                    earlier.get().location(),
                    def.location()
                ));
                false
            }
            Entry::Vacant(slot) => {
                slot.insert(def);
                true
            }
        })
        .collect()
}

/// Runs a definition's `describe`, reporting a spec that cannot describe arguments.
fn described(
    describe: fn(&mut ArgsSpec),
    what: fmt::Arguments<'_>,
    problems: &mut Vec<String>,
) -> ArgsSpec {
    let mut spec = ArgsSpec::default();
    describe(&mut spec);
    if let Some(problem) = spec.problem() {
        problems.push(format!("{what}: {problem}"));
    }
    spec
}

/// A key's position in its list.
type Index = HashMap<&'static str, usize>;

/// Everything a server serves, checked once at startup.
pub struct Registry {
    pub(crate) tools: Vec<ToolEntry>,
    tool_index: Index,
    pub(crate) resources: Vec<ResourceEntry>,
    resource_index: Index,
    pub(crate) prompts: Vec<PromptEntry>,
    prompt_index: Index,
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
        tool_defs: Vec<&'static ToolDef>,
        resource_defs: Vec<&'static ResourceDef>,
        prompt_defs: Vec<&'static PromptDef>,
    ) -> Result<Registry, RegistryError> {
        let mut problems = Vec::new();

        let tools: Vec<ToolEntry> = unique(tool_defs, &mut problems)
            .into_iter()
            .map(|def| {
                let what = format_args!("tool `{}` ({})", def.name, def.location);
                let spec = described(def.describe, what, &mut problems);
                let common = Common::new(def.params, def.event, &spec);
                let (tool, wrap_result) = model::tool(def, spec);
                ToolEntry {
                    def,
                    common,
                    tool,
                    wrap_result,
                }
            })
            .collect();

        let resources: Vec<ResourceEntry> = unique(resource_defs, &mut problems)
            .into_iter()
            .map(|def| {
                let what = format_args!("resource `{}` ({})", def.uri, def.location);
                let spec = described(def.describe, what, &mut problems);
                for arg in &spec.args {
                    if !def.variables().any(|v| v == arg.name) {
                        problems.push(format!(
                            "resource `{}` ({}): the parameter `{}` is neither a variable of the URI nor an injected type; add `{{{}}}` to the URI",
                            def.uri, def.location, arg.name, arg.name
                        ));
                    }
                }
                ResourceEntry {
                    def,
                    common: Common::new(def.params, def.event, &spec),
                    template: def.is_template().then(|| UriTemplate::new(def.template)),
                }
            })
            .collect();

        let prompts: Vec<PromptEntry> = unique(prompt_defs, &mut problems)
            .into_iter()
            .map(|def| {
                let what = format_args!("prompt `{}` ({})", def.name, def.location);
                let spec = described(def.describe, what, &mut problems);
                PromptEntry {
                    def,
                    common: Common::new(def.params, def.event, &spec),
                    prompt: model::prompt(def, &spec),
                }
            })
            .collect();

        if !problems.is_empty() {
            return Err(RegistryError(problems));
        }
        let (plain, templates): (Vec<&ResourceEntry>, Vec<&ResourceEntry>) =
            resources.iter().partition(|r| r.template.is_none());
        Ok(Registry {
            tool_index: tools
                .iter()
                .enumerate()
                .map(|(i, t)| (t.def.name, i))
                .collect(),
            resource_index: resources
                .iter()
                .enumerate()
                .map(|(i, r)| (r.def.uri, i))
                .collect(),
            prompt_index: prompts
                .iter()
                .enumerate()
                .map(|(i, p)| (p.def.name, i))
                .collect(),
            tool_list: Arc::new(tools.iter().map(|t| t.tool.clone()).collect()),
            resource_list: Arc::new(plain.iter().map(|r| model::resource(r.def)).collect()),
            template_list: Arc::new(templates.iter().map(|r| model::template(r.def)).collect()),
            prompt_list: Arc::new(prompts.iter().map(|p| p.prompt.clone()).collect()),
            tools,
            resources,
            prompts,
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

    /// The resource (in practice a template: only templates have arguments) written exactly as `uri`.
    pub(crate) fn template(&self, uri: &str) -> Option<&ResourceEntry> {
        self.resource_index.get(uri).map(|&i| &self.resources[i])
    }

    /// Whether some resource or template serves `uri`.
    pub(crate) fn serves(&self, uri: &str) -> bool {
        self.resource(uri).is_some()
    }

    /// "this server has: a, b" (or "none"), for the error that answers an unknown name.
    pub(crate) fn known(&self, what: Known) -> String {
        let names: Vec<&str> = match what {
            Known::Tools => self.tools.iter().map(|t| t.def.name).collect(),
            Known::Prompts => self.prompts.iter().map(|p| p.def.name).collect(),
            Known::Templates => self
                .resources
                .iter()
                .filter(|r| r.template.is_some())
                .map(|r| r.def.uri)
                .collect(),
        };
        if names.is_empty() {
            "this server has: none".into()
        } else {
            format!("this server has: {}", names.join(", "))
        }
    }

    /// The prompt or resource template a completion request refers to, or an error message naming
    /// what exists.
    pub(crate) fn completion_target(&self, reference: &Reference) -> Result<&Common, String> {
        match reference {
            Reference::Prompt(prompt) => self
                .prompt(&prompt.name)
                .map(|entry| &entry.common)
                .ok_or_else(|| {
                    format!(
                        "unknown prompt `{}`; {}",
                        prompt.name,
                        self.known(Known::Prompts)
                    )
                }),
            Reference::Resource(resource) => self
                .template(&resource.uri)
                .map(|entry| &entry.common)
                .ok_or_else(|| {
                    format!(
                        "unknown resource template `{}`; {}",
                        resource.uri,
                        self.known(Known::Templates)
                    )
                }),
            other => Err(format!("cannot complete arguments of {other:?}")),
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

/// Which names [`Registry::known`] lists.
#[derive(Clone, Copy)]
pub(crate) enum Known {
    Tools,
    Prompts,
    Templates,
}
