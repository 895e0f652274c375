//! `/api/channels/{id}/typing`: an ephemeral typing event.

use crate::chat::messages as chat;
use crate::error::ApiError;
use crate::openapi::errors::ChannelBodyErrors;
use crate::openapi::{ActingUser, ChannelId};
use crate::routes::auth::{ActingUserBody, Caller};
use crate::routes::json::OptionalJson;
use crate::routes::{AppState, read_as_caller};
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

/// Accepted typing event.
#[derive(Serialize, ToSchema)]
pub struct TypingSent {
    /// Always `sent`.
    status: &'static str,
}

/// Typing indicator
///
/// Typing is ephemeral: published straight to Centrifugo without history, not stored.
/// The answer does not wait for Centrifugo; a lost typing event harms nobody. At most 64
/// are on their way at once, each given 1 s; the rest are dropped (the limits are
/// `centrifugo::TYPING_IN_FLIGHT` and `TYPING_TIMEOUT`).
#[utoipa::path(
    post,
    path = "/api/channels/{id}/typing",
    tag = "messages",
    security(("bearer" = []), ("api_key" = [])),
    params(ChannelId, ActingUser),
    request_body(content = Option<ActingUserBody>, description = "Optional: the acting user, for X-API-Key calls.",
                 example = json!({"userId": "alice"})),
    responses(
        (status = 202, description = "Published (or dropped: typing is best effort).",
         body = TypingSent, example = json!({"status": "sent"})),
        ChannelBodyErrors,
    )
)]
pub async fn typing(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: OptionalJson<ActingUserBody>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let ctx = caller.ctx(body.0.and_then(|b| b.user_id))?;
    let (channel, event) =
        read_as_caller(&state, ctx, move |c, ctx| chat::typing(c, ctx, &id)).await?;
    state.centrifugo.publish_typing(channel, event);
    Ok(HttpResponse::Accepted().json(TypingSent { status: "sent" }))
}
