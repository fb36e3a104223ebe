//! Personal API keys: long-lived credentials a user makes for scripts, exchanged at the
//! token endpoint for short-lived access tokens. Stored as SHA-256 of the secret, sealed.

use std::collections::HashMap;

use super::codec::{seal, unseal};
use super::records::apikeys::{decode, encode};
use super::tables::{expiry_key, pair_key, ExpiryKind, API_KEYS, EXPIRY, USERS, USER_API_KEYS};
use super::writer::Tx;
use super::{Store, StoreError};
use crate::model::{DisplayName, Id, Scope, ScopeToken, SecretHash, UnixTime, UserId};

/// A personal API key. (Its bytes: `records::apikeys::ApiKeyRecordV1`.)
#[derive(Clone, Debug)]
pub struct ApiKey {
    pub id: Id,
    pub user_id: UserId,
    pub name: DisplayName,
    pub scope: Scope,
    pub secret_hash: SecretHash,
    pub created_at: UnixTime,
    pub expires_at: Option<UnixTime>,
    pub last_used: Option<UnixTime>,
}

impl ApiKey {
    pub fn live(&self, now: UnixTime) -> bool {
        self.expires_at.is_none_or(|expires_at| now < expires_at)
    }
}

fn load(tx: &mut Tx<'_>, key: &[u8]) -> Result<Option<ApiKey>, StoreError> {
    tx.get(API_KEYS, key)?
        .map(|bytes| decode(&unseal(tx.sealer, API_KEYS, key, &bytes)?))
        .transpose()
}

fn write(tx: &mut Tx<'_>, api_key: &ApiKey) -> Result<(), StoreError> {
    let key = api_key.id.as_bytes();
    let value = seal(tx.sealer, API_KEYS, key, &encode(api_key));
    tx.insert(API_KEYS, key, &value)
}

/// Deletes an API key and its index entry. Returns whether it existed.
pub(super) fn remove_api_key(tx: &mut Tx<'_>, key: &[u8]) -> Result<bool, StoreError> {
    let Some(api_key) = load(tx, key)? else {
        return Ok(false);
    };
    tx.remove(API_KEYS, key)?;
    tx.remove(
        USER_API_KEYS,
        &pair_key(api_key.user_id.0.as_bytes(), api_key.id.as_bytes()),
    )?;
    Ok(true)
}

/// Whether an API key's time has come (for the sweeper).
pub(super) fn api_key_expired(
    tx: &mut Tx<'_>,
    key: &[u8],
    now: UnixTime,
) -> Result<bool, StoreError> {
    Ok(load(tx, key)?.is_some_and(|api_key| !api_key.live(now)))
}

/// Why a checked API key was not stored after all: something changed since it was checked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KeyNotStored {
    /// Its user was deleted meanwhile.
    #[error("the user was deleted meanwhile")]
    UserGone,
    /// The operator no longer lets API keys carry this scope.
    #[error("the scope is no longer allowed for API keys")]
    ScopeNotAllowed(ScopeToken),
    #[error(transparent)]
    Storage(#[from] StoreError),
}

impl Store {
    /// Stores a new API key, if its user still exists and every scope of `needs_api_keys`
    /// still lets API keys carry it (checked in the write, after the caller's checks on a
    /// read, so a concurrent `scope set` without `--api-keys` or user deletion wins).
    pub async fn insert_api_key(
        &self,
        api_key: ApiKey,
        needs_api_keys: Vec<ScopeToken>,
    ) -> Result<(), KeyNotStored> {
        self.write(move |tx| {
            if tx.get(USERS, api_key.user_id.0.as_bytes())?.is_none() {
                return Ok(Err(KeyNotStored::UserGone));
            }
            for scope in needs_api_keys {
                if !super::scopes::allows_api_keys(tx, &scope)? {
                    return Ok(Err(KeyNotStored::ScopeNotAllowed(scope)));
                }
            }
            write(tx, &api_key)?;
            tx.insert(
                USER_API_KEYS,
                &pair_key(api_key.user_id.0.as_bytes(), api_key.id.as_bytes()),
                &[],
            )?;
            if let Some(expires_at) = api_key.expires_at {
                tx.insert(
                    EXPIRY,
                    &expiry_key(expires_at, ExpiryKind::ApiKey, api_key.id.as_bytes()),
                    &[],
                )?;
            }
            Ok(Ok(()))
        })
        .await?
    }

    pub fn api_key(&self, id: Id) -> Result<Option<ApiKey>, StoreError> {
        self.read(|reader| read_api_key(reader, id))
    }

    pub fn api_keys_of_user(&self, user_id: UserId) -> Result<Vec<ApiKey>, StoreError> {
        let ids = self.read(|reader| reader.with_prefix(USER_API_KEYS, user_id.0.as_bytes()))?;
        let mut keys = Vec::with_capacity(ids.len());
        for (key, _) in ids {
            let id: [u8; 16] = key[16..]
                .try_into()
                .map_err(|_| StoreError::Corrupt("user_api_keys key is not 32 bytes".into()))?;
            if let Some(api_key) = self.api_key(Id::from_bytes(id))? {
                keys.push(api_key);
            }
        }
        Ok(keys)
    }

    /// Deletes a key; with `owner`, only that user's. Returns whether one was deleted.
    pub async fn delete_api_key(&self, id: Id, owner: Option<UserId>) -> Result<bool, StoreError> {
        self.write(move |tx| {
            let Some(api_key) = load(tx, id.as_bytes())? else {
                return Ok(false);
            };
            if owner.is_some_and(|owner| owner != api_key.user_id) {
                return Ok(false);
            }
            remove_api_key(tx, id.as_bytes())
        })
        .await
    }

    /// Records when keys were last used, many at once: one commit per flush instead of one
    /// fsync per use. Keys deleted meanwhile are skipped.
    pub async fn record_api_key_use(&self, uses: HashMap<Id, UnixTime>) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        self.write(move |tx| {
            for (id, used_at) in uses {
                if let Some(mut api_key) = load(tx, id.as_bytes())? {
                    if api_key.last_used.is_none_or(|last| last < used_at) {
                        api_key.last_used = Some(used_at);
                        write(tx, &api_key)?;
                    }
                }
            }
            Ok(())
        })
        .await
    }
}

pub(super) fn read_api_key(
    reader: &super::Reader<'_>,
    id: Id,
) -> Result<Option<ApiKey>, StoreError> {
    reader
        .get(API_KEYS, id.as_bytes())?
        .map(|bytes| decode(&unseal(reader.sealer, API_KEYS, id.as_bytes(), &bytes)?))
        .transpose()
}
