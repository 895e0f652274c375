//! The README's client example (centrifuge-js), run as written in Node against the Node
//! example backend, the real binary and Centrifugo: a member removed and added back
//! receives again, a ChatSDK restart during a token renewal is waited out, the REST token
//! is renewed when its API key is rotated out, a channel's first messages show though
//! they were sent before the subscription took effect, a channel made while Centrifugo
//! restarted (and the client was away) is found, and channels left or deleted are let go.

use super::DRAIN;
use super::backend::Backend;
use super::binary::{Deployment, cli};
use super::link::Link;
use crate::common::{free_port, repo_path};
use crate::examples::{Example, Lang};
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};
use tokio::time::{Instant, sleep, sleep_until, timeout};

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
/// through the example's stub session), the app's `render`, and what the test watches:
/// one stdout line per rendered event and per subscription the SDK let go. `SLOW_MS`
/// holds back each subscription-token and message-history request (a slow network).
fn page_prelude(user: &str) -> String {
    format!(
        r#"import {{ Centrifuge as PageSdk }} from 'centrifuge';
const pageOrigin = process.env.EXAMPLE_BACKEND;
const slowMs = Number(process.env.SLOW_MS || 0);
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, init = {{}}) => {{
  if (typeof url === 'string' && url.startsWith('/')) {{
    init = {{ ...init, headers: {{ ...init.headers, Authorization: 'Bearer demo-session-{user}' }} }};
    url = pageOrigin + url;
  }}
  if (slowMs && /\/subscription-token$|\/messages\?/.test(url)) await new Promise(r => setTimeout(r, slowMs));
  return realFetch(url, init);
}};
const removeSubscription = PageSdk.prototype.removeSubscription;
PageSdk.prototype.removeSubscription = function (sub) {{
  if (sub) console.log(JSON.stringify({{ removedSubscription: sub.channel }}));
  return removeSubscription.call(this, sub);
}};
function render(event) {{ console.log(JSON.stringify(event)); }}
// What earlier versions of the block left to the app.
globalThis.refetchAfter = () => {{}};
globalThis.lastSeq = () => 0;
"#
    )
}

/// The client running in Node; its stdout has one line per rendered event.
struct Client {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    /// Every line read so far.
    seen: Vec<Value>,
    _dir: tempfile::TempDir,
}

impl Client {
    /// Starts the block as `user` of the backend at `backend`, with `env` added.
    async fn start(
        user: &str,
        backend: &str,
        api_base: &str,
        ws_url: &str,
        env: &[(&str, &str)],
    ) -> Client {
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
            .env("EXAMPLE_BACKEND", backend)
            .envs(env.iter().copied())
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
            seen: Vec::new(),
            _dir: dir,
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// Waits for a line (seen before or new) that `wanted` accepts; false after `within`.
    async fn saw(&mut self, wanted: impl Fn(&Value) -> bool, within: Duration) -> bool {
        if self.seen.iter().any(&wanted) {
            return true;
        }
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
            let found = wanted(&event);
            self.seen.push(event);
            if found {
                return true;
            }
        }
        false
    }

    /// Waits for a rendered `message.new` with `text`.
    async fn saw_message(&mut self, text: &str, within: Duration) -> bool {
        self.saw(|e| is_message(e, text), within).await
    }

    /// How many times a `message.new` with `text` was rendered so far.
    fn times_shown(&self, text: &str) -> usize {
        self.seen.iter().filter(|e| is_message(e, text)).count()
    }
}

fn is_message(event: &Value, text: &str) -> bool {
    event["type"] == "message.new" && event["data"]["text"] == text
}

/// Posts numbered messages (`label 0`, `label 1`, …) as alice to `channel` until `client`
/// shows one (subscribing takes a moment, and nothing the block prints says when it is
/// done).
async fn shown_live(
    client: &mut Client,
    backend: &Backend,
    (channel, label): (&str, &str),
    tries: usize,
    wait: Duration,
) -> bool {
    for i in 0..tries {
        let text = format!("{label} {i}");
        backend.send_ok(channel, "alice", &text, 201).await;
        if client.saw_message(&text, wait).await {
            return true;
        }
    }
    false
}

/// Requires `client` to show alice's messages in `channel` live: it subscribed.
async fn assert_receiving(client: &mut Client, backend: &Backend, channel: &str) {
    let subscribed = shown_live(
        client,
        backend,
        (channel, channel),
        20,
        Duration::from_millis(500),
    )
    .await;
    assert!(subscribed, "bob never received: {}", client.stderr());
}

/// A call as alice through the app key; requires `status`.
async fn as_alice(request: reqwest::RequestBuilder, key: &str, status: u16) {
    let res = request
        .header("X-API-Key", key)
        .query(&[("userId", "alice")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status().as_u16(),
        status,
        "{}",
        res.text().await.unwrap()
    );
}

#[actix_web::test]
async fn the_readme_client_keeps_receiving_through_a_removal_and_a_chatsdk_restart() {
    let deployment = Deployment::new().await;
    let server = deployment
        .serve_with(&[("CHATSDK_WS_TOKEN_TTL", WS_TOKEN_TTL)])
        .await;
    let (base, key) = (server.base.clone(), deployment.api_key.clone());
    let backend = deployment.backend();
    backend.create_room("readme", "alice", "bob").await;
    let example = Example::start(Lang::Node, &base, &key, deployment.ws_url()).await;
    let http = reqwest::Client::new();
    let mut bob = Client::start("bob", &example.base, &base, deployment.ws_url(), &[]).await;

    assert_receiving(&mut bob, &backend, "readme").await;

    // Removed, then added back: the SDK still holds the old subscription.
    let members = format!("{base}/api/channels/readme/members");
    as_alice(http.delete(format!("{members}/bob")), &key, 204).await;
    as_alice(
        http.post(&members).json(&json!({"userIds": ["bob"]})),
        &key,
        200,
    )
    .await;
    sleep(Duration::from_secs(1)).await;
    backend
        .send_ok("readme", "alice", "welcome back", 201)
        .await;
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
    let back = shown_live(
        &mut bob,
        &backend,
        ("readme", "after the restart"),
        30,
        Duration::from_secs(1),
    )
    .await;
    assert!(
        back,
        "bob stopped receiving after ChatSDK came back: {}",
        bob.stderr()
    );
}

#[actix_web::test]
async fn the_readme_client_renews_its_rest_token_when_its_api_key_is_rotated_out() {
    // Subscription tokens renew every 2 s through the REST token; the wsToken (15 min)
    // does not renew the session meanwhile.
    let deployment = Deployment::new().await;
    let server = deployment
        .serve_with(&[("CHATSDK_SUB_TOKEN_TTL", "2")])
        .await;
    let (base, old_key) = (server.base.clone(), deployment.api_key.clone());
    let backend = deployment.backend();
    backend.create_room("readme", "alice", "bob").await;
    let port = free_port();
    let example = Example::start_on(port, Lang::Node, &base, &old_key, deployment.ws_url()).await;
    let mut bob = Client::start("bob", &example.base, &base, deployment.ws_url(), &[]).await;
    assert_receiving(&mut bob, &backend, "readme").await;

    // The operator rotates the key and redeploys the backend with the new one; the grace
    // ends, and bob's REST token, issued through the old key, gets 401 token_revoked.
    let (status, rotated) = cli(
        &deployment.db,
        &["key", "rotate", &old_key, "--grace", "2s"],
    )
    .await;
    assert!(status.success(), "{rotated}");
    let new_key = rotated["apiKey"].as_str().unwrap().to_string();
    drop(example);
    let _example = Example::start_on(port, Lang::Node, &base, &new_key, deployment.ws_url()).await;
    sleep(Duration::from_secs(6)).await;

    let backend = Backend::new(&base, &new_key); // alice's backend, redeployed too
    let receiving = shown_live(
        &mut bob,
        &backend,
        ("readme", "after the rotation"),
        10,
        Duration::from_secs(1),
    )
    .await;
    assert!(
        receiving,
        "bob's subscription ended when his REST token's key was rotated out, though his \
         backend gives him a new one: {}",
        bob.stderr()
    );
}

#[actix_web::test]
async fn the_readme_client_shows_the_first_messages_of_a_channel_made_with_them_once_each() {
    // Each subscription token and history page takes 1 s to come: alice's first message
    // is published before bob subscribes, her second after he has, but before the page
    // that also holds it.
    let slow = Duration::from_secs(1);
    let deployment = Deployment::new().await;
    let server = deployment.serve().await;
    let backend = deployment.backend();
    backend.create_room("readme", "alice", "bob").await;
    let example = Example::start(
        Lang::Node,
        &server.base,
        &deployment.api_key,
        deployment.ws_url(),
    )
    .await;
    let slow_ms = slow.as_millis().to_string();
    let env = [("SLOW_MS", slow_ms.as_str())];
    let mut bob = Client::start(
        "bob",
        &example.base,
        &server.base,
        deployment.ws_url(),
        &env,
    )
    .await;
    let subscribed = shown_live(
        &mut bob,
        &backend,
        ("readme", "hello"),
        10,
        Duration::from_secs(3),
    )
    .await;
    assert!(subscribed, "bob never received: {}", bob.stderr());

    let created = Instant::now();
    backend.create_room("new-dm", "alice", "bob").await;
    backend.send_ok("new-dm", "alice", "hi bob", 201).await;
    sleep_until(created + slow * 3 / 2).await;
    backend
        .send_ok("new-dm", "alice", "are you there", 201)
        .await;

    assert!(
        bob.saw_message("hi bob", Duration::from_secs(10)).await,
        "the first message, sent as the channel was made, never showed: {}",
        bob.stderr()
    );
    assert!(
        bob.saw_message("are you there", Duration::from_secs(10))
            .await,
        "{}",
        bob.stderr()
    );
    // Shown after everything before it (stdout keeps the order).
    backend
        .send_ok("new-dm", "alice", "still there?", 201)
        .await;
    assert!(
        bob.saw_message("still there?", Duration::from_secs(10))
            .await
    );
    for text in ["hi bob", "are you there", "still there?"] {
        assert_eq!(bob.times_shown(text), 1, "{text:?} shown once");
    }
}

#[actix_web::test]
async fn the_readme_client_finds_a_channel_made_and_one_left_while_centrifugo_restarted() {
    let mut deployment = Deployment::new().await;
    let server = deployment.serve().await;
    let backend = deployment.backend();
    backend.create_room("readme", "alice", "bob").await;
    let left = backend.create_room("left-while-away", "alice", "bob").await;
    let link = Link::start(deployment.centrifugo_port).await;
    let example = Example::start(
        Lang::Node,
        &server.base,
        &deployment.api_key,
        &link.ws_url(),
    )
    .await;
    let mut bob = Client::start("bob", &example.base, &server.base, &link.ws_url(), &[]).await;
    assert_receiving(&mut bob, &backend, "readme").await;

    // Bob's network is down while Centrifugo restarts (its history is gone), and alice
    // makes a channel with him and removes him from another: the member.added and
    // member.removed are published before he is back.
    link.cut();
    deployment.restart_centrifugo().await;
    backend.create_room("made-while-away", "alice", "bob").await;
    let url = format!("{}/api/channels/left-while-away/members/bob", server.base);
    as_alice(reqwest::Client::new().delete(url), &deployment.api_key, 204).await;
    backend.wait_drained(DRAIN).await;
    link.restore();

    let found = shown_live(
        &mut bob,
        &backend,
        ("made-while-away", "while you were away"),
        30,
        Duration::from_secs(1),
    )
    .await;
    assert!(
        found,
        "bob never subscribed to the channel made while he was away: {}",
        bob.stderr()
    );
    let name = left.realtime.clone();
    let dropped = bob
        .saw(
            move |e| e["removedSubscription"] == name,
            Duration::from_secs(10),
        )
        .await;
    assert!(
        dropped,
        "the SDK still holds the channel bob was removed from while away: {}",
        bob.stderr()
    );
}

#[actix_web::test]
async fn the_readme_client_lets_go_of_channels_it_left_or_that_were_deleted() {
    let deployment = Deployment::new().await;
    let server = deployment.serve().await;
    let (base, key) = (server.base.clone(), deployment.api_key.clone());
    let backend = deployment.backend();
    let left = backend.create_room("left", "alice", "bob").await;
    let doomed = backend.create_room("doomed", "alice", "bob").await;
    let example = Example::start(Lang::Node, &base, &key, deployment.ws_url()).await;
    let mut bob = Client::start("bob", &example.base, &base, deployment.ws_url(), &[]).await;
    for room in ["left", "doomed"] {
        assert_receiving(&mut bob, &backend, room).await;
    }

    let http = reqwest::Client::new();
    as_alice(
        http.delete(format!("{base}/api/channels/left/members/bob")),
        &key,
        204,
    )
    .await;
    as_alice(
        http.delete(format!("{base}/api/channels/doomed")),
        &key,
        204,
    )
    .await;

    for (room, why) in [(&left, "member.removed"), (&doomed, "channel.deleted")] {
        let name = room.realtime.clone();
        let dropped = bob
            .saw(
                move |e| e["removedSubscription"] == name,
                Duration::from_secs(10),
            )
            .await;
        assert!(
            dropped,
            "the SDK still holds {} after {why}: {}",
            room.id,
            bob.stderr()
        );
    }
}
