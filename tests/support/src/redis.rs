//! Redis for the tests of the shared state backend (`MCP_REDIS_URL`): the machine's own Redis at
//! 127.0.0.1:6379 under a key prefix of the test's own, deleted when the test ends ([`shared_redis`]),
//! and a `redis-server` of a test's own on a free port, for a test that stops and starts Redis
//! ([`RedisServer`]): the shared one must never go down under another test.
//!
//! Both are services the machine may lack: off CI a test without them is skipped, visibly; under CI
//! it fails (see [`crate::skip`]).

use std::{
    net::{Ipv4Addr, SocketAddr},
    process::Stdio,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use tokio::{net::TcpSocket, process::Child};

use crate::{Logs, TIMEOUT, service_missing};

/// The machine's Redis, which every test of this project may use under its own key prefix.
pub const SHARED_REDIS_URL: &str = "redis://127.0.0.1:6379/0";

/// How long one Redis command of the helpers may take: Redis on loopback answers in microseconds,
/// so a longer wait means it is not there.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// A key prefix no other test (of this process or another) uses: `cm-mcp-test:<test>:<pid>.<n>.<ns>`
/// (the process, a counter, the clock), so that concurrent runs of one test do not share keys.
pub fn unique_prefix(test: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("cm-mcp-test:{test}:{}.{n}.{nanos}", std::process::id())
}

/// `text` with the characters `SCAN ... MATCH` treats as a pattern escaped, so that it matches itself.
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Every key of the Redis at `client` that starts with `prefix` (`SCAN MATCH prefix*`).
async fn keys_under(client: &redis::Client, prefix: &str) -> redis::RedisResult<Vec<String>> {
    let mut connection = connect(client).await?;
    let pattern = format!("{}*", glob_escape(prefix));
    let mut cursor = 0u64;
    let mut keys = Vec::new();
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut connection)
            .await?;
        keys.extend(batch);
        if next == 0 {
            return Ok(keys);
        }
        cursor = next;
    }
}

/// An async connection to `client`, bounded: a Redis that does not answer is an error, not a hang.
async fn connect(client: &redis::Client) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(COMMAND_TIMEOUT))
        .set_response_timeout(Some(COMMAND_TIMEOUT));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

/// `PING`, bounded.
async fn ping(client: &redis::Client) -> redis::RedisResult<()> {
    let mut connection = connect(client).await?;
    let pong: String = redis::cmd("PING").query_async(&mut connection).await?;
    if pong == "PONG" {
        Ok(())
    } else {
        Err(redis::RedisError::from((
            redis::ErrorKind::Client,
            "unexpected answer to PING",
            pong,
        )))
    }
}

/// The machine's Redis ([`SHARED_REDIS_URL`]) for one test: a key prefix of its own, whose keys
/// are deleted when this is dropped (what the servers under test stored there included).
pub struct SharedRedis {
    client: redis::Client,
    prefix: String,
}

/// The machine's Redis for `test`, with a prefix of its own ([`unique_prefix`]); `None` when it is
/// not reachable, after saying so (off CI: the test is skipped; under CI this fails the test).
pub async fn shared_redis(test: &str) -> Option<SharedRedis> {
    let client = redis::Client::open(SHARED_REDIS_URL).expect("a valid Redis URL");
    match ping(&client).await {
        Ok(()) => Some(SharedRedis {
            client,
            prefix: unique_prefix(test),
        }),
        Err(error) => {
            service_missing(test, "Redis at 127.0.0.1:6379", error);
            None
        }
    }
}

impl SharedRedis {
    /// `redis://127.0.0.1:6379/0`, for `MCP_REDIS_URL`.
    pub fn url(&self) -> &str {
        SHARED_REDIS_URL
    }

    /// The test's key prefix, for `MCP_REDIS_PREFIX`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The keys under the prefix now.
    pub async fn keys(&self) -> Vec<String> {
        keys_under(&self.client, &self.prefix)
            .await
            .unwrap_or_else(|e| panic!("SCAN the keys under {}: {e}", self.prefix))
    }
}

impl Drop for SharedRedis {
    /// Deletes the keys under the prefix. Blocking (a drop cannot wait on a future), over a
    /// connection of its own with a timeout: a Redis gone meanwhile costs the test seconds, not a
    /// hang, and a failure here is only reported, since the test itself may be unwinding.
    fn drop(&mut self) {
        let pattern = format!("{}*", glob_escape(&self.prefix));
        let clean = || -> redis::RedisResult<usize> {
            let mut connection = self.client.get_connection_with_timeout(COMMAND_TIMEOUT)?;
            connection.set_read_timeout(Some(COMMAND_TIMEOUT))?;
            connection.set_write_timeout(Some(COMMAND_TIMEOUT))?;
            let mut cursor = 0u64;
            let mut deleted = 0;
            loop {
                let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query(&mut connection)?;
                if !keys.is_empty() {
                    deleted += redis::cmd("DEL")
                        .arg(&keys)
                        .query::<usize>(&mut connection)?;
                }
                if next == 0 {
                    return Ok(deleted);
                }
                cursor = next;
            }
        };
        // A socket call with a timeout is not restarted after a signal (SIGCHLD, from the servers
        // the test ran): it fails with EINTR, and the connection is then in an unknown state. So a
        // few fresh attempts; the deletion is idempotent.
        let mut cleaned = clean();
        for _ in 0..4 {
            if cleaned.is_ok() {
                break;
            }
            cleaned = clean();
        }
        if let Err(error) = cleaned {
            eprintln!(
                "warning: the keys under {} were not deleted from {SHARED_REDIS_URL}: {error}",
                self.prefix
            );
        }
    }
}

/// A `redis-server` of a test's own on a loopback port (`--save '' --appendonly no`: nothing
/// written to disk), which the test may stop and start again on the same port. While it is down the
/// port stays held (bound, not listening: connections are refused, as by a Redis that is down, and
/// no other process takes the port). Killed when dropped.
pub struct RedisServer {
    port: u16,
    child: Option<(Child, Output)>,
    held: Option<TcpSocket>,
}

/// What a `redis-server` prints: its log on stdout, a refused configuration on stderr.
struct Output {
    stdout: Logs,
    stderr: Logs,
}

impl Output {
    fn dump(&self) -> String {
        format!("{}\n{}", self.stdout.dump(), self.stderr.dump())
    }
}

/// Binds 127.0.0.1:`port` (0: any free port) without listening. `SO_REUSEADDR`, as Redis sets it:
/// the server's side of the connections a killed Redis had may linger in `TIME_WAIT` on the port.
fn hold(port: u16) -> std::io::Result<TcpSocket> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    Ok(socket)
}

impl RedisServer {
    /// Starts a `redis-server` of `test`'s own on a free port and waits until it answers `PING`;
    /// `None` when `redis-server` is not installed, after saying so (off CI: the test is skipped;
    /// under CI this fails the test).
    pub async fn start(test: &str) -> Option<RedisServer> {
        let mut server = RedisServer::down(test).await?;
        server.restart().await;
        Some(server)
    }

    /// A Redis that is down: a free port, held, on which [`Self::restart`] starts one later; `None`
    /// when `redis-server` is not installed (as [`Self::start`]).
    pub async fn down(test: &str) -> Option<RedisServer> {
        let version = tokio::process::Command::new("redis-server")
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .await;
        match version {
            Ok(output) if output.status.success() => {}
            Ok(output) => {
                service_missing(
                    test,
                    "redis-server (Debian package redis-server)",
                    format!(
                        "`redis-server --version` failed ({}): {}",
                        output.status,
                        String::from_utf8_lossy(&output.stderr)
                    ),
                );
                return None;
            }
            Err(error) => {
                service_missing(test, "redis-server (Debian package redis-server)", error);
                return None;
            }
        }
        let held = hold(0).expect("bind a free loopback port");
        let port = held.local_addr().expect("the bound address").port();
        Some(RedisServer {
            port,
            child: None,
            held: Some(held),
        })
    }

    /// The port, the same across restarts.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/0`, for `MCP_REDIS_URL`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Whether the server is running (started, and not stopped since).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// What the server printed so far (empty while it is down).
    pub fn output(&self) -> String {
        self.child
            .as_ref()
            .map(|(_, output)| output.dump())
            .unwrap_or_default()
    }

    /// Kills the server (`SIGKILL`: what a crash or an evicted pod does; it had nothing on disk, so
    /// everything it held is gone), waits for it to exit, and holds the port. A no-op when it is down.
    pub async fn stop(&mut self) {
        let Some((mut child, _output)) = self.child.take() else {
            return;
        };
        child.start_kill().expect("kill redis-server");
        crate::within("redis-server to exit", child.wait())
            .await
            .expect("wait for redis-server");
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        self.held = Some(loop {
            match hold(self.port) {
                Ok(socket) => break socket,
                Err(error) => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "cannot hold port {} after stopping redis-server: {error}",
                        self.port
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        });
    }

    /// Starts the server again on the same port (stopping it first when it runs), empty, and waits
    /// until it answers `PING`.
    pub async fn restart(&mut self) {
        self.stop().await;
        // Freed just before the server binds it: nothing else on this machine picks ports of the
        // ephemeral range by number in that instant.
        drop(self.held.take());
        let mut child = tokio::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--daemonize", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn redis-server");
        let logs = Output {
            stdout: Logs::collect(child.stdout.take().expect("stdout is piped")),
            stderr: Logs::collect(child.stderr.take().expect("stderr is piped")),
        };
        let client = redis::Client::open(self.url()).expect("a valid Redis URL");
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            match ping(&client).await {
                Ok(()) => break,
                Err(error) => {
                    if let Some(status) = child.try_wait().expect("poll redis-server") {
                        panic!(
                            "redis-server on port {} exited ({status}) before answering PING; it printed:\n{}",
                            self.port,
                            logs.dump()
                        );
                    }
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "redis-server on port {} did not answer PING within {TIMEOUT:?}: {error}; it printed:\n{}",
                        self.port,
                        logs.dump()
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        self.child = Some((child, logs));
    }

    /// Every key of the server now.
    pub async fn keys(&self) -> Vec<String> {
        let client = redis::Client::open(self.url()).expect("a valid Redis URL");
        keys_under(&client, "")
            .await
            .unwrap_or_else(|e| panic!("SCAN the keys of redis-server on {}: {e}", self.port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_is_unique_and_matches_itself_as_a_pattern() {
        let (a, b) = (unique_prefix("t"), unique_prefix("t"));
        assert_ne!(a, b);
        assert!(a.starts_with("cm-mcp-test:t:"), "{a}");
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }

    #[tokio::test]
    async fn the_shared_redis_keys_of_a_test_are_deleted_when_it_ends() {
        let test = "the_shared_redis_keys_of_a_test_are_deleted_when_it_ends";
        let Some(redis) = shared_redis(test).await else {
            return;
        };
        let prefix = redis.prefix().to_string();
        let client = redis::Client::open(redis.url()).unwrap();
        let mut connection = connect(&client).await.unwrap();
        for key in ["a", "b:c"] {
            let () = redis::cmd("SET")
                .arg(format!("{prefix}:{key}"))
                .arg("1")
                .query_async(&mut connection)
                .await
                .unwrap();
        }
        // A key of another test: its prefix starts like this one's, it is not under it.
        let other = format!("{prefix}-other");
        let () = redis::cmd("SET")
            .arg(&other)
            .arg("1")
            .query_async(&mut connection)
            .await
            .unwrap();
        let mut keys = redis.keys().await;
        keys.sort();
        assert_eq!(
            keys,
            [
                format!("{prefix}-other"),
                format!("{prefix}:a"),
                format!("{prefix}:b:c")
            ]
        );
        let _: usize = redis::cmd("DEL")
            .arg(&other)
            .query_async(&mut connection)
            .await
            .unwrap();
        drop(redis);
        assert!(keys_under(&client, &prefix).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_own_redis_server_stops_refusing_connections_and_restarts_empty_on_its_port() {
        let test = "an_own_redis_server_stops_refusing_connections_and_restarts_empty_on_its_port";
        let Some(mut server) = RedisServer::start(test).await else {
            return;
        };
        let port = server.port();
        let client = redis::Client::open(server.url()).unwrap();
        let mut connection = connect(&client).await.unwrap();
        let () = redis::cmd("SET")
            .arg("k")
            .arg("v")
            .query_async(&mut connection)
            .await
            .unwrap();
        assert_eq!(server.keys().await, ["k"]);

        server.stop().await;
        assert!(!server.is_running());
        let refused = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect_err("nothing listens while Redis is down");
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
        assert!(ping(&client).await.is_err());

        server.restart().await;
        assert_eq!(server.port(), port);
        assert!(server.is_running());
        ping(&client).await.unwrap();
        assert!(server.keys().await.is_empty(), "nothing was on disk");
    }

    #[tokio::test]
    async fn a_redis_server_that_is_down_refuses_connections_until_started() {
        let test = "a_redis_server_that_is_down_refuses_connections_until_started";
        let Some(mut server) = RedisServer::down(test).await else {
            return;
        };
        let client = redis::Client::open(server.url()).unwrap();
        assert!(ping(&client).await.is_err());
        server.restart().await;
        ping(&client).await.unwrap();
    }
}
