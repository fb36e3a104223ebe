//! `registration_tokens` values: `RegistrationTokenRecordV1`, sealed (it holds the secret's
//! hash).

use serde::{Deserialize, Serialize};

use super::{scope_from_stored, scope_to_stored};
use crate::model::{Id, SecretHash};
use crate::store::codec::{body, frame, split, unknown_version};
use crate::store::tables::REGISTRATION_TOKENS;
use crate::store::{RegistrationToken, StoreError};

const REGISTRATION_TOKEN_V1: u8 = 1;

/// An initial access token for dynamic client registration, format 1 (schema 5). The row's
/// key is the token's id.
#[derive(Serialize, Deserialize)]
struct RegistrationTokenRecordV1 {
    /// SHA-256 of the secret half of `<id>.<secret>`.
    secret_hash: [u8; 32],
    created_at: u64,
    /// `None`: it does not expire.
    expires_at: Option<u64>,
    /// Registrations it still allows, and allowed at first; `None`: any number.
    uses_left: Option<u32>,
    uses_total: Option<u32>,
    /// Scopes its clients may ask for beyond the self-service ones; `None`: none.
    scope: Option<Vec<String>>,
}

pub(crate) fn encode(token: &RegistrationToken) -> Vec<u8> {
    frame(
        REGISTRATION_TOKEN_V1,
        &RegistrationTokenRecordV1 {
            secret_hash: *token.secret_hash.as_bytes(),
            created_at: token.created_at,
            expires_at: token.expires_at,
            uses_left: token.uses_left,
            uses_total: token.uses_total,
            scope: token.scope.as_ref().map(scope_to_stored),
        },
    )
}

pub(crate) fn decode(id: Id, bytes: &[u8]) -> Result<RegistrationToken, StoreError> {
    match split(REGISTRATION_TOKENS, bytes)? {
        (REGISTRATION_TOKEN_V1, rest) => {
            let record: RegistrationTokenRecordV1 = body(REGISTRATION_TOKENS, rest)?;
            Ok(RegistrationToken {
                id,
                secret_hash: SecretHash::from_bytes(record.secret_hash),
                created_at: record.created_at,
                expires_at: record.expires_at,
                uses_left: record.uses_left,
                uses_total: record.uses_total,
                scope: record.scope.map(scope_from_stored),
            })
        }
        (version, _) => Err(unknown_version(REGISTRATION_TOKENS, version, "1")),
    }
}
