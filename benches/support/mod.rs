//! What the end-to-end benches share: a real Centrifugo and the release `chatsdk serve`
//! as separate processes on free ports, a temp database, an app and key made with the CLI,
//! and small statistics helpers.
#![allow(dead_code)]

use chatsdk::centrifugo_process::find_binary;
use serde_json::{Value, json};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The service binary cargo built for this bench (release profile under `cargo bench`).
pub const CHATSDK_BIN: &str = env!("CARGO_BIN_EXE_chatsdk");

/// A child process killed when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Centrifugo (optional) and `chatsdk serve` running on a temp database.
pub struct Stack {
    pub base: String,
    pub ws_url: String,
    pub api_key: String,
    pub http: reqwest::Client,
    pub server: Process,
    pub centrifugo: Option<Process>,
    pub dir: tempfile::TempDir,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

fn secret() -> String {
    chatsdk::ids::random_bytes::<32>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Machine notes printed by every bench: cores, CPU, load, fd limit.
pub fn machine_notes() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    format!("{cores} cores, {cpu}, load average {load} at start")
}

/// The soft limit on open files (each WebSocket is one on each side).
pub fn fd_limit() -> String {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(str::to_string))
        })
        .unwrap_or_else(|| "unknown".into())
}

/// CPU time (user + system, all threads) a process has used so far, from
/// `/proc/<pid>/stat`: steadier than latency on a shared machine for telling two builds
/// apart. Resolution one clock tick (10 ms), so measure over many requests.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the `(comm)`, which may hold spaces: utime and stime are the 14th and
    // 15th of the line, the 12th and 13th after the comm.
    let after_comm = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after_comm
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    // Clock ticks per second: asked once per process.
    static HZ: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let hz = *HZ.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100)
    });
    Duration::from_micros(ticks * 1_000_000 / hz.max(1))
}

/// `VmRSS` and `VmHWM` of a process, in MiB.
pub fn rss(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
        .map(|l| {
            let mut parts = l.split_whitespace();
            let name = parts.next().unwrap_or_default();
            let kib: f64 = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
            format!("{name} {:.1} MiB", kib / 1024.0)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Stack {
    /// Starts the processes and waits until both answer `/health`.
    pub async fn start(with_centrifugo: bool) -> Stack {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let db = dir.path().join("chatsdk.db");
        let (token_secret, api_secret) = (secret(), secret());
        let (cf_port, cf_internal) = (free_port(), free_port());
        let centrifugo = with_centrifugo.then(|| {
            let binary = find_binary().unwrap_or_else(|| {
                panic!("Centrifugo v6.9.1 is missing: run .ci/run once or set CENTRIFUGO_BIN")
            });
            let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("centrifugo/config.json");
            let log = std::fs::File::create(dir.path().join("centrifugo.log"))
                .unwrap_or_else(|e| panic!("centrifugo log: {e}"));
            let child = Command::new(binary)
                .arg("-c")
                .arg(config)
                .args(["--http_server.port", &cf_port.to_string()])
                .args(["--http_server.internal_port", &cf_internal.to_string()])
                .env("CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY", &token_secret)
                .env("CENTRIFUGO_HTTP_API_KEY", &api_secret)
                // Centrifugo reads a `.env` from its working directory: keep it in the temp dir.
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap_or_else(|e| panic!("log: {e}")))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start Centrifugo: {e}"));
            Process(child)
        });
        let created = Command::new(CHATSDK_BIN)
            .args(["--json", "--database"])
            .arg(&db)
            .args(["app", "create", "--name", "bench"])
            .output()
            .unwrap_or_else(|e| panic!("chatsdk app create: {e}"));
        let created: Value = serde_json::from_slice(&created.stdout)
            .unwrap_or_else(|e| panic!("chatsdk app create printed no JSON: {e}"));
        let api_key = created["apiKey"]
            .as_str()
            .unwrap_or_else(|| panic!("chatsdk app create: no apiKey in {created}"))
            .to_string();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("chatsdk.log"))
            .unwrap_or_else(|e| panic!("chatsdk log: {e}"));
        let server = Command::new(CHATSDK_BIN)
            .arg("--database")
            .arg(&db)
            .arg("serve")
            .env("CHATSDK_ADDR", format!("127.0.0.1:{port}"))
            .env("CHATSDK_JWT_SECRET", secret())
            .env("CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY", &token_secret)
            .env("CENTRIFUGO_HTTP_API_KEY", &api_secret)
            .env("CENTRIFUGO_URL", format!("http://127.0.0.1:{cf_internal}"))
            .env(
                "CENTRIFUGO_WS_URL",
                format!("ws://127.0.0.1:{cf_port}/connection/websocket"),
            )
            .env("CHATSDK_RATE_LIMITS", "off")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap_or_else(|e| panic!("log: {e}")))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start chatsdk serve: {e}"));
        let stack = Stack {
            base: format!("http://127.0.0.1:{port}"),
            ws_url: format!("ws://127.0.0.1:{cf_port}/connection/websocket"),
            api_key,
            http: reqwest::Client::new(),
            server: Process(server),
            centrifugo,
            dir,
        };
        stack.wait_healthy(&format!("{}/health", stack.base)).await;
        if with_centrifugo {
            stack
                .wait_healthy(&format!("http://127.0.0.1:{cf_internal}/health"))
                .await;
        }
        stack
    }

    async fn wait_healthy(&self, url: &str) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if let Ok(r) = self.http.get(url).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{url} did not answer within 20 s; logs in {}",
            self.dir.path().display()
        );
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("chatsdk.db")
    }

    /// A backend call with the API key; panics on a non-2xx answer.
    pub async fn backend(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let res = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("X-API-Key", &self.api_key)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    /// `POST /tokens` for a user: `(REST token, wsToken)`.
    pub async fn tokens(&self, user_id: &str) -> (String, String) {
        let body = self
            .backend(
                reqwest::Method::POST,
                "/tokens",
                json!({"userId": user_id, "name": user_id}),
            )
            .await;
        let text = |k: &str| body[k].as_str().unwrap_or_default().to_string();
        (text("token"), text("wsToken"))
    }
}

/// Percentile of sorted durations (nearest rank below).
pub fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

pub fn ms(d: Duration) -> String {
    format!("{:.2}ms", d.as_secs_f64() * 1e3)
}
