//! The error body's schema and the error responses of each kind of route, built from
//! `ApiError::ALL_CODES` so the spec cannot name a code the service does not produce.

use crate::error::ApiError;
use std::borrow::Cow;
use std::collections::BTreeMap;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{ContentBuilder, RefOr, Response, ResponseBuilder};
use utoipa::{IntoResponses, PartialSchema, ToSchema};

/// `{"error":{"code","message"}}`: the body of every error answer.
pub struct ErrorBody;

impl PartialSchema for ErrorBody {
    fn schema() -> RefOr<Schema> {
        let codes: Vec<&str> = ApiError::ALL_CODES.iter().map(|(c, _)| *c).collect();
        let detail = ObjectBuilder::new()
            .property(
                "code",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(codes))
                    .description(Some("Stable, machine-readable: branch on this.")),
            )
            .required("code")
            .property(
                "message",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("For humans: what was wrong and how to fix it.")),
            )
            .required("message");
        ObjectBuilder::new()
            .property("error", detail)
            .required("error")
            .examples([serde_json::json!({"error": {
                "code": "channel_not_found",
                "message": "channel not found",
            }})])
            .into()
    }
}

impl ToSchema for ErrorBody {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Error")
    }
}

/// Answers every route may give: oversized headers, and the opaque 500.
const EVERYWHERE: &[&str] = &["headers_too_large", "internal"];
/// `X-API-Key` authentication (`/tokens`).
const KEY_AUTH: &[&str] = &["missing_api_key", "invalid_api_key", "rate_limited"];
/// Bearer token or API key authentication (`/api`), and the `userId` rules.
const API_AUTH: &[&str] = &[
    "invalid_request",
    "ambiguous_credentials",
    "missing_token",
    "invalid_token",
    "token_expired",
    "token_revoked",
    "missing_api_key",
    "invalid_api_key",
    "rate_limited",
];
/// A JSON request body.
const BODY: &[&str] = &[
    "invalid_json",
    "invalid_request",
    "payload_too_large",
    "request_timeout",
    "unsupported_media_type",
];
/// A channel named in the path, visible to members (and the app's backend) only.
const CHANNEL: &[&str] = &["channel_not_found", "forbidden"];
/// A message of that channel.
const MESSAGE: &[&str] = &["message_not_found", "message_deleted"];

/// Error responses for `codes`, one per status, each listing its codes.
pub fn error_responses(sets: &[&[&str]]) -> BTreeMap<String, RefOr<Response>> {
    let mut by_status: BTreeMap<u16, Vec<&str>> = BTreeMap::new();
    for code in sets.iter().chain([&EVERYWHERE]).flat_map(|s| s.iter()) {
        let Some((_, status)) = ApiError::ALL_CODES.iter().find(|(c, _)| c == code) else {
            panic!("`{code}` is not in ApiError::ALL_CODES");
        };
        let codes = by_status.entry(status.as_u16()).or_default();
        if !codes.contains(code) {
            codes.push(code);
        }
    }
    by_status
        .into_iter()
        .map(|(status, codes)| {
            let list: Vec<String> = codes.iter().map(|c| format!("`{c}`")).collect();
            let response = ResponseBuilder::new()
                .description(format!("Error codes: {}.", list.join(", ")))
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                            ErrorBody::name(),
                        ))))
                        .build(),
                )
                .build();
            (status.to_string(), RefOr::T(response))
        })
        .collect()
}

/// Declares a set of error responses for `responses(...)` of `#[utoipa::path]`.
macro_rules! error_set {
    ($(#[$doc:meta])* $name:ident = $($codes:expr),+) => {
        $(#[$doc])*
        pub struct $name;
        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                error_responses(&[$($codes),+])
            }
        }
    };
}

error_set!(
    /// Routes without authentication.
    PublicErrors = &[]
);
error_set!(
    /// `/ready`: a dependency does not answer.
    ReadyErrors = &["not_ready"]
);
error_set!(
    /// `POST /tokens`.
    TokenErrors = KEY_AUTH,
    BODY
);
error_set!(
    /// `/api` routes without a body or a channel.
    ApiErrors = API_AUTH
);
error_set!(
    /// `/api` routes on a user (`/api/me`, `/api/users/{userId}`).
    UserErrors = API_AUTH,
    &["not_found", "forbidden"]
);
error_set!(
    /// `/api` routes with a JSON body and no channel in the path.
    ApiBodyErrors = API_AUTH,
    BODY
);
error_set!(
    /// `POST /api/channels`.
    CreateChannelErrors = API_AUTH,
    BODY,
    &["channel_exists", "forbidden"]
);
error_set!(
    /// `POST /api/subscription-token`.
    SubTokenErrors = API_AUTH,
    BODY,
    CHANNEL
);
error_set!(
    /// `/api/channels/{id}…` without a body.
    ChannelErrors = API_AUTH,
    CHANNEL
);
error_set!(
    /// `/api/channels/{id}…` with a JSON body.
    ChannelBodyErrors = API_AUTH,
    BODY,
    CHANNEL
);
error_set!(
    /// `DELETE /api/channels/{id}/members/{userId}`.
    MemberErrors = API_AUTH,
    CHANNEL,
    &["not_found"]
);
error_set!(
    /// `/api/channels/{id}/messages/{msgId}…` without a body.
    MessageErrors = API_AUTH,
    CHANNEL,
    MESSAGE
);
error_set!(
    /// `PUT /api/channels/{id}/messages/{msgId}/reactions/{emoji}`.
    AddReactionErrors = API_AUTH,
    CHANNEL,
    MESSAGE,
    &["too_many_reactions"]
);
error_set!(
    /// `PATCH /api/channels/{id}/messages/{msgId}`.
    MessageBodyErrors = API_AUTH,
    BODY,
    CHANNEL,
    MESSAGE
);
