//! Centrifugo channel names and the realtime event envelope.
//!
//! Names are built from ASCII surrogate keys (row pks), never from caller-chosen ids:
//! Centrifugo channel names must be ASCII and at most 255 bytes, and pks are unique
//! across apps, so two apps can never share a channel. A restore from backup rewinds the
//! pk sequences, though, and hands lost rows' pks out again; so rows made since schema 9
//! also carry a random `RealtimeKey`, and their names hold both (`chat:<pk>.<key>`). Rows
//! from before keep their names (`chat:<pk>`), so an upgrade moves no client.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::Serialize;
use serde_json::Value;
use std::fmt;

/// Namespace of chat channels (history, recovery, subscribe only with a token).
pub const CHAT_NAMESPACE: &str = "chat";
/// Namespace of personal channels (server-side subscription through the wsToken only).
pub const PERSONAL_NAMESPACE: &str = "personal";
/// Between a name's pk and its key: ASCII, and none of Centrifugo's special characters
/// (`:` namespace, `#` user boundary, `,` user separator, `$` private prefix).
const KEY_SEPARATOR: char = '.';
/// Characters of a key: 64 bits in lowercase hex.
const KEY_CHARS: usize = 16;

/// 64 random bits that, beside a row's pk, make its realtime name one no other row ever
/// had, even after a restore from backup has handed the pk out again. Stored as 16
/// lowercase hex characters (`users.realtime_key`, `channels.realtime_key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RealtimeKey(u64);

impl RealtimeKey {
    /// A fresh random key, for a new row.
    pub fn generate() -> RealtimeKey {
        RealtimeKey(crate::ids::random_u64())
    }

    /// Exactly 16 lowercase hex characters, as `Display` writes them; nothing else.
    pub fn parse(text: &str) -> Option<RealtimeKey> {
        let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if text.len() != KEY_CHARS || !text.bytes().all(hex) {
            return None;
        }
        u64::from_str_radix(text, 16).ok().map(RealtimeKey)
    }
}

impl fmt::Display for RealtimeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl ToSql for RealtimeKey {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.to_string()))
    }
}

impl FromSql for RealtimeKey {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        RealtimeKey::parse(value.as_str()?)
            .ok_or_else(|| FromSqlError::Other("not a realtime key".into()))
    }
}

/// What a row's realtime name is built from: its pk, and its key when it has one (rows
/// made since schema 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RealtimeName {
    pub pk: i64,
    pub key: Option<RealtimeKey>,
}

impl RealtimeName {
    fn in_namespace(self, namespace: &str) -> String {
        match self.key {
            Some(key) => format!("{namespace}:{}{KEY_SEPARATOR}{key}", self.pk),
            None => format!("{namespace}:{}", self.pk),
        }
    }
}

/// The Centrifugo channel of a chat channel.
pub fn chat_channel(channel: RealtimeName) -> String {
    channel.in_namespace(CHAT_NAMESPACE)
}

/// The Centrifugo channel of a user's personal events.
pub fn personal_channel(user: RealtimeName) -> String {
    user.in_namespace(PERSONAL_NAMESPACE)
}

/// The pk and key in a chat channel's realtime name, if it is one written as
/// `chat_channel` writes it (so the name built back from them is `name` itself).
pub fn parse_chat_channel(name: &str) -> Option<RealtimeName> {
    let rest = name.strip_prefix(CHAT_NAMESPACE)?.strip_prefix(':')?;
    let (pk, key) = match rest.split_once(KEY_SEPARATOR) {
        Some((pk, key)) => (pk, Some(RealtimeKey::parse(key)?)),
        None => (rest, None),
    };
    if pk.is_empty() || !pk.bytes().all(|b| b.is_ascii_digit()) || pk.starts_with('0') {
        return None;
    }
    Some(RealtimeName {
        pk: pk.parse().ok()?,
        key,
    })
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

    const KEY: &str = "00c0ffee12345678";

    fn keyed(pk: i64) -> RealtimeName {
        RealtimeName {
            pk,
            key: RealtimeKey::parse(KEY),
        }
    }

    #[test]
    fn legacy_and_keyed_names_round_trip() {
        let legacy = RealtimeName { pk: 42, key: None };
        assert_eq!(chat_channel(legacy), "chat:42");
        assert_eq!(personal_channel(legacy), "personal:42");
        assert_eq!(parse_chat_channel("chat:42"), Some(legacy));

        assert_eq!(chat_channel(keyed(42)), format!("chat:42.{KEY}"));
        assert_eq!(personal_channel(keyed(42)), format!("personal:42.{KEY}"));
        assert_eq!(
            parse_chat_channel(&chat_channel(keyed(42))),
            Some(keyed(42))
        );
        let fresh = RealtimeName {
            pk: i64::MAX,
            key: Some(RealtimeKey::generate()),
        };
        assert_eq!(parse_chat_channel(&chat_channel(fresh)), Some(fresh));
    }

    #[test]
    fn keys_are_16_lowercase_hex_and_differ() {
        let key = RealtimeKey::generate().to_string();
        assert_eq!(key.len(), 16, "{key}");
        assert_eq!(RealtimeKey::parse(&key).map(|k| k.to_string()), Some(key));
        assert_ne!(RealtimeKey::generate(), RealtimeKey::generate());
        assert_eq!(
            RealtimeKey::parse("0000000000000000").unwrap().to_string(),
            "0000000000000000"
        );
    }

    #[test]
    fn junk_names_are_refused() {
        for junk in [
            "chat:",
            "chat:01",
            "chat:-1",
            "chat:1a",
            "personal:1",
            "chat:99999999999999999999",
            "chat:.00c0ffee12345678",
            "chat:1.",
            "chat:1.00c0ffee1234567",
            "chat:1.00c0ffee123456789",
            "chat:1.00C0FFEE12345678",
            "chat:1.00c0ffee1234567g",
            "chat:1.+0c0ffee12345678",
            "chat:1.00c0ffee12345678.00c0ffee12345678",
            "chat:01.00c0ffee12345678",
            "personal:1.00c0ffee12345678",
        ] {
            assert_eq!(parse_chat_channel(junk), None, "{junk}");
        }
    }
}
