//! Shared setup of the fuzz targets: one token issuer with fixed secrets, and the
//! invariants every accepted REST token must satisfy.

use chatsdk::auth::tokens::{
    CLOCK_LEEWAY_SECS, REST_AUDIENCE, REST_ISSUER, RestClaims, TokenIssuer, TokenSettings, now_secs,
};
use chatsdk::error::ApiError;
use chatsdk::secret::Secret;
use std::sync::LazyLock;

/// The current REST secret. Fixed, so the seed corpus can hold tokens signed with it.
pub const REST_SECRET: &str = "fuzz-rest-secret-0123456789abcdef";
/// The secret before a rotation: still verifies, never signs.
pub const PREVIOUS_REST_SECRET: &str = "fuzz-previous-secret-0123456789ab";
const CENTRIFUGO_SECRET: &str = "fuzz-centrifugo-secret-0123456789";

/// One issuer for the whole run, built as `startup` builds it.
pub fn issuer() -> &'static TokenIssuer {
    static ISSUER: LazyLock<TokenIssuer> = LazyLock::new(|| {
        TokenIssuer::new(&TokenSettings {
            rest_secret: &Secret::new(REST_SECRET),
            previous_rest_secret: Some(&Secret::new(PREVIOUS_REST_SECRET)),
            centrifugo_secret: &Secret::new(CENTRIFUGO_SECRET),
            ttl: 3600,
            ws_ttl: 3600,
            sub_ttl: 300,
            leeway: CLOCK_LEEWAY_SECS,
        })
    });
    &ISSUER
}

/// What `verify_rest` promises about a token it accepts.
pub fn assert_accepted(claims: &RestClaims) {
    assert_eq!(claims.iss, REST_ISSUER);
    assert_eq!(claims.aud, REST_AUDIENCE);
    assert!(
        claims.exp.saturating_add(CLOCK_LEEWAY_SECS) >= now_secs(),
        "an expired token was accepted (exp {})",
        claims.exp
    );
}

/// A refused token is always a 401 (`invalid_token` or `token_expired`), never a 500.
pub fn assert_refused(err: &ApiError) {
    assert!(
        matches!(err.code(), "invalid_token" | "token_expired"),
        "verify_rest refused with `{}`",
        err.code()
    );
    let _ = err.to_string();
}
