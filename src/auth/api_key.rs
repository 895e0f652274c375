//! App API keys: `chatsdk_<key id>_<secret><checksum>`.
//!
//! The prefix and the CRC32 checksum let a secret scanner recognise a leaked key
//! without calling us; the secret carries 131 bits of randomness. Only a SHA-256 hash
//! is stored (the key is random, so a slow hash adds nothing), compared in constant time.

use crate::db::{self, keys};
use crate::error::ApiError;
use crate::ids::{self, random_bytes};
use crate::routes::AppState;
use crate::secret::Secret;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use subtle::ConstantTimeEq;

pub const KEY_PREFIX: &str = "chatsdk_";
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// 22 base62 characters ≈ 131 bits.
const SECRET_CHARS: usize = 22;
/// CRC32 in base62 fits in 6 characters (62^6 > 2^32).
const CHECKSUM_CHARS: usize = 6;

/// A SHA-256 hash of a full API key, as stored. No `PartialEq`: compare with `matches`,
/// in constant time.
#[derive(Debug, Clone)]
pub struct ApiKeyHash(Vec<u8>);

impl ApiKeyHash {
    pub fn of(key: &Secret) -> Self {
        Self(Sha256::digest(key.expose().as_bytes()).to_vec())
    }

    /// A hash as read back from the database.
    pub fn from_stored(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The bytes to store.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Constant-time comparison, so response timing says nothing about the stored hash.
    pub fn matches(&self, other: &ApiKeyHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

/// A freshly generated key: shown once, then only its hash is kept.
pub struct NewApiKey {
    pub key_id: String,
    pub key: Secret,
    pub hash: ApiKeyHash,
}

/// Generates a new key with a new key id.
pub fn generate() -> NewApiKey {
    let key_id = ids::new_key_id();
    let secret = random_base62(SECRET_CHARS);
    let body = format!("{KEY_PREFIX}{key_id}_{secret}");
    let key = Secret::new(format!("{body}{}", checksum(&body)));
    let hash = ApiKeyHash::of(&key);
    NewApiKey { key_id, key, hash }
}

/// Splits a presented key into its key id, after checking shape and checksum.
/// `None` means the string cannot be one of our keys.
pub fn parse_key_id(key: &Secret) -> Option<&str> {
    let raw = key.expose();
    // Our keys are ASCII; checking first also keeps the byte arithmetic below on char
    // boundaries (a fuzzer found the panic without it).
    if !raw.is_ascii() {
        return None;
    }
    let rest = raw.strip_prefix(KEY_PREFIX)?;
    let (key_id, tail) = rest.rsplit_once('_')?;
    if !ids::is_generated_id("key", key_id) || tail.len() != SECRET_CHARS + CHECKSUM_CHARS {
        return None;
    }
    let (body, sum) = raw.split_at(raw.len() - CHECKSUM_CHARS);
    (checksum(body) == sum).then_some(key_id)
}

/// `text` with the secret of every API key in it replaced by `…`, keeping the key id
/// (`chatsdk_key_abc_…`): for echoing what an operator typed. A key with a typo in its
/// secret, which fails the checksum, still holds nearly all of it, so it is hidden too.
/// Other shapes (no `chatsdk_key_` prefix, upper case) are not recognised: messages show
/// an argument back only when it is shaped like an id (`cli::keys::shown`).
pub fn redact(text: &str) -> Cow<'_, str> {
    const KEY_START: &str = "chatsdk_key_";
    if !text.contains(KEY_START) {
        return Cow::Borrowed(text);
    }
    let alphanumeric_len = |s: &str| {
        s.find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(s.len())
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(KEY_START) {
        let (before, from_id) = rest.split_at(start + KEY_START.len());
        let (id, after_id) = from_id.split_at(alphanumeric_len(from_id));
        out.push_str(before);
        out.push_str(id);
        rest = after_id;
        if let Some(secret) = after_id
            .strip_prefix('_')
            .filter(|s| alphanumeric_len(s) > 0)
        {
            out.push_str("_…");
            rest = &secret[alphanumeric_len(secret)..];
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// How often `last_used_at` of a key is written, at most.
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

/// The app whose API key authenticated this request.
#[derive(Debug, Clone)]
pub struct AuthenticatedApp {
    pub app_id: String,
    pub key_id: String,
}

/// An `X-API-Key` that is well formed: its id parsed, its secret hashed. Whether it is a
/// live key of some app is for `check_key`, inside the caller's own database work.
#[derive(Clone)]
pub struct PresentedKey {
    key_id: String,
    hash: ApiKeyHash,
}

impl PresentedKey {
    /// A presented key shaped like one of ours (the key format carries a checksum, so
    /// typos stop here); `None` when it cannot be one.
    pub fn parse(presented: &Secret) -> Option<Self> {
        let key_id = parse_key_id(presented)?.to_string();
        Some(PresentedKey {
            key_id,
            hash: ApiKeyHash::of(presented),
        })
    }
}

/// A live key of some app, as found by `check_key`.
pub struct CheckedKey {
    pub app: AuthenticatedApp,
    /// When the key was used at this time (ms), and `last_used_at` is due an update.
    pub touch_at: Option<i64>,
}

/// Looks the key up: unknown, revoked, past its rotation grace, or the wrong secret are
/// all `invalid_api_key` alike. Plain SQL on `c`, so `/tokens` runs it inside the same
/// write as its upsert (one trip to the database thread per request).
pub fn check_key(c: &rusqlite::Connection, key: &PresentedKey) -> Result<CheckedKey, ApiError> {
    let now = db::now_ms();
    let record = match keys::find(c, &key.key_id)? {
        Some(r) if r.accepts(&key.hash, now) => r,
        _ => return Err(ApiError::InvalidApiKey),
    };
    let due = record
        .last_used_at
        .is_none_or(|t| now - t >= LAST_USED_RESOLUTION_MS);
    Ok(CheckedKey {
        app: AuthenticatedApp {
            app_id: record.app_id,
            key_id: key.key_id.clone(),
        },
        touch_at: due.then_some(now),
    })
}

/// A live key, checked by a reader thread (backend callers of `/api`, and `/tokens`
/// when its body is refused and the key must be judged alone).
pub async fn authenticate_key(
    state: &AppState,
    key: PresentedKey,
) -> Result<AuthenticatedApp, ApiError> {
    let checked = state.db.read(move |c| check_key(c, &key)).await?;
    if let Some(now) = checked.touch_at {
        let db = state.db.clone();
        let id = checked.app.key_id.clone();
        // Bookkeeping only: the request does not wait for it.
        actix_web::rt::spawn(async move {
            if let Err(e) = db.write(move |c| keys::touch_last_used(c, &id, now)).await {
                // The target it always had, so log filters keep matching.
                log::warn!(target: "chatsdk::routes::auth", "could not record key use: {e}");
            }
        });
    }
    Ok(checked.app)
}

fn checksum(body: &str) -> String {
    let mut n = crc32fast::hash(body.as_bytes()) as u64;
    let mut out = [b'0'; CHECKSUM_CHARS];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out.to_vec()).expect("base62 is ASCII")
}

fn random_base62(len: usize) -> String {
    let mut out = String::with_capacity(len);
    // Rejection sampling keeps every character uniform: bytes ≥ 248 would bias the modulo.
    while out.len() < len {
        for b in random_bytes::<64>() {
            if b < 248 && out.len() < len {
                out.push(BASE62[(b % 62) as usize] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_parses_back_to_its_id() {
        let k = generate();
        assert!(k.key.expose().starts_with("chatsdk_key_"));
        assert_eq!(parse_key_id(&k.key), Some(k.key_id.as_str()));
        assert!(ApiKeyHash::of(&k.key).matches(&k.hash));
    }

    #[test]
    fn a_changed_character_fails_the_checksum() {
        let k = generate();
        let raw = k.key.expose();
        let i = raw.len() - CHECKSUM_CHARS - 3;
        let c = if &raw[i..=i] == "a" { "b" } else { "a" };
        let tampered = Secret::new(format!("{}{}{}", &raw[..i], c, &raw[i + 1..]));
        assert_eq!(parse_key_id(&tampered), None);
        assert_eq!(parse_key_id(&Secret::new("chatsdk_key_x_y")), None);
        assert_eq!(parse_key_id(&Secret::new("")), None);
        // Found by cargo fuzz: a multi-byte character where the checksum starts.
        let odd = "chatsdk_key_abcdefghijklmnop_0123456789ABCDEFGHILK\u{4b5}stc22";
        assert_eq!(parse_key_id(&Secret::new(odd)), None);
    }

    #[test]
    fn redact_keeps_the_key_id_and_hides_every_secret() {
        let (a, b) = (generate(), generate());
        let text = format!("no key {}, nor '{}'.", a.key.expose(), b.key.expose());

        let redacted = redact(&text);

        assert_eq!(
            redacted,
            format!(
                "no key chatsdk_{}_…, nor 'chatsdk_{}_…'.",
                a.key_id, b.key_id
            )
        );
        assert_eq!(redact("chatsdk_key_x_typo-d"), "chatsdk_key_x_…-d");
        for untouched in ["key_abc", "app_x chatsdk_key_", "chatsdk_key_abc_", "", "é"] {
            assert_eq!(redact(untouched), untouched);
        }
    }
}
