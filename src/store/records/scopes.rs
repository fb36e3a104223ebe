//! `scopes` values, not sealed (operator text, neither secret nor personal): written as
//! `ScopeRecordV3`; `ScopeRecordV1` (keyward 0.1) and `ScopeRecordV2` (0.2 to 0.4) are
//! still read.

use serde::{Deserialize, Serialize};

use crate::store::codec::{body, frame, split, unknown_version};
use crate::store::tables::SCOPES;
use crate::store::{ScopeSettings, StoreError};

/// Format 1: the description alone. Read (as "not for API keys"), never written: a row
/// stays in it until the operator next sets that scope.
const SCOPE_V1: u8 = 1;
const SCOPE_V2: u8 = 2;
const SCOPE_V3: u8 = 3;

/// A scope's description, format 1.
#[derive(Serialize, Deserialize)]
struct ScopeRecordV1 {
    description: String,
}

/// A scope's settings, format 2.
#[derive(Serialize, Deserialize)]
struct ScopeRecordV2 {
    /// What the consent page shows.
    description: String,
    /// Personal API keys may carry the scope (`scope set … --api-keys`).
    api_keys: bool,
}

/// A scope's settings, format 3 (schema 5).
#[derive(Serialize, Deserialize)]
struct ScopeRecordV3 {
    description: String,
    api_keys: bool,
    /// Self-registered apps may ask for the scope (`scope set … --self-service`).
    self_service: bool,
}

pub(crate) fn encode(settings: &ScopeSettings) -> Vec<u8> {
    frame(
        SCOPE_V3,
        &ScopeRecordV3 {
            description: settings.description.clone(),
            api_keys: settings.api_keys,
            self_service: settings.self_service,
        },
    )
}

/// Format 2, as keyward 0.2 to 0.4 wrote it: for the tests that prove its reader loses
/// nothing.
#[cfg(test)]
pub(crate) fn encode_v2(settings: &ScopeSettings) -> Vec<u8> {
    frame(
        SCOPE_V2,
        &ScopeRecordV2 {
            description: settings.description.clone(),
            api_keys: settings.api_keys,
        },
    )
}

pub(crate) fn decode(bytes: &[u8]) -> Result<ScopeSettings, StoreError> {
    match split(SCOPES, bytes)? {
        (SCOPE_V1, rest) => {
            let record: ScopeRecordV1 = body(SCOPES, rest)?;
            Ok(ScopeSettings {
                description: record.description,
                api_keys: false,
                self_service: false,
            })
        }
        (SCOPE_V2, rest) => {
            let record: ScopeRecordV2 = body(SCOPES, rest)?;
            Ok(ScopeSettings {
                description: record.description,
                api_keys: record.api_keys,
                self_service: false,
            })
        }
        // Before format 3 no scope was offered for self-service beyond the standard ones.
        (SCOPE_V3, rest) => {
            let record: ScopeRecordV3 = body(SCOPES, rest)?;
            Ok(ScopeSettings {
                description: record.description,
                api_keys: record.api_keys,
                self_service: record.self_service,
            })
        }
        (version, _) => Err(unknown_version(SCOPES, version, "1, 2 or 3")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_versions_and_damaged_bodies_are_refused() {
        assert!(decode(&[4, 0, 0]).is_err());
        assert!(decode(&[]).is_err());
        assert!(decode(&[2, 1, b'x', 7]).is_err(), "a bool is 0 or 1");
    }
}
