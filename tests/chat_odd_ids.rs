//! Chat REST API with odd channel and user ids (e-mail, Unicode, `:#,`, spaces, slashes)
//! round-tripping through paths, against a real server and Centrifugo.

use crate::common::{
    TestApp, assert_error,
    chat::{
        add_members, as_key, as_user, ch, channel_ids, create_channel, enc, expect, get_channel,
        member_roles, send, token,
    },
};
use reqwest::Method;
use serde_json::json;

const ODD_IDS: [&str; 5] = [
    "alice@example.com",
    "日本語",
    "a:b#c,d",
    "sp ace",
    "slash/and",
];

#[actix_web::test]
async fn odd_channel_ids_round_trip_through_create_get_and_members() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let bob = token(&app, "bob").await;

    for id in ODD_IDS {
        let created = create_channel(&app, &alice, json!({ "id": id })).await;
        assert_eq!(created["id"], id);

        let fetched = expect(get_channel(&app, &alice, id).await, 200).await;
        assert_eq!(fetched["id"], id, "GET {}", ch(id));
        expect(
            add_members(&app, &alice, id, json!({"userIds": ["bob"]})).await,
            200,
        )
        .await;
        expect(get_channel(&app, &bob, id).await, 200).await;
        let m = send(&app, &bob, id, "hi").await;
        assert_eq!(m["channelId"], id);
        let removed = as_user(
            &app,
            &alice,
            Method::DELETE,
            &format!("{}/members/bob", ch(id)),
            None,
        )
        .await;
        assert_eq!(removed.status(), 204, "{id}");
        assert_error(get_channel(&app, &bob, id).await, 404, "channel_not_found").await;
    }
    let mut listed = channel_ids(&app, &alice).await;
    listed.sort();
    let mut expected: Vec<String> = ODD_IDS.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(listed, expected);
}

#[actix_web::test]
async fn odd_user_ids_round_trip_through_members_add_list_and_remove() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;

    for id in ODD_IDS {
        let theirs = token(&app, id).await;

        let added = expect(
            add_members(&app, &alice, "c", json!({"userIds": [id]})).await,
            200,
        )
        .await;

        assert_eq!(added["added"][0]["user"]["id"], id);
        assert_eq!(
            channel_ids(&app, &theirs).await,
            ["c"],
            "{id} sees the channel"
        );
        let by_key = expect(
            as_key(
                &app,
                Method::GET,
                &format!("/api/channels?userId={}", enc(id)),
                None,
            )
            .await,
            200,
        )
        .await;
        assert_eq!(by_key["channels"][0]["id"], "c", "key acting as {id}");
        assert!(
            member_roles(&app, &alice, "c")
                .await
                .contains(&(id.to_string(), "member".into()))
        );
        let removed = as_user(
            &app,
            &alice,
            Method::DELETE,
            &format!("/api/channels/c/members/{}", enc(id)),
            None,
        )
        .await;
        assert_eq!(removed.status(), 204, "remove {id}");
        assert!(
            channel_ids(&app, &theirs).await.is_empty(),
            "{id} was removed"
        );
    }
    assert_eq!(member_roles(&app, &alice, "c").await.len(), 1);
}

#[actix_web::test]
async fn an_odd_user_leaves_by_naming_themselves() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c", "members": ODD_IDS})).await;

    for id in ODD_IDS {
        let theirs = token(&app, id).await;
        let res = as_user(
            &app,
            &theirs,
            Method::DELETE,
            &format!("/api/channels/c/members/{}", enc(id)),
            None,
        )
        .await;
        assert_eq!(res.status(), 204, "{id} leaves");
        assert_error(
            get_channel(&app, &theirs, "c").await,
            404,
            "channel_not_found",
        )
        .await;
    }
}

/// A percent-escape that is not UTF-8 (`%FE`) is refused, in the path and in the query,
/// rather than read as U+FFFD: that would act on another, real id ("\u{FFFD}").
#[actix_web::test]
async fn a_url_whose_escapes_are_not_utf8_gets_400_and_touches_no_one() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "x\u{FFFD}"})).await;
    // The id the lossy decoding would have reached exists: a user named U+FFFD.
    let replacement = token(&app, "\u{FFFD}").await;
    let users_before = app.count_users();

    for (method, path) in [
        (Method::POST, "/api/users/%FE/revoke-tokens".to_string()),
        (Method::DELETE, "/api/users/%FE".to_string()),
        (Method::GET, "/api/me?userId=%FE".to_string()),
        (Method::GET, "/api/channels/x%FF".to_string()),
        (Method::GET, "/api/channels?userId=a%C3".to_string()),
    ] {
        let message = assert_error(
            as_key(&app, method.clone(), &path, None).await,
            400,
            "invalid_request",
        )
        .await;
        assert!(message.contains("UTF-8"), "{method} {path}: {message}");
    }
    let res = as_user(&app, &alice, Method::GET, "/api/channels/x%FF", None).await;
    assert_error(res, 400, "invalid_request").await;
    // Credentials are judged first: without any, the answer is the 401.
    let res = app
        .http
        .get(format!("{}/api/channels/x%FF", app.base))
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "missing_token").await;

    // Nothing happened to the user "\u{FFFD}": their token still works.
    assert_eq!(app.count_users(), users_before);
    assert_eq!(app.get_me(&replacement).await.status(), 200);
    // The control: the same ids, correctly escaped, are reached.
    let res = as_user(&app, &alice, Method::GET, &ch("x\u{FFFD}"), None).await;
    assert_eq!(expect(res, 200).await["id"], "x\u{FFFD}");
    let res = as_key(
        &app,
        Method::GET,
        &format!("/api/me?userId={}", enc("\u{FFFD}")),
        None,
    )
    .await;
    assert_eq!(expect(res, 200).await["id"], "\u{FFFD}");
}
