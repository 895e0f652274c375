//! `api_key::parse_key_id` on arbitrary strings: never panics; `Some(id)` only for a
//! well-formed `chatsdk_<key id>_<secret><checksum>` whose id it returns.
#![no_main]

use chatsdk::auth::api_key::{KEY_PREFIX, parse_key_id};
use chatsdk::secret::Secret;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Keys arrive as `&str` (a header, or the dev key file), so only UTF-8 matters.
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let key = Secret::new(raw);
    if let Some(id) = parse_key_id(&key) {
        assert!(
            raw.starts_with(&format!("{KEY_PREFIX}{id}_")),
            "id not taken from the key"
        );
        assert!(
            id.starts_with("key_") && id.len() == 20,
            "malformed key id {id:?}"
        );
        assert!(raw.is_ascii() && raw.len() == KEY_PREFIX.len() + 20 + 1 + 28);
    }
});
