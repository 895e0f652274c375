//! `chatsdk backup` and `chatsdk healthcheck`: operations on a database or a running service.

use super::{CliError, HealthcheckArgs, Output, invalid};
use crate::db::{self, Db};
use crate::ids;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The files SQLite keeps for a database: the file itself, then its suffixed companions.
const DATABASE_FILE_SUFFIXES: [&str; 4] = ["", "-wal", "-shm", "-journal"];

/// Copies the live database to `target` (through a temp file, renamed when complete).
pub async fn backup(database: PathBuf, target: PathBuf, force: bool) -> Result<Output, CliError> {
    if !database.is_file() {
        return Err(CliError {
            code: "not_found",
            message: format!("no database at {}", database.display()),
        });
    }
    // The copy would be renamed over the live file under the running server, whose next
    // writes then corrupt it. Checked before `--force`, which must not allow it either.
    if is_database_file(&database, &target) {
        return Err(invalid(format!(
            "{} is the database {} or one of its -wal, -shm, -journal files: back up to \
             another path (a copy put there would replace the live database under the server)",
            target.display(),
            database.display()
        )));
    }
    let folder = folder_of(&target);
    if !folder.is_dir() {
        return Err(CliError {
            code: "not_found",
            message: format!(
                "no folder {} for the backup: create it first, or choose another path",
                folder.display()
            ),
        });
    }
    if target.is_dir() {
        return Err(invalid(format!(
            "{} is a folder: name the backup file, e.g. {}",
            target.display(),
            target.join("chatsdk-backup.db").display()
        )));
    }
    if target.exists() && !force {
        return Err(invalid(format!(
            "{} exists: choose a new path or pass --force",
            target.display()
        )));
    }
    // A copy renamed under a process that has the file open would pair with its -wal and
    // -shm, which go by name: its next writes would land in the copy's log.
    let probed = target.clone();
    let open_elsewhere = tokio::task::spawn_blocking(move || db::check_not_open_elsewhere(&probed))
        .await
        .map_err(|e| CliError {
            code: "internal",
            message: format!("cannot check {}: {e}", target.display()),
        })?;
    if let Err(why) = open_elsewhere {
        return Err(invalid(format!(
            "{} {why}: stop it first, or choose another path",
            target.display()
        )));
    }
    if let Some(log) = leftover_log(&target) {
        return Err(invalid(format!(
            "{} is left from a database that is gone, and SQLite would replay it into the \
             copy: remove it (and any {}-shm), or choose another path",
            log.display(),
            target.display()
        )));
    }
    let partial = Partial::create(&target)?;
    let (t, d) = (partial.path.clone(), database.clone());
    let copied = tokio::task::spawn_blocking(move || Db::backup(&d, &t))
        .await
        .map_err(|e| e.to_string())
        .and_then(|copied| copied.map_err(|e| e.to_string()));
    let pages = copied.map_err(|e| CliError {
        code: "internal",
        message: format!(
            "cannot copy {} to {}: {e}",
            database.display(),
            target.display()
        ),
    })?;
    partial.finish_as(&target)?;
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

/// The copy while it is made, beside its target: a full copy of the data, so it is
/// removed unless it becomes the target (on any error, and if the command is killed
/// between the two only this uniquely named file is left).
struct Partial {
    path: PathBuf,
    done: bool,
}

impl Partial {
    /// Creates the file, private to its owner like the database.
    fn create(target: &Path) -> Result<Partial, CliError> {
        let path = target.with_extension(format!("partial-{}", ids::new_token_id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&path).map_err(|e| CliError {
            code: "internal",
            message: format!("cannot write the backup {}: {e}", target.display()),
        })?;
        Ok(Partial { path, done: false })
    }

    /// Renames the finished copy to `target`.
    fn finish_as(mut self, target: &Path) -> Result<(), CliError> {
        std::fs::rename(&self.path, target).map_err(|e| CliError {
            code: "internal",
            message: format!("cannot move the copy to {}: {e}", target.display()),
        })?;
        self.done = true;
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        for suffix in DATABASE_FILE_SUFFIXES {
            let mut name = self.path.clone().into_os_string();
            name.push(suffix);
            let _ = std::fs::remove_file(name);
        }
    }
}

/// Whether `target` is `database` or a file SQLite keeps beside it, under any name: by
/// device and inode when it exists (through symlinks and hard links), else by its
/// resolved path (`./x.db`, `dir/../x.db`, a symlinked folder), since a `-wal` or
/// `-journal` file that is not there now may be created at any moment.
fn is_database_file(database: &Path, target: &Path) -> bool {
    let named = [
        Some(database.to_path_buf()),
        std::fs::canonicalize(database).ok(),
    ];
    let own_files: Vec<PathBuf> = named
        .into_iter()
        .flatten()
        .flat_map(|db| {
            DATABASE_FILE_SUFFIXES.map(|suffix| {
                let mut name = db.clone().into_os_string();
                name.push(suffix);
                PathBuf::from(name)
            })
        })
        .collect();
    if let Ok(t) = std::fs::metadata(target) {
        let same = |f: &PathBuf| std::fs::metadata(f).is_ok_and(|m| same_file(&m, &t));
        if own_files.iter().any(same) {
            return true;
        }
    }
    resolved(target).is_some_and(|t| own_files.iter().any(|f| resolved(f).as_ref() == Some(&t)))
}

/// A `-wal` or `-journal` file beside `target` that holds something. SQLite does not
/// check that a log belongs to the file it sits beside: whoever next opened the copy
/// would replay it (a WAL from another database replaces the copy's tables, and
/// `integrity_check` still says ok). Called after `check_not_open_elsewhere`, which has
/// merged and removed the logs of a database that is there; an empty log replays nothing.
fn leftover_log(target: &Path) -> Option<PathBuf> {
    ["-wal", "-journal"].into_iter().find_map(|suffix| {
        let mut name = target.to_path_buf().into_os_string();
        name.push(suffix);
        let log = PathBuf::from(name);
        log.symlink_metadata()
            .is_ok_and(|m| m.len() > 0)
            .then_some(log)
    })
}

/// `path` with every symlink and `..` resolved; for a file that does not exist, its
/// folder's resolved path and its name.
fn resolved(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = std::fs::canonicalize(path) {
        return Some(p);
    }
    let folder = folder_of(path);
    Some(std::fs::canonicalize(folder).ok()?.join(path.file_name()?))
}

/// The folder a file path names its file in (`.` for a bare name).
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    false
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
