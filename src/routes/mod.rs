//! HTTP routes. Handlers stay thin: parse, call the db door or a client, shape the answer.

pub mod auth;
pub mod channels;
pub mod demo;
pub mod health;
pub mod json;
pub mod me;
pub mod members;
pub mod messages;
pub mod query;
pub mod reactions;
pub mod read_marks;
pub mod subscriptions;
pub mod table;
pub mod tokens;
pub mod typing;
pub mod users;

use crate::auth::tokens::TokenIssuer;
use crate::centrifugo::CentrifugoClient;
use crate::chat::Ctx;
use crate::db::Db;
use crate::error::ApiError;
use crate::openapi;
use crate::ratelimit;
use crate::worker::Worker;
use actix_web::middleware::{Condition, from_fn};
use actix_web::{HttpResponse, web};
use rusqlite::Connection;
use table::RouteTable;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Everything a handler may need, built once at start.
pub struct AppState {
    pub db: Db,
    pub tokens: TokenIssuer,
    pub centrifugo: CentrifugoClient,
    /// The outbox relay (`relay::start`): woken after writes that queued events.
    pub relay: Worker,
    /// The purge of deleted channels (`db::purge::start`): woken after a delete.
    pub purge: Worker,
    pub metrics: crate::metrics::Metrics,
    /// `/ready`'s failures, so an outage is logged when it starts, once a minute, and
    /// when it ends, not on every probe.
    pub ready_outage: std::sync::Mutex<crate::logging::Outage>,
}

/// `Db::write` for a caller: checks the REST token's revocation first, in the same
/// transaction, and wakes the relay for the events the write queued.
pub async fn write_as_caller<T, F>(state: &AppState, ctx: Ctx, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Connection, &Ctx) -> Result<T, ApiError> + Send + 'static,
{
    let result = state
        .db
        .write(move |c| {
            ctx.check_not_revoked(c)?;
            f(c, &ctx)
        })
        .await;
    if result.is_ok() {
        state.relay.wake();
    }
    result
}

/// `Db::read` for a caller: checks the REST token's revocation first, in the same read
/// transaction (one trip for both).
pub async fn read_as_caller<T, F>(state: &AppState, ctx: Ctx, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Connection, &Ctx) -> Result<T, ApiError> + Send + 'static,
{
    state
        .db
        .read(move |c| {
            ctx.check_not_revoked(c)?;
            f(c, &ctx)
        })
        .await
}

/// CORS for browsers calling `/api` with a bearer token, from the configured origins only.
/// `X-API-Key` is not an allowed header, so a preflight asking for it is refused: keys
/// never come from browsers. `/tokens` has no CORS at all.
fn cors(origins: &[String]) -> actix_cors::Cors {
    origins
        .iter()
        .fold(actix_cors::Cors::default(), |c, o| c.allowed_origin(o))
        // HEAD too: every GET route answers it.
        .allowed_methods(["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"])
        .allowed_headers([
            actix_web::http::header::AUTHORIZATION,
            actix_web::http::header::CONTENT_TYPE,
        ])
        // What a page needs to read besides the body: when to retry, and the id to quote.
        .expose_headers([
            actix_web::http::header::RETRY_AFTER.as_str(),
            ratelimit::LIMIT_HEADER,
            ratelimit::REMAINING_HEADER,
            ratelimit::RESET_HEADER,
            crate::telemetry::REQUEST_ID_HEADER,
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

/// Registers every route. Used by the server and by the tests alike.
pub fn configure(
    cfg: &mut web::ServiceConfig,
    cors_origins: &[String],
    demo: Option<&demo::Demo>,
    metrics_here: bool,
) {
    openapi::prepare();
    // The demo's routes are a dev tool, not the API: outside the spec and the table.
    if let Some(demo) = demo {
        demo::configure(cfg, demo);
    }
    register(cfg, cors_origins, metrics_here, &RouteTable::default());
}

/// Every (method, path) `configure` registers, read from the registration itself.
pub fn registered_routes() -> Vec<(actix_web::http::Method, String)> {
    let table = RouteTable::default();
    let _app = actix_web::App::new().configure(|cfg| register(cfg, &[], true, &table));
    table.routes()
}

/// Adds every route through `routes`, which records them: new routes go through
/// `routes.at(path).get(handler)` (or `.post`, …) too. `/metrics` is here unless it
/// has an address of its own (`CHATSDK_METRICS_ADDR`).
fn register(
    cfg: &mut web::ServiceConfig,
    cors_origins: &[String],
    metrics_here: bool,
    routes: &RouteTable,
) {
    let api = routes.scope("/api");
    cfg.app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
        .app_data(
            web::PathConfig::default()
                .error_handler(|e, _| ApiError::InvalidRequest(format!("path: {e}")).into()),
        )
        .service(
            routes
                .at("/tokens")
                .post(tokens::issue_tokens)
                .resource()
                .wrap(from_fn(auth::require_api_key)),
        )
        .service(routes.at("/health").get(health::health))
        .service(routes.at("/ready").get(health::ready))
        .configure(|cfg| {
            if metrics_here {
                cfg.service(routes.at("/metrics").get(health::metrics));
            }
        })
        .service(routes.at("/openapi.json").get(openapi::spec_json))
        .service(routes.at("/docs").get(openapi::docs_page))
        .service(
            web::scope(api.prefix())
                .wrap(from_fn(auth::require_caller))
                // Outermost, so a preflight is answered before authentication.
                .wrap(Condition::new(!cors_origins.is_empty(), cors(cors_origins)))
                .service(api.at("/me").get(me::get_me))
                .service(api.at("/users/{userId}").delete(users::delete))
                .service(
                    api.at("/users/{userId}/revoke-tokens")
                        .post(users::revoke_tokens),
                )
                .service(
                    api.at("/subscription-token")
                        .post(subscriptions::subscription_token_by_name),
                )
                // Every write of a token's user counts against one per-user budget (reads
                // pass uncounted): channel and member changes as much as messages, each
                // of which can fan out to many rows and events.
                .service(user_writes(
                    api.at("/channels")
                        .get(channels::list)
                        .post(channels::create),
                ))
                .service(user_writes(
                    api.at("/channels/direct").post(channels::direct),
                ))
                .service(user_writes(
                    api.at("/channels/{id}")
                        .get(channels::get)
                        .patch(channels::update)
                        .delete(channels::delete),
                ))
                .service(
                    api.at("/channels/{id}/subscription-token")
                        .post(subscriptions::subscription_token),
                )
                .service(user_writes(
                    api.at("/channels/{id}/members")
                        .get(members::list)
                        .post(members::add),
                ))
                .service(user_writes(
                    api.at("/channels/{id}/members/{userId}")
                        .delete(members::remove),
                ))
                .service(user_writes(
                    api.at("/channels/{id}/messages")
                        .get(messages::page)
                        .post(messages::send),
                ))
                .service(user_writes(
                    api.at("/channels/{id}/messages/{msgId}")
                        .patch(messages::edit)
                        .delete(messages::delete),
                ))
                .service(user_writes(
                    api.at("/channels/{id}/messages/{msgId}/reactions/{emoji}")
                        .put(reactions::add_reaction)
                        .delete(reactions::remove_reaction),
                ))
                .service(api.at("/channels/{id}/read").post(read_marks::mark_read))
                .service(
                    api.at("/channels/{id}/typing")
                        .post(typing::typing)
                        .resource()
                        .wrap(from_fn(ratelimit::limit_typing)),
                ),
        );
}

/// `res` with each write of a token's user counted against the per-user write budget
/// (reads pass uncounted).
fn user_writes(res: table::Res) -> impl actix_web::dev::HttpServiceFactory {
    res.resource().wrap(from_fn(ratelimit::limit_user_writes))
}

/// Answer for any path no route matches.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("route".into()))
}
