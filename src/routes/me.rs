//! `GET /api/me`: the user a REST token belongs to.

use crate::db::users;
use crate::error::ApiError;
use crate::routes::AppState;
use crate::routes::auth::AuthenticatedUser;
use crate::routes::tokens::UserView;
use actix_web::web;

pub async fn get_me(
    state: web::Data<AppState>,
    me: AuthenticatedUser,
) -> Result<web::Json<UserView>, ApiError> {
    let (app_id, user_id) = (me.app_id, me.user_id);
    let user = state
        .db
        .read(move |c| users::find(c, &app_id, &user_id))
        .await?
        // The token is genuine but its user is gone: the token no longer stands for anyone.
        .ok_or(ApiError::InvalidToken("the user no longer exists"))?;
    Ok(web::Json(user.into()))
}
