//! Chat REST API reactions and read marks (unread counts), against a real server and
//! Centrifugo.

use crate::common::{
    TestApp, assert_error,
    chat::{
        as_key, as_user, ch, create_channel, enc, expect, fill_messages, get_channel, page, room,
        s, send, token,
    },
};
use reqwest::Method;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// Reactions
// ---------------------------------------------------------------------------------------

fn reaction_path(channel: &str, msg: &Value, emoji: &str) -> String {
    format!(
        "{}/messages/{}/reactions/{}",
        ch(channel),
        enc(s(&msg["id"])),
        enc(emoji)
    )
}

#[actix_web::test]
async fn reactions_are_counted_once_per_user_and_own_is_the_callers() {
    let app = TestApp::start().await;
    let r = room(&app).await;
    let m = send(&app, &r.alice, "room", "react to me").await;
    let path = reaction_path("room", &m, "+1");

    expect(as_user(&app, &r.bob, Method::PUT, &path, None).await, 200).await;
    let twice = expect(as_user(&app, &r.bob, Method::PUT, &path, None).await, 200).await;
    assert_eq!(
        twice["reactions"],
        json!({"counts": {"+1": 1}, "own": ["+1"]})
    );

    let by_carol = expect(as_user(&app, &r.carol, Method::PUT, &path, None).await, 200).await;
    assert_eq!(
        by_carol["reactions"],
        json!({"counts": {"+1": 2}, "own": ["+1"]})
    );
    let seen_by_alice = page(&app, &r.alice, "room", "").await;
    assert_eq!(
        seen_by_alice["messages"][0]["reactions"],
        json!({"counts": {"+1": 2}, "own": []})
    );

    let removed = expect(
        as_user(&app, &r.bob, Method::DELETE, &path, None).await,
        200,
    )
    .await;
    let removed_again = expect(
        as_user(&app, &r.bob, Method::DELETE, &path, None).await,
        200,
    )
    .await;
    assert_eq!(
        removed["reactions"],
        json!({"counts": {"+1": 1}, "own": []})
    );
    assert_eq!(removed_again["reactions"], removed["reactions"]);
}

#[actix_web::test]
async fn a_history_page_shows_each_messages_own_reactions_and_no_other_channels() {
    let app = TestApp::start().await;
    let r = room(&app).await;
    create_channel(&app, &r.alice, json!({"id": "other", "members": ["bob"]})).await;
    // Interleaved with another channel's messages, so the pages' message pks are not
    // consecutive; the other channel's reactions must not show up here.
    let mut msgs = Vec::new();
    for i in 0..3 {
        msgs.push(send(&app, &r.alice, "room", &format!("m{i}")).await);
        let noise = send(&app, &r.alice, "other", &format!("o{i}")).await;
        let path = reaction_path("other", &noise, "x");
        expect(as_user(&app, &r.bob, Method::PUT, &path, None).await, 200).await;
    }
    for (who, msg, emoji) in [
        (&r.bob, &msgs[0], "+1"),
        (&r.carol, &msgs[0], "+1"),
        (&r.carol, &msgs[0], "heart"),
        (&r.bob, &msgs[2], "party"),
        (&r.bob, &msgs[2], "+1"),
    ] {
        let path = reaction_path("room", msg, emoji);
        expect(as_user(&app, who, Method::PUT, &path, None).await, 200).await;
    }

    let seen_by_carol = page(&app, &r.carol, "room", "").await;
    let reactions: Vec<&Value> = seen_by_carol["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["reactions"])
        .collect();
    assert_eq!(
        reactions,
        [
            &json!({"counts": {"+1": 2, "heart": 1}, "own": ["+1", "heart"]}),
            &json!({"counts": {}, "own": []}),
            &json!({"counts": {"+1": 1, "party": 1}, "own": []}),
        ]
    );
    // A page that starts in the middle sees the same reactions for its messages.
    let older = page(&app, &r.bob, "room", &format!("?before={}", msgs[2]["seq"])).await;
    assert_eq!(
        older["messages"][0]["reactions"],
        json!({"counts": {"+1": 2, "heart": 1}, "own": ["+1"]})
    );
    assert_eq!(
        older["messages"][1]["reactions"],
        json!({"counts": {}, "own": []})
    );
}

#[actix_web::test]
async fn a_unicode_emoji_works_percent_encoded_in_the_path() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;
    let m = send(&app, &alice, "c", "hi").await;
    let emoji = "👍🏽";

    let res = as_user(
        &app,
        &alice,
        Method::PUT,
        &reaction_path("c", &m, emoji),
        None,
    )
    .await;

    let body = expect(res, 200).await;
    assert_eq!(body["reactions"]["counts"][emoji], 1);
    assert_eq!(body["reactions"]["own"], json!([emoji]));
    let family = "👨‍👩‍👧";
    let body = expect(
        as_user(
            &app,
            &alice,
            Method::PUT,
            &reaction_path("c", &m, family),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(body["reactions"]["counts"][family], 1);
}

#[actix_web::test]
async fn a_reaction_on_a_deleted_message_gets_409() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;
    let m = send(&app, &alice, "c", "hi").await;
    expect(
        as_user(
            &app,
            &alice,
            Method::PUT,
            &reaction_path("c", &m, "x"),
            None,
        )
        .await,
        200,
    )
    .await;
    expect(
        as_user(
            &app,
            &alice,
            Method::DELETE,
            &format!("/api/channels/c/messages/{}", s(&m["id"])),
            None,
        )
        .await,
        200,
    )
    .await;

    let res = as_user(
        &app,
        &alice,
        Method::PUT,
        &reaction_path("c", &m, "y"),
        None,
    )
    .await;

    assert_error(res, 409, "message_deleted").await;
    let tomb = &page(&app, &alice, "c", "").await["messages"][0];
    assert_eq!(tomb["reactions"], json!({"counts": {}, "own": []}));
}

#[actix_web::test]
async fn a_reaction_with_a_space_or_over_32_characters_gets_400() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;
    let m = send(&app, &alice, "c", "hi").await;

    for bad in ["thumbs up", " ", "tab\there", &"x".repeat(33)] {
        let res = as_user(
            &app,
            &alice,
            Method::PUT,
            &reaction_path("c", &m, bad),
            None,
        )
        .await;
        let message = assert_error(res, 400, "invalid_request").await;
        assert!(message.contains("emoji"), "{bad:?}: {message}");
    }
    let at_limit = "x".repeat(32);
    expect(
        as_user(
            &app,
            &alice,
            Method::PUT,
            &reaction_path("c", &m, &at_limit),
            None,
        )
        .await,
        200,
    )
    .await;
    let seen = &page(&app, &alice, "c", "").await["messages"][0]["reactions"]["counts"];
    assert_eq!(seen.as_object().unwrap().len(), 1);
}

/// `.` and `..` are refused as reactions: browsers and Node resolve them away in a path,
/// even percent-encoded, so no web client could ever remove one. Sent raw here, as only a
/// client that skips URL normalisation can.
#[actix_web::test]
async fn a_dot_or_dot_dot_reaction_gets_400() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;
    let m = send(&app, &alice, "c", "hi").await;

    for raw_emoji in ["%2E", "%2E%2E", "..", "."] {
        let path = format!(
            "/api/channels/c/messages/{}/reactions/{raw_emoji}",
            s(&m["id"])
        );
        let addr = app.base.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {alice}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 400") && answer.contains("`emoji` must not be"),
            "{path}: {answer}"
        );
    }
    let seen = &page(&app, &alice, "c", "").await["messages"][0]["reactions"]["counts"];
    assert_eq!(seen, &json!({}));
}

#[actix_web::test]
async fn a_message_takes_20_different_reactions_and_then_only_those() {
    let app = TestApp::start().await;
    let r = room(&app).await;
    let m = send(&app, &r.alice, "room", "react to me").await;
    let put = |tok: &str, emoji: &str| {
        let (tok, path) = (tok.to_string(), reaction_path("room", &m, emoji));
        let app = &app;
        async move { as_user(app, &tok, Method::PUT, &path, None).await }
    };
    for i in 0..20 {
        expect(put(&r.alice, &format!("e{i}")).await, 200).await;
    }

    let res = put(&r.bob, "e20").await;
    let message = assert_error(res, 409, "too_many_reactions").await;
    assert!(message.contains("20"), "{message}");
    let known = expect(put(&r.bob, "e7").await, 200).await;
    assert_eq!(known["reactions"]["counts"].as_object().unwrap().len(), 20);
    assert_eq!(known["reactions"]["counts"]["e7"], 2);

    // A kind that goes away frees its place.
    let path = reaction_path("room", &m, "e0");
    expect(
        as_user(&app, &r.alice, Method::DELETE, &path, None).await,
        200,
    )
    .await;
    let after = expect(put(&r.bob, "e20").await, 200).await;
    let counts = after["reactions"]["counts"].as_object().unwrap();
    assert_eq!(counts.len(), 20);
    assert!(counts.contains_key("e20") && !counts.contains_key("e0"));
}

// ---------------------------------------------------------------------------------------
// Read state
// ---------------------------------------------------------------------------------------

async fn unread(app: &TestApp, tok: &str, channel: &str) -> i64 {
    expect(get_channel(app, tok, channel).await, 200).await["unreadCount"]
        .as_i64()
        .unwrap()
}

async fn mark_read(app: &TestApp, tok: &str, channel: &str, seq: i64) -> Value {
    expect(
        as_user(
            app,
            tok,
            Method::POST,
            &format!("{}/read", ch(channel)),
            Some(json!({ "seq": seq })),
        )
        .await,
        200,
    )
    .await
}

#[actix_web::test]
async fn unread_counts_others_messages_after_the_mark_and_not_your_own() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let bob = token(&app, "bob").await;
    create_channel(&app, &alice, json!({"id": "c", "members": ["bob"]})).await;

    send(&app, &alice, "c", "1").await;
    send(&app, &alice, "c", "2").await;
    assert_eq!(
        (
            unread(&app, &alice, "c").await,
            unread(&app, &bob, "c").await
        ),
        (0, 2)
    );

    send(&app, &bob, "c", "3").await;
    assert_eq!(
        unread(&app, &bob, "c").await,
        0,
        "replying reads what came before"
    );
    assert_eq!(unread(&app, &alice, "c").await, 1);

    as_key(
        &app,
        Method::POST,
        "/api/channels/c/messages",
        Some(json!({"text": "system"})),
    )
    .await;
    assert_eq!(
        (
            unread(&app, &alice, "c").await,
            unread(&app, &bob, "c").await
        ),
        (2, 1)
    );
    let listed = expect(
        as_user(&app, &bob, Method::GET, "/api/channels", None).await,
        200,
    )
    .await;
    assert_eq!(listed["channels"][0]["unreadCount"], 1);
}

/// A reader far behind sees `unreadCount` 1000 ("1000 or more"), not the exact number,
/// whose counting would cost a read of every message behind them.
#[actix_web::test]
async fn unread_counts_stop_at_1000() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let bob = token(&app, "bob").await;
    create_channel(&app, &alice, json!({"id": "c", "members": ["bob"]})).await;
    send(&app, &alice, "c", "1").await;
    // 1,499 more of alice's.
    fill_messages(&app, "c", 1500);

    assert_eq!(unread(&app, &bob, "c").await, 1000);
    mark_read(&app, &bob, "c", 600).await;
    assert_eq!(unread(&app, &bob, "c").await, 900, "exact below the cap");
    assert_eq!(unread(&app, &alice, "c").await, 0);
}

#[actix_web::test]
async fn the_read_mark_moves_forward_only_and_stops_at_the_last_message() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let bob = token(&app, "bob").await;
    create_channel(&app, &alice, json!({"id": "c", "members": ["bob"]})).await;
    for i in 1..=5 {
        send(&app, &alice, "c", &i.to_string()).await;
    }

    assert_eq!(mark_read(&app, &bob, "c", 3).await, json!({"seq": 3}));
    assert_eq!(unread(&app, &bob, "c").await, 2);
    assert_eq!(
        mark_read(&app, &bob, "c", 1).await,
        json!({"seq": 3}),
        "never backwards"
    );
    assert_eq!(unread(&app, &bob, "c").await, 2);
    assert_eq!(
        mark_read(&app, &bob, "c", 999).await,
        json!({"seq": 5}),
        "capped"
    );
    assert_eq!(unread(&app, &bob, "c").await, 0);

    send(&app, &alice, "c", "6").await;
    assert_eq!(
        unread(&app, &bob, "c").await,
        1,
        "the cap did not pre-read the next one"
    );
    let res = as_user(
        &app,
        &bob,
        Method::POST,
        "/api/channels/c/read",
        Some(json!({"seq": -1})),
    )
    .await;
    assert_error(res, 400, "invalid_request").await;
    let bob_row = expect(
        as_user(&app, &alice, Method::GET, "/api/channels/c/members", None).await,
        200,
    )
    .await["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user"]["id"] == "bob")
        .cloned()
        .unwrap();
    assert_eq!(bob_row["readSeq"], 5);
}

#[actix_web::test]
async fn deleted_messages_do_not_count_as_unread() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let bob = token(&app, "bob").await;
    create_channel(&app, &alice, json!({"id": "c", "members": ["bob"]})).await;
    send(&app, &alice, "c", "1").await;
    let oops = send(&app, &alice, "c", "oops").await;
    send(&app, &alice, "c", "3").await;
    assert_eq!(unread(&app, &bob, "c").await, 3);

    expect(
        as_user(
            &app,
            &alice,
            Method::DELETE,
            &format!("/api/channels/c/messages/{}", s(&oops["id"])),
            None,
        )
        .await,
        200,
    )
    .await;

    assert_eq!(unread(&app, &bob, "c").await, 2);
}

#[actix_web::test]
async fn a_key_caller_marks_read_for_the_user_it_names() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let bob = token(&app, "bob").await;
    create_channel(&app, &alice, json!({"id": "c", "members": ["bob"]})).await;
    send(&app, &alice, "c", "1").await;
    send(&app, &alice, "c", "2").await;

    let res = as_key(
        &app,
        Method::POST,
        "/api/channels/c/read",
        Some(json!({"seq": 1, "userId": "bob"})),
    )
    .await;

    assert_eq!(expect(res, 200).await, json!({"seq": 1}));
    assert_eq!(unread(&app, &bob, "c").await, 1);
}
