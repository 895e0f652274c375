//! `GET /api/me` and REST token checks: only a genuine, unexpired ChatSDK token works.

use crate::common;
use crate::common::{JWT_SECRET, TestApp, assert_error};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

fn now() -> u64 {
    chatsdk::auth::tokens::now_secs()
}

fn sign(claims: &Value, secret: &str, alg: Algorithm) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// Valid claims for the user of a `POST /tokens` answer (`upk` and `gen` are its row's).
fn claims(issued: &Value) -> Value {
    let real = common::jwt_claims(issued["token"].as_str().unwrap());
    json!({"sub": real["sub"], "app": real["app"], "iss": "chatsdk", "aud": "chatsdk", "iat": now(), "exp": now() + 600, "jti": "t", "gen": real["gen"], "upk": real["upk"]})
}

#[actix_web::test]
async fn me_returns_the_tokens_user_with_their_custom_data() {
    let app = TestApp::start().await;
    let body: Value = app
        .post_tokens(&json!({"userId": "m@x.io", "name": "M", "custom": {"tier": 2}}))
        .await
        .json()
        .await
        .unwrap();

    let res = app.get_me(body["token"].as_str().unwrap()).await;

    assert_eq!(res.status(), 200);
    let mut me: Value = res.json().await.unwrap();
    let personal = me
        .as_object_mut()
        .unwrap()
        .remove("personalChannel")
        .unwrap();
    assert_eq!(
        me,
        json!({"id": "m@x.io", "name": "M", "image": null, "email": null, "custom": {"tier": 2}})
    );
    let ws = common::jwt_claims(body["wsToken"].as_str().unwrap());
    assert_eq!(
        ws["channels"],
        json!([personal]),
        "the wsToken subscribes to the personal channel"
    );
    assert!(personal.as_str().unwrap().starts_with("personal:"));
}

#[actix_web::test]
async fn requests_without_a_token_get_missing_token() {
    let app = TestApp::start().await;
    let res = app
        .http
        .get(format!("{}/api/me", app.base))
        .send()
        .await
        .unwrap();
    let message = assert_error(res, 401, "missing_token").await;
    assert!(message.contains("Bearer"), "{message}");
}

#[actix_web::test]
async fn a_ws_token_is_refused_by_the_rest_api() {
    let app = TestApp::start().await;
    let body = app.tokens_for("alice").await;
    assert_error(
        app.get_me(body["wsToken"].as_str().unwrap()).await,
        401,
        "invalid_token",
    )
    .await;
}

#[actix_web::test]
async fn forged_malformed_and_foreign_tokens_get_invalid_token() {
    let app = TestApp::start().await;
    let alice = app.tokens_for("alice").await;
    let good = claims(&alice);
    let wrong_secret = sign(
        &good,
        "another-secret-another-secret-another-secret",
        Algorithm::HS256,
    );
    let hs512 = sign(&good, JWT_SECRET, Algorithm::HS512);
    let mut wrong_aud = good.clone();
    wrong_aud["aud"] = json!("centrifugo");
    let mut no_exp = good.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    let mut string_exp = good.clone();
    string_exp["exp"] = json!((now() + 600).to_string());
    // As tokens were issued before they named the user's row: still accepted (below).
    let mut no_upk = good.clone();
    no_upk.as_object_mut().unwrap().remove("upk");
    let alg_none = format!(
        "{}.{}.",
        base64_url(br#"{"alg":"none","typ":"JWT"}"#),
        base64_url(good.to_string().as_bytes())
    );
    for token in [
        "garbage".to_string(),
        "a.b.c".to_string(),
        wrong_secret,
        hs512,
        sign(&wrong_aud, JWT_SECRET, Algorithm::HS256),
        sign(&no_exp, JWT_SECRET, Algorithm::HS256),
        sign(&string_exp, JWT_SECRET, Algorithm::HS256),
        alg_none,
    ] {
        assert_error(app.get_me(&token).await, 401, "invalid_token").await;
    }
    let res = app
        .http
        .get(format!("{}/api/me", app.base))
        .header("Authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "invalid_token").await;
    // The control: the same claims, correctly signed, work, also without `upk`.
    assert_eq!(
        app.get_me(&sign(&good, JWT_SECRET, Algorithm::HS256))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get_me(&sign(&no_upk, JWT_SECRET, Algorithm::HS256))
            .await
            .status(),
        200
    );
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[actix_web::test]
async fn an_expired_token_gets_token_expired() {
    let app = TestApp::start().await;
    let alice = app.tokens_for("alice").await;
    let mut expired = claims(&alice);
    expired["iat"] = json!(now() - 7200);
    expired["exp"] = json!(now() - 3600);
    assert_error(
        app.get_me(&sign(&expired, JWT_SECRET, Algorithm::HS256))
            .await,
        401,
        "token_expired",
    )
    .await;
}

#[actix_web::test]
async fn a_token_issued_with_a_one_second_ttl_expires_past_the_configured_leeway() {
    let app = TestApp::start_with(|a| {
        a.client.token_ttl = 1;
        a.jwt_leeway = 1;
    })
    .await;
    let body = app.tokens_for("alice").await;
    let token = body["token"].as_str().unwrap();
    assert_eq!(body["expiresIn"], 1);
    assert_eq!(app.get_me(token).await.status(), 200);
    // Within exp plus the leeway it still works; beyond, it does not.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        app.get_me(token).await.status(),
        200,
        "inside the 1 s leeway"
    );
    tokio::time::sleep(std::time::Duration::from_millis(2000)).await;
    assert_error(app.get_me(token).await, 401, "token_expired").await;
}

#[actix_web::test]
async fn a_token_for_another_apps_user_does_not_reach_across_apps() {
    let app = TestApp::start().await;
    let other = app.cli_json(&["app", "create", "--name", "other"]);
    app.post_tokens(&json!({"userId": "alice", "custom": {"mine": true}}))
        .await;
    let other_key = other["apiKey"].as_str().unwrap();
    let body: Value = app
        .post_tokens_with_key(other_key, &json!({"userId": "alice"}))
        .await
        .json()
        .await
        .unwrap();

    let me: Value = app
        .get_me(body["token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(
        me["custom"],
        json!({}),
        "app B's alice is not app A's alice"
    );
}

#[actix_web::test]
async fn a_token_naming_another_apps_key_or_no_such_key_is_revoked() {
    let app = TestApp::start().await;
    let other = app.cli_json(&["app", "create", "--name", "other"]);
    let issued = app.tokens_for("alice").await;
    let with_key = |akid: &Value| {
        let mut c = claims(&issued);
        c["akid"] = akid.clone();
        sign(&c, JWT_SECRET, Algorithm::HS256)
    };
    let own_key = common::jwt_claims(issued["token"].as_str().unwrap())["akid"].clone();
    assert_eq!(
        app.get_me(&with_key(&own_key)).await.status(),
        200,
        "signed as the server signs"
    );

    // Live keys both, but another app's; and an id no key has.
    for akid in [other["keyId"].clone(), json!("key_doesnotexist0000")] {
        assert_error(app.get_me(&with_key(&akid)).await, 401, "token_revoked").await;
    }
}

#[actix_web::test]
async fn tokens_signed_before_a_secret_rotation_keep_working_with_the_previous_secret() {
    let new_secret = "the-new-rest-secret-after-rotation-0123456789";
    let app = TestApp::start_with(|a| {
        a.jwt_secret = Some(chatsdk::secret::Secret::new(new_secret));
        a.jwt_previous_secret = Some(chatsdk::secret::Secret::new(JWT_SECRET));
    })
    .await;
    let alice = app.tokens_for("alice").await;
    let fresh = alice["token"].as_str().unwrap();
    let old_kid = chatsdk::auth::tokens::key_id(&chatsdk::secret::Secret::new(JWT_SECRET));
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(old_kid.clone());
    let key = |s: &str| EncodingKey::from_secret(s.as_bytes());
    let before_rotation = jsonwebtoken::encode(&header, &claims(&alice), &key(JWT_SECRET)).unwrap();
    let forged = jsonwebtoken::encode(
        &header,
        &claims(&alice),
        &key("some-other-secret-0123456789abcdef0123"),
    )
    .unwrap();
    header.kid = Some("unknown".into());
    let unknown_kid = jsonwebtoken::encode(&header, &claims(&alice), &key(JWT_SECRET)).unwrap();

    assert_ne!(
        common::jwt_header(fresh)["kid"],
        old_kid.as_str(),
        "new tokens use the new secret's kid"
    );
    assert_eq!(app.get_me(fresh).await.status(), 200);
    assert_eq!(
        app.get_me(&before_rotation).await.status(),
        200,
        "accepted with the previous secret"
    );
    assert_error(app.get_me(&forged).await, 401, "invalid_token").await;
    assert_error(app.get_me(&unknown_kid).await, 401, "invalid_token").await;
}

#[actix_web::test]
async fn every_answer_carries_the_security_headers_middleware_errors_included() {
    let app = TestApp::start().await;
    let big = "x".repeat(chatsdk::startup::MAX_HEADER_BYTES + 1);
    let cases = [
        (
            "GET /health",
            app.http.get(format!("{}/health", app.base)),
            200,
        ),
        // Refused by the API-key middleware, before any handler.
        (
            "POST /tokens without a key",
            app.http.post(format!("{}/tokens", app.base)),
            401,
        ),
        // Refused by the bearer-token middleware.
        (
            "GET /api/me without a token",
            app.http.get(format!("{}/api/me", app.base)),
            401,
        ),
        (
            "GET of an unknown route",
            app.http.get(format!("{}/nope", app.base)),
            404,
        ),
        // Refused by the header-size middleware, the outermost check.
        (
            "GET /health with huge headers",
            app.http
                .get(format!("{}/health", app.base))
                .header("X-Big", big),
            431,
        ),
    ];
    for (what, request, status) in cases {
        let res = request.send().await.unwrap();
        assert_eq!(res.status(), status, "{what}");
        let header = |name: &str| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        assert_eq!(
            header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{what}"
        );
        assert_eq!(
            header("referrer-policy").as_deref(),
            Some("no-referrer"),
            "{what}"
        );
        assert_eq!(
            header("cache-control").as_deref(),
            Some("no-store"),
            "{what}"
        );
        assert!(
            header("x-request-id").is_some_and(|id| !id.is_empty()),
            "{what}"
        );
    }
}
