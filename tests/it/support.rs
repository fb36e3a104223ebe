//! The test harness: a temp data directory, the CLI run against it, and a real server.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn keyward() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
    command
        .env_remove("KEYWARD_DATA_DIR")
        .env_remove("KEYWARD_MASTER_KEY_FILE")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env("KEYWARD_LOG", "warn");
    command
}

/// A finished CLI command.
pub struct Run {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    #[track_caller]
    pub fn ok(self) -> Run {
        assert!(
            self.status.success(),
            "command failed: {}\nstdout: {}\nstderr: {}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn json(self) -> serde_json::Value {
        let run = self.ok();
        serde_json::from_str(run.stdout.trim())
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", run.stdout))
    }
}

pub struct DataDir {
    _root: tempfile::TempDir,
    pub path: PathBuf,
}

impl DataDir {
    pub fn new() -> DataDir {
        let root = tempfile::Builder::new()
            .prefix("kw")
            .tempdir()
            .expect("temp dir");
        let path = root.path().join("data");
        DataDir { _root: root, path }
    }

    pub fn root(&self) -> &Path {
        self._root.path()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = keyward();
        command.arg("--data-dir").arg(&self.path).args(args);
        command
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, "")
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        run_command(self.command(args), stdin)
    }

    /// Every file under the data directory (the socket excluded) and its bytes.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        snapshot(&self.path)
    }

    pub fn create_user(&self, username: &str, password: &str) -> serde_json::Value {
        self.run_with_stdin(
            &[
                "user",
                "create",
                "--username",
                username,
                "--password-stdin",
                "--json",
            ],
            &format!("{password}\n"),
        )
        .json()
    }
}

pub fn run_command(mut command: Command, stdin: &str) -> Run {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("keyward runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("stdin written");
    Run::from(child.wait_with_output().expect("keyward finishes"))
}

/// Asserts two snapshots are equal, naming the files that differ rather than dumping bytes.
#[track_caller]
pub fn assert_same_files(
    before: &BTreeMap<PathBuf, Vec<u8>>,
    after: &BTreeMap<PathBuf, Vec<u8>>,
    context: &str,
) {
    let differing: Vec<_> = before
        .keys()
        .chain(after.keys())
        .filter(|path| before.get(*path) != after.get(*path))
        .collect();
    assert!(
        differing.is_empty(),
        "{context}: files changed: {differing:?}"
    );
}

pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries {
        let entry = entry.expect("dir entry");
        let file_type = entry.file_type().expect("file type");
        if file_type.is_file() {
            files.insert(entry.path(), std::fs::read(entry.path()).expect("read"));
        } else if file_type.is_dir() {
            files.extend(snapshot(&entry.path()));
        }
    }
    files
}

/// A `keyward serve` child process on an ephemeral loopback port.
pub struct TestServer {
    child: Child,
    pub base_url: String,
    pub stderr_path: PathBuf,
}

impl TestServer {
    pub fn start(data: &DataDir, extra: &[&str]) -> TestServer {
        Self::try_start(data, extra)
            .unwrap_or_else(|stderr| panic!("server did not start: {stderr}"))
    }

    /// Starts a server; `Err` carries its stderr if it exited instead of listening.
    pub fn try_start(data: &DataDir, extra: &[&str]) -> Result<TestServer, String> {
        let stderr_path = data.root().join(format!(
            "server-{}.log",
            std::process::id() as u128 + nanos()
        ));
        let mut child = data
            .command(&["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env("KEYWARD_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).expect("log file"))
            .spawn()
            .expect("keyward serve runs");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read stdout");
        match line.trim().strip_prefix("keyward listening on ") {
            Some(url) => Ok(TestServer {
                child,
                base_url: url.to_owned(),
                stderr_path,
            }),
            None => {
                let _ = child.wait();
                Err(std::fs::read_to_string(&stderr_path).unwrap_or_default())
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// SIGKILL: no cleanup of any kind runs.
    pub fn kill_hard(mut self) {
        self.signal("KILL");
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn healthz(&self) -> u16 {
        reqwest::blocking::get(self.url("/healthz"))
            .map(|response| response.status().as_u16())
            .unwrap_or(0)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}
