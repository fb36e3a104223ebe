//! RFC 8707 resource indicators: which resources a client may ask tokens for, and the
//! audience a token gets. A client may ask for the resources registered for it
//! (`client create --resource`) and those the operator opened to every client
//! (`serve --resource`); a token request on a grant may narrow the grant's resources,
//! never add one.

use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use crate::model::{truncate_for_message, AccessTokenFormat, Client, ResourceUri, Scope};

/// The most resources one request may name.
const MAX_PER_REQUEST: usize = 10;

fn invalid_target(message: String) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidTarget, message)
}

#[derive(Debug, Default, Clone)]
pub struct ResourcePolicy {
    /// `serve --resource`: resources any client may ask for.
    open: Vec<ResourceUri>,
}

impl ResourcePolicy {
    /// `open` are the operator's; the issuer itself is always one (a token for this server
    /// is one for userinfo).
    pub fn new(mut open: Vec<ResourceUri>, issuer: &str) -> ResourcePolicy {
        if let Ok(own) = ResourceUri::parse(issuer) {
            if !open.contains(&own) {
                open.push(own);
            }
        }
        ResourcePolicy { open }
    }

    /// The `resource` parameters of an authorization or client-credentials request, each
    /// one the client may ask for; in the order sent, without repeats.
    pub fn requested(
        &self,
        client: &Client,
        params: &Params,
    ) -> Result<Vec<ResourceUri>, OAuthError> {
        let resources = parse(params)?;
        for resource in &resources {
            if !client.resources.contains(resource) && !self.open.contains(resource) {
                return Err(invalid_target(format!(
                    "the resource '{}' is not one this client may ask for",
                    truncate_for_message(resource.as_str())
                )));
            }
        }
        Ok(resources)
    }
}

/// The `resource` parameters of a token request on a grant: each must be one the grant
/// was made for.
pub fn narrowed(
    granted: &[ResourceUri],
    requested: &[ResourceUri],
) -> Result<Vec<ResourceUri>, OAuthError> {
    for resource in requested {
        if !granted.contains(resource) {
            return Err(invalid_target(format!(
                "the resource '{}' was not part of the authorization request",
                truncate_for_message(resource.as_str())
            )));
        }
    }
    Ok(requested.to_vec())
}

/// The `resource` parameters as sent: well-formed, at most `MAX_PER_REQUEST`.
pub fn parse(params: &Params) -> Result<Vec<ResourceUri>, OAuthError> {
    let values = params.all("resource");
    if values.len() > MAX_PER_REQUEST {
        return Err(invalid_target(format!(
            "at most {MAX_PER_REQUEST} resources may be asked for at once"
        )));
    }
    let mut resources: Vec<ResourceUri> = Vec::with_capacity(values.len());
    for value in values {
        let resource = ResourceUri::parse(value).map_err(|invalid| invalid_target(invalid.0))?;
        if !resources.contains(&resource) {
            resources.push(resource);
        }
    }
    Ok(resources)
}

/// The audience of a token for `resources`: exactly those when the request named any. A
/// JWT-format client that named none gets its first registered resource (RFC 9068 §2.2
/// requires an `aud`) and, when the token carries `openid`, this server (`issuer`), so
/// that the token still opens userinfo, which accepts only tokens meant for it.
pub fn audience(
    client: &Client,
    resources: &[ResourceUri],
    scope: &Scope,
    issuer: &str,
) -> Vec<String> {
    if resources.is_empty() && client.access_token_format == AccessTokenFormat::Jwt {
        let mut audience: Vec<String> = client
            .resources
            .first()
            .map(|resource| resource.as_str().to_owned())
            .into_iter()
            .collect();
        if scope.contains("openid") && !audience.iter().any(|aud| aud == issuer) {
            audience.push(issuer.to_owned());
        }
        return audience;
    }
    resources
        .iter()
        .map(|resource| resource.as_str().to_owned())
        .collect()
}
