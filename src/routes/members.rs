//! `/api/channels/{id}/members`.

use crate::chat::views::MemberView;
use crate::chat::{DEFAULT_MEMBER_PAGE, MAX_MEMBER_PAGE, members as chat};
use crate::domain::{UserId, parse_role, parse_user_ids};
use crate::error::ApiError;
use crate::openapi::errors::{ChannelBodyErrors, ChannelErrors, MemberErrors};
use crate::openapi::{ActingUser, ChannelId};
use crate::routes::auth::Caller;
use crate::routes::json::ApiJson;
use crate::routes::query::{ApiQuery, PageQuery, decode_cursor, encode_cursor, page_limit};
use crate::routes::{AppState, read_as_caller, write_as_caller};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A page of a channel's members.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberList {
    members: Vec<MemberView>,
    /// Pass as `?cursor=` for the next page; `null` on the last.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// The members an add call added (users already in the channel are not listed).
#[derive(Serialize, ToSchema)]
pub struct AddedMembers {
    added: Vec<MemberView>,
}

/// List members
///
/// In the order they joined, a page at a time.
#[utoipa::path(
    get,
    path = "/api/channels/{id}/members",
    tag = "members",
    security(("bearer" = []), ("api_key" = [])),
    params(
        ChannelId,
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000,
         description = "Page size, 1–1000 (default 100)."),
        ("cursor" = Option<String>, Query, description = "`nextCursor` of the previous page."),
        ActingUser,
    ),
    responses(
        (status = 200, description = "A page of members.", body = MemberList),
        ChannelErrors,
    )
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: ApiQuery<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let limit = page_limit(q.limit, DEFAULT_MEMBER_PAGE, MAX_MEMBER_PAGE)?;
    let cursor = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let id = path.into_inner();
    let ctx = caller.ctx_reading_query(None)?;
    let (members, next) = read_as_caller(&state, ctx, move |c, ctx| {
        chat::list(c, ctx, &id, cursor, limit)
    })
    .await?;
    Ok(HttpResponse::Ok().json(MemberList {
        members,
        next_cursor: next.map(encode_cursor),
    }))
}

/// Users to add to a channel.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AddBody {
    /// 1 to 100 user ids; unknown users are created bare.
    #[schema(min_items = 1, max_items = 100)]
    user_ids: Vec<String>,
    /// `member` (default), `admin` or `owner` (owners only grant the last two).
    #[schema(examples("member"))]
    role: Option<String>,
    /// With X-API-Key: the user to act as.
    user_id: Option<String>,
}

/// Add members
///
/// Owners and admins only; not in direct channels.
#[utoipa::path(
    post,
    path = "/api/channels/{id}/members",
    tag = "members",
    security(("bearer" = []), ("api_key" = [])),
    params(ChannelId, ActingUser),
    request_body(content = AddBody, example = json!({"userIds": ["u-7", "u-9"]})),
    responses(
        (status = 200, description = "The members added now.", body = AddedMembers),
        ChannelBodyErrors,
    )
)]
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
    let role = parse_role(b.role.as_deref())?;
    let id = path.into_inner();
    let ctx = caller.ctx(b.user_id)?;
    let added = write_as_caller(&state, ctx, move |c, ctx| {
        chat::add(c, ctx, &id, &user_ids, role)
    })
    .await?;
    Ok(HttpResponse::Ok().json(AddedMembers { added }))
}

/// Remove a member
///
/// Removing yourself is leaving. With X-API-Key the acting user (if any) is `?userId=`.
#[utoipa::path(
    delete,
    path = "/api/channels/{id}/members/{userId}",
    tag = "members",
    security(("bearer" = []), ("api_key" = [])),
    params(
        ChannelId,
        ("userId" = String, Path, description = "The member to remove.", example = "u-7"),
    ),
    responses(
        (status = 204, description = "Removed."),
        MemberErrors,
    )
)]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, user_id) = path.into_inner();
    let user_id = UserId::parse("userId", user_id)?;
    let ctx = caller.ctx(None)?;
    write_as_caller(&state, ctx, move |c, ctx| {
        chat::remove(c, ctx, &id, user_id.as_str())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
