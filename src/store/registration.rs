//! Dynamic client registration (RFC 7591, RFC 7592): initial access tokens (`keyward
//! registration-token`), and registered clients, inserted together with the use of the
//! token that allowed them and swept when nobody ever used them.

use super::codec::{seal, unseal};
use super::records::clients::encode as encode_client;
use super::records::registration_tokens::{decode, encode};
use super::tables::{CLIENTS, CLIENT_GRANTS, REGISTRATION_TOKENS};
use super::writer::Tx;
use super::{Store, StoreError};
use crate::model::{Client, ClientOrigin, Id, Scope, SecretHash, UnixTime};

/// An initial access token. (Its bytes: `records::registration_tokens`.)
#[derive(Clone, Debug)]
pub struct RegistrationToken {
    pub id: Id,
    pub secret_hash: SecretHash,
    pub created_at: UnixTime,
    pub expires_at: Option<UnixTime>,
    pub uses_left: Option<u32>,
    pub uses_total: Option<u32>,
    /// Scopes its clients may ask for beyond the self-service ones.
    pub scope: Option<Scope>,
}

impl RegistrationToken {
    /// Whether `secret` is this token's and it still allows a registration at `now`.
    pub fn admits(&self, secret: &str, now: UnixTime) -> bool {
        let matches = self.secret_hash.matches(secret);
        matches
            && self.expires_at.is_none_or(|expires_at| now < expires_at)
            && self.uses_left != Some(0)
    }
}

/// Why `insert_registered_client` stored nothing.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RegistrationNotStored {
    /// The initial access token is unknown, revoked, expired, used up or wrong.
    #[error("the initial access token is not valid")]
    TokenNotValid,
    #[error(transparent)]
    Storage(#[from] StoreError),
}

pub(super) fn token_id(key: &[u8]) -> Result<Id, StoreError> {
    let bytes: [u8; 16] = key
        .try_into()
        .map_err(|_| StoreError::Corrupt("registration token id is not 16 bytes".into()))?;
    Ok(Id::from_bytes(bytes))
}

fn load(tx: &mut Tx<'_>, id: Id) -> Result<Option<RegistrationToken>, StoreError> {
    let key = id.as_bytes();
    tx.get(REGISTRATION_TOKENS, key)?
        .map(|bytes| decode(id, &unseal(tx.sealer, REGISTRATION_TOKENS, key, &bytes)?))
        .transpose()
}

fn write(tx: &mut Tx<'_>, token: &RegistrationToken) -> Result<(), StoreError> {
    let key = token.id.as_bytes();
    let value = seal(tx.sealer, REGISTRATION_TOKENS, key, &encode(token));
    tx.insert(REGISTRATION_TOKENS, key, &value)
}

impl Store {
    pub async fn insert_registration_token(
        &self,
        token: RegistrationToken,
    ) -> Result<(), StoreError> {
        self.write(move |tx| write(tx, &token)).await
    }

    pub fn registration_token(&self, id: Id) -> Result<Option<RegistrationToken>, StoreError> {
        self.read(|reader| {
            reader
                .get(REGISTRATION_TOKENS, id.as_bytes())?
                .map(|bytes| {
                    decode(
                        id,
                        &unseal(reader.sealer, REGISTRATION_TOKENS, id.as_bytes(), &bytes)?,
                    )
                })
                .transpose()
        })
    }

    /// Every initial access token, oldest first (ids are time-ordered).
    pub fn registration_tokens(&self) -> Result<Vec<RegistrationToken>, StoreError> {
        self.read(|reader| {
            reader
                .all(REGISTRATION_TOKENS)?
                .into_iter()
                .map(|(key, bytes)| {
                    decode(
                        token_id(&key)?,
                        &unseal(reader.sealer, REGISTRATION_TOKENS, &key, &bytes)?,
                    )
                })
                .collect()
        })
    }

    /// Returns whether it existed.
    pub async fn delete_registration_token(&self, id: Id) -> Result<bool, StoreError> {
        self.write(move |tx| tx.remove(REGISTRATION_TOKENS, id.as_bytes()))
            .await
    }

    /// A registration in one write: the initial access token (when one is presented) is
    /// checked again and one of its uses taken, and the client inserted. Two registrations
    /// racing for a token's last use are serialized by the writer; a refusal writes nothing.
    pub async fn insert_registered_client(
        &self,
        client: Client,
        token: Option<(Id, String)>,
        now: UnixTime,
    ) -> Result<(), RegistrationNotStored> {
        let written = self
            .write(move |tx| {
                if let Some((id, secret)) = token {
                    let Some(mut token) = load(tx, id)? else {
                        return Ok(Err(RegistrationNotStored::TokenNotValid));
                    };
                    if !token.admits(&secret, now) {
                        return Ok(Err(RegistrationNotStored::TokenNotValid));
                    }
                    if let Some(left) = token.uses_left.as_mut() {
                        *left -= 1;
                        write(tx, &token)?;
                    }
                }
                let key = client.id.0.as_bytes();
                let value = seal(tx.sealer, CLIENTS, key, &encode_client(&client));
                tx.insert(CLIENTS, key, &value)?;
                Ok(Ok(()))
            })
            .await;
        self.inner.client_cache.invalidate();
        written?
    }

    /// Deletes the clients registered by programs before `registered_before` that nobody
    /// uses: no grant names them (none was made, or every one has ended). A program that
    /// registers and never comes back should not keep a client forever; nor should a
    /// metadata document fetched once (it is fetched again if it comes back). Returns how
    /// many went.
    pub async fn sweep_unused_registered_clients(
        &self,
        registered_before: UnixTime,
    ) -> Result<u64, StoreError> {
        let candidates: Vec<Id> = self
            .clients()?
            .into_iter()
            .filter(|client| {
                matches!(
                    client.origin,
                    ClientOrigin::Registered | ClientOrigin::Document
                ) && client.created_at < registered_before
            })
            .map(|client| client.id.0)
            .collect();
        if candidates.is_empty() {
            return Ok(0);
        }
        let swept = self
            .write(move |tx| {
                let mut swept = 0;
                for id in candidates {
                    let used = !tx
                        .keys_with_prefix(CLIENT_GRANTS, id.as_bytes())?
                        .is_empty();
                    if !used && tx.remove(CLIENTS, id.as_bytes())? {
                        swept += 1;
                    }
                }
                Ok(swept)
            })
            .await;
        self.inner.client_cache.invalidate();
        swept
    }
}
