//! Every chat event, written over REST, reaches the members' subscriptions.

use super::harness::{
    Room, assert_envelope, call, create_channel, event, json_of, message_path, online, room,
    send_message, subscribe, user,
};
use crate::common::TestApp;
use crate::common::chat::enc;
use reqwest::Method;
use serde_json::{Value, json};

// ---- 1. every chat event reaches the members' subscriptions ----

#[actix_web::test]
async fn a_message_sent_over_rest_reaches_both_subscribed_members_as_message_new() {
    let app = TestApp::start().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let channel = create_channel(&app, &alice, "room", &["bob"]).await;
    let mut alice_rt = online(&app, &alice).await;
    let mut bob_rt = online(&app, &bob).await;
    let realtime = subscribe(&app, &mut alice_rt, &alice, "room").await;
    subscribe(&app, &mut bob_rt, &bob, "room").await;

    let sent = send_message(&app, &alice, "room", "hello bob").await;

    assert_eq!(realtime, channel["realtimeChannel"]);
    let got = event(&mut bob_rt, &realtime, "message.new").await;
    assert_envelope(&got, "message.new", "room", sent["seq"].as_i64().unwrap());
    assert_eq!(got["data"]["id"], sent["id"]);
    assert_eq!(got["data"]["seq"], sent["seq"]);
    assert_eq!(got["data"]["text"], "hello bob");
    assert_eq!(got["data"]["user"]["id"], "alice");
    assert_eq!(got["data"]["reactions"]["own"], json!([]));
    let echo = event(&mut alice_rt, &realtime, "message.new").await;
    assert_eq!(echo["data"]["id"], sent["id"]);
    assert_eq!(echo["eventId"], got["eventId"]);
}

#[actix_web::test]
async fn two_quick_edits_both_arrive_as_message_updated_with_the_second_text_last() {
    let Room {
        app,
        alice,
        mut bob_rt,
        realtime,
        ..
    } = room().await;
    let sent = send_message(&app, &alice, "room", "v1").await;
    // A later message: the envelope's `seq` is the channel's (2), not the edited one's.
    let later = send_message(&app, &alice, "room", "later").await;
    let path = message_path("room", &sent);

    let first = call(
        &app,
        Method::PATCH,
        &path,
        &alice.token,
        json!({"text": "v2"}),
    )
    .await;
    let second = call(
        &app,
        Method::PATCH,
        &path,
        &alice.token,
        json!({"text": "v3"}),
    )
    .await;

    let first = json_of(first, 200).await;
    let second = json_of(second, 200).await;
    assert_eq!(first["text"], "v2");
    assert_eq!(second["text"], "v3");
    let one = event(&mut bob_rt, &realtime, "message.updated").await;
    let two = event(&mut bob_rt, &realtime, "message.updated").await;
    let channel_seq = later["seq"].as_i64().unwrap();
    assert_envelope(&one, "message.updated", "room", channel_seq);
    assert_envelope(&two, "message.updated", "room", channel_seq);
    assert_ne!(one["eventId"], two["eventId"]);
    assert_eq!(
        (&one["data"]["id"], &one["data"]["text"]),
        (&sent["id"], &json!("v2"))
    );
    assert_eq!(one["data"]["seq"], sent["seq"]);
    assert_eq!(
        (&two["data"]["id"], &two["data"]["text"]),
        (&sent["id"], &json!("v3"))
    );
    assert!(two["data"]["editedAt"].is_string(), "{two}");
}

#[actix_web::test]
async fn a_deleted_message_arrives_as_message_deleted_with_a_tombstone() {
    let Room {
        app,
        alice,
        mut bob_rt,
        realtime,
        ..
    } = room().await;
    let sent = send_message(&app, &alice, "room", "oops").await;
    let later = send_message(&app, &alice, "room", "later").await;
    let path = message_path("room", &sent);

    let res = call(&app, Method::DELETE, &path, &alice.token, Value::Null).await;

    let tombstone = json_of(res, 200).await;
    assert_eq!(tombstone["text"], Value::Null);
    let got = event(&mut bob_rt, &realtime, "message.deleted").await;
    // The channel's `seq`, which never goes back; the message's own is in `data`.
    assert_envelope(
        &got,
        "message.deleted",
        "room",
        later["seq"].as_i64().unwrap(),
    );
    assert_eq!(got["data"]["id"], sent["id"]);
    assert_eq!(got["data"]["seq"], sent["seq"]);
    assert_eq!(got["data"]["text"], Value::Null);
    assert_eq!(got["data"]["deletedAt"], tombstone["deletedAt"]);
    assert!(got["data"]["deletedAt"].is_string(), "{got}");
}

#[actix_web::test]
async fn reactions_arrive_as_reaction_added_and_reaction_removed() {
    let Room {
        app,
        alice,
        bob,
        mut bob_rt,
        realtime,
    } = room().await;
    let sent = send_message(&app, &bob, "room", "like me").await;
    let path = format!("{}/reactions/{}", message_path("room", &sent), enc("👍"));

    let added = call(&app, Method::PUT, &path, &alice.token, Value::Null).await;
    let removed = call(&app, Method::DELETE, &path, &alice.token, Value::Null).await;

    let added = json_of(added, 200).await;
    json_of(removed, 200).await;
    assert_eq!(added["reactions"]["own"], json!(["👍"]));
    let plus = event(&mut bob_rt, &realtime, "reaction.added").await;
    assert_eq!(plus["channelId"], "room");
    assert_eq!(plus["data"]["messageId"], sent["id"]);
    assert_eq!(plus["data"]["emoji"], "👍");
    assert_eq!(plus["data"]["userId"], "alice");
    assert_eq!(
        plus["data"]["message"]["reactions"]["counts"],
        json!({"👍": 1})
    );
    assert_eq!(plus["data"]["message"]["reactions"]["own"], json!([]));
    let minus = event(&mut bob_rt, &realtime, "reaction.removed").await;
    assert_eq!(minus["data"]["messageId"], sent["id"]);
    assert_eq!(minus["data"]["emoji"], "👍");
    assert_eq!(minus["data"]["userId"], "alice");
    assert_eq!(minus["data"]["message"]["reactions"]["counts"], json!({}));
}

#[actix_web::test]
async fn a_read_mark_arrives_as_read_updated_with_the_user_and_seq() {
    let Room {
        app,
        alice,
        bob,
        mut bob_rt,
        realtime,
    } = room().await;
    send_message(&app, &bob, "room", "one").await;
    let second = send_message(&app, &bob, "room", "two").await;

    let res = call(
        &app,
        Method::POST,
        "/api/channels/room/read",
        &alice.token,
        json!({"seq": second["seq"]}),
    )
    .await;

    assert_eq!(json_of(res, 200).await, json!({"seq": second["seq"]}));
    let got = event(&mut bob_rt, &realtime, "read.updated").await;
    assert_envelope(
        &got,
        "read.updated",
        "room",
        second["seq"].as_i64().unwrap(),
    );
    assert_eq!(
        got["data"],
        json!({"userId": "alice", "seq": second["seq"]})
    );
}

#[actix_web::test]
async fn typing_arrives_with_the_typing_user() {
    let Room {
        app,
        alice,
        mut bob_rt,
        realtime,
        ..
    } = room().await;

    let res = call(
        &app,
        Method::POST,
        "/api/channels/room/typing",
        &alice.token,
        Value::Null,
    )
    .await;

    assert_eq!(json_of(res, 202).await, json!({"status": "sent"}));
    let got = event(&mut bob_rt, &realtime, "typing").await;
    assert_envelope(&got, "typing", "room", 0);
    assert_eq!(got["data"]["user"]["id"], "alice");
}

#[actix_web::test]
async fn a_channel_update_arrives_as_channel_updated() {
    let Room {
        app,
        alice,
        mut bob_rt,
        realtime,
        ..
    } = room().await;

    let res = call(
        &app,
        Method::PATCH,
        "/api/channels/room",
        &alice.token,
        json!({"name": "The Room", "custom": {"topic": "tests"}}),
    )
    .await;

    json_of(res, 200).await;
    let got = event(&mut bob_rt, &realtime, "channel.updated").await;
    assert_envelope(&got, "channel.updated", "room", 0);
    assert_eq!(got["data"]["id"], "room");
    assert_eq!(got["data"]["name"], "The Room");
    assert_eq!(got["data"]["custom"], json!({"topic": "tests"}));
    assert_eq!(got["data"]["realtimeChannel"], realtime.as_str());
}
