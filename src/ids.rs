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

fn random_base32(len: usize) -> String {
    let bytes = random_bytes::<32>();
    bytes[..len]
        .iter()
        .map(|b| BASE32[(b & 31) as usize] as char)
        .collect()
}

/// A new app id, e.g. `app_k3v9q2m7x4d1p8s5`.
pub fn new_app_id() -> String {
    format!("app_{}", random_base32(ID_RANDOM_CHARS))
}

/// A new API key id, e.g. `key_k3v9q2m7x4d1p8s5`.
pub fn new_key_id() -> String {
    format!("key_{}", random_base32(ID_RANDOM_CHARS))
}

/// True when `s` looks like an id made by `prefix` (used to refuse junk before a lookup).
pub fn is_generated_id(prefix: &str, s: &str) -> bool {
    s.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|r| r.len() == ID_RANDOM_CHARS && r.bytes().all(|b| BASE32.contains(&b)))
}

/// A new id with a type prefix and 80 random bits, e.g. `msg_k3v9q2m7x4d1p8s5`.
pub fn new_prefixed_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_base32(ID_RANDOM_CHARS))
}

/// A random token id (`jti`): 128 bits, hex.
pub fn new_token_id() -> String {
    random_bytes::<16>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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
    }
}
