//! `upstreams` values: `UpstreamRecordV1`, sealed (it holds the client secret keyward has at
//! the provider, which must be sent as it is and so cannot be a hash); and `user_identities`
//! values: `UserIdentityRecordV1`, sealed (the subject ties a keyward user to an account
//! elsewhere: personal data). Both schema 4.

use serde::{Deserialize, Serialize};

use super::{scope_from_stored, scope_to_stored};
use crate::model::{DisplayName, UnixTime};
use crate::store::codec::{body, frame, split, unknown_version};
use crate::store::tables::{Table, UPSTREAMS, USER_IDENTITIES};
use crate::store::StoreError;
use crate::upstream::{
    Endpoints, FieldName, ProfileFields, Upstream, UpstreamKind, UpstreamName, UpstreamSecret,
    UpstreamUrl,
};

const UPSTREAM_V1: u8 = 1;
const USER_IDENTITY_V1: u8 = 1;

/// An upstream provider, format 1. Its name is the row's key, not a field. An OpenID
/// Connect kind has `issuer` and none of the OAuth 2.0 fields; an OAuth 2.0 kind has the
/// three URLs and `subject_field`, and no `issuer`.
#[derive(Serialize, Deserialize)]
struct UpstreamRecordV1 {
    /// An upstream kind code (`kind_code`).
    kind: u8,
    display_name: String,
    issuer: Option<String>,
    authorize_url: Option<String>,
    token_url: Option<String>,
    userinfo_url: Option<String>,
    subject_field: Option<String>,
    username_field: Option<String>,
    email_field: Option<String>,
    email_verified_field: Option<String>,
    client_id: String,
    /// In plain text inside the sealed record: keyward sends it to the upstream's token
    /// endpoint.
    client_secret: String,
    scope: Vec<String>,
    create_users: bool,
    created_at: u64,
}

/// A linked identity, format 1: the subject at the upstream the row's key names.
#[derive(Serialize, Deserialize)]
struct UserIdentityRecordV1 {
    subject: String,
    linked_at: u64,
}

/// The code of an upstream kind on disk. A code is never renumbered or reused; a new kind
/// takes the next free one:
///
/// | code | kind |
/// |---|---|
/// | 0 | oidc |
/// | 1 | oauth2 |
/// | 2 | discord |
/// | 3 | github |
/// | 4 | google |
/// | 5 | gitlab |
fn kind_code(kind: UpstreamKind) -> u8 {
    match kind {
        UpstreamKind::Oidc => 0,
        UpstreamKind::OAuth2 => 1,
        UpstreamKind::Discord => 2,
        UpstreamKind::Github => 3,
        UpstreamKind::Google => 4,
        UpstreamKind::Gitlab => 5,
    }
}

fn kind_of_code(code: u8) -> Result<UpstreamKind, StoreError> {
    Ok(match code {
        0 => UpstreamKind::Oidc,
        1 => UpstreamKind::OAuth2,
        2 => UpstreamKind::Discord,
        3 => UpstreamKind::Github,
        4 => UpstreamKind::Google,
        5 => UpstreamKind::Gitlab,
        code => {
            return Err(StoreError::Corrupt(format!(
                "record in upstreams names upstream kind code {code}, which this keyward does \
                 not know"
            )))
        }
    })
}

pub(crate) fn encode(upstream: &Upstream) -> Vec<u8> {
    let text = |value: &UpstreamUrl| Some(value.as_str().to_owned());
    let field = |value: &Option<FieldName>| value.as_ref().map(|field| field.as_str().to_owned());
    let mut record = UpstreamRecordV1 {
        kind: kind_code(upstream.kind),
        display_name: upstream.display_name.as_str().to_owned(),
        issuer: None,
        authorize_url: None,
        token_url: None,
        userinfo_url: None,
        subject_field: None,
        username_field: None,
        email_field: None,
        email_verified_field: None,
        client_id: upstream.client_id.clone(),
        client_secret: upstream.client_secret.expose().to_owned(),
        scope: scope_to_stored(&upstream.scope),
        create_users: upstream.create_users,
        created_at: upstream.created_at,
    };
    match &upstream.endpoints {
        Endpoints::Oidc { issuer } => record.issuer = text(issuer),
        Endpoints::OAuth2 {
            authorize_url,
            token_url,
            userinfo_url,
            fields,
        } => {
            record.authorize_url = text(authorize_url);
            record.token_url = text(token_url);
            record.userinfo_url = text(userinfo_url);
            record.subject_field = Some(fields.subject.as_str().to_owned());
            record.username_field = field(&fields.username);
            record.email_field = field(&fields.email);
            record.email_verified_field = field(&fields.email_verified);
        }
    }
    frame(UPSTREAM_V1, &record)
}

/// The upstream stored under `name`.
pub(crate) fn decode(name: UpstreamName, bytes: &[u8]) -> Result<Upstream, StoreError> {
    match split(UPSTREAMS, bytes)? {
        (UPSTREAM_V1, rest) => {
            let record: UpstreamRecordV1 = body(UPSTREAMS, rest)?;
            let kind = kind_of_code(record.kind)?;
            let missing = |field: &str| {
                StoreError::Corrupt(format!(
                    "record in upstreams: a {kind} upstream without {field}"
                ))
            };
            let url = |value: Option<String>, field: &str| {
                value
                    .map(UpstreamUrl::from_stored)
                    .ok_or_else(|| missing(field))
            };
            let endpoints = match kind.protocol() {
                crate::upstream::Protocol::Oidc => Endpoints::Oidc {
                    issuer: url(record.issuer, "an issuer")?,
                },
                crate::upstream::Protocol::OAuth2 => Endpoints::OAuth2 {
                    authorize_url: url(record.authorize_url, "an authorize URL")?,
                    token_url: url(record.token_url, "a token URL")?,
                    userinfo_url: url(record.userinfo_url, "a userinfo URL")?,
                    fields: ProfileFields {
                        subject: record
                            .subject_field
                            .map(FieldName::from_stored)
                            .ok_or_else(|| missing("a subject field"))?,
                        username: record.username_field.map(FieldName::from_stored),
                        email: record.email_field.map(FieldName::from_stored),
                        email_verified: record.email_verified_field.map(FieldName::from_stored),
                    },
                },
            };
            Ok(Upstream {
                name,
                kind,
                display_name: DisplayName::from_stored(record.display_name),
                endpoints,
                client_id: record.client_id,
                client_secret: UpstreamSecret::from_stored(record.client_secret),
                scope: scope_from_stored(record.scope),
                create_users: record.create_users,
                created_at: record.created_at,
            })
        }
        (version, _) => Err(unknown_version(UPSTREAMS, version, "1")),
    }
}

/// A user's linked identity at one upstream, as `user_identities` holds it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct StoredIdentity {
    pub(crate) subject: String,
    pub(crate) linked_at: UnixTime,
}

pub(crate) fn encode_identity(identity: &StoredIdentity) -> Vec<u8> {
    frame(
        USER_IDENTITY_V1,
        &UserIdentityRecordV1 {
            subject: identity.subject.clone(),
            linked_at: identity.linked_at,
        },
    )
}

pub(crate) fn decode_identity(bytes: &[u8]) -> Result<StoredIdentity, StoreError> {
    let table: Table = USER_IDENTITIES;
    match split(table, bytes)? {
        (USER_IDENTITY_V1, rest) => {
            let record: UserIdentityRecordV1 = body(table, rest)?;
            Ok(StoredIdentity {
                subject: record.subject,
                linked_at: record.linked_at,
            })
        }
        (version, _) => Err(unknown_version(table, version, "1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_code_that_reads_back_as_itself() {
        for (kind, code) in UpstreamKind::ALL.into_iter().zip(0..) {
            assert_eq!(kind_code(kind), code);
            assert_eq!(kind_of_code(code).unwrap(), kind);
        }
        assert!(kind_of_code(6).is_err());
    }

    #[test]
    fn a_record_without_what_its_kind_needs_is_corrupt() {
        let name = || UpstreamName::from_stored("x".into());
        // An oidc record (kind 0) with no issuer: every Option None.
        let mut bytes = vec![UPSTREAM_V1, 0, 1, b'X'];
        bytes.extend([0; 8]);
        bytes.extend([1, b'c', 1, b's', 0, 0, 0]);
        let error = decode(name(), &bytes).unwrap_err().to_string();
        assert!(error.contains("without an issuer"), "{error}");
        bytes[1] = 1;
        let error = decode(name(), &bytes).unwrap_err().to_string();
        assert!(error.contains("without an authorize URL"), "{error}");
        assert!(decode(name(), &[2, 0]).is_err());
        assert!(decode_identity(&[2, 0]).is_err());
    }
}
