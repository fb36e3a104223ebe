//! After issuance: revocation (RFC 7009) and introspection (RFC 7662).

use super::client_auth::{self, AuthError};
use super::params::Params;
use super::token::TokenService;
use super::tokens::OpaqueToken;
use super::{ErrorCode, OAuthError};
use crate::model::{ClientId, Scope, UnixTime, UserId};

/// What introspection reports about an active token (RFC 7662 §2.2). Values are written
/// through `Display` straight into the response, without a string apiece.
#[derive(Debug, serde::Serialize)]
pub struct Introspection<'a> {
    pub active: bool,
    #[serde(serialize_with = "display")]
    pub scope: Scope,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "display_some"
    )]
    pub client_id: Option<ShownClientId>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "display_some"
    )]
    pub sub: Option<UserId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    pub exp: UnixTime,
    pub iat: UnixTime,
    pub iss: &'a str,
    /// RFC 7662 §2.2: the access token's type; absent for a refresh token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    /// The resources the token is for (RFC 8707): a string for one, an array for several.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "one_or_many")]
    pub aud: Vec<String>,
}

/// A `client_id` as introspection tells it: the hex id, or a metadata document's URL.
#[derive(Debug)]
pub enum ShownClientId {
    Id(ClientId),
    Url(String),
}

impl std::fmt::Display for ShownClientId {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShownClientId::Id(id) => id.fmt(formatter),
            ShownClientId::Url(url) => formatter.write_str(url),
        }
    }
}

fn one_or_many<S: serde::Serializer>(values: &[String], serializer: S) -> Result<S::Ok, S::Error> {
    match values {
        [one] => serializer.serialize_str(one),
        many => serde::Serialize::serialize(many, serializer),
    }
}

fn display<S: serde::Serializer>(
    value: &impl std::fmt::Display,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

fn display_some<S: serde::Serializer>(
    value: &Option<impl std::fmt::Display>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serializer.collect_str(value),
        None => serializer.serialize_none(),
    }
}

impl TokenService {
    /// Authenticates the calling client as the token endpoint does, and counts the request
    /// against the client's rate limit when `counted` (see `token`).
    pub fn caller(
        &self,
        authorization: Option<&str>,
        params: &Params,
        now: UnixTime,
        counted: bool,
    ) -> Result<std::sync::Arc<crate::model::Client>, AuthError> {
        let basic = authorization.is_some();
        params
            .reject_duplicates()
            .map_err(|error| AuthError { error, basic })?;
        let presented = client_auth::presented(authorization, params)?;
        let client = client_auth::authenticate(&self.store, &presented, now)?;
        if counted {
            self.admit_client(&client, now)
                .map_err(|error| AuthError { error, basic })?;
        }
        Ok(client)
    }

    /// A revocation request as a whole (RFC 7009 §2.1): the calling client, then `token`.
    pub async fn revocation(
        &self,
        authorization: Option<&str>,
        params: &Params,
        now: UnixTime,
        counted: bool,
    ) -> Result<(), AuthError> {
        let basic = authorization.is_some();
        let client = self.caller(authorization, params, now, counted)?;
        let token = params
            .require("token")
            .map_err(|error| AuthError { error, basic })?;
        self.revoke(&client, token, now)
            .await
            .map_err(|error| AuthError { error, basic })
    }

    /// An introspection request as a whole (RFC 7662 §2.1): a caller with a secret, then
    /// `token`. A public client proves nothing by naming itself, and introspection tells
    /// whom a token belongs to, so only a confidential client may ask.
    pub fn introspection<'a>(
        &self,
        authorization: Option<&str>,
        params: &Params,
        issuer: &'a str,
        now: UnixTime,
        counted: bool,
    ) -> Result<Option<Introspection<'a>>, AuthError> {
        let basic = authorization.is_some();
        let refuse = |error| AuthError { error, basic };
        if self
            .caller(authorization, params, now, counted)?
            .is_public()
        {
            return Err(refuse(OAuthError::new(
                ErrorCode::InvalidClient,
                "client authentication failed",
            )));
        }
        let token = params.require("token").map_err(refuse)?;
        self.introspect(token, issuer, now).map_err(refuse)
    }

    /// RFC 7009 §2.1: revokes `token` if it belongs to `client`. Unknown, expired and
    /// foreign tokens change nothing and are not reported: the answer is the same 200.
    /// `token_type_hint` would only change the lookup order, and both lookups are cheap.
    pub async fn revoke(
        &self,
        client: &crate::model::Client,
        token: &str,
        now: UnixTime,
    ) -> Result<(), OAuthError> {
        if let Some(refresh) = OpaqueToken::parse(token) {
            // Only a token that exists costs a write; a made-up one is answered from a read.
            if self
                .store
                .refresh_token_presentable(refresh.id, &refresh.secret)?
            {
                self.store
                    .revoke_refresh_token(refresh.id, refresh.secret, client.id)
                    .await?;
                crate::audit!(
                    "revocation",
                    token = "refresh_token",
                    client_id = %client.public_id()
                );
            }
            return Ok(());
        }
        if let Some(claims) = self.open_access(token) {
            if claims.client_id == Some(client.id) && now < claims.expires_at {
                self.store
                    .revoke_access_token(claims.token_id, claims.expires_at)
                    .await?;
                crate::audit!(
                    "revocation",
                    token = "access_token",
                    client_id = %client.public_id(),
                    user_id = ?claims.user_id.map(|id| id.to_string())
                );
            }
        }
        Ok(())
    }

    /// The client as it knows itself. Only a metadata document's client (told apart by its
    /// id, without a lookup) needs its record for that.
    fn shown_client_id(&self, id: ClientId) -> Result<ShownClientId, OAuthError> {
        if !id.is_document() {
            return Ok(ShownClientId::Id(id));
        }
        Ok(match self.store.client(id)? {
            Some(client) => ShownClientId::Url(client.public_id()),
            None => ShownClientId::Id(id),
        })
    }

    /// RFC 7662: `None` means `{"active": false}`, whatever the reason.
    pub fn introspect<'a>(
        &self,
        token: &str,
        issuer: &'a str,
        now: UnixTime,
    ) -> Result<Option<Introspection<'a>>, OAuthError> {
        if let Some(active) = self.verify_access(token, now)? {
            let claims = active.claims;
            return Ok(Some(Introspection {
                active: true,
                scope: claims.scope,
                client_id: claims
                    .client_id
                    .map(|id| self.shown_client_id(id))
                    .transpose()?,
                sub: claims.user_id,
                username: active.user.map(|user| user.username.as_str().to_owned()),
                exp: claims.expires_at,
                iat: claims.issued_at,
                iss: issuer,
                token_type: Some("Bearer"),
                aud: claims.audience,
            }));
        }
        let Some(refresh) = OpaqueToken::parse(token) else {
            return Ok(None);
        };
        let Some((grant, expires_at)) =
            self.store
                .refresh_token_grant(refresh.id, &refresh.secret, now)?
        else {
            return Ok(None);
        };
        let (Some(client), Some(user)) = (
            self.store.client(grant.client_id)?,
            self.store.user(grant.user_id)?,
        ) else {
            return Ok(None);
        };
        // A grant made before --refresh-token-max-lifetime existed may have tokens that
        // outlive it; they are refused from then on, so they are inactive too.
        let end = super::token::grant_end(&self.lifetimes, grant.created_at);
        if now >= end {
            return Ok(None);
        }
        Ok(Some(Introspection {
            active: true,
            scope: grant.scope,
            client_id: Some(match &client.document {
                Some(url) => ShownClientId::Url(url.as_str().to_owned()),
                None => ShownClientId::Id(client.id),
            }),
            sub: Some(user.id),
            username: Some(user.username.as_str().to_owned()),
            exp: expires_at.min(end),
            iat: grant.created_at,
            iss: issuer,
            token_type: None,
            aud: grant
                .resources
                .iter()
                .map(|resource| resource.as_str().to_owned())
                .collect(),
        }))
    }
}

/// Claims a userinfo response carries for these scopes (OpenID Connect Core §5.3.2), and
/// `username`, which keyward answered before it spoke OpenID Connect. (The demo shows them;
/// the endpoint sends `userinfo_body`.)
pub fn userinfo(user: &crate::model::User, scope: &Scope) -> serde_json::Value {
    let mut claims = crate::oidc::claims::user_claims(user, scope);
    claims.insert("username".into(), user.username.as_str().into());
    serde_json::Value::Object(claims)
}

/// `userinfo`'s claims as the response body, serialized from borrowed values: userinfo is
/// the relying party's hot path, and building a `serde_json::Value` map costs it an
/// allocation per claim. The same claims as `userinfo` (a unit test holds the two together).
pub fn userinfo_body(user: &crate::model::User, scope: &Scope) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Body<'a> {
        #[serde(serialize_with = "serialize_display")]
        sub: crate::model::UserId,
        #[serde(skip_serializing_if = "Option::is_none")]
        preferred_username: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        updated_at: Option<UnixTime>,
        #[serde(skip_serializing_if = "Option::is_none")]
        email: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        email_verified: Option<bool>,
        username: &'a str,
    }
    fn serialize_display<S: serde::Serializer>(
        id: &crate::model::UserId,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_str(id)
    }
    let profile = scope.contains("profile");
    let email = user.email.as_ref().filter(|_| scope.contains("email"));
    let body = Body {
        sub: user.id,
        preferred_username: profile.then(|| user.username.as_str()),
        name: user
            .name
            .as_ref()
            .filter(|_| profile)
            .map(|name| name.as_str()),
        updated_at: profile.then_some(user.updated_at),
        email: email.map(|email| email.as_str()),
        email_verified: email.map(|_| user.email_verified),
        username: user.username.as_str(),
    };
    serde_json::to_vec(&body).expect("userinfo serializes")
}

#[cfg(test)]
mod userinfo_tests {
    use super::*;
    use crate::model::{DisplayName, Email, Id, User, UserId, Username};

    #[test]
    fn the_body_says_what_the_claims_say_for_every_scope() {
        let full = User {
            id: UserId(Id::from_bytes([7; 16])),
            username: Username::parse("alice").unwrap(),
            email: Some(Email::parse("alice@example.com").unwrap()),
            name: Some(DisplayName::parse("name", "Alice \"A\" Liddell").unwrap()),
            password_hash: String::new(),
            created_at: 1,
            email_verified: true,
            updated_at: 2,
            developer: false,
        };
        let bare = User {
            email: None,
            name: None,
            ..full.clone()
        };
        for user in [&full, &bare] {
            for scope in [
                "openid",
                "openid profile",
                "openid email",
                "openid profile email",
                "",
            ] {
                let scope = Scope::parse(scope).unwrap();
                let body: serde_json::Value =
                    serde_json::from_slice(&userinfo_body(user, &scope)).unwrap();
                assert_eq!(body, userinfo(user, &scope), "{scope}");
            }
        }
    }
}
