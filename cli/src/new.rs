//! `cm-mcp new NAME`: a new server crate from the template in `cli/template` (one tool, one resource,
//! in-process tests, a README), which builds and passes its tests as generated.
//!
//! Its cm-mcp dependency is a path to a checkout (`--cm-mcp-path`, or the checkout this command was
//! built from when it is still there: `cargo install --path cli` works on a machine that cannot reach
//! the git host), else the git repository (`--cm-mcp-git`, default the project's). With a path, the
//! checkout's `Cargo.lock` is copied too.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::Context as _;

use crate::{Failure, Outcome, absolute};

/// `cm-mcp new`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The crate's name, which is also the server's and the binary's (e.g. `weather-server`).
    name: String,
    /// The directory to create (default: ./NAME).
    #[arg(long, value_name = "DIR")]
    path: Option<PathBuf>,
    /// Depend on the cm-mcp checkout at DIR (default: the checkout this command was built from,
    /// when it is still there).
    #[arg(long, value_name = "DIR", conflicts_with = "cm_mcp_git")]
    cm_mcp_path: Option<PathBuf>,
    /// Depend on cm-mcp from this git repository.
    #[arg(long, value_name = "URL")]
    cm_mcp_git: Option<String>,
}

/// The template's files: where each goes, and its text.
const TEMPLATE: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../template/Cargo.toml.tmpl")),
    ("README.md", include_str!("../template/README.md.tmpl")),
    (".gitignore", include_str!("../template/gitignore.tmpl")),
    ("src/main.rs", include_str!("../template/main.rs.tmpl")),
    ("src/tests.rs", include_str!("../template/tests.rs.tmpl")),
];

/// The project's repository, for the git dependency.
const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");

pub fn run(args: Args) -> Outcome {
    check_name(&args.name)?;
    let dir = absolute(&args.path.unwrap_or_else(|| PathBuf::from(&args.name)))?;
    let source = match (args.cm_mcp_path, args.cm_mcp_git) {
        (Some(checkout), _) => {
            let checkout = absolute(&checkout)?;
            if !is_checkout(&checkout) {
                return Err(Failure::Usage(format!(
                    "{} is not a cm-mcp checkout (it has no Cargo.toml of the package `cm-mcp`): give the directory you cloned cm-mcp into",
                    checkout.display()
                )));
            }
            Source::Path(checkout)
        }
        (None, Some(url)) => Source::Git(url),
        (None, None) => match own_checkout() {
            Some(checkout) => Source::Path(checkout),
            None => Source::Git(REPOSITORY.to_owned()),
        },
    };
    if dir
        .read_dir()
        .is_ok_and(|mut entries| entries.next().is_some())
    {
        return Err(Failure::Usage(format!(
            "{} exists and is not empty: choose another name or --path",
            dir.display()
        )));
    }
    generate(&dir, &args.name, &source)?;
    println!(
        "Created {} ({}), depending on cm-mcp {}.",
        args.name,
        dir.display(),
        source.describe()
    );
    println!(
        "Next:\n  cd {}\n  cargo test\n  cargo run -- --port 8080",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Where the generated crate gets cm-mcp.
enum Source {
    Path(PathBuf),
    Git(String),
}

impl Source {
    /// The dependency's keys, for `cm-mcp = { ... }`.
    fn toml(&self) -> String {
        // A JSON string is a TOML basic string for any path or URL (both escape with `\`).
        let quoted = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
        match self {
            Source::Path(path) => format!("path = {}", quoted(&path.to_string_lossy())),
            Source::Git(url) => format!("git = {}", quoted(url)),
        }
    }

    fn describe(&self) -> String {
        match self {
            Source::Path(path) => format!("from the checkout {}", path.display()),
            Source::Git(url) => format!("from {url}"),
        }
    }
}

/// Writes the template into `dir` with its placeholders filled in.
fn generate(dir: &Path, name: &str, source: &Source) -> anyhow::Result<()> {
    // A URI scheme takes letters, digits, `+`, `-` and `.`, but no `_`.
    let scheme = name.to_ascii_lowercase().replace('_', "-");
    for (path, text) in TEMPLATE {
        let text = text
            .replace("{{name}}", name)
            .replace("{{scheme}}", &scheme)
            .replace("{{source}}", &source.toml());
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    // The checkout's lock pins the versions cm-mcp is tested with (Cargo drops what the new crate
    // does not use): its first build needs no newer release to behave, and reuses what the checkout
    // built when they share a target directory.
    if let Source::Path(checkout) = source {
        let lock = checkout.join("Cargo.lock");
        if lock.is_file() {
            std::fs::copy(&lock, dir.join("Cargo.lock"))
                .with_context(|| format!("cannot copy {}", lock.display()))?;
        }
    }
    Ok(())
}

/// A name Cargo accepts for a package and the template accepts in a URI scheme.
fn check_name(name: &str) -> Result<(), Failure> {
    let ok = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Failure::Usage(format!(
            "`{name}` cannot name a crate: start with a letter and use only letters, digits, `-` and `_` (e.g. `weather-server`)"
        )))
    }
}

/// Whether `dir` holds the cm-mcp package.
fn is_checkout(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .is_ok_and(|text| text.lines().any(|l| l.trim() == r#"name = "cm-mcp""#))
}

/// The checkout this command was built from, when it is still there.
fn own_checkout() -> Option<PathBuf> {
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    is_checkout(checkout).then(|| checkout.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cargo_would_refuse_are_usage_errors() {
        for name in ["", "1server", "my server", "my/server", "-x"] {
            assert!(
                matches!(check_name(name), Err(Failure::Usage(_))),
                "{name:?}"
            );
        }
        for name in ["weather", "weather-server", "weather_server2"] {
            assert!(check_name(name).is_ok(), "{name:?}");
        }
    }

    #[test]
    fn the_checkout_this_command_was_built_from_is_found() {
        let checkout = own_checkout().expect("built from a checkout");
        assert!(checkout.join("cli").is_dir(), "{}", checkout.display());
    }

    #[test]
    fn a_path_with_quotes_and_backslashes_stays_one_toml_string() {
        let source = Source::Path(PathBuf::from(r#"C:\a "b""#));
        assert_eq!(source.toml(), r#"path = "C:\\a \"b\"""#);
    }
}
