//! After issuance: revocation (RFC 7009) and introspection (RFC 7662).

use super::client_auth::{self, AuthError};
use super::params::Params;
use super::token::TokenService;
use super::tokens::{AccessClaims, OpaqueToken};
use super::OAuthError;
use crate::model::{Scope, UnixTime};

/// What introspection reports about an active token (RFC 7662 §2.2).
#[derive(Debug, serde::Serialize)]
pub struct Introspection {
    pub active: bool,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    pub exp: UnixTime,
    pub iat: UnixTime,
    pub iss: String,
    /// RFC 7662 §2.2: the access token's type; absent for a refresh token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
}

impl TokenService {
    /// Authenticates the calling client as the token endpoint does.
    pub fn caller(
        &self,
        authorization: Option<&str>,
        params: &Params,
    ) -> Result<crate::model::Client, AuthError> {
        let basic = authorization.is_some();
        params
            .reject_duplicates()
            .map_err(|error| AuthError { error, basic })?;
        let presented = client_auth::presented(authorization, params)?;
        client_auth::authenticate(&self.store, &presented)
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
            self.store
                .revoke_refresh_token(refresh.id, refresh.secret, client.id)
                .await?;
            return Ok(());
        }
        if let Some(claims) = self.access.open::<AccessClaims>(token) {
            if claims.client_id == Some(client.id) && now < claims.expires_at {
                self.store
                    .revoke_access_token(claims.token_id, claims.expires_at)
                    .await?;
            }
        }
        Ok(())
    }

    /// RFC 7662: `None` means `{"active": false}`, whatever the reason.
    pub fn introspect(
        &self,
        token: &str,
        issuer: &str,
        now: UnixTime,
    ) -> Result<Option<Introspection>, OAuthError> {
        if let Some(active) = self.verify_access(token, now)? {
            let claims = active.claims;
            return Ok(Some(Introspection {
                active: true,
                scope: claims.scope.to_string(),
                client_id: claims.client_id.map(|id| id.to_string()),
                sub: claims.user_id.map(|id| id.to_string()),
                username: active.user.map(|user| user.username.as_str().to_owned()),
                exp: claims.expires_at,
                iat: claims.issued_at,
                iss: issuer.to_owned(),
                token_type: Some("Bearer"),
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
        let (Some(_), Some(user)) = (
            self.store.client(grant.client_id)?,
            self.store.user(grant.user_id)?,
        ) else {
            return Ok(None);
        };
        Ok(Some(Introspection {
            active: true,
            scope: grant.scope.to_string(),
            client_id: Some(grant.client_id.to_string()),
            sub: Some(user.id.to_string()),
            username: Some(user.username.as_str().to_owned()),
            exp: expires_at,
            iat: grant.created_at,
            iss: issuer.to_owned(),
            token_type: None,
        }))
    }
}

/// Claims a userinfo response may carry for these scopes (OpenID Connect Core §5.4).
pub fn userinfo(user: &crate::model::User, scope: &Scope) -> serde_json::Value {
    let mut claims = serde_json::json!({
        "sub": user.id.to_string(),
        "username": user.username.as_str(),
    });
    if scope.contains("profile") {
        claims["preferred_username"] = user.username.as_str().into();
        if let Some(name) = &user.name {
            claims["name"] = name.as_str().into();
        }
    }
    if scope.contains("email") {
        if let Some(email) = &user.email {
            claims["email"] = email.as_str().into();
        }
    }
    claims
}
