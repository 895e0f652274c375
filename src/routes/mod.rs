//! HTTP routes. Handlers stay thin: parse, call the db door or a client, shape the answer.

pub mod auth;
pub mod channels;
pub mod demo;
pub mod health;
pub mod json;
pub mod me;
pub mod members;
pub mod messages;
pub mod tokens;
pub mod users;

use crate::auth::tokens::TokenIssuer;
use crate::centrifugo::CentrifugoClient;
use crate::db::Db;
use crate::error::ApiError;
use crate::ratelimit;
use crate::relay::RelayHandle;
use actix_web::middleware::{Condition, from_fn};
use actix_web::{HttpResponse, web};
use rusqlite::Connection;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Everything a handler may need, built once at start.
pub struct AppState {
    pub db: Db,
    pub tokens: TokenIssuer,
    pub centrifugo: CentrifugoClient,
    pub relay: RelayHandle,
    pub metrics: crate::metrics::Metrics,
}

/// Runs a chat write in one transaction, then wakes the relay for the events it queued.
pub async fn write<T, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
{
    let result = state.db.write(f).await;
    if result.is_ok() {
        state.relay.wake();
    }
    result
}

/// Runs a chat read on a read connection.
pub async fn read<T, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, ApiError> + Send + 'static,
{
    state.db.read(f).await
}

/// CORS for browsers calling `/api` with a bearer token, from the configured origins only.
/// `X-API-Key` is not an allowed header, so a preflight asking for it is refused: keys
/// never come from browsers. `/tokens` has no CORS at all.
fn cors(origins: &[String]) -> actix_cors::Cors {
    origins
        .iter()
        .fold(actix_cors::Cors::default(), |c, o| c.allowed_origin(o))
        .allowed_methods(["GET", "POST", "PATCH", "PUT", "DELETE"])
        .allowed_headers([
            actix_web::http::header::AUTHORIZATION,
            actix_web::http::header::CONTENT_TYPE,
        ])
        .max_age(600)
}

/// 201 with `body` when the call made it, 200 when it already existed (a safe retry).
pub fn created_or_existing(created: bool, body: impl serde::Serialize) -> HttpResponse {
    if created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    }
}

/// A resource whose other methods answer 405 in our error shape.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

/// Registers every route. Used by the server and by the tests alike.
pub fn configure(cfg: &mut web::ServiceConfig, cors_origins: &[String], demo: Option<&demo::Demo>) {
    if let Some(demo) = demo {
        demo::configure(cfg, demo);
    }
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
            resource("/tokens")
                .wrap(from_fn(auth::require_api_key))
                .route(web::post().to(tokens::issue_tokens)),
        )
        .service(resource("/health").route(web::get().to(health::health)))
        .service(resource("/ready").route(web::get().to(health::ready)))
        .service(
            web::scope("/api")
                .wrap(from_fn(auth::require_caller))
                // Outermost, so a preflight is answered before authentication.
                .wrap(Condition::new(!cors_origins.is_empty(), cors(cors_origins)))
                .service(resource("/me").route(web::get().to(me::get_me)))
                .service(resource("/users/{userId}").route(web::delete().to(users::delete)))
                .service(
                    resource("/users/{userId}/revoke-tokens")
                        .route(web::post().to(users::revoke_tokens)),
                )
                .service(
                    resource("/subscription-token")
                        .route(web::post().to(channels::subscription_token_by_name)),
                )
                .service(
                    resource("/channels")
                        .route(web::get().to(channels::list))
                        .route(web::post().to(channels::create)),
                )
                .service(resource("/channels/direct").route(web::post().to(channels::direct)))
                .service(
                    resource("/channels/{id}")
                        .route(web::get().to(channels::get))
                        .route(web::patch().to(channels::update))
                        .route(web::delete().to(channels::delete)),
                )
                .service(
                    resource("/channels/{id}/subscription-token")
                        .route(web::post().to(channels::subscription_token)),
                )
                .service(
                    resource("/channels/{id}/members")
                        .route(web::get().to(members::list))
                        .route(web::post().to(members::add)),
                )
                .service(
                    resource("/channels/{id}/members/{userId}")
                        .route(web::delete().to(members::remove)),
                )
                .service(
                    resource("/channels/{id}/messages")
                        .wrap(from_fn(ratelimit::limit_user_writes))
                        .route(web::get().to(messages::page))
                        .route(web::post().to(messages::send)),
                )
                .service(
                    resource("/channels/{id}/messages/{msgId}")
                        .route(web::patch().to(messages::edit))
                        .route(web::delete().to(messages::delete)),
                )
                .service(
                    resource("/channels/{id}/messages/{msgId}/reactions/{emoji}")
                        .wrap(from_fn(ratelimit::limit_user_writes))
                        .route(web::put().to(messages::add_reaction))
                        .route(web::delete().to(messages::remove_reaction)),
                )
                .service(resource("/channels/{id}/read").route(web::post().to(messages::mark_read)))
                .service(
                    resource("/channels/{id}/typing")
                        .wrap(from_fn(ratelimit::limit_typing))
                        .route(web::post().to(messages::typing)),
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
