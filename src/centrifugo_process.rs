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
    /// Browser origins to accept, space-separated, beside those it already would (see
    /// `inherited_origins`); `None` leaves those alone.
    pub allowed_origins: Option<String>,
}

/// Centrifugo's variable for `client.allowed_origins`: space-separated, and when set it
/// replaces the config file's list.
pub const ALLOWED_ORIGINS_VAR: &str = "CENTRIFUGO_CLIENT_ALLOWED_ORIGINS";

/// A running Centrifugo; killed when dropped.
pub struct CentrifugoProcess {
    child: Child,
    pub internal_url: String,
    pub ws_url: String,
    /// The browser origins it accepts (an empty list: none).
    pub allowed_origins: Vec<String>,
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
        let env = std::env::var(ALLOWED_ORIGINS_VAR).ok();
        let mut allowed_origins = inherited_origins(env.as_deref(), &opts.config);
        if let Some(extra) = &opts.allowed_origins {
            // Setting the variable replaces what the user set there or in the file, so
            // the child gets the union (a user's own frontend and `dev --demo`'s page).
            allowed_origins = merge_origins(allowed_origins, extra);
            cmd.env(ALLOWED_ORIGINS_VAR, allowed_origins.join(" "));
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
        let host = match opts.address.as_deref() {
            None => "127.0.0.1".to_string(),
            Some(ip) if ip.contains(':') => format!("[{ip}]"),
            Some(host) => host.to_string(),
        };
        let (file_port, file_internal) = config_ports(&opts.config);
        let port = opts.port.unwrap_or(file_port);
        let internal = opts.internal_port.unwrap_or(file_internal);
        let mut process = Self {
            child,
            internal_url: format!("http://{host}:{internal}"),
            ws_url: format!("ws://{host}:{port}/connection/websocket"),
            allowed_origins,
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

    /// Resolves when the server exits by itself, with how it ended. Cancel-safe: a caller
    /// that stops waiting can still `stop` it.
    pub async fn exited(&mut self) -> String {
        match self.child.wait().await {
            Ok(status) => status.to_string(),
            Err(e) => format!("cannot wait for it: {e}"),
        }
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Stops the server and waits for it to exit.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// The WebSocket and internal ports a Centrifugo config file sets (Centrifugo's defaults
/// when absent: 8000, and the internal port falls back to the main one).
fn config_ports(config: &Path) -> (u16, u16) {
    let json = read_config(config);
    let read = |key: &str| match &json["http_server"][key] {
        serde_json::Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    };
    let port = read("port").unwrap_or(8000);
    (port, read("internal_port").unwrap_or(port))
}

/// The origins Centrifugo accepts from its environment and config: the variable's when it
/// is set (`env`, its value), else the config file's `client.allowed_origins`.
fn inherited_origins(env: Option<&str>, config: &Path) -> Vec<String> {
    // A blank variable counts as unset: a merge then keeps the file's list, the side that
    // refuses no page the user meant to allow.
    if let Some(value) = env.filter(|v| !v.trim().is_empty()) {
        return merge_origins(Vec::new(), value);
    }
    let listed = read_config(config)["client"]["allowed_origins"].clone();
    let listed: Vec<String> = serde_json::from_value(listed).unwrap_or_default();
    merge_origins(Vec::new(), &listed.join(" "))
}

/// `first`, then each space-separated origin of `more` it does not hold yet.
fn merge_origins(mut first: Vec<String>, more: &str) -> Vec<String> {
    for origin in more.split_whitespace() {
        if !first.iter().any(|o| o == origin) {
            first.push(origin.to_string());
        }
    }
    first
}

/// The config file as JSON (`null` when unreadable: Centrifugo itself reports that).
fn read_config(config: &Path) -> serde_json::Value {
    std::fs::read(config)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
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
fn cache_dir() -> PathBuf {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn merged_origins_keep_the_users_first_and_drop_duplicates() {
        let user = strings(&["http://localhost:3000", "http://localhost:8080"]);

        let merged = merge_origins(user, " http://localhost:8080  http://127.0.0.1:8080 ");

        assert_eq!(
            merged,
            strings(&[
                "http://localhost:3000",
                "http://localhost:8080",
                "http://127.0.0.1:8080"
            ])
        );
    }

    #[test]
    fn the_variable_wins_over_the_config_file_and_a_blank_one_is_unset() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.json");
        std::fs::write(
            &config,
            r#"{"client":{"allowed_origins":["https://app.example","https://app.example"]}}"#,
        )
        .unwrap();

        assert_eq!(
            inherited_origins(Some("http://localhost:3000 http://a.test"), &config),
            strings(&["http://localhost:3000", "http://a.test"])
        );
        for unset in [None, Some(""), Some("  ")] {
            assert_eq!(
                inherited_origins(unset, &config),
                strings(&["https://app.example"]),
                "{unset:?}"
            );
        }
        assert!(inherited_origins(None, &dir.path().join("missing.json")).is_empty());
    }
}
