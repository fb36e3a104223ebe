//! Every table keyward keeps, in one place. Keys and values are bytes; their layout is
//! written down in docs/storage-format.md.

pub(crate) type Table = redb::TableDefinition<'static, &'static [u8], &'static [u8]>;

/// `schema_version` → u32 LE; `key_check` → sealed constant (detects a wrong master key).
pub(crate) const META: Table = Table::new("meta");
/// client id (16 bytes) → sealed client record.
pub(crate) const CLIENTS: Table = Table::new("clients");
/// user id (16 bytes) → sealed user record.
pub(crate) const USERS: Table = Table::new("users");
/// HMAC of the case-folded username (32 bytes) → user id (16 bytes). Keyed, so the index
/// reveals no username.
pub(crate) const USERNAMES: Table = Table::new("usernames");

pub(crate) const ALL: [Table; 4] = [META, CLIENTS, USERS, USERNAMES];
