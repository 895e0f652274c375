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
use crate::logging::{Outage, Report};
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
    let mut outage = Outage::new(OUTAGE_LOG_EVERY);
    let mut batch_size = BATCH_SIZE;
    while !signals.stopping() {
        let outcome = deliver_once(&db, &centrifugo, batch_size)
            .await
            .unwrap_or_else(|e| Delivered::Stalled(format!("the database failed: {e}")));
        let wait = match outcome {
            Delivered::Nothing => {
                log_delivering(&mut outage);
                backoff = MIN_BACKOFF;
                batch_size = BATCH_SIZE;
                POLL_INTERVAL
            }
            Delivered::Some => {
                log_delivering(&mut outage);
                backoff = MIN_BACKOFF;
                batch_size = BATCH_SIZE;
                continue;
            }
            Delivered::Stalled(why) => {
                log_stalled(&mut outage, &why);
                // Until the event at the head goes out, it is tried alone. Centrifugo runs
                // every command of a batch, so whole batches would publish the events
                // behind it again at each retry: ahead of it, and, once their
                // idempotency keys expire (5 minutes), as duplicates.
                batch_size = 1;
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
    // Whatever is left is reported by the server once this thread is done (or given up).
    let _ = tokio::time::timeout(last_pass, async {
        while let Ok(Delivered::Some) = deliver_once(&db, &centrifugo, BATCH_SIZE).await {}
    })
    .await;
}

/// How often a delivery outage is logged again while it lasts.
const OUTAGE_LOG_EVERY: Duration = Duration::from_secs(60);

fn log_stalled(outage: &mut Outage, why: &str) {
    match outage.failed() {
        Report::Began => log::warn!("outbox: delivery stalled, retrying with backoff: {why}"),
        Report::Lasting { since, tries } => log::warn!(
            "outbox: delivery stalled for {} s ({tries} attempts), retrying: {why}",
            since.as_secs()
        ),
        Report::Ended { .. } | Report::Quiet => {}
    }
}

fn log_delivering(outage: &mut Outage) {
    if let Report::Ended { since, tries } = outage.succeeded() {
        log::info!(
            "outbox: delivering again after {:.1} s stalled ({tries} attempts)",
            since.as_secs_f64()
        );
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
    /// Some command failed in a way a retry may fix (why, for the log); it and those
    /// behind it wait.
    Stalled(String),
}

async fn deliver_once(
    db: &Db,
    centrifugo: &CentrifugoClient,
    batch_size: usize,
) -> Result<Delivered, DbError> {
    let pending = db.read(move |c| outbox::peek(c, batch_size)).await?;
    if pending.is_empty() {
        return Ok(Delivered::Nothing);
    }
    let commands: Vec<_> = pending.iter().map(|p| &*p.command).collect();
    let outcomes = match centrifugo.batch(&commands).await {
        Ok(outcomes) => outcomes,
        Err(e) => {
            return Ok(Delivered::Stalled(format!(
                "{} events wait, Centrifugo failed: {e}",
                pending.len()
            )));
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
                failed = Some((item.pk, item.event_id.clone(), e));
                break;
            }
        }
    }
    let stalled = failed
        .as_ref()
        .map(|(_, event_id, e)| format!("event {event_id}: {} {}{}", e.code, e.message, e.hint()));
    db.write(move |c| {
        outbox::remove(c, &done)?;
        for (pk, e) in &refused {
            outbox::fail_permanently(c, *pk, e.code, &e.message)?;
        }
        if let Some((pk, _, e)) = &failed {
            outbox::record_failure(c, *pk, &format!("{} {}", e.code, e.message))?;
        }
        Ok::<_, DbError>(())
    })
    .await?;
    Ok(stalled.map_or(Delivered::Some, Delivered::Stalled))
}
