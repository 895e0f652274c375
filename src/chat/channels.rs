//! Channels: create, direct pairs, list, read, update, delete.

use super::views::{ChannelView, MemberView, MessageView};
use super::{Access, Ctx, Me, Role, access, access_to, need_user_id};
use crate::db::channels::{self as rows, ChannelRow, NewChannel};
use crate::db::{members as member_rows, messages as message_rows, outbox, users};
use crate::domain::patch_custom;
use crate::error::ApiError;
use crate::ids;
use crate::realtime::{EventType, RealtimeName, chat_channel, personal_channel};
use rusqlite::Connection;
use serde_json::{Map, Value, json};

/// A checked request to create a group channel.
pub struct CreateChannel {
    pub id: Option<String>,
    pub name: Option<String>,
    pub custom: Map<String, Value>,
    pub members: Vec<String>,
}

/// Creates a channel; the acting user becomes its owner. An existing id answers with the
/// channel (created = false) when the caller is already a member, else `channel_exists`.
pub fn create(
    conn: &Connection,
    ctx: &Ctx,
    req: CreateChannel,
) -> Result<(ChannelView, bool), ApiError> {
    let me = ctx.me_for_write(conn)?;
    if let Some(id) = &req.id {
        if let Some(existing) = rows::find(conn, &ctx.app_id, id)? {
            return match access_to(conn, ctx, me, existing) {
                Ok(a) if a.role.is_some() || ctx.backend => Ok((view(conn, &a)?, false)),
                _ => Err(ApiError::ChannelExists),
            };
        }
    }
    let id = req.id.clone().unwrap_or_else(|| ids::new_prefixed_id("ch"));
    let channel = rows::insert(
        conn,
        &NewChannel {
            app_id: &ctx.app_id,
            id: &id,
            kind: "group",
            direct_key: None,
            name: req.name.as_deref(),
            custom: &req.custom,
            created_by: me.as_ref().map(|m| m.pk),
        },
    )?;
    if let Some(me) = &me {
        add_member(conn, &channel, me.realtime_name(), Role::Owner)?;
    }
    for user_id in &req.members {
        let user = users::ensure(conn, &ctx.app_id, user_id)?;
        if me.as_ref().is_none_or(|m| m.pk != user.pk) {
            add_member(conn, &channel, user, Role::Member)?;
        }
    }
    let access = access_to(conn, ctx, me, channel)?;
    Ok((view(conn, &access)?, true))
}

/// The one direct channel between the acting user and `other`, made on first use.
pub fn direct(conn: &Connection, ctx: &Ctx, other: &str) -> Result<(ChannelView, bool), ApiError> {
    let me = ctx.require_me(conn)?;
    if me.id == other {
        return Err(ApiError::InvalidRequest(
            "`userId` must name another user: a direct channel has two members".into(),
        ));
    }
    let other = users::ensure(conn, &ctx.app_id, other)?;
    let key = format!("{}:{}", me.pk.min(other.pk), me.pk.max(other.pk));
    if let Some(existing) = rows::find_direct(conn, &ctx.app_id, &key)? {
        // Leaving a direct channel is allowed; opening it again brings the caller back
        // (else the pair could never talk again: there is only one channel per pair).
        add_member(conn, &existing, me.realtime_name(), Role::Member)?;
        let access = access_to(conn, ctx, Some(me), existing)?;
        return Ok((view(conn, &access)?, false));
    }
    let id = ids::new_prefixed_id("dm");
    let channel = rows::insert(
        conn,
        &NewChannel {
            app_id: &ctx.app_id,
            id: &id,
            kind: "direct",
            direct_key: Some(&key),
            name: None,
            custom: &Map::new(),
            created_by: Some(me.pk),
        },
    )?;
    add_member(conn, &channel, me.realtime_name(), Role::Member)?;
    add_member(conn, &channel, other, Role::Member)?;
    let access = access_to(conn, ctx, Some(me), channel)?;
    Ok((view(conn, &access)?, true))
}

/// Adds one member and announces it on the channel and on the user's personal channel.
/// Returns the new member, or `None` when they already were one.
pub fn add_member(
    conn: &Connection,
    channel: &ChannelRow,
    user: RealtimeName,
    role: Role,
) -> Result<Option<MemberView>, ApiError> {
    if !member_rows::add(conn, channel.pk, user.pk, role.as_str())? {
        return Ok(None);
    }
    let member = member_rows::find(conn, channel.pk, user.pk)?.map(MemberView::from);
    let data = json!({
        "member": &member,
        "channel": ChannelView::new(channel, member_rows::count(conn, channel.pk)?),
    });
    outbox::publish(
        conn,
        &[
            chat_channel(channel.realtime_name()),
            personal_channel(user),
        ],
        EventType::MemberAdded,
        &channel.id,
        channel.last_seq,
        data,
    )?;
    Ok(member)
}

/// Where a channel list page ends: `(activity_at, pk)` of its last channel.
pub type Cursor = (i64, i64);

/// The caller's channels, newest activity first.
pub fn list(
    conn: &Connection,
    ctx: &Ctx,
    cursor: Option<(i64, i64)>,
    limit: usize,
) -> Result<(Vec<ChannelView>, Option<Cursor>), ApiError> {
    if ctx.user_id.is_none() {
        return Err(need_user_id());
    }
    let Some(me) = ctx.me_for_read(conn)? else {
        return Ok((Vec::new(), None));
    };
    let mut page = rows::list_for_user(conn, me.pk, cursor, limit + 1)?;
    let next = if page.len() > limit {
        page.truncate(limit);
        page.last().map(|m| (m.channel.activity_at, m.channel.pk))
    } else {
        None
    };
    let mut out = Vec::with_capacity(page.len());
    for m in page {
        let access = Access {
            role: Role::parse(&m.role),
            read_seq: m.read_seq,
            channel: m.channel,
            me: Some(me.clone()),
        };
        out.push(view(conn, &access)?);
    }
    Ok((out, next))
}

pub fn get(conn: &Connection, ctx: &Ctx, id: &str) -> Result<ChannelView, ApiError> {
    let me = ctx.me_for_read(conn)?;
    view(conn, &access(conn, ctx, me, id)?)
}

/// A checked channel update: `None` leaves a field alone; `custom` is a merge patch.
pub struct UpdateChannel {
    pub name: Option<Option<String>>,
    pub custom: Option<Option<Map<String, Value>>>,
}

pub fn update(
    conn: &Connection,
    ctx: &Ctx,
    id: &str,
    req: UpdateChannel,
) -> Result<ChannelView, ApiError> {
    let me = ctx.me_for_write(conn)?;
    let a = access(conn, ctx, me, id)?;
    a.require(ctx, &[Role::Owner, Role::Admin], "change it")?;
    let name = match req.name {
        Some(n) => n,
        None => a.channel.name.clone(),
    };
    let mut custom = a.channel.custom.clone();
    patch_custom(&mut custom, &req.custom)?;
    rows::update(conn, a.channel.pk, name.as_deref(), &custom)?;
    let channel =
        rows::find_by_pk(conn, &ctx.app_id, a.channel.pk)?.ok_or(ApiError::ChannelNotFound)?;
    let count = member_rows::count(conn, channel.pk)?;
    outbox::publish(
        conn,
        &[chat_channel(channel.realtime_name())],
        EventType::ChannelUpdated,
        &channel.id,
        channel.last_seq,
        serde_json::to_value(ChannelView::new(&channel, count)).unwrap_or_default(),
    )?;
    let access = Access { channel, ..a };
    view(conn, &access)
}

/// Deletes a channel (owner only): every member hears it on their personal channel,
/// then loses the subscription.
pub fn delete(conn: &Connection, ctx: &Ctx, id: &str) -> Result<(), ApiError> {
    let me = ctx.me_for_write(conn)?;
    let a = access(conn, ctx, me, id)?;
    a.require(ctx, &[Role::Owner], "delete it")?;
    let members = member_rows::all(conn, a.channel.pk)?;
    let chat = chat_channel(a.channel.realtime_name());
    let mut targets = vec![chat.clone()];
    targets.extend(members.iter().map(|m| personal_channel(m.realtime_name())));
    outbox::publish(
        conn,
        &targets,
        EventType::ChannelDeleted,
        &a.channel.id,
        a.channel.last_seq,
        json!({"id": a.channel.id}),
    )?;
    for m in &members {
        outbox::unsubscribe(conn, &chat, &ctx.centrifugo_user(&m.user_id))?;
    }
    outbox::history_remove(conn, &chat)?;
    rows::delete(conn, &a.channel)?;
    Ok(())
}

/// The channel as the caller sees it: role, unread count and last message.
pub fn view(conn: &Connection, a: &Access) -> Result<ChannelView, ApiError> {
    let mut v = ChannelView::new(&a.channel, member_rows::count(conn, a.channel.pk)?);
    v.role = a.role.map(|r| r.as_str().to_string());
    if let (Some(me), Some(_)) = (&a.me, a.role) {
        v.unread_count = Some(member_rows::unread_count(
            conn,
            a.channel.pk,
            me.pk,
            a.read_seq,
            super::MAX_UNREAD_COUNT,
        )?);
    }
    if a.channel.last_seq > 0 {
        if let Some(m) = message_rows::by_seq(conn, a.channel.pk, a.channel.last_seq)? {
            let reactions =
                message_rows::reactions(conn, m.pk, a.me.as_ref().map(|me: &Me| me.pk))?;
            v.last_message = Some(MessageView::new(m, &a.channel.id, reactions));
        }
    }
    Ok(v)
}

/// The realtime name of channel `id`, once the acting user is found a member (see
/// `member_realtime_name`).
pub fn member_channel_name(
    conn: &Connection,
    ctx: &Ctx,
    id: &str,
) -> Result<RealtimeName, ApiError> {
    member_realtime_name(conn, ctx, rows::find(conn, &ctx.app_id, id)?)
}

/// Requires the acting user to be a member of the channel whose current realtime name
/// is `name`. A name whose pk now belongs to another channel (a restore from backup
/// handed the pk out again) differs in its key, and is a channel not found.
pub fn require_member_of_name(
    conn: &Connection,
    ctx: &Ctx,
    name: RealtimeName,
) -> Result<(), ApiError> {
    let found =
        rows::find_by_pk(conn, &ctx.app_id, name.pk)?.filter(|row| row.realtime_name() == name);
    member_realtime_name(conn, ctx, found).map(|_| ())
}

/// The realtime name of the channel `found`, once the acting user is found a member.
/// Tokens are for members only, whoever asks for them: a backend's key acts here as the
/// user it names, with no more rights than that user.
fn member_realtime_name(
    conn: &Connection,
    ctx: &Ctx,
    found: Option<ChannelRow>,
) -> Result<RealtimeName, ApiError> {
    let row = found.ok_or(ApiError::ChannelNotFound)?;
    let me = ctx.me_for_read(conn)?;
    let as_member = Ctx {
        backend: false,
        ..ctx.clone()
    };
    Ok(access_to(conn, &as_member, me, row)?
        .channel
        .realtime_name())
}
