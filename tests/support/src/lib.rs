//! What every test in the workspace shares (the root package's, postgres-mcp's, everything's): the one
//! [`TIMEOUT`], building and spawning the workspace's server binaries ([`binaries`]), reading their
//! JSON log lines ([`logs`]), server processes over HTTP and stdio ([`process`]), MCP requests and
//! what their results hold ([`mcp`]), the platform's formats ([`assertions`]), the Python MCP clients
//! ([`python`]), nginx round-robin in front of server replicas ([`nginx`]), Redis for the shared
//! state backend ([`redis`]), and tests that need a service the machine may lack ([`skip`]).
//!
//! Everything is re-exported at the root: `use cm_test_support::{TIMEOUT, call_tool, text_of};`.
//! A server's own tests of its tools need none of this: `cm_mcp::testing::Client` serves it in-process.

pub mod assertions;
pub mod binaries;
pub mod logs;
pub mod mcp;
pub mod nginx;
pub mod process;
pub mod prometheus;
pub mod python;
pub mod raw;
pub mod redis;
pub mod skip;

pub use self::redis::*;
pub use assertions::*;
pub use binaries::*;
pub use logs::*;
pub use mcp::*;
pub use nginx::*;
pub use process::*;
pub use prometheus::*;
pub use python::*;
pub use raw::*;
pub use skip::*;

/// The bound on every wait in the tests: long enough for a loaded CI machine, short enough that a
/// hang fails the test instead of the whole run. The same bound as `cm_mcp::testing`'s.
pub const TIMEOUT: std::time::Duration = cm_mcp::testing::TIMEOUT;

/// Runs `future` to its end, bounded by [`TIMEOUT`]: a hang fails the test with a message naming
/// `what` hung, instead of stalling the run.
pub async fn within<F: std::future::Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(TIMEOUT, future)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {TIMEOUT:?}"))
}

/// The bound on a whole test run through [`bounded`]: several bounded steps fit in it.
pub const TEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Runs a test's body bounded by [`TEST_TIMEOUT`], so that a step that hangs without a bound of its
/// own (a request to a stuck server) fails the test with its name instead of stalling the run:
/// `#[tokio::test] async fn it_works() { bounded("it_works", async { .. }).await }`.
pub async fn bounded(test: &str, body: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(TEST_TIMEOUT, body)
        .await
        .unwrap_or_else(|_| panic!("{test} hung: it did not finish within {TEST_TIMEOUT:?}"))
}

/// A port of 127.0.0.1 held for a service that is down now and may come up later on that very
/// port (a database or manager the server under test must retry): bound but not listening, so a
/// connection to it is refused, as to a service that is down, and no other process can take the
/// port meanwhile (which a port bound, freed, and bound again later allows).
pub struct HeldPort {
    socket: tokio::net::TcpSocket,
    port: u16,
}

impl HeldPort {
    /// Binds a free loopback port without listening on it.
    pub fn new() -> HeldPort {
        let socket = tokio::net::TcpSocket::new_v4().expect("create a TCP socket");
        socket
            .bind((std::net::Ipv4Addr::LOCALHOST, 0).into())
            .expect("bind a loopback port");
        let port = socket.local_addr().expect("the bound address").port();
        HeldPort { socket, port }
    }

    /// The held port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The service comes up: listens on the held port (inside a Tokio runtime).
    pub fn listen(self) -> tokio::net::TcpListener {
        self.socket.listen(1024).expect("listen on the held port")
    }
}

impl Default for HeldPort {
    fn default() -> Self {
        HeldPort::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    #[should_panic(expected = "stuck_test hung: it did not finish within 120s")]
    async fn a_test_that_hangs_fails_with_its_name() {
        bounded("stuck_test", std::future::pending()).await;
    }

    #[tokio::test]
    async fn a_held_port_refuses_connections_keeps_the_port_and_then_listens() {
        let held = HeldPort::new();
        let refused = tokio::net::TcpStream::connect(held.address())
            .await
            .expect_err("nothing listens on a held port");
        assert_eq!(
            refused.kind(),
            std::io::ErrorKind::ConnectionRefused,
            "{refused}"
        );
        // std's bind sets SO_REUSEADDR, as most servers' do: the port is still not theirs.
        assert!(
            std::net::TcpListener::bind(held.address()).is_err(),
            "another socket took the held port {}",
            held.port()
        );
        let address = held.address();
        let listener = held.listen();
        let (accepted, connected) = within("a connection to the port, now listening", async {
            tokio::join!(listener.accept(), tokio::net::TcpStream::connect(&address))
        })
        .await;
        accepted.expect("accept");
        connected.expect("connect");
    }
}
