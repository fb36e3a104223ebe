//! `keyward upstream …` (issue 12, item 1): the registry of providers users sign in through.
//! Added, listed, shown, changed and deleted with and without a running server; presets
//! fill their endpoints in; bad input exits non-zero with one line and changes no byte; the
//! client secret is sealed, never printed and never in the data directory in plain text.

use serde_json::{json, Value};

use crate::support::{assert_same_files, DataDir, Run, TestServer};

const SECRET: &str = "upstream-secret-Zq8vK2mW9xLp4RtY";

/// `upstream add NAME ARGS… --client-secret-stdin --json`, the secret on stdin.
fn add(data: &DataDir, name: &str, args: &[&str]) -> Run {
    let mut all = vec!["upstream", "add", name];
    all.extend_from_slice(args);
    all.extend(["--client-secret-stdin", "--json"]);
    data.run_with_stdin(&all, &format!("{SECRET}\n"))
}

fn oidc(issuer: &str) -> Vec<&str> {
    vec![
        "--kind",
        "oidc",
        "--issuer",
        issuer,
        "--client-id",
        "keyward-app",
    ]
}

/// What `upstream show --json` says about an upstream, without the time it was made.
fn settings(view: &Value) -> Value {
    let mut view = view.clone();
    let created = view
        .as_object_mut()
        .unwrap()
        .remove("created_at")
        .expect("created_at");
    assert!(created.as_u64().unwrap() > 1_700_000_000, "{created}");
    view
}

#[track_caller]
fn assert_no_secret(text: &str, what: &str) {
    assert!(
        !text.contains(SECRET),
        "{what} shows the client secret: {text}"
    );
}

#[test]
fn issue_12_upstream_add_list_show_set_delete_with_and_without_a_server() {
    let data = DataDir::new();
    let corp = add(&data, "corp", &oidc("https://id.corp.example")).json();
    assert_eq!(
        settings(&corp),
        json!({
            "name": "corp",
            "kind": "oidc",
            "display_name": "corp",
            "issuer": "https://id.corp.example",
            "client_id": "keyward-app",
            "scope": "email openid profile",
            "create_users": false,
            "callback": null,
            "loopback": false,
        })
    );
    let plain = add(
        &data,
        "plain",
        &[
            "--kind",
            "oauth2",
            "--display-name",
            "Plain OAuth",
            "--authorize-url",
            "https://auth.example/authorize",
            "--token-url",
            "https://auth.example/token",
            "--userinfo-url",
            "http://127.0.0.1:9/me",
            "--subject-field",
            "uid",
            "--email-field",
            "mail",
            "--scope",
            "profile",
            "--client-id",
            "p1",
            "--create-users",
        ],
    )
    .json();
    assert_eq!(
        settings(&plain),
        json!({
            "name": "plain",
            "kind": "oauth2",
            "display_name": "Plain OAuth",
            "authorize_url": "https://auth.example/authorize",
            "token_url": "https://auth.example/token",
            "userinfo_url": "http://127.0.0.1:9/me",
            "subject_field": "uid",
            "email_field": "mail",
            "client_id": "p1",
            "scope": "profile",
            "create_users": true,
            "callback": null,
            "loopback": true,
        })
    );
    let listed = data.run(&["upstream", "list", "--json"]).json();
    assert_eq!(listed["upstreams"], json!([corp, plain]), "{listed}");

    // Without a recorded issuer, `show` says how to get the callback URL; --issuer gives it.
    let shown = data.run(&["upstream", "show", "corp"]).ok().stdout;
    assert!(
        shown.lines().any(|line| line.starts_with("callback:")
            && line.ends_with("(run serve once, or pass --issuer)")),
        "{shown}"
    );
    assert!(
        shown
            .lines()
            .any(|line| line.starts_with("client_secret:") && line.contains("never shown")),
        "{shown}"
    );
    let with_issuer = data
        .run(&[
            "upstream",
            "show",
            "corp",
            "--issuer",
            "https://id.example.com",
            "--json",
        ])
        .json();
    assert_eq!(
        with_issuer["callback"],
        "https://id.example.com/upstream/corp/callback"
    );

    let changed = data
        .run(&[
            "upstream",
            "set",
            "corp",
            "--display-name",
            "Corp SSO",
            "--create-users",
            "true",
            "--scope",
            "openid email",
            "--issuer",
            "https://sso.corp.example",
            "--json",
        ])
        .json();
    assert_eq!(changed["display_name"], "Corp SSO");
    assert_eq!(changed["create_users"], true);
    assert_eq!(changed["scope"], "email openid");
    assert_eq!(changed["issuer"], "https://sso.corp.example");
    assert_eq!(changed["created_at"], corp["created_at"]);
    let unchanged_fields = data
        .run(&[
            "upstream",
            "set",
            "plain",
            "--create-users",
            "false",
            "--json",
        ])
        .json();
    assert_eq!(unchanged_fields["create_users"], false);
    assert_eq!(unchanged_fields["email_field"], "mail");

    // Through a running server: the callback uses its issuer, the loopback upstream is
    // named in a warning at start, and every command works through the socket.
    let server = TestServer::start(&data, &[]);
    let log = std::fs::read_to_string(&server.stderr_path).unwrap();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|line| line.starts_with("warning: upstream"))
        .collect();
    assert_eq!(warnings.len(), 1, "{log}");
    assert!(
        warnings[0].contains("plain") && !warnings[0].contains("corp"),
        "{log}"
    );
    let shown = data.run(&["upstream", "show", "corp", "--json"]).json();
    assert_eq!(
        shown["callback"],
        format!("{}/upstream/corp/callback", server.base_url)
    );
    let shown = data.run(&["upstream", "show", "corp"]).ok().stdout;
    assert!(
        shown.lines().any(|line| line.starts_with("callback:")
            && line.ends_with(&format!("{}/upstream/corp/callback", server.base_url))),
        "{shown}"
    );
    let google = add(&data, "google", &["--kind", "google", "--client-id", "g"]).json();
    assert_eq!(google["issuer"], "https://accounts.google.com");
    let set = data
        .run(&[
            "upstream",
            "set",
            "google",
            "--display-name",
            "Google!",
            "--json",
        ])
        .json();
    assert_eq!(set["display_name"], "Google!");
    let deleted = data.run(&["upstream", "delete", "corp", "--json"]).json();
    assert_eq!(
        deleted,
        json!({"deleted": "corp", "identities_unlinked": 0, "users_without_a_way_in": 0})
    );
    let names: Vec<Value> = data.run(&["upstream", "list", "--json"]).json()["upstreams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|upstream| upstream["name"].clone())
        .collect();
    assert_eq!(names, [json!("google"), json!("plain")]);
    assert!(server.stop().success());

    // What the server wrote reads the same from the file.
    let names: Vec<Value> = data.run(&["upstream", "list", "--json"]).json()["upstreams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|upstream| upstream["name"].clone())
        .collect();
    assert_eq!(names, [json!("google"), json!("plain")]);
    let human = data.run(&["upstream", "list"]).ok().stdout;
    assert!(
        human.contains("google") && !human.contains("(creates users)"),
        "{human}"
    );
    data.run(&["upstream", "delete", "google"]).ok();
    data.run(&["upstream", "delete", "plain"]).ok();
    assert_eq!(
        data.run(&["upstream", "list"]).ok().stdout.trim(),
        "no upstreams"
    );
    let check = data.run(&["check", "--json"]).json();
    assert_eq!(check["ok"], true, "{check}");
}

#[test]
fn issue_12_presets_fill_in_the_providers_endpoints_and_a_base_url_moves_them() {
    let data = DataDir::new();
    let discord = add(&data, "discord", &["--kind", "discord", "--client-id", "d"]).json();
    assert_eq!(
        settings(&discord),
        json!({
            "name": "discord",
            "kind": "discord",
            "display_name": "Discord",
            "authorize_url": "https://discord.com/oauth2/authorize",
            "token_url": "https://discord.com/api/oauth2/token",
            "userinfo_url": "https://discord.com/api/users/@me",
            "subject_field": "id",
            "username_field": "username",
            "email_field": "email",
            "email_verified_field": "verified",
            "client_id": "d",
            "scope": "email identify",
            "create_users": false,
            "callback": null,
            "loopback": false,
        })
    );
    let github = add(&data, "github", &["--kind", "github", "--client-id", "g"]).json();
    assert_eq!(
        github["authorize_url"],
        "https://github.com/login/oauth/authorize"
    );
    assert_eq!(
        github["token_url"],
        "https://github.com/login/oauth/access_token"
    );
    assert_eq!(github["userinfo_url"], "https://api.github.com/user");
    assert_eq!(github["subject_field"], "id");
    assert_eq!(github["username_field"], "login");
    assert_eq!(github["email_field"], "email");
    // GitHub's /user email is not a verified claim.
    assert!(github.get("email_verified_field").is_none(), "{github}");
    assert_eq!(github["scope"], "read:user user:email");
    assert_eq!(github["display_name"], "GitHub");
    let google = add(&data, "google", &["--kind", "google", "--client-id", "x"]).json();
    assert_eq!(google["issuer"], "https://accounts.google.com");
    assert_eq!(google["scope"], "email openid profile");
    assert!(google.get("authorize_url").is_none(), "{google}");
    let gitlab = add(&data, "gitlab", &["--kind", "gitlab", "--client-id", "x"]).json();
    assert_eq!(gitlab["issuer"], "https://gitlab.com");
    assert_eq!(gitlab["display_name"], "GitLab");

    // --base-url: the test server that answers like Discord, and a local GitLab.
    let moved = add(
        &data,
        "discord-test",
        &[
            "--kind",
            "discord",
            "--base-url",
            "http://127.0.0.1:4567",
            "--client-id",
            "d",
            "--display-name",
            "Discord (test)",
        ],
    )
    .json();
    assert_eq!(
        moved["authorize_url"],
        "http://127.0.0.1:4567/oauth2/authorize"
    );
    assert_eq!(moved["token_url"], "http://127.0.0.1:4567/api/oauth2/token");
    assert_eq!(moved["userinfo_url"], "http://127.0.0.1:4567/api/users/@me");
    assert_eq!(moved["loopback"], true);
    assert_eq!(moved["display_name"], "Discord (test)");
    let local = add(
        &data,
        "gitlab-local",
        &[
            "--kind",
            "gitlab",
            "--base-url",
            "https://gitlab.corp.example",
            "--client-id",
            "x",
        ],
    )
    .json();
    assert_eq!(local["issuer"], "https://gitlab.corp.example");
    assert_eq!(local["loopback"], false);
}

#[test]
fn issue_12_bad_upstream_input_exits_non_zero_with_one_line_and_changes_nothing() {
    let data = DataDir::new();
    add(&data, "corp", &oidc("https://id.corp.example")).ok();
    add(&data, "discord", &["--kind", "discord", "--client-id", "d"]).ok();
    let secret = format!("{SECRET}\n");
    let owned = |args: &[&str]| args.iter().map(|arg| (*arg).to_owned()).collect::<Vec<_>>();
    let with_secret = |args: &[&str]| {
        let mut all = owned(&["upstream", "add"]);
        all.extend(owned(args));
        all.push("--client-secret-stdin".to_owned());
        all
    };
    let long_name = "x".repeat(33);
    let cases: Vec<(Vec<String>, &str, &str)> = vec![
        // Names.
        (
            with_secret(&["Corp", "--kind", "google", "--client-id", "x"]),
            &secret,
            "may contain only lowercase letters, digits and '-'",
        ),
        (
            with_secret(&["a/b", "--kind", "google", "--client-id", "x"]),
            &secret,
            "may contain only",
        ),
        (
            with_secret(&[&long_name, "--kind", "google", "--client-id", "x"]),
            &secret,
            "1 to 32 characters",
        ),
        (
            with_secret(&["corp", "--kind", "google", "--client-id", "x"]),
            &secret,
            "upstream 'corp' already exists",
        ),
        // Kinds and the fields they need.
        (
            with_secret(&["x", "--kind", "facebook", "--client-id", "x"]),
            &secret,
            "unknown upstream kind 'facebook'",
        ),
        (
            with_secret(&["x", "--kind", "oidc", "--client-id", "x"]),
            &secret,
            "--kind oidc needs --issuer",
        ),
        (
            with_secret(&[
                "x",
                "--kind",
                "oauth2",
                "--authorize-url",
                "https://a.example/a",
                "--token-url",
                "https://a.example/t",
                "--client-id",
                "x",
            ]),
            &secret,
            "missing: --userinfo-url, --subject-field",
        ),
        (
            with_secret(&[
                "x",
                "--kind",
                "oidc",
                "--issuer",
                "https://a.example",
                "--token-url",
                "https://a.example/t",
                "--client-id",
                "x",
            ]),
            &secret,
            "--token-url does not apply to --kind oidc",
        ),
        (
            with_secret(&[
                "x",
                "--kind",
                "discord",
                "--authorize-url",
                "https://a.example/a",
                "--client-id",
                "x",
            ]),
            &secret,
            "--authorize-url does not apply to --kind discord",
        ),
        (
            with_secret(&[
                "x",
                "--kind",
                "oidc",
                "--issuer",
                "https://a.example",
                "--base-url",
                "https://b.example",
                "--client-id",
                "x",
            ]),
            &secret,
            "--base-url does not apply to --kind oidc",
        ),
        (
            with_secret(&[
                "x",
                "--kind",
                "github",
                "--base-url",
                "https://b.example/prefix",
                "--client-id",
                "x",
            ]),
            &secret,
            "scheme://host[:port] alone",
        ),
        // URLs: https, or http on a loopback host only.
        (
            with_secret(&[
                "x",
                "--kind",
                "oidc",
                "--issuer",
                "http://id.example.com",
                "--client-id",
                "x",
            ]),
            &secret,
            "--issuer 'http://id.example.com' uses http",
        ),
        (
            with_secret(&[
                "x",
                "--kind",
                "discord",
                "--base-url",
                "http://10.0.0.1:8080",
                "--client-id",
                "x",
            ]),
            &secret,
            "--base-url 'http://10.0.0.1:8080' uses http",
        ),
        (
            with_secret(&[
                "x",
                "--kind",
                "oauth2",
                "--authorize-url",
                "https://a.example/a",
                "--token-url",
                "http://a.example/t",
                "--userinfo-url",
                "https://a.example/u",
                "--subject-field",
                "id",
                "--client-id",
                "x",
            ]),
            &secret,
            "--token-url 'http://a.example/t' uses http",
        ),
        (
            with_secret(&[
                "x",
                "--kind",
                "oidc",
                "--issuer",
                "id.example.com",
                "--client-id",
                "x",
            ]),
            &secret,
            "not an absolute URL",
        ),
        (
            with_secret(&[
                "x",
                "--kind",
                "google",
                "--scope",
                "profile email",
                "--client-id",
                "x",
            ]),
            &secret,
            "must include openid",
        ),
        (
            with_secret(&["x", "--kind", "google", "--client-id", "has space"]),
            &secret,
            "--client-id",
        ),
        // The secret: from stdin only, and not empty.
        (
            owned(&[
                "upstream",
                "add",
                "x",
                "--kind",
                "google",
                "--client-id",
                "x",
            ]),
            &secret,
            "--client-secret-stdin is required",
        ),
        (
            owned(&[
                "upstream",
                "add",
                "x",
                "--kind",
                "google",
                "--client-id",
                "x",
                "--client-secret",
                SECRET,
            ]),
            "",
            "never accepted on the command line",
        ),
        (
            with_secret(&["x", "--kind", "google", "--client-id", "x"]),
            "\n",
            "the client secret on standard input is empty",
        ),
        (
            owned(&["upstream", "set", "corp", "--client-secret", SECRET]),
            "",
            "never accepted on the command line",
        ),
        (
            owned(&["upstream", "set", "corp", "--client-secret-stdin"]),
            "",
            "the client secret on standard input is empty",
        ),
        // set, show, delete.
        (owned(&["upstream", "set", "corp"]), "", "nothing to change"),
        (
            owned(&["upstream", "set", "nope", "--display-name", "N"]),
            "",
            "no upstream named 'nope'",
        ),
        (
            owned(&[
                "upstream",
                "set",
                "corp",
                "--token-url",
                "https://a.example/t",
            ]),
            "",
            "--token-url does not apply to --kind oidc",
        ),
        (
            owned(&[
                "upstream",
                "set",
                "discord",
                "--issuer",
                "https://a.example",
            ]),
            "",
            "--issuer does not apply to --kind discord",
        ),
        (
            owned(&[
                "upstream",
                "set",
                "discord",
                "--userinfo-url",
                "http://a.example/me",
            ]),
            "",
            "uses http",
        ),
        (
            owned(&["upstream", "set", "corp", "--scope", "email"]),
            "",
            "must include openid",
        ),
        (
            owned(&["upstream", "show", "nope"]),
            "",
            "no upstream named 'nope'",
        ),
        (owned(&["upstream", "show", "Nope"]), "", "may contain only"),
        (
            owned(&["upstream", "show", "corp", "--issuer", "id.example.com"]),
            "",
            "is not a URL",
        ),
        (
            owned(&["upstream", "delete", "nope"]),
            "",
            "no upstream named 'nope'",
        ),
    ];
    let before = data.snapshot();
    for (args, stdin, expected) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = data.run_with_stdin(&args, stdin);
        assert!(!run.status.success(), "{args:?} succeeded: {}", run.stdout);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
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
        assert_no_secret(&run.stderr, "an error");
        assert_same_files(&before, &data.snapshot(), &format!("{args:?}"));
    }
    // The same refusals through a running server, which keeps serving and keeps what it
    // had.
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
    let listed = data.run(&["upstream", "list", "--json"]).json();
    assert!(server.stop().success());
    assert_eq!(listed["upstreams"].as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(listed["upstreams"][0]["issuer"], "https://id.corp.example");
}

#[test]
fn issue_12_upstream_client_secrets_are_not_in_the_data_directory_in_plain_text() {
    let data = DataDir::new();
    let mut printed = Vec::new();
    printed.push(
        add(&data, "corp", &oidc("https://id.corp.example"))
            .ok()
            .stdout,
    );
    let rotated = "rotated-upstream-secret-Hn3sD8qP";
    printed.push(
        data.run_with_stdin(
            &["upstream", "set", "corp", "--client-secret-stdin"],
            &format!("{rotated}\n"),
        )
        .ok()
        .stdout,
    );
    let server = TestServer::start(&data, &[]);
    printed.push(
        add(&data, "discord", &["--kind", "discord", "--client-id", "d"])
            .ok()
            .stdout,
    );
    for args in [
        &["upstream", "list"][..],
        &["upstream", "list", "--json"],
        &["upstream", "show", "corp"],
        &["upstream", "show", "discord", "--json"],
    ] {
        printed.push(data.run(args).ok().stdout);
    }
    let log = server.stderr_path.clone();
    assert!(server.stop().success());
    printed.push(std::fs::read_to_string(&log).unwrap());
    for text in &printed {
        assert_no_secret(text, "output or log");
        assert!(
            !text.contains(rotated),
            "the rotated secret is shown: {text}"
        );
    }
    // Not in any file, not even the one replaced by `set` (redb may keep old pages).
    for (path, bytes) in data.snapshot() {
        for secret in [SECRET, rotated] {
            assert!(
                !bytes
                    .windows(secret.len())
                    .any(|window| window == secret.as_bytes()),
                "{} holds a client secret in plain text",
                path.display()
            );
        }
    }
}

/// `user show` lists a user's linked identities (none yet: nothing links one from the
/// command line); `user unlink` refuses an unknown user, an unknown upstream and an
/// identity that is not linked, with one line, changing nothing, with and without a server.
#[test]
fn issue_12_user_show_lists_identities_and_bad_unlinks_change_nothing() {
    let data = DataDir::new();
    data.create_user("alice", "a long enough password");
    add(&data, "corp", &oidc("https://id.corp.example")).ok();
    let shown = data.run(&["user", "show", "alice", "--json"]).json();
    assert_eq!(shown["identities"], json!([]), "{shown}");
    let text = data.run(&["user", "show", "alice"]).ok().stdout;
    assert!(
        text.lines().any(|line| line == "identities:     (none)"),
        "{text}"
    );
    let listed = data.run(&["user", "list", "--json"]).json();
    assert!(listed["users"][0].get("identities").is_none(), "{listed}");

    let cases = [
        (
            ["user", "unlink", "nobody", "corp"],
            "no user named 'nobody'",
        ),
        (
            ["user", "unlink", "alice", "nope"],
            "no upstream named 'nope'",
        ),
        (
            ["user", "unlink", "alice", "corp"],
            "user 'alice' has no identity linked at upstream 'corp'",
        ),
        (["user", "unlink", "alice", "Not A Name"], "upstream name"),
    ];
    let before = data.snapshot();
    for (args, expected) in &cases {
        let run = data.run(args);
        assert!(!run.status.success(), "{args:?} succeeded: {}", run.stdout);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        assert!(
            run.stderr.starts_with("error: ") && run.stderr.contains(expected),
            "{args:?}: expected {expected:?} in {:?}",
            run.stderr
        );
        assert_eq!(run.stderr.trim().lines().count(), 1, "{:?}", run.stderr);
        assert_same_files(&before, &data.snapshot(), &format!("{args:?}"));
    }
    let server = TestServer::start(&data, &[]);
    assert_eq!(data.run(&["user", "show", "alice", "--json"]).json(), shown);
    for (args, expected) in &cases {
        let run = data.run(args);
        assert!(
            !run.status.success(),
            "{args:?} succeeded through the server"
        );
        assert!(run.stderr.contains(expected), "{args:?}: {:?}", run.stderr);
        assert_eq!(run.stderr.trim().lines().count(), 1, "{:?}", run.stderr);
    }
    assert_eq!(server.healthz(), 200);
    assert!(server.stop().success());
}
