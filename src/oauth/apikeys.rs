//! Personal API keys: made once, shown once, exchanged at the token endpoint like a
//! refresh token that never rotates (DESIGN §1). The `kwk_` prefix lets secret scanners
//! recognise a leaked key.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::model::{random_secret, DisplayName, Id, Invalid, Scope, SecretHash, UnixTime, UserId};
use crate::store::ApiKey;

pub const PREFIX: &str = "kwk_";

/// The longest an API key may live when it has an expiry; ten years is "forever" enough.
pub const MAX_LIFETIME_SECONDS: u64 = 10 * 365 * 86_400;

/// The scope a key gets when its maker names none.
pub const DEFAULT_SCOPE: &str = "openid profile email";

/// A key as its holder sees it: `kwk_<id>.<secret>`.
pub struct ApiKeyToken {
    pub id: Id,
    pub secret: String,
}

impl ApiKeyToken {
    pub fn parse(text: &str) -> Option<ApiKeyToken> {
        let (id, secret) = text.strip_prefix(PREFIX)?.split_once('.')?;
        if secret.len() != 43 {
            return None;
        }
        Some(ApiKeyToken {
            id: Id::parse(id)?,
            secret: secret.to_owned(),
        })
    }
}

/// Makes a new key: the record to store and the token to show once.
pub fn new_api_key(
    user_id: UserId,
    name: &str,
    scope: Option<&str>,
    lifetime_seconds: Option<u64>,
    now: UnixTime,
    now_millis: u64,
) -> Result<(ApiKey, String), Invalid> {
    let name = DisplayName::parse("API key name", name)?;
    let scope = Scope::parse(
        scope
            .filter(|text| !text.trim().is_empty())
            .unwrap_or(DEFAULT_SCOPE),
    )?;
    if scope.is_empty() {
        return Err(Invalid("an API key needs at least one scope".into()));
    }
    if lifetime_seconds.is_some_and(|seconds| seconds == 0 || seconds > MAX_LIFETIME_SECONDS) {
        return Err(Invalid(
            "an API key's lifetime must be between 1 second and 10 years".into(),
        ));
    }
    let id = Id::generate(now_millis);
    let secret = random_secret();
    let api_key = ApiKey {
        id,
        user_id,
        name,
        scope,
        secret_hash: SecretHash::of(&secret),
        created_at: now,
        expires_at: lifetime_seconds.map(|seconds| now + seconds),
        last_used: None,
    };
    Ok((api_key, format!("{PREFIX}{id}.{secret}")))
}

/// "Last used" times waiting to be written: kept in memory and flushed in one commit by the
/// background task, so a key's use never costs an fsync. Bounded: past `MAX_PENDING`
/// distinct keys, further uses wait for the next flush.
#[derive(Default)]
pub struct UsageLog {
    pending: Mutex<HashMap<Id, UnixTime>>,
}

const MAX_PENDING: usize = 100_000;

impl UsageLog {
    pub fn record(&self, id: Id, now: UnixTime) {
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if pending.len() < MAX_PENDING || pending.contains_key(&id) {
            pending.insert(id, now);
        }
    }

    pub fn take(&self) -> HashMap<Id, UnixTime> {
        std::mem::take(
            &mut *self
                .pending
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_validate() {
        let user = UserId(Id::generate(1));
        let (record, token) = new_api_key(user, "ci", None, Some(60), 100, 100_000).unwrap();
        assert!(token.starts_with(PREFIX));
        let parsed = ApiKeyToken::parse(&token).unwrap();
        assert_eq!(parsed.id, record.id);
        assert!(record.secret_hash.matches(&parsed.secret));
        assert_eq!(record.expires_at, Some(160));
        assert!(new_api_key(user, "", None, None, 0, 0).is_err());
        assert!(new_api_key(user, "x", Some("bad\"scope"), None, 0, 0).is_err());
        assert!(new_api_key(user, "x", None, Some(0), 0, 0).is_err());
        assert!(ApiKeyToken::parse("kwk_nothing").is_none());
        assert!(ApiKeyToken::parse(&token[4..]).is_none());
    }
}
