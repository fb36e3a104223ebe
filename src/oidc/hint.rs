//! Reading back an ID token this server issued: the `id_token_hint` of an authorization
//! request (OpenID Connect Core §3.1.2.1) and of RP-initiated logout (§2 of that spec).
//!
//! A hint is checked for what makes it ours (a published key's signature, our `iss`, an
//! ID token rather than a JWT access token), never for `exp`: an application sends the ID
//! token it has, and that has often expired.

use serde::Deserialize;

use super::keyring::KeySet;

/// The parts of a hint that decide anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub sub: String,
    /// The clients it was issued to.
    pub aud: Vec<String>,
    /// The session it was issued in.
    pub sid: Option<String>,
}

impl Hint {
    /// The one client it was issued to; keyward's ID tokens always have exactly one.
    pub fn client(&self) -> Option<&str> {
        match self.aud.as_slice() {
            [only] => Some(only),
            _ => None,
        }
    }
}

/// Why a hint is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HintRejected {
    #[error("id_token_hint is not an ID token issued by this server")]
    NotOurs,
    #[error("id_token_hint is an access token, not an ID token")]
    AccessToken,
    /// Signed by no key published now: a forgery, or ours from a key retired so long ago
    /// that every token it signed has expired.
    #[error("id_token_hint is signed by a key this server no longer publishes")]
    UnknownKey,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    aud: Audience,
    #[serde(default)]
    sid: Option<String>,
}

pub fn read(keys: &KeySet, issuer: &str, token: &str) -> Result<Hint, HintRejected> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| HintRejected::NotOurs)?;
    // RFC 9068 §4: a JWT access token says so in its type; it must never pass for an ID
    // token, whose holder it would then seem to name.
    if header
        .typ
        .as_deref()
        .is_some_and(|typ| typ.eq_ignore_ascii_case("at+jwt"))
    {
        return Err(HintRejected::AccessToken);
    }
    let key = header
        .kid
        .as_deref()
        .and_then(|kid| keys.published(kid))
        .ok_or(HintRejected::UnknownKey)?;
    let claims: Claims = key
        .verify(token, issuer)
        .map_err(|_| HintRejected::NotOurs)?;
    let aud = match claims.aud {
        Audience::One(one) => vec![one],
        Audience::Many(many) => many,
    };
    Ok(Hint {
        sub: claims.sub,
        aud,
        sid: claims.sid,
    })
}
