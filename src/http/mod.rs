//! actix handlers: parse the request, call `oauth/` or `store/`, render. Thin by rule.

mod account;
mod authorize;
mod cookies;
mod cors;
mod deadline;
mod demo;
mod developer;
mod end_session;
mod forms;
mod forwarded;
mod lifecycle;
mod login;
mod metadata;
mod pages;
mod registration;
mod reset;
mod respond;
mod signup;
mod token;
mod upstream;

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::config::{DeveloperApps, Lifetimes, PasswordLogin, Registration, SignUp};
use crate::demo::DemoApp;
use crate::metrics::Metrics;
use crate::oauth::account::AccountService;
use crate::oauth::apikeys::UsageLog;
use crate::oauth::authorize::Authorizer;
use crate::oauth::cors::{CorsPolicy, Origin};
use crate::oauth::reset::ResetLinks;
use crate::oauth::resources::ResourcePolicy;
use crate::oauth::signin::SignInService;
use crate::oauth::token::TokenService;
use crate::oidc::idtoken::IdTokens;
use crate::oidc::keyring::KeyRing;
use crate::oidc::logout::EndSession;
use crate::seal::MacKey;
use crate::store::{Store, StoreError, WriterStats};
use crate::ui::Pages;
use cookies::CookieSettings;
pub use cors::cors;
pub use deadline::{body_deadline, BODY_DEADLINE};
use forwarded::Forwarding;

/// Form and token bodies are small; anything larger is refused before it is read.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Sign-ins through upstreams one client address may start per window: generous (a whole
/// office behind one address signs in at nine), and still a bound on what anyone can make
/// keyward send to a provider.
const UPSTREAM_STARTS_PER_ADDRESS: u32 = 120;
const UPSTREAM_STARTS_WINDOW_SECONDS: u64 = 15 * 60;

/// How long a sign-in lasts.
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// Open registrations (`--registration open`) one client address may make per window: a
/// program registers once, so a few cover retries, and a flood from one address stops.
const REGISTRATIONS_PER_ADDRESS: u32 = 10;
const REGISTRATIONS_WINDOW_SECONDS: u64 = 3600;

/// What every handler may reach. Built once by `app.rs`.
pub struct AppState {
    pub store: Store,
    pub issuer: String,
    pub lifetimes: Lifetimes,
    tokens: TokenService,
    pages: Pages,
    authorizer: Authorizer,
    account: AccountService,
    reset: ResetLinks,
    end_session: EndSession,
    cookies: CookieSettings,
    signin: SignInService,
    signup: SignUp,
    password_login: PasswordLogin,
    developer_apps: DeveloperApps,
    developer_app_limit: u32,
    registration: Registration,
    registrar: crate::oauth::registration::Registrar,
    /// Open registrations per client address.
    registrations: crate::throttle::Throttle,
    /// Clients named by their metadata document's URL (`--client-metadata-documents`).
    documents: crate::documents::ClientDocuments,
    /// Requests per client address to the token, introspection and revocation endpoints.
    address_limits: crate::ratelimit::RateLimiter,
    forwarding: Forwarding,
    cors: CorsPolicy,
    demo: Option<DemoApp>,
    upstreams: crate::upstream::flow::Flows,
    /// Sign-ins through an upstream started per client address: each may cost an outbound
    /// token request with keyward's client credentials at the provider.
    upstream_starts: crate::throttle::Throttle,
    metrics: Arc<Metrics>,
    /// Set when a graceful shutdown begins: `/readyz` answers 503 from then on.
    pub shutting_down: Arc<std::sync::atomic::AtomicBool>,
}

/// What `AppState::new` is built from, besides the store.
pub struct StateConfig {
    pub issuer: String,
    pub lifetimes: Lifetimes,
    pub product_name: String,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `--cors-origin`: origins allowed besides the registered redirect URIs'.
    pub cors_origins: Vec<Origin>,
    /// `--resource`: resources any client may ask for.
    pub resources: Vec<crate::model::ResourceUri>,
    /// `--signup`: whether `/signup` is served.
    pub signup: SignUp,
    /// `--password-login`: whether `/login` shows and accepts the password form.
    pub password_login: PasswordLogin,
    /// `--developer-apps` and `--developer-app-limit`.
    pub developer_apps: DeveloperApps,
    pub developer_app_limit: u32,
    /// `--registration`.
    pub registration: Registration,
    /// `--client-metadata-*`.
    pub client_documents: crate::documents::DocumentPolicy,
    /// `--rate-limit-address`, `--rate-limit-client`.
    pub rate_limit_address: Option<crate::ratelimit::Limit>,
    pub rate_limit_client: Option<crate::ratelimit::Limit>,
    /// `keyward demo`'s app, served at `/demo`.
    pub demo: Option<DemoApp>,
    /// The signing keys (opened, and made on a first start, before serving).
    pub keys: Arc<KeyRing>,
}

impl AppState {
    pub async fn new(
        store: Store,
        config: StateConfig,
        metrics: Arc<Metrics>,
        usage: Arc<UsageLog>,
    ) -> AppState {
        let StateConfig {
            issuer,
            lifetimes,
            product_name,
            trusted_proxies,
            cors_origins,
            resources,
            signup,
            password_login,
            developer_apps,
            developer_app_limit,
            registration,
            client_documents,
            rate_limit_address,
            rate_limit_client,
            demo,
            keys,
        } = config;
        let resources = ResourcePolicy::new(resources, &issuer);
        let restored_at_millis = store.restored_at_millis().unwrap_or_else(|error| {
            tracing::error!(%error, "when the database was last restored could not be read");
            0
        });
        AppState {
            tokens: TokenService::new(
                store.clone(),
                lifetimes.clone(),
                usage,
                IdTokens::new(
                    keys.clone(),
                    issuer.clone(),
                    lifetimes.access_token.as_secs(),
                ),
            )
            .with_resources(resources.clone())
            .with_restored_at_millis(restored_at_millis)
            .with_client_limit(rate_limit_client),
            authorizer: Authorizer::new(
                store.clone(),
                issuer.clone(),
                lifetimes.code.as_secs(),
                keys.clone(),
            )
            .with_resources(resources),
            account: AccountService::new(store.clone()),
            reset: ResetLinks::new(store.clone()),
            end_session: EndSession::new(store.clone(), keys.clone(), issuer.clone()),
            cookies: CookieSettings {
                secure: issuer.starts_with("https://"),
                csrf_key: MacKey::new(store.derived_key("csrf v1")),
            },
            pages: Pages::new(&product_name),
            signin: SignInService::new(store.clone(), SESSION_TTL).await,
            signup,
            password_login,
            developer_apps,
            developer_app_limit,
            registration,
            registrar: crate::oauth::registration::Registrar::new(
                store.clone(),
                issuer.clone(),
                crate::admin::plan_registered_client,
            ),
            registrations: crate::throttle::Throttle::new(
                REGISTRATIONS_PER_ADDRESS,
                REGISTRATIONS_WINDOW_SECONDS,
                100_000,
            ),
            documents: crate::documents::ClientDocuments::new(client_documents),
            address_limits: crate::ratelimit::RateLimiter::new(rate_limit_address),
            forwarding: Forwarding::new(trusted_proxies),
            cors: CorsPolicy::new(store.clone(), &cors_origins),
            demo,
            upstreams: crate::upstream::flow::Flows::new(store.clone(), &issuer),
            upstream_starts: crate::throttle::Throttle::new(
                UPSTREAM_STARTS_PER_ADDRESS,
                UPSTREAM_STARTS_WINDOW_SECONDS,
                100_000,
            ),
            metrics,
            store,
            issuer,
            lifetimes,
            shutting_down: Arc::default(),
        }
    }

    /// Counts a request to a rate-limited endpoint against its client address (forwarded
    /// by a trusted proxy, or the peer's). Loopback is the operator's own (benchmarks,
    /// health checks, a proxy not yet named with --trusted-proxy): neither its address nor
    /// its client is counted. Answers whether the client's limit counts the request.
    fn admit_address(&self, request: &HttpRequest) -> Result<bool, crate::oauth::OAuthError> {
        let address = self.forwarding.client_address(request);
        if address.to_canonical().is_loopback() {
            return Ok(false);
        }
        self.address_limits
            .admit(crate::ratelimit::address_key(address), crate::clock::now())
            .map_err(|seconds| crate::oauth::OAuthError::slow_down("address", seconds))?;
        Ok(true)
    }

    /// The error page for `problem`; its status follows from the problem (`respond.rs`).
    fn problem(&self, problem: respond::Problem<'_>) -> HttpResponse {
        respond::problem(&self.pages, problem)
    }

    /// Whether anyone may make their own account (`--signup open`): only then does the
    /// sign-in page link to `/signup`.
    fn signup_open(&self) -> bool {
        self.signup == SignUp::Open && self.signup_served()
    }

    /// Whether users may sign in with a password (`--password-login on`, the default).
    fn password_login_on(&self) -> bool {
        self.password_login == PasswordLogin::On
    }

    /// Whether `/signup` is served at all (`--signup invite` or `open`, with password
    /// sign-in on: a sign-up makes a password account).
    fn signup_served(&self) -> bool {
        self.signup != SignUp::Closed && self.password_login_on()
    }

    /// A storage failure: say so, and promise nothing.
    fn unavailable_page(&self) -> HttpResponse {
        self.problem(respond::Problem::Unavailable)
    }

    /// What the consent page says about a scope: the operator's words, else the built-in
    /// ones for the standard scopes. A storage failure is an error, never the default text.
    fn scope_description(&self, scope: &str) -> Result<Option<String>, StoreError> {
        if let Some(description) = self.store.scope_description(scope)? {
            return Ok(Some(description));
        }
        let built_in = match scope {
            "openid" => "Confirm who you are",
            "profile" => "See your name and username",
            "email" => "See your email address",
            "offline_access" => "Keep access while you are not using the app",
            _ => return Ok(None),
        };
        Ok(Some(built_in.to_owned()))
    }

    fn scopes_supported(&self) -> Result<Vec<String>, StoreError> {
        let mut scopes: Vec<String> = ["openid", "profile", "email", "offline_access"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        let described = self.store.scope_descriptions()?;
        scopes.extend(described.into_iter().map(|(name, _)| name));
        scopes.sort();
        scopes.dedup();
        Ok(scopes)
    }
}

pub fn configure(config: &mut web::ServiceConfig) {
    config.app_data(web::PayloadConfig::new(MAX_BODY_BYTES));
    // The router tries resources in order: the machine-to-machine endpoints that carry
    // nearly all the traffic (token, introspection, userinfo) come first. POST-only endpoints answer any other method with
    // 405 and `Allow: POST`, not a 404.
    post_only(config, "/oauth2/token", token::token);
    post_only(config, "/oauth2/introspect", lifecycle::introspect);
    config
        .route("/oauth2/userinfo", web::get().to(lifecycle::userinfo))
        .route("/oauth2/userinfo", web::post().to(lifecycle::userinfo))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics))
        .route(
            "/.well-known/oauth-authorization-server",
            web::get().to(metadata::authorization_server),
        )
        .route(
            "/.well-known/openid-configuration",
            web::get().to(metadata::openid_configuration),
        )
        .route("/oauth2/jwks", web::get().to(metadata::jwks))
        .route("/oauth2/authorize", web::get().to(authorize::get))
        .route("/oauth2/authorize", web::post().to(authorize::post))
        .route("/account", web::get().to(account::show))
        .route("/login", web::get().to(login::show))
        .route("/login", web::post().to(login::submit))
        .route("/logout", web::get().to(login::sign_out_page))
        .route("/logout", web::post().to(login::logout))
        .route("/oauth2/logout", web::get().to(end_session::get))
        .route("/oauth2/logout", web::post().to(end_session::post))
        .route("/signup", web::get().to(signup::show))
        .route("/signup", web::post().to(signup::submit))
        .route("/reset", web::get().to(reset::show))
        .route("/reset", web::post().to(reset::submit))
        .route("/reset/done", web::get().to(reset::done))
        .route("/static/style.css", web::get().to(stylesheet))
        .route("/static/copy.js", web::get().to(copy_script))
        .route("/demo", web::get().to(demo::start))
        .route("/demo/callback", web::get().to(demo::callback))
        .route(
            "/upstream/{name}/callback",
            web::get().to(upstream::callback),
        );
    post_only(config, "/upstream/{name}/start", upstream::start);
    post_only(config, "/oauth2/register", registration::register);
    config.service(
        web::resource("/oauth2/register/{client_id}")
            .route(web::get().to(registration::read))
            .route(web::put().to(registration::update))
            .route(web::delete().to(registration::delete))
            .default_service(web::to(|| async {
                HttpResponse::MethodNotAllowed()
                    .insert_header(("Allow", "GET, PUT, DELETE"))
                    .insert_header(("Cache-Control", "no-store"))
                    .finish()
            })),
    );
    post_only(config, "/oauth2/consent", authorize::decide);
    post_only(config, "/oauth2/revoke", lifecycle::revoke);
    post_only(config, "/account/api-keys", account::create_key);
    post_only(config, "/account/api-keys/delete", account::delete_key);
    post_only(config, "/account/apps/revoke", account::revoke_app);
    post_only(config, "/account/password", account::change_password);
    // After /account/apps/revoke, which would otherwise be taken for an app's id.
    config
        .route("/account/apps", web::get().to(developer::list))
        .route("/account/apps", web::post().to(developer::create))
        .route("/account/apps/{id}", web::get().to(developer::show))
        .route("/account/apps/{id}", web::post().to(developer::update));
    post_only(
        config,
        "/account/apps/{id}/secret",
        developer::rotate_secret,
    );
    post_only(config, "/account/apps/{id}/delete", developer::delete);
    post_only(config, "/account/identities/unlink", upstream::unlink);
    post_only(
        config,
        "/account/sessions/sign-out-others",
        account::sign_out_others,
    );
}

fn post_only<F, Args>(config: &mut web::ServiceConfig, path: &str, handler: F)
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    config.service(
        web::resource(path)
            .route(web::post().to(handler))
            .default_service(web::to(method_not_allowed)),
    );
}

async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header(("Allow", "POST"))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

/// Any path we do not serve: a page in plain words, not an empty 404.
pub async fn not_found(state: web::Data<AppState>) -> HttpResponse {
    state.problem(respond::Problem::NotFound)
}

/// `/metrics`, for a scraper on the same host only: a request whose client address (the
/// forwarded one behind a trusted proxy) is not loopback gets the 404 page, as if nothing
/// were there. What the counters tell (traffic, backups, failures) is the operator's.
async fn metrics(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    if !state
        .forwarding
        .client_address(&request)
        .to_canonical()
        .is_loopback()
    {
        return state.problem(respond::Problem::NotFound);
    }
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render(state.store.writer_stats()))
}

/// Liveness: 503 once storage has failed, because redb then refuses every write until the
/// process reopens the database; a supervisor that sees it should restart keyward.
async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let failed = state
        .store
        .writer_stats()
        .is_some_and(WriterStats::storage_has_failed);
    if failed {
        return respond::json_bytes(
            StatusCode::SERVICE_UNAVAILABLE,
            br#"{"status":"storage_failed","detail":"writes fail until keyward is restarted"}"#
                .to_vec(),
        );
    }
    respond::json_bytes(StatusCode::OK, br#"{"status":"ok"}"#.to_vec())
}

/// Runs each request inside a `request` span carrying its client address (the forwarded one
/// behind a trusted proxy): every line the request logs, audit events above all, says where
/// it came from (`logging`).
pub fn request_span<S, B>(
    request: actix_web::dev::ServiceRequest,
    service: &S,
) -> impl std::future::Future<Output = Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>>
where
    S: actix_web::dev::Service<
        actix_web::dev::ServiceRequest,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
{
    use tracing::Instrument;
    let address = request
        .app_data::<web::Data<AppState>>()
        .map(|state| state.forwarding.client_address(request.request()));
    let span = match address {
        Some(address) => tracing::info_span!("request", %address),
        None => tracing::info_span!("request"),
    };
    service.call(request).instrument(span)
}

/// Whether this process should be sent requests: storage writable, the signing keys loaded
/// (one active per algorithm), not shutting down. `/healthz` says only whether it is alive.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let not_ready = |reason: &str, detail: &str| {
        respond::json(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({"status": reason, "detail": detail}),
        )
    };
    if state
        .shutting_down
        .load(std::sync::atomic::Ordering::Acquire)
    {
        return not_ready("shutting_down", "the server is stopping");
    }
    if state
        .store
        .writer_stats()
        .is_some_and(WriterStats::storage_has_failed)
    {
        return not_ready("storage_failed", "writes fail until keyward is restarted");
    }
    let keys_loaded = state
        .tokens
        .id_tokens()
        .key_ring()
        .keys()
        .is_ok_and(|keys| {
            crate::model::SigningAlg::ALL
                .iter()
                .all(|alg| keys.active(*alg).is_some())
        });
    if !keys_loaded {
        return not_ready("keys_unavailable", "the signing keys are not loaded");
    }
    respond::json_bytes(StatusCode::OK, br#"{"status":"ready"}"#.to_vec())
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .content_type("text/css; charset=utf-8")
        .body(Pages::stylesheet())
}

async fn copy_script() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .content_type("text/javascript; charset=utf-8")
        .body(Pages::copy_script())
}
