//! The OAuth 2.0 protocol, free of HTTP: it takes parsed parameters, loaded records and
//! `now`, and returns decisions. Never imports actix or redb.

pub mod account;
pub mod apikeys;
pub mod authorize;
pub mod client_auth;
pub mod consent;
pub mod cors;
pub mod documents;
pub mod error;
pub mod lifecycle;
pub mod params;
pub mod pkce;
pub mod registration;
pub mod reset;
pub mod resources;
pub mod signin;
pub mod signup;
pub mod token;
pub mod tokens;
pub mod upstream;

pub use error::{ErrorCode, OAuthError};
pub use params::Params;

#[cfg(test)]
mod tests;
