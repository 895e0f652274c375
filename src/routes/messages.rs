//! `/api/channels/{id}/messages`, reactions, read marks and typing.

use crate::chat::messages::{self as chat, EditMessage, SendMessage};
use crate::chat::{DEFAULT_PAGE, MAX_EMOJI_CHARS, MAX_PAGE, MAX_TEXT_CHARS};
use crate::db::messages::PageFrom;
use crate::error::ApiError;
use crate::routes::auth::Caller;
use crate::routes::channels::{check_custom, check_id, page_limit};
use crate::routes::json::ApiJson;
use crate::routes::tokens::present;
use crate::routes::{AppState, created_or_existing, read, write};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Message text: 1–4000 characters; line breaks and tabs allowed, other control
/// characters not.
fn check_message_text(text: &str) -> Result<(), ApiError> {
    let chars = text.chars().count();
    if chars == 0 || chars > MAX_TEXT_CHARS {
        return Err(ApiError::InvalidRequest(format!(
            "`text` must be 1 to {MAX_TEXT_CHARS} characters (got {chars})"
        )));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ApiError::InvalidRequest(
            "`text` must not contain control characters other than line breaks and tabs".into(),
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SendBody {
    text: String,
    client_msg_id: Option<String>,
    custom: Option<Map<String, Value>>,
    parent_id: Option<String>,
    user_id: Option<String>,
}

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
    let (message, created) = write(&state, move |c| chat::send(c, &ctx, &id, req)).await?;
    state.metrics.message_sent(created);
    Ok(created_or_existing(created, message))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PageQuery {
    before: Option<i64>,
    after: Option<i64>,
    limit: Option<usize>,
    #[serde(rename = "userId")]
    _user_id: Option<String>,
}

pub async fn page(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = page_limit(q.limit, DEFAULT_PAGE, MAX_PAGE)?;
    let from = match (q.before, q.after) {
        (Some(_), Some(_)) => {
            return Err(ApiError::InvalidRequest(
                "give `before` or `after`, not both".into(),
            ));
        }
        (Some(s), None) if s >= 0 => PageFrom::Before(s),
        (None, Some(s)) if s >= 0 => PageFrom::After(s),
        (None, None) => PageFrom::Latest,
        _ => {
            return Err(ApiError::InvalidRequest(
                "`before` and `after` must be 0 or more".into(),
            ));
        }
    };
    let id = path.into_inner();
    let ctx = caller.ctx(None)?;
    let (messages, has_more) = read(&state, move |c| chat::page(c, &ctx, &id, from, limit)).await?;
    Ok(HttpResponse::Ok().json(json!({"messages": messages, "hasMore": has_more})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EditBody {
    text: Option<String>,
    #[serde(default, deserialize_with = "present")]
    custom: Option<Option<Map<String, Value>>>,
    user_id: Option<String>,
}

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
    let message = write(&state, move |c| chat::edit(c, &ctx, &id, &msg_id, req)).await?;
    Ok(HttpResponse::Ok().json(message))
}

pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, msg_id) = path.into_inner();
    let ctx = caller.ctx(None)?;
    let message = write(&state, move |c| chat::delete(c, &ctx, &id, &msg_id)).await?;
    Ok(HttpResponse::Ok().json(message))
}

async fn react(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
    add: bool,
) -> Result<HttpResponse, ApiError> {
    let (id, msg_id, emoji) = path.into_inner();
    crate::domain::check_text("emoji", &emoji, 1, MAX_EMOJI_CHARS)?;
    if emoji.chars().any(char::is_whitespace) {
        return Err(ApiError::InvalidRequest(
            "`emoji` must not contain spaces".into(),
        ));
    }
    let ctx = caller.ctx(None)?;
    let message = write(&state, move |c| {
        chat::react(c, &ctx, &id, &msg_id, &emoji, add)
    })
    .await?;
    Ok(HttpResponse::Ok().json(message))
}

pub async fn add_reaction(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    react(state, caller, path, true).await
}

pub async fn remove_reaction(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    react(state, caller, path, false).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReadBody {
    seq: i64,
    user_id: Option<String>,
}

pub async fn mark_read(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: ApiJson<ReadBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    if b.seq < 0 {
        return Err(ApiError::InvalidRequest("`seq` must be 0 or more".into()));
    }
    let id = path.into_inner();
    let ctx = caller.ctx(b.user_id)?;
    let seq = write(&state, move |c| chat::mark_read(c, &ctx, &id, b.seq)).await?;
    Ok(HttpResponse::Ok().json(json!({"seq": seq})))
}

/// Typing is ephemeral: published straight to Centrifugo without history, not stored.
/// The answer does not wait for Centrifugo; a lost typing event harms nobody.
pub async fn typing(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let ctx = caller.ctx(None)?;
    let (channel, event) = read(&state, move |c| chat::typing(c, &ctx, &id)).await?;
    let centrifugo = state.centrifugo.clone();
    actix_web::rt::spawn(async move {
        if let Err(e) = centrifugo.publish(&channel, &event, true).await {
            log::debug!("typing event lost: {e}");
        }
    });
    Ok(HttpResponse::Accepted().json(json!({"status": "sent"})))
}
