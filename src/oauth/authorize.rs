//! The authorization endpoint (RFC 6749 §4.1.1–§4.1.2, RFC 7636 §4.3, RFC 9700 §4.1,
//! RFC 9207): request validation, then `Authorizer::authorize`, which decides what the
//! browser sees next (an error page, sign-in, the consent page, or the redirect back to the
//! client) and issues the code.
//!
//! The order matters: until the client and its redirect URI are known good, an error is
//! shown to the user and never redirected, or the endpoint would be an open redirector.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::consent::{needs_consent, ConsentTicket, TICKET_TTL_SECONDS};
use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use super::pkce::CodeChallenge;
use super::resources::ResourcePolicy;
use super::tokens::OpaqueToken;
use crate::model::{
    Client, ClientId, GrantType, Id, RedirectUri, ResourceUri, Scope, SecretHash, UnixTime, User,
};
use crate::oidc::hint;
use crate::oidc::keyring::KeyRing;
use crate::oidc::request::{after_sign_in, OidcRequest};
use crate::seal::SealedBox;
use crate::store::{
    CodeGrant, CodeNotIssued, NewCode, Session, Store, StoreError, TicketNotConsumed,
};

/// The longest `return_to` the sign-in page carries; longer requests are refused up front.
pub const MAX_RETURN_TO: usize = 8192;

/// The longest `state` or `nonce` we carry back; they are echoed into URLs.
const MAX_ECHOED_LEN: usize = 1024;

/// A validated authorization request.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub client_id: ClientId,
    /// Where to send the user back: the URI the client sent, or the only one registered.
    pub redirect_uri: String,
    /// Whether the client sent `redirect_uri`; then the token request must repeat it
    /// (RFC 6749 §4.1.3).
    pub redirect_uri_sent: bool,
    pub scope: Scope,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    /// `prompt`, `max_age`, `login_hint`, `id_token_hint` (OpenID Connect).
    pub oidc: OidcRequest,
    /// RFC 8707: the resources the tokens are for (checked by `Authorizer`, which knows the
    /// resources open to every client).
    pub resources: Vec<ResourceUri>,
}

/// Why a request was refused, and where the answer goes.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthorizeError {
    /// The client or its redirect URI cannot be trusted: tell the user, never redirect.
    ShowToUser(String),
    /// The client is known and the redirect URI is registered: send the error there.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: OAuthError,
    },
}

/// Step one: the client, as named by `client_id`. The caller loads it from the store.
pub fn client_id(params: &Params) -> Result<ClientId, AuthorizeError> {
    let show = |error: OAuthError| AuthorizeError::ShowToUser(error.description().to_owned());
    let text = params.require("client_id").map_err(show)?;
    ClientId::parse_presented(text).map_err(|_| {
        AuthorizeError::ShowToUser("The application that sent you here is not registered.".into())
    })
}

/// Step two: everything else, given the client the store found (or `None`).
pub fn validate(
    params: &Params,
    client: Option<&Client>,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let show = |message: &str| AuthorizeError::ShowToUser(message.to_owned());
    let client =
        client.ok_or_else(|| show("The application that sent you here is not registered."))?;
    let sent = params
        .get("redirect_uri")
        .map_err(|_| show("The request names its redirect URI more than once."))?;
    let redirect_uri = match sent {
        Some(sent) => match_registered(&client.redirect_uris, sent)
            .ok_or_else(|| show("The application asked to send you to an address it has not registered."))?,
        // OpenID Connect Core §3.1.2.1: an OpenID request must name its redirect URI.
        None if params
            .get("scope")
            .ok()
            .flatten()
            .is_some_and(|scope| scope.split(' ').any(|token| token == "openid")) =>
        {
            return Err(show(
                "The application did not say where to send you back (redirect_uri), which an OpenID Connect request must.",
            ))
        }
        None => match client.redirect_uris.as_slice() {
            [only] => only.as_str().to_owned(),
            [] => return Err(show("The application has no registered redirect URI.")),
            _ => {
                return Err(show(
                    "The application did not say where to send you back, and it has several addresses registered.",
                ))
            }
        },
    };

    // From here on the redirect URI is trusted. `state` is echoed even on errors, so read
    // it first; a repeated `state` cannot be echoed, so it is dropped from that answer.
    let state = params.get("state").ok().flatten().map(str::to_owned);
    let redirect = |error: OAuthError| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        error,
    };
    params.reject_duplicates().map_err(redirect)?;
    if state
        .as_ref()
        .is_some_and(|state| state.len() > MAX_ECHOED_LEN)
    {
        return Err(redirect(OAuthError::invalid_request("state is too long")));
    }
    match params.get("response_type").map_err(redirect)? {
        Some("code") => {}
        Some(_) => {
            return Err(redirect(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            )))
        }
        None => {
            return Err(redirect(OAuthError::invalid_request(
                "response_type is missing",
            )))
        }
    }
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(redirect(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use the authorization code grant",
        )));
    }
    let scope = match params.get("scope").map_err(redirect)? {
        Some(text) => Scope::parse(text)
            .map_err(|invalid| redirect(OAuthError::new(ErrorCode::InvalidScope, invalid.0)))?,
        // Without a scope this is a plain OAuth 2.0 request: the client's scopes, but not
        // `openid`, which only a request that asks for it makes an OpenID Connect one (Core
        // §3.1.2.1), with the rules that come with it (a named redirect_uri, an ID token).
        None => client.scope.without("openid"),
    };
    // OpenID Connect Core §11: `offline_access` asks for a refresh token, which a client
    // with the refresh_token grant gets anyway; it is accepted for such a client, and
    // changes nothing else.
    let refused: Vec<&str> = scope
        .tokens()
        .iter()
        .map(|token| token.as_str())
        .filter(|token| {
            let offline =
                *token == "offline_access" && client.allows_grant(GrantType::RefreshToken);
            !(client.scope.contains(token) || offline)
        })
        .collect();
    if !refused.is_empty() {
        return Err(redirect(OAuthError::new(
            ErrorCode::InvalidScope,
            format!(
                "this client may not request the scope {}",
                refused.join(" ")
            ),
        )));
    }
    let code_challenge = match params.get("code_challenge").map_err(redirect)? {
        Some(challenge) => Some(
            CodeChallenge::parse(
                challenge,
                params.get("code_challenge_method").map_err(redirect)?,
            )
            .map_err(redirect)?,
        ),
        None if params.contains("code_challenge_method") => {
            return Err(redirect(OAuthError::invalid_request(
                "code_challenge_method was sent without code_challenge",
            )))
        }
        None if client.is_public() => {
            return Err(redirect(OAuthError::invalid_request(
                "PKCE is required: send code_challenge and code_challenge_method=S256",
            )))
        }
        None => None,
    };
    let nonce = params.get("nonce").map_err(redirect)?;
    if nonce.is_some_and(|nonce| nonce.len() > MAX_ECHOED_LEN) {
        return Err(redirect(OAuthError::invalid_request("nonce is too long")));
    }
    let oidc = OidcRequest::parse(params).map_err(redirect)?;
    Ok(AuthorizationRequest {
        client_id: client.id,
        redirect_uri,
        redirect_uri_sent: sent.is_some(),
        scope,
        state,
        code_challenge: code_challenge.map(|challenge| challenge.as_str().to_owned()),
        nonce: nonce.map(str::to_owned),
        oidc,
        resources: Vec::new(),
    })
}

/// What the browser sees next, decided by `Authorizer`.
pub enum AuthorizeOutcome {
    /// Show the user an error page; never redirect (the client or its redirect URI cannot
    /// be trusted, or the request cannot be carried through sign-in).
    Refused(PageError),
    /// Send the browser to the client: a code, or an error for it (RFC 6749 §4.1.2).
    Redirect(String),
    /// Sign in first, then continue at `return_to` (a path on this server); `login_hint`
    /// prefills the username.
    SignIn {
        return_to: String,
        login_hint: Option<String>,
    },
    /// Ask the user. `ticket` is the sealed consent ticket the form carries back.
    Consent(Box<ConsentPrompt>),
}

/// What the consent page shows, and the ticket its form posts back.
pub struct ConsentPrompt {
    pub ticket: String,
    pub client: Arc<Client>,
    pub user: User,
    pub request: AuthorizationRequest,
}

/// Errors shown to the user as a page. Each says in words what happened; the HTTP layer
/// decides the status from the variant alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageError {
    /// The authorization request itself is unusable (unknown client, unregistered redirect
    /// URI, malformed or oversized): nothing can be sent back to the app.
    BadRequest(String),
    /// A consent form arrived, but its session is gone.
    NotSignedIn,
    /// A consent form whose ticket does not open, is for another session, or expired.
    TicketInvalid,
    /// The consent form was already answered.
    AlreadyAnswered,
    /// The app was deleted while the user looked at its consent page.
    ClientGone,
    /// The consent form carried neither allow nor deny.
    NoDecision,
}

impl PageError {
    pub fn title(&self) -> &'static str {
        match self {
            PageError::BadRequest(_) => "This sign-in link is not valid",
            PageError::AlreadyAnswered => "This request was already answered",
            _ => "This approval could not be used",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            PageError::BadRequest(message) => message,
            PageError::NotSignedIn => {
                "You are no longer signed in. Go back to the application and start again."
            }
            PageError::TicketInvalid => {
                "This approval form is invalid or has expired. Go back to the application and start again."
            }
            PageError::AlreadyAnswered => {
                "You already answered this request. Go back to the application and start again if you need to."
            }
            PageError::ClientGone => "The application is no longer registered.",
            PageError::NoDecision => "Choose Allow or Deny.",
        }
    }
}

/// The consent form's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
}

impl Decision {
    pub fn parse(text: Option<&str>) -> Option<Decision> {
        match text? {
            "allow" => Some(Decision::Allow),
            "deny" => Some(Decision::Deny),
            _ => None,
        }
    }
}

/// The browser side of the code flow. Built once at startup.
pub struct Authorizer {
    store: Store,
    tickets: SealedBox,
    issuer: String,
    code_ttl: u64,
    /// For reading an `id_token_hint` back.
    keys: Arc<KeyRing>,
    resources: ResourcePolicy,
}

impl Authorizer {
    /// The name of the app a sign-in continues to: `return_to` is the authorization
    /// request the sign-in page was sent from (a path on this server, already checked by
    /// the page), and its `client_id` names a registered client. Anything else (the
    /// account page, a malformed or repeated `client_id`, an unknown client) names no app.
    pub fn app_name_for_sign_in(&self, return_to: &str) -> Result<Option<String>, StoreError> {
        let Some(query) = return_to.strip_prefix("/oauth2/authorize?") else {
            return Ok(None);
        };
        let Ok(params) = Params::parse(query.as_bytes()) else {
            return Ok(None);
        };
        let Ok(client_id) = client_id(&params) else {
            return Ok(None);
        };
        // A name a metadata document gave is only its claim: the host that vouches for it
        // comes with it.
        Ok(self
            .store
            .client(client_id)?
            .map(|client| match &client.document {
                Some(url) => format!("{} ({})", client.name.as_str(), url.host()),
                None => client.name.as_str().to_owned(),
            }))
    }

    pub fn new(
        store: Store,
        issuer: String,
        code_ttl_seconds: u64,
        keys: Arc<KeyRing>,
    ) -> Authorizer {
        Authorizer {
            keys,
            resources: ResourcePolicy::default(),
            tickets: SealedBox::new(
                store.derived_key("consent ticket v1"),
                "keyward consent ticket v1",
            ),
            store,
            issuer,
            code_ttl: code_ttl_seconds,
        }
    }

    /// With `serve --resource`: resources every client may ask for.
    pub fn with_resources(mut self, resources: ResourcePolicy) -> Authorizer {
        self.resources = resources;
        self
    }

    /// An authorization request, from a browser carrying `session` (the hash of its session
    /// cookie, if any). `raw_query` is the request as it arrived, to come back to after
    /// sign-in.
    pub async fn authorize(
        &self,
        params: &Params,
        raw_query: &str,
        session: Option<SecretHash>,
        now: UnixTime,
        now_millis: u64,
    ) -> Result<AuthorizeOutcome, StoreError> {
        let client = match client_id(params) {
            Ok(id) => self.store.client(id)?,
            Err(error) => return Ok(self.refuse(error)),
        };
        let mut request = match validate(params, client.as_deref()) {
            Ok(request) => request,
            Err(error) => return Ok(self.refuse(error)),
        };
        let client = client.expect("validate refuses a missing client");
        request.resources = match self.resources.requested(&client, params) {
            Ok(resources) => resources,
            Err(error) => {
                return Ok(AuthorizeOutcome::Redirect(self.error_redirect(
                    &request.redirect_uri,
                    request.state.as_deref(),
                    &error,
                )))
            }
        };
        let hinted = match self.hinted_user(&request) {
            Ok(hinted) => hinted,
            Err(error) => {
                return Ok(AuthorizeOutcome::Redirect(self.error_redirect(
                    &request.redirect_uri,
                    request.state.as_deref(),
                    &error,
                )))
            }
        };
        let oidc = &request.oidc;
        // A session whose sign-in is too old for `max_age`, or `prompt=login`, is as good
        // as none for this request (OpenID Connect Core §3.1.2.3); so is a session of
        // another user than the one `id_token_hint` names.
        let signed_in = self.signed_in(session, now)?.filter(|(_, session, user)| {
            !oidc.needs_fresh_sign_in(session.auth_time, now)
                && hinted
                    .as_ref()
                    .is_none_or(|hinted| hinted.as_ref().map(|hinted| hinted.id) == Some(user.id))
        });
        let Some((session_hash, session, user)) = signed_in else {
            if oidc.prompt_none {
                return Ok(self.interaction_error(&request, ErrorCode::LoginRequired));
            }
            // The sign-in about to happen honours prompt=login, max_age and the hint; the
            // request it comes back to must not ask for another.
            let return_to = format!("/oauth2/authorize?{}", after_sign_in(raw_query));
            if return_to.len() > MAX_RETURN_TO {
                return Ok(AuthorizeOutcome::Refused(PageError::BadRequest(
                    "The request is too long.".into(),
                )));
            }
            let login_hint = oidc.login_hint.clone().or_else(|| {
                hinted
                    .flatten()
                    .map(|user| user.username.as_str().to_owned())
            });
            return Ok(AuthorizeOutcome::SignIn {
                return_to,
                login_hint,
            });
        };
        let remembered = self.store.remembered_consent(user.id, client.id)?;
        let ask =
            oidc.prompt_consent || needs_consent(&client, remembered.as_ref(), &request.scope);
        if !ask {
            return self
                .issue_code(&request, &client, (&session_hash, &session), None, now)
                .await;
        }
        if oidc.prompt_none {
            return Ok(self.interaction_error(&request, ErrorCode::ConsentRequired));
        }
        let ticket = ConsentTicket {
            id: Id::generate(now_millis),
            request: request.clone(),
            user_id: user.id,
            session: *session_hash.as_bytes(),
            expires_at: now + TICKET_TTL_SECONDS,
        };
        Ok(AuthorizeOutcome::Consent(Box::new(ConsentPrompt {
            ticket: self.tickets.seal(&ticket),
            client,
            user,
            request,
        })))
    }

    /// The user's answer on a consent page: `sealed_ticket` is the form's ticket, checked
    /// against the session it was shown in, its expiry, and its single use.
    pub async fn decide(
        &self,
        sealed_ticket: Option<&str>,
        decision: Option<&str>,
        session: Option<SecretHash>,
        now: UnixTime,
    ) -> Result<AuthorizeOutcome, StoreError> {
        let refused = |error| Ok(AuthorizeOutcome::Refused(error));
        let Some((session_hash, session, _user)) = self.signed_in(session, now)? else {
            return refused(PageError::NotSignedIn);
        };
        let ticket = sealed_ticket
            .and_then(|sealed| self.tickets.open::<ConsentTicket>(sealed))
            .filter(|ticket| ticket.answers(&session_hash, session.user_id, now));
        let Some(ticket) = ticket else {
            return refused(PageError::TicketInvalid);
        };
        let Some(client) = self.store.client(ticket.request.client_id)? else {
            return refused(PageError::ClientGone);
        };
        match Decision::parse(decision) {
            Some(Decision::Allow) => {
                crate::audit!(
                    "consent_given",
                    user_id = %session.user_id,
                    client_id = %client.public_id(),
                    scope = %ticket.request.scope
                );
                self.issue_code(
                    &ticket.request,
                    &client,
                    (&session_hash, &session),
                    Some((ticket.id, ticket.expires_at)),
                    now,
                )
                .await
            }
            Some(Decision::Deny) => match self
                .store
                .consume_ticket(ticket.id, ticket.expires_at)
                .await
            {
                Ok(()) => {
                    crate::audit!(
                        "consent_denied",
                        user_id = %session.user_id,
                        client_id = %client.public_id()
                    );
                    let error =
                        OAuthError::new(ErrorCode::AccessDenied, "the user denied the request");
                    Ok(AuthorizeOutcome::Redirect(self.error_redirect(
                        &ticket.request.redirect_uri,
                        ticket.request.state.as_deref(),
                        &error,
                    )))
                }
                Err(TicketNotConsumed::AlreadyUsed) => refused(PageError::AlreadyAnswered),
                Err(TicketNotConsumed::Storage(error)) => Err(error),
            },
            None => refused(PageError::NoDecision),
        }
    }

    /// The user an `id_token_hint` names, if the request has one. A hint that is not an ID
    /// token of ours issued to this client is an error for the client. `Some(None)`: the
    /// hint names a user since deleted, whom no session can match.
    fn hinted_user(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<Option<Option<User>>, OAuthError> {
        let Some(token) = &request.oidc.id_token_hint else {
            return Ok(None);
        };
        let keys = self.keys.keys().map_err(|error| {
            tracing::error!(%error, "signing keys unavailable");
            OAuthError::unavailable()
        })?;
        let hint = hint::read(&keys, &self.issuer, token)
            .map_err(|rejected| OAuthError::invalid_request(rejected.to_string()))?;
        // The hint's audience as the client knows itself: a hex id or a document's URL.
        let audience = hint
            .client()
            .and_then(|client| ClientId::parse_presented(client).ok());
        if audience != Some(request.client_id) {
            return Err(OAuthError::invalid_request(
                "id_token_hint was issued to another application",
            ));
        }
        let user = match crate::model::UserId::parse(&hint.sub) {
            Ok(id) => self.store.user(id).map_err(|error| {
                tracing::error!(%error, "a user could not be read");
                OAuthError::unavailable()
            })?,
            Err(_) => None,
        };
        Ok(Some(user))
    }

    /// The live session for a cookie hash, and its user; `None` when there is no session or
    /// its user is gone.
    fn signed_in(
        &self,
        session: Option<SecretHash>,
        now: UnixTime,
    ) -> Result<Option<(SecretHash, Session, User)>, StoreError> {
        let Some(hash) = session else {
            return Ok(None);
        };
        let Some(session) = self.store.session(&hash, now)? else {
            return Ok(None);
        };
        Ok(self
            .store
            .user(session.user_id)?
            .map(|user| (hash, session, user)))
    }

    /// Stores a code durably, then sends the browser back to the client with it.
    async fn issue_code(
        &self,
        request: &AuthorizationRequest,
        client: &Client,
        (session_hash, session): (&SecretHash, &Session),
        ticket: Option<(Id, UnixTime)>,
        now: UnixTime,
    ) -> Result<AuthorizeOutcome, StoreError> {
        let code = OpaqueToken::generate();
        let new_code = NewCode {
            id: code.id,
            secret_hash: code.secret_hash(),
            grant: CodeGrant {
                client_id: client.id,
                user_id: session.user_id,
                redirect_uri: request.redirect_uri.clone(),
                redirect_uri_sent: request.redirect_uri_sent,
                scope: request.scope.clone(),
                code_challenge: request.code_challenge.clone(),
                nonce: request.nonce.clone(),
                auth_time: session.auth_time,
                resources: request.resources.clone(),
                sid: Some(crate::oidc::idtoken::session_id(session_hash.as_bytes())),
            },
            expires_at: now + self.code_ttl,
            // Only an answer on the consent page is remembered; a code issued because consent
            // was already remembered leaves it as it is.
            remember_consent: !client.is_public() && ticket.is_some(),
            ticket,
        };
        match self.store.issue_code(new_code).await {
            Ok(()) => {}
            Err(CodeNotIssued::TicketUsed) => {
                return Ok(AuthorizeOutcome::Refused(PageError::AlreadyAnswered))
            }
            Err(CodeNotIssued::Storage(error)) => return Err(error),
        }
        let code = code.to_string();
        let mut pairs = vec![("code", code.as_str())];
        if let Some(client_state) = request.state.as_deref() {
            pairs.push(("state", client_state));
        }
        pairs.push(("iss", self.issuer.as_str()));
        Ok(AuthorizeOutcome::Redirect(redirect_with(
            &request.redirect_uri,
            &pairs,
        )))
    }

    /// `prompt=none` met something only a page could settle: the error goes to the client.
    fn interaction_error(
        &self,
        request: &AuthorizationRequest,
        code: ErrorCode,
    ) -> AuthorizeOutcome {
        let description = match code {
            ErrorCode::LoginRequired => "the user must sign in, and prompt=none was asked for",
            ErrorCode::ConsentRequired => "the user must approve, and prompt=none was asked for",
            _ => "the user must interact, and prompt=none was asked for",
        };
        AuthorizeOutcome::Redirect(self.error_redirect(
            &request.redirect_uri,
            request.state.as_deref(),
            &OAuthError::new(code, description),
        ))
    }

    fn refuse(&self, error: AuthorizeError) -> AuthorizeOutcome {
        match error {
            AuthorizeError::ShowToUser(message) => {
                AuthorizeOutcome::Refused(PageError::BadRequest(message))
            }
            AuthorizeError::Redirect {
                redirect_uri,
                state,
                error,
            } => AuthorizeOutcome::Redirect(self.error_redirect(
                &redirect_uri,
                state.as_deref(),
                &error,
            )),
        }
    }

    /// RFC 6749 §4.1.2.1 with RFC 9207's `iss`.
    fn error_redirect(
        &self,
        redirect_uri: &str,
        client_state: Option<&str>,
        error: &OAuthError,
    ) -> String {
        let mut pairs = vec![
            ("error", error.code.as_str()),
            ("error_description", error.description()),
        ];
        if let Some(client_state) = client_state {
            pairs.push(("state", client_state));
        }
        pairs.push(("iss", self.issuer.as_str()));
        redirect_with(redirect_uri, &pairs)
    }
}

/// Exact string match against the registered URIs, except that a loopback `http` URI may
/// differ in port alone (RFC 8252 §7.3). Returns the URI to redirect to: the one sent.
pub fn match_registered(registered: &[RedirectUri], sent: &str) -> Option<String> {
    if registered.iter().any(|uri| uri.as_str() == sent) {
        return Some(sent.to_owned());
    }
    let without_port = |text: &str| -> Option<String> {
        let mut parsed = url::Url::parse(text).ok()?;
        // Only a URI already in canonical form can match: no case or encoding games.
        if parsed.as_str() != text || parsed.scheme() != "http" {
            return None;
        }
        let loopback = match parsed.host()? {
            url::Host::Ipv4(ip) => ip.is_loopback(),
            url::Host::Ipv6(ip) => ip.is_loopback(),
            url::Host::Domain(_) => false,
        };
        if !loopback {
            return None;
        }
        parsed.set_port(None).ok()?;
        Some(parsed.into())
    };
    let sent_without_port = without_port(sent)?;
    registered
        .iter()
        .any(|uri| without_port(uri.as_str()).as_deref() == Some(sent_without_port.as_str()))
        .then(|| sent.to_owned())
}

/// Builds the redirect back to the client: the registered URI with the response
/// parameters added to its query (RFC 6749 §4.1.2), always with `iss` (RFC 9207).
pub fn redirect_with(redirect_uri: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (name, value) in pairs {
                    query.append_pair(name, value);
                }
            }
            url.into()
        }
        // Registered URIs were parsed at registration; this cannot happen, but a broken
        // record must not become a redirect somewhere else.
        Err(_) => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uris(list: &[&str]) -> Vec<RedirectUri> {
        list.iter()
            .map(|uri| RedirectUri::parse(uri).unwrap())
            .collect()
    }

    #[test]
    fn redirect_uri_matching() {
        let registered = uris(&["https://app.example.com/cb", "http://127.0.0.1:8000/cb"]);
        let check = |sent: &str| match_registered(&registered, sent).is_some();
        assert!(check("https://app.example.com/cb"));
        assert!(check("http://127.0.0.1:8000/cb"));
        assert!(check("http://127.0.0.1:51234/cb"));
        assert!(check("http://127.0.0.1/cb"));
        for refused in [
            "https://app.example.com/cb/",
            "https://APP.example.com/cb",
            "https://app.example.com/CB",
            "https://app.example.com/cb?x=1",
            "https://app.example.com/cb#f",
            "https://app.example.com/a/../cb",
            "https://user@app.example.com/cb",
            "https://app.example.com:8443/cb",
            "http://app.example.com/cb",
            "http://127.0.0.1:8000/cb/",
            "http://127.0.0.2:8000/cb",
            "http://localhost:8000/cb",
            "http://127.0.0.1:8000/%63b",
        ] {
            assert!(!check(refused), "{refused} must not match");
        }
    }

    #[test]
    fn redirect_keeps_registered_query() {
        assert_eq!(
            redirect_with(
                "https://a.example/cb?x=1",
                &[("code", "c d"), ("iss", "https://i")]
            ),
            "https://a.example/cb?x=1&code=c+d&iss=https%3A%2F%2Fi"
        );
    }
}
