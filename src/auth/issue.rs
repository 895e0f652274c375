//! Issuing both tokens of a user: check the requester, upsert the user, sign.

use crate::auth::api_key::{self, PresentedKey};
use crate::auth::tokens::{IssuedTokens, WsInfo};
use crate::db::keys;
use crate::db::users::{self, User, UserPatch};
use crate::domain::UserId;
use crate::error::ApiError;
use crate::ratelimit::{Decision, RateLimits};
use crate::routes::AppState;
use actix_web::web;

/// Who asks for tokens.
pub enum Requester {
    /// A backend's `X-API-Key`: checked, and counted against its rate limit, inside the
    /// same write as the upsert.
    Key {
        key: PresentedKey,
        limits: web::Data<RateLimits>,
    },
    /// An app the server itself vouches for (the demo).
    App(String),
}

/// Checks a key, and counts it, without issuing anything (the answer to a bad body).
pub async fn check_key_alone(
    state: &AppState,
    limits: &web::Data<RateLimits>,
    key: PresentedKey,
) -> Result<Option<Decision>, ApiError> {
    let app = api_key::authenticate_key(state, key).await?;
    limits.hit_key(&app.key_id)
}

/// Upserts the user of the demo's `app_id` and issues both tokens.
pub async fn issue(
    state: &AppState,
    app_id: &str,
    user_id: UserId,
    patch: UserPatch,
) -> Result<(IssuedTokens, User), ApiError> {
    let (tokens, user, _) =
        issue_for(state, Requester::App(app_id.to_string()), user_id, patch).await?;
    Ok((tokens, user))
}

/// One trip to the writer thread: check the key (and its rate limit), upsert the user,
/// record the key's use when due; then sign both tokens off the database thread.
pub async fn issue_for(
    state: &AppState,
    requester: Requester,
    user_id: UserId,
    patch: UserPatch,
) -> Result<(IssuedTokens, User, Option<Decision>), ApiError> {
    let (app_id, key_id, quota, user, created) = state
        .db
        .write(move |c| {
            let (app_id, key_id, quota) = match requester {
                Requester::App(app_id) => (app_id, None, None),
                Requester::Key { key, limits } => {
                    let checked = api_key::check_key(c, &key)?;
                    let quota = limits.hit_key(&checked.app.key_id)?;
                    if let Some(now) = checked.touch_at {
                        keys::touch_last_used(c, &checked.app.key_id, now)?;
                    }
                    (checked.app.app_id, Some(checked.app.key_id), quota)
                }
            };
            let (user, created) = users::upsert(c, &app_id, user_id.as_str(), &patch)?;
            Ok::<_, ApiError>((app_id, key_id, quota, user, created))
        })
        .await?;
    state.metrics.user_upserted(created);
    let info = WsInfo {
        id: &user.id,
        name: user.name.as_deref(),
        image: user.image.as_deref(),
    };
    let issued = state.tokens.issue(
        &app_id,
        info,
        user.realtime_name(),
        user.token_generation,
        key_id.as_deref(),
    )?;
    state.metrics.token_issued();
    Ok((issued, user, quota))
}
