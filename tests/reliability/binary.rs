//! The real binary, run, killed and restarted.

use super::backend::{Backend, Room};
use super::lanes::Lane;
use crate::common;
use crate::common::{CENTRIFUGO_API_KEY, CENTRIFUGO_SECRET, JWT_SECRET, free_port};
use chatsdk::centrifugo_process::CentrifugoProcess;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::time::{Instant, sleep, timeout};

/// `chatsdk` on `db`, with no setting inherited from the environment.
pub(super) fn chatsdk(db: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatsdk"));
    for var in [
        "CHATSDK_JWT_SECRET",
        "CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY",
        "CENTRIFUGO_HTTP_API_KEY",
        "CHATSDK_ADDR",
        "CENTRIFUGO_URL",
        "CHATSDK_TOKEN_TTL",
        "CHATSDK_SUB_TOKEN_TTL",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("CHATSDK_DATABASE", db).kill_on_drop(true);
    cmd
}

/// Runs a CLI command with `--json`; its exit status and JSON answer.
pub(super) async fn cli(db: &Path, args: &[&str]) -> (ExitStatus, Value) {
    let out = timeout(
        Duration::from_secs(30),
        chatsdk(db).arg("--json").args(args).output(),
    )
    .await
    .unwrap_or_else(|_| panic!("chatsdk {args:?} did not finish in 30 s"))
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let body = serde_json::from_str(&text).unwrap_or_else(
        |_| json!({"unparsed": text, "stderr": String::from_utf8_lossy(&out.stderr)}),
    );
    (out.status, body)
}

/// `chatsdk serve` on a database file and port.
pub(super) struct RunningBinary {
    child: tokio::process::Child,
    pid: u32,
    pub(super) base: String,
    log: PathBuf,
}

impl RunningBinary {
    /// Starts the server and waits until `/health` answers.
    pub(super) async fn start(
        db: &Path,
        port: u16,
        centrifugo_url: &str,
        log: &Path,
    ) -> RunningBinary {
        Self::start_with(db, port, centrifugo_url, log, &[]).await
    }

    /// `start`, with more settings in its environment.
    pub(super) async fn start_with(
        db: &Path,
        port: u16,
        centrifugo_url: &str,
        log: &Path,
        env: &[(&str, &str)],
    ) -> RunningBinary {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = chatsdk(db)
            .arg("serve")
            .env("CHATSDK_ADDR", format!("127.0.0.1:{port}"))
            .env("CHATSDK_JWT_SECRET", JWT_SECRET)
            .env("CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY", CENTRIFUGO_SECRET)
            .env("CENTRIFUGO_HTTP_API_KEY", CENTRIFUGO_API_KEY)
            .env("CENTRIFUGO_URL", centrifugo_url)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let mut server = RunningBinary {
            pid: child.id().unwrap(),
            child,
            base: format!("http://127.0.0.1:{port}"),
            log: log.to_path_buf(),
        };
        let http = reqwest::Client::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("chatsdk serve exited ({status}):\n{}", server.log_text());
            }
            let health = http
                .get(format!("{}/health", server.base))
                .timeout(Duration::from_millis(500))
                .send()
                .await;
            if health.is_ok_and(|r| r.status() == 200) {
                return server;
            }
            sleep(Duration::from_millis(25)).await;
        }
        panic!("chatsdk serve not healthy in 15 s:\n{}", server.log_text());
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([signal, &self.pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal} {}", self.pid);
    }

    pub(super) async fn kill9(mut self) {
        self.signal("-9");
        self.child.wait().await.unwrap();
    }

    /// Sends SIGTERM; the exit status if it came within `within`, and the time taken.
    pub(super) async fn terminate(mut self, within: Duration) -> (Option<ExitStatus>, Duration) {
        let started = Instant::now();
        self.signal("-TERM");
        let status = timeout(within, self.child.wait())
            .await
            .ok()
            .map(Result::unwrap);
        (status, started.elapsed())
    }
}

/// A Centrifugo, a database file with an app made by the CLI, and a port for the server.
pub(super) struct Deployment {
    pub(super) dir: tempfile::TempDir,
    centrifugo: Option<CentrifugoProcess>,
    centrifugo_url: String,
    ws_url: String,
    /// Centrifugo's WebSocket port, kept across a restart.
    pub(super) centrifugo_port: u16,
    pub(super) internal_port: u16,
    pub(super) db: PathBuf,
    port: u16,
    pub(super) app_id: String,
    pub(super) api_key: String,
}

impl Deployment {
    pub(super) async fn new() -> Deployment {
        let dir = tempfile::tempdir().unwrap();
        let (port, internal_port) = (free_port(), free_port());
        let centrifugo = common::start_centrifugo(dir.path(), port, internal_port).await;
        let db = dir.path().join("chatsdk.db");
        let (status, created) = cli(&db, &["app", "create", "--name", "reliability"]).await;
        assert!(status.success(), "{created}");
        Deployment {
            centrifugo_url: centrifugo.internal_url.clone(),
            ws_url: centrifugo.ws_url.clone(),
            centrifugo: Some(centrifugo),
            centrifugo_port: port,
            internal_port,
            db,
            port: free_port(),
            app_id: created["appId"].as_str().unwrap().to_string(),
            api_key: created["apiKey"].as_str().unwrap().to_string(),
            dir,
        }
    }

    pub(super) async fn serve(&self) -> RunningBinary {
        self.serve_with(&[]).await
    }

    /// The server on its usual port, with more settings in its environment.
    pub(super) async fn serve_with(&self, env: &[(&str, &str)]) -> RunningBinary {
        RunningBinary::start_with(
            &self.db,
            self.port,
            &self.centrifugo_url,
            &self.dir.path().join("serve.log"),
            env,
        )
        .await
    }

    /// Where clients connect to Centrifugo.
    pub(super) fn ws_url(&self) -> &str {
        &self.ws_url
    }

    /// Stops Centrifugo and starts a new one on the same ports: its memory engine starts
    /// empty, so no history or stream position survives.
    pub(super) async fn restart_centrifugo(&mut self) {
        if let Some(old) = self.centrifugo.take() {
            old.stop().await;
        }
        self.centrifugo = Some(
            common::start_centrifugo(self.dir.path(), self.centrifugo_port, self.internal_port)
                .await,
        );
    }

    /// A second server on the same database and Centrifugo, as during a rolling deploy.
    pub(super) async fn serve_another(&self) -> RunningBinary {
        RunningBinary::start(
            &self.db,
            free_port(),
            &self.centrifugo_url,
            &self.dir.path().join("serve-2.log"),
        )
        .await
    }

    pub(super) fn backend(&self) -> Backend {
        Backend::new(&format!("http://127.0.0.1:{}", self.port), &self.api_key)
    }

    /// `n` rooms of two members each, and a sender lane for every member.
    pub(super) async fn rooms_and_lanes(&self, n: usize) -> (Vec<Room>, Vec<Lane>) {
        let backend = self.backend();
        let mut rooms = Vec::new();
        let mut lanes = Vec::new();
        for i in 0..n {
            let room = backend
                .create_room(
                    &format!("room-{i}"),
                    &format!("owner-{i}"),
                    &format!("guest-{i}"),
                )
                .await;
            for user in [&room.owner, &room.member] {
                lanes.push(Lane {
                    channel: room.id.clone(),
                    user: user.clone(),
                });
            }
            rooms.push(room);
        }
        (rooms, lanes)
    }
}
