//! What a finished upstream flow (`upstream::flow`) does to accounts. Accounts are keyed by
//! (upstream, subject) alone:
//!
//! - An identity linked to a user signs in as that user, with exactly what a password
//!   sign-in gives (`SignInService::welcome`: a fresh session in place of the browser's, a
//!   device cookie).
//! - An identity linked to nobody creates a user only under the upstream's
//!   `--create-users` (a username derived from the profile and made unique in the same
//!   write, the e-mail kept only when the upstream vouches for it); otherwise it is refused.
//!   Nothing here ever looks a user up by e-mail or username: an upstream account that
//!   claims someone's address or name gets its own account, or none.
//! - A link started from `/account` links to the user who started it, only from a session
//!   that signed in within `LINK_AFTER_SIGN_IN_SECONDS`, and only while that session is live
//!   and no other user is signed in in this browser.

use super::signin::SignInService;
use crate::model::{DisplayName, Email, Id, SecretHash, UnixTime, User, UserId, Username};
use crate::store::{IdentityNotLinked, StoreError, UpstreamUserNotInserted};
use crate::upstream::flow::{Finished, Intent, Profile};
use crate::upstream::Upstream;

/// How recent a sign-in linking a new way to sign in wants.
pub const LINK_AFTER_SIGN_IN_SECONDS: u64 = 15 * 60;

/// Whether a session that signed in at `auth_time` may start linking: a stolen session must
/// not add a lasting way in, so a live session is not enough, a recent sign-in is.
pub fn may_link(auth_time: UnixTime, now: UnixTime) -> bool {
    now.saturating_sub(auth_time) <= LINK_AFTER_SIGN_IN_SECONDS
}

/// What a finished flow came to.
pub enum UpstreamOutcome {
    /// Signed in (`created`: as a user made just now): set these cookies, go to
    /// `return_to`.
    SignedIn {
        user_id: UserId,
        created: bool,
        session_cookie: String,
        device_cookie: String,
        return_to: String,
    },
    /// The identity is now linked to the signed-in user.
    Linked,
    /// No user has this identity, and the upstream does not create users.
    NotKnown,
    /// Link: the identity signs in to another user.
    LinkedElsewhere,
    /// Link: the user has an identity at this upstream already.
    AlreadyHasOne,
    /// Link: the browser is no longer signed in as the user who started the link.
    SessionChanged,
}

impl SignInService {
    /// `current` is the user signed in in this browser now, if any; `previous_session` the
    /// session cookie the browser came with (ended on a sign-in).
    pub async fn finish_upstream(
        &self,
        upstream: &Upstream,
        finished: Finished,
        current: Option<UserId>,
        previous_session: Option<SecretHash>,
        now: UnixTime,
    ) -> Result<UpstreamOutcome, StoreError> {
        let store = self.store();
        let subject = finished.profile.subject.clone();
        if let Intent::Link {
            user: user_id,
            session,
        } = finished.intent
        {
            // The session that started the link must still be live, and nobody else signed
            // in in this browser since. The browser's session cookie itself may be gone: a
            // server on another port of the same host (the upstream, in tests) can
            // overwrite it mid-flow, since cookies ignore ports.
            let starter_live = store
                .session(&SecretHash::from_bytes(session), now)?
                .is_some_and(|live| live.user_id == user_id);
            if !starter_live || current.is_some_and(|current| current != user_id) {
                return Ok(UpstreamOutcome::SessionChanged);
            }
            return Ok(
                match store
                    .link_identity(upstream.name.clone(), subject, user_id, now)
                    .await
                {
                    Ok(()) => {
                        tracing::info!(upstream = %upstream.name, user_id = %user_id, "identity linked");
                        UpstreamOutcome::Linked
                    }
                    Err(IdentityNotLinked::LinkedElsewhere) => UpstreamOutcome::LinkedElsewhere,
                    Err(IdentityNotLinked::UserHasOne) => UpstreamOutcome::AlreadyHasOne,
                    Err(IdentityNotLinked::NoSuchUser) => UpstreamOutcome::SessionChanged,
                    Err(IdentityNotLinked::NoSuchUpstream) => UpstreamOutcome::NotKnown,
                    Err(IdentityNotLinked::Storage(error)) => return Err(error),
                },
            );
        }
        let (user_id, created) = match store.identity_user(&upstream.name, &subject)? {
            Some(user_id) => (user_id, false),
            None if upstream.create_users => {
                let user = new_user(&finished.profile, now);
                match store
                    .insert_upstream_user(
                        user,
                        username_candidates(&finished.profile),
                        upstream.name.clone(),
                        subject,
                        now,
                    )
                    .await
                {
                    Ok(user) => (user.id, true),
                    Err(UpstreamUserNotInserted::Linked(user_id)) => (user_id, false),
                    Err(UpstreamUserNotInserted::NoSuchUpstream) => {
                        return Ok(UpstreamOutcome::NotKnown)
                    }
                    Err(UpstreamUserNotInserted::NoUsernameFree) => {
                        return Err(StoreError::Corrupt(
                            "no free username among the random candidates".into(),
                        ))
                    }
                    Err(UpstreamUserNotInserted::Storage(error)) => return Err(error),
                }
            }
            None => {
                tracing::info!(upstream = %upstream.name, reason = "unknown_identity", "sign-in refused");
                return Ok(UpstreamOutcome::NotKnown);
            }
        };
        let (session_cookie, device_cookie) = self.welcome(user_id, previous_session, now).await?;
        crate::audit!("sign_in", user_id = %user_id, method = "upstream", upstream = %upstream.name, created);
        Ok(UpstreamOutcome::SignedIn {
            user_id,
            created,
            session_cookie,
            device_cookie,
            return_to: finished.return_to,
        })
    }
}

/// The user a first sign-in makes: no password (`User::has_password` is false until one is
/// set), the name as given, the e-mail only when the upstream vouches for it.
fn new_user(profile: &Profile, now: UnixTime) -> User {
    let email = profile
        .email
        .as_deref()
        .filter(|_| profile.email_verified)
        .and_then(|email| Email::parse(email).ok());
    User {
        id: UserId(Id::generate(crate::clock::now_millis())),
        // Replaced by the first free candidate inside the write.
        username: Username::from_stored(String::new()),
        email_verified: email.is_some(),
        email,
        name: profile
            .name
            .as_deref()
            .and_then(|name| DisplayName::parse("name", name).ok()),
        password_hash: String::new(),
        created_at: now,
        updated_at: now,
        developer: false,
    }
}

/// Usernames a first sign-in never derives (the operator may still give them with `user
/// create`).
const RESERVED: [&str; 18] = [
    "abuse",
    "admin",
    "administrator",
    "help",
    "hostmaster",
    "info",
    "keyward",
    "moderator",
    "no-reply",
    "noreply",
    "operator",
    "postmaster",
    "root",
    "security",
    "staff",
    "support",
    "system",
    "webmaster",
];

/// Usernames to try, in order: the profile's username (else its name, else "user") cut to
/// the characters usernames allow (a reserved name becomes "user"), then with 2 to 9
/// appended, then with random suffixes.
/// Uniqueness is decided in the write; this only proposes.
fn username_candidates(profile: &Profile) -> Vec<Username> {
    let source = profile
        .username
        .as_deref()
        .or(profile.name.as_deref())
        .unwrap_or("");
    let mut base: String = source
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    // No leading or trailing punctuation, no runs of '-' from replaced characters.
    while base.contains("--") {
        base = base.replace("--", "-");
    }
    let mut base = base
        .trim_matches(|c: char| matches!(c, '.' | '_' | '-'))
        .to_owned();
    base.truncate(48);
    // A name people read as the platform's own is not handed to whoever picks it upstream.
    if base.is_empty() || RESERVED.contains(&base.to_ascii_lowercase().as_str()) {
        base = "user".to_owned();
    }
    let mut names = vec![base.clone()];
    names.extend((2..=9).map(|n| format!("{base}{n}")));
    names.extend((0..8).map(|_| {
        let suffix: String = crate::model::random_secret()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(6)
            .collect();
        format!("{base}-{}", suffix.to_ascii_lowercase())
    }));
    names
        .into_iter()
        .filter_map(|name| Username::parse(&name).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(username: Option<&str>, name: Option<&str>) -> Profile {
        Profile {
            subject: "1".into(),
            username: username.map(str::to_owned),
            name: name.map(str::to_owned),
            email: Some("a@example.com".into()),
            email_verified: false,
        }
    }

    #[test]
    fn candidates_are_valid_usernames_from_the_profile() {
        let names = |p: Profile| -> Vec<String> {
            username_candidates(&p)
                .into_iter()
                .map(|u| u.as_str().to_owned())
                .collect()
        };
        let plain = names(profile(Some("nelly"), None));
        assert_eq!(plain[0], "nelly");
        assert_eq!(plain[1], "nelly2");
        assert_eq!(plain.len(), 17);
        assert!(plain[10].starts_with("nelly-"));
        assert_eq!(
            names(profile(None, Some("Ada Lovelace")))[0],
            "Ada-Lovelace"
        );
        assert_eq!(names(profile(Some("..ünï cødé!!"), None))[0], "n-c-d");
        assert_eq!(names(profile(None, None))[0], "user");
        assert_eq!(names(profile(Some("???"), None))[0], "user");
        assert_eq!(names(profile(Some("Admin"), None))[0], "user");
        assert_eq!(names(profile(Some("root"), None))[1], "user2");
        assert_eq!(names(profile(Some("admin2"), None))[0], "admin2");
        assert!(names(profile(Some(&"x".repeat(300)), None))
            .iter()
            .all(|name| name.len() <= Username::MAX_CHARS));
    }

    #[test]
    fn linking_wants_a_sign_in_of_the_last_fifteen_minutes() {
        assert!(may_link(1_000, 1_000));
        assert!(may_link(1_000, 1_000 + 15 * 60));
        assert!(!may_link(1_000, 1_000 + 15 * 60 + 1));
        // A clock that went back is no reason to refuse.
        assert!(may_link(2_000, 1_000));
    }

    #[test]
    fn an_unverified_email_is_not_kept() {
        let user = new_user(&profile(Some("a"), None), 5);
        assert_eq!(user.email, None);
        assert!(!user.email_verified);
        assert!(!user.has_password());
        let mut verified = profile(Some("a"), Some("  "));
        verified.email_verified = true;
        let user = new_user(&verified, 5);
        assert_eq!(user.email.unwrap().as_str(), "a@example.com");
        assert!(user.email_verified);
        assert_eq!(user.name, None);
    }
}
