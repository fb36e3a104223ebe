//! `clients` values: `ClientRecordV4` (formats 1 to 3, `ClientRecordV1` to
//! `ClientRecordV3`, still read), sealed (it holds the secrets' hashes).

use serde::{Deserialize, Serialize};

use super::{
    resources_from_stored, resources_to_stored, scope_from_stored, scope_to_stored,
    signing_alg_code, signing_alg_of_code,
};
use crate::model::{
    AccessTokenFormat, Client, ClientId, ClientOrigin, DisplayName, DocumentUrl, GrantType, Id,
    PageUrl, PreviousSecret, RedirectUri, SecretHash, SigningAlg, UserId,
};
use crate::store::codec::{body, frame, split, unknown_version};
use crate::store::tables::CLIENTS;
use crate::store::StoreError;

const CLIENT_V1: u8 = 1;
const CLIENT_V2: u8 = 2;
const CLIENT_V3: u8 = 3;
const CLIENT_V4: u8 = 4;

/// A client, format 1. The id is the row's key, not a field.
#[derive(Serialize, Deserialize)]
struct ClientRecordV1 {
    name: String,
    /// In the order registered.
    redirect_uris: Vec<String>,
    scope: Vec<String>,
    /// Grant type codes (`grant_type_code`), sorted, without duplicates.
    grant_types: Vec<u8>,
    /// `None` for a public client.
    secret_hash: Option<[u8; 32]>,
    created_at: u64,
}

/// A client, format 2 (schema 3): format 1's fields, then its OpenID Connect and token
/// settings.
#[derive(Serialize, Deserialize)]
struct ClientRecordV2 {
    name: String,
    redirect_uris: Vec<String>,
    scope: Vec<String>,
    grant_types: Vec<u8>,
    secret_hash: Option<[u8; 32]>,
    created_at: u64,
    /// A signing algorithm code (`records::signing_alg_code`).
    id_token_alg: u8,
    /// In the order registered.
    post_logout_redirect_uris: Vec<String>,
    /// An access token format code (`access_token_format_code`).
    access_token_format: u8,
    /// RFC 8707 resource indicators, in the order registered.
    resources: Vec<String>,
    id_token_claims: bool,
}

/// A client, format 3 (schema 5): format 2's fields, then who registered it, the pages
/// about it, whether the operator reviewed it, and the secret it had before its last
/// rotation with the end of that secret's grace.
#[derive(Serialize, Deserialize)]
struct ClientRecordV3 {
    name: String,
    redirect_uris: Vec<String>,
    scope: Vec<String>,
    grant_types: Vec<u8>,
    secret_hash: Option<[u8; 32]>,
    created_at: u64,
    id_token_alg: u8,
    post_logout_redirect_uris: Vec<String>,
    access_token_format: u8,
    resources: Vec<String>,
    id_token_claims: bool,
    /// An origin code (`origin_code`); `owner` is the user of a developer's app.
    origin: u8,
    owner: Option<[u8; 16]>,
    homepage: Option<String>,
    privacy_policy: Option<String>,
    verified: bool,
    previous_secret_hash: Option<[u8; 32]>,
    previous_secret_until: u64,
    /// SHA-256 of a registered client's RFC 7592 registration access token.
    registration_token_hash: Option<[u8; 32]>,
}

/// A client, format 4 (schema 6): format 3's fields, then the URL of the client metadata
/// document it stands in for (origin code 3, and only then).
#[derive(Serialize, Deserialize)]
struct ClientRecordV4 {
    name: String,
    redirect_uris: Vec<String>,
    scope: Vec<String>,
    grant_types: Vec<u8>,
    secret_hash: Option<[u8; 32]>,
    created_at: u64,
    id_token_alg: u8,
    post_logout_redirect_uris: Vec<String>,
    access_token_format: u8,
    resources: Vec<String>,
    id_token_claims: bool,
    origin: u8,
    owner: Option<[u8; 16]>,
    homepage: Option<String>,
    privacy_policy: Option<String>,
    verified: bool,
    previous_secret_hash: Option<[u8; 32]>,
    previous_secret_until: u64,
    registration_token_hash: Option<[u8; 32]>,
    document_url: Option<String>,
}

/// The code of a client's origin on disk; never renumbered or reused.
fn origin_code(origin: ClientOrigin) -> (u8, Option<[u8; 16]>) {
    match origin {
        ClientOrigin::Operator => (0, None),
        ClientOrigin::Developer(user) => (1, Some(*user.0.as_bytes())),
        ClientOrigin::Registered => (2, None),
        ClientOrigin::Document => (3, None),
    }
}

fn origin_of_code(code: u8, owner: Option<[u8; 16]>) -> Result<ClientOrigin, StoreError> {
    match (code, owner) {
        (0, None) => Ok(ClientOrigin::Operator),
        (1, Some(owner)) => Ok(ClientOrigin::Developer(UserId(Id::from_bytes(owner)))),
        (2, None) => Ok(ClientOrigin::Registered),
        (3, None) => Ok(ClientOrigin::Document),
        (code, _) => Err(StoreError::Corrupt(format!(
            "record in clients names origin code {code} (with or without an owner), which \
             this keyward does not know"
        ))),
    }
}

/// The code of an access token format on disk; never renumbered or reused.
fn access_token_format_code(format: AccessTokenFormat) -> u8 {
    match format {
        AccessTokenFormat::Opaque => 0,
        AccessTokenFormat::Jwt => 1,
    }
}

fn access_token_format_of_code(code: u8) -> Result<AccessTokenFormat, StoreError> {
    match code {
        0 => Ok(AccessTokenFormat::Opaque),
        1 => Ok(AccessTokenFormat::Jwt),
        code => Err(StoreError::Corrupt(format!(
            "record in clients names access token format code {code}, which this keyward does \
             not know"
        ))),
    }
}

/// The code of a grant type on disk. These are bytes in every client record: a code is
/// never renumbered or reused, and a new grant type takes the next free one. (They are
/// the indexes `GrantType`'s serde derive gave keyward 0.1, which wrote them.)
fn grant_type_code(grant: GrantType) -> u8 {
    match grant {
        GrantType::AuthorizationCode => 0,
        GrantType::RefreshToken => 1,
        GrantType::ClientCredentials => 2,
    }
}

fn grant_type_of_code(code: u8) -> Result<GrantType, StoreError> {
    match code {
        0 => Ok(GrantType::AuthorizationCode),
        1 => Ok(GrantType::RefreshToken),
        2 => Ok(GrantType::ClientCredentials),
        code => Err(StoreError::Corrupt(format!(
            "record in clients names grant type code {code}, which this keyward does not know"
        ))),
    }
}

pub(crate) fn encode(client: &Client) -> Vec<u8> {
    let (origin, owner) = origin_code(client.origin);
    frame(
        CLIENT_V4,
        &ClientRecordV4 {
            name: client.name.as_str().to_owned(),
            redirect_uris: uris_to_stored(&client.redirect_uris),
            scope: scope_to_stored(&client.scope),
            grant_types: client
                .grant_types
                .iter()
                .map(|grant| grant_type_code(*grant))
                .collect(),
            secret_hash: client.secret_hash.map(|hash| *hash.as_bytes()),
            created_at: client.created_at,
            id_token_alg: signing_alg_code(client.id_token_alg),
            post_logout_redirect_uris: uris_to_stored(&client.post_logout_redirect_uris),
            access_token_format: access_token_format_code(client.access_token_format),
            resources: resources_to_stored(&client.resources),
            id_token_claims: client.id_token_claims,
            origin,
            owner,
            homepage: client.homepage.as_ref().map(|url| url.as_str().to_owned()),
            privacy_policy: client
                .privacy_policy
                .as_ref()
                .map(|url| url.as_str().to_owned()),
            verified: client.verified,
            previous_secret_hash: client
                .previous_secret
                .map(|previous| *previous.hash.as_bytes()),
            previous_secret_until: client.previous_secret.map_or(0, |previous| previous.until),
            registration_token_hash: client.registration_token_hash.map(|hash| *hash.as_bytes()),
            document_url: client.document.as_ref().map(|url| url.as_str().to_owned()),
        },
    )
}

/// Format 3, as keyward 0.5 wrote it: for the tests that prove its reader loses nothing.
#[cfg(test)]
pub(crate) fn encode_v3(client: &Client) -> Vec<u8> {
    let (origin, owner) = origin_code(client.origin);
    frame(
        CLIENT_V3,
        &ClientRecordV3 {
            name: client.name.as_str().to_owned(),
            redirect_uris: uris_to_stored(&client.redirect_uris),
            scope: scope_to_stored(&client.scope),
            grant_types: client
                .grant_types
                .iter()
                .map(|grant| grant_type_code(*grant))
                .collect(),
            secret_hash: client.secret_hash.map(|hash| *hash.as_bytes()),
            created_at: client.created_at,
            id_token_alg: signing_alg_code(client.id_token_alg),
            post_logout_redirect_uris: uris_to_stored(&client.post_logout_redirect_uris),
            access_token_format: access_token_format_code(client.access_token_format),
            resources: resources_to_stored(&client.resources),
            id_token_claims: client.id_token_claims,
            origin,
            owner,
            homepage: client.homepage.as_ref().map(|url| url.as_str().to_owned()),
            privacy_policy: client
                .privacy_policy
                .as_ref()
                .map(|url| url.as_str().to_owned()),
            verified: client.verified,
            previous_secret_hash: client
                .previous_secret
                .map(|previous| *previous.hash.as_bytes()),
            previous_secret_until: client.previous_secret.map_or(0, |previous| previous.until),
            registration_token_hash: client.registration_token_hash.map(|hash| *hash.as_bytes()),
        },
    )
}

/// Format 2, as keyward 0.3 and 0.4 wrote it: for the tests that prove its reader loses
/// nothing.
#[cfg(test)]
pub(crate) fn encode_v2(client: &Client) -> Vec<u8> {
    frame(
        CLIENT_V2,
        &ClientRecordV2 {
            name: client.name.as_str().to_owned(),
            redirect_uris: uris_to_stored(&client.redirect_uris),
            scope: scope_to_stored(&client.scope),
            grant_types: client
                .grant_types
                .iter()
                .map(|grant| grant_type_code(*grant))
                .collect(),
            secret_hash: client.secret_hash.map(|hash| *hash.as_bytes()),
            created_at: client.created_at,
            id_token_alg: signing_alg_code(client.id_token_alg),
            post_logout_redirect_uris: uris_to_stored(&client.post_logout_redirect_uris),
            access_token_format: access_token_format_code(client.access_token_format),
            resources: resources_to_stored(&client.resources),
            id_token_claims: client.id_token_claims,
        },
    )
}

/// Format 1, as keyward 0.1 and 0.2 wrote it: for the tests that prove its reader loses
/// nothing.
#[cfg(test)]
pub(crate) fn encode_v1(client: &Client) -> Vec<u8> {
    frame(
        CLIENT_V1,
        &ClientRecordV1 {
            name: client.name.as_str().to_owned(),
            redirect_uris: uris_to_stored(&client.redirect_uris),
            scope: scope_to_stored(&client.scope),
            grant_types: client
                .grant_types
                .iter()
                .map(|grant| grant_type_code(*grant))
                .collect(),
            secret_hash: client.secret_hash.map(|hash| *hash.as_bytes()),
            created_at: client.created_at,
        },
    )
}

fn uris_to_stored(uris: &[RedirectUri]) -> Vec<String> {
    uris.iter().map(|uri| uri.as_str().to_owned()).collect()
}

fn uris_from_stored(uris: Vec<String>) -> Vec<RedirectUri> {
    uris.into_iter().map(RedirectUri::from_stored).collect()
}

fn grant_types_from_stored(codes: Vec<u8>) -> Result<Vec<GrantType>, StoreError> {
    codes.into_iter().map(grant_type_of_code).collect()
}

/// The client stored under `id`.
pub(crate) fn decode(id: ClientId, bytes: &[u8]) -> Result<Client, StoreError> {
    match split(CLIENTS, bytes)? {
        (CLIENT_V4, rest) => {
            let record: ClientRecordV4 = body(CLIENTS, rest)?;
            let origin = origin_of_code(record.origin, record.owner)?;
            if (origin == ClientOrigin::Document) != record.document_url.is_some() {
                return Err(StoreError::Corrupt(
                    "record in clients has a document URL without the document origin, or \
                     the other way round"
                        .into(),
                ));
            }
            if (id.is_document() || record.document_url.is_some())
                && record.document_url.as_deref().map(ClientId::of_document) != Some(id)
            {
                return Err(StoreError::Corrupt(
                    "record in clients of a client metadata document is not under its URL's id"
                        .into(),
                ));
            }
            Ok(Client {
                id,
                name: DisplayName::from_stored(record.name),
                redirect_uris: uris_from_stored(record.redirect_uris),
                scope: scope_from_stored(record.scope),
                grant_types: grant_types_from_stored(record.grant_types)?,
                secret_hash: record.secret_hash.map(SecretHash::from_bytes),
                created_at: record.created_at,
                id_token_alg: signing_alg_of_code(CLIENTS, record.id_token_alg)?,
                post_logout_redirect_uris: uris_from_stored(record.post_logout_redirect_uris),
                access_token_format: access_token_format_of_code(record.access_token_format)?,
                resources: resources_from_stored(record.resources),
                id_token_claims: record.id_token_claims,
                origin,
                homepage: record.homepage.map(PageUrl::from_stored),
                privacy_policy: record.privacy_policy.map(PageUrl::from_stored),
                verified: record.verified,
                previous_secret: record.previous_secret_hash.map(|hash| PreviousSecret {
                    hash: SecretHash::from_bytes(hash),
                    until: record.previous_secret_until,
                }),
                registration_token_hash: record.registration_token_hash.map(SecretHash::from_bytes),
                document: record.document_url.map(DocumentUrl::from_stored),
            })
        }
        // Before client metadata documents: no client stood in for one.
        (CLIENT_V3, rest) => {
            let record: ClientRecordV3 = body(CLIENTS, rest)?;
            Ok(Client {
                id,
                name: DisplayName::from_stored(record.name),
                redirect_uris: uris_from_stored(record.redirect_uris),
                scope: scope_from_stored(record.scope),
                grant_types: grant_types_from_stored(record.grant_types)?,
                secret_hash: record.secret_hash.map(SecretHash::from_bytes),
                created_at: record.created_at,
                id_token_alg: signing_alg_of_code(CLIENTS, record.id_token_alg)?,
                post_logout_redirect_uris: uris_from_stored(record.post_logout_redirect_uris),
                access_token_format: access_token_format_of_code(record.access_token_format)?,
                resources: resources_from_stored(record.resources),
                id_token_claims: record.id_token_claims,
                // Format 3 knew no document origin.
                origin: match origin_of_code(record.origin, record.owner)? {
                    ClientOrigin::Document => {
                        return Err(StoreError::Corrupt(
                            "a format 3 record in clients names the document origin".into(),
                        ))
                    }
                    origin => origin,
                },
                homepage: record.homepage.map(PageUrl::from_stored),
                privacy_policy: record.privacy_policy.map(PageUrl::from_stored),
                verified: record.verified,
                previous_secret: record.previous_secret_hash.map(|hash| PreviousSecret {
                    hash: SecretHash::from_bytes(hash),
                    until: record.previous_secret_until,
                }),
                registration_token_hash: record.registration_token_hash.map(SecretHash::from_bytes),
                document: None,
            })
        }
        // Before the developer page: every client was the operator's, and rotating a
        // secret ended the old one at once.
        (CLIENT_V2, rest) => {
            let record: ClientRecordV2 = body(CLIENTS, rest)?;
            Ok(Client {
                id,
                name: DisplayName::from_stored(record.name),
                redirect_uris: uris_from_stored(record.redirect_uris),
                scope: scope_from_stored(record.scope),
                grant_types: grant_types_from_stored(record.grant_types)?,
                secret_hash: record.secret_hash.map(SecretHash::from_bytes),
                created_at: record.created_at,
                id_token_alg: signing_alg_of_code(CLIENTS, record.id_token_alg)?,
                post_logout_redirect_uris: uris_from_stored(record.post_logout_redirect_uris),
                access_token_format: access_token_format_of_code(record.access_token_format)?,
                resources: resources_from_stored(record.resources),
                id_token_claims: record.id_token_claims,
                // Format 3's additions, as every client was before it.
                origin: ClientOrigin::Operator,
                homepage: None,
                privacy_policy: None,
                verified: false,
                previous_secret: None,
                registration_token_hash: None,
                document: None,
            })
        }
        // Written before OpenID Connect: the defaults every client had then (RS256 would
        // have been the only choice, tokens were opaque, no logout URIs or resources).
        (CLIENT_V1, rest) => {
            let record: ClientRecordV1 = body(CLIENTS, rest)?;
            Ok(Client {
                id,
                name: DisplayName::from_stored(record.name),
                redirect_uris: uris_from_stored(record.redirect_uris),
                scope: scope_from_stored(record.scope),
                grant_types: grant_types_from_stored(record.grant_types)?,
                secret_hash: record.secret_hash.map(SecretHash::from_bytes),
                created_at: record.created_at,
                id_token_alg: SigningAlg::default(),
                post_logout_redirect_uris: Vec::new(),
                access_token_format: AccessTokenFormat::default(),
                resources: Vec::new(),
                id_token_claims: false,
                // Format 3's additions, as every client was before it.
                origin: ClientOrigin::Operator,
                homepage: None,
                privacy_policy: None,
                verified: false,
                previous_secret: None,
                registration_token_hash: None,
                document: None,
            })
        }
        (version, _) => Err(unknown_version(CLIENTS, version, "1, 2, 3 or 4")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_grant_type_has_a_code_that_reads_back_as_itself() {
        for grant in GrantType::ALL {
            assert_eq!(grant_type_of_code(grant_type_code(grant)).unwrap(), grant);
        }
        assert!(grant_type_of_code(3).is_err());
    }

    #[test]
    fn every_access_token_format_has_a_code_that_reads_back_as_itself() {
        for (format, code) in AccessTokenFormat::ALL.into_iter().zip([0, 1]) {
            assert_eq!(access_token_format_code(format), code);
            assert_eq!(access_token_format_of_code(code).unwrap(), format);
        }
        assert!(access_token_format_of_code(2).is_err());
    }
}
