//! Which web origins a browser app may call keyward from (the Fetch standard's CORS
//! protocol), and for which client. The headers are `http/cors.rs`; this is the decision.
//!
//! An origin is allowed when it is the origin of a redirect URI some client registered, or
//! one the operator added with `serve --cors-origin`. A token or revocation request is
//! narrower: its origin must be one of *its* client's (or an operator's).
//!
//! Why such a request is also refused, not only left without CORS headers: the CORS check
//! only hides an answer from the page. A form-encoded POST is sent without a preflight
//! (Fetch makes a CORS-preflight fetch only for a method or header that is not
//! CORS-safelisted), so it reaches the server from any page and does what it asks. A code
//! redeemed or a refresh token rotated for a page that may not read the answer is lost to
//! it, and its retry is a replay that ends the grant (RFC 9700 §4.14.2). So it is refused
//! here, before anything changes. This is not a defence against other programs: anything
//! but a browser can send any `Origin`, or none.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{PoisonError, RwLock};

use super::client_auth;
use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use crate::model::{truncate_for_message, Client, ClientId};
use crate::store::{Store, StoreError};

/// A web origin, serialized as RFC 6454 §6.2 does and as browsers send it in the `Origin`
/// header: `scheme "://" host [ ":" port ]`, the host lowercase (IDNA as punycode), the
/// scheme's default port left out. Requests are matched byte for byte against this form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin(String);

impl Origin {
    /// The origin of a registered redirect URI. Only http and https URIs have one that a
    /// browser can send: a private-use scheme (`com.example.app:/cb`, RFC 8252 §7.1) has an
    /// opaque origin (RFC 6454 §4: a globally unique identifier), which equals nothing.
    pub fn of_redirect_uri(uri: &str) -> Option<Origin> {
        let url = url::Url::parse(uri).ok()?;
        if !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        match url.origin() {
            origin @ url::Origin::Tuple(..) => Some(Origin(origin.ascii_serialization())),
            url::Origin::Opaque(_) => None,
        }
    }

    /// An origin the operator names (`serve --cors-origin`). It is written as an origin,
    /// not as a URL: no path (not even `/`), query or fragment, so that what is allowed is
    /// plain to see. It must be potentially trustworthy (W3C Secure Contexts, "Is origin
    /// potentially trustworthy?"): https, or http on a loopback host, because whatever a
    /// plain-http page can read, a network attacker who rewrites that page can read too.
    pub fn parse(text: &str) -> Result<Origin, String> {
        let text = text.trim();
        let shown = truncate_for_message(text);
        let example = "like https://app.example.com or http://127.0.0.1:3000";
        if text.contains('*') {
            return Err(format!(
                "'{shown}' has a wildcard: name each origin with its own --cors-origin"
            ));
        }
        let url = url::Url::parse(text).map_err(|_| {
            format!("'{shown}' is not an origin: write scheme://host[:port], {example}")
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "'{shown}' is not an http or https origin ({example})"
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!(
                "'{shown}' has user information; an origin has none"
            ));
        }
        let origin = url.origin().ascii_serialization();
        // The URL parser adds the path `/` itself, so a path, query or fragment is seen in
        // the text: anything after the authority (a backslash is a slash in http URLs).
        let after_scheme = text.split_once("://").map_or("", |(_, rest)| rest);
        if after_scheme.contains(['/', '\\', '?', '#']) {
            return Err(format!(
                "'{shown}' has a path, query or fragment; an origin is scheme://host[:port] \
                 alone: write {origin}"
            ));
        }
        if url.scheme() == "http" && !is_loopback(&url) {
            return Err(format!(
                "'{shown}' is plain http on a host that is not loopback; use https, or http on \
                 localhost, 127.0.0.1 or [::1]"
            ));
        }
        Ok(Origin(origin))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// W3C Secure Contexts, "Is origin potentially trustworthy?": `localhost` and its
/// subdomains, 127.0.0.0/8 and ::1.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(host)) => host == "localhost" || host.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// The allowed origins. The operator's are fixed at start; the registered ones are derived
/// from every client's redirect URIs, rebuilt on the first request after a client write
/// (the store's client generation moved), so a request never lists the clients and a new
/// or deleted client counts from the next request on.
pub struct CorsPolicy {
    store: Store,
    operator: HashSet<String>,
    registered: RwLock<Registered>,
}

#[derive(Default)]
struct Registered {
    /// The client generation this was built at; `None` until the first build.
    generation: Option<u64>,
    /// Each web origin of a registered redirect URI, and the clients that registered it.
    owners: HashMap<String, Vec<ClientId>>,
}

impl CorsPolicy {
    pub fn new(store: Store, operator: &[Origin]) -> CorsPolicy {
        CorsPolicy {
            store,
            operator: operator.iter().map(|origin| origin.0.clone()).collect(),
            registered: RwLock::default(),
        }
    }

    /// Whether `origin` may read what any allowed origin may (userinfo), and be answered a
    /// preflight (which carries no body, so no client: the request itself is checked).
    pub fn allows(&self, origin: &str) -> Result<bool, StoreError> {
        if self.operator.contains(origin) {
            return Ok(true);
        }
        self.with_owners(|owners| owners.contains_key(origin))
    }

    /// Whether a request from `origin` that names `client` (or no client: a personal API
    /// key) may be answered. An operator's origin is trusted as if every client had
    /// registered it; a registered one only for the clients that registered it.
    pub fn allows_for(&self, origin: &str, client: Option<ClientId>) -> Result<bool, StoreError> {
        if self.operator.contains(origin) {
            return Ok(true);
        }
        let Some(client) = client else {
            return Ok(false);
        };
        self.with_owners(|owners| owners.get(origin).is_some_and(|ids| ids.contains(&client)))
    }

    /// A token or revocation request from `origin`: refused unless the origin is allowed for
    /// the client it names, before the client is authenticated or anything is written (see
    /// the module's docs). Naming is enough: a request with the wrong secret fails
    /// authentication next, and its error holds nothing of the client.
    pub fn check_client_request(
        &self,
        origin: &str,
        authorization: Option<&str>,
        params: &Params,
    ) -> Result<(), OAuthError> {
        let named = client_auth::presented(authorization, params)
            .ok()
            .and_then(|presented| ClientId::parse_presented(presented.client_id()).ok());
        if self.allows_for(origin, named)? {
            return Ok(());
        }
        let shown = truncate_for_message(origin);
        // One answer for an unknown client and another client's: which ids exist stays
        // unsaid, here as at authentication.
        Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            match named {
                Some(_) => format!(
                    "this client may not be called from origin '{shown}': only from the origin \
                     of one of its redirect URIs, or one added with serve --cors-origin"
                ),
                None => format!(
                    "a request from origin '{shown}' must name a client with a redirect URI \
                     at that origin, unless the origin was added with serve --cors-origin"
                ),
            },
        ))
    }

    /// Runs `read` on the registered origins, rebuilding them first if a client was
    /// written since they were built.
    fn with_owners<T>(
        &self,
        read: impl FnOnce(&HashMap<String, Vec<ClientId>>) -> T,
    ) -> Result<T, StoreError> {
        let current = self.store.clients_generation();
        {
            let registered = self
                .registered
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if registered.generation == Some(current) {
                return Ok(read(&registered.owners));
            }
        }
        let mut registered = self
            .registered
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        // The generation is read before the clients: a write that commits in between leaves
        // this build marked older than what it holds, and the next request builds again.
        let generation = self.store.clients_generation();
        if registered.generation != Some(generation) {
            registered.owners = owners(&self.store.clients()?);
            registered.generation = Some(generation);
        }
        Ok(read(&registered.owners))
    }
}

fn owners(clients: &[Client]) -> HashMap<String, Vec<ClientId>> {
    let mut owners: HashMap<String, Vec<ClientId>> = HashMap::new();
    for client in clients {
        for uri in &client.redirect_uris {
            if let Some(origin) = Origin::of_redirect_uri(uri.as_str()) {
                let ids = owners.entry(origin.0).or_default();
                if !ids.contains(&client.id) {
                    ids.push(client.id);
                }
            }
        }
    }
    owners
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::tests::{client, store, REDIRECT};

    #[tokio::test]
    async fn origins_follow_the_clients_from_the_next_request_on() {
        let (_dir, store) = store();
        let operator = Origin::parse("https://ops.example").unwrap();
        let policy = CorsPolicy::new(store.clone(), std::slice::from_ref(&operator));
        let origin = Origin::of_redirect_uri(REDIRECT).unwrap();
        let origin = origin.as_str();
        assert!(!policy.allows(origin).unwrap());
        assert!(policy.allows("https://ops.example").unwrap());

        let first = client(&store, true).await;
        let second = client(&store, false).await;
        assert!(
            policy.allows(origin).unwrap(),
            "a new client counts at once"
        );
        assert!(policy.allows_for(origin, Some(first.id)).unwrap());
        assert!(policy.allows_for(origin, Some(second.id)).unwrap());
        // No client named (a personal API key): the operator's origins only.
        assert!(!policy.allows_for(origin, None).unwrap());
        assert!(policy.allows_for("https://ops.example", None).unwrap());
        assert!(!policy
            .allows_for("https://evil.example", Some(first.id))
            .unwrap());

        assert!(store.delete_client(first.id).await.unwrap());
        assert!(!policy.allows_for(origin, Some(first.id)).unwrap());
        assert!(
            policy.allows(origin).unwrap(),
            "the second client still has it"
        );
        assert!(store.delete_client(second.id).await.unwrap());
        assert!(!policy.allows(origin).unwrap());

        let refused = |origin: &str, body: &str| {
            policy
                .check_client_request(origin, None, &Params::parse(body.as_bytes()).unwrap())
                .unwrap_err()
                .code
        };
        let third = client(&store, true).await;
        let named = format!("client_id={}", third.id);
        assert_eq!(
            refused("https://evil.example", &named),
            ErrorCode::UnauthorizedClient
        );
        assert_eq!(
            refused(origin, "grant_type=refresh_token"),
            ErrorCode::UnauthorizedClient
        );
        policy
            .check_client_request(origin, None, &Params::parse(named.as_bytes()).unwrap())
            .unwrap();
    }

    #[test]
    fn redirect_uris_have_the_origin_browsers_send() {
        let origin = |uri: &str| Origin::of_redirect_uri(uri).map(|origin| origin.0);
        assert_eq!(
            origin("https://app.example.com/callback?x=1").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            origin("https://app.example.com:443/cb").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            origin("https://app.example.com:8443/cb").as_deref(),
            Some("https://app.example.com:8443")
        );
        assert_eq!(
            origin("http://127.0.0.1:8081/callback").as_deref(),
            Some("http://127.0.0.1:8081")
        );
        assert_eq!(
            origin("http://[::1]:9000/cb").as_deref(),
            Some("http://[::1]:9000")
        );
        // A stored URI from before the canonical-form rule is still read as browsers would.
        assert_eq!(
            origin("https://App.Example.com/cb").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            origin("https://bücher.example/cb").as_deref(),
            Some("https://xn--bcher-kva.example")
        );
        for none in [
            "com.example.app:/oauth2redirect",
            "com.example.app://callback",
            "not a uri",
        ] {
            assert_eq!(origin(none), None, "{none}");
        }
    }

    #[test]
    fn operator_origins_are_origins_and_nothing_more() {
        let parsed = |text: &str| Origin::parse(text).map(|origin| origin.0);
        assert_eq!(
            parsed("https://app.example.com").as_deref(),
            Ok("https://app.example.com")
        );
        assert_eq!(
            parsed("https://App.Example.com:443").as_deref(),
            Ok("https://app.example.com")
        );
        assert_eq!(
            parsed("https://app.example.com:8443").as_deref(),
            Ok("https://app.example.com:8443")
        );
        assert_eq!(
            parsed("http://localhost:3000").as_deref(),
            Ok("http://localhost:3000")
        );
        assert_eq!(
            parsed("http://[::1]:3000").as_deref(),
            Ok("http://[::1]:3000")
        );
        assert_eq!(
            parsed("http://127.0.0.1:5173").as_deref(),
            Ok("http://127.0.0.1:5173")
        );
        for (bad, says) in [
            ("https://app.example.com/", "path"),
            ("https://app.example.com/spa", "path"),
            ("https://app.example.com?x=1", "query"),
            ("https://app.example.com#top", "fragment"),
            ("https://app.example.com\\x", "path"),
            ("https://*.example.com", "wildcard"),
            ("*", "wildcard"),
            ("null", "not an origin"),
            ("app.example.com", "not an origin"),
            ("", "not an origin"),
            ("ftp://app.example.com", "not an http or https origin"),
            ("com.example.app://x", "not an http or https origin"),
            ("https://user@app.example.com", "user information"),
            ("http://app.example.com", "loopback"),
        ] {
            let error = Origin::parse(bad).expect_err(bad);
            assert!(error.contains(says), "{bad}: {error}");
        }
        assert!(Origin::parse("https://app.example.com/")
            .unwrap_err()
            .contains("write https://app.example.com"));
    }
}
