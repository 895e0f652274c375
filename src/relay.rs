//! The outbox relay: publishes queued events to Centrifugo in outbox order, so each
//! realtime channel sees its events in the order they were committed.
//!
//! Delivery is at least once: an event leaves the outbox only after Centrifugo accepted
//! it (or refused it for good), and a retry carries the same `idempotency_key`, so
//! Centrifugo drops the duplicate within its 5-minute window; clients dedupe by id beyond.
//!
//! Runs on its own thread and runtime (`worker`), so neither request load nor a busy
//! test thread can stall delivery. Woken after each write that queued events, and polls
//! besides (events may come from another process).

use crate::centrifugo::CentrifugoClient;
use crate::db::{Db, DbError, outbox};
use crate::ids::random_bytes;
use crate::worker::{self, Signals, Worker};
use std::sync::Arc;
use std::time::Duration;

/// Commands sent in one `/api/batch`.
const BATCH_SIZE: usize = 100;
/// How often the outbox is checked without a wake-up.
const POLL_INTERVAL: Duration = Duration::from_millis(500);
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Starts the relay thread. `last_pass` bounds the final delivery attempt at stop.
pub fn start(db: Db, centrifugo: CentrifugoClient, last_pass: Duration) -> std::io::Result<Worker> {
    worker::spawn("outbox-relay", move |signals| {
        run(db, centrifugo, signals, last_pass)
    })
}

/// How long a stop waits for the relay: its last pass bounds itself, plus a margin.
pub fn stop_wait(last_pass: Duration) -> Duration {
    last_pass + Duration::from_secs(2)
}

async fn run(db: Db, centrifugo: CentrifugoClient, signals: Arc<Signals>, last_pass: Duration) {
    let mut backoff = MIN_BACKOFF;
    while !signals.stopping() {
        let wait = match deliver_once(&db, &centrifugo).await {
            Ok(Delivered::Nothing) => {
                backoff = MIN_BACKOFF;
                POLL_INTERVAL
            }
            Ok(Delivered::Some) => {
                backoff = MIN_BACKOFF;
                continue;
            }
            Ok(Delivered::Stalled) | Err(_) => {
                // New writes must not cut a backoff short (that would retry once per
                // write against a struggling Centrifugo); only stopping does.
                let wait = with_jitter(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
                signals.wait_or_stop(wait).await;
                continue;
            }
        };
        signals.wait_or_wake(wait).await;
    }
    let drained = tokio::time::timeout(last_pass, async {
        while let Ok(Delivered::Some) = deliver_once(&db, &centrifugo).await {}
    })
    .await;
    if drained.is_err() {
        log::warn!("outbox: stopping with events still queued; they go out at the next start");
    }
}

/// Half to all of `d`, at random: retries of many servers do not fall into step.
fn with_jitter(d: Duration) -> Duration {
    let [r] = random_bytes::<1>();
    d.mul_f64(0.5 + f64::from(r) / 510.0)
}

enum Delivered {
    Nothing,
    Some,
    /// Some command failed in a way a retry may fix; it and those behind it wait.
    Stalled,
}

async fn deliver_once(db: &Db, centrifugo: &CentrifugoClient) -> Result<Delivered, DbError> {
    let pending = db.read(|c| outbox::peek(c, BATCH_SIZE)).await?;
    if pending.is_empty() {
        return Ok(Delivered::Nothing);
    }
    let commands: Vec<_> = pending.iter().map(|p| &*p.command).collect();
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
    let mut refused = Vec::new();
    let mut failed = None;
    for (item, outcome) in pending.iter().zip(outcomes) {
        match outcome {
            Ok(()) => done.push(item.pk),
            Err(e) if e.is_permanent() => {
                log::error!(
                    "outbox: event {} refused for good by Centrifugo ({} {}); kept in outbox_failed",
                    item.event_id,
                    e.code,
                    e.message
                );
                refused.push((item.pk, e));
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
        for (pk, e) in &refused {
            outbox::fail_permanently(c, *pk, e.code, &e.message)?;
        }
        if let Some((pk, error)) = &failed {
            outbox::record_failure(c, *pk, error)?;
        }
        Ok::<_, DbError>(())
    })
    .await?;
    Ok(if stalled {
        Delivered::Stalled
    } else {
        Delivered::Some
    })
}
