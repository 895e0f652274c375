//! Messages: send, page, edit, delete; reactions; read marks; typing.

use super::views::MessageView;
use super::{Access, Ctx, MAX_REACTION_KINDS, Role, access};
use crate::db::messages::{self as rows, MessageRow, NewMessage, PageFrom};
use crate::db::{channels as channel_rows, members as member_rows, now_ms, outbox};
use crate::domain::patch_custom;
use crate::error::ApiError;
use crate::ids;
use crate::realtime::{EventType, chat_channel};
use rusqlite::Connection;
use serde_json::{Map, Value, json};

/// A checked message to send.
pub struct SendMessage {
    pub text: String,
    pub client_msg_id: Option<String>,
    pub custom: Map<String, Value>,
    pub parent_id: Option<String>,
}

/// Sends a message. A repeat of the same `clientMsgId` by the same sender returns the
/// first message (created = false) and changes nothing.
pub fn send(
    conn: &Connection,
    ctx: &Ctx,
    channel_id: &str,
    req: SendMessage,
) -> Result<(MessageView, bool), ApiError> {
    let me = ctx.me_for_write(conn)?;
    let a = access(conn, ctx, me, channel_id)?;
    let sender = a.me.as_ref().map(|m| m.pk);
    if let Some(cid) = &req.client_msg_id {
        if let Some(first) = rows::find_by_client_id(conn, a.channel.pk, sender, cid)? {
            return Ok((view(conn, &a, first)?, false));
        }
    }
    if let Some(parent) = &req.parent_id {
        if rows::find(conn, a.channel.pk, parent)?.is_none() {
            return Err(ApiError::InvalidRequest(
                "`parentId` must name a message of this channel".into(),
            ));
        }
    }
    let now = now_ms();
    let seq = channel_rows::next_seq(conn, a.channel.pk, now)?;
    let id = ids::new_time_ordered_id("msg", now);
    let row = rows::insert(
        conn,
        &NewMessage {
            id: &id,
            channel_pk: a.channel.pk,
            seq,
            user_pk: sender,
            text: &req.text,
            custom: &req.custom,
            parent_id: req.parent_id.as_deref(),
            client_msg_id: req.client_msg_id.as_deref(),
            created_at: now,
        },
    )?;
    // Your own message is read by you.
    if let (Some(pk), Some(_)) = (sender, a.role) {
        member_rows::mark_read(conn, a.channel.pk, pk, seq, seq)?;
    }
    let message = view(conn, &a, row)?;
    emit(conn, &a, EventType::MessageNew, seq, &message)?;
    Ok((message, true))
}

pub fn page(
    conn: &Connection,
    ctx: &Ctx,
    channel_id: &str,
    from: PageFrom,
    limit: usize,
) -> Result<(Vec<MessageView>, bool), ApiError> {
    let me = ctx.me_for_read(conn)?;
    let a = access(conn, ctx, me, channel_id)?;
    let (rows, has_more) = rows::page(conn, a.channel.pk, from, limit)?;
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Ok((Vec::new(), has_more));
    };
    let viewer = a.me.as_ref().map(|m| m.pk);
    let mut reactions = rows::reactions_between(conn, a.channel.pk, first.seq, last.seq, viewer)?;
    let out = rows
        .into_iter()
        .map(|row| {
            let r = reactions.remove(&row.pk).unwrap_or_default();
            MessageView::new(row, &a.channel.id, r)
        })
        .collect();
    Ok((out, has_more))
}

/// A checked edit: new text and/or a merge patch for `custom`.
pub struct EditMessage {
    pub text: Option<String>,
    pub custom: Option<Option<Map<String, Value>>>,
}

pub fn edit(
    conn: &Connection,
    ctx: &Ctx,
    channel_id: &str,
    message_id: &str,
    req: EditMessage,
) -> Result<MessageView, ApiError> {
    let me = ctx.me_for_write(conn)?;
    let a = access(conn, ctx, me, channel_id)?;
    let row = rows::find(conn, a.channel.pk, message_id)?.ok_or(ApiError::MessageNotFound)?;
    if !ctx.backend && !is_author(&a, &row) {
        return Err(ApiError::Forbidden(
            "only the author may edit a message".into(),
        ));
    }
    if row.deleted_at.is_some() {
        return Err(ApiError::MessageDeleted);
    }
    let text = req
        .text
        .unwrap_or_else(|| row.text.clone().unwrap_or_default());
    let mut custom = row.custom.clone();
    patch_custom(&mut custom, &req.custom)?;
    rows::update_content(conn, row.pk, &text, &custom, now_ms())?;
    let updated = rows::by_pk(conn, row.pk)?.ok_or(ApiError::MessageNotFound)?;
    let message = view(conn, &a, updated)?;
    emit(
        conn,
        &a,
        EventType::MessageUpdated,
        a.channel.last_seq,
        &message,
    )?;
    Ok(message)
}

/// Soft-deletes a message (author, owner or admin). Deleting twice changes nothing more.
pub fn delete(
    conn: &Connection,
    ctx: &Ctx,
    channel_id: &str,
    message_id: &str,
) -> Result<MessageView, ApiError> {
    let me = ctx.me_for_write(conn)?;
    let a = access(conn, ctx, me, channel_id)?;
    let row = rows::find(conn, a.channel.pk, message_id)?.ok_or(ApiError::MessageNotFound)?;
    if !is_author(&a, &row) {
        a.require(ctx, &[Role::Owner, Role::Admin], "delete others' messages")?;
    }
    if row.deleted_at.is_some() {
        return view(conn, &a, row);
    }
    rows::soft_delete(conn, row.pk, now_ms())?;
    let deleted = rows::by_pk(conn, row.pk)?.ok_or(ApiError::MessageNotFound)?;
    let message = view(conn, &a, deleted)?;
    emit(
        conn,
        &a,
        EventType::MessageDeleted,
        a.channel.last_seq,
        &message,
    )?;
    Ok(message)
}

/// Adds (`add`) or removes the acting user's reaction; idempotent, and only a change
/// emits an event.
pub fn react(
    conn: &Connection,
    ctx: &Ctx,
    channel_id: &str,
    message_id: &str,
    emoji: &str,
    add: bool,
) -> Result<MessageView, ApiError> {
    let me = ctx.require_me(conn)?;
    let a = access(conn, ctx, Some(me.clone()), channel_id)?;
    let row = rows::find(conn, a.channel.pk, message_id)?.ok_or(ApiError::MessageNotFound)?;
    if row.deleted_at.is_some() {
        return Err(ApiError::MessageDeleted);
    }
    let changed = if add {
        let (kinds, has_it) = rows::reaction_kinds(conn, row.pk, emoji)?;
        if !has_it && kinds >= MAX_REACTION_KINDS {
            return Err(ApiError::TooManyReactions(MAX_REACTION_KINDS));
        }
        rows::add_reaction(conn, row.pk, me.pk, emoji, now_ms())?
    } else {
        rows::remove_reaction(conn, row.pk, me.pk, emoji)?
    };
    let message = view(conn, &a, row)?;
    if changed {
        let kind = if add {
            EventType::ReactionAdded
        } else {
            EventType::ReactionRemoved
        };
        let mut public = message.clone();
        public.reactions.own.clear();
        let data =
            json!({"messageId": message.id, "emoji": emoji, "userId": me.id, "message": public});
        outbox::publish(
            conn,
            &[chat_channel(a.channel.realtime_name())],
            kind,
            &a.channel.id,
            a.channel.last_seq,
            data,
        )?;
    }
    Ok(message)
}

/// Moves the acting user's read mark forward to `seq`; returns the mark.
pub fn mark_read(
    conn: &Connection,
    ctx: &Ctx,
    channel_id: &str,
    seq: i64,
) -> Result<i64, ApiError> {
    let me = ctx.require_me(conn)?;
    let a = access(conn, ctx, Some(me.clone()), channel_id)?;
    if a.role.is_none() {
        return Err(ApiError::Forbidden("only a member has a read mark".into()));
    }
    let mark = member_rows::mark_read(conn, a.channel.pk, me.pk, seq, a.channel.last_seq)?;
    if mark != a.read_seq {
        outbox::publish(
            conn,
            &[chat_channel(a.channel.realtime_name())],
            EventType::ReadUpdated,
            &a.channel.id,
            a.channel.last_seq,
            json!({"userId": me.id, "seq": mark}),
        )?;
    }
    Ok(mark)
}

/// Checks that the acting user may type here; returns the realtime channel and the event.
pub fn typing(conn: &Connection, ctx: &Ctx, channel_id: &str) -> Result<(String, Value), ApiError> {
    let me = match ctx.me_for_read(conn)? {
        Some(me) => me,
        None if ctx.user_id.is_some() => {
            return Err(ApiError::InvalidRequest(
                "`userId` names no user of this app".into(),
            ));
        }
        None => return Err(super::need_user_id()),
    };
    let a = access(conn, ctx, Some(me), channel_id)?;
    let user = crate::db::users::find(
        conn,
        &ctx.app_id,
        ctx.user_id.as_deref().unwrap_or_default(),
    )?;
    let data = json!({
        "user": user.map(|u| json!({"id": u.id, "name": u.name, "image": u.image})),
    });
    let envelope = crate::realtime::Envelope {
        kind: EventType::Typing,
        event_id: &ids::new_prefixed_id("evt"),
        channel_id: &a.channel.id,
        seq: a.channel.last_seq,
        data,
    };
    Ok((
        chat_channel(a.channel.realtime_name()),
        serde_json::to_value(&envelope).unwrap_or_default(),
    ))
}

fn is_author(a: &Access, row: &MessageRow) -> bool {
    matches!((&a.me, &row.author), (Some(me), Some(author)) if me.pk == author.pk)
}

fn view(conn: &Connection, a: &Access, row: MessageRow) -> Result<MessageView, ApiError> {
    let reactions = rows::reactions(conn, row.pk, a.me.as_ref().map(|m| m.pk))?;
    Ok(MessageView::new(row, &a.channel.id, reactions))
}

/// Queues a message event on the chat channel; `own` reactions are nobody's there.
fn emit(
    conn: &Connection,
    a: &Access,
    kind: EventType,
    seq: i64,
    message: &MessageView,
) -> Result<(), ApiError> {
    let mut public = message.clone();
    public.reactions.own.clear();
    let data = serde_json::to_value(&public).unwrap_or_default();
    outbox::publish(
        conn,
        &[chat_channel(a.channel.realtime_name())],
        kind,
        &a.channel.id,
        seq,
        data,
    )?;
    Ok(())
}
