//! `POST /tokens`: the contract a customer's backend relies on.

use crate::common::chat::{as_key, token};
use crate::common::{TestApp, assert_error, jwt_claims, jwt_header};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

#[actix_web::test]
async fn tokens_returns_both_tokens_and_the_user() {
    let app = TestApp::start().await;

    let res = app
        .post_tokens(&json!({"userId": "alice", "name": "Alice", "image": "https://x/a.png", "email": "a@x.io", "custom": {"plan": "pro"}}))
        .await;

    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert_eq!(body["expiresIn"], 86_400);
    assert_eq!(
        body["wsExpiresIn"], 900,
        "by default the wsToken lives 900 s, the REST token CHATSDK_TOKEN_TTL"
    );
    assert_eq!(
        body["user"],
        json!({"id": "alice", "name": "Alice", "image": "https://x/a.png", "email": "a@x.io", "custom": {"plan": "pro"}})
    );

    let rest = jwt_claims(body["token"].as_str().unwrap());
    assert_eq!(jwt_header(body["token"].as_str().unwrap())["alg"], "HS256");
    assert_eq!(rest["sub"], "alice");
    assert_eq!(rest["app"], app.app_id);
    assert_eq!(
        (rest["iss"].as_str(), rest["aud"].as_str()),
        (Some("chatsdk"), Some("chatsdk"))
    );
    assert_eq!(
        rest["exp"].as_u64().unwrap() - rest["iat"].as_u64().unwrap(),
        86_400
    );
    assert!(rest["jti"].as_str().is_some_and(|j| j.len() >= 16));

    let ws = jwt_claims(body["wsToken"].as_str().unwrap());
    assert_eq!(
        jwt_header(body["wsToken"].as_str().unwrap())["alg"],
        "HS256"
    );
    assert_eq!(ws["sub"], format!("{}:alice", app.app_id));
    assert_eq!(
        ws["info"],
        json!({"id": "alice", "name": "Alice", "image": "https://x/a.png"})
    );
    assert_eq!(ws["iat"], rest["iat"]);
    assert_eq!(
        ws["exp"].as_u64().unwrap() - ws["iat"].as_u64().unwrap(),
        900
    );
    assert!(
        ws.get("channel").is_none(),
        "a connection token must never carry `channel`"
    );
}

#[actix_web::test]
async fn each_call_issues_a_fresh_token_id() {
    let app = TestApp::start().await;
    let a = app.tokens_for("bob").await;
    let b = app.tokens_for("bob").await;
    assert_ne!(
        jwt_claims(a["token"].as_str().unwrap())["jti"],
        jwt_claims(b["token"].as_str().unwrap())["jti"]
    );
}

#[actix_web::test]
async fn upsert_updates_present_fields_keeps_absent_ones_and_null_clears() {
    let app = TestApp::start().await;
    app.post_tokens(&json!({"userId": "u1", "name": "Ann", "image": "i1", "email": "e1"}))
        .await;

    let res = app
        .post_tokens(&json!({"userId": "u1", "name": "Anna", "email": null}))
        .await;

    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["user"],
        json!({"id": "u1", "name": "Anna", "image": "i1", "email": null, "custom": {}})
    );
    let mut me: Value = app
        .get_me(body["token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    me.as_object_mut().unwrap().remove("personalChannel");
    assert_eq!(
        me, body["user"],
        "the stored user matches what /tokens answered"
    );
    assert_eq!(app.count_users(), 1);
}

#[actix_web::test]
async fn custom_is_merged_as_a_json_merge_patch() {
    let app = TestApp::start().await;
    app.post_tokens(&json!({"userId": "u", "custom": {"a": 1, "b": {"c": 2, "d": 3}, "e": [1]}}))
        .await;

    let body: Value = app
        .post_tokens(
            &json!({"userId": "u", "custom": {"a": null, "b": {"c": 20, "d": null}, "f": true}}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["user"]["custom"],
        json!({"b": {"c": 20}, "e": [1], "f": true})
    );

    let body: Value = app
        .post_tokens(&json!({"userId": "u"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["user"]["custom"],
        json!({"b": {"c": 20}, "e": [1], "f": true}),
        "absent keeps"
    );

    let body: Value = app
        .post_tokens(&json!({"userId": "u", "custom": null}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["user"]["custom"], json!({}), "null clears");
}

#[actix_web::test]
async fn concurrent_requests_for_one_new_user_make_one_user_and_no_error() {
    let app = TestApp::start().await;
    let calls: Vec<_> = (0..40)
        .map(|i| {
            let request = app
                .tokens_request()
                .json(&json!({"userId": "racer", "custom": {format!("k{i}"): i}}));
            actix_web::rt::spawn(request.send())
        })
        .collect();

    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().status(), 200);
    }

    assert_eq!(app.count_users(), 1);
    let body: Value = app
        .post_tokens(&json!({"userId": "racer"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["user"]["custom"].as_object().unwrap().len(),
        40,
        "every merge kept"
    );
}

#[actix_web::test]
async fn unusual_user_ids_round_trip_unchanged() {
    let app = TestApp::start().await;
    let long = "é".repeat(255);
    let ids = [
        "alice@example.com",
        "550e8400-e29b-41d4-a716-446655440000",
        "a:b#c,d",
        "日本語のユーザー",
        "emoji 👩‍💻",
        "with space",
        "$dollar",
        "slash/and\\back",
        "quote\"s",
        long.as_str(),
    ];
    for id in ids {
        let body = app.tokens_for(id).await;
        assert_eq!(body["user"]["id"], id);
        assert_eq!(jwt_claims(body["token"].as_str().unwrap())["sub"], id);
        assert_eq!(
            jwt_claims(body["wsToken"].as_str().unwrap())["sub"],
            format!("{}:{id}", app.app_id)
        );
        let me: Value = app
            .get_me(body["token"].as_str().unwrap())
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(me["id"], id);
    }
    assert_eq!(app.count_users(), ids.len() as i64);
}

#[actix_web::test]
async fn invalid_user_ids_get_400_naming_the_field() {
    let app = TestApp::start().await;
    for body in [
        json!({"userId": ""}),
        json!({"userId": "x".repeat(256)}),
        json!({"userId": "a\nb"}),
        json!({"userId": "tab\there"}),
        json!({"userId": "nul\u{0}"}),
        json!({"userId": 42}),
        json!({"userId": null}),
        json!({"userId": ["a"]}),
        json!({"name": "no id"}),
    ] {
        let message = assert_error(app.post_tokens(&body).await, 400, "invalid_request").await;
        assert!(message.contains("userId"), "{message}");
    }
    assert_eq!(app.count_users(), 0, "nothing was written");
}

#[actix_web::test]
async fn bad_optional_fields_get_400_naming_the_field_and_change_nothing() {
    let app = TestApp::start().await;
    app.post_tokens(&json!({"userId": "u", "name": "Keep", "custom": {"k": "v"}}))
        .await;
    for (body, field) in [
        (json!({"userId": "u", "name": 5}), "name"),
        (json!({"userId": "u", "name": "x".repeat(256)}), "name"),
        (json!({"userId": "u", "email": "a\u{7}b"}), "email"),
        (json!({"userId": "u", "image": {"url": "x"}}), "image"),
        (json!({"userId": "u", "custom": "string"}), "custom"),
        (json!({"userId": "u", "custom": [1, 2]}), "custom"),
        (
            json!({"userId": "u", "custom": {"big": "x".repeat(8200)}}),
            "custom",
        ),
        (json!({"userId": "u", "nmae": "typo"}), "nmae"),
    ] {
        let message = assert_error(app.post_tokens(&body).await, 400, "invalid_request").await;
        assert!(message.contains(field), "{field}: {message}");
    }
    let body: Value = app
        .post_tokens(&json!({"userId": "u"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["user"]["name"], "Keep");
    assert_eq!(body["user"]["custom"], json!({"k": "v"}));
}

#[actix_web::test]
async fn a_merge_that_would_grow_custom_past_the_limit_is_refused_and_loses_nothing() {
    let app = TestApp::start().await;
    let half = "x".repeat(5000);
    app.post_tokens(&json!({"userId": "u", "custom": {"a": half}}))
        .await;

    let message = assert_error(
        app.post_tokens(&json!({"userId": "u", "custom": {"b": half}}))
            .await,
        400,
        "invalid_request",
    )
    .await;

    assert!(
        message.contains("custom") && message.contains("8192"),
        "{message}"
    );
    let body: Value = app
        .post_tokens(&json!({"userId": "u"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["user"]["custom"], json!({"a": half}));
}

#[actix_web::test]
async fn malformed_bodies_get_clear_errors() {
    let app = TestApp::start().await;
    let post = |body: &'static str, ct: Option<&'static str>| {
        let mut req = app.tokens_request().body(body);
        if let Some(ct) = ct {
            req = req.header("Content-Type", ct);
        }
        req.send()
    };
    assert_error(
        post("{", Some("application/json")).await.unwrap(),
        400,
        "invalid_json",
    )
    .await;
    assert_error(
        post("", Some("application/json")).await.unwrap(),
        400,
        "invalid_json",
    )
    .await;
    assert_error(
        post("{\"userId\":\"a\"} trailing", Some("application/json"))
            .await
            .unwrap(),
        400,
        "invalid_json",
    )
    .await;
    assert_error(
        post("[]", Some("application/json")).await.unwrap(),
        400,
        "invalid_request",
    )
    .await;
    assert_error(
        post("\"alice\"", Some("application/json")).await.unwrap(),
        400,
        "invalid_request",
    )
    .await;
    assert_error(
        post("[\"alice\"]", Some("application/json")).await.unwrap(),
        400,
        "invalid_request",
    )
    .await;
    assert_error(
        post("[", Some("application/json")).await.unwrap(),
        400,
        "invalid_json",
    )
    .await;
    assert_error(
        post("{\"userId\":\"a\"}", Some("text/plain"))
            .await
            .unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    assert_error(
        post("{\"userId\":\"a\"}", None).await.unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    // Accepted: a charset parameter on the JSON media type.
    assert_eq!(
        post(
            "{\"userId\":\"a\"}",
            Some("application/json; charset=utf-8")
        )
        .await
        .unwrap()
        .status(),
        200
    );
    // Nesting deeper than the JSON parser's limit is refused, not a stack overflow.
    let deep = format!(
        "{{\"userId\":\"u\",\"custom\":{}1{}}}",
        "{\"a\":".repeat(10_000),
        "}".repeat(10_000)
    );
    let res = app
        .tokens_request()
        .header("Content-Type", "application/json")
        .body(deep)
        .send()
        .await
        .unwrap();
    assert_error(res, 400, "invalid_json").await;
}

#[actix_web::test]
async fn a_key_repeated_inside_custom_gets_400_and_nothing_is_stored() {
    let app = TestApp::start().await;
    let post = |body: &'static str| {
        app.tokens_request()
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };

    // Which "plan" counts would be a guess: a backend that checked the first one would
    // disagree with a store that kept the last.
    let res = post(r#"{"userId":"dup","custom":{"plan":"free","plan":"pro"}}"#)
        .await
        .unwrap();
    let message = assert_error(res, 400, "invalid_request").await;
    assert!(
        message.contains("custom") && message.contains("`plan`"),
        "{message}"
    );
    let res = as_key(&app, Method::GET, "/api/me?userId=dup", None).await;
    assert_error(res, 404, "not_found").await;

    let ok = post(r#"{"userId":"dup","custom":{"a":{"plan":1},"plan":2}}"#)
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

/// `body` compressed with gzip.
fn gzip(body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(body).unwrap();
    e.finish().unwrap()
}

#[actix_web::test]
async fn a_body_is_read_plain_gzip_or_deflate_and_any_other_coding_gets_415() {
    let app = TestApp::start().await;
    let post = |codings: &[&str], body: Vec<u8>| {
        let mut req = app
            .tokens_request()
            .header("Content-Type", "application/json");
        for c in codings {
            req = req.header("Content-Encoding", *c);
        }
        req.body(body).send()
    };

    let zipped = post(&["gzip"], gzip(br#"{"userId":"zipped"}"#))
        .await
        .unwrap();
    assert_eq!(zipped.status(), 200);
    let body: Value = zipped.json().await.unwrap();
    assert_eq!(body["user"]["id"], "zipped");

    // An empty coding is no coding, as actix reads it.
    let res = post(&[""], br#"{"userId":"plain"}"#.to_vec())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // The size limit counts the decoded body: 1 MiB that packs into ~1 KiB is refused.
    let big = format!(r#"{{"userId":"big","name":"{}"}}"#, "a".repeat(1 << 20));
    let res = post(&["gzip"], gzip(big.as_bytes())).await.unwrap();
    assert_error(res, 413, "payload_too_large").await;

    // Undecodable: our message, not the framework's debug text.
    let res = post(&["gzip"], b"not gzip at all".to_vec()).await.unwrap();
    let message = assert_error(res, 400, "invalid_request").await;
    assert!(message.contains("Content-Encoding"), "{message}");
    assert!(
        !message.contains("Some(") && !message.contains("Custom"),
        "{message}"
    );

    // br, zstd and unknown codings used to be read as if plain; two codings likewise.
    let plain = br#"{"userId":"misread"}"#.to_vec();
    for codings in [
        &["br"][..],
        &["zstd"],
        &["x-foo"],
        &["gzip, gzip"],
        &["identity", "gzip"],
    ] {
        let res = post(codings, plain.clone()).await.unwrap();
        assert_eq!(
            res.headers()["accept-encoding"],
            "gzip, deflate",
            "{codings:?}"
        );
        let message = assert_error(res, 415, "unsupported_media_type").await;
        assert!(
            message.contains("Content-Encoding"),
            "{codings:?}: {message}"
        );
    }
    let res = as_key(&app, Method::GET, "/api/me?userId=misread", None).await;
    assert_error(res, 404, "not_found").await;
}

#[actix_web::test]
async fn bodies_over_64_kib_get_413() {
    let app = TestApp::start().await;
    let body = json!({"userId": "u", "name": "x".repeat(70 * 1024)});
    assert_error(app.post_tokens(&body).await, 413, "payload_too_large").await;
    assert_eq!(app.count_users(), 0);
}

/// Sends one request as raw bytes (`Connection: close`) and reads until the server closes:
/// the response's head as text, and every byte after it.
async fn raw_request(base: &str, method: &str, path: &str) -> (String, Vec<u8>) {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://").to_string();
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    // Blocking I/O off the test's runtime, which also serves the app.
    let raw = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        raw
    })
    .await
    .unwrap();
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    (
        String::from_utf8(raw[..end].to_vec()).unwrap(),
        raw[end + 4..].to_vec(),
    )
}

/// HEAD answers wherever GET does (monitors and caches probe with it): GET's status and
/// headers, no body; and it goes through the same checks as GET.
#[actix_web::test]
async fn head_answers_like_get_without_a_body() {
    let app = TestApp::start().await;
    let url = |p: &str| format!("{}{p}", app.base);
    // On the wire (reqwest never reads a HEAD response's body, so it cannot tell): GET's
    // status line and length, and nothing after the headers.
    let (get_head, get_body) = raw_request(&app.base, "GET", "/health").await;
    let (head_head, head_body) = raw_request(&app.base, "HEAD", "/health").await;
    assert!(head_head.starts_with("HTTP/1.1 200 OK\r\n"), "{head_head}");
    let length = |head: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .map(str::to_string)
    };
    assert_eq!(length(&head_head), length(&get_head));
    assert_eq!(length(&get_head), Some(get_body.len().to_string()));
    assert!(!get_body.is_empty());
    assert!(head_body.is_empty(), "{head_body:?}");
    let head = app.http.head(url("/health")).send().await.unwrap();
    assert_eq!(head.headers()["content-type"], "application/json");

    let token = token(&app, "alice").await;
    let res = app
        .http
        .head(url("/api/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Without credentials: GET's 401, headers only.
    let res = app.http.head(url("/api/me")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    // A path that only takes POST does not answer HEAD.
    let res = app
        .http
        .head(url("/tokens"))
        .header("X-API-Key", &app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");
}

#[actix_web::test]
async fn wrong_methods_and_unknown_routes_get_json_errors() {
    let app = TestApp::start().await;
    let url = |p: &str| format!("{}{p}", app.base);
    // Each 405 names the methods the path does answer (HTTP requires `Allow` on a 405).
    let res = app
        .http
        .get(url("/tokens"))
        .header("X-API-Key", &app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["allow"], "POST");
    assert_error(res, 405, "method_not_allowed").await;
    let res = app.http.delete(url("/health")).send().await.unwrap();
    assert_eq!(res.headers()["allow"], "GET, HEAD");
    assert_error(res, 405, "method_not_allowed").await;
    let token = token(&app, "alice").await;
    let res = app
        .http
        .put(url("/api/channels/general"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["allow"], "GET, HEAD, PATCH, DELETE");
    assert_error(res, 405, "method_not_allowed").await;
    assert_error(
        app.http.get(url("/nope")).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.http.post(url("/")).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
}

#[actix_web::test]
async fn missing_unknown_and_malformed_keys_get_401() {
    let app = TestApp::start().await;
    let body = json!({"userId": "u"});
    let res = app
        .http
        .post(format!("{}/tokens", app.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "missing_api_key").await;
    assert_error(
        app.post_tokens_with_key("", &body).await,
        401,
        "missing_api_key",
    )
    .await;
    assert_error(
        app.post_tokens_with_key("garbage", &body).await,
        401,
        "invalid_api_key",
    )
    .await;
    // Well-formed (valid checksum) but never issued by this database:
    let other = chatsdk::auth::api_key::generate();
    assert_error(
        app.post_tokens_with_key(other.key.expose(), &body).await,
        401,
        "invalid_api_key",
    )
    .await;
    // This key with its last character changed:
    let mut tampered = app.api_key.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'a' { 'b' } else { 'a' });
    assert_error(
        app.post_tokens_with_key(&tampered, &body).await,
        401,
        "invalid_api_key",
    )
    .await;
    assert_eq!(app.count_users(), 0);
}

#[actix_web::test]
async fn a_401_wins_over_a_bad_body() {
    let app = TestApp::start().await;
    let res = app
        .http
        .post(format!("{}/tokens", app.base))
        .header("X-API-Key", "nope")
        .header("Content-Type", "text/plain")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "invalid_api_key").await;
}

#[actix_web::test]
async fn keys_created_and_revoked_by_the_cli_take_effect_on_the_running_server() {
    let app = TestApp::start().await;
    let created = app.cli_json(&["key", "create", "--app", &app.app_id, "--name", "second"]);
    let second = created["apiKey"].as_str().unwrap();
    assert_eq!(
        app.post_tokens_with_key(second, &json!({"userId": "u"}))
            .await
            .status(),
        200
    );

    app.cli_json(&["key", "revoke", created["keyId"].as_str().unwrap()]);

    assert_error(
        app.post_tokens_with_key(second, &json!({"userId": "u"}))
            .await,
        401,
        "invalid_api_key",
    )
    .await;
    assert_eq!(
        app.post_tokens(&json!({"userId": "u"})).await.status(),
        200,
        "the other key still works"
    );
}

#[actix_web::test]
async fn two_apps_with_the_same_user_id_have_two_users() {
    let app = TestApp::start().await;
    let other = app.cli_json(&["app", "create", "--name", "other"]);
    let other_key = other["apiKey"].as_str().unwrap();
    app.post_tokens(&json!({"userId": "alice", "custom": {"secret": "a1"}}))
        .await;

    let body: Value = app
        .post_tokens_with_key(other_key, &json!({"userId": "alice"}))
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(
        body["user"]["custom"],
        json!({}),
        "app B never sees app A's data"
    );
    let ws = jwt_claims(body["wsToken"].as_str().unwrap());
    assert_eq!(
        ws["sub"],
        format!("{}:alice", other["appId"].as_str().unwrap())
    );
    assert_ne!(other["appId"], app.app_id);
    assert_eq!(app.count_users(), 2);
}

#[actix_web::test]
async fn an_internal_failure_is_a_500_that_reveals_nothing() {
    let app = TestApp::start().await;
    // Break the storage under the running server.
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    conn.execute_batch("DROP TABLE users").unwrap();

    let res = app.post_tokens(&json!({"userId": "u"})).await;

    let message = assert_error(res, 500, "internal").await;
    assert_eq!(message, "internal error");
}

#[actix_web::test]
async fn a_non_ascii_api_key_header_is_an_invalid_key() {
    let app = TestApp::start().await;
    let res = app
        .http
        .post(format!("{}/tokens", app.base))
        .header(
            "X-API-Key",
            reqwest::header::HeaderValue::from_bytes(b"chatsdk_\xe9").unwrap(),
        )
        .json(&json!({"userId": "u"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "invalid_api_key").await;
}

#[actix_web::test]
async fn the_ws_token_ttl_is_configurable_on_its_own() {
    let app = TestApp::start_with(|a| a.client.ws_token_ttl = Some(600)).await;

    let body = app.tokens_for("alice").await;

    assert_eq!(
        (body["expiresIn"].as_u64(), body["wsExpiresIn"].as_u64()),
        (Some(86_400), Some(600))
    );
    let ws = jwt_claims(body["wsToken"].as_str().unwrap());
    assert_eq!(
        ws["exp"].as_u64().unwrap() - ws["iat"].as_u64().unwrap(),
        600
    );
    let rest = jwt_claims(body["token"].as_str().unwrap());
    assert_eq!(
        rest["exp"].as_u64().unwrap() - rest["iat"].as_u64().unwrap(),
        86_400
    );
}

#[actix_web::test]
async fn oversized_headers_get_431() {
    let app = TestApp::start().await;
    let big = "a".repeat(chatsdk::startup::MAX_HEADER_BYTES + 1);
    let res = app
        .tokens_request()
        .header("X-Padding", big)
        .json(&json!({"userId": "u"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 431, "headers_too_large").await;
    assert_eq!(app.count_users(), 0);
}

#[actix_web::test]
async fn a_body_that_never_arrives_whole_gets_408_instead_of_holding_the_request() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::start().await;
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let partial = r#"{"userId":"#;
    let head = format!(
        "POST /tokens HTTP/1.1\r\nHost: x\r\nX-API-Key: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        app.api_key,
        partial.len() + 10
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(partial.as_bytes()).await.unwrap();

    let mut answer = Vec::new();
    let started = std::time::Instant::now();
    let read = tokio::time::timeout(
        chatsdk::routes::json::BODY_TIMEOUT + Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await;

    assert!(read.is_ok(), "still waiting after {:?}", started.elapsed());
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
    assert!(started.elapsed() >= chatsdk::routes::json::BODY_TIMEOUT);
}
