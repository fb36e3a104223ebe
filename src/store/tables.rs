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

/// code id (16 bytes) → sealed code record (what the code was issued for, and once
/// redeemed, the grant it produced, so a replay can end that grant).
pub(crate) const CODES: Table = Table::new("codes");
/// grant id (16 bytes) → sealed grant record. A grant is what a user approved for a client;
/// access and refresh tokens name it, and deleting it ends all of them at once.
pub(crate) const GRANTS: Table = Table::new("grants");
/// refresh token id (16 bytes) → sealed refresh record (grant, secret hash, expiry, and
/// whether it was already rotated: a rotated token presented again ends its grant).
pub(crate) const REFRESH_TOKENS: Table = Table::new("refresh_tokens");
/// SHA-256 of the session cookie (32 bytes) → sealed session record.
pub(crate) const SESSIONS: Table = Table::new("sessions");
/// user id (16) ‖ client id (16) → sealed remembered consent (scope, when).
pub(crate) const CONSENTS: Table = Table::new("consents");
/// consent ticket id (16 bytes) → expiry (format byte + postcard u64). A consent decision
/// is accepted once.
pub(crate) const USED_TICKETS: Table = Table::new("used_tickets");
/// user id (16) ‖ grant id (16) → empty: a user's grants, for the account page and for
/// ending them all when the user is deleted.
pub(crate) const USER_GRANTS: Table = Table::new("user_grants");
/// client id (16) ‖ grant id (16) → empty: a client's grants, ended when it is deleted.
pub(crate) const CLIENT_GRANTS: Table = Table::new("client_grants");
/// API key id (16 bytes) → sealed API key record.
pub(crate) const API_KEYS: Table = Table::new("api_keys");
/// user id (16) ‖ API key id (16) → empty.
pub(crate) const USER_API_KEYS: Table = Table::new("user_api_keys");
/// access token id (16 bytes) → its expiry (format byte + postcard u64): tokens revoked
/// one by one (RFC 7009),
/// kept until they would have expired anyway.
pub(crate) const REVOKED_ACCESS: Table = Table::new("revoked_access");
/// scope name → description shown on the consent page, and whether personal API keys may
/// carry the scope (format byte 2 + postcard record; byte 1 + postcard string, the
/// description alone, is still read, as "not for API keys").
pub(crate) const SCOPES: Table = Table::new("scopes");
/// user id (16) ‖ SHA-256 of the session cookie (32) → empty: a user's sessions, ended
/// together on a password change or `keyward user sign-out`. (Schema 2.)
pub(crate) const USER_SESSIONS: Table = Table::new("user_sessions");
/// user id (16) ‖ client id (16) → milliseconds (format byte + postcard u64): when the user
/// last revoked the app. A code of that pair made at or before then is never redeemed.
pub(crate) const CODE_FENCES: Table = Table::new("code_fences");
/// signing key id (16 bytes) → sealed signing key record: the algorithm, the private key
/// (PKCS#8 DER, opaque here), when it was made and retired, and until when a retired key
/// stays in the JWKS. (Schema 3.)
pub(crate) const SIGNING_KEYS: Table = Table::new("signing_keys");
/// upstream name (its 1 to 32 ASCII bytes) → sealed upstream record: kind, endpoints, the
/// client id and client secret keyward has there (sealed: the secret must be sent, so it
/// cannot be a hash), scope and settings. (Schema 4.)
pub(crate) const UPSTREAMS: Table = Table::new("upstreams");
/// HMAC of (upstream name ‖ 0x00 ‖ subject) (32 bytes) → user id (16 bytes): whose account an
/// upstream identity signs in to. Keyed like `usernames`, so the index reveals no subject;
/// accounts are found by (upstream, subject) alone, never by an email. (Schema 4.)
pub(crate) const IDENTITIES: Table = Table::new("identities");
/// user id (16) ‖ upstream name → sealed linked identity (the subject, when it was linked):
/// a user's identities, to list them and to remove their `identities` rows when the user or
/// the upstream goes. (Schema 4.)
pub(crate) const USER_IDENTITIES: Table = Table::new("user_identities");
/// invite id (16 bytes) → sealed invitation (SHA-256 of its secret, when it was made and
/// expires, the sign-ups it still allows and allowed at first). (Schema 4.)
pub(crate) const INVITES: Table = Table::new("invites");
/// registration token id (16 bytes) → sealed initial access token for dynamic client
/// registration (SHA-256 of its secret, when made, its expiry, the registrations it still
/// allows, the scopes it allows beyond self-service). (Schema 5.)
pub(crate) const REGISTRATION_TOKENS: Table = Table::new("registration_tokens");
/// expires_at (u64 BE) ‖ kind (1 byte) ‖ record key → empty. Read in order by the sweeper,
/// so it touches only what has expired.
pub(crate) const EXPIRY: Table = Table::new("expiry");

pub(crate) const ALL: [Table; 25] = [
    META,
    CLIENTS,
    USERS,
    USERNAMES,
    CODES,
    GRANTS,
    REFRESH_TOKENS,
    SESSIONS,
    CONSENTS,
    USED_TICKETS,
    USER_GRANTS,
    CLIENT_GRANTS,
    API_KEYS,
    USER_API_KEYS,
    REVOKED_ACCESS,
    SCOPES,
    EXPIRY,
    USER_SESSIONS,
    CODE_FENCES,
    SIGNING_KEYS,
    UPSTREAMS,
    IDENTITIES,
    USER_IDENTITIES,
    INVITES,
    REGISTRATION_TOKENS,
];

/// The schema version that brought a table in. A database of an older schema lacks the
/// newer tables until its migration creates them (`migrate.rs`).
pub(crate) fn introduced_in(table: Table) -> u32 {
    use redb::TableHandle;
    match table.name() {
        "user_sessions" | "code_fences" => 2,
        "signing_keys" => 3,
        "upstreams" | "identities" | "user_identities" | "invites" => 4,
        "registration_tokens" => 5,
        _ => 1,
    }
}

/// Every table a database of schema `version` holds.
pub(crate) fn tables_at(version: u32) -> impl Iterator<Item = Table> {
    ALL.into_iter()
        .filter(move |table| introduced_in(*table) <= version)
}

/// What an expiry-index entry points at.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(crate) enum ExpiryKind {
    Code = 1,
    RefreshToken = 2,
    Session = 3,
    UsedTicket = 4,
    RevokedAccess = 5,
    Grant = 6,
    ApiKey = 7,
    /// A retired signing key, at the time it may leave the JWKS (schema 3).
    SigningKey = 8,
    /// A sign-up invitation (schema 4).
    Invite = 9,
}

/// The key of a `user_identities` row: the user, then the upstream's name.
pub(crate) fn user_identity_key(user: &[u8; 16], upstream: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(16 + upstream.len());
    key.extend_from_slice(user);
    key.extend_from_slice(upstream.as_bytes());
    key
}

/// Two ids side by side: the key of every index table.
pub(crate) fn pair_key(first: &[u8; 16], second: &[u8; 16]) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(first);
    key[16..].copy_from_slice(second);
    key
}

pub(crate) fn expiry_key(expires_at: u64, kind: ExpiryKind, record_key: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(9 + record_key.len());
    key.extend_from_slice(&expires_at.to_be_bytes());
    key.push(kind as u8);
    key.extend_from_slice(record_key);
    key
}
