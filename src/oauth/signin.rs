//! Sign-in policy: who may try a password, how often, and what a success creates.
//!
//! - Every attempt reserves its place in the throttles *before* the password is verified
//!   (`Throttle::reserve`), so however many guesses arrive at once, at most the configured
//!   number per window is ever checked.
//! - Throttling an attacker cannot turn against a user (OWASP's "device cookie" scheme): a
//!   browser that signed in to an account before carries a sealed device cookie naming it,
//!   and for that account it is limited by its own failures only, not by the account's or
//!   the address's. Everyone else ("untrusted clients") shares the per-account and
//!   per-address limits.
//! - An unknown username costs the same argon2 verification as a known one, and fails with
//!   the same outcome, so neither the answer nor its timing tells whether an account exists.
//! - A success makes a fresh session and drops the one the browser came with (session
//!   fixation), and hands out a fresh device cookie.
//!
//! Failures and throttling are logged with the client address and a keyed hash of the
//! username, never the password or the username itself.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{random_secret, Id, Password, SecretHash, UnixTime, User, UserId, Username};
use crate::password::{self, Busy};
use crate::seal::{MacKey, SealedBox};
use crate::store::{Session, Store, StoreError};
use crate::throttle::Throttle;

/// Failed attempts per account (from untrusted clients) in one window.
pub const ACCOUNT_LIMIT: u32 = 5;
/// Failed attempts per client address in one window.
pub const ADDRESS_LIMIT: u32 = 30;
/// Failed attempts per device cookie in one window.
pub const DEVICE_LIMIT: u32 = 5;
pub const WINDOW_SECONDS: u64 = 15 * 60;
/// How long a browser is remembered as one that signed in to an account before.
pub const DEVICE_COOKIE_SECONDS: u64 = 365 * 86_400;
/// The most distinct keys each throttle remembers.
const THROTTLE_KEYS: usize = 100_000;

/// What the device cookie holds: which user this browser signed in as, and a nonce that
/// names this cookie in the device throttle.
#[derive(Serialize, Deserialize)]
struct DeviceClaims {
    user_id: UserId,
    nonce: Id,
    issued_at: UnixTime,
}

/// One sign-in attempt, as the form and the connection present it.
pub struct SignInAttempt<'a> {
    pub username: &'a str,
    pub password: String,
    /// The client's address (behind a trusted proxy, the one the proxy reports).
    pub address: IpAddr,
    /// The device cookie's value, if the browser sent one.
    pub device_cookie: Option<&'a str>,
    /// The session the browser came with, if any: ended on success.
    pub previous_session: Option<SecretHash>,
}

/// What became of an attempt.
pub enum SignInOutcome {
    /// Signed in: set these cookies and continue.
    SignedIn {
        user: User,
        session_cookie: String,
        device_cookie: String,
    },
    /// Wrong username or password: the same outcome whether or not the user exists.
    Failed,
    /// Too many failures: try again after `retry_after` seconds. Nothing was verified.
    Throttled { retry_after: u64 },
    /// The password-hash queue is full: try again in a moment. Nothing was verified.
    Busy,
}

/// What a password check came to, before anything else happens.
pub enum PasswordCheck {
    /// The password is the user's.
    Correct(User),
    /// Wrong password, or no such user: the failure counts against the throttles.
    Wrong,
    /// Too many failures: try again after `retry_after` seconds. Nothing was verified.
    Throttled { retry_after: u64 },
    /// The password-hash queue is full: try again in a moment. Nothing was verified.
    Busy,
}

/// One password to check, as `check_password` needs it.
struct PasswordAttempt<'a> {
    username: &'a str,
    password: String,
    address: IpAddr,
    device_cookie: Option<&'a str>,
    /// What the check is for, in the log lines.
    purpose: &'static str,
}

pub struct SignInService {
    store: Store,
    account: Throttle,
    address: Throttle,
    device: Throttle,
    devices: SealedBox,
    /// Keys the hash of a username in logs and throttle keys.
    log_key: MacKey,
    dummy_password_hash: String,
    session_ttl: Duration,
}

/// The key of an address in the address throttle. An IPv6 host usually holds a whole /64,
/// so counting per /128 would give one attacker billions of fresh addresses.
pub(crate) fn address_key(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let segments = v6.segments();
                let prefix = std::net::Ipv6Addr::new(
                    segments[0],
                    segments[1],
                    segments[2],
                    segments[3],
                    0,
                    0,
                    0,
                    0,
                );
                format!("{prefix}/64")
            }
        },
    }
}

/// An attempt's reservations, given back when dropped unless `kept` (a failure).
struct Unsettled<'a> {
    service: &'a SignInService,
    reserved: Reserved,
    kept: bool,
}

impl Drop for Unsettled<'_> {
    fn drop(&mut self) {
        if !self.kept {
            self.service.give_back(&self.reserved);
        }
    }
}

/// Which throttle slots an attempt holds, to settle once the password is checked.
struct Reserved {
    device: Option<String>,
    account: Option<String>,
    address: Option<String>,
}

impl SignInService {
    pub async fn new(store: Store, session_ttl: Duration) -> SignInService {
        // Verified against when a sign-in names no existing user, so that path costs the
        // same argon2 work as a real one.
        let dummy = Password::parse(&random_secret()).expect("43 characters");
        let dummy_password_hash = password::hash(dummy)
            .await
            .expect("hashing a random password succeeds");
        SignInService {
            devices: SealedBox::new(
                store.derived_key("device cookie v1"),
                "keyward device cookie v1",
            ),
            log_key: MacKey::new(store.derived_key("sign-in log v1")),
            account: Throttle::new(ACCOUNT_LIMIT, WINDOW_SECONDS, THROTTLE_KEYS),
            address: Throttle::new(ADDRESS_LIMIT, WINDOW_SECONDS, THROTTLE_KEYS),
            device: Throttle::new(DEVICE_LIMIT, WINDOW_SECONDS, THROTTLE_KEYS),
            dummy_password_hash,
            session_ttl,
            store,
        }
    }

    pub(super) fn store(&self) -> &Store {
        &self.store
    }

    /// A keyed hash of the case-folded username, short enough for a log line: the same
    /// user gives the same tag, and the tag gives nothing back.
    pub fn username_tag(&self, username: &str) -> String {
        self.log_key.tag(username.to_ascii_lowercase().as_bytes())[..8]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    pub async fn sign_in(
        &self,
        attempt: SignInAttempt<'_>,
        now: UnixTime,
    ) -> Result<SignInOutcome, StoreError> {
        let user = match Username::parse(attempt.username) {
            Ok(username) => self.store.user_by_username(&username)?,
            Err(_) => None,
        };
        let check = PasswordAttempt {
            username: attempt.username,
            password: attempt.password,
            address: attempt.address,
            device_cookie: attempt.device_cookie,
            purpose: "sign-in",
        };
        let user = match self.check_password(user, check, now).await {
            PasswordCheck::Correct(user) => user,
            PasswordCheck::Wrong => return Ok(SignInOutcome::Failed),
            PasswordCheck::Throttled { retry_after } => {
                return Ok(SignInOutcome::Throttled { retry_after })
            }
            PasswordCheck::Busy => return Ok(SignInOutcome::Busy),
        };
        let (session_cookie, device_cookie) =
            self.welcome(user.id, attempt.previous_session, now).await?;
        crate::audit!("sign_in", address = %attempt.address, user_id = %user.id, method = "password");
        Ok(SignInOutcome::SignedIn {
            user,
            session_cookie,
            device_cookie,
        })
    }

    /// A signed-in user proving their current password again (the account page's password
    /// change): the same throttles, queue and log lines as a sign-in, so a stolen session
    /// buys no more guesses than the sign-in form gives.
    pub async fn check_current_password(
        &self,
        user: &User,
        password: String,
        address: IpAddr,
        device_cookie: Option<&str>,
        now: UnixTime,
    ) -> PasswordCheck {
        let attempt = PasswordAttempt {
            username: user.username.as_str(),
            password,
            address,
            device_cookie,
            purpose: "password change",
        };
        self.check_password(Some(user.clone()), attempt, now).await
    }

    /// Reserves the attempt's throttle slots, verifies the password (against the dummy hash
    /// when there is no `user`), and settles the slots: a failure keeps them, anything else
    /// gives them back, and a success also ends the account's and the device's lockouts.
    async fn check_password(
        &self,
        user: Option<User>,
        attempt: PasswordAttempt<'_>,
        now: UnixTime,
    ) -> PasswordCheck {
        let PasswordAttempt {
            username,
            password,
            address,
            device_cookie,
            purpose,
        } = attempt;
        let tag = self.username_tag(username);
        let device = device_cookie
            .and_then(|cookie| self.devices.open::<DeviceClaims>(cookie))
            .filter(|claims| now < claims.issued_at.saturating_add(DEVICE_COOKIE_SECONDS))
            .filter(|claims| user.as_ref().is_some_and(|user| user.id == claims.user_id));
        let reserved = match self.reserve(device.as_ref(), &tag, address, now) {
            // Given back unless settled as a failure: a browser that goes away mid-check
            // (its request future dropped) learns nothing, so it must cost nothing either.
            Ok(reserved) => Unsettled {
                service: self,
                reserved,
                kept: false,
            },
            Err(retry_after) => {
                crate::audit!(
                    "sign_in_throttled",
                    address = %address, user = %tag, purpose, retry_after
                );
                return PasswordCheck::Throttled { retry_after };
            }
        };
        let known = user.is_some();
        // A user without a password (made through an upstream) costs the same argon2 work
        // as anyone else, and never verifies.
        let (stored_hash, user) = match user {
            Some(user) if user.has_password() => (user.password_hash.clone(), Some(user)),
            Some(_) | None => (self.dummy_password_hash.clone(), None),
        };
        let verified = match password::verify(stored_hash, password).await {
            Ok(verified) => verified,
            Err(Busy) => {
                tracing::warn!(
                    address = %address, user = %tag, reason = "busy", purpose,
                    "sign-in refused"
                );
                return PasswordCheck::Busy;
            }
        };
        let Some(user) = user.filter(|_| verified) else {
            // The reservations stay: they are the failures that count.
            let mut reserved = reserved;
            reserved.kept = true;
            let reason = if known {
                "wrong_password"
            } else {
                "unknown_user"
            };
            crate::audit!("sign_in_failed", address = %address, user = %tag, reason, purpose);
            return PasswordCheck::Wrong;
        };
        // A success gives the address's slot back (by dropping the guard) and ends the
        // account's and the device's lockouts.
        for (throttle, key) in [
            (&self.account, &reserved.reserved.account),
            (&self.device, &reserved.reserved.device),
        ] {
            if let Some(key) = key {
                throttle.clear(key);
            }
        }
        drop(reserved);
        PasswordCheck::Correct(user)
    }

    /// What a browser gets once it is known to be `user_id`'s, after a password sign-in or a
    /// sign-up alike: a fresh session in place of the one it came with, and a fresh device
    /// cookie for the account. Returns (session cookie, device cookie).
    pub(super) async fn welcome(
        &self,
        user_id: UserId,
        previous_session: Option<SecretHash>,
        now: UnixTime,
    ) -> Result<(String, String), StoreError> {
        let session_cookie = self
            .establish_session(user_id, previous_session, now)
            .await?;
        let device_cookie = self.devices.seal(&DeviceClaims {
            user_id,
            nonce: Id::generate(crate::clock::now_millis()),
            issued_at: now,
        });
        Ok((session_cookie, device_cookie))
    }

    /// Counts one attempt against the client address's limit, for good: sign-ups share the
    /// address throttle with failed sign-ins, and every sign-up counts, made or refused, so
    /// one address can neither make accounts nor probe usernames quickly. `Err` is the wait
    /// in seconds.
    pub(super) fn reserve_address(&self, address: IpAddr, now: UnixTime) -> Result<(), u64> {
        self.address
            .reserve(&address_key(address), now)
            .map_err(|blocked| blocked.retry_after)
    }

    /// Takes the attempt's throttle slots: a device with a valid cookie for this account
    /// answers to its own limit alone; anyone else to the address's and the account's.
    /// `Err` is the wait, in seconds, when a limit is used up; nothing stays reserved then.
    fn reserve(
        &self,
        device: Option<&DeviceClaims>,
        tag: &str,
        address: IpAddr,
        now: UnixTime,
    ) -> Result<Reserved, u64> {
        if let Some(device) = device {
            let key = device.nonce.to_string();
            self.device
                .reserve(&key, now)
                .map_err(|blocked| blocked.retry_after)?;
            return Ok(Reserved {
                device: Some(key),
                account: None,
                address: None,
            });
        }
        let address_key = address_key(address);
        self.address
            .reserve(&address_key, now)
            .map_err(|blocked| blocked.retry_after)?;
        if let Err(blocked) = self.account.reserve(tag, now) {
            self.address.release(&address_key);
            return Err(blocked.retry_after);
        }
        Ok(Reserved {
            device: None,
            account: Some(tag.to_owned()),
            address: Some(address_key),
        })
    }

    fn give_back(&self, reserved: &Reserved) {
        for (throttle, key) in [
            (&self.device, &reserved.device),
            (&self.account, &reserved.account),
            (&self.address, &reserved.address),
        ] {
            if let Some(key) = key {
                throttle.release(key);
            }
        }
    }

    /// A new session for `user`, replacing `previous` in the same durable write. Returns the
    /// cookie value; only its hash is stored.
    async fn establish_session(
        &self,
        user_id: UserId,
        previous: Option<SecretHash>,
        now: UnixTime,
    ) -> Result<String, StoreError> {
        let cookie_value = random_secret();
        let session = Session {
            user_id,
            auth_time: now,
            expires_at: now + self.session_ttl.as_secs(),
        };
        self.store
            .replace_session(previous, SecretHash::of(&cookie_value), session)
            .await?;
        Ok(cookie_value)
    }
}
