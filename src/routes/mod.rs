//! HTTP routes. Handlers stay thin: parse, call the db door or a client, shape the answer.

pub mod auth;
pub mod health;
pub mod json;
pub mod me;
pub mod tokens;

use crate::auth::tokens::TokenIssuer;
use crate::centrifugo::CentrifugoClient;
use crate::db::Db;
use crate::error::ApiError;
use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, web};

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Everything a handler may need, built once at start.
pub struct AppState {
    pub db: Db,
    pub tokens: TokenIssuer,
    pub centrifugo: CentrifugoClient,
}

/// Registers every route. Used by the server and by the tests alike.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
        .app_data(
            web::QueryConfig::default().error_handler(|e, _| {
                ApiError::InvalidRequest(format!("query string: {e}")).into()
            }),
        )
        .app_data(
            web::PathConfig::default()
                .error_handler(|e, _| ApiError::InvalidRequest(format!("path: {e}")).into()),
        )
        .service(
            web::resource("/tokens")
                .wrap(from_fn(auth::require_api_key))
                .route(web::post().to(tokens::issue_tokens))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/health")
                .route(web::get().to(health::health))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/ready")
                .route(web::get().to(health::ready))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::scope("/api")
                .wrap(from_fn(auth::require_user_token))
                .service(
                    web::resource("/me")
                        .route(web::get().to(me::get_me))
                        .default_service(web::to(method_not_allowed)),
                ),
        );
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}

/// Answer for any path no route matches.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("route".into()))
}
