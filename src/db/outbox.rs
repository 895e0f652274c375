//! The outbox: Centrifugo commands written in the same transaction as the change they
//! announce, published by the relay in `pk` order, then deleted.

use super::{DbResult, now_ms};
use crate::ids;
use crate::realtime::{Envelope, EventType};
use rusqlite::{Connection, params};
use serde_json::value::RawValue;
use serde_json::{Value, json};

/// One pending command.
#[derive(Debug, Clone)]
pub struct Pending {
    pub pk: i64,
    pub event_id: String,
    /// A Centrifugo batch command: `{"publish":{…}}`, `{"broadcast":{…}}` or `{"unsubscribe":{…}}`.
    /// Sent on as stored, never parsed into a `Value` again: wrapped in the envelope and
    /// the command, a `custom` as deep as a request may carry is deeper than serde_json's
    /// recursion limit.
    pub command: Box<RawValue>,
    pub created_at: i64,
}

/// Queues an event for `channels` (one publish, or one broadcast for several).
/// Returns the event id, which is also Centrifugo's `idempotency_key`.
pub fn publish(
    conn: &Connection,
    channels: &[String],
    kind: EventType,
    channel_id: &str,
    seq: i64,
    data: Value,
) -> DbResult<String> {
    let event_id = ids::new_prefixed_id("evt");
    let envelope = Envelope {
        kind,
        event_id: &event_id,
        channel_id,
        seq,
        data,
    };
    let data = serde_json::to_value(&envelope).expect("an envelope always serializes");
    let command = match channels {
        [one] => json!({"publish": {"channel": one, "data": data, "idempotency_key": event_id}}),
        many => json!({"broadcast": {"channels": many, "data": data, "idempotency_key": event_id}}),
    };
    insert(conn, &event_id, &command)?;
    Ok(event_id)
}

/// Queues an unsubscribe of `user` (a Centrifugo user id) from `channel`.
pub fn unsubscribe(conn: &Connection, channel: &str, user: &str) -> DbResult<()> {
    let event_id = ids::new_prefixed_id("evt");
    insert(
        conn,
        &event_id,
        &json!({"unsubscribe": {"channel": channel, "user": user}}),
    )
}

/// Queues a disconnect of every live connection of `user` (a Centrifugo user id).
pub fn disconnect(conn: &Connection, user: &str) -> DbResult<()> {
    let event_id = ids::new_prefixed_id("evt");
    insert(conn, &event_id, &json!({"disconnect": {"user": user}}))
}

/// Queues the removal of a deleted channel's Centrifugo history.
pub fn history_remove(conn: &Connection, channel: &str) -> DbResult<()> {
    let event_id = ids::new_prefixed_id("evt");
    insert(
        conn,
        &event_id,
        &json!({"history_remove": {"channel": channel}}),
    )
}

fn insert(conn: &Connection, event_id: &str, command: &Value) -> DbResult<()> {
    conn.prepare_cached("INSERT INTO outbox (event_id, command, created_at) VALUES (?1, ?2, ?3)")?
        .execute(params![event_id, command.to_string(), now_ms()])?;
    Ok(())
}

/// The oldest `limit` pending commands, in order.
pub fn peek(conn: &Connection, limit: usize) -> DbResult<Vec<Pending>> {
    let mut stmt = conn.prepare_cached(
        "SELECT pk, event_id, command, created_at FROM outbox ORDER BY pk LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit as i64], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?, r.get(3)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (pk, event_id, command, created_at) = row?;
        out.push(Pending {
            pk,
            event_id,
            // A row that is not JSON (never written by this module) is sent as `null`,
            // which Centrifugo refuses for good: it moves to `outbox_failed` instead of
            // holding up the queue.
            command: RawValue::from_string(command).unwrap_or_else(|_| RawValue::NULL.to_owned()),
            created_at,
        });
    }
    Ok(out)
}

/// Removes delivered (or permanently failed) commands.
pub fn remove(conn: &Connection, pks: &[i64]) -> DbResult<()> {
    let mut stmt = conn.prepare_cached("DELETE FROM outbox WHERE pk = ?1")?;
    for pk in pks {
        stmt.execute([pk])?;
    }
    Ok(())
}

/// Moves a command Centrifugo refused for good to `outbox_failed`, with the reason.
pub fn fail_permanently(conn: &Connection, pk: i64, code: u32, reason: &str) -> DbResult<()> {
    conn.prepare_cached(
        "INSERT INTO outbox_failed (event_id, command, created_at, failed_at, code, reason)
         SELECT event_id, command, created_at, ?2, ?3, ?4 FROM outbox WHERE pk = ?1",
    )?
    .execute(params![pk, now_ms(), code, reason])?;
    conn.prepare_cached("DELETE FROM outbox WHERE pk = ?1")?
        .execute([pk])?;
    Ok(())
}

/// Records a failed attempt on a command that will be retried.
pub fn record_failure(conn: &Connection, pk: i64, error: &str) -> DbResult<()> {
    conn.prepare_cached(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?2 WHERE pk = ?1",
    )?
    .execute(params![pk, error])?;
    Ok(())
}

/// How many commands wait, and the creation time of the oldest.
pub fn backlog(conn: &Connection) -> DbResult<(i64, Option<i64>)> {
    Ok(
        conn.query_row("SELECT count(*), min(created_at) FROM outbox", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?,
    )
}

/// How many events were refused for good.
pub fn failed_count(conn: &Connection) -> DbResult<i64> {
    Ok(conn.query_row("SELECT count(*) FROM outbox_failed", [], |r| r.get(0))?)
}
