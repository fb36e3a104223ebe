//! Browser sessions, keyed by the SHA-256 of the cookie value: the database never holds a
//! value that could be replayed as a cookie. `user_sessions` indexes them by user, so that a
//! password change or `keyward user sign-out` can end every session of one user.

use super::codec::{seal, unseal};
use super::records::sessions::{decode, encode};
use super::tables::{expiry_key, ExpiryKind, EXPIRY, SESSIONS, USER_SESSIONS};
use super::writer::Tx;
use super::{Store, StoreError};
use crate::model::{SecretHash, UnixTime, UserId};

/// A signed-in browser. (Its bytes: `records::sessions::SessionRecordV1`.)
#[derive(Clone, Debug)]
pub struct Session {
    pub user_id: UserId,
    /// When the user last proved who they are (OpenID Connect `auth_time`).
    pub auth_time: UnixTime,
    pub expires_at: UnixTime,
}

/// user id (16) ‖ session key (32): the `user_sessions` index key.
pub(super) fn index_key(user_id: UserId, session_key: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(16 + session_key.len());
    key.extend_from_slice(user_id.0.as_bytes());
    key.extend_from_slice(session_key);
    key
}

pub(super) fn load(tx: &mut Tx<'_>, key: &[u8]) -> Result<Option<Session>, StoreError> {
    tx.get(SESSIONS, key)?
        .map(|bytes| decode(&unseal(tx.sealer, SESSIONS, key, &bytes)?))
        .transpose()
}

/// Deletes a session and its index entry. Returns whether it existed.
pub(super) fn remove_session(tx: &mut Tx<'_>, key: &[u8]) -> Result<bool, StoreError> {
    let Some(session) = load(tx, key)? else {
        return Ok(false);
    };
    tx.remove(SESSIONS, key)?;
    tx.remove(USER_SESSIONS, &index_key(session.user_id, key))?;
    Ok(true)
}

/// Deletes every session of a user (keeping `except`, if given). Returns how many went.
pub(super) fn remove_user_sessions(
    tx: &mut Tx<'_>,
    user_id: UserId,
    except: Option<&[u8; 32]>,
) -> Result<u64, StoreError> {
    let mut removed = 0;
    for index_entry in tx.keys_with_prefix(USER_SESSIONS, user_id.0.as_bytes())? {
        let session_key = &index_entry[16..];
        if except.is_some_and(|kept| kept.as_slice() == session_key) {
            continue;
        }
        tx.remove(USER_SESSIONS, &index_entry)?;
        removed += u64::from(tx.remove(SESSIONS, session_key)?);
    }
    Ok(removed)
}

fn write_session(tx: &mut Tx<'_>, key: &[u8; 32], session: &Session) -> Result<(), StoreError> {
    let value = seal(tx.sealer, SESSIONS, key, &encode(session));
    tx.insert(SESSIONS, key, &value)?;
    tx.insert(USER_SESSIONS, &index_key(session.user_id, key), &[])?;
    tx.insert(
        EXPIRY,
        &expiry_key(session.expires_at, ExpiryKind::Session, key),
        &[],
    )
}

impl Store {
    pub async fn insert_session(
        &self,
        cookie_hash: SecretHash,
        session: Session,
    ) -> Result<(), StoreError> {
        self.write(move |tx| write_session(tx, cookie_hash.as_bytes(), &session))
            .await
    }

    /// A sign-in: the new session is written and the one the browser came with (if any) is
    /// deleted in the same commit, so a session id planted before sign-in never becomes the
    /// authenticated one (session fixation).
    pub async fn replace_session(
        &self,
        previous: Option<SecretHash>,
        cookie_hash: SecretHash,
        session: Session,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            let stale = match previous {
                Some(previous) => load(tx, previous.as_bytes())?.map(|_| previous),
                None => None,
            };
            if let Some(previous) = stale {
                remove_session(tx, previous.as_bytes())?;
            }
            write_session(tx, cookie_hash.as_bytes(), &session)
        })
        .await
    }

    /// The live session for a cookie, if there is one.
    pub fn session(
        &self,
        cookie_hash: &SecretHash,
        now: UnixTime,
    ) -> Result<Option<Session>, StoreError> {
        let key = cookie_hash.as_bytes();
        let session: Option<Session> = self.read(|reader| {
            reader
                .get(SESSIONS, key)?
                .map(|bytes| decode(&unseal(reader.sealer, SESSIONS, key, &bytes)?))
                .transpose()
        })?;
        Ok(session.filter(|session| now < session.expires_at))
    }

    pub async fn delete_session(&self, cookie_hash: SecretHash) -> Result<(), StoreError> {
        self.write(move |tx| remove_session(tx, cookie_hash.as_bytes()).map(|_| ()))
            .await
    }

    /// Ends every session of a user but `keep` (the browser asking, when it is one of
    /// them); returns how many ended. `keyward user sign-out` keeps none; the account
    /// page's "sign out everywhere else" keeps its own.
    pub async fn end_user_sessions(
        &self,
        user_id: UserId,
        keep: Option<SecretHash>,
    ) -> Result<u64, StoreError> {
        self.write(move |tx| {
            remove_user_sessions(tx, user_id, keep.as_ref().map(SecretHash::as_bytes))
        })
        .await
    }

    /// The user's live sessions, each with the hash of its cookie, latest sign-in first:
    /// one read snapshot over the `user_sessions` index.
    pub fn sessions_of_user(
        &self,
        user_id: UserId,
        now: UnixTime,
    ) -> Result<Vec<(SecretHash, Session)>, StoreError> {
        let mut sessions = self.read(|reader| {
            let mut found = Vec::new();
            for (index_entry, _) in reader.with_prefix(USER_SESSIONS, user_id.0.as_bytes())? {
                let session_key: [u8; 32] = index_entry[16..]
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("user_sessions key is not 48 bytes".into()))?;
                // An index entry whose session went in the same instant is not a session.
                if let Some(bytes) = reader.get(SESSIONS, &session_key)? {
                    let session = decode(&unseal(reader.sealer, SESSIONS, &session_key, &bytes)?)?;
                    found.push((SecretHash::from_bytes(session_key), session));
                }
            }
            Ok(found)
        })?;
        sessions.retain(|(_, session)| now < session.expires_at);
        sessions.sort_by_key(|(_, session)| std::cmp::Reverse(session.auth_time));
        Ok(sessions)
    }
}
