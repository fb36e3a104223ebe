//! `signing_keys` values: `SigningKeyRecordV1`, sealed (it holds a private key).

use serde::{Deserialize, Serialize};

use super::{signing_alg_code, signing_alg_of_code};
use crate::model::Id;
use crate::store::codec::{body, frame, split, unknown_version};
use crate::store::tables::SIGNING_KEYS;
use crate::store::{SigningKey, StoreError};

const SIGNING_KEY_V1: u8 = 1;

/// A signing key, format 1. The key id (the JWK `kid`) is the row's key, not a field.
#[derive(Serialize, Deserialize)]
struct SigningKeyRecordV1 {
    /// A signing algorithm code (`records::signing_alg_code`).
    alg: u8,
    /// The private key, PKCS#8 DER: bytes the store keeps and never reads.
    private_key: Vec<u8>,
    created_at: u64,
    /// When it stopped signing; `None` while it signs.
    retired_at: Option<u64>,
    /// Until when a retired key stays in the JWKS (every token it signed has expired by
    /// then); the sweeper deletes it at that time.
    publish_until: Option<u64>,
}

pub(crate) fn encode(key: &SigningKey) -> Vec<u8> {
    frame(
        SIGNING_KEY_V1,
        &SigningKeyRecordV1 {
            alg: signing_alg_code(key.alg),
            private_key: key.private_key.clone(),
            created_at: key.created_at,
            retired_at: key.retired_at,
            publish_until: key.publish_until,
        },
    )
}

/// The signing key stored under `id`.
pub(crate) fn decode(id: Id, bytes: &[u8]) -> Result<SigningKey, StoreError> {
    match split(SIGNING_KEYS, bytes)? {
        (SIGNING_KEY_V1, rest) => {
            let record: SigningKeyRecordV1 = body(SIGNING_KEYS, rest)?;
            Ok(SigningKey {
                id,
                alg: signing_alg_of_code(SIGNING_KEYS, record.alg)?,
                private_key: record.private_key,
                created_at: record.created_at,
                retired_at: record.retired_at,
                publish_until: record.publish_until,
            })
        }
        (version, _) => Err(unknown_version(SIGNING_KEYS, version, "1")),
    }
}
