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
