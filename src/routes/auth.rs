//! Authentication middleware: resolves the caller before any handler or body parsing,
//! so a 401 always wins over a 400.

use crate::auth::api_key::{self, ApiKeyHash};
use crate::auth::tokens::RestClaims;
use crate::db::{self, keys};
use crate::error::ApiError;
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

/// The user whose REST token authenticated this request.
#[derive(Debug, Clone)]
pub struct AuthenticatedUser {
    pub app_id: String,
    pub user_id: String,
    pub claims: RestClaims,
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
    let presented = match req.headers().get("X-API-Key") {
        None => return Err(ApiError::MissingApiKey.into()),
        // Our keys are ASCII; a header that is not cannot be one of them.
        Some(v) => Secret::new(v.to_str().map_err(|_| ApiError::InvalidApiKey)?),
    };
    let app = authenticate_key(&state, presented).await?;
    req.extensions_mut().insert(app);
    next.call(req).await
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
    let record = match record {
        Some(r) if !r.revoked && r.hash.matches(&presented_hash) => r,
        _ => return Err(ApiError::InvalidApiKey),
    };
    let now = db::now_ms();
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

/// Requires `Authorization: Bearer <REST token>`.
pub async fn require_user_token(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = state(&req)?;
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or(ApiError::MissingToken)?;
    let token = header
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::InvalidToken(
            "expected `Authorization: Bearer <token>`",
        ))?;
    let claims = state.tokens.verify_rest(token)?;
    req.extensions_mut().insert(AuthenticatedUser {
        app_id: claims.app.clone(),
        user_id: claims.sub.clone(),
        claims,
    });
    next.call(req).await
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

impl FromRequest for AuthenticatedUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        from_extensions(req)
    }
}
