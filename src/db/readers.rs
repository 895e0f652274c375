//! The reader threads: each takes every read queued (they share one queue) and runs the
//! batch in one read transaction on a connection of its own.

use super::{DbError, take_queued};
use rusqlite::Connection;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use tokio::sync::{mpsc, oneshot};

/// Most reads run in one read transaction.
const MAX_READ_BATCH: usize = 256;

/// A queued read: runs inside its batch's read transaction and answers at once.
pub(super) trait ReadJob: Send {
    fn run(self: Box<Self>, conn: &Connection);
}

pub(super) struct Read<T, E, F> {
    pub(super) work: F,
    pub(super) reply: oneshot::Sender<Result<T, E>>,
}

impl<T, E, F> ReadJob for Read<T, E, F>
where
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
    F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) {
        let Read { work, reply } = *self;
        // The caller may have gone away (request cancelled): nothing to tell.
        let _ = reply.send(work(conn));
    }
}

/// A reader thread: takes every queued read (the readers share one queue), runs them in
/// one read transaction, and answers each as it finishes.
pub(super) fn run_reader(conn: Connection, queue: &Mutex<mpsc::Receiver<Box<dyn ReadJob>>>) {
    let mut batch: Vec<Box<dyn ReadJob>> = Vec::with_capacity(MAX_READ_BATCH);
    loop {
        {
            // One reader waits on the queue at a time; the other runs its batch meanwhile.
            let mut rx = queue.lock().unwrap_or_else(|p| p.into_inner());
            match rx.blocking_recv() {
                Some(first) => take_queued(first, &mut rx, &mut batch, MAX_READ_BATCH),
                None => return,
            }
        }
        // A deferred transaction: its snapshot starts at the first read, after every job
        // of the batch was queued. Were BEGIN to fail, each read runs on its own.
        let in_txn = conn
            .prepare_cached("BEGIN")
            .and_then(|mut s| s.execute([]))
            .is_ok();
        for job in batch.drain(..) {
            // A panicking read drops its reply (the caller sees `ReaderGone`); the
            // thread lives on.
            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job.run(&conn)));
        }
        if in_txn
            && conn
                .prepare_cached("COMMIT")
                .and_then(|mut s| s.execute([]))
                .is_err()
        {
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
}
