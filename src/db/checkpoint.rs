//! WAL checkpoints, off the writer thread.
//!
//! SQLite's automatic checkpoint runs inside the `COMMIT` that takes the WAL past 1,000
//! pages: it copies pages into the main file and, with `synchronous=FULL`, fsyncs it, on
//! the writer thread, so every request of that batch waits for it. Here:
//!
//! - every `EVERY`, this thread runs a `PASSIVE` checkpoint on its own connection: it
//!   copies what it can and never blocks the writer or a reader;
//! - the writer's automatic checkpoint stays on, at `CAP_PAGES`, as the cap on the WAL.
//!   Under a steady stream of commits a concurrent checkpoint rarely catches up with the
//!   last frame, and only a complete one lets the WAL start over; the writer's own
//!   checkpoint completes, and it copies only the frames this thread has not.

use super::{DbResult, open_connection};
use crate::logging::{Outage, Report};
use rusqlite::Connection;
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

/// How often the WAL is checkpointed.
const EVERY: Duration = Duration::from_millis(200);
/// How often a checkpoint failure that lasts is logged again.
const FAILURE_LOG_EVERY: Duration = Duration::from_secs(60);
/// WAL length (pages, 4 KiB each) at which the writer checkpoints itself: 16 MiB.
pub const CAP_PAGES: i64 = 4096;
/// Size (bytes) a WAL file is cut back to when the log starts over. SQLite never shrinks
/// the file on its own, so a WAL once grown by a long transaction (a bulk write from
/// another process) would keep its size on disk until shutdown. Twice the cap: the
/// service's own WAL stays near the cap (16.9 MB under the benches' loads), so it is not
/// cut and regrown in normal work.
pub const WAL_SIZE_LIMIT_BYTES: i64 = 2 * CAP_PAGES * 4096;

/// Keeps the checkpoint thread alive: it stops once every handle is dropped.
#[derive(Clone)]
pub struct Checkpointer {
    _alive: mpsc::Sender<()>,
}

/// The line, if any, a checkpoint's outcome is worth (`error`: why it failed).
fn log_outcome(report: Report, error: Option<&super::DbError>) {
    match (report, error) {
        (Report::Began, Some(e)) => {
            log::warn!("WAL checkpoint failed (retried every {EVERY:?}): {e}")
        }
        (Report::Lasting { since, tries }, Some(e)) => log::warn!(
            "WAL checkpoint still failing after {} s ({tries} tries): {e}",
            since.as_secs()
        ),
        (Report::Ended { since, tries }, _) => log::info!(
            "WAL checkpoint works again after {} s ({tries} failed tries)",
            since.as_secs()
        ),
        _ => {}
    }
}

impl Checkpointer {
    /// Starts the thread with its own connection to `path`.
    pub fn start(path: &Path) -> DbResult<Checkpointer> {
        let conn = open_connection(path)?;
        let (alive, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                // A failure that lasts (a full disk) is logged when it starts, then once a
                // minute, and when it ends: not five lines a second.
                let mut outage = Outage::new(FAILURE_LOG_EVERY);
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                    match checkpoint(&conn) {
                        Ok(()) => log_outcome(outage.succeeded(), None),
                        Err(e) => log_outcome(outage.failed(), Some(&e)),
                    }
                }
            })
            .map_err(|e| super::DbError::Task(format!("cannot start checkpoint thread: {e}")))?;
        Ok(Checkpointer { _alive: alive })
    }
}

/// One `PASSIVE` checkpoint.
fn checkpoint(conn: &Connection) -> DbResult<()> {
    // Columns: busy (1 when a lock kept it from finishing), WAL pages, pages copied.
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use std::path::PathBuf;

    /// A database in a temp dir (kept while the guard lives) with a table `scratch (b BLOB)`.
    async fn scratch_db() -> (tempfile::TempDir, PathBuf, Db) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let db = Db::open(&path).unwrap();
        db.write(|c| {
            c.execute_batch("CREATE TABLE scratch (b BLOB)")
                .map_err(crate::db::DbError::from)
        })
        .await
        .unwrap();
        (dir, path, db)
    }

    /// Writes of several times the cap: the WAL stays near the cap, and every row reaches
    /// the main file without a shutdown checkpoint.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_reach_the_main_file_and_the_wal_stays_bounded() {
        let (_dir, path, db) = scratch_db().await;
        // 72 MiB of rows in 18k writes, 256 at a time: four and a half times the cap, so
        // the writer's own checkpoints leave the last rows to this thread.
        let wal = path.with_extension("db-wal");
        let mut max_wal = 0;
        for _ in 0..72 {
            let writes = (0..256).map(|_| {
                db.write(|c| {
                    c.execute("INSERT INTO scratch VALUES (zeroblob(4000))", [])
                        .map_err(crate::db::DbError::from)
                })
            });
            for w in futures_util::future::join_all(writes).await {
                w.unwrap();
            }
            max_wal = max_wal.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        }
        let written = 72 * 256 * 4000;
        assert!(
            max_wal < written / 2,
            "the WAL grew to {max_wal} bytes for {written} bytes written"
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let main = std::fs::metadata(&path).unwrap().len();
            if main >= written {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "after 10 s the main file holds {main} of {written} bytes"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A WAL grown far past the cap by another process's long transaction (a script, a
    /// bulk import) is cut back once the log starts over, not kept at that size on disk
    /// until shutdown.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wal_grown_by_another_process_is_cut_back() {
        let (_dir, path, db) = scratch_db().await;
        let insert = |c: &Connection| {
            c.execute("INSERT INTO scratch VALUES (zeroblob(100))", [])
                .map_err(crate::db::DbError::from)
        };
        // ≈ 47 MiB in one transaction (12,288 rows of 4,000 bytes), on a plain connection,
        // as another process would write it.
        let outside = Connection::open(&path).unwrap();
        outside
            .execute_batch(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12288)
                 INSERT INTO scratch SELECT zeroblob(4000) FROM n",
            )
            .unwrap();
        drop(outside);
        let wal = path.with_extension("db-wal");
        let limit = WAL_SIZE_LIMIT_BYTES as u64;
        let grown = std::fs::metadata(&wal).unwrap().len();
        assert!(
            grown > limit + (8 << 20),
            "the long transaction left a WAL of only {grown} bytes"
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            db.write(insert).await.unwrap();
            let size = std::fs::metadata(&wal).unwrap().len();
            if size <= limit {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "after 10 s of writes the WAL is still {size} bytes (limit {limit})"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
