//! OpenID Connect signing keys: the private keys that sign ID tokens (and JWT access
//! tokens), sealed at rest. The store keeps them and reads nothing in them: making keys,
//! signing and publishing the JWKS are the protocol's, which hands the store PKCS#8 bytes.
//!
//! A key signs until it is retired. A retired key stays published (in the JWKS) until its
//! `publish_until`, when every token it signed has expired; the sweeper deletes it then,
//! through an `expiry` entry written with the retirement.

use super::codec::{seal, unseal};
use super::records::signing_keys::{decode, encode};
use super::tables::{expiry_key, ExpiryKind, EXPIRY, SIGNING_KEYS};
use super::writer::Tx;
use super::{Store, StoreError};
use crate::model::{Id, SigningAlg, UnixTime};

/// One signing key. (Its bytes: `records::signing_keys::SigningKeyRecordV1`.)
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// The JWK `kid`, and the row's key.
    pub id: Id,
    pub alg: SigningAlg,
    /// PKCS#8 DER. Never printed: `Debug` shows its length only.
    pub private_key: Vec<u8>,
    pub created_at: UnixTime,
    /// When it stopped signing; `None` while it signs.
    pub retired_at: Option<UnixTime>,
    /// Until when a retired key stays in the JWKS; the sweeper deletes it then.
    pub publish_until: Option<UnixTime>,
}

impl SigningKey {
    /// Whether it signs new tokens.
    pub fn signs(&self) -> bool {
        self.retired_at.is_none()
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SigningKey")
            .field("id", &self.id)
            .field("alg", &self.alg)
            .field(
                "private_key",
                &format_args!("<{} bytes redacted>", self.private_key.len()),
            )
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .field("publish_until", &self.publish_until)
            .finish()
    }
}

/// Why `add_signing_key` wrote nothing. The last two mean another rotation got there first
/// (two `keys rotate` at once): the caller reads the keys again and decides anew, so there
/// is never more than the one new key it meant to make.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SigningKeyNotAdded {
    #[error("a signing key with id {0} already exists")]
    Exists(Id),
    #[error("there is no signing key with id {0}")]
    NoSuchKey(Id),
    #[error("signing key {0} is already retired")]
    AlreadyRetired(Id),
    #[error(transparent)]
    Storage(#[from] StoreError),
}

fn load(tx: &mut Tx<'_>, key: &[u8]) -> Result<Option<SigningKey>, StoreError> {
    let Some(bytes) = tx.get(SIGNING_KEYS, key)? else {
        return Ok(None);
    };
    let id = key_id(key)?;
    decode(id, &unseal(tx.sealer, SIGNING_KEYS, key, &bytes)?).map(Some)
}

pub(super) fn key_id(key: &[u8]) -> Result<Id, StoreError> {
    let bytes: [u8; 16] = key
        .try_into()
        .map_err(|_| StoreError::Corrupt("signing key id is not 16 bytes".into()))?;
    Ok(Id::from_bytes(bytes))
}

/// Writes a key, and indexes the end of its publication if it has one.
fn write(tx: &mut Tx<'_>, key: &SigningKey) -> Result<(), StoreError> {
    let row = key.id.as_bytes();
    let value = seal(tx.sealer, SIGNING_KEYS, row, &encode(key));
    tx.insert(SIGNING_KEYS, row, &value)?;
    if let Some(until) = key.publish_until {
        tx.insert(EXPIRY, &expiry_key(until, ExpiryKind::SigningKey, row), &[])?;
    }
    Ok(())
}

/// For the sweeper: until when a retired key is published. `None` for a key that is gone,
/// or that still signs (it is never deleted, whatever its record says).
pub(super) fn publish_until(tx: &mut Tx<'_>, key: &[u8]) -> Result<Option<UnixTime>, StoreError> {
    Ok(load(tx, key)?
        .filter(|key| key.retired_at.is_some())
        .and_then(|key| key.publish_until))
}

impl Store {
    /// Every signing key kept: those that sign and the retired ones still published, oldest
    /// first (ids begin with their creation time).
    pub fn signing_keys(&self) -> Result<Vec<SigningKey>, StoreError> {
        self.read(|reader| {
            reader
                .all(SIGNING_KEYS)?
                .into_iter()
                .map(|(key, bytes)| {
                    decode(
                        key_id(&key)?,
                        &unseal(reader.sealer, SIGNING_KEYS, &key, &bytes)?,
                    )
                })
                .collect()
        })
    }

    /// Adds `new` and retires the keys of `retire`, each `(id, retired_at, publish_until)`,
    /// in one durable write: a JWKS read at any moment sees the old keys or the new set,
    /// never a set without a key that signs. Refused whole, with nothing written, when `new`'s
    /// id is taken, or a key to retire is gone or already retired.
    pub async fn add_signing_key(
        &self,
        new: SigningKey,
        retire: Vec<(Id, UnixTime, UnixTime)>,
    ) -> Result<(), SigningKeyNotAdded> {
        self.write(move |tx| {
            if tx.get(SIGNING_KEYS, new.id.as_bytes())?.is_some() {
                return Ok(Err(SigningKeyNotAdded::Exists(new.id)));
            }
            let mut retired = Vec::with_capacity(retire.len());
            for (id, retired_at, publish_until) in retire {
                let Some(mut key) = load(tx, id.as_bytes())? else {
                    return Ok(Err(SigningKeyNotAdded::NoSuchKey(id)));
                };
                if key.retired_at.is_some() {
                    return Ok(Err(SigningKeyNotAdded::AlreadyRetired(id)));
                }
                key.retired_at = Some(retired_at);
                key.publish_until = Some(publish_until);
                retired.push(key);
            }
            // Decided; now write.
            for key in &retired {
                write(tx, key)?;
            }
            write(tx, &new)?;
            Ok(Ok(()))
        })
        .await??;
        self.signing_keys_changed();
        Ok(())
    }

    /// The generation of the signing keys; it moves on after every change to them.
    pub fn signing_keys_generation(&self) -> u64 {
        self.inner
            .signing_keys_generation
            .load(std::sync::atomic::Ordering::Acquire)
    }

    pub(super) fn signing_keys_changed(&self) {
        self.inner
            .signing_keys_generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        crate::store::test_store()
    }

    fn key(millis: u64, alg: SigningAlg, der: &[u8]) -> SigningKey {
        SigningKey {
            id: Id::generate(millis),
            alg,
            private_key: der.to_vec(),
            created_at: millis / 1000,
            retired_at: None,
            publish_until: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rotation_adds_and_retires_in_one_write_and_the_sweeper_unpublishes_on_time() {
        let (_dir, store) = store();
        assert!(store.signing_keys().unwrap().is_empty());
        let first = key(1_000, SigningAlg::Rs256, b"first der");
        store
            .add_signing_key(first.clone(), Vec::new())
            .await
            .unwrap();
        assert_eq!(store.signing_keys().unwrap(), std::slice::from_ref(&first));

        let second = key(2_000, SigningAlg::EdDsa, b"second der");
        store
            .add_signing_key(second.clone(), vec![(first.id, 100, 200)])
            .await
            .unwrap();
        let retired = SigningKey {
            retired_at: Some(100),
            publish_until: Some(200),
            ..first.clone()
        };
        assert_eq!(
            store.signing_keys().unwrap(),
            [retired.clone(), second.clone()]
        );
        assert!(!retired.signs() && second.signs());

        // A second rotation that read the keys before this one is refused whole.
        let third = key(3_000, SigningAlg::Es256, b"third der");
        assert!(matches!(
            store
                .add_signing_key(third.clone(), vec![(second.id, 150, 250), (first.id, 150, 250)])
                .await,
            Err(SigningKeyNotAdded::AlreadyRetired(id)) if id == first.id
        ));
        assert!(matches!(
            store
                .add_signing_key(third.clone(), vec![(Id::generate(9), 150, 250)])
                .await,
            Err(SigningKeyNotAdded::NoSuchKey(_))
        ));
        assert!(matches!(
            store.add_signing_key(second.clone(), Vec::new()).await,
            Err(SigningKeyNotAdded::Exists(id)) if id == second.id
        ));
        assert_eq!(
            store.signing_keys().unwrap(),
            [retired.clone(), second.clone()]
        );

        // The retired key stays published until its time, then leaves; the signing one
        // stays whatever the time.
        let (early, _) = store.sweep_batch(199, 1000).await.unwrap();
        assert_eq!(early.signing_keys, 0);
        assert_eq!(store.signing_keys().unwrap().len(), 2);
        let (due, _) = store.sweep_batch(200, 1000).await.unwrap();
        assert_eq!(due.signing_keys, 1, "{due:?}");
        assert_eq!(store.signing_keys().unwrap(), std::slice::from_ref(&second));
        let (later, _) = store.sweep_batch(u64::MAX - 1, 1000).await.unwrap();
        assert_eq!(later.signing_keys, 0);
        assert_eq!(store.signing_keys().unwrap(), [second]);
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let shown = format!("{:?}", key(1, SigningAlg::Rs256, b"SECRET-DER"));
        assert!(
            !shown.contains("SECRET") && !shown.contains("53454352"),
            "{shown}"
        );
        assert!(shown.contains("10 bytes redacted"), "{shown}");
    }
}
