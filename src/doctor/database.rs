//! The database check: the file opens, its schema is this build's, it is writable, and
//! there is an app with a working key. Read-only apart from a lock taken and released:
//! the doctor never migrates or creates the database.

use super::Check;
use crate::db::{DbError, SCHEMA_VERSION, apps, keys, now_ms};
use rusqlite::{Connection, ErrorCode, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

const NAME: &str = "database";
/// Long enough for a running server's writer to finish a batch, short enough to stay quick.
const LOCK_WAIT: Duration = Duration::from_secs(2);

pub async fn check(path: PathBuf) -> Check {
    let shown = path.display().to_string();
    tokio::task::spawn_blocking(move || inspect(&path))
        .await
        .unwrap_or_else(|e| {
            Check::fail(
                NAME,
                format!("{shown}: the check failed: {e}"),
                "report this bug",
            )
        })
}

fn inspect(path: &Path) -> Check {
    let shown = path.display();
    if !path.exists() {
        return missing(path);
    }
    let conn = match Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    ) {
        Ok(c) => c,
        Err(e) => {
            return Check::fail(
                NAME,
                format!("cannot open {shown}: {e}"),
                "check the path in CHATSDK_DATABASE (or --database) and the file's permissions",
            );
        }
    };
    let _ = conn.busy_timeout(LOCK_WAIT);
    let version = match conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)) {
        Ok(v) => v as usize,
        Err(e) => {
            return Check::fail(
                NAME,
                format!("{shown} is not a readable SQLite database: {e}"),
                "point CHATSDK_DATABASE at ChatSDK's database file, or restore it from a backup",
            );
        }
    };
    if version > SCHEMA_VERSION {
        return Check::fail(
            NAME,
            format!(
                "{shown} has schema version {version}, newer than this chatsdk knows ({SCHEMA_VERSION})"
            ),
            "run the chatsdk version that last served this database, or a newer one",
        );
    }
    if let Some(problem) = not_writable(&conn) {
        return Check::fail(
            NAME,
            format!("{shown} is not writable: {problem}"),
            "give the service's user write access to the file and its folder (SQLite writes -wal and -shm files beside it)",
        );
    }
    if version < SCHEMA_VERSION {
        return Check::warn(
            NAME,
            format!(
                "{shown} is writable, schema version {version} of {SCHEMA_VERSION}: older than this chatsdk"
            ),
            "`chatsdk serve` applies the missing migrations when it starts (take a `chatsdk backup` first)",
        );
    }
    match count_apps_and_keys(&conn) {
        Ok((0, _)) => Check::warn(
            NAME,
            format!("{shown} is current (schema {version}) and writable, but has no app yet"),
            "create one with `chatsdk app create --name NAME`; it prints the API key your backend uses",
        ),
        Ok((apps, 0)) => Check::warn(
            NAME,
            format!(
                "{shown} is current (schema {version}) and writable, {apps} app{}, but no working API key",
                super::plural(apps)
            ),
            "create one with `chatsdk key create --app APP_ID` (`chatsdk app list` shows the ids)",
        ),
        Ok((apps, live)) => Check::ok(
            NAME,
            format!(
                "{shown} is current (schema {version}) and writable; {apps} app{}, {live} working API key{}",
                super::plural(apps),
                super::plural(live)
            ),
        ),
        Err(e) => Check::fail(
            NAME,
            format!("cannot read {shown}: {e}"),
            "restore the database from a backup (`chatsdk backup` makes one)",
        ),
    }
}

/// Takes the write lock and lets it go; `None` when writing would work.
fn not_writable(conn: &Connection) -> Option<String> {
    if conn.is_readonly("main").unwrap_or(false) {
        return Some("SQLite opened it read-only (file or folder permissions)".into());
    }
    match conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;") {
        Ok(()) => None,
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => Some(format!(
            "another process held the write lock for over {LOCK_WAIT:?}"
        )),
        Err(e) => Some(e.to_string()),
    }
}

fn count_apps_and_keys(conn: &Connection) -> Result<(usize, usize), DbError> {
    let apps = apps::list(conn)?.len();
    let live = keys::count_live(conn, now_ms())?;
    Ok((apps, live.max(0) as usize))
}

/// No file yet: fine if its folder takes new files (serve and `app create` make it).
fn missing(path: &Path) -> Check {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Check::fail(
            NAME,
            format!(
                "no database at {}, and its folder {} does not exist",
                path.display(),
                dir.display()
            ),
            "create the folder, or point CHATSDK_DATABASE (or --database) at the database file",
        );
    }
    let probe = dir.join(format!(
        ".chatsdk-doctor-{}",
        crate::ids::hex(&crate::ids::random_bytes::<8>())
    ));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Check::warn(
                NAME,
                format!(
                    "no database at {} yet (its folder is writable)",
                    path.display()
                ),
                "`chatsdk app create --name NAME` creates it with your first app; check CHATSDK_DATABASE if you expected one there",
            )
        }
        Err(e) => Check::fail(
            NAME,
            format!(
                "no database at {}, and its folder {} takes no new files: {e}",
                path.display(),
                dir.display()
            ),
            "give the service's user write access to the folder, or point CHATSDK_DATABASE elsewhere",
        ),
    }
}
