//! Embedded, ordered schema migrations, tracked in `PRAGMA user_version`.

use super::DbResult;
use rusqlite::Connection;

/// Each entry moves the schema one version up. Never edit a shipped entry; append.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_apps_keys_users.sql"),
    include_str!("migrations/0002_chat.sql"),
    include_str!("migrations/0003_outbox_failed.sql"),
    include_str!("migrations/0004_revocation.sql"),
    include_str!("migrations/0005_member_pages.sql"),
    include_str!("migrations/0006_member_count.sql"),
    include_str!("migrations/0007_channel_purge.sql"),
    include_str!("migrations/0008_outbox_ids_never_reused.sql"),
    include_str!("migrations/0009_realtime_keys.sql"),
];

/// The schema version this build creates and expects (`PRAGMA user_version`).
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// The schema version of the database `conn` is open on (0: none yet).
pub fn schema_version(conn: &Connection) -> DbResult<usize> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize)
}

pub fn apply(conn: &mut Connection) -> DbResult<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let current = schema_version(&tx)?;
    if current > SCHEMA_VERSION {
        // Served anyway: a rollback to an older build is allowed (README, Upgrading).
        log::warn!(
            "database schema version {current} is newer than this build's ({SCHEMA_VERSION}): \
             serving it as a rollback; run a build that knows it when you can"
        );
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        log::info!("applied database migration {}", i + 1);
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::outbox;

    fn queue(conn: &Connection, event_id: &str) {
        conn.execute(
            "INSERT INTO outbox (event_id, command, created_at) VALUES (?1, '{}', 0)",
            [event_id],
        )
        .unwrap();
    }

    fn queued(conn: &Connection) -> Vec<(i64, String)> {
        outbox::peek(conn, 100)
            .unwrap()
            .into_iter()
            .map(|p| (p.pk, p.event_id))
            .collect()
    }

    /// Two relays (two servers on one database) read the same rows; one publishes and
    /// deletes them, an event is queued, then the other deletes what it read. The new
    /// event must survive: its id is not one the late relay holds.
    #[test]
    fn a_late_relays_delete_never_takes_an_event_queued_after_the_outbox_emptied() {
        let mut conn = Connection::open_in_memory().unwrap();
        apply(&mut conn).unwrap();
        queue(&conn, "evt_1");
        queue(&conn, "evt_2");
        let read_by_both: Vec<i64> = queued(&conn).into_iter().map(|(pk, _)| pk).collect();

        outbox::remove(&conn, &read_by_both).unwrap();
        queue(&conn, "evt_3");
        outbox::remove(&conn, &read_by_both).unwrap();

        let left: Vec<String> = queued(&conn).into_iter().map(|(_, e)| e).collect();
        assert_eq!(left, ["evt_3"]);
    }

    /// Migration 8 rebuilds the outbox: events waiting in a schema-7 database keep their
    /// order and ids, and new ones come after them.
    #[test]
    fn events_queued_before_migration_8_stay_queued_in_order() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..7] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 7).unwrap();
        queue(&conn, "evt_a");
        queue(&conn, "evt_b");
        let before = queued(&conn);

        apply(&mut conn).unwrap();
        queue(&conn, "evt_c");

        let after = queued(&conn);
        assert_eq!(after[..2], before[..]);
        assert_eq!(after[2].1, "evt_c");
        assert!(after[2].0 > after[1].0);
        // The rebuilt table never hands out an old id, even once emptied.
        let pks: Vec<i64> = after.iter().map(|(pk, _)| *pk).collect();
        outbox::remove(&conn, &pks).unwrap();
        queue(&conn, "evt_d");
        assert!(queued(&conn)[0].0 > after[2].0, "{:?}", queued(&conn));
    }

    /// Migration 9 leaves the names of rows already there as they were (clients hold
    /// them), and rows made afterwards get a key in theirs, so a pk handed out again
    /// after a restore from backup never brings an old name back.
    #[test]
    fn rows_from_schema_8_keep_their_realtime_names_and_new_rows_get_keyed_ones() {
        use crate::db::{channels, users};
        use crate::realtime::{chat_channel, parse_chat_channel, personal_channel};
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        for sql in &MIGRATIONS[..8] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 8).unwrap();
        conn.execute_batch(
            "INSERT INTO apps (id, name, created_at) VALUES ('a', 'a', 0);
             INSERT INTO users (pk, app_id, id, created_at, updated_at)
                 VALUES (1, 'a', 'u1', 0, 0), (2, 'a', 'u2', 0, 0);
             INSERT INTO channels (pk, app_id, id, kind, created_at, updated_at, activity_at)
                 VALUES (1, 'a', 'old', 'group', 0, 0, 0);",
        )
        .unwrap();

        apply(&mut conn).unwrap();

        let old_channel = channels::find(&conn, "a", "old").unwrap().unwrap();
        assert_eq!(chat_channel(old_channel.realtime_name()), "chat:1");
        let old_user = users::find(&conn, "a", "u1").unwrap().unwrap();
        assert_eq!(personal_channel(old_user.realtime_name()), "personal:1");
        let ensured = users::ensure(&conn, "a", "u2").unwrap();
        assert_eq!(personal_channel(ensured), "personal:2");

        let new_channel = channels::insert(
            &conn,
            &channels::NewChannel {
                app_id: "a",
                id: "new",
                kind: "group",
                direct_key: None,
                name: None,
                custom: &serde_json::Map::new(),
                created_by: None,
            },
        )
        .unwrap();
        let name = chat_channel(new_channel.realtime_name());
        let key = name
            .strip_prefix("chat:2.")
            .unwrap_or_else(|| panic!("{name}"));
        assert!(
            key.len() == 16
                && key
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
            "{name}"
        );
        assert_eq!(parse_chat_channel(&name), Some(new_channel.realtime_name()));
        // Read back, the key is the one the insert gave.
        let again = channels::find(&conn, "a", "new").unwrap().unwrap();
        assert_eq!(again.realtime_name(), new_channel.realtime_name());
        // New users, bare (a backend names them) or through /tokens' upsert.
        let bare = users::ensure(&conn, "a", "u3").unwrap();
        assert_eq!(bare.pk, 3);
        assert!(bare.key.is_some());
        let (upserted, created) =
            users::upsert(&conn, "a", "u4", &users::UserPatch::default()).unwrap();
        assert!(created);
        assert!(upserted.realtime_key.is_some());
        assert_ne!(upserted.realtime_key, bare.key);
        assert_eq!(
            users::find(&conn, "a", "u4")
                .unwrap()
                .unwrap()
                .realtime_name(),
            upserted.realtime_name()
        );
        assert!(personal_channel(upserted.realtime_name()).starts_with("personal:4."));
    }

    fn count_of(conn: &Connection, channel_pk: i64) -> (i64, i64) {
        conn.query_row(
            "SELECT member_count, (SELECT count(*) FROM members WHERE channel_pk = ?1)
             FROM channels WHERE pk = ?1",
            [channel_pk],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    }

    /// Migration 6 counts the members a database already has, and its triggers keep the
    /// count through every later insert and delete, a channel's cascade included.
    #[test]
    fn member_counts_are_backfilled_and_kept_by_the_triggers() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        // A database as a build of schema 5 left it: two channels, three members.
        for sql in &MIGRATIONS[..5] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 5).unwrap();
        conn.execute_batch(
            "INSERT INTO apps (id, name, created_at) VALUES ('a', 'a', 0);
             INSERT INTO users (pk, app_id, id, created_at, updated_at)
                 VALUES (1, 'a', 'u1', 0, 0), (2, 'a', 'u2', 0, 0), (3, 'a', 'u3', 0, 0);
             INSERT INTO channels (pk, app_id, id, kind, created_at, updated_at, activity_at)
                 VALUES (1, 'a', 'big', 'group', 0, 0, 0), (2, 'a', 'small', 'group', 0, 0, 0);
             INSERT INTO members (channel_pk, user_pk, role, joined_at)
                 VALUES (1, 1, 'owner', 0), (1, 2, 'member', 0), (2, 3, 'owner', 0);",
        )
        .unwrap();

        apply(&mut conn).unwrap();
        assert_eq!(count_of(&conn, 1), (2, 2));
        assert_eq!(count_of(&conn, 2), (1, 1));

        // The service's own statements (db::members), a duplicate that changes nothing,
        // and a removal.
        let add = |channel: i64, user: i64| {
            crate::db::members::add(&conn, channel, user, "member").unwrap()
        };
        assert!(add(1, 3));
        assert!(!add(1, 3), "already a member");
        assert_eq!(count_of(&conn, 1), (3, 3));
        assert!(crate::db::members::remove(&conn, 1, 2).unwrap());
        assert_eq!(count_of(&conn, 1), (2, 2));
        assert_eq!(crate::db::members::count(&conn, 1).unwrap(), 2);
        // Deleting a channel takes its members by cascade; the other channel's count stays.
        conn.execute("DELETE FROM channels WHERE pk = 1", [])
            .unwrap();
        assert_eq!(count_of(&conn, 2), (1, 1));
    }
}
