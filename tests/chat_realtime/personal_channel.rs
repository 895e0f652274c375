//! Each user's personal channel: membership news and deleted channels.

use super::harness::{
    Room, WAIT, call, create_channel, delete_channel, event, json_of, online, remove_member, room,
    subscribe, subscription_token, user,
};
use crate::common::rt_client::is;
use crate::common::{TestApp, assert_error, jwt_claims};
use reqwest::Method;
use serde_json::json;

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

    let removed = remove_member(&app, &alice, "room", "bob").await;

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

    let res = delete_channel(&app, &alice, "room").await;

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
