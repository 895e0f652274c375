//! The demo page in a real headless Chromium (Debian's, driven by playwright-core): two
//! users chat live through /demo with the official centrifuge-js client, on tokens that
//! expire during the test, so the page must renew them through `getToken`; a message sent
//! while a channel's page subscribes shows; and a channel made while Centrifugo restarted
//! (bob's WebSocket cut meanwhile) is found when bob is back.
//!
//! Needs `/usr/bin/chromium` (or CHROMIUM_BIN) and `npm ci` in examples/web: `bash .ci/demo-deps`.
//! `CHATSDK_DEMO_SCREENSHOT=path.png` also saves both pages side by side.

use crate::common::{TestApp, repo_path};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::time::Instant;

/// Short lifetimes, so every token expires while the test runs.
const WS_TOKEN_TTL: u64 = 5;
const SUB_TOKEN_TTL: u64 = 5;
const REST_TOKEN_TTL: u64 = 8;
/// Waited after the first exchange: past twice every lifetime above.
const EXPIRY_WAIT_MS: u64 = 17_000;

fn chromium() -> PathBuf {
    let bin =
        std::env::var_os("CHROMIUM_BIN").map_or_else(|| "/usr/bin/chromium".into(), PathBuf::from);
    assert!(
        bin.is_file(),
        "Chromium not found at {}: run `apt-get install -y chromium` (or `bash .ci/demo-deps`), or set CHROMIUM_BIN",
        bin.display()
    );
    bin
}

fn web_dir() -> PathBuf {
    let dir = repo_path("examples/web");
    assert!(
        dir.join("node_modules/playwright-core/package.json")
            .is_file(),
        "examples/web/node_modules is missing: run `npm ci` in examples/web (or `bash .ci/demo-deps`)"
    );
    dir
}

/// Runs `test/two-browsers.mjs` on the demo page with `args`, doing what it asks on the
/// way (`restart-centrifugo`; `wait-drained`: until the outbox is empty); its report.
async fn run_browsers(app: &mut TestApp, args: &[&str]) -> Value {
    let (chromium, web) = (chromium(), web_dir());
    let stderr = tempfile::NamedTempFile::new().unwrap();
    let mut node = tokio::process::Command::new("node");
    node.current_dir(&web)
        .arg("test/two-browsers.mjs")
        .arg(format!("{}/demo", app.base))
        .args(args)
        .env("CHROMIUM_BIN", &chromium)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr.reopen().unwrap())
        .kill_on_drop(true);
    if let Some(path) = std::env::var_os("CHATSDK_DEMO_SCREENSHOT") {
        node.arg("--screenshot").arg(path);
    }
    let mut child = node
        .spawn()
        .expect("node runs (Node 20+ is needed for the browser test)");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stdout = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        match line.as_str() {
            "restart-centrifugo" => app.restart_centrifugo().await,
            "wait-drained" => wait_drained(app).await,
            _ => {
                stdout.push_str(&line);
                stdout.push('\n');
                continue;
            }
        }
        stdin.write_all(b"done\n").await.unwrap();
    }
    let status = child.wait().await.unwrap();
    let report: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "the browser script printed no JSON report:\n{stdout}\n{}",
            std::fs::read_to_string(stderr.path()).unwrap_or_default()
        )
    });
    assert_eq!(report["ok"], true, "the browser test failed: {report:#}");
    assert!(status.success(), "{report}");
    assert_eq!(report["consoleErrors"], serde_json::json!([]), "{report}");
    report
}

/// Waits until ChatSDK has published every event (its outbox is empty).
async fn wait_drained(app: &TestApp) {
    let started = Instant::now();
    loop {
        let metrics = app.get("/metrics").await.text().await.unwrap();
        if metrics
            .lines()
            .any(|l| l == "chatsdk_outbox_pending_events 0")
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the outbox did not drain in 15 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_web::test]
async fn two_browsers_chat_live_through_the_demo_page_while_their_tokens_expire() {
    let mut app = TestApp::start_for_browsers(|a| {
        a.demo = true;
        a.client.token_ttl = REST_TOKEN_TTL;
        a.client.ws_token_ttl = Some(WS_TOKEN_TTL);
        a.client.sub_token_ttl = SUB_TOKEN_TTL;
        // No grace after expiry: a REST token the page failed to renew would be refused.
        a.jwt_leeway = 0;
    })
    .await;

    let expiry_wait = EXPIRY_WAIT_MS.to_string();
    let report = run_browsers(&mut app, &["--expiry-wait-ms", &expiry_wait]).await;

    let latency = &report["latencyMs"];
    for key in ["aliceToBob", "bobToAlice", "afterExpiry"] {
        let ms = latency[key].as_i64().unwrap_or(-1);
        assert!((0..10_000).contains(&ms), "{key}: {ms} ms ({report})");
    }
    let after = &report["tokens"]["after"];
    for who in ["alice", "bob"] {
        let refreshed: u64 = after[who]["wsTokenRefreshes"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(refreshed >= 1, "{who}: {report}");
    }
    println!(
        "browser demo send→display latency (click in one browser → shown in the other): \
         alice→bob {} ms, bob→alice {} ms, after token expiry {} ms; invitation shown live in {} ms",
        latency["aliceToBob"],
        latency["bobToAlice"],
        latency["afterExpiry"],
        report["inviteShownMs"]
    );
}

#[actix_web::test]
async fn the_demo_page_finds_a_channel_made_while_centrifugo_restarted_and_it_was_away() {
    let mut app = TestApp::start_for_browsers(|a| a.demo = true).await;

    let report = run_browsers(&mut app, &["--centrifugo-restart"]).await;

    let steps = report["steps"].to_string();
    assert!(steps.contains("gone from his list"), "{report:#}");
}
