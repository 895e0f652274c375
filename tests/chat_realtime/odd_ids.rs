//! Odd user and channel ids (non-ASCII, reserved characters, 128 characters) end to end.

use super::harness::{
    WAIT, assert_envelope, call, create_channel, event, json_of, online, send_message, subscribe,
    user,
};
use crate::common::TestApp;
use crate::common::chat::enc;
use crate::common::rt_client::is;
use reqwest::Method;
use serde_json::{Value, json};

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
