//! One-time password reset links, for a user who forgot their password where there is no
//! e-mail: `keyward user reset-link U` makes one, the operator sends it, and `/reset` lets
//! its holder choose a new password once.
//!
//! A link holds nothing on the server until it is used. Its token is a sealed box (a key and
//! a purpose of its own) naming the user, a one-time id, its expiry and a fingerprint of the
//! user's password hash as it was when the link was made. So the link stops working when it
//! expires, when it has been used (its id is marked in `used_tickets`, in the same commit as
//! the new password), and when the password changed some other way (the fingerprint no
//! longer matches: argon2 hashes carry a random salt, so even the same password set again
//! ends it), and when the user is deleted.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::{Id, Password, UnixTime, User, UserId};
use crate::password;
use crate::seal::SealedBox;
use crate::store::{PasswordReset, ResetNotApplied, Store, StoreError};

/// How long a link works unless the operator says otherwise.
pub const DEFAULT_LINK_SECONDS: u64 = 24 * 3600;
/// The longest a link may work: it is a password in a message, and should not lie around.
pub const MAX_LINK_SECONDS: u64 = 7 * 86_400;
/// The path a link opens, below the issuer.
pub const RESET_PATH: &str = "/reset";

/// What the sealed token holds.
#[derive(Serialize, Deserialize)]
struct ResetClaims {
    user: Id,
    id: Id,
    expires_at: UnixTime,
    /// `fingerprint(password_hash)` when the link was made.
    password: [u8; 16],
}

/// The first 16 bytes of the SHA-256 of a stored password hash: enough to tell that it
/// changed, and, sealed inside the token, nothing an attacker can read.
fn fingerprint(password_hash: &str) -> [u8; 16] {
    let digest = Sha256::digest(password_hash.as_bytes());
    let mut bytes = [0; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes
}

/// A link just made: its token, and when it stops working.
pub struct IssuedLink {
    pub token: String,
    pub expires_at: UnixTime,
}

/// Why a link does not work. What the page says differs, nothing else does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefused {
    /// Not a token we sealed for this purpose (mistyped, cut short, altered), or its user is
    /// gone.
    Invalid,
    Expired,
    /// It was used, or the password changed since it was made.
    Used,
}

impl LinkRefused {
    pub fn title(&self) -> &'static str {
        match self {
            LinkRefused::Invalid => "This reset link is not valid",
            LinkRefused::Expired => "This reset link has expired",
            LinkRefused::Used => "This reset link was already used",
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            LinkRefused::Invalid => {
                "The link may be incomplete: check that you copied all of it. Nothing was \
                 changed. If it still does not work, ask your administrator for a new link."
            }
            LinkRefused::Expired => "Nothing was changed. Ask your administrator for a new link.",
            LinkRefused::Used => {
                "The password was changed after this link was made, with this link or \
                 otherwise. A link works only once. If you did not change it, ask your \
                 administrator for a new link."
            }
        }
    }
}

/// A link that works now, and the user whose password it resets.
pub struct ValidLink {
    pub user: User,
    claims: ResetClaims,
}

/// What became of a reset form.
pub enum ResetOutcome {
    /// The password is changed and every session of the user ended.
    Changed,
    /// The link does not work (or stopped working while the form was open).
    Refused(LinkRefused),
    /// The new password breaks a rule; the message says which. Nothing changed.
    BadPassword(String),
}

pub struct ResetLinks {
    store: Store,
    sealed: SealedBox,
}

impl ResetLinks {
    pub fn new(store: Store) -> ResetLinks {
        ResetLinks {
            sealed: SealedBox::new(store.derived_key("reset link v1"), "keyward reset link v1"),
            store,
        }
    }

    /// A new link for `user`, working for `lifetime` seconds from `now`.
    pub fn issue(&self, user: &User, lifetime: u64, now: UnixTime, now_millis: u64) -> IssuedLink {
        let expires_at = now + lifetime;
        let token = self.sealed.seal(&ResetClaims {
            user: user.id.0,
            id: Id::generate(now_millis),
            expires_at,
            password: fingerprint(&user.password_hash),
        });
        IssuedLink { token, expires_at }
    }

    /// Whether `token` works now: sealed by us, not expired, its user there with the
    /// password it was made for, and its id unused. Reads only.
    pub fn check(
        &self,
        token: &str,
        now: UnixTime,
    ) -> Result<Result<ValidLink, LinkRefused>, StoreError> {
        let Some(claims) = self.sealed.open::<ResetClaims>(token) else {
            return Ok(Err(LinkRefused::Invalid));
        };
        if now >= claims.expires_at {
            return Ok(Err(LinkRefused::Expired));
        }
        let Some(user) = self.store.user(UserId(claims.user))? else {
            return Ok(Err(LinkRefused::Invalid));
        };
        if fingerprint(&user.password_hash) != claims.password
            || self.store.ticket_used(claims.id)?
        {
            return Ok(Err(LinkRefused::Used));
        }
        Ok(Ok(ValidLink { user, claims }))
    }

    /// The reset form: the link is checked first (so a made-up token costs no argon2), then
    /// the password's rules (the CLI's), then the hash, then one write that checks the link
    /// again, sets the password, ends every session of the user and uses the link up.
    pub async fn reset(
        &self,
        token: &str,
        new_password: &str,
        now: UnixTime,
    ) -> Result<ResetOutcome, StoreError> {
        let link = match self.check(token, now)? {
            Ok(link) => link,
            Err(refused) => return Ok(ResetOutcome::Refused(refused)),
        };
        let password = match Password::parse(new_password) {
            Ok(password) => password,
            Err(invalid) => return Ok(ResetOutcome::BadPassword(invalid.0)),
        };
        let password_hash = password::hash(password)
            .await
            .map_err(|error| StoreError::Unavailable(error.to_string()))?;
        let expected = link.claims.password;
        let applied = self
            .store
            .reset_password(
                PasswordReset {
                    user_id: link.user.id,
                    link_id: link.claims.id,
                    link_expires_at: link.claims.expires_at,
                    password_hash,
                },
                move |user| fingerprint(&user.password_hash) == expected,
            )
            .await;
        match applied {
            Ok(()) => Ok(ResetOutcome::Changed),
            Err(ResetNotApplied::AlreadyUsed | ResetNotApplied::Superseded) => {
                Ok(ResetOutcome::Refused(LinkRefused::Used))
            }
            Err(ResetNotApplied::Storage(error)) => Err(error),
        }
    }
}

/// The link an operator sends: `{issuer}/reset?token=…` (the token is URL-safe base64).
pub fn link_url(issuer: &str, token: &str) -> String {
    format!("{issuer}{RESET_PATH}?token={token}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_tell_hashes_apart() {
        assert_eq!(fingerprint("$argon2id$a"), fingerprint("$argon2id$a"));
        assert_ne!(fingerprint("$argon2id$a"), fingerprint("$argon2id$b"));
    }

    #[test]
    fn refusals_have_words() {
        for refused in [
            LinkRefused::Invalid,
            LinkRefused::Expired,
            LinkRefused::Used,
        ] {
            assert!(!refused.title().is_empty());
            assert!(refused.message().contains("administrator"));
        }
    }
}
