//! Schemathesis against the live service and its own `/openapi.json`: generated requests
//! (valid and invalid) must never get a 5xx, and every answer must match the spec
//! (status, content type, body schema).
//!
//! Needs the schemathesis CLI (pinned in `.ci/run`, installed into the cached venv):
//! `CHATSDK_SCHEMATHESIS`, else `schemathesis` beside the test Python.

use crate::common;
use crate::common::TestApp;
use chatsdk::config::RateLimitMode;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

/// Test cases per operation and phase.
const MAX_EXAMPLES: &str = "20";
/// Wall-clock budget for one schemathesis run.
const RUN_BUDGET: Duration = Duration::from_secs(150);
/// Fixed, so a CI failure reproduces; `CHATSDK_SCHEMATHESIS_SEED` explores other cases.
const DEFAULT_SEED: &str = "20260501";
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,response_headers_conformance";

fn schemathesis() -> PathBuf {
    if let Some(p) = std::env::var_os("CHATSDK_SCHEMATHESIS") {
        return p.into();
    }
    let python = common::python();
    let beside = python.with_file_name("schemathesis");
    if beside.is_file() {
        return beside;
    }
    panic!(
        "schemathesis not found (looked beside {}): run `bash .ci/run` (it installs the pinned \
         version into the cached venv) or set CHATSDK_SCHEMATHESIS",
        python.display()
    );
}

/// A service with rate limits off, and data for generated requests to hit: channels
/// `general` and `team` (owner `alice`, member `u-7`), each with messages.
async fn seeded_app() -> (TestApp, String) {
    let app = TestApp::start_with(|args| args.rate_limits.mode = RateLimitMode::Off).await;
    let token = app.tokens_for("alice").await["token"]
        .as_str()
        .unwrap()
        .to_string();
    app.tokens_for("u-42").await;
    for (channel, messages) in [("general", ["m-2f9c", "m-1"]), ("team", ["m-2", "m-3"])] {
        let res = app
            .http
            .post(format!("{}/api/channels", app.base))
            .bearer_auth(&token)
            .json(&json!({"id": channel, "name": channel, "members": ["u-7"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        for id in messages {
            let res = app
                .http
                .post(format!("{}/api/channels/{channel}/messages", app.base))
                .bearer_auth(&token)
                .json(&json!({"text": "hello", "clientMsgId": id}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 201);
        }
    }
    (app, token)
}

/// Schemathesis settings: our credentials, and known ids mixed into generated path
/// parameters, so requests reach past the 404 of an unknown channel or message.
fn config(scheme: &str, credential: &str) -> String {
    // The spec's scheme names match the config's field names.
    format!(
        r#"[auth.openapi.{scheme}]
{scheme} = "{credential}"

[dictionaries.channels]
values = ["general", "team"]
[dictionaries.messages]
values = ["m-2f9c", "m-1", "m-2", "m-3"]
[dictionaries.users]
values = ["alice", "u-7", "u-42"]

[parameters]
"path.id" = {{ dictionary = "channels", probability = 0.6 }}
"path.msgId" = {{ dictionary = "messages", probability = 0.6 }}
"path.userId" = {{ dictionary = "users", probability = 0.5 }}
"#
    )
}

/// Runs schemathesis on the operations whose path matches `path_regex`, authenticating
/// with the spec's security scheme `scheme` (`bearer` or `api_key`).
async fn run(app: &TestApp, path_regex: &str, scheme: &str, credential: &str) {
    let seed = std::env::var("CHATSDK_SCHEMATHESIS_SEED").unwrap_or(DEFAULT_SEED.into());
    let config_file = app.dir.path().join("schemathesis.toml");
    std::fs::write(&config_file, config(scheme, credential)).unwrap();
    let mut cmd = tokio::process::Command::new(schemathesis());
    cmd.arg("--config-file")
        .arg(&config_file)
        .arg("run")
        .arg(format!("{}/openapi.json", app.base))
        .args(["--checks", CHECKS])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--seed", &seed])
        .args(["--include-path-regex", path_regex])
        .args(["--request-timeout", "10"])
        .args(["--workers", "1"])
        .arg("--no-shrink")
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .current_dir(app.dir.path())
        .kill_on_drop(true);
    // Every request and answer, for debugging: CHATSDK_SCHEMATHESIS_HAR_DIR=/some/dir.
    if let Some(dir) = std::env::var_os("CHATSDK_SCHEMATHESIS_HAR_DIR") {
        let name = format!("{scheme}-{}.har", path_regex.len());
        cmd.args(["--report", "har", "--report-har-path"])
            .arg(PathBuf::from(dir).join(name));
    }
    let out = tokio::time::timeout(RUN_BUDGET, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("schemathesis on {path_regex} took over {RUN_BUDGET:?}"))
        .expect("schemathesis runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found problems on {path_regex} (seed {seed}):\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("passed"), "no test ran:\n{stdout}");
    // The summary, for the CI log.
    let summary: Vec<&str> = stdout.lines().rev().take(12).collect();
    eprintln!("schemathesis on {path_regex}:");
    for line in summary.into_iter().rev() {
        eprintln!("  {line}");
    }
}

#[actix_web::test]
async fn the_api_keeps_its_spec_for_a_user_token() {
    let (app, token) = seeded_app().await;
    run(&app, "^/api/", "bearer", &token).await;
}

#[actix_web::test]
async fn the_api_keeps_its_spec_for_the_apps_backend() {
    let (app, _) = seeded_app().await;
    run(&app, "^/api/", "api_key", &app.api_key).await;
}

#[actix_web::test]
async fn tokens_and_operations_routes_keep_their_spec() {
    let (app, _) = seeded_app().await;
    let routes = "^/(tokens|health|ready|metrics|openapi.json|docs)$";
    run(&app, routes, "api_key", &app.api_key).await;
}
