//! One integration-test binary: every module drives the real `keyward` binary on a temp
//! data directory and an ephemeral loopback port.

mod core;
mod support;
