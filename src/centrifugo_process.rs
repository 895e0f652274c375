//! Runs a stock Centrifugo server from the checked-in `centrifugo/config.json`.
//!
//! `chatsdk dev` and the test harness both start Centrifugo through this one function,
//! passing only ports and secrets, so both prove the config file users run.

use crate::secret::Secret;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// The one Centrifugo version ChatSDK is built and tested against (also in compose and README).
pub const CENTRIFUGO_VERSION: &str = "v6.9.1";
pub const CENTRIFUGO_MODULE: &str = "github.com/centrifugal/centrifugo/v6";

/// How to start Centrifugo.
#[derive(Debug, Clone)]
pub struct CentrifugoOptions {
    pub binary: PathBuf,
    pub config: PathBuf,
    /// Overrides of the config's ports and addresses; `None` keeps the file's value.
    pub port: Option<u16>,
    pub internal_port: Option<u16>,
    pub address: Option<String>,
    pub token_secret: Secret,
    pub api_key: Secret,
    /// Working directory; Centrifugo auto-loads a `.env` found there.
    pub workdir: PathBuf,
    /// Where its log goes; inherited when `None`.
    pub log_file: Option<PathBuf>,
    /// Browser origins it accepts, space-separated (`CENTRIFUGO_CLIENT_ALLOWED_ORIGINS`);
    /// `None` keeps the config file's.
    pub allowed_origins: Option<String>,
}

/// A running Centrifugo; killed when dropped.
pub struct CentrifugoProcess {
    child: Child,
    pub internal_url: String,
    pub ws_url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CentrifugoProcessError {
    #[error("cannot start {binary}: {source}")]
    Spawn {
        binary: String,
        source: std::io::Error,
    },
    #[error("Centrifugo exited early ({0}); see its log")]
    Exited(String),
    #[error("Centrifugo did not answer {0} within {1:?}")]
    NotHealthy(String, Duration),
    #[error("cannot install Centrifugo: {0}")]
    Install(String),
}

impl CentrifugoProcess {
    /// Starts Centrifugo and waits until its `/health` answers.
    pub async fn start(opts: &CentrifugoOptions) -> Result<Self, CentrifugoProcessError> {
        let mut cmd = Command::new(&opts.binary);
        cmd.arg("-c").arg(&opts.config);
        if let Some(p) = opts.port {
            cmd.arg("--http_server.port").arg(p.to_string());
        }
        if let Some(p) = opts.internal_port {
            cmd.arg("--http_server.internal_port").arg(p.to_string());
        }
        if let Some(a) = &opts.address {
            cmd.arg("--http_server.address").arg(a);
            cmd.arg("--http_server.internal_address").arg(a);
        }
        cmd.env(
            "CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY",
            opts.token_secret.expose(),
        )
        .env("CENTRIFUGO_HTTP_API_KEY", opts.api_key.expose())
        .current_dir(&opts.workdir)
        .stdin(Stdio::null())
        .kill_on_drop(true);
        if let Some(origins) = &opts.allowed_origins {
            cmd.env("CENTRIFUGO_CLIENT_ALLOWED_ORIGINS", origins);
        }
        match &opts.log_file {
            Some(path) => {
                let log = std::fs::File::create(path).map_err(|source| {
                    CentrifugoProcessError::Spawn {
                        binary: opts.binary.display().to_string(),
                        source,
                    }
                })?;
                let log2 = log
                    .try_clone()
                    .map_err(|source| CentrifugoProcessError::Spawn {
                        binary: opts.binary.display().to_string(),
                        source,
                    })?;
                cmd.stdout(log).stderr(log2);
            }
            None => {
                cmd.stdout(Stdio::inherit()).stderr(Stdio::inherit());
            }
        }
        let child = cmd
            .spawn()
            .map_err(|source| CentrifugoProcessError::Spawn {
                binary: opts.binary.display().to_string(),
                source,
            })?;
        let host = opts.address.clone().unwrap_or_else(|| "127.0.0.1".into());
        let (file_port, file_internal) = config_ports(&opts.config);
        let port = opts.port.unwrap_or(file_port);
        let internal = opts.internal_port.unwrap_or(file_internal);
        let mut process = Self {
            child,
            internal_url: format!("http://{host}:{internal}"),
            ws_url: format!("ws://{host}:{port}/connection/websocket"),
        };
        process.wait_healthy(Duration::from_secs(20)).await?;
        Ok(process)
    }

    async fn wait_healthy(&mut self, limit: Duration) -> Result<(), CentrifugoProcessError> {
        let url = format!("{}/health", self.internal_url);
        let client = reqwest::Client::new();
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(CentrifugoProcessError::Exited(status.to_string()));
            }
            if let Ok(r) = client
                .get(&url)
                .timeout(Duration::from_millis(500))
                .send()
                .await
            {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(CentrifugoProcessError::NotHealthy(url, limit))
    }

    /// Stops the server and waits for it to exit.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// The WebSocket and internal ports a Centrifugo config file sets (Centrifugo's defaults
/// when absent: 8000, and the internal port falls back to the main one).
pub fn config_ports(config: &Path) -> (u16, u16) {
    let json: serde_json::Value = std::fs::read(config)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let read = |key: &str| match &json["http_server"][key] {
        serde_json::Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    };
    let port = read("port").unwrap_or(8000);
    (port, read("internal_port").unwrap_or(port))
}

/// Finds a Centrifugo binary: `CENTRIFUGO_BIN`, then `PATH`, then ChatSDK's cache.
pub fn find_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CENTRIFUGO_BIN") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("centrifugo");
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let cached = cache_dir().join("centrifugo");
    cached.is_file().then_some(cached)
}

/// ChatSDK's cache folder: `$XDG_CACHE_HOME/chatsdk` (default `~/.cache/chatsdk`).
pub fn cache_root() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"))
        .join("chatsdk")
}

/// Where `install` puts the binary: `<cache root>/centrifugo-<version>/`.
pub fn cache_dir() -> PathBuf {
    cache_root().join(format!("centrifugo-{CENTRIFUGO_VERSION}"))
}

/// Builds the pinned Centrifugo with `go install` into the cache directory.
pub fn install() -> Result<PathBuf, CentrifugoProcessError> {
    let dir = cache_dir();
    let version = CENTRIFUGO_VERSION.trim_start_matches('v');
    eprintln!(
        "installing Centrifugo {CENTRIFUGO_VERSION} with `go install` into {} (a few minutes, once)...",
        dir.display()
    );
    let status = std::process::Command::new("go")
        .args([
            "install",
            "-ldflags",
            &format!("-X {CENTRIFUGO_MODULE}/internal/build.Version={version}"),
            &format!("{CENTRIFUGO_MODULE}@{CENTRIFUGO_VERSION}"),
        ])
        .env("GOBIN", &dir)
        .env("CGO_ENABLED", "0")
        .status()
        .map_err(|e| {
            CentrifugoProcessError::Install(format!(
                "cannot run `go` ({e}); install Go 1.26+ or set CENTRIFUGO_BIN"
            ))
        })?;
    if !status.success() {
        return Err(CentrifugoProcessError::Install(format!(
            "`go install` failed ({status})"
        )));
    }
    Ok(dir.join("centrifugo"))
}
