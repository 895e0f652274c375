//! Logging: env_logger's text lines by default, one JSON object per line with
//! `CHATSDK_LOG_FORMAT=json`. Every line logged while a request is served carries that
//! request's id (`request_id`), so a 5xx cause can be found from the id the client got.
//! While the server serves, lines go through a buffer (`sink`): one `write` for many.

use env_logger::fmt::Formatter;
use log::Log as _;
use log::kv::{Key, Source, Value, VisitSource};
use std::future::Future;
use std::io::{self, Write};
use std::rc::Rc;
use std::sync::OnceLock;

mod outage;
mod rust_log;
mod sink;
pub use outage::{Outage, Report};
pub use sink::BufferingGuard;
use sink::Sink;

/// The sink of the installed logger, for `buffer_while_serving`.
static SINK: OnceLock<Sink> = OnceLock::new();

/// actix-http's HTTP/1 connection handler. It logs at ERROR each request it cannot parse
/// (a URI or headers over its limits, a malformed head) and each broken connection, and
/// answers the client itself (400, 431): anyone without credentials could fill the error
/// log with them. They are the client's errors, so its warnings and errors become debug
/// lines (`RUST_LOG=debug` shows them). Such requests never reach our request log line.
/// The same target also reports a response body stream failing and an upgrade handler
/// failing, which would be ours; nothing here streams a response or upgrades, so those
/// are demoted with the rest.
const CLIENT_ERRORS_TARGET: &str = "actix_http::h1::dispatcher";

/// Crates whose trace lines carry the bytes they send: tungstenite logs every WebSocket
/// frame, and the doctor's connect frame holds a signed wsToken. Their trace lines are
/// dropped whatever `RUST_LOG` says, so no log level prints a token.
const PAYLOAD_TRACING_CRATES: [&str; 2] = ["tungstenite", "tokio_tungstenite"];

/// The environment variable that picks the format: `text` (default) or `json`.
pub const LOG_FORMAT_ENV: &str = "CHATSDK_LOG_FORMAT";

tokio::task_local! {
    static REQUEST_ID: Rc<str>;
}

/// Runs `f` (the serving of one request) with `id` as the request id of its log lines.
pub async fn with_request_id<F: Future>(id: Rc<str>, f: F) -> F::Output {
    REQUEST_ID.scope(id, f).await
}

/// The id of the request being served by the current task, if any.
pub fn request_id() -> Option<Rc<str>> {
    REQUEST_ID.try_with(Rc::clone).ok()
}

/// Installs the logger: `RUST_LOG` filters (default `info`), `CHATSDK_LOG_FORMAT` formats.
/// Lines are written at once until `buffer_while_serving`.
pub fn init() {
    let format = std::env::var(LOG_FORMAT_ENV).unwrap_or_default();
    let json = format.eq_ignore_ascii_case("json");
    let builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    let sink = Sink::default();
    let logger = Logger::new(builder, json, sink.clone());
    let max_level = logger.inner.filter();
    let silenced = std::env::var("RUST_LOG").ok().and_then(|spec| {
        rust_log::silenced_warnings_note(&spec, |l| logger.enabled(&rust_log::our_line(l)))
    });
    if let Some(note) = &silenced {
        // Through a logger of its own: the installed one would filter it out.
        let mut builder = env_logger::Builder::new();
        builder.filter_level(log::LevelFilter::Warn);
        let announcer = Logger::new(builder, json, sink.clone());
        announcer.log(
            &log::Record::builder()
                .level(log::Level::Warn)
                .target(module_path!())
                .args(format_args!("{note}"))
                .build(),
        );
        announcer.flush();
    }
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(max_level);
        let _ = SINK.set(sink);
        // A panic's message goes straight to stderr: everything logged before it first.
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            log::logger().flush();
            previous(info);
        }));
    }
    if !json && !format.is_empty() && !format.eq_ignore_ascii_case("text") {
        log::warn!("{LOG_FORMAT_ENV}={format:?} is neither `text` nor `json`: logging text");
    }
}

/// Buffers log lines until the guard is dropped (see `sink`): for `chatsdk serve`, where
/// a line per request would otherwise cost a `write` each. None when `init` did not run.
pub fn buffer_while_serving() -> Option<BufferingGuard> {
    SINK.get().map(Sink::buffer)
}

/// env_logger's filter and format, and the sink's rule: a warning or an error is written
/// at once, after everything logged before it.
struct Logger {
    inner: env_logger::Logger,
    sink: Sink,
}

impl Logger {
    /// `builder`'s filter, our text or JSON format, written to `sink`.
    fn new(mut builder: env_logger::Builder, json: bool, sink: Sink) -> Logger {
        if json {
            builder.format(write_json);
        } else {
            builder.format_key_values(write_text_fields);
        }
        // The sink is a pipe to env_logger, which would then never color: decide as it
        // would for stderr itself (RUST_LOG_STYLE, when set, still wins).
        if std::env::var_os("RUST_LOG_STYLE").is_none() {
            use std::io::IsTerminal;
            builder.write_style(if io::stderr().is_terminal() {
                env_logger::WriteStyle::Always
            } else {
                env_logger::WriteStyle::Never
            });
        }
        builder.target(env_logger::Target::Pipe(sink.writer()));
        Logger {
            inner: builder.build(),
            sink,
        }
    }
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        if metadata.level() == log::Level::Trace && traces_payloads(metadata.target()) {
            return false;
        }
        self.inner.enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        if record.level() == log::Level::Trace && traces_payloads(record.target()) {
            return;
        }
        if record.target() == CLIENT_ERRORS_TARGET && record.level() < log::Level::Debug {
            return self.log(&record.to_builder().level(log::Level::Debug).build());
        }
        // env_logger applies its filter itself; a filtered-out warning drains nothing new.
        self.inner.log(record);
        if record.level() <= log::Level::Warn {
            self.sink.drain();
        }
    }

    fn flush(&self) {
        self.sink.drain();
    }
}

/// Whether `target` is one of `PAYLOAD_TRACING_CRATES` or a module of one.
fn traces_payloads(target: &str) -> bool {
    PAYLOAD_TRACING_CRATES.iter().any(|krate| {
        target
            .strip_prefix(krate)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

/// Text lines: env_logger's ` key=value` fields, plus the request id inside a request.
fn write_text_fields(buf: &mut Formatter, fields: &dyn Source) -> io::Result<()> {
    env_logger::fmt::default_kv_format(buf, fields)?;
    if fields.get(Key::from_str("request_id")).is_none() {
        if let Some(id) = request_id() {
            write!(buf, " request_id={id}")?;
        }
    }
    Ok(())
}

/// One JSON object per line: ts, level, target, msg, then the record's fields.
fn write_json(buf: &mut Formatter, record: &log::Record<'_>) -> io::Result<()> {
    let mut line = format!(
        "{{\"ts\":{},\"level\":{},\"target\":{},\"msg\":{}",
        json_string(&buf.timestamp_millis().to_string()),
        json_string(record.level().as_str()),
        json_string(record.target()),
        json_string(&record.args().to_string()),
    );
    let mut fields = JsonFields {
        line: &mut line,
        has_request_id: false,
    };
    let _ = record.key_values().visit(&mut fields);
    if !fields.has_request_id {
        if let Some(id) = request_id() {
            line.push_str(",\"request_id\":");
            line.push_str(&json_string(&id));
        }
    }
    line.push('}');
    writeln!(buf, "{line}")
}

fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

struct JsonFields<'a> {
    line: &'a mut String,
    has_request_id: bool,
}

impl<'kvs> VisitSource<'kvs> for JsonFields<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        self.has_request_id |= key.as_str() == "request_id";
        // Numbers stay numbers; everything else becomes a string.
        let value = if let Some(n) = value.to_u64() {
            n.to_string()
        } else if let Some(n) = value.to_i64() {
            n.to_string()
        } else if let Some(x) = value.to_f64().filter(|x| x.is_finite()) {
            serde_json::Value::from(x).to_string()
        } else if let Some(b) = value.to_bool() {
            b.to_string()
        } else {
            json_string(&value.to_string())
        };
        self.line.push(',');
        self.line.push_str(&json_string(key.as_str()));
        self.line.push(':');
        self.line.push_str(&value);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::sink::tests::Captured;
    use super::*;
    use log::{Level, Log, Record};

    fn record(level: Level, text: &str, f: impl FnOnce(&Record<'_>)) {
        f(&Record::builder()
            .level(level)
            .target("chatsdk::test")
            .args(format_args!("{text}"))
            .build());
    }

    #[test]
    fn while_buffering_a_warning_writes_itself_and_everything_before_it_at_once() {
        let out = Captured::default();
        // The background thread never writes during the test: only a warning can.
        let sink = Sink::new(Box::new(out.clone()), std::time::Duration::from_secs(600));
        let mut builder = env_logger::Builder::new();
        builder.filter_level(log::LevelFilter::Info);
        let logger = Logger::new(builder, false, sink.clone());
        let _buffering = sink.buffer();

        record(Level::Info, "first, an info line", |r| logger.log(r));
        assert_eq!(
            out.text(),
            "",
            "an info line waits for the background write"
        );
        record(Level::Warn, "then a warning", |r| logger.log(r));
        let text = out.text();
        let info = text.find("first, an info line").expect(&text);
        let warn = text.find("then a warning").expect(&text);
        assert!(info < warn, "in the order logged: {text}");
        record(Level::Debug, "filtered out", |r| logger.log(r));
        logger.flush();
        assert!(!out.text().contains("filtered out"), "{}", out.text());
    }

    #[test]
    fn the_http1_dispatchers_errors_are_debug_lines() {
        let error = |logger: &Logger| {
            logger.log(
                &Record::builder()
                    .level(Level::Error)
                    .target(CLIENT_ERRORS_TARGET)
                    .args(format_args!(
                        "stream error: request parse error: invalid URI"
                    ))
                    .build(),
            );
            logger.flush();
        };
        let logger_at = |level| {
            let out = Captured::default();
            let sink = Sink::new(Box::new(out.clone()), std::time::Duration::from_secs(600));
            let mut builder = env_logger::Builder::new();
            builder.filter_level(level);
            (Logger::new(builder, false, sink), out)
        };

        let (at_info, info_out) = logger_at(log::LevelFilter::Info);
        error(&at_info);
        let (at_debug, debug_out) = logger_at(log::LevelFilter::Debug);
        error(&at_debug);

        assert_eq!(
            info_out.text(),
            "",
            "no ERROR line for a client's bad request"
        );
        let line = debug_out.text();
        assert!(
            line.contains("DEBUG") && line.contains("invalid URI"),
            "{line}"
        );
        record(Level::Error, "our own errors stay errors", |r| {
            at_info.log(r)
        });
        at_info.flush();
        assert!(info_out.text().contains("ERROR"), "{}", info_out.text());
    }

    #[test]
    fn websocket_frames_are_never_traced() {
        let out = Captured::default();
        let sink = Sink::new(Box::new(out.clone()), std::time::Duration::from_secs(600));
        let mut builder = env_logger::Builder::new();
        builder.filter_level(log::LevelFilter::Trace);
        let logger = Logger::new(builder, false, sink);
        let line = |target: &str, level: Level, text: &str| {
            logger.log(
                &Record::builder()
                    .level(level)
                    .target(target)
                    .args(format_args!("{text}"))
                    .build(),
            );
        };

        line("tungstenite::protocol", Level::Trace, "Sending frame: eyJ");
        line("tokio_tungstenite", Level::Trace, "frame from the stream");
        line("tungstenite::protocol", Level::Debug, "a debug line stays");
        line("tungstenite_like::x", Level::Trace, "another crate stays");
        logger.flush();

        let text = out.text();
        assert!(!text.contains("frame"), "{text}");
        assert!(text.contains("a debug line stays"), "{text}");
        assert!(text.contains("another crate stays"), "{text}");
    }
}
