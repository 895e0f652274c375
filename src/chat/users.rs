//! Users, as the app's backend manages them: token revocation and deletion.

use super::members::drop_member;
use super::{Ctx, user_gone};
use crate::db::users::User;
use crate::db::{channels as channel_rows, outbox, users};
use crate::error::ApiError;
use rusqlite::Connection;

fn require_backend(ctx: &Ctx) -> Result<(), ApiError> {
    if ctx.backend {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "only the app's backend (X-API-Key) may do this".into(),
        ))
    }
}

/// The acting user `user_id`, as `/api/me` shows them.
pub fn me(conn: &Connection, ctx: &Ctx, user_id: &str) -> Result<User, ApiError> {
    match users::find(conn, &ctx.app_id, user_id)? {
        Some(u) => Ok(u),
        // A genuine token whose user is gone no longer stands for anyone.
        None if !ctx.backend => Err(user_gone()),
        None => Err(ApiError::NotFound("user".into())),
    }
}

/// Revokes every REST token the user holds now and disconnects their live Centrifugo
/// connections. Tokens issued afterwards work, even within the same second.
pub fn revoke_tokens(conn: &Connection, ctx: &Ctx, user_id: &str) -> Result<(), ApiError> {
    require_backend(ctx)?;
    users::revoke_tokens(conn, &ctx.app_id, user_id)?
        .ok_or_else(|| ApiError::NotFound("user".into()))?;
    outbox::disconnect(conn, &ctx.centrifugo_user(user_id))?;
    Ok(())
}

/// Deletes a user: memberships (each announced, subscriptions ended), data and tokens;
/// disconnects them. Their messages stay, shown as from a deleted user.
pub fn delete(conn: &Connection, ctx: &Ctx, user_id: &str) -> Result<(), ApiError> {
    require_backend(ctx)?;
    let user = users::find_realtime_name(conn, &ctx.app_id, user_id)?
        .ok_or_else(|| ApiError::NotFound("user".into()))?;
    for channel_pk in users::channel_pks(conn, user.pk)? {
        if let Some(channel) = channel_rows::find_by_pk(conn, &ctx.app_id, channel_pk)? {
            drop_member(conn, ctx, &channel, user, user_id)?;
        }
    }
    users::delete(conn, &ctx.app_id, user_id)?;
    outbox::disconnect(conn, &ctx.centrifugo_user(user_id))?;
    Ok(())
}
