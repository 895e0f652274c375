//! What durability costs: message-sized writes per second with `synchronous=FULL` and
//! `NORMAL`, through the service's writer thread (group commit) and with one transaction
//! per write on a shared connection (no group commit).
//!
//! Run: `cargo bench --bench durability` (add `-- --writes 20000 --writers 64` to change the load).

use chatsdk::db::{Db, DbError, Synchronous};
use rusqlite::{Connection, params};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS bench (pk INTEGER PRIMARY KEY, channel INTEGER, body TEXT, at INTEGER)";
const BODY: &str = "a chat message of about the usual length, sixty-some bytes.";

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let writes = arg("--writes", 10_000);
    let writers = arg("--writers", 64);
    println!("command: cargo bench --bench durability -- --writes {writes} --writers {writers}");
    println!(
        "{writes} single-row writes from {writers} concurrent writers; temp file on {}",
        std::env::temp_dir().display()
    );
    println!(
        "{:<44} {:>12} {:>10} {:>10}",
        "mode", "writes/s", "p50", "p99"
    );
    for sync in [Synchronous::Full, Synchronous::Normal] {
        report(
            &format!("group commit (writer thread), {sync:?}"),
            group_commit(sync, writes, writers),
        );
        report(
            &format!("one transaction per write, {sync:?}"),
            per_write(sync, writes, writers),
        );
    }
}

fn report(mode: &str, (elapsed, mut lat): (Duration, Vec<Duration>)) {
    lat.sort();
    let q = |p: f64| lat[((lat.len() as f64 - 1.0) * p) as usize];
    println!(
        "{mode:<44} {:>12.0} {:>8.2}ms {:>8.2}ms",
        lat.len() as f64 / elapsed.as_secs_f64(),
        q(0.5).as_secs_f64() * 1e3,
        q(0.99).as_secs_f64() * 1e3
    );
}

fn group_commit(sync: Synchronous, writes: usize, writers: usize) -> (Duration, Vec<Duration>) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_with(&dir.path().join("b.db"), sync).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        db.write(|c| Ok::<_, DbError>(c.execute_batch(SCHEMA)?))
            .await
            .unwrap();
        let start = Instant::now();
        let tasks: Vec<_> = (0..writers)
            .map(|w| {
                let db = db.clone();
                tokio::spawn(async move {
                    let mut lat = Vec::new();
                    for i in (w..writes).step_by(writers) {
                        let t = Instant::now();
                        db.write(move |c| {
                            c.prepare_cached(
                                "INSERT INTO bench (channel, body, at) VALUES (?1, ?2, ?3)",
                            )?
                            .execute(params![i % 10, BODY, i])?;
                            Ok::<_, DbError>(())
                        })
                        .await
                        .unwrap();
                        lat.push(t.elapsed());
                    }
                    lat
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        (start.elapsed(), all)
    })
}

fn per_write(sync: Synchronous, writes: usize, writers: usize) -> (Duration, Vec<Duration>) {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("b.db")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(
        None,
        "synchronous",
        if sync == Synchronous::Full {
            "FULL"
        } else {
            "NORMAL"
        },
    )
    .unwrap();
    conn.execute_batch(SCHEMA).unwrap();
    let conn = Arc::new(Mutex::new(conn));
    let start = Instant::now();
    let threads: Vec<_> = (0..writers.min(16))
        .map(|w| {
            let conn = conn.clone();
            let n = writers.min(16);
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                for i in (w..writes).step_by(n) {
                    let t = Instant::now();
                    let c = conn.lock().unwrap();
                    c.execute_batch("BEGIN IMMEDIATE").unwrap();
                    c.prepare_cached("INSERT INTO bench (channel, body, at) VALUES (?1, ?2, ?3)")
                        .unwrap()
                        .execute(params![i % 10, BODY, i])
                        .unwrap();
                    c.execute_batch("COMMIT").unwrap();
                    drop(c);
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in threads {
        all.extend(t.join().unwrap());
    }
    (start.elapsed(), all)
}
