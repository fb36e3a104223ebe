//! Issue 9: what an independent attack run found in storage, startup and the HTTP front. A
//! damaged database is refused by every command with one line that names the file, and
//! changes nothing; nothing panics; slow clients cannot starve the server of descriptors;
//! temporary files are never reached through a planted link; a loose master key is refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{
    assert_same_files, register_client, run_command, DataDir, Run, TestServer, USER_PASSWORD,
};

/// Replaces the last byte of every occurrence of `name` in the file with `Z`, as the attack
/// did to a table name: redb then finds no table of that name. Returns how many it changed.
fn rename_table_in_file(database: &Path, name: &str) -> usize {
    let mut bytes = std::fs::read(database).expect("database readable");
    let needle = name.as_bytes();
    let mut changed = 0;
    let mut at = 0;
    while let Some(found) = bytes[at..]
        .windows(needle.len())
        .position(|window| window == needle)
    {
        let start = at + found;
        bytes[start + needle.len() - 1] = b'Z';
        changed += 1;
        at = start + needle.len();
    }
    std::fs::write(database, bytes).expect("database writable");
    changed
}

/// A refusal as the operator must see it: a non-zero exit that is not a panic's 101, and
/// one line on stderr that starts with `error: `, with no panic text anywhere.
#[track_caller]
fn assert_clean_refusal(run: &Run, context: &str, must_mention: &[&str]) {
    assert!(
        !run.status.success(),
        "{context}: succeeded\nstdout: {}\nstderr: {}",
        run.stdout,
        run.stderr
    );
    assert_ne!(
        run.status.code(),
        Some(101),
        "{context}: exited as a panic does\nstderr: {}",
        run.stderr
    );
    for forbidden in ["panicked", "RUST_BACKTRACE", "backtrace"] {
        assert!(
            !run.stderr.contains(forbidden),
            "{context}: stderr carries panic text ({forbidden}):\n{}",
            run.stderr
        );
    }
    let error_lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| line.starts_with("error: "))
        .collect();
    assert_eq!(
        error_lines.len(),
        1,
        "{context}: expected one `error: ` line\nstderr: {}",
        run.stderr
    );
    for needle in must_mention {
        assert!(
            error_lines[0].contains(needle),
            "{context}: the error line does not mention {needle:?}: {}",
            error_lines[0]
        );
    }
}

/// `keyward serve` that is expected to refuse: its exit, stdout and stderr. A server that
/// starts listening instead fails the test (it is killed first).
fn serve_expecting_refusal(data: &DataDir) -> Run {
    let mut child = data
        .command(&["serve", "--listen", "127.0.0.1:0"])
        .env("KEYWARD_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("keyward serve runs");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if child.try_wait().expect("wait").is_some() {
            let output = child.wait_with_output().expect("output");
            return Run {
                status: output.status,
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            };
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("output");
            panic!(
                "serve did not refuse; stdout: {}",
                String::from_utf8_lossy(&output.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every command that opens the database, with what it needs on stdin.
fn every_command(backup: &Path) -> Vec<(Vec<String>, &'static str)> {
    let strings = |args: &[&str]| args.iter().map(|arg| arg.to_string()).collect::<Vec<_>>();
    let password = "another long passphrase\n";
    vec![
        (strings(&["check"]), ""),
        (strings(&["check", "--json"]), ""),
        (strings(&["user", "list"]), ""),
        (
            strings(&["user", "create", "--username", "alice", "--password-stdin"]),
            password,
        ),
        (
            strings(&["user", "set-password", "alice", "--password-stdin"]),
            password,
        ),
        (strings(&["user", "delete", "alice"]), ""),
        (strings(&["client", "list"]), ""),
        (
            strings(&[
                "client",
                "create",
                "--name",
                "Another",
                "--redirect-uri",
                "https://another.example/cb",
            ]),
            "",
        ),
        (strings(&["scope", "list"]), ""),
        (
            strings(&["scope", "set", "files", "--description", "Your files"]),
            "",
        ),
        (strings(&["apikey", "list", "--user", "alice"]), ""),
        (strings(&["grant", "list", "--user", "alice"]), ""),
        (
            strings(&["backup", "--to", backup.to_str().expect("UTF-8 path")]),
            "",
        ),
    ]
}

/// Runs every command and `serve` against a damaged database: each refuses cleanly,
/// mentions what `must_mention` lists, and leaves every byte of the data directory as it was.
#[track_caller]
fn assert_every_command_refuses(data: &DataDir, context: &str, must_mention: &[&str]) {
    let before = data.snapshot();
    let backup = data.root().join("backup-of-damaged.redb");
    for (args, stdin) in every_command(&backup) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = data.run_with_stdin(&args, stdin);
        assert_clean_refusal(&run, &format!("{context}: {args:?}"), must_mention);
        assert_same_files(&before, &data.snapshot(), &format!("{context}: {args:?}"));
    }
    assert!(!backup.exists(), "{context}: a backup was written");
    let serve = serve_expecting_refusal(data);
    assert_clean_refusal(&serve, &format!("{context}: serve"), must_mention);
    assert_same_files(&before, &data.snapshot(), &format!("{context}: serve"));
}

/// A data directory with a user `alice`, her API key, and a client.
fn populated() -> DataDir {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    register_client(&data, "Hardened", &["https://hardened.example/cb"], &[]);
    data.run(&["apikey", "create", "--user", "alice", "--name", "laptop"])
        .ok();
    data
}

// ---------------------------------------------------------------------------------------------
// Item 14: a missing table is damage, never "empty".
// ---------------------------------------------------------------------------------------------

#[test]
fn issue_9_a_missing_table_is_refused_by_serve_check_and_every_admin_command() {
    for table in ["revoked_access", "usernames", "users", "meta"] {
        let data = populated();
        let database = data.path.join("keyward.redb");
        let changed = rename_table_in_file(&database, table);
        assert!(changed > 0, "the name {table} is not in the file");
        let database_name = database.to_string_lossy().into_owned();
        assert_every_command_refuses(
            &data,
            &format!("table {table} renamed"),
            &[&database_name, table, "nothing was changed"],
        );
    }
}
