//! Where log lines go: stderr, through a buffer while the server serves.
//!
//! A request log line written straight to stderr costs a `write` syscall per request:
//! buffering them bought `POST /tokens` 6–9 % more requests per second (BENCHMARKS.md,
//! fourth session). While `chatsdk serve` serves, lines are appended to a buffer, and a
//! background thread writes what gathered every few milliseconds, in one `write`. What
//! this changes for an operator:
//!
//! - a line reaches stderr at most `GATHER` (plus the write) after it was logged;
//! - warnings and errors are written at once, with everything buffered before them,
//!   and so is everything when a thread panics or the server stops;
//! - a `SIGKILL` or a crash of the process may lose the last `GATHER` of info lines;
//! - nothing is dropped when stderr is slow: past `MAX_BUFFERED` bytes, the thread that
//!   logs writes the buffer out itself and waits for it.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How long the background thread lets lines gather before it writes them.
const GATHER: Duration = Duration::from_millis(5);
/// Bytes buffered at most; the line that reaches it writes them out on its own thread.
const MAX_BUFFERED: usize = 256 * 1024;

/// The shared end of the sink: cheap to clone into the logger and the flusher thread.
#[derive(Clone)]
pub struct Sink {
    shared: Arc<Shared>,
}

struct Shared {
    /// Lines logged and not yet written.
    pending: Mutex<Vec<u8>>,
    /// Held while writing, so batches come out in the order they were logged.
    output: Mutex<Output>,
    /// Off: every line is written at once (the CLI, and before and after serving).
    buffering: AtomicBool,
    /// Woken when a line lands in an empty buffer.
    wake: Condvar,
    flusher_started: AtomicBool,
    /// `GATHER`, but for tests.
    gather: Duration,
}

struct Output {
    to: Box<dyn Write + Send>,
    /// The buffer `pending` is swapped with: two buffers, no allocation per batch.
    spare: Vec<u8>,
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a log lock must not silence every later line.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Default for Sink {
    fn default() -> Self {
        Sink::new(Box::new(io::stderr()), GATHER)
    }
}

impl Sink {
    /// A sink writing to `to` (stderr in the service), batches gathered for `gather`.
    pub fn new(to: Box<dyn Write + Send>, gather: Duration) -> Self {
        Sink {
            shared: Arc::new(Shared {
                pending: Mutex::new(Vec::new()),
                output: Mutex::new(Output {
                    to,
                    spare: Vec::new(),
                }),
                buffering: AtomicBool::new(false),
                wake: Condvar::new(),
                flusher_started: AtomicBool::new(false),
                gather,
            }),
        }
    }

    /// Writes out everything buffered, in order, and waits for the write.
    pub fn drain(&self) {
        self.write_out(&[]);
    }

    /// Writes out everything buffered, then `line`, in one write, and waits for it.
    fn write_out(&self, line: &[u8]) {
        let mut output = lock(&self.shared.output);
        let Output { to, spare } = &mut *output;
        std::mem::swap(&mut *lock(&self.shared.pending), spare);
        spare.extend_from_slice(line);
        if !spare.is_empty() {
            // Nowhere to report a failed write of the log itself.
            let _ = to.write_all(spare).and_then(|()| to.flush());
            spare.clear();
        }
    }

    /// Buffers lines from now on, until the guard is dropped; then writes them all out.
    pub fn buffer(&self) -> BufferingGuard {
        if !self.shared.flusher_started.swap(true, Ordering::SeqCst) {
            let sink = self.clone();
            let started = std::thread::Builder::new()
                .name("log-writer".into())
                .spawn(move || sink.run_flusher());
            if started.is_err() {
                // No thread: lines keep going straight out.
                self.shared.flusher_started.store(false, Ordering::SeqCst);
                return BufferingGuard { sink: None };
            }
        }
        self.shared.buffering.store(true, Ordering::SeqCst);
        BufferingGuard {
            sink: Some(self.clone()),
        }
    }

    fn run_flusher(&self) {
        loop {
            {
                let mut pending = lock(&self.shared.pending);
                while pending.is_empty() {
                    pending = self
                        .shared
                        .wake
                        .wait(pending)
                        .unwrap_or_else(|p| p.into_inner());
                }
            }
            // Let more lines join this write.
            std::thread::sleep(self.shared.gather);
            self.drain();
        }
    }

    /// The writer env_logger writes each formatted line to.
    pub fn writer(&self) -> Box<dyn Write + Send> {
        Box::new(SinkWriter { sink: self.clone() })
    }

    /// Takes one line: written at once, or buffered while serving.
    fn take(&self, line: &[u8]) {
        let shared = &self.shared;
        if !shared.buffering.load(Ordering::Relaxed) {
            // Behind anything still buffered from a moment ago.
            self.write_out(line);
            return;
        }
        let (was_empty, full) = {
            let mut pending = lock(&shared.pending);
            let was_empty = pending.is_empty();
            pending.extend_from_slice(line);
            (was_empty, pending.len() >= MAX_BUFFERED)
        };
        if full {
            self.drain();
        } else if was_empty {
            shared.wake.notify_one();
        }
    }
}

/// Ends buffering (the server stopped): writes out what is buffered.
pub struct BufferingGuard {
    sink: Option<Sink>,
}

impl Drop for BufferingGuard {
    fn drop(&mut self) {
        if let Some(sink) = &self.sink {
            sink.shared.buffering.store(false, Ordering::SeqCst);
            sink.drain();
        }
    }
}

struct SinkWriter {
    sink: Sink,
}

impl Write for SinkWriter {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        self.sink.take(line);
        Ok(line.len())
    }

    /// env_logger flushes after every line; the sink decides when to write.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A shared Vec to write to, and what was written.
    #[derive(Clone, Default)]
    pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            lock(&self.0).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        pub fn text(&self) -> String {
            String::from_utf8(lock(&self.0).clone()).unwrap()
        }
    }

    #[test]
    fn lines_are_written_at_once_unless_buffering_and_in_order_after() {
        let out = Captured::default();
        // Long enough that a test thread preempted for a while still sees "not yet".
        let gather = Duration::from_millis(300);
        let sink = Sink::new(Box::new(out.clone()), gather);
        let mut writer = sink.writer();
        writer.write_all(b"one\n").unwrap();
        assert_eq!(out.text(), "one\n", "not buffering: written at once");

        let guard = sink.buffer();
        writer.write_all(b"two\n").unwrap();
        writer.write_all(b"three\n").unwrap();
        assert_eq!(out.text(), "one\n", "buffering: nothing written yet");
        // The background thread writes them after `gather`.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while out.text() != "one\ntwo\nthree\n" {
            assert!(std::time::Instant::now() < deadline, "{:?}", out.text());
            std::thread::sleep(Duration::from_millis(10));
        }

        writer.write_all(b"four\n").unwrap();
        drop(guard);
        assert_eq!(
            out.text(),
            "one\ntwo\nthree\nfour\n",
            "the guard writes out the rest"
        );
        writer.write_all(b"five\n").unwrap();
        assert!(
            out.text().ends_with("four\nfive\n"),
            "at once again after serving"
        );
    }

    #[test]
    fn a_full_buffer_is_written_by_the_thread_that_logs() {
        let out = Captured::default();
        let sink = Sink::new(Box::new(out.clone()), GATHER);
        // Buffering without the background thread: only the size cap can write.
        sink.shared.buffering.store(true, Ordering::SeqCst);
        let mut writer = sink.writer();
        let line = [b'x'; 1023];
        let lines = MAX_BUFFERED / 1024 + 1;
        for _ in 0..lines {
            writer.write_all(&line).unwrap();
            writer.write_all(b"\n").unwrap();
        }
        // The line that filled the buffer wrote it out; the one after waits.
        assert_eq!(out.text().len(), MAX_BUFFERED, "written out when full");
        sink.drain();
        assert_eq!(out.text().len(), lines * 1024, "nothing lost");
    }
}
