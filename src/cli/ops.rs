//! `chatsdk backup` and `chatsdk healthcheck`: operations on a database or a running service.

use super::{CliError, HealthcheckArgs, Output, invalid};
use crate::db::Db;
use crate::ids;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

/// Copies the live database to `target` (through a temp file, renamed when complete).
pub async fn backup(database: PathBuf, target: PathBuf, force: bool) -> Result<Output, CliError> {
    if !database.is_file() {
        return Err(CliError {
            code: "not_found",
            message: format!("no database at {}", database.display()),
        });
    }
    if target.exists() && !force {
        return Err(invalid(format!(
            "{} exists: choose a new path or pass --force",
            target.display()
        )));
    }
    let tmp = target.with_extension(format!("partial-{}", ids::new_token_id()));
    let (t, d) = (tmp.clone(), database.clone());
    let pages = tokio::task::spawn_blocking(move || Db::backup(&d, &t))
        .await
        .map_err(|e| CliError {
            code: "internal",
            message: e.to_string(),
        })?
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })?;
    std::fs::rename(&tmp, &target).map_err(|e| CliError {
        code: "internal",
        message: format!("cannot move the copy to {}: {e}", target.display()),
    })?;
    let bytes = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
    Ok(Output {
        json: json!({"path": target, "pages": pages, "bytes": bytes}),
        human: format!(
            "Backed up {} to {} ({bytes} bytes).",
            database.display(),
            target.display()
        ),
    })
}

/// Asks a running service for `/health`; wildcard listen addresses are reached on loopback.
pub async fn healthcheck(args: HealthcheckArgs) -> Result<Output, CliError> {
    let mut addr = args.addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let url = format!("http://{addr}/health");
    let unhealthy = |message: String| CliError {
        code: "unhealthy",
        message,
    };
    let response = reqwest::Client::new()
        .get(&url)
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .map_err(|e| unhealthy(format!("{url} did not answer: {e}")))?;
    if !response.status().is_success() {
        return Err(unhealthy(format!("{url} answered {}", response.status())));
    }
    Ok(Output {
        json: json!({"status": "ok", "url": url}),
        human: format!("ok: {url}"),
    })
}
