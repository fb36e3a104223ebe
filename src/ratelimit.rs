//! Request rate limits for the token, introspection and revocation endpoints (`serve
//! --rate-limit-address`, `--rate-limit-client`): a fixed window per key, counted in
//! bounded memory, on the hot path. Keys are 128-bit numbers (an address, a client id), so
//! a check formats nothing; the map is split in shards so that workers rarely wait on one
//! another's lock; a shard that fills up drops its ended windows, then, if that is not
//! enough, starts over (a burst of fresh keys cannot grow it without bound).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use crate::model::UnixTime;

const SHARDS: usize = 16;
/// Keys per shard: 16 × 16 384 windows of 32 bytes, about 8 MiB at most.
const MAX_PER_SHARD: usize = 16_384;

/// `N/DURATION`: at most `count` requests per `window` seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub count: u32,
    pub window: u64,
}

impl Limit {
    /// Parses `600/1m`, `5000/10s`; `off` is no limit (`None`).
    pub fn parse(text: &str) -> Result<Option<Limit>, String> {
        let text = text.trim();
        if text == "off" {
            return Ok(None);
        }
        let (count, window) = text.split_once('/').ok_or_else(|| {
            format!("'{text}' is not a rate limit: write N/DURATION (like 1000/10s), or off")
        })?;
        let count: u32 = count
            .trim()
            .parse()
            .ok()
            .filter(|count| *count > 0)
            .ok_or_else(|| {
                format!("'{text}': the number of requests must be a whole number above 0")
            })?;
        let window = crate::config::parse_duration(window)?;
        if window > Duration::from_secs(86_400) {
            return Err(format!("'{text}': the window may be at most a day"));
        }
        Ok(Some(Limit {
            count,
            window: window.as_secs(),
        }))
    }
}

/// A `--rate-limit-*` flag as given: a limit, or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitSetting(pub Option<Limit>);

impl LimitSetting {
    pub fn parse(text: &str) -> Result<LimitSetting, String> {
        Limit::parse(text).map(LimitSetting)
    }
}

#[derive(Clone, Copy)]
struct Window {
    started: UnixTime,
    count: u32,
}

/// One limit over many keys.
pub struct RateLimiter {
    limit: Option<Limit>,
    shards: Vec<Mutex<HashMap<u128, Window>>>,
}

impl RateLimiter {
    pub fn new(limit: Option<Limit>) -> RateLimiter {
        RateLimiter {
            limit,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    /// Counts one request for `key`, or answers in how many seconds the window ends when
    /// this one would go past the limit (a refused request is not counted).
    pub fn admit(&self, key: u128, now: UnixTime) -> Result<(), u64> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        // The low bits of an id are random and those of an address vary most: mixed with
        // the high ones, they pick the shard.
        let shard = ((key ^ (key >> 64)) as usize) % SHARDS;
        let mut windows = self.shards[shard]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() >= MAX_PER_SHARD && !windows.contains_key(&key) {
            windows.retain(|_, window| now < window.started + limit.window);
            if windows.len() >= MAX_PER_SHARD {
                windows.clear();
            }
        }
        let window = windows.entry(key).or_insert(Window {
            started: now,
            count: 0,
        });
        if now >= window.started + limit.window {
            *window = Window {
                started: now,
                count: 0,
            };
        }
        if window.count >= limit.count {
            return Err((window.started + limit.window - now).max(1));
        }
        window.count += 1;
        Ok(())
    }
}

/// The key of a client address: an IPv4 address (also when mapped into IPv6), or an IPv6
/// /64, since one host usually holds a whole /64.
pub fn address_key(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => u128::from(u32::from(v4)),
            None => (u128::from(v6) >> 64 << 64) | (1 << 32),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_admits_its_count_then_says_when_it_ends() {
        let limiter = RateLimiter::new(Some(Limit {
            count: 3,
            window: 10,
        }));
        for _ in 0..3 {
            assert_eq!(limiter.admit(7, 100), Ok(()));
        }
        assert_eq!(limiter.admit(7, 100), Err(10));
        assert_eq!(limiter.admit(7, 105), Err(5));
        assert_eq!(limiter.admit(8, 105), Ok(()), "another key is not affected");
        assert_eq!(limiter.admit(7, 110), Ok(()), "a new window");
        assert_eq!(RateLimiter::new(None).admit(7, 0), Ok(()));
    }

    #[test]
    fn memory_stays_bounded_under_fresh_keys() {
        let limiter = RateLimiter::new(Some(Limit {
            count: 1,
            window: 60,
        }));
        for key in 0..(SHARDS * MAX_PER_SHARD * 2) as u128 {
            let _ = limiter.admit(key, 0);
        }
        let held: usize = limiter
            .shards
            .iter()
            .map(|shard| shard.lock().unwrap().len())
            .sum();
        assert!(held <= SHARDS * MAX_PER_SHARD);
    }

    #[test]
    fn limits_parse_and_bad_ones_say_why() {
        assert_eq!(
            Limit::parse("1000/10s"),
            Ok(Some(Limit {
                count: 1000,
                window: 10
            }))
        );
        assert_eq!(Limit::parse("off"), Ok(None));
        for bad in [
            "1000", "0/10s", "x/10s", "10/0s", "10/soon", "10/2d", "-1/10s",
        ] {
            assert!(Limit::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses_of_one_ipv6_64_share_a_key() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let v4: IpAddr = "203.0.113.5".parse().unwrap();
        let mapped: IpAddr = "::ffff:203.0.113.5".parse().unwrap();
        assert_eq!(address_key(v4), address_key(mapped));
    }
}
