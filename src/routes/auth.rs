//! Authentication middleware: resolves the caller before any handler or body parsing,
//! so a 401 always wins over a 400.

use crate::auth::api_key::{PresentedKey, authenticate_key};
use crate::chat::{Ctx, RevocationCheck};
use crate::domain::UserId;
use crate::error::ApiError;
use crate::ratelimit::{self, Decision, RateLimits};
use crate::routes::AppState;
use crate::secret::Secret;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{AUTHORIZATION, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use percent_encoding::percent_decode_str;
use serde::Deserialize;
use std::future::{Ready, ready};
use utoipa::ToSchema;

/// Who calls an `/api` route: a user with a REST token, or the app's backend with its
/// API key (full rights, acting as the `userId` it names, if any).
#[derive(Debug, Clone)]
pub struct Caller {
    pub app_id: String,
    pub backend: bool,
    /// The token's user (`backend == false`).
    pub token_user: Option<String>,
    /// `?userId=` of the call, or what is wrong with the URL: a path or query whose
    /// percent-escapes do not decode to UTF-8, a bad or twice-given `?userId=`. The error
    /// is answered (400) by `ctx`, after the credentials passed, so a 401 still wins.
    pub query_user: Result<Option<String>, String>,
    /// The first query parameter other than `userId`, if any. Only the paged lists take
    /// others (their `ApiQuery` checks them); `ctx` refuses it, so a typo such as
    /// `?userid=alice` is a 400, not a message sent as nobody.
    pub other_query_key: Option<String>,
    /// The token's revocation check, still to be made (`backend == false`).
    pub revocation: Option<RevocationCheck>,
}

/// The body of a route whose only input is whom the backend acts as. Optional: the
/// query's `?userId=` does the same.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ActingUserBody {
    /// With X-API-Key: the user to act as.
    pub user_id: Option<String>,
}

impl Caller {
    /// The chat context: the token's user, or the backend's `userId` from the body or query.
    pub fn ctx(&self, body_user: Option<String>) -> Result<Ctx, ApiError> {
        // A URL that is not UTF-8 is named as such first, not as an unknown parameter.
        self.query_user
            .as_ref()
            .map_err(|e| ApiError::InvalidRequest(e.clone()))?;
        match self.other_query_key.as_deref() {
            Some("") => Err(ApiError::InvalidRequest(
                "a query parameter has no name: this route takes only `userId` (with X-API-Key)"
                    .into(),
            )),
            Some(key) => Err(ApiError::InvalidRequest(format!(
                "unknown query parameter `{key}`: this route takes only `userId` (with X-API-Key)"
            ))),
            None => self.ctx_reading_query(body_user),
        }
    }

    /// `ctx` for a route whose own `ApiQuery` has already checked the other parameters.
    pub fn ctx_reading_query(&self, body_user: Option<String>) -> Result<Ctx, ApiError> {
        let query_user = self
            .query_user
            .as_ref()
            .map_err(|e| ApiError::InvalidRequest(e.clone()))?;
        let user_id = if self.backend {
            let body_user = body_user.map(|u| UserId::parse("userId", u)).transpose()?;
            match (body_user, query_user) {
                (Some(b), Some(q)) if b.as_str() != q => {
                    return Err(ApiError::InvalidRequest(
                        "`userId` differs between the body and the query".into(),
                    ));
                }
                (Some(b), _) => Some(b.as_str().to_string()),
                (None, q) => q.clone(),
            }
        } else {
            if body_user.is_some() || query_user.is_some() {
                return Err(ApiError::InvalidRequest(
                    "`userId` is only for X-API-Key calls: a token always acts as its own user"
                        .into(),
                ));
            }
            self.token_user.clone()
        };
        Ok(Ctx {
            app_id: self.app_id.clone(),
            backend: self.backend,
            user_id,
            revocation: self.revocation.clone(),
        })
    }
}

/// Accepts either a REST token or an API key on `/api` routes, never both. Its refusals
/// are answered as responses, not `Err`: only a response passes back through the CORS
/// middleware, and a browser must read a 401's `code` to tell `token_expired` from a
/// network failure.
pub async fn require_caller<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let limits = match ratelimit::of(&req) {
        Ok(limits) => limits,
        Err(e) => return Ok(req.error_response(e).map_into_right_body()),
    };
    let resolved = match state(&req) {
        Ok(state) => resolve_caller(&state, &limits, &req)
            .await
            .map(|found| (state, found))
            .map_err(|e| limits.failed_auth(req.request(), e)),
        Err(e) => Err(e),
    };
    let (state, (caller, quota)) = match resolved {
        Ok(found) => found,
        Err(e) => return Ok(req.error_response(e).map_into_right_body()),
    };
    let revocation = caller.revocation.clone();
    req.extensions_mut().insert(caller);
    let mut res = next.call(req).await?;
    // The handler answered without a database trip (a bad body or path, say): the
    // token's revocation is checked now, and a revoked token still gets its 401. Not
    // after a per-user 429: no handler ran, and a refusal must stay cheap.
    let limited = res
        .request()
        .extensions()
        .contains::<ratelimit::RefusedByUserLimit>();
    if let Some(check) = revocation.filter(|c| !c.done() && !limited) {
        let outcome = state.db.read(move |c| check.run(c)).await;
        if let Err(e) = outcome {
            if res.status().is_success() {
                log::error!(
                    "{} answered {} without checking the token's revocation",
                    res.request().path(),
                    res.status()
                );
            }
            let refusal = limits.failed_auth(res.request(), e);
            return Ok(res.error_response(refusal).map_into_right_body());
        }
    }
    if let Some(quota) = quota {
        ratelimit::set_headers(res.headers_mut(), &quota);
    }
    Ok(res.map_into_left_body())
}

/// The caller and, for an API key, its rate-limit standing.
async fn resolve_caller(
    state: &AppState,
    limits: &RateLimits,
    req: &ServiceRequest,
) -> Result<(Caller, Option<Decision>), ApiError> {
    let has_token = credential_header(req, AUTHORIZATION.as_str())?.is_some();
    let key = credential_header(req, API_KEY_HEADER)?.cloned();
    let (query_user, other_query_key) = read_url(req);
    Ok(match (has_token, key) {
        (true, Some(_)) => {
            return Err(ApiError::AmbiguousCredentials(
                "send either `Authorization: Bearer <token>` or `X-API-Key`, not both",
            ));
        }
        (false, None) => return Err(ApiError::MissingToken),
        (true, None) => {
            let claims = state.tokens.verify_rest(bearer_token(req)?)?;
            let caller = Caller {
                revocation: Some(RevocationCheck::for_token(&claims)),
                app_id: claims.app,
                backend: false,
                token_user: Some(claims.sub),
                query_user,
                other_query_key,
            };
            (caller, None)
        }
        (false, Some(_)) => {
            let app = authenticate_key(state, presented_key(req)?).await?;
            let quota = limits.hit_key(&app.key_id)?;
            let caller = Caller {
                app_id: app.app_id,
                backend: true,
                token_user: None,
                query_user,
                other_query_key,
                revocation: None,
            };
            (caller, quota)
        }
    })
}

/// The URL's `?userId=` (or what is wrong with the URL) and its first other parameter,
/// from one parse of the query (see `Caller::query_user` and `Caller::other_query_key`).
fn read_url(req: &ServiceRequest) -> (Result<Option<String>, String>, Option<String>) {
    let pairs = check_utf8(req)
        .and_then(|()| crate::routes::query::parse::<Vec<(String, String)>>(req.query_string()));
    match pairs {
        Ok(pairs) => {
            let other = pairs
                .iter()
                .find(|(k, _)| k != "userId")
                .map(|(k, _)| k.clone());
            (query_user(pairs).map_err(|e| e.message()), other)
        }
        Err(e) => (Err(e.message()), None),
    }
}

/// Refuses a path or query whose percent-escapes do not decode to UTF-8. actix and
/// serde_urlencoded decode those lossily, to U+FFFD, so `/api/users/%FE/revoke-tokens`
/// would act on a user named "\u{FFFD}".
fn check_utf8(req: &ServiceRequest) -> Result<(), ApiError> {
    let uri = req.uri();
    for (part, text) in [
        ("path", uri.path()),
        ("query string", uri.query().unwrap_or("")),
    ] {
        if text.contains('%') && percent_decode_str(text).decode_utf8().is_err() {
            return Err(ApiError::InvalidRequest(format!(
                "the URL's {part} must be UTF-8 once percent-decoded"
            )));
        }
    }
    Ok(())
}

/// The `userId` query parameter, checked like any user id. Given twice it is refused:
/// which one to act as would be a guess.
fn query_user(pairs: Vec<(String, String)>) -> Result<Option<String>, ApiError> {
    let mut users = pairs.into_iter().filter(|(k, _)| k == "userId");
    let first = users.next();
    if users.next().is_some() {
        return Err(ApiError::InvalidRequest(
            "`userId` must appear at most once in the query".into(),
        ));
    }
    first
        .map(|(_, u)| UserId::parse("userId", u).map(|u| u.as_str().to_string()))
        .transpose()
}

/// The header that carries an API key.
const API_KEY_HEADER: &str = "X-API-Key";

/// The one value of a credential header. Sent twice it is refused: which one counts
/// would be a guess, and behind a proxy that adds its own the client's could win.
fn credential_header<'r>(
    req: &'r ServiceRequest,
    name: &str,
) -> Result<Option<&'r HeaderValue>, ApiError> {
    let mut values = req.headers().get_all(name);
    let first = values.next();
    if values.next().is_some() {
        return Err(ApiError::AmbiguousCredentials(
            if name.eq_ignore_ascii_case(API_KEY_HEADER) {
                "send `X-API-Key` once"
            } else {
                "send `Authorization` once"
            },
        ));
    }
    Ok(first)
}

fn bearer_token(req: &ServiceRequest) -> Result<&str, ApiError> {
    credential_header(req, AUTHORIZATION.as_str())?
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::InvalidToken(
            "expected `Authorization: Bearer <token>`",
        ))
}

fn state(req: &ServiceRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal("AppState is not registered".into()))
}

/// Requires a well-formed `X-API-Key` before the body is read; the handler checks it
/// against the database (`check_key`) in its own database work.
pub async fn require_api_key(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let limits = ratelimit::of(&req)?;
    let key = presented_key(&req).map_err(|e| limits.failed_auth(req.request(), e))?;
    req.extensions_mut().insert(key);
    next.call(req).await
}

/// Reads the `X-API-Key` header: missing or empty is `missing_api_key`, not one of ours
/// is `invalid_api_key`.
fn presented_key(req: &ServiceRequest) -> Result<PresentedKey, ApiError> {
    let presented = match credential_header(req, API_KEY_HEADER)? {
        None => return Err(ApiError::MissingApiKey),
        // Our keys are ASCII; a header that is not cannot be one of them.
        Some(v) => Secret::new(v.to_str().map_err(|_| ApiError::InvalidApiKey)?),
    };
    if presented.is_empty() {
        return Err(ApiError::MissingApiKey);
    }
    PresentedKey::parse(&presented).ok_or(ApiError::InvalidApiKey)
}

fn from_extensions<T: Clone + 'static>(req: &HttpRequest) -> Ready<Result<T, ApiError>> {
    ready(
        req.extensions().get::<T>().cloned().ok_or_else(|| {
            ApiError::Internal("route registered without its auth middleware".into())
        }),
    )
}

impl FromRequest for PresentedKey {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        from_extensions(req)
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        from_extensions(req)
    }
}
