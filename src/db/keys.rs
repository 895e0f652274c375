//! API keys: only a hash is stored; revocation is a timestamp, checked on every request.

use super::{DbResult, now_ms};
use crate::auth::api_key::ApiKeyHash;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// What the CLI lists about a key. Never the secret, never the hash.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    pub id: String,
    pub app_id: String,
    pub name: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// Set by a rotation: the key works until then.
    pub expires_at: Option<i64>,
}

/// What authentication needs to know about a presented key id.
#[derive(Debug)]
pub struct KeyRecord {
    pub app_id: String,
    pub name: Option<String>,
    pub hash: ApiKeyHash,
    pub revoked: bool,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

impl KeyRecord {
    /// Neither revoked nor past the end of a rotation's grace period.
    pub fn is_live(&self, now_ms: i64) -> bool {
        is_live(self.revoked, self.expires_at, now_ms)
    }

    /// Whether a key presented with this hash is this live key (hashes compared in
    /// constant time).
    pub fn accepts(&self, presented: &ApiKeyHash, now_ms: i64) -> bool {
        self.is_live(now_ms) && self.hash.matches(presented)
    }
}

/// The one rule of a key's life: it works until revoked or until its rotation's grace
/// period ends (`expires_at`, Unix milliseconds).
pub fn is_live(revoked: bool, expires_at: Option<i64>, now_ms: i64) -> bool {
    !revoked && expires_at.is_none_or(|t| now_ms < t)
}

pub fn insert(
    conn: &Connection,
    id: &str,
    app_id: &str,
    name: Option<&str>,
    hash: &ApiKeyHash,
) -> DbResult<KeyInfo> {
    let created_at = now_ms();
    conn.prepare_cached(
        "INSERT INTO api_keys (id, app_id, name, key_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![id, app_id, name, hash.as_bytes(), created_at])?;
    Ok(KeyInfo {
        id: id.into(),
        app_id: app_id.into(),
        name: name.map(Into::into),
        created_at,
        last_used_at: None,
        revoked_at: None,
        expires_at: None,
    })
}

pub fn find(conn: &Connection, id: &str) -> DbResult<Option<KeyRecord>> {
    Ok(conn
        .prepare_cached(
            "SELECT app_id, key_hash, revoked_at, last_used_at, expires_at, name FROM api_keys WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok(KeyRecord {
                app_id: r.get(0)?,
                hash: ApiKeyHash::from_stored(r.get(1)?),
                revoked: r.get::<_, Option<i64>>(2)?.is_some(),
                last_used_at: r.get(3)?,
                expires_at: r.get(4)?,
                name: r.get(5)?,
            })
        })
        .optional()?)
}

pub fn list_for_app(conn: &Connection, app_id: &str) -> DbResult<Vec<KeyInfo>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, app_id, name, created_at, last_used_at, revoked_at, expires_at FROM api_keys
         WHERE app_id = ?1 ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map([app_id], |r| {
        Ok(KeyInfo {
            id: r.get(0)?,
            app_id: r.get(1)?,
            name: r.get(2)?,
            created_at: r.get(3)?,
            last_used_at: r.get(4)?,
            revoked_at: r.get(5)?,
            expires_at: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Marks a key revoked. Returns false when no such key exists; revoking twice keeps the first time.
pub fn revoke(conn: &Connection, id: &str) -> DbResult<bool> {
    let changed = conn
        .prepare_cached("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1")?
        .execute(params![id, now_ms()])?;
    Ok(changed == 1)
}

pub fn touch_last_used(conn: &Connection, id: &str, at: i64) -> DbResult<()> {
    conn.prepare_cached("UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1")?
        .execute(params![id, at])?;
    Ok(())
}

/// Ends a key at `at` (a rotation's grace period), keeping an earlier end if it has one.
pub fn expire_at(conn: &Connection, id: &str, at: i64) -> DbResult<()> {
    conn.prepare_cached(
        "UPDATE api_keys SET expires_at = min(COALESCE(expires_at, ?2), ?2) WHERE id = ?1",
    )?
    .execute(params![id, at])?;
    Ok(())
}

/// Keys that work now (not revoked, not past a rotation's grace), over all apps.
pub fn count_live(conn: &Connection, now_ms: i64) -> DbResult<i64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM api_keys
         WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?1)",
        params![now_ms],
        |r| r.get(0),
    )?)
}
