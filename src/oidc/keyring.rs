//! The signing keys a running server uses: one active key per algorithm, which signs, and
//! every key still published in the JWKS (the active ones, and retired ones until every
//! token they signed has expired).
//!
//! The keys live in the store (`signing_keys`, private parts sealed). A rotation while
//! serving (`keyward keys rotate`, through the admin socket) or the sweeper removing a key
//! that has served its time changes the store; the ring notices through the store's
//! signing-key generation, a counter read on every use, and reloads.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::keys::{self, KeyError, SigningKeyPair};
use crate::model::{Id, SigningAlg, UnixTime};
use crate::store::{SigningKey, SigningKeyNotAdded, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    #[error(transparent)]
    Storage(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("the signing key could not be stored: {0}")]
    NotAdded(SigningKeyNotAdded),
}

/// The keys of one moment.
pub struct KeySet {
    generation: u64,
    active: HashMap<SigningAlg, Arc<SigningKeyPair>>,
    by_kid: HashMap<String, Arc<SigningKeyPair>>,
    /// The JWKS document (RFC 7517 §5), built once per change.
    jwks: Arc<Vec<u8>>,
}

impl KeySet {
    pub fn active(&self, alg: SigningAlg) -> Option<&Arc<SigningKeyPair>> {
        self.active.get(&alg)
    }

    /// A published key (active or retired), by its `kid`.
    pub fn published(&self, kid: &str) -> Option<&Arc<SigningKeyPair>> {
        self.by_kid.get(kid)
    }

    pub fn jwks(&self) -> Arc<Vec<u8>> {
        self.jwks.clone()
    }
}

pub struct KeyRing {
    store: Store,
    current: RwLock<Arc<KeySet>>,
}

fn kid(id: Id) -> String {
    id.to_string()
}

fn load(store: &Store) -> Result<KeySet, KeyRingError> {
    let generation = store.signing_keys_generation();
    let stored = store.signing_keys()?;
    let mut active = HashMap::new();
    let mut by_kid = HashMap::new();
    let mut published = Vec::new();
    for key in &stored {
        let pair = Arc::new(SigningKeyPair::load(
            kid(key.id),
            key.alg,
            &key.private_key,
        )?);
        if key.retired_at.is_none() {
            // The newest active key of an algorithm signs, should a crash ever leave two.
            let newer = active
                .get(&key.alg)
                .is_none_or(|current: &(Id, Arc<SigningKeyPair>)| current.0 < key.id);
            if newer {
                active.insert(key.alg, (key.id, pair.clone()));
            }
        }
        published.push(pair.public_jwk().clone());
        by_kid.insert(pair.kid().to_owned(), pair);
    }
    let jwks =
        serde_json::to_vec(&serde_json::json!({ "keys": published })).expect("a JWKS serializes");
    Ok(KeySet {
        generation,
        active: active
            .into_iter()
            .map(|(alg, (_, pair))| (alg, pair))
            .collect(),
        by_kid,
        jwks: Arc::new(jwks),
    })
}

impl KeyRing {
    /// Opens the ring, first making an active key for every algorithm that has none (a new
    /// installation, or one from before OpenID Connect).
    pub async fn open(
        store: Store,
        now: UnixTime,
        now_millis: u64,
    ) -> Result<KeyRing, KeyRingError> {
        let missing: Vec<SigningAlg> = {
            let set = load(&store)?;
            SigningAlg::ALL
                .into_iter()
                .filter(|alg| set.active(*alg).is_none())
                .collect()
        };
        for alg in missing {
            let key = new_key(alg, now, now_millis)?;
            store
                .add_signing_key(key, Vec::new())
                .await
                .map_err(KeyRingError::NotAdded)?;
        }
        let set = load(&store)?;
        Ok(KeyRing {
            store,
            current: RwLock::new(Arc::new(set)),
        })
    }

    /// The keys as of now, reloaded first if the store's keys changed.
    pub fn keys(&self) -> Result<Arc<KeySet>, KeyRingError> {
        let current = self
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        if current.generation == self.store.signing_keys_generation() {
            return Ok(current);
        }
        let fresh = Arc::new(load(&self.store)?);
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh.clone();
        Ok(fresh)
    }
}

/// A fresh key for `alg`, ready to store.
pub fn new_key(alg: SigningAlg, now: UnixTime, now_millis: u64) -> Result<SigningKey, KeyError> {
    Ok(SigningKey {
        id: Id::generate(now_millis),
        alg,
        private_key: keys::generate(alg)?,
        created_at: now,
        retired_at: None,
        publish_until: None,
    })
}
