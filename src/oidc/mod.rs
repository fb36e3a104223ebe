//! OpenID Connect: signing keys and their rotation, ID tokens, discovery and the claims of
//! userinfo. Like `oauth/`, free of HTTP.

pub mod keys;
pub mod request;
