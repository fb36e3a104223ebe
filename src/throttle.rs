//! Throttling of failed sign-ins, per account and per address, in bounded memory.
//!
//! A fixed window per key: after `limit` failures within `window` seconds, further attempts
//! on that key are refused until the window ends. The map never holds more than
//! `max_keys` entries, so an attacker cycling usernames cannot grow it without bound.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::model::UnixTime;

pub struct Throttle {
    limit: u32,
    window: u64,
    max_keys: usize,
    failures: Mutex<HashMap<String, (UnixTime, u32)>>,
}

impl Throttle {
    pub fn new(limit: u32, window_seconds: u64, max_keys: usize) -> Throttle {
        Throttle {
            limit,
            window: window_seconds,
            max_keys,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (UnixTime, u32)>> {
        // A panic elsewhere while holding the lock leaves plain counters behind; they are
        // still usable.
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether `key` has used up its failures in the current window.
    pub fn blocked(&self, key: &str, now: UnixTime) -> bool {
        self.lock()
            .get(key)
            .is_some_and(|(started, count)| now < started + self.window && *count >= self.limit)
    }

    pub fn record_failure(&self, key: &str, now: UnixTime) {
        let mut failures = self.lock();
        if failures.len() >= self.max_keys && !failures.contains_key(key) {
            let window = self.window;
            failures.retain(|_, (started, _)| now < *started + window);
            if failures.len() >= self.max_keys {
                // Still full of live windows: forget the oldest to make room.
                if let Some(oldest) = failures
                    .iter()
                    .min_by_key(|(_, (started, _))| *started)
                    .map(|(key, _)| key.clone())
                {
                    failures.remove(&oldest);
                }
            }
        }
        let entry = failures.entry(key.to_owned()).or_insert((now, 0));
        if now >= entry.0 + self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }

    pub fn clear(&self, key: &str) {
        self.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_limit_within_window_and_stays_bounded() {
        let throttle = Throttle::new(3, 60, 2);
        for _ in 0..3 {
            assert!(!throttle.blocked("a", 100));
            throttle.record_failure("a", 100);
        }
        assert!(throttle.blocked("a", 159));
        assert!(!throttle.blocked("a", 160));
        throttle.record_failure("b", 100);
        throttle.record_failure("c", 100);
        assert!(throttle.lock().len() <= 2);
        throttle.clear("c");
        assert!(!throttle.blocked("c", 100));
    }
}
