//! The two JWTs ChatSDK issues.
//!
//! - REST `token`: HS256 with `CHATSDK_JWT_SECRET`, for ChatSDK's own API.
//! - `wsToken`: HS256 with Centrifugo's `client.token.hmac_secret_key`, a Centrifugo
//!   connection token. Its `sub` is `<appId>:<userId>`, so two apps' "alice" are two
//!   Centrifugo users; app ids never contain `:`, so the first `:` splits them.
//!
//! The secrets differ (enforced at start), so neither token verifies in the other's place.
//!
//! Signing goes through `Hs256Signer`, built once per secret; verification through
//! jsonwebtoken, which the tests also use to check that both sign byte for byte alike.

use crate::error::ApiError;
use crate::ids;
use crate::realtime::RealtimeName;
use crate::secret::Secret;
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// `iss` and `aud` of REST tokens.
pub const REST_ISSUER: &str = "chatsdk";
pub const REST_AUDIENCE: &str = "chatsdk";
/// Default clock skew tolerated when checking `exp` of REST tokens.
pub const CLOCK_LEEWAY_SECS: u64 = 30;

/// Claims of a REST token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestClaims {
    pub sub: String,
    pub app: String,
    pub iss: String,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
    /// The user's token generation at issue; a revocation bumps it.
    #[serde(rename = "gen")]
    pub generation: i64,
    /// The pk of the user's row at issue. A user deleted and then created again under
    /// the same id is a new row whose generation starts again at 0, so the generation
    /// alone would let the old user's tokens pass for the new one. Always set by this
    /// version; absent only in tokens issued before it (see `RevocationCheck`).
    #[serde(rename = "upk", default, skip_serializing_if = "Option::is_none")]
    pub user_pk: Option<i64>,
    /// The id of the API key whose `POST /tokens` issued the token: the token works no
    /// longer than that key (revoked, or its rotation's grace over). Absent from the
    /// demo's tokens and from tokens issued before this version.
    #[serde(rename = "akid", default, skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<String>,
}

/// The public profile Centrifugo shows as connection info (presence, join/leave).
#[derive(Debug, Serialize)]
pub struct WsInfo<'a> {
    pub id: &'a str,
    pub name: Option<&'a str>,
    pub image: Option<&'a str>,
}

#[derive(Serialize)]
struct WsClaims<'a> {
    sub: String,
    info: WsInfo<'a>,
    /// Server-side subscriptions: the user's personal channel.
    channels: [&'a str; 1],
    iat: u64,
    exp: u64,
}

/// A Centrifugo subscription token's claims (§3: `sub` equals the connection's).
#[derive(Serialize)]
struct SubscriptionClaims<'a> {
    sub: String,
    channel: &'a str,
    iat: u64,
    exp: u64,
}

/// Both tokens for one user, with their lifetimes.
pub struct IssuedTokens {
    pub token: String,
    pub ws_token: String,
    pub expires_in: u64,
    pub ws_expires_in: u64,
}

/// What the issuer is built from (validated configuration).
pub struct TokenSettings<'a> {
    pub rest_secret: &'a Secret,
    /// Still accepted for verification after a rotation; never used to sign.
    pub previous_rest_secret: Option<&'a Secret>,
    pub centrifugo_secret: &'a Secret,
    pub ttl: u64,
    pub ws_ttl: u64,
    pub sub_ttl: u64,
    pub leeway: u64,
}

/// Signs and verifies tokens; built once at start from the configured secrets.
pub struct TokenIssuer {
    rest_signer: Hs256Signer,
    /// Verification keys by `kid`: the current secret's, then the previous one's.
    rest_keys: Vec<(String, DecodingKey)>,
    ws_signer: Hs256Signer,
    validation: Validation,
    ttl: u64,
    ws_ttl: u64,
    sub_ttl: u64,
}

/// HS256 signing with the HMAC key and the encoded header made once, not per token.
///
/// The same JWS compact form as `jsonwebtoken::encode` (base64url without padding of the
/// header JSON, of the claims JSON, and of the HMAC-SHA256 of the two joined by `.`),
/// which also builds the HMAC key and serializes the header again for every token:
/// about 40 % of the cost of signing the two tokens of a `POST /tokens` (BENCHMARKS.md).
struct Hs256Signer {
    key: hmac::Key,
    /// `base64url(header JSON)` followed by the `.`.
    header_part: String,
}

impl Hs256Signer {
    fn new(secret: &Secret, header: &Header) -> Self {
        let header_json = serde_json::to_vec(header).expect("a JWT header serializes");
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes()),
            header_part: format!("{}.", URL_SAFE_NO_PAD.encode(header_json)),
        }
    }

    fn sign<T: Serialize>(&self, claims: &T) -> Result<String, serde_json::Error> {
        let claims = serde_json::to_vec(claims)?;
        // header, claims (4/3 of the JSON), the `.` and 43 characters of signature.
        let mut token = String::with_capacity(self.header_part.len() + claims.len() * 4 / 3 + 48);
        token.push_str(&self.header_part);
        URL_SAFE_NO_PAD.encode_string(&claims, &mut token);
        let tag = hmac::sign(&self.key, token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(tag.as_ref(), &mut token);
        Ok(token)
    }
}

/// A key id for a REST secret: a short hash, so rotation can pick the key without
/// revealing anything usable about the secret.
pub fn key_id(secret: &Secret) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("chatsdk-kid:{}", secret.expose()).as_bytes());
    ids::hex(&digest[..6])
}

/// The Centrifugo user id of an app's user: `<appId>:<userId>`.
pub fn centrifugo_user_id(app_id: &str, user_id: &str) -> String {
    format!("{app_id}:{user_id}")
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl TokenIssuer {
    pub fn new(settings: &TokenSettings<'_>) -> Self {
        // RFC 8725: pin the algorithm, require exp, check iss and aud.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[REST_ISSUER]);
        validation.set_audience(&[REST_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // `gen` and `app` are required by RestClaims' own deserialization.
        validation.leeway = settings.leeway;
        let mut rest_header = Header::new(Algorithm::HS256);
        rest_header.kid = Some(key_id(settings.rest_secret));
        let decoding = |s: &Secret| (key_id(s), DecodingKey::from_secret(s.expose().as_bytes()));
        let mut rest_keys = vec![decoding(settings.rest_secret)];
        rest_keys.extend(settings.previous_rest_secret.map(decoding));
        Self {
            rest_signer: Hs256Signer::new(settings.rest_secret, &rest_header),
            rest_keys,
            // Centrifugo's parser wants the compact `{"alg","typ"}` header; no kid there.
            ws_signer: Hs256Signer::new(settings.centrifugo_secret, &Header::new(Algorithm::HS256)),
            validation,
            ttl: settings.ttl,
            ws_ttl: settings.ws_ttl,
            sub_ttl: settings.sub_ttl,
        }
    }

    pub fn ttl(&self) -> u64 {
        self.ttl
    }

    /// Issues the REST token and the Centrifugo connection token for one user (its row's
    /// realtime name and token generation), whose connection is subscribed server-side to
    /// its personal channel; `api_key_id` is the key that asked, if one did.
    pub fn issue(
        &self,
        app_id: &str,
        info: WsInfo<'_>,
        user: RealtimeName,
        generation: i64,
        api_key_id: Option<&str>,
    ) -> Result<IssuedTokens, ApiError> {
        let iat = now_secs();
        let exp = iat + self.ttl;
        let ws_exp = iat + self.ws_ttl;
        let rest = RestClaims {
            sub: info.id.to_string(),
            app: app_id.to_string(),
            iss: REST_ISSUER.into(),
            aud: REST_AUDIENCE.into(),
            iat,
            exp,
            jti: ids::new_token_id(),
            generation,
            user_pk: Some(user.pk),
            api_key_id: api_key_id.map(str::to_string),
        };
        let personal_channel = crate::realtime::personal_channel(user);
        let ws = WsClaims {
            sub: centrifugo_user_id(app_id, info.id),
            info,
            channels: [&personal_channel],
            iat,
            exp: ws_exp,
        };
        let sign_err = |e: serde_json::Error| ApiError::Internal(format!("signing a token: {e}"));
        Ok(IssuedTokens {
            token: self.rest_signer.sign(&rest).map_err(sign_err)?,
            ws_token: self.ws_signer.sign(&ws).map_err(sign_err)?,
            expires_in: self.ttl,
            ws_expires_in: self.ws_ttl,
        })
    }

    /// A subscription token for one user and one chat channel; returns it with its lifetime.
    pub fn issue_subscription(
        &self,
        app_id: &str,
        user_id: &str,
        channel: &str,
    ) -> Result<(String, u64), ApiError> {
        let iat = now_secs();
        let claims = SubscriptionClaims {
            sub: centrifugo_user_id(app_id, user_id),
            channel,
            iat,
            exp: iat + self.sub_ttl,
        };
        self.ws_signer
            .sign(&claims)
            .map(|t| (t, self.sub_ttl))
            .map_err(|e| ApiError::Internal(format!("signing a subscription token: {e}")))
    }

    /// Verifies a REST token: HS256 only, signature (current or previous secret, chosen
    /// by `kid`), `exp` with the configured leeway, `iss` and `aud`.
    pub fn verify_rest(&self, token: &str) -> Result<RestClaims, ApiError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| ApiError::InvalidToken("malformed token"))?;
        let key = match &header.kid {
            Some(kid) => self.rest_keys.iter().find(|(id, _)| id == kid),
            None => self.rest_keys.first(),
        }
        .map(|(_, key)| key)
        .ok_or(ApiError::InvalidToken("signed with an unknown key"))?;
        jsonwebtoken::decode::<RestClaims>(token, key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => ApiError::TokenExpired,
                ErrorKind::InvalidSignature => ApiError::InvalidToken("signature does not match"),
                ErrorKind::InvalidAlgorithm => ApiError::InvalidToken("algorithm not allowed"),
                ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => {
                    ApiError::InvalidToken("not a ChatSDK REST token")
                }
                ErrorKind::MissingRequiredClaim(_) => {
                    ApiError::InvalidToken("a required claim is missing")
                }
                _ => ApiError::InvalidToken("malformed token"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: RealtimeName = RealtimeName { pk: 1, key: None };

    fn issuer() -> TokenIssuer {
        issuer_with(&Secret::new("r".repeat(32)), None)
    }

    fn issuer_with(rest: &Secret, previous: Option<&Secret>) -> TokenIssuer {
        TokenIssuer::new(&TokenSettings {
            rest_secret: rest,
            previous_rest_secret: previous,
            centrifugo_secret: &Secret::new("c".repeat(32)),
            ttl: 60,
            ws_ttl: 60,
            sub_ttl: 30,
            leeway: CLOCK_LEEWAY_SECS,
        })
    }

    #[test]
    fn tokens_signed_with_the_previous_secret_verify_after_a_rotation() {
        let (old, new) = (Secret::new("o".repeat(32)), Secret::new("n".repeat(32)));
        let info = || WsInfo {
            id: "u",
            name: None,
            image: None,
        };
        let before = issuer_with(&old, None)
            .issue("app_x", info(), USER, 0, None)
            .unwrap();
        let rotated = issuer_with(&new, Some(&old));
        assert!(rotated.verify_rest(&before.token).is_ok());
        let after = rotated.issue("app_x", info(), USER, 0, None).unwrap();
        assert!(rotated.verify_rest(&after.token).is_ok());
        // Once the previous secret is dropped, old tokens stop working.
        assert!(issuer_with(&new, None).verify_rest(&before.token).is_err());
    }

    #[test]
    fn rest_token_round_trips_and_ws_token_does_not_verify_as_rest() {
        let t = issuer();
        let info = WsInfo {
            id: "a:b#c",
            name: Some("A"),
            image: None,
        };
        let issued = t.issue("app_x", info, USER, 0, Some("key_x")).unwrap();
        let claims = t.verify_rest(&issued.token).unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.app.as_str()),
            ("a:b#c", "app_x")
        );
        assert_eq!(claims.api_key_id.as_deref(), Some("key_x"));
        assert!(matches!(
            t.verify_rest(&issued.ws_token),
            Err(ApiError::InvalidToken(_))
        ));
    }

    #[test]
    fn an_expired_rest_token_is_reported_as_expired() {
        let t = issuer();
        let now = now_secs();
        let claims = RestClaims {
            sub: "u".into(),
            app: "app_x".into(),
            iss: REST_ISSUER.into(),
            aud: REST_AUDIENCE.into(),
            iat: now - 600,
            exp: now - CLOCK_LEEWAY_SECS - 5,
            jti: "j".into(),
            generation: 0,
            user_pk: Some(1),
            api_key_id: None,
        };
        let token = t.rest_signer.sign(&claims).unwrap();
        assert!(matches!(t.verify_rest(&token), Err(ApiError::TokenExpired)));
    }

    #[test]
    fn tokens_are_signed_byte_for_byte_as_jsonwebtoken_signs_them() {
        let secret = Secret::new("s".repeat(32));
        let reference = jsonwebtoken::EncodingKey::from_secret(secret.expose().as_bytes());
        let mut with_kid = Header::new(Algorithm::HS256);
        with_kid.kid = Some(key_id(&secret));
        let plain = Header::new(Algorithm::HS256);
        let rest = RestClaims {
            sub: "ü:#,@x.y".into(),
            app: "app_x".into(),
            iss: REST_ISSUER.into(),
            aud: REST_AUDIENCE.into(),
            iat: 1,
            exp: 2,
            jti: ids::new_token_id(),
            generation: 3,
            user_pk: Some(7),
            api_key_id: Some("key_abc".into()),
        };
        let ws = WsClaims {
            sub: centrifugo_user_id("app_x", "ü:#,"),
            info: WsInfo {
                id: "ü:#,",
                name: Some("A \"quoted\" name\n"),
                image: None,
            },
            channels: ["personal:1"],
            iat: 1,
            exp: 2,
        };
        let sub = SubscriptionClaims {
            sub: "app_x:u".into(),
            channel: "app_x:c",
            iat: 1,
            exp: 2,
        };
        for header in [&with_kid, &plain] {
            let signer = Hs256Signer::new(&secret, header);
            assert_eq!(
                signer.sign(&rest).unwrap(),
                jsonwebtoken::encode(header, &rest, &reference).unwrap()
            );
            assert_eq!(
                signer.sign(&ws).unwrap(),
                jsonwebtoken::encode(header, &ws, &reference).unwrap()
            );
            assert_eq!(
                signer.sign(&sub).unwrap(),
                jsonwebtoken::encode(header, &sub, &reference).unwrap()
            );
        }
    }
}
