//! The authorization endpoint and the consent decision (RFC 6749 §4.1.1–§4.1.2).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::forms;
use super::pages::{html, see_other};
use super::AppState;
use crate::clock;
use crate::model::{Client, Id, SecretHash, UnixTime};
use crate::oauth::authorize::{self, AuthorizationRequest, AuthorizeError};
use crate::oauth::consent::{needs_consent, ConsentTicket, TICKET_TTL_SECONDS};
use crate::oauth::tokens::OpaqueToken;
use crate::oauth::{ErrorCode, OAuthError, Params};
use crate::store::{CodeGrant, NewCode, Session, TicketUsed};
use crate::ui::{ConsentView, ScopeView};

const BAD_LINK: &str = "This sign-in link is not valid";

pub async fn get(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let raw = request.query_string().to_owned();
    match forms::query(&request) {
        Ok(params) => authorize(&state, &request, params, &raw).await,
        Err(error) => state.error_page(StatusCode::BAD_REQUEST, BAD_LINK, error.description()),
    }
}

/// RFC 6749 §3.1: the endpoint must support GET and may support POST (form-encoded).
pub async fn post(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    match forms::form(&request, &body) {
        Ok(params) => {
            let raw = String::from_utf8_lossy(&body).into_owned();
            authorize(&state, &request, params, &raw).await
        }
        Err(error) => state.error_page(StatusCode::BAD_REQUEST, BAD_LINK, error.description()),
    }
}

async fn authorize(
    state: &AppState,
    request: &HttpRequest,
    params: Params,
    raw_query: &str,
) -> HttpResponse {
    let now = clock::now();
    let client = match authorize::client_id(&params) {
        Ok(id) => match state.store.client(id) {
            Ok(client) => client,
            Err(_) => return state.unavailable_page(),
        },
        Err(error) => return refuse(state, error),
    };
    let authorization = match authorize::validate(&params, client.as_deref()) {
        Ok(authorization) => authorization,
        Err(error) => return refuse(state, error),
    };
    let client = client.expect("validate refuses a missing client");
    let signed_in = match current_session(state, request, now) {
        Ok(signed_in) => signed_in,
        Err(()) => return state.unavailable_page(),
    };
    let Some((session_hash, session)) = signed_in else {
        let return_to = format!("/oauth2/authorize?{raw_query}");
        if return_to.len() > 8192 {
            return state.error_page(
                StatusCode::BAD_REQUEST,
                BAD_LINK,
                "The request is too long.",
            );
        }
        let location = format!(
            "/login?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("return_to", &return_to)
                .finish()
        );
        return see_other(&location).finish();
    };
    let user = match state.store.user(session.user_id) {
        Ok(Some(user)) => user,
        Ok(None) => return see_other("/login").finish(),
        Err(_) => return state.unavailable_page(),
    };
    let remembered = match state.store.remembered_consent(user.id, client.id) {
        Ok(remembered) => remembered,
        Err(_) => return state.unavailable_page(),
    };
    if !needs_consent(&client, remembered.as_ref(), &authorization.scope) {
        return issue_code(state, &authorization, &client, &session, None, now).await;
    }
    let ticket = ConsentTicket {
        id: Id::generate(clock::now_millis()),
        request: authorization.clone(),
        user_id: user.id,
        session: *session_hash.as_bytes(),
        expires_at: now + TICKET_TTL_SECONDS,
    };
    let (csrf_secret, new_cookie) = state.cookies.csrf_secret(request);
    let scopes = authorization
        .scope
        .tokens()
        .iter()
        .map(|token| ScopeView {
            name: token.as_str().to_owned(),
            description: state.scope_description(token.as_str()),
        })
        .collect();
    let body = state.pages.consent(&ConsentView {
        csrf_token: state.cookies.csrf_token(&csrf_secret),
        request: state.tickets.seal(&ticket),
        client_name: client.name.as_str().to_owned(),
        redirect_host: redirect_host(&authorization.redirect_uri),
        username: user.username.as_str().to_owned(),
        scopes,
        public_client: client.is_public(),
    });
    let mut response = html(StatusCode::OK, body);
    if let Some(cookie) = new_cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

/// POST /oauth2/consent: the user's answer to a consent page.
pub async fn decide(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    const TITLE: &str = "This approval could not be used";
    let now = clock::now();
    let params = match forms::form(&request, &body) {
        Ok(params) => params,
        Err(error) => return state.error_page(StatusCode::BAD_REQUEST, TITLE, error.description()),
    };
    if !state
        .cookies
        .csrf_valid(&request, params.get("csrf_token").ok().flatten())
    {
        return state.error_page(
            StatusCode::FORBIDDEN,
            TITLE,
            "The form expired or did not come from this site. Go back to the application and start again.",
        );
    }
    let signed_in = match current_session(state.get_ref(), &request, now) {
        Ok(signed_in) => signed_in,
        Err(()) => return state.unavailable_page(),
    };
    let Some((session_hash, session)) = signed_in else {
        return state.error_page(
            StatusCode::FORBIDDEN,
            TITLE,
            "You are no longer signed in. Go back to the application and start again.",
        );
    };
    let ticket = params
        .get("request")
        .ok()
        .flatten()
        .and_then(|sealed| state.tickets.open::<ConsentTicket>(sealed))
        .filter(|ticket| {
            ticket.session == *session_hash.as_bytes()
                && ticket.user_id == session.user_id
                && now < ticket.expires_at
        });
    let Some(ticket) = ticket else {
        return state.error_page(
            StatusCode::BAD_REQUEST,
            TITLE,
            "This approval form is invalid or has expired. Go back to the application and start again.",
        );
    };
    let client = match state.store.client(ticket.request.client_id) {
        Ok(Some(client)) => client,
        Ok(None) => {
            return state.error_page(
                StatusCode::BAD_REQUEST,
                TITLE,
                "The application is no longer registered.",
            )
        }
        Err(_) => return state.unavailable_page(),
    };
    match params.get("decision").ok().flatten() {
        Some("allow") => {
            issue_code(
                &state,
                &ticket.request,
                &client,
                &session,
                Some((ticket.id, ticket.expires_at)),
                now,
            )
            .await
        }
        Some("deny") => match state
            .store
            .consume_ticket(ticket.id, ticket.expires_at)
            .await
        {
            Ok(Ok(())) => {
                let error = OAuthError::new(ErrorCode::AccessDenied, "the user denied the request");
                see_other(&error_redirect(
                    state.get_ref(),
                    &ticket.request.redirect_uri,
                    ticket.request.state.as_deref(),
                    &error,
                ))
                .finish()
            }
            Ok(Err(TicketUsed)) => already_answered(&state),
            Err(_) => state.unavailable_page(),
        },
        _ => state.error_page(StatusCode::BAD_REQUEST, TITLE, "Choose Allow or Deny."),
    }
}

fn already_answered(state: &AppState) -> HttpResponse {
    state.error_page(
        StatusCode::BAD_REQUEST,
        "This request was already answered",
        "You already answered this request. Go back to the application and start again if you need to.",
    )
}

/// The signed-in session, if any; `Err` when storage failed, which must answer 503 rather
/// than look like "not signed in".
fn current_session(
    state: &AppState,
    request: &HttpRequest,
    now: UnixTime,
) -> Result<Option<(SecretHash, Session)>, ()> {
    let Some(hash) = state.cookies.session_hash(request) else {
        return Ok(None);
    };
    match state.store.session(&hash, now) {
        Ok(session) => Ok(session.map(|session| (hash, session))),
        Err(_) => Err(()),
    }
}

/// Stores a code durably, then sends the browser back to the client with it.
async fn issue_code(
    state: &AppState,
    authorization: &AuthorizationRequest,
    client: &Client,
    session: &Session,
    ticket: Option<(Id, UnixTime)>,
    now: UnixTime,
) -> HttpResponse {
    let code = OpaqueToken::generate();
    let new_code = NewCode {
        id: code.id,
        secret_hash: code.secret_hash(),
        grant: CodeGrant {
            client_id: client.id,
            user_id: session.user_id,
            redirect_uri: authorization.redirect_uri.clone(),
            redirect_uri_sent: authorization.redirect_uri_sent,
            scope: authorization.scope.clone(),
            code_challenge: authorization.code_challenge.clone(),
            nonce: authorization.nonce.clone(),
            auth_time: session.auth_time,
        },
        expires_at: now + state.lifetimes.code.as_secs(),
        // Only an answer on the consent page is remembered; a code issued because consent
        // was already remembered leaves it as it is.
        remember_consent: !client.is_public() && ticket.is_some(),
        ticket,
    };
    match state.store.issue_code(new_code).await {
        Ok(Ok(())) => {
            let code = code.to_string();
            let mut pairs = vec![("code", code.as_str())];
            if let Some(client_state) = authorization.state.as_deref() {
                pairs.push(("state", client_state));
            }
            pairs.push(("iss", state.issuer.as_str()));
            see_other(&authorize::redirect_with(
                &authorization.redirect_uri,
                &pairs,
            ))
            .finish()
        }
        Ok(Err(TicketUsed)) => already_answered(state),
        Err(_) => state.unavailable_page(),
    }
}

fn refuse(state: &AppState, error: AuthorizeError) -> HttpResponse {
    match error {
        AuthorizeError::ShowToUser(message) => {
            state.error_page(StatusCode::BAD_REQUEST, BAD_LINK, &message)
        }
        AuthorizeError::Redirect {
            redirect_uri,
            state: client_state,
            error,
        } => see_other(&error_redirect(
            state,
            &redirect_uri,
            client_state.as_deref(),
            &error,
        ))
        .finish(),
    }
}

/// RFC 6749 §4.1.2.1 with RFC 9207's `iss`.
fn error_redirect(
    state: &AppState,
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
    pairs.push(("iss", state.issuer.as_str()));
    authorize::redirect_with(redirect_uri, &pairs)
}

/// The host the user will be sent to, shown on the consent page; for a private-use scheme,
/// the scheme itself.
fn redirect_host(redirect_uri: &str) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(url) => match url.host_str() {
            Some(host) => host.to_owned(),
            None => format!("{}:", url.scheme()),
        },
        Err(_) => redirect_uri.to_owned(),
    }
}
