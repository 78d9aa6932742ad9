//! MCP over stdin/stdout, with every request answered before the server goes.
//!
//! Hosts such as Claude Desktop stop a stdio server by closing its stdin, often right after their
//! last requests. rmcp's service loop stops serving the session's outgoing messages as soon as stdin
//! ends: a handler still running that sends a log message or a progress notification then waits
//! forever for a send that never happens, its answer is lost, and rmcp gives up after five seconds.
//! So the transport here hides the end of stdin from rmcp until every request it has read has been
//! answered (bounded by the shutdown grace period): the loop keeps carrying notifications and answers
//! meanwhile, and the session ends as soon as the last answer is written.
//!
//! The same count of unanswered requests lets a signal-driven shutdown wait for the last answer to be
//! written, instead of guessing how long rmcp needs after the handlers return.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use rmcp::{
    RoleServer, ServiceExt,
    model::{ClientNotification, JsonRpcMessage, RequestId},
    service::{RxJsonRpcMessage, TxJsonRpcMessage},
    transport::{Transport, async_rw::AsyncRwTransport},
};
use tokio::{sync::Notify, time::Instant};
use tokio_util::sync::CancellationToken;

use crate::handler::{McpHandler, Shared};

pub(crate) async fn serve_stdio(
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    grace: Duration,
) -> anyhow::Result<()> {
    tracing::info!(
        event_type = "service.ready",
        success = true,
        data.transport = "stdio",
        "Serving MCP on stdio"
    );
    let unanswered = Unanswered::default();
    let (stdin, stdout) = streams();
    let transport = Draining {
        inner: AsyncRwTransport::new_server(stdin, stdout),
        unanswered: unanswered.clone(),
        stdin_closed: None,
        grace,
    };
    let metrics = shared.metrics.clone();
    let handler = McpHandler::new(shared);
    let running = tokio::select! {
        running = handler.serve(transport) => match running {
            Ok(running) => running,
            Err(error) => {
                // A client that closes stdin before initializing is not a server failure.
                tracing::info!(error = %error, "stdio client left before initializing");
                return Ok(());
            }
        },
        () = shutdown.cancelled() => return Ok(()),
    };
    let opened = std::time::Instant::now();
    if let Some(metrics) = &metrics {
        metrics.session_opened();
    }
    let ct = running.cancellation_token();
    // `waiting` owns the service: dropping it would cancel every request, so it is pinned and awaited
    // to the end on both paths.
    let waiting = running.waiting();
    tokio::pin!(waiting);
    let result = tokio::select! {
        result = &mut waiting => result,
        () = shutdown.cancelled() => {
            unanswered.wait_answered(Instant::now() + grace).await;
            ct.cancel();
            waiting.await
        }
    };
    if let Some(metrics) = &metrics {
        metrics.session_closed("pipe", opened);
    }
    if let Err(error) = result {
        tracing::warn!(error = %error, "stdio session ended with an error");
    }
    Ok(())
}

type Input = Box<dyn tokio::io::AsyncRead + Send + Unpin>;
type Output = Box<dyn tokio::io::AsyncWrite + Send + Unpin>;

/// stdin and stdout, read and written by the runtime's event loop when they are pipes or sockets, as
/// they are whenever a host starts the server (Python and Rust hosts give pipes; Node's, such as
/// Claude Desktop and the MCP Inspector, give Unix sockets).
///
/// Tokio's `stdin()` and `stdout()` hand every read and every write to a blocking thread, so each
/// message costs two thread switches: over stdio, that was most of what a call cost beyond its
/// work. A pipe or a socket can be non-blocking instead, and then waits in the event loop. Anything
/// else (a terminal, a file) keeps tokio's blocking streams: making a terminal non-blocking would
/// change it for the shell that shares it. Pipes and sockets are left non-blocking when the server
/// ends, as only this process uses its ends of them.
fn streams() -> (Input, Output) {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd as _;
        let input = std::io::stdin().as_fd().try_clone_to_owned().ok();
        let output = std::io::stdout().as_fd().try_clone_to_owned().ok();
        let input: Input = match input.and_then(unix::reader) {
            Some(reader) => reader,
            None => Box::new(tokio::io::stdin()),
        };
        let output: Output = match output.and_then(unix::writer) {
            Some(writer) => writer,
            None => Box::new(tokio::io::stdout()),
        };
        (input, output)
    }
    #[cfg(not(unix))]
    {
        (Box::new(tokio::io::stdin()), Box::new(tokio::io::stdout()))
    }
}

#[cfg(unix)]
mod unix {
    use std::os::{fd::OwnedFd, unix::fs::FileTypeExt as _};

    use tokio::net::{UnixStream, unix::pipe};

    use super::{Input, Output};

    /// Whether `fd` is a socket: only then may it become a `UnixStream` (any stream socket reads
    /// and writes alike), and only a socket or a pipe may be made non-blocking here.
    fn is_socket(fd: &OwnedFd) -> bool {
        fd.try_clone()
            .map(std::fs::File::from)
            .and_then(|file| file.metadata())
            .is_ok_and(|metadata| metadata.file_type().is_socket())
    }

    fn socket(fd: OwnedFd) -> Option<UnixStream> {
        if !is_socket(&fd) {
            return None;
        }
        let socket = std::os::unix::net::UnixStream::from(fd);
        socket.set_nonblocking(true).ok()?;
        UnixStream::from_std(socket).ok()
    }

    /// A pipe (tokio checks that it is one) or a socket.
    pub(super) fn reader(fd: OwnedFd) -> Option<Input> {
        if is_socket(&fd) {
            return Some(Box::new(socket(fd)?));
        }
        Some(Box::new(pipe::Receiver::from_owned_fd(fd).ok()?))
    }

    pub(super) fn writer(fd: OwnedFd) -> Option<Output> {
        if is_socket(&fd) {
            return Some(Box::new(socket(fd)?));
        }
        Some(Box::new(pipe::Sender::from_owned_fd(fd).ok()?))
    }
}

/// The ids of the requests read from stdin and not answered yet.
#[derive(Clone, Default)]
struct Unanswered {
    ids: Arc<Mutex<HashSet<RequestId>>>,
    answered: Arc<Notify>,
}

impl Unanswered {
    fn read(&self, id: RequestId) {
        self.lock().insert(id);
    }

    /// The request `id` was answered, or the client cancelled it (a cancelled request gets no answer).
    fn settled(&self, id: &RequestId) {
        let mut ids = self.lock();
        if ids.remove(id) && ids.is_empty() {
            self.answered.notify_waiters();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<RequestId>> {
        // The set stays consistent whatever panicked while holding it: each operation is one call.
        self.ids
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until every request read has been answered, at most until `deadline`.
    async fn wait_answered(&self, deadline: Instant) {
        let all_answered = async {
            loop {
                let answered = self.answered.notified();
                tokio::pin!(answered);
                // Registered before the check, so that an answer in between is not missed.
                answered.as_mut().enable();
                let left = self.lock().len();
                if left == 0 {
                    return;
                }
                answered.await;
            }
        };
        if tokio::time::timeout_at(deadline, all_answered)
            .await
            .is_err()
        {
            tracing::warn!(
                data.unanswered = self.lock().len(),
                "Requests still unanswered after the shutdown grace period are abandoned"
            );
        }
    }
}

/// rmcp's stdio transport, keeping count of the requests it has not answered yet and reporting the
/// end of stdin only once there are none left (see the module docs).
struct Draining<T> {
    inner: T,
    unanswered: Unanswered,
    /// When stdin ended: the grace period runs from then, however often rmcp polls `receive`.
    stdin_closed: Option<Instant>,
    grace: Duration,
}

impl<T: Transport<RoleServer>> Transport<RoleServer> for Draining<T> {
    type Error = T::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let answers = match &item {
            JsonRpcMessage::Response(response) => Some(response.id.clone()),
            JsonRpcMessage::Error(error) => error.id.clone(),
            _ => None,
        };
        let sent = self.inner.send(item);
        let unanswered = self.unanswered.clone();
        async move {
            let result = sent.await;
            // Settled even when the write failed: a closed stdout cannot be waited out.
            if let Some(id) = answers {
                unanswered.settled(&id);
            }
            result
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        if self.stdin_closed.is_none() {
            match self.inner.receive().await {
                Some(message) => {
                    match &message {
                        JsonRpcMessage::Request(request) => {
                            self.unanswered.read(request.id.clone())
                        }
                        JsonRpcMessage::Notification(notification) => {
                            if let ClientNotification::CancelledNotification(cancelled) =
                                &notification.notification
                                && let Some(id) = &cancelled.params.request_id
                            {
                                self.unanswered.settled(id);
                            }
                        }
                        _ => {}
                    }
                    return Some(message);
                }
                None => self.stdin_closed = Some(Instant::now()),
            }
        }
        // rmcp polls `receive` in a `select!` and drops it whenever another branch is ready, so this
        // wait restarts each time; it ends at the last answer or once the grace period is over.
        let closed = self.stdin_closed.unwrap_or_else(Instant::now);
        self.unanswered.wait_answered(closed + self.grace).await;
        None
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.inner.close().await
    }
}
