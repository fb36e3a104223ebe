//! Where log lines go and what they look like (`serve --log-format text|json`), and the
//! audit trail.
//!
//! Every HTTP request runs inside a `request` span that carries the client address (the
//! forwarded one behind a trusted proxy), so each line a request causes says where it came
//! from without each call site passing it on. Security events are lines of the target
//! `keyward::audit` with an `event` field (`audit!`): sign-ins and their failures and
//! throttling, consent given and denied, replays that end a grant, revocations, API keys
//! made and deleted, client secrets rotated, and every admin command (by name). They carry
//! ids, never a password, token, code, secret or e-mail address.

use std::io::IsTerminal;

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text per event, for people and journald.
    #[default]
    Text,
    /// One JSON object per line, for log pipelines: `timestamp`, `level`, `target`,
    /// `fields` (with `event` and the ids) and `span` (with `address`).
    Json,
}

/// An audit line: `audit!("sign_in", user_id = %id)`.
#[macro_export]
macro_rules! audit {
    ($event:literal $(, $($field:tt)*)?) => {
        tracing::info!(target: "keyward::audit", event = $event $(, $($field)*)?)
    };
}

/// Installs the subscriber: stderr, `KEYWARD_LOG` for the filter (default `info`).
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEYWARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // When stderr cannot be written (a closed pipe, a full disk, a file-size limit),
        // the subscriber would report it with eprintln!, which panics on the same broken
        // stderr and takes a request down with it. A lost log line must cost nothing more.
        .log_internal_errors(false)
        .with_env_filter(filter);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}
