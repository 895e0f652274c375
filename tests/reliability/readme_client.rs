//! The README's client example (centrifuge-js), run as written in Node against the Node
//! example backend, the real binary and Centrifugo: a member removed and added back
//! receives again, and a ChatSDK restart during a token renewal is waited out.

use super::backend::Backend;
use super::binary::Deployment;
use crate::common::repo_path;
use crate::examples::{Example, Lang};
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};
use tokio::time::{Instant, sleep, timeout};

/// Short, so the client renews its wsToken every few seconds.
const WS_TOKEN_TTL: &str = "3";

/// The README's "Client example" block, with the test's addresses for the ones it names.
fn readme_client_block(api_base: &str, ws_url: &str) -> String {
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    let section = &readme[readme
        .find("### Client example (centrifuge-js)")
        .expect("the README has its client example")..];
    let start = section.find("```js\n").expect("a js block") + "```js\n".len();
    let block = &section[start..start + section[start..].find("```").unwrap()];
    for named in [
        "http://localhost:8080",
        "ws://localhost:8000/connection/websocket",
    ] {
        assert_eq!(
            block.matches(named).count(),
            1,
            "the block names {named} once"
        );
    }
    block
        .replace("http://localhost:8080", api_base)
        .replace("ws://localhost:8000/connection/websocket", ws_url)
}

/// What a page has around the block: its own origin (YOUR backend, signed in as `user`
/// through the example's stub session) and the app's own functions.
fn page_prelude(user: &str) -> String {
    format!(
        r#"const pageOrigin = process.env.EXAMPLE_BACKEND;
const realFetch = globalThis.fetch;
globalThis.fetch = (url, init = {{}}) => {{
  if (typeof url === 'string' && url.startsWith('/')) {{
    init = {{ ...init, headers: {{ ...init.headers, Authorization: 'Bearer demo-session-{user}' }} }};
    url = pageOrigin + url;
  }}
  return realFetch(url, init);
}};
function render(event) {{ console.log(JSON.stringify(event)); }}
function refetchAfter() {{}}
function lastSeq() {{ return 0; }}
"#
    )
}

/// The client running in Node; its stdout has one line per rendered event.
struct Client {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    _dir: tempfile::TempDir,
}

impl Client {
    async fn start(user: &str, example: &Example, api_base: &str, ws_url: &str) -> Client {
        let dir = tempfile::tempdir().unwrap();
        let modules = repo_path("examples/web/node_modules");
        assert!(
            modules.join("centrifuge/package.json").is_file(),
            "examples/web has no node_modules: run `bash .ci/demo-deps` (`bash .ci/run` does it)"
        );
        // The block imports `centrifuge`; Node finds it beside the script.
        std::os::unix::fs::symlink(&modules, dir.path().join("node_modules")).unwrap();
        let script = dir.path().join("client.mjs");
        std::fs::write(
            &script,
            page_prelude(user) + &readme_client_block(api_base, ws_url),
        )
        .unwrap();
        let mut child = tokio::process::Command::new("node")
            // Node 20 has WebSocket behind a flag; browsers have it.
            .arg("--experimental-websocket")
            .arg(&script)
            .env("EXAMPLE_BACKEND", &example.base)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Client {
            child,
            lines,
            _dir: dir,
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// Waits for a `message.new` with `text`; false after `within`.
    async fn saw_message(&mut self, text: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok(line) = timeout(left, self.lines.next_line()).await else {
                return false;
            };
            let Some(line) = line.unwrap() else {
                let status = self.child.wait().await.unwrap();
                panic!(
                    "the client ended ({status}): the SDK gave up for good, or threw: {}",
                    self.stderr()
                );
            };
            let event: Value = serde_json::from_str(&line).unwrap_or_default();
            if event["type"] == "message.new" && event["data"]["text"] == text {
                return true;
            }
        }
        false
    }
}

/// `alice` posts `text` to the room with the app key.
async fn post(backend_http: &reqwest::Client, base: &str, key: &str, text: &str) {
    let res = backend_http
        .post(format!("{base}/api/channels/readme/messages"))
        .header("X-API-Key", key)
        .json(&json!({"userId": "alice", "text": text}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
}

#[actix_web::test]
async fn the_readme_client_keeps_receiving_through_a_removal_and_a_chatsdk_restart() {
    let deployment = Deployment::new().await;
    let server = deployment
        .serve_with(&[("CHATSDK_WS_TOKEN_TTL", WS_TOKEN_TTL)])
        .await;
    let (base, key) = (server.base.clone(), deployment.api_key.clone());
    Backend::new(&base, &key)
        .create_room("readme", "alice", "bob")
        .await;
    let example = Example::start(Lang::Node, &base, &key, deployment.ws_url()).await;
    let http = reqwest::Client::new();
    let mut bob = Client::start("bob", &example, &base, deployment.ws_url()).await;

    // Subscribed: a message sent now arrives (sent until one does: subscribing takes a
    // moment, and nothing the block prints says when it is done).
    let mut arrived = false;
    for i in 0..20 {
        let text = format!("hello {i}");
        post(&http, &base, &key, &text).await;
        if bob.saw_message(&text, Duration::from_millis(500)).await {
            arrived = true;
            break;
        }
    }
    assert!(arrived, "bob never received: {}", bob.stderr());

    // Removed, then added back: the SDK still holds the old subscription.
    let members = format!("{base}/api/channels/readme/members");
    let removed = http
        .delete(format!("{members}/bob?userId=alice"))
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204, "{}", removed.text().await.unwrap());
    let added = http
        .post(&members)
        .header("X-API-Key", &key)
        .json(&json!({"userId": "alice", "userIds": ["bob"]}))
        .send()
        .await
        .unwrap();
    assert!(
        added.status().is_success(),
        "{}",
        added.text().await.unwrap()
    );
    sleep(Duration::from_secs(1)).await;
    post(&http, &base, &key, "welcome back").await;
    assert!(
        bob.saw_message("welcome back", Duration::from_secs(10))
            .await,
        "bob was added back but receives nothing: {}",
        bob.stderr()
    );

    // ChatSDK stops for longer than the wsToken lives: renewals meanwhile get the example
    // backend's 502. Then it is back, and so is bob, with no reload.
    server.kill9().await;
    sleep(Duration::from_secs(8)).await;
    let _server = deployment
        .serve_with(&[("CHATSDK_WS_TOKEN_TTL", WS_TOKEN_TTL)])
        .await;
    let mut arrived = false;
    for i in 0..30 {
        let text = format!("after the restart {i}");
        post(&http, &base, &key, &text).await;
        if bob.saw_message(&text, Duration::from_secs(1)).await {
            arrived = true;
            break;
        }
    }
    assert!(
        arrived,
        "bob stopped receiving after ChatSDK came back: {}",
        bob.stderr()
    );
}
