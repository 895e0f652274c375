//! Generated identifiers: typed prefixes, 16 lowercase base32 characters, ASCII only
//! (they end up inside Centrifugo user ids and channel names, which must be ASCII). All
//! random, except message ids: time first, then random (`new_time_ordered_id`).

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

/// A new app id, e.g. `app_k3v7q2m7x4d6p5s5`.
pub fn new_app_id() -> String {
    format!("app_{}", random_base32())
}

/// A new API key id, e.g. `key_k3v7q2m7x4d6p5s5`.
pub fn new_key_id() -> String {
    format!("key_{}", random_base32())
}

/// True when `s` looks like an id made by `prefix` (used to refuse junk before a lookup).
pub fn is_generated_id(prefix: &str, s: &str) -> bool {
    s.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|r| r.len() == ID_RANDOM_CHARS && r.bytes().all(|b| BASE32.contains(&b)))
}

/// A new id with a type prefix and 80 random bits, e.g. `evt_k3v7q2m7x4d6p5s5`.
pub fn new_prefixed_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_base32())
}

/// The same 32 characters as `BASE32`, in byte order: a number written with these
/// digits sorts as text the way it sorts as a number.
const BASE32_SORTED: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
/// Of a time-ordered id's 80 bits, the random low ones; the 45 above are milliseconds
/// since 1970 (enough until the year 3084).
const TIME_ORDERED_RANDOM_BITS: u32 = 35;

/// A new id with a type prefix whose 80 bits are `created_ms` followed by 35 random
/// bits, e.g. `msg_3od2k6nq2qmufdh7`: the same shape and characters as
/// `new_prefixed_id` (so `is_generated_id` accepts it), but later ids sort after
/// earlier ones.
///
/// Why: the `UNIQUE` index on message ids then grows at its right edge, like the
/// messages themselves, instead of taking each new id on a random page of its own. A
/// random id dirtied a page of that index per message, about half of the pages the
/// message path's group commits wrote (BENCHMARKS.md, "Eighth session"), and on a large
/// table each of those pages would first have to be read.
///
/// Within a process ids strictly increase, even within one millisecond or if the clock
/// steps back: the next id is then the last one plus one. Two processes on one database
/// collide only on the same millisecond and the same 35 random bits.
pub fn new_time_ordered_id(prefix: &str, created_ms: i64) -> String {
    static LAST: std::sync::Mutex<u128> = std::sync::Mutex::new(0);
    let random =
        u128::from(u64::from_le_bytes(id_bytes::<8>())) & ((1 << TIME_ORDERED_RANDOM_BITS) - 1);
    let ms = u128::try_from(created_ms).unwrap_or(0) & ((1 << (80 - TIME_ORDERED_RANDOM_BITS)) - 1);
    let fresh = ms << TIME_ORDERED_RANDOM_BITS | random;
    let value = {
        let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
        *last = if fresh > *last { fresh } else { *last + 1 };
        *last
    };
    let mut id = String::with_capacity(prefix.len() + 1 + ID_RANDOM_CHARS);
    id.push_str(prefix);
    id.push('_');
    for i in (0..ID_RANDOM_CHARS).rev() {
        id.push(BASE32_SORTED[((value >> (5 * i)) & 31) as usize] as char);
    }
    id
}

/// 64 random bits, from the same pool as ids (a new row's realtime key).
pub fn random_u64() -> u64 {
    u64::from_le_bytes(id_bytes::<8>())
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
    fn time_ordered_ids_sort_in_the_order_they_were_made() {
        // An hour ahead of the clock: ids other tests make meanwhile sort before these.
        let now = crate::db::now_ms() + 3_600_000;
        // Later milliseconds, the same millisecond many times over, and a clock that
        // stepped back: every id sorts after the one before it.
        let times = [
            now,
            now + 1,
            now + 1,
            now + 1,
            now + 1_000,
            now - 5_000,
            now + 2_000,
        ];
        let ids: Vec<String> = times
            .iter()
            .chain([now + 3_000; 500].iter())
            .map(|&t| new_time_ordered_id("msg", t))
            .collect();
        for pair in ids.windows(2) {
            assert!(pair[0] < pair[1], "{} then {}", pair[0], pair[1]);
        }
        for id in &ids {
            assert!(is_generated_id("msg", id), "{id}");
        }
        // The milliseconds lead: two that differ in the lowest of the 45 time bits only
        // differ in the 9th character after the prefix, whatever the random bits.
        let t = (now + 10_000) & !31;
        let (a, b) = (
            new_time_ordered_id("msg", t),
            new_time_ordered_id("msg", t + 1),
        );
        assert!(a < b);
        assert_eq!(a[..12], b[..12], "{a} {b}");
        assert_ne!(a[12..13], b[12..13], "{a} {b}");
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
