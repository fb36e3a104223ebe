//! Record framing: one format-version byte, then postcard. Sealed tables seal the whole
//! framed record (version byte included), so the version is authenticated too.
//!
//! Which versions a record kind writes and reads is decided by its `encode` and `decode`
//! in `records/`; this file only frames, splits and seals.

use redb::TableHandle;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::tables::Table;
use super::StoreError;
use crate::seal::Sealer;

/// `version ‖ postcard(body)`. `body` is an on-disk struct of `records/`.
pub(crate) fn frame<T: Serialize>(version: u8, body: &T) -> Vec<u8> {
    postcard::to_extend(body, vec![version]).expect("postcard encoding into a Vec cannot fail")
}

/// A record's format-version byte and the bytes after it, for its decoder to dispatch on.
pub(crate) fn split(table: Table, bytes: &[u8]) -> Result<(u8, &[u8]), StoreError> {
    bytes
        .split_first()
        .map(|(&version, body)| (version, body))
        .ok_or_else(|| StoreError::Corrupt(format!("empty record in {}", table.name())))
}

/// The postcard body of a record whose version its decoder has recognised.
pub(crate) fn body<T: DeserializeOwned>(table: Table, body: &[u8]) -> Result<T, StoreError> {
    postcard::from_bytes(body)
        .map_err(|error| StoreError::Corrupt(format!("record in {}: {error}", table.name())))
}

/// A version byte the decoder does not read: written by a newer keyward, or damage. Never
/// guessed at.
pub(crate) fn unknown_version(table: Table, version: u8, reads: &str) -> StoreError {
    StoreError::Corrupt(format!(
        "record in {} has format version {version}, expected {reads}",
        table.name()
    ))
}

/// Seals an encoded record under `table` and its row key.
pub(crate) fn seal(sealer: &Sealer, table: Table, key: &[u8], record: &[u8]) -> Vec<u8> {
    sealer.seal(table.name(), key, record)
}

/// Opens a sealed row: the encoded record, for its decoder.
pub(crate) fn unseal(
    sealer: &Sealer,
    table: Table,
    key: &[u8],
    bytes: &[u8],
) -> Result<Vec<u8>, StoreError> {
    sealer
        .open(table.name(), key, bytes)
        .map_err(|error| StoreError::Corrupt(format!("{} record: {error}", table.name())))
}
