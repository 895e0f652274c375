//! The one door to SQLite.
//!
//! - Writes go to one writer thread (`writer`) that owns the write connection. It takes
//!   every job queued, runs them in one `BEGIN IMMEDIATE` transaction with a savepoint
//!   per job (a failing job rolls back alone) and commits once: group commit, so
//!   `synchronous=FULL` stays fast.
//! - WAL checkpoints run on a thread of their own (`checkpoint`), not inside a commit,
//!   up to a cap on the WAL's length.
//! - Reads go to a few reader threads (`readers`), each with a connection of its own. A
//!   reader takes every read queued and runs them in one read transaction: SQLite takes
//!   its file locks (an `fcntl` each, contended between threads) once per batch instead
//!   of once per statement, and no thread or connection is made per request.
//!
//! No SQLite call ever runs on an async worker thread.

pub mod apps;
pub mod channels;
mod checkpoint;
pub mod keys;
pub mod members;
pub mod messages;
mod migrations;
mod readers;
mod writer;
pub use migrations::{SCHEMA_VERSION, schema_version};
pub mod outbox;
pub mod purge;
pub mod users;

use readers::{Read, ReadJob, run_reader};
use rusqlite::{Connection, ErrorCode, OpenFlags, config::DbConfig};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use writer::{Job, WriteJob, run_writer};

/// How long a connection waits for another process's write lock (the CLI, a backup).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Jobs waiting for the writer before callers wait for room.
const WRITE_QUEUE: usize = 4096;
/// Reader threads, each with one connection: one per core of the machine this was
/// measured on (2); more only add lock contention between them.
const READERS: usize = 2;
/// Reads waiting for a reader before callers wait for room.
const READ_QUEUE: usize = 4096;

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
    #[error("the database reader has stopped")]
    ReaderGone,
    #[error("a blocking database task failed: {0}")]
    Task(String),
    #[error(
        "{0} can only be read: ChatSDK writes on every request (check the permissions of the \
         file and of its folder, where SQLite keeps the -wal and -shm files beside it)"
    )]
    ReadOnly(String),
}

pub type DbResult<T> = Result<T, DbError>;

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    writer: mpsc::Sender<Box<dyn WriteJob>>,
    readers: mpsc::Sender<Box<dyn ReadJob>>,
    path: Arc<PathBuf>,
    _checkpointer: checkpoint::Checkpointer,
}

impl Db {
    /// Opens (creating if needed) the database, applies migrations and starts the writer,
    /// the readers and the checkpoint thread.
    pub fn open(path: &Path) -> DbResult<Db> {
        Self::open_with(path, Synchronous::Full)
    }

    /// Like `open`, with another `synchronous` mode: for benchmarks that measure its cost.
    pub fn open_with(path: &Path, synchronous: Synchronous) -> DbResult<Db> {
        Self::start(path, synchronous, true)
    }

    /// Opens the database as it is, for commands that only read (`app list`, `key list`):
    /// no migration, whatever its schema version (`schema_version` tells it). During an
    /// upgrade an older server may still serve it, and must not find its schema changed.
    pub fn open_as_is(path: &Path) -> DbResult<Db> {
        Self::start(path, Synchronous::Full, false)
    }

    fn start(path: &Path, synchronous: Synchronous, migrate: bool) -> DbResult<Db> {
        // Found at start, not at the first request: SQLite opens a file it may not write
        // read-only without a word, and every write would then fail with a 500.
        let read_only = || DbError::ReadOnly(path.display().to_string());
        let mut conn = open_connection(path)?;
        if conn.is_readonly("main")? {
            return Err(read_only());
        }
        // WAL lets readers (and the CLI) work beside the writer.
        let setup = if migrate {
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(DbError::from)
                .and_then(|()| migrations::apply(&mut conn))
        } else {
            Ok(())
        };
        match setup {
            // A writable file in a folder that is not: the -wal and -shm files fail.
            Err(DbError::Sqlite(e)) if e.sqlite_error_code() == Some(ErrorCode::ReadOnly) => {
                return Err(read_only());
            }
            other => other?,
        }
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
        let (read_tx, read_rx) = mpsc::channel(READ_QUEUE);
        let read_rx = Arc::new(Mutex::new(read_rx));
        for i in 0..READERS {
            let conn = open_connection(path)?;
            let queue = read_rx.clone();
            std::thread::Builder::new()
                .name(format!("sqlite-reader-{i}"))
                .spawn(move || run_reader(conn, &queue))
                .map_err(|e| DbError::Task(format!("cannot start reader thread: {e}")))?;
        }
        Ok(Db {
            writer: tx,
            readers: read_tx,
            path: Arc::new(path.to_path_buf()),
            _checkpointer: checkpointer,
        })
    }

    /// Runs `f` on a reader thread's connection, inside the read transaction of its batch:
    /// it sees every write committed before it was queued.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Read { work: f, reply });
        self.readers
            .send(job)
            .await
            .map_err(|_| E::from(DbError::ReaderGone))?;
        answer.await.map_err(|_| E::from(DbError::ReaderGone))?
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
    /// Copies the WAL into the main file and truncates it (at shutdown: a clean file),
    /// giving up after `within`: a reader inside a long transaction (a `sqlite3` session
    /// left in `BEGIN`) holds it for as long as it likes, and the stop must end inside
    /// its grace period. A WAL left behind is whole; the next start carries on from it.
    /// On a connection of its own: a checkpoint cannot run inside a reader's transaction.
    pub async fn checkpoint(&self, within: Duration) -> DbResult<()> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let c = open_connection(&path)?;
            let deadline = std::time::Instant::now() + within;
            loop {
                // Each try waits for the locks no later than the deadline.
                c.busy_timeout(deadline.saturating_duration_since(std::time::Instant::now()))?;
                // The first column says whether a reader kept it from finishing.
                let busy: i64 = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
                if busy == 0 {
                    return Ok(());
                }
                if std::time::Instant::now() >= deadline {
                    return Err(DbError::Task(format!(
                        "a reader held the WAL for {} s; it stays for the next start",
                        within.as_secs()
                    )));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
        .await
        .map_err(|e| DbError::Task(e.to_string()))?
    }

    /// Takes a consistent copy of the live database into `target` with SQLite's online
    /// backup API.
    pub fn backup(source: &Path, target: &Path) -> DbResult<i32> {
        let src = open_connection(source)?;
        create_private(target);
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

/// Whether another connection, in any process, may have the database file at `path` open
/// (a server, a `sqlite3` shell): `Err` says why it may. Found by asking for the file's
/// exclusive lock at once, which any SQLite connection to it in WAL mode withholds, even
/// an idle one. A file that is missing, that SQLite cannot open, or that is not a
/// database, is in no one's use as one. Taking the lock also lets SQLite finish a crashed
/// database's own `-wal` or journal into it, and closing removes them, so no log of it is
/// left behind.
pub fn check_not_open_elsewhere(path: &Path) -> Result<(), String> {
    let Ok(conn) = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    ) else {
        return Ok(());
    };
    // At once: an open connection holds its lock for as long as it is open.
    let claimed = conn
        .busy_timeout(Duration::ZERO)
        .and_then(|()| conn.pragma_update(None, "locking_mode", "EXCLUSIVE"))
        .and_then(|()| conn.execute_batch("BEGIN EXCLUSIVE; ROLLBACK;"));
    match claimed.map_err(|e| (e.sqlite_error_code(), e)) {
        Ok(()) | Err((Some(ErrorCode::NotADatabase), _)) => Ok(()),
        Err((Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked), _)) => {
            Err("is open in another process (a server, a sqlite3 shell)".into())
        }
        Err((_, e)) => Err(format!("cannot be checked for other users of it ({e})")),
    }
}

/// Creates `path` empty, readable and writable by its owner only, unless it exists: the
/// database (and a backup) holds every app's users and messages. SQLite gives the -wal
/// and -shm files the database file's mode. An existing file keeps its mode; a `file:`
/// URI is SQLite's to open. Any failure is left to SQLite to report when it opens.
fn create_private(path: &Path) {
    if path.to_str().is_some_and(|p| p.starts_with("file:")) {
        return;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let _ = options.open(path);
}

fn open_connection(path: &Path) -> DbResult<Connection> {
    create_private(path);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Applies where the log starts over: on the writer, and on the CLI's connections.
    conn.pragma_update(None, "journal_size_limit", checkpoint::WAL_SIZE_LIMIT_BYTES)?;
    // Plans never depend on bound values. Without this, SQLite (3.50) peeks at the value
    // bound to `LIMIT ?` while compiling and marks the statement to be compiled again
    // whenever that parameter is bound anew: every run of a cached history-page query
    // was parsed and planned from scratch. We run no ANALYZE, so the values taught the
    // planner nothing.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Makes a batch: `first`, then whatever else is queued already, up to `max` jobs.
fn take_queued<J>(first: J, rx: &mut mpsc::Receiver<J>, batch: &mut Vec<J>, max: usize) {
    batch.push(first);
    while batch.len() < max {
        match rx.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

/// Milliseconds since the Unix epoch: how times are stored.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_opened_read_only_is_refused_at_once_naming_the_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.db");
        drop(Db::open(&file).unwrap());
        // What SQLite does with a file this user may not write, without needing another
        // user: the URI asks for read-only.
        let uri = format!("file:{}?mode=ro", file.display());

        let err = Db::open(Path::new(&uri)).err().expect("refused");

        assert!(matches!(err, DbError::ReadOnly(_)), "{err}");
        assert!(err.to_string().contains("check the permissions"), "{err}");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_new_database_its_wal_and_a_backup_are_private_to_their_owner() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.db");
        let db = Db::open(&file).unwrap();
        db.write(|c| Ok::<_, DbError>(c.execute_batch("CREATE TABLE t (n INTEGER)")?))
            .await
            .unwrap();
        let copy = dir.path().join("copy.db");
        Db::backup(&file, &copy).unwrap();

        for path in [
            file.clone(),
            dir.path().join("t.db-wal"),
            dir.path().join("t.db-shm"),
            copy,
        ] {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
        // An operator's own choice stays.
        let shared = dir.path().join("shared.db");
        std::fs::write(&shared, b"").unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o640)).unwrap();
        drop(Db::open(&shared).unwrap());
        assert_eq!(mode(&shared), 0o640);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn batched_reads_see_every_write_acknowledged_before_them_and_a_panicking_read_harms_none()
     {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        db.write(|c| Ok::<_, DbError>(c.execute_batch("CREATE TABLE t (n INTEGER)")?))
            .await
            .unwrap();
        // Eight writers, each reading right after its own acknowledged write: the reads of
        // all of them share batches, and each must see its own write.
        let tasks: Vec<_> = (0..8)
            .map(|w| {
                let db = db.clone();
                tokio::spawn(async move {
                    for i in 0..100 {
                        let n = w * 1000 + i;
                        db.write(move |c| {
                            Ok::<_, DbError>(c.execute("INSERT INTO t VALUES (?1)", [n])?)
                        })
                        .await
                        .unwrap();
                        let seen: bool = db
                            .read(move |c| {
                                Ok::<_, DbError>(
                                    c.query_row("SELECT count(*) FROM t WHERE n = ?1", [n], |r| {
                                        r.get::<_, i64>(0)
                                    })? == 1,
                                )
                            })
                            .await
                            .unwrap();
                        assert!(seen, "a read missed the write acknowledged before it ({n})");
                    }
                })
            })
            .collect();
        let panicking = db.read(|_| -> DbResult<()> { panic!("a read that panics") });
        assert!(matches!(panicking.await, Err(DbError::ReaderGone)));
        for t in tasks {
            t.await.unwrap();
        }
        let total: i64 = db
            .read(|c| Ok::<_, DbError>(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(total, 800);
    }

    /// Runs a cached `LIMIT ?` query three times with different limits and returns how
    /// many rows each run gave and how often SQLite had to compile the statement again.
    fn limit_runs(c: &Connection) -> DbResult<(Vec<usize>, i32)> {
        const SQL: &str = "SELECT name FROM sqlite_schema ORDER BY name LIMIT ?1";
        let mut counts = Vec::new();
        for limit in [1, 2, 3] {
            let mut stmt = c.prepare_cached(SQL)?;
            counts.push(stmt.query_map([limit], |r| r.get::<_, String>(0))?.count());
        }
        let reprepared = c
            .prepare_cached(SQL)?
            .get_status(rusqlite::StatementStatus::RePrepare);
        Ok((counts, reprepared))
    }

    /// A history page is a cached `LIMIT ?` query. SQLite 3.50 recompiles such a statement
    /// on every run unless the connection is opened with the query planner stability
    /// guarantee; both kinds of connection must have it.
    #[tokio::test]
    async fn cached_limit_queries_are_not_recompiled_on_every_run() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        // The migrated schema has more than three entries, so each limit shows.
        let on_reader = db.read(limit_runs).await.unwrap();
        let on_writer = db.write(limit_runs).await.unwrap();
        for (name, (counts, reprepared)) in [("reader", on_reader), ("writer", on_writer)] {
            assert_eq!(counts, [1, 2, 3], "{name}: LIMIT must still limit");
            assert_eq!(reprepared, 0, "{name}: the statement was compiled again");
        }
    }
}
