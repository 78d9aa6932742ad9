//! Command-line flags and their environment variables, shared by every server built with the framework.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use clap::{
    Command, Parser, ValueEnum,
    error::{ContextKind, ContextValue, ErrorKind},
};

use crate::platform::SettingsError;

/// The flags every server accepts.
#[derive(Debug, Clone, Parser)]
pub struct Cli {
    /// Serve MCP over stdin/stdout (also: FastMCP_TRANSPORT=stdio).
    #[arg(long, conflicts_with = "streamable_http")]
    pub stdio: bool,

    /// Serve MCP over streamable HTTP at /mcp, with /health at the root (the default).
    #[arg(long)]
    pub streamable_http: bool,

    /// Address or host name to listen on (`0.0.0.0` for every interface, `localhost` for this machine
    /// only).
    #[arg(long, env = "MCP_HOST", default_value = "0.0.0.0")]
    pub host: String,

    /// Port to listen on (a ConfidentialMind stack expects 8080).
    #[arg(long, env = "MCP_PORT", default_value_t = 8080)]
    pub port: u16,

    /// Log level; RUST_LOG is used when this is not given, DEBUG=true implies debug.
    #[arg(long, env = "LOG_LEVEL", value_enum, ignore_case = true)]
    pub log_level: Option<LogLevel>,

    /// Stateless HTTP: no sessions, plain JSON responses; for replicas behind a load balancer.
    #[arg(long, env = "MCP_STATELESS", value_parser = parse_bool, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    pub stateless: bool,

    /// Extra Host header values to accept (comma-separated), e.g. the service's DNS name; `*` accepts
    /// any host (turns DNS-rebinding protection off).
    #[arg(long, env = "MCP_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// Browser origins to accept (comma-separated, with scheme, e.g. `http://localhost:*`); when set,
    /// requests from other origins are refused.
    #[arg(long, env = "MCP_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// How long in-flight calls may run after SIGTERM/SIGINT before the server exits.
    #[arg(long, env = "MCP_SHUTDOWN_GRACE", value_parser = parse_seconds, default_value = "10")]
    pub shutdown_grace: Duration,

    /// Sessions open at once (HTTP); an `initialize` beyond is answered 503. Each open session
    /// holds 50-90 KiB (BENCHMARKS.md).
    #[arg(long, env = "MCP_MAX_SESSIONS", value_parser = parse_count, default_value = "1000")]
    pub max_sessions: usize,

    /// Seconds a session may go without a request before it is closed (HTTP).
    #[arg(long, env = "MCP_SESSION_IDLE_TIMEOUT", value_parser = parse_positive_seconds, default_value = "300")]
    pub session_idle_timeout: Duration,

    /// The largest request body accepted, in bytes (HTTP); a larger one is answered 413.
    #[arg(long, env = "MCP_MAX_BODY_BYTES", value_parser = parse_count, default_value = "4194304")]
    pub max_body_bytes: usize,

    /// Seconds a connection may take to send a request's headers, or stay idle between requests
    /// (HTTP); then it is closed.
    #[arg(long, env = "MCP_HEADER_READ_TIMEOUT", value_parser = parse_positive_seconds, default_value = "30")]
    pub header_read_timeout: Duration,

    /// Seconds a request body may take to arrive (HTTP); a slower one is answered 408.
    #[arg(long, env = "MCP_BODY_READ_TIMEOUT", value_parser = parse_positive_seconds, default_value = "30")]
    pub body_read_timeout: Duration,

    /// Connections served at once (HTTP); more wait to be accepted.
    #[arg(long, env = "MCP_MAX_CONNECTIONS", value_parser = parse_count, default_value = "1024")]
    pub max_connections: usize,

    /// Seconds a task (a tool call that runs on in the background, MCP tasks extension) and its
    /// result are kept; a task still running then is stopped and reported failed.
    #[arg(long, env = "MCP_TASK_TTL", value_parser = parse_positive_seconds, default_value = "300")]
    pub task_ttl: Duration,

    /// Tasks running at once; a call that would start one more is refused.
    #[arg(long, env = "MCP_MAX_TASKS", value_parser = parse_count, default_value = "1000")]
    pub max_tasks: usize,

    /// Serve Prometheus metrics at /metrics (HTTP); `false` records none and answers 404 there.
    #[arg(long, env = "MCP_METRICS", value_parser = parse_bool, num_args = 0..=1, default_missing_value = "true", default_value = "true")]
    pub metrics: bool,

    /// Redis holding what several replicas of this server share (legacy sessions, resource
    /// subscriptions and updates), as `redis://[:password@]host:port/db`; unset, all state is in this
    /// process. Needs MCP_STATE_KEY, the same on every replica.
    #[arg(long, env = "MCP_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// The prefix of this server's keys and channel in that Redis (default `cm-mcp:<server name>`):
    /// replicas of one server share it, different servers must not.
    #[arg(long, env = "MCP_REDIS_PREFIX")]
    pub redis_prefix: Option<String>,

    /// Print the tools, resources, templates and prompts with their schemas as JSON, and exit.
    #[arg(long)]
    pub manifest: bool,
}

/// `--log-level` values (the platform's names; `warn` is accepted for `warning`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    /// Everything, including per-request details.
    Debug,
    /// Events of every call (the default).
    Info,
    /// Problems only.
    #[value(alias = "warn")]
    Warning,
    /// Failures only.
    Error,
    /// Failures only (structlog's highest level).
    Critical,
}

impl LogLevel {
    pub(crate) fn directive(self) -> &'static str {
        match self {
            // rmcp's debug events print whole requests, secret arguments included; its warnings
            // repeat, as Rust debug text, the errors the handler logs as `mcp.request.error`.
            LogLevel::Debug => "debug,rmcp=info",
            LogLevel::Info => "info,rmcp=error",
            LogLevel::Warning => "warn,rmcp=error",
            LogLevel::Error | LogLevel::Critical => "error",
        }
    }
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        other => Err(format!("`{other}` is not a boolean; use true or false")),
    }
}

fn parse_seconds(value: &str) -> Result<Duration, String> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("`{value}` is not a number of seconds"))
}

fn parse_positive_seconds(value: &str) -> Result<Duration, String> {
    parse_seconds(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("`{value}` is not a positive number of seconds"))
}

fn parse_count(value: &str) -> Result<usize, String> {
    value
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{value}` is not a positive whole number"))
}

/// Which transport to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// stdin/stdout.
    Stdio,
    /// Streamable HTTP.
    StreamableHttp,
}

impl Cli {
    /// The address to listen on: `--host` (an IP address, or a name resolved now, IPv4 preferred)
    /// and `--port`. A name that does not resolve is bad configuration naming `MCP_HOST`.
    pub async fn listen_addr(&self) -> Result<SocketAddr, SettingsError> {
        let host = self.host.trim();
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            return Ok(SocketAddr::new(ip, self.port));
        }
        let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host, self.port))
            .await
            .map(Iterator::collect)
            .unwrap_or_default();
        resolved
            .iter()
            .find(|addr| addr.is_ipv4())
            .or(resolved.first())
            .copied()
            .ok_or_else(|| {
                SettingsError::new(
                    "MCP_HOST",
                    format!(
                        "--host `{host}` is neither an IP address nor a name this machine resolves: set --host or MCP_HOST to an address such as 0.0.0.0 or 127.0.0.1, or to a resolvable name such as localhost"
                    ),
                )
            })
    }

    /// The transport the flags and `FastMCP_TRANSPORT` choose: a flag wins, then the variable, then HTTP.
    pub fn transport(&self) -> anyhow::Result<Transport> {
        if self.stdio {
            return Ok(Transport::Stdio);
        }
        if self.streamable_http {
            return Ok(Transport::StreamableHttp);
        }
        match std::env::var("FastMCP_TRANSPORT") {
            Err(_) => Ok(Transport::StreamableHttp),
            Ok(value) => match value.trim().to_ascii_lowercase().as_str() {
                "stdio" => Ok(Transport::Stdio),
                "" | "http" | "streamable-http" | "streamable_http" => {
                    Ok(Transport::StreamableHttp)
                }
                other => Err(SettingsError::new(
                    "FastMCP_TRANSPORT",
                    format!(
                        "FastMCP_TRANSPORT=`{other}` is not a transport: use `stdio` or `streamable-http`"
                    ),
                )
                .into()),
            },
        }
    }
}

/// Parses the command line of `command` into [`Cli`]. Help and version requests print and exit as
/// usual; a bad flag or environment variable becomes a [`SettingsError`] of one line naming the flag,
/// its variable and the fix, which the server logs before exiting with status 2.
pub(crate) fn parse(command: Command) -> Result<Cli, SettingsError> {
    use clap::FromArgMatches as _;
    let result = command
        .clone()
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches));
    match result {
        Ok(cli) => Ok(cli),
        Err(error)
            if matches!(
                error.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) =>
        {
            error.exit()
        }
        Err(error) => Err(one_line(&command, &error)),
    }
}

/// clap's message, which spans several lines, as one line that also names the flag's variable.
fn one_line(command: &Command, error: &clap::Error) -> SettingsError {
    let rendered = error.render().to_string();
    let problem = rendered
        .lines()
        .map(str::trim)
        .filter(|line| {
            !line.is_empty()
                && !line.starts_with("For more information")
                && !line.starts_with("Usage:")
        })
        .map(|line| line.strip_prefix("error: ").unwrap_or(line))
        .collect::<Vec<_>>()
        .join("; ");
    // `--port <PORT>` names the flag; its long name finds the variable that can set it too.
    let flag = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => arg.split_whitespace().next().map(str::to_string),
        _ => None,
    };
    let variable = flag.as_deref().and_then(|flag| {
        let long = flag.strip_prefix("--")?;
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some(long))?;
        arg.get_env().map(|env| env.to_string_lossy().into_owned())
    });
    let fix = match (error.kind(), &flag, &variable) {
        (ErrorKind::ArgumentConflict, _, _) => "give only one of them".to_string(),
        (ErrorKind::UnknownArgument, Some(flag), _) => format!("remove {flag} or correct its name"),
        (_, Some(flag), Some(variable)) => format!("set {flag} or {variable} to a valid value"),
        (_, Some(flag), None) => format!("give {flag} a valid value"),
        _ => "correct the command line".to_string(),
    };
    SettingsError::misconfigured(
        variable.or(flag),
        format!("{problem}: {fix} (`--help` lists every flag and its variable)"),
    )
}
