//! Authentication middleware: resolves the caller before any handler or body parsing,
//! so a 401 always wins over a 400.

use crate::auth::api_key::{self, ApiKeyHash};
use crate::chat::Ctx;
use crate::db::{self, keys};
use crate::domain::UserId;
use crate::error::ApiError;
use crate::ratelimit::{self, Decision, RateLimits};
use crate::routes::AppState;
use crate::secret::Secret;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use std::future::{Ready, ready};

/// How often `last_used_at` of a key is written, at most.
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

/// The app whose API key authenticated this request.
#[derive(Debug, Clone)]
pub struct AuthenticatedApp {
    pub app_id: String,
    pub key_id: String,
}

/// Who calls an `/api` route: a user with a REST token, or the app's backend with its
/// API key (full rights, acting as the `userId` it names, if any).
#[derive(Debug, Clone)]
pub struct Caller {
    pub app_id: String,
    pub backend: bool,
    /// The token's user (`backend == false`).
    pub token_user: Option<String>,
    /// `?userId=` of a backend call.
    pub query_user: Option<String>,
}

impl Caller {
    /// The chat context: the token's user, or the backend's `userId` from the body or query.
    pub fn ctx(&self, body_user: Option<String>) -> Result<Ctx, ApiError> {
        let user_id = if self.backend {
            let body_user = body_user.map(|u| UserId::parse("userId", u)).transpose()?;
            match (body_user, &self.query_user) {
                (Some(b), Some(q)) if b.as_str() != q => {
                    return Err(ApiError::InvalidRequest(
                        "`userId` differs between the body and the query".into(),
                    ));
                }
                (Some(b), _) => Some(b.as_str().to_string()),
                (None, q) => q.clone(),
            }
        } else {
            if body_user.is_some() || self.query_user.is_some() {
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
        })
    }
}

/// Accepts either a REST token or an API key on `/api` routes, never both.
pub async fn require_caller(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = state(&req)?;
    let limits = ratelimit::of(&req)?;
    let (caller, quota) = resolve_caller(&state, &limits, &req)
        .await
        .map_err(|e| limits.failed_auth(&req, e))?;
    req.extensions_mut().insert(caller);
    let mut res = next.call(req).await?;
    if let Some(quota) = quota {
        ratelimit::set_headers(res.headers_mut(), &quota);
    }
    Ok(res)
}

/// The caller and, for an API key, its rate-limit standing.
async fn resolve_caller(
    state: &AppState,
    limits: &RateLimits,
    req: &ServiceRequest,
) -> Result<(Caller, Option<Decision>), ApiError> {
    let has_token = req
        .headers()
        .contains_key(actix_web::http::header::AUTHORIZATION);
    let key = req.headers().get("X-API-Key").cloned();
    Ok(match (has_token, key) {
        (true, Some(_)) => return Err(ApiError::AmbiguousCredentials),
        (false, None) => return Err(ApiError::MissingToken),
        (true, None) => {
            let claims = state.tokens.verify_rest(bearer_token(req)?)?;
            check_not_revoked(state, &claims).await?;
            let caller = Caller {
                app_id: claims.app,
                backend: false,
                token_user: Some(claims.sub),
                query_user: query_user(req)?,
            };
            (caller, None)
        }
        (false, Some(key)) => {
            let key = Secret::new(key.to_str().map_err(|_| ApiError::InvalidApiKey)?);
            let app = authenticate_key(state, key).await?;
            let quota = limits.hit_key(&app.key_id)?;
            let caller = Caller {
                app_id: app.app_id,
                backend: true,
                token_user: None,
                query_user: query_user(req)?,
            };
            (caller, quota)
        }
    })
}

/// A genuine token still fails when its user was deleted or its generation revoked.
/// Read from the shared database on every request, so a revocation holds at once on
/// every server.
async fn check_not_revoked(
    state: &AppState,
    claims: &crate::auth::tokens::RestClaims,
) -> Result<(), ApiError> {
    let (app, user) = (claims.app.clone(), claims.sub.clone());
    let current = state
        .db
        .read(move |c| crate::db::users::token_generation(c, &app, &user))
        .await?;
    match current {
        None => Err(ApiError::InvalidToken("the user no longer exists")),
        Some(g) if g != claims.generation => Err(ApiError::TokenRevoked),
        Some(_) => Ok(()),
    }
}

/// The `userId` query parameter, checked like any user id.
fn query_user(req: &ServiceRequest) -> Result<Option<String>, ApiError> {
    let query =
        web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
            .map_err(|e| ApiError::InvalidRequest(format!("query string: {e}")))?;
    query
        .get("userId")
        .map(|u| UserId::parse("userId", u.clone()).map(|u| u.as_str().to_string()))
        .transpose()
}

fn bearer_token(req: &ServiceRequest) -> Result<&str, ApiError> {
    req.headers()
        .get(actix_web::http::header::AUTHORIZATION)
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

/// Requires a valid, unrevoked `X-API-Key`.
pub async fn require_api_key(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = state(&req)?;
    let limits = ratelimit::of(&req)?;
    let presented = match req.headers().get("X-API-Key") {
        None => Err(ApiError::MissingApiKey),
        // Our keys are ASCII; a header that is not cannot be one of them.
        Some(v) => v
            .to_str()
            .map(Secret::new)
            .map_err(|_| ApiError::InvalidApiKey),
    };
    let app = match presented {
        Ok(key) => authenticate_key(&state, key).await,
        Err(e) => Err(e),
    }
    .map_err(|e| limits.failed_auth(&req, e))?;
    let quota = limits.hit_key(&app.key_id)?;
    req.extensions_mut().insert(app);
    let mut res = next.call(req).await?;
    if let Some(quota) = quota {
        ratelimit::set_headers(res.headers_mut(), &quota);
    }
    Ok(res)
}

async fn authenticate_key(
    state: &AppState,
    presented: Secret,
) -> Result<AuthenticatedApp, ApiError> {
    if presented.is_empty() {
        return Err(ApiError::MissingApiKey);
    }
    let key_id = api_key::parse_key_id(&presented)
        .ok_or(ApiError::InvalidApiKey)?
        .to_string();
    let presented_hash = ApiKeyHash::of(&presented);
    let lookup_id = key_id.clone();
    let record = state.db.read(move |c| keys::find(c, &lookup_id)).await?;
    let now = db::now_ms();
    // Unknown, revoked, past its rotation grace, or the wrong secret: all alike.
    let record = match record {
        Some(r) if r.is_live(now) && r.hash.matches(&presented_hash) => r,
        _ => return Err(ApiError::InvalidApiKey),
    };
    if record
        .last_used_at
        .is_none_or(|t| now - t >= LAST_USED_RESOLUTION_MS)
    {
        let db = state.db.clone();
        let id = key_id.clone();
        // Bookkeeping only: the request does not wait for it.
        actix_web::rt::spawn(async move {
            if let Err(e) = db.write(move |c| keys::touch_last_used(c, &id, now)).await {
                log::warn!("could not record key use: {e}");
            }
        });
    }
    Ok(AuthenticatedApp {
        app_id: record.app_id,
        key_id,
    })
}

fn from_extensions<T: Clone + 'static>(req: &HttpRequest) -> Ready<Result<T, ApiError>> {
    ready(
        req.extensions().get::<T>().cloned().ok_or_else(|| {
            ApiError::Internal("route registered without its auth middleware".into())
        }),
    )
}

impl FromRequest for AuthenticatedApp {
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
