//! The one error type of the HTTP API and its JSON shape `{"error":{"code","message"}}`.

use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::fmt;

/// An API error: an HTTP status, a stable `code` string and a message for the caller.
///
/// The `code` strings are part of the API; tests assert them.
#[derive(Debug)]
pub enum ApiError {
    InvalidJson(String),
    InvalidRequest(String),
    MissingApiKey,
    InvalidApiKey,
    MissingToken,
    InvalidToken(&'static str),
    TokenExpired,
    TokenRevoked,
    NotFound(String),
    MethodNotAllowed,
    PayloadTooLarge(usize),
    /// The body did not arrive within this many seconds.
    BodyTimeout(u64),
    HeadersTooLarge(usize),
    UnsupportedMediaType,
    /// A body in a `Content-Encoding` we do not decode (the value, as sent).
    UnsupportedEncoding(String),
    /// `/ready` failed: `message` (what failed) goes to the caller; `/ready` logs the
    /// cause itself, once per outage and then once a minute.
    NotReady {
        message: String,
    },
    /// Two ways in at once, or one credential header sent twice; says which.
    AmbiguousCredentials(&'static str),
    ChannelNotFound,
    MessageNotFound,
    ChannelExists,
    MessageDeleted,
    /// A new kind of reaction on a message that has `MAX_REACTION_KINDS` already.
    TooManyReactions(usize),
    Forbidden(String),
    /// Over a rate limit; carries what the Retry-After and X-RateLimit-* headers say.
    RateLimited(crate::ratelimit::Decision),
    /// Anything we did not expect. The cause is logged; the body says nothing internal.
    Internal(String),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    /// Every `code` an error answer can carry, with its status: the OpenAPI error schema's
    /// enum. A unit test checks it against every variant (and the framework fallbacks).
    pub const ALL_CODES: &'static [(&'static str, StatusCode)] = &[
        ("invalid_json", StatusCode::BAD_REQUEST),
        ("invalid_request", StatusCode::BAD_REQUEST),
        ("ambiguous_credentials", StatusCode::BAD_REQUEST),
        ("missing_api_key", StatusCode::UNAUTHORIZED),
        ("invalid_api_key", StatusCode::UNAUTHORIZED),
        ("missing_token", StatusCode::UNAUTHORIZED),
        ("invalid_token", StatusCode::UNAUTHORIZED),
        ("token_expired", StatusCode::UNAUTHORIZED),
        ("token_revoked", StatusCode::UNAUTHORIZED),
        ("forbidden", StatusCode::FORBIDDEN),
        ("not_found", StatusCode::NOT_FOUND),
        ("channel_not_found", StatusCode::NOT_FOUND),
        ("message_not_found", StatusCode::NOT_FOUND),
        ("method_not_allowed", StatusCode::METHOD_NOT_ALLOWED),
        ("channel_exists", StatusCode::CONFLICT),
        ("message_deleted", StatusCode::CONFLICT),
        ("too_many_reactions", StatusCode::CONFLICT),
        ("request_timeout", StatusCode::REQUEST_TIMEOUT),
        ("payload_too_large", StatusCode::PAYLOAD_TOO_LARGE),
        ("unsupported_media_type", StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ("rate_limited", StatusCode::TOO_MANY_REQUESTS),
        (
            "headers_too_large",
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        ),
        ("internal", StatusCode::INTERNAL_SERVER_ERROR),
        ("not_ready", StatusCode::SERVICE_UNAVAILABLE),
    ];

    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => "invalid_json",
            Self::InvalidRequest(_) => "invalid_request",
            Self::MissingApiKey => "missing_api_key",
            Self::InvalidApiKey => "invalid_api_key",
            Self::MissingToken => "missing_token",
            Self::InvalidToken(_) => "invalid_token",
            Self::TokenExpired => "token_expired",
            Self::TokenRevoked => "token_revoked",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::BodyTimeout(_) => "request_timeout",
            Self::HeadersTooLarge(_) => "headers_too_large",
            Self::UnsupportedMediaType | Self::UnsupportedEncoding(_) => "unsupported_media_type",
            Self::NotReady { .. } => "not_ready",
            Self::AmbiguousCredentials(_) => "ambiguous_credentials",
            Self::ChannelNotFound => "channel_not_found",
            Self::MessageNotFound => "message_not_found",
            Self::ChannelExists => "channel_exists",
            Self::MessageDeleted => "message_deleted",
            Self::TooManyReactions(_) => "too_many_reactions",
            Self::Forbidden(_) => "forbidden",
            Self::RateLimited(_) => "rate_limited",
            Self::Internal(_) => "internal",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::InvalidJson(m)
            | Self::InvalidRequest(m)
            | Self::NotReady { message: m, .. }
            | Self::Forbidden(m) => m.clone(),
            Self::AmbiguousCredentials(why) => (*why).into(),
            Self::ChannelNotFound => "channel not found".into(),
            Self::MessageNotFound => "message not found".into(),
            Self::ChannelExists => "a channel with this id already exists".into(),
            Self::MessageDeleted => "the message was deleted".into(),
            Self::TooManyReactions(max) => format!(
                "the message has {max} different reactions already: add one of those"
            ),
            Self::MissingApiKey => "missing X-API-Key header: send your app's API key from your backend".into(),
            Self::InvalidApiKey => "the API key is unknown or revoked".into(),
            Self::MissingToken => "no credentials: send `Authorization: Bearer <token>` (the token from POST /tokens), or `X-API-Key` from your backend".into(),
            Self::InvalidToken(why) => format!("invalid token: {why}"),
            Self::TokenRevoked => "the token was revoked: get a new one from your backend (POST /tokens)".into(),
            Self::TokenExpired => "the token has expired: get a new one from your backend (POST /tokens)".into(),
            Self::NotFound(what) => format!("{what} not found"),
            Self::MethodNotAllowed => "method not allowed on this route".into(),
            Self::PayloadTooLarge(limit) => format!("request body exceeds {limit} bytes"),
            Self::BodyTimeout(secs) => {
                format!("the request body did not arrive within {secs} s: send it whole, at once")
            }
            Self::HeadersTooLarge(limit) => format!("request headers exceed {limit} bytes"),
            Self::UnsupportedMediaType => "send the body as JSON with `Content-Type: application/json`".into(),
            Self::UnsupportedEncoding(coding) => format!(
                "`Content-Encoding: {coding}` is not supported: send the body as is, or as gzip or deflate"
            ),
            Self::RateLimited(d) => format!(
                "too many requests: at most {} per window; retry in {} s",
                d.limit,
                d.reset_secs()
            ),
            Self::Internal(_) => "internal error".into(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidJson(_) | Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::MissingApiKey
            | Self::InvalidApiKey
            | Self::MissingToken
            | Self::InvalidToken(_)
            | Self::TokenExpired
            | Self::TokenRevoked => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::UnsupportedMediaType | Self::UnsupportedEncoding(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Self::NotReady { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::AmbiguousCredentials(_) => StatusCode::BAD_REQUEST,
            Self::ChannelNotFound | Self::MessageNotFound => StatusCode::NOT_FOUND,
            Self::ChannelExists | Self::MessageDeleted | Self::TooManyReactions(_) => {
                StatusCode::CONFLICT
            }
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        // The single place errors are logged: 5xx with their cause, the rest quietly.
        match self {
            Self::Internal(cause) => log::error!("internal error: {cause}"),
            other => log::debug!("request refused: {}", other.code()),
        }
        let mut res = error_response(self.status_code(), self.code(), &self.message());
        match self {
            Self::RateLimited(decision) => {
                crate::ratelimit::set_refusal_headers(res.headers_mut(), decision)
            }
            // RFC 9110 §15.5.16: a 415 for a content coding says which ones would do.
            Self::UnsupportedEncoding(_) => {
                res.headers_mut().insert(
                    header::ACCEPT_ENCODING,
                    HeaderValue::from_static(crate::routes::json::ACCEPTED_ENCODINGS),
                );
            }
            _ => {}
        }
        res
    }
}

/// Builds the JSON error body; also used for errors raised outside our handlers.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ErrorBody {
            error: ErrorDetail { code, message },
        })
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Internal(format!("database: {e}"))
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(e: crate::db::DbError) -> Self {
        Self::Internal(format!("database: {e}"))
    }
}

/// Safety net for error responses that did not come from `ApiError` (framework defaults):
/// gives them the same JSON shape, chosen by status.
pub fn render_framework_error<B>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .response()
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v == HeaderValue::from_static("application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let cors = res
        .response()
        .error()
        .and_then(|e| e.as_error::<actix_cors::CorsError>())
        .map(cors_refusal);
    let (code, message) = match (cors.as_deref(), status) {
        (Some(refusal), _) => ("invalid_request", refusal),
        (None, StatusCode::NOT_FOUND) => ("not_found", "no such route"),
        (None, StatusCode::METHOD_NOT_ALLOWED) => {
            ("method_not_allowed", "method not allowed on this route")
        }
        (None, StatusCode::PAYLOAD_TOO_LARGE) => ("payload_too_large", "request body too large"),
        (None, StatusCode::UNSUPPORTED_MEDIA_TYPE) => (
            "unsupported_media_type",
            "send the body as JSON with `Content-Type: application/json`",
        ),
        (None, s) if s.is_server_error() => ("internal", "internal error"),
        (None, _) => ("invalid_request", "the request could not be processed"),
    };
    let (req, _) = res.into_parts();
    let body: HttpResponse<BoxBody> = error_response(status, code, message);
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, body).map_into_right_body(),
    ))
}

/// A refused CORS request (a preflight, mostly) in words that name the fix.
fn cors_refusal(refusal: &actix_cors::CorsError) -> String {
    use actix_cors::CorsError::*;
    match refusal {
        OriginNotAllowed => {
            "CORS: this origin is not allowed: add it to CHATSDK_CORS_ORIGINS".to_string()
        }
        HeadersNotAllowed => "CORS: a requested header is not allowed: browsers may send \
             `Authorization` and `Content-Type` (never `X-API-Key`: it stays on your backend)"
            .to_string(),
        MethodNotAllowed => "CORS: the requested method is not allowed".to_string(),
        other => format!("CORS: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// One error of each variant.
    fn one_of_each() -> Vec<ApiError> {
        use ApiError::*;
        let decision = crate::ratelimit::Decision {
            allowed: false,
            limit: 1,
            remaining: 0,
            reset: std::time::Duration::from_secs(1),
        };
        let all = vec![
            InvalidJson(String::new()),
            InvalidRequest(String::new()),
            MissingApiKey,
            InvalidApiKey,
            MissingToken,
            InvalidToken(""),
            TokenExpired,
            TokenRevoked,
            NotFound(String::new()),
            MethodNotAllowed,
            PayloadTooLarge(1),
            BodyTimeout(1),
            HeadersTooLarge(1),
            UnsupportedMediaType,
            UnsupportedEncoding(String::new()),
            NotReady {
                message: String::new(),
            },
            AmbiguousCredentials(""),
            ChannelNotFound,
            MessageNotFound,
            ChannelExists,
            MessageDeleted,
            TooManyReactions(1),
            Forbidden(String::new()),
            RateLimited(decision),
            Internal(String::new()),
        ];
        // No wildcard on purpose: a new variant stops compiling here until it is listed above.
        for e in &all {
            match e {
                InvalidJson(_)
                | InvalidRequest(_)
                | MissingApiKey
                | InvalidApiKey
                | MissingToken
                | InvalidToken(_)
                | TokenExpired
                | TokenRevoked
                | NotFound(_)
                | MethodNotAllowed
                | PayloadTooLarge(_)
                | BodyTimeout(_)
                | HeadersTooLarge(_)
                | UnsupportedMediaType
                | UnsupportedEncoding(_)
                | NotReady { .. }
                | AmbiguousCredentials(_)
                | ChannelNotFound
                | MessageNotFound
                | ChannelExists
                | MessageDeleted
                | TooManyReactions(_)
                | Forbidden(_)
                | RateLimited(_)
                | Internal(_) => {}
            }
        }
        all
    }

    #[test]
    fn all_codes_is_exactly_what_the_variants_produce_with_their_statuses() {
        let produced: BTreeSet<(&str, StatusCode)> = one_of_each()
            .iter()
            .map(|e| (e.code(), e.status_code()))
            .collect();
        let listed: BTreeSet<(&str, StatusCode)> = ApiError::ALL_CODES.iter().copied().collect();
        assert_eq!(produced, listed);
        assert_eq!(listed.len(), ApiError::ALL_CODES.len(), "no duplicates");
    }

    #[actix_web::test]
    async fn framework_fallback_codes_are_listed_too() {
        use actix_web::test::TestRequest;
        let statuses = [400, 404, 405, 413, 415, 418, 500, 502];
        for status in statuses {
            let status = StatusCode::from_u16(status).unwrap();
            let req = TestRequest::default().to_srv_request();
            let (req, _) = req.into_parts();
            let res = ServiceResponse::new(req, HttpResponse::new(status));
            let ErrorHandlerResponse::Response(res) = render_framework_error(res).unwrap() else {
                panic!("expected a response");
            };
            let body = actix_web::body::to_bytes(res.into_body()).await.unwrap();
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let code = v["error"]["code"].as_str().unwrap().to_string();
            assert!(
                ApiError::ALL_CODES.iter().any(|(c, _)| *c == code),
                "{status}: {code} is not in ALL_CODES"
            );
        }
    }
}
