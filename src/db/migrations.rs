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
];

/// The schema version this build creates and expects (`PRAGMA user_version`).
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

pub fn apply(conn: &mut Connection) -> DbResult<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let current: usize = tx.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        log::info!("applied database migration {}", i + 1);
    }
    tx.commit()?;
    Ok(())
}
