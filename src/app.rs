//! The composition root: the one place that knows every module. It opens the store, builds
//! the state, binds the listeners, runs the HTTP server and the admin socket, and on
//! shutdown stops both, lets in-flight requests finish, and closes the database.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use actix_web::{web, App, HttpServer};

use crate::admin::{self, socket, AdminOutput, AdminRequest, ClientCreateRequest, ServerInfoView};
use crate::config::{DemoClient, ServeConfig};
use crate::demo::DemoApp;
use crate::http::{self, AppState, StateConfig};
use crate::limits;
use crate::metrics::Metrics;
use crate::model::random_secret;
use crate::oauth::apikeys::UsageLog;
use crate::oidc::keyring::KeyRing;
use crate::store::{OpenError, OpenOptions, ServerSettings, Store};
use crate::sweep;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Open(#[from] OpenError),
    #[error(
        "another keyward server (pid {pid}, listening on {listen}) is already serving {data_dir}; \
         stop it first"
    )]
    AlreadyRunning {
        data_dir: PathBuf,
        pid: u32,
        listen: String,
    },
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot create the admin socket {path}: {source}")]
    AdminSocket {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the HTTP server failed: {0}")]
    Server(std::io::Error),
    #[error("{0}")]
    Setup(String),
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
    let mut interrupt = signal(SignalKind::interrupt()).expect("SIGINT handler installs");
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    tracing::info!("shutting down");
}

/// Upstream URLs on a loopback host are accepted for tests and local setups. A server that
/// starts with one says so at every start, so one that reached production is noticed.
fn warn_about_loopback_upstreams(store: &Store) -> Result<(), ServeError> {
    use std::io::Write;
    let loopback: Vec<String> = store
        .upstreams()
        .map_err(|error| ServeError::Setup(format!("upstreams: {error}")))?
        .into_iter()
        .filter(|upstream| upstream.uses_loopback())
        .map(|upstream| upstream.name.to_string())
        .collect();
    if !loopback.is_empty() {
        // Straight to stderr, like the master key's warning: whatever KEYWARD_LOG says.
        let _ = writeln!(
            std::io::stderr(),
            "warning: upstream(s) {} use URLs on a loopback host; that is for tests and local              setups only",
            loopback.join(", ")
        );
    }
    Ok(())
}

/// Runs the server until `shutdown` resolves. `on_bound` hears the address actually bound
/// (port 0 picks a free one), after everything is ready to serve.
pub async fn serve_with(
    options: OpenOptions,
    config: ServeConfig,
    shutdown: impl Future<Output = ()>,
    on_bound: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    // Before anything can sign or verify a JWT: jsonwebtoken would otherwise install its
    // own provider on first use, and keyward's signing keys would then not sign.
    crate::oidc::keys::install_provider();
    // The port is taken before the store is opened, which may create a new installation:
    // a start that fails for a busy port must leave no data directory, key or database.
    let listener = match std::net::TcpListener::bind(config.listen) {
        Ok(listener) => listener,
        Err(source) => return Err(bind_failed(&options, config.listen, source).await),
    };
    let store = match Store::open(&options) {
        Ok(store) => store,
        Err(OpenError::InUse(path)) => return Err(already_running(&options, path).await),
        Err(error) => return Err(error.into()),
    };
    announce_created(&store);
    let address = listener.local_addr().map_err(ServeError::Server)?;
    let issuer = config
        .issuer
        .clone()
        .unwrap_or_else(|| format!("http://{address}"));
    let admin_listener =
        socket::bind(&options.data_dir).map_err(|source| ServeError::AdminSocket {
            path: socket::socket_path(&options.data_dir),
            source,
        })?;

    // The signing keys, made on the first start of an installation (RSA generation takes a
    // moment, once).
    let keys = Arc::new(
        KeyRing::open(
            store.clone(),
            crate::clock::now(),
            crate::clock::now_millis(),
        )
        .await
        .map_err(|error| ServeError::Setup(format!("signing keys: {error}")))?,
    );
    // Admin commands (a key rotation, an invitation link) read what this server runs with.
    store
        .record_server_settings(ServerSettings {
            issuer: issuer.clone(),
            token_lifetime: config.lifetimes.access_token.as_secs(),
        })
        .await
        .map_err(|error| ServeError::Setup(error.to_string()))?;
    warn_about_loopback_upstreams(&store)?;
    let metrics = Arc::new(Metrics::default());
    let usage = Arc::new(UsageLog::default());
    let state = web::Data::new(
        AppState::new(
            store.clone(),
            StateConfig {
                issuer: issuer.clone(),
                lifetimes: config.lifetimes.clone(),
                product_name: config.product_name.clone(),
                trusted_proxies: config.trusted_proxies.clone(),
                cors_origins: config.cors_origins.clone(),
                resources: config.resources.clone(),
                signup: config.signup,
                password_login: config.password_login,
                developer_apps: config.developer_apps,
                developer_app_limit: config.developer_app_limit,
                registration: config.registration,
                client_documents: config.client_documents.clone(),
                rate_limit_address: config.rate_limit_address,
                rate_limit_client: config.rate_limit_client,
                demo: config.demo.as_ref().map(|client| {
                    DemoApp::new(
                        client,
                        &issuer,
                        &format!("http://{}", demo_loopback(address)),
                        store.derived_key("demo flow v1"),
                    )
                }),
                keys,
            },
            metrics.clone(),
            usage.clone(),
        )
        .await,
    );
    let shutting_down = state.shutting_down.clone();
    let workers = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    // Connections are capped below the descriptor limit: at the cap actix stops accepting
    // (new clients wait in the listen backlog) instead of failing accept with EMFILE, and
    // the body deadline frees the slots slow clients take.
    let descriptors = limits::raise_descriptor_limit();
    let per_worker = limits::connections_per_worker(descriptors, workers);
    tracing::info!(
        descriptors,
        connections = per_worker * workers,
        "connection cap"
    );
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            // CORS inside the deadline: a preflight it answers without reading a body
            // still has that body held, and its connection closed, by the deadline.
            .wrap_fn(http::cors)
            .wrap_fn(http::body_deadline)
            .wrap_fn(http::request_span)
            .configure(http::configure)
            .default_service(actix_web::web::to(http::not_found))
    })
    .workers(workers)
    .max_connections(per_worker)
    .disable_signals()
    .shutdown_timeout(30)
    .listen(listener)
    .map_err(ServeError::Server)?
    .run();
    let server_handle = server.handle();
    let mut server_task = tokio::spawn(server);

    let (stop_admin, admin_stopped) = tokio::sync::oneshot::channel::<()>();
    let info = ServerInfoView {
        pid: std::process::id(),
        listen: format!("http://{address}"),
        issuer: issuer.clone(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let admin_task = tokio::spawn(socket::serve(admin_listener, store.clone(), info, async {
        let _ = admin_stopped.await;
    }));

    let (stop_backups, backups_stopped) = tokio::sync::oneshot::channel::<()>();
    let backup_task = config.backups.clone().map(|schedule| {
        tokio::spawn(crate::backup::run(
            store.clone(),
            metrics.clone(),
            schedule,
            async {
                let _ = backups_stopped.await;
            },
        ))
    });
    let (stop_sweeper, sweeper_stopped) = tokio::sync::oneshot::channel::<()>();
    let sweeper_task = tokio::spawn(sweep::run(
        store.clone(),
        metrics,
        usage,
        config.sweep_interval,
        config.registration_unused_ttl,
        async {
            let _ = sweeper_stopped.await;
        },
    ));

    // Poll the shutdown future once before anyone learns the address: `shutdown_signal`
    // installs its SIGTERM and SIGINT handlers on its first poll, and a signal sent between
    // "listening" and that poll would otherwise kill the process without a clean close.
    let mut shutdown = std::pin::pin!(shutdown);
    let asked_already = std::future::poll_fn(|context| {
        std::task::Poll::Ready(shutdown.as_mut().poll(context).is_ready())
    })
    .await;
    tracing::info!(%address, %issuer, data_dir = %options.data_dir.display(), "keyward listening");
    if config.client_documents.insecure_loopback {
        tracing::warn!(
            "INSECURE: --client-metadata-insecure-loopback is set: client metadata documents \
             are fetched from 127.0.0.1 over plain http, or over https without checking the \
             certificate. This flag is for tests; never use it on a server people sign in to"
        );
    }
    on_bound(address);
    let served = if asked_already {
        None
    } else {
        tokio::select! {
            _ = &mut shutdown => None,
            finished = &mut server_task => Some(finished),
        }
    };
    let served = match served {
        Some(finished) => finished,
        None => {
            // Graceful: stop accepting, let in-flight requests finish; /readyz says so at
            // once to whoever balances load onto this process.
            shutting_down.store(true, std::sync::atomic::Ordering::Release);
            server_handle.stop(true).await;
            server_task.await
        }
    };
    let _ = stop_admin.send(());
    let _ = admin_task.await;
    let _ = stop_sweeper.send(());
    let _ = sweeper_task.await;
    // A backup being written is finished first: the store closes after it.
    let _ = stop_backups.send(());
    if let Some(task) = backup_task {
        let _ = task.await;
    }
    let _ = std::fs::remove_file(socket::socket_path(&options.data_dir));
    store
        .close()
        .map_err(|error| ServeError::Setup(error.to_string()))?;
    tracing::info!("database closed");
    match served {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(ServeError::Server(error)),
        Err(join_error) => Err(ServeError::Setup(join_error.to_string())),
    }
}

/// Says on stderr, in one line, that opening `store` started a new installation, if it did:
/// a database is never created in silence, so a mistyped `--data-dir` shows at once.
pub fn announce_created(store: &Store) {
    use std::io::Write;
    if let Some(created) = store.created() {
        // A closed stderr loses the line and nothing else.
        let _ = writeln!(std::io::stderr(), "keyward: {created}");
    }
}

/// A port in use may be held by a server on this same data directory (run twice with the
/// same flags): that is the more useful thing to report.
async fn bind_failed(
    options: &OpenOptions,
    address: SocketAddr,
    source: std::io::Error,
) -> ServeError {
    if source.kind() == std::io::ErrorKind::AddrInUse {
        if let Ok(Some(Ok(AdminOutput::ServerInfo(info)))) =
            socket::request(&options.data_dir, &AdminRequest::ServerInfo).await
        {
            return ServeError::AlreadyRunning {
                data_dir: options.data_dir.clone(),
                pid: info.pid,
                listen: info.listen,
            };
        }
    }
    ServeError::Bind { address, source }
}

async fn already_running(options: &OpenOptions, path: PathBuf) -> ServeError {
    match socket::request(&options.data_dir, &AdminRequest::ServerInfo).await {
        Ok(Some(Ok(AdminOutput::ServerInfo(info)))) => ServeError::AlreadyRunning {
            data_dir: options.data_dir.clone(),
            pid: info.pid,
            listen: info.listen,
        },
        _ => ServeError::Open(OpenError::InUse(path)),
    }
}

/// What `keyward demo` created, to print once the server is up.
pub struct DemoSetup {
    data_dir: PathBuf,
    username: String,
    password: String,
    client_id: String,
    client_secret: String,
}

/// Creates the demo user and client in a fresh data directory, through the same admin
/// operations the CLI uses.
pub async fn demo_setup(
    options: &OpenOptions,
    listen: SocketAddr,
) -> Result<DemoSetup, ServeError> {
    let store = Store::open(options)?;
    let setup_error = |error: admin::AdminError| ServeError::Setup(error.message);
    let password = random_secret()[..16].to_owned();
    admin::execute(
        &store,
        AdminRequest::UserCreate {
            username: "demo".into(),
            email: Some("demo@example.com".into()),
            name: Some("Demo User".into()),
            password: password.clone(),
            email_verified: false,
        },
    )
    .await
    .map_err(setup_error)?;
    let client = admin::execute(
        &store,
        AdminRequest::ClientCreate(ClientCreateRequest {
            name: "Demo app".into(),
            redirect_uris: vec![format!("http://{}/demo/callback", demo_loopback(listen))],
            scope: Some("openid profile email".into()),
            public: false,
            grant_types: Some("authorization_code,refresh_token,client_credentials".into()),
            ..ClientCreateRequest::default()
        }),
    )
    .await
    .map_err(setup_error)?;
    store
        .close()
        .map_err(|error| ServeError::Setup(error.to_string()))?;
    let AdminOutput::ClientSecret(client) = client else {
        return Err(ServeError::Setup("client create returned no secret".into()));
    };
    Ok(DemoSetup {
        data_dir: options.data_dir.clone(),
        username: "demo".into(),
        password,
        client_id: client.client_id,
        client_secret: client.client_secret.unwrap_or_default(),
    })
}

/// The loopback literal of the demo's listen address; a wildcard bind is reached on 127.0.0.1.
fn demo_loopback(listen: SocketAddr) -> SocketAddr {
    if listen.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], listen.port()))
    } else {
        listen
    }
}

impl DemoSetup {
    pub fn client(&self) -> DemoClient {
        DemoClient {
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
        }
    }

    pub fn banner(&self, bound: SocketAddr) -> String {
        let base = format!("http://{}", demo_loopback(bound));
        format!(
            "keyward demo is running at {base}\n\
             (throwaway data in {data_dir}, deleted when you stop it with Ctrl-C)\n\n\
             demo user:      {username} / {password}\n\
             client_id:      {client_id}\n\
             client_secret:  {client_secret}\n\n\
             1. Open the demo app in a browser and press its sign-in button:\n\
             \x20  {base}/demo\n\
             2. Sign in as the demo user and allow the app. It redeems the code (with PKCE),\n\
             \x20  verifies the ID token against {base}/oauth2/jwks, and shows its claims and\n\
             \x20  what userinfo says.\n\
             Or get a token with the client's own credentials:\n\
             \x20  curl -u {client_id}:{client_secret} -d grant_type=client_credentials {base}/oauth2/token\n\
             Admin commands work while it runs:\n\
             \x20  cargo run --release -- --data-dir {data_dir} client list\n",
            data_dir = self.data_dir.display(),
            username = self.username,
            password = self.password,
            client_id = self.client_id,
            client_secret = self.client_secret,
        )
    }
}
