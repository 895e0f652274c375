//! Reliability under faults, against the real Centrifugo: an outage of Centrifugo, a flaky
//! network to its API, kill -9 and SIGTERM of the real binary under load, online backups
//! and CLI writers beside the server. Nothing acknowledged may be lost or duplicated.

use crate::common;
use crate::common::rt_client::{RtClient, SubOptions, is};
use crate::common::{CENTRIFUGO_API_KEY, CENTRIFUGO_SECRET, JWT_SECRET, TestApp, free_port};
use chatsdk::centrifugo_process::CentrifugoProcess;
use serde_json::{Value, json};
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout};

/// The longest a message POST may take, whatever happens to Centrifugo.
const FAST_ANSWER: Duration = Duration::from_secs(1);
/// How long the outbox may take to drain once Centrifugo answers again.
const DRAIN: Duration = Duration::from_secs(15);
/// How long Centrifugo stays down in the outage test: past the relay's 5 s backoff cap.
const OUTAGE: Duration = Duration::from_secs(10);
/// Largest page of `GET …/messages`.
const PAGE: usize = 200;

// ---------------------------------------------------------------------------------------
// The app's backend: calls the service with the app key, acting as any user.
// ---------------------------------------------------------------------------------------

#[derive(Clone)]
struct Backend {
    base: String,
    key: String,
    http: reqwest::Client,
}

/// A chat channel with its two members.
#[derive(Clone, Debug)]
struct Room {
    id: String,
    realtime: String,
    owner: String,
    member: String,
}

impl Backend {
    fn new(base: &str, key: &str) -> Backend {
        Backend {
            base: base.to_string(),
            key: key.to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
        }
    }

    async fn create_room(&self, id: &str, owner: &str, member: &str) -> Room {
        let res = self
            .http
            .post(format!("{}/api/channels", self.base))
            .header("X-API-Key", &self.key)
            .json(&json!({"id": id, "members": [member], "userId": owner}))
            .send()
            .await
            .unwrap();
        let channel = json_of(res, 201).await;
        Room {
            id: id.to_string(),
            realtime: channel["realtimeChannel"].as_str().unwrap().to_string(),
            owner: owner.to_string(),
            member: member.to_string(),
        }
    }

    /// `POST …/messages` as `user`; the status and the body, or the transport error.
    async fn send(
        &self,
        channel: &str,
        user: &str,
        text: &str,
        client_msg_id: &str,
    ) -> Result<(u16, String), reqwest::Error> {
        let res = self
            .http
            .post(format!("{}/api/channels/{channel}/messages", self.base))
            .header("X-API-Key", &self.key)
            .json(&json!({"text": text, "clientMsgId": client_msg_id, "userId": user}))
            .send()
            .await?;
        let status = res.status().as_u16();
        Ok((status, res.text().await?))
    }

    /// Sends and requires `status`; returns the message and how long the answer took.
    async fn send_ok(
        &self,
        channel: &str,
        user: &str,
        text: &str,
        status: u16,
    ) -> (Value, Duration) {
        let started = Instant::now();
        let (got, body) = self.send(channel, user, text, text).await.unwrap();
        let took = started.elapsed();
        assert_eq!(got, status, "sending {text:?}: {body}");
        (serde_json::from_str(&body).unwrap(), took)
    }

    /// Every message of `channel` with a seq above `after`, walking pages, ascending.
    async fn messages_after(&self, channel: &str, user: &str, after: i64) -> Vec<Value> {
        let mut all = Vec::new();
        let mut after = after;
        loop {
            let res = self
                .http
                .get(format!("{}/api/channels/{channel}/messages", self.base))
                .query(&[
                    ("after", after.to_string()),
                    ("limit", PAGE.to_string()),
                    ("userId", user.to_string()),
                ])
                .header("X-API-Key", &self.key)
                .send()
                .await
                .unwrap();
            let page = json_of(res, 200).await;
            let messages = page["messages"].as_array().unwrap().clone();
            if let Some(last) = messages.last() {
                after = last["seq"].as_i64().unwrap();
            }
            let more = page["hasMore"] == true && !messages.is_empty();
            all.extend(messages);
            if !more {
                return all;
            }
        }
    }

    async fn tokens(&self, user: &str) -> Value {
        let res = self
            .http
            .post(format!("{}/tokens", self.base))
            .header("X-API-Key", &self.key)
            .json(&json!({"userId": user}))
            .send()
            .await
            .unwrap();
        json_of(res, 200).await
    }

    async fn subscription_token(&self, room: &Room, user: &str) -> String {
        let res = self
            .http
            .post(format!(
                "{}/api/channels/{}/subscription-token",
                self.base, room.id
            ))
            .query(&[("userId", user)])
            .header("X-API-Key", &self.key)
            .send()
            .await
            .unwrap();
        json_of(res, 200).await["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// `chatsdk_outbox_pending_events` from `/metrics`.
    async fn pending_events(&self) -> i64 {
        let text = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("chatsdk_outbox_pending_events "))
            .unwrap_or_else(|| panic!("no chatsdk_outbox_pending_events in /metrics:\n{text}"))
            .trim()
            .parse()
            .unwrap()
    }

    /// Waits until the outbox is empty; returns how long that took.
    async fn wait_drained(&self, within: Duration) -> Duration {
        let started = Instant::now();
        loop {
            let pending = self.pending_events().await;
            if pending == 0 {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < within,
                "the outbox still holds {pending} events after {within:?}"
            );
            sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Requires `status` and returns the JSON body.
async fn json_of(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The message.new envelopes in Centrifugo's history of `channel`, oldest first (read
/// straight from Centrifugo, never through a proxy).
async fn published_messages(internal_port: u16, channel: &str) -> Vec<Value> {
    let res = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{internal_port}/api/history"))
        .header("X-API-Key", CENTRIFUGO_API_KEY)
        .json(&json!({"channel": channel, "limit": -1}))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    let body = json_of(res, 200).await;
    assert!(body.get("error").is_none(), "history of {channel}: {body}");
    body["result"]["publications"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|p| p["data"].clone())
        .filter(|envelope| envelope["type"] == "message.new")
        .collect()
}

/// Waits until Centrifugo's history of every room holds as many message.new as the store
/// (or `within` passed), then asserts it holds each stored message exactly once, in seq
/// order, each with its own eventId.
async fn assert_history_matches(
    internal_port: u16,
    rooms: &[Room],
    stored: &HashMap<String, Vec<Value>>,
    within: Duration,
) {
    let deadline = Instant::now() + within;
    for room in rooms {
        let want: Vec<(i64, String)> = stored[&room.id].iter().map(seq_and_id).collect();
        let mut published = published_messages(internal_port, &room.realtime).await;
        while published.len() < want.len() && Instant::now() < deadline {
            sleep(Duration::from_millis(200)).await;
            published = published_messages(internal_port, &room.realtime).await;
        }
        let got: Vec<(i64, String)> = published
            .iter()
            .map(|envelope| {
                assert_eq!(envelope["seq"], envelope["data"]["seq"], "{envelope}");
                seq_and_id(&envelope["data"])
            })
            .collect();
        let events: HashSet<&str> = published
            .iter()
            .map(|e| e["eventId"].as_str().unwrap())
            .collect();
        assert_eq!(
            events.len(),
            published.len(),
            "{}: an eventId was published twice",
            room.id
        );
        assert_eq!(
            got.len(),
            want.len(),
            "{}: Centrifugo history holds {} message.new for {} stored messages",
            room.id,
            got.len(),
            want.len()
        );
        assert_eq!(
            got, want,
            "{}: Centrifugo history differs from the store",
            room.id
        );
    }
}

fn seq_and_id(message: &Value) -> (i64, String) {
    (
        message["seq"].as_i64().unwrap(),
        message["id"].as_str().unwrap().to_string(),
    )
}

/// Asserts seqs 1..n without a gap or a repeat.
fn assert_contiguous(channel: &str, messages: &[Value]) {
    let seqs: Vec<i64> = messages
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    let want: Vec<i64> = (1..=messages.len() as i64).collect();
    assert_eq!(seqs, want, "{channel}: seqs are not 1..n");
}

/// A random number from the process's hash seed (no extra dependency).
fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(0);
    h.finish()
}

// ---------------------------------------------------------------------------------------
// The example client: live messages from Centrifugo, healed by the catch-up recipe.
// ---------------------------------------------------------------------------------------

/// One user's view of their chats, as a chat app builds it: messages arrive live from
/// Centrifugo; when a subscription comes back without its history (`recovered: false`)
/// or a live message skips a seq, it fetches `GET …/messages?after=<last seq seen>` and
/// merges by message id.
struct ChatView {
    user: String,
    rooms: Vec<RoomView>,
}

struct RoomView {
    channel_id: String,
    realtime: String,
    /// (seq, message id), ascending, each id once.
    messages: Vec<(i64, String)>,
    /// The eventId of every message.new received live, to spot a duplicate delivery.
    live_events: Vec<String>,
    catch_ups: usize,
    /// Messages that came both live and from a catch-up, merged into one.
    merged: usize,
}

impl RoomView {
    fn last_seq(&self) -> i64 {
        self.messages.last().map_or(0, |m| m.0)
    }

    fn merge(&mut self, seq: i64, id: &str) {
        if self.messages.iter().any(|(_, known)| known == id) {
            self.merged += 1;
            return;
        }
        let at = self.messages.partition_point(|(s, _)| *s < seq);
        self.messages.insert(at, (seq, id.to_string()));
    }

    async fn catch_up(&mut self, backend: &Backend, user: &str) {
        self.catch_ups += 1;
        for m in backend
            .messages_after(&self.channel_id, user, self.last_seq())
            .await
        {
            let (seq, id) = seq_and_id(&m);
            self.merge(seq, &id);
        }
    }
}

impl ChatView {
    fn new(user: &str, rooms: &[Room]) -> ChatView {
        ChatView {
            user: user.to_string(),
            rooms: rooms
                .iter()
                .map(|r| RoomView {
                    channel_id: r.id.clone(),
                    realtime: r.realtime.clone(),
                    messages: Vec::new(),
                    live_events: Vec::new(),
                    catch_ups: 0,
                    merged: 0,
                })
                .collect(),
        }
    }

    /// Applies the client's events until room `i` shows `want[i]` messages.
    async fn follow(
        &mut self,
        client: &mut RtClient,
        backend: &Backend,
        want: &[usize],
        within: Duration,
    ) {
        let deadline = Instant::now() + within;
        let channels: Vec<String> = self.rooms.iter().map(|r| r.realtime.clone()).collect();
        while self
            .rooms
            .iter()
            .zip(want)
            .any(|(r, w)| r.messages.len() < *w)
        {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = client
                .expect("a live message or a resubscription", left, |e| {
                    (is(e, "subscribed") || is(e, "publication"))
                        && channels.iter().any(|c| e["channel"] == c.as_str())
                })
                .await;
            let room = self
                .rooms
                .iter_mut()
                .find(|r| event["channel"] == r.realtime.as_str())
                .expect("an event of a followed channel");
            if is(&event, "subscribed") {
                if event["recovered"] != true {
                    room.catch_up(backend, &self.user).await;
                }
                continue;
            }
            let envelope = &event["data"];
            if envelope["type"] != "message.new" {
                continue;
            }
            room.live_events
                .push(envelope["eventId"].as_str().unwrap().to_string());
            let (seq, id) = seq_and_id(&envelope["data"]);
            if seq > room.last_seq() + 1 {
                room.catch_up(backend, &self.user).await;
            }
            room.merge(seq, &id);
        }
    }
}

async fn online_client(ws_url: &str, ws_token: &str) -> RtClient {
    let mut client = RtClient::start(
        &common::python(),
        &common::repo_path("tests/clients/rt_agent.py"),
        ws_url,
    )
    .await;
    client
        .connect(ws_token)
        .await
        .unwrap_or_else(|ack| panic!("could not connect: {ack}"));
    client
}

// ---------------------------------------------------------------------------------------
// The real binary, run, killed and restarted.
// ---------------------------------------------------------------------------------------

/// `chatsdk` on `db`, with no setting inherited from the environment.
fn chatsdk(db: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatsdk"));
    for var in [
        "CHATSDK_JWT_SECRET",
        "CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY",
        "CENTRIFUGO_HTTP_API_KEY",
        "CHATSDK_ADDR",
        "CENTRIFUGO_URL",
        "CHATSDK_TOKEN_TTL",
        "CHATSDK_SUB_TOKEN_TTL",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("CHATSDK_DATABASE", db).kill_on_drop(true);
    cmd
}

/// Runs a CLI command with `--json`; its exit status and JSON answer.
async fn cli(db: &Path, args: &[&str]) -> (ExitStatus, Value) {
    let out = timeout(
        Duration::from_secs(30),
        chatsdk(db).arg("--json").args(args).output(),
    )
    .await
    .unwrap_or_else(|_| panic!("chatsdk {args:?} did not finish in 30 s"))
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let body = serde_json::from_str(&text).unwrap_or_else(
        |_| json!({"unparsed": text, "stderr": String::from_utf8_lossy(&out.stderr)}),
    );
    (out.status, body)
}

/// `chatsdk serve` on a database file and port.
struct RunningBinary {
    child: tokio::process::Child,
    pid: u32,
    base: String,
    log: PathBuf,
}

impl RunningBinary {
    /// Starts the server and waits until `/health` answers.
    async fn start(db: &Path, port: u16, centrifugo_url: &str, log: &Path) -> RunningBinary {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = chatsdk(db)
            .arg("serve")
            .env("CHATSDK_ADDR", format!("127.0.0.1:{port}"))
            .env("CHATSDK_JWT_SECRET", JWT_SECRET)
            .env("CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY", CENTRIFUGO_SECRET)
            .env("CENTRIFUGO_HTTP_API_KEY", CENTRIFUGO_API_KEY)
            .env("CENTRIFUGO_URL", centrifugo_url)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let mut server = RunningBinary {
            pid: child.id().unwrap(),
            child,
            base: format!("http://127.0.0.1:{port}"),
            log: log.to_path_buf(),
        };
        let http = reqwest::Client::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("chatsdk serve exited ({status}):\n{}", server.log_text());
            }
            let health = http
                .get(format!("{}/health", server.base))
                .timeout(Duration::from_millis(500))
                .send()
                .await;
            if health.is_ok_and(|r| r.status() == 200) {
                return server;
            }
            sleep(Duration::from_millis(25)).await;
        }
        panic!("chatsdk serve not healthy in 15 s:\n{}", server.log_text());
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([signal, &self.pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal} {}", self.pid);
    }

    async fn kill9(mut self) {
        self.signal("-9");
        self.child.wait().await.unwrap();
    }

    /// Sends SIGTERM; the exit status if it came within `within`, and the time taken.
    async fn terminate(mut self, within: Duration) -> (Option<ExitStatus>, Duration) {
        let started = Instant::now();
        self.signal("-TERM");
        let status = timeout(within, self.child.wait())
            .await
            .ok()
            .map(Result::unwrap);
        (status, started.elapsed())
    }
}

/// A Centrifugo, a database file with an app made by the CLI, and a port for the server.
struct Deployment {
    dir: tempfile::TempDir,
    _centrifugo: CentrifugoProcess,
    centrifugo_url: String,
    internal_port: u16,
    db: PathBuf,
    port: u16,
    app_id: String,
    api_key: String,
}

impl Deployment {
    async fn new() -> Deployment {
        let dir = tempfile::tempdir().unwrap();
        let (port, internal_port) = (free_port(), free_port());
        let centrifugo = common::start_centrifugo(dir.path(), port, internal_port).await;
        let db = dir.path().join("chatsdk.db");
        let (status, created) = cli(&db, &["app", "create", "--name", "reliability"]).await;
        assert!(status.success(), "{created}");
        Deployment {
            centrifugo_url: centrifugo.internal_url.clone(),
            _centrifugo: centrifugo,
            internal_port,
            db,
            port: free_port(),
            app_id: created["appId"].as_str().unwrap().to_string(),
            api_key: created["apiKey"].as_str().unwrap().to_string(),
            dir,
        }
    }

    async fn serve(&self) -> RunningBinary {
        RunningBinary::start(
            &self.db,
            self.port,
            &self.centrifugo_url,
            &self.dir.path().join("serve.log"),
        )
        .await
    }

    fn backend(&self) -> Backend {
        Backend::new(&format!("http://127.0.0.1:{}", self.port), &self.api_key)
    }

    /// `n` rooms of two members each, and a sender lane for every member.
    async fn rooms_and_lanes(&self, n: usize) -> (Vec<Room>, Vec<Lane>) {
        let backend = self.backend();
        let mut rooms = Vec::new();
        let mut lanes = Vec::new();
        for i in 0..n {
            let room = backend
                .create_room(
                    &format!("room-{i}"),
                    &format!("owner-{i}"),
                    &format!("guest-{i}"),
                )
                .await;
            for user in [&room.owner, &room.member] {
                lanes.push(Lane {
                    channel: room.id.clone(),
                    user: user.clone(),
                });
            }
            rooms.push(room);
        }
        (rooms, lanes)
    }
}

// ---------------------------------------------------------------------------------------
// Load: senders that retry an unanswered message with the same clientMsgId.
// ---------------------------------------------------------------------------------------

/// One user posting to one channel.
#[derive(Clone, Debug)]
struct Lane {
    channel: String,
    user: String,
}

#[derive(Clone, Copy)]
struct LoadOptions {
    /// Pause between sends.
    pace: Duration,
    /// Sends acknowledged per lane before it stops by itself.
    max_per_lane: usize,
    /// Characters of filler after the clientMsgId in each text (3 bytes each: grows the
    /// database by a few pages per message).
    pad: usize,
}

/// A message the server acknowledged (201 created, or 200: an earlier attempt was stored).
#[derive(Clone, Debug)]
struct Ack {
    client_msg_id: String,
    id: String,
    seq: i64,
    status: u16,
    at: Instant,
}

#[derive(Debug)]
struct LaneReport {
    lane: Lane,
    acked: Vec<Ack>,
    /// The clientMsgId being sent when the load stopped, never acknowledged.
    unacked: Option<String>,
    /// Answers that must never come: any status but 200/201, e.g. a 5xx or "database is locked".
    unexpected: Vec<String>,
    /// Attempts with no HTTP answer (the server was down or died mid-request).
    no_answer: usize,
}

struct Load {
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<LaneReport>>,
}

/// The text of a message: its clientMsgId, then filler.
fn message_text(client_msg_id: &str, pad: usize) -> String {
    if pad == 0 {
        client_msg_id.to_string()
    } else {
        format!("{client_msg_id} {}", "€".repeat(pad))
    }
}

fn client_msg_id_of(message: &Value) -> String {
    message["text"]
        .as_str()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_string()
}

impl Load {
    fn start(backend: &Backend, lanes: &[Lane], opts: LoadOptions) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(AtomicUsize::new(0));
        let tasks = lanes
            .iter()
            .enumerate()
            .map(|(i, lane)| {
                let (backend, lane) = (backend.clone(), lane.clone());
                let (stop, acked) = (stop.clone(), acked.clone());
                tokio::spawn(run_lane(backend, lane, i, opts, stop, acked))
            })
            .collect();
        Load { stop, acked, tasks }
    }

    fn acked(&self) -> usize {
        self.acked.load(Ordering::SeqCst)
    }

    async fn stop(self) -> Vec<LaneReport> {
        self.stop.store(true, Ordering::SeqCst);
        let mut reports = Vec::new();
        for task in self.tasks {
            reports.push(task.await.unwrap());
        }
        reports
    }
}

async fn run_lane(
    backend: Backend,
    lane: Lane,
    index: usize,
    opts: LoadOptions,
    stop: Arc<AtomicBool>,
    total: Arc<AtomicUsize>,
) -> LaneReport {
    let mut report = LaneReport {
        lane: lane.clone(),
        acked: Vec::new(),
        unacked: None,
        unexpected: Vec::new(),
        no_answer: 0,
    };
    let mut next = 0;
    let mut current: Option<String> = None;
    while !stop.load(Ordering::SeqCst) && report.acked.len() < opts.max_per_lane {
        let cmid = current
            .get_or_insert_with(|| {
                next += 1;
                format!("lane{index}-{next}")
            })
            .clone();
        let text = message_text(&cmid, opts.pad);
        match backend.send(&lane.channel, &lane.user, &text, &cmid).await {
            Ok((status @ (200 | 201), body)) => {
                let m: Value = serde_json::from_str(&body).unwrap();
                report.acked.push(Ack {
                    client_msg_id: cmid,
                    id: m["id"].as_str().unwrap().to_string(),
                    seq: m["seq"].as_i64().unwrap(),
                    status,
                    at: Instant::now(),
                });
                total.fetch_add(1, Ordering::SeqCst);
                current = None;
            }
            Ok((status, body)) => {
                report.unexpected.push(format!("{status} {body}"));
                sleep(Duration::from_millis(50)).await;
            }
            Err(_) => {
                report.no_answer += 1;
                sleep(Duration::from_millis(50)).await;
            }
        }
        if !opts.pace.is_zero() {
            sleep(opts.pace).await;
        }
    }
    report.unacked = current;
    report
}

/// Sends every unacknowledged clientMsgId again (a client retrying after the outage); each
/// must be answered 201, or 200 when the lost attempt had been stored.
async fn retry_unacked(backend: &Backend, reports: &mut [LaneReport]) -> usize {
    let mut already_stored = 0;
    for r in reports.iter_mut() {
        let Some(cmid) = r.unacked.take() else {
            continue;
        };
        let (status, body) = backend
            .send(
                &r.lane.channel,
                &r.lane.user,
                &message_text(&cmid, 0),
                &cmid,
            )
            .await
            .unwrap();
        assert!(
            status == 200 || status == 201,
            "retry of {cmid}: {status} {body}"
        );
        already_stored += usize::from(status == 200);
        let m: Value = serde_json::from_str(&body).unwrap();
        r.acked.push(Ack {
            client_msg_id: cmid,
            id: m["id"].as_str().unwrap().to_string(),
            seq: m["seq"].as_i64().unwrap(),
            status,
            at: Instant::now(),
        });
    }
    already_stored
}

/// Asserts every lane got only 200/201 answers.
fn assert_no_unexpected_answers(reports: &[LaneReport]) {
    let bad: Vec<&String> = reports.iter().flat_map(|r| &r.unexpected).collect();
    assert!(
        bad.is_empty(),
        "{} answers were neither 200 nor 201, e.g. {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );
}

/// Reads every room back and asserts: seqs 1..n without a gap, no clientMsgId twice, and
/// every acknowledged message present with the id and seq it was acknowledged with.
async fn assert_store_holds_every_ack(
    backend: &Backend,
    rooms: &[Room],
    reports: &[LaneReport],
) -> HashMap<String, Vec<Value>> {
    let mut stored = HashMap::new();
    for room in rooms {
        let messages = backend.messages_after(&room.id, &room.owner, 0).await;
        assert_contiguous(&room.id, &messages);
        let mut by_cmid: HashMap<String, &Value> = HashMap::new();
        for m in &messages {
            let cmid = client_msg_id_of(m);
            if let Some(first) = by_cmid.insert(cmid.clone(), m) {
                panic!(
                    "{}: clientMsgId {cmid} stored twice: seq {} and {}",
                    room.id, first["seq"], m["seq"]
                );
            }
        }
        for r in reports.iter().filter(|r| r.lane.channel == room.id) {
            for ack in &r.acked {
                let m = by_cmid.get(&ack.client_msg_id).unwrap_or_else(|| {
                    panic!(
                        "{}: acknowledged message {} ({}, HTTP {}) is missing",
                        room.id, ack.client_msg_id, ack.id, ack.status
                    )
                });
                assert_eq!(
                    (m["id"].as_str().unwrap(), m["seq"].as_i64().unwrap()),
                    (ack.id.as_str(), ack.seq),
                    "{}: {} was acknowledged as another message",
                    room.id,
                    ack.client_msg_id
                );
            }
        }
        stored.insert(room.id.clone(), messages);
    }
    stored
}

// ---------------------------------------------------------------------------------------
// A fault-injecting HTTP proxy in front of Centrifugo's API.
// ---------------------------------------------------------------------------------------

/// What the proxy does to one `/api/batch` request.
#[derive(Clone, Debug, PartialEq)]
enum Fault {
    /// Answers this status without forwarding.
    Status(u16),
    /// Reads the request head, then closes the connection.
    DropMidRequest,
    /// Forwards (Centrifugo publishes), then closes without answering.
    ForwardThenDrop,
    /// Forwards, then holds Centrifugo's answer this long.
    Delay(Duration),
}

/// One `/api/batch` the proxy saw.
#[derive(Clone, Debug)]
struct BatchAttempt {
    fault: Option<Fault>,
    forwarded: bool,
    idempotency_keys: Vec<String>,
}

#[derive(Default)]
struct ProxyState {
    faults: VecDeque<Fault>,
    attempts: Vec<BatchAttempt>,
}

#[derive(Clone)]
struct FaultyProxy {
    state: Arc<Mutex<ProxyState>>,
}

impl FaultyProxy {
    /// Serves on `listener`, forwarding to `upstream` (faults come with `arm`).
    fn start(listener: std::net::TcpListener, upstream: String) -> FaultyProxy {
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let proxy = FaultyProxy {
            state: Arc::default(),
        };
        let state = proxy.state.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            while let Ok((socket, _)) = listener.accept().await {
                let (http, upstream, state) = (http.clone(), upstream.clone(), state.clone());
                tokio::spawn(serve_connection(socket, http, upstream, state));
            }
        });
        proxy
    }

    /// Applies `faults` to the next `/api/batch` requests, one each, in order.
    fn arm(&self, faults: &[Fault]) {
        self.state
            .lock()
            .unwrap()
            .faults
            .extend(faults.iter().cloned());
    }

    fn faults_left(&self) -> usize {
        self.state.lock().unwrap().faults.len()
    }

    fn attempts(&self) -> Vec<BatchAttempt> {
        self.state.lock().unwrap().attempts.clone()
    }
}

/// Serves one keep-alive connection, request after request.
async fn serve_connection(
    mut socket: TcpStream,
    http: reqwest::Client,
    upstream: String,
    state: Arc<Mutex<ProxyState>>,
) {
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            match socket.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let mut request_line = lines.next().unwrap_or_default().split(' ');
        let method = request_line.next().unwrap_or_default().to_string();
        let path = request_line.next().unwrap_or_default().to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let is_batch = path == "/api/batch";
        let fault = if is_batch {
            state.lock().unwrap().faults.pop_front()
        } else {
            None
        };
        if fault == Some(Fault::DropMidRequest) {
            state.lock().unwrap().attempts.push(BatchAttempt {
                fault,
                forwarded: false,
                idempotency_keys: Vec::new(),
            });
            return;
        }
        while buf.len() < head_end + length {
            match socket.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
        let body: Vec<u8> = buf.drain(..head_end + length).skip(head_end).collect();
        let forwarded = !matches!(fault, Some(Fault::Status(_)));
        if is_batch {
            state.lock().unwrap().attempts.push(BatchAttempt {
                fault: fault.clone(),
                forwarded,
                idempotency_keys: idempotency_keys(&body),
            });
        }
        let (status, answer) = match &fault {
            Some(Fault::Status(s)) => (*s, b"proxy fault".to_vec()),
            _ => forward(&http, &upstream, &method, &path, &headers, body).await,
        };
        match fault {
            Some(Fault::ForwardThenDrop) => return,
            Some(Fault::Delay(d)) => sleep(d).await,
            _ => {}
        }
        let mut response = format!(
            "HTTP/1.1 {status} Proxied\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            answer.len()
        )
        .into_bytes();
        response.extend(answer);
        if socket.write_all(&response).await.is_err() {
            return;
        }
    }
}

async fn forward(
    http: &reqwest::Client,
    upstream: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> (u16, Vec<u8>) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::POST);
    let mut req = http.request(method, format!("{upstream}{path}")).body(body);
    for (k, v) in headers {
        if matches!(
            k.as_str(),
            "x-api-key" | "x-centrifugo-error-mode" | "content-type" | "authorization"
        ) {
            req = req.header(k, v);
        }
    }
    match req.send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            (status, res.bytes().await.unwrap_or_default().to_vec())
        }
        Err(_) => (502, b"upstream down".to_vec()),
    }
}

/// The idempotency keys of a batch body's publish and broadcast commands.
fn idempotency_keys(body: &[u8]) -> Vec<String> {
    let Ok(batch) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    batch["commands"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("publish").or_else(|| c.get("broadcast")))
        .filter_map(|p| p["idempotency_key"].as_str().map(String::from))
        .collect()
}

// ---------------------------------------------------------------------------------------
// 1. Centrifugo outage
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn messages_sent_while_centrifugo_is_down_are_published_once_in_order_when_it_returns() {
    let mut app = TestApp::start().await;
    let backend = Backend::new(&app.base, &app.api_key);
    let mut rooms = Vec::new();
    for i in 0..3 {
        rooms.push(
            backend
                .create_room(&format!("room-{i}"), "alice", &format!("friend-{i}"))
                .await,
        );
    }
    let tokens = backend.tokens("alice").await;
    let mut client = online_client(&app.ws_url(), tokens["wsToken"].as_str().unwrap()).await;
    client.push_token(tokens["wsToken"].as_str().unwrap()).await;
    for room in &rooms {
        let token = backend.subscription_token(room, "alice").await;
        let opts = SubOptions {
            recoverable: true,
            ..SubOptions::default()
        };
        client
            .subscribe_opts(&room.realtime, &token, opts)
            .await
            .unwrap_or_else(|ack| panic!("subscribe to {}: {ack}", room.realtime));
        client.push_sub_token(&room.realtime, &token).await;
    }
    let mut view = ChatView::new("alice", &rooms);
    for room in &rooms {
        backend
            .send_ok(&room.id, "alice", &format!("{}-before", room.id), 201)
            .await;
    }
    view.follow(&mut client, &backend, &[1, 1, 1], Duration::from_secs(10))
        .await;

    app.centrifugo.take().unwrap().stop().await;
    let outage = Instant::now();
    let mut sent: Vec<Vec<(i64, String)>> = vec![Vec::new(); rooms.len()];
    let mut slowest = Duration::ZERO;
    for i in 0..50 {
        let room = &rooms[i % rooms.len()];
        let sender = if i % 2 == 0 {
            &room.owner
        } else {
            &room.member
        };
        let (m, took) = backend
            .send_ok(&room.id, sender, &format!("{}-outage-{i}", room.id), 201)
            .await;
        slowest = slowest.max(took);
        sent[i % rooms.len()].push(seq_and_id(&m));
    }
    let ready = app
        .http
        .get(format!("{}/ready", app.base))
        .send()
        .await
        .unwrap();
    let reason = common::assert_error(ready, 503, "not_ready").await;
    let backlog = backend.pending_events().await;
    sleep(OUTAGE.saturating_sub(outage.elapsed())).await;
    app.centrifugo = Some(
        common::start_centrifugo(
            app.dir.path(),
            app.centrifugo_port,
            app.centrifugo_internal_port,
        )
        .await,
    );
    let outage = outage.elapsed();
    let restarted = Instant::now();
    let want: Vec<usize> = sent.iter().map(|s| s.len() + 1).collect();
    view.follow(&mut client, &backend, &want, DRAIN).await;
    let healed = restarted.elapsed();

    assert!(
        slowest < FAST_ANSWER,
        "a send took {slowest:?} while Centrifugo was down"
    );
    assert!(reason.contains("centrifugo"), "{reason}");
    assert!(backlog >= 50, "the outbox holds the 50 events: {backlog}");
    for (room, sent) in rooms.iter().zip(&sent) {
        let mut history = published_messages(app.centrifugo_internal_port, &room.realtime).await;
        while history.len() < sent.len() && restarted.elapsed() < DRAIN {
            sleep(Duration::from_millis(200)).await;
            history = published_messages(app.centrifugo_internal_port, &room.realtime).await;
        }
        let published: Vec<(i64, String)> =
            history.iter().map(|e| seq_and_id(&e["data"])).collect();
        assert_eq!(
            &published, sent,
            "{}: Centrifugo history after the outage",
            room.id
        );
    }
    for (room, shown) in rooms.iter().zip(&view.rooms) {
        let stored: Vec<(i64, String)> = backend
            .messages_after(&room.id, "alice", 0)
            .await
            .iter()
            .map(seq_and_id)
            .collect();
        assert_eq!(
            shown.messages, stored,
            "{}: what alice's app shows",
            room.id
        );
        assert!(
            shown.catch_ups >= 1,
            "{}: the subscription came back unrecovered, so the client caught up",
            room.id
        );
        let live: HashSet<&String> = shown.live_events.iter().collect();
        assert_eq!(
            live.len(),
            shown.live_events.len(),
            "{}: an event was delivered live twice",
            room.id
        );
    }
    backend.wait_drained(DRAIN).await;
    eprintln!(
        "outage {outage:?}; slowest send {slowest:?}; healed {healed:?} after restart; merged {:?}",
        view.rooms.iter().map(|r| r.merged).collect::<Vec<_>>()
    );
    client.quit().await;
}

// ---------------------------------------------------------------------------------------
// 2. A flaky network between the service and Centrifugo's API
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn a_flaky_centrifugo_api_never_blocks_a_send_and_each_event_arrives_once() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_url = format!("http://{}", listener.local_addr().unwrap());
    let mut upstream = String::new();
    let app = TestApp::start_with(|a| {
        upstream = std::mem::replace(&mut a.centrifugo_url, proxy_url);
    })
    .await;
    let proxy = FaultyProxy::start(listener, upstream);
    let backend = Backend::new(&app.base, &app.api_key);
    let room = backend.create_room("flaky", "alice", "bob").await;
    let tokens = backend.tokens("bob").await;
    let mut client = online_client(&app.ws_url(), tokens["wsToken"].as_str().unwrap()).await;
    let token = backend.subscription_token(&room, "bob").await;
    client
        .subscribe(&room.realtime, &token)
        .await
        .unwrap_or_else(|ack| panic!("subscribe: {ack}"));
    backend.wait_drained(DRAIN).await;
    // Longer than the relay's 5 s request timeout: the relay gives up on a batch that
    // Centrifugo did publish, and must resend it with the same idempotency keys.
    let stall = Duration::from_secs(6);
    let faults = [
        Fault::Status(502),
        Fault::DropMidRequest,
        Fault::Status(503),
        Fault::ForwardThenDrop,
        Fault::Delay(stall),
        Fault::Delay(Duration::from_millis(1500)),
    ];

    proxy.arm(&faults);
    let started = Instant::now();
    let mut sent = Vec::new();
    let mut slowest = Duration::ZERO;
    for i in 0..40 {
        let sender = if i % 2 == 0 { "alice" } else { "bob" };
        let (m, took) = backend
            .send_ok(&room.id, sender, &format!("flaky-{i}"), 201)
            .await;
        slowest = slowest.max(took);
        sent.push(seq_and_id(&m));
        sleep(Duration::from_millis(150)).await;
    }
    let drained = backend.wait_drained(DRAIN).await;

    assert!(
        slowest < FAST_ANSWER,
        "a send took {slowest:?} while the proxy stalled"
    );
    let attempts = proxy.attempts();
    let injected: Vec<Fault> = attempts.iter().filter_map(|a| a.fault.clone()).collect();
    assert_eq!(injected, faults, "every fault was injected, in order");
    assert_eq!(proxy.faults_left(), 0);
    let mut forwarded: HashMap<&str, usize> = HashMap::new();
    for a in attempts.iter().filter(|a| a.forwarded) {
        for key in &a.idempotency_keys {
            *forwarded.entry(key).or_default() += 1;
        }
    }
    let resent = forwarded.values().filter(|n| **n >= 2).count();
    assert!(
        resent >= 1,
        "no idempotency key reached Centrifugo twice: {attempts:#?}"
    );
    let stored: Vec<(i64, String)> = backend
        .messages_after(&room.id, "bob", 0)
        .await
        .iter()
        .map(seq_and_id)
        .collect();
    assert_eq!(stored, sent, "the store holds every message");
    let stored_map = HashMap::from([(
        room.id.clone(),
        backend.messages_after(&room.id, "bob", 0).await,
    )]);
    assert_history_matches(
        app.centrifugo_internal_port,
        std::slice::from_ref(&room),
        &stored_map,
        DRAIN,
    )
    .await;
    let received: Vec<(i64, String)> = client
        .publications(&room.realtime, sent.len(), DRAIN)
        .await
        .iter()
        .map(|p| {
            assert_eq!(p["data"]["type"], "message.new", "{p}");
            seq_and_id(&p["data"]["data"])
        })
        .collect();
    assert_eq!(received, sent, "bob got each message once, in order");
    client
        .expect_none("a second delivery", Duration::from_secs(1), |e| {
            is(e, "publication") && e["channel"] == room.realtime.as_str()
        })
        .await;
    eprintln!(
        "proxy: {} batch attempts ({} forwarded), {resent} keys forwarded twice or more; \
         slowest send {slowest:?}; drained {drained:?} after the last send, {:?} in all",
        attempts.len(),
        attempts.iter().filter(|a| a.forwarded).count(),
        started.elapsed()
    );
    client.quit().await;
}

// ---------------------------------------------------------------------------------------
// 3. kill -9 under load
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn kill_9_under_load_loses_no_acknowledged_message_and_duplicates_nothing() {
    let deployment = Deployment::new().await;
    let mut server = deployment.serve().await;
    let backend = deployment.backend();
    let (rooms, lanes) = deployment.rooms_and_lanes(2).await;
    let opts = LoadOptions {
        pace: Duration::from_millis(5),
        max_per_lane: 220,
        pad: 0,
    };

    let load = Load::start(&backend, &lanes, opts);
    let mut kills = Vec::new();
    for _ in 0..3 {
        let after = Duration::from_millis(600 + random_u64() % 1200);
        sleep(after).await;
        kills.push((after, load.acked()));
        server.kill9().await;
        server = deployment.serve().await;
    }
    sleep(Duration::from_millis(500)).await;
    let mut reports = load.stop().await;
    let retried_stored = retry_unacked(&backend, &mut reports).await;

    assert_no_unexpected_answers(&reports);
    let stored = assert_store_holds_every_ack(&backend, &rooms, &reports).await;
    let drained = backend.wait_drained(DRAIN).await;
    assert_history_matches(deployment.internal_port, &rooms, &stored, DRAIN).await;
    let acked: usize = reports.iter().map(|r| r.acked.len()).sum();
    let stored_n: usize = stored.values().map(Vec::len).sum();
    let late_200: usize = reports
        .iter()
        .flat_map(|r| &r.acked)
        .filter(|a| a.status == 200)
        .count();
    eprintln!(
        "kill -9 at (delay, acked so far) {kills:?}; {acked} acked, {stored_n} stored, \
         {late_200} retries answered 200 (stored before the crash), {retried_stored} of them \
         after the last restart; outbox drained in {drained:?}"
    );
    assert!(acked > 0 && stored_n >= acked);
    drop(server);
}

// ---------------------------------------------------------------------------------------
// 4. SIGTERM under load
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn sigterm_under_load_exits_0_with_every_acknowledged_message_stored_and_an_empty_wal() {
    let deployment = Deployment::new().await;
    let server = deployment.serve().await;
    let backend = deployment.backend();
    let (rooms, lanes) = deployment.rooms_and_lanes(4).await;
    // Paced and capped: the load runs on through the shutdown, yet no room outgrows
    // Centrifugo's history (1000 publications).
    let load = Load::start(
        &backend,
        &lanes,
        LoadOptions {
            pace: Duration::from_millis(40),
            max_per_lane: 450,
            pad: 0,
        },
    );
    sleep(Duration::from_millis(1500)).await;
    let acked_at_term = load.acked();
    let term = Instant::now();

    let (status, took) = server.terminate(Duration::from_secs(20)).await;
    let mut reports = load.stop().await;
    let wal = PathBuf::from(format!("{}-wal", deployment.db.display()));
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    let left_in_outbox: i64 = rusqlite::Connection::open(&deployment.db)
        .unwrap()
        .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
        .unwrap();

    assert_eq!(
        status.map(|s| s.code()),
        Some(Some(0)),
        "exit after SIGTERM (waited {took:?})"
    );
    assert!(took < Duration::from_secs(15), "shutdown took {took:?}");
    assert_eq!(wal_len, 0, "the -wal file after a clean exit");
    let _server = deployment.serve().await;
    let retried_stored = retry_unacked(&backend, &mut reports).await;
    assert_no_unexpected_answers(&reports);
    let stored = assert_store_holds_every_ack(&backend, &rooms, &reports).await;
    let drained = backend.wait_drained(DRAIN).await;
    assert_history_matches(deployment.internal_port, &rooms, &stored, DRAIN).await;
    let acks: Vec<&Ack> = reports.iter().flat_map(|r| &r.acked).collect();
    let after_term = acks.iter().filter(|a| a.at > term).count();
    let last_after_term = acks
        .iter()
        .map(|a| a.at.saturating_duration_since(term))
        .max()
        .unwrap_or_default();
    eprintln!(
        "SIGTERM after {acked_at_term} acks: exit 0 in {took:?}; {} acked in all, {after_term} \
         of them after SIGTERM (the last {last_after_term:?} after it); {left_in_outbox} events \
         left in the outbox at exit, drained {drained:?} after restart; {retried_stored} \
         unacked sends had been stored",
        acks.len()
    );
}

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
