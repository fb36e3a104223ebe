//! Sign-up invitations (`keyward invite`, `serve --signup invite`). The link carries
//! `<id>.<secret>`; the store keeps only SHA-256 of the secret, sealed, and an expiry-index
//! entry, so the sweeper deletes an invitation once it has expired.

use super::codec::{seal, unseal};
use super::records::invites::{decode, encode};
use super::records::users::encode as encode_user;
use super::tables::{expiry_key, ExpiryKind, EXPIRY, INVITES, USERNAMES, USERS};
use super::writer::Tx;
use super::{Store, StoreError};
use crate::model::{Id, SecretHash, UnixTime, User};

/// A sign-up invitation. (Its bytes: `records::invites::InviteRecordV1`.)
#[derive(Clone, Debug)]
pub struct Invite {
    pub id: Id,
    pub secret_hash: SecretHash,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    pub uses_left: u32,
    pub uses_total: u32,
}

impl Invite {
    /// Whether `secret` is this invitation's and it still allows a sign-up at `now`.
    pub fn admits(&self, secret: &str, now: UnixTime) -> bool {
        self.secret_hash.matches(secret) && now < self.expires_at && self.uses_left > 0
    }
}

/// Why `insert_invited_user` stored no user. Nothing was written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum InvitedUserNotInserted {
    /// The invitation is unknown, revoked, expired, used up, or its secret is wrong.
    #[error("the invitation is not valid")]
    InviteNotValid,
    #[error("the username is taken")]
    UsernameTaken,
    #[error(transparent)]
    Storage(#[from] StoreError),
}

pub(super) fn invite_id(key: &[u8]) -> Result<Id, StoreError> {
    let bytes: [u8; 16] = key
        .try_into()
        .map_err(|_| StoreError::Corrupt("invite id is not 16 bytes".into()))?;
    Ok(Id::from_bytes(bytes))
}

fn load(tx: &mut Tx<'_>, key: &[u8]) -> Result<Option<Invite>, StoreError> {
    tx.get(INVITES, key)?
        .map(|bytes| decode(invite_id(key)?, &unseal(tx.sealer, INVITES, key, &bytes)?))
        .transpose()
}

fn write(tx: &mut Tx<'_>, invite: &Invite) -> Result<(), StoreError> {
    let key = invite.id.as_bytes();
    let value = seal(tx.sealer, INVITES, key, &encode(invite));
    tx.insert(INVITES, key, &value)
}

/// For the sweeper: deletes the invitation if its time has come. Returns whether it did.
pub(super) fn sweep_invite(tx: &mut Tx<'_>, key: &[u8], now: UnixTime) -> Result<bool, StoreError> {
    match load(tx, key)? {
        Some(invite) if invite.expires_at <= now => tx.remove(INVITES, key),
        _ => Ok(false),
    }
}

impl Store {
    /// Stores a new invitation and its expiry-index entry.
    pub async fn insert_invite(&self, invite: Invite) -> Result<(), StoreError> {
        self.write(move |tx| {
            write(tx, &invite)?;
            tx.insert(
                EXPIRY,
                &expiry_key(invite.expires_at, ExpiryKind::Invite, invite.id.as_bytes()),
                &[],
            )
        })
        .await
    }

    pub fn invite(&self, id: Id) -> Result<Option<Invite>, StoreError> {
        self.read(|reader| {
            reader
                .get(INVITES, id.as_bytes())?
                .map(|bytes| decode(id, &unseal(reader.sealer, INVITES, id.as_bytes(), &bytes)?))
                .transpose()
        })
    }

    /// Every invitation, oldest first (ids are time-ordered).
    pub fn invites(&self) -> Result<Vec<Invite>, StoreError> {
        self.read(|reader| {
            reader
                .all(INVITES)?
                .into_iter()
                .map(|(key, bytes)| {
                    decode(
                        invite_id(&key)?,
                        &unseal(reader.sealer, INVITES, &key, &bytes)?,
                    )
                })
                .collect()
        })
    }

    /// Deletes an invitation (its expiry entry is dropped by the sweeper when its time
    /// comes). Returns whether it existed.
    pub async fn delete_invite(&self, id: Id) -> Result<bool, StoreError> {
        self.write(move |tx| tx.remove(INVITES, id.as_bytes()))
            .await
    }

    /// A sign-up through an invitation, in one transaction: the invitation is checked (its
    /// secret, its expiry, a use left) and one use taken, and the user inserted (the
    /// username checked without regard to case). Two sign-ups racing for the last use are
    /// serialized by the writer: the second sees no use left. A refusal writes nothing.
    pub async fn insert_invited_user(
        &self,
        user: User,
        invite_id: Id,
        secret: String,
        now: UnixTime,
    ) -> Result<(), InvitedUserNotInserted> {
        let index_key = self.username_key(&user.username);
        self.write(move |tx| {
            let Some(mut invite) = load(tx, invite_id.as_bytes())? else {
                return Ok(Err(InvitedUserNotInserted::InviteNotValid));
            };
            if !invite.admits(&secret, now) {
                return Ok(Err(InvitedUserNotInserted::InviteNotValid));
            }
            if tx.get(USERNAMES, &index_key)?.is_some() {
                return Ok(Err(InvitedUserNotInserted::UsernameTaken));
            }
            invite.uses_left -= 1;
            write(tx, &invite)?;
            let key = user.id.0.as_bytes();
            let value = seal(tx.sealer, USERS, key, &encode_user(&user));
            tx.insert(USERS, key, &value)?;
            tx.insert(USERNAMES, &index_key, key)?;
            Ok(Ok(()))
        })
        .await?
    }
}
