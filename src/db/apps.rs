//! Apps: one per customer application; every user and key belongs to one.

use super::{DbResult, keys, now_ms};
use crate::auth::api_key::ApiKeyHash;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct App {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

pub fn insert(conn: &Connection, id: &str, name: &str) -> DbResult<App> {
    let created_at = now_ms();
    conn.prepare_cached("INSERT INTO apps (id, name, created_at) VALUES (?1, ?2, ?3)")?
        .execute(params![id, name, created_at])?;
    Ok(App {
        id: id.into(),
        name: name.into(),
        created_at,
    })
}

pub fn list(conn: &Connection) -> DbResult<Vec<App>> {
    let mut stmt =
        conn.prepare_cached("SELECT id, name, created_at FROM apps ORDER BY created_at, id")?;
    let rows = stmt.query_map([], |r| {
        Ok(App {
            id: r.get(0)?,
            name: r.get(1)?,
            created_at: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Creates app `app_id` with its first API key.
pub fn insert_with_key(
    conn: &Connection,
    app_id: &str,
    name: &str,
    key_id: &str,
    key_name: &str,
    hash: &ApiKeyHash,
) -> DbResult<()> {
    insert(conn, app_id, name)?;
    keys::insert(conn, key_id, app_id, Some(key_name), hash)?;
    Ok(())
}

/// How many apps there are: `/ready`'s proof that the database answers.
pub fn count(conn: &Connection) -> DbResult<i64> {
    Ok(conn.query_row("SELECT count(*) FROM apps", [], |r| r.get::<_, i64>(0))?)
}

pub fn exists(conn: &Connection, id: &str) -> DbResult<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM apps WHERE id = ?1")?
        .query_row([id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Creates the app `id` unless it exists; true when it was created. Runs on its own
/// connection, for start-up work done before the server takes requests.
pub fn ensure_at(path: &std::path::Path, id: &str, name: &str) -> DbResult<bool> {
    let conn = super::open_connection(path)?;
    let created = conn
        .prepare_cached("INSERT OR IGNORE INTO apps (id, name, created_at) VALUES (?1, ?2, ?3)")?
        .execute(params![id, name, now_ms()])?;
    Ok(created == 1)
}
