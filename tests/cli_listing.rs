//! `chatsdk app list` and `key list` through the real binary: what they show, and that
//! they read a database as it is, never migrating it (an older server may serve it).

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

/// The shipped migrations up to schema 7 (the schema of a build of commit 253873a…3a4777b).
const SCHEMA_7: [&str; 7] = [
    include_str!("../src/db/migrations/0001_apps_keys_users.sql"),
    include_str!("../src/db/migrations/0002_chat.sql"),
    include_str!("../src/db/migrations/0003_outbox_failed.sql"),
    include_str!("../src/db/migrations/0004_revocation.sql"),
    include_str!("../src/db/migrations/0005_member_pages.sql"),
    include_str!("../src/db/migrations/0006_member_count.sql"),
    include_str!("../src/db/migrations/0007_channel_purge.sql"),
];

/// A database an older build made: the first `version` migrations, one app and its key.
fn old_database(path: &Path, version: usize) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    for sql in &SCHEMA_7[..version] {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "user_version", version as i64)
        .unwrap();
    conn.execute_batch(
        "INSERT INTO apps (id, name, created_at) VALUES ('app_old', 'Old app', 1);
         INSERT INTO api_keys (id, app_id, name, key_hash, created_at)
             VALUES ('key_old', 'app_old', 'default', x'00', 1);",
    )
    .unwrap();
}

fn schema_of(path: &Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

fn chatsdk(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chatsdk"))
        .arg("--json")
        .arg("--database")
        .arg(db)
        .args(args)
        .env_remove("CHATSDK_DATABASE")
        .env_remove("RUST_LOG")
        .output()
        .expect("chatsdk runs")
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "one JSON object: {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn listing_an_older_database_reads_it_as_it_is_and_leaves_its_schema_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    old_database(&db, 7);

    let apps = chatsdk(&db, &["app", "list"]);
    let keys = chatsdk(&db, &["key", "list", "--app", "app_old"]);

    assert!(apps.status.success(), "{}", json_of(&apps));
    assert_eq!(json_of(&apps)["apps"][0]["name"], "Old app");
    assert!(keys.status.success(), "{}", json_of(&keys));
    assert_eq!(json_of(&keys)["keys"][0]["keyId"], "key_old");
    assert_eq!(schema_of(&db), 7, "a list command migrated the database");
    // A command that writes still upgrades it, as before.
    let created = chatsdk(&db, &["key", "create", "--app", "app_old"]);
    assert!(created.status.success(), "{}", json_of(&created));
    assert_eq!(schema_of(&db), chatsdk::db::SCHEMA_VERSION as i64);
}

#[test]
fn listing_a_database_too_old_to_read_says_to_upgrade_it_with_serve() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("older.db");
    old_database(&db, 3);
    // Schema 3 has no `expires_at` yet: the insert above named no such column.

    for args in [&["app", "list"][..], &["key", "list", "--app", "app_old"]] {
        let out = chatsdk(&db, args);

        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let error = &json_of(&out)["error"];
        assert_eq!(error["code"], "outdated_database", "{args:?}: {error}");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains("schema version 3")
                && message
                    .contains("run `chatsdk serve` to upgrade the database (take a backup first)"),
            "{message}"
        );
    }
    assert_eq!(schema_of(&db), 3);
}

/// An empty file (a mistyped path that exists) is no database to upgrade: `serve` there
/// would start a new one.
#[test]
fn listing_a_file_that_holds_no_database_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("empty.db");
    std::fs::write(&db, b"").unwrap();

    let out = chatsdk(&db, &["app", "list"]);

    assert_eq!(out.status.code(), Some(1));
    let error = &json_of(&out)["error"];
    assert_eq!(error["code"], "not_found", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("holds no ChatSDK database"),
        "{error}"
    );
    assert_eq!(
        std::fs::metadata(&db).unwrap().len(),
        0,
        "the file was written"
    );
}

#[test]
fn key_list_shows_a_rotated_key_whose_grace_is_over_as_expired() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chatsdk.db");
    let app = json_of(&chatsdk(&db, &["app", "create", "--name", "Acme"]));
    let app_id = app["appId"].as_str().unwrap();
    let ended = app["keyId"].as_str().unwrap();
    let rotated = json_of(&chatsdk(&db, &["key", "rotate", ended, "--grace", "0s"]));
    let in_grace = rotated["keyId"].as_str().unwrap();
    let rotated_again = json_of(&chatsdk(&db, &["key", "rotate", in_grace, "--grace", "1h"]));
    let current = rotated_again["keyId"].as_str().unwrap();
    let revoked = json_of(&chatsdk(&db, &["key", "create", "--app", app_id]));
    let revoked = revoked["keyId"].as_str().unwrap();
    assert!(chatsdk(&db, &["key", "revoke", revoked]).status.success());

    let listed = json_of(&chatsdk(&db, &["key", "list", "--app", app_id]));
    let text = Command::new(env!("CARGO_BIN_EXE_chatsdk"))
        .arg("--database")
        .arg(&db)
        .args(["key", "list", "--app", app_id])
        .env_remove("CHATSDK_DATABASE")
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();

    let status_of = |id: &str| {
        listed["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["keyId"] == id)
            .unwrap_or_else(|| panic!("{id} not listed: {listed}"))["status"]
            .clone()
    };
    assert_eq!(status_of(ended), "expired");
    assert_eq!(status_of(in_grace), "expiring");
    assert_eq!(status_of(current), "active");
    assert_eq!(status_of(revoked), "revoked");
    let line_of = |id: &str| {
        text.lines()
            .find(|l| l.starts_with(id))
            .unwrap()
            .to_string()
    };
    assert!(
        line_of(ended).ends_with(&format!(
            "EXPIRED {}",
            listed["keys"][0]["expiresAt"].as_str().unwrap()
        )),
        "{text}"
    );
    assert!(line_of(in_grace).contains("  expires "), "{text}");
    assert!(line_of(current).ends_with("  active"), "{text}");
    assert!(line_of(revoked).contains("  REVOKED "), "{text}");
}

#[test]
fn a_blank_app_or_key_name_is_refused_and_nothing_is_listed_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chatsdk.db");
    let app = json_of(&chatsdk(&db, &["app", "create", "--name", "Acme"]));
    let app_id = app["appId"].as_str().unwrap();

    for args in [
        &["app", "create", "--name", "   "][..],
        &["app", "create", "--name", "\u{2003}"],
        &["key", "create", "--app", app_id, "--name", "  "],
    ] {
        let out = chatsdk(&db, args);

        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let error = &json_of(&out)["error"];
        assert_eq!(error["code"], "invalid_request", "{args:?}: {error}");
        assert_eq!(error["message"], "`name` must not be blank", "{args:?}");
    }
    let apps = json_of(&chatsdk(&db, &["app", "list"]));
    assert_eq!(apps["apps"].as_array().unwrap().len(), 1, "{apps}");
    let keys = json_of(&chatsdk(&db, &["key", "list", "--app", app_id]));
    assert_eq!(keys["keys"].as_array().unwrap().len(), 1, "{keys}");
}
