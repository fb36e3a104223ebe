//! File descriptors: how many the process may hold, and how many HTTP connections that
//! leaves room for.
//!
//! Every connection holds a descriptor. When they run out, `accept` fails with EMFILE and
//! the server stops answering anyone, `/healthz` included, while the slow clients that took
//! them sit there. So the server raises its soft limit as far as it may, and caps its
//! connections below it, leaving room for what else it opens.

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// Descriptors kept for everything but connections: stdio, the database (and a backup or
/// a check's copy), the listeners, admin connections, and each runtime's epoll and
/// eventfd. A fixed part, and a part that grows with the limit, for whatever else a big
/// deployment opens.
const FIXED_HEADROOM: u64 = 64;

/// actix's own default for connections per worker; more than enough with a high limit.
const MAX_PER_WORKER: usize = 25_000;

/// Raises the soft RLIMIT_NOFILE to the hard limit, if it may (a seccomp filter such as the
/// packaged unit's `~@resources` forbids it; the unit sets `LimitNOFILE=` instead), and
/// returns the soft limit now in force.
pub fn raise_descriptor_limit() -> u64 {
    let limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum) {
        if current < maximum {
            let raised = setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: Some(maximum),
                    maximum: Some(maximum),
                },
            );
            if let Err(error) = raised {
                tracing::info!(%error, current, maximum, "cannot raise the descriptor limit");
            }
        }
    }
    // `None` is "unlimited", which Linux does not grant for descriptors; treat it as large.
    getrlimit(Resource::Nofile).current.unwrap_or(1 << 20)
}

/// How many connections each of `workers` may hold so that all of them together stay
/// below `descriptor_limit` with headroom to spare (actix counts `max_connections` per
/// worker).
pub fn connections_per_worker(descriptor_limit: u64, workers: usize) -> usize {
    let headroom = FIXED_HEADROOM + descriptor_limit / 16;
    let total = descriptor_limit
        .checked_sub(headroom)
        .filter(|total| *total > 0)
        // A tiny limit: half of it, and at least one connection, rather than none.
        .unwrap_or(descriptor_limit / 2)
        .max(1);
    let per_worker = (total / workers.max(1) as u64).max(1);
    usize::try_from(per_worker)
        .unwrap_or(MAX_PER_WORKER)
        .min(MAX_PER_WORKER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_stay_below_the_descriptor_limit_with_headroom() {
        for (limit, workers) in [(256, 2), (1024, 1), (1024, 2), (1024, 8), (65_536, 2)] {
            let total = connections_per_worker(limit, workers) as u64 * workers as u64;
            assert!(
                total + FIXED_HEADROOM <= limit,
                "{limit} {workers}: {total}"
            );
            assert!(total >= limit / 2, "{limit} {workers}: too few ({total})");
        }
        // The packaged unit before LimitNOFILE: 1,024 leaves 896 connections on one core.
        assert_eq!(connections_per_worker(1024, 1), 896);
        assert_eq!(connections_per_worker(16, 4), 2);
        assert_eq!(connections_per_worker(1 << 20, 2), MAX_PER_WORKER);
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let limit = raise_descriptor_limit();
        let now = getrlimit(Resource::Nofile);
        assert_eq!(Some(limit), now.current);
        // Raised as far as allowed; an environment that forbids it leaves it where it was.
        assert!(now.current <= now.maximum || now.maximum.is_none());
    }
}
