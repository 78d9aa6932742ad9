//! `cm-mcp install claude-desktop BINARY`: adds a server to Claude Desktop's
//! `claude_desktop_config.json`. The file is the user's: every key and every other server stays, in
//! its order; a file that is not JSON is left as it is, with an error saying where it is malformed;
//! the new file replaces the old one by a rename, so a failure halfway never leaves half a file.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::Context as _;

use crate::{Failure, Outcome, absolute, json::Json, key_value};

/// The clients `install` knows.
#[derive(Debug, clap::Subcommand)]
pub enum Target {
    /// Adds a server to Claude Desktop's claude_desktop_config.json (under `mcpServers`), to run
    /// over stdio.
    ClaudeDesktop(ClaudeDesktop),
}

/// `cm-mcp install claude-desktop`.
#[derive(Debug, clap::Args)]
pub struct ClaudeDesktop {
    /// The server's binary (e.g. target/release/my-server); its absolute path goes into the config.
    binary: PathBuf,
    /// The server's name in the config (default: the binary's file name).
    #[arg(long)]
    name: Option<String>,
    /// The config file to edit (default: Claude Desktop's, for this operating system).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// An environment variable for the server, KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
}

pub fn run(target: Target) -> Outcome {
    match target {
        Target::ClaudeDesktop(args) => claude_desktop(args),
    }
}

fn claude_desktop(args: ClaudeDesktop) -> Outcome {
    let binary = absolute(&args.binary)?;
    if !binary.is_file() {
        return Err(Failure::Usage(format!(
            "{} is not a file: give the path of the server's binary (build it first, e.g. `cargo build --release`)",
            binary.display()
        )));
    }
    let binary_text = binary.to_str().ok_or_else(|| {
        Failure::Usage(format!(
            "the path {} is not valid UTF-8, which a JSON config cannot hold: move the binary",
            binary.display()
        ))
    })?;
    let name = match args.name {
        Some(name) if name.trim().is_empty() => {
            return Err(Failure::Usage(
                "--name is empty: give the server a name".into(),
            ));
        }
        Some(name) => name,
        None => binary
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_owned)
            .ok_or_else(|| {
                Failure::Usage(format!(
                    "cannot name the server after {}: pass --name",
                    binary.display()
                ))
            })?,
    };
    let mut env = Vec::new();
    for pair in &args.env {
        let (key, value) = key_value("--env variable", pair)?;
        env.push((key.to_owned(), Json::String(value.to_owned())));
    }
    let config = match args.config {
        Some(path) => absolute(&path)?,
        None => default_config_path().map_err(Failure::Failed)?,
    };

    let mut entry = vec![
        ("command".to_owned(), Json::String(binary_text.to_owned())),
        (
            "args".to_owned(),
            Json::Array(vec![Json::String("--stdio".into())]),
        ),
    ];
    if !env.is_empty() {
        entry.push(("env".to_owned(), Json::Object(env)));
    }
    let replaced = add_server(&config, &name, Json::Object(entry))?;
    println!(
        "{} `{name}` in {}: {binary_text} --stdio",
        if replaced { "Replaced" } else { "Added" },
        config.display()
    );
    println!("Restart Claude Desktop to load it.");
    Ok(ExitCode::SUCCESS)
}

/// Sets `mcpServers.<name>` of the JSON file at `path` (created when missing) to `entry`; returns
/// whether an entry of that name was there.
fn add_server(path: &Path, name: &str, entry: Json) -> anyhow::Result<bool> {
    let mut document = match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Json::Object(Vec::new()),
        Ok(text) => serde_json::from_str::<Json>(&text).map_err(|e| {
            anyhow::anyhow!(
                "{} is not valid JSON: {e} (line {}, column {}); it was left as it is: fix it there, or point --config at another file",
                path.display(),
                e.line(),
                e.column()
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Json::Object(Vec::new()),
        Err(e) => return Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
    };
    if !matches!(document, Json::Object(_)) {
        anyhow::bail!(
            "{} holds a JSON value that is not an object, so it has no place for `mcpServers`; it was left as it is: fix it there",
            path.display()
        );
    }
    if document.get_mut("mcpServers").is_none() {
        document.insert("mcpServers", Json::Object(Vec::new()));
    }
    let servers = document.get_mut("mcpServers").expect("inserted above");
    if !matches!(servers, Json::Object(_)) {
        anyhow::bail!(
            "`mcpServers` in {} is not an object; it was left as it is: fix it there (it maps each server's name to its command)",
            path.display()
        );
    }
    let replaced = servers.insert(name, entry);
    write_replacing(path, &document)?;
    Ok(replaced)
}

/// Writes `document` (pretty, with a final newline) to a file beside `path`, then renames it over
/// `path`: the old file stays whole until the new one is.
fn write_replacing(path: &Path, document: &Json) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| anyhow::anyhow!("{} has no parent directory", path.display()))?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut text = serde_json::to_string_pretty(document)?;
    text.push('\n');
    let file_name = path
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("{} names no file", path.display()))?;
    let temporary = dir.join(format!(
        ".{}.cm-mcp-{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&temporary, text)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, path).map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        anyhow::anyhow!("cannot replace {}: {e}", path.display())
    })
}

/// Claude Desktop's config file on this operating system.
fn default_config_path() -> anyhow::Result<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "{name} is not set, so Claude Desktop's config cannot be found: pass --config PATH"
                )
            })
    };
    let dir = if cfg!(target_os = "macos") {
        var("HOME")?.join("Library/Application Support/Claude")
    } else if cfg!(windows) {
        var("APPDATA")?.join("Claude")
    } else {
        match var("XDG_CONFIG_HOME") {
            Ok(dir) => dir,
            Err(_) => var("HOME")?.join(".config"),
        }
        .join("Claude")
    };
    Ok(dir.join("claude_desktop_config.json"))
}
