//! `/api/channels/{id}/messages`: send, page, edit, delete.

use crate::chat::messages::{self as chat, EditMessage, SendMessage};
use crate::chat::views::MessageView;
use crate::chat::{DEFAULT_PAGE, MAX_PAGE};
use crate::domain::{check_custom, check_id, check_message_text, page_from};
use crate::error::ApiError;
use crate::openapi::errors::{ChannelBodyErrors, ChannelErrors, MessageBodyErrors, MessageErrors};
use crate::openapi::{ActingUser, ChannelId, MessageId};
use crate::routes::auth::Caller;
use crate::routes::json::{ApiJson, present};
use crate::routes::query::{ApiQuery, page_limit};
use crate::routes::{AppState, created_or_existing, read_as_caller, write_as_caller};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A new message.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SendBody {
    /// 1–4000 characters; line breaks and tabs allowed, other control characters not.
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$"
    )]
    text: String,
    /// Your id for the message (1–128 characters), which makes a retry safe: the same id
    /// again answers 200 with the stored message.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    client_msg_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    custom: Option<Map<String, Value>>,
    /// Reply to this message id.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    parent_id: Option<String>,
    /// With X-API-Key: the author; absent for a system message.
    user_id: Option<String>,
}

/// Send a message
#[utoipa::path(
    post,
    path = "/api/channels/{id}/messages",
    tag = "messages",
    security(("bearer" = []), ("api_key" = [])),
    params(ChannelId, ActingUser),
    request_body(content = SendBody, example = json!({
        "text": "Hello, world",
        "clientMsgId": "m-2f9c",
    })),
    responses(
        (status = 201, description = "Sent.", body = MessageView, example = json!({
            "id": "m-2f9c",
            "channelId": "general",
            "seq": 1,
            "user": {"id": "u-42", "name": "Ada", "image": null},
            "text": "Hello, world",
            "custom": {},
            "parentId": null,
            "createdAt": "2026-05-01T10:00:00.000Z",
            "editedAt": null,
            "deletedAt": null,
            "reactions": {"counts": {}, "own": []},
        })),
        (status = 200, description = "Already sent with this `clientMsgId` (a retry).",
         body = MessageView),
        ChannelBodyErrors,
    )
)]
pub async fn send(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: ApiJson<SendBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    check_message_text(&b.text)?;
    if let Some(cid) = &b.client_msg_id {
        check_id("clientMsgId", cid)?;
    }
    if let Some(p) = &b.parent_id {
        check_id("parentId", p)?;
    }
    let custom = b.custom.unwrap_or_default();
    check_custom(&custom)?;
    let id = path.into_inner();
    let ctx = caller.ctx(b.user_id)?;
    let req = SendMessage {
        text: b.text,
        client_msg_id: b.client_msg_id,
        custom,
        parent_id: b.parent_id,
    };
    let (message, created) =
        write_as_caller(&state, ctx, move |c, ctx| chat::send(c, ctx, &id, req)).await?;
    state.metrics.message_sent(created);
    Ok(created_or_existing(created, message))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MessagePageQuery {
    before: Option<i64>,
    after: Option<i64>,
    limit: Option<usize>,
    #[serde(rename = "userId")]
    _user_id: Option<String>,
}

/// A page of messages, oldest first.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessagePage {
    messages: Vec<MessageView>,
    /// More messages lie beyond this page, in the direction asked.
    has_more: bool,
}

/// List messages
///
/// The latest page, or the one before or after a `seq`.
#[utoipa::path(
    get,
    path = "/api/channels/{id}/messages",
    tag = "messages",
    security(("bearer" = []), ("api_key" = [])),
    params(
        ChannelId,
        ("before" = Option<i64>, Query, minimum = 0, description = "Messages with a smaller `seq`."),
        ("after" = Option<i64>, Query, minimum = 0,
         description = "Messages with a larger `seq` (not with `before`)."),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200,
         description = "Page size, 1–200 (default 50)."),
        ActingUser,
    ),
    responses(
        (status = 200, description = "A page.", body = MessagePage),
        ChannelErrors,
    )
)]
pub async fn page(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: ApiQuery<MessagePageQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let limit = page_limit(q.limit, DEFAULT_PAGE, MAX_PAGE)?;
    let from = page_from(q.before, q.after)?;
    let id = path.into_inner();
    let ctx = caller.ctx_reading_query(None)?;
    let (messages, has_more) = read_as_caller(&state, ctx, move |c, ctx| {
        chat::page(c, ctx, &id, from, limit)
    })
    .await?;
    Ok(HttpResponse::Ok().json(MessagePage { messages, has_more }))
}

/// Changes to a message: `text` and/or `custom`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EditBody {
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$"
    )]
    text: Option<String>,
    /// Merged into the stored object as a JSON merge patch (RFC 7396); `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    custom: Option<Option<Map<String, Value>>>,
    /// With X-API-Key: the user to act as.
    user_id: Option<String>,
}

/// Edit a message
///
/// The author only (or the app's backend).
#[utoipa::path(
    patch,
    path = "/api/channels/{id}/messages/{msgId}",
    tag = "messages",
    security(("bearer" = []), ("api_key" = [])),
    params(ChannelId, MessageId, ActingUser),
    request_body(content = EditBody, example = json!({"text": "Hello, everyone"})),
    responses(
        (status = 200, description = "The edited message.", body = MessageView),
        MessageBodyErrors,
    )
)]
pub async fn edit(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: ApiJson<EditBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    if b.text.is_none() && b.custom.is_none() {
        return Err(ApiError::InvalidRequest(
            "give `text` and/or `custom` to change".into(),
        ));
    }
    if let Some(t) = &b.text {
        check_message_text(t)?;
    }
    if let Some(Some(c)) = &b.custom {
        check_custom(c)?;
    }
    let (id, msg_id) = path.into_inner();
    let ctx = caller.ctx(b.user_id)?;
    let req = EditMessage {
        text: b.text,
        custom: b.custom,
    };
    let message = write_as_caller(&state, ctx, move |c, ctx| {
        chat::edit(c, ctx, &id, &msg_id, req)
    })
    .await?;
    Ok(HttpResponse::Ok().json(message))
}

/// Delete a message
///
/// The author, channel owners and admins (or the app's backend). The message stays as a
/// tombstone: `text` becomes `null`, `deletedAt` is set.
#[utoipa::path(
    delete,
    path = "/api/channels/{id}/messages/{msgId}",
    tag = "messages",
    security(("bearer" = []), ("api_key" = [])),
    params(ChannelId, MessageId, ActingUser),
    responses(
        (status = 200, description = "The deleted message.", body = MessageView),
        MessageErrors,
    )
)]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, msg_id) = path.into_inner();
    let ctx = caller.ctx(None)?;
    let message = write_as_caller(&state, ctx, move |c, ctx| {
        chat::delete(c, ctx, &id, &msg_id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(message))
}
