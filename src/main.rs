//! A trampoline: set up logging, hand over to the library, exit with its code.

fn main() -> std::process::ExitCode {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        // When stderr cannot be written (a closed pipe, a full disk, a file-size limit),
        // the subscriber would report it with eprintln!, which panics on the same broken
        // stderr and takes a request down with it. A lost log line must cost nothing more.
        .log_internal_errors(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KEYWARD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    keyward::cli::run()
}
