//! The helpers: REST calls as a user, users with their tokens, online clients, expected events.

use crate::common;
use crate::common::TestApp;
use crate::common::chat::enc;
use crate::common::rt_client::{RtClient, SubOptions, is};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

/// How long one expected event may take.
pub(super) const WAIT: Duration = Duration::from_secs(8);
/// How long we watch for an event that must not come, once a later one has arrived
/// elsewhere (so the relay has already published it).
const QUIET: Duration = Duration::from_millis(500);
/// Centrifugo's client error "permission denied".
pub(super) const PERMISSION_DENIED: i64 = 103;

/// One request to the service as the bearer of `token`; `Value::Null` sends no body.
pub(super) async fn call(
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
pub(super) async fn json_of(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// A user of one app with both tokens and their personal channel.
pub(super) struct User {
    pub(super) id: String,
    pub(super) token: String,
    pub(super) ws_token: String,
    pub(super) personal: String,
}

pub(super) async fn user(app: &TestApp, id: &str) -> User {
    user_of(app, &app.api_key, id).await
}

/// A user of the app whose API key is `key`.
pub(super) async fn user_of(app: &TestApp, key: &str, id: &str) -> User {
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
pub(super) async fn online(app: &TestApp, user: &User) -> RtClient {
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
pub(super) async fn create_channel(
    app: &TestApp,
    owner: &User,
    id: &str,
    members: &[&str],
) -> Value {
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

pub(super) async fn subscription_token(
    app: &TestApp,
    user: &User,
    channel_id: &str,
) -> reqwest::Response {
    let path = format!("/api/channels/{}/subscription-token", enc(channel_id));
    call(app, Method::POST, &path, &user.token, Value::Null).await
}

/// Gets `user` a subscription token for `channel_id` and subscribes `client` with it;
/// returns the realtime channel.
pub(super) async fn subscribe(
    app: &TestApp,
    client: &mut RtClient,
    user: &User,
    channel_id: &str,
) -> String {
    subscribe_with(app, client, user, channel_id, SubOptions::default()).await
}

pub(super) async fn subscribe_with(
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

/// `by` removes `member` from `channel_id` (`DELETE …/members/{userId}`).
pub(super) async fn remove_member(
    app: &TestApp,
    by: &User,
    channel_id: &str,
    member: &str,
) -> reqwest::Response {
    let path = format!("/api/channels/{}/members/{}", enc(channel_id), enc(member));
    call(app, Method::DELETE, &path, &by.token, Value::Null).await
}

/// `by` deletes `channel_id` (`DELETE /api/channels/{id}`).
pub(super) async fn delete_channel(
    app: &TestApp,
    by: &User,
    channel_id: &str,
) -> reqwest::Response {
    let path = format!("/api/channels/{}", enc(channel_id));
    call(app, Method::DELETE, &path, &by.token, Value::Null).await
}

/// The path of a message as `send_message` returned it (`…/messages/{id}`).
pub(super) fn message_path(channel_id: &str, message: &Value) -> String {
    let id = message["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {message}"));
    format!("/api/channels/{}/messages/{}", enc(channel_id), enc(id))
}

pub(super) async fn send_message(
    app: &TestApp,
    sender: &User,
    channel_id: &str,
    text: &str,
) -> Value {
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
pub(super) async fn event(client: &mut RtClient, channel: &str, kind: &str) -> Value {
    let publication = client
        .expect(&format!("{kind} on {channel}"), WAIT, |e| {
            is(e, "publication") && e["channel"] == channel && e["data"]["type"] == kind
        })
        .await;
    publication["data"].clone()
}

/// Asserts that no publication on `channel` carries data matching `pred`.
pub(super) async fn assert_nothing(
    client: &mut RtClient,
    channel: &str,
    pred: impl Fn(&Value) -> bool,
) {
    client
        .expect_none(&format!("matching publication on {channel}"), QUIET, |e| {
            is(e, "publication") && e["channel"] == channel && pred(&e["data"])
        })
        .await;
}

/// Asserts the envelope's fixed fields: type, a fresh event id, channel id and seq.
pub(super) fn assert_envelope(envelope: &Value, kind: &str, channel_id: &str, seq: i64) {
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
pub(super) struct Room {
    pub(super) app: TestApp,
    pub(super) alice: User,
    pub(super) bob: User,
    pub(super) bob_rt: RtClient,
    pub(super) realtime: String,
}

pub(super) async fn room() -> Room {
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
