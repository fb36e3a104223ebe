//! OpenID Connect: signing keys and their rotation, ID tokens, discovery and the claims of
//! userinfo. Like `oauth/`, free of HTTP.

pub mod access_jwt;
pub mod claims;
pub mod hint;
pub mod idtoken;
pub mod keyring;
pub mod keys;
pub mod logout;
pub mod request;
