//! JWT access tokens (RFC 9068), for clients registered with `--access-token-format jwt`:
//! resource servers validate them locally against the JWKS. keyward reads them back too,
//! for introspection, revocation and userinfo, which therefore treat both formats alike.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::keyring::KeySet;
use super::keys::{KeyError, SigningKeyPair};
use crate::model::{ClientId, Id, Scope, UserId};
use crate::oauth::tokens::{AccessClaims, Principal};

/// RFC 9068 §2.1: the media type in the header, without its `application/` prefix.
pub const TYP: &str = "at+jwt";
/// The longest JWT read back; ours are well under a kilobyte.
const MAX_LEN: usize = 8192;

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// RFC 9068 §2.2, plus `grant_id`: what the token stands on, so that revoking the grant
/// ends the token for keyward's own checks as it does for a sealed token.
#[derive(Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: Audience,
    client_id: String,
    scope: String,
    jti: String,
    exp: u64,
    iat: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    grant_id: Option<String>,
}

/// Signs `claims` as an RFC 9068 access token. `claims.audience` must not be empty (§2.2:
/// `aud` is required); a client of this format always has a default resource.
/// `client_id` is the client as it knows itself (`Client::public_id`).
pub fn sign(
    key: &Arc<SigningKeyPair>,
    issuer: &str,
    client_id: &str,
    claims: &AccessClaims,
) -> Result<String, KeyError> {
    if claims.client_id.is_none() {
        return Err(KeyError::new("a JWT access token needs a client"));
    }
    let client_id = client_id.to_owned();
    let (sub, grant_id) = match (claims.principal, claims.user_id) {
        (Principal::Grant(grant), Some(user)) => (user.to_string(), Some(grant.to_string())),
        // §2.2: with no resource owner, `sub` is the client's own identifier.
        (Principal::Client, _) => (client_id.clone(), None),
        _ => return Err(KeyError::new("API-key tokens are never JWTs")),
    };
    let aud = match claims.audience.as_slice() {
        [] => return Err(KeyError::new("a JWT access token needs an audience")),
        [one] => Audience::One(one.clone()),
        many => Audience::Many(many.to_vec()),
    };
    key.sign(
        Some(TYP),
        &Claims {
            iss: issuer.to_owned(),
            sub,
            aud,
            client_id,
            scope: claims.scope.to_string(),
            jti: claims.token_id.to_string(),
            exp: claims.expires_at,
            iat: claims.issued_at,
            grant_id,
        },
    )
}

/// The claims of a JWT access token this server signed, or `None` for anything else
/// (an ID token included: its type is not `at+jwt`). Expiry is the caller's to judge.
pub fn read(keys: &KeySet, issuer: &str, token: &str) -> Option<AccessClaims> {
    if token.len() > MAX_LEN || token.bytes().filter(|byte| *byte == b'.').count() != 2 {
        return None;
    }
    let header = jsonwebtoken::decode_header(token).ok()?;
    let typ = header.typ.as_deref()?.to_ascii_lowercase();
    if typ != TYP && typ != "application/at+jwt" {
        return None;
    }
    let key = keys.published(header.kid.as_deref()?)?;
    let claims: Claims = key.verify(token, issuer).ok()?;
    let client_id = ClientId::parse_presented(&claims.client_id).ok()?;
    let (principal, user_id) = match &claims.grant_id {
        Some(grant) => (
            Principal::Grant(Id::parse(grant)?),
            Some(UserId::parse(&claims.sub).ok()?),
        ),
        None => (Principal::Client, None),
    };
    Some(AccessClaims {
        principal,
        client_id: Some(client_id),
        user_id,
        scope: Scope::parse(&claims.scope).ok()?,
        issued_at: claims.iat,
        expires_at: claims.exp,
        token_id: Id::parse(&claims.jti)?,
        audience: match claims.aud {
            Audience::One(one) => vec![one],
            Audience::Many(many) => many,
        },
    })
}
