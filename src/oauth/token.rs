//! The token endpoint's grants (RFC 6749 §4.1.3, §4.4, §6; RFC 7636 §4.6; RFC 9700 §4.14).

use std::sync::Arc;
use std::time::Duration;

use super::apikeys::{self, ApiKeyToken, UsageLog};
use super::client_auth::{self, AuthError};
use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use super::pkce::CodeChallenge;
use super::resources::{self, ResourcePolicy};
use super::tokens::{AccessClaims, AccessClaimsV1, OpaqueToken, Principal};
use crate::config::Lifetimes;
use crate::model::{AccessTokenFormat, Client, GrantType, Id, ResourceUri, Scope, UnixTime};
use crate::oidc::idtoken::{IdTokenRequest, IdTokens};
use crate::seal::SealedBox;
use crate::store::{
    Grant, NewRefreshToken, Presented, Redemption, RefreshGrace, Refreshed, Rotation, Store,
};

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug)]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: u64,
    pub scope: Scope,
    pub refresh_token: Option<String>,
    /// OpenID Connect: when the grant holds `openid`.
    pub id_token: Option<String>,
}

/// Issues and checks tokens. Built once at startup.
pub struct TokenService {
    pub(super) store: Store,
    pub(super) access: SealedBox,
    /// Opens tokens sealed before resource indicators, until they expire.
    access_v1: SealedBox,
    pub(super) lifetimes: Lifetimes,
    usage: Arc<UsageLog>,
    id_tokens: IdTokens,
    resources: ResourcePolicy,
    /// When the database was last restored from a backup (`keyward restore`), in
    /// milliseconds: access tokens issued before (their id's time) may stand on what the
    /// restore undid (a revocation, a rotation), so they are refused.
    restored_at_millis: u64,
    /// `serve --rate-limit-client`: requests per authenticated client, counted after its
    /// authentication (a stranger naming the client cannot use up its allowance).
    client_limits: crate::ratelimit::RateLimiter,
}

/// A live access token and whom it acts for.
#[derive(Debug)]
pub struct ActiveToken {
    pub claims: AccessClaims,
    /// `None` for client-credentials tokens.
    pub user: Option<crate::model::User>,
}

fn seconds(duration: Duration) -> u64 {
    duration.as_secs()
}

/// When a grant made at `created_at` ends at the latest: `--refresh-token-max-lifetime`
/// after its code was redeemed, however recently it was used.
pub(super) fn grant_end(lifetimes: &Lifetimes, created_at: UnixTime) -> UnixTime {
    created_at.saturating_add(seconds(lifetimes.refresh_token_max_lifetime))
}

/// When a refresh token issued at `now` for a grant made at `created_at` expires: its own
/// lifetime later, but never past the grant's end. `None` once the grant has reached it.
fn refresh_expiry(lifetimes: &Lifetimes, created_at: UnixTime, now: UnixTime) -> Option<UnixTime> {
    let end = grant_end(lifetimes, created_at);
    (now < end).then(|| {
        now.saturating_add(seconds(lifetimes.refresh_token))
            .min(end)
    })
}

impl TokenService {
    pub fn new(
        store: Store,
        lifetimes: Lifetimes,
        usage: Arc<UsageLog>,
        id_tokens: IdTokens,
    ) -> TokenService {
        let access = SealedBox::new(
            store.derived_key("access token v1"),
            "keyward access token v2",
        );
        let access_v1 = SealedBox::new(
            store.derived_key("access token v1"),
            "keyward access token v1",
        );
        TokenService {
            store,
            access,
            access_v1,
            lifetimes,
            usage,
            id_tokens,
            resources: ResourcePolicy::default(),
            restored_at_millis: 0,
            client_limits: crate::ratelimit::RateLimiter::new(None),
        }
    }

    /// Limits each authenticated client to `limit` requests (token, introspection,
    /// revocation together).
    pub fn with_client_limit(mut self, limit: Option<crate::ratelimit::Limit>) -> TokenService {
        self.client_limits = crate::ratelimit::RateLimiter::new(limit);
        self
    }

    /// Counts a request of an authenticated client against its limit.
    pub(super) fn admit_client(&self, client: &Client, now: UnixTime) -> Result<(), OAuthError> {
        self.client_limits
            .admit(u128::from_be_bytes(*client.id.0.as_bytes()), now)
            .map_err(|seconds| OAuthError::slow_down("client", seconds))
    }

    /// Refuses access tokens issued before `at_millis` (`Store::restored_at_millis`).
    pub fn with_restored_at_millis(mut self, at_millis: u64) -> TokenService {
        self.restored_at_millis = at_millis;
        self
    }

    /// With `serve --resource`: resources every client may ask for.
    pub fn with_resources(mut self, resources: ResourcePolicy) -> TokenService {
        self.resources = resources;
        self
    }

    /// The ID tokens this service signs, and their key ring.
    pub fn id_tokens(&self) -> &IdTokens {
        &self.id_tokens
    }

    /// OpenID Connect: an ID token beside the access token, when what was granted holds
    /// `openid` (Core §3.1.3.3; on a refresh, §12.2: the same `sub` and `auth_time`, no
    /// nonce).
    fn with_id_token(
        &self,
        mut response: TokenResponse,
        client: &Client,
        grant: &Grant,
        nonce: Option<&str>,
        now: UnixTime,
    ) -> Result<TokenResponse, OAuthError> {
        if !response.scope.contains("openid") {
            return Ok(response);
        }
        // The user's record is read only for the claims it would give: the grant's write has
        // just checked that the user exists.
        let user = if client.id_token_claims {
            let Some(user) = self.store.user(grant.user_id)? else {
                return Err(OAuthError::invalid_grant("the user no longer exists"));
            };
            Some(user)
        } else {
            None
        };
        response.id_token = Some(self.id_tokens.issue(IdTokenRequest {
            client,
            user: user.as_ref(),
            grant,
            scope: &response.scope,
            nonce,
            access_token: &response.access_token,
            now,
        })?);
        Ok(response)
    }

    /// Handles one token request: authenticate the client, then run its grant. `counted`:
    /// the request counts against the client's rate limit (the HTTP side says so for every
    /// request but a loopback peer's; keyward's own demo is never counted).
    pub async fn token(
        &self,
        authorization: Option<&str>,
        params: Params,
        now: UnixTime,
        counted: bool,
    ) -> Result<TokenResponse, AuthError> {
        let plain = |error: OAuthError| AuthError {
            error,
            basic: authorization.is_some(),
        };
        params.reject_duplicates().map_err(plain)?;
        // README.md, "Endpoints": a personal API key is exchanged as a refresh token, without client
        // credentials; it authenticates the user itself.
        let presents_api_key = params.get("grant_type").ok().flatten() == Some("refresh_token")
            && params
                .get("refresh_token")
                .ok()
                .flatten()
                .is_some_and(|token| token.starts_with(apikeys::PREFIX));
        let without_client = authorization.is_none()
            && !params.contains("client_id")
            && !params.contains("client_secret");
        if presents_api_key && without_client {
            return self.api_key(&params, now).map_err(plain);
        }
        let presented = client_auth::presented(authorization, &params)?;
        let grant_type = params.require("grant_type").map_err(plain)?.to_owned();
        let client = client_auth::authenticate(&self.store, &presented, now)?;
        if counted {
            self.admit_client(&client, now).map_err(plain)?;
        }
        let result = match grant_type.as_str() {
            "authorization_code" => self.authorization_code(&client, &params, now).await,
            "refresh_token" => self.refresh_token(&client, &params, now).await,
            "client_credentials" => self.client_credentials(&client, &params, now),
            other => Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!(
                    "grant_type '{}' is not supported",
                    crate::model::truncate_for_message(other)
                ),
            )),
        };
        result.map_err(plain)
    }

    fn require_grant(client: &Client, grant: GrantType) -> Result<(), OAuthError> {
        if client.allows_grant(grant) {
            Ok(())
        } else {
            Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                format!("this client may not use the {} grant", grant.as_str()),
            ))
        }
    }

    async fn authorization_code(
        &self,
        client: &Client,
        params: &Params,
        now: UnixTime,
    ) -> Result<TokenResponse, OAuthError> {
        Self::require_grant(client, GrantType::AuthorizationCode)?;
        let invalid = || OAuthError::invalid_grant("the code is invalid");
        let code = OpaqueToken::parse(params.require("code")?).ok_or_else(invalid)?;
        let redirect_uri = params.get("redirect_uri")?.map(str::to_owned);
        let verifier = params.get("code_verifier")?.map(str::to_owned);
        let requested_resources = resources::parse(params)?;
        let resources_check = requested_resources.clone();
        // A made-up code is refused on a read: it costs no place in a write batch, so
        // guessing cannot crowd out real redemptions. The write checks everything again.
        if !self.store.code_presentable(code.id, &code.secret)? {
            return Err(invalid());
        }
        let refresh = client
            .allows_grant(GrantType::RefreshToken)
            .then(OpaqueToken::generate);
        // The grant is made now; nothing of it lives past its maximum lifetime.
        let end = grant_end(&self.lifetimes, now);
        let new_refresh = refresh.as_ref().map(|token| NewRefreshToken {
            id: token.id,
            secret_hash: token.secret_hash(),
            expires_at: (now + seconds(self.lifetimes.refresh_token)).min(end),
        });
        let client_id = client.id;
        let outcome = self
            .store
            .redeem_code(
                Redemption {
                    code_id: code.id,
                    secret: code.secret,
                    now,
                    grant_id: Id::generate(crate::clock::now_millis()),
                    refresh: new_refresh,
                    access_expires_at: (now + seconds(self.lifetimes.access_token)).min(end),
                },
                move |issued| {
                    if issued.client_id != client_id {
                        return Err(OAuthError::invalid_grant(
                            "the code was issued to another client",
                        ));
                    }
                    resources::narrowed(&issued.resources, &resources_check)?;
                    match &redirect_uri {
                        Some(sent) if *sent != issued.redirect_uri => {
                            return Err(OAuthError::invalid_grant(
                                "redirect_uri differs from the authorization request's",
                            ))
                        }
                        None if issued.redirect_uri_sent => {
                            return Err(OAuthError::invalid_request(
                                "redirect_uri is required: the authorization request named one",
                            ))
                        }
                        _ => {}
                    }
                    match (&issued.code_challenge, &verifier) {
                        (Some(challenge), Some(verifier)) => {
                            if !CodeChallenge::from_stored(challenge.clone()).verify(verifier) {
                                return Err(OAuthError::invalid_grant(
                                    "the code_verifier does not match the code_challenge",
                                ));
                            }
                        }
                        (Some(_), None) => {
                            return Err(OAuthError::invalid_grant("code_verifier is missing"))
                        }
                        // RFC 9700 §4.8.2: a verifier for a code issued without a challenge
                        // is a downgrade attempt.
                        (None, Some(_)) => {
                            return Err(OAuthError::invalid_grant(
                                "code_verifier sent, but the authorization request had no code_challenge",
                            ))
                        }
                        (None, None) => {}
                    }
                    Ok(())
                },
            )
            .await?;
        let redeemed = accepted(outcome, "code", client)?;
        let grant = &redeemed.grant;
        let audience = pick(&requested_resources, &grant.resources);
        let response = self.respond(client, grant, grant.scope.clone(), audience, now, refresh)?;
        self.with_id_token(response, client, grant, redeemed.nonce.as_deref(), now)
    }

    async fn refresh_token(
        &self,
        client: &Client,
        params: &Params,
        now: UnixTime,
    ) -> Result<TokenResponse, OAuthError> {
        Self::require_grant(client, GrantType::RefreshToken)?;
        let invalid = || OAuthError::invalid_grant("the refresh token is invalid");
        let presented = OpaqueToken::parse(params.require("refresh_token")?).ok_or_else(invalid)?;
        let requested = params
            .get("scope")?
            .map(Scope::parse)
            .transpose()
            .map_err(invalid_scope)?;
        let requested_resources = resources::parse(params)?;
        let resources_check = requested_resources.clone();
        // A made-up token is refused on a read, without a write (as for codes).
        if !self
            .store
            .refresh_token_presentable(presented.id, &presented.secret)?
        {
            return Err(invalid());
        }
        let next = OpaqueToken::generate();
        let grace = &self.lifetimes.refresh_reuse_grace;
        let grace = (!grace.is_zero()).then(|| RefreshGrace {
            secret: next.secret.clone(),
            until: now.saturating_add(seconds(*grace)),
        });
        let client_id = client.id;
        let requested_check = requested.clone();
        let lifetimes = self.lifetimes.clone();
        let outcome = self
            .store
            .rotate_refresh_token(
                Rotation {
                    token_id: presented.id,
                    secret: presented.secret,
                    now,
                    next_id: next.id,
                    next_secret_hash: next.secret_hash(),
                    grace,
                },
                move |grant| {
                    if grant.client_id != client_id {
                        return Err(OAuthError::invalid_grant(
                            "the refresh token was issued to another client",
                        ));
                    }
                    resources::narrowed(&grant.resources, &resources_check)?;
                    if let Some(scope) = requested_check
                        .as_ref()
                        .filter(|scope| !scope.is_subset_of(&grant.scope))
                    {
                        // RFC 6749 §6: scope may narrow, never grow.
                        return Err(OAuthError::new(
                            ErrorCode::InvalidScope,
                            format!(
                                "the requested scope exceeds the scope originally granted: {} \
                                 was not granted",
                                scope.beyond(&grant.scope)
                            ),
                        ));
                    }
                    refresh_expiry(&lifetimes, grant.created_at, now).ok_or_else(|| {
                        OAuthError::invalid_grant(
                            "the grant has reached its maximum lifetime; authorize again",
                        )
                    })
                },
            )
            .await?;
        let Refreshed { grant, reissued } = accepted(outcome, "refresh token", client)?;
        // Within a reuse grace, a token already rotated is answered with the successor its
        // first use got: `next` was never written.
        let refresh = reissued.map_or(next, |successor| OpaqueToken {
            id: successor.id,
            secret: successor.secret,
        });
        let scope = requested.unwrap_or_else(|| grant.scope.clone());
        let audience = pick(&requested_resources, &grant.resources);
        let response = self.respond(client, &grant, scope, audience, now, Some(refresh))?;
        self.with_id_token(response, client, &grant, None, now)
    }

    fn api_key(&self, params: &Params, now: UnixTime) -> Result<TokenResponse, OAuthError> {
        let invalid = || OAuthError::invalid_grant("the API key is invalid, expired or deleted");
        let token = ApiKeyToken::parse(params.require("refresh_token")?).ok_or_else(invalid)?;
        let api_key = self.store.api_key(token.id)?.ok_or_else(invalid)?;
        if !api_key.secret_hash.matches(&token.secret) || !api_key.live(now) {
            return Err(invalid());
        }
        if self.store.user(api_key.user_id)?.is_none() {
            return Err(invalid());
        }
        let allowed = self.api_key_scope_now(&api_key.scope)?;
        let scope = requested_scope(params, &allowed, "the API key's scope")?;
        self.usage.record(api_key.id, now);
        self.issue(
            AccessClaims {
                principal: Principal::ApiKey(api_key.id),
                client_id: None,
                user_id: Some(api_key.user_id),
                scope,
                issued_at: now,
                // An access token never outlives the key it came from.
                expires_at: api_key.expires_at.map_or(u64::MAX, |expiry| expiry),
                token_id: Id::generate(crate::clock::now_millis()),
                audience: Vec::new(),
            },
            None,
            None,
        )
    }

    /// What of a key's scope it may still carry: the default scopes, and those the operator
    /// still allows for keys. A scope withdrawn since the key was made (`scope set` without
    /// `--api-keys`, or `scope delete`) no longer reaches its tokens.
    fn api_key_scope_now(&self, scope: &Scope) -> Result<Scope, OAuthError> {
        let default = Scope::parse(apikeys::DEFAULT_SCOPE).expect("the default scope parses");
        let mut kept = Vec::new();
        for token in scope.tokens() {
            let still = default.contains(token.as_str())
                || self
                    .store
                    .scope_settings(token.as_str())?
                    .is_some_and(|settings| settings.api_keys);
            if still {
                kept.push(token.as_str());
            }
        }
        Ok(Scope::parse(&kept.join(" ")).expect("tokens of a scope parse"))
    }

    fn client_credentials(
        &self,
        client: &Client,
        params: &Params,
        now: UnixTime,
    ) -> Result<TokenResponse, OAuthError> {
        if client.is_public() {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "a public client cannot use client_credentials",
            ));
        }
        Self::require_grant(client, GrantType::ClientCredentials)?;
        let scope = requested_scope(params, &client.scope, "what this client may request")?;
        let resources = self.resources.requested(client, params)?;
        let audience = resources::audience(client, &resources, &scope, self.id_tokens.issuer());
        self.issue(
            AccessClaims {
                principal: Principal::Client,
                client_id: Some(client.id),
                user_id: None,
                scope,
                issued_at: now,
                expires_at: u64::MAX,
                token_id: Id::generate(crate::clock::now_millis()),
                audience,
            },
            None,
            Some(client),
        )
    }

    fn respond(
        &self,
        client: &Client,
        grant: &Grant,
        scope: Scope,
        resources: &[ResourceUri],
        now: UnixTime,
        refresh: Option<OpaqueToken>,
    ) -> Result<TokenResponse, OAuthError> {
        let audience = resources::audience(client, resources, &scope, self.id_tokens.issuer());
        self.issue(
            AccessClaims {
                principal: Principal::Grant(grant.id),
                client_id: Some(grant.client_id),
                user_id: Some(grant.user_id),
                scope,
                issued_at: now,
                // Never past its grant, which the sweeper deletes then: with an access
                // lifetime longer than the refresh lifetime, `expires_in` stays true. Nor
                // past the grant's maximum lifetime (a grant made before that bound existed
                // may have slid beyond it).
                expires_at: grant
                    .expires_at
                    .min(grant_end(&self.lifetimes, grant.created_at)),
                token_id: Id::generate(crate::clock::now_millis()),
                audience,
            },
            refresh,
            Some(client),
        )
    }

    /// Seals an access token, or signs it for a client of the JWT format. `claims.expires_at`
    /// is a cap (the end of what the token stands on); the token lives `--access-token-ttl`
    /// or until the cap, whichever comes first.
    fn issue(
        &self,
        mut claims: AccessClaims,
        refresh: Option<OpaqueToken>,
        client: Option<&Client>,
    ) -> Result<TokenResponse, OAuthError> {
        let now = claims.issued_at;
        claims.expires_at = claims
            .expires_at
            .min(now + seconds(self.lifetimes.access_token));
        let access_token = match client {
            Some(client) if client.access_token_format == AccessTokenFormat::Jwt => {
                self.sign_access(client, &claims)?
            }
            _ => self.access.seal(&claims),
        };
        Ok(TokenResponse {
            access_token,
            expires_in: claims.expires_at - now,
            scope: claims.scope,
            refresh_token: refresh.map(|token| token.to_string()),
            id_token: None,
        })
    }

    /// RFC 9068, with the key of the client's signing algorithm (the one its ID tokens use).
    fn sign_access(&self, client: &Client, claims: &AccessClaims) -> Result<String, OAuthError> {
        let failed = |error: &dyn std::fmt::Display| {
            tracing::error!(%error, "an access token could not be signed");
            OAuthError::new(
                ErrorCode::ServerError,
                "the access token could not be signed",
            )
        };
        let keys = self
            .id_tokens
            .key_ring()
            .keys()
            .map_err(|error| failed(&error))?;
        let key = keys
            .active(client.id_token_alg)
            .ok_or_else(|| failed(&"no active key for the client's algorithm"))?;
        crate::oidc::access_jwt::sign(key, self.id_tokens.issuer(), &client.public_id(), claims)
            .map_err(|error| failed(&error))
    }

    /// The claims of an access token of ours in any format: sealed now, sealed before
    /// resource indicators, or a JWT. Not yet checked for expiry or revocation.
    pub(super) fn open_access(&self, token: &str) -> Option<AccessClaims> {
        if let Some(claims) = self.access.open::<AccessClaims>(token) {
            return Some(claims);
        }
        if token.contains('.') {
            let keys = self.id_tokens.key_ring().keys().ok()?;
            return crate::oidc::access_jwt::read(&keys, self.id_tokens.issuer(), token);
        }
        self.access_v1
            .open::<AccessClaimsV1>(token)
            .map(AccessClaims::from)
    }

    /// A live access token: sealed by us, unexpired, not revoked, and its grant, client and
    /// user all still there. Checked on every use, so revoking a grant, deleting a client or
    /// deleting a user ends its tokens at once. `None` for anything else.
    pub fn verify_access(
        &self,
        token: &str,
        now: UnixTime,
    ) -> Result<Option<ActiveToken>, OAuthError> {
        let Some(claims) = self.open_access(token) else {
            return Ok(None);
        };
        // The token's id carries the millisecond it was made at: a restore and a token of
        // the same second are told apart.
        if now >= claims.expires_at || claims.token_id.millis() < self.restored_at_millis {
            return Ok(None);
        }
        let (grant_id, api_key_id) = match claims.principal {
            Principal::Grant(id) => (Some(id), None),
            Principal::Client => (None, None),
            Principal::ApiKey(id) => (None, Some(id)),
        };
        let state =
            self.store
                .access_state(claims.token_id, grant_id, api_key_id, claims.user_id)?;
        let standing = !state.revoked
            && match claims.principal {
                Principal::Grant(_) => state
                    .grant
                    .is_some_and(|grant| Some(grant.client_id) == claims.client_id),
                Principal::Client => true,
                Principal::ApiKey(_) => state.api_key.is_some_and(|api_key| {
                    api_key.live(now) && Some(api_key.user_id) == claims.user_id
                }),
            };
        // A user token needs its user; a client token needs its client.
        let user = state.user;
        if !standing || (claims.user_id.is_some() && user.is_none()) {
            return Ok(None);
        }
        if let Some(client_id) = claims.client_id {
            if self.store.client(client_id)?.is_none() {
                return Ok(None);
            }
        }
        Ok(Some(ActiveToken { claims, user }))
    }
}

/// The resources a token is for: those the token request named (already checked against
/// the grant), else the grant's.
fn pick<'a>(requested: &'a [ResourceUri], granted: &'a [ResourceUri]) -> &'a [ResourceUri] {
    if requested.is_empty() {
        granted
    } else {
        requested
    }
}

fn invalid_scope(invalid: crate::model::Invalid) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidScope, invalid.0)
}

/// The `scope` parameter, or everything `allowed` when absent; never more than `allowed`
/// (RFC 6749 §3.3: the server may narrow, never widen).
fn requested_scope(params: &Params, allowed: &Scope, limit: &str) -> Result<Scope, OAuthError> {
    let scope = match params.get("scope")? {
        Some(text) => Scope::parse(text).map_err(invalid_scope)?,
        None => allowed.clone(),
    };
    if !scope.is_subset_of(allowed) {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!(
                "the requested scope exceeds {limit}: {} is not allowed",
                scope.beyond(allowed)
            ),
        ));
    }
    Ok(scope)
}

fn accepted<A>(
    outcome: Presented<OAuthError, A>,
    what: &'static str,
    client: &Client,
) -> Result<A, OAuthError> {
    if matches!(outcome, Presented::Replayed) {
        crate::audit!(
            "replay",
            token = what,
            client_id = %client.public_id(),
            outcome = "grant_ended"
        );
    }
    match outcome {
        Presented::Accepted(grant) => Ok(grant),
        Presented::Unknown => Err(OAuthError::invalid_grant(format!("the {what} is invalid"))),
        Presented::Expired => Err(OAuthError::invalid_grant(format!("the {what} has expired"))),
        Presented::Replayed => Err(OAuthError::invalid_grant(format!(
            "the {what} was already used; everything issued from it has been revoked"
        ))),
        Presented::Revoked => Err(OAuthError::invalid_grant(format!("the {what} was revoked"))),
        Presented::Rejected(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        AccessTokenFormat, ClientId, DisplayName, RedirectUri, SecretHash, SigningAlg, User,
        UserId, Username,
    };
    use crate::store::{CodeGrant, KeyLocation, NewCode, OpenOptions};

    const DAY: u64 = 86_400;
    const REDIRECT: &str = "https://app.example/cb";

    fn lifetimes(max_days: u64) -> Lifetimes {
        Lifetimes {
            code: Duration::from_secs(600),
            access_token: Duration::from_secs(3600),
            refresh_token: Duration::from_secs(7 * DAY),
            refresh_token_max_lifetime: Duration::from_secs(max_days * DAY),
            refresh_reuse_grace: Duration::ZERO,
        }
    }

    #[test]
    fn a_refresh_token_never_outlives_its_grants_maximum_lifetime() {
        let ten = lifetimes(10);
        assert_eq!(refresh_expiry(&ten, 0, 0), Some(7 * DAY));
        assert_eq!(refresh_expiry(&ten, 0, 5 * DAY), Some(10 * DAY));
        assert_eq!(refresh_expiry(&ten, 0, 10 * DAY - 1), Some(10 * DAY));
        assert_eq!(refresh_expiry(&ten, 0, 10 * DAY), None);
        assert_eq!(refresh_expiry(&ten, 0, 11 * DAY), None);
        // Shorter than a refresh token's own lifetime: the maximum wins from the start.
        let one = lifetimes(1);
        assert_eq!(refresh_expiry(&one, 100, 100), Some(100 + DAY));
        assert_eq!(grant_end(&one, u64::MAX - 1), u64::MAX);
    }

    /// A grant refreshed every day, at injected times: every token it hands out ends by
    /// its maximum lifetime, and the first refresh at or past it is refused.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_grant_refreshed_every_day_ends_at_its_maximum_lifetime() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&OpenOptions {
            data_dir: dir.path().to_path_buf(),
            key: KeyLocation::Default(dir.path().join("master.key")),
        })
        .unwrap();
        let user_id = UserId(Id::generate(1));
        store
            .insert_user(User {
                id: user_id,
                username: Username::parse("alice").unwrap(),
                email: None,
                name: None,
                password_hash: "not used".into(),
                created_at: 0,
                email_verified: false,
                updated_at: 0,
                developer: false,
            })
            .await
            .unwrap();
        let client_secret = crate::model::random_secret();
        let client = Client {
            id: ClientId(Id::generate(1)),
            name: DisplayName::parse("name", "App").unwrap(),
            redirect_uris: vec![RedirectUri::parse(REDIRECT).unwrap()],
            scope: Scope::parse("openid").unwrap(),
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            secret_hash: Some(SecretHash::of(&client_secret)),
            created_at: 0,
            id_token_alg: SigningAlg::default(),
            post_logout_redirect_uris: Vec::new(),
            access_token_format: AccessTokenFormat::default(),
            resources: Vec::new(),
            id_token_claims: false,
            origin: crate::model::ClientOrigin::Operator,
            homepage: None,
            privacy_policy: None,
            verified: false,
            previous_secret: None,
            registration_token_hash: None,
            document: None,
        };
        let client_id = client.id;
        store.insert_client(client).await.unwrap();
        let start: UnixTime = 1_000_000;
        let code = OpaqueToken::generate();
        store
            .issue_code(NewCode {
                id: code.id,
                secret_hash: code.secret_hash(),
                grant: CodeGrant {
                    client_id,
                    user_id,
                    redirect_uri: REDIRECT.into(),
                    redirect_uri_sent: true,
                    scope: Scope::parse("openid").unwrap(),
                    code_challenge: None,
                    nonce: None,
                    auth_time: start,
                    resources: Vec::new(),
                    sid: None,
                },
                expires_at: start + 600,
                remember_consent: false,
                ticket: None,
            })
            .await
            .unwrap();

        let keys = Arc::new(
            crate::oidc::keyring::KeyRing::open(store.clone(), start, start * 1000)
                .await
                .unwrap(),
        );
        let service = TokenService::new(
            store.clone(),
            lifetimes(10),
            Arc::default(),
            IdTokens::new(keys, "https://auth.example".into(), 600),
        );
        let basic = {
            use base64::Engine;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{client_id}:{client_secret}"))
            )
        };
        let form = |pairs: &[(&str, &str)]| {
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish();
            Params::parse(body.as_bytes()).unwrap()
        };
        let end = start + 10 * DAY;
        let first = service
            .token(
                Some(&basic),
                form(&[
                    ("grant_type", "authorization_code"),
                    ("code", &code.to_string()),
                    ("redirect_uri", REDIRECT),
                ]),
                start,
                false,
            )
            .await
            .unwrap();
        assert_eq!(first.expires_in, 3600);
        let mut refresh = first.refresh_token.unwrap();

        let grant_expiry = || {
            let grants = store.grants_of_user(user_id).unwrap();
            assert_eq!(grants.len(), 1);
            grants[0].expires_at
        };
        assert_eq!(grant_expiry(), start + 7 * DAY);
        for day in 1..10 {
            let now = start + day * DAY;
            let rotated = service
                .token(
                    Some(&basic),
                    form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)]),
                    now,
                    false,
                )
                .await
                .unwrap_or_else(|error| panic!("day {day}: {error:?}"));
            assert!(now + rotated.expires_in <= end, "day {day}");
            assert!(
                grant_expiry() <= end,
                "day {day}: the grant slid past its end"
            );
            let presented = OpaqueToken::parse(rotated.refresh_token.as_deref().unwrap()).unwrap();
            let (_, refresh_expires_at) = store
                .refresh_token_grant(presented.id, &presented.secret, now)
                .unwrap()
                .unwrap();
            assert_eq!(refresh_expires_at, (now + 7 * DAY).min(end), "day {day}");
            refresh = rotated.refresh_token.unwrap();
        }
        assert_eq!(grant_expiry(), end);
        // A minute before the end, the access token lives that minute and no longer.
        let late = service
            .token(
                Some(&basic),
                form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)]),
                end - 60,
                false,
            )
            .await
            .unwrap();
        assert_eq!(late.expires_in, 60);
        let refused = service
            .token(
                Some(&basic),
                form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", late.refresh_token.as_deref().unwrap()),
                ]),
                end,
                false,
            )
            .await
            .unwrap_err();
        assert_eq!(refused.error.code, ErrorCode::InvalidGrant);
    }
}
