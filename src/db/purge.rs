//! The background purge of deleted channels' messages (`channels::delete` retires a
//! channel with many; `channels::purge_step` deletes them a chunk per write job).
//!
//! Its own thread (`worker`), like the relay: each step is one job in the writer's
//! queue, behind the jobs already waiting, with a pause after it, so requests' writes are
//! held up by at most one chunk while a channel of a million messages goes (in ≈ 1,000
//! steps). A delete wakes it; otherwise it looks (a read, through a partial index) once a
//! second, so a purge left unfinished by a stop resumes after the next start.

use super::{Db, DbError, channels};
use crate::worker::{self, Signals, Worker};
use std::sync::Arc;
use std::time::Duration;

/// How often an idle purge looks for a retired channel.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// The pause after each step: the writer's time goes to requests first.
const PAUSE: Duration = Duration::from_millis(2);
/// The wait after a failed step.
const RETRY: Duration = Duration::from_secs(5);
/// The longest a stop waits for the current step (a step waits for the writer, which
/// could be stuck on the disk).
pub const STOP_WAIT: Duration = Duration::from_secs(5);

/// Starts the purge thread.
pub fn start(db: Db) -> std::io::Result<Worker> {
    worker::spawn("channel-purge", move |signals| run(db, signals))
}

async fn run(db: Db, signals: Arc<Signals>) {
    while !signals.stopping() {
        let wait = match step(&db).await {
            Ok(true) => PAUSE,
            Ok(false) => POLL_INTERVAL,
            Err(e) => {
                log::warn!("purge of deleted channels' messages failed, retrying: {e}");
                RETRY
            }
        };
        signals.wait_or_wake(wait).await;
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
