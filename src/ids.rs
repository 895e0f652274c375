//! Generated identifiers: typed prefixes, lowercase base32 randomness, ASCII only
//! (they end up inside Centrifugo user ids and channel names, which must be ASCII).

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
/// Characters of randomness in a generated id: 16 × 5 = 80 bits.
const ID_RANDOM_CHARS: usize = 16;

/// Fills a buffer from the OS random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("the OS random source is unavailable");
    buf
}

/// Bytes for ids, from the OS random source through a per-thread pool refilled
/// `POOL_BYTES` at a time: one `getrandom` call per ~250 ids instead of one per id (a
/// syscall on every `POST /tokens` and every message showed in profiles). Secrets and
/// API keys take `random_bytes` directly.
fn id_bytes<const N: usize>() -> [u8; N] {
    const POOL_BYTES: usize = 4096;
    thread_local! {
        /// The pool, and how many of its bytes were handed out (each byte once).
        static POOL: std::cell::RefCell<(Box<[u8; POOL_BYTES]>, usize)> =
            std::cell::RefCell::new((Box::new([0; POOL_BYTES]), POOL_BYTES));
    }
    const { assert!(N <= POOL_BYTES) };
    POOL.with_borrow_mut(|(pool, used)| {
        if *used + N > POOL_BYTES {
            getrandom::fill(&mut pool[..]).expect("the OS random source is unavailable");
            *used = 0;
        }
        let mut out = [0u8; N];
        out.copy_from_slice(&pool[*used..*used + N]);
        *used += N;
        out
    })
}

fn random_base32() -> String {
    id_bytes::<ID_RANDOM_CHARS>()
        .iter()
        .map(|b| BASE32[(b & 31) as usize] as char)
        .collect()
}

/// A new app id, e.g. `app_k3v9q2m7x4d1p8s5`.
pub fn new_app_id() -> String {
    format!("app_{}", random_base32())
}

/// A new API key id, e.g. `key_k3v9q2m7x4d1p8s5`.
pub fn new_key_id() -> String {
    format!("key_{}", random_base32())
}

/// True when `s` looks like an id made by `prefix` (used to refuse junk before a lookup).
pub fn is_generated_id(prefix: &str, s: &str) -> bool {
    s.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|r| r.len() == ID_RANDOM_CHARS && r.bytes().all(|b| BASE32.contains(&b)))
}

/// A new id with a type prefix and 80 random bits, e.g. `msg_k3v9q2m7x4d1p8s5`.
pub fn new_prefixed_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_base32())
}

/// A random token id (`jti`): 128 bits, hex.
pub fn new_token_id() -> String {
    hex(&id_bytes::<16>())
}

/// Lowercase hex of `bytes`, two characters per byte.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_round_trip_and_differ() {
        let a = new_app_id();
        assert!(is_generated_id("app", &a), "{a}");
        assert!(!is_generated_id("key", &a));
        assert_ne!(a, new_app_id());
        assert!(is_generated_id("key", &new_key_id()));
        assert_eq!(new_token_id().len(), 32);
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }

    #[test]
    fn token_ids_stay_distinct_hex_across_pool_refills() {
        // 1,000 ids of 16 bytes span four refills of the 4 KiB pool.
        let ids: Vec<String> = (0..1000).map(|_| new_token_id()).collect();
        for id in &ids {
            assert_eq!(id.len(), 32, "{id}");
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
                "{id}"
            );
        }
        let mut distinct = ids.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), ids.len(), "an id came out twice");
        // Not all zeros (a pool handed out before it was filled).
        assert!(ids.iter().all(|id| id != &"0".repeat(32)));
    }
}
