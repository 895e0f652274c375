//! Helpers shared by the chat REST API tests (`tests/chat_credentials.rs`, `chat_channels.rs`, …):
//! requests with any credentials, channels, messages, members and a ready-made room.

use super::TestApp;
use reqwest::Method;
use serde_json::{Value, json};

/// One `/api` request with any mix of credentials and an optional JSON body.
pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    key: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app.http.request(method, format!("{}{path}", app.base));
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    if let Some(key) = key {
        req = req.header("X-API-Key", key);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

/// A request as the user holding `token`.
pub async fn as_user(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    call(app, method, path, Some(token), None, body).await
}

/// A request from the app's backend (its API key).
pub async fn as_key(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    call(app, method, path, None, Some(&app.api_key), body).await
}

/// Requires `status` and returns the JSON body.
pub async fn expect(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "body: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Percent-encodes a path segment or query value: everything but RFC 3986 unreserved.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A REST token for `user_id` (created or updated through `POST /tokens`).
pub async fn token(app: &TestApp, user_id: &str) -> String {
    app.tokens_for(user_id).await["token"]
        .as_str()
        .unwrap()
        .to_string()
}

pub fn ch(id: &str) -> String {
    format!("/api/channels/{}", enc(id))
}

pub fn s(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}

/// Creates a group channel as `owner`, requiring 201.
pub async fn create_channel(app: &TestApp, owner: &str, body: Value) -> Value {
    expect(
        as_user(app, owner, Method::POST, "/api/channels", Some(body)).await,
        201,
    )
    .await
}

/// Sends `text` to channel `id` as the token's user, requiring 201.
pub async fn send(app: &TestApp, tok: &str, id: &str, text: &str) -> Value {
    expect(
        as_user(
            app,
            tok,
            Method::POST,
            &format!("{}/messages", ch(id)),
            Some(json!({ "text": text })),
        )
        .await,
        201,
    )
    .await
}

pub async fn get_channel(app: &TestApp, tok: &str, id: &str) -> reqwest::Response {
    as_user(app, tok, Method::GET, &ch(id), None).await
}

/// One page of messages as the token's user.
pub async fn page(app: &TestApp, tok: &str, id: &str, query: &str) -> Value {
    expect(
        as_user(
            app,
            tok,
            Method::GET,
            &format!("{}/messages{query}", ch(id)),
            None,
        )
        .await,
        200,
    )
    .await
}

pub fn seqs(page: &Value) -> Vec<i64> {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect()
}

/// The ids of the caller's channels, in list order (first page of 100).
pub async fn channel_ids(app: &TestApp, tok: &str) -> Vec<String> {
    let body = expect(
        as_user(app, tok, Method::GET, "/api/channels?limit=100", None).await,
        200,
    )
    .await;
    body["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| s(&c["id"]).to_string())
        .collect()
}

/// A channel "room" owned by alice, with dave as admin and bob and carol as members.
pub struct Room {
    pub alice: String,
    pub bob: String,
    pub carol: String,
    pub dave: String,
}

pub async fn room(app: &TestApp) -> Room {
    let r = Room {
        alice: token(app, "alice").await,
        bob: token(app, "bob").await,
        carol: token(app, "carol").await,
        dave: token(app, "dave").await,
    };
    create_channel(
        app,
        &r.alice,
        json!({"id": "room", "members": ["bob", "carol"]}),
    )
    .await;
    expect(
        as_user(
            app,
            &r.alice,
            Method::POST,
            "/api/channels/room/members",
            Some(json!({"userIds": ["dave"], "role": "admin"})),
        )
        .await,
        200,
    )
    .await;
    r
}

pub async fn add_members(
    app: &TestApp,
    tok: &str,
    channel: &str,
    body: Value,
) -> reqwest::Response {
    as_user(
        app,
        tok,
        Method::POST,
        &format!("{}/members", ch(channel)),
        Some(body),
    )
    .await
}

pub async fn member_roles(app: &TestApp, tok: &str, channel: &str) -> Vec<(String, String)> {
    let body = expect(
        as_user(
            app,
            tok,
            Method::GET,
            &format!("{}/members", ch(channel)),
            None,
        )
        .await,
        200,
    )
    .await;
    let mut out: Vec<(String, String)> = body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (s(&m["user"]["id"]).to_string(), s(&m["role"]).to_string()))
        .collect();
    out.sort();
    out
}

/// Copies message 1 of channel `id` into `2..=last_seq`, straight into the SQLite file:
/// the state that many sends leave, without their time. Returns the channel's pk.
pub fn fill_messages(app: &TestApp, id: &str, last_seq: i64) -> i64 {
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    let pk: i64 = conn
        .query_row("SELECT pk FROM channels WHERE id = ?1", [id], |r| r.get(0))
        .unwrap();
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
         INSERT INTO messages (id, channel_pk, seq, user_pk, text, created_at)
             SELECT 'msg_bulk_' || i, m.channel_pk, i, m.user_pk, 'm', m.created_at
             FROM n, messages m WHERE m.channel_pk = ?1 AND m.seq = 1",
        rusqlite::params![pk, last_seq],
    )
    .unwrap();
    conn.execute(
        "UPDATE channels SET last_seq = ?2 WHERE pk = ?1",
        rusqlite::params![pk, last_seq],
    )
    .unwrap();
    pk
}
