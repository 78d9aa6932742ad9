//! Accepting HTTP connections with bounds a hostile or careless client cannot push past.
//!
//! `axum::serve` has no header-read timeout and no connection limit: a client that opens
//! connections and sends nothing, or sends its headers a byte at a time (slowloris), holds a task,
//! a socket and buffers for as long as it likes, and enough of them exhaust the process. This loop is
//! what `axum::serve` does (accept, `TCP_NODELAY`, hyper, graceful shutdown through hyper-util's
//! `GracefulShutdown`) plus:
//!
//! - hyper's `header_read_timeout`, which runs from the moment a connection waits for a request:
//!   a new connection, and a kept-alive one between requests. So it bounds slow headers and idle
//!   connections alike; a connection answering a long call or holding an event stream is not waiting
//!   for a request and is not cut.
//! - at most `max_connections` at once: beyond that, new connections wait in the listen backlog
//!   until one closes (which the timeout guarantees for idle ones), instead of being accepted to
//!   starve the others.
//!
//! HTTP/1.1 only: hyper's HTTP/2 server has no header or idle timeout, so a prior-knowledge h2c
//! connection could hold its place forever. MCP clients speak HTTP/1.1 to a plain-HTTP server.
//! Slow request bodies are bounded per request in `endpoint.rs`.

use std::time::Duration;

use axum::{Router, body::Body, extract::Request};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
};
use tokio::{net::TcpListener, sync::Semaphore, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tower_service::Service;

/// The bounds on connections.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    /// Connections served at once.
    pub max_connections: usize,
    /// How long a connection may take to send a request's headers, and stay idle between requests.
    pub header_read_timeout: Duration,
}

/// Serves `router` on `listener` until `stop_accepting` is cancelled; then closes idle connections,
/// lets the others finish their responses, and ends when the last one has closed.
pub(crate) fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stop_accepting: CancellationToken,
) -> JoinHandle<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let places = std::sync::Arc::new(Semaphore::new(limits.max_connections));
    tokio::spawn(async move {
        let graceful = GracefulShutdown::new();
        loop {
            let place = tokio::select! {
                place = places.clone().acquire_owned() => place.expect("the semaphore is never closed"),
                () = stop_accepting.cancelled() => break,
            };
            let tcp = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((tcp, _)) => tcp,
                    Err(error) => {
                        accept_failed(error).await;
                        continue;
                    }
                },
                () = stop_accepting.cancelled() => break,
            };
            // Without TCP_NODELAY, responses written in pieces wait for delayed ACKs: ~44 ms per call.
            let _ = tcp.set_nodelay(true);
            let router = router.clone();
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                router.clone().call(request.map(Body::new))
            });
            let connection = graceful.watch(http.serve_connection(TokioIo::new(tcp), service));
            tokio::spawn(async move {
                // A connection's errors (a client gone, a header timeout) are the client's business.
                let _ = connection.await;
                drop(place);
            });
        }
        drop(listener);
        graceful.shutdown().await;
    })
}

/// What `axum::serve` does with a failed accept: a connection that died before it was accepted is
/// skipped; anything else (out of file descriptors, mostly) is logged and retried a second later,
/// when connections may have closed.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(error = %error, "Cannot accept a connection; retrying in a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
