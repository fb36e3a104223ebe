//! User records and the username index.

use super::codec::{seal, unseal};
use super::records::users::{decode, encode};
use super::records::values::encode_expiry;
use super::tables::{
    ExpiryKind, CONSENTS, USED_TICKETS, USERNAMES, USERS, USER_API_KEYS, USER_GRANTS,
};
use super::{Store, StoreError};
use crate::model::{Id, SecretHash, UnixTime, User, UserId, Username};

/// Why `insert_user` stored no user.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UserNotInserted {
    /// Another user already has this username (compared without regard to case).
    #[error("the username is taken")]
    UsernameTaken,
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// Why `reset_password` changed nothing.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ResetNotApplied {
    /// The link's one-time id was used before.
    #[error("the reset link was already used")]
    AlreadyUsed,
    /// The user is gone, or the caller's check refused the user as they are now (their
    /// password changed since the link was made).
    #[error("the reset link no longer applies")]
    Superseded,
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// A password reset through a one-time link: the user, the link's one-time id and until
/// when it could be used (so the mark that it was used lives as long as the link would),
/// and the new hash.
pub struct PasswordReset {
    pub user_id: UserId,
    pub link_id: Id,
    pub link_expires_at: UnixTime,
    pub password_hash: String,
}

pub(super) fn user_id(bytes: &[u8]) -> Result<UserId, StoreError> {
    let bytes: [u8; 16] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt("user id is not 16 bytes".into()))?;
    Ok(UserId(Id::from_bytes(bytes)))
}

impl Store {
    pub(super) fn username_key(&self, username: &Username) -> [u8; 32] {
        self.inner
            .sealer
            .index_hash("username", username.folded().as_bytes())
    }

    pub async fn insert_user(&self, user: User) -> Result<(), UserNotInserted> {
        let index_key = self.username_key(&user.username);
        self.write(move |tx| {
            if tx.get(USERNAMES, &index_key)?.is_some() {
                return Ok(Err(UserNotInserted::UsernameTaken));
            }
            let key = user.id.0.as_bytes();
            let value = seal(tx.sealer, USERS, key, &encode(&user));
            tx.insert(USERS, key, &value)?;
            tx.insert(USERNAMES, &index_key, key)?;
            Ok(Ok(()))
        })
        .await?
    }

    pub fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.read(|reader| read_user(reader, id))
    }

    pub fn user_by_username(&self, username: &Username) -> Result<Option<User>, StoreError> {
        let index_key = self.username_key(username);
        let id = self.read(|reader| reader.get(USERNAMES, &index_key))?;
        match id {
            Some(id) => self.user(user_id(&id)?),
            None => Ok(None),
        }
    }

    pub fn users(&self) -> Result<Vec<User>, StoreError> {
        self.read(|reader| {
            reader
                .all(USERS)?
                .into_iter()
                .map(|(key, bytes)| {
                    decode(user_id(&key)?, &unseal(reader.sealer, USERS, &key, &bytes)?)
                })
                .collect()
        })
    }

    /// Deletes the user with this username; returns the id it had, if any.
    pub async fn delete_user(&self, username: Username) -> Result<Option<UserId>, StoreError> {
        let index_key = self.username_key(&username);
        self.write(move |tx| {
            let Some(id) = tx.get(USERNAMES, &index_key)? else {
                return Ok(None);
            };
            let id = user_id(&id)?;
            // Their linked identities first: that step reads (and may fail) before it
            // writes, and nothing else has been written yet.
            super::upstreams::remove_user_identities(tx, id)?;
            // Everything the user granted or made goes with them: grants (and so every
            // token), remembered consents, API keys, code fences.
            for index_key in tx.keys_with_prefix(USER_GRANTS, id.0.as_bytes())? {
                super::grants::remove_grant(tx, &index_key[16..])?;
            }
            for consent_key in tx.keys_with_prefix(CONSENTS, id.0.as_bytes())? {
                tx.remove(CONSENTS, &consent_key)?;
            }
            for index_key in tx.keys_with_prefix(USER_API_KEYS, id.0.as_bytes())? {
                super::apikeys::remove_api_key(tx, &index_key[16..])?;
            }
            super::sessions::remove_user_sessions(tx, id, None)?;
            // The apps they registered on the developer page are theirs alone to keep up:
            // they go too, with every grant other users made to them.
            super::clients::remove_owned_clients(tx, id)?;
            // Their codes are refused because the user is gone (redemption checks); the
            // fences have nothing left to guard.
            super::grants::remove_code_fences(tx, id)?;
            tx.remove(USERS, id.0.as_bytes())?;
            tx.remove(USERNAMES, &index_key)?;
            Ok(Some(id))
        })
        .await
    }

    /// Sets whether the user may register apps (`user set --developer`); returns the user
    /// as stored now, if they still exist.
    pub async fn set_user_developer(
        &self,
        id: UserId,
        developer: bool,
    ) -> Result<Option<User>, StoreError> {
        self.write(move |tx| {
            let key = id.0.as_bytes();
            let Some(bytes) = tx.get(USERS, key)? else {
                return Ok(None);
            };
            let mut user = decode(id, &unseal(tx.sealer, USERS, key, &bytes)?)?;
            user.developer = developer;
            let value = seal(tx.sealer, USERS, key, &encode(&user));
            tx.insert(USERS, key, &value)?;
            Ok(Some(user))
        })
        .await
    }

    /// Replaces a user's password hash and ends every session of the user but `keep_session`
    /// (the account page's own, when the user changes it there), in one commit: whoever
    /// signed in with the old password is signed out. Returns the user's id, if the user
    /// exists.
    pub async fn set_password_hash(
        &self,
        username: Username,
        password_hash: String,
        keep_session: Option<SecretHash>,
    ) -> Result<Option<UserId>, StoreError> {
        let index_key = self.username_key(&username);
        self.write(move |tx| {
            let Some(id) = tx.get(USERNAMES, &index_key)? else {
                return Ok(None);
            };
            let id = user_id(&id)?;
            let key = id.0.as_bytes();
            let Some(bytes) = tx.get(USERS, key)? else {
                return Err(StoreError::Corrupt(
                    "username index names a missing user".into(),
                ));
            };
            let mut user = decode(id, &unseal(tx.sealer, USERS, key, &bytes)?)?;
            user.password_hash = password_hash;
            let value = seal(tx.sealer, USERS, key, &encode(&user));
            tx.insert(USERS, key, &value)?;
            super::sessions::remove_user_sessions(
                tx,
                id,
                keep_session.as_ref().map(SecretHash::as_bytes),
            )?;
            Ok(Some(id))
        })
        .await
    }

    /// A password reset through a one-time link, in one commit: the new hash, every session
    /// of the user ended, and the link's id marked used in `used_tickets` (with an expiry
    /// entry, so the sweeper removes the mark once the link would have expired anyway).
    /// `check` sees the user as stored now and may refuse (the link names another
    /// password). A used link, a user gone or a refusal writes nothing.
    pub async fn reset_password(
        &self,
        reset: PasswordReset,
        check: impl FnOnce(&User) -> bool + Send + 'static,
    ) -> Result<(), ResetNotApplied> {
        self.write(move |tx| {
            let link_key = reset.link_id.as_bytes();
            if tx.get(USED_TICKETS, link_key)?.is_some() {
                return Ok(Err(ResetNotApplied::AlreadyUsed));
            }
            let key = reset.user_id.0.as_bytes();
            let Some(bytes) = tx.get(USERS, key)? else {
                return Ok(Err(ResetNotApplied::Superseded));
            };
            let mut user = decode(reset.user_id, &unseal(tx.sealer, USERS, key, &bytes)?)?;
            if !check(&user) {
                return Ok(Err(ResetNotApplied::Superseded));
            }
            user.password_hash = reset.password_hash;
            let value = seal(tx.sealer, USERS, key, &encode(&user));
            tx.insert(USERS, key, &value)?;
            super::sessions::remove_user_sessions(tx, reset.user_id, None)?;
            super::grants::insert_expiring(
                tx,
                USED_TICKETS,
                ExpiryKind::UsedTicket,
                link_key,
                &encode_expiry(reset.link_expires_at),
                reset.link_expires_at,
            )?;
            Ok(Ok(()))
        })
        .await?
    }
}

pub(super) fn read_user(
    reader: &super::Reader<'_>,
    id: UserId,
) -> Result<Option<User>, StoreError> {
    let key = id.0.as_bytes();
    reader
        .get(USERS, key)?
        .map(|bytes| decode(id, &unseal(reader.sealer, USERS, key, &bytes)?))
        .transpose()
}
