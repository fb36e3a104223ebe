//! Scopes the operator describes: the text the consent page shows, and whether users may
//! put the scope on their personal API keys. Not secret, not personal: stored in plain
//! postcard.

use super::records::scopes::{decode, encode};
use super::tables::SCOPES;
use super::{Store, StoreError};
use crate::model::ScopeToken;

/// What the operator set for a scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeSettings {
    pub description: String,
    /// Users may make personal API keys that carry this scope (`scope set --api-keys`).
    pub api_keys: bool,
    /// Self-registered apps may ask for this scope (`scope set --self-service`).
    pub self_service: bool,
}

/// Whether the stored settings of `scope` let API keys carry it, inside a write.
pub(super) fn allows_api_keys(
    tx: &mut super::writer::Tx<'_>,
    scope: &ScopeToken,
) -> Result<bool, StoreError> {
    Ok(match tx.get(SCOPES, scope.as_str().as_bytes())? {
        Some(bytes) => decode(&bytes)?.api_keys,
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
        self.write(move |tx| tx.insert(SCOPES, scope.as_str().as_bytes(), &encode(&settings)))
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
                .map(|bytes| decode(&bytes))
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
                    Ok((name, decode(&bytes)?))
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
