//! One integration-test binary: every module drives the real `keyward` binary on a temp
//! data directory and an ephemeral loopback port.

mod authorize_errors;
mod browser;
mod core;
mod flow;
mod forms;
mod support;
mod token;
mod tidy;
