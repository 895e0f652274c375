//! Logging: env_logger's text lines by default, one JSON object per line with
//! `CHATSDK_LOG_FORMAT=json`. Every line logged while a request is served carries that
//! request's id (`request_id`), so a 5xx cause can be found from the id the client got.

use env_logger::fmt::Formatter;
use log::kv::{Key, Source, Value, VisitSource};
use std::future::Future;
use std::io::{self, Write};
use std::rc::Rc;

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
pub fn init() {
    let format = std::env::var(LOG_FORMAT_ENV).unwrap_or_default();
    let json = format.eq_ignore_ascii_case("json");
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    if json {
        builder.format(write_json);
    } else {
        builder.format_key_values(write_text_fields);
    }
    builder.init();
    if !json && !format.is_empty() && !format.eq_ignore_ascii_case("text") {
        log::warn!("{LOG_FORMAT_ENV}={format:?} is neither `text` nor `json`: logging text");
    }
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
