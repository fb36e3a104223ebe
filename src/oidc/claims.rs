//! What keyward says about a user (OpenID Connect Core §5.1, §5.4), and the claims of an ID
//! token (§2, §3.1.3.6, §12.2).

use base64::Engine;
use sha2::Digest;

use crate::model::{Scope, SigningAlg, UnixTime, User, UserId};

/// The user's claims that `scope` allows: `sub` always; `profile` gives `name`,
/// `preferred_username` and `updated_at`; `email` gives `email` and `email_verified`.
/// An address nobody verified is reported as such (`email_verified: false`).
pub fn user_claims(user: &User, scope: &Scope) -> serde_json::Map<String, serde_json::Value> {
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), user.id.to_string().into());
    if scope.contains("profile") {
        claims.insert("preferred_username".into(), user.username.as_str().into());
        if let Some(name) = &user.name {
            claims.insert("name".into(), name.as_str().into());
        }
        claims.insert("updated_at".into(), user.updated_at.into());
    }
    if scope.contains("email") {
        if let Some(email) = &user.email {
            claims.insert("email".into(), email.as_str().into());
            claims.insert("email_verified".into(), user.email_verified.into());
        }
    }
    claims
}

/// An ID token about to be signed.
pub struct IdToken<'a> {
    pub issuer: &'a str,
    /// The client as it knows itself (`Client::public_id`): the audience.
    pub client_id: &'a str,
    /// Whom it is about: the grant's user.
    pub subject: UserId,
    /// The user's record, needed only for `with_user_claims` (a redemption has just checked
    /// that the user exists, so the others spare the read).
    pub user: Option<&'a User>,
    pub scope: &'a Scope,
    pub auth_time: UnixTime,
    /// The authorization request's `nonce`; never on a token from a refresh (§12.2).
    pub nonce: Option<&'a str>,
    /// The session it was issued in (the `sid` claim of front- and back-channel logout).
    pub sid: Option<&'a str>,
    /// The access token issued beside it, for `at_hash` (§3.1.3.6).
    pub access_token: Option<&'a str>,
    /// Put the scope's user claims in the token itself, for clients that asked for it.
    pub with_user_claims: bool,
    pub issued_at: UnixTime,
    pub expires_at: UnixTime,
}

impl IdToken<'_> {
    pub fn claims(&self, alg: SigningAlg) -> serde_json::Value {
        let mut claims = match (self.with_user_claims, self.user) {
            (true, Some(user)) => user_claims(user, self.scope),
            _ => serde_json::Map::new(),
        };
        let client = self.client_id;
        claims.insert("iss".into(), self.issuer.into());
        claims.insert("sub".into(), self.subject.to_string().into());
        claims.insert("aud".into(), client.into());
        // §2: azp is the party the token was issued to; with a single audience it is that
        // audience, and some libraries require it to be present.
        claims.insert("azp".into(), client.into());
        claims.insert("iat".into(), self.issued_at.into());
        claims.insert("exp".into(), self.expires_at.into());
        claims.insert("auth_time".into(), self.auth_time.into());
        if let Some(nonce) = self.nonce {
            claims.insert("nonce".into(), nonce.into());
        }
        if let Some(sid) = self.sid {
            claims.insert("sid".into(), sid.into());
        }
        if let Some(access_token) = self.access_token {
            claims.insert("at_hash".into(), at_hash(alg, access_token).into());
        }
        serde_json::Value::Object(claims)
    }
}

/// §3.1.3.6: the left half of the hash of the access token, with the hash of the JWS
/// algorithm: SHA-256 for RS256 and ES256; for EdDSA (Ed25519), SHA-512, as the OpenID
/// Foundation settled it and libraries expect.
pub fn at_hash(alg: SigningAlg, access_token: &str) -> String {
    let digest: Vec<u8> = match alg {
        SigningAlg::Rs256 | SigningAlg::Es256 => {
            sha2::Sha256::digest(access_token.as_bytes()).to_vec()
        }
        SigningAlg::EdDsa => sha2::Sha512::digest(access_token.as_bytes()).to_vec(),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_of_the_tokens_hash() {
        // Computed independently (Python's hashlib): base64url of the first half of
        // SHA-256 (RS256, ES256) or SHA-512 (EdDSA) of the token's ASCII bytes.
        let token = "dNZX1hEZ9wBCzNL40Upu646bdzQA";
        assert_eq!(at_hash(SigningAlg::Rs256, token), "wfgvmE9VxjAudsl9lc6TqA");
        assert_eq!(at_hash(SigningAlg::Es256, token), "wfgvmE9VxjAudsl9lc6TqA");
        assert_eq!(
            at_hash(SigningAlg::EdDsa, token),
            "8xltSlOGYrWy8W9yNvRlEth1i_bXW-JROWPLvCv5zog"
        );
    }
}
