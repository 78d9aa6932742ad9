//! Server processes: serving streamable HTTP on an ephemeral port, or MCP over stdio, with their
//! stderr collected.

use std::{
    future::Future,
    path::Path,
    process::{ExitStatus, Stdio},
    time::Duration,
};

use rmcp::{
    ClientHandler, RoleClient, ServiceExt,
    service::RunningService,
    transport::{ConfigureCommandExt, TokioChildProcess},
};
use serde_json::Value;
use tokio::process::{Child, Command};

use crate::{
    Client, Logs, TIMEOUT, binaries::server_env, binary, command, command_in, connect_http,
    target_tmpdir,
};

/// A server process serving streamable HTTP on an ephemeral loopback port.
pub struct HttpProcess {
    /// The process; killed when dropped.
    pub child: Child,
    /// Its stderr.
    pub logs: Logs,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    http: reqwest::Client,
}

impl HttpProcess {
    /// Starts `name` with `args` and `env` in the shared scratch directory; see [`Self::spawn`].
    pub async fn start(name: &str, args: &[&str], env: &[(&str, &str)]) -> HttpProcess {
        let mut command = command(name);
        command.args(args).envs(env.iter().copied());
        HttpProcess::spawn(command).await
    }

    /// Starts `name` with `env` in `dir` (which may hold a `.env` file); see [`Self::spawn`].
    pub async fn start_in(name: &str, dir: &Path, env: &[(&str, &str)]) -> HttpProcess {
        let mut command = command_in(name, dir);
        command.envs(env.iter().copied());
        HttpProcess::spawn(command).await
    }

    /// Runs `command` with `--host 127.0.0.1 --port 0`, waits for the address it logs and for
    /// `/health` to answer.
    pub async fn spawn(mut command: Command) -> HttpProcess {
        command.args(["--host", "127.0.0.1", "--port", "0"]);
        let mut child = command.spawn().expect("spawn the server binary");
        let logs = Logs::collect(child.stderr.take().expect("stderr is piped"));
        let (_, ready) = logs
            .wait_for("`service.ready` event with the address", |v| {
                v["event_type"] == "service.ready" && v["data"]["address"].is_string()
            })
            .await;
        let address = ready["data"]["address"].as_str().unwrap().to_string();
        let server = HttpProcess {
            child,
            logs,
            base: format!("http://{address}"),
            // Each request bounded: a server that accepts but never answers fails the test.
            http: reqwest::Client::builder()
                .timeout(TIMEOUT)
                .build()
                .expect("build an HTTP client"),
        };
        server.wait_healthy().await;
        server
    }

    /// Polls `/health` until it answers 200 (bounded by [`TIMEOUT`]).
    async fn wait_healthy(&self) {
        let url = format!("{}/health", self.base);
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            match self.http.get(&url).send().await {
                Ok(response) if response.status() == 200 => return,
                result => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "{url} never answered 200; last: {result:?}"
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }

    /// The MCP endpoint.
    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base)
    }

    /// An MCP client connected over streamable HTTP, without extra headers.
    pub async fn client(&self) -> Client {
        connect_http(&self.mcp_url(), &[], None).await
    }

    /// `GET /health`, which must answer 200.
    pub async fn health(&self) -> Value {
        let response = self
            .http
            .get(format!("{}/health", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /health: {e}; stderr:\n{}", self.logs.dump()));
        assert_eq!(response.status(), 200);
        response.json().await.expect("health is JSON")
    }

    /// Polls `/health` until `matches` holds (bounded by `within`); returns the document.
    pub async fn wait_health(
        &self,
        what: &str,
        within: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> Value {
        poll_until(within, || self.health(), matches)
            .await
            .unwrap_or_else(|last| {
                panic!(
                    "/health never showed {what} within {within:?}; last: {last}\nstderr:\n{}",
                    self.logs.dump()
                )
            })
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("poll the child").is_none()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the process is running")
    }

    /// Waits (bounded) for the process to exit.
    pub async fn wait_exit(&mut self) -> ExitStatus {
        wait_exit(&mut self.child, &self.logs).await
    }

    /// Waits (bounded) for the process to exit, which must be a success, and for its stderr to
    /// close (so that [`Self::logs`] has every line).
    pub async fn wait_clean_exit(&mut self) {
        wait_clean_exit(&mut self.child, &self.logs).await;
    }

    /// Sends SIGTERM, waits for the process to exit and for its stderr to close (so that
    /// [`Self::logs`] has every line); returns the exit status.
    pub async fn terminate(&mut self) -> ExitStatus {
        signal(self.pid(), nix::sys::signal::Signal::SIGTERM);
        let status = self.wait_exit().await;
        self.logs.wait_closed().await;
        status
    }

    /// [`Self::terminate`], and the exit must be a success (the stderr is in the failure).
    pub async fn terminate_cleanly(&mut self) {
        let status = self.terminate().await;
        assert!(
            status.success(),
            "the server exited with {status} on SIGTERM; stderr:\n{}",
            self.logs.dump()
        );
    }
}

/// Waits (bounded) for `child` to exit; fails with its stderr when it does not.
pub async fn wait_exit(child: &mut Child, logs: &Logs) -> ExitStatus {
    tokio::time::timeout(TIMEOUT, child.wait())
        .await
        .unwrap_or_else(|_| panic!("the server did not exit; stderr:\n{}", logs.dump()))
        .expect("wait for the server")
}

/// Waits (bounded) for `child` to exit, which must be a success, and for its stderr to close.
async fn wait_clean_exit(child: &mut Child, logs: &Logs) {
    let status = wait_exit(child, logs).await;
    assert!(status.success(), "{status}; stderr:\n{}", logs.dump());
    logs.wait_closed().await;
}

/// Calls `fetch` every 10 ms until `matches` holds for its answer, which it returns; the last answer
/// as the error when that does not happen within `within`.
pub(crate) async fn poll_until<F: Future<Output = Value>>(
    within: Duration,
    mut fetch: impl FnMut() -> F,
    matches: impl Fn(&Value) -> bool,
) -> Result<Value, Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let value = fetch().await;
        if matches(&value) {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(value);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Sends `signal` to the process `pid` (a child this test started).
pub fn signal(pid: u32, signal: nix::sys::signal::Signal) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).expect("pid fits in i32"));
    nix::sys::signal::kill(pid, signal).expect("send the signal");
}

/// A server process speaking MCP over stdio, with an rmcp client connected to it.
pub struct StdioProcess {
    /// The client session.
    pub client: Client,
    /// The server's stderr.
    pub logs: Logs,
    /// The server's process id.
    pub pid: u32,
}

/// Spawns `name` with `args` and `env` as an MCP server over stdio and connects a client.
pub async fn connect_stdio(name: &str, args: &[&str], env: &[(&str, &str)]) -> StdioProcess {
    connect_stdio_program(&binary(name), args, env).await
}

/// [`connect_stdio`] to the server binary at `program` (e.g. [`binary_built_alone`]'s).
pub async fn connect_stdio_program(
    program: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> StdioProcess {
    let command = tokio::process::Command::new(program).configure(|cmd| {
        for var in server_env() {
            cmd.env_remove(var);
        }
        cmd.args(args)
            .envs(env.iter().copied())
            .current_dir(target_tmpdir());
    });
    let (transport, stderr) = TokioChildProcess::builder(command)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the stdio server");
    let pid = transport.id().expect("the server is running");
    let logs = Logs::collect(stderr.expect("stderr is piped"));
    let client = match tokio::time::timeout(TIMEOUT, ().serve(transport)).await {
        Ok(Ok(client)) => client,
        other => panic!(
            "initialize over stdio failed: {other:?}; stderr:\n{}",
            logs.dump()
        ),
    };
    StdioProcess { client, logs, pid }
}

/// A stdio server spawned by hand (rather than by rmcp's `TokioChildProcess`), so that the test owns
/// the child and sees its exit status.
pub struct OwnedStdioServer {
    /// The process; killed when dropped.
    pub child: Child,
    /// Its stderr.
    pub logs: Logs,
}

impl OwnedStdioServer {
    /// Waits (bounded) for the process to exit, which must be a success, and for its stderr to
    /// close (so that [`Self::logs`] has every line).
    pub async fn wait_clean_exit(&mut self) {
        wait_clean_exit(&mut self.child, &self.logs).await;
    }
}

/// Spawns `name` with `args` with piped stdio and connects a client with `handler` to it.
pub async fn connect_owned_stdio<H: ClientHandler>(
    name: &str,
    args: &[&str],
    handler: H,
) -> (OwnedStdioServer, RunningService<RoleClient, H>) {
    let mut command = command(name);
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child = command.spawn().expect("spawn the server binary");
    let stdout = child.stdout.take().expect("stdout is piped");
    let stdin = child.stdin.take().expect("stdin is piped");
    let logs = Logs::collect(child.stderr.take().expect("stderr is piped"));
    let client = match tokio::time::timeout(TIMEOUT, handler.serve((stdout, stdin))).await {
        Ok(Ok(client)) => client,
        Ok(Err(error)) => panic!(
            "initialize over stdio failed: {error}; stderr:\n{}",
            logs.dump()
        ),
        Err(_) => panic!(
            "initialize over stdio did not finish within {TIMEOUT:?}; stderr:\n{}",
            logs.dump()
        ),
    };
    (OwnedStdioServer { child, logs }, client)
}
