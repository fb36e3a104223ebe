//! The formats of what keyward hands out.
//!
//! - Codes and refresh tokens are opaque: `<id>.<secret>`, the id a time-ordered record
//!   key, the secret 256 random bits stored only as SHA-256.
//! - Access tokens are self-contained: sealed claims (`seal::SealedBox`) that name their grant. Issuing one
//!   costs an encryption, not a disk write; checking one costs a decryption plus a lookup
//!   of the grant's state, so revoking a grant ends its access tokens at once.

use serde::{Deserialize, Serialize};

use crate::clock;
use crate::model::{random_secret, ClientId, Id, Scope, SecretHash, UnixTime, UserId};

/// A code or refresh token as the client holds it.
pub struct OpaqueToken {
    pub id: Id,
    pub secret: String,
}

impl OpaqueToken {
    pub fn generate() -> OpaqueToken {
        OpaqueToken {
            id: Id::generate(clock::now_millis()),
            secret: random_secret(),
        }
    }

    pub fn parse(text: &str) -> Option<OpaqueToken> {
        let (id, secret) = text.split_once('.')?;
        if secret.len() != 43 {
            return None;
        }
        Some(OpaqueToken {
            id: Id::parse(id)?,
            secret: secret.to_owned(),
        })
    }

    pub fn secret_hash(&self) -> SecretHash {
        SecretHash::of(&self.secret)
    }
}

impl std::fmt::Display for OpaqueToken {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}.{}", self.id, self.secret)
    }
}

/// What an access token stands on; checked on every use.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum Principal {
    /// A user's approval of a client (authorization code, refresh token).
    Grant(Id),
    /// The client alone (client credentials).
    Client,
    /// A user's personal API key.
    ApiKey(Id),
}

/// What an access token says about itself (sealed as "access token v2", or signed as an
/// RFC 9068 JWT).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub principal: Principal,
    /// `None` for API-key tokens, which no client holds.
    pub client_id: Option<ClientId>,
    pub user_id: Option<UserId>,
    pub scope: Scope,
    pub issued_at: UnixTime,
    pub expires_at: UnixTime,
    /// Unique per token, so one token can be revoked alone.
    pub token_id: Id,
    /// The RFC 8707 resources it is for (`aud`); empty when none was asked for.
    pub audience: Vec<String>,
}

/// The claims of a sealed token from before resource indicators ("access token v1"):
/// still opened, so that tokens issued before an upgrade keep working until they expire.
#[derive(Deserialize)]
pub struct AccessClaimsV1 {
    principal: Principal,
    client_id: Option<ClientId>,
    user_id: Option<UserId>,
    scope: Scope,
    issued_at: UnixTime,
    expires_at: UnixTime,
    token_id: Id,
}

impl From<AccessClaimsV1> for AccessClaims {
    fn from(old: AccessClaimsV1) -> AccessClaims {
        AccessClaims {
            principal: old.principal,
            client_id: old.client_id,
            user_id: old.user_id,
            scope: old.scope,
            issued_at: old.issued_at,
            expires_at: old.expires_at,
            token_id: old.token_id,
            audience: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_tokens_round_trip() {
        let token = OpaqueToken::generate();
        let parsed = OpaqueToken::parse(&token.to_string()).unwrap();
        assert_eq!(parsed.id, token.id);
        assert!(parsed.secret_hash().matches(&token.secret));
        assert!(OpaqueToken::parse("garbage").is_none());
        assert!(OpaqueToken::parse(&format!("{}.short", token.id)).is_none());
    }
}
