//! Issue 14, item 2 (and 8): backups on a schedule, and `keyward restore`. A server with
//! `--backup-every 2s --backup-keep 3` under load keeps exactly three snapshots, each one
//! a whole 0600 redb file that passes `check`; a restore brings back exactly what a backup
//! held, ends every session and every access token issued before it (and every grant with
//! `--end-grants`), keeps the replaced database, and refuses, changing nothing, while a
//! server runs, for a backup sealed under another key, and for a damaged file.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::forms::Browser;
use crate::support::{
    assert_same_files, code_flow_tokens, introspection, refresh_as, register_client, DataDir,
    TestServer, USER_PASSWORD,
};

const REDIRECT: &str = "http://127.0.0.1:9/callback";

fn backups_in(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    found.sort();
    found
}

/// `keyward check` on a copy of `backup`, as the database of a data directory with
/// `data`'s master key.
fn check_backup(data: &DataDir, backup: &Path) -> Value {
    let copy = DataDir::new();
    std::fs::create_dir(&copy.path).unwrap();
    std::fs::set_permissions(&copy.path, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::copy(backup, copy.path.join("keyward.redb")).unwrap();
    std::fs::copy(data.path.join("master.key"), copy.path.join("master.key")).unwrap();
    std::fs::set_permissions(
        copy.path.join("master.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    copy.run(&["check", "--json"]).json()
}

fn metric(server: &TestServer, name: &str) -> Option<f64> {
    let text = reqwest::blocking::get(server.url("/metrics"))
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find(|line| line.starts_with(name) && line[name.len()..].starts_with(' '))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[test]
fn issue_14_scheduled_backups_under_load_keep_exactly_n_each_whole_and_checking() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let app = register_client(&data, "Load", &[], &["--grant-types", "client_credentials"]);
    let backups = data.root().join("backups");
    let server = TestServer::start(
        &data,
        &[
            "--backup-dir",
            backups.to_str().unwrap(),
            "--backup-every",
            "2s",
            "--backup-keep",
            "3",
        ],
    );
    // Load: client-credentials tokens and sign-ups of records while backups run.
    let deadline = Instant::now() + Duration::from_secs(9);
    let mut issued = 0;
    while Instant::now() < deadline {
        let reply =
            crate::support::token(&server, app.auth(), &[("grant_type", "client_credentials")]);
        assert_eq!(reply.status, 200, "{}", reply.body);
        issued += 1;
    }
    assert!(issued > 10);
    let written = metric(&server, "keyward_backups_total").expect("the backup counter");
    assert!(written >= 4.0, "{written} backups in 9 s at one every 2 s");
    assert_eq!(metric(&server, "keyward_backup_failures_total"), Some(0.0));
    assert!(metric(&server, "keyward_backup_age_seconds").is_some_and(|age| age <= 3.0));
    drop(server);

    let found = backups_in(&backups);
    assert_eq!(found.len(), 3, "exactly --backup-keep: {found:?}");
    for backup in &found {
        let name = backup.file_name().unwrap().to_string_lossy();
        assert!(
            name.starts_with("keyward-") && name.ends_with("Z.redb"),
            "a complete backup, named by its time: {name}"
        );
        let mode = std::fs::metadata(backup).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
        let check = check_backup(&data, backup);
        assert_eq!(check["ok"], true, "{name}: {check}");
        assert_eq!(check["tables"]["users"], 1, "{name}: {check}");
    }
    let dir_mode = std::fs::metadata(&backups).unwrap().permissions().mode();
    assert_eq!(dir_mode & 0o777, 0o700);
}

#[test]
fn issue_14_restore_brings_back_what_the_backup_held_and_ends_what_it_cannot_vouch_for() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let app = register_client(&data, "Scores", &[REDIRECT], &[]);
    let resource = register_client(&data, "API", &[], &["--grant-types", "client_credentials"]);
    let server = TestServer::start(&data, &[]);
    let browser = Browser::new();
    let tokens = code_flow_tokens(&server, &browser, &app, "alice", "openid profile");
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let backup = data.root().join("before.redb");
    data.run(&["backup", "--to", backup.to_str().unwrap()]).ok();

    // After the backup: the refresh token revoked, alice's password changed, the client's
    // secret rotated, bob made.
    let revoked = crate::support::post_as_client(
        &server,
        "/oauth2/revoke",
        Some(app.auth()),
        &[("token", &refresh)],
    );
    assert_eq!(revoked.status, 200);
    assert_eq!(refresh_as(&server, &app, &refresh).status, 400);
    data.run_with_stdin(
        &["user", "set-password", "alice", "--password-stdin"],
        "a completely new password\n",
    )
    .ok();
    let rotated = data
        .run(&["client", "rotate-secret", &app.client_id, "--json"])
        .json();
    data.create_user("bob", USER_PASSWORD);
    // Revoking the refresh token ended its grant and so the access token (RFC 7009).
    let ended = introspection(&server, resource.auth(), &access);
    assert_eq!(ended["active"], false, "{ended}");

    // A restore refuses while the server runs, and changes nothing.
    let refused = data.run(&["restore", "--from", backup.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        refused
            .stderr
            .contains("in use by a running keyward server"),
        "{}",
        refused.stderr
    );
    assert!(data.user("bob").is_some());
    drop(server);

    let restored = data
        .run(&["restore", "--from", backup.to_str().unwrap(), "--json"])
        .json();
    let replaced = PathBuf::from(
        restored["replaced"]
            .as_str()
            .expect("the replaced database"),
    );
    assert!(replaced.starts_with(&data.path), "{restored}");
    assert_eq!(restored["before"]["users"], 2, "{restored}");
    assert_eq!(restored["after"]["users"], 1, "{restored}");
    assert_eq!(restored["grants_ended"], Value::Null);
    assert!(
        restored["sessions_ended"].as_u64().unwrap() >= 1,
        "{restored}"
    );
    assert_eq!(
        data.run(&["check", "--json"]).json()["ok"],
        true,
        "the restored database checks"
    );
    // The replaced database is kept whole: bob is in it.
    let aside = check_backup(&data, &replaced);
    assert_eq!(aside["ok"], true, "{aside}");
    assert_eq!(aside["tables"]["users"], 2, "{aside}");

    // Exactly what the backup held: no bob, the old password, the old secret, the grant
    // (its refresh token, revoked after the backup, works again).
    assert!(data.user("bob").is_none());
    let server = TestServer::start(&data, &[]);
    let old_secret = crate::support::App {
        client_secret: app.client_secret.clone(),
        ..app.clone()
    };
    let refreshed = refresh_as(&server, &old_secret, &refresh);
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let new_secret = crate::support::App {
        client_secret: Some(rotated["client_secret"].as_str().unwrap().to_owned()),
        ..app.clone()
    };
    assert_eq!(
        crate::support::introspect(&server, Some(new_secret.auth()), "x").status,
        401,
        "the rotation was undone"
    );
    // The password the backup holds signs in; the one set after it does not.
    let login = Browser::new();
    let page = login.sign_in(&login.get(&server.url("/login")), "alice", USER_PASSWORD);
    assert_eq!(page.status, 303, "{}", page.describe());
    let other = Browser::new();
    let page = other.sign_in(
        &other.get(&server.url("/login")),
        "alice",
        "a completely new password",
    );
    assert_ne!(page.status, 303, "{}", page.describe());
    // Sessions ended: the browser that was signed in before is asked to sign in again.
    let account = browser.get(&server.url("/account"));
    assert!(
        account.is_redirect()
            && account
                .header("location")
                .is_some_and(|to| to.starts_with("/login")),
        "{}",
        account.describe()
    );
    // Access tokens issued before the restore are refused, though their grant is back;
    // new ones work.
    let before = introspection(&server, resource.auth(), &access);
    assert_eq!(before["active"], false, "{before}");
    let new_access = serde_json::from_str::<Value>(&refreshed.body).unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let after = introspection(&server, resource.auth(), &new_access);
    assert_eq!(after["active"], true, "{after}");
    drop(server);

    // --end-grants ends the grant too.
    let ended = data
        .run(&[
            "restore",
            "--from",
            backup.to_str().unwrap(),
            "--end-grants",
            "--json",
        ])
        .json();
    assert_eq!(ended["grants_ended"], 1, "{ended}");
    let server = TestServer::start(&data, &[]);
    assert_eq!(refresh_as(&server, &old_secret, &refresh).status, 400);
}

#[test]
fn issue_14_restore_refuses_a_foreign_key_a_damaged_file_and_bad_flags_changing_nothing() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let other = DataDir::new();
    other.create_user("mallory", USER_PASSWORD);
    let foreign = other.root().join("foreign.redb");
    other
        .run(&["backup", "--to", foreign.to_str().unwrap()])
        .ok();
    let good = data.root().join("good.redb");
    data.run(&["backup", "--to", good.to_str().unwrap()]).ok();
    let damaged = data.root().join("damaged.redb");
    // Every 64th byte of the pages after the header: the trees' pages, whatever their
    // place, fail their checksums.
    let mut bytes = std::fs::read(&good).unwrap();
    let end = bytes.len().min(256 * 1024);
    for index in (4096..end).step_by(64) {
        bytes[index] ^= 0x5a;
    }
    std::fs::write(&damaged, &bytes).unwrap();
    let truncated = data.root().join("truncated.redb");
    std::fs::write(&truncated, &std::fs::read(&good).unwrap()[..8192]).unwrap();
    let not_redb = data.root().join("notes.txt");
    std::fs::write(&not_redb, b"not a database").unwrap();

    let before = data.snapshot();
    for (from, says) in [
        (
            foreign.clone(),
            "was not sealed with this data directory's master key",
        ),
        (damaged.clone(), "damaged"),
        (truncated.clone(), "damaged"),
        (not_redb.clone(), "damaged"),
        (data.root().join("missing.redb"), "cannot read the backup"),
        (data.root().to_path_buf(), "is not a file"),
        (data.path.join("keyward.redb"), "the live database itself"),
    ] {
        let run = data.run(&["restore", "--from", from.to_str().unwrap()]);
        assert!(!run.status.success(), "{}", from.display());
        assert!(
            run.stderr.contains(says) && run.stderr.contains("Nothing was changed"),
            "{}: {}",
            from.display(),
            run.stderr
        );
        assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
        assert_same_files(
            &before,
            &data.snapshot(),
            &format!("restore from {}", from.display()),
        );
    }
    let missing_flag = data.run(&["restore"]);
    assert!(!missing_flag.status.success());
    assert!(
        missing_flag.stderr.contains("--from"),
        "{}",
        missing_flag.stderr
    );
    for (flags, says) in [
        (
            vec!["--backup-every", "1h"],
            "--backup-every needs --backup-dir",
        ),
        (
            vec!["--backup-keep", "3"],
            "--backup-keep needs --backup-dir",
        ),
        (
            vec!["--backup-dir", "/tmp", "--backup-keep", "0"],
            "--backup-keep",
        ),
        (
            vec!["--backup-dir", "/tmp", "--backup-keep", "1001"],
            "--backup-keep",
        ),
        (
            vec!["--backup-dir", "/tmp", "--backup-every", "0s"],
            "--backup-every",
        ),
        (
            vec!["--backup-dir", not_redb.to_str().unwrap()],
            "is not a directory",
        ),
    ] {
        let error = TestServer::try_start(&data, &flags)
            .err()
            .unwrap_or_else(|| panic!("{flags:?} must be refused"));
        assert!(error.contains(says), "{flags:?}: {error}");
    }
    assert_same_files(&before, &data.snapshot(), "refused serve flags");
    // And the good backup restores.
    let restored = data.run(&["restore", "--from", good.to_str().unwrap()]);
    assert!(restored.status.success(), "{}", restored.stderr);
    assert!(data.user("alice").is_some());
}

/// Issue 14, item 6: `/readyz` and `keyward healthcheck` (the 503 of a failed storage is in
/// durability.rs).
#[test]
fn issue_14_readyz_and_healthcheck_say_whether_the_server_can_serve() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let none = data.run(&["healthcheck"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(
        none.stderr.contains("no keyward server is running"),
        "{}",
        none.stderr
    );
    let server = TestServer::start(&data, &[]);
    assert_eq!(server.readyz(), 200);
    let ready: Value = reqwest::blocking::get(server.url("/readyz"))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(ready["status"], "ready");
    let check = data.run(&["healthcheck"]);
    assert!(check.status.success(), "{}", check.stderr);
    assert!(check.stdout.contains(&server.base_url), "{}", check.stdout);
    let json = data.run(&["healthcheck", "--json"]).json();
    assert_eq!(json["status"], "ready");
    drop(server);
    let gone = data.run(&["healthcheck"]);
    assert_eq!(gone.status.code(), Some(1), "{}", gone.stdout);
}

/// Issue 14, item 5 (part): `/metrics` answers a scraper on the same host only; a client
/// forwarded by a trusted proxy from elsewhere gets the 404 page.
#[test]
fn issue_14_metrics_answer_loopback_only() {
    let data = DataDir::new();
    let server = TestServer::start(&data, &["--trusted-proxy", "127.0.0.1"]);
    let local = reqwest::blocking::get(server.url("/metrics")).unwrap();
    assert_eq!(local.status().as_u16(), 200);
    assert!(local.text().unwrap().contains("keyward_sweeps_total"));
    let remote = reqwest::blocking::Client::new()
        .get(server.url("/metrics"))
        .header("X-Forwarded-For", "203.0.113.9")
        .send()
        .unwrap();
    assert_eq!(remote.status().as_u16(), 404);
    assert!(!remote.text().unwrap().contains("keyward_"));
}
