//! JSON bodies of the chat routes. Their fields are private, so this checks what the
//! public API allows: `json::parse` of each body never panics, refuses with a 400, and
//! accepts only objects with known keys; the public field checks hold their limits.
#![no_main]

use chatsdk::domain::{
    MAX_CUSTOM_BYTES, MAX_ID_CHARS, MAX_MEMBERS_PER_REQUEST, UserId, check_custom, check_id,
    parse_user_ids,
};
use chatsdk::routes::channels::{CreateBody, DirectBody, UpdateBody};
use chatsdk::routes::json;
use chatsdk::routes::members::AddBody;
use chatsdk::routes::messages::{EditBody, SendBody};
use chatsdk::routes::read_marks::ReadBody;
use chatsdk::routes::subscriptions::SubTokenBody;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Parses `data` as `T`; an accepted body is an object using only `keys`.
fn body<T: DeserializeOwned>(data: &[u8], keys: &[&str]) {
    match json::parse::<T>(data) {
        Ok(_) => {
            let v: Value = serde_json::from_slice(data).expect("an accepted body is JSON");
            let obj = v.as_object().expect("an accepted body is an object");
            for k in obj.keys() {
                assert!(keys.contains(&k.as_str()), "unknown key {k:?} accepted");
            }
        }
        Err(e) => {
            assert!(matches!(e.code(), "invalid_json" | "invalid_request"));
            let _ = e.to_string();
        }
    }
}

fn is_clean(s: &str, max: usize) -> bool {
    let n = s.chars().count();
    (1..=max).contains(&n) && !s.chars().any(char::is_control) && s != "." && s != ".."
}

fuzz_target!(|data: &[u8]| {
    body::<CreateBody>(data, &["id", "name", "custom", "members", "userId"]);
    body::<DirectBody>(data, &["userId"]);
    body::<UpdateBody>(data, &["name", "custom", "userId"]);
    body::<SubTokenBody>(data, &["channel", "userId"]);
    body::<SendBody>(
        data,
        &["text", "clientMsgId", "custom", "parentId", "userId"],
    );
    body::<EditBody>(data, &["text", "custom", "userId"]);
    body::<ReadBody>(data, &["seq", "userId"]);
    body::<AddBody>(data, &["userIds", "role", "userId"]);

    // The handlers' public checks, on whatever strings the body holds.
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for (key, value) in &obj {
        match value {
            Value::String(s) => {
                if check_id(key, s).is_ok() {
                    assert!(is_clean(s, MAX_ID_CHARS), "check_id accepted {s:?}");
                }
                if let Ok(id) = UserId::parse(key, s.clone()) {
                    assert!(is_clean(id.as_str(), chatsdk::domain::MAX_USER_ID_CHARS));
                }
            }
            Value::Array(items) => {
                let strings: Vec<String> = items
                    .iter()
                    .filter_map(|i| i.as_str().map(String::from))
                    .collect();
                if let Ok(ids) = parse_user_ids(key, strings) {
                    assert!(ids.len() <= MAX_MEMBERS_PER_REQUEST);
                    for (i, id) in ids.iter().enumerate() {
                        assert!(is_clean(id, chatsdk::domain::MAX_USER_ID_CHARS));
                        assert!(!ids[..i].contains(id), "duplicate user id kept");
                    }
                }
            }
            Value::Object(custom) => {
                if check_custom(custom).is_ok() {
                    assert!(Value::Object(custom.clone()).to_string().len() <= MAX_CUSTOM_BYTES);
                }
            }
            _ => {}
        }
    }
});
