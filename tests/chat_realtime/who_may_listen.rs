//! Who may not listen to a channel, and a removed member who stops listening.

use super::harness::{
    PERMISSION_DENIED, WAIT, assert_nothing, call, create_channel, delete_channel, event, json_of,
    online, remove_member, send_message, subscribe, subscription_token, user, user_of,
};
use crate::common::rt_client::{SubOptions, is};
use crate::common::{TestApp, assert_error, jwt_claims};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

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

    let removed = remove_member(&app, &alice, "room", "bob").await;

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
    let app = TestApp::start_with(|a| a.client.sub_token_ttl = 2).await;
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
    let removed = remove_member(&app, &alice, "room", "bob").await;
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
    let deleted = delete_channel(&app, &alice, "room").await;
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
