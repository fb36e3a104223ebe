//! Sign-in through an upstream: `POST /upstream/NAME/start` (the sign-in page's "Continue
//! with NAME" and the account page's "Link" buttons, CSRF-checked forms) and
//! `GET /upstream/NAME/callback`, where the provider sends the browser back. The protocol
//! is `upstream::flow`, what it does to accounts `oauth::upstream`; this file parses,
//! calls and renders. The account page's unlink form is here too.

use actix_web::{web, HttpRequest, HttpResponse};

use super::forms;
use super::login::safe_return_to;
use super::pages::see_other;
use super::respond::{Problem, UpstreamProblem};
use super::AppState;
use crate::clock;
use crate::oauth::upstream::{may_link, UpstreamOutcome};
use crate::store::IdentityNotUnlinked;
use crate::upstream::flow::{Failure, Intent};
use crate::upstream::{Upstream, UpstreamName};

/// The upstream a path names; `Err` is the page to answer with (404 for no such upstream).
fn upstream_named(state: &AppState, name: &str) -> Result<Upstream, Box<HttpResponse>> {
    let Ok(name) = UpstreamName::parse(name) else {
        return Err(Box::new(state.problem(Problem::NotFound)));
    };
    match state.store.upstream(&name) {
        Ok(Some(upstream)) => Ok(upstream),
        Ok(None) => Err(Box::new(state.problem(Problem::NotFound))),
        Err(_) => Err(Box::new(state.unavailable_page())),
    }
}

fn flow_problem(state: &AppState, upstream: &Upstream, failure: &Failure) -> HttpResponse {
    match failure {
        Failure::Fetch { what, error } => tracing::warn!(
            upstream = %upstream.name, call = what, reason = %error, "upstream sign-in failed"
        ),
        Failure::Untrusted(why) => tracing::warn!(
            upstream = %upstream.name, reason = %why, "upstream answer refused"
        ),
        Failure::TokenRefused { error } => tracing::warn!(
            upstream = %upstream.name, error = %error, "upstream refused the code"
        ),
        other => {
            tracing::info!(upstream = %upstream.name, reason = ?other, "upstream sign-in refused")
        }
    }
    state.problem(Problem::Upstream {
        upstream: upstream.display_name.as_str(),
        problem: UpstreamProblem::Flow(failure),
    })
}

/// POST /upstream/NAME/start: `intent=link` (from `/account`, signed in) or a sign-in
/// carrying the `return_to` of the sign-in page. Answers 303 to the provider, with the
/// flow's cookie.
pub async fn start(
    state: web::Data<AppState>,
    request: HttpRequest,
    name: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let upstream = match upstream_named(&state, &name) {
        Ok(upstream) => upstream,
        Err(response) => return *response,
    };
    let params = match forms::form(&request, &body) {
        Ok(params) => params,
        Err(error) => {
            return state.problem(Problem::Unreadable {
                title: "Sign-in failed",
                message: error.description(),
            })
        }
    };
    let field = |name: &str| params.get(name).ok().flatten();
    let browser = state.cookies.browser_binding(&request);
    let (true, Some(browser)) = (
        state.cookies.csrf_valid(&request, field("csrf_token")),
        browser,
    ) else {
        return state.problem(Problem::FormRejected {
            title: "Nothing was started",
            message: "This form has expired. Go back, reload the page and try again.",
        });
    };
    let now = clock::now();
    let address = state.forwarding.client_address(&request);
    if let Err(blocked) = state
        .upstream_starts
        .reserve(&crate::oauth::signin::address_key(address), now)
    {
        crate::audit!("sign_in_throttled", address = %address, upstream = %upstream.name, retry_after = blocked.retry_after);
        let page = state.problem(Problem::Upstream {
            upstream: upstream.display_name.as_str(),
            problem: UpstreamProblem::Throttled,
        });
        return super::login::with_retry_after(page, blocked.retry_after);
    }
    let (intent, return_to) = if field("intent") == Some("link") {
        match state
            .account
            .signed_in(state.cookies.session_hash(&request), now)
        {
            Ok(Some(account)) => {
                match state.store.session(&account.session, now) {
                    Ok(Some(session)) if may_link(session.auth_time, now) => {}
                    Ok(_) => {
                        return state.problem(Problem::Upstream {
                            upstream: upstream.display_name.as_str(),
                            problem: UpstreamProblem::SignInAgain,
                        })
                    }
                    Err(_) => return state.unavailable_page(),
                }
                (
                    Intent::Link {
                        user: account.user.id,
                        session: *account.session.as_bytes(),
                    },
                    "/account".to_owned(),
                )
            }
            Ok(None) => return see_other("/login?return_to=%2Faccount").finish(),
            Err(_) => return state.unavailable_page(),
        }
    } else {
        (Intent::SignIn, safe_return_to(field("return_to")))
    };
    match state
        .upstreams
        .start(&upstream, return_to, intent, browser, now)
        .await
    {
        Ok(started) => see_other(&started.authorize_url)
            .cookie(
                state
                    .cookies
                    .upstream_flow_cookie(upstream.name.as_str(), started.cookie),
            )
            .finish(),
        Err(failure) => flow_problem(&state, &upstream, &failure),
    }
}

/// GET /upstream/NAME/callback: finish the flow, then sign in, create or link. The flow
/// cookie is cleared once it was this browser's flow, whatever the outcome (a flow is
/// finished once); a callback that is not (a stale tab, a forged link) leaves the flow in
/// progress alone.
pub async fn callback(
    state: web::Data<AppState>,
    request: HttpRequest,
    name: web::Path<String>,
) -> HttpResponse {
    let upstream = match upstream_named(&state, &name) {
        Ok(upstream) => upstream,
        Err(response) => return *response,
    };
    let (mut response, finished) = finish(&state, &request, &upstream).await;
    if finished {
        let _ = response.add_cookie(
            &state
                .cookies
                .expired_upstream_flow_cookie(upstream.name.as_str()),
        );
    }
    response
}

/// The answer, and whether the flow was this browser's (and is over now).
async fn finish(
    state: &AppState,
    request: &HttpRequest,
    upstream: &Upstream,
) -> (HttpResponse, bool) {
    let params = match forms::query(request) {
        Ok(params) => params,
        Err(error) => {
            let page = state.problem(Problem::Unreadable {
                title: "Sign-in failed",
                message: error.description(),
            });
            return (page, false);
        }
    };
    let now = clock::now();
    let cookie = state.cookies.upstream_flow_value(request);
    let browser = state.cookies.browser_binding(request);
    let finished = match state
        .upstreams
        .finish(upstream, cookie.as_deref(), browser, &params, now)
        .await
    {
        Ok(finished) => finished,
        Err(failure) => {
            // Neither another browser's callback nor a malformed one used the flow.
            let ours = !matches!(failure, Failure::NotStarted | Failure::Malformed);
            return (flow_problem(state, upstream, &failure), ours);
        }
    };
    let session = state.cookies.session_hash(request);
    let current = match state.account.signed_in(session, now) {
        Ok(account) => account.map(|account| account.user.id),
        Err(_) => return (state.unavailable_page(), true),
    };
    let outcome = state
        .signin
        .finish_upstream(upstream, finished, current, session, now)
        .await;
    let refused = |problem| {
        state.problem(Problem::Upstream {
            upstream: upstream.display_name.as_str(),
            problem,
        })
    };
    let page = match outcome {
        Ok(UpstreamOutcome::SignedIn {
            session_cookie,
            device_cookie,
            return_to,
            ..
        }) => see_other(&safe_return_to(Some(&return_to)))
            .cookie(state.cookies.session_cookie(session_cookie))
            .cookie(state.cookies.device_cookie(device_cookie))
            .finish(),
        Ok(UpstreamOutcome::Linked) => see_other("/account?notice=identity-linked").finish(),
        Ok(UpstreamOutcome::NotKnown) => refused(UpstreamProblem::NotKnown),
        Ok(UpstreamOutcome::LinkedElsewhere) => refused(UpstreamProblem::LinkedElsewhere),
        Ok(UpstreamOutcome::AlreadyHasOne) => refused(UpstreamProblem::AlreadyHasOne),
        Ok(UpstreamOutcome::SessionChanged) => refused(UpstreamProblem::SessionChanged),
        Err(_) => state.unavailable_page(),
    };
    (page, true)
}

/// POST /account/identities/unlink: the account page's "Unlink" button.
pub async fn unlink(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let (params, account) = match super::account::form_guard(&state, &request, &body) {
        Ok(guarded) => guarded,
        Err(response) => return *response,
    };
    let Some(name) = params
        .get("upstream")
        .ok()
        .flatten()
        .and_then(|name| UpstreamName::parse(name).ok())
    else {
        return see_other("/account?notice=not-linked").finish();
    };
    let notice = match state
        .store
        .unlink_identity(account.user.id, name, state.password_login_on())
        .await
    {
        Ok(_) => "identity-unlinked",
        Err(IdentityNotUnlinked::LastWayToSignIn) => "last-way-to-sign-in",
        Err(IdentityNotUnlinked::NotLinked | IdentityNotUnlinked::NoSuchUpstream) => "not-linked",
        Err(IdentityNotUnlinked::NoSuchUser) => return see_other("/login").finish(),
        Err(IdentityNotUnlinked::Storage(_)) => return state.unavailable_page(),
    };
    see_other(&format!("/account?notice={notice}#sign-in-methods")).finish()
}
