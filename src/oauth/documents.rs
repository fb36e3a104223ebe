//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, as the Model
//! Context Protocol's 2025-11-25 authorization spec uses it), as decisions: what a fetched
//! document must say to stand for its client, and for how long it may be reused. Fetching
//! it is `crate::documents`'s; the client it describes is checked by `keyward client
//! create`'s rules and the self-service rules (`admin::plan_document_client`).
//!
//! Such a client is always public: a document is public too, so it cannot carry a shared
//! secret, and keyward does not take signed client assertions. PKCE is therefore required,
//! as for every public client.

use serde_json::Value;

use super::registration::{self, ClientMetadata, NewRegistration, RegistrationError};
use crate::model::{truncate_for_message, Client, DocumentUrl, RedirectUri, UnixTime};

/// The largest document read (the draft's recommended limit, 5 KB): client metadata is a
/// few hundred bytes, and a bigger body is refused before it is buffered.
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
/// How long a document is reused when its answer says nothing about caching.
pub const DEFAULT_FRESHNESS: u64 = 300;
/// The longest a document is reused, whatever its answer says: a client that changes its
/// redirect URIs, or is taken over, is seen within a day.
pub const MAX_FRESHNESS: u64 = 86_400;

/// The metadata of the document at `url`, as `keyward client create` would take it; or
/// what is wrong with it, in a sentence a user can be shown.
///
/// A document is written for every server it meets, so what keyward cannot use is left
/// out rather than refused where the rest still stands: a redirect URI keyward does not
/// take (`http://localhost`, say, which MCP's own example lists beside `127.0.0.1`), as long
/// as one it takes is left; and a `client_uri` or `policy_uri` on another host than the
/// document's, which would otherwise put a host nobody vouched for on the consent page
/// beside the one that did.
pub fn read(url: &DocumentUrl, body: &[u8]) -> Result<NewRegistration, String> {
    let mut value: Value = serde_json::from_slice(body).map_err(|_| "it is not JSON".to_owned())?;
    let Some(object) = value.as_object_mut() else {
        return Err("it is not a JSON object".into());
    };
    // The draft: the document's client_id is its own URL, compared as strings.
    match object.get("client_id") {
        Some(Value::String(client_id)) if client_id == url.as_str() => {}
        Some(Value::String(client_id)) => {
            return Err(format!(
                "its client_id is '{}', not the URL it was fetched from",
                truncate_for_message(client_id)
            ))
        }
        _ => return Err("it has no client_id".into()),
    }
    for secret in ["client_secret", "client_secret_expires_at"] {
        if object.contains_key(secret) {
            return Err(format!(
                "it carries {secret}, but a document anyone can read cannot hold a secret"
            ));
        }
    }
    match object.get("token_endpoint_auth_method") {
        None => {}
        Some(Value::String(method)) if method == "none" => {}
        Some(Value::String(method)) => {
            return Err(format!(
                "its token_endpoint_auth_method is '{}': keyward takes only public clients \
                 (none) from metadata documents",
                truncate_for_message(method)
            ))
        }
        Some(_) => return Err("its token_endpoint_auth_method is not a string".into()),
    }
    // MCP (2025-11-25): a document must name the client; its name is what users are shown.
    match object.get("client_name") {
        Some(Value::String(name)) if !name.trim().is_empty() => {}
        _ => return Err("it has no client_name".into()),
    }
    if let Some(Value::Array(uris)) = object.get("redirect_uris") {
        let mut first_refusal = None;
        let usable: Vec<Value> = uris
            .iter()
            .filter(|uri| match uri.as_str().map(RedirectUri::parse) {
                Some(Ok(_)) => true,
                Some(Err(refused)) => {
                    first_refusal.get_or_insert(refused.0);
                    false
                }
                None => {
                    first_refusal.get_or_insert("a redirect URI is not a string".into());
                    false
                }
            })
            .cloned()
            .collect();
        if usable.is_empty() {
            if let Some(refusal) = first_refusal {
                return Err(format!("none of its redirect URIs can be used: {refusal}"));
            }
        }
        object.insert("redirect_uris".into(), Value::Array(usable));
    }
    let host = url.host();
    for page in ["client_uri", "policy_uri"] {
        let same_host = object
            .get(page)
            .and_then(Value::as_str)
            .and_then(|text| url::Url::parse(text).ok())
            .is_some_and(|page| {
                page.host_str()
                    .is_some_and(|page| page.eq_ignore_ascii_case(&host))
            });
        if !same_host {
            object.remove(page);
        }
    }
    let mut metadata: ClientMetadata = serde_json::from_value(value)
        .map_err(|error| format!("its metadata cannot be read ({error})"))?;
    metadata.set_public();
    let (request, _) = registration::to_request(&metadata).map_err(|error| match error {
        RegistrationError::InvalidRedirectUri(message)
        | RegistrationError::InvalidMetadata(message)
        | RegistrationError::InvalidToken(message) => message,
        RegistrationError::Storage(error) => error.to_string(),
    })?;
    Ok(request)
}

/// Until when a document fetched at `now` may be reused, from its `Cache-Control`:
/// `no-store` and `no-cache` mean it is fetched again next time; `max-age` is honoured up to
/// `MAX_FRESHNESS`; without either, `DEFAULT_FRESHNESS`.
pub fn fresh_until(cache_control: Option<&str>, now: UnixTime) -> UnixTime {
    let Some(header) = cache_control else {
        return now + DEFAULT_FRESHNESS;
    };
    let mut max_age = None;
    for directive in header.split(',') {
        let directive = directive.trim().to_ascii_lowercase();
        if directive == "no-store" || directive == "no-cache" {
            return now;
        }
        if let Some(seconds) = directive.strip_prefix("max-age=") {
            // A malformed max-age is stale (RFC 9111 §4.2.1).
            max_age = Some(seconds.trim_matches('"').parse::<u64>().unwrap_or(0));
        }
    }
    now + max_age.unwrap_or(DEFAULT_FRESHNESS).min(MAX_FRESHNESS)
}

/// Whether `stored` already says what `planned` (from a newer fetch of its document) says:
/// then nothing needs writing.
pub fn unchanged(stored: &Client, planned: &Client) -> bool {
    stored.name == planned.name
        && stored.redirect_uris == planned.redirect_uris
        && stored.scope == planned.scope
        && stored.grant_types == planned.grant_types
        && stored.homepage == planned.homepage
        && stored.privacy_policy == planned.privacy_policy
        && stored.post_logout_redirect_uris == planned.post_logout_redirect_uris
        && stored.id_token_alg == planned.id_token_alg
        && stored.document == planned.document
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> DocumentUrl {
        DocumentUrl::parse("https://agent.example/client.json", false).unwrap()
    }

    fn document(extra: Value) -> Vec<u8> {
        let mut document = serde_json::json!({
            "client_id": "https://agent.example/client.json",
            "client_name": "Agent",
            "redirect_uris": ["http://127.0.0.1:4000/cb"],
            "grant_types": ["authorization_code", "refresh_token"],
        });
        for (key, value) in extra.as_object().unwrap() {
            document[key] = value.clone();
        }
        serde_json::to_vec(&document).unwrap()
    }

    #[test]
    fn a_document_that_names_itself_is_a_public_client() {
        let request = read(&url(), &document(serde_json::json!({}))).unwrap();
        assert!(request.public);
        assert_eq!(request.name, "Agent");
        assert_eq!(request.redirect_uris, ["http://127.0.0.1:4000/cb"]);
        assert_eq!(request.grant_types, "authorization_code,refresh_token");
        let none = read(
            &url(),
            &document(serde_json::json!({"token_endpoint_auth_method": "none"})),
        );
        assert!(none.unwrap().public);
    }

    #[test]
    fn a_document_is_refused_for_another_client_id_a_secret_or_a_secret_method() {
        let refused = |extra: Value| read(&url(), &document(extra)).unwrap_err();
        assert!(
            refused(serde_json::json!({"client_id": "https://agent.example/other.json"}))
                .contains("not the URL it was fetched from")
        );
        // Byte for byte: a trailing slash or another case is another client.
        assert!(read(
            &url(),
            &document(serde_json::json!({"client_id": "https://AGENT.example/client.json"}))
        )
        .is_err());
        assert!(refused(serde_json::json!({"client_id": 7})).contains("no client_id"));
        assert!(refused(serde_json::json!({"client_secret": "x"})).contains("client_secret"));
        assert!(
            refused(serde_json::json!({"token_endpoint_auth_method": "client_secret_basic"}))
                .contains("only public clients")
        );
        assert!(refused(serde_json::json!({"redirect_uris": []})).contains("redirect_uris"));
        assert!(refused(serde_json::json!({"client_name": ""})).contains("client_name"));
        assert!(refused(serde_json::json!({"client_name": null})).contains("client_name"));
        assert!(
            refused(serde_json::json!({"redirect_uris": ["http://localhost:3000/cb"]}))
                .contains("none of its redirect URIs can be used")
        );
        assert!(
            refused(serde_json::json!({"grant_types": ["client_credentials"]}))
                .contains("client_credentials")
        );
        assert_eq!(read(&url(), b"[1]").unwrap_err(), "it is not a JSON object");
        assert_eq!(read(&url(), b"<html>").unwrap_err(), "it is not JSON");
    }

    #[test]
    fn what_keyward_cannot_use_is_left_out_where_the_rest_still_stands() {
        let request = read(
            &url(),
            &document(serde_json::json!({
                "redirect_uris": ["http://localhost:3000/cb", "http://127.0.0.1:3000/cb"],
                "client_uri": "https://agent.example/about",
                "policy_uri": "https://elsewhere.example/privacy",
            })),
        )
        .unwrap();
        assert_eq!(request.redirect_uris, ["http://127.0.0.1:3000/cb"]);
        assert_eq!(
            request.homepage.as_deref(),
            Some("https://agent.example/about")
        );
        assert_eq!(
            request.privacy_policy, None,
            "another host's page is left out"
        );
        let phishing = read(
            &url(),
            &document(serde_json::json!({"client_uri": "https://bank.example/"})),
        )
        .unwrap();
        assert_eq!(phishing.homepage, None);
    }

    #[test]
    fn cache_control_decides_how_long_a_document_is_reused_within_bounds() {
        assert_eq!(fresh_until(None, 1000), 1000 + DEFAULT_FRESHNESS);
        assert_eq!(fresh_until(Some("public, max-age=60"), 1000), 1060);
        assert_eq!(
            fresh_until(Some("max-age=99999999"), 1000),
            1000 + MAX_FRESHNESS
        );
        assert_eq!(fresh_until(Some("no-store"), 1000), 1000);
        assert_eq!(fresh_until(Some("max-age=60, No-Cache"), 1000), 1000);
        assert_eq!(fresh_until(Some("max-age=soon"), 1000), 1000);
        assert_eq!(fresh_until(Some("private"), 1000), 1000 + DEFAULT_FRESHNESS);
    }
}
