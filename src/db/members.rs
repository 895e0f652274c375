//! Channel membership, roles and read marks.

use super::{DbResult, now_ms};
use crate::realtime::{RealtimeKey, RealtimeName};
use rusqlite::{Connection, OptionalExtension, params};

#[derive(Debug, Clone)]
pub struct MemberRow {
    pub user_pk: i64,
    pub user_id: String,
    pub name: Option<String>,
    pub image: Option<String>,
    pub role: String,
    pub read_seq: i64,
    pub joined_at: i64,
    /// The user's realtime key (`None` for users made before schema 9).
    pub realtime_key: Option<RealtimeKey>,
}

impl MemberRow {
    /// What the member's personal channel name is built from.
    pub fn realtime_name(&self) -> RealtimeName {
        RealtimeName {
            pk: self.user_pk,
            key: self.realtime_key,
        }
    }
}

/// The member's role and read mark, if `user_pk` is a member.
pub fn membership(
    conn: &Connection,
    channel_pk: i64,
    user_pk: i64,
) -> DbResult<Option<(String, i64)>> {
    Ok(conn
        .prepare_cached(
            "SELECT role, read_seq FROM members WHERE channel_pk = ?1 AND user_pk = ?2",
        )?
        .query_row(params![channel_pk, user_pk], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Adds a member; false when already one (their role is left as it is).
pub fn add(conn: &Connection, channel_pk: i64, user_pk: i64, role: &str) -> DbResult<bool> {
    let n = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO members (channel_pk, user_pk, role, joined_at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![channel_pk, user_pk, role, now_ms()])?;
    Ok(n == 1)
}

pub fn remove(conn: &Connection, channel_pk: i64, user_pk: i64) -> DbResult<bool> {
    let n = conn
        .prepare_cached("DELETE FROM members WHERE channel_pk = ?1 AND user_pk = ?2")?
        .execute(params![channel_pk, user_pk])?;
    Ok(n == 1)
}

/// `SELECT` of a member row (read by `member_row`) followed by `$tail`: one constant
/// string per query, so nothing is formatted per call.
macro_rules! select_members {
    ($tail:literal) => {
        concat!(
            "SELECT u.pk, u.id, u.name, u.image, m.role, m.read_seq, m.joined_at, u.realtime_key
             FROM members m JOIN users u ON u.pk = m.user_pk ",
            $tail
        )
    };
}

fn member_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MemberRow> {
    Ok(MemberRow {
        user_pk: r.get(0)?,
        user_id: r.get(1)?,
        name: r.get(2)?,
        image: r.get(3)?,
        role: r.get(4)?,
        read_seq: r.get(5)?,
        joined_at: r.get(6)?,
        realtime_key: r.get(7)?,
    })
}

/// Every member, in join order: for events that reach them all (a channel's deletion).
pub fn all(conn: &Connection, channel_pk: i64) -> DbResult<Vec<MemberRow>> {
    let mut stmt = conn.prepare_cached(select_members!(
        "WHERE m.channel_pk = ?1 ORDER BY m.joined_at, m.user_pk"
    ))?;
    let rows = stmt.query_map([channel_pk], member_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

const PAGE_SQL: &str = select_members!(
    "WHERE m.channel_pk = ?1 AND (m.joined_at, m.user_pk) > (?2, ?3)
     ORDER BY m.joined_at, m.user_pk LIMIT ?4"
);

/// Up to `limit` members in join order, after the `(joined_at, user_pk)` cursor: one
/// seek in `members_by_join`, however large the channel.
pub fn page(
    conn: &Connection,
    channel_pk: i64,
    after: Option<(i64, i64)>,
    limit: usize,
) -> DbResult<Vec<MemberRow>> {
    let (at, pk) = after.unwrap_or((i64::MIN, i64::MIN));
    let mut stmt = conn.prepare_cached(PAGE_SQL)?;
    let rows = stmt.query_map(params![channel_pk, at, pk, limit as i64], member_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One member, if `user_pk` is a member of the channel.
pub fn find(conn: &Connection, channel_pk: i64, user_pk: i64) -> DbResult<Option<MemberRow>> {
    Ok(conn
        .prepare_cached(select_members!(
            "WHERE m.channel_pk = ?1 AND m.user_pk = ?2"
        ))?
        .query_row(params![channel_pk, user_pk], member_row)
        .optional()?)
}

/// The channel's member count: one row read, kept current by the schema's triggers on
/// `members` (migration 6), so it is right after any insert or delete in this transaction.
/// 0 for a channel that is gone, as a count of its members would say.
pub fn count(conn: &Connection, channel_pk: i64) -> DbResult<i64> {
    Ok(conn
        .prepare_cached("SELECT member_count FROM channels WHERE pk = ?1")?
        .query_row([channel_pk], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Moves the read mark forward only, never past the channel's last message.
/// Returns the mark after the move.
pub fn mark_read(
    conn: &Connection,
    channel_pk: i64,
    user_pk: i64,
    seq: i64,
    last_seq: i64,
) -> DbResult<i64> {
    Ok(conn
        .prepare_cached(
            "UPDATE members SET read_seq = max(read_seq, min(?3, ?4))
             WHERE channel_pk = ?1 AND user_pk = ?2 RETURNING read_seq",
        )?
        .query_row(params![channel_pk, user_pk, seq, last_seq], |r| r.get(0))?)
}

/// Messages by others after `read_seq`, not deleted: counted up to `cap` and no further,
/// so a view counts at most `cap` rows however far behind the reader is (plus the
/// reader's own and deleted messages it steps over).
pub fn unread_count(
    conn: &Connection,
    channel_pk: i64,
    user_pk: i64,
    read_seq: i64,
    cap: i64,
) -> DbResult<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM (
                 SELECT 1 FROM messages WHERE channel_pk = ?1 AND seq > ?3
                 AND (user_pk IS NULL OR user_pk != ?2) AND deleted_at IS NULL LIMIT ?4)",
        )?
        .query_row(params![channel_pk, user_pk, read_seq, cap], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Db, DbError};

    /// A page is a seek in `members_by_join` and a walk along it: no scan of the channel's
    /// members, and no sort of them (which would cost the whole channel on every page).
    #[tokio::test]
    async fn a_member_page_seeks_the_join_order_index_without_sorting() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        let plan: Vec<String> = db
            .read(|c| {
                let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {PAGE_SQL}"))?;
                let rows = stmt.query_map(params![1, 0, 0, 10], |r| r.get::<_, String>(3))?;
                Ok::<_, DbError>(rows.collect::<Result<_, _>>()?)
            })
            .await
            .unwrap();
        let plan = plan.join("\n");
        assert!(
            plan.contains("SEARCH m USING INDEX members_by_join (channel_pk=? AND"),
            "{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }

    /// The unread count is exact below the cap and stops at it above: others' messages
    /// only, deleted ones left out.
    #[tokio::test]
    async fn the_unread_count_stops_at_its_cap() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        let counts = db
            .write(|c| {
                c.execute_batch(
                    "INSERT INTO apps (id, name, created_at) VALUES ('a', 'a', 0);
                     INSERT INTO users (pk, app_id, id, created_at, updated_at)
                         VALUES (1, 'a', 'me', 0, 0), (2, 'a', 'other', 0, 0);
                     INSERT INTO channels (pk, app_id, id, kind, created_at, updated_at, activity_at)
                         VALUES (1, 'a', 'c', 'group', 0, 0, 0);",
                )?;
                // seq 1..=30: every third is mine, every fifth is deleted.
                for seq in 1..=30_i64 {
                    c.execute(
                        "INSERT INTO messages (id, channel_pk, seq, user_pk, created_at, deleted_at)
                         VALUES (?1, 1, ?2, ?3, 0, ?4)",
                        params![
                            format!("m{seq}"),
                            seq,
                            if seq % 3 == 0 { 1 } else { 2 },
                            (seq % 5 == 0).then_some(1)
                        ],
                    )?;
                }
                let unread = |read_seq, cap| unread_count(c, 1, 1, read_seq, cap);
                Ok::<_, DbError>([unread(0, 1000)?, unread(20, 1000)?, unread(0, 7)?, unread(30, 7)?])
            })
            .await
            .unwrap();
        // Of 1..=30: 10 mine, 6 deleted, 2 both (15, 30): 30 - 10 - 6 + 2 = 16.
        // Of 21..=30: mine 21, 24, 27, 30; deleted 25, 30: 10 - 4 - 2 + 1 = 5.
        assert_eq!(counts, [16, 5, 7, 0]);
    }
}
