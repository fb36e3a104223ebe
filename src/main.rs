//! A trampoline: set up the panic hook, hand over to the library, exit with its code.

fn main() -> std::process::ExitCode {
    // Logging is set up by `cli::run` once the flags are read (`serve --log-format`).
    // The default hook prints "thread … panicked" and a backtrace hint: noise for an
    // operator, and a crash report for what is often a damaged database that the store
    // catches and reports in plain words. One line through the log says where it was.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|text| (*text).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        let location = info
            .location()
            .map(|location| format!("{}:{}", location.file(), location.line()))
            .unwrap_or_else(|| "an unknown place".to_owned());
        let thread = std::thread::current();
        tracing::error!(
            thread = thread.name().unwrap_or("unnamed"),
            "internal error at {location}: {message}"
        );
    }));
    keyward::cli::run()
}
