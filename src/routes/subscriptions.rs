//! Centrifugo subscription tokens for a channel's members: by channel id
//! (`/api/channels/{id}/subscription-token`) and by realtime name
//! (`/api/subscription-token`, for the client SDKs' `getToken` callbacks).

use crate::chat::channels;
use crate::error::ApiError;
use crate::openapi::errors::{ChannelBodyErrors, SubTokenErrors};
use crate::openapi::{ActingUser, ChannelId};
use crate::realtime::{chat_channel, parse_chat_channel};
use crate::routes::auth::{ActingUserBody, Caller};
use crate::routes::json::{ApiJson, OptionalJson};
use crate::routes::{AppState, read_as_caller};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A Centrifugo subscription token.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionToken {
    token: String,
    /// The realtime channel it is for.
    channel: String,
    /// Lifetime of `token`, in seconds.
    expires_in: u64,
}

/// Subscription token for a channel
///
/// A member's token to subscribe to the channel's realtime channel.
#[utoipa::path(
    post,
    path = "/api/channels/{id}/subscription-token",
    tag = "realtime",
    security(("bearer" = []), ("api_key" = [])),
    params(ChannelId, ActingUser),
    request_body(content = Option<ActingUserBody>, description = "Optional: the acting user, for X-API-Key calls.",
                 example = json!({"userId": "alice"})),
    responses(
        (status = 200, description = "The token.", body = SubscriptionToken, example = json!({
            "token": "eyJhbGciOiJIUzI1NiJ9.eyJjaGFubmVsIjoiY2hhdDoxMi45ZjNjMmE3ZDRlMWI2MDU4In0.c2ln",
            "channel": "chat:12.9f3c2a7d4e1b6058",
            "expiresIn": 300,
        })),
        ChannelBodyErrors,
    )
)]
pub async fn subscription_token(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: OptionalJson<ActingUserBody>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let ctx = caller.ctx(body.0.and_then(|b| b.user_id))?;
    let user_id = ctx.user_id.clone().ok_or_else(crate::chat::need_user_id)?;
    let name = read_as_caller(&state, ctx, move |c, ctx| {
        channels::member_channel_name(c, ctx, &id)
    })
    .await?;
    sub_token_response(&state, &caller.app_id, &user_id, &chat_channel(name))
}

/// A realtime channel by name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SubTokenBody {
    /// The channel's `realtimeChannel`, e.g. `chat:12.9f3c2a7d4e1b6058`.
    channel: String,
    /// With X-API-Key: the user the token is for.
    user_id: Option<String>,
}

/// Subscription token by realtime name
///
/// The same, by realtime name, for the `getToken({channel})` callbacks of Centrifugo's
/// client SDKs.
#[utoipa::path(
    post,
    path = "/api/subscription-token",
    tag = "realtime",
    security(("bearer" = []), ("api_key" = [])),
    params(ActingUser),
    request_body(content = SubTokenBody, example = json!({"channel": "chat:12.9f3c2a7d4e1b6058"})),
    responses(
        (status = 200, description = "The token.", body = SubscriptionToken),
        SubTokenErrors,
    )
)]
pub async fn subscription_token_by_name(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<SubTokenBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let ctx = caller.ctx(b.user_id)?;
    let user_id = ctx.user_id.clone().ok_or_else(crate::chat::need_user_id)?;
    let name = parse_chat_channel(&b.channel).ok_or(ApiError::ChannelNotFound)?;
    read_as_caller(&state, ctx, move |c, ctx| {
        channels::require_member_of_name(c, ctx, name)
    })
    .await?;
    // The name the channel has now: `b.channel` itself, as parsing takes only names
    // written as `chat_channel` writes them.
    sub_token_response(&state, &caller.app_id, &user_id, &chat_channel(name))
}

fn sub_token_response(
    state: &AppState,
    app_id: &str,
    user_id: &str,
    channel: &str,
) -> Result<HttpResponse, ApiError> {
    let (token, expires_in) = state.tokens.issue_subscription(app_id, user_id, channel)?;
    Ok(HttpResponse::Ok().json(SubscriptionToken {
        token,
        channel: channel.to_string(),
        expires_in,
    }))
}
