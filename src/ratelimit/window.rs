//! A fixed-window counter per string key, sharded, with idle keys pruned as it goes.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Shards per limiter: concurrent requests for different keys rarely share a lock.
const SHARDS: usize = 16;
/// Keys tracked per shard at most; past that, new keys pass untracked (see `hit`).
pub const MAX_KEYS_PER_SHARD: usize = 65_536;
/// Longest window accepted, in seconds: entries live one window, so this bounds memory too.
pub const MAX_WINDOW_SECS: u32 = 3600;

/// A limit: `count` requests per window, written `120/min`, `20/s`, `3/2s`, `1000/h`.
///
/// Whole seconds in a `u32` keep it small: it sits in the CLI's arguments four times.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub window_secs: u32,
}

impl Rate {
    pub const fn per_minute(count: u32) -> Self {
        Self {
            count,
            window_secs: 60,
        }
    }

    pub fn window(&self) -> Duration {
        Duration::from_secs(self.window_secs.into())
    }
}

impl fmt::Debug for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.window_secs;
        let (n, unit) = match secs {
            s if s % 3600 == 0 => (s / 3600, "h"),
            s if s % 60 == 0 => (s / 60, "min"),
            s => (s, "s"),
        };
        match n {
            1 => write!(f, "{}/{unit}", self.count),
            n => write!(f, "{}/{n}{unit}", self.count),
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let shape = || {
            format!("{s:?} is not a rate: write <count>/<window>, e.g. 120/min, 20/s, 3/2s, 1000/h")
        };
        let (count, window) = s.trim().split_once('/').ok_or_else(shape)?;
        let count: u32 = count.trim().parse().map_err(|_| shape())?;
        let window = window.trim();
        let unit_at = window
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(shape)?;
        let (n, unit) = window.split_at(unit_at);
        let n: u32 = if n.is_empty() {
            1
        } else {
            n.parse().map_err(|_| shape())?
        };
        let unit_secs = match unit {
            "s" | "sec" => 1,
            "m" | "min" => 60,
            "h" => 3600,
            _ => return Err(shape()),
        };
        let window_secs = n.saturating_mul(unit_secs);
        if count == 0 || window_secs == 0 || window_secs > MAX_WINDOW_SECS {
            return Err(format!(
                "{s:?}: the count must be at least 1 and the window between 1 s and 1 h"
            ));
        }
        Ok(Self { count, window_secs })
    }
}

/// What a limiter decided for one request, with what the X-RateLimit-* headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Time until the current window ends and the count starts again.
    pub reset: Duration,
}

impl Decision {
    /// `reset` in whole seconds, rounded up so a client waiting that long is never early.
    pub fn reset_secs(&self) -> u64 {
        let secs = self.reset.as_secs() + u64::from(self.reset.subsec_nanos() > 0);
        secs.max(1)
    }
}

struct Window {
    start: Instant,
    count: u32,
}

struct Shard {
    windows: HashMap<String, Window>,
    last_prune: Instant,
}

/// Counts requests per key in fixed windows that start at a key's first request.
pub struct Limiter {
    rate: Rate,
    hasher: RandomState,
    shards: Vec<Mutex<Shard>>,
}

impl Limiter {
    pub fn new(rate: Rate) -> Self {
        let now = Instant::now();
        Self {
            rate,
            hasher: RandomState::new(),
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        windows: HashMap::new(),
                        last_prune: now,
                    })
                })
                .collect(),
        }
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Counts one request for `key` if the window has room; says whether it had.
    pub fn hit(&self, key: &str) -> Decision {
        self.hit_at(key, Instant::now())
    }

    fn hit_at(&self, key: &str, now: Instant) -> Decision {
        let (limit, window) = (self.rate.count, self.rate.window());
        let mut shard = self.shard(key);
        if now.duration_since(shard.last_prune) >= window {
            shard
                .windows
                .retain(|_, w| now.duration_since(w.start) < window);
            shard.last_prune = now;
        }
        if let Some(w) = shard.windows.get_mut(key) {
            return count(w, self.rate, now);
        }
        if shard.windows.len() >= MAX_KEYS_PER_SHARD {
            // Fail open: an unbounded map would be worse than one untracked key.
            return Decision {
                allowed: true,
                limit,
                remaining: limit - 1,
                reset: window,
            };
        }
        let w = shard.windows.entry(key.to_owned()).or_insert(Window {
            start: now,
            count: 0,
        });
        count(w, self.rate, now)
    }

    /// Keys currently tracked (for tests of the pruning).
    #[cfg(test)]
    fn tracked_keys(&self) -> usize {
        (0..SHARDS).map(|i| self.lock(i).windows.len()).sum()
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, Shard> {
        self.lock((self.hasher.hash_one(key) % SHARDS as u64) as usize)
    }

    fn lock(&self, i: usize) -> MutexGuard<'_, Shard> {
        // A panic while holding the lock leaves counters that are still usable.
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Counts one request in `w`, starting a new window if the current one has ended.
fn count(w: &mut Window, rate: Rate, now: Instant) -> Decision {
    let window = rate.window();
    if now.duration_since(w.start) >= window {
        *w = Window {
            start: now,
            count: 0,
        };
    }
    let allowed = w.count < rate.count;
    if allowed {
        w.count += 1;
    }
    Decision {
        allowed,
        limit: rate.count,
        remaining: rate.count - w.count,
        reset: window.saturating_sub(now.duration_since(w.start)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_in_the_documented_shapes() {
        assert_eq!("120/min".parse::<Rate>().unwrap(), Rate::per_minute(120));
        let r: Rate = "3/2s".parse().unwrap();
        assert_eq!((r.count, r.window()), (3, Duration::from_secs(2)));
        let r: Rate = "1000/h".parse().unwrap();
        assert_eq!(r.window(), Duration::from_secs(3600));
        for shown in ["120/min", "3/2s", "1000/h", "5/90s", "7/s"] {
            assert_eq!(shown.parse::<Rate>().unwrap().to_string(), shown);
        }
        for bad in [
            "", "10", "0/min", "10/", "10/2", "10/day", "x/min", "10/0s", "1/2h",
        ] {
            assert!(bad.parse::<Rate>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn a_key_gets_its_count_per_window_then_starts_again() {
        let limiter = Limiter::new("2/s".parse().unwrap());
        let t0 = Instant::now();
        let first = limiter.hit_at("a", t0);
        assert!(first.allowed);
        assert_eq!(first.remaining, 1);
        assert!(limiter.hit_at("a", t0).allowed);
        let refused = limiter.hit_at("a", t0 + Duration::from_millis(400));
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert_eq!(refused.reset, Duration::from_millis(600));
        assert_eq!(refused.reset_secs(), 1);
        assert!(limiter.hit_at("b", t0).allowed, "keys are independent");
        assert!(limiter.hit_at("a", t0 + Duration::from_secs(1)).allowed);
    }

    #[test]
    fn idle_keys_are_pruned_after_a_window() {
        let limiter = Limiter::new("5/s".parse().unwrap());
        let t0 = Instant::now();
        for i in 0..100 {
            limiter.hit_at(&format!("k{i}"), t0);
        }
        assert_eq!(limiter.tracked_keys(), 100);
        let later = t0 + Duration::from_secs(2);
        for i in 0..SHARDS * 32 {
            limiter.hit_at(&format!("fresh{i}"), later);
        }
        assert_eq!(limiter.tracked_keys(), SHARDS * 32);
    }
}
