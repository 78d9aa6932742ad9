//! A gate the test holds shut, so that "still running" is a fact the test controls rather than a race
//! against a sleep. A fixture's tool or hook given the gate's address connects to it and waits until
//! the test opens the gate (closes the connection); the test sees each waiter arrive.

use tokio::net::{TcpListener, TcpStream};

use super::TIMEOUT;

/// A loopback listener whose accepted connections are the waiters held at the gate.
pub struct Gate {
    listener: TcpListener,
    waiting: Vec<TcpStream>,
}

impl Gate {
    /// A shut gate on an ephemeral loopback port.
    pub async fn new() -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the gate");
        Gate {
            listener,
            waiting: Vec::new(),
        }
    }

    /// `127.0.0.1:PORT`: what the fixture's `wait_for_gate` tool, `FIXTURE_STARTUP_GATE` and
    /// `PROBE_HOOK_GATE` take.
    pub fn addr(&self) -> String {
        self.listener.local_addr().unwrap().to_string()
    }

    /// Waits (bounded) until one more waiter has arrived; it stays held until [`Self::open`].
    pub async fn arrived(&mut self, who: &str) {
        let (stream, _) = tokio::time::timeout(TIMEOUT, self.listener.accept())
            .await
            .unwrap_or_else(|_| panic!("{who} did not reach the gate within {TIMEOUT:?}"))
            .expect("accept at the gate");
        self.waiting.push(stream);
    }

    /// Lets every waiter that has arrived go on.
    pub fn open(&mut self) {
        assert!(!self.waiting.is_empty(), "nobody is waiting at the gate");
        self.waiting.clear();
    }
}
