//! keyward: an OAuth 2.0 authorization server (OpenID Connect to come) in one binary.
//!
//! Codemap. `cli` parses the command line and runs admin commands, through the running
//! server's `admin::socket` or directly on the file. `admin` holds the one implementation of
//! each admin operation. `app` is the composition root that wires `store`, `http`, the admin
//! socket and the `sweep` task together for `serve`. `http` parses requests and renders
//! (pages through `ui`, templates in `assets/`); `oauth` is the protocol without I/O:
//! authorization requests, grants, PKCE, token formats, revocation, introspection, API keys.
//! `store` is the only module that touches redb: it seals records, keeps the schema, and
//! commits writes in batches on one writer thread. `model` holds validated domain types;
//! `config` validated settings; `clock` the one reading of the wall clock; `password`
//! argon2id on a bounded pool; `throttle` sign-in failure limits; `limits` the descriptor
//! limit and the connection cap under it; `metrics` the `/metrics`
//! counters; `demo` the relying party that `keyward demo` serves at `/demo`; `upstream` the
//! registry's types for signing in through another provider (Discord, GitHub, any OpenID
//! provider) and its presets. Data flows one way: http → oauth → store.
#![forbid(unsafe_code)]

pub mod admin;
pub mod app;
pub mod backup;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod documents;
pub mod http;
pub mod limits;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod oauth;
pub mod oidc;
pub mod password;
pub mod ratelimit;
pub mod seal;
pub mod store;
pub mod sweep;
pub mod throttle;
pub mod ui;
pub mod upstream;
