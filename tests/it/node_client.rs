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
    // ES modules resolve packages from the script's own directory (NODE_PATH is for
    // CommonJS only), so the script runs from beside its node_modules.
    let script = root.join("oidc_flow.mjs");
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node/oidc_flow.mjs"),
        &script,
    )
    .expect("the script is copied");
    let mut node = Command::new("node")
        .arg(&script)
        .arg(&server.base_url)
        .arg(&app.client_id)
        .arg(app.secret())
        .arg(REDIRECT)
        .arg(AFTER_LOGOUT)
        .current_dir(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs");
    let mut stdin = node.stdin.take().unwrap();
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let mut next = || -> Value {
        let line = lines.next().expect("a line from node").expect("readable");
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("node said {line}"))
    };
    let first = next();
    let authorize = first["authorize"]
        .as_str()
        .unwrap_or_else(|| panic!("no authorization URL: {first}"));
    let browser = Browser::new();
    let callback = browser.approve(authorize, "alice", USER_PASSWORD, REDIRECT);
    writeln!(stdin, "{}", callback.location).unwrap();
    drop(stdin);
    let result = next();
    assert!(node.wait().unwrap().success(), "{result}");
    assert!(result["error"].is_null(), "{result}");
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
