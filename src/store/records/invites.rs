//! `invites` values: `InviteRecordV1`, sealed (it holds the secret's hash).

use serde::{Deserialize, Serialize};

use crate::model::{Id, SecretHash};
use crate::store::codec::{body, frame, split, unknown_version};
use crate::store::tables::INVITES;
use crate::store::{Invite, StoreError};

const INVITE_V1: u8 = 1;

/// A sign-up invitation, format 1. The row's key is the invite's id.
#[derive(Serialize, Deserialize)]
struct InviteRecordV1 {
    /// SHA-256 of the secret half of `<id>.<secret>`.
    secret_hash: [u8; 32],
    created_at: u64,
    expires_at: u64,
    /// Sign-ups it still allows.
    uses_left: u32,
    /// Sign-ups it allowed when it was made.
    uses_total: u32,
}

pub(crate) fn encode(invite: &Invite) -> Vec<u8> {
    frame(
        INVITE_V1,
        &InviteRecordV1 {
            secret_hash: *invite.secret_hash.as_bytes(),
            created_at: invite.created_at,
            expires_at: invite.expires_at,
            uses_left: invite.uses_left,
            uses_total: invite.uses_total,
        },
    )
}

pub(crate) fn decode(id: Id, bytes: &[u8]) -> Result<Invite, StoreError> {
    match split(INVITES, bytes)? {
        (INVITE_V1, rest) => {
            let record: InviteRecordV1 = body(INVITES, rest)?;
            Ok(Invite {
                id,
                secret_hash: SecretHash::from_bytes(record.secret_hash),
                created_at: record.created_at,
                expires_at: record.expires_at,
                uses_left: record.uses_left,
                uses_total: record.uses_total,
            })
        }
        (version, _) => Err(unknown_version(INVITES, version, "1")),
    }
}
