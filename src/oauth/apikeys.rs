//! Personal API keys: made once, shown once, exchanged at the token endpoint like a
//! refresh token that never rotates (README.md, "Endpoints"). The `kwk_` prefix lets secret scanners
//! recognise a leaked key.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::model::{
    random_secret, DisplayName, Id, Invalid, Scope, ScopeToken, SecretHash, UnixTime, UserId,
};
use crate::store::{ApiKey, Store, StoreError};

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

/// Why a key cannot be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRefused {
    /// The name, scope or lifetime is malformed; the sentence says which.
    Invalid(Invalid),
    /// Neither a default scope nor one the operator lets API keys carry. A key acts for its
    /// user without any client's limits, so only what the operator chose may go on one.
    ScopeNotAllowed(ScopeToken),
}

impl KeyRefused {
    /// One sentence for the operator or the user.
    pub fn message(&self) -> String {
        match self {
            KeyRefused::Invalid(invalid) => invalid.0.clone(),
            KeyRefused::ScopeNotAllowed(scope) => format!(
                "scope '{scope}' is not allowed for API keys: a key may carry {DEFAULT_SCOPE} \
                 and the scopes an operator allows with 'keyward scope set {scope} \
                 --description TEXT --api-keys'",
                scope = scope.as_str()
            ),
        }
    }
}

impl From<Invalid> for KeyRefused {
    fn from(invalid: Invalid) -> KeyRefused {
        KeyRefused::Invalid(invalid)
    }
}

/// A key made and checked, not yet stored.
pub struct NewApiKey {
    pub record: ApiKey,
    /// `kwk_<id>.<secret>`, shown once.
    pub token: String,
    /// Its scopes beyond the default: the store checks again, in the write, that API keys
    /// may still carry them.
    pub needs_api_keys: Vec<ScopeToken>,
}

/// Makes a new key. `allowed_for_keys` names the scopes the operator lets API keys carry
/// besides `DEFAULT_SCOPE`; any other scope is refused.
pub fn new_api_key(
    user_id: UserId,
    name: &str,
    scope: Option<&str>,
    lifetime_seconds: Option<u64>,
    allowed_for_keys: &[String],
    now: UnixTime,
    now_millis: u64,
) -> Result<NewApiKey, KeyRefused> {
    let name = DisplayName::parse("API key name", name)?;
    let scope = Scope::parse(
        scope
            .filter(|text| !text.trim().is_empty())
            .unwrap_or(DEFAULT_SCOPE),
    )?;
    if scope.is_empty() {
        return Err(Invalid("an API key needs at least one scope".into()).into());
    }
    if lifetime_seconds.is_some_and(|seconds| seconds == 0 || seconds > MAX_LIFETIME_SECONDS) {
        return Err(
            Invalid("an API key's lifetime must be between 1 second and 10 years".into()).into(),
        );
    }
    let default = Scope::parse(DEFAULT_SCOPE).expect("the default scope parses");
    let mut needs_api_keys = Vec::new();
    for token in scope.tokens() {
        if default.contains(token.as_str()) {
            continue;
        }
        if !allowed_for_keys
            .iter()
            .any(|allowed| allowed == token.as_str())
        {
            return Err(KeyRefused::ScopeNotAllowed(token.clone()));
        }
        needs_api_keys.push(token.clone());
    }
    let id = Id::generate(now_millis);
    let secret = random_secret();
    let record = ApiKey {
        id,
        user_id,
        name,
        scope,
        secret_hash: SecretHash::of(&secret),
        created_at: now,
        expires_at: lifetime_seconds.map(|seconds| now + seconds),
        last_used: None,
    };
    Ok(NewApiKey {
        record,
        token: format!("{PREFIX}{id}.{secret}"),
        needs_api_keys,
    })
}

/// Makes and checks a new personal API key for `user_id`, reading which scopes the
/// operator lets API keys carry: the one implementation behind `apikey create` (directly or
/// through the admin socket) and the account page. The caller stores it
/// (`Store::insert_api_key`, which checks the scopes again in the write).
/// Why `plan` made no key.
#[derive(Debug)]
pub enum KeyNotPlanned {
    Refused(KeyRefused),
    Storage(StoreError),
}

impl From<StoreError> for KeyNotPlanned {
    fn from(error: StoreError) -> KeyNotPlanned {
        KeyNotPlanned::Storage(error)
    }
}

pub fn plan(
    store: &Store,
    user_id: UserId,
    name: &str,
    scope: Option<&str>,
    expires_in: Option<u64>,
    now: UnixTime,
    now_millis: u64,
) -> Result<NewApiKey, KeyNotPlanned> {
    let allowed: Vec<String> = store
        .scopes()?
        .into_iter()
        .filter(|(_, settings)| settings.api_keys)
        .map(|(name, _)| name)
        .collect();
    new_api_key(user_id, name, scope, expires_in, &allowed, now, now_millis)
        .map_err(KeyNotPlanned::Refused)
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
        let new = new_api_key(user, "ci", None, Some(60), &[], 100, 100_000).unwrap();
        let (record, token) = (new.record, new.token);
        assert!(token.starts_with(PREFIX));
        let parsed = ApiKeyToken::parse(&token).unwrap();
        assert_eq!(parsed.id, record.id);
        assert!(record.secret_hash.matches(&parsed.secret));
        assert_eq!(record.expires_at, Some(160));
        assert_eq!(record.scope.to_string(), "email openid profile");
        let refused = |name, scope, lifetime| new_api_key(user, name, scope, lifetime, &[], 0, 0);
        assert!(refused("", None, None).is_err());
        assert!(refused("x", Some("bad\"scope"), None).is_err());
        assert!(refused("x", None, Some(0)).is_err());
        assert!(ApiKeyToken::parse("kwk_nothing").is_none());
        assert!(ApiKeyToken::parse(&token[4..]).is_none());
    }

    #[test]
    fn a_key_carries_default_scopes_and_those_the_operator_allows_nothing_else() {
        let user = UserId(Id::generate(1));
        let make = |scope: &str, allowed: &[&str]| {
            let allowed: Vec<String> = allowed.iter().map(|s| (*s).to_owned()).collect();
            new_api_key(user, "k", Some(scope), None, &allowed, 0, 0)
        };
        let openid = make("openid email", &[]).unwrap();
        assert!(openid.needs_api_keys.is_empty());
        let not_allowed = |scope: &str| {
            KeyRefused::ScopeNotAllowed(crate::model::ScopeToken::parse(scope).unwrap())
        };
        assert_eq!(
            make("admin root:all", &[]).err(),
            Some(not_allowed("admin")),
            "the first scope in order is named"
        );
        assert_eq!(
            make("openid root:all", &["admin"]).err(),
            Some(not_allowed("root:all"))
        );
        let deploy = make("openid deploy", &["deploy"]).unwrap();
        assert_eq!(deploy.record.scope.to_string(), "deploy openid");
        assert_eq!(deploy.needs_api_keys.len(), 1);
        assert_eq!(deploy.needs_api_keys[0].as_str(), "deploy");
        let message = not_allowed("admin").message();
        assert!(
            message.contains("'admin'") && !message.contains('\n'),
            "{message}"
        );
    }
}
