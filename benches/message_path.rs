//! The message path through a real Centrifugo: `POST .../messages` (REST) → SQLite and the
//! outbox → relay → Centrifugo's HTTP API → WebSocket subscribers, who speak Centrifugo's
//! JSON protocol with real connection and subscription tokens (tokio-tungstenite).
//!
//! 1. Latency at a fixed send rate (100 and 1,000 msgs/s): one subscriber; each message
//!    carries its send time, so the subscriber measures send→receive per message.
//! 2. Fan-out: 1, 100 and 1,000 subscribed members, one sender, messages spaced apart;
//!    latency per delivery and the time until every member has the message.
//!
//! Run: `cargo bench --bench message_path` (add `-- --seconds 5 --rates 100,1000
//! --fanout 1,100,1000 --fanout-messages 20`).

mod support;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use support::{Stack, fd_limit, machine_notes, ms, pct};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

/// Clock shared by senders and subscribers (one process).
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_us() -> u64 {
    epoch().elapsed().as_micros() as u64
}

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

fn list(name: &str, default: &str) -> Vec<usize> {
    arg(name, default)
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect()
}

fn main() {
    let seconds: u64 = arg("--seconds", "5").parse().unwrap_or(5);
    let rates = list("--rates", "100,1000");
    let fanout = list("--fanout", "1,100,1000");
    let fanout_messages: usize = arg("--fanout-messages", "20").parse().unwrap_or(20);
    let show = |v: &[usize]| v.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
    println!(
        "command: cargo bench --bench message_path -- --seconds {seconds} --rates {} --fanout {} --fanout-messages {fanout_messages}",
        show(&rates),
        show(&fanout)
    );
    println!("machine: {}", machine_notes());
    println!(
        "open-file limit (ulimit -n): {} (each subscriber holds one socket here and one in Centrifugo; \
         the checked-in config sets no client connection limit)",
        fd_limit()
    );
    epoch();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    rt.block_on(run(seconds, &rates, &fanout, fanout_messages));
}

async fn run(seconds: u64, rates: &[usize], fanout: &[usize], fanout_messages: usize) {
    let stack = Stack::start(true).await;
    println!(
        "chatsdk serve: release build, synchronous=FULL, rate limits off; Centrifugo v6.9.1\n"
    );

    println!(
        "{:<34} {:>9} {:>9} {:>10} {:>10} {:>10} {:>10} {:>13}",
        "send→receive, 1 subscriber",
        "sent",
        "received",
        "p50",
        "p99",
        "max",
        "POST p99",
        "server µs/msg"
    );
    let server_pid = stack.server.0.id();
    for (i, &rate) in rates.iter().enumerate() {
        let channel = format!("rate-{i}");
        let subs = setup_channel(&stack, &channel, 1).await;
        let (tx, rx) = mpsc::unbounded_channel();
        let _conns = connect_all(&stack, &subs, tx).await;
        let total = rate * seconds as usize;
        let cpu_before = support::cpu_time(server_pid);
        let post = send_at_rate(&stack, &channel, rate, total).await;
        let got = collect(rx, total, Duration::from_secs(10)).await;
        // The server's CPU time (every thread: HTTP, writer, relay) per message sent.
        let cpu_per_msg = support::cpu_time(server_pid)
            .saturating_sub(cpu_before)
            .as_micros()
            / total.max(1) as u128;
        let mut lat: Vec<Duration> = got.iter().map(|d| d.latency).collect();
        lat.sort();
        println!(
            "{:<34} {:>9} {:>9} {:>10} {:>10} {:>10} {:>10} {:>13}",
            format!("{rate} msgs/s for {seconds} s"),
            total,
            lat.len(),
            ms(pct(&lat, 0.5)),
            ms(pct(&lat, 0.99)),
            ms(*lat.last().unwrap_or(&Duration::ZERO)),
            ms(pct(&post, 0.99)),
            cpu_per_msg,
        );
    }

    println!(
        "\n{:<34} {:>9} {:>9} {:>10} {:>10} {:>12} {:>12}",
        "fan-out, one sender", "expected", "received", "p50", "p99", "all: p50", "all: max"
    );
    for &members in fanout {
        let channel = format!("fan-{members}");
        let subs = setup_channel(&stack, &channel, members).await;
        let (tx, rx) = mpsc::unbounded_channel();
        let _conns = connect_all(&stack, &subs, tx).await;
        for n in 0..fanout_messages {
            send(&stack, &channel, n).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let expected = members * fanout_messages;
        let got = collect(rx, expected, Duration::from_secs(20)).await;
        let mut lat: Vec<Duration> = got.iter().map(|d| d.latency).collect();
        lat.sort();
        // Per message: when its last member got it.
        let mut all = vec![Duration::ZERO; fanout_messages];
        for d in &got {
            if let Some(slot) = all.get_mut(d.n) {
                *slot = (*slot).max(d.latency);
            }
        }
        all.sort();
        println!(
            "{:<34} {:>9} {:>9} {:>10} {:>10} {:>12} {:>12}",
            format!("{members} members × {fanout_messages} messages"),
            expected,
            got.len(),
            ms(pct(&lat, 0.5)),
            ms(pct(&lat, 0.99)),
            ms(pct(&all, 0.5)),
            ms(*all.last().unwrap_or(&Duration::ZERO)),
        );
    }
    println!(
        "\nRSS after: chatsdk serve {}; Centrifugo {}",
        support::rss(stack.server.0.id()),
        stack
            .centrifugo
            .as_ref()
            .map_or(String::new(), |c| support::rss(c.0.id()))
    );
}

/// A subscriber's credentials for one channel.
struct Subscriber {
    ws_token: String,
    sub_token: String,
    channel: String,
}

/// Creates `members` users and a channel (owned by `sender`) with them in it; returns
/// each member's wsToken and subscription token.
async fn setup_channel(stack: &Stack, channel: &str, members: usize) -> Vec<Subscriber> {
    let ids: Vec<String> = (0..members).map(|i| format!("{channel}-m{i}")).collect();
    stack
        .backend(
            reqwest::Method::POST,
            "/api/channels",
            json!({"id": channel, "userId": "sender"}),
        )
        .await;
    for chunk in ids.chunks(100) {
        stack
            .backend(
                reqwest::Method::POST,
                &format!("/api/channels/{channel}/members"),
                json!({"userIds": chunk, "userId": "sender"}),
            )
            .await;
    }
    let subs = futures_util::stream::iter(ids)
        .map(|id| async move {
            let (token, ws_token) = stack.tokens(&id).await;
            let res = stack
                .http
                .post(format!(
                    "{}/api/channels/{channel}/subscription-token",
                    stack.base
                ))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap_or_else(|e| panic!("subscription token: {e}"));
            let body: Value = res.json().await.unwrap_or(Value::Null);
            Subscriber {
                ws_token,
                sub_token: body["token"].as_str().unwrap_or_default().to_string(),
                channel: body["channel"].as_str().unwrap_or_default().to_string(),
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    assert!(
        subs.iter().all(|s| s.channel.starts_with("chat:")),
        "no subscription token for {channel}"
    );
    subs
}

/// One received message: which one (`n`) and its send→receive latency.
struct Delivery {
    n: usize,
    latency: Duration,
}

/// Subscriber tasks, disconnected when dropped (so one phase's clients leave before the next).
struct Connections(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Connections {
    fn drop(&mut self) {
        self.0.iter().for_each(|h| h.abort());
    }
}

/// Connects and subscribes every member; returns once all are subscribed.
async fn connect_all(
    stack: &Stack,
    subs: &[Subscriber],
    out: mpsc::UnboundedSender<Delivery>,
) -> Connections {
    let mut handles = Vec::with_capacity(subs.len());
    let mut ready = Vec::with_capacity(subs.len());
    for chunk in subs.chunks(50) {
        for s in chunk {
            let (tx, rx) = oneshot::channel();
            handles.push(tokio::spawn(subscriber(
                stack.ws_url.clone(),
                s.ws_token.clone(),
                s.sub_token.clone(),
                s.channel.clone(),
                out.clone(),
                tx,
            )));
            ready.push(rx);
        }
        // Wait for this batch before the next, so connects do not pile up.
        for rx in ready.drain(..) {
            rx.await
                .unwrap_or_else(|_| panic!("a subscriber failed to connect or subscribe"));
        }
    }
    Connections(handles)
}

/// A Centrifugo client: connect, subscribe, then report every `message.new` it gets.
async fn subscriber(
    url: String,
    ws_token: String,
    sub_token: String,
    channel: String,
    out: mpsc::UnboundedSender<Delivery>,
    ready: oneshot::Sender<()>,
) {
    let (ws, _) = tokio_tungstenite::connect_async(&url)
        .await
        .unwrap_or_else(|e| panic!("WebSocket {url}: {e}"));
    let (mut write, mut read) = ws.split();
    let mut ready = Some(ready);
    let commands = [
        json!({"id": 1, "connect": {"token": ws_token, "name": "bench"}}),
        json!({"id": 2, "subscribe": {"channel": channel, "token": sub_token}}),
    ];
    for cmd in &commands {
        write
            .send(Message::text(cmd.to_string()))
            .await
            .unwrap_or_else(|e| panic!("send {cmd}: {e}"));
    }
    let mut acked = 0;
    while let Some(Ok(frame)) = read.next().await {
        let Ok(text) = frame.to_text() else { continue };
        let received = now_us();
        // Centrifugo's JSON protocol: one reply or push per line.
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if v.as_object().is_some_and(|o| o.is_empty()) {
                // A ping: answer with a pong.
                let _ = write.send(Message::text("{}")).await;
                continue;
            }
            if v.get("error").is_some() {
                panic!("Centrifugo refused a command: {v}");
            }
            if v.get("id").is_some() {
                acked += 1;
                if acked == commands.len() {
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                }
                continue;
            }
            let event = &v["push"]["pub"]["data"];
            if event["type"] != "message.new" {
                continue;
            }
            // The text is "bench <n> <sent µs>".
            let text = event["data"]["text"].as_str().unwrap_or_default();
            let mut parts = text.split_whitespace().skip(1);
            let n = parts.next().and_then(|v| v.parse().ok());
            let sent = parts.next().and_then(|v| v.parse::<u64>().ok());
            if let (Some(n), Some(sent)) = (n, sent) {
                let latency = Duration::from_micros(received.saturating_sub(sent));
                let _ = out.send(Delivery { n, latency });
            }
        }
    }
}

/// Sends message `n` as the backend acting as `sender`; returns how long the POST took.
async fn send(stack: &Stack, channel: &str, n: usize) -> Duration {
    let started = Instant::now();
    let res = stack
        .http
        .post(format!("{}/api/channels/{channel}/messages", stack.base))
        .header("X-API-Key", &stack.api_key)
        .json(&json!({"text": format!("bench {n} {}", now_us()), "userId": "sender"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("send: {e}"));
    assert!(res.status().is_success(), "send: {}", res.status());
    started.elapsed()
}

/// Sends `total` messages at `rate` per second on schedule (not waiting for each answer);
/// returns the POST latencies, sorted.
async fn send_at_rate(stack: &Stack, channel: &str, rate: usize, total: usize) -> Vec<Duration> {
    let start = tokio::time::Instant::now();
    let period = Duration::from_secs_f64(1.0 / rate as f64);
    let mut posts = futures_util::stream::FuturesUnordered::new();
    let mut done = Vec::with_capacity(total);
    for n in 0..total {
        let due = start + period * n as u32;
        // Keep collecting answers while waiting for the next send time.
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(due) => break,
                Some(d) = posts.next(), if !posts.is_empty() => done.push(d),
            }
        }
        posts.push(send(stack, channel, n));
    }
    while let Some(d) = posts.next().await {
        done.push(d);
    }
    done.sort();
    done
}

/// Deliveries until `expected` arrived or `wait` passed without a new one.
async fn collect(
    mut rx: mpsc::UnboundedReceiver<Delivery>,
    expected: usize,
    wait: Duration,
) -> Vec<Delivery> {
    let mut got = Vec::with_capacity(expected);
    while got.len() < expected {
        match tokio::time::timeout(wait, rx.recv()).await {
            Ok(Some(d)) => got.push(d),
            _ => break,
        }
    }
    got
}
