//! The one place errors become HTTP. Each kind of answer has exactly one renderer, and the
//! status of an error is a property of the error, never chosen where it is answered:
//!
//! - `oauth_error`: JSON endpoints (RFC 6749 §5.2): the status follows the error code;
//! - `bearer_error`: resources behind a Bearer token (RFC 6750 §3): the status and the
//!   `WWW-Authenticate` challenge follow the `BearerError`;
//! - `problem`: HTML error pages: the status follows the `Problem`;
//! - redirects of errors to a client are built by `oauth::authorize::Authorizer`, the one
//!   place that knows the client's redirect URI may be trusted.
//!
//! A storage failure is always 503, as a page (`Problem::Unavailable`) or as JSON
//! (`temporarily_unavailable`), never "not found" or an empty answer.

use crate::documents::DocumentRefused;
use actix_web::http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, WWW_AUTHENTICATE};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;

use super::pages::html;
use crate::oauth::authorize::PageError;
use crate::oauth::reset::LinkRefused;
use crate::oauth::{ErrorCode, OAuthError};
use crate::ui::{ErrorView, Pages};
use crate::upstream::fetch::FetchError;
use crate::upstream::flow::Failure;

/// A JSON answer that no cache may keep (RFC 6749 §5.1). The headers are prebuilt values:
/// these answers are the hot path, and parsing header names per response shows in profiles.
pub fn json_bytes(status: StatusCode, body: Vec<u8>) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((PRAGMA, HeaderValue::from_static("no-cache")))
        .insert_header((CONTENT_TYPE, HeaderValue::from_static("application/json")))
        .body(body)
}

pub fn json(status: StatusCode, body: &serde_json::Value) -> HttpResponse {
    json_bytes(status, body.to_string().into_bytes())
}

/// RFC 6749 §5.2. `invalid_client` is 401, with `WWW-Authenticate: Basic` when the client
/// tried Basic; a storage failure is 503, so nobody mistakes it for a verdict.
pub fn oauth_error(error: &OAuthError, basic: bool) -> HttpResponse {
    let status = match error.code {
        ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::SlowDown => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::BAD_REQUEST,
    };
    let body = serde_json::json!({
        "error": error.code.as_str(),
        "error_description": error.description(),
    });
    let mut response = json(status, &body);
    if let Some(seconds) = error.retry_after {
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response
                .headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, value);
        }
    }
    if error.code == ErrorCode::InvalidClient {
        let challenge = if basic {
            r#"Basic realm="keyward", charset="UTF-8""#
        } else {
            r#"Basic realm="keyward""#
        };
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    }
    response
}

/// Why a request to a Bearer-protected resource failed (RFC 6750 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    /// No token, or another authentication scheme: a challenge without an error code.
    Missing,
    /// The request is malformed (a token in two places, an unreadable body).
    InvalidRequest,
    /// The token is expired, revoked, malformed, or acts for no user.
    InvalidToken,
}

pub fn bearer_error(error: BearerError) -> HttpResponse {
    let (status, challenge, body) = match error {
        BearerError::Missing => (
            StatusCode::UNAUTHORIZED,
            r#"Bearer realm="keyward""#,
            r#"{"error":"invalid_token","error_description":"a Bearer access token is required"}"#,
        ),
        BearerError::InvalidRequest => (
            StatusCode::BAD_REQUEST,
            r#"Bearer realm="keyward", error="invalid_request""#,
            r#"{"error":"invalid_request"}"#,
        ),
        BearerError::InvalidToken => (
            StatusCode::UNAUTHORIZED,
            r#"Bearer realm="keyward", error="invalid_token""#,
            r#"{"error":"invalid_token"}"#,
        ),
    };
    let mut response = json_bytes(status, body.as_bytes().to_vec());
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    response
}

/// What an HTML error page is about; its status follows from the variant.
pub enum Problem<'a> {
    /// An authorization request or consent answer that cannot go on (`oauth::authorize`).
    Authorize(&'a PageError),
    /// A form or query that could not be read: 400.
    Unreadable { title: &'a str, message: &'a str },
    /// A password reset link that does not work (altered, expired, used): 400.
    ResetLink(LinkRefused),
    /// A form without a valid CSRF token: 403.
    FormRejected { title: &'a str, message: &'a str },
    /// A sign-up without a valid invitation (`--signup invite`): 403.
    InviteNotValid,
    /// A sign-in through an upstream that did not finish, or whose identity has no place
    /// here; `upstream` is its display name.
    Upstream {
        upstream: &'a str,
        problem: UpstreamProblem<'a>,
    },
    /// An authorization request whose `client_id` is a metadata document's URL that gave
    /// no client (`documents::ClientDocuments::resolve`).
    ClientDocument(&'a DocumentRefused),
    /// Nothing is served at this path: 404.
    NotFound,
    /// Storage failed: 503, and nothing was promised.
    Unavailable,
}

impl Problem<'_> {
    fn status(&self) -> StatusCode {
        match self {
            Problem::Authorize(PageError::NotSignedIn) => StatusCode::FORBIDDEN,
            Problem::Authorize(
                PageError::BadRequest(_)
                | PageError::TicketInvalid
                | PageError::AlreadyAnswered
                | PageError::ClientGone
                | PageError::NoDecision,
            ) => StatusCode::BAD_REQUEST,
            Problem::Unreadable { .. } | Problem::ResetLink(_) => StatusCode::BAD_REQUEST,
            Problem::FormRejected { .. } | Problem::InviteNotValid => StatusCode::FORBIDDEN,
            Problem::Upstream { problem, .. } => problem.status(),
            Problem::ClientDocument(refused) => match refused {
                DocumentRefused::Off | DocumentRefused::Invalid(_) => StatusCode::BAD_REQUEST,
                DocumentRefused::Fetch {
                    timed_out: true, ..
                } => StatusCode::GATEWAY_TIMEOUT,
                DocumentRefused::Fetch { .. } => StatusCode::BAD_GATEWAY,
                DocumentRefused::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
                DocumentRefused::Busy | DocumentRefused::Unavailable => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
            },
            Problem::NotFound => StatusCode::NOT_FOUND,
            Problem::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn words(&self) -> (String, String) {
        let (title, message) = match self {
            Problem::Upstream { upstream, problem } => return problem.words(upstream),
            Problem::ClientDocument(refused) => return document_words(refused),
            Problem::Authorize(error) => (error.title(), error.message()),
            Problem::ResetLink(refused) => (refused.title(), refused.message()),
            Problem::Unreadable { title, message } | Problem::FormRejected { title, message } => {
                (*title, *message)
            }
            Problem::InviteNotValid => (
                "This invitation is not valid",
                "Accounts here are made with an invitation link, and this one is missing, altered, expired, used up or revoked. Nothing was created. Ask whoever invited you for a new link.",
            ),
            Problem::NotFound => (
                "Page not found",
                "There is nothing at this address. Check the link, or go back to the application you came from.",
            ),
            Problem::Unavailable => (
                "Temporarily unavailable",
                "The server could not save your request. Nothing was changed. Please try again in a moment.",
            ),
        };
        (title.to_owned(), message.to_owned())
    }
}

fn document_words(refused: &DocumentRefused) -> (String, String) {
    let title = "This application could not be identified".to_owned();
    let message = match refused {
        DocumentRefused::Off => {
            "The application named itself by a web address (a client metadata document), which this server does not accept. Nothing was stored. Ask the application's developer to register it here.".to_owned()
        }
        DocumentRefused::Invalid(problem) | DocumentRefused::Fetch { message: problem, .. } => {
            format!("{}. Nothing was stored. Tell the application's developer.", capitalized(problem))
        }
        DocumentRefused::Throttled { .. } => {
            "Too many applications were looked up lately. Nothing was stored. Try again later.".to_owned()
        }
        DocumentRefused::Busy => {
            "The server is looking up too many applications at this moment. Nothing was stored. Try again in a moment.".to_owned()
        }
        DocumentRefused::Unavailable => {
            "The server could not save the application's details. Nothing was changed. Please try again in a moment.".to_owned()
        }
    };
    (title, message)
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Why a sign-in through an upstream ended on a page.
pub enum UpstreamProblem<'a> {
    /// The flow failed (`upstream::flow::Failure`).
    Flow(&'a Failure),
    /// The upstream vouched for someone no account here belongs to.
    NotKnown,
    /// Linking: the identity signs in to another account.
    LinkedElsewhere,
    /// Linking: the account has an identity at this upstream.
    AlreadyHasOne,
    /// Linking: this browser is no longer signed in as the account that started it.
    SessionChanged,
    /// Too many sign-ins through upstreams started from this address lately.
    Throttled,
    /// Linking wants a recent sign-in, and this session's is older.
    SignInAgain,
}

impl UpstreamProblem<'_> {
    fn status(&self) -> StatusCode {
        match self {
            UpstreamProblem::Flow(failure) => match failure {
                Failure::NotStarted
                | Failure::TooLong
                | Failure::Malformed
                | Failure::Expired
                | Failure::Replayed
                | Failure::Refused { .. }
                | Failure::WrongIssuer
                | Failure::NoCode => StatusCode::BAD_REQUEST,
                Failure::Fetch {
                    error: FetchError::Timeout,
                    ..
                } => StatusCode::GATEWAY_TIMEOUT,
                Failure::TokenRefused { .. } | Failure::Fetch { .. } | Failure::Untrusted(_) => {
                    StatusCode::BAD_GATEWAY
                }
                Failure::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            },
            UpstreamProblem::NotKnown
            | UpstreamProblem::SessionChanged
            | UpstreamProblem::SignInAgain => StatusCode::FORBIDDEN,
            UpstreamProblem::LinkedElsewhere | UpstreamProblem::AlreadyHasOne => {
                StatusCode::CONFLICT
            }
            UpstreamProblem::Throttled => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn words(&self, name: &str) -> (String, String) {
        let again = "Nothing was changed. Go back to the sign-in page and start again.";
        let (title, message) = match self {
            UpstreamProblem::Flow(failure) => match failure {
                Failure::NotStarted => (
                    "This sign-in was not recognised".to_owned(),
                    format!("This sign-in through {name} was not started in this browser, or it was finished already. {again}"),
                ),
                Failure::TooLong => (
                    format!("This sign-in cannot go through {name}"),
                    format!("The app sent a sign-in request too long to carry through {name}. Nothing was changed. Sign in another way, or ask the app's developer to send a shorter request."),
                ),
                Failure::Malformed => (
                    "This sign-in was refused".to_owned(),
                    format!("The answer from {name} repeats a parameter, so it was refused for your safety. {again}"),
                ),
                Failure::Expired => (
                    "This sign-in took too long".to_owned(),
                    format!("The sign-in through {name} was started more than {} minutes ago. {again}", crate::upstream::flow::FLOW_SECONDS / 60),
                ),
                Failure::Replayed => (
                    "This sign-in was used already".to_owned(),
                    format!("This answer from {name} was used once already and does not work twice. {again}"),
                ),
                Failure::Refused { error } => (
                    "You were not signed in".to_owned(),
                    format!("{name} did not sign you in (it answered '{error}'). {again}"),
                ),
                Failure::WrongIssuer => (
                    "This sign-in was refused".to_owned(),
                    format!("The answer did not come from {name} as expected, so it was refused for your safety. {again}"),
                ),
                Failure::NoCode => (
                    "This sign-in was incomplete".to_owned(),
                    format!("{name} sent you back without a sign-in. {again}"),
                ),
                Failure::TokenRefused { error } => (
                    format!("{name} refused the sign-in"),
                    format!("{name} did not accept the sign-in (it answered '{error}'). Nothing was changed. Start again; if it keeps happening, tell the administrator."),
                ),
                Failure::Fetch { error: FetchError::Timeout, .. } => (
                    format!("{name} is not answering"),
                    format!("{name} did not answer in time, so you were not signed in. Nothing was changed. Try again in a moment, or use another way to sign in."),
                ),
                Failure::Fetch { error, .. } => (
                    format!("{name} is not working right now"),
                    format!("{name} {error}, so you were not signed in. Nothing was changed. Try again later, or use another way to sign in."),
                ),
                Failure::Untrusted(why) => (
                    format!("{name}'s answer was refused"),
                    format!("{name}'s answer did not pass a security check ({why}), so you were not signed in. Nothing was changed. Tell the administrator."),
                ),
                Failure::Unavailable => (
                    "Temporarily unavailable".to_owned(),
                    "The server could not save your request. Nothing was changed. Please try again in a moment.".to_owned(),
                ),
            },
            UpstreamProblem::NotKnown => (
                "This account is not known here".to_owned(),
                format!("You signed in to {name}, but no account here is linked to that {name} account, and accounts are not made through {name}. Nothing was created. Sign in another way and link {name} on your account page, or ask the administrator."),
            ),
            UpstreamProblem::LinkedElsewhere => (
                "Linked to another account".to_owned(),
                format!("This {name} account is linked to another account here. Nothing was changed. Sign in with {name} to use that account, or unlink it there first."),
            ),
            UpstreamProblem::AlreadyHasOne => (
                format!("A {name} account is linked already"),
                format!("Your account has a {name} account linked already. Nothing was changed. Unlink it on your account page first."),
            ),
            UpstreamProblem::SignInAgain => (
                "Sign in again to link".to_owned(),
                format!("For your safety, linking {name} to your account needs a sign-in in the last 15 minutes. Nothing was changed. Sign in again (open the sign-in page), then press Link on your account page."),
            ),
            UpstreamProblem::Throttled => (
                "Too many sign-ins from your network".to_owned(),
                format!("Too many sign-ins through {name} were started from your network in the last few minutes. Nothing was changed. Wait a few minutes, then try again."),
            ),
            UpstreamProblem::SessionChanged => (
                "Linking was not finished".to_owned(),
                format!("This browser is no longer signed in as the account that started linking {name}. Nothing was changed. Sign in and start again from your account page."),
            ),
        };
        (title, message)
    }
}

/// The error page for `problem`.
pub fn problem(pages: &Pages, problem: Problem<'_>) -> HttpResponse {
    let (title, message) = problem.words();
    html(problem.status(), pages.error(&ErrorView { title, message }))
}
