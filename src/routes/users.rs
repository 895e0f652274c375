//! `/api/users/{userId}`: the app's backend revokes a user's tokens or deletes the user.

use crate::chat::users as chat;
use crate::domain::UserId;
use crate::error::ApiError;
use crate::routes::auth::Caller;
use crate::routes::{AppState, write};
use actix_web::{HttpResponse, web};
use serde_json::json;

pub async fn revoke_tokens(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user_id = UserId::parse("userId", path.into_inner())?;
    let ctx = caller.ctx(None)?;
    let id = user_id.as_str().to_string();
    write(&state, move |c| chat::revoke_tokens(c, &ctx, &id)).await?;
    Ok(HttpResponse::Ok().json(json!({"userId": user_id.as_str(), "revoked": true})))
}

pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user_id = UserId::parse("userId", path.into_inner())?;
    let ctx = caller.ctx(None)?;
    write(&state, move |c| chat::delete(c, &ctx, user_id.as_str())).await?;
    Ok(HttpResponse::NoContent().finish())
}
