//! Load: senders that retry an unanswered message with the same clientMsgId.

use super::backend::{Backend, Room, assert_contiguous};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::{Instant, sleep};

/// One user posting to one channel.
#[derive(Clone, Debug)]
pub(super) struct Lane {
    pub(super) channel: String,
    pub(super) user: String,
}

#[derive(Clone, Copy)]
pub(super) struct LoadOptions {
    /// Pause between sends.
    pub(super) pace: Duration,
    /// Sends acknowledged per lane before it stops by itself.
    pub(super) max_per_lane: usize,
    /// Characters of filler after the clientMsgId in each text (3 bytes each: grows the
    /// database by a few pages per message).
    pub(super) pad: usize,
}

/// A message the server acknowledged (201 created, or 200: an earlier attempt was stored).
#[derive(Clone, Debug)]
pub(super) struct Ack {
    client_msg_id: String,
    id: String,
    seq: i64,
    pub(super) status: u16,
    pub(super) at: Instant,
}

#[derive(Debug)]
pub(super) struct LaneReport {
    lane: Lane,
    pub(super) acked: Vec<Ack>,
    /// The clientMsgId being sent when the load stopped, never acknowledged.
    unacked: Option<String>,
    /// Answers that must never come: any status but 200/201, e.g. a 5xx or "database is locked".
    unexpected: Vec<String>,
    /// Attempts with no HTTP answer (the server was down or died mid-request).
    pub(super) no_answer: usize,
}

pub(super) struct Load {
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<LaneReport>>,
}

/// The text of a message: its clientMsgId, then filler.
fn message_text(client_msg_id: &str, pad: usize) -> String {
    if pad == 0 {
        client_msg_id.to_string()
    } else {
        format!("{client_msg_id} {}", "€".repeat(pad))
    }
}

fn client_msg_id_of(message: &Value) -> String {
    message["text"]
        .as_str()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_string()
}

impl Load {
    pub(super) fn start(backend: &Backend, lanes: &[Lane], opts: LoadOptions) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(AtomicUsize::new(0));
        let tasks = lanes
            .iter()
            .enumerate()
            .map(|(i, lane)| {
                let (backend, lane) = (backend.clone(), lane.clone());
                let (stop, acked) = (stop.clone(), acked.clone());
                tokio::spawn(run_lane(backend, lane, i, opts, stop, acked))
            })
            .collect();
        Load { stop, acked, tasks }
    }

    pub(super) fn acked(&self) -> usize {
        self.acked.load(Ordering::SeqCst)
    }

    pub(super) async fn stop(self) -> Vec<LaneReport> {
        self.stop.store(true, Ordering::SeqCst);
        let mut reports = Vec::new();
        for task in self.tasks {
            reports.push(task.await.unwrap());
        }
        reports
    }
}

async fn run_lane(
    backend: Backend,
    lane: Lane,
    index: usize,
    opts: LoadOptions,
    stop: Arc<AtomicBool>,
    total: Arc<AtomicUsize>,
) -> LaneReport {
    let mut report = LaneReport {
        lane: lane.clone(),
        acked: Vec::new(),
        unacked: None,
        unexpected: Vec::new(),
        no_answer: 0,
    };
    let mut next = 0;
    let mut current: Option<String> = None;
    while !stop.load(Ordering::SeqCst) && report.acked.len() < opts.max_per_lane {
        let cmid = current
            .get_or_insert_with(|| {
                next += 1;
                format!("lane{index}-{next}")
            })
            .clone();
        let text = message_text(&cmid, opts.pad);
        match backend.send(&lane.channel, &lane.user, &text, &cmid).await {
            Ok((status @ (200 | 201), body)) => {
                let m: Value = serde_json::from_str(&body).unwrap();
                report.acked.push(Ack {
                    client_msg_id: cmid,
                    id: m["id"].as_str().unwrap().to_string(),
                    seq: m["seq"].as_i64().unwrap(),
                    status,
                    at: Instant::now(),
                });
                total.fetch_add(1, Ordering::SeqCst);
                current = None;
            }
            Ok((status, body)) => {
                report.unexpected.push(format!("{status} {body}"));
                sleep(Duration::from_millis(50)).await;
            }
            Err(_) => {
                report.no_answer += 1;
                sleep(Duration::from_millis(50)).await;
            }
        }
        if !opts.pace.is_zero() {
            sleep(opts.pace).await;
        }
    }
    report.unacked = current;
    report
}

/// Sends every unacknowledged clientMsgId again (a client retrying after the outage); each
/// must be answered 201, or 200 when the lost attempt had been stored.
pub(super) async fn retry_unacked(backend: &Backend, reports: &mut [LaneReport]) -> usize {
    let mut already_stored = 0;
    for r in reports.iter_mut() {
        let Some(cmid) = r.unacked.take() else {
            continue;
        };
        let (status, body) = backend
            .send(
                &r.lane.channel,
                &r.lane.user,
                &message_text(&cmid, 0),
                &cmid,
            )
            .await
            .unwrap();
        assert!(
            status == 200 || status == 201,
            "retry of {cmid}: {status} {body}"
        );
        already_stored += usize::from(status == 200);
        let m: Value = serde_json::from_str(&body).unwrap();
        r.acked.push(Ack {
            client_msg_id: cmid,
            id: m["id"].as_str().unwrap().to_string(),
            seq: m["seq"].as_i64().unwrap(),
            status,
            at: Instant::now(),
        });
    }
    already_stored
}

/// Asserts every lane got only 200/201 answers.
pub(super) fn assert_no_unexpected_answers(reports: &[LaneReport]) {
    let bad: Vec<&String> = reports.iter().flat_map(|r| &r.unexpected).collect();
    assert!(
        bad.is_empty(),
        "{} answers were neither 200 nor 201, e.g. {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );
}

/// Reads every room back and asserts: seqs 1..n without a gap, no clientMsgId twice, and
/// every acknowledged message present with the id and seq it was acknowledged with.
pub(super) async fn assert_store_holds_every_ack(
    backend: &Backend,
    rooms: &[Room],
    reports: &[LaneReport],
) -> HashMap<String, Vec<Value>> {
    let mut stored = HashMap::new();
    for room in rooms {
        let messages = backend.messages_after(&room.id, &room.owner, 0).await;
        assert_contiguous(&room.id, &messages);
        let mut by_cmid: HashMap<String, &Value> = HashMap::new();
        for m in &messages {
            let cmid = client_msg_id_of(m);
            if let Some(first) = by_cmid.insert(cmid.clone(), m) {
                panic!(
                    "{}: clientMsgId {cmid} stored twice: seq {} and {}",
                    room.id, first["seq"], m["seq"]
                );
            }
        }
        for r in reports.iter().filter(|r| r.lane.channel == room.id) {
            for ack in &r.acked {
                let m = by_cmid.get(&ack.client_msg_id).unwrap_or_else(|| {
                    panic!(
                        "{}: acknowledged message {} ({}, HTTP {}) is missing",
                        room.id, ack.client_msg_id, ack.id, ack.status
                    )
                });
                assert_eq!(
                    (m["id"].as_str().unwrap(), m["seq"].as_i64().unwrap()),
                    (ack.id.as_str(), ack.seq),
                    "{}: {} was acknowledged as another message",
                    room.id,
                    ack.client_msg_id
                );
            }
        }
        stored.insert(room.id.clone(), messages);
    }
    stored
}
