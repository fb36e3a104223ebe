//! Open sign-up (`serve --signup open`): a visitor makes their own account, and is signed in
//! with it at once.
//!
//! - Every sign-up counts against the client address's throttle, the one failed sign-ins
//!   count against (`SignInService::reserve_address`), made or refused, and is never given
//!   back: one address can neither make accounts nor probe which usernames are taken faster
//!   than `signin::ADDRESS_LIMIT` per `signin::WINDOW_SECONDS`.
//! - The account is made by the operator's own `user create` (its rules for the username, the
//!   password and the e-mail, its case-blind uniqueness check inside the write), handed in by
//!   the caller as `create`: this module decides when, `admin/` knows how. Nobody vouches
//!   for an e-mail typed here, so it is stored unverified.
//! - A new account gets exactly what a password sign-in gets: a fresh session in place of
//!   the one the browser came with, and a device cookie (`SignInService::welcome`).
//!
//! Refusals are logged with the client address and a keyed hash of the username, never the
//! password or the username itself.

use std::future::Future;
use std::net::IpAddr;

use super::signin::SignInService;
use crate::model::{SecretHash, UnixTime, User};
use crate::store::StoreError;

/// One sign-up form, as the form and the connection present it.
pub struct SignUpAttempt<'a> {
    pub username: &'a str,
    pub password: String,
    /// `None` when the field was left empty.
    pub email: Option<&'a str>,
    /// The client's address (behind a trusted proxy, the one the proxy reports).
    pub address: IpAddr,
    /// The session the browser came with, if any: ended on success.
    pub previous_session: Option<SecretHash>,
}

/// The account to make, as typed: `create` checks every field by the CLI's rules.
pub struct NewAccount {
    pub username: String,
    pub password: String,
    pub email: Option<String>,
}

/// Why `create` made no account. Nothing was written.
#[derive(Debug)]
pub enum AccountNotCreated {
    /// A field breaks a rule; the sentence says which (as `user create` says it).
    Invalid(String),
    /// The username is taken, in any case.
    UsernameTaken,
    /// The invitation (`--signup invite`) is unknown, revoked, expired, used up or altered.
    InviteNotValid,
    Storage(StoreError),
}

/// What became of a sign-up.
pub enum SignUpOutcome {
    /// The account exists (durably) and the browser is signed in: set these cookies.
    SignedUp {
        user: User,
        session_cookie: String,
        device_cookie: String,
    },
    /// A field breaks a rule: the sentence says which. Nothing was created.
    Invalid(String),
    /// The username is taken. Nothing was created.
    UsernameTaken,
    /// The invitation no longer admits a sign-up (used up meanwhile, say). Nothing was
    /// created.
    InviteNotValid,
    /// Too many attempts from this address: try again after `retry_after` seconds. Nothing
    /// was checked or created.
    Throttled { retry_after: u64 },
}

impl SignInService {
    /// A sign-up: the address throttle first, then `create` (the operator's `user create`),
    /// then the new user's session.
    pub async fn sign_up<F, Fut>(
        &self,
        attempt: SignUpAttempt<'_>,
        now: UnixTime,
        create: F,
    ) -> Result<SignUpOutcome, StoreError>
    where
        F: FnOnce(NewAccount) -> Fut,
        Fut: Future<Output = Result<User, AccountNotCreated>>,
    {
        let tag = self.username_tag(attempt.username);
        if let Err(retry_after) = self.reserve_address(attempt.address, now) {
            crate::audit!(
                "sign_up_throttled",
                address = %attempt.address, user = %tag, retry_after
            );
            return Ok(SignUpOutcome::Throttled { retry_after });
        }
        let account = NewAccount {
            username: attempt.username.to_owned(),
            password: attempt.password,
            email: attempt.email.map(str::to_owned),
        };
        let user = match create(account).await {
            Ok(user) => user,
            Err(AccountNotCreated::Invalid(message)) => {
                tracing::info!(
                    address = %attempt.address, user = %tag, reason = "invalid",
                    "sign-up refused"
                );
                return Ok(SignUpOutcome::Invalid(message));
            }
            Err(AccountNotCreated::UsernameTaken) => {
                tracing::info!(
                    address = %attempt.address, user = %tag, reason = "username_taken",
                    "sign-up refused"
                );
                return Ok(SignUpOutcome::UsernameTaken);
            }
            Err(AccountNotCreated::InviteNotValid) => {
                tracing::info!(
                    address = %attempt.address, user = %tag, reason = "invite_not_valid",
                    "sign-up refused"
                );
                return Ok(SignUpOutcome::InviteNotValid);
            }
            Err(AccountNotCreated::Storage(error)) => return Err(error),
        };
        let (session_cookie, device_cookie) =
            self.welcome(user.id, attempt.previous_session, now).await?;
        crate::audit!("sign_up", address = %attempt.address, user_id = %user.id);
        Ok(SignUpOutcome::SignedUp {
            user,
            session_cookie,
            device_cookie,
        })
    }
}
