//! The formats of what keyward hands out.
//!
//! - Codes and refresh tokens are opaque: `<id>.<secret>`, the id a time-ordered record
//!   key, the secret 256 random bits stored only as SHA-256.
//! - Access tokens are self-contained: sealed claims that name their grant. Issuing one
//!   costs an encryption, not a disk write; checking one costs a decryption plus a lookup
//!   of the grant's state, so revoking a grant ends its access tokens at once.

use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::clock;
use crate::model::{random_secret, ClientId, Id, Scope, SecretHash, UnixTime, UserId};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

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

/// Authenticated encryption of small self-contained values (access-token claims, consent
/// tickets) under a key of their own. The purpose string is the associated data, so a
/// value sealed for one purpose never opens as another.
pub struct SealedBox {
    aead: XChaCha20Poly1305,
    purpose: &'static [u8],
}

impl SealedBox {
    pub fn new(key: [u8; 32], purpose: &'static str) -> SealedBox {
        SealedBox {
            aead: XChaCha20Poly1305::new(&key.into()),
            purpose: purpose.as_bytes(),
        }
    }

    pub fn seal<T: Serialize>(&self, value: &T) -> String {
        let plaintext = postcard::to_allocvec(value).expect("postcard encodes into a Vec");
        let nonce = XChaCha20Poly1305::generate_nonce(&mut rand::thread_rng());
        let ciphertext = self
            .aead
            .encrypt(
                &nonce,
                chacha20poly1305::aead::Payload {
                    msg: &plaintext,
                    aad: self.purpose,
                },
            )
            .expect("encryption of an in-memory buffer cannot fail");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&ciphertext);
        B64.encode(bytes)
    }

    /// `None` for anything that was not sealed by us for this purpose, or was altered.
    pub fn open<T: DeserializeOwned>(&self, text: &str) -> Option<T> {
        // Bounded before decoding: a token is small, and this runs on unauthenticated input.
        if text.len() > 4096 {
            return None;
        }
        let bytes = B64.decode(text).ok()?;
        if bytes.len() < 24 + 16 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let plaintext = self
            .aead
            .decrypt(
                XNonce::from_slice(nonce),
                chacha20poly1305::aead::Payload {
                    msg: ciphertext,
                    aad: self.purpose,
                },
            )
            .ok()?;
        postcard::from_bytes(&plaintext).ok()
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

/// What an access token says about itself.
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

    #[test]
    fn sealed_boxes_are_bound_to_key_and_purpose() {
        let sealed = SealedBox::new([1; 32], "a").seal(&42u32);
        assert_eq!(SealedBox::new([1; 32], "a").open::<u32>(&sealed), Some(42));
        assert_eq!(SealedBox::new([1; 32], "b").open::<u32>(&sealed), None);
        assert_eq!(SealedBox::new([2; 32], "a").open::<u32>(&sealed), None);
        let mut tampered = sealed.clone().into_bytes();
        tampered[30] = if tampered[30] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            SealedBox::new([1; 32], "a").open::<u32>(&String::from_utf8(tampered).unwrap()),
            None
        );
    }
}
