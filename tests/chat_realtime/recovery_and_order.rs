//! Delivery after a disconnect (recovery of missed messages) and in seq order.

use super::harness::{
    Room, WAIT, call, create_channel, event, json_of, online, room, send_message, subscribe_with,
    subscription_token, user,
};
use crate::common::TestApp;
use crate::common::rt_client::{SubOptions, is};
use reqwest::Method;
use serde_json::{Value, json};

// ---- 4. recovery after a disconnect ----

#[actix_web::test]
async fn a_reconnecting_client_recovers_missed_messages_and_rest_after_seq_returns_the_same() {
    let app = TestApp::start().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    create_channel(&app, &alice, "room", &["bob"]).await;
    let mut bob_rt = online(&app, &bob).await;
    let recoverable = SubOptions {
        recoverable: true,
        ..SubOptions::default()
    };
    let realtime = subscribe_with(&app, &mut bob_rt, &bob, "room", recoverable).await;
    let before = send_message(&app, &alice, "room", "before").await;
    let seen = event(&mut bob_rt, &realtime, "message.new").await;
    assert_eq!(seen["data"]["id"], before["id"]);
    bob_rt.disconnect().await;
    bob_rt
        .expect("disconnected", WAIT, |e| is(e, "disconnected"))
        .await;
    let mut missed = Vec::new();
    for text in ["m1", "m2", "m3"] {
        missed.push(send_message(&app, &alice, "room", text).await);
    }

    let fresh = json_of(subscription_token(&app, &bob, "room").await, 200).await;
    bob_rt
        .push_sub_token(&realtime, fresh["token"].as_str().unwrap())
        .await;
    bob_rt
        .reconnect()
        .await
        .unwrap_or_else(|ack| panic!("reconnect failed: {ack}"));
    let page = call(
        &app,
        Method::GET,
        &format!("/api/channels/room/messages?after={}", before["seq"]),
        &bob.token,
        Value::Null,
    )
    .await;

    let resubscribed = bob_rt
        .expect("resubscribed to the room", WAIT, |e| {
            is(e, "subscribed") && e["channel"] == realtime.as_str()
        })
        .await;
    assert_eq!(resubscribed["wasRecovering"], true, "{resubscribed}");
    assert_eq!(resubscribed["recovered"], true, "{resubscribed}");
    let ids_seqs = |m: &Value| (m["id"].clone(), m["seq"].clone());
    let expected: Vec<_> = missed.iter().map(ids_seqs).collect();
    let mut recovered = Vec::new();
    for _ in 0..missed.len() {
        recovered.push(ids_seqs(
            &event(&mut bob_rt, &realtime, "message.new").await["data"],
        ));
    }
    assert_eq!(recovered, expected);
    let page = json_of(page, 200).await;
    let rest: Vec<_> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(ids_seqs)
        .collect();
    assert_eq!(rest, expected);
    assert_eq!(page["hasMore"], false);
}

// ---- 7. order ----

#[actix_web::test]
async fn twenty_quick_messages_arrive_in_seq_order() {
    let Room {
        app,
        alice,
        mut bob_rt,
        realtime,
        ..
    } = room().await;
    let url = format!("{}/api/channels/room/messages", app.base);

    let mut sends = tokio::task::JoinSet::new();
    for n in 1..=20 {
        let req = app
            .http
            .post(&url)
            .bearer_auth(&alice.token)
            .json(&json!({ "text": format!("message {n}") }));
        sends.spawn(async move { req.send().await.unwrap() });
    }
    let mut sent = Vec::new();
    while let Some(res) = sends.join_next().await {
        sent.push(json_of(res.unwrap(), 201).await);
    }

    sent.sort_by_key(|m| m["seq"].as_i64());
    let seqs: Vec<i64> = sent.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=20).collect::<Vec<i64>>());
    let received: Vec<Value> = bob_rt
        .publications(&realtime, 20, WAIT)
        .await
        .into_iter()
        .map(|p| p["data"].clone())
        .collect();
    let received_seqs: Vec<i64> = received
        .iter()
        .map(|e| {
            assert_eq!(e["type"], "message.new", "{e}");
            e["data"]["seq"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(received_seqs, seqs);
    let ids = |v: &[Value], f: fn(&Value) -> &Value| -> Vec<Value> {
        v.iter().map(|m| f(m).clone()).collect()
    };
    assert_eq!(
        ids(&received, |e| &e["data"]["id"]),
        ids(&sent, |m| &m["id"])
    );
}
