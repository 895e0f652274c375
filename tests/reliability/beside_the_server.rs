//! Online backups and CLI writers beside a loaded server.

use super::DRAIN;
use super::backend::{Backend, assert_contiguous, assert_history_matches, seq_and_id};
use super::binary::{Deployment, RunningBinary, chatsdk, cli};
use super::lanes::{Load, LoadOptions, assert_no_unexpected_answers, assert_store_holds_every_ack};
use crate::common::free_port;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use tokio::time::{Instant, sleep, timeout};

// ---------------------------------------------------------------------------------------
// 5. Online backup under load
// ---------------------------------------------------------------------------------------

/// How long one `chatsdk backup` of a few MB may take while the server writes.
const BACKUP_LIMIT: Duration = Duration::from_secs(10);

/// Pages of the live database, as a reader sees it (the WAL included).
fn database_pages(db: &Path) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap()
}

#[actix_web::test]
async fn backups_under_steady_writes_finish_promptly_and_serve_gapless_history() {
    let deployment = Deployment::new().await;
    let _server = deployment.serve().await;
    let backend = deployment.backend();
    let (rooms, lanes) = deployment.rooms_and_lanes(2).await;
    // Big texts and no cap: the database outgrows one backup step (256 pages) and is
    // written throughout every backup.
    let load = Load::start(
        &backend,
        &lanes,
        LoadOptions {
            pace: Duration::from_millis(2),
            max_per_lane: usize::MAX,
            pad: 3900,
        },
    );
    let growing = Instant::now();
    while database_pages(&deployment.db) < 3000 && growing.elapsed() < Duration::from_secs(12) {
        sleep(Duration::from_millis(100)).await;
    }

    let mut copies = Vec::new();
    for i in 0..3 {
        let copy = deployment.dir.path().join(format!("copy-{i}.db"));
        let (acked_before, started) = (load.acked(), Instant::now());
        let run = timeout(
            BACKUP_LIMIT,
            chatsdk(&deployment.db)
                .args(["--json", "backup"])
                .arg(&copy)
                .output(),
        )
        .await;
        let (took, written) = (started.elapsed(), load.acked() - acked_before);
        let out = run.unwrap_or_else(|_| {
            panic!(
                "backup {i} of a {}-page database did not finish in {BACKUP_LIMIT:?} while \
                 the server stored {written} messages",
                database_pages(&deployment.db)
            )
        });
        let out = out.unwrap();
        let body: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        assert!(
            out.status.success(),
            "backup {i}: {body} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pages = body["pages"].as_i64().unwrap();
        assert!(
            pages > 256,
            "backup {i} copied {pages} pages: one step only"
        );
        copies.push((copy, took, written, pages));
        sleep(Duration::from_millis(300)).await;
    }
    let reports = load.stop().await;

    assert_no_unexpected_answers(&reports);
    let mut live = HashMap::new();
    for room in &rooms {
        live.insert(
            room.id.clone(),
            backend.messages_after(&room.id, &room.owner, 0).await,
        );
    }
    for (copy, _, _, _) in &copies {
        let check: String = rusqlite::Connection::open(copy)
            .unwrap()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok", "{}", copy.display());
        // No Centrifugo for the copy: its outbox must not reach the live one.
        let unreachable = format!("http://127.0.0.1:{}", free_port());
        let restored = RunningBinary::start(
            copy,
            free_port(),
            &unreachable,
            &deployment.dir.path().join("restored.log"),
        )
        .await;
        let from_copy = Backend::new(&restored.base, &deployment.api_key);
        for room in &rooms {
            let messages = from_copy.messages_after(&room.id, &room.owner, 0).await;
            assert_contiguous(&room.id, &messages);
            let live = &live[&room.id];
            assert!(
                messages.len() <= live.len(),
                "{}: the copy has more than live",
                room.id
            );
            let live_prefix: Vec<(i64, String)> =
                live[..messages.len()].iter().map(seq_and_id).collect();
            let copied: Vec<(i64, String)> = messages.iter().map(seq_and_id).collect();
            assert_eq!(
                copied, live_prefix,
                "{}: the copy is a prefix of live",
                room.id
            );
        }
        restored.kill9().await;
    }
    eprintln!(
        "backups (file, took, messages stored meanwhile, pages): {:?}; live database {} pages",
        copies
            .iter()
            .map(|(p, t, w, pages)| (p.file_name().unwrap().to_owned(), *t, *w, *pages))
            .collect::<Vec<_>>(),
        database_pages(&deployment.db)
    );
}

// ---------------------------------------------------------------------------------------
// 6. CLI writers beside the server
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn cli_writes_beside_a_loaded_server_all_succeed_and_no_request_fails() {
    let deployment = Deployment::new().await;
    let _server = deployment.serve().await;
    let backend = deployment.backend();
    let (_rooms, lanes) = deployment.rooms_and_lanes(2).await;
    let load = Load::start(
        &backend,
        &lanes,
        LoadOptions {
            pace: Duration::ZERO,
            max_per_lane: 2000,
            pad: 0,
        },
    );
    sleep(Duration::from_millis(300)).await;
    let acked_before = load.acked();

    let started = Instant::now();
    let mut commands = Vec::new();
    for i in 0..20 {
        let db = deployment.db.clone();
        let app_id = deployment.app_id.clone();
        commands.push(tokio::spawn(async move {
            let name = format!("cli-{i}");
            if i % 2 == 0 {
                cli(&db, &["key", "create", "--app", &app_id, "--name", &name]).await
            } else {
                cli(&db, &["app", "create", "--name", &name]).await
            }
        }));
    }
    let mut outcomes = Vec::new();
    for c in commands {
        outcomes.push(c.await.unwrap());
    }
    let cli_took = started.elapsed();
    let acked_during = load.acked() - acked_before;
    sleep(Duration::from_millis(200)).await;
    let reports = load.stop().await;

    for (i, (status, body)) in outcomes.iter().enumerate() {
        assert!(status.success(), "CLI command {i}: {body}");
        let id = if i % 2 == 0 { "keyId" } else { "appId" };
        assert!(body[id].is_string(), "CLI command {i}: {body}");
    }
    assert_no_unexpected_answers(&reports);
    assert!(
        acked_during > 0,
        "the server kept writing while the CLI ran"
    );
    let (_, keys) = cli(
        &deployment.db,
        &["key", "list", "--app", &deployment.app_id],
    )
    .await;
    assert_eq!(keys["keys"].as_array().unwrap().len(), 11, "{keys}");
    let (_, apps) = cli(&deployment.db, &["app", "list"]).await;
    assert_eq!(apps["apps"].as_array().unwrap().len(), 11, "{apps}");
    let no_answer: usize = reports.iter().map(|r| r.no_answer).sum();
    assert_eq!(no_answer, 0, "every request got an answer");
    eprintln!(
        "20 CLI writes in {cli_took:?}; {acked_during} messages acked meanwhile, {} in all",
        reports.iter().map(|r| r.acked.len()).sum::<usize>()
    );
}

// ---------------------------------------------------------------------------------------
// 7. Two servers on one database (a rolling deploy's overlap)
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn two_servers_on_one_database_publish_every_acknowledged_message_once_in_order() {
    let deployment = Deployment::new().await;
    let _first = deployment.serve().await;
    let second = deployment.serve_another().await;
    let (on_first, on_second) = (
        deployment.backend(),
        Backend::new(&second.base, &deployment.api_key),
    );
    let (rooms, lanes) = deployment.rooms_and_lanes(4).await;
    // Each server writes two rooms; both relay the one outbox, each deleting what it
    // published while the other inserts.
    // At most 450 per lane, so 900 per room: the history compared below keeps 1000 per
    // channel (centrifugo/config.json), and a quiet machine sends more than that in 4 s.
    let options = LoadOptions {
        pace: Duration::ZERO,
        max_per_lane: 450,
        pad: 0,
    };
    let loads = [
        Load::start(&on_first, &lanes[..4], options),
        Load::start(&on_second, &lanes[4..], options),
    ];
    sleep(Duration::from_secs(4)).await;
    let mut reports = Vec::new();
    for load in loads {
        reports.extend(load.stop().await);
    }

    assert_no_unexpected_answers(&reports);
    let stored = assert_store_holds_every_ack(&on_first, &rooms, &reports).await;
    on_first.wait_drained(DRAIN).await;
    on_second.wait_drained(DRAIN).await;
    assert_history_matches(deployment.internal_port, &rooms, &stored, DRAIN).await;
}
