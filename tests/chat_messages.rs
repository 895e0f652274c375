//! Chat REST API messages: send, retry, page, edit, delete, replies and field limits,
//! against a real server and Centrifugo.

use crate::common::{
    TestApp, assert_error,
    chat::{
        as_key, as_user, channel_ids, create_channel, expect, get_channel, page, room, s, send,
        seqs, token,
    },
};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashSet;

#[actix_web::test]
async fn sending_answers_201_and_seq_rises_by_one_per_channel() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "a"})).await;
    create_channel(&app, &alice, json!({"id": "b"})).await;

    let mut got = Vec::new();
    for channel in ["a", "b", "a", "a", "b"] {
        got.push((channel, send(&app, &alice, channel, "hi").await));
    }

    let seq_of = |c: &str| -> Vec<i64> {
        got.iter()
            .filter(|(ch, _)| *ch == c)
            .map(|(_, m)| m["seq"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(seq_of("a"), [1, 2, 3]);
    assert_eq!(seq_of("b"), [1, 2]);
    let m = &got[0].1;
    assert_eq!(m["channelId"], "a");
    assert_eq!(
        m["user"],
        json!({"id": "alice", "name": null, "image": null})
    );
    assert_eq!(m["text"], "hi");
    assert_eq!(m["custom"], json!({}));
    assert_eq!(m["parentId"], Value::Null);
    assert!(m["createdAt"].is_string());
    assert_eq!(m["editedAt"], Value::Null);
    assert_eq!(m["deletedAt"], Value::Null);
    assert_eq!(m["reactions"], json!({"counts": {}, "own": []}));
    let channel = expect(get_channel(&app, &alice, "a").await, 200).await;
    assert_eq!(channel["lastSeq"], 3);
}

#[actix_web::test]
async fn a_key_caller_without_user_id_sends_a_system_message() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;

    let res = as_key(
        &app,
        Method::POST,
        "/api/channels/c/messages",
        Some(json!({"text": "Welcome!"})),
    )
    .await;

    let m = expect(res, 201).await;
    assert_eq!(m["user"], Value::Null);
    assert_eq!(
        page(&app, &alice, "c", "").await["messages"][0]["id"],
        m["id"]
    );
}

#[actix_web::test]
async fn a_retry_with_the_same_client_msg_id_answers_200_with_the_first_message() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;
    let body = json!({"text": "once", "clientMsgId": "cm-1"});

    let first = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels/c/messages",
        Some(body.clone()),
    )
    .await;
    let retry = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels/c/messages",
        Some(json!({"text": "different text", "clientMsgId": "cm-1"})),
    )
    .await;

    let first = expect(first, 201).await;
    let retry = expect(retry, 200).await;
    assert_eq!(retry["id"], first["id"]);
    assert_eq!(retry["text"], "once");
    assert_eq!(seqs(&page(&app, &alice, "c", "").await), [1]);
}

#[actix_web::test]
async fn twenty_concurrent_sends_with_one_client_msg_id_make_one_message() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;

    let calls: Vec<_> = (0..20)
        .map(|_| {
            let request = app
                .http
                .post(format!("{}/api/channels/c/messages", app.base))
                .bearer_auth(&alice)
                .json(&json!({"text": "race", "clientMsgId": "same"}));
            actix_web::rt::spawn(async move {
                let res = request.send().await.unwrap();
                let status = res.status().as_u16();
                (status, res.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap());
    }

    let created = answers.iter().filter(|(st, _)| *st == 201).count();
    let repeated = answers.iter().filter(|(st, _)| *st == 200).count();
    assert_eq!((created, repeated), (1, 19), "{answers:?}");
    let ids: HashSet<&str> = answers.iter().map(|(_, b)| s(&b["id"])).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(seqs(&page(&app, &alice, "c", "").await), [1]);
}

#[actix_web::test]
async fn a_thousand_messages_page_forwards_and_backwards_without_gap_or_repeat() {
    // One user sending 1,000 messages in seconds is far past the default write limit.
    let app = TestApp::start_with(|a| {
        a.rate_limits.rate_limit_user_writes = "2000/min".parse().unwrap();
    })
    .await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "big"})).await;
    // Concurrent batches: the writer commits each batch together, and seq must still
    // come out 1..=1000 without gaps.
    for batch in 0..10 {
        let calls: Vec<_> = (0..100)
            .map(|i| {
                let request = app
                    .http
                    .post(format!("{}/api/channels/big/messages", app.base))
                    .bearer_auth(&alice)
                    .json(&json!({ "text": format!("m{}", batch * 100 + i) }));
                actix_web::rt::spawn(request.send())
            })
            .collect();
        for call in calls {
            assert_eq!(call.await.unwrap().unwrap().status(), 201);
        }
    }
    let all: Vec<i64> = (1..=1000).collect();

    // Forwards with after=, an odd page size.
    let mut forwards: Vec<i64> = Vec::new();
    let mut texts = HashSet::new();
    let mut after = 0;
    loop {
        let p = page(&app, &alice, "big", &format!("?after={after}&limit=37")).await;
        let got = seqs(&p);
        texts.extend(
            p["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| s(&m["text"]).to_string()),
        );
        forwards.extend(&got);
        let more = p["hasMore"].as_bool().unwrap();
        assert_eq!(more, forwards.len() < 1000, "hasMore after {after}");
        if !more {
            break;
        }
        after = *got.last().unwrap();
    }
    assert_eq!(forwards, all);
    assert_eq!(texts.len(), 1000, "every message once");

    // Backwards with before=, from the latest page.
    let mut backwards: Vec<i64> = Vec::new();
    let mut p = page(&app, &alice, "big", "?limit=200").await;
    loop {
        let got = seqs(&p);
        assert!(
            got.windows(2).all(|w| w[0] + 1 == w[1]),
            "ascending within a page"
        );
        let mut next = got.clone();
        next.extend(&backwards);
        backwards = next;
        let more = p["hasMore"].as_bool().unwrap();
        assert_eq!(more, backwards.len() < 1000, "hasMore before {}", got[0]);
        if !more {
            break;
        }
        p = page(
            &app,
            &alice,
            "big",
            &format!("?before={}&limit=200", got[0]),
        )
        .await;
    }
    assert_eq!(backwards, all);

    // The ends.
    let latest = page(&app, &alice, "big", "").await;
    assert_eq!(seqs(&latest), (951..=1000).collect::<Vec<_>>());
    assert_eq!(latest["hasMore"], true);
    let past_end = page(&app, &alice, "big", "?after=1000").await;
    assert_eq!(
        (seqs(&past_end).len(), &past_end["hasMore"]),
        (0, &json!(false))
    );
    let before_start = page(&app, &alice, "big", "?before=1").await;
    assert_eq!(
        (seqs(&before_start).len(), &before_start["hasMore"]),
        (0, &json!(false))
    );
    let last_two = page(&app, &alice, "big", "?after=998").await;
    assert_eq!(
        (seqs(&last_two), &last_two["hasMore"]),
        (vec![999, 1000], &json!(false))
    );
}

#[actix_web::test]
async fn bad_page_parameters_get_400() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;

    // Each with the parameter its message must name.
    for (query, names) in [
        ("?limit=0", "limit"),
        ("?limit=201", "limit"),
        ("?before=5&after=1", "before"),
        ("?before=-1", "before"),
        ("?after=x", "after"),
        ("?after=1.0", "after"),
        ("?limit=1&limit=2", "limit"),
        ("?sort=asc", "sort"),
    ] {
        let res = as_user(
            &app,
            &alice,
            Method::GET,
            &format!("/api/channels/c/messages{query}"),
            None,
        )
        .await;
        let message = assert_error(res, 400, "invalid_request").await;
        assert!(message.contains(names), "{query}: {message}");
    }
    assert_eq!(
        page(&app, &alice, "c", "?limit=200").await["hasMore"],
        false
    );
}

#[actix_web::test]
async fn the_author_edits_a_message_and_another_member_may_not() {
    let app = TestApp::start().await;
    let r = room(&app).await;
    let m = send(&app, &r.bob, "room", "helo").await;
    let path = format!("/api/channels/room/messages/{}", s(&m["id"]));

    let by_other = as_user(
        &app,
        &r.carol,
        Method::PATCH,
        &path,
        Some(json!({"text": "pwned"})),
    )
    .await;
    let by_owner = as_user(
        &app,
        &r.alice,
        Method::PATCH,
        &path,
        Some(json!({"text": "pwned"})),
    )
    .await;
    let by_author = as_user(
        &app,
        &r.bob,
        Method::PATCH,
        &path,
        Some(json!({"text": "hello", "custom": {"fixed": true}})),
    )
    .await;

    assert_error(by_other, 403, "forbidden").await;
    assert_error(by_owner, 403, "forbidden").await;
    let edited = expect(by_author, 200).await;
    assert_eq!(edited["text"], "hello");
    assert_eq!(edited["custom"], json!({"fixed": true}));
    assert!(edited["editedAt"].is_string());
    assert_eq!(edited["seq"], m["seq"]);
    assert_eq!(
        page(&app, &r.carol, "room", "").await["messages"][0]["text"],
        "hello"
    );
}

#[actix_web::test]
async fn deleting_leaves_a_tombstone_in_history_at_its_seq() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;
    send(&app, &alice, "c", "one").await;
    let m = send(&app, &alice, "c", "two").await;
    send(&app, &alice, "c", "three").await;

    let res = as_user(
        &app,
        &alice,
        Method::DELETE,
        &format!("/api/channels/c/messages/{}", s(&m["id"])),
        None,
    )
    .await;

    let tomb = expect(res, 200).await;
    assert_eq!(tomb["text"], Value::Null);
    assert!(tomb["deletedAt"].is_string());
    assert_eq!(tomb["id"], m["id"]);
    let history = page(&app, &alice, "c", "").await;
    assert_eq!(seqs(&history), [1, 2, 3]);
    assert_eq!(history["messages"][1]["id"], m["id"]);
    assert_eq!(history["messages"][1]["text"], Value::Null);
    assert_eq!(
        send(&app, &alice, "c", "four").await["seq"],
        4,
        "no seq reused"
    );
}

#[actix_web::test]
async fn an_admin_or_owner_deletes_someone_elses_message_and_a_member_may_not() {
    let app = TestApp::start().await;
    let r = room(&app).await;
    let first = send(&app, &r.bob, "room", "one").await;
    let second = send(&app, &r.bob, "room", "two").await;
    let path = |m: &Value| format!("/api/channels/room/messages/{}", s(&m["id"]));

    let by_member = as_user(&app, &r.carol, Method::DELETE, &path(&first), None).await;
    let by_admin = as_user(&app, &r.dave, Method::DELETE, &path(&first), None).await;
    let by_owner = as_user(&app, &r.alice, Method::DELETE, &path(&second), None).await;

    assert_error(by_member, 403, "forbidden").await;
    assert!(expect(by_admin, 200).await["deletedAt"].is_string());
    assert!(expect(by_owner, 200).await["deletedAt"].is_string());
}

#[actix_web::test]
async fn editing_a_deleted_message_gets_409_message_deleted() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;
    let m = send(&app, &alice, "c", "gone soon").await;
    let path = format!("/api/channels/c/messages/{}", s(&m["id"]));
    expect(
        as_user(&app, &alice, Method::DELETE, &path, None).await,
        200,
    )
    .await;

    let res = as_user(
        &app,
        &alice,
        Method::PATCH,
        &path,
        Some(json!({"text": "back"})),
    )
    .await;

    assert_error(res, 409, "message_deleted").await;
    assert_eq!(
        page(&app, &alice, "c", "").await["messages"][0]["text"],
        Value::Null
    );
}

#[actix_web::test]
async fn an_unknown_message_gets_404_message_not_found() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;

    let res = as_user(
        &app,
        &alice,
        Method::PATCH,
        "/api/channels/c/messages/msg_nope",
        Some(json!({"text": "x"})),
    )
    .await;

    assert_error(res, 404, "message_not_found").await;
}

#[actix_web::test]
async fn a_reply_must_name_a_message_of_the_same_channel() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "a"})).await;
    create_channel(&app, &alice, json!({"id": "b"})).await;
    let in_a = send(&app, &alice, "a", "parent").await;

    let across = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels/b/messages",
        Some(json!({"text": "reply", "parentId": in_a["id"]})),
    )
    .await;
    let within = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels/a/messages",
        Some(json!({"text": "reply", "parentId": in_a["id"]})),
    )
    .await;

    let message = assert_error(across, 400, "invalid_request").await;
    assert!(message.contains("parentId"), "{message}");
    assert_eq!(expect(within, 201).await["parentId"], in_a["id"]);
    assert_eq!(seqs(&page(&app, &alice, "b", "").await), Vec::<i64>::new());
}

#[actix_web::test]
async fn message_text_is_one_to_4000_characters_without_control_characters() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;
    let post = |text: String| {
        as_user(
            &app,
            &alice,
            Method::POST,
            "/api/channels/c/messages",
            Some(json!({ "text": text })),
        )
    };

    for bad in [
        String::new(),
        "x".repeat(4001),
        "é".repeat(4001),
        "bell\u{7}".into(),
        "nul\u{0}".into(),
        "esc\u{1b}[31m".into(),
    ] {
        let message = assert_error(post(bad.clone()).await, 400, "invalid_request").await;
        assert!(message.contains("text"), "{message}");
    }
    for good in [
        "x".repeat(4000),
        "é".repeat(4000),
        "line\nbreak\tand tab".into(),
    ] {
        let m = expect(post(good.clone()).await, 201).await;
        assert_eq!(m["text"], good);
    }
    assert_eq!(seqs(&page(&app, &alice, "c", "").await), [1, 2, 3]);
}

#[actix_web::test]
async fn bad_message_fields_get_400_naming_the_field() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;

    for (body, field) in [
        (
            json!({"text": "x", "custom": {"big": "y".repeat(8200)}}),
            "custom",
        ),
        (json!({"text": "x", "custom": [1]}), "custom"),
        (json!({"text": "x", "txet": "typo"}), "txet"),
        (
            json!({"text": "x", "clientMsgId": "k".repeat(129)}),
            "clientMsgId",
        ),
        (json!({"text": "x", "clientMsgId": ""}), "clientMsgId"),
        (
            json!({"text": "x", "parentId": "p".repeat(129)}),
            "parentId",
        ),
        (json!({"text": 5}), "text"),
        (json!({}), "text"),
    ] {
        let res = as_user(
            &app,
            &alice,
            Method::POST,
            "/api/channels/c/messages",
            Some(body.clone()),
        )
        .await;
        let message = assert_error(res, 400, "invalid_request").await;
        assert!(message.contains(field), "{body}: {message}");
    }
    let ok = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels/c/messages",
        Some(
            json!({"text": "x", "clientMsgId": "k".repeat(128), "custom": {"v": "y".repeat(8000)}}),
        ),
    )
    .await;
    assert_eq!(expect(ok, 201).await["seq"], 1);
}

#[actix_web::test]
async fn a_channel_id_over_128_characters_gets_400() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;

    let long = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels",
        Some(json!({"id": "c".repeat(129)})),
    )
    .await;
    let control = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels",
        Some(json!({"id": "a\nb"})),
    )
    .await;
    let empty = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels",
        Some(json!({"id": ""})),
    )
    .await;
    let at_limit = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels",
        Some(json!({"id": "c".repeat(128)})),
    )
    .await;

    for res in [long, control, empty] {
        let message = assert_error(res, 400, "invalid_request").await;
        assert!(message.contains("id"), "{message}");
    }
    assert_eq!(expect(at_limit, 201).await["id"], "c".repeat(128));
    assert_eq!(channel_ids(&app, &alice).await.len(), 1);
}

/// A message whose `custom` is nested as deep as a request body may be (serde_json's
/// limit of 128 levels) still reaches Centrifugo. The outbox holds it wrapped in the
/// event envelope and the publish command, deeper than that limit: it must be sent on
/// as written, not parsed again.
#[actix_web::test]
async fn a_message_with_custom_nested_to_the_body_limit_reaches_centrifugo() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let channel = create_channel(&app, &alice, json!({"id": "deep"})).await;
    // The body is level 1, so `custom` may hold 127 nested objects.
    let depth = 126;
    let custom = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
    let res = app
        .http
        .post(format!("{}/api/channels/deep/messages", app.base))
        .bearer_auth(&alice)
        .header("Content-Type", "application/json")
        .body(format!(r#"{{"text":"deep","custom":{custom}}}"#))
        .send()
        .await
        .unwrap();
    let sent = expect(res, 201).await;

    // Read Centrifugo's history as text: the test's own JSON parser has the same limit.
    let history = || async {
        app.http
            .post(format!(
                "http://127.0.0.1:{}/api/history",
                app.centrifugo_internal_port
            ))
            .header("X-API-Key", crate::common::CENTRIFUGO_API_KEY)
            .json(&json!({"channel": channel["realtimeChannel"], "limit": -1}))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let text = loop {
        let text = history().await;
        if text.contains(s(&sent["id"])) || std::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(
        text.contains(s(&sent["id"])),
        "the message never reached Centrifugo: {}",
        &text[..text.len().min(300)]
    );
    assert!(
        text.contains(&custom),
        "its custom arrived changed: {}",
        &text[..text.len().min(300)]
    );
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    let failed: i64 = conn
        .query_row("SELECT count(*) FROM outbox_failed", [], |r| r.get(0))
        .unwrap();
    assert_eq!(failed, 0, "an event was refused for good");
}
