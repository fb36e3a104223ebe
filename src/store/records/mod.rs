//! On-disk records: for every value keyward stores, a struct that is its bytes, apart from
//! the domain type it holds in memory.
//!
//! A record is `format version (1 byte) ‖ postcard(struct)` (`codec.rs`). The structs here
//! hold only primitive serde types (`[u8; 16]` ids, `[u8; 32]` hashes, `String`, `u64`,
//! `bool`, `Vec` and `Option` of those, `u8` codes for enums, each code table written
//! down), so no domain type's serde form reaches the disk: a change to `model.rs` cannot
//! change a stored byte. Each record kind has one `encode`, which writes the newest
//! version, and one `decode`, which dispatches on the version byte: an older version's
//! struct and reader stay here for as long as an upgrade may meet it (`scopes`, `clients`,
//! `users`, `codes`, `grants` and `refresh_tokens` read 1 and 2). Decoding never re-runs today's validation (`from_stored` in `model.rs`): a value
//! valid when it was written stays readable when a rule tightens.
//!
//! | table | struct | file |
//! |---|---|---|
//! | `clients` | `ClientRecordV2` (`ClientRecordV1` read) | `clients.rs` |
//! | `users` | `UserRecordV2` (`UserRecordV1` read) | `users.rs` |
//! | `codes` | `CodeRecordV2` (`CodeRecordV1` read) | `grants.rs` |
//! | `grants` | `GrantRecordV2` (`GrantRecordV1` read) | `grants.rs` |
//! | `refresh_tokens` | `RefreshRecordV2` (`RefreshRecordV1` read) | `grants.rs` |
//! | `consents` | `ConsentRecordV1` | `grants.rs` |
//! | `sessions` | `SessionRecordV1` | `sessions.rs` |
//! | `api_keys` | `ApiKeyRecordV1` | `apikeys.rs` |
//! | `scopes` | `ScopeRecordV2` (`ScopeRecordV1` read) | `scopes.rs` |
//! | `used_tickets`, `revoked_access` | `ExpiryValueV1` | `values.rs` |
//! | `code_fences` | `CodeFenceV1` | `values.rs` |
//! | `signing_keys` | `SigningKeyRecordV1` | `signing_keys.rs` |
//! | `upstreams` | `UpstreamRecordV1` | `upstreams.rs` |
//! | `user_identities` | `UserIdentityRecordV1` | `upstreams.rs` |
//! | `invites` | `InviteRecordV1` | `invites.rs` |
//! | `registration_tokens` | `RegistrationTokenRecordV1` | `registration_tokens.rs` |
//!
//! The other tables hold no record: `meta` (checked at every open), the username and
//! identity indexes and the index tables (their layout is checked by `keyward check`), `expiry`.
//!
//! `fixtures.rs` holds the bytes of every record kind's current version; they never change.
//! A change of bytes is a new version (docs/storage-format.md §14).

pub(crate) mod apikeys;
pub(crate) mod clients;
pub(crate) mod grants;
pub(crate) mod invites;
pub(crate) mod registration_tokens;
pub(crate) mod scopes;
pub(crate) mod sessions;
pub(crate) mod signing_keys;
pub(crate) mod upstreams;
pub(crate) mod users;
pub(crate) mod values;

#[cfg(test)]
mod fixtures;

use crate::model::{ResourceUri, Scope, ScopeToken, SigningAlg};
use crate::store::tables::Table;
use crate::store::StoreError;

/// A scope on disk: its tokens, sorted as `Scope` keeps them.
fn scope_to_stored(scope: &Scope) -> Vec<String> {
    scope
        .tokens()
        .iter()
        .map(|token| token.as_str().to_owned())
        .collect()
}

fn scope_from_stored(tokens: Vec<String>) -> Scope {
    Scope::from_stored(tokens.into_iter().map(ScopeToken::from_stored).collect())
}

fn resources_to_stored(resources: &[ResourceUri]) -> Vec<String> {
    resources
        .iter()
        .map(|resource| resource.as_str().to_owned())
        .collect()
}

fn resources_from_stored(resources: Vec<String>) -> Vec<ResourceUri> {
    resources
        .into_iter()
        .map(ResourceUri::from_stored)
        .collect()
}

/// The code of a signing algorithm on disk, in `clients` (`id_token_alg`) and in
/// `signing_keys` (`alg`). A code is never renumbered or reused; a new algorithm takes the
/// next free one:
///
/// | code | algorithm |
/// |---|---|
/// | 0 | RS256 |
/// | 1 | ES256 |
/// | 2 | EdDSA (Ed25519) |
fn signing_alg_code(alg: SigningAlg) -> u8 {
    match alg {
        SigningAlg::Rs256 => 0,
        SigningAlg::Es256 => 1,
        SigningAlg::EdDsa => 2,
    }
}

fn signing_alg_of_code(table: Table, code: u8) -> Result<SigningAlg, StoreError> {
    use redb::TableHandle;
    match code {
        0 => Ok(SigningAlg::Rs256),
        1 => Ok(SigningAlg::Es256),
        2 => Ok(SigningAlg::EdDsa),
        code => Err(StoreError::Corrupt(format!(
            "record in {} names signing algorithm code {code}, which this keyward does not know",
            table.name()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signing_algorithm_has_a_code_that_reads_back_as_itself() {
        let table = crate::store::tables::SIGNING_KEYS;
        for (alg, code) in SigningAlg::ALL.into_iter().zip([0, 1, 2]) {
            assert_eq!(signing_alg_code(alg), code);
            assert_eq!(signing_alg_of_code(table, code).unwrap(), alg);
        }
        assert!(signing_alg_of_code(table, 3).is_err());
    }
}
