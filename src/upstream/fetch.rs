//! Outbound HTTP to upstream providers: discovery documents, key sets, token and userinfo
//! endpoints. Every call has a connect timeout and a total deadline, reads at most
//! `MAX_BODY_BYTES`, follows no redirects (a token endpoint that redirects is
//! misconfigured, and following it could carry the code and secret elsewhere) and ignores
//! proxy variables in the environment. TLS is rustls with the aws-lc-rs provider and the
//! platform's verifier (the system's root certificates), so an operator's private CA works
//! once it is installed there.
//!
//! What fails is said in words a sign-in page can show (`FetchError`'s `Display`); no URL
//! query, code, token or secret is ever part of it.

use std::time::Duration;

// reqwest 0.13, renamed in Cargo.toml so that it does not clash with the tests' reqwest 0.12.
use outbound_http as reqwest;

/// The most a discovery document, key set, token or userinfo response may be. Real ones
/// are a few KiB; a body past this is refused, not buffered.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The whole exchange, body included: a user is waiting on the other side.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a call to an upstream gave no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("could not be reached")]
    Unreachable,
    #[error("did not answer in time")]
    Timeout,
    #[error("answered with HTTP status {0}")]
    Status(u16),
    #[error("sent an answer larger than the {} KiB allowed", MAX_BODY_BYTES / 1024)]
    TooLarge,
    /// The body is not what the protocol says it must be; the text says what is wrong.
    #[error("sent an answer keyward cannot read ({0})")]
    Garbage(String),
}

/// How the client authenticates at a token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the form-urlencoded id and secret, which every server must accept.
    Basic,
    /// `client_id` and `client_secret` in the form body (GitHub documents only this).
    Post,
}

/// The shared outbound client (connection pool and TLS configuration), built once.
#[derive(Clone)]
pub struct Fetcher {
    /// `None` when no client could be made (the TLS verifier found no root certificates):
    /// every call then fails as `Unreachable`, and the server itself keeps serving.
    client: Option<reqwest::Client>,
}

impl Fetcher {
    pub fn new() -> Fetcher {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("keyward/", env!("CARGO_PKG_VERSION")))
            .build();
        let client = match client {
            Ok(client) => Some(client),
            Err(error) => {
                tracing::error!(
                    error = %error,
                    "no HTTP client for upstream providers (are the system's root \
                     certificates installed? apt-get install ca-certificates): sign-in \
                     through an upstream will fail"
                );
                None
            }
        };
        Fetcher { client }
    }

    fn client(&self) -> Result<&reqwest::Client, FetchError> {
        self.client.as_ref().ok_or(FetchError::Unreachable)
    }

    /// GET a JSON document, with a Bearer token when given (a userinfo endpoint).
    pub async fn get_json(
        &self,
        url: &str,
        bearer: Option<&str>,
    ) -> Result<serde_json::Value, FetchError> {
        let mut request = self
            .client()?
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let (status, body) = send(request).await?;
        if status != 200 {
            return Err(FetchError::Status(status));
        }
        parse_json(&body)
    }

    /// POST a form to a token endpoint, authenticated as the client. Answers with the JSON
    /// body whatever the status: a 400 carries the OAuth error the caller reports.
    pub async fn post_token_request(
        &self,
        url: &str,
        form: &[(&str, &str)],
        client_id: &str,
        client_secret: &str,
        auth: ClientAuth,
    ) -> Result<(u16, serde_json::Value), FetchError> {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        let mut request = self
            .client()?
            .post(url)
            .header(reqwest::header::ACCEPT, "application/json");
        match auth {
            ClientAuth::Basic => {
                let encode = |text: &str| {
                    form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>()
                };
                request = request.basic_auth(encode(client_id), Some(encode(client_secret)));
            }
            ClientAuth::Post => {
                fields.push(("client_id", client_id));
                fields.push(("client_secret", client_secret));
            }
        }
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let request = request
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        let (status, body) = send(request).await?;
        if !(200..500).contains(&status) {
            return Err(FetchError::Status(status));
        }
        match parse_json(&body) {
            Ok(json) => Ok((status, json)),
            Err(_) if status != 200 => Err(FetchError::Status(status)),
            Err(error) => Err(error),
        }
    }
}

impl Default for Fetcher {
    fn default() -> Fetcher {
        Fetcher::new()
    }
}

/// Sends and reads the body, chunk by chunk, refusing it once it passes the limit.
async fn send(request: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), FetchError> {
    let mut response = request.send().await.map_err(transport)?;
    let status = response.status().as_u16();
    if response
        .content_length()
        .is_some_and(|length| length > MAX_BODY_BYTES as u64)
    {
        return Err(FetchError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

fn transport(error: reqwest::Error) -> FetchError {
    if error.is_timeout() {
        FetchError::Timeout
    } else if error.is_body() || error.is_decode() {
        FetchError::Garbage("the body was cut off".into())
    } else {
        FetchError::Unreachable
    }
}

fn parse_json(body: &[u8]) -> Result<serde_json::Value, FetchError> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value @ serde_json::Value::Object(_)) => Ok(value),
        Ok(_) => Err(FetchError::Garbage("not a JSON object".into())),
        Err(_) => Err(FetchError::Garbage("not JSON".into())),
    }
}
