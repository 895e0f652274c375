//! `GET /metrics` after a real scenario: the series a Prometheus server would scrape, read
//! with a small parser of the text format (0.0.4), never by grepping substrings.

use crate::common;
use crate::common::{TestApp, assert_error, free_port};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tokio::time::{Instant, sleep};

/// Messages the scenario sends (the per-user write limit is set to exactly this).
const SENT: u32 = 3;

type Labels = BTreeMap<String, String>;

/// One scrape: every sample, and the declared type of each family.
struct Scrape {
    samples: Vec<(String, Labels, f64)>,
    types: HashMap<String, String>,
}

impl Scrape {
    /// Parses the text format; panics on any line that is not HELP, TYPE or a sample.
    fn parse(text: &str) -> Scrape {
        let mut samples = Vec::new();
        let mut types = HashMap::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
                let known = ["counter", "gauge", "histogram", "summary", "untyped"];
                assert!(known.contains(&kind), "unknown type in {line:?}");
                assert!(
                    types.insert(name.to_string(), kind.to_string()).is_none(),
                    "{name} typed twice"
                );
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            assert!(!line.starts_with('#'), "unexpected comment {line:?}");
            let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                v => v
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value in {line:?}")),
            };
            let (name, labels) = match series.split_once('{') {
                None => (series.to_string(), Labels::new()),
                Some((name, rest)) => {
                    let body = rest.strip_suffix('}').expect("labels end with }");
                    (name.to_string(), parse_labels(body))
                }
            };
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':'),
                "bad metric name {name:?}"
            );
            samples.push((name, labels, value));
        }
        Scrape { samples, types }
    }

    /// Every sample of `name` whose labels include `labels`.
    fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&(String, Labels, f64)> {
        self.samples
            .iter()
            .filter(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The value of the one sample of `name` with exactly `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<_> = self
            .find(name, labels)
            .into_iter()
            .filter(|(_, l, _)| l.len() == labels.len())
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one sample {name}{labels:?}, got {found:?}\nall: {:?}",
            self.samples
        );
        found[0].2
    }

    /// The family a sample belongs to, as `# TYPE` declared it.
    fn family_type(&self, sample: &str) -> Option<&str> {
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| sample.strip_suffix(s))
            .filter(|b| self.types.get(*b).is_some_and(|t| t == "histogram"))
            .unwrap_or(sample);
        self.types.get(base).map(String::as_str)
    }
}

/// `a="x",b="y\"z"` → {a: x, b: y"z}.
fn parse_labels(body: &str) -> Labels {
    let mut labels = Labels::new();
    let mut chars = body.chars().peekable();
    while chars.peek().is_some() {
        let name: String = chars.by_ref().take_while(|&c| c != '=').collect();
        assert_eq!(chars.next(), Some('"'), "label {name} has a quoted value");
        let mut value = String::new();
        loop {
            match chars.next().expect("label value ends") {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(c) => value.push(c),
                    None => panic!("dangling escape"),
                },
                '"' => break,
                c => value.push(c),
            }
        }
        assert!(labels.insert(name.clone(), value).is_none(), "{name} twice");
        match chars.next() {
            Some(',') | None => {}
            Some(c) => panic!("unexpected {c:?} after a label"),
        }
    }
    labels
}

async fn scrape_at(app: &TestApp, base: &str) -> Scrape {
    let res = app
        .http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "text/plain; version=0.0.4"
    );
    Scrape::parse(&res.text().await.unwrap())
}

async fn scrape(app: &TestApp) -> Scrape {
    scrape_at(app, &app.base).await
}

/// Waits until the relay has handed every queued event to Centrifugo.
async fn wait_outbox_empty(app: &TestApp) {
    let started = Instant::now();
    while scrape(app)
        .await
        .value("chatsdk_outbox_pending_events", &[])
        > 0.0
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the outbox did not drain"
        );
        sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn a_scenario_shows_up_in_the_expected_series_with_bounded_labels() {
    let app = TestApp::start_with(|a| {
        // The channel's creation is a write too, then SENT messages fit.
        a.rate_limits.rate_limit_user_writes = format!("{}/min", SENT + 1).parse().unwrap()
    })
    .await;
    let token = app.tokens_for("alice").await["token"]
        .as_str()
        .unwrap()
        .to_string();
    app.tokens_for("alice").await;
    let bad = app
        .post_tokens_with_key("chatsdk_key_bad", &json!({"userId": "x"}))
        .await;
    assert_error(bad, 401, "invalid_api_key").await;
    let api = |method: reqwest::Method, path: &str| {
        app.http
            .request(method, format!("{}{path}", app.base))
            .bearer_auth(&token)
    };
    let res = api(reqwest::Method::POST, "/api/channels")
        .json(&json!({"id": "room", "members": ["bob"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    wait_outbox_empty(&app).await;
    for i in 0..SENT {
        let res = api(reqwest::Method::POST, "/api/channels/room/messages")
            .json(&json!({"text": format!("hello {i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        // One relay batch per message, so the publish histogram counts each.
        wait_outbox_empty(&app).await;
    }
    let over = api(reqwest::Method::POST, "/api/channels/room/messages")
        .json(&json!({"text": "one too many"}))
        .send()
        .await
        .unwrap();
    assert_error(over, 429, "rate_limited").await;
    let res = app
        .http
        .get(format!("{}/no/such/route?x=1", app.base))
        .send()
        .await
        .unwrap();
    assert_error(res, 404, "not_found").await;
    let missing = api(reqwest::Method::GET, "/api/channels/nope").send().await;
    assert_error(missing.unwrap(), 404, "channel_not_found").await;

    let m = scrape(&app).await;

    let http = |route: &str, method: &str, status: &str| {
        let labels = [("route", route), ("method", method), ("status", status)];
        m.value("chatsdk_http_requests_total", &labels)
    };
    assert_eq!(http("/tokens", "POST", "200"), 2.0);
    assert_eq!(http("/tokens", "POST", "401"), 1.0);
    assert_eq!(http("/api/channels", "POST", "201"), 1.0);
    let messages = "/api/channels/{id}/messages";
    assert_eq!(http(messages, "POST", "201"), f64::from(SENT));
    assert_eq!(http(messages, "POST", "429"), 1.0);
    assert_eq!(http("/api/channels/{id}", "GET", "404"), 1.0);
    assert_eq!(http("unmatched", "GET", "404"), 1.0);
    for (_, labels, _) in m.find("chatsdk_http_requests_total", &[]) {
        let names: Vec<&str> = labels.keys().map(String::as_str).collect();
        assert_eq!(names, ["method", "route", "status"]);
        let route = &labels["route"];
        assert!(
            route == "unmatched" || !route.contains("room") && !route.contains("nope"),
            "a raw path became a label: {route}"
        );
    }
    let duration = "chatsdk_http_request_duration_seconds";
    let labels = [("route", messages), ("method", "POST"), ("status", "201")];
    let count = m.value(&format!("{duration}_count"), &labels);
    assert_eq!(count, f64::from(SENT));
    let buckets = m.find(&format!("{duration}_bucket"), &labels);
    assert!(buckets.len() > 5, "{buckets:?}");
    assert!(
        buckets.windows(2).all(|w| w[0].2 <= w[1].2),
        "cumulative buckets"
    );
    let inf = buckets.last().unwrap();
    assert_eq!((inf.1["le"].as_str(), inf.2), ("+Inf", count));
    assert!(m.value(&format!("{duration}_sum"), &labels) > 0.0);

    assert_eq!(m.value("chatsdk_tokens_issued_total", &[]), 2.0);
    assert_eq!(
        m.value("chatsdk_users_created_total", &[]),
        1.0,
        "alice once; bob, added as a member, got no token"
    );
    assert_eq!(m.value("chatsdk_messages_sent_total", &[]), f64::from(SENT));
    let limited = |limit: &str| m.value("chatsdk_rate_limit_rejections_total", &[("limit", limit)]);
    assert_eq!(limited("user_writes"), 1.0);
    assert_eq!(limited("key"), 0.0);
    assert_eq!(limited("typing"), 0.0);
    let publishes = m.value("chatsdk_centrifugo_publish_duration_seconds_count", &[]);
    assert!(
        publishes >= f64::from(SENT + 1),
        "a batch per message and one for the channel: {publishes}"
    );
    assert!(m.value("chatsdk_centrifugo_published_commands_total", &[]) >= f64::from(SENT + 1));
    assert!(
        m.find("chatsdk_centrifugo_publish_failures_total", &[])
            .is_empty(),
        "Centrifugo accepted everything"
    );
    assert_eq!(m.value("chatsdk_outbox_pending_events", &[]), 0.0);
    assert_eq!(m.value("chatsdk_outbox_failed_events", &[]), 0.0);

    for (name, _, _) in &m.samples {
        let kind = m
            .family_type(name)
            .unwrap_or_else(|| panic!("{name} has no # TYPE"));
        assert_eq!(
            kind == "counter",
            name.ends_with("_total"),
            "{name} is a {kind}: counters and only counters end in _total"
        );
    }
}

#[actix_web::test]
async fn publish_failures_are_counted_by_kind_while_centrifugo_is_down() {
    let mut app = TestApp::start().await;
    let backend = |path: &str| {
        app.http
            .post(format!("{}{path}", app.base))
            .header("X-API-Key", &app.api_key)
    };
    let res = backend("/api/channels")
        .json(&json!({"id": "room", "userId": "alice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    wait_outbox_empty(&app).await;
    app.centrifugo.take().unwrap().stop().await;

    let res = backend("/api/channels/room/messages")
        .json(&json!({"text": "queued", "userId": "alice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "the message is stored all the same");

    let started = Instant::now();
    loop {
        let m = scrape(&app).await;
        let failed = m.find(
            "chatsdk_centrifugo_publish_failures_total",
            &[("kind", "transport")],
        );
        if let Some((_, labels, n)) = failed.first() {
            assert!(*n >= 1.0);
            assert_eq!(
                labels.len(),
                1,
                "transport failures have no code: {labels:?}"
            );
            assert_eq!(m.value("chatsdk_outbox_pending_events", &[]), 1.0);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no transport failure counted"
        );
        sleep(Duration::from_millis(100)).await;
    }
}

/// Established TCP connections to `port` on this machine, whoever opened them.
fn connections_to(port: u16) -> usize {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .map(|table| {
            table
                .lines()
                .skip(1)
                .filter(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    let remote_port = fields
                        .get(2)
                        .and_then(|a| a.rsplit(':').next())
                        .and_then(|p| u16::from_str_radix(p, 16).ok());
                    fields.get(3) == Some(&"01") && remote_port == Some(port)
                })
                .count()
        })
        .sum()
}

/// Sends SIGSTOP or SIGCONT to `pid`.
fn signal(pid: u32, which: &str) {
    let sent = std::process::Command::new("kill")
        .args([which, &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill {which} {pid}");
}

#[actix_web::test]
async fn a_hung_centrifugo_holds_at_most_64_typing_events_the_rest_are_dropped_and_counted() {
    const BURST: usize = 300;
    let app = TestApp::start().await;
    let typing = || {
        app.http
            .post(format!("{}/api/channels/room/typing", app.base))
            .header("X-API-Key", &app.api_key)
            .json(&json!({"userId": "alice"}))
            .send()
    };
    let res = app
        .http
        .post(format!("{}/api/channels", app.base))
        .header("X-API-Key", &app.api_key)
        .json(&json!({"id": "room", "userId": "alice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(typing().await.unwrap().status(), 202);
    let dropped = |m: &Scrape| m.value("chatsdk_typing_events_dropped_total", &[]);
    sleep(Duration::from_millis(200)).await;
    assert_eq!(dropped(&scrape(&app).await), 0.0, "Centrifugo answers");

    // Stopped, Centrifugo's kernel still accepts connections, and nothing answers them.
    let centrifugo = app.centrifugo.as_ref().unwrap().pid().unwrap();
    signal(centrifugo, "-STOP");
    let answers = futures_util::future::join_all((0..BURST).map(|_| typing())).await;
    let held = connections_to(app.centrifugo_internal_port);
    sleep(Duration::from_millis(1500)).await;
    let after_the_timeout = scrape(&app).await;
    signal(centrifugo, "-CONT");

    for answer in answers {
        assert_eq!(answer.unwrap().status(), 202, "typing answers at once");
    }
    assert!(
        held <= chatsdk::centrifugo::TYPING_IN_FLIGHT + 2,
        "{held} connections to a hung Centrifugo"
    );
    assert_eq!(
        dropped(&after_the_timeout),
        BURST as f64,
        "each event was dropped at once or after the 1 s timeout"
    );
    // The permits came back: once Centrifugo answers, typing goes through again.
    assert_eq!(typing().await.unwrap().status(), 202);
    sleep(Duration::from_millis(300)).await;
    assert_eq!(dropped(&scrape(&app).await), BURST as f64);
}

#[actix_web::test]
async fn each_app_in_a_process_counts_only_its_own_requests() {
    let (a, b) = (TestApp::start().await, TestApp::start().await);

    a.tokens_for("alice").await;
    a.tokens_for("bob").await;

    assert_eq!(
        scrape(&a).await.value("chatsdk_tokens_issued_total", &[]),
        2.0
    );
    let other = scrape(&b).await;
    assert_eq!(other.value("chatsdk_tokens_issued_total", &[]), 0.0);
    assert!(
        other
            .find("chatsdk_http_requests_total", &[("route", "/tokens")])
            .is_empty()
    );
}

#[actix_web::test]
async fn with_a_metrics_address_metrics_are_served_there_and_not_on_the_public_port() {
    let port = free_port();
    let app = TestApp::start_with(|a| {
        a.metrics_addr = Some(format!("127.0.0.1:{port}").parse().unwrap())
    })
    .await;
    app.tokens_for("alice").await;

    let public = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_error(public, 404, "not_found").await;

    let internal = format!("http://127.0.0.1:{port}");
    let m = scrape_at(&app, &internal).await;
    assert_eq!(m.value("chatsdk_tokens_issued_total", &[]), 1.0);
    let labels = [("route", "unmatched"), ("method", "GET"), ("status", "404")];
    assert_eq!(
        m.value("chatsdk_http_requests_total", &labels),
        1.0,
        "the public port's 404 for /metrics is counted like any unknown path"
    );
    let other = app
        .http
        .get(format!("{internal}/tokens"))
        .send()
        .await
        .unwrap();
    assert_error(other, 404, "not_found").await;
    // HEAD and 405s as on the public port.
    let head = app
        .http
        .head(format!("{internal}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    let post = app
        .http
        .post(format!("{internal}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.headers()["allow"], "GET, HEAD");
    assert_error(post, 405, "method_not_allowed").await;
}

#[test]
fn the_same_address_for_both_is_refused() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chatsdk"))
        .args(["serve"])
        .env("CHATSDK_ADDR", "127.0.0.1:18080")
        .env("CHATSDK_METRICS_ADDR", "127.0.0.1:18080")
        .env("CHATSDK_JWT_SECRET", common::JWT_SECRET)
        .env(
            "CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY",
            common::CENTRIFUGO_SECRET,
        )
        .env("CENTRIFUGO_HTTP_API_KEY", common::CENTRIFUGO_API_KEY)
        .env(
            "CHATSDK_DATABASE",
            std::env::temp_dir().join("never-opened.db"),
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CHATSDK_METRICS_ADDR must differ"), "{err}");
}
