//! `POST /tokens`: a customer's backend gets both tokens for one of its users.

use crate::auth::api_key::PresentedKey;
use crate::auth::issue::{self, Requester};
use crate::auth::tokens::IssuedTokens;
use crate::chat::views::UserView;
use crate::db::users::{User, UserPatch};
use crate::domain::{
    MAX_EMAIL_CHARS, MAX_IMAGE_CHARS, MAX_NAME_CHARS, UserId, check_custom, check_text,
};
use crate::error::ApiError;
use crate::ratelimit::{self, RateLimits};
use crate::routes::AppState;
use crate::routes::json::{ApiJson, present};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Request body. Absent fields keep their stored value; `null` clears it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TokenRequest {
    /// Your user's id: 1–255 characters, no control characters, not `.` or `..`.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$",
        examples("u-42")
    )]
    pub user_id: String,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 255, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    pub name: Option<Option<String>>,
    /// Avatar URL.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 2048, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    pub image: Option<Option<String>>,
    /// Private: only the user and the app's backend see it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 320, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    pub email: Option<Option<String>>,
    /// Private data of yours, at most 8 KiB serialized.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub custom: Option<Option<Map<String, Value>>>,
}

impl TokenRequest {
    /// Checks every field and turns the body into a user id and a patch.
    pub fn parse(self) -> Result<(UserId, UserPatch), ApiError> {
        let user_id = UserId::parse("userId", self.user_id)?;
        let text = |field: &str, v: &Option<Option<String>>, max: usize| match v {
            Some(Some(s)) => check_text(field, s, 0, max),
            _ => Ok(()),
        };
        text("name", &self.name, MAX_NAME_CHARS)?;
        text("image", &self.image, MAX_IMAGE_CHARS)?;
        text("email", &self.email, MAX_EMAIL_CHARS)?;
        if let Some(Some(custom)) = &self.custom {
            check_custom(custom)?;
        }
        Ok((
            user_id,
            UserPatch {
                name: self.name,
                image: self.image,
                email: self.email,
                custom: self.custom,
            },
        ))
    }
}

/// Both tokens of a user, as `POST /tokens` answers.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    /// REST token: `Authorization: Bearer <token>` on `/api`.
    token: String,
    /// Centrifugo connection token, for the WebSocket.
    ws_token: String,
    user: UserView,
    /// Lifetime of `token`, in seconds.
    expires_in: u64,
    /// Lifetime of `wsToken`, in seconds.
    ws_expires_in: u64,
}

impl TokenResponse {
    /// The answer for `user`'s freshly issued tokens.
    pub fn new(issued: IssuedTokens, user: User) -> Self {
        Self {
            token: issued.token,
            ws_token: issued.ws_token,
            user: user.into(),
            expires_in: issued.expires_in,
            ws_expires_in: issued.ws_expires_in,
        }
    }
}

/// Issue tokens for a user
///
/// Creates the user on first use, updates the given profile fields, and returns a REST
/// token and a Centrifugo connection token. Call it from your backend, never a browser.
#[utoipa::path(
    post,
    path = "/tokens",
    tag = "tokens",
    security(("api_key" = [])),
    request_body(content = TokenRequest, example = json!({
        "userId": "u-42",
        "name": "Ada",
        "image": "https://example.com/ada.png",
        "custom": {"plan": "pro"},
    })),
    responses(
        (status = 200, description = "Tokens issued; the user was created or updated.",
         body = TokenResponse, example = json!({
            "token": "eyJhbGciOiJIUzI1NiIsImtpZCI6InIxIn0.eyJzdWIiOiJ1LTQyIn0.c2ln",
            "wsToken": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1LTQyIn0.c2ln",
            "user": {"id": "u-42", "name": "Ada", "image": "https://example.com/ada.png",
                     "email": null, "custom": {"plan": "pro"}},
            "expiresIn": 86400,
            "wsExpiresIn": 900,
        })),
        crate::openapi::errors::TokenErrors,
    )
)]
pub async fn issue_tokens(
    req: HttpRequest,
    state: web::Data<AppState>,
    limits: web::Data<RateLimits>,
    key: PresentedKey,
    body: Result<ApiJson<TokenRequest>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let parsed = body.and_then(|b| b.0.parse());
    let result = match parsed {
        Ok((user_id, patch)) => {
            issue::issue_for(
                &state,
                Requester::Key {
                    key,
                    limits: limits.clone(),
                },
                user_id,
                patch,
            )
            .await
        }
        // A 401 wins over a 400: the key is checked before the body's error is told.
        Err(body_error) => issue::check_key_alone(&state, &limits, key)
            .await
            .and(Err(body_error)),
    };
    match result {
        Ok((issued, user, quota)) => {
            let mut res = HttpResponse::Ok().json(TokenResponse::new(issued, user));
            if let Some(quota) = quota {
                ratelimit::set_headers(res.headers_mut(), &quota);
            }
            Ok(res)
        }
        Err(e) => Err(limits.failed_auth(&req, e)),
    }
}
