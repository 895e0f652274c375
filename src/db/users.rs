//! Users of an app, upserted by `POST /tokens`.

use super::{DbError, DbResult, keys, now_ms};
use crate::domain::{check_custom, merge_patch};
use crate::error::ApiError;
use crate::realtime::{RealtimeKey, RealtimeName};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// Surrogate key: names the user's personal Centrifugo channel. 0 until inserted.
    pub pk: i64,
    /// Names the personal channel beside `pk`; `None` for users made before schema 9,
    /// and until inserted.
    pub realtime_key: Option<RealtimeKey>,
    pub id: String,
    pub name: Option<String>,
    pub image: Option<String>,
    pub email: Option<String>,
    pub custom: Map<String, Value>,
    /// REST tokens carry the generation they were issued under; a bump revokes them.
    pub token_generation: i64,
}

/// A partial update: `None` keeps the field, `Some(None)` clears it, `Some(Some(v))` sets it.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub name: Option<Option<String>>,
    pub image: Option<Option<String>>,
    pub email: Option<Option<String>>,
    /// A JSON merge patch for `custom`; `Some(None)` empties it.
    pub custom: Option<Option<Map<String, Value>>>,
}

impl UserPatch {
    /// Applies the patch to `user` (a fresh or stored one).
    fn apply_to(&self, user: &mut User) {
        if let Some(v) = &self.name {
            user.name = v.clone();
        }
        if let Some(v) = &self.image {
            user.image = v.clone();
        }
        if let Some(v) = &self.email {
            user.email = v.clone();
        }
        match &self.custom {
            Some(Some(patch)) => merge_patch(&mut user.custom, patch),
            Some(None) => user.custom.clear(),
            None => {}
        }
    }
}

pub fn find(conn: &Connection, app_id: &str, id: &str) -> DbResult<Option<User>> {
    conn.prepare_cached(
        "SELECT pk, id, name, image, email, custom, token_generation, realtime_key FROM users WHERE app_id = ?1 AND id = ?2",
    )?
    .query_row(params![app_id, id], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, i64>(6)?,
            r.get(7)?,
        ))
    })
    .optional()?
    .map(|(pk, id, name, image, email, custom, token_generation, realtime_key)| {
        let custom = match serde_json::from_str(&custom) {
            Ok(Value::Object(m)) => m,
            _ => {
                return Err(DbError::Corrupt(format!(
                    "users.custom is not an object for {app_id}"
                )));
            }
        };
        Ok(User {
            pk,
            realtime_key,
            id,
            name,
            image,
            email,
            custom,
            token_generation,
        })
    })
    .transpose()
}

/// Inserts or updates the user so it equals `user`; a new one gets its pk and realtime key.
fn save(conn: &Connection, app_id: &str, user: &mut User, existed: bool) -> DbResult<()> {
    let custom = Value::Object(user.custom.clone()).to_string();
    let now = now_ms();
    if existed {
        conn.prepare_cached(
            "UPDATE users SET name = ?3, image = ?4, email = ?5, custom = ?6, updated_at = ?7
             WHERE app_id = ?1 AND id = ?2",
        )?
        .execute(params![
            app_id, user.id, user.name, user.image, user.email, custom, now
        ])?;
    } else {
        let key = RealtimeKey::generate();
        conn.prepare_cached(
            "INSERT INTO users (app_id, id, name, image, email, custom, created_at, updated_at, realtime_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)",
        )?
        .execute(params![
            app_id, user.id, user.name, user.image, user.email, custom, now, key
        ])?;
        user.pk = conn.last_insert_rowid();
        user.realtime_key = Some(key);
    }
    Ok(())
}

/// The pk and realtime key of an app's user, creating a bare user (id only) when the app
/// has never seen it, so a backend can add people to channels before they first log in.
pub fn ensure(conn: &Connection, app_id: &str, id: &str) -> DbResult<RealtimeName> {
    match find_realtime_name(conn, app_id, id)? {
        Some(found) => Ok(found),
        None => {
            let mut user = User::bare(id);
            save(conn, app_id, &mut user, false)?;
            Ok(user.realtime_name())
        }
    }
}

/// The pk and realtime key of an app's user, if it exists.
pub fn find_realtime_name(
    conn: &Connection,
    app_id: &str,
    id: &str,
) -> DbResult<Option<RealtimeName>> {
    Ok(conn
        .prepare_cached("SELECT pk, realtime_key FROM users WHERE app_id = ?1 AND id = ?2")?
        .query_row(params![app_id, id], |r| {
            Ok(RealtimeName {
                pk: r.get(0)?,
                key: r.get(1)?,
            })
        })
        .optional()?)
}

impl User {
    /// A user known by id only.
    pub fn bare(id: &str) -> User {
        User {
            pk: 0,
            realtime_key: None,
            id: id.to_string(),
            name: None,
            image: None,
            email: None,
            custom: Map::new(),
            token_generation: 0,
        }
    }

    /// What the user's personal channel name is built from.
    pub fn realtime_name(&self) -> RealtimeName {
        RealtimeName {
            pk: self.pk,
            key: self.realtime_key,
        }
    }
}

/// Applies `patch` to the user (creating it when new) inside the caller's transaction;
/// true when it created the user. Runs on the writer, so concurrent upserts of one new id
/// cannot both insert.
pub fn upsert(
    conn: &Connection,
    app_id: &str,
    id: &str,
    patch: &UserPatch,
) -> Result<(User, bool), ApiError> {
    let stored = find(conn, app_id, id)?;
    let existed = stored.is_some();
    let mut user = stored.clone().unwrap_or_else(|| User::bare(id));
    patch.apply_to(&mut user);
    // The merged result must fit too, not only the patch: nothing is written otherwise.
    check_custom(&user.custom)?;
    if stored.as_ref() != Some(&user) {
        save(conn, app_id, &mut user, existed)?;
    }
    Ok((user, !existed))
}

/// What a REST token of a live user is checked against.
pub struct TokenState {
    pub pk: i64,
    pub generation: i64,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Whether the API key the token was issued through still works (true for a token
    /// that names none).
    pub key_live: bool,
}

/// The token state of a live user, with the life of `issuing_key` (a key id of the same
/// app) at `now_ms`; `None` when there is no such user. One statement: this runs on
/// every request made with a REST token.
pub fn token_state(
    conn: &Connection,
    app_id: &str,
    id: &str,
    issuing_key: Option<&str>,
    now_ms: i64,
) -> DbResult<Option<TokenState>> {
    Ok(conn
        .prepare_cached(
            "SELECT u.pk, u.token_generation, u.created_at, \
                    k.id IS NOT NULL, k.revoked_at IS NOT NULL, k.expires_at \
             FROM users u LEFT JOIN api_keys k ON k.id = ?3 AND k.app_id = u.app_id \
             WHERE u.app_id = ?1 AND u.id = ?2",
        )?
        .query_row(params![app_id, id, issuing_key], |r| {
            let key_live = issuing_key.is_none()
                || (r.get::<_, bool>(3)? && keys::is_live(r.get(4)?, r.get(5)?, now_ms));
            Ok(TokenState {
                pk: r.get(0)?,
                generation: r.get(1)?,
                created_at: r.get(2)?,
                key_live,
            })
        })
        .optional()?)
}

/// Revokes every REST token issued to the user so far; returns the user's pk.
pub fn revoke_tokens(conn: &Connection, app_id: &str, id: &str) -> DbResult<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "UPDATE users SET token_generation = token_generation + 1 WHERE app_id = ?1 AND id = ?2 RETURNING pk",
        )?
        .query_row(params![app_id, id], |r| r.get(0))
        .optional()?)
}

/// Deletes a user's data and frees their id; the row stays (as a tombstone whose id no
/// valid user id can equal: it starts with a control character) so their messages keep
/// an author, shown as a deleted user. Returns the pk.
pub fn delete(conn: &Connection, app_id: &str, id: &str) -> DbResult<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "UPDATE users SET id = char(1) || 'deleted:' || pk, name = NULL, image = NULL, email = NULL,
                custom = '{}', deleted_at = ?3, token_generation = token_generation + 1
             WHERE app_id = ?1 AND id = ?2 RETURNING pk",
        )?
        .query_row(params![app_id, id, now_ms()], |r| r.get(0))
        .optional()?)
}

/// The channels a user is a member of.
pub fn channel_pks(conn: &Connection, user_pk: i64) -> DbResult<Vec<i64>> {
    let mut stmt = conn.prepare_cached("SELECT channel_pk FROM members WHERE user_pk = ?1")?;
    let rows = stmt.query_map([user_pk], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
