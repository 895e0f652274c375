//! Chat REST API typing and channel subscription tokens, and reaching any accepted
//! channel id by its path, against a real server and Centrifugo.

use crate::common::{
    TestApp, assert_error,
    chat::{as_key, as_user, ch, create_channel, expect, get_channel, s, token},
    jwt_claims,
};
use reqwest::Method;
use serde_json::json;

#[actix_web::test]
async fn typing_is_accepted_for_members_only() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let mallory = token(&app, "mallory").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;

    let res = as_user(&app, &alice, Method::POST, "/api/channels/c/typing", None).await;
    let outsider = as_user(&app, &mallory, Method::POST, "/api/channels/c/typing", None).await;

    assert_eq!(expect(res, 202).await, json!({"status": "sent"}));
    assert_error(outsider, 404, "channel_not_found").await;
}

#[actix_web::test]
async fn a_member_gets_a_subscription_token_for_the_channels_realtime_name() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let created = create_channel(&app, &alice, json!({"id": "c"})).await;

    let res = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/channels/c/subscription-token",
        None,
    )
    .await;

    let body = expect(res, 200).await;
    assert_eq!(body["channel"], created["realtimeChannel"]);
    assert_eq!(body["expiresIn"], 300);
    let claims = jwt_claims(s(&body["token"]));
    assert_eq!(claims["sub"], format!("{}:alice", app.app_id));
    assert_eq!(claims["channel"], created["realtimeChannel"]);
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        300
    );
    let by_name = as_user(
        &app,
        &alice,
        Method::POST,
        "/api/subscription-token",
        Some(json!({"channel": created["realtimeChannel"]})),
    )
    .await;
    assert_eq!(
        expect(by_name, 200).await["channel"],
        created["realtimeChannel"]
    );
}

/// A realtime name is good only as the channel has it now: the pk with another key, or
/// without the key the row has, is the name of a channel that is gone (a restore from
/// backup hands pks out again), and is not found, like an unknown one. A channel from
/// before keys (schema 8) is found by its pk alone, and not with a key.
#[actix_web::test]
async fn a_subscription_token_by_name_needs_the_channels_exact_current_name() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let keyed = create_channel(&app, &alice, json!({"id": "keyed"})).await;
    let legacy = create_channel(&app, &alice, json!({"id": "legacy"})).await;
    let keyed_name = s(&keyed["realtimeChannel"]).to_string();
    let (pk, key) = keyed_name
        .strip_prefix("chat:")
        .and_then(|rest| rest.split_once('.'))
        .unwrap_or_else(|| panic!("not a keyed name: {keyed_name}"));
    let legacy_pk = s(&legacy["realtimeChannel"]).strip_prefix("chat:").unwrap();
    let legacy_pk = legacy_pk
        .split_once('.')
        .map_or(legacy_pk, |(pk, _)| pk)
        .to_string();
    // The second channel as an upgrade leaves a channel made before: no key.
    rusqlite::Connection::open(app.db_path())
        .unwrap()
        .execute(
            "UPDATE channels SET realtime_key = NULL WHERE id = 'legacy'",
            [],
        )
        .unwrap();
    // The same key but its last character: what another row of the same pk would have.
    let last = if key.ends_with('0') { '1' } else { '0' };
    let other_key = format!("{}{last}", &key[..key.len() - 1]);
    let by_name = |channel: String| {
        let (app, alice) = (&app, &alice);
        async move {
            as_user(
                app,
                alice,
                Method::POST,
                "/api/subscription-token",
                Some(json!({ "channel": channel })),
            )
            .await
        }
    };

    let exact = by_name(keyed_name.clone()).await;
    let other = by_name(format!("chat:{pk}.{other_key}")).await;
    let missing = by_name(format!("chat:{pk}")).await;
    let legacy_exact = by_name(format!("chat:{legacy_pk}")).await;
    let legacy_with_key = by_name(format!("chat:{legacy_pk}.{key}")).await;

    assert_eq!(expect(exact, 200).await["channel"], keyed_name.as_str());
    assert_error(other, 404, "channel_not_found").await;
    assert_error(missing, 404, "channel_not_found").await;
    let legacy_token = expect(legacy_exact, 200).await;
    assert_eq!(legacy_token["channel"], format!("chat:{legacy_pk}"));
    assert_eq!(
        jwt_claims(s(&legacy_token["token"]))["channel"],
        format!("chat:{legacy_pk}")
    );
    assert_error(legacy_with_key, 404, "channel_not_found").await;
    // The channel's own views name it as the token does.
    let fetched = expect(get_channel(&app, &alice, "legacy").await, 200).await;
    assert_eq!(fetched["realtimeChannel"], format!("chat:{legacy_pk}"));
}

/// The backend names the user in the body, as on every other POST, or in the query; a
/// body with anything else, or a token naming a user, is refused.
#[actix_web::test]
async fn the_backend_names_the_user_of_typing_and_a_subscription_token_in_the_body() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    create_channel(&app, &alice, json!({"id": "c"})).await;
    let body = Some(json!({"userId": "alice"}));

    let typing = as_key(&app, Method::POST, "/api/channels/c/typing", body.clone()).await;
    let sub = as_key(
        &app,
        Method::POST,
        "/api/channels/c/subscription-token",
        body.clone(),
    )
    .await;
    let by_query = as_key(
        &app,
        Method::POST,
        "/api/channels/c/subscription-token?userId=alice",
        None,
    )
    .await;

    assert_eq!(expect(typing, 202).await, json!({"status": "sent"}));
    let sub = expect(sub, 200).await;
    assert_eq!(
        jwt_claims(s(&sub["token"]))["sub"],
        format!("{}:alice", app.app_id)
    );
    assert_eq!(expect(by_query, 200).await["channel"], sub["channel"]);
    // A JSON `null` body is no body: the query names the user.
    let null_body = as_key(
        &app,
        Method::POST,
        "/api/channels/c/typing?userId=alice",
        Some(serde_json::Value::Null),
    )
    .await;
    assert_eq!(expect(null_body, 202).await, json!({"status": "sent"}));
    for path in [
        "/api/channels/c/typing",
        "/api/channels/c/subscription-token",
    ] {
        let unknown = as_key(&app, Method::POST, path, Some(json!({"user": "alice"}))).await;
        let message = assert_error(unknown, 400, "invalid_request").await;
        assert!(message.contains("user"), "{path}: {message}");
        let mismatch = as_key(
            &app,
            Method::POST,
            &format!("{path}?userId=bob"),
            body.clone(),
        )
        .await;
        assert_error(mismatch, 400, "invalid_request").await;
        let as_token = as_user(&app, &alice, Method::POST, path, body.clone()).await;
        assert_error(as_token, 400, "invalid_request").await;
        let no_user = as_key(&app, Method::POST, path, Some(json!({}))).await;
        assert_error(no_user, 400, "invalid_request").await;
        // A body that is not JSON is refused, not ignored.
        let text = app
            .http
            .post(format!("{}{path}?userId=alice", app.base))
            .header("X-API-Key", &app.api_key)
            .header("Content-Type", "text/plain")
            .body("alice")
            .send()
            .await
            .unwrap();
        assert_error(text, 415, "unsupported_media_type").await;
    }
}

#[actix_web::test]
async fn a_non_member_gets_no_subscription_token_even_through_the_key() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;
    let mallory = token(&app, "mallory").await;
    let created = create_channel(&app, &alice, json!({"id": "c"})).await;

    let by_token = as_user(
        &app,
        &mallory,
        Method::POST,
        "/api/channels/c/subscription-token",
        None,
    )
    .await;
    let by_key = as_key(
        &app,
        Method::POST,
        "/api/channels/c/subscription-token?userId=mallory",
        None,
    )
    .await;
    let by_name = as_user(
        &app,
        &mallory,
        Method::POST,
        "/api/subscription-token",
        Some(json!({"channel": created["realtimeChannel"]})),
    )
    .await;

    assert_error(by_token, 404, "channel_not_found").await;
    assert_error(by_key, 404, "channel_not_found").await;
    assert_error(by_name, 404, "channel_not_found").await;
}

#[actix_web::test]
async fn a_channel_id_the_api_accepts_can_be_reached_by_its_path() {
    let app = TestApp::start().await;
    let alice = token(&app, "alice").await;

    for id in [".", ".."] {
        let res = as_user(
            &app,
            &alice,
            Method::POST,
            "/api/channels",
            Some(json!({ "id": id })),
        )
        .await;

        // Either refuse the id up front, or serve it at /api/channels/{id}: HTTP clients
        // resolve `.` and `..` path segments (even as %2E), so such a channel would be
        // created but never reachable again.
        if res.status() == 201 {
            let fetched = get_channel(&app, &alice, id).await;
            assert_eq!(
                fetched.status(),
                200,
                "channel {id:?} was created but GET {} answers {}",
                ch(id),
                fetched.text().await.unwrap()
            );
        } else {
            let message = assert_error(res, 400, "invalid_request").await;
            assert!(message.contains("id"), "{message}");
        }
    }
}
