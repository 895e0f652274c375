//! Request ids (`X-Request-Id`) and request logs: one line per request, and with
//! `CHATSDK_LOG_FORMAT=json` one JSON object per line from the real binary, without secrets.

use crate::common;
use crate::common::{TestApp, assert_error};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

fn request_id(res: &reqwest::Response) -> String {
    res.headers()
        .get("x-request-id")
        .unwrap_or_else(|| panic!("no X-Request-Id on a {} answer", res.status()))
        .to_str()
        .unwrap()
        .to_string()
}

fn is_generated_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[actix_web::test]
async fn every_answer_carries_a_request_id_errors_included() {
    let app = TestApp::start().await;
    let get = |path: &str| app.http.get(format!("{}{path}", app.base)).send();

    let ok = get("/health").await.unwrap();
    let unknown = get("/no/such/route").await.unwrap();
    let unauthenticated = get("/api/me").await.unwrap();
    let bad_key = app
        .post_tokens_with_key("chatsdk_key_bad", &json!({"userId": "a"}))
        .await;

    let ids: Vec<String> = [&ok, &unknown, &unauthenticated, &bad_key]
        .iter()
        .map(|r| request_id(r))
        .collect();
    for id in &ids {
        assert!(is_generated_id(id), "{id}");
    }
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), ids.len(), "one id per request: {ids:?}");
    assert_eq!(ok.status(), 200);
    assert_error(unknown, 404, "not_found").await;
    assert_error(unauthenticated, 401, "missing_token").await;
    assert_error(bad_key, 401, "invalid_api_key").await;
}

#[actix_web::test]
async fn a_safe_incoming_request_id_is_echoed_and_an_unsafe_one_replaced() {
    let app = TestApp::start().await;
    let with_id = |path: &str, id: &str| {
        app.http
            .get(format!("{}{path}", app.base))
            .header("X-Request-Id", id)
            .send()
    };
    let safe = "Trace-1.2_3";
    let longest = "a".repeat(64);
    for (path, id) in [("/health", safe), ("/api/me", safe), ("/nope", &longest)] {
        let res = with_id(path, id).await.unwrap();
        assert_eq!(request_id(&res), id, "{path} echoes {id}");
    }
    let too_long = "a".repeat(65);
    for id in ["has space", "a\"b", "key=value", "a/b", &too_long] {
        let res = with_id("/api/me", id).await.unwrap();
        let got = request_id(&res);
        assert!(
            is_generated_id(&got),
            "{id:?} replaced by one of ours: {got}"
        );
        assert_error(res, 401, "missing_token").await;
    }
}

/// The real binary, serving with `env` added, its stderr and stdout in `serve.log`.
struct Served {
    child: tokio::process::Child,
    base: String,
    log_path: std::path::PathBuf,
    api_key: String,
    centrifugo: Option<chatsdk::centrifugo_process::CentrifugoProcess>,
    _dir: tempfile::TempDir,
}

impl Served {
    /// `alice` creates a channel: one write that queues a realtime event.
    async fn create_channel_as_alice(&self) {
        let http = reqwest::Client::new();
        let body: Value = self.post_tokens(&http).await.json().await.unwrap();
        let created = http
            .post(format!("{}/api/channels", self.base))
            .bearer_auth(body["token"].as_str().unwrap())
            .json(&json!({"id": "room"}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }

    /// `POST /tokens` for `alice` with the app's key.
    async fn post_tokens(&self, http: &reqwest::Client) -> reqwest::Response {
        http.post(format!("{}/tokens", self.base))
            .header("X-API-Key", &self.api_key)
            .json(&json!({"userId": "alice"}))
            .send()
            .await
            .unwrap()
    }
}

async fn serve(env: &[(&str, &str)]) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let (centrifugo, _, _) = common::start_centrifugo_on_free_ports(dir.path()).await;
    let db = dir.path().join("chatsdk.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chatsdk"))
        .args(["--json", "app", "create", "--name", "logs"])
        .env("CHATSDK_DATABASE", &db)
        .output()
        .unwrap();
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let port = common::free_port();
    let log_path = dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let child = common::serve_command(&db, port, &centrifugo.internal_url)
        .env_remove("RUST_LOG")
        .env_remove("CHATSDK_LOG_FORMAT")
        .envs(env.iter().copied())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..100 {
        if http.get(format!("{base}/health")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the binary serves");
    Served {
        child,
        base,
        log_path,
        api_key: created["apiKey"].as_str().unwrap().to_string(),
        centrifugo: Some(centrifugo),
        _dir: dir,
    }
}

/// A secret in the forms a log could carry it: as is, base64url, percent-encoded.
fn encodings(secret: &str) -> [String; 3] {
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
    [secret.to_string(), b64, pct]
}

#[actix_web::test]
async fn json_logs_are_one_object_per_line_with_request_fields_and_no_secret() {
    let mut served = serve(&[("CHATSDK_LOG_FORMAT", "json"), ("RUST_LOG", "debug")]).await;
    let (http, base) = (reqwest::Client::new(), served.base.clone());
    // Every request we make, by the id its answer carried: (method, path, status).
    let mut sent: HashMap<String, (&str, &str, u16)> = HashMap::new();

    let res = http
        .post(format!("{base}/tokens"))
        .header("X-API-Key", &served.api_key)
        .header("X-Request-Id", "from-backend.42")
        .json(&json!({"userId": "alice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(request_id(&res), "from-backend.42");
    sent.insert(request_id(&res), ("POST", "/tokens", 200));
    let body: Value = res.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_string();
    let ws_token = body["wsToken"].as_str().unwrap().to_string();
    let res = http
        .post(format!("{base}/api/channels"))
        .bearer_auth(&token)
        .json(&json!({"id": "room"}))
        .send()
        .await
        .unwrap();
    sent.insert(request_id(&res), ("POST", "/api/channels", 201));
    let res = http
        .post(format!("{base}/api/channels/room/messages"))
        .bearer_auth(&token)
        .json(&json!({"text": "hi"}))
        .send()
        .await
        .unwrap();
    sent.insert(
        request_id(&res),
        ("POST", "/api/channels/room/messages", 201),
    );
    let res = http
        .get(format!("{base}/api/me?token={token}"))
        .send()
        .await
        .unwrap();
    sent.insert(request_id(&res), ("GET", "/api/me", 401));
    let res = http
        .post(format!("{base}/tokens"))
        .header("X-API-Key", "chatsdk_key_bad")
        .send()
        .await
        .unwrap();
    sent.insert(request_id(&res), ("POST", "/tokens", 401));
    let res = http.get(format!("{base}/health")).send().await.unwrap();
    let health_id = request_id(&res);
    sent.insert(health_id.clone(), ("GET", "/health", 200));
    served.centrifugo.take().unwrap().stop().await;
    let res = http.get(format!("{base}/ready")).send().await.unwrap();
    let ready_id = request_id(&res);
    sent.insert(ready_id.clone(), ("GET", "/ready", 503));
    common::stop_gracefully(&mut served.child).await;

    let log = std::fs::read_to_string(&served.log_path).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() > sent.len(), "{log}");
    assert_eq!(
        lines.last().map(|l| l["msg"].clone()),
        Some(json!("stopped")),
        "a graceful stop writes the log out to its last line: {log}"
    );
    for line in &lines {
        for field in ["ts", "level", "target", "msg"] {
            assert!(line[field].is_string(), "{field} in {line}");
        }
    }
    let requests: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "chatsdk::http")
        .collect();
    for (id, (method, path, status)) in &sent {
        let mine: Vec<&&Value> = requests
            .iter()
            .filter(|l| l["request_id"] == id.as_str())
            .collect();
        assert_eq!(mine.len(), 1, "one line for {method} {path}: {mine:?}");
        let line = mine[0];
        assert_eq!(line["method"], *method, "{line}");
        assert_eq!(line["path"], *path, "never the query string: {line}");
        assert_eq!(line["status"], *status, "{line}");
        assert!(
            line["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
            "{line}"
        );
        let level = if *path == "/health" { "DEBUG" } else { "INFO" };
        assert_eq!(line["level"], level, "{line}");
    }
    let route_of = |path: &str| {
        requests
            .iter()
            .find(|l| l["path"] == path)
            .map(|l| l["route"].clone())
    };
    assert_eq!(
        route_of("/api/channels/room/messages"),
        Some(json!("/api/channels/{id}/messages"))
    );
    assert!(
        lines.iter().any(|l| l["level"] == "WARN"
            && l["msg"].as_str().unwrap().starts_with("not ready")
            && l["request_id"] == ready_id.as_str()),
        "the 503's cause is logged with its request id: {log}"
    );
    for secret in [
        common::JWT_SECRET,
        common::CENTRIFUGO_SECRET,
        common::CENTRIFUGO_API_KEY,
        &served.api_key,
        &token,
        &ws_token,
        "chatsdk_key_bad",
    ] {
        for form in encodings(secret) {
            assert!(!log.contains(&form), "a secret reached the log");
        }
    }
}

#[actix_web::test]
async fn text_logs_stay_the_default_with_one_line_per_request() {
    let mut served = serve(&[]).await;
    let http = reqwest::Client::new();
    let res = served.post_tokens(&http).await;
    let id = request_id(&res);
    http.get(format!("{}/health", served.base))
        .send()
        .await
        .unwrap();
    // While serving, lines are written every few milliseconds, not only at the stop.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !std::fs::read_to_string(&served.log_path)
        .unwrap()
        .contains(&id)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the request's line reaches the log while the server runs"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    common::stop_gracefully(&mut served.child).await;

    let log = std::fs::read_to_string(&served.log_path).unwrap();
    let mine: Vec<&str> = log.lines().filter(|l| l.contains(&id)).collect();
    assert_eq!(mine.len(), 1, "{log}");
    let line = mine[0];
    assert!(
        serde_json::from_str::<Value>(line).is_err(),
        "text, not JSON"
    );
    for part in [
        "INFO",
        "method=POST",
        "route=/tokens",
        "path=/tokens",
        "status=200",
        "latency_ms=",
    ] {
        assert!(line.contains(part), "{part} in {line}");
    }
    assert!(
        !log.contains("path=/health"),
        "probes stay out of the info log: {log}"
    );
}

/// A client chooses its path (up to 64 KiB): a request line carries its first 512 bytes
/// and its length, so a flood of long 404s cannot fill the disk at the path's size.
#[actix_web::test]
async fn a_long_path_is_logged_cut_with_its_length() {
    let mut served = serve(&[]).await;
    let http = reqwest::Client::new();
    let long = format!("/{}", "x".repeat(20_000));
    let res = http
        .get(format!("{}{long}", served.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let id = request_id(&res);
    common::stop_gracefully(&mut served.child).await;

    let mine = log_lines(&served, &id);
    assert_eq!(mine.len(), 1, "{mine:?}");
    let line = &mine[0];
    assert!(line.contains("status=404"), "{line}");
    let kept = format!("path=/{}…(20001 bytes)", "x".repeat(511));
    assert!(line.contains(&kept), "{line}");
    assert!(line.len() < 1000, "{} bytes: {line}", line.len());
}

/// Operators who keep request lines elsewhere (a proxy's access log) can drop them alone:
/// they cost a refresh ≈ 8 % of its rate (BENCHMARKS.md, sixth session).
#[actix_web::test]
async fn request_lines_can_be_turned_off_alone() {
    let mut served = serve(&[("RUST_LOG", "info,chatsdk::http=warn")]).await;
    let res = served.post_tokens(&reqwest::Client::new()).await;
    assert_eq!(res.status(), 200);
    common::stop_gracefully(&mut served.child).await;

    let log = std::fs::read_to_string(&served.log_path).unwrap();
    assert!(
        log.contains("INFO") && log.contains("stopped"),
        "other info lines stay: {log}"
    );
    assert!(!log.contains("chatsdk::http"), "no request line: {log}");
}

#[actix_web::test]
async fn a_password_in_centrifugo_url_reaches_neither_ready_nor_the_log() {
    let port = common::free_port();
    let closed = format!("http://user:pa55word@127.0.0.1:{port}");
    let mut served = serve(&[("CENTRIFUGO_URL", &closed)]).await;
    let http = reqwest::Client::new();
    let body: Value = served.post_tokens(&http).await.json().await.unwrap();
    let token = body["token"].as_str().unwrap();
    for (path, body) in [
        ("/api/channels", json!({"id": "room"})),
        ("/api/channels/room/messages", json!({"text": "hi"})),
    ] {
        let res = http
            .post(format!("{}{path}", served.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "{path}");
    }

    let res = http
        .get(format!("{}/ready", served.base))
        .send()
        .await
        .unwrap();

    let message = assert_error(res, 503, "not_ready").await;
    assert_eq!(message, "centrifugo: unreachable");
    // The relay's failed /api/batch is a warning, written at once.
    let redacted = format!("http://[REDACTED]@127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !std::fs::read_to_string(&served.log_path)
        .unwrap()
        .contains(&format!("{redacted}/api/batch"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the relay logs its failure"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    common::stop_gracefully(&mut served.child).await;
    let log = std::fs::read_to_string(&served.log_path).unwrap();
    assert!(
        log.contains(&format!(
            "not ready: centrifugo: Centrifugo is unreachable at {redacted}/api/info"
        )),
        "operators still get the address: {log}"
    );
    assert!(
        !log.contains("pa55word") && !log.contains("user:"),
        "the URL's userinfo reached the log: {log}"
    );
}

/// The lines of the server's log that contain `needle`.
fn log_lines(served: &Served, needle: &str) -> Vec<String> {
    std::fs::read_to_string(&served.log_path)
        .unwrap()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

#[actix_web::test]
async fn a_centrifugo_outage_is_logged_once_when_it_starts_and_once_when_it_ends() {
    // Centrifugo's API will listen here, but not yet.
    let (port, internal_port) = (common::free_port(), common::free_port());
    let api = format!("http://127.0.0.1:{internal_port}");
    let mut served = serve(&[("CENTRIFUGO_URL", &api)]).await;
    served.create_channel_as_alice().await;
    let ready = || async {
        reqwest::get(format!("{}/ready", served.base))
            .await
            .unwrap()
            .status()
    };

    // Long enough for seven retries (backoff 0.1 s doubling to 5 s), probed as a load
    // balancer would.
    for _ in 0..8 {
        assert_eq!(ready().await, 503);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let stalled = log_lines(&served, "outbox: delivery stalled");
    assert_eq!(
        stalled.len(),
        1,
        "one line per outage, not per retry: {stalled:?}"
    );
    assert!(stalled[0].contains("WARN"), "{}", stalled[0]);

    let dir = tempfile::tempdir().unwrap();
    let _centrifugo = common::start_centrifugo(dir.path(), port, internal_port).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while log_lines(&served, "outbox: delivering again after").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no line says delivery resumed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ready().await, 200);
    assert_eq!(ready().await, 200);
    common::stop_gracefully(&mut served.child).await;
    assert_eq!(log_lines(&served, "outbox: delivery stalled").len(), 1);
    let not_ready = log_lines(&served, "not ready");
    assert_eq!(
        not_ready.len(),
        1,
        "one line per outage, not per probe: {not_ready:?}"
    );
    assert!(not_ready[0].contains("WARN"), "{}", not_ready[0]);
    let again = log_lines(&served, "ready again after");
    assert_eq!(again.len(), 1, "{again:?}");
    assert!(again[0].contains("8 probes failed"), "{}", again[0]);
    assert!(
        log_lines(&served, "still queued").is_empty(),
        "all delivered"
    );
}

#[actix_web::test]
async fn stopping_while_centrifugo_is_away_says_how_many_events_wait() {
    let closed = format!("http://127.0.0.1:{}", common::free_port());
    let mut served = serve(&[("CENTRIFUGO_URL", &closed)]).await;
    served.create_channel_as_alice().await;

    common::stop_gracefully(&mut served.child).await;

    let queued = log_lines(&served, "realtime events still queued");
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert!(
        queued[0].contains(
            "stopping with realtime events still queued (1); a server on this database delivers them"
        ),
        "{}",
        queued[0]
    );
}

#[actix_web::test]
async fn a_reader_holding_the_wal_delays_a_stop_by_its_bound_only_and_loses_nothing() {
    let mut served = serve(&[]).await;
    served.create_channel_as_alice().await;
    // A `sqlite3` session left inside BEGIN, then a write past its snapshot: no checkpoint
    // can truncate the WAL while it reads.
    let reader = rusqlite::Connection::open(served._dir.path().join("chatsdk.db")).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let users: i64 = reader
        .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
        .unwrap();
    let http = reqwest::Client::new();
    let bob = http
        .post(format!("{}/tokens", served.base))
        .header("X-API-Key", &served.api_key)
        .json(&json!({"userId": "bob"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bob.status(), 200);

    // Exits 0 within stop_gracefully's 20 s (it waited 50 × 10 s for the reader before).
    common::stop_gracefully(&mut served.child).await;

    assert_eq!(users, 1);
    let held = log_lines(&served, "WAL checkpoint at shutdown failed");
    assert_eq!(held.len(), 1, "{held:?}");
    assert!(
        held[0].contains("a reader held the WAL for 3 s; it stays for the next start"),
        "{}",
        held[0]
    );
    assert!(!log_lines(&served, "stopped").is_empty());
    reader.execute_batch("ROLLBACK").unwrap();
    drop(reader);
    let db = rusqlite::Connection::open(served._dir.path().join("chatsdk.db")).unwrap();
    let users: i64 = db
        .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(users, 2, "bob's write, left in the WAL, is there");
}

/// Sends `head` as is (reqwest refuses such requests) and returns the status answered.
async fn raw_status(base: &str, head: String) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    // The server may answer and close before reading all of it.
    let _ = stream.write_all(head.as_bytes()).await;
    let mut answer = vec![0; 64];
    let n = stream.read(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {answer:?}"))
}

#[actix_web::test]
async fn an_oversized_uri_or_head_from_anyone_writes_no_error_line() {
    let mut served = serve(&[]).await;

    // Over the `http` crate's URI limit (64 KiB), and over actix-http's head buffer (128 KiB).
    let long_uri = raw_status(
        &served.base,
        format!(
            "GET /health?q={} HTTP/1.1\r\nHost: x\r\n\r\n",
            "a".repeat(70_000)
        ),
    )
    .await;
    let huge_head = raw_status(
        &served.base,
        format!(
            "GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: {}\r\n\r\n",
            "a".repeat(140_000)
        ),
    )
    .await;
    common::stop_gracefully(&mut served.child).await;

    assert_eq!(long_uri, 400);
    assert_eq!(huge_head, 431);
    let log = std::fs::read_to_string(&served.log_path).unwrap();
    assert!(
        !log.contains("ERROR") && !log.contains("actix_http"),
        "a client's bad request is not our error: {log}"
    );
    assert!(log.contains("stopped"), "{log}");
}

/// A CLI command that fails at once (no database there), run with `RUST_LOG=rust_log`
/// (unset when None) and `CHATSDK_LOG_FORMAT=format`: its stderr.
fn stderr_with_rust_log(rust_log: Option<&str>, format: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_chatsdk"));
    cmd.arg("--database")
        .arg(dir.path().join("none.db"))
        .args(["app", "list"])
        .env_remove("CHATSDK_DATABASE")
        .env("CHATSDK_LOG_FORMAT", format);
    match rust_log {
        Some(v) => cmd.env("RUST_LOG", v),
        None => cmd.env_remove("RUST_LOG"),
    };
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "the command itself still runs");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn a_rust_log_typo_that_would_hide_every_warning_is_named_at_start_and_chosen_levels_are_kept() {
    let typo = stderr_with_rust_log(Some("infoo"), "text");
    let empty = stderr_with_rust_log(Some(""), "text");
    let as_json = stderr_with_rust_log(Some("infoo"), "json");

    let notes: Vec<&str> = typo.lines().filter(|l| l.contains("RUST_LOG=")).collect();
    assert_eq!(notes.len(), 1, "{typo}");
    assert!(
        notes[0].contains("WARN")
            && notes[0].contains(
                "RUST_LOG=\"infoo\" turns off chatsdk's warnings and errors: it sets no level \
                 for them (a typo?); e.g. RUST_LOG=info"
            ),
        "{typo}"
    );
    assert!(typo.contains("error: no database at"), "{typo}");
    assert!(
        empty.contains("RUST_LOG=\"\" turns off chatsdk's warnings:"),
        "{empty}"
    );
    let line: Value = serde_json::from_str(as_json.lines().next().unwrap()).expect(&as_json);
    assert_eq!(line["level"], "WARN", "{line}");
    assert!(line["msg"].as_str().unwrap().contains("RUST_LOG=\"infoo\""));
    for chosen in [
        None,
        Some("off"),
        Some("error"),
        Some("chatsdk=error"),
        Some("info"),
    ] {
        let stderr = stderr_with_rust_log(chosen, "text");
        assert!(!stderr.contains("RUST_LOG"), "{chosen:?}: {stderr}");
    }
}
