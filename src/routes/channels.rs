//! `/api/channels`: create, direct, list, get, update, delete.

use crate::chat::channels::{self as chat, CreateChannel, UpdateChannel};
use crate::chat::views::ChannelView;
use crate::chat::{DEFAULT_CHANNEL_PAGE, MAX_CHANNEL_PAGE};
use crate::domain::{UserId, check_custom, check_id, check_name, parse_user_ids};
use crate::error::ApiError;
use crate::openapi::errors::{
    ApiBodyErrors, ApiErrors, ChannelBodyErrors, ChannelErrors, CreateChannelErrors,
};
use crate::openapi::{ActingUser, ChannelId};
use crate::routes::auth::Caller;
use crate::routes::json::{ApiJson, present};
use crate::routes::query::{ApiQuery, PageQuery, decode_cursor, encode_cursor, page_limit};
use crate::routes::{AppState, created_or_existing, read_as_caller, write_as_caller};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A new group channel.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateBody {
    /// Your id for it (1–128 characters); a random one when absent. Creating an existing
    /// id again is a safe retry: 200 with the channel as stored (to a member, or the key),
    /// the rest of the body not applied (PATCH it, or add members).
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    id: Option<String>,
    #[schema(max_length = 255, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    name: Option<String>,
    #[schema(value_type = Option<Object>)]
    custom: Option<Map<String, Value>>,
    /// Other users to add (at most 100); the creator becomes the owner.
    #[serde(default)]
    #[schema(max_items = 100)]
    members: Vec<String>,
    /// With X-API-Key: the user who creates it (its owner).
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    user_id: Option<String>,
}

/// Create a channel
#[utoipa::path(
    post,
    path = "/api/channels",
    tag = "channels",
    security(("bearer" = []), ("api_key" = [])),
    params(ActingUser),
    request_body(content = CreateBody, example = json!({
        "id": "general",
        "name": "General",
        "members": ["u-7", "u-9"],
        "custom": {"topic": "everything"},
    })),
    responses(
        (status = 201, description = "Created.", body = ChannelView, example = json!({
            "id": "general",
            "realtimeChannel": "chat:12.9f3c2a7d4e1b6058",
            "type": "group",
            "name": "General",
            "custom": {"topic": "everything"},
            "createdAt": "2026-05-01T10:00:00.000Z",
            "updatedAt": "2026-05-01T10:00:00.000Z",
            "lastSeq": 0,
            "memberCount": 3,
            "role": "owner",
            "unreadCount": 0,
            "lastMessage": null,
        })),
        (status = 200, description = "It already existed (a retry).", body = ChannelView),
        CreateChannelErrors,
    )
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    if let Some(id) = &b.id {
        check_id("id", id)?;
    }
    check_name(&b.name)?;
    let custom = b.custom.unwrap_or_default();
    check_custom(&custom)?;
    let members = parse_user_ids("members", b.members)?;
    let ctx = caller.ctx(b.user_id)?;
    let req = CreateChannel {
        id: b.id,
        name: b.name,
        custom,
        members,
    };
    let (channel, created) =
        write_as_caller(&state, ctx, move |c, ctx| chat::create(c, ctx, req)).await?;
    Ok(created_or_existing(created, channel))
}

/// The other user of a direct channel.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DirectBody {
    /// The other user of the pair.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    user_id: String,
}

/// Open a direct channel
///
/// The one channel between the caller and another user, made on first use.
/// With X-API-Key, the acting user of the pair comes from `?userId=`.
#[utoipa::path(
    post,
    path = "/api/channels/direct",
    tag = "channels",
    security(("bearer" = []), ("api_key" = [])),
    params(ActingUser),
    request_body(content = DirectBody, example = json!({"userId": "u-7"})),
    responses(
        (status = 201, description = "Created.", body = ChannelView),
        (status = 200, description = "It already existed.", body = ChannelView),
        ApiBodyErrors,
    )
)]
pub async fn direct(
    state: web::Data<AppState>,
    caller: Caller,
    body: ApiJson<DirectBody>,
) -> Result<HttpResponse, ApiError> {
    let other = UserId::parse("userId", body.0.user_id)?;
    let ctx = caller.ctx(None)?;
    let (channel, created) = write_as_caller(&state, ctx, move |c, ctx| {
        chat::direct(c, ctx, other.as_str())
    })
    .await?;
    Ok(created_or_existing(created, channel))
}

/// A page of channels.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelPage {
    channels: Vec<ChannelView>,
    /// Pass as `?cursor=` for the next page; `null` on the last.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// List channels
///
/// The caller's channels, most recently active first (with X-API-Key, the user named by
/// `userId`, which is then required).
#[utoipa::path(
    get,
    path = "/api/channels",
    tag = "channels",
    security(("bearer" = []), ("api_key" = [])),
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100,
         description = "Page size, 1–100 (default 30)."),
        ("cursor" = Option<String>, Query, description = "`nextCursor` of the previous page."),
        ActingUser,
    ),
    responses(
        (status = 200, description = "A page.", body = ChannelPage),
        ApiErrors,
    )
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: ApiQuery<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let limit = page_limit(q.limit, DEFAULT_CHANNEL_PAGE, MAX_CHANNEL_PAGE)?;
    let cursor = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let ctx = caller.ctx_reading_query(None)?;
    let (channels, next) =
        read_as_caller(&state, ctx, move |c, ctx| chat::list(c, ctx, cursor, limit)).await?;
    Ok(HttpResponse::Ok().json(ChannelPage {
        channels,
        next_cursor: next.map(encode_cursor),
    }))
}

/// Get a channel
#[utoipa::path(
    get,
    path = "/api/channels/{id}",
    tag = "channels",
    security(("bearer" = []), ("api_key" = [])),
    params(ChannelId, ActingUser),
    responses(
        (status = 200, description = "The channel.", body = ChannelView),
        ChannelErrors,
    )
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let ctx = caller.ctx(None)?;
    let channel = read_as_caller(&state, ctx, move |c, ctx| chat::get(c, ctx, &id)).await?;
    Ok(HttpResponse::Ok().json(channel))
}

/// Changes to a channel: absent fields stay, `null` clears.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateBody {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 255, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    name: Option<Option<String>>,
    /// Merged into the stored object as a JSON merge patch (RFC 7396).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    custom: Option<Option<Map<String, Value>>>,
    /// With X-API-Key: the user to act as.
    user_id: Option<String>,
}

/// Update a channel
///
/// Owners and admins only.
#[utoipa::path(
    patch,
    path = "/api/channels/{id}",
    tag = "channels",
    security(("bearer" = []), ("api_key" = [])),
    params(ChannelId, ActingUser),
    request_body(content = UpdateBody, example = json!({"name": "Announcements"})),
    responses(
        (status = 200, description = "The updated channel.", body = ChannelView),
        ChannelBodyErrors,
    )
)]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: ApiJson<UpdateBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    if let Some(n) = &b.name {
        check_name(n)?;
    }
    if let Some(Some(c)) = &b.custom {
        check_custom(c)?;
    }
    let id = path.into_inner();
    let ctx = caller.ctx(b.user_id)?;
    let req = UpdateChannel {
        name: b.name,
        custom: b.custom,
    };
    let channel =
        write_as_caller(&state, ctx, move |c, ctx| chat::update(c, ctx, &id, req)).await?;
    Ok(HttpResponse::Ok().json(channel))
}

/// Delete a channel
///
/// Owners only (or the app's backend); its history goes with it.
#[utoipa::path(
    delete,
    path = "/api/channels/{id}",
    tag = "channels",
    security(("bearer" = []), ("api_key" = [])),
    params(ChannelId, ActingUser),
    responses(
        (status = 204, description = "Deleted."),
        ChannelErrors,
    )
)]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let ctx = caller.ctx(None)?;
    write_as_caller(&state, ctx, move |c, ctx| chat::delete(c, ctx, &id)).await?;
    // A channel with many messages was only retired: its messages go now, in the background.
    state.purge.wake();
    Ok(HttpResponse::NoContent().finish())
}
