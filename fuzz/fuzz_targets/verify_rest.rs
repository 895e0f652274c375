//! `TokenIssuer::verify_rest` on arbitrary bytes: never panics, refuses with a 401 code.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Header values reach the verifier as `&str`; invalid UTF-8 becomes U+FFFD.
    let token = String::from_utf8_lossy(data);
    match chatsdk_fuzz::issuer().verify_rest(&token) {
        Ok(claims) => chatsdk_fuzz::assert_accepted(&claims),
        Err(e) => chatsdk_fuzz::assert_refused(&e),
    }
});
