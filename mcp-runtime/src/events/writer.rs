//! The log writer behind [`init`](super::init).
//!
//! `tracing-appender`'s `NonBlocking` was measured as the largest single cost of the instrumentation
//! (BENCHMARKS.md, "Where the instrumentation's cost goes"): per line it allocates a `Vec`, sends it
//! through a channel that wakes the writer thread, and the thread does one `write(2)`; its channel of
//! 128,000 lines is also allocated and zeroed up front (4 MB of an idle server's RSS). A buffered
//! inner writer and a smaller channel gave back the memory and most system calls, not the wake-ups.
//! This writer appends lines to one buffer under a mutex and wakes its thread only when the buffer
//! goes from empty to non-empty; the thread lets lines gather for a few milliseconds and writes them
//! with one `write(2)`.

use std::{
    io::Write,
    sync::{
        Arc, Condvar, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use tracing_subscriber::fmt::MakeWriter;

/// Lines beyond this many queued bytes are dropped (the output is stuck), never waited for.
const CAPACITY: usize = 4 << 20;
/// Lines dropped since the process started (`cm_mcp_log_lines_dropped_total` in `/metrics`).
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// How many log lines were dropped because the output did not keep up.
pub fn dropped_lines() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// How long lines gather before one write.
const GATHER: Duration = Duration::from_millis(5);

#[derive(Default)]
struct Queue {
    lines: Vec<u8>,
    /// The writer thread sleeps until woken.
    asleep: bool,
    stop: bool,
}

#[derive(Default)]
struct Inner {
    queue: Mutex<Queue>,
    wake: Condvar,
}

/// A [`MakeWriter`] whose lines are written by a background thread in batches: writing a line costs
/// a copy into a shared buffer, with no allocation, system call or thread wake-up of its own. Lines
/// are dropped, never waited for, when more than 4 MiB are queued.
#[derive(Clone)]
pub struct BatchWriter(Arc<Inner>);

/// Stops a [`BatchWriter`]'s thread when dropped, after writing what is queued.
pub struct BatchGuard {
    inner: Arc<Inner>,
    thread: Option<JoinHandle<()>>,
}

impl BatchWriter {
    /// Starts the thread that writes to `out`.
    pub fn new<W: Write + Send + 'static>(out: W) -> (BatchWriter, BatchGuard) {
        let inner = Arc::new(Inner::default());
        let worker = inner.clone();
        let thread = std::thread::Builder::new()
            .name("cm-mcp-log".into())
            .spawn(move || write_batches(&worker, out))
            .ok();
        (BatchWriter(inner.clone()), BatchGuard { inner, thread })
    }
}

fn write_batches(inner: &Inner, mut out: impl Write) {
    let mut batch = Vec::new();
    loop {
        let stop = {
            let Ok(mut queue) = inner.queue.lock() else {
                return;
            };
            while queue.lines.is_empty() && !queue.stop {
                queue.asleep = true;
                queue = match inner.wake.wait(queue) {
                    Ok(queue) => queue,
                    Err(_) => return,
                };
            }
            queue.stop
        };
        if !stop {
            std::thread::sleep(GATHER);
        }
        if let Ok(mut queue) = inner.queue.lock() {
            std::mem::swap(&mut queue.lines, &mut batch);
        }
        let _ = out.write_all(&batch);
        let _ = out.flush();
        batch.clear();
        if stop {
            return;
        }
    }
}

impl Drop for BatchGuard {
    fn drop(&mut self) {
        if let Ok(mut queue) = self.inner.queue.lock() {
            queue.stop = true;
        }
        self.inner.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Write for &BatchWriter {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let wake = {
            let Ok(mut queue) = self.0.queue.lock() else {
                return Ok(line.len());
            };
            if queue.lines.len() + line.len() <= CAPACITY {
                queue.lines.extend_from_slice(line);
            } else {
                DROPPED.fetch_add(1, Ordering::Relaxed);
            }
            std::mem::take(&mut queue.asleep)
        };
        if wake {
            self.0.wake.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchWriter {
    type Writer = &'a BatchWriter;

    fn make_writer(&'a self) -> &'a BatchWriter {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_from_many_threads_arrive_whole_and_in_order_per_thread() {
        let out = Shared::default();
        let (writer, guard) = BatchWriter::new(out.clone());
        std::thread::scope(|s| {
            for t in 0..4 {
                let writer = &writer;
                s.spawn(move || {
                    for i in 0..1000 {
                        (&*writer)
                            .write_all(format!("{t} {i}\n").as_bytes())
                            .unwrap();
                    }
                });
            }
        });
        drop(guard);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let mut next = [0; 4];
        for line in text.lines() {
            let (t, i) = line.split_once(' ').unwrap();
            let (t, i): (usize, usize) = (t.parse().unwrap(), i.parse().unwrap());
            assert_eq!(i, next[t], "thread {t}'s lines out of order");
            next[t] += 1;
        }
        assert_eq!(next, [1000; 4]);
    }

    #[test]
    fn lines_beyond_the_capacity_are_dropped_not_waited_for() {
        struct Stuck(std::sync::mpsc::Receiver<()>, Shared);
        impl Write for Stuck {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                let _ = self.0.recv();
                self.1.write(bytes)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let (unstick, stuck) = std::sync::mpsc::channel();
        let out = Shared::default();
        let (writer, guard) = BatchWriter::new(Stuck(stuck, out.clone()));
        let mut line = vec![b'x'; 1023];
        line.push(b'\n');
        // The first batch is taken by the stuck writer thread; the queue behind it fills and stops.
        for _ in 0..3 * (CAPACITY / 1024) {
            (&writer).write_all(&line).unwrap();
        }
        drop(unstick);
        drop(guard);
        let written = out.0.lock().unwrap().len();
        assert!(written < 3 * CAPACITY, "{written} bytes written");
        assert!(written >= CAPACITY, "{written} bytes written");
        assert_eq!(written % 1024, 0, "a line was cut");
    }
}
