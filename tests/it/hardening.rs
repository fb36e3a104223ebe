//! Issue 9: what an independent attack run found in storage, startup and the HTTP front. A
//! damaged database is refused by every command with one line that names the file, and
//! changes nothing; nothing panics; slow clients cannot starve the server of descriptors;
//! temporary files are never reached through a planted link; a loose master key is refused.

use std::path::Path;
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

// ---------------------------------------------------------------------------------------------
// Item 18: temporaries are created exclusively, never through a link.
// ---------------------------------------------------------------------------------------------

#[track_caller]
fn assert_regular_private_file(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let metadata = std::fs::symlink_metadata(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    assert!(
        metadata.file_type().is_file(),
        "{} is not a regular file: {:?}",
        path.display(),
        metadata.file_type()
    );
    assert_eq!(
        metadata.permissions().mode() & 0o777,
        0o600,
        "{} mode",
        path.display()
    );
}

#[test]
fn issue_9_backup_never_writes_through_a_link_planted_at_its_temporary_or_target_name() {
    let data = populated();
    let server = TestServer::start(&data, &[]);
    let root = data.root();
    // The name the old code used for its temporary: predictable from the server's pid.
    let victim = root.join("victim");
    std::fs::write(&victim, b"").unwrap();
    let target = root.join("backup.redb");
    let planted = root.join(format!("backup.partial-{}", server.pid()));
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    let report = data
        .run(&["backup", "--to", target.to_str().unwrap(), "--json"])
        .json();
    assert!(report["records"].as_u64().unwrap() >= 3, "{report}");
    assert_eq!(
        std::fs::read(&victim).unwrap(),
        b"",
        "the backup was written through the planted link"
    );
    assert_regular_private_file(&target);
    assert!(std::fs::symlink_metadata(&planted)
        .unwrap()
        .file_type()
        .is_symlink());

    // A link at the target itself, to a file or to nowhere, is a name that is taken.
    let precious = root.join("precious");
    std::fs::write(&precious, b"precious").unwrap();
    let nowhere = root.join("nowhere");
    for (name, points_at) in [("taken.redb", &precious), ("dangling.redb", &nowhere)] {
        let link = root.join(name);
        std::os::unix::fs::symlink(points_at, &link).unwrap();
        let refused = data.run(&["backup", "--to", link.to_str().unwrap()]);
        assert!(!refused.status.success(), "{name}: {}", refused.stdout);
        assert!(
            refused.stderr.contains("already exists"),
            "{name}: {}",
            refused.stderr
        );
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
    }
    assert_eq!(std::fs::read(&precious).unwrap(), b"precious");
    assert!(
        !nowhere.exists(),
        "a backup was written through a dangling link"
    );
    // Nothing is left behind under a temporary name.
    let leftovers: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("partial") && !name.starts_with("backup.partial-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert_eq!(server.healthz(), 200);
}

#[test]
fn issue_9_database_and_key_creation_never_write_through_links_planted_at_their_temporary_names() {
    use std::os::unix::fs::DirBuilderExt;
    let data = DataDir::new();
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&data.path)
        .unwrap();
    let victim_database = data.root().join("victim-database");
    let victim_key = data.root().join("victim-key");
    std::fs::write(&victim_database, b"").unwrap();
    std::fs::write(&victim_key, b"").unwrap();
    // The old temporaries were `keyward.redb.new-PID` and `master.key.new-PID`. `sh`
    // plants links at those names for its own pid, then becomes keyward with `exec`.
    let inner = data.command(&[
        "client",
        "create",
        "--name",
        "Created",
        "--redirect-uri",
        "https://created.example/cb",
        "--json",
    ]);
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(
            r#"ln -s "$1" "$3/keyward.redb.new-$$" && ln -s "$2" "$3/master.key.new-$$" && shift 3 && exec "$@""#,
        )
        .arg("sh")
        .arg(&victim_database)
        .arg(&victim_key)
        .arg(&data.path)
        .arg(inner.get_program())
        .args(inner.get_args());
    for (key, value) in inner.get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    let created = run_command(command, "").json();
    assert!(created["client_id"].is_string(), "{created}");
    assert_eq!(std::fs::read(&victim_database).unwrap(), b"");
    assert_eq!(std::fs::read(&victim_key).unwrap(), b"");
    assert_regular_private_file(&data.path.join("keyward.redb"));
    assert_regular_private_file(&data.path.join("master.key"));
    let listed = data.run(&["client", "list", "--json"]).json();
    assert_eq!(listed["clients"][0]["name"], "Created");
}

// ---------------------------------------------------------------------------------------------
// Item 19: a master key others can read.
// ---------------------------------------------------------------------------------------------

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn issue_9_a_master_key_group_or_others_can_read_is_refused_at_the_default_location() {
    for mode in [0o644, 0o640, 0o604] {
        let data = populated();
        let key = data.path.join("master.key");
        set_mode(&key, mode);
        let key_name = key.to_string_lossy().into_owned();
        assert_every_command_refuses(
            &data,
            &format!("master.key mode {mode:o}"),
            &[&key_name, "chmod 600", "nothing was changed"],
        );
    }
}

#[test]
fn issue_9_a_named_master_key_group_or_others_can_read_is_used_with_a_loud_warning() {
    let data = populated();
    let default_key = data.path.join("master.key");
    let named = data.root().join("named.key");
    let credentials = data.root().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    let credential = credentials.join("master.key");
    for copy in [&named, &credential] {
        std::fs::copy(&default_key, copy).unwrap();
        set_mode(copy, 0o644);
    }
    std::fs::remove_file(&default_key).unwrap();
    for (variable, value, file) in [
        ("KEYWARD_MASTER_KEY_FILE", &named, &named),
        ("CREDENTIALS_DIRECTORY", &credentials, &credential),
    ] {
        let mut command = data.command(&["user", "list", "--json"]);
        command.env(variable, value);
        let run = run_command(command, "");
        let warning = run
            .stderr
            .lines()
            .find(|line| line.starts_with("warning: "))
            .unwrap_or_else(|| panic!("{variable}: no warning on stderr: {}", run.stderr))
            .to_owned();
        assert!(
            warning.contains(&*file.to_string_lossy()) && warning.contains("chmod 600"),
            "{variable}: {warning}"
        );
        let listed = run.json();
        assert_eq!(listed["users"][0]["username"], "alice", "{variable}");
    }
}

#[test]
fn issue_9_an_oversized_master_key_is_reported_with_its_real_size() {
    let data = populated();
    let key = data.path.join("master.key");
    let mut bytes = std::fs::read(&key).unwrap();
    bytes.extend_from_slice(&[0x55; 32]);
    std::fs::write(&key, &bytes).unwrap();
    let key_name = key.to_string_lossy().into_owned();
    assert_every_command_refuses(
        &data,
        "a 64-byte key",
        &[&key_name, "holds 64 bytes", "nothing was changed"],
    );
}

// ---------------------------------------------------------------------------------------------
// Item 16: damaged pages are a refusal in words, never a panic.
// ---------------------------------------------------------------------------------------------

#[track_caller]
fn assert_no_panic_text(run: &Run, context: &str) {
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
}

/// Overwrites `length` bytes at `offset` with `pattern`, repeated.
fn scribble(database: &Path, offset: usize, length: usize, pattern: &[u8]) {
    let mut bytes = std::fs::read(database).unwrap();
    for (index, byte) in bytes[offset..offset + length].iter_mut().enumerate() {
        *byte = pattern[index % pattern.len()];
    }
    std::fs::write(database, bytes).unwrap();
}

#[test]
fn issue_9_garbage_in_the_middle_of_the_database_is_refused_in_words_never_a_panic() {
    let template = populated();
    let size = std::fs::metadata(template.path.join("keyward.redb"))
        .unwrap()
        .len() as usize;
    // Whole pages past the header, through the middle of the file, where the table tree
    // and the records live; and a smaller smudge inside a page.
    let page = 4096;
    let mut damages: Vec<(usize, usize, Vec<u8>)> = Vec::new();
    for offset in (page..size - page).step_by(2 * page) {
        damages.push((offset, 512, vec![0xff]));
        damages.push((offset + 64, 96, vec![0x00, 0x5a, 0xa5, 0x13]));
    }
    let mut refused = 0;
    for (offset, length, pattern) in damages {
        let data = DataDir::new();
        std::fs::create_dir_all(&data.path).unwrap();
        for file in ["keyward.redb", "master.key"] {
            std::fs::copy(template.path.join(file), data.path.join(file)).unwrap();
        }
        let database = data.path.join("keyward.redb");
        scribble(&database, offset, length, &pattern);
        let database_name = database.to_string_lossy().into_owned();
        let before = data.snapshot();
        let context = format!("{length} bytes of {pattern:02x?} at {offset}");
        for args in [&["check"][..], &["check", "--json"], &["user", "list"]] {
            let run = data.run(args);
            assert_no_panic_text(&run, &format!("{context}: {args:?}"));
            if !run.status.success() {
                refused += 1;
                assert_clean_refusal(&run, &format!("{context}: {args:?}"), &[&database_name]);
            }
            assert_same_files(&before, &data.snapshot(), &format!("{context}: {args:?}"));
        }
        match TestServer::try_start(&data, &[]) {
            Err(stderr) => {
                let run = Run {
                    status: serve_expecting_refusal(&data).status,
                    stdout: String::new(),
                    stderr,
                };
                assert_clean_refusal(&run, &format!("{context}: serve"), &[&database_name]);
                assert_same_files(&before, &data.snapshot(), &format!("{context}: serve"));
            }
            // The damage lies where starting does not look: the server runs, and answers.
            Ok(server) => {
                let healthz = server.healthz();
                assert!(healthz == 200 || healthz == 503, "{context}: {healthz}");
                let log = server.stderr_path.clone();
                server.stop();
                let stderr = std::fs::read_to_string(log).unwrap_or_default();
                for forbidden in ["panicked", "RUST_BACKTRACE"] {
                    assert!(!stderr.contains(forbidden), "{context}: serve: {stderr}");
                }
            }
        }
    }
    assert!(
        refused > 0,
        "no damage was found at all: the test damaged nothing"
    );
}

// ---------------------------------------------------------------------------------------------
// Item 15: `check` verifies the file's integrity, on a copy, so a file it passes can be written.
// ---------------------------------------------------------------------------------------------

fn hex_bytes(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("hex"))
        .collect()
}

/// Temporary files `check` may have left in the data directory.
fn check_leftovers(data: &DataDir) -> Vec<String> {
    std::fs::read_dir(&data.path)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !matches!(name.as_str(), "keyward.redb" | "master.key" | "admin.sock"))
        .collect()
}

#[test]
fn issue_9_check_verifies_page_checksums_and_changes_nothing() {
    let data = DataDir::new();
    let user = data.create_user("alice", USER_PASSWORD);
    let key = data
        .run(&[
            "apikey", "create", "--user", "alice", "--name", "laptop", "--json",
        ])
        .json();
    let database = data.path.join("keyward.redb");
    let database_name = database.to_string_lossy().into_owned();

    // A healthy file passes, with and without a server, and check leaves nothing behind.
    let before = data.snapshot();
    assert_eq!(data.run(&["check", "--json"]).json()["ok"], true);
    assert_same_files(&before, &data.snapshot(), "check of a healthy file");
    {
        let server = TestServer::start(&data, &[]);
        for _ in 0..3 {
            assert_eq!(data.run(&["check", "--json"]).json()["ok"], true);
        }
        assert!(
            check_leftovers(&data).is_empty(),
            "{:?}",
            check_leftovers(&data)
        );
        assert_eq!(server.healthz(), 200);
        assert!(server.stop().success());
    }

    // One changed byte in an index entry's key (user id ‖ API key id in user_api_keys):
    // every record still decodes, but the page no longer matches its checksum.
    let mut entry = hex_bytes(user["user_id"].as_str().unwrap());
    entry.extend(hex_bytes(key["id"].as_str().unwrap()));
    let mut bytes = std::fs::read(&database).unwrap();
    let mut changed = 0;
    let mut at = 0;
    while let Some(found) = bytes[at..].windows(32).position(|window| window == entry) {
        bytes[at + found + 31] ^= 0x01;
        changed += 1;
        at += found + 32;
    }
    assert!(changed > 0, "the index entry is not in the file");
    std::fs::write(&database, bytes).unwrap();
    let before = data.snapshot();
    let run = data.run(&["check"]);
    assert_clean_refusal(
        &run,
        "check of a file with a changed byte",
        &[&database_name],
    );
    assert!(run.stdout.contains("damaged"), "{}", run.stdout);
    let json = data.run(&["check", "--json"]);
    assert!(!json.status.success());
    let report: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(report["ok"], false, "{report}");
    assert_same_files(&before, &data.snapshot(), "check of a damaged file");
    assert!(
        check_leftovers(&data).is_empty(),
        "{:?}",
        check_leftovers(&data)
    );
}

// ---------------------------------------------------------------------------------------------
// Item 17: half-sent bodies time out, and connections stay below the descriptor limit.
// ---------------------------------------------------------------------------------------------

/// The status line's code of what `stream` answers, and whether the server then closed
/// the connection; bounded by the stream's read timeout.
fn read_answer(stream: &mut std::net::TcpStream) -> (Option<u16>, bool) {
    use std::io::Read;
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let closed = loop {
        match stream.read(&mut buffer) {
            Ok(0) => break true,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(_) => break false,
        }
    };
    let text = String::from_utf8_lossy(&answer);
    let status = text.split(' ').nth(1).and_then(|code| code.parse().ok());
    (status, closed)
}

#[test]
fn issue_9_half_sent_bodies_time_out_and_healthz_answers_under_a_descriptor_limit() {
    half_sent_bodies_time_out(
        "POST /oauth2/token HTTP/1.1\r\nHost: keyward\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n\
         grant_type=client_cre",
    );
}

/// A chunked body that never ends: actix drains a body its handler dropped, forever, so
/// without the payload kept alive until the answer is sent the 408 left the socket open.
#[test]
fn issue_9_unfinished_chunked_bodies_time_out_and_close_too() {
    half_sent_bodies_time_out(
        "POST /oauth2/token HTTP/1.1\r\nHost: keyward\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n\
         1\r\na\r\n",
    );
}

fn half_sent_bodies_time_out(head: &str) {
    use std::io::Write;
    let data = DataDir::new();
    let limit = 256;
    let server = TestServer::start_with_descriptor_limit(&data, &[], limit);
    let address = server
        .base_url
        .trim_start_matches("http://")
        .to_owned()
        .parse::<std::net::SocketAddr>()
        .unwrap();
    // More half-sent requests than the server has descriptors: each holds a connection.
    let started = Instant::now();
    let mut attackers = Vec::new();
    for _ in 0..limit + 64 {
        let Ok(mut stream) = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2))
        else {
            continue;
        };
        if stream.write_all(head.as_bytes()).is_ok() {
            attackers.push(stream);
        }
    }
    assert!(
        attackers.len() as u64 > limit,
        "only {} connections were opened",
        attackers.len()
    );
    // The first one's answer, and when it came.
    let mut first = attackers.remove(0);
    let first_answer = std::thread::spawn(move || {
        first
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let answer = read_answer(&mut first);
        (answer, started.elapsed())
    });

    // /healthz still answers: at the latest once the first slow bodies have timed out.
    let healthz = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
        .get(server.url("/healthz"))
        .send()
        .map(|response| response.status().as_u16());
    let waited = started.elapsed();
    assert_eq!(
        healthz.as_ref().ok(),
        Some(&200),
        "/healthz under attack: {healthz:?} after {waited:?}"
    );
    assert!(waited < Duration::from_secs(25), "/healthz took {waited:?}");

    // The first half-sent request got 408 once its deadline passed, never before, and the
    // server closed the connection.
    let ((status, closed), answered) = first_answer.join().unwrap();
    assert_eq!(status, Some(408), "after {answered:?}");
    assert!(closed, "the connection stayed open after 408");
    assert!(
        answered >= Duration::from_secs(9) && answered < Duration::from_secs(25),
        "408 not at the deadline: {answered:?}"
    );
    drop(attackers);
    assert_eq!(server.healthz(), 200);
    let log = std::fs::read_to_string(&server.stderr_path).unwrap_or_default();
    assert!(
        !log.contains("Too many open files"),
        "the server ran out of descriptors:\n{log}"
    );
    assert!(server.stop().success());
}

#[test]
fn issue_9_client_names_with_invisible_or_text_direction_characters_are_refused() {
    let data = DataDir::new();
    data.create_user("alice", "a long and memorable passphrase");
    let before = data.snapshot();
    for hidden in ["\u{202E}", "\u{200B}", "\u{2067}", "\u{FEFF}", "\u{E0020}"] {
        let name = format!("Score{hidden}Tracker");
        let run = data.run(&[
            "client",
            "create",
            "--name",
            &name,
            "--redirect-uri",
            "https://app.example.com/cb",
        ]);
        assert!(!run.status.success(), "{hidden:?} was accepted");
        assert!(
            run.stderr.starts_with("error: ") && run.stderr.contains("text-direction"),
            "{}",
            run.stderr
        );
    }
    crate::support::assert_same_files(&before, &data.snapshot(), "refused client names");
    // Letters of every script are still names.
    data.run(&[
        "client",
        "create",
        "--name",
        "Élan 日本語 🎮",
        "--redirect-uri",
        "https://app.example.com/cb",
    ])
    .ok();
}
