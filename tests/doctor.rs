//! `chatsdk doctor` end to end: the real binary against a real Centrifugo.

use crate::common;
use chatsdk::centrifugo_process::{CentrifugoOptions, CentrifugoProcess};
use chatsdk::secret::Secret;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const CHECKS: [&str; 5] = [
    "configuration",
    "database",
    "centrifugo api",
    "centrifugo websocket",
    "client url",
];
const OTHER_TOKEN_SECRET: &str = "other-centrifugo-secret-0123456789abcdef01";
const OTHER_API_KEY: &str = "other-centrifugo-api-key-0123456789";

/// The settings of one doctor run; each test changes what it is about.
#[derive(Clone)]
struct Setup {
    database: PathBuf,
    env: Vec<(&'static str, String)>,
}

impl Setup {
    /// The settings `serve` would run with beside Centrifugo at these URLs.
    fn new(database: PathBuf, centrifugo_url: &str, ws_url: &str) -> Self {
        Self {
            database,
            env: vec![
                ("CHATSDK_JWT_SECRET", common::JWT_SECRET.into()),
                (
                    "CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY",
                    common::CENTRIFUGO_SECRET.into(),
                ),
                ("CENTRIFUGO_HTTP_API_KEY", common::CENTRIFUGO_API_KEY.into()),
                ("CENTRIFUGO_URL", centrifugo_url.into()),
                ("CENTRIFUGO_WS_URL", ws_url.into()),
            ],
        }
    }

    fn set(mut self, name: &'static str, value: &str) -> Self {
        self.env.retain(|(n, _)| *n != name);
        self.env.push((name, value.into()));
        self
    }

    fn unset(mut self, name: &'static str) -> Self {
        self.env.retain(|(n, _)| *n != name);
        self
    }

    /// Runs `chatsdk doctor` (human output, then `--json`); checks that no secret leaks.
    async fn run(&self) -> Outcome {
        let started = Instant::now();
        let human = self.command(&[]).await;
        let elapsed = started.elapsed();
        let json_out = self.command(&["--json"]).await;
        for out in [&human, &json_out] {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            for secret in [
                common::JWT_SECRET,
                common::CENTRIFUGO_SECRET,
                common::CENTRIFUGO_API_KEY,
                OTHER_TOKEN_SECRET,
                OTHER_API_KEY,
            ] {
                assert!(
                    !text.contains(secret),
                    "a secret reached the output: {text}"
                );
            }
            // A JWT (the probe's wsToken) starts with the base64 of `{"`.
            assert!(!text.contains("eyJ"), "a token reached the output: {text}");
        }
        assert_eq!(human.status.code(), json_out.status.code());
        Outcome {
            code: human.status.code(),
            text: String::from_utf8_lossy(&human.stdout).into_owned(),
            json: serde_json::from_slice(&json_out.stdout).expect("--json prints one object"),
            elapsed,
        }
    }

    async fn command(&self, extra: &[&str]) -> std::process::Output {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatsdk"));
        for (name, _) in std::env::vars() {
            if name.starts_with("CHATSDK_") || name.starts_with("CENTRIFUGO_") || name == "RUST_LOG"
            {
                cmd.env_remove(name);
            }
        }
        cmd.args(extra)
            .arg("--database")
            .arg(&self.database)
            .arg("doctor")
            .envs(self.env.iter().map(|(n, v)| (n, v)))
            .output()
            .await
            .expect("chatsdk runs")
    }
}

struct Outcome {
    code: Option<i32>,
    text: String,
    json: Value,
    elapsed: Duration,
}

impl Outcome {
    fn check(&self, name: &str) -> &Value {
        self.json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no check {name}: {}", self.json))
    }

    fn status(&self, name: &str) -> &str {
        self.check(name)["status"].as_str().unwrap()
    }

    /// The check's message, details and fix as one text.
    fn says(&self, name: &str) -> String {
        let c = self.check(name);
        format!("{} {} {}", c["message"], c["details"], c["fix"])
    }

    /// The human line of a check: `[mark] name: message`.
    fn line(&self, name: &str) -> &str {
        self.text
            .lines()
            .find(|l| {
                l.split_once("] ")
                    .is_some_and(|(_, rest)| rest.starts_with(&format!("{name}:")))
            })
            .unwrap_or_else(|| panic!("no line for {name}: {}", self.text))
    }
}

/// A running Centrifugo and the settings `serve` would run with beside it, on a database
/// with one app: what a test then changes is what it is about. Keep the folder and the
/// process alive for the test.
async fn working_setup() -> (tempfile::TempDir, CentrifugoProcess, Setup) {
    let dir = tempfile::tempdir().unwrap();
    let (centrifugo, _, _) = common::start_centrifugo_on_free_ports(dir.path()).await;
    let setup = Setup::new(
        database_with_an_app(dir.path()),
        &centrifugo.internal_url,
        &centrifugo.ws_url,
    );
    (dir, centrifugo, setup)
}

/// A database with one app, made by the CLI as an operator would.
fn database_with_an_app(dir: &Path) -> PathBuf {
    let db = dir.join("chatsdk.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chatsdk"))
        .arg("--database")
        .arg(&db)
        .args(["app", "create", "--name", "doctor test"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    db
}

/// A loopback port where nothing listens.
fn closed_port() -> u16 {
    common::free_port()
}

#[actix_web::test]
async fn passes_with_the_right_settings_and_prints_the_ws_url() {
    let (_dir, centrifugo, setup) = working_setup().await;

    let outcome = setup.run().await;

    assert_eq!(outcome.code, Some(0), "{}", outcome.text);
    assert_eq!(outcome.json["ok"], true);
    assert_eq!(outcome.json["wsUrl"], centrifugo.ws_url.as_str());
    for name in CHECKS {
        assert_eq!(outcome.status(name), "ok", "{}", outcome.json);
        assert!(outcome.line(name).starts_with("[✓]"), "{}", outcome.text);
    }
    let version = chatsdk::centrifugo_process::CENTRIFUGO_VERSION.trim_start_matches('v');
    assert!(
        outcome
            .says("centrifugo api")
            .contains(&format!("Centrifugo {version}")),
        "{}",
        outcome.text
    );
    assert!(
        outcome.line("client url").contains(&centrifugo.ws_url),
        "{}",
        outcome.text
    );
    assert!(
        outcome.text.contains("All checks passed"),
        "{}",
        outcome.text
    );
}

#[actix_web::test]
async fn at_trace_level_the_log_shows_no_token() {
    let (_dir, _centrifugo, setup) = working_setup().await;
    let setup = setup.set("RUST_LOG", "trace");

    // `run` fails on any secret or token in stdout or stderr, the log included.
    let outcome = setup.run().await;

    assert_eq!(outcome.code, Some(0), "{}", outcome.text);
    assert_eq!(
        outcome.status("centrifugo websocket"),
        "ok",
        "{}",
        outcome.json
    );
}

#[actix_web::test]
async fn a_wrong_token_secret_is_named_with_centrifugos_3500_refusal() {
    let (_dir, _centrifugo, setup) = working_setup().await;
    let setup = setup.set(
        "CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY",
        OTHER_TOKEN_SECRET,
    );

    let outcome = setup.run().await;

    assert_ne!(outcome.code, Some(0), "{}", outcome.text);
    assert_eq!(outcome.json["ok"], false);
    assert_eq!(outcome.status("centrifugo websocket"), "fail");
    let line = outcome.line("centrifugo websocket");
    assert!(line.starts_with("[✗]"), "{line}");
    assert!(
        line.contains("3500") && line.contains("CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY"),
        "{line}"
    );
    assert_eq!(
        outcome.status("centrifugo api"),
        "ok",
        "only the token is wrong"
    );
}

#[actix_web::test]
async fn a_wrong_api_key_is_named() {
    let (_dir, _centrifugo, setup) = working_setup().await;
    let setup = setup.set("CENTRIFUGO_HTTP_API_KEY", OTHER_API_KEY);

    let outcome = setup.run().await;

    assert_ne!(outcome.code, Some(0), "{}", outcome.text);
    assert_eq!(outcome.status("centrifugo api"), "fail");
    let line = outcome.line("centrifugo api");
    assert!(
        line.contains("401") && line.contains("CENTRIFUGO_HTTP_API_KEY"),
        "{line}"
    );
    assert_eq!(
        outcome.status("centrifugo websocket"),
        "ok",
        "only the key is wrong"
    );
}

#[actix_web::test]
async fn the_public_port_as_centrifugo_url_is_told_apart_from_the_internal_one() {
    let dir = tempfile::tempdir().unwrap();
    let (centrifugo, port, _) = common::start_centrifugo_on_free_ports(dir.path()).await;
    let setup = Setup::new(
        database_with_an_app(dir.path()),
        &format!("http://127.0.0.1:{port}"),
        &centrifugo.ws_url,
    );

    let outcome = setup.run().await;

    assert_ne!(outcome.code, Some(0));
    let says = outcome.says("centrifugo api");
    assert!(
        says.contains("404") && says.contains("internal port"),
        "{says}"
    );
}

#[actix_web::test]
async fn centrifugo_down_is_reported_as_not_reachable_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let setup = Setup::new(
        database_with_an_app(dir.path()),
        &format!("http://127.0.0.1:{port}"),
        &format!("ws://127.0.0.1:{port}/connection/websocket"),
    );

    let outcome = setup.run().await;

    assert_ne!(outcome.code, Some(0), "{}", outcome.text);
    assert!(
        outcome.elapsed < Duration::from_secs(5),
        "{:?}",
        outcome.elapsed
    );
    assert_eq!(outcome.status("configuration"), "ok");
    assert_eq!(outcome.status("database"), "ok");
    let api = outcome.line("centrifugo api");
    assert!(
        api.contains("not reachable") && api.contains("CENTRIFUGO_URL"),
        "{api}"
    );
    let ws = outcome.line("centrifugo websocket");
    assert!(ws.contains("nothing listens at CENTRIFUGO_WS_URL"), "{ws}");
    assert!(
        outcome
            .says("centrifugo api")
            .contains("is Centrifugo running?"),
        "{}",
        outcome.text
    );
}

#[actix_web::test]
async fn a_password_in_the_centrifugo_urls_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let setup = Setup::new(
        database_with_an_app(dir.path()),
        &format!("http://user:pa55word@127.0.0.1:{port}"),
        &format!("ws://user:pa55word@127.0.0.1:{port}/connection/websocket"),
    );

    let outcome = setup.run().await;

    assert_ne!(outcome.code, Some(0), "{}", outcome.text);
    let api = outcome.line("centrifugo api");
    assert!(
        api.contains(&format!(
            "CENTRIFUGO_URL=http://[REDACTED]@127.0.0.1:{port}"
        )),
        "the address stays, its userinfo goes: {api}"
    );
    for text in [&outcome.text, &outcome.json.to_string()] {
        assert!(
            !text.contains("pa55word") && !text.contains("user:"),
            "{text}"
        );
    }
}

#[actix_web::test]
async fn an_invalid_configuration_lists_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let setup = Setup::new(
        database_with_an_app(dir.path()),
        &format!("http://127.0.0.1:{port}"),
        &format!("ws://127.0.0.1:{port}/connection/websocket"),
    )
    .unset("CHATSDK_JWT_SECRET")
    .set(
        "CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY",
        "too-short-secret",
    )
    .set("CHATSDK_TOKEN_TTL", "0");

    let outcome = setup.run().await;

    assert_ne!(outcome.code, Some(0), "{}", outcome.text);
    assert_eq!(outcome.status("configuration"), "fail");
    let details = outcome.check("configuration")["details"]
        .as_array()
        .unwrap()
        .clone();
    // One line per setting the user got wrong: not also CHATSDK_WS_TOKEN_TTL, which was
    // not set (its default follows CHATSDK_TOKEN_TTL).
    assert_eq!(details.len(), 3, "{details:?}");
    for (detail, needle) in details.iter().zip([
        "CHATSDK_JWT_SECRET is missing",
        "CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY is too weak",
        "CHATSDK_TOKEN_TTL must be",
    ]) {
        let detail = detail.as_str().unwrap();
        assert!(detail.starts_with(needle), "{detail}");
        assert!(
            outcome.text.contains(&format!("- {detail}")),
            "not listed: {}",
            outcome.text
        );
    }
    assert!(
        !outcome.text.contains("too-short-secret"),
        "{}",
        outcome.text
    );
}

#[actix_web::test]
async fn a_database_without_apps_is_a_warning_that_says_how_to_create_one() {
    let dir = tempfile::tempdir().unwrap();
    let (centrifugo, _, _) = common::start_centrifugo_on_free_ports(dir.path()).await;
    let setup = Setup::new(
        dir.path().join("fresh.db"),
        &centrifugo.internal_url,
        &centrifugo.ws_url,
    );

    let outcome = setup.run().await;

    assert_eq!(
        outcome.code,
        Some(0),
        "a warning does not fail: {}",
        outcome.text
    );
    assert_eq!(outcome.status("database"), "warn");
    assert!(
        outcome.line("database").starts_with("[!]"),
        "{}",
        outcome.text
    );
    assert!(
        outcome
            .says("database")
            .contains("chatsdk app create --name"),
        "{}",
        outcome.text
    );
    assert!(
        !dir.path().join("fresh.db").exists(),
        "the doctor created the database"
    );
}

#[actix_web::test]
async fn a_database_from_a_newer_chatsdk_fails() {
    let dir = tempfile::tempdir().unwrap();
    let db = database_with_an_app(dir.path());
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.pragma_update(None, "user_version", chatsdk::db::SCHEMA_VERSION as i64 + 1)
        .unwrap();
    drop(conn);
    let port = closed_port();
    let setup = Setup::new(
        db,
        &format!("http://127.0.0.1:{port}"),
        &format!("ws://127.0.0.1:{port}/connection/websocket"),
    );

    let outcome = setup.run().await;

    assert_eq!(outcome.status("database"), "fail");
    assert!(
        outcome.says("database").contains("newer"),
        "{}",
        outcome.text
    );
}

#[actix_web::test]
async fn browser_origins_are_checked_against_centrifugos_allowed_origins() {
    // Centrifugo runs the config `chatsdk centrifugo-config --allowed-origin …` prints.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let generated = std::process::Command::new(env!("CARGO_BIN_EXE_chatsdk"))
        .args([
            "centrifugo-config",
            "--allowed-origin",
            "http://localhost:3000",
        ])
        .output()
        .unwrap();
    assert!(generated.status.success());
    std::fs::write(&config, &generated.stdout).unwrap();
    let (port, internal_port) = (common::free_port(), common::free_port());
    let centrifugo = CentrifugoProcess::start(&CentrifugoOptions {
        binary: common::centrifugo_binary(),
        config,
        port: Some(port),
        internal_port: Some(internal_port),
        address: Some("127.0.0.1".into()),
        token_secret: Secret::new(common::CENTRIFUGO_SECRET),
        api_key: Secret::new(common::CENTRIFUGO_API_KEY),
        workdir: dir.path().to_path_buf(),
        log_file: Some(dir.path().join("centrifugo.log")),
        // From the generated config file, not the environment.
        allowed_origins: None,
    })
    .await
    .expect("Centrifugo starts with the generated config");
    let setup = Setup::new(
        database_with_an_app(dir.path()),
        &centrifugo.internal_url,
        &centrifugo.ws_url,
    );

    let allowed = setup
        .clone()
        .set("CHATSDK_CORS_ORIGINS", "http://localhost:3000")
        .run()
        .await;
    let partly = setup
        .clone()
        .set(
            "CHATSDK_CORS_ORIGINS",
            "http://localhost:3000,https://app.example.com",
        )
        .run()
        .await;

    assert_eq!(allowed.code, Some(0), "{}", allowed.text);
    assert_eq!(allowed.status("browser origins"), "ok");
    assert_ne!(partly.code, Some(0), "{}", partly.text);
    assert_eq!(partly.status("browser origins"), "fail");
    assert_eq!(
        partly.check("browser origins")["details"],
        serde_json::json!(["https://app.example.com is refused"])
    );
    assert!(
        partly
            .says("browser origins")
            .contains("CENTRIFUGO_CLIENT_ALLOWED_ORIGINS"),
        "{}",
        partly.text
    );
}
