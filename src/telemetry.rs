//! The edge of every request: a request id (`X-Request-Id`), the HTTP metrics and exactly
//! one log line, written after the answer is known.

use crate::ids::random_bytes;
use crate::logging;
use crate::metrics::{HttpRecorder, UNMATCHED_ROUTE};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use log::Level;
use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Longest incoming `X-Request-Id` we adopt; a longer one is replaced by our own.
pub const MAX_REQUEST_ID_CHARS: usize = 64;
/// Longest path a request line carries whole. The path is the client's to choose (up to
/// the `http` crate's 64 KiB), so writing it whole let one unauthenticated client fill
/// the disk at hundreds of MB/s with 404s. Every path of our routes with ASCII ids fits.
pub const MAX_LOGGED_PATH_BYTES: usize = 512;
/// Probes and scrapes come every few seconds: their lines go to debug, not info.
const QUIET_ROUTES: [&str; 2] = ["/health", "/metrics"];

/// Wraps the whole app (outermost): id, metrics, one log line per request.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id: Rc<str> = incoming_id(req.headers()).map_or_else(new_request_id, Rc::from);
    // From the app's route table and the path alone: known even for an answer that
    // comes back as an error, after the request itself is gone.
    let route = req.match_pattern();
    let level = match route.as_deref() {
        Some(r) if QUIET_ROUTES.contains(&r) => Level::Debug,
        _ => Level::Info,
    };
    let method = req.method().clone();
    // Kept only when the line will be written: no copy when the request log is filtered out.
    let path = log::log_enabled!(target: "chatsdk::http", level).then(|| loggable_path(req.path()));
    let recorder = req.app_data::<HttpRecorder>().cloned();
    // Middleware errors (auth, rate limits) come up as `Err`: render them inside the
    // request's scope, so their log lines carry the id and their answer the header.
    let result = logging::with_request_id(id.clone(), async move {
        next.call(req).await.map_err(|e| e.error_response())
    })
    .await;
    let header = (
        HeaderName::from_static(REQUEST_ID_HEADER),
        HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid")),
    );
    let (status, result) = match result {
        Ok(mut res) => {
            res.headers_mut().insert(header.0, header.1);
            (res.status(), Ok(res))
        }
        Err(mut answer) => {
            let headers = answer.headers_mut();
            headers.insert(header.0, header.1);
            for (name, value) in crate::startup::SECURITY_HEADERS {
                if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
                    if !headers.contains_key(&name) {
                        headers.insert(name, HeaderValue::from_static(value));
                    }
                }
            }
            let status = answer.status();
            let error = InternalError::from_response("request refused", answer);
            (status, Err(error.into()))
        }
    };
    let took = started.elapsed();
    if let Some(path) = path {
        // The path alone, never the query string: it may carry a token.
        log::log!(target: "chatsdk::http", level,
            method = method.as_str(),
            route = route.as_deref().unwrap_or(UNMATCHED_ROUTE),
            path = path.as_str(),
            status = status.as_u16(),
            latency_ms = (took.as_secs_f64() * 1e6).round() / 1e3,
            request_id = &*id;
            "request");
    }
    if let Some(recorder) = recorder {
        recorder.observe(route, &method, status.as_u16(), took);
    }
    result
}

/// `path`, cut to [`MAX_LOGGED_PATH_BYTES`] (on a character boundary) with its full
/// length named, so a reader sees it was cut and by how much.
fn loggable_path(path: &str) -> String {
    if path.len() <= MAX_LOGGED_PATH_BYTES {
        return path.to_owned();
    }
    let mut end = MAX_LOGGED_PATH_BYTES;
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…({} bytes)", &path[..end], path.len())
}

/// An incoming id we may echo: 1 to 64 characters of `[A-Za-z0-9._-]`, nothing that
/// could forge a log line or carry a secret-looking blob.
fn is_safe_request_id(id: &str) -> bool {
    (1..=MAX_REQUEST_ID_CHARS).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn incoming_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| is_safe_request_id(id))
}

/// 128 random bits as 32 hex characters (a W3C trace-id's shape). A per-thread
/// splitmix64 seeded from the OS: no syscall and no shared state per request.
fn new_request_id() -> Rc<str> {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(u64::from_le_bytes(random_bytes::<8>()));
    }
    STATE.with(|state| {
        let next = || {
            let s = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
            state.set(s);
            let z = (s ^ (s >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        format!("{:016x}{:016x}", next(), next()).into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_ids_of_safe_characters_are_adopted() {
        for ok in ["abc", "A-b_c.9", &"x".repeat(64)] {
            assert!(is_safe_request_id(ok), "{ok}");
        }
        for bad in ["", "a b", "a\"b", "é", "a/b", "a=b", &"x".repeat(65)] {
            assert!(!is_safe_request_id(bad), "{bad}");
        }
    }

    #[test]
    fn long_paths_are_cut_on_a_character_boundary_with_their_length() {
        let short = "/api/channels/general";
        assert_eq!(loggable_path(short), short);
        let exact = "x".repeat(MAX_LOGGED_PATH_BYTES);
        assert_eq!(loggable_path(&exact), exact);
        let long = format!("/{}", "é".repeat(1000));
        let cut = loggable_path(&long);
        assert!(cut.ends_with("…(2001 bytes)"), "{cut}");
        assert!(cut.len() <= MAX_LOGGED_PATH_BYTES + "…(2001 bytes)".len());
        assert!(cut.starts_with("/éé"));
    }

    #[test]
    fn generated_ids_are_safe_and_differ() {
        let (a, b) = (new_request_id(), new_request_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(is_safe_request_id(&a));
    }
}
