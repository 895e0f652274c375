//! `/api/users/{userId}`: the app's backend revokes a user's tokens or deletes the user.

use crate::chat::users as chat;
use crate::domain::UserId;
use crate::error::ApiError;
use crate::routes::auth::Caller;
use crate::routes::{AppState, write_as_caller};
use actix_web::{HttpResponse, web};
use serde::Serialize;

/// The answer of `revoke-tokens`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Revoked {
    user_id: String,
    /// Always `true`.
    revoked: bool,
}

/// Revoke a user's tokens
///
/// Every REST token issued to the user so far stops working at once; `POST /tokens`
/// issues new ones. For the app's backend (`X-API-Key`).
#[utoipa::path(
    post,
    path = "/api/users/{userId}/revoke-tokens",
    tag = "users",
    security(("api_key" = []), ("bearer" = [])),
    params(("userId" = String, Path, description = "The user's id.", example = "u-42")),
    responses(
        (status = 200, description = "Revoked.", body = Revoked,
         example = json!({"userId": "u-42", "revoked": true})),
        crate::openapi::errors::UserErrors,
    )
)]
pub async fn revoke_tokens(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user_id = UserId::parse("userId", path.into_inner())?;
    let ctx = caller.ctx(None)?;
    let id = user_id.as_str().to_string();
    write_as_caller(&state, ctx, move |c, ctx| chat::revoke_tokens(c, ctx, &id)).await?;
    Ok(HttpResponse::Ok().json(Revoked {
        user_id: user_id.as_str().to_string(),
        revoked: true,
    }))
}

/// Delete a user
///
/// Removes the user's profile and memberships; their messages stay, shown as by a
/// deleted user. For the app's backend (`X-API-Key`).
#[utoipa::path(
    delete,
    path = "/api/users/{userId}",
    tag = "users",
    security(("api_key" = []), ("bearer" = [])),
    params(("userId" = String, Path, description = "The user's id.", example = "u-42")),
    responses(
        (status = 204, description = "Deleted."),
        crate::openapi::errors::UserErrors,
    )
)]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user_id = UserId::parse("userId", path.into_inner())?;
    let ctx = caller.ctx(None)?;
    write_as_caller(&state, ctx, move |c, ctx| {
        chat::delete(c, ctx, user_id.as_str())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
