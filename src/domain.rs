//! Domain types built by parsing: once constructed, they are valid.

use crate::error::ApiError;
use serde_json::{Map, Value};

/// Longest user id, in characters.
pub const MAX_USER_ID_CHARS: usize = 255;
/// Longest user name, in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// Longest image URL, in characters.
pub const MAX_IMAGE_CHARS: usize = 2048;
/// Longest email, in characters (RFC 5321 path limit).
pub const MAX_EMAIL_CHARS: usize = 320;
/// Largest `custom` object, serialized, in bytes.
pub const MAX_CUSTOM_BYTES: usize = 8 * 1024;
/// Longest app name and key label, in characters.
pub const MAX_LABEL_CHARS: usize = 100;
/// Longest caller-chosen id of a channel or message, in characters.
pub const MAX_ID_CHARS: usize = 128;
/// Longest message text, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Most user ids in one request.
pub const MAX_MEMBERS_PER_REQUEST: usize = 100;
/// Longest reaction (an emoji, or a short name), in characters.
pub const MAX_EMOJI_CHARS: usize = 32;

/// An app's user id as the customer's backend chose it: 1–255 characters, no control
/// characters, anything else allowed (emails, UUIDs, `a:b#c,d`, unicode).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserId(String);

impl UserId {
    pub fn parse(field: &str, raw: String) -> Result<Self, ApiError> {
        check_text(field, &raw, 1, MAX_USER_ID_CHARS)?;
        check_path_safe(field, &raw)?;
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a free-text field: length in characters within bounds, no control characters.
pub fn check_text(field: &str, value: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let chars = value.chars().count();
    if chars < min || chars > max {
        return Err(ApiError::InvalidRequest(if min > 0 && chars < min {
            format!("`{field}` must not be empty")
        } else {
            format!("`{field}` must be at most {max} characters (got {chars})")
        }));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::InvalidRequest(format!(
            "`{field}` must not contain control characters"
        )));
    }
    Ok(())
}

/// Checks a caller-chosen id of a channel or message.
pub fn check_id(field: &str, id: &str) -> Result<(), ApiError> {
    check_text(field, id, 1, MAX_ID_CHARS)?;
    check_path_safe(field, id)
}

/// Checks a channel name, when one is given.
pub fn check_name(name: &Option<String>) -> Result<(), ApiError> {
    match name {
        Some(n) => check_text("name", n, 0, MAX_NAME_CHARS),
        None => Ok(()),
    }
}

/// Parses user ids, refusing more than the per-request limit.
pub fn parse_user_ids(field: &str, ids: Vec<String>) -> Result<Vec<String>, ApiError> {
    check_member_count(ids.len())?;
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for (i, id) in ids.into_iter().enumerate() {
        let id = UserId::parse(&format!("{field}[{i}]"), id)?;
        if !out.iter().any(|o| o == id.as_str()) {
            out.push(id.as_str().to_string());
        }
    }
    Ok(out)
}

/// Checks the member list of a create request.
pub fn check_member_count(n: usize) -> Result<(), ApiError> {
    if n > MAX_MEMBERS_PER_REQUEST {
        return Err(ApiError::InvalidRequest(format!(
            "at most {MAX_MEMBERS_PER_REQUEST} user ids per request (got {n})"
        )));
    }
    Ok(())
}

/// Message text: 1–4000 characters; line breaks and tabs allowed, other control
/// characters not.
pub fn check_message_text(text: &str) -> Result<(), ApiError> {
    let chars = text.chars().count();
    if chars == 0 || chars > MAX_TEXT_CHARS {
        return Err(ApiError::InvalidRequest(format!(
            "`text` must be 1 to {MAX_TEXT_CHARS} characters (got {chars})"
        )));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ApiError::InvalidRequest(
            "`text` must not contain control characters other than line breaks and tabs".into(),
        ));
    }
    Ok(())
}

/// Where a message page starts: `before` or `after` a `seq` (0 or more), not both; the
/// latest page without either.
pub fn page_from(before: Option<i64>, after: Option<i64>) -> Result<PageFrom, ApiError> {
    Ok(match (before, after) {
        (Some(_), Some(_)) => {
            return Err(ApiError::InvalidRequest(
                "give `before` or `after`, not both".into(),
            ));
        }
        (Some(s), None) if s >= 0 => PageFrom::Before(s),
        (None, Some(s)) if s >= 0 => PageFrom::After(s),
        (None, None) => PageFrom::Latest,
        _ => {
            return Err(ApiError::InvalidRequest(
                "`before` and `after` must be 0 or more".into(),
            ));
        }
    })
}

/// Checks a reaction: 1–32 characters, no control characters, no spaces.
pub fn check_emoji(emoji: &str) -> Result<(), ApiError> {
    check_text("emoji", emoji, 1, MAX_EMOJI_CHARS)?;
    if emoji.chars().any(char::is_whitespace) {
        return Err(ApiError::InvalidRequest(
            "`emoji` must not contain spaces".into(),
        ));
    }
    Ok(())
}

/// A member's role as a request names it; `member` when it names none.
pub fn parse_role(role: Option<&str>) -> Result<Role, ApiError> {
    Ok(match role {
        None => Role::Member,
        Some(r) => Role::parse(r).ok_or_else(|| {
            ApiError::InvalidRequest(format!(
                "`role` must be one of owner, admin, member (got {r:?})"
            ))
        })?,
    })
}

/// Refuses `.` and `..`: URL clients resolve them away even percent-encoded, so such an
/// id could never be reached in a path (`/api/channels/{id}`, `/members/{userId}`).
pub fn check_path_safe(field: &str, value: &str) -> Result<(), ApiError> {
    if value == "." || value == ".." {
        return Err(ApiError::InvalidRequest(format!(
            "`{field}` must not be `.` or `..`: it could not be used in a URL path"
        )));
    }
    Ok(())
}

/// Checks a `custom` object against `MAX_CUSTOM_BYTES`, serialized.
pub fn check_custom(custom: &Map<String, Value>) -> Result<(), ApiError> {
    let size = serialized_len(custom);
    if size > MAX_CUSTOM_BYTES {
        return Err(ApiError::InvalidRequest(format!(
            "`custom` must be at most {MAX_CUSTOM_BYTES} bytes serialized (got {size})"
        )));
    }
    Ok(())
}

/// The length of `custom` as compact JSON, counted without building the string (this
/// runs on every `/tokens` call that carries `custom`).
fn serialized_len(custom: &Map<String, Value>) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing to a counter cannot fail, and a map of JSON values always serializes.
    let _ = serde_json::to_writer(&mut counter, custom);
    counter.0
}

/// Applies a `custom` field of a PATCH-like request: absent keeps, `null` empties, an
/// object merges as an RFC 7396 patch. The result must fit `MAX_CUSTOM_BYTES`.
pub fn patch_custom(
    custom: &mut Map<String, Value>,
    patch: &Option<Option<Map<String, Value>>>,
) -> Result<(), ApiError> {
    match patch {
        Some(Some(p)) => merge_patch(custom, p),
        Some(None) => custom.clear(),
        None => {}
    }
    check_custom(custom)
}

/// Applies an RFC 7396 JSON merge patch to `target`: a key set to null is removed,
/// nested objects merge, anything else replaces.
pub fn merge_patch(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (key, value) in patch {
        match value {
            Value::Null => {
                target.remove(key);
            }
            Value::Object(inner) => {
                let slot = target
                    .entry(key.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                if let Value::Object(obj) = slot {
                    merge_patch(obj, inner);
                }
            }
            other => {
                target.insert(key.clone(), other.clone());
            }
        }
    }
}

/// Roles within a channel, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Owner,
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}

/// Where a page of messages starts.
#[derive(Debug, Clone, Copy)]
pub enum PageFrom {
    /// The newest messages.
    Latest,
    Before(i64),
    After(i64),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn user_ids_take_any_printable_characters() {
        for id in [
            "alice",
            "a@b.com",
            "a:b#c,d",
            "日本語",
            "550e8400-e29b-41d4-a716-446655440000",
            " ",
        ] {
            assert!(UserId::parse("userId", id.into()).is_ok(), "{id}");
        }
    }

    #[test]
    fn user_ids_refuse_empty_long_and_control() {
        assert!(UserId::parse("userId", String::new()).is_err());
        assert!(UserId::parse("userId", "x".repeat(256)).is_err());
        assert!(UserId::parse("userId", "é".repeat(255)).is_ok());
        assert!(UserId::parse("userId", "a\nb".into()).is_err());
        assert!(UserId::parse("userId", ".".into()).is_err());
        assert!(UserId::parse("userId", "..".into()).is_err());
        assert!(UserId::parse("userId", "...".into()).is_ok());
        assert!(UserId::parse("userId", "a\u{0}b".into()).is_err());
    }

    #[test]
    fn custom_is_measured_as_its_compact_json() {
        // Escapes and multi-byte characters count as serialized: `\"` is 2 bytes, `é` 2.
        let custom = |pad: usize| {
            let mut m = Map::new();
            m.insert("k\"é".into(), json!(["\n", 1.5, null, {"x": true}]));
            m.insert("pad".into(), json!("p".repeat(pad)));
            m
        };
        let base = Value::Object(custom(0)).to_string().len();
        let exactly = custom(MAX_CUSTOM_BYTES - base);
        assert_eq!(serialized_len(&exactly), MAX_CUSTOM_BYTES);
        assert!(check_custom(&exactly).is_ok());
        let one_over = custom(MAX_CUSTOM_BYTES - base + 1);
        assert_eq!(
            serialized_len(&one_over),
            Value::Object(one_over.clone()).to_string().len()
        );
        assert!(check_custom(&one_over).is_err());
    }

    #[test]
    fn merge_patch_follows_rfc7396_examples() {
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (
                json!({"a":"b","b":"c"}),
                json!({"a":null}),
                json!({"b":"c"}),
            ),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (
                json!({"a":"x"}),
                json!({"a":{"b":null,"c":1}}),
                json!({"a":{"c":1}}),
            ),
        ];
        for (target, patch, expected) in cases {
            let mut t = target.as_object().unwrap().clone();
            merge_patch(&mut t, patch.as_object().unwrap());
            assert_eq!(Value::Object(t), expected);
        }
    }
}
