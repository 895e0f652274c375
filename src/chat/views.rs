//! The JSON shapes of chat objects, shared by REST answers and realtime events.

use crate::db::channels::ChannelRow;
use crate::db::members::MemberRow;
use crate::db::messages::{MessageRow, Reactions};
use crate::db::users::User;
use crate::realtime::chat_channel;
use crate::timefmt::rfc3339_millis;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A user as the app and the user themself see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    #[schema(required = true)]
    pub name: Option<String>,
    #[schema(required = true)]
    pub image: Option<String>,
    #[schema(required = true)]
    pub email: Option<String>,
    pub custom: Map<String, Value>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            name: u.name,
            image: u.image,
            email: u.email,
            custom: u.custom,
        }
    }
}

/// A user as other users see them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicUser {
    /// `null` only for a deleted user.
    #[schema(required = true)]
    pub id: Option<String>,
    #[schema(required = true)]
    pub name: Option<String>,
    #[schema(required = true)]
    pub image: Option<String>,
    /// Present, and true, only for a deleted user.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// Reactions on a message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReactionsView {
    /// Reactions per emoji.
    pub counts: BTreeMap<String, i64>,
    /// The caller's own; empty in realtime events, which go to everyone.
    pub own: Vec<String>,
}

/// A message.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub id: String,
    pub channel_id: String,
    /// Position in the channel: 1, 2, 3 … with no gaps.
    pub seq: i64,
    /// `null` for a system message sent by the app's backend.
    #[schema(required = true)]
    pub user: Option<PublicUser>,
    /// `null` once deleted.
    #[schema(required = true)]
    pub text: Option<String>,
    pub custom: Map<String, Value>,
    #[schema(required = true)]
    pub parent_id: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(required = true, format = DateTime)]
    pub edited_at: Option<String>,
    #[schema(required = true, format = DateTime)]
    pub deleted_at: Option<String>,
    pub reactions: ReactionsView,
}

impl MessageView {
    pub fn new(m: MessageRow, channel_id: &str, reactions: Reactions) -> MessageView {
        MessageView {
            id: m.id,
            channel_id: channel_id.to_string(),
            seq: m.seq,
            user: m.author.map(|a| PublicUser {
                deleted: a.deleted,
                id: (!a.deleted).then_some(a.id),
                name: a.name,
                image: a.image,
            }),
            text: m.text,
            custom: m.custom,
            parent_id: m.parent_id,
            created_at: rfc3339_millis(m.created_at),
            edited_at: m.edited_at.map(rfc3339_millis),
            deleted_at: m.deleted_at.map(rfc3339_millis),
            reactions: ReactionsView {
                counts: reactions.counts,
                own: reactions.own,
            },
        }
    }
}

/// A channel, as the caller sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelView {
    pub id: String,
    /// The Centrifugo channel to subscribe to (with a subscription token).
    pub realtime_channel: String,
    /// `group` or `direct`.
    #[serde(rename = "type")]
    #[schema(examples("group", "direct"))]
    pub kind: String,
    #[schema(required = true)]
    pub name: Option<String>,
    pub custom: Map<String, Value>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// `seq` of the newest message; 0 before the first.
    pub last_seq: i64,
    pub member_count: i64,
    /// The caller's role (`owner`, `admin`, `member`); `null` for the app's backend acting
    /// as nobody, and in events.
    #[schema(required = true)]
    pub role: Option<String>,
    /// Messages by others after the caller's read mark, counted up to 1000 (1000 means
    /// "1000 or more"); `null` where there is no caller.
    #[schema(required = true, maximum = 1000)]
    pub unread_count: Option<i64>,
    #[schema(required = true)]
    pub last_message: Option<MessageView>,
}

impl ChannelView {
    pub fn new(c: &ChannelRow, member_count: i64) -> ChannelView {
        ChannelView {
            id: c.id.clone(),
            realtime_channel: chat_channel(c.realtime_name()),
            kind: c.kind.clone(),
            name: c.name.clone(),
            custom: c.custom.clone(),
            created_at: rfc3339_millis(c.created_at),
            updated_at: rfc3339_millis(c.updated_at),
            last_seq: c.last_seq,
            member_count,
            role: None,
            unread_count: None,
            last_message: None,
        }
    }
}

/// A member of a channel.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    pub user: PublicUser,
    /// `owner`, `admin` or `member`.
    pub role: String,
    /// The member's read mark: the last `seq` they have read.
    pub read_seq: i64,
    #[schema(format = DateTime)]
    pub joined_at: String,
}

impl From<MemberRow> for MemberView {
    fn from(m: MemberRow) -> Self {
        MemberView {
            user: PublicUser {
                id: Some(m.user_id),
                name: m.name,
                image: m.image,
                deleted: false,
            },
            role: m.role,
            read_seq: m.read_seq,
            joined_at: rfc3339_millis(m.joined_at),
        }
    }
}
