//! `cm-mcp`, the command-line tool for authors of cm-mcp servers (FastMCP's CLI is the model): `new`
//! starts a server crate from a template, `call` calls one tool of a running server, `inspect` shows
//! what a server binary defines, `install` adds a server to a client's configuration.
//!
//! Exit status: 0 on success, 1 when the work failed (a server that cannot be reached, a tool that
//! answered an error, a file that cannot be written), 2 when the command line itself is wrong (clap's
//! own convention, which the subcommands follow for their own checks).

mod call;
mod inspect;
mod install;
mod json;
mod new;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

/// The `cm-mcp` command for authors of cm-mcp servers.
#[derive(Debug, Parser)]
#[command(name = "cm-mcp", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Creates a new server crate: one tool, one resource, an in-process test and a README.
    New(new::Args),
    /// Calls one tool of a server and prints its result.
    ///
    /// Over HTTP: `cm-mcp call http://127.0.0.1:8080/mcp my_tool input_param=hi`
    ///
    /// Over stdio, the server's command after `--`: `cm-mcp call my_tool input_param=hi -- ./my-server --stdio`
    ///
    /// Values are JSON when they parse as JSON (`n=5`, `flag=true`, `tags=["a"]`), else strings.
    /// Text content prints as text, structured content as pretty JSON; an error result prints to
    /// stderr and exits 1.
    Call(call::Args),
    /// Prints what a server binary defines (its `--manifest`): tools, resources, prompts, connectors.
    Inspect(inspect::Args),
    /// Adds a server to a client's configuration.
    #[command(subcommand)]
    Install(install::Target),
}

/// Why a command failed: a mistake on the command line (exit status 2) or a failure doing the work
/// (exit status 1). The message names the problem and the fix.
#[derive(Debug)]
pub enum Failure {
    /// The command line is wrong.
    Usage(String),
    /// The work failed.
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure::Failed(error)
    }
}

/// What a subcommand returns; `Ok(code)` for an exit status of its own (a tool's error result is 1).
pub type Outcome = Result<ExitCode, Failure>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::New(args) => new::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Install(target) => install::run(target),
        Command::Call(args) => match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(call::run(args)),
            Err(e) => Err(Failure::Failed(anyhow::anyhow!(
                "cannot start the async runtime: {e}"
            ))),
        },
    };
    match outcome {
        Ok(code) => code,
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Failed(error)) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}

/// `KEY=VALUE` split at the first `=`; a usage error naming `what` otherwise.
fn key_value<'a>(what: &str, pair: &'a str) -> Result<(&'a str, &'a str), Failure> {
    match pair.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key, value)),
        _ => Err(Failure::Usage(format!(
            "`{pair}` is not a {what}: write it as KEY=VALUE, e.g. `input_param=hi`"
        ))),
    }
}

/// `path` made absolute against the current directory, without resolving symbolic links.
fn absolute(path: &std::path::Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path)
        .map_err(|e| anyhow::anyhow!("cannot make {} absolute: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
