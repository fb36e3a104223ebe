//! Dynamic client registration (RFC 7591) and its management protocol (RFC 7592), as
//! decisions: what a program may register, the answers, and who may read, change or delete
//! a registration (its registration access token). The client itself is checked by a
//! `PlanClient` step the caller hands in (the HTTP side passes
//! `admin::plan_registered_client`: `keyward client create`'s checks and the self-service
//! rules), so `oauth/` never calls `admin/`.
//!
//! The registration access token is kept only as SHA-256, like every secret here, so the
//! server cannot hand back the one it issued: every read and update answers with a new one
//! (RFC 7592 §3 lets the server rotate it there; the program must keep the newest), and
//! the one it replaces stops working.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::model::{random_secret, Client, ClientId, ClientOrigin, Scope, SecretHash, UnixTime};
use crate::oauth::tokens::OpaqueToken;
use crate::store::{ClientNotUpdated, RegistrationNotStored, Store, StoreError};

/// The largest registration request read: client metadata is a few hundred bytes.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

/// The client metadata of RFC 7591 §2 that keyward acts on. Any other member (logo_uri,
/// tos_uri, contacts, software_id, …) is ignored, as §2 asks of a server that does not
/// support it, and not echoed back.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ClientMetadata {
    redirect_uris: Option<Vec<String>>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    client_name: Option<String>,
    client_uri: Option<String>,
    policy_uri: Option<String>,
    scope: Option<String>,
    id_token_signed_response_alg: Option<String>,
    post_logout_redirect_uris: Option<Vec<String>>,
    /// RFC 7592 §2.2: an update names the client it updates.
    client_id: Option<String>,
}

impl ClientMetadata {
    /// A client metadata document's client: public, whatever the document says (it has
    /// been checked to say nothing else).
    pub(super) fn set_public(&mut self) {
        self.token_endpoint_auth_method = Some("none".into());
    }
}

/// Why a registration request was refused (RFC 7591 §3.2.2, RFC 7592 §2).
#[derive(Debug)]
pub enum RegistrationError {
    /// 401: no valid initial access token, or registration access token.
    InvalidToken(String),
    /// 400 `invalid_redirect_uri`.
    InvalidRedirectUri(String),
    /// 400 `invalid_client_metadata`.
    InvalidMetadata(String),
    Storage(StoreError),
}

impl From<StoreError> for RegistrationError {
    fn from(error: StoreError) -> RegistrationError {
        RegistrationError::Storage(error)
    }
}

fn invalid(message: impl Into<String>) -> RegistrationError {
    RegistrationError::InvalidMetadata(message.into())
}

/// Reads a registration request's body: a JSON object.
pub fn parse_metadata(body: &[u8]) -> Result<ClientMetadata, RegistrationError> {
    if body.len() > MAX_METADATA_BYTES {
        return Err(invalid(format!(
            "the client metadata is larger than {MAX_METADATA_BYTES} bytes"
        )));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| invalid(format!("the body is not JSON: {error}")))?;
    if !value.is_object() {
        return Err(invalid("the client metadata must be a JSON object"));
    }
    serde_json::from_value(value).map_err(|error| invalid(format!("client metadata: {error}")))
}

/// A client a program asks for, as `keyward client create` would take it.
#[derive(Default, Clone, Debug)]
pub struct NewRegistration {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub scope: Option<String>,
    pub public: bool,
    /// Comma-separated, as `--grant-types`.
    pub grant_types: String,
    pub id_token_alg: Option<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub homepage: Option<String>,
    pub privacy_policy: Option<String>,
}

/// Why a planned client was refused: a redirect URI of it, or anything else.
pub enum PlanRefused {
    RedirectUri(String),
    Metadata(String),
    Storage(StoreError),
}

/// Checks a registration and makes the client (with its secret, unless public) without
/// storing it; `extra_scopes` is an initial access token's allowance beyond self-service.
pub type PlanClient =
    fn(&Store, &NewRegistration, Option<&Scope>) -> Result<(Client, Option<String>), PlanRefused>;

/// How a client authenticates at the token endpoint, as RFC 7591 names it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum AuthMethod {
    None,
    Basic,
    Post,
}

impl AuthMethod {
    fn parse(given: Option<&str>) -> Result<AuthMethod, RegistrationError> {
        match given.unwrap_or("client_secret_basic") {
            "none" => Ok(AuthMethod::None),
            "client_secret_basic" => Ok(AuthMethod::Basic),
            "client_secret_post" => Ok(AuthMethod::Post),
            other => Err(invalid(format!(
                "token_endpoint_auth_method '{}' is not supported: use none, \
                 client_secret_basic or client_secret_post",
                crate::model::truncate_for_message(other)
            ))),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::Basic => "client_secret_basic",
            AuthMethod::Post => "client_secret_post",
        }
    }

    /// What a stored client answers to: its secret is accepted either way, so a
    /// confidential client is reported with the default of RFC 7591.
    fn of(client: &Client) -> AuthMethod {
        if client.is_public() {
            AuthMethod::None
        } else {
            AuthMethod::Basic
        }
    }
}

/// The metadata as `client create` would take it, with the method it asked for.
pub(super) fn to_request(
    metadata: &ClientMetadata,
) -> Result<(NewRegistration, AuthMethod), RegistrationError> {
    let method = AuthMethod::parse(metadata.token_endpoint_auth_method.as_deref())?;
    let redirect_uris = metadata.redirect_uris.clone().unwrap_or_default();
    if redirect_uris.is_empty() {
        return Err(RegistrationError::InvalidRedirectUri(
            "redirect_uris is required: the authorization code flow sends the user back to one"
                .into(),
        ));
    }
    let grant_types = metadata
        .grant_types
        .clone()
        .unwrap_or_else(|| vec!["authorization_code".to_owned()]);
    for grant in &grant_types {
        if grant != "authorization_code" && grant != "refresh_token" {
            return Err(invalid(format!(
                "grant type '{}' is not offered to registered clients: only \
                 authorization_code and refresh_token",
                crate::model::truncate_for_message(grant)
            )));
        }
    }
    if !grant_types
        .iter()
        .any(|grant| grant == "authorization_code")
    {
        return Err(invalid("grant_types must include authorization_code"));
    }
    if let Some(types) = &metadata.response_types {
        if types.iter().any(|kind| kind != "code") || types.is_empty() {
            return Err(invalid(
                "response_types must be [\"code\"]: the code flow is the only one",
            ));
        }
    }
    let request = NewRegistration {
        name: metadata
            .client_name
            .clone()
            .unwrap_or_else(|| "Unnamed app".to_owned()),
        redirect_uris,
        scope: metadata
            .scope
            .clone()
            .filter(|scope| !scope.trim().is_empty()),
        public: method == AuthMethod::None,
        grant_types: grant_types.join(","),
        id_token_alg: metadata.id_token_signed_response_alg.clone(),
        post_logout_redirect_uris: metadata
            .post_logout_redirect_uris
            .clone()
            .unwrap_or_default(),
        homepage: metadata.client_uri.clone(),
        privacy_policy: metadata.policy_uri.clone(),
    };
    Ok((request, method))
}

fn refused(refusal: PlanRefused) -> RegistrationError {
    match refusal {
        PlanRefused::RedirectUri(text) => RegistrationError::InvalidRedirectUri(text),
        PlanRefused::Metadata(text) => RegistrationError::InvalidMetadata(text),
        PlanRefused::Storage(error) => RegistrationError::Storage(error),
    }
}

/// The answer of RFC 7591 §3.2.1 (and RFC 7592 §3): the client's metadata as registered,
/// with the secrets just made.
fn information(
    issuer: &str,
    client: &Client,
    method: AuthMethod,
    client_secret: Option<&str>,
    registration_access_token: &str,
) -> Value {
    let mut answer = Map::new();
    answer.insert("client_id".into(), client.id.to_string().into());
    if let Some(secret) = client_secret {
        answer.insert("client_secret".into(), secret.into());
    }
    if !client.is_public() {
        // The secret does not expire.
        answer.insert("client_secret_expires_at".into(), 0.into());
    }
    answer.insert("client_id_issued_at".into(), client.created_at.into());
    answer.insert(
        "registration_access_token".into(),
        registration_access_token.into(),
    );
    answer.insert(
        "registration_client_uri".into(),
        format!("{issuer}/oauth2/register/{}", client.id).into(),
    );
    answer.insert("client_name".into(), client.name.as_str().into());
    answer.insert(
        "redirect_uris".into(),
        client
            .redirect_uris
            .iter()
            .map(|uri| uri.as_str())
            .collect::<Vec<_>>()
            .into(),
    );
    answer.insert("token_endpoint_auth_method".into(), method.as_str().into());
    answer.insert(
        "grant_types".into(),
        client
            .grant_types
            .iter()
            .map(|grant| grant.as_str())
            .collect::<Vec<_>>()
            .into(),
    );
    answer.insert("response_types".into(), json!(["code"]));
    answer.insert("scope".into(), client.scope.to_string().into());
    answer.insert(
        "id_token_signed_response_alg".into(),
        client.id_token_alg.as_str().into(),
    );
    if let Some(homepage) = &client.homepage {
        answer.insert("client_uri".into(), homepage.as_str().into());
    }
    if let Some(policy) = &client.privacy_policy {
        answer.insert("policy_uri".into(), policy.as_str().into());
    }
    if !client.post_logout_redirect_uris.is_empty() {
        answer.insert(
            "post_logout_redirect_uris".into(),
            client
                .post_logout_redirect_uris
                .iter()
                .map(|uri| uri.as_str())
                .collect::<Vec<_>>()
                .into(),
        );
    }
    Value::Object(answer)
}

pub struct Registrar {
    store: Store,
    issuer: String,
    plan: PlanClient,
}

impl Registrar {
    pub fn new(store: Store, issuer: String, plan: PlanClient) -> Registrar {
        Registrar {
            store,
            issuer,
            plan,
        }
    }

    /// RFC 7591 §3: registers a client. `initial_token` is the Bearer token the request
    /// carried; `required` says whether one must be (`--registration token`). A token given
    /// must be valid even where none is required, and its allowance of scopes applies.
    pub async fn register(
        &self,
        metadata: ClientMetadata,
        initial_token: Option<&str>,
        required: bool,
        now: UnixTime,
    ) -> Result<Value, RegistrationError> {
        let bad_token = || {
            RegistrationError::InvalidToken(
                "the initial access token is not valid: it is unknown, revoked, expired or used up"
                    .into(),
            )
        };
        let token = match initial_token {
            Some(text) => {
                let parsed = OpaqueToken::parse(text).ok_or_else(bad_token)?;
                let stored = self
                    .store
                    .registration_token(parsed.id)?
                    .filter(|stored| stored.admits(&parsed.secret, now))
                    .ok_or_else(bad_token)?;
                Some((parsed, stored))
            }
            None if required => {
                return Err(RegistrationError::InvalidToken(
                    "registration here needs an initial access token (Authorization: Bearer)"
                        .into(),
                ))
            }
            None => None,
        };
        let (request, method) = to_request(&metadata)?;
        let extra = token.as_ref().and_then(|(_, stored)| stored.scope.clone());
        let (mut client, secret) =
            (self.plan)(&self.store, &request, extra.as_ref()).map_err(refused)?;
        let registration_token = random_secret();
        client.registration_token_hash = Some(SecretHash::of(&registration_token));
        let answer = information(
            &self.issuer,
            &client,
            method,
            secret.as_deref(),
            &registration_token,
        );
        let client_id = client.id;
        let use_of = token.map(|(parsed, _)| (parsed.id, parsed.secret));
        match self
            .store
            .insert_registered_client(client, use_of, now)
            .await
        {
            Ok(()) => {}
            Err(RegistrationNotStored::TokenNotValid) => return Err(bad_token()),
            Err(RegistrationNotStored::Storage(error)) => return Err(error.into()),
        }
        tracing::info!(%client_id, "client registered at the registration endpoint");
        Ok(answer)
    }

    /// The registered client `client_id` names, if `token` is its registration access
    /// token. Any mismatch (no such client, one not registered here, a wrong token) is the
    /// same 401, so the endpoint says nothing about which clients exist (RFC 7592 §2).
    fn authorized(
        &self,
        client_id: &str,
        token: Option<&str>,
    ) -> Result<Client, RegistrationError> {
        let denied = || {
            RegistrationError::InvalidToken(
                "the registration access token is not valid for this client".into(),
            )
        };
        let token = token.ok_or_else(denied)?;
        let id = ClientId::parse(client_id).map_err(|_| denied())?;
        let client = self.store.client(id)?.ok_or_else(denied)?;
        let matches = client
            .registration_token_hash
            .is_some_and(|hash| hash.matches(token));
        if client.origin != ClientOrigin::Registered || !matches {
            return Err(denied());
        }
        Ok((*client).clone())
    }

    /// RFC 7592 §2.1: the client's registration, with a new registration access token.
    pub async fn read(
        &self,
        client_id: &str,
        token: Option<&str>,
    ) -> Result<Value, RegistrationError> {
        let client = self.authorized(client_id, token)?;
        let method = AuthMethod::of(&client);
        self.rotate_and_answer(client, token.unwrap_or_default(), method, |client| {
            Ok(client.clone())
        })
        .await
    }

    /// RFC 7592 §2.2: replaces the client's metadata with the request's (the same checks
    /// as a registration), keeping its id, secret and grants.
    pub async fn update(
        &self,
        client_id: &str,
        token: Option<&str>,
        metadata: ClientMetadata,
    ) -> Result<Value, RegistrationError> {
        let client = self.authorized(client_id, token)?;
        if metadata.client_id.as_deref() != Some(client_id) {
            return Err(invalid(
                "an update must name the client it updates: client_id is missing or different",
            ));
        }
        let (request, method) = to_request(&metadata)?;
        if (method == AuthMethod::None) != client.is_public() {
            return Err(invalid(
                "token_endpoint_auth_method cannot switch between a public client (none) and \
                 one with a secret; register a new client instead",
            ));
        }
        let (planned, _) = (self.plan)(&self.store, &request, None).map_err(refused)?;
        self.rotate_and_answer(client, token.unwrap_or_default(), method, move |stored| {
            Ok(Client {
                id: stored.id,
                secret_hash: stored.secret_hash,
                previous_secret: stored.previous_secret,
                created_at: stored.created_at,
                origin: stored.origin,
                verified: stored.verified,
                registration_token_hash: stored.registration_token_hash,
                ..planned
            })
        })
        .await
    }

    /// Writes `change` of the client with a new registration access token, checking the
    /// presented one again inside the write (a concurrent rotation wins once).
    async fn rotate_and_answer(
        &self,
        client: Client,
        presented: &str,
        method: AuthMethod,
        change: impl FnOnce(&Client) -> Result<Client, RegistrationError> + Send + 'static,
    ) -> Result<Value, RegistrationError> {
        let next = random_secret();
        let next_hash = SecretHash::of(&next);
        let presented = presented.to_owned();
        let changed = self
            .store
            .update_client(client.id, move |stored| {
                let still = stored
                    .registration_token_hash
                    .is_some_and(|hash| hash.matches(&presented));
                if !still {
                    return Err(RegistrationError::InvalidToken(
                        "the registration access token is not valid for this client".into(),
                    ));
                }
                let mut changed = change(stored)?;
                changed.registration_token_hash = Some(next_hash);
                Ok(changed)
            })
            .await;
        match changed {
            Ok(Ok(client)) => Ok(information(&self.issuer, &client, method, None, &next)),
            Ok(Err(refusal)) => Err(refusal),
            Err(ClientNotUpdated::NoSuchClient) => Err(RegistrationError::InvalidToken(
                "the registration access token is not valid for this client".into(),
            )),
            Err(ClientNotUpdated::Storage(error)) => Err(error.into()),
        }
    }

    /// RFC 7592 §2.3: deletes the client and every grant it holds.
    pub async fn delete(
        &self,
        client_id: &str,
        token: Option<&str>,
    ) -> Result<(), RegistrationError> {
        let client = self.authorized(client_id, token)?;
        self.store.delete_client(client.id).await?;
        tracing::info!(client_id = %client.id, "registered client deleted by its program");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_a_json_object_of_known_shapes() {
        assert!(parse_metadata(b"[]").is_err());
        assert!(parse_metadata(b"not json").is_err());
        assert!(parse_metadata(br#"{"redirect_uris": "https://a.example/cb"}"#).is_err());
        let ignored = parse_metadata(
            br#"{"logo_uri": 5, "contacts": ["x"], "redirect_uris": ["https://a.example/cb"]}"#,
        );
        assert!(ignored.is_ok(), "unknown members are ignored");
        assert!(parse_metadata(&vec![b' '; MAX_METADATA_BYTES + 1]).is_err());
    }

    #[test]
    fn only_the_code_flow_is_offered() {
        let with = |json: &str| to_request(&parse_metadata(json.as_bytes()).unwrap());
        assert!(matches!(
            with(r#"{}"#),
            Err(RegistrationError::InvalidRedirectUri(_))
        ));
        let ok = with(r#"{"redirect_uris": ["https://a.example/cb"]}"#).unwrap();
        assert_eq!(ok.0.grant_types, "authorization_code");
        assert!(!ok.0.public);
        for bad in [
            r#"{"redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials"]}"#,
            r#"{"redirect_uris": ["https://a.example/cb"], "grant_types": ["refresh_token"]}"#,
            r#"{"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}"#,
            r#"{"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}"#,
        ] {
            assert!(
                matches!(with(bad), Err(RegistrationError::InvalidMetadata(_))),
                "{bad}"
            );
        }
        let public = with(r#"{"redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "refresh_token"]}"#).unwrap();
        assert!(public.0.public);
        assert_eq!(public.0.grant_types, "authorization_code,refresh_token");
    }
}
