//! Faults of Centrifugo: an outage, a flaky network to its API, and a wrong config.

use super::DRAIN;
use super::backend::{Backend, Room, assert_history_matches, published_messages, seq_and_id};
use super::client::{ChatView, online_client};
use super::proxy::{BatchAttempt, Fault, FaultyProxy};
use crate::common;
use crate::common::TestApp;
use crate::common::rt_client::{SubOptions, is};
use rusqlite::OptionalExtension;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::time::{Instant, sleep};

/// The longest a message POST may take, whatever happens to Centrifugo.
const FAST_ANSWER: Duration = Duration::from_secs(1);
/// How long Centrifugo stays down in the outage test: past the relay's 5 s backoff cap.
const OUTAGE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------
// 1. Centrifugo outage
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn messages_sent_while_centrifugo_is_down_are_published_once_in_order_when_it_returns() {
    let mut app = TestApp::start().await;
    let backend = Backend::new(&app.base, &app.api_key);
    let mut rooms = Vec::new();
    for i in 0..3 {
        rooms.push(
            backend
                .create_room(&format!("room-{i}"), "alice", &format!("friend-{i}"))
                .await,
        );
    }
    let tokens = backend.tokens("alice").await;
    let mut client = online_client(&app.ws_url(), tokens["wsToken"].as_str().unwrap()).await;
    client.push_token(tokens["wsToken"].as_str().unwrap()).await;
    for room in &rooms {
        let token = backend.subscription_token(room, "alice").await;
        let opts = SubOptions {
            recoverable: true,
            ..SubOptions::default()
        };
        client
            .subscribe_opts(&room.realtime, &token, opts)
            .await
            .unwrap_or_else(|ack| panic!("subscribe to {}: {ack}", room.realtime));
        client.push_sub_token(&room.realtime, &token).await;
    }
    let mut view = ChatView::new("alice", &rooms);
    for room in &rooms {
        backend
            .send_ok(&room.id, "alice", &format!("{}-before", room.id), 201)
            .await;
    }
    view.follow(&mut client, &backend, &[1, 1, 1], Duration::from_secs(10))
        .await;

    app.centrifugo.take().unwrap().stop().await;
    let outage = Instant::now();
    let mut sent: Vec<Vec<(i64, String)>> = vec![Vec::new(); rooms.len()];
    let mut slowest = Duration::ZERO;
    for i in 0..50 {
        let room = &rooms[i % rooms.len()];
        let sender = if i % 2 == 0 {
            &room.owner
        } else {
            &room.member
        };
        let (m, took) = backend
            .send_ok(&room.id, sender, &format!("{}-outage-{i}", room.id), 201)
            .await;
        slowest = slowest.max(took);
        sent[i % rooms.len()].push(seq_and_id(&m));
    }
    let ready = app
        .http
        .get(format!("{}/ready", app.base))
        .send()
        .await
        .unwrap();
    let reason = common::assert_error(ready, 503, "not_ready").await;
    let backlog = backend.pending_events().await;
    sleep(OUTAGE.saturating_sub(outage.elapsed())).await;
    app.centrifugo = Some(
        common::start_centrifugo(
            app.dir.path(),
            app.centrifugo_port,
            app.centrifugo_internal_port,
        )
        .await,
    );
    let outage = outage.elapsed();
    let restarted = Instant::now();
    let want: Vec<usize> = sent.iter().map(|s| s.len() + 1).collect();
    view.follow(&mut client, &backend, &want, DRAIN).await;
    let healed = restarted.elapsed();

    assert!(
        slowest < FAST_ANSWER,
        "a send took {slowest:?} while Centrifugo was down"
    );
    assert!(reason.contains("centrifugo"), "{reason}");
    assert!(backlog >= 50, "the outbox holds the 50 events: {backlog}");
    for (room, sent) in rooms.iter().zip(&sent) {
        let mut history = published_messages(app.centrifugo_internal_port, &room.realtime).await;
        while history.len() < sent.len() && restarted.elapsed() < DRAIN {
            sleep(Duration::from_millis(200)).await;
            history = published_messages(app.centrifugo_internal_port, &room.realtime).await;
        }
        let published: Vec<(i64, String)> =
            history.iter().map(|e| seq_and_id(&e["data"])).collect();
        assert_eq!(
            &published, sent,
            "{}: Centrifugo history after the outage",
            room.id
        );
    }
    for (room, shown) in rooms.iter().zip(&view.rooms) {
        let stored: Vec<(i64, String)> = backend
            .messages_after(&room.id, "alice", 0)
            .await
            .iter()
            .map(seq_and_id)
            .collect();
        assert_eq!(
            shown.messages, stored,
            "{}: what alice's app shows",
            room.id
        );
        assert!(
            shown.catch_ups >= 1,
            "{}: the subscription came back unrecovered, so the client caught up",
            room.id
        );
        let live: HashSet<&String> = shown.live_events.iter().collect();
        assert_eq!(
            live.len(),
            shown.live_events.len(),
            "{}: an event was delivered live twice",
            room.id
        );
    }
    backend.wait_drained(DRAIN).await;
    eprintln!(
        "outage {outage:?}; slowest send {slowest:?}; healed {healed:?} after restart; merged {:?}",
        view.rooms.iter().map(|r| r.merged).collect::<Vec<_>>()
    );
    client.quit().await;
}

// ---------------------------------------------------------------------------------------
// 2. A flaky network between the service and Centrifugo's API
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn a_flaky_centrifugo_api_never_blocks_a_send_and_each_event_arrives_once() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_url = format!("http://{}", listener.local_addr().unwrap());
    let mut upstream = String::new();
    let app = TestApp::start_with(|a| {
        upstream = std::mem::replace(&mut a.centrifugo_url, proxy_url.into())
            .expose()
            .to_string();
    })
    .await;
    let proxy = FaultyProxy::start(listener, upstream);
    let backend = Backend::new(&app.base, &app.api_key);
    let room = backend.create_room("flaky", "alice", "bob").await;
    let tokens = backend.tokens("bob").await;
    let mut client = online_client(&app.ws_url(), tokens["wsToken"].as_str().unwrap()).await;
    let token = backend.subscription_token(&room, "bob").await;
    client
        .subscribe(&room.realtime, &token)
        .await
        .unwrap_or_else(|ack| panic!("subscribe: {ack}"));
    backend.wait_drained(DRAIN).await;
    // Longer than the relay's 5 s request timeout: the relay gives up on a batch that
    // Centrifugo did publish, and must resend it with the same idempotency keys.
    let stall = Duration::from_secs(6);
    let faults = [
        Fault::Status(502),
        Fault::DropMidRequest,
        Fault::Status(503),
        Fault::ForwardThenDrop,
        Fault::Delay(stall),
        Fault::Delay(Duration::from_millis(1500)),
    ];

    proxy.arm(&faults);
    let started = Instant::now();
    let mut sent = Vec::new();
    let mut slowest = Duration::ZERO;
    for i in 0..40 {
        let sender = if i % 2 == 0 { "alice" } else { "bob" };
        let (m, took) = backend
            .send_ok(&room.id, sender, &format!("flaky-{i}"), 201)
            .await;
        slowest = slowest.max(took);
        sent.push(seq_and_id(&m));
        sleep(Duration::from_millis(150)).await;
    }
    let drained = backend.wait_drained(DRAIN).await;

    assert!(
        slowest < FAST_ANSWER,
        "a send took {slowest:?} while the proxy stalled"
    );
    let attempts = proxy.attempts();
    let injected: Vec<Fault> = attempts.iter().filter_map(|a| a.fault.clone()).collect();
    assert_eq!(injected, faults, "every fault was injected, in order");
    assert_eq!(proxy.faults_left(), 0);
    let forwarded = times_forwarded(&attempts);
    let resent = forwarded.values().filter(|n| **n >= 2).count();
    assert!(
        resent >= 1,
        "no idempotency key reached Centrifugo twice: {attempts:#?}"
    );
    let stored: Vec<(i64, String)> = backend
        .messages_after(&room.id, "bob", 0)
        .await
        .iter()
        .map(seq_and_id)
        .collect();
    assert_eq!(stored, sent, "the store holds every message");
    assert_room_history_matches(&app, &backend, &room).await;
    let received: Vec<(i64, String)> = client
        .publications(&room.realtime, sent.len(), DRAIN)
        .await
        .iter()
        .map(|p| {
            assert_eq!(p["data"]["type"], "message.new", "{p}");
            seq_and_id(&p["data"]["data"])
        })
        .collect();
    assert_eq!(received, sent, "bob got each message once, in order");
    client
        .expect_none("a second delivery", Duration::from_secs(1), |e| {
            is(e, "publication") && e["channel"] == room.realtime.as_str()
        })
        .await;
    eprintln!(
        "proxy: {} batch attempts ({} forwarded), {resent} keys forwarded twice or more; \
         slowest send {slowest:?}; drained {drained:?} after the last send, {:?} in all",
        attempts.len(),
        attempts.iter().filter(|a| a.forwarded).count(),
        started.elapsed()
    );
    client.quit().await;
}

// ---------------------------------------------------------------------------------------
// 3. Centrifugo started with another config (no namespaces) for a while
// ---------------------------------------------------------------------------------------

/// Centrifugo restarted in `app`'s place from the checked-in config with the namespaces
/// `keep` alone: an operator's slip.
async fn restart_centrifugo_with_namespaces(app: &mut TestApp, keep: &[&str]) {
    let checked_in = std::fs::read_to_string(common::repo_path("centrifugo/config.json")).unwrap();
    let mut config: serde_json::Value = serde_json::from_str(&checked_in).unwrap();
    config["channel"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| keep.contains(&n["name"].as_str().unwrap()));
    let wrong = app.dir.path().join("wrong-config.json");
    std::fs::write(&wrong, config.to_string()).unwrap();
    app.centrifugo.take().unwrap().stop().await;
    app.centrifugo = Some(
        common::start_centrifugo_from(
            &wrong,
            app.dir.path(),
            app.centrifugo_port,
            app.centrifugo_internal_port,
        )
        .await,
    );
}

#[actix_web::test]
async fn events_refused_as_unknown_channels_wait_for_the_right_config_and_then_go_out() {
    let mut app = TestApp::start().await;
    let backend = Backend::new(&app.base, &app.api_key);
    let room = backend.create_room("room", "alice", "bob").await;
    backend.wait_drained(DRAIN).await;
    restart_centrifugo_with_namespaces(&mut app, &[]).await;

    let mut sent = Vec::new();
    for i in 0..5 {
        let (m, _) = backend
            .send_ok(&room.id, "alice", &format!("during-{i}"), 201)
            .await;
        sent.push(seq_and_id(&m));
    }
    // The relay has tried them: the first waits with Centrifugo's answer (or, refused for
    // good, none waits).
    let db = rusqlite::Connection::open(app.db_path()).unwrap();
    let started = Instant::now();
    let last_error = loop {
        let first: Option<Option<String>> = db
            .query_row(
                "SELECT last_error FROM outbox ORDER BY pk LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .unwrap();
        match first {
            None => break "(the outbox is empty)".to_string(),
            Some(Some(e)) => break e,
            Some(None) if started.elapsed() < DRAIN => sleep(Duration::from_millis(100)).await,
            Some(None) => panic!("the relay never tried the events"),
        }
    };
    let failed: i64 = db
        .query_row("SELECT count(*) FROM outbox_failed", [], |r| r.get(0))
        .unwrap();
    let waiting = backend.pending_events().await;
    app.centrifugo.take().unwrap().stop().await;
    app.centrifugo = Some(
        common::start_centrifugo(
            app.dir.path(),
            app.centrifugo_port,
            app.centrifugo_internal_port,
        )
        .await,
    );
    let restarted = Instant::now();
    let mut history = published_messages(app.centrifugo_internal_port, &room.realtime).await;
    while history.len() < sent.len() && restarted.elapsed() < DRAIN {
        sleep(Duration::from_millis(200)).await;
        history = published_messages(app.centrifugo_internal_port, &room.realtime).await;
    }

    assert_eq!(failed, 0, "an event was refused for good");
    assert!(last_error.contains("102 unknown channel"), "{last_error}");
    assert!(waiting >= 5, "the 5 events wait in the outbox: {waiting}");
    let published: Vec<(i64, String)> = history.iter().map(|e| seq_and_id(&e["data"])).collect();
    assert_eq!(
        published, sent,
        "Centrifugo history once its config is right"
    );
    backend.wait_drained(DRAIN).await;
}

/// One namespace missing: the events behind a refused one, in another channel, are not
/// published again at every retry (ahead of it, and as duplicates once their idempotency
/// keys expire): while the head waits, it is tried alone.
#[actix_web::test]
async fn while_the_first_event_waits_the_events_behind_it_are_not_published_again_and_again() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_url = format!("http://{}", listener.local_addr().unwrap());
    let mut upstream = String::new();
    let mut app = TestApp::start_with(|a| {
        upstream = std::mem::replace(&mut a.centrifugo_url, proxy_url.into())
            .expose()
            .to_string();
    })
    .await;
    let proxy = FaultyProxy::start(listener, upstream);
    let backend = Backend::new(&app.base, &app.api_key);
    let room = backend.create_room("room", "alice", "bob").await;
    backend.tokens("carol").await;
    backend.wait_drained(DRAIN).await;
    restart_centrifugo_with_namespaces(&mut app, &["chat"]).await;
    let before = proxy.attempts().len();

    // member.added to carol's personal channel (refused with 102), then chat events
    // behind it.
    backend.add_member(&room.id, "alice", "carol").await;
    for i in 0..5 {
        backend
            .send_ok(&room.id, "alice", &format!("behind-{i}"), 201)
            .await;
    }
    // Several retries (backoff 100 ms, 200 ms, 400 ms, …).
    sleep(Duration::from_secs(4)).await;
    let stalled: Vec<_> = proxy.attempts()[before..].to_vec();
    restart_centrifugo_with_namespaces(&mut app, &["chat", "personal"]).await;
    backend.wait_drained(DRAIN).await;

    let forwarded = times_forwarded(&stalled);
    let head_tries = forwarded.values().copied().max().unwrap_or(0);
    assert!(
        head_tries >= 4,
        "the waiting event was retried: {stalled:#?}"
    );
    // At most the first try's batch carried them, before the head was known to fail.
    assert!(
        forwarded
            .values()
            .filter(|n| **n < head_tries)
            .all(|n| *n <= 1),
        "events behind the waiting one were sent again while it waited: {forwarded:?}"
    );
    assert_room_history_matches(&app, &backend, &room).await;
}

/// How many forwarded batches carried each idempotency key.
fn times_forwarded(attempts: &[BatchAttempt]) -> HashMap<&str, usize> {
    let mut forwarded: HashMap<&str, usize> = HashMap::new();
    for a in attempts.iter().filter(|a| a.forwarded) {
        for key in &a.idempotency_keys {
            *forwarded.entry(key).or_default() += 1;
        }
    }
    forwarded
}

/// Centrifugo's history of `room` holds each stored message once, in seq order.
async fn assert_room_history_matches(app: &TestApp, backend: &Backend, room: &Room) {
    let stored = HashMap::from([(
        room.id.clone(),
        backend.messages_after(&room.id, &room.owner, 0).await,
    )]);
    assert_history_matches(
        app.centrifugo_internal_port,
        std::slice::from_ref(room),
        &stored,
        DRAIN,
    )
    .await;
}
