//! `/api/channels/{id}/messages/{msgId}/reactions/{emoji}`: add or remove a reaction.

use crate::chat::messages as chat;
use crate::chat::views::MessageView;
use crate::domain::{check_emoji, check_path_safe};
use crate::error::ApiError;
use crate::openapi::errors::{AddReactionErrors, MessageErrors};
use crate::openapi::{ActingUser, ChannelId, Emoji, MessageId};
use crate::routes::auth::Caller;
use crate::routes::{AppState, write_as_caller};
use actix_web::{HttpResponse, web};

async fn react(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
    add: bool,
) -> Result<HttpResponse, ApiError> {
    let (id, msg_id, emoji) = path.into_inner();
    check_emoji(&emoji)?;
    if add {
        // A `..` reaction could not be removed from a browser. Removing one stays possible
        // (an older server accepted them).
        check_path_safe("emoji", &emoji)?;
    }
    let ctx = caller.ctx(None)?;
    let message = write_as_caller(&state, ctx, move |c, ctx| {
        chat::react(c, ctx, &id, &msg_id, &emoji, add)
    })
    .await?;
    Ok(HttpResponse::Ok().json(message))
}

/// Add a reaction
#[utoipa::path(
    put,
    path = "/api/channels/{id}/messages/{msgId}/reactions/{emoji}",
    tag = "messages",
    security(("bearer" = []), ("api_key" = [])),
    params(ChannelId, MessageId, Emoji, ActingUser),
    responses(
        (status = 200, description = "The message with its reactions.", body = MessageView),
        AddReactionErrors,
    )
)]
pub async fn add_reaction(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    react(state, caller, path, true).await
}

/// Remove a reaction
#[utoipa::path(
    delete,
    path = "/api/channels/{id}/messages/{msgId}/reactions/{emoji}",
    tag = "messages",
    security(("bearer" = []), ("api_key" = [])),
    params(ChannelId, MessageId, Emoji, ActingUser),
    responses(
        (status = 200, description = "The message with its reactions.", body = MessageView),
        MessageErrors,
    )
)]
pub async fn remove_reaction(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    react(state, caller, path, false).await
}
