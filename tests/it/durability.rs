//! Issue 5: group commit is honest. Every request answered with success is durable, even
//! when the server is killed in the middle of a batch; a commit that fails answers 503 to
//! every request of its batch and lands none of them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::forms::{Browser, Callback};
use crate::support::{
    basic_header, code_request, register_client, token, DataDir, TestServer, USER_PASSWORD,
};

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

/// Metrics of a running server, by name.
fn metric(server: &TestServer, name: &str) -> u64 {
    let text = reqwest::blocking::get(server.url("/metrics"))
        .and_then(|response| response.text())
        .expect("metrics answer");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} missing from /metrics"))
        .parse()
        .expect("a number")
}

/// Runs `request` for every item on 16 threads sharing one HTTP client; answers in order.
fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    request: impl Fn(&reqwest::blocking::Client, &T) -> R + Sync,
) -> Vec<R> {
    let http = reqwest::blocking::Client::new();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let answers = Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|scope| {
        for _ in 0..16 {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(index) else { break };
                let answer = request(&http, item);
                answers.lock().unwrap().push((index, answer));
            });
        }
    });
    let mut answers = answers.into_inner().unwrap();
    answers.sort_by_key(|(index, _)| *index);
    answers.into_iter().map(|(_, answer)| answer).collect()
}

#[test]
fn issue_5_a_failed_commit_answers_503_to_its_whole_batch_and_lands_none_of_it() {
    let data = DataDir::new();
    let service = register_client(
        &data,
        "Reports",
        &["https://reports.example/cb"],
        &[
            "--grant-types",
            "client_credentials",
            "--scope",
            "reports:read",
        ],
    );
    let authorization = basic_header(&service.client_id, service.secret());
    let form = |http: &reqwest::blocking::Client, server: &TestServer, path: &str, body: String| {
        let response = http
            .post(server.url(path))
            .header("authorization", &authorization)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .expect("the server answers every request");
        let status = response.status().as_u16();
        (status, response.text().expect("a body"))
    };

    // Access tokens cost no write: mint them all while the disk is fine.
    let server = TestServer::start(&data, &[]);
    let tokens: Vec<String> = in_parallel(&[(); 3000], |http, ()| {
        let (status, body) = form(
            http,
            &server,
            "/oauth2/token",
            "grant_type=client_credentials".into(),
        );
        assert_eq!(status, 200, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        json["access_token"].as_str().unwrap().to_owned()
    });
    assert!(server.stop().success());
    // The first key-making start leaves room at the file's end that redb gives back on the
    // next commit (every start writes one): let the file settle before measuring it, or the
    // limit below would sit above everything the revocations need.
    assert!(TestServer::start(&data, &[]).stop().success());

    // Now the database file may grow only a little: each revocation is one durable write,
    // and once the file must grow past the limit, a batch's commit fails.
    let size = std::fs::metadata(data.path.join("keyward.redb"))
        .expect("the database exists")
        .len();
    let server = TestServer::start_with_file_size_limit(
        &data,
        &["--sweep-interval", "1h"],
        size + 256 * 1024,
    );
    let revoked = in_parallel(&tokens, |http, access_token| {
        form(
            http,
            &server,
            "/oauth2/revoke",
            format!("token={access_token}"),
        )
    });
    let accepted = revoked.iter().filter(|(status, _)| *status == 200).count();
    let refused = revoked.iter().filter(|(status, _)| *status == 503).count();
    assert_eq!(
        accepted + refused,
        tokens.len(),
        "every revocation is either done or refused with 503"
    );
    assert!(
        accepted > 0,
        "no revocation was committed before the disk filled"
    );
    assert!(refused > 0, "the file-size limit never failed a commit");
    for (status, body) in &revoked {
        if *status == 503 {
            let json: serde_json::Value = serde_json::from_str(body).expect("a JSON error");
            assert_eq!(json["error"], "temporarily_unavailable", "{body}");
        }
    }
    // The writer counted exactly the refused requests as jobs of failed batches: every job
    // of a failed batch was answered 503, and nothing else was.
    assert_eq!(
        metric(&server, "keyward_write_failed_jobs_total"),
        refused as u64
    );
    assert!(metric(&server, "keyward_write_failed_batches_total") >= 1);
    // Still serving, and saying that storage failed.
    assert_eq!(server.healthz(), 503);
    assert_eq!(metric(&server, "keyward_storage_failed"), 1);
    // Not ready either, and the health check says so (issue 14).
    let ready = reqwest::blocking::get(server.url("/readyz")).unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    assert!(ready.text().unwrap().contains("storage_failed"));
    let check = data.run(&["healthcheck"]);
    assert_eq!(check.status.code(), Some(1), "{}", check.stderr);
    assert!(check.stderr.contains("storage_failed"), "{}", check.stderr);
    drop(server);

    // After a restart without the limit: every revocation answered 200 holds, and none
    // answered 503 half-landed.
    let server = TestServer::start(&data, &[]);
    assert_eq!(server.healthz(), 200);
    let active = in_parallel(&tokens, |http, access_token| {
        let (status, body) = form(
            http,
            &server,
            "/oauth2/introspect",
            format!("token={access_token}"),
        );
        assert_eq!(status, 200, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        json["active"] == true
    });
    let mismatched: Vec<_> = revoked
        .iter()
        .zip(&active)
        .filter(|((status, _), active)| (*status == 200) == **active)
        .collect();
    assert!(
        mismatched.is_empty(),
        "{} of {} tokens disagree with the answer to their revocation",
        mismatched.len(),
        tokens.len()
    );
    assert!(server.stop().success());
    let check = data.run(&["check", "--json"]).json();
    assert_eq!(check["ok"], true, "{check}");
}
