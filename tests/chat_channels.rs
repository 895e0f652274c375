//! Chat REST API channels: create, get, patch, delete, list and page, direct channels
//! and isolation between apps, against a real server and Centrifugo.

use crate::common::{
    TestApp, assert_error,
    chat::{
        as_key, as_user, call, channel_ids, create_channel, enc, expect, fill_messages,
        get_channel, room, s, send, token,
    },
};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

#[actix_web::test]
async fn creating_a_channel_with_an_id_keeps_it_and_without_one_makes_one() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;

    let named = create_channel(
        &app,
        &alice,
        json!({"id": "general", "name": "General", "custom": {"topic": "all"}, "members": ["bob"]}),
    )
    .await;
    let unnamed = create_channel(&app, &alice, json!({})).await;

    assert_eq!(named["id"], "general");
    assert_eq!(named["name"], "General");
    assert_eq!(named["custom"], json!({"topic": "all"}));
    assert_eq!(named["type"], "group");
    assert_eq!(named["role"], "owner");
    assert_eq!(named["memberCount"], 2);
    assert_eq!(named["lastSeq"], 0);
    assert_eq!(named["unreadCount"], 0);
    assert_eq!(named["lastMessage"], Value::Null);
    assert!(s(&named["realtimeChannel"]).starts_with("chat:"));
    assert!(!s(&unnamed["id"]).is_empty());
    assert_ne!(unnamed["id"], named["id"]);
    assert_ne!(unnamed["realtimeChannel"], named["realtimeChannel"]);
    let fetched = expect(get_channel(&app, &alice, s(&unnamed["id"])).await, 200).await;
    assert_eq!(fetched["id"], unnamed["id"]);
}

#[actix_web::test]
async fn retrying_a_create_as_a_member_answers_200_with_the_same_channel() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let bob = token(&app, "bob").await;
    let first = create_channel(&app, &alice, json!({"id": "c", "members": ["bob"]})).await;

    let again = expect(
        as_user(
            &app,
            &alice,
            Method::POST,
            "/api/channels",
            Some(json!({"id": "c", "name": "other"})),
        )
        .await,
        200,
    )
    .await;
    let by_member = expect(
        as_user(
            &app,
            &bob,
            Method::POST,
            "/api/channels",
            Some(json!({"id": "c"})),
        )
        .await,
        200,
    )
    .await;

    assert_eq!(again["realtimeChannel"], first["realtimeChannel"]);
    assert_eq!(again["name"], Value::Null, "a retry changes nothing");
    assert_eq!(by_member["realtimeChannel"], first["realtimeChannel"]);
    assert_eq!(by_member["role"], "member");
}

#[actix_web::test]
async fn creating_an_existing_id_as_a_non_member_gets_409_channel_exists() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let mallory = token(&app, "mallory").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;

    let res = as_user(
        &app,
        &mallory,
        Method::POST,
        "/api/channels",
        Some(json!({"id": "c"})),
    )
    .await;

    assert_error(res, 409, "channel_exists").await;
    assert_error(
        get_channel(&app, &mallory, "c").await,
        404,
        "channel_not_found",
    )
    .await;
}

#[actix_web::test]
async fn a_non_member_gets_the_same_404_as_for_a_channel_that_does_not_exist() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let mallory = token(&app, "mallory").await;
    create_channel(&app, &alice, json!({"id": "secret"})).await;

    let hidden = get_channel(&app, &mallory, "secret").await;
    let missing = get_channel(&app, &mallory, "no-such-channel").await;

    let hidden_message = assert_error(hidden, 404, "channel_not_found").await;
    let missing_message = assert_error(missing, 404, "channel_not_found").await;
    assert_eq!(hidden_message, missing_message);
    for (method, path, body) in [
        (Method::GET, "/api/channels/secret/messages", None),
        (Method::GET, "/api/channels/secret/members", None),
        (
            Method::POST,
            "/api/channels/secret/messages",
            Some(json!({"text": "let me in"})),
        ),
        (
            Method::PATCH,
            "/api/channels/secret",
            Some(json!({"name": "mine"})),
        ),
        (Method::DELETE, "/api/channels/secret", None),
    ] {
        let res = as_user(&app, &mallory, method, path, body).await;
        assert_error(res, 404, "channel_not_found").await;
    }
}

#[actix_web::test]
async fn another_apps_channel_is_invisible_and_its_id_is_free_there() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "shared-name", "name": "A's"})).await;
    let other = app.cli_json(&["app", "create", "--name", "other"]);
    let other_key = s(&other["apiKey"]).to_string();
    let other_alice: Value = app
        .post_tokens_with_key(&other_key, &json!({"userId": "alice"}))
        .await
        .json()
        .await
        .unwrap();
    let other_alice = s(&other_alice["token"]).to_string();

    let by_token = get_channel(&app, &other_alice, "shared-name").await;
    let by_key = call(
        &app,
        Method::GET,
        "/api/channels/shared-name",
        None,
        Some(&other_key),
        None,
    )
    .await;
    let created_there = as_user(
        &app,
        &other_alice,
        Method::POST,
        "/api/channels",
        Some(json!({"id": "shared-name", "name": "B's"})),
    )
    .await;

    assert_error(by_token, 404, "channel_not_found").await;
    assert_error(by_key, 404, "channel_not_found").await;
    let created_there = expect(created_there, 201).await;
    assert_eq!(created_there["name"], "B's");
    let still_ours = expect(get_channel(&app, &alice, "shared-name").await, 200).await;
    assert_eq!(still_ours["name"], "A's");
    assert_ne!(
        still_ours["realtimeChannel"],
        created_there["realtimeChannel"]
    );
}

#[actix_web::test]
async fn patching_a_channel_takes_an_admin_or_owner_and_merges_custom() {
    let app = TestApp::start().await;
    let r = room(&app).await;
    expect(
        as_user(
            &app,
            &r.alice,
            Method::PATCH,
            "/api/channels/room",
            Some(json!({"name": "Room", "custom": {"a": 1, "b": {"c": 2, "d": 3}}})),
        )
        .await,
        200,
    )
    .await;

    let by_member = as_user(
        &app,
        &r.bob,
        Method::PATCH,
        "/api/channels/room",
        Some(json!({"name": "hijacked"})),
    )
    .await;
    let by_admin = as_user(
        &app,
        &r.dave,
        Method::PATCH,
        "/api/channels/room",
        Some(json!({"custom": {"a": null, "b": {"c": 20}, "e": true}})),
    )
    .await;

    assert_error(by_member, 403, "forbidden").await;
    let patched = expect(by_admin, 200).await;
    assert_eq!(patched["name"], "Room", "absent name is kept");
    assert_eq!(
        patched["custom"],
        json!({"b": {"c": 20, "d": 3}, "e": true})
    );
    let seen = expect(get_channel(&app, &r.bob, "room").await, 200).await;
    assert_eq!(seen["custom"], patched["custom"]);
    assert_eq!(seen["name"], "Room");
}

#[actix_web::test]
async fn only_the_owner_deletes_a_channel_and_then_it_is_gone() {
    let app = TestApp::start().await;
    let r = room(&app).await;

    let by_admin = as_user(&app, &r.dave, Method::DELETE, "/api/channels/room", None).await;
    assert_error(by_admin, 403, "forbidden").await;
    expect(get_channel(&app, &r.bob, "room").await, 200).await;

    let by_owner = as_user(&app, &r.alice, Method::DELETE, "/api/channels/room", None).await;

    assert_eq!(by_owner.status(), 204);
    for tok in [&r.alice, &r.bob, &r.dave] {
        assert_error(
            get_channel(&app, tok, "room").await,
            404,
            "channel_not_found",
        )
        .await;
        assert!(channel_ids(&app, tok).await.is_empty());
    }
}

/// A channel with more messages than one write job deletes (`PURGE_CHUNK`) is gone for
/// every caller at once, its id free again; its messages and their reactions are then
/// purged in the background.
#[actix_web::test]
async fn a_channel_with_many_messages_is_gone_at_once_and_purged_after() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let bob = token(&app, "bob").await;
    let created = create_channel(&app, &alice, json!({"id": "big", "members": ["bob"]})).await;
    let first = send(&app, &alice, "big", "1").await;
    let reaction = format!(
        "/api/channels/big/messages/{}/reactions/ok",
        s(&first["id"])
    );
    expect(as_user(&app, &bob, Method::PUT, &reaction, None).await, 200).await;
    // 2,499 more.
    let pk = fill_messages(&app, "big", 2500);
    const { assert!(2500 > chatsdk::db::channels::PURGE_CHUNK) };

    let deleted = as_user(&app, &alice, Method::DELETE, "/api/channels/big", None).await;

    assert_eq!(deleted.status(), 204);
    for tok in [&alice, &bob] {
        assert_error(
            get_channel(&app, tok, "big").await,
            404,
            "channel_not_found",
        )
        .await;
        assert!(channel_ids(&app, tok).await.is_empty());
    }
    // Nor does its realtime name lead to it, for the backend's key either.
    let by_name = as_key(
        &app,
        Method::POST,
        "/api/subscription-token",
        Some(json!({"channel": created["realtimeChannel"], "userId": "alice"})),
    )
    .await;
    assert_error(by_name, 404, "channel_not_found").await;
    // The id is free again, with nothing of the old channel in it.
    let again = create_channel(&app, &alice, json!({"id": "big"})).await;
    assert_ne!(again["realtimeChannel"], created["realtimeChannel"]);
    let page = expect(
        as_user(
            &app,
            &alice,
            Method::GET,
            "/api/channels/big/messages",
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(page["messages"], json!([]));

    // The purge: the messages, their reactions and the row go, without another request.
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    let left = || {
        conn.query_row(
            "SELECT (SELECT count(*) FROM messages WHERE channel_pk = ?1)
                  + (SELECT count(*) FROM reactions)
                  + (SELECT count(*) FROM channels WHERE pk = ?1)",
            [pk],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
    };
    let started = std::time::Instant::now();
    while left() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{} rows of the deleted channel left after 20 s",
            left()
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn the_channel_list_shows_newest_activity_first() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    for id in ["one", "two", "three"] {
        create_channel(&app, &alice, json!({ "id": id })).await;
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(channel_ids(&app, &alice).await, ["three", "two", "one"]);

    let msg = send(&app, &alice, "one", "bump").await;

    assert_eq!(channel_ids(&app, &alice).await, ["one", "three", "two"]);
    let list = expect(
        as_user(&app, &alice, Method::GET, "/api/channels", None).await,
        200,
    )
    .await;
    let first = &list["channels"][0];
    assert_eq!(first["lastMessage"]["id"], msg["id"]);
    assert_eq!(first["role"], "owner");
    assert_eq!(first["unreadCount"], 0);
    assert_eq!(list["nextCursor"], Value::Null);
}

#[actix_web::test]
async fn the_channel_list_pages_through_every_channel_once() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let mut made: Vec<String> = Vec::new();
    for i in 0..11 {
        let c = create_channel(&app, &alice, json!({ "id": format!("c{i}") })).await;
        made.push(s(&c["id"]).to_string());
    }

    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/channels?limit=4&cursor={}", enc(c)),
            None => "/api/channels?limit=4".to_string(),
        };
        let body = expect(as_user(&app, &alice, Method::GET, &path, None).await, 200).await;
        pages += 1;
        let got = body["channels"].as_array().unwrap();
        assert!(got.len() <= 4);
        seen.extend(got.iter().map(|c| s(&c["id"]).to_string()));
        match body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
        assert!(pages < 10, "the cursor never ends");
    }

    assert_eq!(pages, 3);
    made.reverse();
    assert_eq!(seen, made, "newest first, each exactly once");
}

#[actix_web::test]
async fn a_cursor_the_api_never_gave_gets_400() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    for cursor in ["!!!", "Zm9v", "bm90LmFudW1iZXI"] {
        let res = as_user(
            &app,
            &alice,
            Method::GET,
            &format!("/api/channels?cursor={cursor}"),
            None,
        )
        .await;
        let message = assert_error(res, 400, "invalid_request").await;
        assert!(message.contains("cursor"), "{message}");
    }
    for limit in ["0", "101", "-1", "x"] {
        let res = as_user(
            &app,
            &alice,
            Method::GET,
            &format!("/api/channels?limit={limit}"),
            None,
        )
        .await;
        assert_error(res, 400, "invalid_request").await;
    }
}

#[actix_web::test]
async fn a_direct_channel_is_one_per_pair_whoever_starts_it() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let bob = token(&app, "bob").await;

    let first = expect(
        as_user(
            &app,
            &alice,
            Method::POST,
            "/api/channels/direct",
            Some(json!({"userId": "bob"})),
        )
        .await,
        201,
    )
    .await;
    let back = expect(
        as_user(
            &app,
            &bob,
            Method::POST,
            "/api/channels/direct",
            Some(json!({"userId": "alice"})),
        )
        .await,
        200,
    )
    .await;
    let by_key = expect(
        as_key(
            &app,
            Method::POST,
            "/api/channels/direct?userId=alice",
            Some(json!({"userId": "bob"})),
        )
        .await,
        200,
    )
    .await;

    assert_eq!(first["type"], "direct");
    assert_eq!(first["memberCount"], 2);
    assert_eq!(back["id"], first["id"]);
    assert_eq!(by_key["id"], first["id"]);
    assert_eq!(back["realtimeChannel"], first["realtimeChannel"]);
    let with_self = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels/direct",
        Some(json!({"userId": "alice"})),
    )
    .await;
    assert_error(with_self, 400, "invalid_request").await;
    assert_eq!(channel_ids(&app, &alice).await, [s(&first["id"])]);
}

#[actix_web::test]
async fn opening_a_direct_channel_again_after_leaving_it_brings_you_back() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    token(&app, "bob").await;
    let open = || {
        as_user(
            &app,
            &alice,
            Method::POST,
            "/api/channels/direct",
            Some(json!({"userId": "bob"})),
        )
    };
    let first = expect(open().await, 201).await;
    let id = s(&first["id"]);
    let left = as_user(
        &app,
        &alice,
        Method::DELETE,
        &format!("/api/channels/{id}/members/alice"),
        None,
    )
    .await;
    assert_eq!(left.status(), 204);

    let again = expect(open().await, 200).await;

    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["memberCount"], 2);
    assert_eq!(again["role"], "member");
    assert_eq!(channel_ids(&app, &alice).await, [id]);
}
