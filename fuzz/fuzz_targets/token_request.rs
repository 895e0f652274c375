//! `POST /tokens` body parsing: `json::parse::<TokenRequest>` then `TokenRequest::parse`.
//! Never panics; an accepted body yields a user id and a patch within every limit.
#![no_main]

use chatsdk::domain::{
    MAX_CUSTOM_BYTES, MAX_EMAIL_CHARS, MAX_IMAGE_CHARS, MAX_NAME_CHARS, MAX_USER_ID_CHARS,
};
use chatsdk::routes::json;
use chatsdk::routes::tokens::TokenRequest;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Checks one optional text field of the patch against the body it came from.
fn check_text(body: &Value, field: &str, patched: &Option<Option<String>>, max: usize) {
    match (body.get(field), patched) {
        (None, None) | (Some(Value::Null), Some(None)) => {}
        (Some(Value::String(raw)), Some(Some(s))) => {
            assert_eq!(raw, s, "`{field}` changed on the way");
            assert!(s.chars().count() <= max, "`{field}` longer than {max}");
            assert!(
                !s.chars().any(char::is_control),
                "`{field}` has a control char"
            );
        }
        (raw, patched) => panic!("`{field}`: body has {raw:?}, patch has {patched:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    match json::parse::<TokenRequest>(data).and_then(TokenRequest::parse) {
        Ok((user_id, patch)) => {
            let body: Value = serde_json::from_slice(data).expect("an accepted body is JSON");
            assert!(body.is_object(), "an accepted body is a JSON object");

            let id = user_id.as_str();
            let chars = id.chars().count();
            assert!(
                (1..=MAX_USER_ID_CHARS).contains(&chars),
                "userId of {chars} chars"
            );
            assert!(
                !id.chars().any(char::is_control),
                "userId has a control char"
            );
            assert!(
                id != "." && id != "..",
                "userId {id:?} cannot appear in a path"
            );
            assert_eq!(body["userId"].as_str(), Some(id));

            check_text(&body, "name", &patch.name, MAX_NAME_CHARS);
            check_text(&body, "image", &patch.image, MAX_IMAGE_CHARS);
            check_text(&body, "email", &patch.email, MAX_EMAIL_CHARS);
            if let Some(Some(custom)) = &patch.custom {
                let size = Value::Object(custom.clone()).to_string().len();
                assert!(size <= MAX_CUSTOM_BYTES, "custom of {size} bytes");
            }
        }
        // A bad body is the caller's fault: always a 400, never a 500.
        Err(e) => {
            assert!(
                matches!(e.code(), "invalid_json" | "invalid_request"),
                "refused with `{}`",
                e.code()
            );
            let _ = e.to_string();
        }
    }
});
