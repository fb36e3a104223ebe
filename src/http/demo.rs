//! `keyward demo` only: the demo app's two pages, `/demo` (start a sign-in) and
//! `/demo/callback` (where the code lands). On a real server both are 404.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::pages::html;
use super::{forms, respond, AppState};
use crate::clock;
use crate::clock::format_time;
use crate::demo::{Failure, SignedIn, FLOW_SECONDS};
use crate::ui::{DemoSignedInView, DemoStartView, ErrorView, FactView};

/// GET /demo: a fresh flow in this browser's cookie, and the button that starts it.
pub async fn start(state: web::Data<AppState>) -> HttpResponse {
    let Some(demo) = &state.demo else {
        return state.problem(respond::Problem::NotFound);
    };
    let started = demo.start(clock::now());
    let view = DemoStartView {
        authorize_url: started.authorize_url,
        request: started
            .request
            .into_iter()
            .map(|(name, value)| FactView {
                name: name.to_owned(),
                value,
            })
            .collect(),
    };
    let mut response = html(StatusCode::OK, state.pages.demo_start(&view));
    let _ = response.add_cookie(
        &state
            .cookies
            .demo_flow_cookie(started.cookie, FLOW_SECONDS as i64),
    );
    response
}

/// GET /demo/callback: finish the flow, and show what the app learned.
pub async fn callback(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let Some(demo) = &state.demo else {
        return state.problem(respond::Problem::NotFound);
    };
    let params = match forms::query(&request) {
        Ok(params) => params,
        Err(_) => {
            return failed(
                &state,
                StatusCode::BAD_REQUEST,
                "The demo app could not read this address",
                "The address it was sent back to is malformed.".into(),
            )
        }
    };
    let cookie = state.cookies.demo_flow_value(&request);
    let outcome = demo
        .finish(
            &state.tokens,
            &state.store,
            cookie.as_deref(),
            &params,
            clock::now(),
        )
        .await;
    let mut response = match &outcome {
        Ok(signed_in) => html(
            StatusCode::OK,
            state.pages.demo_signed_in(&signed_in_view(signed_in)),
        ),
        Err(failure) => failure_page(&state, failure),
    };
    // The flow is over once its state came back, whatever the outcome; a callback for
    // another state leaves this browser's own sign-in in progress.
    if !matches!(outcome, Err(Failure::NotStarted)) {
        let _ = response.add_cookie(&state.cookies.expired_demo_flow_cookie());
    }
    response
}

fn failed(state: &AppState, status: StatusCode, title: &str, message: String) -> HttpResponse {
    html(
        status,
        state.pages.demo_failed(&ErrorView {
            title: title.to_owned(),
            message,
        }),
    )
}

fn failure_page(state: &AppState, failure: &Failure) -> HttpResponse {
    let title = "The demo sign-in did not finish";
    let (status, message) = match failure {
        Failure::NotStarted => (
            StatusCode::BAD_REQUEST,
            "This browser did not start this sign-in, so the demo app will not finish it: an app that finished sign-ins it never started could be tricked into signing you in as someone else. Start again from the demo app.".to_owned(),
        ),
        Failure::Expired => (
            StatusCode::BAD_REQUEST,
            format!(
                "The sign-in was started more than {} minutes ago. Start again.",
                FLOW_SECONDS / 60
            ),
        ),
        Failure::Refused { error, description } => (
            StatusCode::OK,
            match description {
                Some(description) => format!(
                    "The authorization ended with error '{error}': {description}."
                ),
                None => format!("The authorization ended with error '{error}'."),
            },
        ),
        Failure::WrongIssuer => (
            StatusCode::BAD_REQUEST,
            "The answer does not say it came from this server (its iss parameter), so the demo app does not use it.".to_owned(),
        ),
        Failure::NoCode => (
            StatusCode::BAD_REQUEST,
            "No authorization code arrived.".to_owned(),
        ),
        Failure::Token { error, description } => (
            StatusCode::BAD_REQUEST,
            format!("The token endpoint refused the code with '{error}': {description}."),
        ),
        Failure::IdToken(reason) => (
            StatusCode::BAD_REQUEST,
            format!("The ID token was not accepted: {reason}."),
        ),
        Failure::Unavailable => return state.unavailable_page(),
    };
    failed(state, status, title, message)
}

/// The order a reader expects: who said it, about whom, to whom, then the times.
const CLAIM_ORDER: [&str; 10] = [
    "iss",
    "sub",
    "aud",
    "azp",
    "nonce",
    "auth_time",
    "iat",
    "exp",
    "at_hash",
    "sid",
];

/// Times in Unix seconds, shown with their date.
const TIME_CLAIMS: [&str; 4] = ["auth_time", "iat", "exp", "updated_at"];

fn claim_facts(claims: &serde_json::Map<String, serde_json::Value>) -> Vec<FactView> {
    let mut names: Vec<&String> = claims.keys().collect();
    names.sort_by_key(|name| {
        (
            CLAIM_ORDER
                .iter()
                .position(|known| known == name)
                .unwrap_or(CLAIM_ORDER.len()),
            name.as_str(),
        )
    });
    names
        .into_iter()
        .map(|name| {
            let value = &claims[name];
            let shown = match value {
                serde_json::Value::String(text) => text.clone(),
                serde_json::Value::Number(number) if TIME_CLAIMS.contains(&name.as_str()) => {
                    match number.as_u64() {
                        Some(unix) => format!("{unix} ({})", format_time(unix)),
                        None => number.to_string(),
                    }
                }
                other => other.to_string(),
            };
            FactView {
                name: name.clone(),
                value: shown,
            }
        })
        .collect()
}

fn fact(name: &str, value: impl Into<String>) -> FactView {
    FactView {
        name: name.to_owned(),
        value: value.into(),
    }
}

fn signed_in_view(signed_in: &SignedIn) -> DemoSignedInView {
    let mut header = vec![fact("alg", &signed_in.alg), fact("kid", &signed_in.kid)];
    if let Some(typ) = &signed_in.typ {
        header.push(fact("typ", typ));
    }
    let userinfo = match &signed_in.userinfo {
        serde_json::Value::Object(claims) => claim_facts(claims),
        other => vec![fact("(answer)", other.to_string())],
    };
    DemoSignedInView {
        checks: signed_in.checks.clone(),
        header,
        claims: claim_facts(&signed_in.claims),
        userinfo,
        token_response: vec![
            fact("token_type", "Bearer"),
            fact("scope", &signed_in.scope),
            fact("expires_in", format!("{} seconds", signed_in.expires_in)),
            fact(
                "refresh_token",
                if signed_in.has_refresh_token {
                    "issued (not shown)"
                } else {
                    "none"
                },
            ),
            fact("id_token", "verified, claims above"),
        ],
        id_token: signed_in.id_token.clone(),
    }
}
