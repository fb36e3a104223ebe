//! Client ID Metadata Documents, fetched (`serve --client-metadata-documents on`): when an
//! authorization request names an https URL as its `client_id`, the document there is
//! fetched, checked (`oauth::documents`) and kept as the stand-in client the rest of
//! keyward works with (`Store::put_document_client`), then reused for as long as its
//! `Cache-Control` allows, within bounds.
//!
//! The fetch is the server asking a URL that anyone chose, so it is held to what a client's
//! document needs and nothing more: https only (`DocumentUrl`), the hosts of
//! `--client-metadata-allow` when any are given, never a private, loopback or link-local
//! address (IP literals are refused up front; names are resolved by `PublicOnly`, which
//! drops every such address from the answer, so the connection can only be to an address
//! that was checked, and a DNS answer that changes between a check and the connection
//! cannot slip past), no proxy, no redirect followed, `MAX_DOCUMENT_BYTES` and
//! `TIMEOUT`, and a per-address budget of fetches. A document that fails any of this, or
//! whose content is refused, stores nothing.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use outbound_http as reqwest;

use crate::model::{is_public_address, truncate_for_message, ClientId, DocumentUrl, UnixTime};
use crate::oauth::documents::{self as rules, MAX_DOCUMENT_BYTES};
use crate::oauth::registration::PlanRefused;
use crate::store::{Store, StoreError};
use crate::throttle::Throttle;

/// The whole fetch, body included: a user is waiting at the authorization endpoint.
pub const TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Fetches of documents keyward has not stored yet that one address may cause, per
/// `FETCH_WINDOW` seconds: enough for people trying agents behind one NAT, too few to make
/// keyward a scanner.
const FETCHES_PER_ADDRESS: u32 = 30;
/// Fetches again of a stored document, per document host and window: its own
/// `Cache-Control` decides how often they come, so they are charged to its host, not to
/// the people signing in (whom a `no-store` document would otherwise lock out together
/// behind one NAT).
const REFETCHES_PER_HOST: u32 = 120;
const FETCH_WINDOW: u64 = 600;
/// New stand-ins stored per hour, whoever asks: what bounds the rows an attacker who mints
/// documents can add (each lives until the sweep of unused ones).
const NEW_CLIENTS_PER_HOUR: u32 = 100;
/// Fetches in flight at once; past it a request is answered 503 at once rather than queued
/// behind documents that do not answer.
const MAX_IN_FLIGHT: usize = 16;
/// The most documents remembered as fresh; past it the memory is emptied (each is then
/// fetched once more), so a flood of URLs cannot grow it without bound.
const MAX_FRESH: usize = 10_000;

/// What the operator set with `serve --client-metadata-*`.
#[derive(Clone, Debug, Default)]
pub struct DocumentPolicy {
    pub enabled: bool,
    /// `--client-metadata-allow`: the hosts documents may come from (lowercase); empty is any
    /// https host with a public address.
    pub allow: Vec<String>,
    /// `--client-metadata-insecure-loopback`, for tests: documents on 127.0.0.1 are fetched
    /// too, over http, or over https without checking the certificate (a test has no
    /// certificate the system trusts; MCP clients insist on an https client_id).
    pub insecure_loopback: bool,
}

/// Why an authorization request's `client_id` URL gave no client. Each says, in a
/// sentence a user can be shown, what is wrong; nothing was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentRefused {
    /// The server does not take client metadata documents.
    Off,
    /// The URL, the document or its client is unusable: 400.
    Invalid(String),
    /// The document could not be fetched: 502 (504 when it timed out).
    Fetch { message: String, timed_out: bool },
    /// This address, this document's host or everyone together caused too many fetches or
    /// new clients lately: 429.
    Throttled { retry_after: u64 },
    /// Too many documents are being fetched right now: 503.
    Busy,
    /// The store failed.
    Unavailable,
}

/// The fetcher and what it remembers. One per server.
pub struct ClientDocuments {
    policy: DocumentPolicy,
    /// `None` when no HTTP client could be made (no root certificates): every fetch fails.
    client: Option<reqwest::Client>,
    /// Under `insecure_loopback` only: the client for documents on 127.0.0.1, which does not
    /// check certificates.
    loopback_client: Option<reqwest::Client>,
    fresh: Mutex<HashMap<ClientId, UnixTime>>,
    fetches: Throttle,
    refetches: Throttle,
    new_clients: Throttle,
    in_flight: tokio::sync::Semaphore,
}

/// A DNS resolver that answers only public addresses. An answer with none is an error
/// that says so (`PrivateAddress`), found again in the fetch's error chain.
struct PublicOnly;

#[derive(Debug)]
struct PrivateAddress;

impl std::fmt::Display for PrivateAddress {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("the name resolves only to private, loopback or link-local addresses")
    }
}

impl std::error::Error for PrivateAddress {}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|address| is_public_address(address.ip()))
                .collect();
            if found.is_empty() {
                return Err(Box::new(PrivateAddress) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A fetched document: its body and its `Cache-Control`.
struct Fetched {
    body: Vec<u8>,
    cache_control: Option<String>,
}

fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(PublicOnly)
        .user_agent(concat!("keyward/", env!("CARGO_PKG_VERSION")))
}

impl ClientDocuments {
    pub fn new(policy: DocumentPolicy) -> ClientDocuments {
        let loopback_client = (policy.enabled && policy.insecure_loopback)
            .then(|| builder().tls_danger_accept_invalid_certs(true).build().ok())
            .flatten();
        let client = if policy.enabled {
            match builder().build() {
                Ok(client) => Some(client),
                Err(error) => {
                    tracing::error!(
                        error = %error,
                        "no HTTP client for client metadata documents (are the system's root \
                         certificates installed? apt-get install ca-certificates): every \
                         document fetch will fail"
                    );
                    None
                }
            }
        } else {
            None
        };
        ClientDocuments {
            policy,
            client,
            loopback_client,
            fresh: Mutex::new(HashMap::new()),
            fetches: Throttle::new(FETCHES_PER_ADDRESS, FETCH_WINDOW, 10_000),
            refetches: Throttle::new(REFETCHES_PER_HOST, FETCH_WINDOW, 10_000),
            new_clients: Throttle::new(NEW_CLIENTS_PER_HOUR, 3600, 1),
            in_flight: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
        }
    }

    pub fn enabled(&self) -> bool {
        self.policy.enabled
    }

    /// Makes sure the client that `client_id` (a URL) names is stored and current: from
    /// memory while its document is fresh, else fetched from `address`'s request.
    pub async fn resolve(
        &self,
        store: &Store,
        client_id: &str,
        address: &str,
        now: UnixTime,
    ) -> Result<(), DocumentRefused> {
        if !self.policy.enabled {
            return Err(DocumentRefused::Off);
        }
        let url = DocumentUrl::parse(client_id, self.policy.insecure_loopback)
            .map_err(|invalid| DocumentRefused::Invalid(invalid.0))?;
        let host = url.host().to_ascii_lowercase();
        if !self.policy.allow.is_empty() && !self.policy.allow.contains(&host) {
            return Err(DocumentRefused::Invalid(format!(
                "this server takes client metadata documents only from {}, not from {host}",
                self.policy.allow.join(", ")
            )));
        }
        let id = url.client_id();
        let stored = store.client(id).map_err(unavailable)?;
        if stored.is_some() && self.is_fresh(id, now) {
            return Ok(());
        }
        let budget = if stored.is_some() {
            self.refetches.reserve(&host, now)
        } else {
            self.fetches.reserve(address, now)
        };
        budget.map_err(|blocked| DocumentRefused::Throttled {
            retry_after: blocked.retry_after,
        })?;
        let fetched = {
            let Ok(_permit) = self.in_flight.try_acquire() else {
                return Err(DocumentRefused::Busy);
            };
            self.fetch(&url).await?
        };
        let registration = rules::read(&url, &fetched.body).map_err(|problem| {
            DocumentRefused::Invalid(format!(
                "the client metadata document at {} cannot be used: {problem}",
                truncate_for_message(url.as_str())
            ))
        })?;
        let planned =
            crate::admin::plan_document_client(store, &registration, &url).map_err(|refused| {
                match refused {
                    PlanRefused::Storage(error) => unavailable(error),
                    PlanRefused::RedirectUri(problem) | PlanRefused::Metadata(problem) => {
                        DocumentRefused::Invalid(format!(
                            "the client metadata document at {} cannot be used: {problem}",
                            truncate_for_message(url.as_str())
                        ))
                    }
                }
            })?;
        let current = stored
            .as_ref()
            .is_some_and(|stored| rules::unchanged(stored, &planned));
        if stored.is_none() {
            self.new_clients
                .reserve("all", now)
                .map_err(|blocked| DocumentRefused::Throttled {
                    retry_after: blocked.retry_after,
                })?;
        }
        if stored.as_ref().is_some_and(|stored| stored.verified) && !current {
            tracing::info!(
                client_id = %id,
                host = %host,
                "a reviewed client metadata document changed: its review mark is cleared"
            );
        }
        if !current {
            store
                .put_document_client(planned)
                .await
                .map_err(unavailable)?;
            tracing::info!(
                client_id = %id,
                host = %host,
                "client metadata document stored"
            );
        }
        self.remember(
            id,
            rules::fresh_until(fetched.cache_control.as_deref(), now),
        );
        Ok(())
    }

    fn is_fresh(&self, id: ClientId, now: UnixTime) -> bool {
        self.lock().get(&id).is_some_and(|until| now < *until)
    }

    fn remember(&self, id: ClientId, until: UnixTime) {
        let mut fresh = self.lock();
        if fresh.len() >= MAX_FRESH {
            fresh.clear();
        }
        fresh.insert(id, until);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ClientId, UnixTime>> {
        self.fresh
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn fetch(&self, url: &DocumentUrl) -> Result<Fetched, DocumentRefused> {
        let shown = truncate_for_message(url.as_str());
        let failed = |what: String, timed_out: bool| DocumentRefused::Fetch {
            message: format!("the client metadata document at {shown} {what}"),
            timed_out,
        };
        let on_loopback = url
            .as_str()
            .strip_prefix("https://127.0.0.1")
            .is_some_and(|rest| rest.starts_with([':', '/']));
        let client = if on_loopback {
            &self.loopback_client
        } else {
            &self.client
        };
        let Some(client) = client else {
            return Err(failed("could not be fetched".into(), false));
        };
        let request = client
            .get(url.as_str())
            .header(reqwest::header::ACCEPT, "application/json");
        let mut response = request
            .send()
            .await
            .map_err(|error| transport(&error, &failed))?;
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            return Err(failed(
                format!(
                    "answered with a redirect (HTTP {status}), which keyward does not follow: \
                     the document must be served at its own URL"
                ),
                false,
            ));
        }
        if status != 200 {
            return Err(failed(format!("answered with HTTP status {status}"), false));
        }
        let too_large = || {
            failed(
                format!(
                    "is larger than the {} KiB a client metadata document may be",
                    MAX_DOCUMENT_BYTES / 1024
                ),
                false,
            )
        };
        if response
            .content_length()
            .is_some_and(|length| length > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(too_large());
        }
        let cache_control = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| transport(&error, &failed))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            body,
            cache_control,
        })
    }
}

fn transport(
    error: &reqwest::Error,
    failed: &impl Fn(String, bool) -> DocumentRefused,
) -> DocumentRefused {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if cause.is::<PrivateAddress>() {
            return failed(
                "is on a host whose name resolves only to private, loopback or link-local \
                 addresses, which keyward never fetches from"
                    .into(),
                false,
            );
        }
        source = cause.source();
    }
    if error.is_timeout() {
        failed(
            format!("did not answer within {} seconds", TIMEOUT.as_secs()),
            true,
        )
    } else {
        failed("could not be reached".into(), false)
    }
}

fn unavailable(error: StoreError) -> DocumentRefused {
    tracing::error!(%error, "a client metadata document could not be stored or read");
    DocumentRefused::Unavailable
}
