//! The plain values, not sealed (they hold a time and nothing else): `ExpiryValueV1` in
//! `used_tickets` and `revoked_access`, `CodeFenceV1` in `code_fences`.

use serde::{Deserialize, Serialize};

use crate::model::UnixTime;
use crate::store::codec::{body, frame, split, unknown_version};
use crate::store::tables::{Table, CODE_FENCES};
use crate::store::StoreError;

const EXPIRY_V1: u8 = 1;
const FENCE_V1: u8 = 1;

/// When a row stops mattering, format 1: a used consent ticket (or new-key flash), or a
/// revoked access token, is kept until then.
#[derive(Serialize, Deserialize)]
struct ExpiryValueV1 {
    expires_at: u64,
}

/// A code fence, format 1: when the user last revoked the client.
#[derive(Serialize, Deserialize)]
struct CodeFenceV1 {
    /// Milliseconds since the Unix epoch, comparable with an `Id`'s first 48 bits.
    millis: u64,
}

pub(crate) fn encode_expiry(expires_at: UnixTime) -> Vec<u8> {
    frame(EXPIRY_V1, &ExpiryValueV1 { expires_at })
}

/// `table` is `used_tickets` or `revoked_access`, which share the format; it names the
/// table in errors.
pub(crate) fn decode_expiry(table: Table, bytes: &[u8]) -> Result<UnixTime, StoreError> {
    match split(table, bytes)? {
        (EXPIRY_V1, rest) => Ok(body::<ExpiryValueV1>(table, rest)?.expires_at),
        (version, _) => Err(unknown_version(table, version, "1")),
    }
}

pub(crate) fn encode_fence(millis: u64) -> Vec<u8> {
    frame(FENCE_V1, &CodeFenceV1 { millis })
}

pub(crate) fn decode_fence(bytes: &[u8]) -> Result<u64, StoreError> {
    match split(CODE_FENCES, bytes)? {
        (FENCE_V1, rest) => Ok(body::<CodeFenceV1>(CODE_FENCES, rest)?.millis),
        (version, _) => Err(unknown_version(CODE_FENCES, version, "1")),
    }
}

const SERVER_V1: u8 = 1;

/// The `server` row of `meta`, format 1: what the last `serve` ran with, for admin commands
/// that run while no server does (or through its socket) and need to know.
#[derive(Serialize, Deserialize)]
struct ServerSettingsV1 {
    issuer: String,
    /// The longest a token that keyward signs (an ID token, a JWT access token) lives.
    token_lifetime: u64,
}

pub(crate) fn encode_server(settings: &crate::store::ServerSettings) -> Vec<u8> {
    frame(
        SERVER_V1,
        &ServerSettingsV1 {
            issuer: settings.issuer.clone(),
            token_lifetime: settings.token_lifetime,
        },
    )
}

pub(crate) fn decode_server(bytes: &[u8]) -> Result<crate::store::ServerSettings, StoreError> {
    use crate::store::tables::META;
    match split(META, bytes)? {
        (SERVER_V1, rest) => {
            let stored: ServerSettingsV1 = body(META, rest)?;
            Ok(crate::store::ServerSettings {
                issuer: stored.issuer,
                token_lifetime: stored.token_lifetime,
            })
        }
        (version, _) => Err(unknown_version(META, version, "1")),
    }
}

const RESTORED_V1: u8 = 1;

/// The `restored` row of `meta`, format 1: when the database was last put back from a
/// backup (`keyward restore`), in milliseconds. Access tokens issued before then are
/// refused: they may stand on revocations and rotations the restore undid.
#[derive(Serialize, Deserialize)]
struct RestoredV1 {
    at_millis: u64,
}

pub(crate) fn encode_restored(at_millis: u64) -> Vec<u8> {
    frame(RESTORED_V1, &RestoredV1 { at_millis })
}

pub(crate) fn decode_restored(bytes: &[u8]) -> Result<u64, StoreError> {
    use crate::store::tables::META;
    match split(META, bytes)? {
        (RESTORED_V1, rest) => Ok(body::<RestoredV1>(META, rest)?.at_millis),
        (version, _) => Err(unknown_version(META, version, "1")),
    }
}
