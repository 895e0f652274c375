//! The outbox relay: publishes queued events to Centrifugo in outbox order, so each
//! realtime channel sees its events in the order they were committed.
//!
//! Runs on its own thread and runtime, so neither request load nor a busy test thread
//! can stall delivery. Woken after each write that queued events, and polls besides
//! (events may come from another process).

use crate::centrifugo::CentrifugoClient;
use crate::db::{Db, DbError, outbox};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Commands sent in one `/api/batch`.
const BATCH_SIZE: usize = 100;
/// How often the outbox is checked without a wake-up.
const POLL_INTERVAL: Duration = Duration::from_millis(500);
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Handle to wake the relay after queuing events.
#[derive(Clone)]
pub struct RelayHandle {
    notify: Arc<Notify>,
}

impl RelayHandle {
    pub fn wake(&self) {
        self.notify.notify_one();
    }
}

/// Starts the relay thread.
pub fn start(db: Db, centrifugo: CentrifugoClient) -> std::io::Result<RelayHandle> {
    let notify = Arc::new(Notify::new());
    let handle = RelayHandle {
        notify: notify.clone(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("outbox-relay".into())
        .spawn(move || runtime.block_on(run(db, centrifugo, notify)))?;
    Ok(handle)
}

async fn run(db: Db, centrifugo: CentrifugoClient, notify: Arc<Notify>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        match deliver_once(&db, &centrifugo).await {
            Ok(Delivered::Nothing) => {
                backoff = MIN_BACKOFF;
                let _ = tokio::time::timeout(POLL_INTERVAL, notify.notified()).await;
            }
            Ok(Delivered::All) => backoff = MIN_BACKOFF,
            Ok(Delivered::Stalled) | Err(_) => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

enum Delivered {
    Nothing,
    All,
    /// Some command failed in a way a retry may fix; it and those behind it wait.
    Stalled,
}

async fn deliver_once(db: &Db, centrifugo: &CentrifugoClient) -> Result<Delivered, DbError> {
    let pending = db.read(|c| outbox::peek(c, BATCH_SIZE)).await?;
    if pending.is_empty() {
        return Ok(Delivered::Nothing);
    }
    let commands: Vec<_> = pending.iter().map(|p| p.command.clone()).collect();
    let outcomes = match centrifugo.batch(&commands).await {
        Ok(outcomes) => outcomes,
        Err(e) => {
            log::warn!(
                "outbox: {} events wait, Centrifugo failed: {e}",
                pending.len()
            );
            return Ok(Delivered::Stalled);
        }
    };
    let mut done = Vec::new();
    let mut failed = None;
    for (item, outcome) in pending.iter().zip(outcomes) {
        match outcome {
            Ok(()) => done.push(item.pk),
            Err(e) if e.is_permanent() => {
                log::error!(
                    "outbox: dropping event {}: Centrifugo refused it for good ({} {})",
                    item.event_id,
                    e.code,
                    e.message
                );
                done.push(item.pk);
            }
            Err(e) => {
                log::warn!(
                    "outbox: event {} will be retried: {} {}",
                    item.event_id,
                    e.code,
                    e.message
                );
                failed = Some((item.pk, format!("{} {}", e.code, e.message)));
                break;
            }
        }
    }
    let stalled = failed.is_some();
    db.write(move |c| {
        outbox::remove(c, &done)?;
        if let Some((pk, error)) = &failed {
            outbox::record_failure(c, *pk, error)?;
        }
        Ok::<_, DbError>(())
    })
    .await?;
    Ok(if stalled {
        Delivered::Stalled
    } else {
        Delivered::All
    })
}
