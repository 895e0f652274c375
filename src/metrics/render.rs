//! The Prometheus text format 0.0.4: every series of a registry, rendered at scrape time.

use super::{BUCKETS, Gauge, Histogram, HttpKey, Limit, Metrics};
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

impl Metrics {
    /// Every series in the text format, the scrape-time `gauges` last.
    pub fn render(&self, gauges: &[Gauge]) -> String {
        let r = &*self.inner;
        let mut out = String::with_capacity(8 * 1024);
        let mut http: Vec<(HttpKey, Arc<Histogram>)> = r
            .http
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, h)| (k.clone(), h.clone()))
            .collect();
        http.sort_by(|a, b| a.0.cmp(&b.0));
        let labels = |k: &HttpKey| {
            format!(
                "route=\"{}\",method=\"{}\",status=\"{}\",",
                escape(&k.route),
                k.method,
                k.status
            )
        };
        header(
            &mut out,
            "chatsdk_http_requests_total",
            "counter",
            "HTTP requests answered, by route pattern, method and status.",
        );
        for (k, h) in &http {
            let l = labels(k);
            let _ = writeln!(
                out,
                "chatsdk_http_requests_total{{{}}} {}",
                l.trim_end_matches(','),
                h.count()
            );
        }
        header(
            &mut out,
            "chatsdk_http_request_duration_seconds",
            "histogram",
            "Time to answer an HTTP request, by route pattern, method and status.",
        );
        for (k, h) in &http {
            h.render(
                &mut out,
                "chatsdk_http_request_duration_seconds",
                &labels(k),
            );
        }
        for (name, help, counter) in [
            (
                "chatsdk_tokens_issued_total",
                "Token pairs issued by POST /tokens.",
                &r.tokens_issued,
            ),
            (
                "chatsdk_users_created_total",
                "Users created by POST /tokens (returning users are not counted).",
                &r.users_created,
            ),
            (
                "chatsdk_messages_sent_total",
                "Chat messages sent (an idempotent retry is not counted again).",
                &r.messages_sent,
            ),
            (
                "chatsdk_centrifugo_published_commands_total",
                "Commands (publish, broadcast, unsubscribe, ...) Centrifugo accepted.",
                &r.published_commands,
            ),
            (
                "chatsdk_typing_events_dropped_total",
                "Typing events not published: too many already on their way to Centrifugo, or it was too slow.",
                &r.typing_dropped,
            ),
        ] {
            header(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {}", counter.load(Relaxed));
        }
        header(
            &mut out,
            "chatsdk_centrifugo_publish_duration_seconds",
            "histogram",
            "Time of one publish call to Centrifugo's API (a relay batch or a typing event).",
        );
        r.publish
            .render(&mut out, "chatsdk_centrifugo_publish_duration_seconds", "");
        header(
            &mut out,
            "chatsdk_centrifugo_publish_failures_total",
            "counter",
            "Failed publishes: kind transport (unreachable, timeout, bad answer), unauthorized, or api with Centrifugo's error code.",
        );
        let failures = r
            .publish_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for ((kind, code), n) in failures {
            let code = code.map(|c| format!(",code=\"{c}\"")).unwrap_or_default();
            let _ = writeln!(
                out,
                "chatsdk_centrifugo_publish_failures_total{{kind=\"{kind}\"{code}}} {n}"
            );
        }
        header(
            &mut out,
            "chatsdk_rate_limit_rejections_total",
            "counter",
            "Requests refused with 429 rate_limited, by limit.",
        );
        for limit in Limit::ALL {
            let _ = writeln!(
                out,
                "chatsdk_rate_limit_rejections_total{{limit=\"{}\"}} {}",
                limit.label(),
                r.rate_limited[limit as usize].load(Relaxed)
            );
        }
        for g in gauges {
            header(&mut out, g.name, "gauge", g.help);
            let _ = writeln!(out, "{} {}", g.name, g.value);
        }
        out
    }
}

impl Histogram {
    /// Writes `_bucket`, `_sum` and `_count` lines; `labels` is `a="x",` or empty.
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Relaxed);
            let le = BUCKETS
                .get(i)
                .map_or_else(|| "+Inf".to_string(), f64::to_string);
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{le}\"}} {cumulative}");
        }
        let sum = self.sum_nanos.load(Relaxed) as f64 / 1e9;
        let braces = |l: &str| {
            let l = l.trim_end_matches(',');
            if l.is_empty() {
                String::new()
            } else {
                format!("{{{l}}}")
            }
        };
        let _ = writeln!(out, "{name}_sum{} {sum}", braces(labels));
        let _ = writeln!(out, "{name}_count{} {cumulative}", braces(labels));
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value as the text format wants it: backslash, quote and newline escaped.
pub(super) fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
