//! Issue 2: the core — sealed storage, the admin CLI with and without a running server,
//! refusals that change nothing, one server per data directory, durability under SIGKILL.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

use crate::support::{assert_same_files, keyward, run_command, DataDir, Demo, TestServer};

const PASSWORD: &str = "correct horse battery staple";

/// Replaces the values that differ between runs (ids, secrets, times) with their names, so
/// two runs of the same script compare equal when their shapes are.
fn normalize(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let value = match key.as_str() {
                        "client_id" | "client_secret" | "user_id" | "created_at" | "updated_at" => {
                            Value::String(format!("<{key}>"))
                        }
                        "deleted" if value.as_str().is_some_and(|v| v.len() == 32) => {
                            Value::String("<id>".into())
                        }
                        _ => normalize(value),
                    };
                    (key.clone(), value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        other => other.clone(),
    }
}

/// Runs every admin command once and returns each `--json` output.
fn admin_script(data: &DataDir) -> Vec<Value> {
    let mut outputs = Vec::new();
    let created = data
        .run(&[
            "client",
            "create",
            "--name",
            "Score Tracker",
            "--redirect-uri",
            "https://scores.example.com/callback",
            "--redirect-uri",
            "http://127.0.0.1:9000/cb",
            "--scope",
            "openid profile scores:read",
            "--json",
        ])
        .json();
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    assert_eq!(created["client_secret"].as_str().unwrap().len(), 43);
    outputs.push(created);
    let public = data
        .run(&[
            "client",
            "create",
            "--name",
            "Mobile",
            "--redirect-uri",
            "com.example.mobile:/oauth",
            "--public",
            "--json",
        ])
        .json();
    assert!(
        public.get("client_secret").is_none(),
        "public clients have no secret"
    );
    let public_id = public["client_id"].as_str().unwrap().to_owned();
    outputs.push(public);
    outputs.push(data.run(&["client", "list", "--json"]).json());
    outputs.push(data.run(&["client", "show", &client_id, "--json"]).json());
    let rotated = data
        .run(&["client", "rotate-secret", &client_id, "--json"])
        .json();
    assert_ne!(rotated["client_secret"], outputs[0]["client_secret"]);
    outputs.push(rotated);
    outputs.push(data.run(&["--json", "client", "delete", &public_id]).json());
    outputs.push(data.run(&["client", "list", "--json"]).json());
    outputs.push(data.create_user("Alice", PASSWORD));
    outputs.push(
        data.run_with_stdin(
            &[
                "user",
                "create",
                "--username",
                "bob",
                "--email",
                "bob@example.com",
                "--name",
                "Bob B.",
                "--password-stdin",
                "--json",
            ],
            &format!("{PASSWORD}\n"),
        )
        .json(),
    );
    outputs.push(data.run(&["user", "list", "--json"]).json());
    outputs.push(
        data.run_with_stdin(
            &[
                "user",
                "set-password",
                "alice",
                "--password-stdin",
                "--json",
            ],
            "another long password\n",
        )
        .json(),
    );
    outputs.push(data.run(&["user", "delete", "bob", "--json"]).json());
    outputs.push(data.run(&["user", "list", "--json"]).json());
    outputs
}

#[test]
fn issue_2_every_admin_command_round_trips_with_and_without_a_server() {
    let offline = DataDir::new();
    let offline_outputs = admin_script(&offline);

    let online = DataDir::new();
    let server = TestServer::start(&online, &[]);
    let online_outputs = admin_script(&online);
    assert_eq!(server.healthz(), 200);

    let normalized = |outputs: &[Value]| outputs.iter().map(normalize).collect::<Vec<_>>();
    assert_eq!(normalized(&offline_outputs), normalized(&online_outputs));

    let users = &online_outputs[online_outputs.len() - 1]["users"];
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert_eq!(users[0]["username"], "Alice");
    let clients = &online_outputs[6]["clients"];
    assert_eq!(clients.as_array().unwrap().len(), 1);
    assert_eq!(clients[0]["name"], "Score Tracker");
    assert_eq!(clients[0]["scope"], "openid profile scores:read");
    assert_eq!(
        clients[0]["grant_types"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );

    // Human output is the same either way too.
    let human_online = online.run(&["user", "list"]).ok().stdout;
    assert!(server.stop().success());
    let human_offline = online.run(&["user", "list"]).ok().stdout;
    assert_eq!(human_online, human_offline);
    assert!(human_offline.contains("Alice"));
}

#[test]
fn issue_2_data_directory_holds_no_secret_password_or_email_in_plain_text() {
    let data = DataDir::new();
    let secret = data
        .run(&[
            "client",
            "create",
            "--name",
            "App",
            "--redirect-uri",
            "https://app.example/cb",
            "--json",
        ])
        .json()["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let email = "carol.private@example.org";
    data.run_with_stdin(
        &[
            "user",
            "create",
            "--username",
            "carol",
            "--email",
            email,
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    )
    .ok();
    let server = TestServer::start(&data, &[]);
    let rotated = data.run(&["client", "list", "--json"]).json()["clients"][0]["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let second_secret = data
        .run(&["client", "rotate-secret", &rotated, "--json"])
        .json()["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(server.stop().success());

    let files = data.snapshot();
    assert!(files.keys().any(|path| path.ends_with("keyward.redb")));
    for needle in [
        secret.as_str(),
        second_secret.as_str(),
        PASSWORD,
        email,
        "carol.private",
    ] {
        for (path, bytes) in &files {
            assert!(
                !bytes
                    .windows(needle.len())
                    .any(|window| window == needle.as_bytes()),
                "{needle:?} found in plain text in {}",
                path.display()
            );
        }
    }
    // Files are the service user's alone.
    use std::os::unix::fs::PermissionsExt;
    for file in ["keyward.redb", "master.key"] {
        let mode = std::fs::metadata(data.path.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{file} is readable by others: {mode:o}");
    }
}

#[test]
fn issue_2_wrong_or_missing_master_key_is_refused_and_nothing_changes() {
    let data = DataDir::new();
    data.create_user("dave", PASSWORD);
    let key_path = data.path.join("master.key");
    let original_key = std::fs::read(&key_path).unwrap();

    // A different key at the default location.
    std::fs::write(&key_path, [0x42u8; 32]).unwrap();
    let before = data.snapshot();
    let refused = data.run(&["user", "list"]);
    assert!(!refused.status.success());
    assert!(refused.stderr.contains("master key"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&*key_path.to_string_lossy()),
        "{}",
        refused.stderr
    );
    assert_eq!(
        refused.stderr.trim().lines().count(),
        1,
        "{}",
        refused.stderr
    );
    assert_same_files(&before, &data.snapshot(), "a refused open");
    let serve = TestServer::try_start(&data, &[]);
    assert!(serve.is_err(), "serve started with the wrong key");
    assert_same_files(&before, &data.snapshot(), "refused");

    // A wrong key named by KEYWARD_MASTER_KEY_FILE.
    std::fs::write(&key_path, &original_key).unwrap();
    let other_key = data.root().join("other.key");
    std::fs::write(&other_key, [7u8; 32]).unwrap();
    let before = data.snapshot();
    let refused = run_command(
        {
            let mut command = data.command(&["client", "list"]);
            command.env("KEYWARD_MASTER_KEY_FILE", &other_key);
            command
        },
        "",
    );
    assert!(!refused.status.success());
    assert!(refused.stderr.contains("other.key"), "{}", refused.stderr);
    assert_same_files(&before, &data.snapshot(), "refused");

    // A key file that is missing, or not 32 bytes.
    let missing = run_command(
        {
            let mut command = data.command(&["client", "list"]);
            command.env("KEYWARD_MASTER_KEY_FILE", data.root().join("absent.key"));
            command
        },
        "",
    );
    assert!(!missing.status.success());
    assert!(missing.stderr.contains("absent.key"), "{}", missing.stderr);
    std::fs::remove_file(&key_path).unwrap();
    let before = data.snapshot();
    let missing = data.run(&["client", "list"]);
    assert!(!missing.status.success());
    assert!(missing.stderr.contains("not found"), "{}", missing.stderr);
    assert_same_files(
        &before,
        &data.snapshot(),
        "a missing key must not be replaced",
    );
    // 0600, as keyward makes it: a key others can read is refused before its length counts.
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&key_path)
            .and_then(|mut file| file.write_all(&[1u8; 31]))
            .unwrap();
    }
    let short = data.run(&["client", "list"]);
    assert!(!short.status.success());
    assert!(short.stderr.contains("31 bytes"), "{}", short.stderr);

    // The right key, through the systemd credentials directory, works.
    std::fs::remove_file(&key_path).unwrap();
    let credentials = data.root().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    std::fs::write(credentials.join("master.key"), &original_key).unwrap();
    let listed = run_command(
        {
            let mut command = data.command(&["user", "list", "--json"]);
            command.env("CREDENTIALS_DIRECTORY", &credentials);
            command
        },
        "",
    )
    .json();
    assert_eq!(listed["users"][0]["username"], "dave");
}

#[test]
fn issue_2_a_database_from_a_newer_schema_is_refused() {
    let data = DataDir::new();
    data.create_user("erin", PASSWORD);
    {
        // Written as docs/storage-format.md describes the meta table.
        let database = redb::Database::open(data.path.join("keyward.redb")).unwrap();
        let meta: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("meta");
        let transaction = database.begin_write().unwrap();
        transaction
            .open_table(meta)
            .unwrap()
            .insert(b"schema_version".as_slice(), 99u32.to_le_bytes().as_slice())
            .unwrap();
        transaction.commit().unwrap();
    }
    let before = data.snapshot();
    for args in [
        &["user", "list"][..],
        &["serve", "--listen", "127.0.0.1:0"][..],
    ] {
        let refused = data.run(args);
        assert!(!refused.status.success());
        assert!(
            refused.stderr.contains("schema version 99"),
            "{}",
            refused.stderr
        );
        assert!(refused.stderr.contains("newer"), "{}", refused.stderr);
    }
    assert_same_files(&before, &data.snapshot(), "refused");
}

#[test]
fn issue_2_a_second_server_on_the_same_directory_is_refused() {
    let data = DataDir::new();
    let first = TestServer::start(&data, &[]);
    let second = TestServer::try_start(&data, &[]);
    let stderr = second.err().expect("the second server must not start");
    assert!(stderr.contains(&format!("pid {}", first.pid())), "{stderr}");
    assert!(stderr.contains(&first.base_url), "{stderr}");
    assert_eq!(first.healthz(), 200);
    // The first server's admin socket still works after the refused start.
    data.create_user("frank", PASSWORD);
    assert!(first.stop().success());
    assert!(!data.path.join("admin.sock").exists());
    assert_eq!(
        data.run(&["user", "list", "--json"]).json()["users"][0]["username"],
        "frank"
    );
}

#[test]
fn issue_2_malformed_input_exits_non_zero_with_one_line_and_changes_nothing() {
    let data = DataDir::new();
    data.create_user("grace", PASSWORD);
    let client = data
        .run(&[
            "client",
            "create",
            "--name",
            "Base",
            "--redirect-uri",
            "https://base.example/cb",
            "--json",
        ])
        .json();
    let client_id = client["client_id"].as_str().unwrap().to_owned();
    let huge = "x".repeat(5000);
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (
            vec![
                "client",
                "create",
                "--name",
                "A",
                "--redirect-uri",
                "app.example/cb",
            ],
            "",
            "absolute",
        ),
        (
            vec!["client", "create", "--name", "A", "--redirect-uri", "/cb"],
            "",
            "absolute",
        ),
        (
            vec![
                "client",
                "create",
                "--name",
                "A",
                "--redirect-uri",
                "https://a.example/cb#x",
            ],
            "",
            "fragment",
        ),
        (
            vec![
                "client",
                "create",
                "--name",
                "A",
                "--redirect-uri",
                "http://a.example/cb",
            ],
            "",
            "http",
        ),
        (
            vec![
                "client",
                "create",
                "--name",
                "A",
                "--redirect-uri",
                "http://localhost:8080/cb",
            ],
            "",
            "loopback",
        ),
        (
            vec![
                "client",
                "create",
                "--name",
                "A",
                "--redirect-uri",
                "https://*.a.example/cb",
            ],
            "",
            "wildcard",
        ),
        (
            vec![
                "client",
                "create",
                "--name",
                "A",
                "--redirect-uri",
                "myapp:/cb",
            ],
            "",
            "scheme",
        ),
        (
            vec![
                "client",
                "create",
                "--name",
                "A",
                "--redirect-uri",
                "https://u@a.example/cb",
            ],
            "",
            "user information",
        ),
        (
            vec![
                "client",
                "create",
                "--name",
                "A",
                "--redirect-uri",
                "https://a.example/../cb",
            ],
            "",
            "redirect URI",
        ),
        (vec!["client", "create", "--name", "A"], "", "redirect-uri"),
        (
            vec![
                "client",
                "create",
                "--name",
                "",
                "--redirect-uri",
                "https://a.example/cb",
            ],
            "",
            "empty",
        ),
        (
            vec![
                "client",
                "create",
                "--name",
                "   ",
                "--redirect-uri",
                "https://a.example/cb",
            ],
            "",
            "empty",
        ),
        (
            vec![
                "client",
                "create",
                "--name",
                &huge,
                "--redirect-uri",
                "https://a.example/cb",
            ],
            "",
            "longer",
        ),
        (
            vec![
                "client",
                "create",
                "--name",
                "A",
                "--redirect-uri",
                "https://a.example/cb",
                "--public",
                "--grant-types",
                "client_credentials",
            ],
            "",
            "public",
        ),
        (
            vec![
                "client",
                "create",
                "--name",
                "A",
                "--redirect-uri",
                "https://a.example/cb",
                "--grant-types",
                "implicit",
            ],
            "",
            "grant type",
        ),
        (
            vec![
                "client",
                "create",
                "--name",
                "A",
                "--redirect-uri",
                "https://a.example/cb",
                "--scope",
                "bad\"scope",
            ],
            "",
            "scope",
        ),
        (vec!["client", "show", "not-an-id"], "", "client id"),
        (
            vec!["client", "delete", "00000000000000000000000000000000"],
            "",
            "no client",
        ),
        (
            vec![
                "client",
                "rotate-secret",
                "00000000000000000000000000000000",
            ],
            "",
            "no client",
        ),
        (
            vec!["user", "create", "--username", "Grace", "--password-stdin"],
            "long enough password\n",
            "taken",
        ),
        (
            vec!["user", "create", "--username", "", "--password-stdin"],
            "long enough password\n",
            "empty",
        ),
        (
            vec!["user", "create", "--username", &huge, "--password-stdin"],
            "long enough password\n",
            "longer",
        ),
        (
            vec![
                "user",
                "create",
                "--username",
                "new user",
                "--password-stdin",
            ],
            "long enough password\n",
            "may contain",
        ),
        (
            vec!["user", "create", "--username", "henry", "--password-stdin"],
            "short\n",
            "at least",
        ),
        (
            vec!["user", "create", "--username", "henry", "--password-stdin"],
            "",
            "at least",
        ),
        (
            vec![
                "user",
                "create",
                "--username",
                "henry",
                "--password",
                "on the command line",
            ],
            "",
            "command line",
        ),
        (
            vec!["user", "create", "--username", "henry"],
            "long enough password\n",
            "password-stdin",
        ),
        (
            vec![
                "user",
                "create",
                "--username",
                "henry",
                "--email",
                "not-an-email",
                "--password-stdin",
            ],
            "long enough password\n",
            "email",
        ),
        (vec!["user", "delete", "nobody"], "", "no user"),
        (
            vec!["user", "set-password", "nobody", "--password-stdin"],
            "long enough password\n",
            "no user",
        ),
        (vec!["serve", "--code-ttl", "5x"], "", "unit"),
        (vec!["serve", "--issuer", "not a url"], "", "issuer"),
    ];
    let before = data.snapshot();
    for (args, stdin, expected) in &cases {
        let run = data.run_with_stdin(args, stdin);
        assert!(!run.status.success(), "{args:?} succeeded: {}", run.stdout);
        assert!(
            run.stderr.contains(expected),
            "{args:?}: expected {expected:?} in {:?}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{args:?}: {}", run.stderr);
        assert_same_files(&before, &data.snapshot(), &format!("{args:?}"));
    }
    // The same refusals through a running server, and the server keeps serving.
    let server = TestServer::start(&data, &[]);
    for (args, stdin, expected) in cases.iter().filter(|(args, _, _)| args[0] != "serve") {
        let run = data.run_with_stdin(args, stdin);
        assert!(
            !run.status.success(),
            "{args:?} succeeded through the server"
        );
        assert!(run.stderr.contains(expected), "{args:?}: {:?}", run.stderr);
        assert_eq!(
            run.stderr.trim().lines().count(),
            1,
            "{args:?}: {:?}",
            run.stderr
        );
    }
    assert_eq!(server.healthz(), 200);
    assert!(server.stop().success());
    assert_eq!(
        data.run(&["client", "list", "--json"]).json()["clients"][0]["client_id"],
        client_id.as_str()
    );
    assert_eq!(
        data.run(&["user", "list", "--json"]).json()["users"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn issue_2_unusable_data_directories_are_reported() {
    let data = DataDir::new();
    // A regular file where the directory should be.
    std::fs::write(&data.path, b"not a directory").unwrap();
    let run = data.run(&["client", "list"]);
    assert!(!run.status.success());
    assert!(run.stderr.contains("not a directory"), "{}", run.stderr);

    // A directory this user may not read: run as nobody against a root-owned 0700 directory
    // (root ignores permissions, so the test drops privileges rather than chmod alone).
    let locked = DataDir::new();
    locked.create_user("ivy", PASSWORD);
    let before = locked.snapshot();
    let as_nobody = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(crate::support::keyward_binary())
        .arg("--data-dir")
        .arg(&locked.path)
        .args(["user", "list"])
        .output()
        .expect("setpriv runs");
    let stderr = String::from_utf8_lossy(&as_nobody.stderr);
    assert!(
        !as_nobody.status.success(),
        "nobody read the data directory"
    );
    assert!(stderr.contains("Permission denied"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert_same_files(&before, &locked.snapshot(), "unreadable");
}

#[test]
fn issue_2_sigkill_during_a_burst_of_client_creates_loses_nothing_reported() {
    let data = DataDir::new();
    let server = TestServer::start(&data, &[]);
    let path = data.path.clone();
    let workers: Vec<_> = (0..4)
        .map(|worker| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut created = Vec::new();
                for index in 0..200 {
                    let output = keyward()
                        .arg("--data-dir")
                        .arg(&path)
                        .args([
                            "client",
                            "create",
                            "--name",
                            &format!("burst {worker}-{index}"),
                            "--redirect-uri",
                            "https://burst.example/cb",
                            "--json",
                        ])
                        .output()
                        .expect("keyward runs");
                    if output.status.success() {
                        let value: Value = serde_json::from_slice(&output.stdout).unwrap();
                        created.push(value["client_id"].as_str().unwrap().to_owned());
                    } else if created.len() > 3 {
                        break;
                    }
                }
                created
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    server.kill_hard();
    let reported: BTreeSet<String> = workers
        .into_iter()
        .flat_map(|worker| worker.join().unwrap())
        .collect();
    assert!(
        reported.len() > 8,
        "too few creates before the kill: {}",
        reported.len()
    );

    let listed = data.run(&["client", "list", "--json"]).json();
    let stored: BTreeSet<String> = listed["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|client| client["client_id"].as_str().unwrap().to_owned())
        .collect();
    let lost: Vec<_> = reported.difference(&stored).collect();
    assert!(lost.is_empty(), "reported as created but lost: {lost:?}");
    // Nothing half-written: every stored client opens and is whole.
    for client in listed["clients"].as_array().unwrap() {
        assert!(client["name"].as_str().unwrap().starts_with("burst "));
        assert_eq!(client["redirect_uris"][0], "https://burst.example/cb");
    }
    let restarted = TestServer::start(&data, &[]);
    assert_eq!(restarted.healthz(), 200);
    assert!(restarted.stop().success());
}

#[test]
fn issue_2_sigterm_finishes_cleanly_and_closes_the_database() {
    let data = DataDir::new();
    let server = TestServer::start(&data, &[]);
    data.create_user("judy", PASSWORD);
    let log_path = server.stderr_path.clone();
    assert!(server.stop().success());
    let log = std::fs::read_to_string(log_path).unwrap();
    assert!(log.contains("database closed"), "{log}");
    // A cleanly closed file opens read-only without recovery.
    redb::ReadOnlyDatabase::open(data.path.join("keyward.redb")).expect("clean close");
}

#[test]
fn issue_2_demo_prints_credentials_and_serves() {
    let demo = Demo::start();
    assert!(demo.banner.contains(&demo.url("/demo")), "{}", demo.banner);
    let health = reqwest::blocking::get(demo.url("/healthz")).unwrap();
    assert_eq!(health.status(), 200);
    let token: Value = reqwest::blocking::Client::new()
        .post(demo.url("/oauth2/token"))
        .basic_auth(&demo.client_id, Some(&demo.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(token["token_type"], "Bearer");
    let clients = keyward()
        .args(["--data-dir", &demo.data_dir, "client", "list", "--json"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&clients.stdout).contains(&demo.client_id));
    let data_dir = demo.data_dir.clone();
    assert!(demo.stop().success());
    assert!(
        !std::path::Path::new(&data_dir).exists(),
        "demo data was not removed"
    );
}

#[test]
fn backup_while_serving_restores_to_a_working_copy_and_never_overwrites() {
    let data = DataDir::new();
    data.create_user("kim", PASSWORD);
    let server = TestServer::start(&data, &[]);
    data.run(&[
        "client",
        "create",
        "--name",
        "Backed up",
        "--redirect-uri",
        "https://b.example/cb",
    ])
    .ok();
    let backup = data.root().join("snapshot.redb");
    let report = data
        .run(&["backup", "--to", backup.to_str().unwrap(), "--json"])
        .json();
    assert!(report["records"].as_u64().unwrap() >= 4, "{report}");
    let again = data.run(&["backup", "--to", backup.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert_eq!(server.healthz(), 200);
    assert!(server.stop().success());

    let restored = DataDir::new();
    std::fs::create_dir_all(&restored.path).unwrap();
    std::fs::copy(&backup, restored.path.join("keyward.redb")).unwrap();
    std::fs::copy(
        data.path.join("master.key"),
        restored.path.join("master.key"),
    )
    .unwrap();
    let users = restored.run(&["user", "list", "--json"]).json();
    assert_eq!(users["users"][0]["username"], "kim");
    let clients = restored.run(&["client", "list", "--json"]).json();
    assert_eq!(clients["clients"][0]["name"], "Backed up");
    assert!(restored.run(&["check", "--json"]).json()["ok"]
        .as_bool()
        .unwrap());
}

#[test]
fn check_reports_a_tampered_record_and_exits_non_zero() {
    let data = DataDir::new();
    data.create_user("lee", PASSWORD);
    assert!(data.run(&["check", "--json"]).json()["ok"]
        .as_bool()
        .unwrap());
    {
        let database = redb::Database::open(data.path.join("keyward.redb")).unwrap();
        use redb::ReadableTable;
        let users: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("users");
        let transaction = database.begin_write().unwrap();
        {
            let mut table = transaction.open_table(users).unwrap();
            let (key, mut value) = {
                let (key, value) = table.first().unwrap().unwrap();
                (key.value().to_vec(), value.value().to_vec())
            };
            let last = value.len() - 1;
            value[last] ^= 0x01;
            table.insert(key.as_slice(), value.as_slice()).unwrap();
        }
        transaction.commit().unwrap();
    }
    let run = data.run(&["check"]);
    assert!(!run.status.success());
    assert!(run.stdout.contains("problem: users"), "{}", run.stdout);
    assert!(run.stderr.contains("1 problem"), "{}", run.stderr);
}

#[test]
fn cli_output_to_a_closed_pipe_ends_quietly_and_to_a_full_disk_is_one_error_line() {
    let data = DataDir::new();
    data.run(&[
        "client",
        "create",
        "--name",
        "Piped",
        "--redirect-uri",
        "https://piped.example/cb",
    ])
    .ok();

    // `keyward client list | head -0`: the reader is gone before keyward writes.
    let mut child = data
        .command(&["client", "list"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("keyward runs");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("keyward ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{}: {stderr}", output.status);
    assert!(!stderr.contains("panicked"), "{stderr}");

    // /dev/full refuses every write, as a full disk would.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full exists");
    let output = data
        .command(&["client", "list", "--json"])
        .stdout(full)
        .output()
        .expect("keyward runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: cannot write the output"),
        "{stderr}"
    );
}
