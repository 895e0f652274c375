//! The one door to SQLite.
//!
//! - Writes go to one writer thread that owns the write connection. It takes every job
//!   queued, runs them in one `BEGIN IMMEDIATE` transaction with a savepoint per job
//!   (a failing job rolls back alone) and commits once: group commit, so
//!   `synchronous=FULL` stays fast.
//! - WAL checkpoints run on a thread of their own (`checkpoint`), not inside a commit,
//!   up to a cap on the WAL's length.
//! - Reads run on the blocking thread pool with connections from a small pool.
//!
//! No SQLite call ever runs on an async worker thread.

pub mod apps;
pub mod channels;
mod checkpoint;
pub mod keys;
pub mod members;
pub mod messages;
mod migrations;
pub use migrations::SCHEMA_VERSION;
pub mod outbox;
pub mod users;

use rusqlite::{Connection, OpenFlags};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// How long a connection waits for another process's write lock (the CLI, a backup).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Most jobs committed in one transaction.
const MAX_BATCH: usize = 512;
/// Jobs waiting for the writer before callers wait for room.
const WRITE_QUEUE: usize = 4096;
/// Idle read connections kept open.
const MAX_IDLE_READERS: usize = 8;

/// SQLite's `synchronous` setting of the write connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// fsync at every commit: acknowledged writes survive power loss. The service's setting.
    Full,
    /// WAL without fsync at commit: survives a process crash, may lose the last commits on power loss.
    Normal,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("the database writer has stopped")]
    WriterGone,
    #[error("a blocking database task failed: {0}")]
    Task(String),
}

pub type DbResult<T> = Result<T, DbError>;

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    writer: mpsc::Sender<Box<dyn WriteJob>>,
    readers: Arc<ReadPool>,
    _checkpointer: checkpoint::Checkpointer,
}

impl Db {
    /// Opens (creating if needed) the database, applies migrations and starts the writer.
    pub fn open(path: &Path) -> DbResult<Db> {
        Self::open_with(path, Synchronous::Full)
    }

    /// Like `open`, with another `synchronous` mode: for benchmarks that measure its cost.
    pub fn open_with(path: &Path, synchronous: Synchronous) -> DbResult<Db> {
        let mut conn = open_connection(path)?;
        // WAL lets readers (and the CLI) work beside the writer.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        migrations::apply(&mut conn)?;
        // FULL: an acknowledged commit survives power loss, not only a process crash.
        conn.pragma_update(None, "synchronous", synchronous.pragma())?;
        // The checkpoint thread does the copying; the writer checkpoints only at the cap.
        conn.pragma_update(None, "wal_autocheckpoint", checkpoint::CAP_PAGES)?;
        let checkpointer = checkpoint::Checkpointer::start(path)?;
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run_writer(conn, rx))
            .map_err(|e| DbError::Task(format!("cannot start writer thread: {e}")))?;
        Ok(Db {
            writer: tx,
            readers: Arc::new(ReadPool {
                path: path.to_path_buf(),
                idle: Mutex::new(Vec::new()),
            }),
            _checkpointer: checkpointer,
        })
    }

    /// Runs `f` on a read connection, off the async workers.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.take()?;
            let result = f(&conn);
            pool.put_back(conn);
            result
        })
        .await
        .map_err(|e| E::from(DbError::Task(e.to_string())))?
    }

    /// Runs `f` inside the writer's transaction (in its own savepoint) and waits for the
    /// commit. An `Err` from `f` rolls back its savepoint only; the batch commits the rest.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Job {
            work: Some(f),
            result: None,
            reply,
        });
        self.writer
            .send(job)
            .await
            .map_err(|_| E::from(DbError::WriterGone))?;
        answer.await.map_err(|_| E::from(DbError::WriterGone))?
    }
}

impl Db {
    /// Copies the WAL into the main file and truncates it (at shutdown: a clean file).
    pub async fn checkpoint(&self) -> DbResult<()> {
        self.read(|c| {
            // The first column says whether a reader kept the checkpoint from finishing.
            for _ in 0..50 {
                let busy: i64 = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
                if busy == 0 {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(DbError::Task(
                "WAL checkpoint stayed busy: a reader held it".into(),
            ))
        })
        .await
    }

    /// Takes a consistent copy of the live database into `target` with SQLite's online
    /// backup API.
    pub fn backup(source: &Path, target: &Path) -> DbResult<i32> {
        let src = open_connection(source)?;
        let mut dst = Connection::open(target)?;
        let backup = rusqlite::backup::Backup::new(&src, &mut dst)?;
        // One step: it copies under one read snapshot. Small steps would restart at every
        // commit of a busy server and never finish; in WAL mode the snapshot does not
        // hold up the writer.
        backup.step(-1)?;
        let pages = backup.progress().pagecount;
        drop(backup);
        dst.pragma_update(None, "journal_mode", "WAL")?;
        Ok(pages)
    }
}

fn open_connection(path: &Path) -> DbResult<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    fn take(&self) -> DbResult<Connection> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match idle {
            Some(conn) => Ok(conn),
            None => open_connection(&self.path),
        }
    }

    fn put_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
    }
}

/// A queued write: runs inside the batch transaction, answers after the commit.
trait WriteJob: Send {
    /// Runs the work; false means it failed and its savepoint must be rolled back.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Delivers the outcome once the batch's commit is known.
    fn finish(self: Box<Self>, commit: DbResult<()>);
}

struct Job<T, E, F> {
    work: Option<F>,
    result: Option<Result<T, E>>,
    reply: oneshot::Sender<Result<T, E>>,
}

impl<T, E, F> WriteJob for Job<T, E, F>
where
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
    F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let result = match self.work.take() {
            Some(work) => work(conn),
            None => Err(E::from(DbError::Task("job ran twice".into()))),
        };
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, commit: DbResult<()>) {
        let outcome = match (self.result, commit) {
            (Some(Err(e)), _) => Err(e),
            (_, Err(e)) => Err(E::from(e)),
            (Some(Ok(v)), Ok(())) => Ok(v),
            (None, Ok(())) => Err(E::from(DbError::Task("job never ran".into()))),
        };
        // The caller may have gone away (request cancelled); the write stands regardless.
        let _ = self.reply.send(outcome);
    }
}

fn run_writer(conn: Connection, mut rx: mpsc::Receiver<Box<dyn WriteJob>>) {
    let mut batch: Vec<Box<dyn WriteJob>> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let commit = run_batch(&conn, &mut batch);
        let shared = commit.as_ref().map(|_| ()).map_err(|e| e.to_string());
        for job in batch.drain(..) {
            job.finish(match &shared {
                Ok(()) => Ok(()),
                Err(msg) => Err(DbError::Task(format!("commit failed: {msg}"))),
            });
        }
    }
}

fn run_batch(conn: &Connection, batch: &mut [Box<dyn WriteJob>]) -> DbResult<()> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    for job in batch.iter_mut() {
        // Cached statements: parsing these three on every job showed in profiles.
        let step = conn
            .prepare_cached("SAVEPOINT job")
            .and_then(|mut s| s.execute([]))
            // A panicking job counts as failed; the writer thread must outlive it.
            .map(|_| std::panic::catch_unwind(AssertUnwindSafe(|| job.run(conn))).unwrap_or(false))
            .and_then(|ok| {
                if !ok {
                    conn.prepare_cached("ROLLBACK TO job")?.execute([])?;
                }
                conn.prepare_cached("RELEASE job")?.execute([])
            })
            .map(|_| ());
        if let Err(e) = step {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e.into());
        }
    }
    if let Err(e) = conn.execute_batch("COMMIT") {
        let _ = conn.execute_batch("ROLLBACK");
        return Err(e.into());
    }
    Ok(())
}

/// Milliseconds since the Unix epoch: how times are stored.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
