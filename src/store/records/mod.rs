//! On-disk records: for every value keyward stores, a struct that is its bytes, apart from
//! the domain type it holds in memory.
//!
//! A record is `format version (1 byte) ‖ postcard(struct)` (`codec.rs`). The structs here
//! hold only primitive serde types (`[u8; 16]` ids, `[u8; 32]` hashes, `String`, `u64`,
//! `bool`, `Vec` and `Option` of those, `u8` codes for enums, each code table written
//! down), so no domain type's serde form reaches the disk: a change to `model.rs` cannot
//! change a stored byte. Each record kind has one `encode`, which writes the newest
//! version, and one `decode`, which dispatches on the version byte: an older version's
//! struct and reader stay here for as long as an upgrade may meet it (`scopes` reads 1 and
//! 2). Decoding never re-runs today's validation (`from_stored` in `model.rs`): a value
//! valid when it was written stays readable when a rule tightens.
//!
//! | table | struct | file |
//! |---|---|---|
//! | `clients` | `ClientRecordV1` | `clients.rs` |
//! | `users` | `UserRecordV1` | `users.rs` |
//! | `codes` | `CodeRecordV1` | `grants.rs` |
//! | `grants` | `GrantRecordV1` | `grants.rs` |
//! | `refresh_tokens` | `RefreshRecordV1` | `grants.rs` |
//! | `consents` | `ConsentRecordV1` | `grants.rs` |
//! | `sessions` | `SessionRecordV1` | `sessions.rs` |
//! | `api_keys` | `ApiKeyRecordV1` | `apikeys.rs` |
//! | `scopes` | `ScopeRecordV2` (`ScopeRecordV1` read) | `scopes.rs` |
//! | `used_tickets`, `revoked_access` | `ExpiryValueV1` | `values.rs` |
//! | `code_fences` | `CodeFenceV1` | `values.rs` |
//!
//! The other tables hold no record: `meta` (checked at every open), the username index and
//! the index tables (their layout is checked by `keyward check`), `expiry`.
//!
//! `fixtures.rs` holds the bytes of every record kind's current version; they never change.
//! A change of bytes is a new version (docs/storage-format.md §14).

pub(crate) mod apikeys;
pub(crate) mod clients;
pub(crate) mod grants;
pub(crate) mod scopes;
pub(crate) mod sessions;
pub(crate) mod users;
pub(crate) mod values;

#[cfg(test)]
mod fixtures;

use crate::model::{Scope, ScopeToken};

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
