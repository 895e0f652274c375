//! `chatsdk backup` through the real binary, beside a running server.

use crate::common::TestApp;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `chatsdk --json [--database DB] backup ARGS…` run in `cwd`.
fn backup(cwd: &Path, database: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chatsdk"))
        .current_dir(cwd)
        .arg("--json")
        .arg("--database")
        .arg(database)
        .arg("backup")
        .args(args)
        .env_remove("CHATSDK_DATABASE")
        .env_remove("RUST_LOG")
        .output()
        .expect("chatsdk runs")
}

fn error_of(out: &Output) -> Value {
    serde_json::from_slice::<Value>(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "one JSON object: {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })["error"]
        .clone()
}

/// Files in `dir` whose name holds `.partial-`: a copy left behind.
fn partial_copies(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".partial-"))
        .collect()
}

fn integrity(db: &Path) -> String {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

#[cfg(unix)]
#[actix_web::test]
async fn backup_refuses_the_live_database_and_its_files_under_any_name_even_with_force() {
    use std::os::unix::fs::MetadataExt;
    let app = TestApp::start().await;
    app.tokens_for("alice").await;
    let db = app.db_path();
    let dir = db.parent().unwrap().to_path_buf();
    std::fs::create_dir(dir.join("sub")).unwrap();
    std::os::unix::fs::symlink(&db, dir.join("link.db")).unwrap();
    std::fs::hard_link(&db, dir.join("hard.db")).unwrap();
    let inode = std::fs::metadata(&db).unwrap().ino();

    let by_name = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let mut attempts: Vec<(PathBuf, String)> = [
        db.to_str().unwrap().to_string(),
        "./chatsdk.db".into(),
        "sub/../chatsdk.db".into(),
        by_name("link.db"),
        by_name("hard.db"),
        by_name("chatsdk.db-wal"),
        by_name("chatsdk.db-shm"),
        // Not there now; SQLite creates it when it needs one.
        by_name("chatsdk.db-journal"),
    ]
    .into_iter()
    .map(|target| (db.clone(), target))
    .collect();
    // The database named through a symlink, the copy aimed at the real file.
    attempts.push((dir.join("link.db"), db.to_str().unwrap().to_string()));

    for (database, target) in &attempts {
        for force in [true, false] {
            let mut args = vec![target.as_str()];
            if force {
                args.push("--force");
            }

            let out = backup(&dir, database, &args);

            assert_eq!(out.status.code(), Some(1), "backup {args:?} must fail");
            let error = error_of(&out);
            assert_eq!(error["code"], "invalid_request", "{args:?}: {error}");
            let message = error["message"].as_str().unwrap();
            assert!(
                message.contains("-wal, -shm, -journal files: back up to another path"),
                "{args:?}: {message}"
            );
        }
    }

    assert_eq!(
        std::fs::metadata(&db).unwrap().ino(),
        inode,
        "the live database file was replaced"
    );
    assert!(!dir.join("chatsdk.db-journal").exists());
    assert_eq!(partial_copies(&dir), Vec::<PathBuf>::new());
    // The server keeps writing to an intact database, and what it wrote is there.
    app.tokens_for("bob").await;
    assert_eq!(integrity(&db), "ok");
    assert_eq!(app.count_users(), 2);
    let copy = dir.join("copy.db");
    let out = backup(&dir, &db, &["copy.db"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(integrity(&copy), "ok");
}

#[actix_web::test]
async fn a_backup_into_a_missing_folder_or_onto_a_folder_says_so_and_leaves_no_copy_behind() {
    let app = TestApp::start().await;
    let db = app.db_path();
    let dir = db.parent().unwrap().to_path_buf();
    let backups = dir.join("backups");
    std::fs::create_dir(&backups).unwrap();
    let listing = |d: &Path| {
        let mut names: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    };
    let before = listing(&dir);

    let missing = backup(&dir, &db, &["missing/b.db"]);
    let onto_folder: Vec<Output> = [&["backups"][..], &["backups", "--force"]]
        .iter()
        .map(|args| backup(&dir, &db, args))
        .collect();
    // The copy is made, then cannot take a name with a trailing slash (not a folder).
    let unrenamable = backup(&dir, &db, &["new.db/"]);

    assert_eq!(missing.status.code(), Some(1));
    let error = error_of(&missing);
    assert_eq!(error["code"], "not_found", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("no folder missing for the backup"),
        "{message}"
    );
    assert!(!message.contains("partial"), "{message}");
    for out in &onto_folder {
        assert_eq!(out.status.code(), Some(1));
        let error = error_of(out);
        assert_eq!(error["code"], "invalid_request", "{error}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("backups is a folder"), "{message}");
    }
    assert_eq!(unrenamable.status.code(), Some(1));
    assert_eq!(error_of(&unrenamable)["code"], "internal");
    assert_eq!(listing(&dir), before, "no copy or folder left behind");
    assert_eq!(listing(&backups), Vec::<std::ffi::OsString>::new());
}

/// SQLite pairs a file with the `-wal` beside it by name, without checking whose it is: a
/// copy renamed under an open database, or next to a gone one's log, would open as (or
/// take the later writes of) that other database.
#[actix_web::test]
async fn a_backup_is_never_paired_with_another_databases_log() {
    let app = TestApp::start().await;
    app.tokens_for("alice").await;
    let db = app.db_path();
    let dir = db.parent().unwrap().to_path_buf();
    let rows = |conn: &rusqlite::Connection, table: &str| -> i64 {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    };
    // Last night's backup, open in another process (a restore drill, say) with its latest
    // writes still in its WAL.
    let nightly = dir.join("nightly.db");
    let holder = rusqlite::Connection::open(&nightly).unwrap();
    holder
        .execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
             CREATE TABLE drill (n INTEGER); INSERT INTO drill VALUES (1);",
        )
        .unwrap();
    // The same database as a crash leaves it (file and WAL), and a log whose database is
    // gone. Copied by another process: closing any descriptor of a file drops every POSIX
    // lock this process holds on it, the holder's SQLite locks too.
    let copied = Command::new("sh")
        .current_dir(&dir)
        .arg("-c")
        .arg("cp nightly.db crashed.db && cp nightly.db-wal crashed.db-wal && cp nightly.db-wal reused.db-wal")
        .status()
        .unwrap();
    assert!(copied.success());

    let over_open = backup(&dir, &db, &["nightly.db", "--force"]);
    // Idle, its WAL emptied, as a server between checkpoints.
    holder
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    assert_eq!(
        std::fs::metadata(dir.join("nightly.db-wal")).unwrap().len(),
        0
    );
    let over_idle = backup(&dir, &db, &["nightly.db", "--force"]);
    let beside_log = backup(&dir, &db, &["reused.db"]);
    let over_crashed = backup(&dir, &db, &["crashed.db", "--force"]);

    for (out, says) in [
        (&over_open, "nightly.db is open in another process"),
        (&over_idle, "nightly.db is open in another process"),
        (
            &beside_log,
            "reused.db-wal is left from a database that is gone",
        ),
    ] {
        assert_eq!(out.status.code(), Some(1), "must refuse: {says}");
        let error = error_of(out);
        assert_eq!(error["code"], "invalid_request", "{error}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
    }
    assert!(!dir.join("reused.db").exists());
    assert_eq!(partial_copies(&dir), Vec::<PathBuf>::new());
    assert_eq!(
        rows(&holder, "drill"),
        1,
        "the open database was left as it was"
    );
    // A crashed database's own log is its own: it is finished and gone with it.
    assert!(
        over_crashed.status.success(),
        "{}",
        String::from_utf8_lossy(&over_crashed.stdout)
    );
    assert!(!dir.join("crashed.db-wal").exists());
    let crashed = rusqlite::Connection::open(dir.join("crashed.db")).unwrap();
    assert_eq!(rows(&crashed, "users"), 1, "the copy is the live database");

    // With the leftover log gone, the copy is the live database.
    std::fs::remove_file(dir.join("reused.db-wal")).unwrap();
    let out = backup(&dir, &db, &["reused.db"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let copy = rusqlite::Connection::open(dir.join("reused.db")).unwrap();
    assert_eq!(rows(&copy, "users"), 1);
}
