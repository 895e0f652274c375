//! `verify_rest` on tokens whose signature is right, so the fuzzer reaches the claim and
//! header checks (alg, kid, exp, iss, aud, required claims) instead of stopping at the MAC.
//!
//! Input: `<header JSON> NUL <payload JSON>`, or only the payload (then the header is
//! `{"alg":"HS256","typ":"JWT","kid":<current kid>}`).
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chatsdk::auth::tokens::key_id;
use chatsdk::secret::Secret;
use chatsdk_fuzz::{PREVIOUS_REST_SECRET, REST_SECRET};
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sha2::Sha256;

fuzz_target!(|data: &[u8]| {
    let current_kid = key_id(&Secret::new(REST_SECRET));
    let previous_kid = key_id(&Secret::new(PREVIOUS_REST_SECRET));
    let default_header = format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{current_kid}"}}"#);
    let (header, payload) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (default_header.as_bytes(), data),
    };
    // Sign with the secret the header names, as a real (old or new) issuer would have.
    let uses_previous = std::str::from_utf8(header).is_ok_and(|h| h.contains(&previous_kid));
    let secret = if uses_previous {
        PREVIOUS_REST_SECRET
    } else {
        REST_SECRET
    };
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(signing_input.as_bytes());
    let token = format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    );

    match chatsdk_fuzz::issuer().verify_rest(&token) {
        Ok(claims) => {
            chatsdk_fuzz::assert_accepted(&claims);
            // Pinned algorithm: nothing but HS256 gets through.
            let header: Value = serde_json::from_slice(header).expect("accepted header is JSON");
            assert_eq!(header["alg"], "HS256");
            // The claims checked are the claims returned: `exp` and `sub` are JSON
            // numbers/strings in the payload (not strings skipped by validation, nor a
            // duplicate key read one way by the validator and another by serde).
            let payload: Value = serde_json::from_slice(payload).expect("accepted payload is JSON");
            assert_eq!(payload["exp"].as_u64(), Some(claims.exp));
            assert_eq!(payload["sub"].as_str(), Some(claims.sub.as_str()));
        }
        Err(e) => chatsdk_fuzz::assert_refused(&e),
    }
});
