//! Record encoding: one format-version byte, then postcard. Sealed tables seal the whole
//! encoded record (version byte included), so the version is authenticated too.

use redb::TableHandle;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::seal::Sealer;
use super::tables::Table;
use super::StoreError;

pub(crate) fn encode<T: Serialize>(version: u8, record: &T) -> Vec<u8> {
    postcard::to_extend(record, vec![version]).expect("postcard encoding into a Vec cannot fail")
}

pub(crate) fn decode<T: DeserializeOwned>(
    table: Table,
    expected_version: u8,
    bytes: &[u8],
) -> Result<T, StoreError> {
    let (&version, body) = bytes
        .split_first()
        .ok_or_else(|| StoreError::Corrupt(format!("empty record in {}", table.name())))?;
    if version != expected_version {
        return Err(StoreError::Corrupt(format!(
            "record in {} has format version {version}, expected {expected_version}",
            table.name()
        )));
    }
    postcard::from_bytes(body)
        .map_err(|error| StoreError::Corrupt(format!("record in {}: {error}", table.name())))
}

pub(crate) fn seal<T: Serialize>(
    sealer: &Sealer,
    table: Table,
    key: &[u8],
    version: u8,
    record: &T,
) -> Vec<u8> {
    sealer.seal(table.name(), key, &encode(version, record))
}

pub(crate) fn unseal<T: DeserializeOwned>(
    sealer: &Sealer,
    table: Table,
    key: &[u8],
    expected_version: u8,
    bytes: &[u8],
) -> Result<T, StoreError> {
    let plaintext = sealer
        .open(table.name(), key, bytes)
        .map_err(|error| StoreError::Corrupt(format!("{} record: {error}", table.name())))?;
    decode(table, expected_version, &plaintext)
}
