//! kill -9 and SIGTERM of the real binary under load.

use super::DRAIN;
use super::backend::assert_history_matches;
use super::binary::Deployment;
use super::lanes::{
    Ack, Load, LoadOptions, assert_no_unexpected_answers, assert_store_holds_every_ack,
    retry_unacked,
};
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::time::Duration;
use tokio::time::{Instant, sleep};

// ---------------------------------------------------------------------------------------
// 3. kill -9 under load
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn kill_9_under_load_loses_no_acknowledged_message_and_duplicates_nothing() {
    let deployment = Deployment::new().await;
    let mut server = deployment.serve().await;
    let backend = deployment.backend();
    let (rooms, lanes) = deployment.rooms_and_lanes(2).await;
    let opts = LoadOptions {
        pace: Duration::from_millis(5),
        max_per_lane: 220,
        pad: 0,
    };

    let load = Load::start(&backend, &lanes, opts);
    let mut kills = Vec::new();
    for _ in 0..3 {
        let after = Duration::from_millis(600 + random_u64() % 1200);
        sleep(after).await;
        kills.push((after, load.acked()));
        server.kill9().await;
        server = deployment.serve().await;
    }
    sleep(Duration::from_millis(500)).await;
    let mut reports = load.stop().await;
    let retried_stored = retry_unacked(&backend, &mut reports).await;

    assert_no_unexpected_answers(&reports);
    let stored = assert_store_holds_every_ack(&backend, &rooms, &reports).await;
    let drained = backend.wait_drained(DRAIN).await;
    assert_history_matches(deployment.internal_port, &rooms, &stored, DRAIN).await;
    let acked: usize = reports.iter().map(|r| r.acked.len()).sum();
    let stored_n: usize = stored.values().map(Vec::len).sum();
    let late_200: usize = reports
        .iter()
        .flat_map(|r| &r.acked)
        .filter(|a| a.status == 200)
        .count();
    eprintln!(
        "kill -9 at (delay, acked so far) {kills:?}; {acked} acked, {stored_n} stored, \
         {late_200} retries answered 200 (stored before the crash), {retried_stored} of them \
         after the last restart; outbox drained in {drained:?}"
    );
    assert!(acked > 0 && stored_n >= acked);
    drop(server);
}

// ---------------------------------------------------------------------------------------
// 4. SIGTERM under load
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn sigterm_under_load_exits_0_with_every_acknowledged_message_stored_and_an_empty_wal() {
    let deployment = Deployment::new().await;
    let server = deployment.serve().await;
    let backend = deployment.backend();
    let (rooms, lanes) = deployment.rooms_and_lanes(4).await;
    // Paced and capped: the load runs on through the shutdown, yet no room outgrows
    // Centrifugo's history (1000 publications).
    let load = Load::start(
        &backend,
        &lanes,
        LoadOptions {
            pace: Duration::from_millis(40),
            max_per_lane: 450,
            pad: 0,
        },
    );
    sleep(Duration::from_millis(1500)).await;
    let acked_at_term = load.acked();
    let term = Instant::now();

    let (status, took) = server.terminate(Duration::from_secs(20)).await;
    let mut reports = load.stop().await;
    let wal = PathBuf::from(format!("{}-wal", deployment.db.display()));
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    let left_in_outbox: i64 = rusqlite::Connection::open(&deployment.db)
        .unwrap()
        .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
        .unwrap();

    assert_eq!(
        status.map(|s| s.code()),
        Some(Some(0)),
        "exit after SIGTERM (waited {took:?})"
    );
    assert!(took < Duration::from_secs(15), "shutdown took {took:?}");
    assert_eq!(wal_len, 0, "the -wal file after a clean exit");
    let _server = deployment.serve().await;
    let retried_stored = retry_unacked(&backend, &mut reports).await;
    assert_no_unexpected_answers(&reports);
    let stored = assert_store_holds_every_ack(&backend, &rooms, &reports).await;
    let drained = backend.wait_drained(DRAIN).await;
    assert_history_matches(deployment.internal_port, &rooms, &stored, DRAIN).await;
    let acks: Vec<&Ack> = reports.iter().flat_map(|r| &r.acked).collect();
    let after_term = acks.iter().filter(|a| a.at > term).count();
    let last_after_term = acks
        .iter()
        .map(|a| a.at.saturating_duration_since(term))
        .max()
        .unwrap_or_default();
    eprintln!(
        "SIGTERM after {acked_at_term} acks: exit 0 in {took:?}; {} acked in all, {after_term} \
         of them after SIGTERM (the last {last_after_term:?} after it); {left_in_outbox} events \
         left in the outbox at exit, drained {drained:?} after restart; {retried_stored} \
         unacked sends had been stored",
        acks.len()
    );
}

/// A random number from the process's hash seed (no extra dependency).
fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(0);
    h.finish()
}
