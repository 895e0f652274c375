//! Channels of an app. `pk` and `realtime_key` name the Centrifugo channel
//! (`crate::realtime::chat_channel`).

use super::{DbError, DbResult, now_ms};
use crate::realtime::{RealtimeKey, RealtimeName};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Map, Value};

#[derive(Debug, Clone)]
pub struct ChannelRow {
    pub pk: i64,
    pub id: String,
    pub kind: String,
    pub name: Option<String>,
    pub custom: Map<String, Value>,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_seq: i64,
    pub activity_at: i64,
    /// `None` for channels made before schema 9, which keep their pk-only name.
    pub realtime_key: Option<RealtimeKey>,
}

impl ChannelRow {
    /// What the channel's Centrifugo name is built from.
    pub fn realtime_name(&self) -> RealtimeName {
        RealtimeName {
            pk: self.pk,
            key: self.realtime_key,
        }
    }
}

const COLUMNS: &str = "c.pk, c.id, c.kind, c.name, c.custom, c.created_at, c.updated_at, \
     c.last_seq, c.activity_at, c.realtime_key";

fn from_row(r: &Row<'_>) -> rusqlite::Result<ChannelRow> {
    Ok(ChannelRow {
        pk: r.get(0)?,
        id: r.get(1)?,
        kind: r.get(2)?,
        name: r.get(3)?,
        custom: parse_object(&r.get::<_, String>(4)?),
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
        last_seq: r.get(7)?,
        activity_at: r.get(8)?,
        realtime_key: r.get(9)?,
    })
}

/// Parses a stored JSON object column; anything else reads as empty (it was written by us).
pub fn parse_object(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

pub fn find(conn: &Connection, app_id: &str, id: &str) -> DbResult<Option<ChannelRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM channels c WHERE c.app_id = ?1 AND c.id = ?2 AND c.deleted_at IS NULL"
        ))?
        .query_row(params![app_id, id], from_row)
        .optional()?)
}

pub fn find_by_pk(conn: &Connection, app_id: &str, pk: i64) -> DbResult<Option<ChannelRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM channels c WHERE c.app_id = ?1 AND c.pk = ?2 AND c.deleted_at IS NULL"
        ))?
        .query_row(params![app_id, pk], from_row)
        .optional()?)
}

pub fn find_direct(conn: &Connection, app_id: &str, key: &str) -> DbResult<Option<ChannelRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM channels c WHERE c.app_id = ?1 AND c.direct_key = ?2 AND c.deleted_at IS NULL"
        ))?
        .query_row(params![app_id, key], from_row)
        .optional()?)
}

/// What a new channel is made of.
pub struct NewChannel<'a> {
    pub app_id: &'a str,
    pub id: &'a str,
    pub kind: &'a str,
    pub direct_key: Option<&'a str>,
    pub name: Option<&'a str>,
    pub custom: &'a Map<String, Value>,
    pub created_by: Option<i64>,
}

pub fn insert(conn: &Connection, new: &NewChannel<'_>) -> DbResult<ChannelRow> {
    let now = now_ms();
    conn.prepare_cached(
        "INSERT INTO channels (app_id, id, kind, direct_key, name, custom, created_by, created_at, updated_at, activity_at, realtime_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?8, ?9)",
    )?
    .execute(params![
        new.app_id,
        new.id,
        new.kind,
        new.direct_key,
        new.name,
        Value::Object(new.custom.clone()).to_string(),
        new.created_by,
        now,
        RealtimeKey::generate()
    ])?;
    find_by_pk(conn, new.app_id, conn.last_insert_rowid())?
        .ok_or_else(|| DbError::Corrupt("inserted channel vanished".into()))
}

pub fn update(
    conn: &Connection,
    pk: i64,
    name: Option<&str>,
    custom: &Map<String, Value>,
) -> DbResult<()> {
    conn.prepare_cached(
        "UPDATE channels SET name = ?2, custom = ?3, updated_at = ?4 WHERE pk = ?1",
    )?
    .execute(params![
        pk,
        name,
        Value::Object(custom.clone()).to_string(),
        now_ms()
    ])?;
    Ok(())
}

/// Messages one write job deletes (with their reactions, by cascade). A channel with at
/// most this many goes at once; one with more is purged a chunk per job, so no job
/// holds the writer (and every other write, `/tokens` included) for long: a few
/// milliseconds a chunk, where a million messages in one transaction held it 3.4 s
/// (BENCHMARKS.md, "Big channels").
pub const PURGE_CHUNK: i64 = 1000;

/// Deletes the channel: its members at once, and its messages (with their reactions) at
/// once when they are few. Otherwise the channel is retired: its id and direct key are
/// freed for reuse, it is marked deleted (no lookup finds it), and `purge_step` deletes
/// its messages, then the row.
pub fn delete(conn: &Connection, channel: &ChannelRow) -> DbResult<()> {
    // Rows, deleted or not: `seq` has no gaps.
    if channel.last_seq <= PURGE_CHUNK {
        conn.prepare_cached("DELETE FROM channels WHERE pk = ?1")?
            .execute([channel.pk])?;
        return Ok(());
    }
    conn.prepare_cached("DELETE FROM members WHERE channel_pk = ?1")?
        .execute([channel.pk])?;
    // The new id starts with a control character, which no caller's id may have.
    conn.prepare_cached(
        "UPDATE channels SET id = char(1) || 'deleted:' || pk, direct_key = NULL, deleted_at = ?2
         WHERE pk = ?1",
    )?
    .execute(params![channel.pk, now_ms()])?;
    Ok(())
}

/// Whether a retired channel waits for `purge_step` (one probe of a partial index).
pub fn any_retired(conn: &Connection) -> DbResult<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM channels WHERE deleted_at IS NOT NULL)")?
        .query_row([], |r| r.get(0))?)
}

/// One step of the purge of retired channels (see `delete`): up to `chunk` messages of
/// the one retired first, or its row once it has none left. False when there was
/// nothing to purge.
pub fn purge_step(conn: &Connection, chunk: i64) -> DbResult<bool> {
    let retired: Option<i64> = conn
        .prepare_cached(
            "SELECT pk FROM channels WHERE deleted_at IS NOT NULL ORDER BY deleted_at, pk LIMIT 1",
        )?
        .query_row([], |r| r.get(0))
        .optional()?;
    let Some(pk) = retired else {
        return Ok(false);
    };
    let deleted = conn
        .prepare_cached(
            "DELETE FROM messages WHERE pk IN
                 (SELECT pk FROM messages WHERE channel_pk = ?1 LIMIT ?2)",
        )?
        .execute(params![pk, chunk])?;
    if deleted == 0 {
        conn.prepare_cached("DELETE FROM channels WHERE pk = ?1")?
            .execute([pk])?;
    }
    Ok(true)
}

/// Takes the channel's next message `seq` (no gaps: the writer serializes this) and
/// marks the channel active now.
pub fn next_seq(conn: &Connection, pk: i64, now: i64) -> DbResult<i64> {
    Ok(conn
        .prepare_cached(
            "UPDATE channels SET last_seq = last_seq + 1, activity_at = ?2 WHERE pk = ?1 RETURNING last_seq",
        )?
        .query_row(params![pk, now], |r| r.get(0))?)
}

/// A channel as one member sees it in a list.
pub struct MemberChannel {
    pub channel: ChannelRow,
    pub role: String,
    pub read_seq: i64,
}

/// The user's channels, newest activity first, after the `(activity_at, pk)` cursor.
pub fn list_for_user(
    conn: &Connection,
    user_pk: i64,
    after: Option<(i64, i64)>,
    limit: usize,
) -> DbResult<Vec<MemberChannel>> {
    let (at, pk) = after.unwrap_or((i64::MAX, i64::MAX));
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS}, m.role, m.read_seq FROM members m JOIN channels c ON c.pk = m.channel_pk
         WHERE m.user_pk = ?1 AND (c.activity_at < ?2 OR (c.activity_at = ?2 AND c.pk < ?3))
         ORDER BY c.activity_at DESC, c.pk DESC LIMIT ?4"
    ))?;
    let rows = stmt.query_map(params![user_pk, at, pk, limit as i64], |r| {
        Ok(MemberChannel {
            channel: from_row(r)?,
            role: r.get(10)?,
            read_seq: r.get(11)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Db, DbError};

    /// Two channels of 2,500 messages each (a reaction on the first message of each),
    /// with two members, and one of 5 messages: as the service's own statements leave them.
    fn fill(c: &Connection) -> rusqlite::Result<()> {
        c.execute_batch(
            "INSERT INTO apps (id, name, created_at) VALUES ('a', 'a', 0);
             INSERT INTO users (pk, app_id, id, created_at, updated_at)
                 VALUES (1, 'a', 'u1', 0, 0), (2, 'a', 'u2', 0, 0);
             INSERT INTO channels (pk, app_id, id, kind, direct_key, created_at, updated_at, activity_at, last_seq)
                 VALUES (1, 'a', 'one', 'group', NULL, 0, 0, 0, 2500),
                        (2, 'a', 'two', 'direct', '1:2', 0, 0, 0, 2500),
                        (3, 'a', 'small', 'group', NULL, 0, 0, 0, 5);
             INSERT INTO members (channel_pk, user_pk, role, joined_at)
                 SELECT c.pk, u.pk, 'member', 0 FROM channels c, users u;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500)
             INSERT INTO messages (id, channel_pk, seq, user_pk, created_at)
                 SELECT 'm' || c.pk || '-' || i, c.pk, i, 1, 0 FROM n, channels c
                 WHERE i <= c.last_seq;
             INSERT INTO reactions (message_pk, user_pk, emoji, created_at)
                 SELECT pk, 2, 'ok', 0 FROM messages WHERE seq = 1;",
        )
    }

    fn count(c: &Connection, sql: &str) -> i64 {
        c.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// A channel of more messages than a chunk is retired at once (no lookup finds it, its
    /// id and direct key are free, no members), then purged a chunk per step, its row
    /// last, channels in the order they were retired (the new one with the old id is
    /// left alone); a small channel goes at once.
    #[tokio::test]
    async fn a_retired_channel_is_purged_a_chunk_per_step() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        let report = db
            .write(|c| {
                fill(c)?;
                for id in ["one", "small"] {
                    let row = find(c, "a", id)?.unwrap();
                    delete(c, &row)?;
                }
                let two = find_direct(c, "a", "1:2")?.unwrap();
                delete(c, &two)?;
                // The small channel is gone with everything in it.
                assert_eq!(
                    count(c, "SELECT count(*) FROM messages WHERE channel_pk = 3"),
                    0
                );
                assert_eq!(count(c, "SELECT count(*) FROM channels WHERE pk = 3"), 0);
                // The others are retired: out of every lookup, their names free.
                assert!(find(c, "a", "one")?.is_none());
                assert!(find_by_pk(c, "a", 1)?.is_none());
                assert!(find_direct(c, "a", "1:2")?.is_none());
                assert_eq!(
                    count(c, "SELECT count(*) FROM members WHERE channel_pk IN (1, 2)"),
                    0
                );
                assert_eq!(
                    count(
                        c,
                        "SELECT sum(member_count) FROM channels WHERE pk IN (1, 2)"
                    ),
                    0
                );
                assert_eq!(count(c, "SELECT count(*) FROM messages"), 5000);
                assert!(any_retired(c)?);
                // A new channel may take the old id and direct key at once.
                let again = NewChannel {
                    app_id: "a",
                    id: "one",
                    kind: "direct",
                    direct_key: Some("1:2"),
                    name: None,
                    custom: &Map::new(),
                    created_by: None,
                };
                assert_eq!(insert(c, &again)?.pk, 4);
                // Every step: what is left of channel 1 and channel 2 (messages + row).
                let left = |c: &Connection| {
                    [1, 2].map(|pk| {
                        count(
                            c,
                            &format!("SELECT count(*) FROM messages WHERE channel_pk = {pk}"),
                        ) + count(c, &format!("SELECT count(*) FROM channels WHERE pk = {pk}"))
                    })
                };
                let mut steps = Vec::new();
                while purge_step(c, PURGE_CHUNK)? {
                    steps.push(left(c));
                }
                Ok::<_, DbError>((
                    steps,
                    count(c, "SELECT count(*) FROM reactions"),
                    any_retired(c)?,
                ))
            })
            .await
            .unwrap();
        let (steps, reactions, retired) = report;
        assert_eq!(
            steps,
            [
                [1501, 2501],
                [501, 2501],
                [1, 2501],
                [0, 2501],
                [0, 1501],
                [0, 501],
                [0, 1],
                [0, 0]
            ]
        );
        assert_eq!((reactions, retired), (0, false));
    }
}
