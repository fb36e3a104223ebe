//! Human passwords: argon2id, on a pool never wider than the machine.
//!
//! argon2 is deliberately slow and memory-hungry; run unbounded, a burst of sign-ins would
//! queue hundreds of hashes on a 1-vCPU box. A semaphore sized to the core count keeps at
//! most that many in flight; the rest wait their turn. The queue of sign-in verifications
//! is bounded too: past `MAX_QUEUED_PER_CORE` per core a verification is refused at once
//! (`Busy`), so a flood sheds load instead of growing memory and latency without end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use tokio::sync::Semaphore;

use crate::model::Password;

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| cores.get())
}

fn pool() -> &'static Semaphore {
    static POOL: OnceLock<Semaphore> = OnceLock::new();
    POOL.get_or_init(|| Semaphore::new(cores()))
}

/// Verifications waiting or running, per core, before further ones are refused. At about
/// 40 ms per argon2id verification, eight per core is a third of a second of queue.
const MAX_QUEUED_PER_CORE: usize = 8;

static QUEUED: AtomicUsize = AtomicUsize::new(0);

/// The password hash queue is full: nothing was verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// A place in the bounded verification queue, given back when dropped.
struct QueuePlace;

impl QueuePlace {
    fn take() -> Result<QueuePlace, Busy> {
        let limit = cores() * MAX_QUEUED_PER_CORE;
        QUEUED
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                (queued < limit).then_some(queued + 1)
            })
            .map(|_| QueuePlace)
            .map_err(|_| Busy)
    }
}

impl Drop for QueuePlace {
    fn drop(&mut self) {
        QUEUED.fetch_sub(1, Ordering::AcqRel);
    }
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Runs `work` on the blocking pool once a permit is free. The permit (and the queue
/// place, if any) go into the blocking task: a caller that goes away (a client that
/// disconnects mid-sign-in) drops its future, but the hash runs on, and must keep counting
/// against the limit until it ends.
async fn on_pool<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
    place: Option<QueuePlace>,
) -> T {
    let permit = pool().acquire().await.expect("the pool is never closed");
    tokio::task::spawn_blocking(move || {
        let _held = (permit, place);
        work()
    })
    .await
    .expect("argon2 does not panic")
}

/// Hashes with argon2id and its default (OWASP-recommended) parameters and a random salt.
pub async fn hash(password: Password) -> Result<String, HashError> {
    on_pool(
        move || {
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            Argon2::default()
                .hash_password(password.expose().as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|error| HashError(error.to_string()))
        },
        None,
    )
    .await
}

/// Whether `verify` can check a password against `stored_hash` at all (a PHC string).
pub fn is_usable_hash(stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash).is_ok()
}

/// Checks a password against a stored PHC string. A malformed stored hash never verifies.
/// `Busy` when the queue in front of the hash is full.
pub async fn verify(stored_hash: String, password: String) -> Result<bool, Busy> {
    let place = QueuePlace::take()?;
    let verified = on_pool(
        move || {
            PasswordHash::new(&stored_hash).is_ok_and(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
        },
        Some(place),
    )
    .await;
    Ok(verified)
}
