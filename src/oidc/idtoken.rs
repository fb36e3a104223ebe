//! Issuing ID tokens (OpenID Connect Core §2, §3.1.3.3, §12.2), signed with the client's
//! algorithm by the key ring's active key for it.

use std::sync::Arc;

use sha2::Digest;

use super::claims::IdToken;
use super::keyring::KeyRing;
use crate::model::{Client, UnixTime, User};
use crate::oauth::OAuthError;
use crate::store::Grant;

/// The opaque session id of the `sid` claim: derived from the session's key, stable for
/// the session, and telling nothing about its cookie.
pub fn session_id(session_key: &[u8; 32]) -> [u8; 16] {
    let digest = sha2::Sha256::new()
        .chain_update(b"keyward sid v1\0")
        .chain_update(session_key)
        .finalize();
    let mut sid = [0u8; 16];
    sid.copy_from_slice(&digest[..16]);
    sid
}

/// The `sid` claim's text for the session with this key.
pub fn sid_claim(session_key: &[u8; 32]) -> String {
    hex(&session_id(session_key))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// What an ID token is made from at the token endpoint.
pub struct IdTokenRequest<'a> {
    pub client: &'a Client,
    /// The grant's user, for a client whose ID tokens carry the user's claims
    /// (`--id-token-claims`); `None` otherwise.
    pub user: Option<&'a User>,
    pub grant: &'a Grant,
    /// The scope of this response (a refresh may narrow the grant's).
    pub scope: &'a crate::model::Scope,
    /// The authorization request's nonce: on the token of a code redemption only.
    pub nonce: Option<&'a str>,
    pub access_token: &'a str,
    pub now: UnixTime,
}

pub struct IdTokens {
    keys: Arc<KeyRing>,
    issuer: String,
    lifetime: u64,
}

impl IdTokens {
    pub fn new(keys: Arc<KeyRing>, issuer: String, lifetime_seconds: u64) -> IdTokens {
        IdTokens {
            keys,
            issuer,
            lifetime: lifetime_seconds,
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn key_ring(&self) -> &Arc<KeyRing> {
        &self.keys
    }

    pub fn issue(&self, request: IdTokenRequest<'_>) -> Result<String, OAuthError> {
        let alg = request.client.id_token_alg;
        let keys = self.keys.keys().map_err(|error| {
            tracing::error!(%error, "signing keys unavailable");
            OAuthError::unavailable()
        })?;
        let Some(key) = keys.active(alg) else {
            tracing::error!(alg = alg.as_str(), "no active signing key");
            return Err(OAuthError::new(
                crate::oauth::ErrorCode::ServerError,
                "no signing key for this client's algorithm",
            ));
        };
        let sid = request.grant.sid.map(|sid| hex(&sid));
        let client_id = request.client.public_id();
        let token = IdToken {
            issuer: &self.issuer,
            client_id: &client_id,
            subject: request.grant.user_id,
            user: request.user,
            scope: request.scope,
            auth_time: request.grant.auth_time,
            nonce: request.nonce,
            sid: sid.as_deref(),
            access_token: Some(request.access_token),
            with_user_claims: request.client.id_token_claims,
            issued_at: request.now,
            expires_at: request.now + self.lifetime,
        };
        key.sign(None, &token.claims(alg)).map_err(|error| {
            tracing::error!(%error, "an ID token could not be signed");
            OAuthError::new(
                crate::oauth::ErrorCode::ServerError,
                "the ID token could not be signed",
            )
        })
    }
}
