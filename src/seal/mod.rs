//! The one place keyward seals and authenticates: records at rest (`records`: the envelope
//! of every sealed database value, with the table and record key as associated data, the
//! keyed index hash, and the derivation of every key from the master key), sealed boxes for
//! self-contained values it hands out (access tokens, consent tickets, device and flash
//! cookies), and MACs (CSRF tokens, the keyed username tags of the sign-in log).
//!
//! Every key is derived from the master key for one purpose (`Store::derived_key`), and a
//! sealed box also binds its purpose string into the associated data, so a value made for
//! one purpose never opens as another.

mod records;

pub(crate) use records::{MasterKey, Sealer};

use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

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

/// HMAC-SHA256 under a key of its own: tags that only the holder of the master key can make.
pub struct MacKey([u8; 32]);

impl MacKey {
    pub fn new(key: [u8; 32]) -> MacKey {
        MacKey(key)
    }

    pub fn tag(&self, data: &[u8]) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC accepts any key length");
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// The tag as URL-safe base64, for forms and cookies.
    pub fn tag_text(&self, data: &[u8]) -> String {
        B64.encode(self.tag(data))
    }

    /// Whether `text` is the tag of `data`, compared in constant time.
    pub fn verify_text(&self, data: &[u8], text: &str) -> bool {
        bool::from(self.tag_text(data).as_bytes().ct_eq(text.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn macs_are_keyed() {
        let key = MacKey::new([1; 32]);
        let tag = key.tag_text(b"secret");
        assert!(key.verify_text(b"secret", &tag));
        assert!(!key.verify_text(b"other", &tag));
        assert!(!MacKey::new([2; 32]).verify_text(b"secret", &tag));
    }
}
