//! Chat REST API channel members: add, grant roles, leave, remove and list,
//! against a real server and Centrifugo.

use crate::common::{
    TestApp, assert_error,
    chat::{
        add_members, as_user, channel_ids, create_channel, enc, expect, get_channel, member_roles,
        room, s, token,
    },
};
use reqwest::Method;
use serde_json::json;

#[actix_web::test]
async fn the_owner_adds_members_and_a_plain_member_may_not() {
    let app = TestApp::start().await;
    let r = room(&app).await;

    let by_owner = add_members(&app, &r.alice, "room", json!({"userIds": ["erin"]})).await;
    let by_member = add_members(&app, &r.bob, "room", json!({"userIds": ["frank"]})).await;

    let added = expect(by_owner, 200).await;
    assert_eq!(added["added"].as_array().unwrap().len(), 1);
    assert_eq!(added["added"][0]["user"]["id"], "erin");
    assert_eq!(added["added"][0]["role"], "member");
    assert_error(by_member, 403, "forbidden").await;
    let roles = member_roles(&app, &r.alice, "room").await;
    assert!(roles.contains(&("erin".into(), "member".into())));
    assert!(!roles.iter().any(|(id, _)| id == "frank"));
}

#[actix_web::test]
async fn granting_admin_takes_an_owner() {
    let app = TestApp::start().await;
    let r = room(&app).await;

    let admin_grants_admin = add_members(
        &app,
        &r.dave,
        "room",
        json!({"userIds": ["erin"], "role": "admin"}),
    )
    .await;
    let admin_adds_member = add_members(&app, &r.dave, "room", json!({"userIds": ["frank"]})).await;
    let owner_grants_admin = add_members(
        &app,
        &r.alice,
        "room",
        json!({"userIds": ["gina"], "role": "admin"}),
    )
    .await;

    assert_error(admin_grants_admin, 403, "forbidden").await;
    expect(admin_adds_member, 200).await;
    let granted = expect(owner_grants_admin, 200).await;
    assert_eq!(granted["added"][0]["role"], "admin");
    let roles = member_roles(&app, &r.alice, "room").await;
    assert!(!roles.iter().any(|(id, _)| id == "erin"));
    assert!(roles.contains(&("frank".into(), "member".into())));
    assert!(roles.contains(&("gina".into(), "admin".into())));
}

#[actix_web::test]
async fn bad_member_requests_get_400_and_add_nobody() {
    let app = TestApp::start().await;
    let r = room(&app).await;
    let many: Vec<String> = (0..101).map(|i| format!("u{i}")).collect();
    let before = app.count_users();

    for (body, field) in [
        (json!({"userIds": ["erin"], "role": "king"}), "role"),
        (json!({"userIds": ["erin"], "role": "Owner"}), "role"),
        (json!({"userIds": many}), "100"),
        (json!({"userIds": []}), "userIds"),
        (json!({"userIds": [""]}), "userIds"),
        (json!({"userIds": ["a\u{0}b"]}), "userIds"),
        (json!({"userIds": "erin"}), "userIds"),
        (json!({}), "userIds"),
    ] {
        let res = add_members(&app, &r.alice, "room", body.clone()).await;
        let message = assert_error(res, 400, "invalid_request").await;
        assert!(message.contains(field), "{body}: {message}");
    }

    assert_eq!(app.count_users(), before);
    assert_eq!(member_roles(&app, &r.alice, "room").await.len(), 4);
}

#[actix_web::test]
async fn adding_someone_twice_changes_nothing() {
    let app = TestApp::start().await;
    let r = room(&app).await;

    let again = add_members(&app, &r.alice, "room", json!({"userIds": ["bob", "bob"]})).await;
    let promote = add_members(
        &app,
        &r.alice,
        "room",
        json!({"userIds": ["bob"], "role": "owner"}),
    )
    .await;

    assert_eq!(expect(again, 200).await["added"], json!([]));
    assert_eq!(expect(promote, 200).await["added"], json!([]));
    let roles = member_roles(&app, &r.alice, "room").await;
    assert_eq!(roles.len(), 4);
    assert!(
        roles.contains(&("bob".into(), "member".into())),
        "role kept"
    );
}

#[actix_web::test]
async fn a_member_who_leaves_no_longer_sees_the_channel() {
    let app = TestApp::start().await;
    let r = room(&app).await;

    let res = as_user(
        &app,
        &r.bob,
        Method::DELETE,
        "/api/channels/room/members/bob",
        None,
    )
    .await;

    assert_eq!(res.status(), 204);
    assert_error(
        get_channel(&app, &r.bob, "room").await,
        404,
        "channel_not_found",
    )
    .await;
    assert!(channel_ids(&app, &r.bob).await.is_empty());
    assert!(
        !member_roles(&app, &r.alice, "room")
            .await
            .iter()
            .any(|(id, _)| id == "bob")
    );
}

#[actix_web::test]
async fn removing_others_takes_rank_and_an_admin_cannot_remove_the_owner() {
    let app = TestApp::start().await;
    let r = room(&app).await;

    let member_removes_member = as_user(
        &app,
        &r.bob,
        Method::DELETE,
        "/api/channels/room/members/carol",
        None,
    )
    .await;
    let admin_removes_owner = as_user(
        &app,
        &r.dave,
        Method::DELETE,
        "/api/channels/room/members/alice",
        None,
    )
    .await;
    let admin_removes_member = as_user(
        &app,
        &r.dave,
        Method::DELETE,
        "/api/channels/room/members/carol",
        None,
    )
    .await;

    assert_error(member_removes_member, 403, "forbidden").await;
    assert_error(admin_removes_owner, 403, "forbidden").await;
    assert_eq!(admin_removes_member.status(), 204);
    let roles = member_roles(&app, &r.alice, "room").await;
    assert_eq!(
        roles,
        [
            ("alice".to_string(), "owner".to_string()),
            ("bob".into(), "member".into()),
            ("dave".into(), "admin".into()),
        ]
    );
}

#[actix_web::test]
async fn removing_someone_who_is_not_a_member_gets_404_not_found() {
    let app = TestApp::start().await;
    let r = room(&app).await;
    token(&app, "outsider").await;

    for who in ["outsider", "never-seen"] {
        let res = as_user(
            &app,
            &r.alice,
            Method::DELETE,
            &format!("/api/channels/room/members/{who}"),
            None,
        )
        .await;
        assert_error(res, 404, "not_found").await;
    }
}

#[actix_web::test]
async fn the_member_list_shows_public_fields_only() {
    let app = TestApp::start().await;
    app.post_tokens(&json!({
        "userId": "bob", "name": "Bob", "image": "https://x/b.png",
        "email": "bob@private.example", "custom": {"ssn": "123-45-6789"}
    }))
    .await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c", "members": ["bob"]})).await;

    let body = expect(
        as_user(&app, &alice, Method::GET, "/api/channels/c/members", None).await,
        200,
    )
    .await;

    let bob = body["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user"]["id"] == "bob")
        .unwrap();
    assert_eq!(
        bob["user"],
        json!({"id": "bob", "name": "Bob", "image": "https://x/b.png"})
    );
    assert_eq!(bob["role"], "member");
    assert_eq!(bob["readSeq"], 0);
    assert!(bob["joinedAt"].is_string());
    let text = body.to_string();
    assert!(
        !text.contains("private.example") && !text.contains("123-45"),
        "{text}"
    );
}

/// The ids on each page of `channel`'s member list, following `nextCursor` to the end
/// (`limit` as given, or the default page when `None`).
async fn member_pages(
    app: &TestApp,
    tok: &str,
    channel: &str,
    limit: Option<usize>,
) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = Vec::new();
        if let Some(limit) = limit {
            query.push(format!("limit={limit}"));
        }
        if let Some(c) = &cursor {
            query.push(format!("cursor={}", enc(c)));
        }
        let path = format!("/api/channels/{channel}/members?{}", query.join("&"));
        let body = expect(as_user(app, tok, Method::GET, &path, None).await, 200).await;
        let ids = body["members"].as_array().unwrap();
        pages.push(
            ids.iter()
                .map(|m| s(&m["user"]["id"]).to_string())
                .collect(),
        );
        match body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return pages,
        }
        assert!(pages.len() < 50, "the cursor never ends");
    }
}

#[actix_web::test]
async fn the_member_list_pages_in_join_order_each_member_once() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;
    // Two calls: the second call's members joined later, whatever their ids sort as.
    let first: Vec<String> = (0..7).map(|i| format!("z{i}")).collect();
    let second: Vec<String> = (0..5).map(|i| format!("a{i}")).collect();
    for ids in [&first, &second] {
        expect(
            add_members(&app, &alice, "c", json!({"userIds": ids})).await,
            200,
        )
        .await;
    }

    let pages = member_pages(&app, &alice, "c", Some(5)).await;

    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [5, 5, 3]);
    let mut expected = vec!["alice".to_string()];
    expected.extend(first.iter().chain(&second).cloned());
    assert_eq!(pages.concat(), expected, "join order, each member once");
    // A page that ends exactly at the last member is the last: no cursor to an empty one.
    assert_eq!(member_pages(&app, &alice, "c", Some(13)).await, [expected]);
}

#[actix_web::test]
async fn the_member_list_gives_100_by_default_and_up_to_1000_a_page() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "big"})).await;
    for batch in 0..2 {
        let ids: Vec<String> = (0..75).map(|i| format!("u{batch}-{i}")).collect();
        expect(
            add_members(&app, &alice, "big", json!({"userIds": ids})).await,
            200,
        )
        .await;
    }

    let by_default = member_pages(&app, &alice, "big", None).await;
    let sizes: Vec<usize> = by_default.iter().map(Vec::len).collect();
    assert_eq!(sizes, [100, 51]);
    let whole = member_pages(&app, &alice, "big", Some(1000)).await;
    assert_eq!(whole, [by_default.concat()]);
}

#[actix_web::test]
async fn member_list_paging_errors_get_400() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;
    for (query, names) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=x", "limit"),
        ("cursor=!!!", "cursor"),
        ("cursor=Zm9v", "cursor"),
        ("cursor=a&cursor=b", "cursor"),
        ("sort=name", "sort"),
    ] {
        let res = as_user(
            &app,
            &alice,
            Method::GET,
            &format!("/api/channels/c/members?{query}"),
            None,
        )
        .await;
        let message = assert_error(res, 400, "invalid_request").await;
        assert!(message.contains(names), "{query}: {message}");
    }
}
