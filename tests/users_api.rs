//! The backend revokes a user's tokens or deletes the user.

use crate::common;
use crate::common::rt_client::RtClient;
use crate::common::{TestApp, assert_error};
use serde_json::{Value, json};
use std::time::Duration;

async fn key_call(app: &TestApp, method: reqwest::Method, path: &str) -> reqwest::Response {
    app.http
        .request(method, format!("{}{path}", app.base))
        .header("X-API-Key", &app.api_key)
        .send()
        .await
        .unwrap()
}

async fn bearer_post(app: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    app.http
        .post(format!("{}{path}", app.base))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn revoking_fails_earlier_tokens_and_a_token_issued_right_after_works() {
    let app = TestApp::start().await;
    let before = app.tokens_for("alice").await;
    let before = before["token"].as_str().unwrap();
    assert_eq!(app.get_me(before).await.status(), 200);

    app.revoke_tokens("alice").await;
    // Within the same second: only the generation tells the two tokens apart.
    let after = app.tokens_for("alice").await;

    assert_error(app.get_me(before).await, 401, "token_revoked").await;
    assert_eq!(
        app.get_me(after["token"].as_str().unwrap()).await.status(),
        200
    );
}

#[actix_web::test]
async fn revoking_disconnects_the_users_live_websocket() {
    let app = TestApp::start().await;
    let alice = app.tokens_for("alice").await;
    let mut rt = RtClient::start(
        &common::python(),
        &common::repo_path("tests/clients/rt_agent.py"),
        &app.ws_url(),
    )
    .await;
    rt.connect_opts(alice["wsToken"].as_str().unwrap(), false)
        .await
        .unwrap();

    app.revoke_tokens("alice").await;

    let gone = rt
        .expect(
            "Centrifugo closes alice's connection",
            Duration::from_secs(8),
            |e| {
                matches!(
                    e["event"].as_str(),
                    Some("disconnected") | Some("connecting")
                ) && e["code"].as_i64().is_some_and(|c| c >= 3000)
            },
        )
        .await;
    assert_eq!(gone["code"], 3503, "force disconnect: {gone}");
}

#[actix_web::test]
async fn only_the_backend_may_revoke_or_delete_and_unknown_users_are_404() {
    let app = TestApp::start().await;
    let alice = app.tokens_for("alice").await;
    let token = alice["token"].as_str().unwrap();
    assert_error(
        bearer_post(&app, token, "/api/users/alice/revoke-tokens", json!({})).await,
        403,
        "forbidden",
    )
    .await;
    let res = app
        .http
        .delete(format!("{}/api/users/alice", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_error(res, 403, "forbidden").await;
    assert_error(
        key_call(
            &app,
            reqwest::Method::POST,
            "/api/users/nobody/revoke-tokens",
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        key_call(&app, reqwest::Method::DELETE, "/api/users/nobody").await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(app.get_me(token).await.status(), 200, "nothing was revoked");
}

#[actix_web::test]
async fn a_deleted_user_leaves_their_channels_keeps_their_messages_and_their_id_is_free_again() {
    let app = TestApp::start().await;
    let alice = app.tokens_for("alice").await;
    let bob = app
        .post_tokens(&json!({"userId": "bob", "name": "Bob", "custom": {"x": 1}}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let (a, b) = (
        alice["token"].as_str().unwrap(),
        bob["token"].as_str().unwrap(),
    );
    assert_eq!(
        bearer_post(
            &app,
            a,
            "/api/channels",
            json!({"id": "room", "members": ["bob"]})
        )
        .await
        .status(),
        201
    );
    let sent: Value = bearer_post(
        &app,
        b,
        "/api/channels/room/messages",
        json!({"text": "bye"}),
    )
    .await
    .json()
    .await
    .unwrap();

    let res = key_call(&app, reqwest::Method::DELETE, "/api/users/bob").await;

    assert_eq!(res.status(), 204);
    assert_error(app.get_me(b).await, 401, "invalid_token").await;
    let members: Value = app
        .http
        .get(format!("{}/api/channels/room/members", app.base))
        .bearer_auth(a)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(members["members"].as_array().unwrap().len(), 1, "{members}");
    let page: Value = app
        .http
        .get(format!("{}/api/channels/room/messages", app.base))
        .bearer_auth(a)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kept = &page["messages"][0];
    assert_eq!(kept["id"], sent["id"]);
    assert_eq!(kept["text"], "bye");
    assert_eq!(
        kept["user"],
        json!({"id": null, "name": null, "image": null, "deleted": true})
    );
    // The id is free: the same userId is a new user with none of the old data.
    let again = app.tokens_for("bob").await;
    assert_eq!(again["user"]["custom"], json!({}));
    assert_eq!(again["user"]["name"], Value::Null);
    let res = app
        .http
        .get(format!("{}/api/channels/room", app.base))
        .bearer_auth(again["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "channel_not_found").await;
}

/// A deleted user's tokens stay dead when the id is taken again, however it comes back:
/// named by another user (a bare user) or through `/tokens` (a new person with the id).
#[actix_web::test]
async fn a_deleted_users_tokens_do_not_pass_for_a_new_user_with_the_same_id() {
    let app = TestApp::start().await;
    let carol = app.tokens_for("carol").await;
    let carol = carol["token"].as_str().unwrap();
    let old = app.tokens_for("bob").await;
    let old = old["token"].as_str().unwrap();
    app.revoke_tokens("bob").await;
    assert_eq!(
        key_call(&app, reqwest::Method::DELETE, "/api/users/bob")
            .await
            .status(),
        204
    );

    // Another user names "bob": a bare user of that id exists again.
    let res = bearer_post(
        &app,
        carol,
        "/api/channels",
        json!({"id": "after", "members": ["bob"]}),
    )
    .await;
    assert_eq!(res.status(), 201);
    assert_error(app.get_me(old).await, 401, "invalid_token").await;
    let res = app
        .http
        .get(format!("{}/api/channels/after", app.base))
        .bearer_auth(old)
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "invalid_token").await;
    let res = bearer_post(
        &app,
        old,
        "/api/channels/after/messages",
        json!({"text": "I am back"}),
    )
    .await;
    assert_error(res, 401, "invalid_token").await;

    // The new bob logs in: their token works, the old one still does not.
    let new = app
        .post_tokens(&json!({"userId": "bob", "email": "new-bob@example.com"}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        app.get_me(new["token"].as_str().unwrap()).await.status(),
        200
    );
    assert_error(app.get_me(old).await, 401, "invalid_token").await;
}

/// A token issued before tokens named their user's row (no `upk`) keeps working for its
/// user, and stops at the user's deletion even when the id comes back: a row created
/// after the token was issued is a new user.
#[actix_web::test]
async fn a_token_without_upk_works_for_its_user_and_not_for_a_later_user_with_the_id() {
    let app = TestApp::start().await;
    let issued = app.tokens_for("bob").await;
    let mut claims = common::jwt_claims(issued["token"].as_str().unwrap());
    claims.as_object_mut().unwrap().remove("upk");
    let legacy = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(common::JWT_SECRET.as_bytes()),
    )
    .unwrap();
    assert_eq!(app.get_me(&legacy).await.status(), 200);
    // `iat` has whole seconds: the new row must be made in a later second to be told
    // apart from the token's own.
    tokio::time::sleep(Duration::from_millis(1100)).await;

    assert_eq!(
        key_call(&app, reqwest::Method::DELETE, "/api/users/bob")
            .await
            .status(),
        204
    );
    app.tokens_for("bob").await;

    assert_error(app.get_me(&legacy).await, 401, "invalid_token").await;
}

/// Every registered `/api` route, its path parameters filled with ids of `alice`'s data.
fn api_routes() -> Vec<(reqwest::Method, String)> {
    let routes: Vec<_> = chatsdk::routes::registered_routes()
        .into_iter()
        .filter(|(_, p)| p.starts_with("/api/"))
        .map(|(m, p)| {
            let path = p
                .replace("{id}", "room")
                .replace("{msgId}", "m1")
                .replace("{emoji}", "%F0%9F%91%8D")
                .replace("{userId}", "alice");
            assert!(
                !path.contains('{'),
                "a path parameter this test does not fill: {p}"
            );
            (
                reqwest::Method::from_bytes(m.as_str().as_bytes()).unwrap(),
                path,
            )
        })
        .collect();
    assert!(routes.len() >= 20, "{routes:?}");
    routes
}

#[actix_web::test]
async fn a_revoked_token_is_refused_on_every_api_route_whatever_else_is_wrong_with_the_request() {
    // Some 900 writes below: more than the per-user write limit allows in a minute.
    let app =
        TestApp::start_with(|a| a.rate_limits.rate_limit_user_writes = "5000/min".parse().unwrap())
            .await;
    let alice = app.tokens_for("alice").await;
    let token = alice["token"].as_str().unwrap();
    let made = bearer_post(&app, token, "/api/channels", json!({"id": "room"})).await;
    assert_eq!(made.status(), 201);
    let sent = bearer_post(
        &app,
        token,
        "/api/channels/room/messages",
        json!({"clientMsgId": "m1", "text": "hi"}),
    )
    .await;
    assert_eq!(sent.status(), 201);
    app.revoke_tokens("alice").await;

    // An empty object (a body most routes refuse), a malformed body and no body, and URLs
    // refused for themselves (a twice-given `userId`, escapes that are not UTF-8 in the
    // query or the path): the revocation is told first, whether or not the request got
    // as far as the database.
    let urls: Vec<(reqwest::Method, String)> = api_routes()
        .into_iter()
        .flat_map(|(method, path)| {
            [
                (method.clone(), path.clone()),
                (method.clone(), format!("{path}?userId=a&userId=b")),
                (method.clone(), format!("{path}?q=%FE")),
                (method, path.replace("room", "r%FE")),
            ]
        })
        .collect();
    for body in [Some("{}"), Some("{\"text\":"), None] {
        for (method, path) in &urls {
            let mut req = app
                .http
                .request(method.clone(), format!("{}{path}", app.base))
                .bearer_auth(token);
            if let Some(body) = body {
                req = req.header("content-type", "application/json").body(body);
            }
            let res = req.send().await.unwrap();
            assert_eq!(
                res.status().as_u16(),
                401,
                "{method} {path} with body {body:?}"
            );
            let answer: Value = res.json().await.unwrap();
            assert_eq!(
                answer["error"]["code"], "token_revoked",
                "{method} {path} with body {body:?}: {answer}"
            );
        }
    }
}

/// `POST /tokens` for `user` with `key`, requiring success; the REST token.
async fn token_through(app: &TestApp, key: &str, user: &str) -> String {
    let res = app
        .post_tokens_with_key(key, &json!({"userId": user}))
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["token"].as_str().unwrap().to_string()
}

#[actix_web::test]
async fn revoking_an_api_key_ends_the_rest_tokens_issued_through_it_and_no_others() {
    let app = TestApp::start().await;
    let leaked = app.cli_json(&["key", "create", "--app", &app.app_id, "--name", "leaked"]);
    let through_leaked = token_through(&app, leaked["apiKey"].as_str().unwrap(), "bob").await;
    let through_other = token_through(&app, &app.api_key, "bob").await;
    assert_eq!(
        common::jwt_claims(&through_leaked)["akid"],
        leaked["keyId"],
        "the token names the key that asked for it"
    );
    assert_eq!(app.get_me(&through_leaked).await.status(), 200);

    app.cli_json(&["key", "revoke", leaked["keyId"].as_str().unwrap()]);

    assert_error(app.get_me(&through_leaked).await, 401, "token_revoked").await;
    let send = bearer_post(&app, &through_leaked, "/api/channels", json!({"id": "x"})).await;
    assert_error(send, 401, "token_revoked").await;
    assert_eq!(
        app.get_me(&through_other).await.status(),
        200,
        "the same user's token from another key works"
    );
}

#[actix_web::test]
async fn a_rotated_keys_rest_tokens_work_through_its_grace_period_and_end_with_it() {
    let app = TestApp::start().await;
    let old = app.cli_json(&["key", "create", "--app", &app.app_id, "--name", "rotating"]);
    let through_old = token_through(&app, old["apiKey"].as_str().unwrap(), "carol").await;

    let rotated = app.cli_json(&[
        "key",
        "rotate",
        old["keyId"].as_str().unwrap(),
        "--grace",
        "2s",
    ]);
    let through_new = token_through(&app, rotated["apiKey"].as_str().unwrap(), "carol").await;
    assert_eq!(app.get_me(&through_old).await.status(), 200, "in grace");

    tokio::time::sleep(Duration::from_millis(2300)).await;

    assert_error(app.get_me(&through_old).await, 401, "token_revoked").await;
    assert_eq!(app.get_me(&through_new).await.status(), 200);
}

#[actix_web::test]
async fn a_revoked_tokens_valid_writes_are_refused_and_change_nothing() {
    let app = TestApp::start().await;
    let alice = app.tokens_for("alice").await;
    let token = alice["token"].as_str().unwrap();
    assert_eq!(
        bearer_post(&app, token, "/api/channels", json!({"id": "room"}))
            .await
            .status(),
        201
    );
    app.revoke_tokens("alice").await;

    let send = bearer_post(
        &app,
        token,
        "/api/channels/room/messages",
        json!({"text": "after revoke"}),
    )
    .await;
    assert_error(send, 401, "token_revoked").await;
    let make = bearer_post(&app, token, "/api/channels", json!({"id": "other"})).await;
    assert_error(make, 401, "token_revoked").await;

    let page: Value = key_call(
        &app,
        reqwest::Method::GET,
        "/api/channels/room/messages?userId=alice",
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(page["messages"], json!([]), "{page}");
    let other = key_call(&app, reqwest::Method::GET, "/api/channels/other").await;
    assert_error(other, 404, "channel_not_found").await;
    let fresh = app.tokens_for("alice").await;
    let send = bearer_post(
        &app,
        fresh["token"].as_str().unwrap(),
        "/api/channels/room/messages",
        json!({"text": "with a new token"}),
    )
    .await;
    assert_eq!(
        send.status(),
        201,
        "a token issued after the revocation works"
    );
}
