//! The `chatsdk` binary end to end: apps, keys, healthcheck, and startup errors.

use crate::common;
use crate::common::TestApp;
use serde_json::Value;
use std::process::Command;

fn chatsdk() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatsdk"));
    for var in [
        "CHATSDK_JWT_SECRET",
        "CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY",
        "CENTRIFUGO_HTTP_API_KEY",
        "CHATSDK_ADDR",
        "CHATSDK_DATABASE",
        "CENTRIFUGO_URL",
        "CHATSDK_TOKEN_TTL",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

#[actix_web::test]
async fn app_create_prints_the_key_once_and_lists_never_show_secrets() {
    let app = TestApp::start().await;

    let created = app.cli_json(&["app", "create", "--name", "Acme Chat"]);

    let keys: Vec<&str> = created
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["apiKey", "appId", "keyId", "name"]);
    let api_key = created["apiKey"].as_str().unwrap();
    assert!(api_key.starts_with("chatsdk_key_"));
    let apps = app.cli_json(&["app", "list"]);
    let listed = apps["apps"].as_array().unwrap();
    assert!(
        listed
            .iter()
            .any(|a| a["appId"] == created["appId"] && a["name"] == "Acme Chat")
    );
    let keys = app.cli_json(&["key", "list", "--app", created["appId"].as_str().unwrap()]);
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1);
    assert_eq!(keys["keys"][0]["keyId"], created["keyId"]);
    for out in [apps.to_string(), keys.to_string()] {
        assert!(
            !out.contains(api_key) && !out.contains(&api_key[api_key.len() - 20..]),
            "{out}"
        );
    }
    // Only a hash is stored: the key's text appears nowhere in the database file.
    let db = std::fs::read(app.db_path()).unwrap();
    let wal = std::fs::read(app.db_path().with_extension("db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        assert!(
            !bytes
                .windows(api_key.len())
                .any(|w| w == api_key.as_bytes())
        );
    }
}

#[actix_web::test]
async fn key_create_list_and_revoke_round_trip() {
    let app = TestApp::start().await;

    let created = app.cli_json(&["key", "create", "--app", &app.app_id, "--name", "ci"]);
    assert_eq!(created.as_object().unwrap().len(), 2, "{created}");
    let key_id = created["keyId"].as_str().unwrap();
    let revoked = app.cli_json(&["key", "revoke", key_id]);
    assert_eq!(revoked["revoked"], true);

    let keys = app.cli_json(&["key", "list", "--app", &app.app_id]);
    let entry = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["keyId"] == key_id)
        .unwrap()
        .clone();
    assert_eq!(entry["name"], "ci");
    assert!(entry["revokedAt"].is_string(), "{entry}");
    assert!(entry.get("apiKey").is_none() && entry.get("hash").is_none());
}

#[actix_web::test]
async fn cli_errors_are_clear_and_exit_non_zero() {
    let app = TestApp::start().await;
    for (args, code) in [
        (
            vec!["--json", "key", "create", "--app", "app_nope"],
            "not_found",
        ),
        (
            vec!["--json", "key", "list", "--app", "app_nope"],
            "not_found",
        ),
        (vec!["--json", "key", "revoke", "key_nope"], "not_found"),
        (
            vec!["--json", "app", "create", "--name", ""],
            "invalid_request",
        ),
    ] {
        let out = app.cli(&args);
        assert!(!out.status.success(), "{args:?}");
        let body: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(body["error"]["code"], code, "{args:?}: {body}");
    }
    let out = app.cli(&["key", "create", "--app", "app_nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no app app_nope"));
}

#[test]
fn commands_on_a_path_without_a_database_say_so_and_create_none_but_app_create_starts_one() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("chatsbk.db");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_chatsdk"))
            .arg("--json")
            .arg("--database")
            .arg(&typo)
            .args(args)
            .env_remove("CHATSDK_DATABASE")
            .output()
            .unwrap()
    };

    for args in [
        &["app", "list"][..],
        &["key", "list", "--app", "app_x"],
        &["key", "revoke", "key_x"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let body: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{args:?}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(typo.to_str().unwrap()), "{message}");
        assert!(!typo.exists(), "{args:?} left an empty database behind");
    }

    let out = run(&["app", "create", "--name", "first"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        typo.is_file(),
        "the first step of a setup creates the database"
    );
    assert!(run(&["app", "list"]).status.success());
}

#[actix_web::test]
async fn human_output_shows_the_key_once_with_its_id() {
    let app = TestApp::start().await;
    let out = app.cli(&["key", "create", "--app", &app.app_id]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("chatsdk_key_") && text.contains("shown once"),
        "{text}"
    );
}

#[actix_web::test]
async fn healthcheck_exits_zero_only_when_the_service_answers() {
    let app = TestApp::start().await;
    let addr = app.base.trim_start_matches("http://").to_string();

    // Async: this test's runtime hosts the server, so it must keep running meanwhile.
    let up = tokio::process::Command::from(chatsdk())
        .args(["healthcheck", "--addr", &addr])
        .output()
        .await
        .unwrap();
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );

    let port = common::free_port();
    let down = chatsdk()
        .args([
            "--json",
            "healthcheck",
            "--addr",
            &format!("127.0.0.1:{port}"),
        ])
        .output()
        .unwrap();
    assert!(!down.status.success());
    let body: Value = serde_json::from_slice(&down.stdout).unwrap();
    assert_eq!(body["error"]["code"], "unhealthy");
}

#[test]
fn serve_lists_every_missing_or_weak_setting_and_never_echoes_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let out = chatsdk()
        .args(["serve"])
        .env("CHATSDK_DATABASE", dir.path().join("x.db"))
        .env(
            "CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY",
            "too-short-secret",
        )
        .env("CHATSDK_TOKEN_TTL", "0")
        .output()
        .unwrap();

    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "CHATSDK_JWT_SECRET is missing",
        "CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY is too weak",
        "CENTRIFUGO_HTTP_API_KEY is missing",
        "CHATSDK_TOKEN_TTL",
    ] {
        assert!(err.contains(needle), "{needle} missing from: {err}");
    }
    assert!(!err.contains("too-short-secret"), "{err}");
}

#[test]
fn help_never_shows_secret_values_from_the_environment() {
    let out = chatsdk()
        .args(["serve", "--help"])
        .env(
            "CHATSDK_JWT_SECRET",
            "help-leak-check-secret-0123456789abcdef",
        )
        .env("CENTRIFUGO_HTTP_API_KEY", "help-leak-check-api-key")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("CHATSDK_JWT_SECRET"), "{text}");
    assert!(!text.contains("help-leak-check"), "{text}");
}

#[actix_web::test]
async fn a_whole_scenario_with_debug_logging_logs_requests_but_no_secret_in_any_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let (cport, cinternal) = (common::free_port(), common::free_port());
    let centrifugo = common::start_centrifugo(dir.path(), cport, cinternal).await;
    let db = dir.path().join("chatsdk.db");
    let created: Value = serde_json::from_slice(
        &chatsdk()
            .args(["--json", "app", "create", "--name", "bin"])
            .env("CHATSDK_DATABASE", &db)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let log_path = dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = common::serve_command(&db, port, &centrifugo.internal_url)
        .env("RUST_LOG", "debug")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut ready = false;
    for _ in 0..100 {
        if let Ok(r) = http.get(format!("{base}/ready")).send().await {
            ready = r.status() == 200;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ready, "the binary became ready");
    let api_key = created["apiKey"].as_str().unwrap();
    let body: Value = http
        .post(format!("{base}/tokens"))
        .header("X-API-Key", api_key)
        .json(&serde_json::json!({"userId": "alice"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["token"].as_str().unwrap();
    let ws_token = body["wsToken"].as_str().unwrap();
    // A whole scenario: profile, a channel, a message, a subscription token, failures.
    http.get(format!("{base}/api/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let post = |path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    assert_eq!(
        post("/api/channels", serde_json::json!({"id": "room"}))
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(
        post(
            "/api/channels/room/messages",
            serde_json::json!({"text": "hi"})
        )
        .await
        .unwrap()
        .status(),
        201
    );
    let sub: Value = post("/api/channels/room/subscription-token", Value::Null)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sub_token = sub["token"].as_str().unwrap().to_string();
    http.post(format!("{base}/tokens"))
        .header("X-API-Key", "chatsdk_key_bad")
        .send()
        .await
        .unwrap();
    http.get(format!("{base}/api/me"))
        .bearer_auth(ws_token)
        .send()
        .await
        .unwrap();
    http.get(format!("{base}/api/me?token={token}"))
        .send()
        .await
        .unwrap();
    common::stop_gracefully(&mut child).await;

    let log = std::fs::read_to_string(&log_path).unwrap();
    for line in [
        "/tokens",
        "/api/channels/room/messages",
        "/api/channels/room/subscription-token",
    ] {
        assert!(log.contains(line), "requests are logged ({line}): {log}");
    }
    let secrets = [
        common::JWT_SECRET,
        common::CENTRIFUGO_SECRET,
        common::CENTRIFUGO_API_KEY,
        api_key,
        token,
        ws_token,
        &sub_token,
        "chatsdk_key_bad",
    ];
    for secret in secrets {
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, secret);
        let pct: String = secret
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        for form in [secret.to_string(), b64, pct] {
            assert!(!log.contains(&form), "a secret reached the log");
        }
    }
}

#[actix_web::test]
async fn a_rotated_key_works_during_its_grace_period_and_fails_after() {
    let app = TestApp::start().await;
    let created = app.cli_json(&["key", "create", "--app", &app.app_id, "--name", "rotating"]);
    let old = created["apiKey"].as_str().unwrap();
    let body = serde_json::json!({"userId": "u"});

    let rotated = app.cli_json(&[
        "key",
        "rotate",
        created["keyId"].as_str().unwrap(),
        "--grace",
        "2s",
    ]);

    let keys: Vec<&str> = rotated
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["apiKey", "keyId", "oldKeyExpiresAt"]);
    let new = rotated["apiKey"].as_str().unwrap();
    assert_ne!(new, old);
    assert_eq!(
        app.post_tokens_with_key(old, &body).await.status(),
        200,
        "old key, in grace"
    );
    assert_eq!(
        app.post_tokens_with_key(new, &body).await.status(),
        200,
        "new key"
    );
    let listed = app.cli_json(&["key", "list", "--app", &app.app_id]);
    let old_entry = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["keyId"] == created["keyId"])
        .unwrap();
    assert_eq!(old_entry["expiresAt"], rotated["oldKeyExpiresAt"]);
    let new_entry = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["keyId"] == rotated["keyId"])
        .unwrap();
    assert_eq!(new_entry["name"], "rotating", "the new key keeps the label");

    tokio::time::sleep(std::time::Duration::from_millis(2300)).await;

    common::assert_error(
        app.post_tokens_with_key(old, &body).await,
        401,
        "invalid_api_key",
    )
    .await;
    assert_eq!(app.post_tokens_with_key(new, &body).await.status(), 200);
}

#[actix_web::test]
async fn rotate_refuses_bad_durations_and_dead_keys() {
    let app = TestApp::start().await;
    let created = app.cli_json(&["key", "create", "--app", &app.app_id]);
    let id = created["keyId"].as_str().unwrap();
    for bad in ["24", "1w", "h", "-5s"] {
        let out = app.cli(&["key", "rotate", id, &format!("--grace={bad}")]);
        assert!(!out.status.success(), "{bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("duration"),
            "{bad}"
        );
    }
    app.cli_json(&["key", "revoke", id]);
    let out = app.cli(&["--json", "key", "rotate", id]);
    assert!(!out.status.success());
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}

/// The part of a full API key after its key id: what must never be printed again.
fn secret_of(api_key: &str) -> &str {
    api_key.rsplit_once('_').unwrap().1
}

fn printed(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[actix_web::test]
async fn revoke_takes_a_full_key_and_prints_only_its_key_id() {
    let app = TestApp::start().await;
    let created = app.cli_json(&["key", "create", "--app", &app.app_id]);
    let (key_id, api_key) = (
        created["keyId"].as_str().unwrap(),
        created["apiKey"].as_str().unwrap(),
    );

    let out = app.cli(&["--json", "key", "revoke", api_key]);

    assert!(out.status.success(), "{}", printed(&out));
    assert!(
        !printed(&out).contains(secret_of(api_key)),
        "{}",
        printed(&out)
    );
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["keyId"], key_id);
    assert_eq!(body["revoked"], true);
    common::assert_error(
        app.post_tokens_with_key(api_key, &serde_json::json!({"userId": "u"}))
            .await,
        401,
        "invalid_api_key",
    )
    .await;
}

#[test]
fn a_key_pasted_with_spaces_or_a_newline_around_it_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chatsdk.db");
    let run = |args: &[&str]| {
        chatsdk()
            .arg("--json")
            .arg("--database")
            .arg(&db)
            .args(args)
            .output()
            .unwrap()
    };
    let created = run(&["app", "create", "--name", "Acme"]);
    let created: Value = serde_json::from_slice(&created.stdout).unwrap();
    let app_id = created["appId"].as_str().unwrap();
    let other: Value =
        serde_json::from_slice(&run(&["key", "create", "--app", app_id]).stdout).unwrap();

    let rotated = run(&[
        "key",
        "rotate",
        &format!("  {}\t", other["keyId"].as_str().unwrap()),
    ]);
    let revoked = run(&[
        "key",
        "revoke",
        &format!(" {}\n", created["apiKey"].as_str().unwrap()),
    ]);

    assert!(rotated.status.success(), "{}", printed(&rotated));
    assert!(revoked.status.success(), "{}", printed(&revoked));
    let revoked: Value = serde_json::from_slice(&revoked.stdout).unwrap();
    assert_eq!(revoked["keyId"], created["keyId"]);
    let listed: Value =
        serde_json::from_slice(&run(&["key", "list", "--app", app_id]).stdout).unwrap();
    let status = |id: &Value| {
        listed["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["keyId"] == *id)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status(&created["keyId"]), "revoked", "{listed}");
    assert_eq!(status(&other["keyId"]), "expiring", "{listed}");
}

#[actix_web::test]
async fn rotate_takes_a_full_key_and_prints_only_its_key_id() {
    let app = TestApp::start().await;
    let created = app.cli_json(&["key", "create", "--app", &app.app_id]);
    let (key_id, api_key) = (
        created["keyId"].as_str().unwrap(),
        created["apiKey"].as_str().unwrap(),
    );

    let out = app.cli(&["key", "rotate", api_key, "--grace", "0s"]);

    assert!(out.status.success(), "{}", printed(&out));
    let text = printed(&out);
    assert!(!text.contains(secret_of(api_key)), "{text}");
    assert!(
        text.contains(&format!("The old key {key_id} works until")),
        "{text}"
    );
}

#[actix_web::test]
async fn a_full_key_whose_secret_is_wrong_is_not_found_and_never_echoed() {
    let app = TestApp::start().await;
    let a = app.cli_json(&["key", "create", "--app", &app.app_id]);
    let b = app.cli_json(&["key", "create", "--app", &app.app_id]);
    // Key a's id with key b's secret: the checksum fails, so it names no key at all.
    let forged = format!(
        "chatsdk_{}_{}",
        a["keyId"].as_str().unwrap(),
        secret_of(b["apiKey"].as_str().unwrap())
    );

    for args in [
        vec!["--json", "key", "revoke", &forged],
        vec!["key", "revoke", &forged],
        vec!["--json", "key", "rotate", &forged],
    ] {
        let out = app.cli(&args);

        assert!(!out.status.success(), "{args:?}");
        assert!(
            !printed(&out).contains(&forged[forged.len() - 20..]),
            "{}",
            printed(&out)
        );
    }
    let keys = app.cli_json(&["key", "list", "--app", &app.app_id]);
    assert!(
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["revokedAt"].is_null()),
        "{keys}"
    );
}

#[actix_web::test]
async fn an_api_key_given_where_an_app_id_belongs_is_never_echoed() {
    let app = TestApp::start().await;
    let created = app.cli_json(&["key", "create", "--app", &app.app_id]);
    let (key_id, api_key) = (
        created["keyId"].as_str().unwrap(),
        created["apiKey"].as_str().unwrap(),
    );
    let grace = format!("--grace={api_key}");

    for args in [
        vec!["--json", "key", "list", "--app", api_key],
        vec!["key", "list", "--app", api_key],
        vec!["--json", "key", "create", "--app", api_key],
        vec!["key", "create", "--app", api_key],
        vec!["key", "rotate", key_id, &grace],
        vec!["--json", "key", "rotate", key_id, &grace],
        vec!["key", "revoke", key_id, api_key],
    ] {
        let out = app.cli(&args);

        assert!(!out.status.success(), "{args:?}");
        let text = printed(&out);
        assert!(!text.contains(secret_of(api_key)), "{args:?}: {text}");
        assert!(
            text.contains(&format!("chatsdk_{key_id}_…")),
            "{args:?}: {text}"
        );
    }
}

#[actix_web::test]
async fn rotate_refuses_a_grace_longer_than_a_year_and_keeps_the_old_key() {
    let app = TestApp::start().await;
    let created = app.cli_json(&["key", "create", "--app", &app.app_id]);
    let id = created["keyId"].as_str().unwrap();

    for huge in [
        "366d",
        "106751991167d",
        "9223372036854775807s",
        "99999999999999999999999h",
    ] {
        let out = app.cli(&["key", "rotate", id, "--grace", huge]);

        assert_eq!(out.status.code(), Some(2), "{huge}: {}", printed(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("duration"),
            "{huge}: {}",
            printed(&out)
        );
    }
    let keys = app.cli_json(&["key", "list", "--app", &app.app_id]);
    assert_eq!(
        keys["keys"].as_array().unwrap().len(),
        2,
        "nothing rotated: {keys}"
    );
    assert!(
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["expiresAt"].is_null()),
        "{keys}"
    );

    let rotated = app.cli_json(&["key", "rotate", id, "--grace", "365d"]);

    let year = rotated["oldKeyExpiresAt"].as_str().unwrap()[..4]
        .parse::<i32>()
        .unwrap();
    assert!((2025..3000).contains(&year), "{rotated}");
}

#[actix_web::test]
async fn with_json_an_argument_error_is_one_json_object_and_exit_code_2() {
    let app = TestApp::start().await;
    for args in [
        vec!["--json", "key", "rotate", "X", "--grace", "1x"],
        vec!["--json", "app", "create"],
        vec!["app", "create", "--json"],
        vec!["key", "--json", "frobnicate"],
        vec!["--json"],
    ] {
        let out = app.cli(&args);

        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let body: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", printed(&out)));
        assert_eq!(body["error"]["code"], "invalid_request", "{args:?}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        assert!(out.stderr.is_empty(), "{args:?}: {}", printed(&out));
    }
}

#[test]
fn without_json_argument_errors_and_help_stay_clap_text() {
    let out = chatsdk().args(["app", "create"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--name <NAME>"),
        "{}",
        printed(&out)
    );

    for args in [
        vec!["--json", "--help"],
        vec!["key", "rotate", "--help", "--json"],
        vec!["--version"],
    ] {
        let out = chatsdk().args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(
            serde_json::from_slice::<Value>(&out.stdout).is_err(),
            "{args:?}: plain text"
        );
    }
}

#[test]
fn help_never_shows_the_user_and_password_of_a_centrifugo_url_in_the_environment() {
    for command in ["serve", "doctor"] {
        let out = Command::new(env!("CARGO_BIN_EXE_chatsdk"))
            .args([command, "--help"])
            .env("CENTRIFUGO_URL", "http://admin:s3cretpw@127.0.0.1:9000")
            .env(
                "CENTRIFUGO_WS_URL",
                "ws://u:wspass@127.0.0.1:8000/connection/websocket",
            )
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{command} --help: {text}");
        assert!(text.contains("CENTRIFUGO_URL"), "{text}");
        assert!(
            !text.contains("s3cretpw") && !text.contains("wspass"),
            "{text}"
        );
    }
}
