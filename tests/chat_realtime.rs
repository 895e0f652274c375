//! Chat events end to end: REST writes on the service, delivery through the real
//! Centrifugo, received by the official client (centrifuge-python through `RtClient`).

use crate::common;
use crate::common::rt_client::{RtClient, SubOptions, is};
use crate::common::{TestApp, assert_error, jwt_claims};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

/// How long one expected event may take.
const WAIT: Duration = Duration::from_secs(8);
/// How long we watch for an event that must not come, once a later one has arrived
/// elsewhere (so the relay has already published it).
const QUIET: Duration = Duration::from_millis(500);
/// Centrifugo's client error "permission denied".
const PERMISSION_DENIED: i64 = 103;

/// Percent-encodes every byte outside `[A-Za-z0-9-_.~]`, for ids in URL paths.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One request to the service as the bearer of `token`; `Value::Null` sends no body.
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Value,
) -> reqwest::Response {
    let mut req = app
        .http
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(token);
    if !body.is_null() {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

/// Requires `status` and returns the JSON body.
async fn json_of(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// A user of one app with both tokens and their personal channel.
struct User {
    id: String,
    token: String,
    ws_token: String,
    personal: String,
}

async fn user(app: &TestApp, id: &str) -> User {
    user_of(app, &app.api_key, id).await
}

/// A user of the app whose API key is `key`.
async fn user_of(app: &TestApp, key: &str, id: &str) -> User {
    let tokens = json_of(
        app.post_tokens_with_key(key, &json!({ "userId": id }))
            .await,
        200,
    )
    .await;
    let token = tokens["token"].as_str().unwrap().to_string();
    let me = json_of(app.get_me(&token).await, 200).await;
    User {
        id: id.to_string(),
        ws_token: tokens["wsToken"].as_str().unwrap().to_string(),
        personal: me["personalChannel"].as_str().unwrap().to_string(),
        token,
    }
}

/// An official client connected as `user`, server-side subscribed to their personal channel.
async fn online(app: &TestApp, user: &User) -> RtClient {
    let mut client = RtClient::start(
        &common::python(),
        &common::repo_path("tests/clients/rt_agent.py"),
        &app.ws_url(),
    )
    .await;
    client
        .connect(&user.ws_token)
        .await
        .unwrap_or_else(|ack| panic!("{} could not connect: {ack}", user.id));
    client
        .expect(
            "server-side subscription to the personal channel",
            WAIT,
            |e| is(e, "server_subscribed") && e["channel"] == user.personal.as_str(),
        )
        .await;
    client
}

/// `POST /api/channels` as `owner` with `members`; returns the new channel.
async fn create_channel(app: &TestApp, owner: &User, id: &str, members: &[&str]) -> Value {
    let res = call(
        app,
        Method::POST,
        "/api/channels",
        &owner.token,
        json!({"id": id, "members": members}),
    )
    .await;
    json_of(res, 201).await
}

async fn subscription_token(app: &TestApp, user: &User, channel_id: &str) -> reqwest::Response {
    let path = format!("/api/channels/{}/subscription-token", enc(channel_id));
    call(app, Method::POST, &path, &user.token, Value::Null).await
}

/// Gets `user` a subscription token for `channel_id` and subscribes `client` with it;
/// returns the realtime channel.
async fn subscribe(app: &TestApp, client: &mut RtClient, user: &User, channel_id: &str) -> String {
    subscribe_with(app, client, user, channel_id, SubOptions::default()).await
}

async fn subscribe_with(
    app: &TestApp,
    client: &mut RtClient,
    user: &User,
    channel_id: &str,
    opts: SubOptions,
) -> String {
    let body = json_of(subscription_token(app, user, channel_id).await, 200).await;
    let realtime = body["channel"].as_str().unwrap().to_string();
    client
        .subscribe_opts(&realtime, body["token"].as_str().unwrap(), opts)
        .await
        .unwrap_or_else(|ack| panic!("{} could not subscribe to {realtime}: {ack}", user.id));
    realtime
}

async fn send_message(app: &TestApp, sender: &User, channel_id: &str, text: &str) -> Value {
    let path = format!("/api/channels/{}/messages", enc(channel_id));
    let res = call(
        app,
        Method::POST,
        &path,
        &sender.token,
        json!({ "text": text }),
    )
    .await;
    json_of(res, 201).await
}

/// The envelope of the next `kind` event published on `channel`.
async fn event(client: &mut RtClient, channel: &str, kind: &str) -> Value {
    let publication = client
        .expect(&format!("{kind} on {channel}"), WAIT, |e| {
            is(e, "publication") && e["channel"] == channel && e["data"]["type"] == kind
        })
        .await;
    publication["data"].clone()
}

/// Asserts that no publication on `channel` carries data matching `pred`.
async fn assert_nothing(client: &mut RtClient, channel: &str, pred: impl Fn(&Value) -> bool) {
    client
        .expect_none(&format!("matching publication on {channel}"), QUIET, |e| {
            is(e, "publication") && e["channel"] == channel && pred(&e["data"])
        })
        .await;
}

/// Asserts the envelope's fixed fields: type, a fresh event id, channel id and seq.
fn assert_envelope(envelope: &Value, kind: &str, channel_id: &str, seq: i64) {
    assert_eq!(envelope["type"], kind, "{envelope}");
    assert_eq!(envelope["channelId"], channel_id, "{envelope}");
    assert_eq!(envelope["seq"], seq, "{envelope}");
    assert!(
        envelope["eventId"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{envelope}"
    );
}

/// Alice owns `room` with Bob in it; Bob is online and subscribed to it.
struct Room {
    app: TestApp,
    alice: User,
    bob: User,
    bob_rt: RtClient,
    realtime: String,
}

async fn room() -> Room {
    let app = TestApp::start().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    create_channel(&app, &alice, "room", &["bob"]).await;
    let mut bob_rt = online(&app, &bob).await;
    let realtime = subscribe(&app, &mut bob_rt, &bob, "room").await;
    Room {
        app,
        alice,
        bob,
        bob_rt,
        realtime,
    }
}

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
    let path = format!(
        "/api/channels/room/messages/{}",
        enc(sent["id"].as_str().unwrap())
    );

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
    assert_envelope(
        &one,
        "message.updated",
        "room",
        sent["seq"].as_i64().unwrap(),
    );
    assert_envelope(
        &two,
        "message.updated",
        "room",
        sent["seq"].as_i64().unwrap(),
    );
    assert_ne!(one["eventId"], two["eventId"]);
    assert_eq!(
        (&one["data"]["id"], &one["data"]["text"]),
        (&sent["id"], &json!("v2"))
    );
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
    let path = format!(
        "/api/channels/room/messages/{}",
        enc(sent["id"].as_str().unwrap())
    );

    let res = call(&app, Method::DELETE, &path, &alice.token, Value::Null).await;

    let tombstone = json_of(res, 200).await;
    assert_eq!(tombstone["text"], Value::Null);
    let got = event(&mut bob_rt, &realtime, "message.deleted").await;
    assert_envelope(
        &got,
        "message.deleted",
        "room",
        sent["seq"].as_i64().unwrap(),
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
    let path = format!(
        "/api/channels/room/messages/{}/reactions/{}",
        enc(sent["id"].as_str().unwrap()),
        enc("👍")
    );

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

// ---- 2. who may not listen ----

#[actix_web::test]
async fn a_non_member_gets_404_channel_not_found_for_a_subscription_token() {
    let app = TestApp::start().await;
    let alice = user(&app, "alice").await;
    let carol = user(&app, "carol").await;
    let channel = create_channel(&app, &alice, "room", &[]).await;
    let realtime = channel["realtimeChannel"].as_str().unwrap();

    let by_id = subscription_token(&app, &carol, "room").await;
    let by_name = call(
        &app,
        Method::POST,
        "/api/subscription-token",
        &carol.token,
        json!({ "channel": realtime }),
    )
    .await;
    let key_as_carol = app
        .http
        .post(format!(
            "{}/api/channels/room/subscription-token?userId=carol",
            app.base
        ))
        .header("X-API-Key", &app.api_key)
        .send()
        .await
        .unwrap();
    let unknown = subscription_token(&app, &carol, "no-such-room").await;

    assert_error(by_id, 404, "channel_not_found").await;
    assert_error(by_name, 404, "channel_not_found").await;
    assert_error(key_as_carol, 404, "channel_not_found").await;
    assert_error(unknown, 404, "channel_not_found").await;
}

#[actix_web::test]
async fn a_non_member_cannot_subscribe_without_a_token_103() {
    let app = TestApp::start().await;
    let alice = user(&app, "alice").await;
    let carol = user(&app, "carol").await;
    let channel = create_channel(&app, &alice, "room", &[]).await;
    let realtime = channel["realtimeChannel"].as_str().unwrap();
    let mut carol_rt = online(&app, &carol).await;
    let no_get_token = SubOptions {
        get_token: false,
        ..SubOptions::default()
    };

    let ack = carol_rt
        .subscribe_opts(realtime, "", no_get_token)
        .await
        .expect_err("no token: denied");

    assert_eq!(ack["code"], PERMISSION_DENIED, "{ack}");
}

#[actix_web::test]
async fn nobody_can_subscribe_to_another_users_personal_channel_103() {
    let app = TestApp::start().await;
    let alice = user(&app, "alice").await;
    let mallory = user(&app, "mallory").await;
    let mut mallory_rt = online(&app, &mallory).await;
    let no_get_token = SubOptions {
        get_token: false,
        ..SubOptions::default()
    };

    let ack = mallory_rt
        .subscribe_opts(&alice.personal, "", no_get_token)
        .await
        .expect_err("someone else's personal channel: denied");

    assert_eq!(ack["code"], PERMISSION_DENIED, "{ack}");
    assert_ne!(alice.personal, mallory.personal);
}

#[actix_web::test]
async fn a_user_of_another_app_with_the_same_ids_sees_nothing_of_the_first_apps_channel() {
    let app = TestApp::start().await;
    let key_b = app.cli_json(&["app", "create", "--name", "b"])["apiKey"]
        .as_str()
        .unwrap()
        .to_string();
    let alice_a = user(&app, "alice").await;
    let alice_b = user_of(&app, &key_b, "alice").await;
    let channel_a = create_channel(&app, &alice_a, "room", &[]).await;
    let channel_b = create_channel(&app, &alice_b, "room", &[]).await;
    let mut rt_a = online(&app, &alice_a).await;
    let mut rt_b = online(&app, &alice_b).await;
    let realtime_a = subscribe(&app, &mut rt_a, &alice_a, "room").await;
    let realtime_b = subscribe(&app, &mut rt_b, &alice_b, "room").await;
    let no_get_token = SubOptions {
        get_token: false,
        ..SubOptions::default()
    };

    let sent_a = send_message(&app, &alice_a, "room", "only for app A").await;
    let token_for_a = call(
        &app,
        Method::POST,
        "/api/subscription-token",
        &alice_b.token,
        json!({ "channel": realtime_a }),
    )
    .await;
    let into_a = rt_b.subscribe_opts(&realtime_a, "", no_get_token).await;

    assert_ne!(realtime_a, realtime_b);
    assert_eq!(channel_a["realtimeChannel"], realtime_a.as_str());
    assert_eq!(channel_b["realtimeChannel"], realtime_b.as_str());
    assert_ne!(alice_a.personal, alice_b.personal);
    assert_ne!(
        jwt_claims(&alice_a.ws_token)["sub"],
        jwt_claims(&alice_b.ws_token)["sub"]
    );
    let got = event(&mut rt_a, &realtime_a, "message.new").await;
    assert_eq!(got["data"]["id"], sent_a["id"]);
    assert_error(token_for_a, 404, "channel_not_found").await;
    let ack = into_a.expect_err("app A's channel without a token: denied");
    assert_eq!(ack["code"], PERMISSION_DENIED, "{ack}");
    assert_nothing(&mut rt_b, &realtime_b, |_| true).await;
    assert_nothing(&mut rt_b, &realtime_a, |_| true).await;
    let sent_b = send_message(&app, &alice_b, "room", "only for app B").await;
    let got_b = event(&mut rt_b, &realtime_b, "message.new").await;
    assert_eq!(got_b["data"]["id"], sent_b["id"]);
    assert_nothing(&mut rt_a, &realtime_a, |d| d["data"]["id"] == sent_b["id"]).await;
}

// ---- 3. a removed member stops listening ----

#[actix_web::test]
async fn a_removed_member_is_unsubscribed_at_once_and_gets_nothing_more() {
    let app = TestApp::start().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    create_channel(&app, &alice, "room", &["bob"]).await;
    let mut alice_rt = online(&app, &alice).await;
    let mut bob_rt = online(&app, &bob).await;
    let realtime = subscribe(&app, &mut alice_rt, &alice, "room").await;
    subscribe(&app, &mut bob_rt, &bob, "room").await;

    let removed = call(
        &app,
        Method::DELETE,
        "/api/channels/room/members/bob",
        &alice.token,
        Value::Null,
    )
    .await;

    assert_eq!(removed.status(), 204);
    let news = event(&mut alice_rt, &realtime, "member.removed").await;
    assert_eq!(news["data"], json!({"userId": "bob"}));
    bob_rt
        .expect("bob unsubscribed from the room", WAIT, |e| {
            is(e, "unsubscribed") && e["channel"] == realtime.as_str()
        })
        .await;
    let after = send_message(&app, &alice, "room", "bob is gone").await;
    let seen = event(&mut alice_rt, &realtime, "message.new").await;
    assert_eq!(seen["data"]["id"], after["id"]);
    assert_nothing(&mut bob_rt, &realtime, |d| d["type"] == "message.new").await;
    let by_id = subscription_token(&app, &bob, "room").await;
    assert_error(by_id, 404, "channel_not_found").await;
    let by_name = call(
        &app,
        Method::POST,
        "/api/subscription-token",
        &bob.token,
        json!({ "channel": realtime }),
    )
    .await;
    assert_error(by_name, 404, "channel_not_found").await;
}

#[actix_web::test]
async fn a_removed_member_can_listen_with_a_held_token_only_until_its_exp() {
    // The documented bound: Centrifugo OSS cannot revoke a subscription token, so a token
    // held at removal works until its `exp` (CHATSDK_SUB_TOKEN_TTL), never after.
    let app = TestApp::start_with(|a| a.sub_token_ttl = 2).await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let channel = create_channel(&app, &alice, "room", &["bob"]).await;
    let realtime = channel["realtimeChannel"].as_str().unwrap().to_string();
    let mut bob_rt = online(&app, &bob).await;
    let held = json_of(subscription_token(&app, &bob, "room").await, 200).await;
    let held = held["token"].as_str().unwrap();
    bob_rt
        .subscribe(&realtime, held)
        .await
        .unwrap_or_else(|ack| panic!("bob could not subscribe: {ack}"));
    let removed = call(
        &app,
        Method::DELETE,
        "/api/channels/room/members/bob",
        &alice.token,
        Value::Null,
    )
    .await;
    assert_eq!(removed.status(), 204);
    bob_rt
        .expect("bob unsubscribed from the room", WAIT, |e| {
            is(e, "unsubscribed") && e["channel"] == realtime.as_str()
        })
        .await;

    tokio::time::sleep(Duration::from_millis(2500)).await;
    let again = bob_rt.subscribe(&realtime, held).await;
    send_message(&app, &alice, "room", "not for bob").await;

    assert!(
        again.is_err(),
        "a removed member resubscribed with an expired token: {again:?}"
    );
    assert_nothing(&mut bob_rt, &realtime, |d| d["type"] == "message.new").await;
}

#[actix_web::test]
async fn a_deleted_channels_realtime_name_never_carries_another_channels_events() {
    let app = TestApp::start().await;
    let key_b = app.cli_json(&["app", "create", "--name", "b"])["apiKey"]
        .as_str()
        .unwrap()
        .to_string();
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    let carol = user_of(&app, &key_b, "carol").await;
    let old = create_channel(&app, &alice, "room", &["bob"]).await;
    let held = json_of(subscription_token(&app, &bob, "room").await, 200).await;
    let deleted = call(
        &app,
        Method::DELETE,
        "/api/channels/room",
        &alice.token,
        Value::Null,
    )
    .await;
    assert_eq!(deleted.status(), 204);
    let secret = create_channel(&app, &carol, "secret", &[]).await;
    let mut carol_rt = online(&app, &carol).await;
    let realtime = subscribe(&app, &mut carol_rt, &carol, "secret").await;
    let mut bob_rt = online(&app, &bob).await;
    let old_name = held["channel"].as_str().unwrap();

    // Bob still holds a token for the deleted channel's realtime name; a new channel,
    // of another app even, must not answer to it.
    let _ = bob_rt
        .subscribe(old_name, held["token"].as_str().unwrap())
        .await;
    let sent = send_message(&app, &carol, "secret", "app B only").await;

    let seen = event(&mut carol_rt, &realtime, "message.new").await;
    assert_eq!(seen["data"]["id"], sent["id"]);
    assert_nothing(&mut bob_rt, old_name, |d| d["data"]["id"] == sent["id"]).await;
    assert_ne!(
        secret["realtimeChannel"], old["realtimeChannel"],
        "a new channel took the realtime name of a deleted one"
    );
}

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

// ---- 5. the personal channel ----

#[actix_web::test]
async fn a_new_member_hears_member_added_and_member_removed_on_their_personal_channel() {
    let app = TestApp::start().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bob").await;
    create_channel(&app, &alice, "room", &[]).await;
    let mut bob_rt = online(&app, &bob).await;

    let added = call(
        &app,
        Method::POST,
        "/api/channels/room/members",
        &alice.token,
        json!({"userIds": ["bob"]}),
    )
    .await;

    assert_eq!(
        jwt_claims(&bob.ws_token)["channels"],
        json!([bob.personal.as_str()])
    );
    assert_eq!(json_of(added, 200).await["added"][0]["user"]["id"], "bob");
    let news = event(&mut bob_rt, &bob.personal, "member.added").await;
    assert_eq!(news["channelId"], "room");
    assert_eq!(news["data"]["channel"]["id"], "room");
    assert_eq!(news["data"]["member"]["user"]["id"], "bob");
    assert_eq!(news["data"]["member"]["role"], "member");
    // What the event says is enough to start listening.
    let realtime = news["data"]["channel"]["realtimeChannel"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(subscribe(&app, &mut bob_rt, &bob, "room").await, realtime);

    let removed = call(
        &app,
        Method::DELETE,
        "/api/channels/room/members/bob",
        &alice.token,
        Value::Null,
    )
    .await;

    assert_eq!(removed.status(), 204);
    let gone = event(&mut bob_rt, &bob.personal, "member.removed").await;
    assert_eq!(gone["channelId"], "room");
    assert_eq!(gone["data"], json!({"userId": "bob"}));
}

#[actix_web::test]
async fn channel_deleted_reaches_every_members_personal_channel() {
    let Room {
        app,
        alice,
        bob,
        mut bob_rt,
        realtime,
    } = room().await;
    let mut alice_rt = online(&app, &alice).await;

    let res = call(
        &app,
        Method::DELETE,
        "/api/channels/room",
        &alice.token,
        Value::Null,
    )
    .await;

    assert_eq!(res.status(), 204);
    let on_chat = event(&mut bob_rt, &realtime, "channel.deleted").await;
    assert_eq!(on_chat["data"], json!({"id": "room"}));
    for (rt, who) in [(&mut alice_rt, &alice), (&mut bob_rt, &bob)] {
        let got = event(rt, &who.personal, "channel.deleted").await;
        assert_eq!(got["channelId"], "room", "{}", who.id);
        assert_eq!(got["data"], json!({"id": "room"}), "{}", who.id);
    }
    bob_rt
        .expect("bob unsubscribed from the deleted room", WAIT, |e| {
            is(e, "unsubscribed") && e["channel"] == realtime.as_str()
        })
        .await;
    assert_error(
        subscription_token(&app, &bob, "room").await,
        404,
        "channel_not_found",
    )
    .await;
}

// ---- 6. odd ids ----

#[actix_web::test]
async fn odd_user_and_channel_ids_work_end_to_end() {
    let app = TestApp::start().await;
    let owner = user(&app, "alice@example.com").await;
    let sender = user(&app, "日本語").await;
    let listener = user(&app, "a:b#c,d").await;
    // 128 characters, 185 bytes: the limit counts characters.
    let long_id = format!("long:{}", "é#/".repeat(41));
    assert_eq!(long_id.chars().count(), 128);
    let mut listener_rt = online(&app, &listener).await;

    for channel_id in ["a:b#c,d", "日本語チャンネル", long_id.as_str()] {
        let created = create_channel(&app, &owner, channel_id, &["日本語", "a:b#c,d"]).await;
        let realtime = subscribe(&app, &mut listener_rt, &listener, channel_id).await;
        let fetched = call(
            &app,
            Method::GET,
            &format!("/api/channels/{}", enc(channel_id)),
            &listener.token,
            Value::Null,
        )
        .await;

        let sent = send_message(&app, &sender, channel_id, "こんにちは").await;

        assert_eq!(created["id"], channel_id);
        assert_eq!(created["realtimeChannel"], realtime.as_str());
        assert_eq!(json_of(fetched, 200).await["id"], channel_id);
        let got = event(&mut listener_rt, &realtime, "message.new").await;
        assert_envelope(&got, "message.new", channel_id, 1);
        assert_eq!(got["data"]["id"], sent["id"], "{channel_id}");
        assert_eq!(got["data"]["channelId"], channel_id);
        assert_eq!(got["data"]["user"]["id"], "日本語");
        assert_eq!(got["data"]["text"], "こんにちは");

        let path = format!(
            "/api/channels/{}/members/{}",
            enc(channel_id),
            enc("日本語")
        );
        let removed = call(&app, Method::DELETE, &path, &owner.token, Value::Null).await;

        assert_eq!(removed.status(), 204, "{channel_id}");
        let gone = event(&mut listener_rt, &realtime, "member.removed").await;
        assert_eq!(gone["channelId"], channel_id);
        assert_eq!(gone["data"], json!({"userId": "日本語"}));

        let path = format!(
            "/api/channels/{}/members/{}",
            enc(channel_id),
            enc(&listener.id)
        );
        let left = call(&app, Method::DELETE, &path, &listener.token, Value::Null).await;

        assert_eq!(left.status(), 204, "{channel_id}");
        listener_rt
            .expect("the listener unsubscribed on leaving", WAIT, |e| {
                is(e, "unsubscribed") && e["channel"] == realtime.as_str()
            })
            .await;
    }
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
