//! Proves the real-time test client (`tests/clients/rt_agent.py` driven by `RtClient`)
//! against a real Centrifugo started here from its own temp config.

use crate::common::rt_client::{RtClient, SubOptions, is};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tempfile::TempDir;

const SECRET: &str = "rt-agent-selftest-secret-0123456789abcdef";
const API_KEY: &str = "rt-agent-selftest-api-key";
const WAIT: Duration = Duration::from_secs(5);
/// Centrifugo's client error "permission denied".
const PERMISSION_DENIED: i64 = 103;
/// Centrifugo's client error "token expired".
const TOKEN_EXPIRED: i64 = 109;
/// The SDK's own unsubscribe code when getToken refuses (`UnauthorizedError`).
const SDK_UNAUTHORIZED: i64 = 1;

fn cache_root() -> PathBuf {
    Path::new(&std::env::var("HOME").expect("HOME is set")).join(".cache/chatsdk")
}

/// `CENTRIFUGO_BIN`, else the cached v6.9.1; a missing binary fails the test.
fn centrifugo_binary() -> PathBuf {
    let bin = std::env::var_os("CENTRIFUGO_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_root().join("centrifugo-v6.9.1/centrifugo"));
    assert!(
        bin.is_file(),
        "Centrifugo not found at {}: set CENTRIFUGO_BIN or run `bash .ci/run`",
        bin.display()
    );
    bin
}

/// `CHATSDK_TEST_PYTHON`, else the venv with centrifuge-python, else `python3`.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("CHATSDK_TEST_PYTHON") {
        return p.into();
    }
    let venv = cache_root().join("venv/bin/python");
    if venv.is_file() {
        venv
    } else {
        "python3".into()
    }
}

fn agent_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/rt_agent.py")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn sign(claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

fn connection_token(user: &str) -> String {
    sign(&json!({"sub": user, "exp": now() + 300, "channels": ["personal:1"]}))
}

fn sub_token(user: &str, channel: &str, exp: i64) -> String {
    sign(&json!({"sub": user, "channel": channel, "exp": exp}))
}

/// A Centrifugo on free loopback ports, killed on drop.
struct Centrifugo {
    _child: tokio::process::Child,
    dir: TempDir,
    port: u16,
    internal_port: u16,
    http: reqwest::Client,
}

impl Centrifugo {
    async fn start() -> Centrifugo {
        let binary = centrifugo_binary();
        let dir = tempfile::tempdir().unwrap();
        let history = json!({"history_size": 100, "history_ttl": "300s", "force_recovery": true});
        let mut chat = json!({"name": "chat"});
        let mut personal = json!({"name": "personal"});
        for ns in [&mut chat, &mut personal] {
            ns.as_object_mut()
                .unwrap()
                .extend(history.as_object().unwrap().clone());
        }
        let config = json!({
            "client": {"token": {"hmac_secret_key": SECRET}},
            "http_api": {"key": API_KEY},
            "health": {"enabled": true},
            "log": {"level": "info"},
            "channel": {"namespaces": [chat, personal]},
        });
        let config_path = dir.path().join("config.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let (port, internal_port) = (free_port(), free_port());
        let log = std::fs::File::create(dir.path().join("centrifugo.log")).unwrap();
        let child = tokio::process::Command::new(&binary)
            .arg("--config")
            .arg(&config_path)
            .args(["--http_server.address", "127.0.0.1"])
            .args(["--http_server.internal_address", "127.0.0.1"])
            .args(["--http_server.port", &port.to_string()])
            .args(["--http_server.internal_port", &internal_port.to_string()])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
        let server = Centrifugo {
            _child: child,
            dir,
            port,
            internal_port,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
        };
        server.wait_healthy().await;
        server
    }

    async fn wait_healthy(&self) {
        let url = format!("http://127.0.0.1:{}/health", self.internal_port);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::time::Instant::now() < deadline {
            if let Ok(res) = self.http.get(&url).send().await
                && res.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("Centrifugo not healthy in 10s; log:\n{}", self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("centrifugo.log")).unwrap_or_default()
    }

    fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/connection/websocket", self.port)
    }

    /// Calls a server API method; an `error` in the body fails the test.
    async fn api(&self, method: &str, body: Value) -> Value {
        let res = self
            .http
            .post(format!(
                "http://127.0.0.1:{}/api/{method}",
                self.internal_port
            ))
            .header("X-API-Key", API_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{method}");
        let reply: Value = res.json().await.unwrap();
        assert!(reply.get("error").is_none(), "{method} failed: {reply}");
        reply
    }

    async fn publish(&self, channel: &str, data: Value) -> Value {
        self.api("publish", json!({"channel": channel, "data": data}))
            .await
    }
}

/// A server and an agent connected as `u1` (server-side subscribed to `personal:1`).
async fn connected() -> (Centrifugo, RtClient) {
    let server = Centrifugo::start().await;
    let mut client = RtClient::start(&python(), &agent_script(), &server.ws_url()).await;
    client
        .connect(&connection_token("u1"))
        .await
        .unwrap_or_else(|ack| panic!("connect failed: {ack}"));
    client
        .expect("server-side subscribed to personal:1", WAIT, |e| {
            is(e, "server_subscribed") && e["channel"] == "personal:1"
        })
        .await;
    (server, client)
}

#[actix_web::test]
async fn publications_reach_client_and_server_side_subscriptions() {
    let (server, mut client) = connected().await;
    let subscribed = client
        .subscribe("chat:1", &sub_token("u1", "chat:1", now() + 300))
        .await
        .unwrap_or_else(|ack| panic!("subscribe failed: {ack}"));
    assert_eq!(subscribed["recoverable"], true, "{subscribed}");

    let published = server.publish("chat:1", json!({"text": "hello"})).await;
    server.publish("personal:1", json!({"n": 1})).await;

    let chat = client.publications("chat:1", 1, WAIT).await;
    assert_eq!(chat[0]["data"], json!({"text": "hello"}));
    assert_eq!(chat[0]["server"], false);
    assert_eq!(chat[0]["offset"], published["result"]["offset"]);
    let personal = client.publications("personal:1", 1, WAIT).await;
    assert_eq!(personal[0]["data"], json!({"n": 1}));
    assert_eq!(personal[0]["server"], true);
    assert_eq!(personal[0]["offset"], 1);
    client.quit().await;
}

#[actix_web::test]
async fn subscribe_without_valid_token_is_denied_with_103() {
    let (_server, mut client) = connected().await;
    let no_get_token = SubOptions {
        get_token: false,
        ..SubOptions::default()
    };

    let ack = client
        .subscribe_opts("chat:2", "", no_get_token)
        .await
        .expect_err("no token, no getToken: denied");
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "u1", "channel": "chat:3", "exp": now() + 300}),
        &EncodingKey::from_secret(b"not-the-centrifugo-secret"),
    )
    .unwrap();
    let forged_ack = client
        .subscribe("chat:3", &forged)
        .await
        .expect_err("bad signature: denied");

    assert_eq!(ack["code"], PERMISSION_DENIED, "{ack}");
    assert_eq!(forged_ack["code"], PERMISSION_DENIED, "{forged_ack}");
    let unsubscribed = client
        .expect("unsubscribed chat:2", WAIT, |e| {
            is(e, "unsubscribed") && e["channel"] == "chat:2"
        })
        .await;
    assert_eq!(unsubscribed["code"], PERMISSION_DENIED);
    client
        .expect_none("getToken call", Duration::ZERO, |e| is(e, "get_token"))
        .await;
}

#[actix_web::test]
async fn server_unsubscribe_is_reported() {
    let (server, mut client) = connected().await;
    client
        .subscribe("chat:1", &sub_token("u1", "chat:1", now() + 300))
        .await
        .unwrap_or_else(|ack| panic!("subscribe failed: {ack}"));

    server
        .api("unsubscribe", json!({"channel": "chat:1", "user": "u1"}))
        .await;
    server
        .api(
            "unsubscribe",
            json!({"channel": "personal:1", "user": "u1"}),
        )
        .await;

    let event = client
        .expect("unsubscribed chat:1", WAIT, |e| {
            is(e, "unsubscribed") && e["channel"] == "chat:1"
        })
        .await;
    assert!(event["code"].as_i64().is_some(), "{event}");
    client
        .expect("server-side unsubscribed personal:1", WAIT, |e| {
            is(e, "server_unsubscribed") && e["channel"] == "personal:1"
        })
        .await;
    eprintln!("server unsubscribe: {event}");
}

#[actix_web::test]
async fn reconnect_recovers_missed_publications() {
    let (server, mut client) = connected().await;
    client
        .subscribe("chat:1", &sub_token("u1", "chat:1", now() + 300))
        .await
        .unwrap_or_else(|ack| panic!("subscribe failed: {ack}"));
    server.publish("chat:1", json!({"n": 0})).await;
    client.publications("chat:1", 1, WAIT).await;

    client.disconnect().await;
    client
        .expect("disconnected", WAIT, |e| is(e, "disconnected"))
        .await;
    for n in 1..=3 {
        server.publish("chat:1", json!({"n": n})).await;
        server.publish("personal:1", json!({"n": n})).await;
    }
    client
        .push_sub_token("chat:1", &sub_token("u1", "chat:1", now() + 300))
        .await;
    client
        .reconnect()
        .await
        .unwrap_or_else(|ack| panic!("reconnect failed: {ack}"));

    let resubscribed = client
        .expect("resubscribed chat:1", WAIT, |e| {
            is(e, "subscribed") && e["channel"] == "chat:1"
        })
        .await;
    assert_eq!(resubscribed["wasRecovering"], true, "{resubscribed}");
    assert_eq!(resubscribed["recovered"], true, "{resubscribed}");
    let missed = client.publications("chat:1", 3, WAIT).await;
    let data: Vec<Value> = missed.iter().map(|p| p["data"].clone()).collect();
    assert_eq!(data, [json!({"n": 1}), json!({"n": 2}), json!({"n": 3})]);
    let offsets: Vec<Value> = missed.iter().map(|p| p["offset"].clone()).collect();
    assert_eq!(offsets, [json!(2), json!(3), json!(4)]);

    let server_side = client
        .expect("server-side resubscribed personal:1", WAIT, |e| {
            is(e, "server_subscribed") && e["channel"] == "personal:1"
        })
        .await;
    assert_eq!(server_side["recovered"], true, "{server_side}");
    assert_eq!(server_side["wasRecovering"], true, "{server_side}");
    let personal = client.publications("personal:1", 3, WAIT).await;
    assert_eq!(personal[2]["data"], json!({"n": 3}));
    client
        .expect_none("another publication", Duration::from_millis(200), |e| {
            is(e, "publication")
        })
        .await;
}

#[actix_web::test]
async fn expired_sub_token_makes_the_sdk_call_get_token() {
    let (_server, mut client) = connected().await;
    let expired = |channel| sub_token("u1", channel, now() - 60);

    // With nothing queued, getToken refuses and the SDK gives up.
    let refused = client
        .subscribe("chat:5", &expired("chat:5"))
        .await
        .expect_err("no fresh token to serve");
    let error = client
        .expect("sub_error on chat:5", WAIT, |e| {
            is(e, "sub_error") && e["channel"] == "chat:5"
        })
        .await;
    let asked = client
        .expect("get_token for chat:5", WAIT, |e| {
            is(e, "get_token") && e["channel"] == "chat:5"
        })
        .await;

    // With a fresh token queued, the SDK subscribes with it.
    client
        .push_sub_token("chat:6", &sub_token("u1", "chat:6", now() + 300))
        .await;
    let subscribed = client.subscribe("chat:6", &expired("chat:6")).await;
    let served = client
        .expect("get_token for chat:6", WAIT, |e| {
            is(e, "get_token") && e["channel"] == "chat:6"
        })
        .await;

    assert_eq!(error["replyCode"], TOKEN_EXPIRED, "{error}");
    assert_eq!(asked["served"], false);
    assert_eq!(refused["code"], SDK_UNAUTHORIZED, "{refused}");
    assert_eq!(served["served"], true);
    subscribed.unwrap_or_else(|ack| panic!("subscribe with the fresh token failed: {ack}"));
}

#[actix_web::test]
async fn expired_connection_token_is_replaced_through_get_token() {
    let server = Centrifugo::start().await;
    let mut client = RtClient::start(&python(), &agent_script(), &server.ws_url()).await;
    let expired = sign(&json!({"sub": "u1", "exp": now() - 60, "channels": ["personal:1"]}));

    client.push_token(&connection_token("u1")).await;
    let connected = client.connect(&expired).await;

    let error = client
        .expect("connect error", WAIT, |e| is(e, "error"))
        .await;
    let served = client
        .expect("get_token", WAIT, |e| is(e, "get_token"))
        .await;
    assert_eq!(error["replyCode"], TOKEN_EXPIRED, "{error}");
    assert_eq!(served["served"], true);
    connected.unwrap_or_else(|ack| panic!("connect with the fresh token failed: {ack}"));
}
