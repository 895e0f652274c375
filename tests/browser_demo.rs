//! The demo page in a real headless Chromium (Debian's, driven by playwright-core): two
//! users chat live through /demo with the official centrifuge-js client, on tokens that
//! expire during the test, so the page must renew them through `getToken`.
//!
//! Needs `/usr/bin/chromium` (or CHROMIUM_BIN) and `npm ci` in examples/web: `bash .ci/demo-deps`.
//! `CHATSDK_DEMO_SCREENSHOT=path.png` also saves both pages side by side.

use crate::common::{TestApp, repo_path};
use serde_json::Value;
use std::path::PathBuf;

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

#[actix_web::test]
async fn two_browsers_chat_live_through_the_demo_page_while_their_tokens_expire() {
    let (chromium, web) = (chromium(), web_dir());
    let app = TestApp::start_for_browsers(|a| {
        a.demo = true;
        a.client.token_ttl = REST_TOKEN_TTL;
        a.client.ws_token_ttl = Some(WS_TOKEN_TTL);
        a.client.sub_token_ttl = SUB_TOKEN_TTL;
        // No grace after expiry: a REST token the page failed to renew would be refused.
        a.jwt_leeway = 0;
    })
    .await;
    let mut node = tokio::process::Command::new("node");
    node.current_dir(&web)
        .arg("test/two-browsers.mjs")
        .arg(format!("{}/demo", app.base))
        .args(["--expiry-wait-ms", &EXPIRY_WAIT_MS.to_string()])
        .env("CHROMIUM_BIN", &chromium);
    if let Some(path) = std::env::var_os("CHATSDK_DEMO_SCREENSHOT") {
        node.arg("--screenshot").arg(path);
    }

    let out = node
        .output()
        .await
        .expect("node runs (Node 20+ is needed for the browser test)");

    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "the browser script printed no JSON report:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(report["ok"], true, "the browser test failed: {report:#}");
    assert!(out.status.success(), "{report}");
    assert_eq!(report["consoleErrors"], serde_json::json!([]), "{report}");
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
