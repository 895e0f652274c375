//! Test harness: a real Centrifugo from the checked-in config, a temp SQLite file and the
//! service on a free loopback port, built by the same code as `chatsdk serve`.
#![allow(dead_code)]

pub mod chat;
pub mod rt_client;

use base64::Engine;
use chatsdk::centrifugo_process::{self, CentrifugoOptions, CentrifugoProcess};
use chatsdk::config::{Config, ServeArgs};
use chatsdk::secret::Secret;
use chatsdk::startup::Application;
use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

pub const JWT_SECRET: &str = "test-rest-secret-0123456789abcdef0123456789";
pub const CENTRIFUGO_SECRET: &str = "test-centrifugo-secret-0123456789abcdef012";
pub const CENTRIFUGO_API_KEY: &str = "test-centrifugo-api-key";

pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The Centrifugo binary; a missing one fails the test (never skips it).
pub fn centrifugo_binary() -> PathBuf {
    centrifugo_process::find_binary().unwrap_or_else(|| {
        panic!(
            "Centrifugo {} not found: set CENTRIFUGO_BIN, put `centrifugo` on PATH, or run `bash .ci/run` \
             (it installs it with `go install`)",
            centrifugo_process::CENTRIFUGO_VERSION
        )
    })
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// How the tests run Centrifugo: the checked-in config, only ports and secrets passed.
fn centrifugo_options(
    dir: &Path,
    port: u16,
    internal_port: u16,
    allowed_origins: Option<String>,
) -> CentrifugoOptions {
    CentrifugoOptions {
        binary: centrifugo_binary(),
        config: repo_path("centrifugo/config.json"),
        port: Some(port),
        internal_port: Some(internal_port),
        address: Some("127.0.0.1".into()),
        token_secret: Secret::new(CENTRIFUGO_SECRET),
        api_key: Secret::new(CENTRIFUGO_API_KEY),
        workdir: dir.to_path_buf(),
        log_file: Some(dir.join(format!("centrifugo-{port}.log"))),
        allowed_origins,
    }
}

/// `chatsdk serve` as a child process on `port` over `db`, with the test secrets and
/// Centrifugo at `centrifugo_url`; killed when dropped.
pub fn serve_command(db: &Path, port: u16, centrifugo_url: &str) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatsdk"));
    cmd.arg("serve")
        .env("CHATSDK_DATABASE", db)
        .env("CHATSDK_ADDR", format!("127.0.0.1:{port}"))
        .env("CHATSDK_JWT_SECRET", JWT_SECRET)
        .env("CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY", CENTRIFUGO_SECRET)
        .env("CENTRIFUGO_HTTP_API_KEY", CENTRIFUGO_API_KEY)
        .env("CENTRIFUGO_URL", centrifugo_url)
        .kill_on_drop(true);
    cmd
}

/// Stops a `serve_command` child as an operator's `docker stop` or systemd does: SIGTERM,
/// then waits (at most 20 s) for it to exit 0. Its log is complete afterwards; a kill -9
/// may lose the last few milliseconds of buffered info lines (src/logging/sink.rs).
pub async fn stop_gracefully(child: &mut tokio::process::Child) {
    let pid = child.id().expect("the server is still running").to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(sent.success(), "kill -TERM {pid}");
    let status = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait())
        .await
        .expect("chatsdk serve exits within 20 s of SIGTERM")
        .unwrap();
    assert!(
        status.success(),
        "chatsdk serve exits 0 after SIGTERM: {status}"
    );
}

/// Starts Centrifugo on the given ports (e.g. to restart it where clients expect it).
pub async fn start_centrifugo(dir: &Path, port: u16, internal_port: u16) -> CentrifugoProcess {
    CentrifugoProcess::start(&centrifugo_options(dir, port, internal_port, None))
        .await
        .unwrap_or_else(|e| panic!("Centrifugo did not start: {e}"))
}

/// Like `start_centrifugo`, from another config file: a deployment's slip.
pub async fn start_centrifugo_from(
    config: &Path,
    dir: &Path,
    port: u16,
    internal_port: u16,
) -> CentrifugoProcess {
    let options = CentrifugoOptions {
        config: config.to_path_buf(),
        ..centrifugo_options(dir, port, internal_port, None)
    };
    CentrifugoProcess::start(&options)
        .await
        .unwrap_or_else(|e| panic!("Centrifugo did not start from {}: {e}", config.display()))
}

/// Starts Centrifugo on fresh free ports, trying again with new ones if another process
/// took a port between our probe and Centrifugo's bind.
pub async fn start_centrifugo_on_free_ports(dir: &Path) -> (CentrifugoProcess, u16, u16) {
    start_centrifugo_on_free_ports_for(dir, None).await
}

/// Like `start_centrifugo_on_free_ports`, accepting browsers from `allowed_origins`.
pub async fn start_centrifugo_on_free_ports_for(
    dir: &Path,
    allowed_origins: Option<String>,
) -> (CentrifugoProcess, u16, u16) {
    let mut last = String::new();
    for _ in 0..3 {
        let (port, internal_port) = (free_port(), free_port());
        if port == internal_port {
            continue;
        }
        let options = centrifugo_options(dir, port, internal_port, allowed_origins.clone());
        match CentrifugoProcess::start(&options).await {
            Ok(p) => return (p, port, internal_port),
            Err(e) => last = e.to_string(),
        }
    }
    panic!("Centrifugo did not start on free ports: {last}");
}

/// One running service with its own database and Centrifugo.
pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub dir: TempDir,
    pub config: Config,
    pub centrifugo: Option<CentrifugoProcess>,
    pub centrifugo_port: u16,
    pub centrifugo_internal_port: u16,
    /// The origins Centrifugo accepts browsers from (`start_for_browsers`).
    pub allowed_origins: Option<String>,
    /// The API key of an app created through the CLI for this test.
    pub api_key: String,
    pub app_id: String,
}

impl TestApp {
    pub async fn start() -> TestApp {
        Self::start_with(|_| {}).await
    }

    /// Starts with the serve settings adjusted by `adjust` (TTL, secrets, …).
    pub async fn start_with(adjust: impl FnOnce(&mut ServeArgs)) -> TestApp {
        Self::start_full(false, adjust).await
    }

    /// Like `start_with`, with Centrifugo accepting browsers from the service's own
    /// origin (`base`), as the demo page at /demo needs.
    pub async fn start_for_browsers(adjust: impl FnOnce(&mut ServeArgs)) -> TestApp {
        Self::start_full(true, adjust).await
    }

    async fn start_full(browsers: bool, adjust: impl FnOnce(&mut ServeArgs)) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let allowed_origins = browsers.then(|| base.clone());
        let (centrifugo, port, internal_port) =
            start_centrifugo_on_free_ports_for(dir.path(), allowed_origins.clone()).await;
        let mut args = ServeArgs {
            addr: "127.0.0.1:0".parse().unwrap(),
            jwt_secret: Some(Secret::new(JWT_SECRET)),
            centrifugo_token_secret: Some(Secret::new(CENTRIFUGO_SECRET)),
            centrifugo_url: centrifugo.internal_url.clone().into(),
            centrifugo_api_key: Some(Secret::new(CENTRIFUGO_API_KEY)),
            centrifugo_ws_url: centrifugo.ws_url.clone().into(),
            demo: false,
            client: Default::default(),
            jwt_previous_secret: None,
            dev: false,
            jwt_leeway: chatsdk::auth::tokens::CLOCK_LEEWAY_SECS,
            rate_limits: Default::default(),
            metrics_addr: None,
        };
        adjust(&mut args);
        let config = args
            .validate(dir.path().join("chatsdk.db"))
            .expect("valid test config");
        let app = Application::build_on(&config, listener).expect("app builds");
        // Never stopped by a signal: the test process's Ctrl-C stays the test runner's.
        actix_web::rt::spawn(app.run(std::future::pending::<()>()));
        let mut test_app = TestApp {
            base,
            http: reqwest::Client::new(),
            dir,
            config,
            centrifugo: Some(centrifugo),
            centrifugo_port: port,
            centrifugo_internal_port: internal_port,
            allowed_origins,
            api_key: String::new(),
            app_id: String::new(),
        };
        let created = test_app.cli_json(&["app", "create", "--name", "test app"]);
        test_app.api_key = created["apiKey"].as_str().unwrap().to_string();
        test_app.app_id = created["appId"].as_str().unwrap().to_string();
        test_app
    }

    /// Stops Centrifugo and starts a new one where clients expect it: its memory engine
    /// starts empty, so no history or stream position survives.
    pub async fn restart_centrifugo(&mut self) {
        if let Some(old) = self.centrifugo.take() {
            old.stop().await;
        }
        let options = centrifugo_options(
            self.dir.path(),
            self.centrifugo_port,
            self.centrifugo_internal_port,
            self.allowed_origins.clone(),
        );
        self.centrifugo = Some(
            CentrifugoProcess::start(&options)
                .await
                .unwrap_or_else(|e| panic!("Centrifugo did not start again: {e}")),
        );
    }

    pub fn db_path(&self) -> PathBuf {
        self.config.database.clone()
    }

    pub fn ws_url(&self) -> String {
        format!(
            "ws://127.0.0.1:{}/connection/websocket",
            self.centrifugo_port
        )
    }

    /// Runs the real `chatsdk` binary on this test's database.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_chatsdk"))
            .arg("--database")
            .arg(self.db_path())
            .args(args)
            .env_remove("RUST_LOG")
            .output()
            .expect("chatsdk runs")
    }

    /// Runs a CLI command with `--json`, requires success, returns its JSON object.
    pub fn cli_json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.cli(&all);
        assert!(
            out.status.success(),
            "chatsdk {args:?} failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        serde_json::from_slice(&out.stdout).expect("CLI prints one JSON object")
    }

    /// `POST /tokens` with this app's key, for a test to add its own body and headers.
    pub fn tokens_request(&self) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/tokens", self.base))
            .header("X-API-Key", &self.api_key)
    }

    /// `POST /tokens` with this app's key and a JSON body.
    pub async fn post_tokens(&self, body: &Value) -> reqwest::Response {
        self.post_tokens_with_key(&self.api_key, body).await
    }

    pub async fn post_tokens_with_key(&self, key: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}/tokens", self.base))
            .header("X-API-Key", key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Tokens for `user_id`, requiring success.
    pub async fn tokens_for(&self, user_id: &str) -> Value {
        let res = self
            .post_tokens(&serde_json::json!({ "userId": user_id }))
            .await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    /// `GET path` with no credentials.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    /// The backend revokes every REST token of `user` issued so far, requiring success.
    pub async fn revoke_tokens(&self, user: &str) {
        let res = self
            .http
            .post(format!("{}/api/users/{user}/revoke-tokens", self.base))
            .header("X-API-Key", &self.api_key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "revoke-tokens of {user}");
    }

    pub async fn get_me(&self, token: &str) -> reqwest::Response {
        self.http
            .get(format!("{}/api/me", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Number of rows in the users table, read straight from the SQLite file.
    pub fn count_users(&self) -> i64 {
        let conn = rusqlite::Connection::open(self.db_path()).unwrap();
        conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))
            .unwrap()
    }
}

/// Asserts an error response: status, the `{"error":{"code","message"}}` shape and the code.
pub async fn assert_error(res: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(res.status().as_u16(), status, "status for expected {code}");
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(ct.as_deref(), Some("application/json"));
    let body: Value = res.json().await.expect("error body is JSON");
    assert_eq!(body["error"]["code"], code, "body: {body}");
    let message = body["error"]["message"]
        .as_str()
        .expect("message is a string");
    assert!(!message.is_empty());
    assert_eq!(
        body.as_object().unwrap().len(),
        1,
        "only `error` at the top: {body}"
    );
    message.to_string()
}

/// The claims of a JWT, decoded without verification (the tests check them).
pub fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("three segments");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

pub fn jwt_header(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Python with centrifuge-python: `CHATSDK_TEST_PYTHON`, else the venv `.ci/run` makes
/// in ChatSDK's cache folder, else `python3`.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("CHATSDK_TEST_PYTHON") {
        return p.into();
    }
    let venv = centrifugo_process::cache_root().join("venv/bin/python");
    if venv.is_file() {
        venv
    } else {
        "python3".into()
    }
}

/// Connects with the official Python client; returns its JSON report.
pub async fn official_client_connect(ws_url: &str, token: &str) -> Value {
    let out = tokio::process::Command::new(python())
        .arg(repo_path("tests/clients/ws_connect.py"))
        .args([ws_url, token, "10"])
        .output()
        .await
        .expect("python runs");
    assert!(
        out.status.success(),
        "the official client failed (is centrifuge-python installed? run `bash .ci/run` or set CHATSDK_TEST_PYTHON): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the client prints JSON")
}

/// Runs `centrifugo checktoken` with the checked-in config and the test secret.
pub fn checktoken(token: &str, secret: &str) -> (bool, String) {
    let out = Command::new(centrifugo_binary())
        .args(["checktoken", "-c"])
        .arg(repo_path("centrifugo/config.json"))
        .arg(token)
        .env("CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY", secret)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
