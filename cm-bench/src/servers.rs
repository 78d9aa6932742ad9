//! Starting servers under test: free ports, waiting for `/health`, stopping.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};

use crate::client::StderrTo;

/// A server the suite can start: a program, its arguments, and what it needs around it.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    /// Short name in tables (`cm-mcp`, `bare-rmcp`, ...).
    pub name: String,
    /// The program.
    pub program: PathBuf,
    /// Arguments; `{port}` is replaced by the port for HTTP.
    pub args: Vec<String>,
    /// Extra arguments for stateless HTTP.
    pub stateless_args: Vec<String>,
    /// Arguments for stdio instead of HTTP (replacing the HTTP ones' port and host flags).
    pub stdio_args: Vec<String>,
    /// Where its stderr goes.
    pub stderr: StderrTo,
    /// Environment variables set for it on top of the clean environment of [`command`] (HTTP
    /// starts; the stdio comparison refuses a server that needs some).
    pub env: Vec<(String, String)>,
}

impl ServerSpec {
    /// A server with the command line of cm-mcp's servers (and the bare rmcp baseline, which
    /// copies it): `--host 127.0.0.1 --port {port}` for HTTP, `--stateless` added for stateless
    /// HTTP, `--stdio` instead for stdio.
    pub fn cm_style(
        name: impl Into<String>,
        program: impl Into<PathBuf>,
        stderr: StderrTo,
    ) -> ServerSpec {
        ServerSpec {
            name: name.into(),
            program: program.into(),
            args: ["--host", "127.0.0.1", "--port", "{port}"]
                .map(String::from)
                .to_vec(),
            stateless_args: vec!["--stateless".into()],
            stdio_args: vec!["--stdio".into()],
            stderr,
            env: Vec::new(),
        }
    }

    /// Sets `name` to `value` in its environment.
    pub fn env(mut self, name: &str, value: impl Into<String>) -> ServerSpec {
        self.env.push((name.to_string(), value.into()));
        self
    }

    /// Adds `--log-level <level>` to both the HTTP and the stdio command lines.
    pub fn log_level(mut self, level: &str) -> ServerSpec {
        for args in [&mut self.args, &mut self.stdio_args] {
            args.extend(["--log-level".into(), level.into()]);
        }
        self
    }

    /// The command line for HTTP on `port`.
    pub fn http_command(&self, port: u16, stateless: bool) -> Vec<String> {
        let mut command = vec![self.program.display().to_string()];
        command.extend(
            self.args
                .iter()
                .map(|a| a.replace("{port}", &port.to_string())),
        );
        if stateless {
            command.extend(self.stateless_args.iter().cloned());
        }
        command
    }

    /// The command line for stdio.
    pub fn stdio_command(&self) -> Vec<String> {
        let mut command = vec![self.program.display().to_string()];
        command.extend(self.stdio_args.iter().cloned());
        command
    }
}

/// A port nobody listens on right now (the OS picks it; a race with another process is possible
/// but harmless: the start then fails clearly).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// Runs `command` with a clean environment for the platform variables (local mode, no manager,
/// no `.env` picked up from the working directory).
pub fn command(args: &[String], workdir: &Path, stderr: &StderrTo) -> anyhow::Result<Command> {
    let (program, rest) = args.split_first().context("empty command")?;
    let mut command = Command::new(program);
    command
        .args(rest)
        .current_dir(workdir)
        .env_remove("SERVICE_NAME")
        .env_remove("RUST_LOG")
        .env_remove("DEBUG")
        .env_remove("LOG_LEVEL")
        .env_remove("MCP_PORT")
        .env_remove("MCP_HOST")
        .env_remove("MCP_STATELESS")
        .env_remove("FastMCP_TRANSPORT")
        .env("CONFIDENTIAL_MIND_LOCAL_CONFIG", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr.stdio()?);
    Ok(command)
}

/// A running HTTP server, killed when dropped.
pub struct RunningServer {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// From spawn to the first `/health` 200.
    pub started_in: Duration,
}

impl RunningServer {
    /// Starts the server on a free port and waits (up to `within`) for `/health` to answer 200.
    pub fn start(
        spec: &ServerSpec,
        stateless: bool,
        workdir: &Path,
        within: Duration,
    ) -> anyhow::Result<RunningServer> {
        let port = free_port()?;
        let args = spec.http_command(port, stateless);
        let started = Instant::now();
        let mut child = command(&args, workdir, &spec.stderr)?
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .spawn()
            .with_context(|| format!("cannot start `{}`", args.join(" ")))?;
        match wait_healthy(&mut child, port, within) {
            Ok(()) => Ok(RunningServer {
                child,
                port,
                started_in: started.elapsed(),
            }),
            Err(error) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(error.context(format!("`{}` did not become healthy", args.join(" "))))
            }
        }
    }

    /// The MCP endpoint.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `GET /health` every 200 µs until it answers 200, the child exits, or `within` passes.
pub fn wait_healthy(child: &mut Child, port: u16, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    loop {
        if health_ok(addr) {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("the server exited ({status}) before answering /health");
        }
        if Instant::now() > deadline {
            bail!("no 200 from http://{addr}/health within {within:?}");
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// One `GET /health` with a raw socket (no client library in the way of a cold-start measurement).
pub fn health_ok(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(100)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_nodelay(true);
    let request = format!(
        "GET /health HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
        addr.port()
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && &head[..] == b"HTTP/1.1 200"
}

/// The command line the baseline servers share with cm-mcp's (`--stdio`, `--host`, `--port`,
/// `--stateless`), so that [`ServerSpec::cm_style`] starts them all alike.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerFlags {
    /// Serve over stdin/stdout instead of HTTP.
    #[arg(long)]
    pub stdio: bool,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Port to listen on.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// No sessions (as `my-service --stateless`).
    #[arg(long)]
    pub stateless: bool,
}

impl ServerFlags {
    /// Where to listen over HTTP.
    pub fn address(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::new(self.host, self.port)
    }
}
