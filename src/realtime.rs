//! Centrifugo channel names and the realtime event envelope.
//!
//! Names are built from ASCII surrogate keys (row pks), never from caller-chosen ids:
//! Centrifugo channel names must be ASCII and at most 255 bytes, and pks are unique
//! across apps, so two apps can never share a channel.

use serde::Serialize;
use serde_json::Value;

/// Namespace of chat channels (history, recovery, subscribe only with a token).
pub const CHAT_NAMESPACE: &str = "chat";
/// Namespace of personal channels (server-side subscription through the wsToken only).
pub const PERSONAL_NAMESPACE: &str = "personal";

/// The Centrifugo channel of a chat channel.
pub fn chat_channel(channel_pk: i64) -> String {
    format!("{CHAT_NAMESPACE}:{channel_pk}")
}

/// The Centrifugo channel of a user's personal events.
pub fn personal_channel(user_pk: i64) -> String {
    format!("{PERSONAL_NAMESPACE}:{user_pk}")
}

/// The channel pk in a chat channel's realtime name, if it is one.
pub fn parse_chat_channel(name: &str) -> Option<i64> {
    let pk = name.strip_prefix(CHAT_NAMESPACE)?.strip_prefix(':')?;
    if pk.is_empty() || !pk.bytes().all(|b| b.is_ascii_digit()) || pk.starts_with('0') {
        return None;
    }
    pk.parse().ok()
}

/// Event types, as clients see them in `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventType {
    #[serde(rename = "message.new")]
    MessageNew,
    #[serde(rename = "message.updated")]
    MessageUpdated,
    #[serde(rename = "message.deleted")]
    MessageDeleted,
    #[serde(rename = "reaction.added")]
    ReactionAdded,
    #[serde(rename = "reaction.removed")]
    ReactionRemoved,
    #[serde(rename = "read.updated")]
    ReadUpdated,
    #[serde(rename = "typing")]
    Typing,
    #[serde(rename = "channel.updated")]
    ChannelUpdated,
    #[serde(rename = "channel.deleted")]
    ChannelDeleted,
    #[serde(rename = "member.added")]
    MemberAdded,
    #[serde(rename = "member.removed")]
    MemberRemoved,
}

/// What every publication carries: `{"type","channelId","data"}`, plus the event's
/// own id and the channel's `seq` at the time, so clients can spot gaps.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<'a> {
    #[serde(rename = "type")]
    pub kind: EventType,
    pub event_id: &'a str,
    pub channel_id: &'a str,
    pub seq: i64,
    pub data: Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_names_round_trip_and_junk_is_refused() {
        assert_eq!(parse_chat_channel(&chat_channel(42)), Some(42));
        for junk in [
            "chat:",
            "chat:01",
            "chat:-1",
            "chat:1a",
            "personal:1",
            "chat:99999999999999999999",
        ] {
            assert_eq!(parse_chat_channel(junk), None, "{junk}");
        }
    }
}
