//! Sealing: authenticated encryption of records at rest.
//!
//! Envelope (see docs/storage-format.md): `0x01 || nonce[24] || ciphertext || tag[16]`,
//! XChaCha20-Poly1305 under a key derived from the master key. The associated data names
//! the table and the record key, so a sealed value copied under another key, or into
//! another table, fails to open instead of being read as someone else's record.

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const ENVELOPE_V1: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// The 32 bytes of `master.key`. Never printed.
pub struct MasterKey([u8; 32]);

impl MasterKey {
    pub const LEN: usize = 32;

    pub fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        MasterKey(bytes)
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("MasterKey(<redacted>)")
    }
}

/// Keys derived from the master key, one per purpose, so no key is ever used for two jobs.
pub struct Sealer {
    aead: XChaCha20Poly1305,
    index_key: [u8; 32],
    /// Kept to derive per-purpose keys for the protocol layer; never leaves this struct.
    master: [u8; 32],
}

#[derive(Debug, thiserror::Error)]
#[error("a sealed record failed to open (wrong master key, or the record was altered or moved)")]
pub struct UnsealError;

impl Sealer {
    pub fn new(master: &MasterKey) -> Sealer {
        let seal_key = hkdf_expand(&master.0, b"keyward seal v1");
        Sealer {
            aead: XChaCha20Poly1305::new(&seal_key.into()),
            index_key: hkdf_expand(&master.0, b"keyward index v1"),
            master: master.0,
        }
    }

    /// A key for a purpose outside the store; the info string is prefixed so it can never
    /// collide with the store's own derivations.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        hkdf_expand(
            &self.master,
            format!("keyward purpose: {purpose}").as_bytes(),
        )
    }

    pub fn seal(&self, table: &str, record_key: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut rand::thread_rng());
        let aad = associated_data(table, record_key);
        let ciphertext = self
            .aead
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .expect("XChaCha20-Poly1305 encryption of an in-memory buffer cannot fail");
        let mut envelope = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        envelope.push(ENVELOPE_V1);
        envelope.extend_from_slice(&nonce);
        envelope.extend_from_slice(&ciphertext);
        envelope
    }

    pub fn open(
        &self,
        table: &str,
        record_key: &[u8],
        envelope: &[u8],
    ) -> Result<Vec<u8>, UnsealError> {
        if envelope.len() < 1 + NONCE_LEN + TAG_LEN || envelope[0] != ENVELOPE_V1 {
            return Err(UnsealError);
        }
        let nonce = XNonce::from_slice(&envelope[1..1 + NONCE_LEN]);
        let aad = associated_data(table, record_key);
        self.aead
            .decrypt(
                nonce,
                Payload {
                    msg: &envelope[1 + NONCE_LEN..],
                    aad: &aad,
                },
            )
            .map_err(|_| UnsealError)
    }

    /// A keyed hash for lookup indexes over personal data (usernames): the index finds the
    /// record without the plain value ever being written to disk.
    pub fn index_hash(&self, purpose: &str, value: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.index_key)
            .expect("HMAC accepts a key of any length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(value);
        mac.finalize().into_bytes().into()
    }
}

fn hkdf_expand(master: &[u8; 32], info: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    hkdf::Hkdf::<Sha256>::new(Some(b"keyward"), master)
        .expand(info, &mut out)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    out
}

fn associated_data(table: &str, record_key: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(2 + table.len() + record_key.len());
    aad.push(u8::try_from(table.len()).expect("table names are short"));
    aad.extend_from_slice(table.as_bytes());
    aad.extend_from_slice(record_key);
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(byte: u8) -> Sealer {
        Sealer::new(&MasterKey::from_bytes([byte; 32]))
    }

    #[test]
    fn round_trip() {
        let sealer = sealer(7);
        let envelope = sealer.seal("users", b"k1", b"secret data");
        assert_eq!(
            sealer.open("users", b"k1", &envelope).unwrap(),
            b"secret data"
        );
        assert!(!envelope.windows(11).any(|window| window == b"secret data"));
    }

    #[test]
    fn moved_or_foreign_records_fail() {
        let sealer = sealer(7);
        let envelope = sealer.seal("users", b"k1", b"x");
        assert!(sealer.open("users", b"k2", &envelope).is_err());
        assert!(sealer.open("clients", b"k1", &envelope).is_err());
        assert!(self::sealer(8).open("users", b"k1", &envelope).is_err());
        let mut flipped = envelope.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(sealer.open("users", b"k1", &flipped).is_err());
        assert!(sealer.open("users", b"k1", &envelope[..10]).is_err());
    }

    #[test]
    fn index_hash_is_keyed() {
        assert_ne!(
            sealer(1).index_hash("username", b"alice"),
            sealer(2).index_hash("username", b"alice")
        );
        assert_eq!(
            sealer(1).index_hash("username", b"alice"),
            sealer(1).index_hash("username", b"alice")
        );
    }
}
