//! CORS headers (the Fetch standard, "CORS protocol") for the endpoints a browser app
//! calls from its own origin: token, revocation, userinfo, JWKS and both discovery
//! documents. Which origin may call is `oauth::cors`; this is where it becomes headers.
//!
//! One middleware, around every route, chooses by path (`ENDPOINTS`), so an endpoint added
//! later at a listed path is covered without its handler knowing. Every other path, the
//! authorization endpoint and the sign-in and consent forms above all, never sends a CORS
//! header, whatever the `Origin`; and no HTML answer sends one even at a listed path (the
//! 404 page of a path not served yet). `Access-Control-Allow-Credentials` is never sent:
//! these endpoints take no cookies, so a page has nothing to gain by sending its own, and
//! without it no answer can be read with the user's cookies (Fetch, "CORS protocol and
//! credentials").

use std::future::Future;

use actix_web::body::EitherBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{
    HeaderMap, HeaderName, HeaderValue, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_METHOD, CONTENT_TYPE, ORIGIN, VARY,
};
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};

use super::respond::oauth_error;
use super::AppState;
use crate::oauth::{OAuthError, Params};

/// How an endpoint shares its answers with other origins.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sharing {
    /// Public documents (discovery, JWKS): any allowed origin, echoed, like userinfo but
    /// without a challenge to expose. They hold no secret and any server may fetch them;
    /// a page may read them only from the origins keyward knows (a registered redirect
    /// URI's, or `serve --cors-origin`), as for every other endpoint here, so one rule
    /// says which pages may talk to keyward at all.
    Public,
    /// Userinfo: any allowed origin, echoed. The Bearer token is the authorization; the
    /// origin only says whether the page may read the answer.
    AnyAllowed,
    /// Token and revocation: an origin allowed for the client the request names. The
    /// handler decides, once it has read the body (`client_request`); this middleware
    /// answers their preflights, which carry no body, for any allowed origin.
    ClientBound,
}

struct Endpoint {
    path: &'static str,
    sharing: Sharing,
    /// `Access-Control-Allow-Methods` of its preflights.
    methods: &'static str,
}

/// Every path that answers CORS. `/oauth2/jwks` and `/.well-known/openid-configuration`
/// are listed before they are served, so they share from the moment they are.
const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        path: "/oauth2/token",
        sharing: Sharing::ClientBound,
        methods: "POST",
    },
    Endpoint {
        path: "/oauth2/revoke",
        sharing: Sharing::ClientBound,
        methods: "POST",
    },
    Endpoint {
        path: "/oauth2/userinfo",
        sharing: Sharing::AnyAllowed,
        methods: "GET, POST",
    },
    Endpoint {
        path: "/oauth2/jwks",
        sharing: Sharing::Public,
        methods: "GET",
    },
    Endpoint {
        path: "/.well-known/oauth-authorization-server",
        sharing: Sharing::Public,
        methods: "GET",
    },
    Endpoint {
        path: "/.well-known/openid-configuration",
        sharing: Sharing::Public,
        methods: "GET",
    },
];

/// The request headers a page may send (`Access-Control-Allow-Headers`): a confidential
/// client's Basic credentials or a Bearer token, and a content type other than the three
/// Fetch lets through unasked (its "CORS-safelisted request-header").
const ALLOW_HEADERS: &str = "Authorization, Content-Type";

/// How long a browser may reuse a preflight's answer. Chromium caps it at two hours
/// (Firefox at a day). Reusing it lets nothing through: the actual request is checked again,
/// and its answer carries `Access-Control-Allow-Origin` only while the origin is allowed.
const MAX_AGE: &str = "7200";

/// The response header a page may read besides Fetch's "CORS-safelisted response-header
/// names": the RFC 6750 §3 and RFC 6749 §5.2 challenge, which says why it was refused.
const EXPOSE_HEADERS: &str = "WWW-Authenticate";

/// The `wrap_fn` middleware: answers preflights at `ENDPOINTS` and adds the CORS headers
/// of their answers; every other request passes through untouched.
pub fn cors<S, B>(
    request: ServiceRequest,
    service: &S,
) -> impl Future<Output = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let endpoint = ENDPOINTS
        .iter()
        .find(|endpoint| endpoint.path == request.path());
    let state = endpoint.and_then(|_| request.app_data::<web::Data<AppState>>().cloned());
    let (Some(endpoint), Some(state)) = (endpoint, state) else {
        return Next::Route(service.call(request)).run(None);
    };
    let origin = request.headers().get(ORIGIN).cloned();
    let is_preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    match origin {
        // Fetch, "HTTP requests": a CORS-preflight request is an OPTIONS request with
        // `Origin` and `Access-Control-Request-Method`. Any other OPTIONS goes to the
        // route (405, as before).
        Some(origin) if is_preflight => {
            let answer = preflight(&state, endpoint, &origin);
            Next::Here(request.into_response(answer)).run(None)
        }
        _ => {
            let headers = match actual(&state, endpoint, origin.as_ref()) {
                Ok(headers) => headers,
                Err(error) => {
                    let answer = vary(oauth_error(&error, false));
                    return Next::Here(request.into_response(answer)).run(None);
                }
            };
            Next::Route(service.call(request)).run(Some(headers))
        }
    }
}

/// The route's answer, or one made here: one future type for both.
enum Next<F> {
    Route(F),
    Here(ServiceResponse),
}

impl<F, B> Next<F>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
{
    /// The answer, with `headers` added to a route's answer (`None`: nothing to add).
    async fn run(
        self,
        headers: Option<Shared>,
    ) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
        match self {
            Next::Here(response) => Ok(response.map_into_right_body()),
            Next::Route(call) => {
                let mut response = call.await?;
                if let Some(shared) = headers {
                    shared.add_to(response.headers_mut());
                }
                Ok(response.map_into_left_body())
            }
        }
    }
}

/// The CORS headers of one actual (not preflight) request's answer.
struct Shared {
    allow_origin: Option<HeaderValue>,
    /// The answer depends on the `Origin` (Fetch, "CORS protocol and HTTP caches"):
    /// `Vary: Origin`, whether or not this origin may read it.
    varies: bool,
    /// Let the page read `WWW-Authenticate` (`EXPOSE_HEADERS`).
    challenge: bool,
}

impl Shared {
    fn add_to(self, headers: &mut HeaderMap) {
        // No HTML page ever shares itself with another origin, whatever its path.
        let html = headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("text/html"));
        if html {
            remove_cors_headers(headers);
            return;
        }
        if self.varies {
            headers.append(VARY, HeaderValue::from_static("Origin"));
        }
        if let Some(origin) = self.allow_origin {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            if self.challenge {
                headers.insert(
                    ACCESS_CONTROL_EXPOSE_HEADERS,
                    HeaderValue::from_static(EXPOSE_HEADERS),
                );
            }
        }
    }
}

fn remove_cors_headers(headers: &mut HeaderMap) {
    let names: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("access-control-"))
        .cloned()
        .collect();
    for name in names {
        headers.remove(name);
    }
}

/// What an actual request's answer adds. Userinfo's origin is checked before the route
/// runs, so a storage failure is a 503, not an answer the page is silently denied.
fn actual(
    state: &AppState,
    endpoint: &Endpoint,
    origin: Option<&HeaderValue>,
) -> Result<Shared, OAuthError> {
    Ok(match endpoint.sharing {
        Sharing::Public | Sharing::AnyAllowed => {
            let allowed = match origin.and_then(|origin| origin.to_str().ok()) {
                Some(text) => state.cors.allows(text)?,
                None => false,
            };
            Shared {
                allow_origin: origin.filter(|_| allowed).cloned(),
                varies: true,
                challenge: endpoint.sharing == Sharing::AnyAllowed,
            }
        }
        // The handler adds `Access-Control-Allow-Origin` (`share`).
        Sharing::ClientBound => Shared {
            allow_origin: None,
            varies: true,
            challenge: false,
        },
    })
}

/// A preflight's answer: 204 with what the page may send, for an allowed origin; 403
/// without any CORS header otherwise, which the browser reports as a failed preflight.
fn preflight(state: &AppState, endpoint: &Endpoint, origin: &HeaderValue) -> HttpResponse {
    let allow_origin = match origin.to_str().map(|text| state.cors.allows(text)) {
        Ok(Ok(true)) => origin.clone(),
        Ok(Err(error)) => return vary(oauth_error(&error.into(), false)),
        Ok(Ok(false)) | Err(_) => {
            return vary(
                HttpResponse::Forbidden()
                    .insert_header(("Cache-Control", "no-store"))
                    .content_type("text/plain; charset=utf-8")
                    .body(
                        "This origin may not call this endpoint: it is not the origin of a \
                         registered redirect URI, nor one added with serve --cors-origin.",
                    ),
            )
        }
    };
    vary(
        HttpResponse::NoContent()
            .insert_header((ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin))
            .insert_header((ACCESS_CONTROL_ALLOW_METHODS, endpoint.methods))
            .insert_header((ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS))
            .insert_header((ACCESS_CONTROL_MAX_AGE, MAX_AGE))
            .finish(),
    )
}

fn vary(mut response: HttpResponse) -> HttpResponse {
    response
        .headers_mut()
        .append(VARY, HeaderValue::from_static("Origin"));
    response
}

/// The origin a token or revocation answer may be shared with, decided before the request
/// runs: `Ok(None)` when it came without an `Origin` (a server, a script, a native app), an
/// `Err` (the answer, without CORS headers) when it came from an origin not allowed for
/// the client it names, which is refused before anything changes (`oauth::cors`).
pub fn client_request(
    state: &AppState,
    request: &HttpRequest,
    authorization: Option<&str>,
    params: &Params,
) -> Result<Option<HeaderValue>, OAuthError> {
    let Some(origin) = request.headers().get(ORIGIN) else {
        return Ok(None);
    };
    // A header that is not visible ASCII is no origin a browser sends; it is checked as
    // an empty one, which nothing allows.
    let text = origin.to_str().unwrap_or("");
    state
        .cors
        .check_client_request(text, authorization, params)?;
    Ok(Some(origin.clone()))
}

/// Shares a token or revocation answer with the origin `client_request` allowed.
pub fn share(response: &mut HttpResponse, origin: Option<HeaderValue>) {
    if let Some(origin) = origin {
        let headers = response.headers_mut();
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_listed_once_and_never_a_page() {
        for (index, endpoint) in ENDPOINTS.iter().enumerate() {
            assert!(
                ENDPOINTS[index + 1..]
                    .iter()
                    .all(|other| other.path != endpoint.path),
                "{} is listed twice",
                endpoint.path
            );
        }
        for page in [
            "/oauth2/authorize",
            "/oauth2/consent",
            "/login",
            "/logout",
            "/oauth2/logout",
            "/account",
            "/oauth2/introspect",
        ] {
            assert!(
                ENDPOINTS.iter().all(|endpoint| endpoint.path != page),
                "{page} must never answer CORS"
            );
        }
    }

    #[test]
    fn html_answers_lose_every_cors_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("x"));
        Shared {
            allow_origin: Some(HeaderValue::from_static("*")),
            varies: true,
            challenge: true,
        }
        .add_to(&mut headers);
        assert!(headers
            .keys()
            .all(|name| !name.as_str().starts_with("access-control-")));
    }
}
