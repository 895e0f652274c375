//! The OpenAPI 3.1 description of the HTTP API, generated from the handlers'
//! `#[utoipa::path]` annotations and the DTOs' `ToSchema`; served as `/openapi.json` and
//! rendered as a self-contained HTML page at `/docs`.

mod docs;
pub mod errors;

use crate::chat::views;
use crate::routes::{
    channels, me, members, messages, reactions, read_marks, subscriptions, tokens, typing, users,
};
use actix_web::HttpResponse;
use actix_web::http::header::ContentType;
use serde::Serialize;
use std::sync::LazyLock;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ChatSDK",
        description = "Token service and chat REST API beside Centrifugo. Your backend calls \
            `POST /tokens` with its `X-API-Key`; clients call `/api` with the returned \
            `Authorization: Bearer <token>`. Your backend may call `/api` with its key too, \
            naming the user to act as with `userId`. Every error body is \
            `{\"error\":{\"code\",\"message\"}}`; branch on `code`."
    ),
    paths(
        tokens::issue_tokens,
        crate::routes::health::health,
        crate::routes::health::ready,
        crate::routes::health::metrics,
        spec_json,
        docs_page,
        me::get_me,
        users::revoke_tokens,
        users::delete,
        subscriptions::subscription_token_by_name,
        channels::list,
        channels::create,
        channels::direct,
        channels::get,
        channels::update,
        channels::delete,
        subscriptions::subscription_token,
        members::list,
        members::add,
        members::remove,
        messages::page,
        messages::send,
        messages::edit,
        messages::delete,
        reactions::add_reaction,
        reactions::remove_reaction,
        read_marks::mark_read,
        typing::typing,
    ),
    components(schemas(errors::ErrorBody, views::PublicUser)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "tokens", description = "Tokens for your users, from your backend."),
        (name = "users", description = "The acting user; token revocation and deletion."),
        (name = "channels", description = "Group and direct channels."),
        (name = "members", description = "Who is in a channel, with which role."),
        (name = "messages", description = "Messages, reactions, read marks, typing."),
        (name = "realtime", description = "Subscription tokens for Centrifugo channels."),
        (name = "operations", description = "Health, readiness, metrics, this description."),
    )
)]
struct ApiDoc;

/// Adds the two ways to authenticate: the app's API key and a user's REST token.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "Your app's API key (`chatsdk key create`). From your backend only.",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("A user's REST token, the `token` of `POST /tokens`."))
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document.
pub fn spec() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

static SPEC_JSON: LazyLock<String> = LazyLock::new(|| {
    spec()
        .to_pretty_json()
        .unwrap_or_else(|e| panic!("the OpenAPI document does not serialize: {e}"))
});

static DOCS_HTML: LazyLock<String> = LazyLock::new(|| {
    let value: serde_json::Value = serde_json::from_str(&SPEC_JSON)
        .unwrap_or_else(|e| panic!("the OpenAPI document is not JSON: {e}"));
    docs::render(&value)
});

/// Builds the document and its HTML page now, at startup, rather than on a first request.
pub fn prepare() {
    LazyLock::force(&DOCS_HTML);
}

/// The OpenAPI document
///
/// This description, as OpenAPI 3.1 JSON: feed it to a client generator.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document.", body = Object,
         content_type = "application/json"),
        errors::PublicErrors,
    )
)]
pub async fn spec_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(SPEC_JSON.as_str())
}

/// API reference (HTML)
///
/// This description as a self-contained HTML page (no scripts, nothing loaded from elsewhere).
#[utoipa::path(
    get,
    path = "/docs",
    tag = "operations",
    responses(
        (status = 200, description = "The HTML page.", body = String, content_type = "text/html"),
        errors::PublicErrors,
    )
)]
pub async fn docs_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .body(DOCS_HTML.as_str())
}

/// `?userId=`: with X-API-Key, the user to act as.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActingUser {
    /// With X-API-Key: the user to act as. Refused (400) with a bearer token, which always
    /// acts as its own user.
    #[param(
        rename = "userId",
        min_length = 1,
        max_length = 255,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub user_id: Option<String>,
}

/// `{id}`: a channel id.
#[derive(IntoParams)]
#[into_params(names("id"), parameter_in = Path)]
pub struct ChannelId(
    /// The channel's id (`id` of the channel object).
    #[param(example = "general")]
    pub String,
);

/// `{msgId}`: a message id.
#[derive(IntoParams)]
#[into_params(names("msgId"), parameter_in = Path)]
pub struct MessageId(
    /// The message's id.
    #[param(example = "m-2f9c")]
    pub String,
);

/// `{emoji}`: a reaction.
#[derive(IntoParams)]
#[into_params(names("emoji"), parameter_in = Path)]
pub struct Emoji(
    /// An emoji or a short name, 1–32 characters, no spaces, not `.` or `..` (URL-encoded).
    #[param(example = "👍", min_length = 1, max_length = 32)]
    pub String,
);

/// `/health`'s answer.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
}

/// `/ready`'s answer when ready.
#[derive(Serialize, ToSchema)]
pub struct Ready {
    /// Always `ready`.
    pub status: String,
    pub checks: ReadyChecks,
    /// Realtime events waiting for Centrifugo; `null` if the count failed.
    #[schema(required = true)]
    pub outbox: Option<OutboxBacklog>,
}

/// Each dependency's state.
#[derive(Serialize, ToSchema)]
pub struct ReadyChecks {
    /// `ok`.
    pub database: String,
    /// `ok`.
    pub centrifugo: String,
}

/// The outbox backlog.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutboxBacklog {
    pub pending: i64,
    pub oldest_age_seconds: f64,
}
