//! Throttling of sign-in attempts, per key (account, address, device), in bounded memory.
//!
//! A fixed window per key. An attempt *reserves* a slot before the password is verified, so
//! that however many guesses arrive at once, no more than `limit` of them per window are ever
//! checked: a reservation that ends in failure stays counted, one that ends in success is
//! given back. The map never holds more than `max_keys` entries, so an attacker cycling
//! usernames cannot grow it without bound.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::model::UnixTime;

pub struct Throttle {
    limit: u32,
    window: u64,
    max_keys: usize,
    attempts: Mutex<HashMap<String, Window>>,
}

#[derive(Clone, Copy, Debug)]
struct Window {
    started: UnixTime,
    /// Failures so far plus attempts still being verified.
    count: u32,
}

/// The key has used up its attempts: try again after `retry_after` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocked {
    pub retry_after: u64,
}

impl Throttle {
    pub fn new(limit: u32, window_seconds: u64, max_keys: usize) -> Throttle {
        Throttle {
            limit,
            window: window_seconds,
            max_keys,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Window>> {
        // A panic elsewhere while holding the lock leaves plain counters behind; they are
        // still usable.
        self.attempts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts one attempt for `key`, or refuses it when the window's attempts are used up.
    /// The check and the count are one step under the lock: concurrent attempts cannot all
    /// see "one left" and all go ahead.
    pub fn reserve(&self, key: &str, now: UnixTime) -> Result<(), Blocked> {
        let mut attempts = self.lock();
        if let Some(window) = attempts.get_mut(key) {
            if now >= window.started + self.window {
                *window = Window {
                    started: now,
                    count: 0,
                };
            }
            if window.count >= self.limit {
                return Err(Blocked {
                    retry_after: (window.started + self.window).saturating_sub(now).max(1),
                });
            }
            window.count += 1;
            return Ok(());
        }
        if attempts.len() >= self.max_keys {
            let window = self.window;
            attempts.retain(|_, kept| now < kept.started + window);
            if attempts.len() >= self.max_keys {
                // Still full of live windows: forget the oldest to make room.
                if let Some(oldest) = attempts
                    .iter()
                    .min_by_key(|(_, kept)| kept.started)
                    .map(|(key, _)| key.clone())
                {
                    attempts.remove(&oldest);
                }
            }
        }
        attempts.insert(
            key.to_owned(),
            Window {
                started: now,
                count: 1,
            },
        );
        Ok(())
    }

    /// Gives back a reservation whose attempt was not a failure (it succeeded, or it was
    /// never verified).
    pub fn release(&self, key: &str) {
        if let Some(window) = self.lock().get_mut(key) {
            window.count = window.count.saturating_sub(1);
        }
    }

    /// Forgets every failure of `key`: a correct password for an account ends its lockout.
    pub fn clear(&self, key: &str) {
        self.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_count_before_the_outcome_is_known() {
        let throttle = Throttle::new(3, 60, 100);
        // Three attempts in flight at once use the window up; a fourth is refused before
        // any of the three has been verified.
        for _ in 0..3 {
            assert_eq!(throttle.reserve("a", 100), Ok(()));
        }
        assert_eq!(throttle.reserve("a", 100), Err(Blocked { retry_after: 60 }));
        // One of them succeeds and gives its slot back; the others stay counted.
        throttle.release("a");
        assert_eq!(throttle.reserve("a", 130), Ok(()));
        assert_eq!(throttle.reserve("a", 159), Err(Blocked { retry_after: 1 }));
        // A new window starts fresh.
        assert_eq!(throttle.reserve("a", 160), Ok(()));
        throttle.clear("a");
        for _ in 0..3 {
            assert_eq!(throttle.reserve("a", 160), Ok(()));
        }
    }

    #[test]
    fn stays_bounded_under_many_keys() {
        let throttle = Throttle::new(3, 60, 2);
        for key in ["a", "b", "c", "d"] {
            assert!(throttle.reserve(key, 100).is_ok());
        }
        assert!(throttle.lock().len() <= 2);
        throttle.release("unknown");
    }
}
