//! Messages (soft-deleted ones stay as tombstones, so `seq` has no gaps) and reactions.

use super::channels::parse_object;
use super::{DbError, DbResult};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

/// Who wrote a message; `None` on the row for a system message.
#[derive(Debug, Clone)]
pub struct Author {
    pub pk: i64,
    pub id: String,
    pub name: Option<String>,
    pub image: Option<String>,
    /// The user was deleted; `id` is a tombstone, not theirs.
    pub deleted: bool,
}

#[derive(Debug, Clone)]
pub struct MessageRow {
    pub pk: i64,
    pub id: String,
    pub channel_pk: i64,
    pub seq: i64,
    pub author: Option<Author>,
    pub text: Option<String>,
    pub custom: Map<String, Value>,
    pub parent_id: Option<String>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted_at: Option<i64>,
}

const SELECT: &str =
    "SELECT m.pk, m.id, m.channel_pk, m.seq, u.pk, u.id, u.name, u.image, m.text, m.custom,
    m.parent_id, m.created_at, m.edited_at, m.deleted_at, u.deleted_at IS NOT NULL
    FROM messages m LEFT JOIN users u ON u.pk = m.user_pk";

fn from_row(r: &Row<'_>) -> rusqlite::Result<MessageRow> {
    let author = match r.get::<_, Option<i64>>(4)? {
        Some(pk) => Some(Author {
            pk,
            id: r.get(5)?,
            name: r.get(6)?,
            image: r.get(7)?,
            deleted: r.get(14)?,
        }),
        None => None,
    };
    Ok(MessageRow {
        pk: r.get(0)?,
        id: r.get(1)?,
        channel_pk: r.get(2)?,
        seq: r.get(3)?,
        author,
        text: r.get(8)?,
        custom: parse_object(&r.get::<_, String>(9)?),
        parent_id: r.get(10)?,
        created_at: r.get(11)?,
        edited_at: r.get(12)?,
        deleted_at: r.get(13)?,
    })
}

/// What a new message is made of.
pub struct NewMessage<'a> {
    pub id: &'a str,
    pub channel_pk: i64,
    pub seq: i64,
    pub user_pk: Option<i64>,
    pub text: &'a str,
    pub custom: &'a Map<String, Value>,
    pub parent_id: Option<&'a str>,
    pub client_msg_id: Option<&'a str>,
    pub created_at: i64,
}

pub fn insert(conn: &Connection, m: &NewMessage<'_>) -> DbResult<MessageRow> {
    conn.prepare_cached(
        "INSERT INTO messages (id, channel_pk, seq, user_pk, text, custom, parent_id, client_msg_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        m.id,
        m.channel_pk,
        m.seq,
        m.user_pk,
        m.text,
        Value::Object(m.custom.clone()).to_string(),
        m.parent_id,
        m.client_msg_id,
        m.created_at
    ])?;
    by_pk(conn, conn.last_insert_rowid())?
        .ok_or_else(|| DbError::Corrupt("inserted message vanished".into()))
}

pub fn by_pk(conn: &Connection, pk: i64) -> DbResult<Option<MessageRow>> {
    Ok(conn
        .prepare_cached(&format!("{SELECT} WHERE m.pk = ?1"))?
        .query_row([pk], from_row)
        .optional()?)
}

pub fn find(conn: &Connection, channel_pk: i64, id: &str) -> DbResult<Option<MessageRow>> {
    Ok(conn
        .prepare_cached(&format!("{SELECT} WHERE m.channel_pk = ?1 AND m.id = ?2"))?
        .query_row(params![channel_pk, id], from_row)
        .optional()?)
}

pub fn by_seq(conn: &Connection, channel_pk: i64, seq: i64) -> DbResult<Option<MessageRow>> {
    Ok(conn
        .prepare_cached(&format!("{SELECT} WHERE m.channel_pk = ?1 AND m.seq = ?2"))?
        .query_row(params![channel_pk, seq], from_row)
        .optional()?)
}

/// The message a user (or the app, `None`) already sent with this `clientMsgId`.
pub fn find_by_client_id(
    conn: &Connection,
    channel_pk: i64,
    user_pk: Option<i64>,
    client_msg_id: &str,
) -> DbResult<Option<MessageRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "{SELECT} WHERE m.channel_pk = ?1 AND m.client_msg_id = ?3 AND m.user_pk IS ?2"
        ))?
        .query_row(params![channel_pk, user_pk, client_msg_id], from_row)
        .optional()?)
}

pub use crate::domain::PageFrom;

/// Up to `limit` messages in ascending `seq`, and whether more lie beyond in the
/// direction of travel (older for `Latest`/`Before`, newer for `After`).
pub fn page(
    conn: &Connection,
    channel_pk: i64,
    from: PageFrom,
    limit: usize,
) -> DbResult<(Vec<MessageRow>, bool)> {
    let take = limit as i64 + 1;
    let (sql, bound) = match from {
        PageFrom::Latest => (
            format!("{SELECT} WHERE m.channel_pk = ?1 AND m.seq < ?2 ORDER BY m.seq DESC LIMIT ?3"),
            i64::MAX,
        ),
        PageFrom::Before(s) => (
            format!("{SELECT} WHERE m.channel_pk = ?1 AND m.seq < ?2 ORDER BY m.seq DESC LIMIT ?3"),
            s,
        ),
        PageFrom::After(s) => (
            format!("{SELECT} WHERE m.channel_pk = ?1 AND m.seq > ?2 ORDER BY m.seq ASC LIMIT ?3"),
            s,
        ),
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows: Vec<MessageRow> = stmt
        .query_map(params![channel_pk, bound, take], from_row)?
        .collect::<Result<_, _>>()?;
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    if !matches!(from, PageFrom::After(_)) {
        rows.reverse();
    }
    Ok((rows, has_more))
}

pub fn update_content(
    conn: &Connection,
    pk: i64,
    text: &str,
    custom: &Map<String, Value>,
    at: i64,
) -> DbResult<()> {
    conn.prepare_cached(
        "UPDATE messages SET text = ?2, custom = ?3, edited_at = ?4 WHERE pk = ?1",
    )?
    .execute(params![
        pk,
        text,
        Value::Object(custom.clone()).to_string(),
        at
    ])?;
    Ok(())
}

/// Empties the message and its reactions; the row stays as a tombstone.
pub fn soft_delete(conn: &Connection, pk: i64, at: i64) -> DbResult<()> {
    conn.prepare_cached(
        "UPDATE messages SET text = NULL, custom = '{}', deleted_at = ?2 WHERE pk = ?1",
    )?
    .execute(params![pk, at])?;
    conn.prepare_cached("DELETE FROM reactions WHERE message_pk = ?1")?
        .execute([pk])?;
    Ok(())
}

/// Reaction counts per emoji and the viewer's own.
#[derive(Debug, Clone, Default)]
pub struct Reactions {
    pub counts: BTreeMap<String, i64>,
    pub own: Vec<String>,
}

impl Reactions {
    fn add(&mut self, emoji: String, count: i64, own: bool) {
        if own {
            self.own.push(emoji.clone());
        }
        self.counts.insert(emoji, count);
    }
}

pub fn reactions(
    conn: &Connection,
    message_pk: i64,
    viewer_pk: Option<i64>,
) -> DbResult<Reactions> {
    let mut stmt = conn.prepare_cached(
        "SELECT emoji, count(*), max(user_pk IS ?2) FROM reactions WHERE message_pk = ?1
         GROUP BY emoji ORDER BY emoji",
    )?;
    let mut out = Reactions::default();
    let rows = stmt.query_map(params![message_pk, viewer_pk], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    for row in rows {
        let (emoji, n, own) = row?;
        out.add(emoji, n, own);
    }
    Ok(out)
}

/// The reactions of every message of a channel with `seq` in `first..=last`, by message
/// pk: one query for a history page instead of one per message (a page is exactly the
/// messages between its first and last `seq`).
pub fn reactions_between(
    conn: &Connection,
    channel_pk: i64,
    first: i64,
    last: i64,
    viewer_pk: Option<i64>,
) -> DbResult<HashMap<i64, Reactions>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.message_pk, r.emoji, count(*), max(r.user_pk IS ?4)
         FROM messages m JOIN reactions r ON r.message_pk = m.pk
         WHERE m.channel_pk = ?1 AND m.seq BETWEEN ?2 AND ?3
         GROUP BY r.message_pk, r.emoji ORDER BY r.message_pk, r.emoji",
    )?;
    let mut out: HashMap<i64, Reactions> = HashMap::new();
    let rows = stmt.query_map(params![channel_pk, first, last, viewer_pk], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })?;
    for row in rows {
        let (pk, emoji, n, own) = row?;
        out.entry(pk).or_default().add(emoji, n, own);
    }
    Ok(out)
}

/// How many different reactions the message has, and whether `emoji` is one of them.
/// (It reads every reaction of the message, as the view that follows does anyway.)
pub fn reaction_kinds(conn: &Connection, message_pk: i64, emoji: &str) -> DbResult<(usize, bool)> {
    let mut stmt = conn.prepare_cached(
        "SELECT count(DISTINCT emoji), ifnull(max(emoji = ?2), 0)
         FROM reactions WHERE message_pk = ?1",
    )?;
    let (kinds, has_it): (i64, bool) =
        stmt.query_row(params![message_pk, emoji], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok((kinds as usize, has_it))
}

/// Adds a reaction; false when the user had it already.
pub fn add_reaction(
    conn: &Connection,
    message_pk: i64,
    user_pk: i64,
    emoji: &str,
    at: i64,
) -> DbResult<bool> {
    Ok(conn
        .prepare_cached(
            "INSERT OR IGNORE INTO reactions (message_pk, user_pk, emoji, created_at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![message_pk, user_pk, emoji, at])?
        == 1)
}

/// Removes a reaction; false when the user did not have it.
pub fn remove_reaction(
    conn: &Connection,
    message_pk: i64,
    user_pk: i64,
    emoji: &str,
) -> DbResult<bool> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM reactions WHERE message_pk = ?1 AND user_pk = ?2 AND emoji = ?3",
        )?
        .execute(params![message_pk, user_pk, emoji])?
        == 1)
}
