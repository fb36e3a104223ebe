//! Issue 5: group commit is honest. Every request answered with success is durable, even
//! when the server is killed in the middle of a batch.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::forms::{Browser, Callback};
use crate::support::{code_request, register_client, token, DataDir, TestServer, USER_PASSWORD};

#[test]
fn issue_5_sigkill_mid_batch_loses_no_code_that_was_handed_out() {
    let data = DataDir::new();
    data.create_user("ruth", USER_PASSWORD);
    let app = register_client(&data, "Durable", &["https://durable.example/cb"], &[]);
    let server = TestServer::start(&data, &[]);
    let browser = Arc::new(Browser::new());
    let first = browser.approve(
        &code_request(&server, &app, "openid", "s", None),
        "ruth",
        USER_PASSWORD,
        &app.redirect_uri,
    );
    let mut handed_out = vec![first.code().to_owned()];

    // With consent remembered, every authorize request is one durable write (a code) shared
    // with whatever else is in the writer's batch. Eight browsers-worth of concurrency keeps
    // batches full while the server is killed.
    let url = code_request(&server, &app, "openid", "s", None);
    let codes = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (browser, url, codes, stop) =
                (browser.clone(), url.clone(), codes.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let page = browser.get(&url);
                    if page.status != 303 {
                        break;
                    }
                    let location = page.header("location").unwrap_or_default().to_owned();
                    let callback = Callback::parse(&location, "https://durable.example/cb");
                    codes.lock().unwrap().push(callback.code().to_owned());
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1200));
    server.kill_hard();
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.join();
    }
    handed_out.extend(codes.lock().unwrap().drain(..));
    assert!(
        handed_out.len() > 50,
        "too few codes before the kill: {}",
        handed_out.len()
    );

    let restarted = TestServer::start(&data, &[]);
    let lost: Vec<_> = handed_out
        .iter()
        .filter(|code| {
            let reply = token(
                &restarted,
                app.auth(),
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", &app.redirect_uri),
                ],
            );
            reply.status != 200
        })
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} codes handed out before SIGKILL were lost",
        lost.len(),
        handed_out.len()
    );
    assert!(restarted.stop().success());
    // Nothing half-written: every record opens and decodes, every index points somewhere.
    let check = data.run(&["check", "--json"]).json();
    assert_eq!(check["ok"], true, "{check}");
}
