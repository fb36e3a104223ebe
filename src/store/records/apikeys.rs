//! `api_keys` values: `ApiKeyRecordV1`, sealed (it holds the secret's hash).

use serde::{Deserialize, Serialize};

use super::{scope_from_stored, scope_to_stored};
use crate::model::{DisplayName, Id, SecretHash, UserId};
use crate::store::codec::{body, frame, split, unknown_version};
use crate::store::tables::API_KEYS;
use crate::store::{ApiKey, StoreError};

const API_KEY_V1: u8 = 1;

/// A personal API key, format 1. `id` repeats the row's key.
#[derive(Serialize, Deserialize)]
struct ApiKeyRecordV1 {
    id: [u8; 16],
    user_id: [u8; 16],
    name: String,
    scope: Vec<String>,
    secret_hash: [u8; 32],
    created_at: u64,
    /// `None` for a key that never expires.
    expires_at: Option<u64>,
    last_used: Option<u64>,
}

pub(crate) fn encode(api_key: &ApiKey) -> Vec<u8> {
    frame(
        API_KEY_V1,
        &ApiKeyRecordV1 {
            id: *api_key.id.as_bytes(),
            user_id: *api_key.user_id.0.as_bytes(),
            name: api_key.name.as_str().to_owned(),
            scope: scope_to_stored(&api_key.scope),
            secret_hash: *api_key.secret_hash.as_bytes(),
            created_at: api_key.created_at,
            expires_at: api_key.expires_at,
            last_used: api_key.last_used,
        },
    )
}

pub(crate) fn decode(bytes: &[u8]) -> Result<ApiKey, StoreError> {
    match split(API_KEYS, bytes)? {
        (API_KEY_V1, rest) => {
            let record: ApiKeyRecordV1 = body(API_KEYS, rest)?;
            Ok(ApiKey {
                id: Id::from_bytes(record.id),
                user_id: UserId(Id::from_bytes(record.user_id)),
                name: DisplayName::from_stored(record.name),
                scope: scope_from_stored(record.scope),
                secret_hash: SecretHash::from_bytes(record.secret_hash),
                created_at: record.created_at,
                expires_at: record.expires_at,
                last_used: record.last_used,
            })
        }
        (version, _) => Err(unknown_version(API_KEYS, version, "1")),
    }
}
