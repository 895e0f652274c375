//! Property tests: request parsing never panics and gives our error codes; realtime names
//! never collide; API keys never parse wrong.

use chatsdk::auth::api_key;
use chatsdk::error::ApiError;
use chatsdk::realtime::{
    RealtimeKey, RealtimeName, chat_channel, parse_chat_channel, personal_channel,
};
use chatsdk::routes::json::parse;
use chatsdk::routes::tokens::TokenRequest;
use chatsdk::secret::Secret;
use proptest::prelude::*;
use std::collections::HashSet;

fn is_client_error(e: &ApiError) -> bool {
    matches!(e, ApiError::InvalidJson(_) | ApiError::InvalidRequest(_))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_bytes_parse_to_a_request_or_a_400(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        match parse::<TokenRequest>(&body).and_then(TokenRequest::parse) {
            Ok((id, _)) => prop_assert!(!id.as_str().is_empty()),
            Err(e) => prop_assert!(is_client_error(&e), "{e:?}"),
        }
    }

    #[test]
    fn any_user_id_string_round_trips_or_is_refused_with_a_400(id in ".{0,300}") {
        let body = serde_json::json!({"userId": id}).to_string();
        match parse::<TokenRequest>(body.as_bytes()).and_then(TokenRequest::parse) {
            Ok((parsed, _)) => {
                prop_assert_eq!(parsed.as_str(), id.as_str());
                prop_assert!(id.chars().count() <= 255 && !id.chars().any(char::is_control));
            }
            Err(e) => prop_assert!(matches!(e, ApiError::InvalidRequest(_)), "{e:?}"),
        }
    }

    #[test]
    fn realtime_names_are_ascii_short_and_unique(rows in proptest::collection::hash_map(1i64..i64::MAX, any::<u64>(), 1..200)) {
        let mut seen = HashSet::new();
        for (&pk, key) in &rows {
            // Each pk as a row from before schema 9 (no key) and as a keyed one.
            let key = RealtimeKey::parse(&format!("{key:016x}"));
            prop_assert!(key.is_some());
            for name in [RealtimeName { pk, key: None }, RealtimeName { pk, key }] {
                let (chat, personal) = (chat_channel(name), personal_channel(name));
                prop_assert!(chat.is_ascii() && chat.len() <= 255);
                prop_assert!(personal.is_ascii() && personal.len() <= 255);
                prop_assert_eq!(parse_chat_channel(&chat), Some(name));
                prop_assert_eq!(parse_chat_channel(&personal), None);
                prop_assert!(seen.insert(chat));
                prop_assert!(seen.insert(personal));
            }
        }
    }

    #[test]
    fn any_string_parses_as_a_chat_channel_only_if_it_is_one(name in ".{0,40}") {
        if let Some(parsed) = parse_chat_channel(&name) {
            prop_assert_eq!(chat_channel(parsed), name);
        }
    }

    #[test]
    fn near_misses_of_keyed_names_parse_only_if_canonical(name in "chat:[0-9]{0,21}([.,:][0-9a-fA-F+]{0,18}){0,2}") {
        if let Some(parsed) = parse_chat_channel(&name) {
            prop_assert_eq!(chat_channel(parsed), name);
        }
    }

    #[test]
    fn only_untouched_generated_keys_parse(noise in ".{0,80}", flip in 0usize..64) {
        prop_assert!(api_key::parse_key_id(&Secret::new(noise.clone())).is_none() || noise.starts_with("chatsdk_"));
        let key = api_key::generate();
        let raw = key.key.expose().to_string();
        prop_assert_eq!(api_key::parse_key_id(&key.key), Some(key.key_id.as_str()));
        let i = flip % raw.len();
        let mut bytes = raw.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(bytes).unwrap();
        if changed != raw {
            prop_assert!(api_key::parse_key_id(&Secret::new(changed)).is_none());
        }
    }
}
