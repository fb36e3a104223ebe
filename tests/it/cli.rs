//! The command line itself: its help text, and which commands may bring a data directory
//! into being (issue 10).

mod clients;
mod upstream;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::{
    assert_same_files, keyward, register_client, run_command, token, DataDir, TestServer,
};

/// One command, subcommand, argument or option as `--help` lists it.
struct Entry {
    section: String,
    name: String,
    description: String,
}

/// The entries of every section of a help text ("Commands:", "Arguments:", "Options:").
/// clap prints an entry either on one line (`  --name <NAME>  Text`) or, when the names are
/// long, with its text indented on the lines below; both are read here.
fn entries(help: &str) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut section = None;
    for line in help.lines() {
        let indent = line.len() - line.trim_start().len();
        if line.trim().is_empty() {
            continue;
        }
        if indent == 0 {
            section = line.strip_suffix(':').map(str::to_owned);
            continue;
        }
        let Some(section) = &section else { continue };
        // Entries start at column 2 (or 6, for a long option beside `-h, --help`); text of
        // the entry above is indented further.
        if indent <= 6 {
            let text = line.trim_start();
            let (name, description) = text.split_once("  ").unwrap_or((text, ""));
            entries.push(Entry {
                section: section.clone(),
                name: name.trim().to_owned(),
                description: description.trim().to_owned(),
            });
        } else if let Some(entry) = entries.last_mut() {
            entry.description.push(' ');
            entry.description.push_str(line.trim());
        }
    }
    entries
}

/// The description without what clap adds by itself (`[default: …]`, `[env: …]`), which is
/// no explanation for an operator.
fn written_text(description: &str) -> String {
    let mut text = description.to_owned();
    for tag in ["[default: ", "[env: ", "[possible values: ", "[aliases: "] {
        while let Some(start) = text.find(tag) {
            let end = text[start..]
                .find(']')
                .map_or(text.len(), |end| start + end + 1);
            text.replace_range(start..end, "");
        }
    }
    text.trim().to_owned()
}

fn help_of(command: &[String]) -> String {
    let output = keyward()
        .args(command)
        .arg("--help")
        .output()
        .expect("keyward runs");
    assert!(output.status.success(), "{command:?} --help failed");
    String::from_utf8(output.stdout).expect("help is UTF-8")
}

#[test]
fn issue_10_every_command_argument_and_option_has_help_text() {
    let mut missing = Vec::new();
    let mut seen = Vec::new();
    let mut pending: Vec<Vec<String>> = vec![Vec::new()];
    while let Some(command) = pending.pop() {
        let help = help_of(&command);
        let shown = format!("keyward {}", command.join(" "));
        let listed = entries(&help);
        assert!(
            listed.iter().any(|entry| entry.section == "Options"),
            "{shown}: no options read from its help:\n{help}"
        );
        for entry in listed {
            if entry.section == "Commands" && entry.name != "help" {
                let mut sub = command.clone();
                sub.push(entry.name.clone());
                pending.push(sub);
            }
            if written_text(&entry.description).is_empty() {
                missing.push(format!("{shown}: {} {}", entry.section, entry.name));
            }
        }
        seen.push(shown);
    }
    // The walk must have reached the leaves, or it proves nothing.
    for leaf in [
        "keyward client list",
        "keyward apikey delete",
        "keyward serve",
    ] {
        assert!(seen.iter().any(|shown| shown == leaf), "{leaf} not walked");
    }
    assert!(
        missing.is_empty(),
        "without help text:\n{}",
        missing.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Issue 10: a data directory is never created by accident.
// ---------------------------------------------------------------------------------------------

/// Every path under `dir`, directories included (an empty directory made by mistake counts),
/// with each file's bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut paths = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return paths;
    };
    for entry in entries {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            paths.insert(path.clone(), None);
            paths.extend(tree(&path));
        } else {
            paths.insert(path.clone(), Some(std::fs::read(&path).expect("read")));
        }
    }
    paths
}

#[track_caller]
fn assert_same_tree(
    before: &BTreeMap<PathBuf, Option<Vec<u8>>>,
    after: &BTreeMap<PathBuf, Option<Vec<u8>>>,
    context: &str,
) {
    let differing: Vec<_> = before
        .keys()
        .chain(after.keys())
        .filter(|path| before.get(*path) != after.get(*path))
        .collect();
    assert!(differing.is_empty(), "{context}: changed: {differing:?}");
}

/// The three ways a data directory can hold no database: it is missing, it is empty, or
/// it holds only a master key (the database was moved away).
fn directories_without_a_database() -> Vec<(&'static str, DataDir)> {
    let missing = DataDir::new();
    let empty = DataDir::new();
    std::fs::create_dir(&empty.path).unwrap();
    let key_only = DataDir::new();
    std::fs::create_dir(&key_only.path).unwrap();
    std::fs::write(key_only.path.join("master.key"), [9u8; 32]).unwrap();
    vec![
        ("a missing directory", missing),
        ("an empty directory", empty),
        ("a directory holding only master.key", key_only),
    ]
}

fn created_line(data: &DataDir) -> String {
    format!(
        "keyward: created a new database at {} and master key {}",
        data.path.join("keyward.redb").display(),
        data.path.join("master.key").display()
    )
}

#[test]
fn issue_10_read_commands_on_a_directory_without_a_database_fail_and_create_nothing() {
    for (what, data) in directories_without_a_database() {
        let backup = data.root().join("backup.redb");
        let backup = backup.to_str().unwrap();
        let reads: Vec<Vec<&str>> = vec![
            vec!["client", "list"],
            vec!["client", "show", "00000000000000000000000000000000"],
            vec!["client", "show", "not-an-id"],
            vec!["user", "list"],
            vec!["user", "show", "alice"],
            // Makes a link, writes nothing: there is no user to make it for.
            vec!["user", "reset-link", "alice", "--issuer", "http://id.test"],
            vec!["scope", "list"],
            vec!["apikey", "list", "--user", "alice"],
            vec!["grant", "list", "--user", "alice"],
            vec!["upstream", "list"],
            vec!["upstream", "show", "corp"],
            vec!["check"],
            vec!["backup", "--to", backup],
            vec!["migrate"],
        ];
        let expected = format!("error: no keyward database at {}", data.path.display());
        for json in [false, true] {
            for args in &reads {
                let mut args = args.clone();
                if json {
                    args.push("--json");
                }
                let before = tree(data.root());
                let run = data.run(&args);
                let context = format!("{args:?} on {what}");
                assert!(!run.status.success(), "{context} succeeded: {}", run.stdout);
                assert!(run.stdout.is_empty(), "{context}: {}", run.stdout);
                assert!(
                    run.stderr.starts_with(&expected),
                    "{context}: {:?}",
                    run.stderr
                );
                assert_eq!(run.stderr.lines().count(), 1, "{context}: {:?}", run.stderr);
                assert_same_tree(&before, &tree(data.root()), &context);
            }
        }
        assert!(!Path::new(backup).exists());
    }
}

#[test]
fn issue_10_create_commands_start_a_new_installation_and_say_so() {
    let creates: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "client",
                "create",
                "--name",
                "First",
                "--redirect-uri",
                "https://first.example/cb",
                "--json",
            ],
            "",
        ),
        (
            vec![
                "user",
                "create",
                "--username",
                "alice",
                "--password-stdin",
                "--json",
            ],
            "a long enough password\n",
        ),
        (
            vec![
                "scope",
                "set",
                "files",
                "--description",
                "Your files",
                "--json",
            ],
            "",
        ),
    ];
    for (args, stdin) in &creates {
        let data = DataDir::new();
        let run = data.run_with_stdin(args, stdin).ok();
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(lines, [created_line(&data)], "{args:?}");
        // stdout is still the one JSON object a script reads.
        let _: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("JSON");
        assert!(data.path.join("keyward.redb").exists());
        assert!(data.path.join("master.key").exists());
        // Only the first write announces: after it, the installation exists.
        let again = data.run_with_stdin(
            &[
                "client",
                "create",
                "--name",
                "Second",
                "--grant-types",
                "client_credentials",
            ],
            "",
        );
        let again = again.ok();
        assert!(again.stderr.is_empty(), "{args:?}: {:?}", again.stderr);
    }

    // An empty directory that exists, and a key the operator named, which is used as it is.
    let data = DataDir::new();
    std::fs::create_dir(&data.path).unwrap();
    let key = data.root().join("operator.key");
    std::fs::write(&key, [5u8; 32]).unwrap();
    // The operator's key is theirs alone (a looser one draws a warning of its own).
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut command = data.command(&["scope", "set", "files", "--description", "Your files"]);
    command.env("KEYWARD_MASTER_KEY_FILE", &key);
    let run = run_command(command, "").ok();
    assert_eq!(
        run.stderr.trim(),
        format!(
            "keyward: created a new database at {} with the existing master key {}",
            data.path.join("keyward.redb").display(),
            key.display()
        )
    );
    assert!(!data.path.join("master.key").exists());
    assert_eq!(std::fs::read(&key).unwrap(), [5u8; 32]);
}

#[test]
fn issue_10_a_client_created_before_the_first_serve_keeps_working() {
    let data = DataDir::new();
    let app = register_client(
        &data,
        "Early",
        &["https://early.example/cb"],
        &["--grant-types", "authorization_code,client_credentials"],
    );
    let server = TestServer::start(&data, &[]);
    let listed = data.run(&["client", "list", "--json"]).json();
    assert_eq!(listed["clients"][0]["client_id"], app.client_id.as_str());
    token(&server, app.auth(), &[("grant_type", "client_credentials")]).ok();
    // The server opened the installation the CLI made: it announced nothing.
    let log_path = server.stderr_path.clone();
    assert!(server.stop().success());
    let log = std::fs::read_to_string(log_path).unwrap();
    assert!(!log.contains("created a new database"), "{log}");
}

#[test]
fn issue_10_serve_on_a_new_directory_says_it_created_one() {
    let data = DataDir::new();
    let server = TestServer::start(&data, &[]);
    let log = std::fs::read_to_string(&server.stderr_path).unwrap();
    assert_eq!(
        log.lines()
            .filter(|line| line.contains("created a new database"))
            .collect::<Vec<_>>(),
        [created_line(&data)],
        "{log}"
    );
    assert!(server.stop().success());
    let restarted = TestServer::start(&data, &[]);
    let log = std::fs::read_to_string(&restarted.stderr_path).unwrap();
    assert!(!log.contains("created a new database"), "{log}");
}

#[test]
fn issue_10_a_refused_write_on_a_directory_without_a_database_creates_nothing() {
    let id = "00000000000000000000000000000000";
    let refused: Vec<(Vec<&str>, &str)> = vec![
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
        ),
        (vec!["client", "create", "--name", "A"], ""),
        (vec!["client", "delete", id], ""),
        (vec!["client", "rotate-secret", id], ""),
        (
            vec!["user", "create", "--username", "alice", "--password-stdin"],
            "short\n",
        ),
        (
            vec!["user", "create", "--username", "alice"],
            "long enough password\n",
        ),
        (vec!["user", "delete", "alice"], ""),
        (
            vec!["user", "set-password", "alice", "--password-stdin"],
            "long enough password\n",
        ),
        (vec!["user", "sign-out", "alice"], ""),
        (vec!["scope", "set", "files", "--description", " "], ""),
        (vec!["scope", "set", "bad\"scope", "--description", "x"], ""),
        (vec!["scope", "delete", "files"], ""),
        (
            vec!["apikey", "create", "--user", "alice", "--name", "k"],
            "",
        ),
        (vec!["apikey", "delete", id], ""),
        (vec!["grant", "revoke", id], ""),
        (vec!["serve", "--issuer", "not a url"], ""),
        (vec!["serve", "--code-ttl", "5x"], ""),
    ];
    for (what, data) in directories_without_a_database() {
        for (args, stdin) in &refused {
            let before = tree(data.root());
            let run = data.run_with_stdin(args, stdin);
            let context = format!("{args:?} on {what}");
            assert!(!run.status.success(), "{context} succeeded");
            assert!(
                run.stderr.starts_with("error: "),
                "{context}: {:?}",
                run.stderr
            );
            assert!(
                !run.stderr.contains("created"),
                "{context}: {:?}",
                run.stderr
            );
            assert_same_tree(&before, &tree(data.root()), &context);
        }
    }
}

#[test]
fn issue_10_serve_on_a_busy_port_leaves_nothing_behind() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    for (what, data) in directories_without_a_database() {
        let before = tree(data.root());
        let run = data.run(&["serve", "--listen", &address]);
        assert!(!run.status.success(), "serve on a busy port, {what}");
        assert!(
            run.stderr
                .starts_with(&format!("error: cannot listen on {address}")),
            "{what}: {:?}",
            run.stderr
        );
        assert_same_tree(&before, &tree(data.root()), what);
    }

    // The port is busy because this very directory is being served: that is what is said.
    let data = DataDir::new();
    let first = TestServer::start(&data, &[]);
    let address = first.base_url.strip_prefix("http://").unwrap().to_owned();
    let run = data.run(&["serve", "--listen", &address]);
    assert!(!run.status.success());
    assert!(
        run.stderr.contains(&format!("pid {}", first.pid())),
        "{:?}",
        run.stderr
    );
    assert_eq!(first.healthz(), 200);
}

// ---------------------------------------------------------------------------------------------
// Issue 11: the OpenID Connect settings of clients and users, stored and shown.
// ---------------------------------------------------------------------------------------------

/// `client create` with every OpenID Connect setting away from its default (duplicates
/// included, which are kept once, in the order first given).
const OIDC_CLIENT: &[&str] = &[
    "client",
    "create",
    "--name",
    "Portal",
    "--redirect-uri",
    "https://portal.example/cb",
    "--id-token-alg",
    "EdDSA",
    "--post-logout-redirect-uri",
    "https://portal.example/bye",
    "--post-logout-redirect-uri",
    "http://127.0.0.1:7000/out",
    "--post-logout-redirect-uri",
    "https://portal.example/bye",
    "--access-token-format",
    "jwt",
    "--resource",
    "https://api.portal.example",
    "--resource",
    "urn:portal:files",
    "--resource",
    "https://api.portal.example",
    "--id-token-claims",
    "--json",
];

/// A client's settings as `--json` shows them, without what differs between two
/// directories (its id and when it was made).
fn settings(client: &serde_json::Value) -> serde_json::Value {
    let mut client = client.clone();
    let object = client.as_object_mut().expect("a client object");
    object.remove("client_id");
    object.remove("created_at");
    client
}

fn client_settings_script(data: &DataDir) -> (serde_json::Value, serde_json::Value, String) {
    let oidc = data.run(OIDC_CLIENT).json();
    let oidc_id = oidc["client_id"].as_str().unwrap().to_owned();
    let plain = data
        .run(&[
            "client",
            "create",
            "--name",
            "Plain",
            "--redirect-uri",
            "https://plain.example/cb",
            "--json",
        ])
        .json();
    let plain_id = plain["client_id"].as_str().unwrap().to_owned();
    let shown = data.run(&["client", "show", &oidc_id, "--json"]).json();
    let listed = data.run(&["client", "list", "--json"]).json();
    let listed_oidc = listed["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|client| client["client_id"] == oidc_id.as_str())
        .expect("listed")
        .clone();
    assert_eq!(listed_oidc, shown, "list and show differ");
    let plain_shown = data.run(&["client", "show", &plain_id, "--json"]).json();
    let human = data.run(&["client", "show", &oidc_id]).ok().stdout;
    (shown, plain_shown, human)
}

#[test]
fn issue_11_client_create_stores_and_shows_the_openid_connect_settings() {
    let offline = DataDir::new();
    let (shown, plain, human) = client_settings_script(&offline);
    assert_eq!(shown["id_token_alg"], "EdDSA", "{shown}");
    assert_eq!(shown["access_token_format"], "jwt", "{shown}");
    assert_eq!(shown["id_token_claims"], true, "{shown}");
    assert_eq!(
        shown["post_logout_redirect_uris"],
        serde_json::json!(["https://portal.example/bye", "http://127.0.0.1:7000/out"]),
        "{shown}"
    );
    // In the order registered: the first is a jwt client's default audience.
    assert_eq!(
        shown["resources"],
        serde_json::json!(["https://api.portal.example", "urn:portal:files"]),
        "{shown}"
    );
    // Without the flags: RS256, opaque, nothing else.
    assert_eq!(plain["id_token_alg"], "RS256", "{plain}");
    assert_eq!(plain["access_token_format"], "opaque", "{plain}");
    assert_eq!(plain["id_token_claims"], false, "{plain}");
    assert_eq!(plain["resources"], serde_json::json!([]), "{plain}");
    assert_eq!(
        plain["post_logout_redirect_uris"],
        serde_json::json!([]),
        "{plain}"
    );
    for line in [
        "id_token_alg:              EdDSA",
        "id_token_claims:           yes",
        "access_token_format:       jwt",
        "resources:                 https://api.portal.example urn:portal:files",
        "post_logout_redirect_uris: https://portal.example/bye http://127.0.0.1:7000/out",
    ] {
        assert!(
            human.lines().any(|shown| shown == line),
            "{line:?} not in:\n{human}"
        );
    }

    // The same through a running server.
    let online = DataDir::new();
    let server = TestServer::start(&online, &[]);
    let (shown_online, plain_online, human_online) = client_settings_script(&online);
    assert_eq!(settings(&shown_online), settings(&shown));
    assert_eq!(settings(&plain_online), settings(&plain));
    // Beyond the id and the time it was made, which differ between the two directories.
    let comparable = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|line| !line.starts_with("client_id:") && !line.starts_with("created_at:"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        comparable(&human_online),
        comparable(&human),
        "human output differs"
    );
    assert!(server.stop().success());
}

#[test]
fn issue_11_user_create_email_verified_is_stored_and_shown() {
    let data = DataDir::new();
    let password = "a long enough password\n";
    let create = |args: &[&str]| {
        let mut command = vec!["user", "create", "--password-stdin", "--json"];
        command.extend_from_slice(args);
        data.run_with_stdin(&command, password).json()
    };
    create(&[
        "--username",
        "alice",
        "--email",
        "alice@example.com",
        "--email-verified",
    ]);
    create(&["--username", "bob", "--email", "bob@example.com"]);
    let alice = data.run(&["user", "show", "alice", "--json"]).json();
    assert_eq!(alice["email"], "alice@example.com", "{alice}");
    assert_eq!(alice["email_verified"], true, "{alice}");
    assert_eq!(alice["updated_at"], alice["created_at"], "{alice}");
    // An address nobody vouched for is not verified.
    let bob = data.run(&["user", "show", "Bob", "--json"]).json();
    assert_eq!(bob["username"], "bob", "{bob}");
    assert_eq!(bob["email_verified"], false, "{bob}");
    // `user list` is `user show` without the linked identities.
    let without_identities = |mut view: serde_json::Value| {
        let identities = view.as_object_mut().unwrap().remove("identities");
        assert_eq!(identities, Some(serde_json::json!([])), "{view}");
        view
    };
    let listed = data.run(&["user", "list", "--json"]).json();
    assert_eq!(listed["users"][0], without_identities(alice.clone()));
    assert_eq!(listed["users"][1], without_identities(bob));

    let human = data.run(&["user", "list"]).ok().stdout;
    let line_of = |name: &str| {
        human
            .lines()
            .find(|line| line.contains(&format!("  {name}  ")))
            .unwrap_or_else(|| panic!("{name} not in {human}"))
            .to_owned()
    };
    assert!(
        line_of("alice").ends_with("<alice@example.com> (verified)"),
        "{human}"
    );
    assert!(line_of("bob").ends_with("<bob@example.com>"), "{human}");
    let shown = data.run(&["user", "show", "alice"]).ok().stdout;
    assert!(
        shown.lines().any(|line| line == "email_verified: yes"),
        "{shown}"
    );

    // The same answers through a running server.
    let server = TestServer::start(&data, &[]);
    assert_eq!(data.run(&["user", "show", "alice", "--json"]).json(), alice);
    assert_eq!(data.run(&["user", "show", "alice"]).ok().stdout, shown);
    assert!(server.stop().success());
}

#[test]
fn issue_11_bad_openid_connect_settings_exit_non_zero_with_one_line_and_change_nothing() {
    let data = DataDir::new();
    data.create_user("grace", "a long enough password");
    data.run(&[
        "client",
        "create",
        "--name",
        "Base",
        "--redirect-uri",
        "https://base.example/cb",
    ])
    .ok();
    let create = |extra: &[&str]| {
        let mut args = vec![
            "client".to_owned(),
            "create".to_owned(),
            "--name".to_owned(),
            "A".to_owned(),
            "--redirect-uri".to_owned(),
            "https://a.example/cb".to_owned(),
        ];
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        args
    };
    let repeated = |flag: &str, count: usize| {
        let mut args = Vec::new();
        for index in 0..count {
            args.push(flag.to_owned());
            args.push(format!("https://a.example/{index}"));
        }
        args
    };
    let with = |mut base: Vec<String>, extra: Vec<String>| {
        base.extend(extra);
        base
    };
    let owned = |args: &[&str]| args.iter().map(|arg| (*arg).to_owned()).collect::<Vec<_>>();
    let algorithms = "expected RS256, ES256 or EdDSA";
    let cases: Vec<(Vec<String>, &str, &str)> = vec![
        (create(&["--id-token-alg", "rs256"]), "", algorithms),
        (create(&["--id-token-alg", "HS256"]), "", algorithms),
        (create(&["--id-token-alg", "none"]), "", algorithms),
        (create(&["--id-token-alg", ""]), "", algorithms),
        (
            create(&["--access-token-format", "JWT"]),
            "",
            "expected opaque or jwt",
        ),
        (
            create(&["--access-token-format", "bearer"]),
            "",
            "expected opaque or jwt",
        ),
        (
            create(&["--access-token-format", "jwt"]),
            "",
            "--access-token-format jwt needs a --resource",
        ),
        (
            create(&["--post-logout-redirect-uri", "http://a.example/bye"]),
            "",
            "--post-logout-redirect-uri: redirect URI 'http://a.example/bye' uses http",
        ),
        (
            create(&["--post-logout-redirect-uri", "https://a.example/bye#x"]),
            "",
            "fragment",
        ),
        (
            create(&["--post-logout-redirect-uri", "/bye"]),
            "",
            "not an absolute URI",
        ),
        (
            with(create(&[]), repeated("--post-logout-redirect-uri", 21)),
            "",
            "more than 20 post-logout redirect URIs",
        ),
        (
            create(&["--resource", "api.example.com"]),
            "",
            "--resource: resource URI 'api.example.com' is not an absolute URI",
        ),
        (
            create(&["--resource", "https://api.example/#x"]),
            "",
            "fragment",
        ),
        (
            create(&["--resource", "https://api.example/a b"]),
            "",
            "whitespace",
        ),
        (
            with(create(&[]), repeated("--resource", 21)),
            "",
            "more than 20 resources",
        ),
        (
            owned(&[
                "user",
                "create",
                "--username",
                "henry",
                "--email-verified",
                "--password-stdin",
            ]),
            "long enough password\n",
            "--email-verified",
        ),
        (owned(&["user", "show", "nobody"]), "", "no user named"),
        (owned(&["user", "show", "no body"]), "", "may contain"),
    ];
    let before = data.snapshot();
    for (args, stdin, expected) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = data.run_with_stdin(&args, stdin);
        assert!(!run.status.success(), "{args:?} succeeded: {}", run.stdout);
        assert!(
            run.stderr.starts_with("error: ") && run.stderr.contains(expected),
            "{args:?}: expected {expected:?} in {:?}",
            run.stderr
        );
        assert_eq!(
            run.stderr.trim().lines().count(),
            1,
            "{args:?}: {:?}",
            run.stderr
        );
        assert_same_files(&before, &data.snapshot(), &format!("{args:?}"));
    }
    // The same refusals through a running server, which keeps serving.
    let server = TestServer::start(&data, &[]);
    for (args, stdin, expected) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = data.run_with_stdin(&args, stdin);
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
    let clients = data.run(&["client", "list", "--json"]).json();
    assert_eq!(clients["clients"].as_array().unwrap().len(), 1, "{clients}");
    let users = data.run(&["user", "list", "--json"]).json();
    assert_eq!(users["users"].as_array().unwrap().len(), 1, "{users}");
}
