//! What every test in the workspace shares (the root package's, postgres-mcp's, everything's): the one
//! [`TIMEOUT`], building and spawning the workspace's server binaries ([`binaries`]), reading their
//! JSON log lines ([`logs`]), server processes over HTTP and stdio ([`process`]), MCP requests and
//! what their results hold ([`mcp`]), the platform's formats ([`assertions`]), and tests that need a
//! service the machine may lack ([`skip`]).
//!
//! Everything is re-exported at the root: `use cm_test_support::{TIMEOUT, call_tool, text_of};`.
//! A server's own tests of its tools need none of this: `cm_mcp::testing::Client` serves it in-process.

pub mod assertions;
pub mod binaries;
pub mod logs;
pub mod mcp;
pub mod process;
pub mod skip;

pub use assertions::*;
pub use binaries::*;
pub use logs::*;
pub use mcp::*;
pub use process::*;
pub use skip::*;

/// The bound on every wait in the tests: long enough for a loaded CI machine, short enough that a
/// hang fails the test instead of the whole run. The same bound as `cm_mcp::testing`'s.
pub const TIMEOUT: std::time::Duration = cm_mcp::testing::TIMEOUT;

/// A port of 127.0.0.1 that was free a moment ago: for a service started later, or one that is
/// down (nothing listens on it).
pub fn reserve_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a loopback port")
        .port()
}
