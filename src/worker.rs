//! A background thread with its own current-thread runtime, so neither request load nor a
//! busy test thread can stall it, and the `Worker` handle that wakes and stops it. The
//! outbox relay and the purge of deleted channels each run on one.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Handle to a background thread: wake it, stop it.
#[derive(Clone)]
pub struct Worker {
    signals: Arc<Signals>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

/// What the thread's loop sees: wake-ups, and whether to stop.
pub struct Signals {
    notify: Notify,
    stopping: AtomicBool,
}

impl Signals {
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Waits `wait`, or less when woken (a wake-up that came first counts: `Notify`
    /// keeps one).
    pub async fn wait_or_wake(&self, wait: Duration) {
        let _ = tokio::time::timeout(wait, self.notify.notified()).await;
    }

    /// Waits `wait`; only a stop cuts it short, not a wake-up.
    pub async fn wait_or_stop(&self, wait: Duration) {
        let until = tokio::time::Instant::now() + wait;
        while tokio::time::Instant::now() < until && !self.stopping() {
            let _ = tokio::time::timeout_at(until, self.notify.notified()).await;
        }
    }
}

/// Starts the thread `name`, running `body` on its own runtime until it returns.
pub fn spawn<F, Fut>(name: &str, body: F) -> std::io::Result<Worker>
where
    F: FnOnce(Arc<Signals>) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let signals = Arc::new(Signals {
        notify: Notify::new(),
        stopping: AtomicBool::new(false),
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let for_thread = signals.clone();
    let thread = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || runtime.block_on(body(for_thread)))?;
    Ok(Worker {
        signals,
        thread: Arc::new(Mutex::new(Some(thread))),
    })
}

impl Worker {
    pub fn wake(&self) {
        self.signals.notify.notify_one();
    }

    /// Tells the loop to stop, and blocks until its thread has ended or `wait` has passed
    /// (a loop that waits on a stuck disk must not hold up the process's exit forever).
    pub fn stop(&self, wait: Duration) {
        self.signals.stopping.store(true, Ordering::SeqCst);
        self.signals.notify.notify_one();
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = thread {
            let deadline = Instant::now() + wait;
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}
