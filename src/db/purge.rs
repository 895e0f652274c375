//! The background purge of deleted channels' messages (`channels::delete` retires a
//! channel with many; `channels::purge_step` deletes them a chunk per write job).
//!
//! Its own thread, like the relay: each step is one job in the writer's queue, behind
//! the jobs already waiting, with a pause after it, so requests' writes are held up by
//! at most one chunk while a channel of a million messages goes (in ≈ 1,000 steps). A
//! delete wakes it; otherwise it looks (a read, through a partial index) once a second,
//! so a purge left unfinished by a stop resumes after the next start.

use super::{Db, DbError, channels};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::Notify;

/// How often an idle purge looks for a retired channel.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// The pause after each step: the writer's time goes to requests first.
const PAUSE: Duration = Duration::from_millis(2);
/// The wait after a failed step.
const RETRY: Duration = Duration::from_secs(5);
/// The longest `stop` waits for the current step.
const STOP_WAIT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct PurgeHandle {
    shared: Arc<Shared>,
}

struct Shared {
    notify: Notify,
    stopping: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl PurgeHandle {
    /// Starts a purge now (after a channel was retired) rather than at the next look.
    pub fn wake(&self) {
        self.shared.notify.notify_one();
    }

    /// Stops the purge after its current step; blocks until the thread has ended, or at
    /// most `STOP_WAIT` (a step waits for the writer, which could be stuck on the disk).
    pub fn stop(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.notify.notify_one();
        let thread = self
            .shared
            .thread
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(thread) = thread {
            let deadline = std::time::Instant::now() + STOP_WAIT;
            while !thread.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Starts the purge thread.
pub fn start(db: Db) -> std::io::Result<PurgeHandle> {
    let shared = Arc::new(Shared {
        notify: Notify::new(),
        stopping: AtomicBool::new(false),
        thread: Mutex::new(None),
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let for_thread = shared.clone();
    let thread = std::thread::Builder::new()
        .name("channel-purge".into())
        .spawn(move || runtime.block_on(run(db, for_thread)))?;
    *shared.thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(thread);
    Ok(PurgeHandle { shared })
}

async fn run(db: Db, shared: Arc<Shared>) {
    while !shared.stopping.load(Ordering::SeqCst) {
        let wait = match step(&db).await {
            Ok(true) => PAUSE,
            Ok(false) => POLL_INTERVAL,
            Err(e) => {
                log::warn!("purge of deleted channels' messages failed, retrying: {e}");
                RETRY
            }
        };
        let _ = tokio::time::timeout(wait, shared.notify.notified()).await;
    }
}

/// One step if there is a retired channel; the look is a read, so an idle purge never
/// takes the writer (or the file's write lock, which the CLI may want).
async fn step(db: &Db) -> Result<bool, DbError> {
    if !db.read(channels::any_retired).await? {
        return Ok(false);
    }
    db.write(|c| channels::purge_step(c, channels::PURGE_CHUNK))
        .await
}
