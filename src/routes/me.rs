//! `GET /api/me`: the acting user, with their private `custom` and personal channel.

use crate::chat::users;
use crate::chat::views::UserView;
use crate::error::ApiError;
use crate::realtime::personal_channel;
use crate::routes::auth::Caller;
use crate::routes::{AppState, read_as_caller};
use actix_web::{HttpResponse, web};
use serde::Serialize;

/// The acting user, with their personal realtime channel.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeView {
    #[serde(flatten)]
    user: UserView,
    /// The Centrifugo channel the wsToken subscribes this user to, server-side.
    personal_channel: String,
}

/// The acting user
///
/// The token's user, or with `X-API-Key` the user named by `?userId=`.
#[utoipa::path(
    get,
    path = "/api/me",
    tag = "users",
    security(("bearer" = []), ("api_key" = [])),
    params(crate::openapi::ActingUser),
    responses(
        (status = 200, description = "The user.", body = MeView),
        crate::openapi::errors::UserErrors,
    )
)]
pub async fn get_me(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let ctx = caller.ctx(None)?;
    let user_id = ctx.user_id.clone().ok_or_else(crate::chat::need_user_id)?;
    let user = read_as_caller(&state, ctx, move |c, ctx| users::me(c, ctx, &user_id)).await?;
    Ok(HttpResponse::Ok().json(MeView {
        personal_channel: personal_channel(user.realtime_name()),
        user: user.into(),
    }))
}
