//! Prometheus metrics: one registry per `Application` (tests run several apps in one
//! process and each must see its own numbers), rendered in the text format 0.0.4.
//!
//! Hand-rolled rather than a client crate: we need a handful of counters and histograms,
//! the official `prometheus-client` writes OpenMetrics (its counter `# TYPE` names drop the
//! `_total` that 0.0.4 parsers expect on samples), and its labelled families take a lock per
//! lookup. Here the hot path is atomics only: HTTP series are found in a per-worker cache
//! (`HttpRecorder`), and the shared map is locked only when a worker meets a new series.

use crate::centrifugo::{ApiFailure, CentrifugoError};
use actix_web::http::Method;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod render;

/// The `Content-Type` of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// Route label of requests that matched no route (never the raw path: bounded cardinality).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Upper bounds of the latency buckets, in seconds (requests take milliseconds here).
const BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A rate limit, as the label `limit` of `chatsdk_rate_limit_rejections_total` names it.
#[derive(Debug, Clone, Copy)]
pub enum Limit {
    Key,
    UserWrites,
    Typing,
    AuthFailures,
}

impl Limit {
    const ALL: [Limit; 4] = [
        Limit::Key,
        Limit::UserWrites,
        Limit::Typing,
        Limit::AuthFailures,
    ];

    fn label(self) -> &'static str {
        match self {
            Limit::Key => "key",
            Limit::UserWrites => "user_writes",
            Limit::Typing => "typing",
            Limit::AuthFailures => "auth_failures",
        }
    }
}

/// A gauge computed at scrape time (the outbox backlog, read from SQLite).
pub struct Gauge {
    pub name: &'static str,
    pub help: &'static str,
    pub value: f64,
}

/// The registry of one application; cheap to clone.
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Registry>,
}

#[derive(Default)]
struct Registry {
    http: Mutex<HashMap<HttpKey, Arc<Histogram>>>,
    tokens_issued: AtomicU64,
    users_created: AtomicU64,
    messages_sent: AtomicU64,
    publish: Histogram,
    published_commands: AtomicU64,
    typing_dropped: AtomicU64,
    /// Rare, so a lock is fine: (kind, Centrifugo error code) → count.
    publish_failures: Mutex<BTreeMap<(&'static str, Option<u32>), u64>>,
    rate_limited: [AtomicU64; 4],
}

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct HttpKey {
    route: String,
    method: &'static str,
    status: u16,
}

/// Bucket counts (not cumulative) and the sum; the count is their total.
#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(BUCKETS.len());
        self.buckets[i].fetch_add(1, Relaxed);
        self.sum_nanos
            .fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Relaxed);
    }

    fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Relaxed)).sum()
    }
}

impl Metrics {
    /// A successful `POST /tokens`.
    pub fn token_issued(&self) {
        self.inner.tokens_issued.fetch_add(1, Relaxed);
    }

    /// A user created by `POST /tokens` (a returning user is not counted).
    pub fn user_upserted(&self, created: bool) {
        if created {
            self.inner.users_created.fetch_add(1, Relaxed);
        }
    }

    /// A message send; a retry answered with the first message (`created` false) is no new message.
    pub fn message_sent(&self, created: bool) {
        if created {
            self.inner.messages_sent.fetch_add(1, Relaxed);
        }
    }

    /// A typing event not published: too many on their way, or Centrifugo too slow.
    pub fn typing_dropped(&self) {
        self.inner.typing_dropped.fetch_add(1, Relaxed);
    }

    /// A request refused by a rate limit.
    pub fn rate_limited(&self, limit: Limit) {
        self.inner.rate_limited[limit as usize].fetch_add(1, Relaxed);
    }

    /// One `/api/publish` call to Centrifugo and how it went.
    pub fn centrifugo_publish(&self, took: Duration, result: &Result<(), CentrifugoError>) {
        self.publish_call(took, result.as_ref().map(|()| 1));
    }

    /// One `/api/batch` call (the relay's) and how it went, command by command.
    pub fn centrifugo_batch(
        &self,
        took: Duration,
        result: &Result<Vec<Result<(), ApiFailure>>, CentrifugoError>,
    ) {
        let accepted = result.as_ref().map(|outcomes| {
            for failure in outcomes.iter().filter_map(|o| o.as_ref().err()) {
                self.count_publish_failure("api", Some(failure.code));
            }
            outcomes.iter().filter(|o| o.is_ok()).count()
        });
        self.publish_call(took, accepted);
    }

    fn publish_call(&self, took: Duration, accepted: Result<usize, &CentrifugoError>) {
        self.inner.publish.observe(took);
        match accepted {
            Ok(accepted) => {
                self.inner
                    .published_commands
                    .fetch_add(accepted as u64, Relaxed);
            }
            Err(e) => {
                let (kind, code) = match e {
                    CentrifugoError::Api { code, .. } => ("api", Some(*code)),
                    CentrifugoError::Unauthorized => ("unauthorized", None),
                    CentrifugoError::Unreachable { .. }
                    | CentrifugoError::Status(_)
                    | CentrifugoError::Decode(_) => ("transport", None),
                };
                self.count_publish_failure(kind, code);
            }
        }
    }

    fn count_publish_failure(&self, kind: &'static str, code: Option<u32>) {
        let mut failures = self
            .inner
            .publish_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *failures.entry((kind, code)).or_default() += 1;
    }

    /// A recorder of HTTP requests for one actix worker (not `Send`: one per worker).
    pub fn http_recorder(&self) -> HttpRecorder {
        HttpRecorder(Rc::new(RecorderInner {
            metrics: self.clone(),
            cache: RefCell::new(HashMap::new()),
        }))
    }
}

/// The method label: the standard methods, anything else `other` (bounded cardinality).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts HTTP requests for one worker: its own cache of series, so the shared map is
/// locked only the first time this worker sees a (route, method, status).
#[derive(Clone)]
pub struct HttpRecorder(Rc<RecorderInner>);

struct RecorderInner {
    metrics: Metrics,
    cache: RefCell<HashMap<HttpKey, Arc<Histogram>>>,
}

impl HttpRecorder {
    /// One answered request; `route` is its pattern, `None` when no route matched.
    pub fn observe(&self, route: Option<String>, method: &Method, status: u16, took: Duration) {
        let key = HttpKey {
            route: route.unwrap_or_else(|| UNMATCHED_ROUTE.to_string()),
            method: method_label(method),
            status,
        };
        let mut cache = self.0.cache.borrow_mut();
        if let Some(h) = cache.get(&key) {
            h.observe(took);
            return;
        }
        let h = self
            .0
            .metrics
            .inner
            .http
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.clone())
            .or_default()
            .clone();
        h.observe(took);
        cache.insert(key, h);
    }
}

#[cfg(test)]
mod tests {
    use super::render::escape;
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_count_what_they_saw() {
        let m = Metrics::default();
        let rec = m.http_recorder();
        let route = Some("/a/{id}".to_string());
        rec.observe(route.clone(), &Method::GET, 200, Duration::from_micros(500));
        rec.observe(route, &Method::GET, 200, Duration::from_millis(30));
        rec.observe(
            None,
            &Method::from_bytes(b"BREW").unwrap(),
            404,
            Duration::ZERO,
        );
        let text = m.render(&[]);
        let l = r#"route="/a/{id}",method="GET",status="200""#;
        assert!(
            text.contains(&format!("chatsdk_http_requests_total{{{l}}} 2\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("_bucket{{{l},le=\"0.001\"}} 1\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("_bucket{{{l},le=\"0.05\"}} 2\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("_bucket{{{l},le=\"+Inf\"}} 2\n")),
            "{text}"
        );
        assert!(text.contains(&format!("_sum{{{l}}} 0.0305\n")), "{text}");
        assert!(
            text.contains(r#"{route="unmatched",method="other",status="404"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
