//! The wsToken against the real Centrifugo: the official client connects with it,
//! `centrifugo checktoken` agrees, and what should be refused is refused.

use crate::common::{CENTRIFUGO_SECRET, TestApp, checktoken, jwt_claims, official_client_connect};
use serde_json::Value;

fn disconnect_code(report: &Value) -> Option<i64> {
    report["events"]
        .as_array()?
        .iter()
        .find(|e| e["event"] == "disconnected")
        .and_then(|e| e["code"].as_i64())
}

#[actix_web::test]
async fn the_official_client_connects_with_the_ws_token() {
    let app = TestApp::start().await;
    let body = app.tokens_for("alice").await;

    let report = official_client_connect(&app.ws_url(), body["wsToken"].as_str().unwrap()).await;

    assert_eq!(report["connected"], true, "{report}");
}

#[actix_web::test]
async fn unusual_user_ids_connect_as_distinct_centrifugo_users() {
    let app = TestApp::start().await;
    for id in ["a:b#c,d", "日本語", "x@y.z", "emoji 👩‍💻"] {
        let body = app.tokens_for(id).await;
        let ws = body["wsToken"].as_str().unwrap();
        let report = official_client_connect(&app.ws_url(), ws).await;
        assert_eq!(report["connected"], true, "{id}: {report}");
        let (ok, text) = checktoken(ws, CENTRIFUGO_SECRET);
        assert!(ok, "{text}");
        assert!(
            text.contains(&format!("valid token for user {}:{id}", app.app_id)),
            "{text}"
        );
    }
}

#[actix_web::test]
async fn centrifugo_checktoken_accepts_the_ws_token_with_the_claims_we_sent() {
    let app = TestApp::start().await;
    let body = app.tokens_for("bob").await;
    let ws = body["wsToken"].as_str().unwrap();

    let (ok, text) = checktoken(ws, CENTRIFUGO_SECRET);

    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("valid token for user {}:bob", app.app_id)),
        "{text}"
    );
    let claims = jwt_claims(ws);
    assert!(
        text.contains(&format!("\"exp\":{}", claims["exp"])),
        "{text}"
    );
}

#[actix_web::test]
async fn the_rest_token_is_refused_by_centrifugo() {
    let app = TestApp::start().await;
    let body = app.tokens_for("alice").await;
    let rest = body["token"].as_str().unwrap();

    let report = official_client_connect(&app.ws_url(), rest).await;

    assert_eq!(report["connected"], false, "{report}");
    assert_eq!(
        disconnect_code(&report),
        Some(3500),
        "invalid token: {report}"
    );
    let (ok, text) = checktoken(rest, CENTRIFUGO_SECRET);
    assert!(!ok && text.contains("signature"), "{text}");
}

#[actix_web::test]
async fn a_ws_token_signed_with_the_wrong_secret_is_refused() {
    let app = TestApp::start_with(|a| {
        a.centrifugo_token_secret = Some(chatsdk::secret::Secret::new(
            "not-the-centrifugo-secret-0123456789abcdef",
        ));
    })
    .await;
    let body = app.tokens_for("alice").await;
    let ws = body["wsToken"].as_str().unwrap();

    let report = official_client_connect(&app.ws_url(), ws).await;

    assert_eq!(report["connected"], false, "{report}");
    assert_eq!(disconnect_code(&report), Some(3500), "{report}");
    assert!(!checktoken(ws, CENTRIFUGO_SECRET).0);
}

#[actix_web::test]
async fn an_expired_ws_token_is_refused_and_the_client_asks_for_a_new_one() {
    let app = TestApp::start_with(|a| a.client.token_ttl = 1).await;
    let body = app.tokens_for("alice").await;
    let ws = body["wsToken"].as_str().unwrap().to_string();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;

    let report = official_client_connect(&app.ws_url(), &ws).await;

    assert_eq!(report["connected"], false, "{report}");
    let events = report["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "error" && e["replyCode"] == 109),
        "Centrifugo answers 109 token expired: {report}"
    );
    assert!(
        events.iter().any(|e| e["event"] == "get_token"),
        "the SDK asks for a fresh token: {report}"
    );
    let (ok, text) = checktoken(&ws, CENTRIFUGO_SECRET);
    assert!(!ok && text.contains("expired"), "{text}");
}
