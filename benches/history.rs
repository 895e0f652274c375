//! History at scale: one channel with 1,000,000 messages, then `GET
//! /api/channels/{id}/messages` page latency over real HTTP for the newest page, a page in
//! the middle (`before=` cursor) and the oldest page (`after=0`), and the DB file size.
//! Then the same channel gets 100,000 members, and `GET …/members` pages are timed at the
//! start, the middle and the end of the member list (cursors the API gave out).
//!
//! The database is the service's own: `chatsdk serve` (release) creates it with its
//! migrations; the channel, its member and the first message are made through the REST
//! API; the other messages are copied from that first row with direct SQL in one
//! transaction (same columns, fresh `msg_` ids, consecutive `seq`, `channels.last_seq`
//! moved along), which is the state a million sends would leave, minus the time.
//!
//! Run: `cargo bench --bench history` (add `-- --messages 1000000 --reps 1000 --limit 50
//! --members 100000`).

mod support;

use rusqlite::{Connection, TransactionBehavior, params};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::{Stack, machine_notes, ms, pct};

const CHANNEL: &str = "history";

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let messages = arg("--messages", 1_000_000).max(2) as i64;
    let reps = arg("--reps", 1000).max(1);
    let limit = arg("--limit", 50);
    let members = arg("--members", 100_000).max(2);
    println!(
        "command: cargo bench --bench history -- --messages {messages} --reps {reps} --limit {limit} --members {members}"
    );
    println!("machine: {}", machine_notes());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    rt.block_on(run(messages, reps, limit, members));
}

async fn run(messages: i64, reps: usize, limit: usize, members: usize) {
    let stack = Stack::start(true).await;
    let (token, _) = stack.tokens("reader").await;
    // A fresh client after the build: the server closes connections idle for its
    // keep-alive timeout, and the build takes longer than that.
    let mut http = stack.http.clone();
    let call =
        |http: &reqwest::Client, method: reqwest::Method, path: String, body: Option<Value>| {
            let mut req = http
                .request(method, format!("{}{path}", stack.base))
                .bearer_auth(&token);
            if let Some(b) = body {
                req = req.json(&b);
            }
            req.send()
        };
    for (path, body) in [
        ("/api/channels".to_string(), json!({"id": CHANNEL})),
        (
            format!("/api/channels/{CHANNEL}/messages"),
            json!({"text": "message 1: a chat line of about the usual length, sixty-odd bytes."}),
        ),
    ] {
        let res = call(&http, reqwest::Method::POST, path.clone(), Some(body))
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(res.status().is_success(), "{path}: {}", res.status());
    }

    let started = Instant::now();
    bulk_insert(&stack.db_path(), messages);
    println!(
        "built: {messages} messages in one channel in {:.1} s (direct SQL on the service's schema)",
        started.elapsed().as_secs_f64()
    );
    let (db_size, wal_size) = sizes(&stack);
    println!(
        "database: {:.1} MiB (+ WAL {:.1} MiB)",
        db_size as f64 / 1048576.0,
        wal_size as f64 / 1048576.0
    );
    explain(&stack.db_path());
    http = reqwest::Client::new();

    println!(
        "\n{:<46} {:>8} {:>10} {:>10} {:>10} {:>14}",
        format!("GET .../messages, limit {limit}, {reps} requests"),
        "from seq",
        "p50",
        "p99",
        "max",
        "server µs/page"
    );
    let middle = messages / 2;
    for (name, query, first_seq) in [
        (
            "newest page (no cursor)",
            String::new(),
            messages - limit as i64 + 1,
        ),
        (
            "middle page (before= cursor)",
            format!("&before={middle}"),
            middle - limit as i64,
        ),
        ("oldest page (after=0)", "&after=0".to_string(), 1),
    ] {
        let path = format!("/api/channels/{CHANNEL}/messages?limit={limit}{query}");
        let (lat, cpu_per_page) = time_gets(&http, &stack, &token, &path, reps, |body| {
            let page = body["messages"].as_array().map_or(0, Vec::len);
            let seq = body["messages"][0]["seq"].as_i64().unwrap_or(-1);
            assert_eq!(
                (page, seq),
                (limit, first_seq),
                "{path}: wrong page (count, first seq)"
            );
        })
        .await;
        print_row(name, &format!("seq {first_seq}"), &lat, cpu_per_page);
    }

    // Member lists: the same channel, `members` members in all (the reader is the first).
    let started = Instant::now();
    bulk_members(&stack.db_path(), members as i64 - 1);
    println!(
        "\nbuilt: {members} members of the channel in {:.1} s (direct SQL)",
        started.elapsed().as_secs_f64()
    );
    http = reqwest::Client::new();
    // A cursor every 1,000 members, read by walking the list in pages of 1,000: where
    // the timed 100-member pages start.
    let walk = Instant::now();
    let mut cursors = vec![None];
    let mut cursor: Option<String> = None;
    let mut seen = 0;
    loop {
        let after = cursor
            .as_deref()
            .map_or(String::new(), |c| format!("&cursor={c}"));
        let path = format!("/api/channels/{CHANNEL}/members?limit=1000{after}");
        let body = get_json(&http, &stack, &token, &path).await;
        let page = body["members"].as_array().map_or(0, Vec::len);
        seen += page;
        cursor = body["nextCursor"].as_str().map(str::to_string);
        let Some(next) = &cursor else { break };
        cursors.push(Some(next.clone()));
    }
    assert_eq!(seen, members, "the walk saw every member once");
    println!(
        "walked all {members} members in pages of 1,000: {:.1} ms",
        walk.elapsed().as_secs_f64() * 1000.0
    );
    println!(
        "\n{:<46} {:>8} {:>10} {:>10} {:>10} {:>14}",
        format!("GET .../members, limit 100, {reps} requests"),
        "from",
        "p50",
        "p99",
        "max",
        "server µs/page"
    );
    let middle = cursors.len() / 2;
    for (name, cursor, from) in [
        ("first page (no cursor)", &cursors[0], 0),
        ("middle page (cursor)", &cursors[middle], middle * 1000),
        (
            "last page (cursor)",
            &cursors[cursors.len() - 1],
            (cursors.len() - 1) * 1000,
        ),
    ] {
        let after = cursor
            .as_deref()
            .map_or(String::new(), |c| format!("&cursor={c}"));
        let path = format!("/api/channels/{CHANNEL}/members?limit=100{after}");
        let expected = (members - from).min(100);
        let (lat, cpu_per_page) = time_gets(&http, &stack, &token, &path, reps, |body| {
            let page = body["members"].as_array().map_or(0, Vec::len);
            assert_eq!(page, expected, "{path}: wrong page size");
        })
        .await;
        print_row(name, &format!("#{from}"), &lat, cpu_per_page);
    }
    println!(
        "\nchatsdk serve RSS after: {}",
        support::rss(stack.server.0.id())
    );
}

/// A GET with the reader's token; panics unless it is a 2xx with a JSON body.
async fn get_json(http: &reqwest::Client, stack: &Stack, token: &str, path: &str) -> Value {
    let res = http
        .get(format!("{}{path}", stack.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: {e:?}"));
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

/// Times `reps` GETs of `path`, after 20 uncounted ones that warm the caches; `check`
/// judges the first answer. Returns the sorted latencies and the server's CPU time
/// (every thread) per counted request, in µs.
async fn time_gets(
    http: &reqwest::Client,
    stack: &Stack,
    token: &str,
    path: &str,
    reps: usize,
    check: impl Fn(&Value),
) -> (Vec<Duration>, u128) {
    let server_pid = stack.server.0.id();
    let mut lat = Vec::with_capacity(reps);
    let mut cpu_before = Duration::ZERO;
    for i in 0..reps + 20 {
        if i == 20 {
            cpu_before = support::cpu_time(server_pid);
        }
        let t = Instant::now();
        let body = get_json(http, stack, token, path).await;
        let elapsed = t.elapsed();
        if i == 0 {
            check(&body);
        }
        if i >= 20 {
            lat.push(elapsed);
        }
    }
    let cpu = support::cpu_time(server_pid)
        .saturating_sub(cpu_before)
        .as_micros()
        / reps as u128;
    lat.sort();
    (lat, cpu)
}

fn print_row(name: &str, from: &str, lat: &[Duration], cpu_per_page: u128) {
    println!(
        "{name:<46} {from:>8} {:>10} {:>10} {:>10} {cpu_per_page:>14}",
        ms(pct(lat, 0.5)),
        ms(pct(lat, 0.99)),
        ms(*lat.last().unwrap_or(&Duration::ZERO)),
    );
}

/// Adds `count` users to the app and to the channel as members, joined one millisecond
/// apart after its first member, in one transaction.
fn bulk_members(db: &std::path::Path, count: i64) {
    let mut conn = Connection::open(db).unwrap_or_else(|e| panic!("open {db:?}: {e}"));
    conn.busy_timeout(Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("pragma: {e}"));
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .unwrap_or_else(|e| panic!("begin: {e}"));
    let (channel_pk, app_id, joined_at): (i64, String, i64) = tx
        .query_row(
            "SELECT c.pk, c.app_id, m.joined_at FROM channels c JOIN members m ON m.channel_pk = c.pk
             WHERE c.id = ?1",
            [CHANNEL],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap_or_else(|e| panic!("the channel: {e}"));
    {
        let mut user = tx
            .prepare(
                "INSERT INTO users (app_id, id, name, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
            )
            .unwrap_or_else(|e| panic!("prepare: {e}"));
        let mut member = tx
            .prepare(
                "INSERT INTO members (channel_pk, user_pk, role, joined_at)
                 VALUES (?1, ?2, 'member', ?3)",
            )
            .unwrap_or_else(|e| panic!("prepare: {e}"));
        for i in 1..=count {
            let at = joined_at + i;
            user.execute(params![
                app_id,
                format!("member-{i}"),
                format!("Member {i}"),
                at
            ])
            .unwrap_or_else(|e| panic!("user {i}: {e}"));
            member
                .execute(params![channel_pk, tx.last_insert_rowid(), at])
                .unwrap_or_else(|e| panic!("member {i}: {e}"));
        }
    }
    tx.commit().unwrap_or_else(|e| panic!("commit: {e}"));
}

/// Copies the channel's first message into `2..=messages` in one transaction.
fn bulk_insert(db: &std::path::Path, messages: i64) {
    let mut conn = Connection::open(db).unwrap_or_else(|e| panic!("open {db:?}: {e}"));
    conn.busy_timeout(Duration::from_secs(10))
        .and_then(|_| conn.pragma_update(None, "cache_size", -256_000))
        .unwrap_or_else(|e| panic!("pragma: {e}"));
    // IMMEDIATE: take the write lock first (the relay may still be deleting delivered
    // events; a deferred transaction would fail to upgrade its read snapshot).
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .unwrap_or_else(|e| panic!("begin: {e}"));
    let (channel_pk, user_pk, custom, created_at): (i64, i64, String, i64) = tx
        .query_row(
            "SELECT channel_pk, user_pk, custom, created_at FROM messages WHERE seq = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap_or_else(|e| panic!("the first message: {e}"));
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO messages (id, channel_pk, seq, user_pk, text, custom, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .unwrap_or_else(|e| panic!("prepare: {e}"));
        for seq in 2..=messages {
            let text =
                format!("message {seq}: a chat line of about the usual length, sixty-odd bytes.");
            insert
                .execute(params![
                    chatsdk::ids::new_time_ordered_id("msg", created_at + seq),
                    channel_pk,
                    seq,
                    user_pk,
                    text,
                    custom,
                    created_at + seq
                ])
                .unwrap_or_else(|e| panic!("insert seq {seq}: {e}"));
        }
    }
    tx.execute(
        "UPDATE channels SET last_seq = ?2, activity_at = ?3 WHERE pk = ?1",
        params![channel_pk, messages, created_at + messages],
    )
    .unwrap_or_else(|e| panic!("update channel: {e}"));
    tx.commit().unwrap_or_else(|e| panic!("commit: {e}"));
    // Fold the WAL into the file, so the size below is the database's.
    let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
}

fn sizes(stack: &Stack) -> (u64, u64) {
    let size = |p: std::path::PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
    let db = stack.db_path();
    (size(db.clone()), size(db.with_extension("db-wal")))
}

/// The query plan of the page queries (the SQL of `db::messages::page`).
fn explain(db: &std::path::Path) {
    let conn = Connection::open(db).unwrap_or_else(|e| panic!("open: {e}"));
    let from = "FROM messages m LEFT JOIN users u ON u.pk = m.user_pk";
    for (name, filter) in [
        (
            "newest/before",
            "m.channel_pk = ?1 AND m.seq < ?2 ORDER BY m.seq DESC LIMIT ?3",
        ),
        (
            "after",
            "m.channel_pk = ?1 AND m.seq > ?2 ORDER BY m.seq ASC LIMIT ?3",
        ),
    ] {
        let sql = format!("EXPLAIN QUERY PLAN SELECT m.pk {from} WHERE {filter}");
        let mut stmt = conn
            .prepare(&sql)
            .unwrap_or_else(|e| panic!("explain: {e}"));
        let plan: Vec<String> = stmt
            .query_map(params![1, 1, 51], |r| r.get::<_, String>(3))
            .and_then(|rows| rows.collect())
            .unwrap_or_else(|e| panic!("explain: {e}"));
        println!("query plan ({name}): {}", plan.join("; "));
    }
}
