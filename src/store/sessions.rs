//! Browser sessions, keyed by the SHA-256 of the cookie value: the database never holds a
//! value that could be replayed as a cookie.

use serde::{Deserialize, Serialize};

use super::codec::{seal, unseal};
use super::tables::{expiry_key, ExpiryKind, EXPIRY, SESSIONS};
use super::{Store, StoreError};
use crate::model::{SecretHash, UnixTime, UserId};

pub(super) const SESSION_V1: u8 = 1;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Session {
    pub user_id: UserId,
    /// When the user last proved who they are (OpenID Connect `auth_time`).
    pub auth_time: UnixTime,
    pub expires_at: UnixTime,
}

impl Store {
    pub async fn insert_session(
        &self,
        cookie_hash: SecretHash,
        session: Session,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            let key = cookie_hash.as_bytes();
            let value = seal(tx.sealer, SESSIONS, key, SESSION_V1, &session);
            tx.insert(SESSIONS, key, &value)?;
            tx.insert(
                EXPIRY,
                &expiry_key(session.expires_at, ExpiryKind::Session, key),
                &[],
            )
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
                .map(|bytes| unseal(reader.sealer, SESSIONS, key, SESSION_V1, &bytes))
                .transpose()
        })?;
        Ok(session.filter(|session| now < session.expires_at))
    }

    pub async fn delete_session(&self, cookie_hash: SecretHash) -> Result<(), StoreError> {
        self.write(move |tx| tx.remove(SESSIONS, cookie_hash.as_bytes()).map(|_| ()))
            .await
    }
}

/// Opens and decodes one stored session (for `keyward check`).
pub(super) fn check_record(
    sealer: &super::seal::Sealer,
    key: &[u8],
    bytes: &[u8],
) -> Result<(), StoreError> {
    unseal::<Session>(sealer, SESSIONS, key, SESSION_V1, bytes).map(|_| ())
}
