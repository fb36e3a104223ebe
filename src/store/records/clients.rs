//! `clients` values: `ClientRecordV1`, sealed (it holds the secret's hash).

use serde::{Deserialize, Serialize};

use super::{scope_from_stored, scope_to_stored};
use crate::model::{Client, ClientId, DisplayName, GrantType, RedirectUri, SecretHash};
use crate::store::codec::{body, frame, split, unknown_version};
use crate::store::tables::CLIENTS;
use crate::store::StoreError;

const CLIENT_V1: u8 = 1;

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
    frame(
        CLIENT_V1,
        &ClientRecordV1 {
            name: client.name.as_str().to_owned(),
            redirect_uris: client
                .redirect_uris
                .iter()
                .map(|uri| uri.as_str().to_owned())
                .collect(),
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

/// The client stored under `id`.
pub(crate) fn decode(id: ClientId, bytes: &[u8]) -> Result<Client, StoreError> {
    match split(CLIENTS, bytes)? {
        (CLIENT_V1, rest) => {
            let record: ClientRecordV1 = body(CLIENTS, rest)?;
            Ok(Client {
                id,
                name: DisplayName::from_stored(record.name),
                redirect_uris: record
                    .redirect_uris
                    .into_iter()
                    .map(RedirectUri::from_stored)
                    .collect(),
                scope: scope_from_stored(record.scope),
                grant_types: record
                    .grant_types
                    .into_iter()
                    .map(grant_type_of_code)
                    .collect::<Result<_, _>>()?,
                secret_hash: record.secret_hash.map(SecretHash::from_bytes),
                created_at: record.created_at,
            })
        }
        (version, _) => Err(unknown_version(CLIENTS, version, "1")),
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
}
