//! Issue 11: node `openid-client` v6, a relying party keyward did not write, against the
//! real server: discovery, the code flow with PKCE, state and nonce, ID-token validation
//! (signature against the JWKS, iss, aud, exp, nonce), userinfo, a refresh, and the
//! RP-initiated logout URL, which a browser then follows.
//!
//! openid-client is installed from npm into `target/node-test/` on first use (no root
//! needed); without node and npm the test is skipped with one loud line, or fails under
//! `CI=true`.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::forms::Browser;
use crate::support::{register_client, tools_present, DataDir, TestServer, USER_PASSWORD};

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const AFTER_LOGOUT: &str = "http://127.0.0.1:9/signed-out";

/// `target/node-test`, with openid-client@6 and @modelcontextprotocol/sdk@1 installed in it.
pub fn node_modules() -> Option<PathBuf> {
    if !tools_present(
        "the openid-client test",
        &["node", "npm"],
        "apt-get install nodejs npm",
    ) {
        return None;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/node-test");
    let installed = ["openid-client", "@modelcontextprotocol/sdk"]
        .iter()
        .all(|package| {
            root.join(format!("node_modules/{package}/package.json"))
                .exists()
        });
    if !installed {
        std::fs::create_dir_all(&root).expect("target/node-test");
        let status = Command::new("npm")
            .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
            .arg(&root)
            .args(["openid-client@6", "@modelcontextprotocol/sdk@1"])
            .status()
            .expect("npm runs");
        assert!(
            status.success(),
            "npm install openid-client@6 @modelcontextprotocol/sdk@1 failed"
        );
    }
    Some(root)
}

/// A script of `tests/node/` running under node: it speaks one JSON line at a time on
/// stdout and takes lines (a callback URL) on stdin.
pub struct NodeScript {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl NodeScript {
    /// Copies `tests/node/{name}` beside `root`'s node_modules (ES modules resolve packages
    /// from the script's own directory; NODE_PATH is for CommonJS only) and runs it there.
    pub fn start(root: &std::path::Path, name: &str, args: &[&str]) -> NodeScript {
        let script = root.join(name);
        std::fs::copy(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/node")
                .join(name),
            &script,
        )
        .expect("the script is copied");
        let mut child = Command::new("node")
            .arg(&script)
            .args(args)
            .current_dir(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs");
        let stdin = child.stdin.take();
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        NodeScript {
            child,
            stdin,
            lines,
        }
    }

    /// The next JSON line the script printed.
    #[track_caller]
    pub fn next(&mut self) -> Value {
        let line = self
            .lines
            .next()
            .expect("a line from node")
            .expect("readable");
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("node said {line}"))
    }

    /// Sends the script one line, and closes its stdin.
    pub fn send(&mut self, line: &str) {
        let mut stdin = self.stdin.take().expect("stdin still open");
        writeln!(stdin, "{line}").unwrap();
    }

    /// The last line, once the script has exited with success.
    #[track_caller]
    pub fn finish(mut self) -> Value {
        let result = self.next();
        assert!(self.child.wait().unwrap().success(), "{result}");
        assert!(result["error"].is_null(), "{result}");
        result
    }
}

#[test]
fn issue_11_node_openid_client_runs_discovery_the_code_flow_userinfo_refresh_and_logout() {
    let Some(root) = node_modules() else {
        return;
    };
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let server = TestServer::start(&data, &[]);
    let app = register_client(
        &data,
        "Node RP",
        &[REDIRECT],
        &[
            "--scope",
            "openid profile email",
            "--post-logout-redirect-uri",
            AFTER_LOGOUT,
        ],
    );
    let mut node = NodeScript::start(
        &root,
        "oidc_flow.mjs",
        &[
            &server.base_url,
            &app.client_id,
            app.secret(),
            REDIRECT,
            AFTER_LOGOUT,
        ],
    );
    let first = node.next();
    let authorize = first["authorize"]
        .as_str()
        .unwrap_or_else(|| panic!("no authorization URL: {first}"));
    let browser = Browser::new();
    let callback = browser.approve(authorize, "alice", USER_PASSWORD, REDIRECT);
    node.send(&callback.location);
    let result = node.finish();
    assert_eq!(result["nonce_matched"], true, "{result}");
    assert_eq!(result["userinfo_sub"], result["sub"], "{result}");
    assert_eq!(result["refreshed_sub"], result["sub"], "{result}");
    assert!(
        result["refreshed_nonce"].is_null(),
        "a refreshed ID token carries no nonce"
    );
    assert!(result["auth_time"].as_u64().is_some(), "{result}");
    // The logout URL openid-client built: a browser that follows it is signed out and
    // lands on the registered post-logout URI with the state.
    let logout = result["logout"].as_str().unwrap();
    let page = browser.open(logout);
    let page = if page.form("/oauth2/logout").is_some() {
        let form = page.require_form("/oauth2/logout");
        let fields = form.filled(&[]);
        browser.submit(&page, &form, &fields)
    } else {
        page
    };
    let landed = page.callback(AFTER_LOGOUT);
    assert_eq!(landed.get("state"), Some("goodbye"), "{landed:?}");
    assert!(browser.open(&server.url("/account")).is_login());
}
