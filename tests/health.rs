//! `/health` and `/ready`, with Centrifugo up, down and misconfigured.

use crate::common::{TestApp, assert_error};
use serde_json::{Value, json};

#[actix_web::test]
async fn health_is_ok_while_the_process_serves() {
    let app = TestApp::start().await;
    let res = app.get("/health").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"status": "ok"}));
}

#[actix_web::test]
async fn ready_is_ok_when_sqlite_and_centrifugo_answer() {
    let app = TestApp::start().await;
    let res = app.get("/ready").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    // The README's example, byte for byte: an idle server has nothing waiting.
    let readme = r#"{"status":"ready","checks":{"database":"ok","centrifugo":"ok"},"outbox":{"pending":0,"oldestAgeSeconds":0.0}}"#;
    assert!(
        include_str!("../README.md").contains(readme),
        "the README shows another /ready body"
    );
    assert_eq!(body, serde_json::from_str::<Value>(readme).unwrap());
}

#[actix_web::test]
async fn ready_is_503_naming_centrifugo_but_not_its_address_when_it_is_down_and_health_stays_ok() {
    let mut app = TestApp::start().await;
    app.centrifugo.take().unwrap().stop().await;

    let res = app.get("/ready").await;

    let message = assert_error(res, 503, "not_ready").await;
    assert_eq!(
        message, "centrifugo: unreachable",
        "what failed, not where it lives (the log has the address)"
    );
    let res = app.get("/health").await;
    assert_eq!(res.status(), 200);
}

#[actix_web::test]
async fn ready_is_503_naming_the_database_but_not_the_driver_message_when_a_query_fails() {
    let app = TestApp::start().await;
    // Another connection renames the table `/ready` reads, so its query fails inside
    // SQLite ("no such table: apps") while the file stays open and healthy.
    let outside = rusqlite::Connection::open(app.db_path()).unwrap();
    outside
        .execute_batch("ALTER TABLE apps RENAME TO apps_hidden")
        .unwrap();

    let res = app.get("/ready").await;

    let message = assert_error(res, 503, "not_ready").await;
    assert_eq!(
        message, "database: failed",
        "what failed, not SQLite's words or the file's path"
    );

    outside
        .execute_batch("ALTER TABLE apps_hidden RENAME TO apps")
        .unwrap();
    let res = app.get("/ready").await;
    assert_eq!(res.status(), 200, "ready again once the query works");
}

#[actix_web::test]
async fn ready_is_503_naming_the_api_key_when_centrifugo_refuses_it() {
    let app = TestApp::start_with(|a| {
        a.centrifugo_api_key = Some(chatsdk::secret::Secret::new("wrong-api-key"))
    })
    .await;

    let res = app.get("/ready").await;

    let message = assert_error(res, 503, "not_ready").await;
    assert!(message.contains("CENTRIFUGO_HTTP_API_KEY"), "{message}");
    assert!(
        !message.contains("wrong-api-key"),
        "the key itself never appears: {message}"
    );
}

#[actix_web::test]
async fn tokens_are_still_issued_while_centrifugo_is_down() {
    let mut app = TestApp::start().await;
    app.centrifugo.take().unwrap().stop().await;
    let res = app.post_tokens(&json!({"userId": "alice"})).await;
    assert_eq!(
        res.status(),
        200,
        "issuing tokens needs no call to Centrifugo"
    );
}
