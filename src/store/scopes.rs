//! Scopes the operator describes: the text the consent page shows, and whether users may
//! put the scope on their personal API keys. Not secret, not personal: stored in plain
//! postcard.

use serde::{Deserialize, Serialize};

use super::codec::{decode, encode};
use super::tables::SCOPES;
use super::{Store, StoreError};
use crate::model::ScopeToken;

/// Format 1: the description alone, a postcard string. Still read (as "not for API keys"),
/// never written.
const SCOPE_V1: u8 = 1;
/// Format 2: `ScopeRecordV2`.
const SCOPE_V2: u8 = 2;

#[derive(Serialize, Deserialize)]
struct ScopeRecordV2 {
    description: String,
    api_keys: bool,
}

/// What the operator set for a scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeSettings {
    pub description: String,
    /// Users may make personal API keys that carry this scope (`scope set --api-keys`).
    pub api_keys: bool,
}

pub(super) fn decode_scope(bytes: &[u8]) -> Result<ScopeSettings, StoreError> {
    match bytes.first() {
        Some(&SCOPE_V1) => Ok(ScopeSettings {
            description: decode(SCOPES, SCOPE_V1, bytes)?,
            api_keys: false,
        }),
        _ => {
            let record: ScopeRecordV2 = decode(SCOPES, SCOPE_V2, bytes)?;
            Ok(ScopeSettings {
                description: record.description,
                api_keys: record.api_keys,
            })
        }
    }
}

pub(super) fn encode_scope(settings: &ScopeSettings) -> Vec<u8> {
    encode(
        SCOPE_V2,
        &ScopeRecordV2 {
            description: settings.description.clone(),
            api_keys: settings.api_keys,
        },
    )
}

/// Whether the stored settings of `scope` let API keys carry it, inside a write.
pub(super) fn allows_api_keys(
    tx: &mut super::writer::Tx<'_>,
    scope: &ScopeToken,
) -> Result<bool, StoreError> {
    Ok(match tx.get(SCOPES, scope.as_str().as_bytes())? {
        Some(bytes) => decode_scope(&bytes)?.api_keys,
        None => false,
    })
}

impl Store {
    /// Replaces what is set for `scope`.
    pub async fn set_scope(
        &self,
        scope: ScopeToken,
        settings: ScopeSettings,
    ) -> Result<(), StoreError> {
        self.write(move |tx| tx.insert(SCOPES, scope.as_str().as_bytes(), &encode_scope(&settings)))
            .await
    }

    /// Returns whether the scope had settings.
    pub async fn delete_scope(&self, scope: ScopeToken) -> Result<bool, StoreError> {
        self.write(move |tx| tx.remove(SCOPES, scope.as_str().as_bytes()))
            .await
    }

    pub fn scope_settings(&self, scope: &str) -> Result<Option<ScopeSettings>, StoreError> {
        self.read(|reader| {
            reader
                .get(SCOPES, scope.as_bytes())?
                .map(|bytes| decode_scope(&bytes))
                .transpose()
        })
    }

    pub fn scope_description(&self, scope: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .scope_settings(scope)?
            .map(|settings| settings.description))
    }

    /// Every scope the operator set, by name.
    pub fn scopes(&self) -> Result<Vec<(String, ScopeSettings)>, StoreError> {
        self.read(|reader| {
            reader
                .all(SCOPES)?
                .into_iter()
                .map(|(key, bytes)| {
                    let name = String::from_utf8(key)
                        .map_err(|_| StoreError::Corrupt("scope name is not UTF-8".into()))?;
                    Ok((name, decode_scope(&bytes)?))
                })
                .collect()
        })
    }

    /// Every described scope, by name, with its description.
    pub fn scope_descriptions(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(self
            .scopes()?
            .into_iter()
            .map(|(name, settings)| (name, settings.description))
            .collect())
    }
}

/// Decodes one stored scope (for `keyward check`).
pub(super) fn check_record(key: &[u8], bytes: &[u8]) -> Result<(), StoreError> {
    std::str::from_utf8(key).map_err(|_| StoreError::Corrupt("scope name is not UTF-8".into()))?;
    decode_scope(bytes).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_1_records_read_as_not_for_api_keys_and_version_2_round_trips() {
        // 0x01 ‖ postcard "Read files": what keyward 0.1.0 wrote.
        let mut v1 = vec![1u8, 10];
        v1.extend_from_slice(b"Read files");
        assert_eq!(
            decode_scope(&v1).unwrap(),
            ScopeSettings {
                description: "Read files".into(),
                api_keys: false
            }
        );
        let settings = ScopeSettings {
            description: "Deploy".into(),
            api_keys: true,
        };
        let v2 = encode_scope(&settings);
        assert_eq!(v2, [2, 6, b'D', b'e', b'p', b'l', b'o', b'y', 1]);
        assert_eq!(decode_scope(&v2).unwrap(), settings);
        assert!(decode_scope(&[3, 0, 0]).is_err());
        assert!(decode_scope(&[]).is_err());
        assert!(decode_scope(&[2, 1, b'x', 7]).is_err(), "a bool is 0 or 1");
    }
}
