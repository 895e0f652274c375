//! `/api/channels/{id}/members`.

use crate::chat::{Role, members as chat};
use crate::domain::UserId;
use crate::error::ApiError;
use crate::routes::auth::Caller;
use crate::routes::channels::parse_user_ids;
use crate::routes::json::ApiJson;
use crate::routes::{AppState, read, write};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let ctx = caller.ctx(None)?;
    let members = read(&state, move |c| chat::list(c, &ctx, &id)).await?;
    Ok(HttpResponse::Ok().json(json!({ "members": members })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AddBody {
    user_ids: Vec<String>,
    role: Option<String>,
    user_id: Option<String>,
}

pub async fn add(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: ApiJson<AddBody>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    if b.user_ids.is_empty() {
        return Err(ApiError::InvalidRequest(
            "`userIds` must name at least one user".into(),
        ));
    }
    let user_ids = parse_user_ids("userIds", b.user_ids)?;
    let role = match b.role.as_deref() {
        None => Role::Member,
        Some(r) => Role::parse(r).ok_or_else(|| {
            ApiError::InvalidRequest(format!(
                "`role` must be one of owner, admin, member (got {r:?})"
            ))
        })?,
    };
    let id = path.into_inner();
    let ctx = caller.ctx(b.user_id)?;
    let added = write(&state, move |c| chat::add(c, &ctx, &id, &user_ids, role)).await?;
    Ok(HttpResponse::Ok().json(json!({ "added": added })))
}

/// Removing yourself is leaving. With X-API-Key the acting user (if any) is `?userId=`.
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, user_id) = path.into_inner();
    let user_id = UserId::parse("userId", user_id)?;
    let ctx = caller.ctx(None)?;
    write(&state, move |c| {
        chat::remove(c, &ctx, &id, user_id.as_str())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
