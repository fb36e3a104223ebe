//! One integration-test binary: every module drives the real `keyward` binary on a temp
//! data directory and an ephemeral loopback port.

mod account;
mod account_page;
mod audit;
mod authorize_errors;
mod backups;
mod browser;
mod cli;
mod core;
mod cors;
mod developer;
mod documents;
mod durability;
mod expiry;
mod flow;
mod forms;
mod grant_security;
mod hardening;
mod jwt_access;
mod lifecycle;
mod node_client;
mod oidc;
mod rate_limits;
mod refresh_grace;
mod registration;
mod reset;
mod signin;
mod signup;
mod support;
mod tidy;
mod token;
mod upgrade;
mod upstream_discord;
mod upstream_oidc;
