//! `/signup` (`serve --signup invite|open`): parse the form, ask `oauth::signup`, render the
//! outcome. While sign-up is closed the path is not served: it answers the 404 page of any
//! unknown path, for GET and POST alike, and never looks at the form (nor an invitation).
//! Under `invite`, both need a valid `invite` (`<id>.<secret>` from `keyward invite
//! create`): without one, a 403 page says the invitation is not valid and nothing is made;
//! the form carries it in a hidden field, and the account is made in the same write that
//! takes one of its uses (`Store::insert_invited_user`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::forms;
use super::login::{safe_return_to, with_retry_after, with_return_to};
use super::pages::{html, see_other};
use super::reset::capitalized;
use super::respond::Problem;
use super::AppState;
use crate::clock;
use crate::config::SignUp;
use crate::model::Password;
use crate::oauth::signup::{SignUpAttempt, SignUpOutcome};
use crate::oauth::tokens::OpaqueToken;
use crate::ui::SignUpView;

const TAKEN: &str = "That username is taken. Choose another one. Nothing was created.";
const THROTTLED: &str = "Too many attempts from your network. Wait a few minutes, then try again.";
const EXPIRED_FORM: &str = "This form has expired. Nothing was created. Please try again.";

/// GET /signup: the form, carrying the `return_to` the sign-in page passed on.
pub async fn show(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    if !state.signup_served() {
        return state.problem(Problem::NotFound);
    }
    let params = forms::query(&request).unwrap_or_default();
    let invite = params.get("invite").ok().flatten().unwrap_or("");
    let invite = match admitted_invite(&state, invite) {
        Ok(invite) => invite,
        Err(problem) => return state.problem(problem),
    };
    let form = SignUpForm {
        return_to: safe_return_to(params.get("return_to").ok().flatten()),
        username: "",
        email: "",
        invite: invite.map(|token| token.to_string()),
    };
    form.page(&state, &request, StatusCode::OK, None)
}

/// POST /signup: the CSRF check, then `SignInService::sign_up` with the operator's own
/// `user create`; on success, 303 to `return_to` signed in as the new user.
pub async fn submit(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if !state.signup_served() {
        return state.problem(Problem::NotFound);
    }
    let params = match forms::form(&request, &body) {
        Ok(params) => params,
        Err(error) => {
            return state.problem(Problem::Unreadable {
                title: "No account was created",
                message: error.description(),
            })
        }
    };
    let field = |name: &str| params.get(name).ok().flatten().unwrap_or("");
    let form = SignUpForm {
        return_to: safe_return_to(Some(field("return_to"))),
        username: field("username"),
        email: field("email"),
        invite: None,
    };
    if !state
        .cookies
        .csrf_valid(&request, Some(field("csrf_token")))
    {
        return form.page(&state, &request, StatusCode::FORBIDDEN, Some(EXPIRED_FORM));
    }
    let invite = match admitted_invite(&state, field("invite")) {
        Ok(invite) => invite,
        Err(problem) => return state.problem(problem),
    };
    let form = SignUpForm {
        invite: invite.as_ref().map(ToString::to_string),
        ..form
    };
    let attempt = SignUpAttempt {
        username: form.username,
        password: field("password").to_owned(),
        email: Some(form.email.trim()).filter(|email| !email.is_empty()),
        address: state.forwarding.client_address(&request),
        previous_session: state.cookies.session_hash(&request),
    };
    let store = state.store.clone();
    let outcome = state
        .signin
        .sign_up(attempt, clock::now(), |account| async move {
            match invite {
                Some(invite) => crate::admin::create_invited_user(&store, account, invite).await,
                None => crate::admin::create_signed_up_user(&store, account).await,
            }
        })
        .await;
    form.answer(&state, &request, outcome)
}

/// Under `--signup invite`, the invitation `text` names if it still admits a sign-up
/// (checked again inside the write that uses it), else the page that says it is not valid;
/// under `open`, none is needed and none is looked at.
fn admitted_invite(state: &AppState, text: &str) -> Result<Option<OpaqueToken>, Problem<'static>> {
    if state.signup != SignUp::Invite {
        return Ok(None);
    }
    let token = OpaqueToken::parse(text).ok_or(Problem::InviteNotValid)?;
    match state.store.invite(token.id) {
        Ok(Some(invite)) if invite.admits(&token.secret, clock::now()) => Ok(Some(token)),
        Ok(_) => Err(Problem::InviteNotValid),
        Err(_) => Err(Problem::Unavailable),
    }
}

/// What a sign-up form posted that its answer shows again: never the password.
struct SignUpForm<'a> {
    return_to: String,
    username: &'a str,
    email: &'a str,
    /// The invitation, posted back in a hidden field (`--signup invite`).
    invite: Option<String>,
}

impl SignUpForm<'_> {
    fn page(
        &self,
        state: &AppState,
        request: &HttpRequest,
        status: StatusCode,
        error: Option<&str>,
    ) -> HttpResponse {
        let (csrf_secret, new_cookie) = state.cookies.csrf_secret(request);
        let body = state.pages.signup(&SignUpView {
            csrf_token: state.cookies.csrf_token(&csrf_secret),
            return_to: self.return_to.clone(),
            login_link: with_return_to("/login", &self.return_to),
            username: self.username.to_owned(),
            email: self.email.to_owned(),
            min_chars: Password::MIN_CHARS,
            error: error.map(str::to_owned),
            invite: self.invite.clone(),
        });
        let mut response = html(status, body);
        if let Some(cookie) = new_cookie {
            let _ = response.add_cookie(&cookie);
        }
        response
    }

    /// The outcome as HTTP: on to `return_to` with both cookies, or the form again with the
    /// status the outcome calls for.
    fn answer(
        &self,
        state: &AppState,
        request: &HttpRequest,
        outcome: Result<SignUpOutcome, crate::store::StoreError>,
    ) -> HttpResponse {
        match outcome {
            Ok(SignUpOutcome::SignedUp {
                session_cookie,
                device_cookie,
                ..
            }) => see_other(&self.return_to)
                .cookie(state.cookies.session_cookie(session_cookie))
                .cookie(state.cookies.device_cookie(device_cookie))
                .finish(),
            Ok(SignUpOutcome::Invalid(message)) => {
                let message = format!("{}. Nothing was created.", capitalized(&message));
                self.page(state, request, StatusCode::BAD_REQUEST, Some(&message))
            }
            Ok(SignUpOutcome::InviteNotValid) => state.problem(Problem::InviteNotValid),
            Ok(SignUpOutcome::UsernameTaken) => {
                self.page(state, request, StatusCode::CONFLICT, Some(TAKEN))
            }
            Ok(SignUpOutcome::Throttled { retry_after }) => with_retry_after(
                self.page(
                    state,
                    request,
                    StatusCode::TOO_MANY_REQUESTS,
                    Some(THROTTLED),
                ),
                retry_after,
            ),
            Err(_) => state.unavailable_page(),
        }
    }
}
