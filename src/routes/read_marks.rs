//! `/api/channels/{id}/read`: a member's read mark.

use crate::chat::messages as chat;
use crate::error::ApiError;
use crate::openapi::errors::ChannelBodyErrors;
use crate::openapi::{ActingUser, ChannelId};
use crate::routes::auth::Caller;
use crate::routes::json::ApiJson;
use crate::routes::{AppState, write_as_caller};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A read mark.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReadBody {
    /// The last `seq` read.
    #[schema(minimum = 0)]
    seq: i64,
    /// With X-API-Key: the reader.
    user_id: Option<String>,
}

/// The read mark now stored.
#[derive(Serialize, ToSchema)]
pub struct ReadMark {
    /// Never moves back: a smaller `seq` than stored keeps the stored one.
    seq: i64,
}

/// Mark as read
#[utoipa::path(
    post,
    path = "/api/channels/{id}/read",
    tag = "messages",
    security(("bearer" = []), ("api_key" = [])),
    params(ChannelId, ActingUser),
    request_body(content = ReadBody, example = json!({"seq": 12})),
    responses(
        (status = 200, description = "The stored read mark.", body = ReadMark,
         example = json!({"seq": 12})),
        ChannelBodyErrors,
    )
)]
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
    let seq = write_as_caller(&state, ctx, move |c, ctx| {
        chat::mark_read(c, ctx, &id, b.seq)
    })
    .await?;
    Ok(HttpResponse::Ok().json(ReadMark { seq }))
}
