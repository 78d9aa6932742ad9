//! `cm-mcp call`: connects to a server (streamable HTTP at a URL, or a command spawned as a child
//! speaking stdio), calls one tool, prints its result, and disconnects. Text content prints as text,
//! structured content as pretty JSON; a result marked `isError` prints to stderr and exits 1.
//!
//! A stdio server's stderr (its JSON log lines) is held back, and shown only when the connection
//! fails: that is when it explains something.

use std::{
    process::{ExitCode, Stdio},
    sync::{Arc, Mutex},
};

use rmcp::{
    RoleClient, ServiceError, ServiceExt,
    model::{CallToolRequestParams, CallToolResult, ContentBlock, ResourceContents},
    service::RunningService,
    transport::{StreamableHttpClientTransport, TokioChildProcess},
};
use serde_json::{Map, Value};
use tokio::io::AsyncReadExt;

use crate::{Failure, Outcome, key_value};

/// `cm-mcp call`.
#[derive(Debug, clap::Args)]
#[command(
    override_usage = "cm-mcp call <URL> <TOOL> [KEY=VALUE]...\n       cm-mcp call <TOOL> [KEY=VALUE]... -- <COMMAND> [ARGS]..."
)]
pub struct Args {
    /// The server's URL (`http://HOST:PORT/mcp`), unless a command follows `--`; then the tool's
    /// name and its arguments as KEY=VALUE.
    #[arg(value_name = "URL|TOOL", required = true)]
    words: Vec<String>,
    /// A server to spawn and speak to over stdio: its command and arguments, after `--`
    /// (e.g. `-- ./target/debug/my-server --stdio`).
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

/// Where the server is.
#[derive(Debug, PartialEq)]
enum Target {
    Http(String),
    Stdio(Vec<String>),
}

/// A parsed command line: where, which tool, its arguments.
#[derive(Debug, PartialEq)]
struct Request {
    target: Target,
    tool: String,
    arguments: Map<String, Value>,
}

fn parse(args: Args) -> Result<Request, Failure> {
    let mut words = args.words.into_iter();
    let target = if args.command.is_empty() {
        let url = words.next().unwrap_or_default();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Failure::Usage(format!(
                "`{url}` is not a server's URL: give `http://HOST:PORT/mcp`, or the server's command after `--` \
                 (`cm-mcp call TOOL KEY=VALUE... -- ./my-server --stdio`)"
            )));
        }
        if url.starts_with("https://") {
            // rmcp's HTTP client is reqwest 0.13, whose TLS needs aws-lc-rs or a platform verifier
            // this workspace does not build; a plain error beats a confusing connection failure.
            return Err(Failure::Usage(format!(
                "`{url}`: this build of cm-mcp speaks plain HTTP only: call the server at an http:// address, or over stdio after `--`"
            )));
        }
        Target::Http(url)
    } else {
        Target::Stdio(args.command)
    };
    let tool = words.next().ok_or_else(|| {
        Failure::Usage("no tool named: give the tool's name after the server's URL".into())
    })?;
    if tool.contains('=') || tool.starts_with("http://") || tool.starts_with("https://") {
        return Err(Failure::Usage(format!(
            "`{tool}` is not a tool's name: write `cm-mcp call URL TOOL KEY=VALUE...` or `cm-mcp call TOOL KEY=VALUE... -- COMMAND`"
        )));
    }
    let mut arguments = Map::new();
    for pair in words {
        let (key, value) = key_value("tool argument", &pair)?;
        if arguments
            .insert(key.to_owned(), argument_value(value))
            .is_some()
        {
            return Err(Failure::Usage(format!(
                "the argument `{key}` is given twice: give it once"
            )));
        }
    }
    Ok(Request {
        target,
        tool,
        arguments,
    })
}

/// A value as JSON when it parses as JSON (`5`, `true`, `["a"]`, `"quoted"`), else as the string it is.
fn argument_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

pub async fn run(args: Args) -> Outcome {
    let request = parse(args)?;
    let (client, stderr) = connect(&request.target).await?;
    let params = CallToolRequestParams::new(request.tool.clone()).with_arguments(request.arguments);
    let outcome = match client.call_tool(params).await {
        Ok(result) => Ok(print_result(&result)),
        Err(ServiceError::McpError(error)) => {
            let mut message = format!("the server refused the call: {}", error.message);
            if let Ok(tools) = client.list_all_tools().await
                && !tools.iter().any(|t| t.name == request.tool)
            {
                let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
                message = format!(
                    "`{}` is not a tool of this server; its tools: {}",
                    request.tool,
                    if names.is_empty() {
                        "none".into()
                    } else {
                        names.join(", ")
                    }
                );
            }
            Err(Failure::Failed(anyhow::anyhow!(message)))
        }
        Err(error) => Err(Failure::Failed(with_stderr(
            anyhow::anyhow!("the call failed: {error}"),
            &stderr,
        ))),
    };
    let _ = client.cancel().await;
    outcome
}

/// Prints a tool's result; exit status 1 when it is an error result.
fn print_result(result: &CallToolResult) -> ExitCode {
    let (is_error, text) = render(result);
    if is_error {
        eprintln!("{text}");
        ExitCode::from(1)
    } else {
        println!("{text}");
        ExitCode::SUCCESS
    }
}

/// Whether a result is an error, and its text: structured content as pretty JSON, else every
/// content block.
fn render(result: &CallToolResult) -> (bool, String) {
    let is_error = result.is_error == Some(true);
    let text = match &result.structured_content {
        // The text content of a structured result is the same JSON (the spec's advice for clients
        // without structured content): printed once, pretty.
        Some(structured) if !is_error => {
            serde_json::to_string_pretty(structured).unwrap_or_else(|_| structured.to_string())
        }
        _ => result
            .content
            .iter()
            .map(content_text)
            .collect::<Vec<_>>()
            .join("\n"),
    };
    (is_error, text)
}

/// One content block as text: text as it is, binary content described.
fn content_text(block: &ContentBlock) -> String {
    match block {
        ContentBlock::Text(text) => text.text.clone(),
        ContentBlock::Image(image) => format!(
            "[image: {}, {} bytes of base64]",
            image.mime_type,
            image.data.len()
        ),
        ContentBlock::Audio(audio) => format!(
            "[audio: {}, {} bytes of base64]",
            audio.mime_type,
            audio.data.len()
        ),
        ContentBlock::Resource(embedded) => match &embedded.resource {
            ResourceContents::TextResourceContents { text, .. } => text.clone(),
            ResourceContents::BlobResourceContents {
                uri,
                mime_type,
                blob,
                ..
            } => format!(
                "[resource {uri}: {}, {} bytes of base64]",
                mime_type.as_deref().unwrap_or("binary"),
                blob.len()
            ),
            other => serde_json::to_string(other).unwrap_or_default(),
        },
        ContentBlock::ResourceLink(link) => {
            let link = serde_json::to_value(link).unwrap_or_default();
            format!("[link: {}]", link["uri"].as_str().unwrap_or("?"))
        }
        // A kind of content newer than this command: shown as the JSON it came as.
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// What a stdio server wrote to stderr so far.
type Stderr = Arc<Mutex<String>>;

async fn connect(target: &Target) -> Result<(RunningService<RoleClient, ()>, Stderr), Failure> {
    let stderr: Stderr = Arc::default();
    let client = match target {
        Target::Http(url) => {
            let transport = StreamableHttpClientTransport::from_uri(url.as_str());
            ().serve(transport).await.map_err(|e| {
                anyhow::anyhow!("cannot connect to {url}: {e}; is the server running, and is that its MCP endpoint (usually ending in /mcp)?")
            })?
        }
        Target::Stdio(command) => {
            let (program, args) = command.split_first().expect("clap requires a command");
            let mut child = tokio::process::Command::new(program);
            child.args(args);
            let (transport, pipe) = TokioChildProcess::builder(child)
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| {
                    Failure::Usage(format!(
                        "cannot run `{program}`: {e}; give the server's command after `--` (e.g. `-- ./target/debug/my-server --stdio`)"
                    ))
                })?;
            let reader = tokio::spawn({
                let stderr = stderr.clone();
                async move {
                    let Some(mut pipe) = pipe else { return };
                    let mut buffer = [0u8; 4096];
                    while let Ok(n @ 1..) = pipe.read(&mut buffer).await {
                        stderr
                            .lock()
                            .expect("no panic while holding the lock")
                            .push_str(&String::from_utf8_lossy(&buffer[..n]));
                    }
                }
            });
            match ().serve(transport).await {
                Ok(client) => client,
                Err(e) => {
                    // The server has exited or closed its pipes: its whole stderr is coming.
                    let _ = reader.await;
                    return Err(Failure::Failed(with_stderr(
                        anyhow::anyhow!(
                            "`{}` did not start an MCP session over stdio: {e}; does it serve stdio with these arguments (cm-mcp servers need `--stdio`)?",
                            command.join(" ")
                        ),
                        &stderr,
                    )));
                }
            }
        }
    };
    Ok((client, stderr))
}

/// `error` followed by the server's stderr, when there is any.
fn with_stderr(error: anyhow::Error, stderr: &Stderr) -> anyhow::Error {
    let text = stderr.lock().expect("no panic while holding the lock");
    if text.trim().is_empty() {
        error
    } else {
        anyhow::anyhow!("{error:#}\nthe server's stderr:\n{}", text.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn args(words: &[&str], command: &[&str]) -> Args {
        Args {
            words: words.iter().map(|s| s.to_string()).collect(),
            command: command.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn values_are_json_when_they_parse_and_strings_otherwise() {
        let request = parse(args(
            &[
                "http://h/mcp",
                "t",
                "n=5",
                "flag=true",
                "tags=[\"a\"]",
                "s=hello world",
                "eq=a=b",
                "empty=",
            ],
            &[],
        ))
        .unwrap_or_else(|_| panic!("parses"));
        assert_eq!(request.target, Target::Http("http://h/mcp".into()));
        assert_eq!(
            Value::Object(request.arguments),
            json!({"n": 5, "flag": true, "tags": ["a"], "s": "hello world", "eq": "a=b", "empty": ""})
        );
    }

    #[test]
    fn a_command_after_the_double_dash_is_the_server() {
        let request = parse(args(&["t", "k=v"], &["./server", "--stdio"]))
            .unwrap_or_else(|_| panic!("parses"));
        assert_eq!(
            request.target,
            Target::Stdio(vec!["./server".into(), "--stdio".into()])
        );
        assert_eq!(request.tool, "t");
    }

    #[test]
    fn structured_content_prints_as_pretty_json_instead_of_its_text_copy() {
        let result: CallToolResult = serde_json::from_value(json!({
            "content": [{"type": "text", "text": "{\"sum\":3}"}],
            "structuredContent": {"sum": 3}
        }))
        .unwrap();
        assert_eq!(render(&result), (false, "{\n  \"sum\": 3\n}".to_owned()));
    }

    #[test]
    fn every_content_block_prints_binary_ones_described() {
        let result: CallToolResult = serde_json::from_value(json!({
            "content": [{"type": "text", "text": "one"},
                        {"type": "image", "data": "AAAA", "mimeType": "image/png"}],
            "isError": true
        }))
        .unwrap();
        assert_eq!(
            render(&result),
            (
                true,
                "one\n[image: image/png, 4 bytes of base64]".to_owned()
            )
        );
    }

    #[test]
    fn mistakes_on_the_command_line_are_usage_errors_that_say_the_fix() {
        for (words, command, expected) in [
            (&["my_tool"][..], &[][..], "is not a server's URL"),
            (&["http://h/mcp"][..], &[][..], "no tool named"),
            (&["https://h/mcp", "t"][..], &[][..], "plain HTTP only"),
            (&["http://h/mcp", "t", "novalue"][..], &[][..], "KEY=VALUE"),
            (
                &["http://h/mcp", "t", "a=1", "a=2"][..],
                &[][..],
                "given twice",
            ),
            (
                &["http://h/mcp", "t"][..],
                &["./s"][..],
                "is not a tool's name",
            ),
        ] {
            match parse(args(words, command)) {
                Err(Failure::Usage(message)) => {
                    assert!(message.contains(expected), "{words:?}: {message}")
                }
                other => panic!("{words:?}: expected a usage error, got {other:?}"),
            }
        }
    }
}
