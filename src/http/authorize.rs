//! The authorization endpoint and the consent decision: parse, ask `oauth::authorize`, render.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::forms;
use super::pages::{html, see_other};
use super::respond::Problem;
use super::AppState;
use crate::clock;
use crate::oauth::authorize::{AuthorizeOutcome, ConsentPrompt, PageError};
use crate::oauth::Params;
use crate::ui::{ConsentView, ScopeView};

pub async fn get(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let raw = request.query_string().to_owned();
    let params = forms::query(&request);
    authorize(&state, &request, params, &raw).await
}

/// RFC 6749 §3.1: the endpoint must support GET and may support POST (form-encoded).
pub async fn post(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let raw = String::from_utf8_lossy(&body).into_owned();
    let params = forms::form(&request, &body);
    authorize(&state, &request, params, &raw).await
}

async fn authorize(
    state: &AppState,
    request: &HttpRequest,
    params: Result<Params, crate::oauth::OAuthError>,
    raw_query: &str,
) -> HttpResponse {
    let params = match params {
        Ok(params) => params,
        Err(error) => {
            return refused(
                state,
                &PageError::BadRequest(error.description().to_owned()),
            )
        }
    };
    // A client named by its metadata document's URL is fetched (or found fresh) and
    // stored first; the authorization then reads it like any other client.
    if let Ok(Some(client_id)) = params.get("client_id") {
        if client_id.starts_with("https://") || client_id.starts_with("http://") {
            let address = state.forwarding.client_address(request);
            if let Err(refused) = state
                .documents
                .resolve(
                    &state.store,
                    client_id,
                    &crate::oauth::signin::address_key(address),
                    clock::now(),
                )
                .await
            {
                tracing::info!(
                    refused = ?refused,
                    "an authorization request's client metadata document was refused"
                );
                let page = state.problem(Problem::ClientDocument(&refused));
                return match refused {
                    crate::documents::DocumentRefused::Throttled { retry_after } => {
                        super::login::with_retry_after(page, retry_after)
                    }
                    _ => page,
                };
            }
        }
    }
    let outcome = state
        .authorizer
        .authorize(
            &params,
            raw_query,
            state.cookies.session_hash(request),
            clock::now(),
            clock::now_millis(),
        )
        .await;
    render(state, request, outcome)
}

/// POST /oauth2/consent: the user's answer to a consent page.
pub async fn decide(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let params = match forms::form(&request, &body) {
        Ok(params) => params,
        Err(error) => {
            return refused(
                &state,
                &PageError::BadRequest(error.description().to_owned()),
            )
        }
    };
    if !state
        .cookies
        .csrf_valid(&request, params.get("csrf_token").ok().flatten())
    {
        return state.problem(Problem::FormRejected {
            title: "This approval could not be used",
            message: "The form expired or did not come from this site. Go back to the application and start again.",
        });
    }
    let field = |name: &str| params.get(name).ok().flatten();
    let outcome = state
        .authorizer
        .decide(
            field("request"),
            field("decision"),
            state.cookies.session_hash(&request),
            clock::now(),
        )
        .await;
    render(&state, &request, outcome)
}

fn render(
    state: &AppState,
    request: &HttpRequest,
    outcome: Result<AuthorizeOutcome, crate::store::StoreError>,
) -> HttpResponse {
    match outcome {
        Ok(AuthorizeOutcome::Redirect(location)) => see_other(&location).finish(),
        Ok(AuthorizeOutcome::SignIn {
            return_to,
            login_hint,
        }) => {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.append_pair("return_to", &return_to);
            if let Some(hint) = &login_hint {
                query.append_pair("login_hint", hint);
            }
            see_other(&format!("/login?{}", query.finish())).finish()
        }
        Ok(AuthorizeOutcome::Consent(prompt)) => consent_page(state, request, &prompt),
        Ok(AuthorizeOutcome::Refused(error)) => refused(state, &error),
        Err(_) => state.unavailable_page(),
    }
}

fn refused(state: &AppState, error: &PageError) -> HttpResponse {
    state.problem(Problem::Authorize(error))
}

fn consent_page(state: &AppState, request: &HttpRequest, prompt: &ConsentPrompt) -> HttpResponse {
    let (csrf_secret, new_cookie) = state.cookies.csrf_secret(request);
    let mut scopes = Vec::new();
    for token in prompt.request.scope.tokens() {
        let Ok(description) = state.scope_description(token.as_str()) else {
            return state.unavailable_page();
        };
        scopes.push(ScopeView {
            name: token.as_str().to_owned(),
            description,
        });
    }
    let client = &prompt.client;
    // A developer's app is "by" them; one whose owner cannot be read says so rather than
    // pass for the operator's own.
    let owner = match client.owner() {
        Some(owner) => Some(match state.store.user(owner) {
            Ok(Some(user)) => user.username.as_str().to_owned(),
            Ok(None) => "a deleted account".to_owned(),
            Err(_) => return state.unavailable_page(),
        }),
        None => None,
    };
    let body = state.pages.consent(&ConsentView {
        csrf_token: state.cookies.csrf_token(&csrf_secret),
        request: prompt.ticket.clone(),
        client_name: client.name.as_str().to_owned(),
        redirect_origin: redirect_origin(&prompt.request.redirect_uri),
        username: prompt.user.username.as_str().to_owned(),
        scopes,
        public_client: client.is_public(),
        owner,
        homepage_host: client.homepage.as_ref().map(|url| url.host()),
        homepage: client.homepage.as_ref().map(|url| url.as_str().to_owned()),
        privacy_policy: client
            .privacy_policy
            .as_ref()
            .map(|url| url.as_str().to_owned()),
        unreviewed: client.is_self_registered() && !client.verified,
        registered: client.origin == crate::model::ClientOrigin::Registered,
        document_host: client.document.as_ref().map(|url| url.host()),
    });
    let mut response = html(StatusCode::OK, body);
    if let Some(cookie) = new_cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

/// Where the user will be sent, shown on the consent page: the redirect URI's origin
/// (scheme, host, and the port unless it is the scheme's default), so that a look-alike
/// host or an unexpected port is plain to see; for a private-use scheme, the scheme itself.
fn redirect_origin(redirect_uri: &str) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(url) if url.host_str().is_some() => url.origin().ascii_serialization(),
        Ok(url) => format!("{}:", url.scheme()),
        Err(_) => redirect_uri.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redirect_origin;

    #[test]
    fn the_consent_page_names_the_scheme_host_and_port_it_sends_the_browser_to() {
        assert_eq!(
            redirect_origin("https://app.example/cb?x=1"),
            "https://app.example"
        );
        assert_eq!(
            redirect_origin("https://app.example:8443/cb"),
            "https://app.example:8443"
        );
        assert_eq!(
            redirect_origin("http://127.0.0.1:53682/callback"),
            "http://127.0.0.1:53682"
        );
        assert_eq!(redirect_origin("http://[::1]:9/cb"), "http://[::1]:9");
        assert_eq!(redirect_origin("com.example.app:/cb"), "com.example.app:");
    }
}
