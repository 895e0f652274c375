//! Channel members: list, add, remove (and leave).

use super::channels::add_member;
use super::views::MemberView;
use super::{Ctx, Role, access};
use crate::db::channels::ChannelRow;
use crate::db::{members as rows, outbox, users};
use crate::error::ApiError;
use crate::realtime::{EventType, RealtimeName, chat_channel, personal_channel};
use rusqlite::Connection;
use serde_json::json;

/// `(joined_at, user_pk)` of the last member of a page: where the next one starts.
pub type Cursor = (i64, i64);

/// A page of members in join order, and the cursor of the next page if there is one.
pub fn list(
    conn: &Connection,
    ctx: &Ctx,
    channel_id: &str,
    after: Option<Cursor>,
    limit: usize,
) -> Result<(Vec<MemberView>, Option<Cursor>), ApiError> {
    let me = ctx.me_for_read(conn)?;
    let a = access(conn, ctx, me, channel_id)?;
    let mut page = rows::page(conn, a.channel.pk, after, limit + 1)?;
    let next = if page.len() > limit {
        page.truncate(limit);
        page.last().map(|m| (m.joined_at, m.user_pk))
    } else {
        None
    };
    Ok((page.into_iter().map(MemberView::from).collect(), next))
}

/// Adds users (owner/admin); granting `admin` or `owner` takes an owner. Users already in
/// the channel keep their role. Returns the members added now.
pub fn add(
    conn: &Connection,
    ctx: &Ctx,
    channel_id: &str,
    user_ids: &[String],
    role: Role,
) -> Result<Vec<MemberView>, ApiError> {
    let me = ctx.me_for_write(conn)?;
    let a = access(conn, ctx, me, channel_id)?;
    a.require(ctx, &[Role::Owner, Role::Admin], "add members")?;
    if role != Role::Member {
        a.require(
            ctx,
            &[Role::Owner],
            &format!("add members as {}", role.as_str()),
        )?;
    }
    if a.channel.kind == "direct" {
        return Err(ApiError::Forbidden(
            "a direct channel keeps its two members".into(),
        ));
    }
    let mut added = Vec::new();
    for user_id in user_ids {
        let user = users::ensure(conn, &ctx.app_id, user_id)?;
        added.extend(add_member(conn, &a.channel, user, role)?);
    }
    Ok(added)
}

/// Removes a member: yourself (leave), or anyone below you for an owner or admin.
/// Their live subscription ends at once (Centrifugo unsubscribe through the outbox).
pub fn remove(
    conn: &Connection,
    ctx: &Ctx,
    channel_id: &str,
    user_id: &str,
) -> Result<(), ApiError> {
    let me = ctx.me_for_write(conn)?;
    let a = access(conn, ctx, me, channel_id)?;
    let target = match users::find_realtime_name(conn, &ctx.app_id, user_id)? {
        Some(user) => rows::membership(conn, a.channel.pk, user.pk)?
            .map(|(role, _)| (user, Role::parse(&role))),
        None => None,
    };
    let Some((target, target_role)) = target else {
        return Err(ApiError::NotFound("member".into()));
    };
    let is_self = a.me.as_ref().is_some_and(|m| m.pk == target.pk);
    if !is_self {
        a.require(ctx, &[Role::Owner, Role::Admin], "remove other members")?;
        if !ctx.backend && a.role == Some(Role::Admin) && target_role == Some(Role::Owner) {
            return Err(ApiError::Forbidden(
                "an admin may not remove an owner".into(),
            ));
        }
    }
    drop_member(conn, ctx, &a.channel, target, user_id)
}

/// Removes a membership, tells the channel and the user, and ends the user's live
/// subscription (Centrifugo unsubscribe, through the outbox).
pub fn drop_member(
    conn: &Connection,
    ctx: &Ctx,
    channel: &ChannelRow,
    user: RealtimeName,
    user_id: &str,
) -> Result<(), ApiError> {
    rows::remove(conn, channel.pk, user.pk)?;
    let chat = chat_channel(channel.realtime_name());
    outbox::publish(
        conn,
        &[chat.clone(), personal_channel(user)],
        EventType::MemberRemoved,
        &channel.id,
        channel.last_seq,
        json!({"userId": user_id}),
    )?;
    outbox::unsubscribe(conn, &chat, &ctx.centrifugo_user(user_id))?;
    Ok(())
}
