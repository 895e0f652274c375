//! The backend examples (examples/node, examples/python, and the README's Rails and Laravel
//! controllers) used as a frontend uses them: each runs as a real process against a real
//! ChatSDK and Centrifugo, and the tokens it hands out must work on ChatSDK's REST API and on
//! Centrifugo.

mod readme_backends;

use crate::common;
use crate::common::{TestApp, free_port, jwt_claims, official_client_connect, repo_path};
use serde_json::Value;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long an example may take to listen (Python imports FastAPI, Rails boots in ~1 s).
const START_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug)]
pub(crate) enum Lang {
    Node,
    Python,
    /// The README's Rails controller, in a minimal app on Debian's Rails and Devise.
    Ruby,
    /// The README's Laravel controller, in a minimal app on Debian's Laravel.
    Php,
}

/// One running example; killed when dropped, also when a test panics.
pub(crate) struct Example {
    child: Child,
    pub(crate) base: String,
    log: PathBuf,
    http: reqwest::Client,
    _dir: TempDir,
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The command that runs `lang`'s example on `port` (the README's ones built in `dir`),
/// failing with how to install what is missing.
fn example_command(lang: Lang, dir: &Path, port: u16) -> Command {
    match lang {
        Lang::Node => {
            let ok = Command::new("node")
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success());
            assert!(
                ok,
                "node is missing: install Node.js 20+, then `cd examples/node && npm ci` \
                 (`bash .ci/run` does the npm ci)"
            );
            assert!(
                repo_path("examples/node/node_modules/express/package.json").is_file(),
                "examples/node has no node_modules: run `cd examples/node && npm ci` \
                 (`bash .ci/run` does it)"
            );
            let mut cmd = Command::new("node");
            cmd.arg("server.js").current_dir(repo_path("examples/node"));
            cmd
        }
        Lang::Python => {
            let python = common::python();
            let imports = Command::new(&python)
                .args(["-c", "import fastapi, httpx, uvicorn"])
                .output();
            assert!(
                imports.as_ref().is_ok_and(|o| o.status.success()),
                "{} cannot import fastapi, httpx and uvicorn: run `{0} -m pip install -r \
                 examples/python/requirements.txt` (`bash .ci/run` does it; CHATSDK_TEST_PYTHON \
                 picks the python): {}",
                python.display(),
                imports.map_or_else(
                    |e| e.to_string(),
                    |o| String::from_utf8_lossy(&o.stderr).into_owned()
                )
            );
            let mut cmd = Command::new(python);
            cmd.arg("app.py")
                .env("PYTHONUNBUFFERED", "1")
                .current_dir(repo_path("examples/python"));
            cmd
        }
        Lang::Ruby => readme_backends::rails_app(dir),
        Lang::Php => readme_backends::laravel_app(dir, port),
    }
}

impl Example {
    /// Starts `lang`'s example against ChatSDK at `chatsdk_url` and waits until it listens.
    pub(crate) async fn start(
        lang: Lang,
        chatsdk_url: &str,
        api_key: &str,
        ws_url: &str,
    ) -> Example {
        Self::start_on(free_port(), lang, chatsdk_url, api_key, ws_url).await
    }

    /// `start` on `port`: a redeploy (a new API key, say) where the frontend expects it.
    pub(crate) async fn start_on(
        port: u16,
        lang: Lang,
        chatsdk_url: &str,
        api_key: &str,
        ws_url: &str,
    ) -> Example {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("example.log");
        let out = File::create(&log).expect("log file");
        let child = example_command(lang, &dir.path().join("app"), port)
            .env("PORT", port.to_string())
            .env("CHATSDK_URL", chatsdk_url)
            .env("CHATSDK_API_KEY", api_key)
            .env("CENTRIFUGO_WS_URL", ws_url)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the {lang:?} example: {e}"));
        let mut example = Example {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            http: reqwest::Client::new(),
            _dir: dir,
        };
        example.wait_until_listening(lang).await;
        example
    }

    async fn wait_until_listening(&mut self, lang: Lang) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("child status") {
                panic!(
                    "the {lang:?} example exited ({status}): {}",
                    self.log_text()
                );
            }
            // Any HTTP answer (even 404) means it listens.
            if self.http.get(&self.base).send().await.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the {lang:?} example did not listen within {START_TIMEOUT:?}: {}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `POST /api/chat-token`, as the frontend calls it, with an optional Authorization.
    async fn chat_token(&self, authorization: Option<&str>) -> reqwest::Response {
        let mut req = self.http.post(format!("{}/api/chat-token", self.base));
        if let Some(value) = authorization {
            req = req.header("Authorization", value);
        }
        req.send().await.expect("the example answers")
    }
}

/// Asserts the example's error answer: status, `{"error":{"code","message"}}`, and no API key
/// in it; returns the body.
async fn assert_example_error(
    res: reqwest::Response,
    status: u16,
    code: &str,
    api_key: &str,
) -> Value {
    assert_eq!(res.status().as_u16(), status, "status for expected {code}");
    let text = res.text().await.unwrap();
    assert!(!text.contains(api_key), "the API key leaked: {text}");
    let body: Value = serde_json::from_str(&text).expect("error body is JSON");
    assert_eq!(body["error"]["code"], code, "body: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    body
}

async fn signed_in_user_gets_tokens_that_work_on_chatsdk_and_centrifugo(lang: Lang) {
    let app = TestApp::start().await;
    let example = Example::start(lang, &app.base, &app.api_key, &app.ws_url()).await;

    for auth in [
        None,
        Some("Bearer someone-else"),
        Some("demo-session-alice"),
    ] {
        let res = example.chat_token(auth).await;
        assert_example_error(res, 401, "unauthenticated", &app.api_key).await;
    }
    assert_eq!(app.count_users(), 0, "no ChatSDK call without a user");

    let res = example.chat_token(Some("Bearer demo-session-alice")).await;
    assert_eq!(res.status(), 200, "{}", example.log_text());
    let text = res.text().await.unwrap();
    assert!(!text.contains(&app.api_key), "the API key leaked: {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "centrifugoUrl",
            "expiresIn",
            "token",
            "user",
            "wsExpiresIn",
            "wsToken"
        ]
    );
    assert_eq!(body["user"]["id"], "alice");
    assert_eq!(body["user"]["name"], "Alice");
    assert_eq!(body["expiresIn"], 86_400);
    assert_eq!(body["wsExpiresIn"], 900);
    assert_eq!(body["centrifugoUrl"], app.ws_url());

    // The frontend's REST calls: the token names alice.
    let me = app.get_me(body["token"].as_str().unwrap()).await;
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["id"], "alice");
    assert_eq!(me["name"], "Alice");

    // The frontend's WebSocket: the official client connects where the example says.
    let ws_token = body["wsToken"].as_str().unwrap();
    assert_eq!(jwt_claims(ws_token)["sub"], format!("{}:alice", app.app_id));
    let report = official_client_connect(body["centrifugoUrl"].as_str().unwrap(), ws_token).await;
    assert_eq!(report["connected"], true, "{report}");
}

async fn revoked_api_key_answers_502_chatsdk_auth_failed(lang: Lang) {
    let app = TestApp::start().await;
    let created = app.cli_json(&["key", "create", "--app", &app.app_id]);
    let key = created["apiKey"].as_str().unwrap();
    app.cli_json(&["key", "revoke", created["keyId"].as_str().unwrap()]);
    let example = Example::start(lang, &app.base, key, &app.ws_url()).await;

    let res = example.chat_token(Some("Bearer demo-session-alice")).await;

    let body = assert_example_error(res, 502, "chatsdk_auth_failed", key).await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("invalid_api_key") && message.contains("CHATSDK_API_KEY"),
        "{message}"
    );
    assert_eq!(app.count_users(), 0);
}

async fn chatsdk_over_its_rate_limit_answers_503_with_retry_after(lang: Lang) {
    let app =
        TestApp::start_with(|a| a.rate_limits.rate_limit_key = "1/min".parse().unwrap()).await;
    let example = Example::start(lang, &app.base, &app.api_key, &app.ws_url()).await;
    let first = example.chat_token(Some("Bearer demo-session-alice")).await;
    assert_eq!(first.status(), 200);

    let res = example.chat_token(Some("Bearer demo-session-alice")).await;

    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_example_error(res, 503, "chatsdk_rate_limited", &app.api_key).await;
}

async fn chatsdk_down_answers_502_chatsdk_unreachable(lang: Lang) {
    let closed = format!("http://127.0.0.1:{}", free_port());
    let key = "chatsdk_key_unused";
    let example = Example::start(lang, &closed, key, "ws://127.0.0.1:1/ws").await;

    let res = example.chat_token(Some("Bearer demo-session-alice")).await;

    assert_example_error(res, 502, "chatsdk_unreachable", key).await;
}

async fn chatsdk_that_never_answers_gives_504_chatsdk_timeout(lang: Lang) {
    // Connections complete in the kernel's backlog, but nothing ever answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let key = "chatsdk_key_unused";
    let example = Example::start(lang, &url, key, "ws://127.0.0.1:1/ws").await;

    let started = Instant::now();
    let res = example.chat_token(Some("Bearer demo-session-alice")).await;

    assert_example_error(res, 504, "chatsdk_timeout", key).await;
    let waited = started.elapsed();
    assert!(
        (Duration::from_secs(4)..Duration::from_secs(15)).contains(&waited),
        "{waited:?}"
    );
}

async fn chatsdk_failing_answers_502_chatsdk_unavailable(lang: Lang) {
    let app = TestApp::start().await;
    let example = Example::start(lang, &app.base, &app.api_key, &app.ws_url()).await;
    // Break the storage under the running server: `/tokens` answers 500 `internal`.
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    conn.execute_batch("DROP TABLE users").unwrap();

    let res = example.chat_token(Some("Bearer demo-session-alice")).await;

    let body = assert_example_error(res, 502, "chatsdk_unavailable", &app.api_key).await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("500"), "{message}");
}

/// A stand-in for a ChatSDK that refuses the call with `status` and `code`: a refusal other
/// than 401 and 429 that a backend's well-formed call to the real one cannot provoke.
async fn refusing_chatsdk(status: u16, code: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let body = format!(r#"{{"error":{{"code":"{code}","message":"refused by the stand-in"}}}}"#);
    let answer = format!(
        "HTTP/1.1 {status} Refused\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            // The request is small: its head and body, read until the client stops sending
            // or the head and a Content-Length's worth of body are in.
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buf).await {
                request.extend_from_slice(&buf[..n]);
                if n == 0 || complete(&request) {
                    break;
                }
            }
            let _ = stream.write_all(answer.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    });
    url
}

/// Whether `request` holds a whole HTTP/1.1 request head and its Content-Length body.
fn complete(request: &[u8]) -> bool {
    let text = String::from_utf8_lossy(request);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    body.len() >= length
}

async fn chatsdk_cutting_off_its_answer_answers_502_chatsdk_unreachable(lang: Lang) {
    use tokio::io::AsyncReadExt;
    // A ChatSDK killed mid-answer: reads the request, sends the head of a 200 and the start
    // of its body, and closes the connection.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            let _ = tokio::io::AsyncWriteExt::write_all(
                &mut stream,
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"tok",
            )
            .await;
            drop(stream);
        }
    });
    let key = "chatsdk_key_unused";
    let example = Example::start(lang, &url, key, "ws://127.0.0.1:1/ws").await;

    let res = example.chat_token(Some("Bearer demo-session-alice")).await;

    assert_example_error(res, 502, "chatsdk_unreachable", key).await;
}

async fn chatsdk_refusing_the_call_answers_502_chatsdk_rejected(lang: Lang) {
    let url = refusing_chatsdk(400, "invalid_request").await;
    let key = "chatsdk_key_unused";
    let example = Example::start(lang, &url, key, "ws://127.0.0.1:1/ws").await;

    let res = example.chat_token(Some("Bearer demo-session-alice")).await;

    let body = assert_example_error(res, 502, "chatsdk_rejected", key).await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("invalid_request"),
        "names ChatSDK's code: {message}"
    );
}

#[actix_web::test]
async fn node_example_gives_a_signed_in_user_tokens_that_work_on_chatsdk_and_centrifugo() {
    signed_in_user_gets_tokens_that_work_on_chatsdk_and_centrifugo(Lang::Node).await;
}

#[actix_web::test]
async fn python_example_gives_a_signed_in_user_tokens_that_work_on_chatsdk_and_centrifugo() {
    signed_in_user_gets_tokens_that_work_on_chatsdk_and_centrifugo(Lang::Python).await;
}

#[actix_web::test]
async fn node_example_with_a_revoked_api_key_answers_502_chatsdk_auth_failed() {
    revoked_api_key_answers_502_chatsdk_auth_failed(Lang::Node).await;
}

#[actix_web::test]
async fn python_example_with_a_revoked_api_key_answers_502_chatsdk_auth_failed() {
    revoked_api_key_answers_502_chatsdk_auth_failed(Lang::Python).await;
}

#[actix_web::test]
async fn node_example_over_chatsdk_rate_limit_answers_503_with_retry_after() {
    chatsdk_over_its_rate_limit_answers_503_with_retry_after(Lang::Node).await;
}

#[actix_web::test]
async fn python_example_over_chatsdk_rate_limit_answers_503_with_retry_after() {
    chatsdk_over_its_rate_limit_answers_503_with_retry_after(Lang::Python).await;
}

#[actix_web::test]
async fn node_example_with_chatsdk_down_answers_502_chatsdk_unreachable() {
    chatsdk_down_answers_502_chatsdk_unreachable(Lang::Node).await;
}

#[actix_web::test]
async fn python_example_with_chatsdk_down_answers_502_chatsdk_unreachable() {
    chatsdk_down_answers_502_chatsdk_unreachable(Lang::Python).await;
}

#[actix_web::test]
async fn node_example_with_a_silent_chatsdk_answers_504_chatsdk_timeout() {
    chatsdk_that_never_answers_gives_504_chatsdk_timeout(Lang::Node).await;
}

#[actix_web::test]
async fn python_example_with_a_silent_chatsdk_answers_504_chatsdk_timeout() {
    chatsdk_that_never_answers_gives_504_chatsdk_timeout(Lang::Python).await;
}

#[actix_web::test]
async fn ruby_example_gives_a_signed_in_user_tokens_that_work_on_chatsdk_and_centrifugo() {
    signed_in_user_gets_tokens_that_work_on_chatsdk_and_centrifugo(Lang::Ruby).await;
}

#[actix_web::test]
async fn ruby_example_with_a_revoked_api_key_answers_502_chatsdk_auth_failed() {
    revoked_api_key_answers_502_chatsdk_auth_failed(Lang::Ruby).await;
}

#[actix_web::test]
async fn ruby_example_over_chatsdk_rate_limit_answers_503_with_retry_after() {
    chatsdk_over_its_rate_limit_answers_503_with_retry_after(Lang::Ruby).await;
}

#[actix_web::test]
async fn ruby_example_with_chatsdk_down_answers_502_chatsdk_unreachable() {
    chatsdk_down_answers_502_chatsdk_unreachable(Lang::Ruby).await;
}

#[actix_web::test]
async fn ruby_example_with_a_silent_chatsdk_answers_504_chatsdk_timeout() {
    chatsdk_that_never_answers_gives_504_chatsdk_timeout(Lang::Ruby).await;
}

#[actix_web::test]
async fn php_example_gives_a_signed_in_user_tokens_that_work_on_chatsdk_and_centrifugo() {
    signed_in_user_gets_tokens_that_work_on_chatsdk_and_centrifugo(Lang::Php).await;
}

#[actix_web::test]
async fn php_example_with_a_revoked_api_key_answers_502_chatsdk_auth_failed() {
    revoked_api_key_answers_502_chatsdk_auth_failed(Lang::Php).await;
}

#[actix_web::test]
async fn php_example_over_chatsdk_rate_limit_answers_503_with_retry_after() {
    chatsdk_over_its_rate_limit_answers_503_with_retry_after(Lang::Php).await;
}

#[actix_web::test]
async fn php_example_with_chatsdk_down_answers_502_chatsdk_unreachable() {
    chatsdk_down_answers_502_chatsdk_unreachable(Lang::Php).await;
}

#[actix_web::test]
async fn php_example_with_a_silent_chatsdk_answers_504_chatsdk_timeout() {
    chatsdk_that_never_answers_gives_504_chatsdk_timeout(Lang::Php).await;
}

#[actix_web::test]
async fn node_example_with_chatsdk_failing_answers_502_chatsdk_unavailable() {
    chatsdk_failing_answers_502_chatsdk_unavailable(Lang::Node).await;
}

#[actix_web::test]
async fn python_example_with_chatsdk_failing_answers_502_chatsdk_unavailable() {
    chatsdk_failing_answers_502_chatsdk_unavailable(Lang::Python).await;
}

#[actix_web::test]
async fn ruby_example_with_chatsdk_failing_answers_502_chatsdk_unavailable() {
    chatsdk_failing_answers_502_chatsdk_unavailable(Lang::Ruby).await;
}

#[actix_web::test]
async fn php_example_with_chatsdk_failing_answers_502_chatsdk_unavailable() {
    chatsdk_failing_answers_502_chatsdk_unavailable(Lang::Php).await;
}

#[actix_web::test]
async fn node_example_with_chatsdk_refusing_the_call_answers_502_chatsdk_rejected() {
    chatsdk_refusing_the_call_answers_502_chatsdk_rejected(Lang::Node).await;
}

#[actix_web::test]
async fn python_example_with_chatsdk_refusing_the_call_answers_502_chatsdk_rejected() {
    chatsdk_refusing_the_call_answers_502_chatsdk_rejected(Lang::Python).await;
}

#[actix_web::test]
async fn ruby_example_with_chatsdk_refusing_the_call_answers_502_chatsdk_rejected() {
    chatsdk_refusing_the_call_answers_502_chatsdk_rejected(Lang::Ruby).await;
}

#[actix_web::test]
async fn php_example_with_chatsdk_refusing_the_call_answers_502_chatsdk_rejected() {
    chatsdk_refusing_the_call_answers_502_chatsdk_rejected(Lang::Php).await;
}

#[actix_web::test]
async fn node_example_with_chatsdk_cutting_off_its_answer_answers_502_chatsdk_unreachable() {
    chatsdk_cutting_off_its_answer_answers_502_chatsdk_unreachable(Lang::Node).await;
}

#[actix_web::test]
async fn python_example_with_chatsdk_cutting_off_its_answer_answers_502_chatsdk_unreachable() {
    chatsdk_cutting_off_its_answer_answers_502_chatsdk_unreachable(Lang::Python).await;
}

#[actix_web::test]
async fn ruby_example_with_chatsdk_cutting_off_its_answer_answers_502_chatsdk_unreachable() {
    chatsdk_cutting_off_its_answer_answers_502_chatsdk_unreachable(Lang::Ruby).await;
}

#[actix_web::test]
async fn php_example_with_chatsdk_cutting_off_its_answer_answers_502_chatsdk_unreachable() {
    chatsdk_cutting_off_its_answer_answers_502_chatsdk_unreachable(Lang::Php).await;
}
