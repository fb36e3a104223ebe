//! Byte fixtures for the current format version of every table: a fixed value, the bytes
//! its encoder writes (format-version byte ‖ postcard, before any sealing), and those bytes
//! decoded back to the same value.
//!
//! The hex constants were generated from the record code as it stood before the on-disk
//! structs moved to `records/`, and they never change. A test that fails here means the
//! bytes on disk changed: that needs a new format version for the record, with the old
//! version's reader kept (docs/storage-format.md §14), never a new constant.
//!
//! Only the adapters at the top know how a table's value is encoded; the values and the
//! constants below them stay as they are.

use super::{apikeys, clients, grants, scopes, sessions, users, values};
use crate::model::{
    Client, ClientId, DisplayName, Email, GrantType, Id, RedirectUri, Scope, SecretHash, UnixTime,
    User, UserId, Username,
};
use crate::store::tables::{REVOKED_ACCESS, USED_TICKETS};
use crate::store::{ApiKey, CodeGrant, Grant, ScopeSettings, Session, StoreError};

// ---- Adapters: how each table's value is encoded and decoded today. ----

type Code = crate::store::grants::Code;
type Refresh = crate::store::grants::RefreshToken;
type Consent = crate::store::grants::Consent;

trait Fixture: Sized {
    fn encode(&self) -> Vec<u8>;
    fn decode(bytes: &[u8]) -> Result<Self, StoreError>;
    /// Every field, secret hashes included (their `Debug` is redacted).
    fn describe(&self) -> String;
}

impl Fixture for Client {
    fn encode(&self) -> Vec<u8> {
        clients::encode(self)
    }
    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        clients::decode(client_id(), bytes)
    }
    fn describe(&self) -> String {
        format!(
            "{self:?} {:?}",
            self.secret_hash.map(|hash| hex(hash.as_bytes()))
        )
    }
}

impl Fixture for User {
    fn encode(&self) -> Vec<u8> {
        users::encode(self)
    }
    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        users::decode(user_id(), bytes)
    }
    fn describe(&self) -> String {
        format!("{self:?}")
    }
}

impl Fixture for Code {
    fn encode(&self) -> Vec<u8> {
        grants::encode_code(self)
    }
    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        grants::decode_code(bytes)
    }
    fn describe(&self) -> String {
        format!(
            "{} {:?} {} {:?}",
            hex(self.secret_hash.as_bytes()),
            self.grant,
            self.expires_at,
            self.redeemed_into
        )
    }
}

impl Fixture for Grant {
    fn encode(&self) -> Vec<u8> {
        grants::encode_grant(self)
    }
    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        grants::decode_grant(bytes)
    }
    fn describe(&self) -> String {
        format!("{self:?}")
    }
}

impl Fixture for Refresh {
    fn encode(&self) -> Vec<u8> {
        grants::encode_refresh(self)
    }
    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        grants::decode_refresh(bytes)
    }
    fn describe(&self) -> String {
        format!(
            "{:?} {} {} {}",
            self.grant_id,
            hex(self.secret_hash.as_bytes()),
            self.expires_at,
            self.rotated
        )
    }
}

impl Fixture for Consent {
    fn encode(&self) -> Vec<u8> {
        grants::encode_consent(self)
    }
    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        grants::decode_consent(bytes)
    }
    fn describe(&self) -> String {
        format!("{:?} {}", self.scope, self.granted_at)
    }
}

impl Fixture for Session {
    fn encode(&self) -> Vec<u8> {
        sessions::encode(self)
    }
    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        sessions::decode(bytes)
    }
    fn describe(&self) -> String {
        format!("{self:?}")
    }
}

impl Fixture for ApiKey {
    fn encode(&self) -> Vec<u8> {
        apikeys::encode(self)
    }
    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        apikeys::decode(bytes)
    }
    fn describe(&self) -> String {
        format!("{self:?} {}", hex(self.secret_hash.as_bytes()))
    }
}

impl Fixture for ScopeSettings {
    fn encode(&self) -> Vec<u8> {
        scopes::encode(self)
    }
    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        scopes::decode(bytes)
    }
    fn describe(&self) -> String {
        format!("{self:?}")
    }
}

/// The value of `used_tickets` (and of `revoked_access`, the same format): an expiry.
struct UsedTicket(UnixTime);
struct RevokedAccess(UnixTime);
/// The value of `code_fences`: milliseconds since the Unix epoch.
struct CodeFence(u64);

impl Fixture for UsedTicket {
    fn encode(&self) -> Vec<u8> {
        values::encode_expiry(self.0)
    }
    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        values::decode_expiry(USED_TICKETS, bytes).map(UsedTicket)
    }
    fn describe(&self) -> String {
        self.0.to_string()
    }
}

impl Fixture for RevokedAccess {
    fn encode(&self) -> Vec<u8> {
        values::encode_expiry(self.0)
    }
    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        values::decode_expiry(REVOKED_ACCESS, bytes).map(RevokedAccess)
    }
    fn describe(&self) -> String {
        self.0.to_string()
    }
}

impl Fixture for CodeFence {
    fn encode(&self) -> Vec<u8> {
        values::encode_fence(self.0)
    }
    fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        values::decode_fence(bytes).map(CodeFence)
    }
    fn describe(&self) -> String {
        self.0.to_string()
    }
}

// ---- The check, the same for every table. ----

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    let text: String = text.split_whitespace().collect();
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("hex"))
        .collect()
}

/// `value` encodes to exactly `expected`, and `expected` decodes back to `value`.
fn check<T: Fixture>(what: &str, value: &T, expected: &str) {
    let encoded = value.encode();
    assert_eq!(
        hex(&encoded),
        hex(&unhex(expected)),
        "{what}: the bytes on disk changed"
    );
    let decoded = T::decode(&unhex(expected)).unwrap_or_else(|error| panic!("{what}: {error}"));
    assert_eq!(
        decoded.describe(),
        value.describe(),
        "{what}: decoded differently"
    );
    assert_eq!(decoded.encode(), encoded, "{what}: does not encode back");
}

// ---- The fixed values. ----

/// Ids as `Id::generate` makes them: 48 bits of milliseconds, then 80 "random" bits.
fn id(tag: u8) -> Id {
    Id::from_bytes([
        0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, 0x7a, 0x3c, 0x9d, 0x1e, 0x0f, 0x2a, 0x4b, 0x6c, 0x8d,
        tag,
    ])
}

fn client_id() -> ClientId {
    ClientId(id(0xc1))
}

fn user_id() -> UserId {
    UserId(id(0xa1))
}

fn scope(text: &str) -> Scope {
    Scope::parse(text).unwrap()
}

fn confidential_client() -> Client {
    Client {
        id: client_id(),
        name: DisplayName::parse("name", "Demo App").unwrap(),
        redirect_uris: vec![
            RedirectUri::parse("https://a.example/cb").unwrap(),
            RedirectUri::parse("http://127.0.0.1:8081/callback").unwrap(),
        ],
        scope: scope("openid profile email"),
        grant_types: GrantType::ALL.to_vec(),
        secret_hash: Some(SecretHash::of("client secret")),
        created_at: 1_700_000_000,
    }
}

fn public_client() -> Client {
    Client {
        id: client_id(),
        name: DisplayName::parse("name", "Élan CLI").unwrap(),
        redirect_uris: vec![RedirectUri::parse("com.example.app:/cb").unwrap()],
        scope: Scope::default(),
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        secret_hash: None,
        created_at: 300,
    }
}

fn service_client() -> Client {
    Client {
        id: client_id(),
        name: DisplayName::parse("name", "Cron").unwrap(),
        redirect_uris: Vec::new(),
        scope: scope("deploy"),
        grant_types: vec![GrantType::ClientCredentials],
        secret_hash: Some(SecretHash::of("service secret")),
        created_at: 1,
    }
}

fn full_user() -> User {
    User {
        id: user_id(),
        username: Username::parse("Alice").unwrap(),
        email: Some(Email::parse("alice@example.com").unwrap()),
        name: Some(DisplayName::parse("name", "Alice Example").unwrap()),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".into(),
        created_at: 1_700_000_001,
    }
}

fn bare_user() -> User {
    User {
        id: user_id(),
        username: Username::parse("bob").unwrap(),
        email: None,
        name: None,
        password_hash: "$argon2id$x".into(),
        created_at: 0,
    }
}

fn redeemed_code() -> Code {
    Code {
        secret_hash: SecretHash::of("code secret"),
        grant: CodeGrant {
            client_id: client_id(),
            user_id: user_id(),
            redirect_uri: "https://a.example/cb".into(),
            redirect_uri_sent: true,
            scope: scope("openid email"),
            code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
            nonce: Some("n-0S6_WzA2Mj".into()),
            auth_time: 1_700_000_100,
        },
        expires_at: 1_700_000_160,
        redeemed_into: Some(id(0x91)),
    }
}

fn fresh_code() -> Code {
    Code {
        secret_hash: SecretHash::of("another code secret"),
        grant: CodeGrant {
            client_id: client_id(),
            user_id: user_id(),
            redirect_uri: "http://127.0.0.1:8081/callback".into(),
            redirect_uri_sent: false,
            scope: Scope::default(),
            code_challenge: None,
            nonce: None,
            auth_time: 5,
        },
        expires_at: 65,
        redeemed_into: None,
    }
}

fn grant() -> Grant {
    Grant {
        id: id(0x91),
        client_id: client_id(),
        user_id: user_id(),
        scope: scope("openid profile"),
        created_at: 1_700_000_120,
        auth_time: 1_700_000_100,
        expires_at: 1_702_592_120,
        last_used: 1_700_086_520,
    }
}

fn rotated_refresh() -> Refresh {
    Refresh {
        grant_id: id(0x91),
        secret_hash: SecretHash::of("refresh secret"),
        expires_at: 1_702_592_120,
        rotated: true,
    }
}

fn live_refresh() -> Refresh {
    Refresh {
        grant_id: id(0x92),
        secret_hash: SecretHash::of("next refresh secret"),
        expires_at: 127,
        rotated: false,
    }
}

fn consent() -> Consent {
    Consent {
        scope: scope("openid profile email"),
        granted_at: 1_700_000_100,
    }
}

fn session() -> Session {
    Session {
        user_id: user_id(),
        auth_time: 1_700_000_050,
        expires_at: 1_700_043_250,
    }
}

fn expiring_api_key() -> ApiKey {
    ApiKey {
        id: id(0xb1),
        user_id: user_id(),
        name: DisplayName::parse("name", "deploy script").unwrap(),
        scope: scope("openid deploy"),
        secret_hash: SecretHash::of("api key secret"),
        created_at: 1_700_000_200,
        expires_at: Some(1_707_776_200),
        last_used: None,
    }
}

fn used_api_key() -> ApiKey {
    ApiKey {
        id: id(0xb2),
        user_id: user_id(),
        name: DisplayName::parse("name", "laptop").unwrap(),
        scope: Scope::default(),
        secret_hash: SecretHash::of("other api key secret"),
        created_at: 2,
        expires_at: None,
        last_used: Some(1_700_000_300),
    }
}

// ---- The bytes, one table at a time. ----

#[test]
fn clients() {
    check(
        "confidential client",
        &confidential_client(),
        CONFIDENTIAL_CLIENT,
    );
    check("public client", &public_client(), PUBLIC_CLIENT);
    check("service client", &service_client(), SERVICE_CLIENT);
}

#[test]
fn users() {
    check("user", &full_user(), FULL_USER);
    check("user without email or name", &bare_user(), BARE_USER);
}

#[test]
fn codes() {
    check("redeemed code", &redeemed_code(), REDEEMED_CODE);
    check("fresh code", &fresh_code(), FRESH_CODE);
}

#[test]
fn grants() {
    check("grant", &grant(), GRANT);
}

#[test]
fn refresh_tokens() {
    check("rotated refresh token", &rotated_refresh(), ROTATED_REFRESH);
    check("live refresh token", &live_refresh(), LIVE_REFRESH);
}

#[test]
fn consents() {
    check("consent", &consent(), CONSENT);
}

#[test]
fn sessions() {
    check("session", &session(), SESSION);
}

#[test]
fn api_keys() {
    check("expiring API key", &expiring_api_key(), EXPIRING_API_KEY);
    check("used API key", &used_api_key(), USED_API_KEY);
}

#[test]
fn used_tickets_revoked_access_and_code_fences() {
    check("used ticket", &UsedTicket(1_700_000_900), USED_TICKET);
    check(
        "revoked access token",
        &RevokedAccess(1_700_003_600),
        REVOKED,
    );
    check("code fence", &CodeFence(1_700_000_000_123), CODE_FENCE);
    check("code fence of 1000 ms", &CodeFence(1000), CODE_FENCE_1000);
}

#[test]
fn scopes() {
    let deploy = ScopeSettings {
        description: "Deploy".into(),
        api_keys: true,
    };
    check("scope", &deploy, SCOPE);
    let read = ScopeSettings {
        description: "Read your files".into(),
        api_keys: false,
    };
    check("scope not for API keys", &read, SCOPE_NOT_FOR_KEYS);
    // Format 1, written by keyward 0.1.0: read, never written.
    let decoded = ScopeSettings::decode(&unhex(SCOPE_V1)).unwrap();
    assert_eq!(decoded, read);
}

// ---- The constants: never edited (see the top of this file). ----

const CONFIDENTIAL_CLIENT: &str = concat!(
    "01",                 // format version 1
    "0844656d6f20417070", // name: "Demo App"
    // redirect_uris: 2: https://a.example/cb http://127.0.0.1:8081/callback
    "021468747470733a2f2f612e6578616d706c652f63621e68",
    "7474703a2f2f3132372e302e302e313a383038312f63616c",
    "6c6261636b",
    "0305656d61696c066f70656e69640770726f66696c65", // scope: 3: email openid profile
    "03000102", // grant_types: 3: authorization_code, refresh_token, client_credentials
    "01",       // secret_hash: Some
    "e934524395ab8aa265a88f10538ab034b8196fb8d369e6fe", // secret_hash
    "3d519ed16bde4030",
    "80e2cfaa06", // created_at: 1700000000
);
const PUBLIC_CLIENT: &str = concat!(
    "01",                                         // format version 1
    "09c3896c616e20434c49",                       // name: "Élan CLI"
    "0113636f6d2e6578616d706c652e6170703a2f6362", // redirect_uris: 1: com.example.app:/cb
    "00",                                         // scope: 0
    "020001", // grant_types: 2: authorization_code, refresh_token
    "00",     // secret_hash: None
    "ac02",   // created_at: 300
);
const SERVICE_CLIENT: &str = concat!(
    "01",                                               // format version 1
    "0443726f6e",                                       // name: "Cron"
    "00",                                               // redirect_uris: 0
    "01066465706c6f79",                                 // scope: 1: deploy
    "0102",                                             // grant_types: 1: client_credentials
    "01",                                               // secret_hash: Some
    "ea9976057b46d28a5010836fcfa43788cf858d6ff9e135f8", // secret_hash
    "14e473e31db8e322",
    "01", // created_at: 1
);
const FULL_USER: &str = concat!(
    "01",                                   // format version 1
    "05416c696365",                         // username: "Alice"
    "01",                                   // email: Some
    "11616c696365406578616d706c652e636f6d", // email: "alice@example.com"
    "01",                                   // name: Some
    "0d416c696365204578616d706c65",         // name: "Alice Example"
    // password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"
    "36246172676f6e32696424763d3139246d3d31393435362c",
    "743d322c703d31246332467364484e68624851246147467a",
    "61476868633267",
    "81e2cfaa06", // created_at: 1700000001
);
const BARE_USER: &str = concat!(
    "01",                       // format version 1
    "03626f62",                 // username: "bob"
    "00",                       // email: None
    "00",                       // name: None
    "0b246172676f6e3269642478", // password_hash: "$argon2id$x"
    "00",                       // created_at: 0
);
const REDEEMED_CODE: &str = concat!(
    "01",                                               // format version 1
    "09437ca5808963b36471200cba32d493e653de7ce8482c64", // secret_hash
    "d6123730d1a4ec87",
    "018bcfe568007a3c9d1e0f2a4b6c8dc1",           // client_id
    "018bcfe568007a3c9d1e0f2a4b6c8da1",           // user_id
    "1468747470733a2f2f612e6578616d706c652f6362", // redirect_uri: "https://a.example/cb"
    "01",                                         // redirect_uri_sent: true
    "0205656d61696c066f70656e6964",               // scope: 2: email openid
    "01",                                         // code_challenge: Some
    // code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    "2b45394d656c686f61324f77764672454d544a6775434861",
    "6f654b3174385552576275474a537374772d634d",
    "01",                               // nonce: Some
    "0c6e2d3053365f577a41324d6a",       // nonce: "n-0S6_WzA2Mj"
    "e4e2cfaa06",                       // auth_time: 1700000100
    "a0e3cfaa06",                       // expires_at: 1700000160
    "01",                               // redeemed_into: Some
    "018bcfe568007a3c9d1e0f2a4b6c8d91", // redeemed_into
);
const FRESH_CODE: &str = concat!(
    "01",                                               // format version 1
    "87e03bfde19f86eb5834b5d7ccb99401843449e7567ab4a2", // secret_hash
    "e194eeb4084c2932",
    "018bcfe568007a3c9d1e0f2a4b6c8dc1", // client_id
    "018bcfe568007a3c9d1e0f2a4b6c8da1", // user_id
    // redirect_uri: "http://127.0.0.1:8081/callback"
    "1e687474703a2f2f3132372e302e302e313a383038312f63",
    "616c6c6261636b",
    "00", // redirect_uri_sent: false
    "00", // scope: 0
    "00", // code_challenge: None
    "00", // nonce: None
    "05", // auth_time: 5
    "41", // expires_at: 65
    "00", // redeemed_into: None
);
const GRANT: &str = concat!(
    "01",                               // format version 1
    "018bcfe568007a3c9d1e0f2a4b6c8d91", // id
    "018bcfe568007a3c9d1e0f2a4b6c8dc1", // client_id
    "018bcfe568007a3c9d1e0f2a4b6c8da1", // user_id
    "02066f70656e69640770726f66696c65", // scope: 2: openid profile
    "f8e2cfaa06",                       // created_at: 1700000120
    "e4e2cfaa06",                       // auth_time: 1700000100
    "f8fcedab06",                       // expires_at: 1702592120
    "f885d5aa06",                       // last_used: 1700086520
);
const ROTATED_REFRESH: &str = concat!(
    "01",                                               // format version 1
    "018bcfe568007a3c9d1e0f2a4b6c8d91",                 // grant_id
    "4f991ee9d68b747e25078adcb40bc49f38bebd2c2c0d05c3", // secret_hash
    "fad76ae09482cf89",
    "f8fcedab06", // expires_at: 1702592120
    "01",         // rotated: true
);
const LIVE_REFRESH: &str = concat!(
    "01",                                               // format version 1
    "018bcfe568007a3c9d1e0f2a4b6c8d92",                 // grant_id
    "9b235cd4b5c4459a66fb48305ebc68b407eb855cb63c5116", // secret_hash
    "7ec175ba71ead299",
    "7f", // expires_at: 127
    "00", // rotated: false
);
const CONSENT: &str = concat!(
    "01",                                           // format version 1
    "0305656d61696c066f70656e69640770726f66696c65", // scope: 3: email openid profile
    "e4e2cfaa06",                                   // granted_at: 1700000100
);
const SESSION: &str = concat!(
    "01",                               // format version 1
    "018bcfe568007a3c9d1e0f2a4b6c8da1", // user_id
    "b2e2cfaa06",                       // auth_time: 1700000050
    "f2b3d2aa06",                       // expires_at: 1700043250
);
const EXPIRING_API_KEY: &str = concat!(
    "01",                                               // format version 1
    "018bcfe568007a3c9d1e0f2a4b6c8db1",                 // id
    "018bcfe568007a3c9d1e0f2a4b6c8da1",                 // user_id
    "0d6465706c6f7920736372697074",                     // name: "deploy script"
    "02066465706c6f79066f70656e6964",                   // scope: 2: deploy openid
    "96be3657d1edbd7412553741321912cee11d9b8ed01c47d1", // secret_hash
    "a9164fcad73ad308",
    "c8e3cfaa06", // created_at: 1700000200
    "01",         // expires_at: Some
    "c8b1aaae06", // expires_at: 1707776200
    "00",         // last_used: None
);
const USED_API_KEY: &str = concat!(
    "01",                                               // format version 1
    "018bcfe568007a3c9d1e0f2a4b6c8db2",                 // id
    "018bcfe568007a3c9d1e0f2a4b6c8da1",                 // user_id
    "066c6170746f70",                                   // name: "laptop"
    "00",                                               // scope: 0
    "1a3a7be205e7914c5324226a959971f3ad7bef9542590397", // secret_hash
    "4685ea9c0eb5f1ae",
    "02",         // created_at: 2
    "00",         // expires_at: None
    "01",         // last_used: Some
    "ace4cfaa06", // last_used: 1700000300
);
const USED_TICKET: &str = concat!(
    "01",         // format version 1
    "84e9cfaa06", // expires_at: 1700000900
);
const REVOKED: &str = concat!(
    "01",         // format version 1
    "90fecfaa06", // expires_at: 1700003600
);
const CODE_FENCE: &str = concat!(
    "01",           // format version 1
    "fbd095ffbc31", // milliseconds: 1700000000123
);
const CODE_FENCE_1000: &str = concat!(
    "01",   // format version 1
    "e807", // milliseconds: 1000
);
const SCOPE: &str = concat!(
    "02",             // format version 2
    "064465706c6f79", // description: "Deploy"
    "01",             // api_keys: true
);
const SCOPE_NOT_FOR_KEYS: &str = concat!(
    "02",                               // format version 2
    "0f5265616420796f75722066696c6573", // description: "Read your files"
    "00",                               // api_keys: false
);
const SCOPE_V1: &str = concat!(
    "01",                               // format version 1
    "0f5265616420796f75722066696c6573", // description: "Read your files"
);

/// The records keyward 0.1 wrote (the schema-1 upgrade fixture), decoded and encoded again,
/// give back their stored bytes: the same evidence as the constants, on real data.
#[test]
fn every_record_of_the_schema_1_fixture_encodes_back_to_its_bytes() {
    use std::os::unix::fs::PermissionsExt;

    use crate::store::clients::key_id;
    use crate::store::codec::unseal;
    use crate::store::tables::{
        Table, API_KEYS, CLIENTS, CODES, CODE_FENCES, CONSENTS, GRANTS, REFRESH_TOKENS, SCOPES,
        SESSIONS, USERS,
    };
    use crate::store::users::user_id;
    use crate::store::{KeyLocation, OpenOptions, Store};

    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema-1");
    let dir = tempfile::tempdir().unwrap();
    for file in ["keyward.redb", "master.key"] {
        let target = dir.path().join(file);
        std::fs::copy(source.join("data").join(file), &target).unwrap();
        // A checkout does not keep modes; the key is the service user's alone.
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let store = Store::open_read_only(&OpenOptions {
        data_dir: dir.path().to_path_buf(),
        key: KeyLocation::Default(dir.path().join("master.key")),
    })
    .unwrap();
    type Reencode = fn(&[u8], &[u8]) -> Result<Vec<u8>, StoreError>;
    let sealed: [(Table, Reencode); 8] = [
        (CLIENTS, |key, bytes| {
            Ok(clients::encode(&clients::decode(key_id(key)?, bytes)?))
        }),
        (USERS, |key, bytes| {
            Ok(users::encode(&users::decode(user_id(key)?, bytes)?))
        }),
        (CODES, |_, bytes| {
            Ok(grants::encode_code(&grants::decode_code(bytes)?))
        }),
        (GRANTS, |_, bytes| {
            Ok(grants::encode_grant(&grants::decode_grant(bytes)?))
        }),
        (REFRESH_TOKENS, |_, bytes| {
            Ok(grants::encode_refresh(&grants::decode_refresh(bytes)?))
        }),
        (CONSENTS, |_, bytes| {
            Ok(grants::encode_consent(&grants::decode_consent(bytes)?))
        }),
        (SESSIONS, |_, bytes| {
            Ok(sessions::encode(&sessions::decode(bytes)?))
        }),
        (API_KEYS, |_, bytes| {
            Ok(apikeys::encode(&apikeys::decode(bytes)?))
        }),
    ];
    let mut records = 0;
    store
        .read(|reader| {
            for (table, reencode) in sealed {
                for (key, value) in reader.all(table)? {
                    let plaintext = unseal(reader.sealer, table, &key, &value)?;
                    assert_eq!(reencode(&key, &plaintext)?, plaintext, "{}", hex(&key));
                    records += 1;
                }
            }
            for table in [USED_TICKETS, REVOKED_ACCESS] {
                for (_, value) in reader.all(table)? {
                    let expires_at = values::decode_expiry(table, &value)?;
                    assert_eq!(values::encode_expiry(expires_at), value);
                    records += 1;
                }
            }
            // keyward 0.1 wrote scopes at format 1, which is read and never written.
            for (_, value) in reader.all(SCOPES)? {
                let settings = scopes::decode(&value)?;
                if value[0] == 2 {
                    assert_eq!(scopes::encode(&settings), value);
                }
                records += 1;
            }
            // Schema 1 had no code fences.
            assert!(reader.all(CODE_FENCES).is_err());
            Ok(())
        })
        .unwrap();
    // What make_fixture.py made: 2 clients, 1 user, 4 codes, 3 grants, 5 refresh tokens,
    // 1 consent, 1 session, 1 API key, 2 used consent tickets and 1 scope (format 1).
    assert_eq!(records, 21);
}
