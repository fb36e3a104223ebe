//! Client records.

use std::sync::Arc;

use super::codec::{seal, unseal};
use super::records::clients::{decode, encode};
use super::tables::{CLIENTS, CLIENT_GRANTS};
use super::{Store, StoreError};
use crate::model::{
    Client, ClientId, ClientOrigin, Id, PreviousSecret, SecretHash, UnixTime, UserId,
};

pub(super) fn key_id(key: &[u8]) -> Result<ClientId, StoreError> {
    let bytes: [u8; 16] = key
        .try_into()
        .map_err(|_| StoreError::Corrupt("client key is not 16 bytes".into()))?;
    Ok(ClientId(Id::from_bytes(bytes)))
}

/// Every client in a write, decoded.
fn all_clients(tx: &mut super::writer::Tx<'_>) -> Result<Vec<Client>, StoreError> {
    let mut clients = Vec::new();
    for key in tx.keys_with_prefix(CLIENTS, &[])? {
        if let Some(bytes) = tx.get(CLIENTS, &key)? {
            clients.push(decode(
                key_id(&key)?,
                &unseal(tx.sealer, CLIENTS, &key, &bytes)?,
            )?);
        }
    }
    Ok(clients)
}

/// Removes a client and every grant it holds, inside a write.
fn remove_client(tx: &mut super::writer::Tx<'_>, id: ClientId) -> Result<(), StoreError> {
    for index_key in tx.keys_with_prefix(CLIENT_GRANTS, id.0.as_bytes())? {
        super::grants::remove_grant(tx, &index_key[16..])?;
    }
    tx.remove(CLIENTS, id.0.as_bytes())?;
    Ok(())
}

/// Removes the apps `owner` registered on the developer page, with their grants: part of
/// deleting the user. Clients are few (an operator's and their developers'), so they are
/// read all rather than indexed by owner.
pub(super) fn remove_owned_clients(
    tx: &mut super::writer::Tx<'_>,
    owner: UserId,
) -> Result<(), StoreError> {
    for client in all_clients(tx)? {
        if client.owner() == Some(owner) {
            remove_client(tx, client.id)?;
        }
    }
    Ok(())
}

impl Store {
    pub async fn insert_client(&self, client: Client) -> Result<(), StoreError> {
        let written = self
            .write(move |tx| {
                let key = client.id.0.as_bytes();
                let value = seal(tx.sealer, CLIENTS, key, &encode(&client));
                tx.insert(CLIENTS, key, &value)
            })
            .await;
        self.inner.client_cache.invalidate();
        written
    }

    /// Stores what a client metadata document says, as the stand-in for its client: a new
    /// row, or the row it had with the document's newer settings (keeping when it was first
    /// seen, but not the operator's review: what was reviewed changed). Refused, changing
    /// nothing, if the row under that id is not a stand-in for the same document.
    pub async fn put_document_client(&self, client: Client) -> Result<Client, StoreError> {
        let written = self
            .write(move |tx| {
                let id = client.id;
                let key = id.0.as_bytes();
                let client = match tx.get(CLIENTS, key)? {
                    None => client,
                    Some(bytes) => {
                        let stored = decode(id, &unseal(tx.sealer, CLIENTS, key, &bytes)?)?;
                        if stored.origin != ClientOrigin::Document
                            || stored.document != client.document
                        {
                            return Err(StoreError::Corrupt(
                                "a client metadata document's id names another client".into(),
                            ));
                        }
                        Client {
                            created_at: stored.created_at,
                            verified: false,
                            ..client
                        }
                    }
                };
                let value = seal(tx.sealer, CLIENTS, key, &encode(&client));
                tx.insert(CLIENTS, key, &value)?;
                Ok(client)
            })
            .await;
        self.inner.client_cache.invalidate();
        written
    }

    /// Inserts a developer's app unless its owner already has `limit` apps (counted inside
    /// the write, so two forms posted at once cannot both slip under it) or is gone.
    pub async fn insert_owned_client(
        &self,
        client: Client,
        limit: Option<u32>,
    ) -> Result<(), ClientNotInserted> {
        let written = self
            .write(move |tx| {
                let Some(owner) = client.owner() else {
                    return Ok(Err(ClientNotInserted::NoOwner));
                };
                if tx.get(super::tables::USERS, owner.0.as_bytes())?.is_none() {
                    return Ok(Err(ClientNotInserted::NoOwner));
                }
                if let Some(limit) = limit {
                    let owned = all_clients(tx)?
                        .iter()
                        .filter(|other| other.owner() == Some(owner))
                        .count();
                    if owned >= limit as usize {
                        return Ok(Err(ClientNotInserted::LimitReached(limit)));
                    }
                }
                let key = client.id.0.as_bytes();
                let value = seal(tx.sealer, CLIENTS, key, &encode(&client));
                tx.insert(CLIENTS, key, &value)?;
                Ok(Ok(()))
            })
            .await;
        self.inner.client_cache.invalidate();
        written?
    }

    /// The apps a user registered on the developer page, oldest first.
    pub fn clients_of_owner(&self, owner: UserId) -> Result<Vec<Client>, StoreError> {
        let mut owned: Vec<Client> = self
            .clients()?
            .into_iter()
            .filter(|client| client.origin == ClientOrigin::Developer(owner))
            .collect();
        owned.sort_by_key(|client| (client.created_at, client.id));
        Ok(owned)
    }

    /// How many users have a grant to the client that lasts past `now`: how many people
    /// use the app.
    pub fn client_user_count(&self, id: ClientId, now: UnixTime) -> Result<u64, StoreError> {
        // One read snapshot for the index and every grant it names.
        let mut users: Vec<UserId> = self.read(|reader| {
            let mut users = Vec::new();
            for (key, _) in reader.with_prefix(CLIENT_GRANTS, id.0.as_bytes())? {
                let grant_id: [u8; 16] = key[16..]
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("client_grants key is not 32 bytes".into()))?;
                if let Some(grant) = super::grants::read_grant(reader, Id::from_bytes(grant_id))? {
                    if now < grant.expires_at {
                        users.push(grant.user_id);
                    }
                }
            }
            Ok(users)
        })?;
        users.sort();
        users.dedup();
        Ok(users.len() as u64)
    }

    /// A client, from the in-memory cache when possible: every token request and every
    /// introspection looks its client up, and clients change rarely.
    pub fn client(&self, id: ClientId) -> Result<Option<Arc<Client>>, StoreError> {
        let cache = &self.inner.client_cache;
        if let Some(client) = cache.get(id) {
            return Ok(Some(client));
        }
        let generation = cache.generation();
        let client = self.read(|reader| {
            let key = id.0.as_bytes();
            reader
                .get(CLIENTS, key)?
                .map(|bytes| {
                    decode(id, &unseal(reader.sealer, CLIENTS, key, &bytes)?).map(Arc::new)
                })
                .transpose()
        })?;
        if let Some(client) = &client {
            cache.put(generation, client.clone());
        }
        Ok(client)
    }

    /// A number that moves after every client write has committed: the client cache's
    /// generation. What is derived from all clients (the origins that may make CORS
    /// requests, `oauth::cors`) is current for as long as this number stays the same.
    pub fn clients_generation(&self) -> u64 {
        self.inner.client_cache.generation()
    }

    pub fn clients(&self) -> Result<Vec<Client>, StoreError> {
        self.read(|reader| {
            reader
                .all(CLIENTS)?
                .into_iter()
                .map(|(key, bytes)| {
                    decode(
                        key_id(&key)?,
                        &unseal(reader.sealer, CLIENTS, &key, &bytes)?,
                    )
                })
                .collect()
        })
    }

    /// Returns whether the client existed.
    /// Deleting a client ends every grant it holds, so none of its tokens work after.
    pub async fn delete_client(&self, id: ClientId) -> Result<bool, StoreError> {
        self.delete_client_if(id, None).await
    }

    /// Deletes a client, as `delete_client`, but only if `owner` (when given) registered
    /// it: the developer page deletes its user's own apps, never another's.
    pub async fn delete_client_if(
        &self,
        id: ClientId,
        owner: Option<UserId>,
    ) -> Result<bool, StoreError> {
        let deleted = self.write(move |tx| {
            let key = id.0.as_bytes();
            let Some(bytes) = tx.get(CLIENTS, key)? else {
                return Ok(false);
            };
            if let Some(owner) = owner {
                if decode(id, &unseal(tx.sealer, CLIENTS, key, &bytes)?)?.owner() != Some(owner) {
                    return Ok(false);
                }
            }
            remove_client(tx, id)?;
            Ok(true)
        });
        let deleted = deleted.await;
        self.inner.client_cache.invalidate();
        deleted
    }

    /// Changes a client in one write: `change` sees the record as it is inside the write
    /// and answers the new one, or why not (`Ok(Err(..))`, nothing written). The cache is
    /// invalidated once the write has committed, so the next request sees the change.
    pub async fn update_client<E: Send + 'static>(
        &self,
        id: ClientId,
        change: impl FnOnce(&Client) -> Result<Client, E> + Send + 'static,
    ) -> Result<Result<Client, E>, ClientNotUpdated> {
        let written = self.write(move |tx| {
            let key = id.0.as_bytes();
            let Some(bytes) = tx.get(CLIENTS, key)? else {
                return Ok(None);
            };
            let client = decode(id, &unseal(tx.sealer, CLIENTS, key, &bytes)?)?;
            let changed = match change(&client) {
                Ok(changed) => changed,
                Err(refused) => return Ok(Some(Err(refused))),
            };
            // The id and the secret are not `update`'s to change.
            let changed = Client {
                id,
                secret_hash: client.secret_hash,
                previous_secret: client.previous_secret,
                origin: client.origin,
                created_at: client.created_at,
                ..changed
            };
            let value = seal(tx.sealer, CLIENTS, key, &encode(&changed));
            tx.insert(CLIENTS, key, &value)?;
            Ok(Some(Ok(changed)))
        });
        let written = written.await;
        self.inner.client_cache.invalidate();
        written?.ok_or(ClientNotUpdated::NoSuchClient)
    }

    /// Replaces a confidential client's secret hash. With `previous_until`, the secret it
    /// had keeps working until then (and a secret still in an earlier grace stops); without
    /// it, only the new one works. `owner`, when given, must have registered the client.
    pub async fn set_client_secret(
        &self,
        id: ClientId,
        secret_hash: SecretHash,
        previous_until: Option<UnixTime>,
        owner: Option<UserId>,
    ) -> Result<Client, SecretNotSet> {
        let written = self.write(move |tx| {
            let key = id.0.as_bytes();
            let Some(bytes) = tx.get(CLIENTS, key)? else {
                return Ok(Err(SecretNotSet::NoSuchClient));
            };
            let mut client = decode(id, &unseal(tx.sealer, CLIENTS, key, &bytes)?)?;
            if owner.is_some_and(|owner| client.owner() != Some(owner)) {
                return Ok(Err(SecretNotSet::NoSuchClient));
            }
            let Some(current) = client.secret_hash else {
                return Ok(Err(SecretNotSet::PublicClient));
            };
            client.previous_secret = previous_until.map(|until| PreviousSecret {
                hash: current,
                until,
            });
            client.secret_hash = Some(secret_hash);
            let value = seal(tx.sealer, CLIENTS, key, &encode(&client));
            tx.insert(CLIENTS, key, &value)?;
            Ok(Ok(client))
        });
        let written = written.await;
        self.inner.client_cache.invalidate();
        written?
    }
}

/// Why `insert_owned_client` inserted nothing.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientNotInserted {
    /// The owner has this many apps already.
    #[error("the owner has {0} apps already, the most one user may have")]
    LimitReached(u32),
    /// The owner was deleted meanwhile (or the client names none).
    #[error("the owner does not exist")]
    NoOwner,
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// Why `update_client` changed nothing.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientNotUpdated {
    #[error("there is no such client")]
    NoSuchClient,
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// Why `set_client_secret` changed nothing.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SecretNotSet {
    #[error("there is no such client")]
    NoSuchClient,
    /// A public client has no secret to rotate.
    #[error("the client is public")]
    PublicClient,
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// Clients by id, in memory. Coherent because this process is the only writer: every client
/// write invalidates it after committing, and a lookup that raced with a write does not
/// store what it read (the generation moved on). Bounded: emptied when full.
#[derive(Default)]
pub(super) struct ClientCache {
    generation: std::sync::atomic::AtomicU64,
    clients: std::sync::RwLock<std::collections::HashMap<ClientId, Arc<Client>>>,
}

const CLIENT_CACHE_LIMIT: usize = 10_000;

impl ClientCache {
    fn get(&self, id: ClientId) -> Option<Arc<Client>> {
        self.clients
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&id)
            .cloned()
    }

    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    fn put(&self, read_at: u64, client: Arc<Client>) {
        let mut clients = self
            .clients
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.generation() != read_at {
            return;
        }
        if clients.len() >= CLIENT_CACHE_LIMIT {
            clients.clear();
        }
        clients.insert(client.id, client);
    }

    pub(super) fn invalidate(&self) {
        let mut clients = self
            .clients
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        clients.clear();
    }
}
