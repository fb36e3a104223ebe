//! Scope descriptions the operator writes for the consent page. Not secret, not personal:
//! stored in plain postcard.

use super::codec::{decode, encode};
use super::tables::SCOPES;
use super::{Store, StoreError};
use crate::model::ScopeToken;

const SCOPE_V1: u8 = 1;

impl Store {
    pub async fn set_scope_description(
        &self,
        scope: ScopeToken,
        description: String,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.insert(
                SCOPES,
                scope.as_str().as_bytes(),
                &encode(SCOPE_V1, &description),
            )
        })
        .await
    }

    /// Returns whether the scope had a description.
    pub async fn delete_scope_description(&self, scope: ScopeToken) -> Result<bool, StoreError> {
        self.write(move |tx| tx.remove(SCOPES, scope.as_str().as_bytes()))
            .await
    }

    pub fn scope_description(&self, scope: &str) -> Result<Option<String>, StoreError> {
        self.read(|reader| {
            reader
                .get(SCOPES, scope.as_bytes())?
                .map(|bytes| decode(SCOPES, SCOPE_V1, &bytes))
                .transpose()
        })
    }

    /// Every described scope, by name.
    pub fn scope_descriptions(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|reader| {
            reader
                .all(SCOPES)?
                .into_iter()
                .map(|(key, bytes)| {
                    let name = String::from_utf8(key)
                        .map_err(|_| StoreError::Corrupt("scope name is not UTF-8".into()))?;
                    Ok((name, decode(SCOPES, SCOPE_V1, &bytes)?))
                })
                .collect()
        })
    }
}
