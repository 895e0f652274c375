//! `chatsdk doctor`: checks a deployment in order — configuration, database, Centrifugo's
//! API, a real WebSocket connect with a fresh wsToken — and says what to fix.
//!
//! Every check runs even when an earlier one failed (with whatever settings exist), so one
//! run shows every problem. Each network step has a short timeout; no secret is printed.

mod centrifugo_api;
mod database;
mod websocket;

use crate::config::{MAX_TOKEN_TTL_SECS, ServeArgs};
use serde::Serialize;
use std::path::PathBuf;

/// The first step of every "Centrifugo is not there" fix.
const START_CENTRIFUGO: &str = "is Centrifugo running? Start it with `centrifugo -c centrifugo/config.json` (or `chatsdk dev`)";

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Works, but something deserves attention; does not fail the run.
    Warn,
    Fail,
    /// Could not run because a setting it needs is missing (reported by `configuration`).
    Skipped,
}

impl Status {
    fn mark(self) -> &'static str {
        match self {
            Status::Ok => "[✓]",
            Status::Warn => "[!]",
            Status::Fail => "[✗]",
            Status::Skipped => "[-]",
        }
    }
}

/// One line of the report, with details and a fix when something is wrong.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn new(name: &'static str, status: Status, message: impl Into<String>) -> Self {
        Self {
            name,
            status,
            message: message.into(),
            details: Vec::new(),
            fix: None,
        }
    }

    fn ok(name: &'static str, message: impl Into<String>) -> Self {
        Self::new(name, Status::Ok, message)
    }

    fn warn(name: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(name, Status::Warn, message).with_fix(fix)
    }

    fn fail(name: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(name, Status::Fail, message).with_fix(fix)
    }

    fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// The whole run: its checks in order and the URL clients connect to.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub ok: bool,
    pub ws_url: String,
    pub checks: Vec<Check>,
}

impl Report {
    /// One JSON object, keys in the struct's order (`ok`, `wsUrl`, `checks`).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("plain structs serialize")
    }

    /// One line per check, details and fix indented below it, a verdict at the end.
    pub fn to_human(&self) -> String {
        let mut out = String::new();
        for check in &self.checks {
            out.push_str(&format!(
                "{} {}: {}\n",
                check.status.mark(),
                check.name,
                check.message
            ));
            for detail in &check.details {
                out.push_str(&format!("      - {detail}\n"));
            }
            if let Some(fix) = &check.fix {
                out.push_str(&format!("      fix: {fix}\n"));
            }
        }
        let failed = self.count(Status::Fail);
        let warned = self.count(Status::Warn);
        out.push('\n');
        out.push_str(&match (failed, warned) {
            (0, 0) => "All checks passed.".to_string(),
            (0, w) => format!("All checks passed ({w} warning{}).", plural(w)),
            (f, _) => format!(
                "{f} check{} failed: fix {} and run `chatsdk doctor` again.",
                plural(f),
                if f == 1 { "it" } else { "them" }
            ),
        });
        out
    }

    fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Runs every check with the settings `chatsdk serve` would use.
pub async fn run(args: ServeArgs, database: PathBuf) -> Report {
    let mut checks = vec![configuration(&args, &database)];
    checks.push(database::check(database).await);
    let api_key = args.centrifugo_api_key.clone().filter(|k| !k.is_empty());
    checks.push(centrifugo_api::check_api(&args.centrifugo_url.trim_end_slashes(), api_key).await);
    let ws_ttl = args
        .ws_token_ttl_or_default()
        // An invalid TTL is reported by `configuration`; the probe still needs a sane one.
        .clamp(60, MAX_TOKEN_TTL_SECS);
    let token_secret = args
        .centrifugo_token_secret
        .clone()
        .filter(|s| !s.is_empty());
    checks.push(websocket::check_websocket(&args.centrifugo_ws_url, token_secret, ws_ttl).await);
    checks
        .extend(websocket::check_origins(&args.centrifugo_ws_url, &args.client.cors_origins).await);
    checks.push(websocket::client_url(&args.centrifugo_ws_url, args.addr));
    Report {
        ok: checks.iter().all(|c| c.status != Status::Fail),
        ws_url: args.centrifugo_ws_url.to_string(),
        checks,
    }
}

/// The same validation as `serve`: every problem listed.
fn configuration(args: &ServeArgs, database: &std::path::Path) -> Check {
    const NAME: &str = "configuration";
    match args.clone().validate(database.to_path_buf()) {
        Ok(config) => Check::ok(
            NAME,
            format!(
                "valid (listens on {}, database {})",
                config.addr,
                config.database.display()
            ),
        ),
        Err(e) => {
            let n = e.problems.len();
            let mut check = Check::fail(
                NAME,
                format!("{n} problem{} (as `chatsdk serve` would report)", plural(n)),
                "set these variables (or flags) the same way for `chatsdk serve` and `chatsdk doctor`",
            );
            check.details = e.problems;
            check
        }
    }
}
