//! `cm-mcp inspect BINARY`: runs `BINARY --manifest` (which every cm-mcp server answers without
//! serving or connecting to anything) and prints what it defines, readable: tools with their
//! arguments, resources, templates, prompts, connectors. `--json` prints the manifest itself.

use std::{fmt::Write as _, path::PathBuf, process::ExitCode};

use serde_json::Value;

use crate::{Failure, Outcome};

/// `cm-mcp inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The server's binary (e.g. target/debug/my-server).
    binary: PathBuf,
    /// Print the manifest as JSON instead of a summary.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Outcome {
    let output = std::process::Command::new(&args.binary)
        .arg("--manifest")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            Failure::Usage(format!(
                "cannot run {}: {e}; give the path of a server's binary (build it first with `cargo build`)",
                args.binary.display()
            ))
        })?;
    if !output.status.success() {
        return Err(Failure::Failed(anyhow::anyhow!(
            "`{} --manifest` failed ({}); is it a cm-mcp server? Its stderr:\n{}",
            args.binary.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        )));
    }
    let manifest: Value = serde_json::from_slice(&output.stdout).map_err(|e| {
        Failure::Failed(anyhow::anyhow!(
            "`{} --manifest` did not print a manifest ({e}); is it a cm-mcp server?",
            args.binary.display()
        ))
    })?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&manifest).map_err(anyhow::Error::from)?
        );
    } else {
        print!("{}", summary(&manifest));
    }
    Ok(ExitCode::SUCCESS)
}

/// The manifest as text for a person.
pub fn summary(manifest: &Value) -> String {
    let mut out = String::new();
    let server = &manifest["server"];
    let _ = writeln!(
        out,
        "{} {}",
        str_of(&server["name"]).unwrap_or("(unnamed server)"),
        str_of(&server["version"]).unwrap_or("")
    );
    if let Some(instructions) = str_of(&server["instructions"]) {
        let _ = writeln!(out, "  {instructions}");
    }

    let tools = list(&manifest["tools"]);
    let _ = writeln!(out, "\nTools ({})", tools.len());
    for tool in tools {
        let schema = &tool["inputSchema"];
        let required = string_set(&schema["required"]);
        let properties = object(&schema["properties"]);
        let signature = properties
            .iter()
            .map(|(name, property)| {
                let optional = if required.contains(&name.as_str()) {
                    ""
                } else {
                    "?"
                };
                format!("{name}{optional}: {}", type_of(property))
            })
            .collect::<Vec<_>>()
            .join(", ");
        let hints = hints(&tool["annotations"]);
        let _ = writeln!(
            out,
            "  {}({signature}){}",
            str_of(&tool["name"]).unwrap_or("?"),
            if hints.is_empty() {
                String::new()
            } else {
                format!("  [{}]", hints.join(", "))
            }
        );
        description(&mut out, &tool["description"], "    ");
        for (name, property) in properties {
            if let Some(text) = str_of(&property["description"]) {
                let _ = writeln!(out, "      {name}: {text}");
            }
        }
    }

    let resources = list(&manifest["resources"]);
    let _ = writeln!(out, "\nResources ({})", resources.len());
    for resource in resources {
        resource_line(&mut out, resource, "uri");
    }
    let templates = list(&manifest["resourceTemplates"]);
    let _ = writeln!(out, "\nResource templates ({})", templates.len());
    for template in templates {
        resource_line(&mut out, template, "uriTemplate");
    }

    let prompts = list(&manifest["prompts"]);
    let _ = writeln!(out, "\nPrompts ({})", prompts.len());
    for prompt in prompts {
        let arguments = list(&prompt["arguments"]);
        let signature = arguments
            .iter()
            .map(|a| {
                let optional = if a["required"] == true { "" } else { "?" };
                format!("{}{optional}", str_of(&a["name"]).unwrap_or("?"))
            })
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            out,
            "  {}({signature})",
            str_of(&prompt["name"]).unwrap_or("?")
        );
        description(&mut out, &prompt["description"], "    ");
        for argument in arguments {
            if let Some(text) = str_of(&argument["description"]) {
                let _ = writeln!(
                    out,
                    "      {}: {text}",
                    str_of(&argument["name"]).unwrap_or("?")
                );
            }
        }
    }

    let connectors = &manifest["connectors"];
    let single = list(&connectors["connectors"]);
    let arrays = list(&connectors["array_connectors"]);
    let _ = writeln!(out, "\nConnectors ({})", single.len() + arrays.len());
    for (connector, kind) in single
        .iter()
        .map(|c| (c, ""))
        .chain(arrays.iter().map(|c| (c, " (array)")))
    {
        let _ = writeln!(
            out,
            "  {}  {}{kind}  {}",
            str_of(&connector["config_id"]).unwrap_or("?"),
            str_of(&connector["type"]).unwrap_or("?"),
            str_of(&connector["label"]).unwrap_or("")
        );
    }
    out
}

fn resource_line(out: &mut String, resource: &Value, uri_key: &str) {
    let _ = writeln!(
        out,
        "  {}  {}{}",
        str_of(&resource[uri_key]).unwrap_or("?"),
        str_of(&resource["name"]).unwrap_or("?"),
        str_of(&resource["mimeType"])
            .map(|m| format!("  ({m})"))
            .unwrap_or_default()
    );
    description(out, &resource["description"], "    ");
}

fn description(out: &mut String, value: &Value, indent: &str) {
    if let Some(text) = str_of(value) {
        for line in text.lines() {
            let _ = writeln!(out, "{indent}{line}");
        }
    }
}

/// The tool annotations that are set, as words.
fn hints(annotations: &Value) -> Vec<&'static str> {
    [
        ("readOnlyHint", "read-only"),
        ("destructiveHint", "destructive"),
        ("idempotentHint", "idempotent"),
        ("openWorldHint", "open-world"),
    ]
    .into_iter()
    .filter(|(key, _)| annotations[key] == true)
    .map(|(_, word)| word)
    .collect()
}

/// A schema's type in a few words: `string`, `integer`, `array of string`, `"a" | "b"`, `Point`.
fn type_of(schema: &Value) -> String {
    if let Some(values) = schema["enum"].as_array() {
        return values
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(" | ");
    }
    if let Some(reference) = str_of(&schema["$ref"]) {
        return reference.rsplit('/').next().unwrap_or(reference).to_owned();
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(options) = schema[key].as_array() {
            return options.iter().map(type_of).collect::<Vec<_>>().join(" | ");
        }
    }
    match &schema["type"] {
        Value::String(t) if t == "array" => format!("array of {}", type_of(&schema["items"])),
        Value::String(t) => t.clone(),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" | "),
        _ => "any".into(),
    }
}

fn str_of(value: &Value) -> Option<&str> {
    value.as_str().filter(|s| !s.is_empty())
}

fn list(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn object(value: &Value) -> Vec<(&String, &Value)> {
    value
        .as_object()
        .map(|o| o.iter().collect())
        .unwrap_or_default()
}

fn string_set(value: &Value) -> Vec<&str> {
    list(value).iter().filter_map(Value::as_str).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn argument_types_read_as_a_person_would_write_them() {
        assert_eq!(type_of(&json!({"type": "string"})), "string");
        assert_eq!(
            type_of(&json!({"type": "array", "items": {"type": "integer"}})),
            "array of integer"
        );
        assert_eq!(
            type_of(&json!({"type": ["string", "null"]})),
            "string | null"
        );
        assert_eq!(type_of(&json!({"enum": ["a", "b"]})), r#""a" | "b""#);
        assert_eq!(type_of(&json!({"$ref": "#/$defs/Point"})), "Point");
        assert_eq!(type_of(&json!({})), "any");
    }

    #[test]
    fn prompts_show_their_arguments_optional_ones_marked() {
        let manifest = json!({
            "server": {"name": "s", "version": "1"},
            "prompts": [{"name": "summarize", "description": "Summarizes.",
                         "arguments": [{"name": "text", "required": true, "description": "What to summarize."},
                                       {"name": "style"}]}],
            "connectors": {"connectors": [], "array_connectors": [{"config_id": "DBS", "type": "database", "label": "Databases"}]}
        });
        let text = summary(&manifest);
        assert!(
            text.contains(
                "  summarize(text, style?)\n    Summarizes.\n      text: What to summarize.\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("Connectors (1)\n  DBS  database (array)  Databases\n"),
            "{text}"
        );
    }
}
