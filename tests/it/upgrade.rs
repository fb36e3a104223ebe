//! Upgrades: a data directory written by an earlier keyward (kept in `tests/fixtures/`,
//! forever) is opened by this one, migrated with a snapshot first, and everything in it keeps
//! working. Refused and failed migrations change nothing; a killed one leaves the old schema
//! or the new one, and the next run completes it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine;
use jsonwebtoken::{
    decode, decode_header, jwk::JwkSet, Algorithm, DecodingKey, Header, Validation,
};
use redb::ReadableDatabase;
use serde_json::Value;

use crate::forms::Browser;
use crate::support::{
    assert_same_files, exchange_api_key, introspection, keyward_binary, refresh_as, run_command,
    App, DataDir, TestServer,
};

const META: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("meta");
const SIGNING_KEYS: redb::TableDefinition<&[u8], &[u8]> =
    redb::TableDefinition::new("signing_keys");
const UPSTREAMS: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("upstreams");

/// The schema this keyward writes.
const CURRENT: u64 = 6;

/// The ten years the fixtures' lifetimes are made with.
const TEN_YEARS: u64 = 3650 * 86_400;

/// A copy of the schema-1 fixture in a fresh data directory, and its secrets.
fn schema_1() -> (DataDir, Value) {
    fixture(1)
}

/// A copy of the fixture a release of schema `schema` wrote, and its secrets.
fn fixture(schema: u32) -> (DataDir, Value) {
    let source =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/schema-{schema}"));
    let data = DataDir::new();
    std::fs::create_dir(&data.path).unwrap();
    std::fs::set_permissions(&data.path, std::fs::Permissions::from_mode(0o700)).unwrap();
    for file in ["keyward.redb", "master.key"] {
        let target = data.path.join(file);
        std::fs::copy(source.join("data").join(file), &target).unwrap();
        // A checkout does not keep modes; the key is the service user's alone.
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let secrets = std::fs::read_to_string(source.join("secrets.json")).unwrap();
    (data, serde_json::from_str(&secrets).unwrap())
}

fn schema_version(database: &Path) -> u32 {
    let database = redb::ReadOnlyDatabase::open(database).unwrap();
    let read = database.begin_read().unwrap();
    let meta = read.open_table(META).unwrap();
    let version = meta.get(b"schema_version".as_slice()).unwrap().unwrap();
    u32::from_le_bytes(version.value().try_into().unwrap())
}

fn set_schema_version(database: &Path, version: u32) {
    let database = redb::Database::open(database).unwrap();
    let write = database.begin_write().unwrap();
    write
        .open_table(META)
        .unwrap()
        .insert(
            b"schema_version".as_slice(),
            version.to_le_bytes().as_slice(),
        )
        .unwrap();
    write.commit().unwrap();
}

fn snapshots(data: &DataDir) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(&data.path)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_str().unwrap();
            name.starts_with("keyward.pre-schema-")
        })
        .collect();
    found.sort();
    found
}

fn text(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {pointer} in {value}"))
        .to_owned()
}

#[test]
fn issue_10_a_schema_1_database_is_checked_as_it_is_and_refused_for_anything_else() {
    let (data, _) = schema_1();
    let before = data.snapshot();
    let check = data.run(&["check", "--json"]).json();
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["schema_version"], 1, "{check}");
    for args in [
        &["client", "list"][..],
        &["user", "list"],
        &["scope", "set", "x", "--description", "y"],
    ] {
        let run = data.run(args);
        assert!(!run.status.success(), "{args:?} ran on an old schema");
        assert!(
            run.stderr.starts_with("error: ") && run.stderr.contains("keyward migrate"),
            "{args:?}: {}",
            run.stderr
        );
        assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
    }
    assert_same_files(&before, &data.snapshot(), "reads of a schema-1 database");
}

#[test]
fn issue_10_migrate_keeps_a_snapshot_and_everything_in_the_database_keeps_working() {
    let (data, secrets) = schema_1();
    let database = data.path.join("keyward.redb");
    let migrated = data.run(&["migrate", "--json"]).json();
    assert_eq!(migrated["migrated"], true, "{migrated}");
    assert_eq!(migrated["from"], 1);
    // Every step in one run, after one snapshot of the database as it was.
    assert_eq!(migrated["to"], CURRENT);
    let snapshot = PathBuf::from(text(&migrated, "/snapshot"));
    assert_eq!(snapshots(&data), vec![snapshot.clone()]);
    assert_eq!(
        std::fs::metadata(&snapshot).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The snapshot is the database as it was: schema 1, and it passes the old checks.
    assert_eq!(schema_version(&snapshot), 1);
    assert_eq!(u64::from(schema_version(&database)), CURRENT);
    let again = data.run(&["migrate", "--json"]).json();
    assert_eq!(again["migrated"], false, "{again}");
    let check = data.run(&["check", "--json"]).json();
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["schema_version"], CURRENT);
    assert_eq!(
        check["migration_snapshots"][0].as_str(),
        Some(snapshot.to_str().unwrap())
    );

    exercise(&data, &secrets);
}

/// A server for a fixture's data directory.
fn serve_fixture(data: &DataDir) -> TestServer {
    // The fixture's grants were made on the day it was written; ten years of maximum
    // lifetime keep them alive for as long as the fixture is kept.
    TestServer::start(data, &["--refresh-token-max-lifetime", "3650d"])
}

/// Everything a fixture holds keeps working: its client secret, password, remembered
/// consent, API keys, live, revoked and rotated refresh tokens, and what later schemas added.
fn exercise(data: &DataDir, secrets: &Value) {
    exercise_on(&serve_fixture(data), secrets);
}

fn exercise_on(server: &TestServer, secrets: &Value) {
    let redirect = text(secrets, "/redirect_uri");
    let confidential = App {
        client_id: text(secrets, "/confidential/client_id"),
        client_secret: Some(text(secrets, "/confidential/client_secret")),
        redirect_uri: redirect.clone(),
    };
    let public = App {
        client_id: text(secrets, "/public/client_id"),
        client_secret: None,
        redirect_uri: redirect.clone(),
    };
    // The client secret authenticates; the live refresh token is active and rotates.
    let live = text(secrets, "/live_refresh_token");
    let state = introspection(server, confidential.auth(), &live);
    assert_eq!(state["active"], true, "{state}");
    let rotated_live = refresh_as(server, &confidential, &live).ok();
    let next = text(&rotated_live, "/refresh_token");
    // The revoked one stays dead.
    refresh_as(
        server,
        &confidential,
        &text(secrets, "/revoked_refresh_token"),
    )
    .refused(400, "invalid_grant");
    // The public client's grant rotates too.
    refresh_as(server, &public, &text(secrets, "/public_refresh_token")).ok();
    // The API key still exchanges.
    exchange_api_key(server, &text(secrets, "/api_key"), None).ok();
    // The password signs in, and the remembered consent skips the consent page.
    let browser = Browser::new();
    let (verifier, challenge) = crate::support::pkce_pair();
    let url = crate::support::code_request(
        server,
        &confidential,
        &text(secrets, "/remembered_consent_scope"),
        "upgrade",
        Some(&challenge),
    );
    let page = browser.authorize(&url, "alice", &text(secrets, "/user/password"));
    assert!(!page.is_consent(), "the remembered consent was lost");
    let code = page.callback(&redirect).code().to_owned();
    crate::support::token(
        server,
        confidential.auth(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("code_verifier", &verifier),
        ],
    )
    .ok();
    // Replaying the rotated token ends its grant, with the token that succeeded it.
    refresh_as(
        server,
        &confidential,
        &text(secrets, "/rotated_refresh_token"),
    )
    .refused(400, "invalid_grant");
    refresh_as(server, &confidential, &next).refused(400, "invalid_grant");
    // Another grant of the same client is untouched.
    refresh_as(
        server,
        &confidential,
        &text(secrets, "/spare_refresh_token"),
    )
    .ok();
    // Schema 2: a key carrying a scope the operator allows for keys, and a grant ended with
    // `grant revoke` (its fence).
    if let Some(files_key) = secrets["files_api_key"].as_str() {
        let exchanged = exchange_api_key(server, files_key, None).ok();
        assert_eq!(exchanged["scope"], "files openid", "{exchanged}");
    }
    if let Some(fenced) = secrets["fenced_refresh_token"].as_str() {
        refresh_as(server, &confidential, fenced).refused(400, "invalid_grant");
    }
}

#[test]
fn schema_2_fixture_opens_checks_and_keeps_working() {
    let (data, secrets) = fixture(2);
    let before = data.snapshot();
    let check = data.run(&["check", "--json"]).json();
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["schema_version"], 2, "{check}");
    assert_same_files(&before, &data.snapshot(), "check of the schema-2 fixture");
    exercise(&data, &secrets);
}

#[test]
fn issue_11_a_schema_2_database_migrates_to_schema_3_and_everything_in_it_keeps_working() {
    let (data, secrets) = fixture(2);
    let database = data.path.join("keyward.redb");
    // Schema 3 is written only after a migration: an admin command refuses the old schema.
    let before = data.snapshot();
    let refused = data.run(&["client", "list"]);
    assert!(!refused.status.success());
    assert!(
        refused.stderr.contains("keyward migrate"),
        "{}",
        refused.stderr
    );
    assert_same_files(&before, &data.snapshot(), "a read of a schema-2 database");

    let migrated = data.run(&["migrate", "--json"]).json();
    assert_eq!(migrated["migrated"], true, "{migrated}");
    assert_eq!(migrated["from"], 2);
    assert_eq!(migrated["to"], CURRENT);
    let snapshot = PathBuf::from(text(&migrated, "/snapshot"));
    assert!(
        snapshot
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("keyward.pre-schema-3."),
        "{}",
        snapshot.display()
    );
    assert_eq!(snapshots(&data), vec![snapshot.clone()]);
    assert_eq!(
        std::fs::metadata(&snapshot).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The snapshot is the database as it was: schema 2, which a keyward 0.2 opens.
    assert_eq!(schema_version(&snapshot), 2);
    assert_eq!(u64::from(schema_version(&database)), CURRENT);
    let check = data.run(&["check", "--json"]).json();
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["schema_version"], CURRENT);
    assert_eq!(check["tables"]["signing_keys"], 0, "{check}");
    assert_eq!(
        check["migration_snapshots"][0].as_str(),
        Some(snapshot.to_str().unwrap())
    );

    // The records of schema 2 read with the defaults of their format: a client made before
    // OpenID Connect signs with RS256 and issues opaque tokens; nobody vouched for an email.
    let confidential = text(&secrets, "/confidential/client_id");
    let client = data
        .run(&["client", "show", &confidential, "--json"])
        .json();
    assert_eq!(client["id_token_alg"], "RS256", "{client}");
    assert_eq!(client["access_token_format"], "opaque", "{client}");
    assert_eq!(client["resources"], serde_json::json!([]), "{client}");
    assert_eq!(
        client["post_logout_redirect_uris"],
        serde_json::json!([]),
        "{client}"
    );
    assert_eq!(client["id_token_claims"], false, "{client}");
    let user = data.run(&["user", "show", "alice", "--json"]).json();
    assert_eq!(user["email"], text(&secrets, "/user/email"), "{user}");
    assert_eq!(user["email_verified"], false, "{user}");
    assert_eq!(user["updated_at"], user["created_at"], "{user}");

    exercise(&data, &secrets);

    // What the server wrote meanwhile (format-2 codes, grants and refresh tokens beside the
    // fixture's format-1 rows) checks too, and so does a new-format client and user.
    data.run(&[
        "client",
        "create",
        "--name",
        "After",
        "--redirect-uri",
        "https://after.example/cb",
        "--id-token-alg",
        "ES256",
        "--resource",
        "https://api.after.example",
    ])
    .ok();
    data.run_with_stdin(
        &[
            "user",
            "create",
            "--username",
            "bea",
            "--email",
            "bea@example.com",
            "--email-verified",
            "--password-stdin",
        ],
        "a long enough password\n",
    )
    .ok();
    let check = data.run(&["check", "--json"]).json();
    assert_eq!(check["ok"], true, "{check}");

    // `check` decodes the new table like every other: a row that does not open is named.
    {
        let database = redb::Database::open(&database).unwrap();
        let write = database.begin_write().unwrap();
        write
            .open_table(SIGNING_KEYS)
            .unwrap()
            .insert([0x42u8; 16].as_slice(), [1u8, 2, 3].as_slice())
            .unwrap();
        write.commit().unwrap();
    }
    let run = data.run(&["check", "--json"]);
    assert!(!run.status.success(), "a damaged signing key passed check");
    let check: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(check["ok"], false, "{check}");
    let problems = check["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{check}");
    assert!(
        problems[0]
            .as_str()
            .unwrap()
            .starts_with(&format!("signing_keys: record {}", "42".repeat(16))),
        "{check}"
    );
}

#[test]
fn issue_12_a_schema_3_database_migrates_to_schema_4_with_empty_upstream_tables() {
    let (data, secrets) = fixture(3);
    let database = data.path.join("keyward.redb");
    let before = data.snapshot();
    let refused = data.run(&["upstream", "list"]);
    assert!(!refused.status.success());
    assert!(
        refused.stderr.contains("keyward migrate"),
        "{}",
        refused.stderr
    );
    assert_same_files(&before, &data.snapshot(), "a read of a schema-3 database");

    let migrated = data.run(&["migrate", "--json"]).json();
    assert_eq!(migrated["migrated"], true, "{migrated}");
    assert_eq!(migrated["from"], 3);
    assert_eq!(migrated["to"], CURRENT);
    let snapshot = PathBuf::from(text(&migrated, "/snapshot"));
    assert!(
        snapshot
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("keyward.pre-schema-4."),
        "{}",
        snapshot.display()
    );
    assert_eq!(snapshots(&data), vec![snapshot.clone()]);
    // The snapshot is the database as it was: schema 3, which a keyward 0.3 opens.
    assert_eq!(schema_version(&snapshot), 3);
    assert_eq!(u64::from(schema_version(&database)), CURRENT);
    let check = data.run(&["check", "--json"]).json();
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["schema_version"], CURRENT);
    for table in ["upstreams", "identities", "user_identities", "invites"] {
        assert_eq!(check["tables"][table], 0, "{table}: {check}");
    }
    let listed = data.run(&["upstream", "list", "--json"]).json();
    assert_eq!(listed, serde_json::json!({"upstreams": []}));
    assert_eq!(
        data.run(&["upstream", "list"]).ok().stdout.trim(),
        "no upstreams"
    );

    // The new tables take rows, the rest of the fixture keeps working, and the callback
    // URL starts with the issuer the fixture's last serve recorded.
    data.run_with_stdin(
        &[
            "upstream",
            "add",
            "corp",
            "--kind",
            "oidc",
            "--issuer",
            "https://id.corp.example",
            "--client-id",
            "kw",
            "--client-secret-stdin",
        ],
        "a secret\n",
    )
    .ok();
    let shown = data.run(&["upstream", "show", "corp", "--json"]).json();
    let callback = text(&shown, "/callback");
    assert!(
        callback.starts_with("http") && callback.ends_with("/upstream/corp/callback"),
        "{shown}"
    );
    exercise(&data, &secrets);
    let check = data.run(&["check", "--json"]).json();
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["tables"]["upstreams"], 1, "{check}");

    // `check` decodes the new tables like every other: a row that does not open is named.
    {
        let database = redb::Database::open(&database).unwrap();
        let write = database.begin_write().unwrap();
        write
            .open_table(UPSTREAMS)
            .unwrap()
            .insert(b"broken".as_slice(), [1u8, 2, 3].as_slice())
            .unwrap();
        write.commit().unwrap();
    }
    let run = data.run(&["check", "--json"]);
    assert!(!run.status.success(), "a damaged upstream passed check");
    let check: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    let problems = check["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{check}");
    assert!(
        problems[0]
            .as_str()
            .unwrap()
            .starts_with(&format!("upstreams: record {}", "62726f6b656e")),
        "{check}"
    );
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn jwks(server: &TestServer) -> JwkSet {
    reqwest::blocking::get(server.url("/oauth2/jwks"))
        .unwrap()
        .json()
        .unwrap()
}

/// The header and claims of `jwt`, whose signature verifies with the JWKS key its `kid`
/// names. Only the signature: the fixture's own tokens expired long ago and name the issuer
/// of the server that wrote it, so time, issuer and audience are the caller's to check.
fn verified(jwks: &JwkSet, jwt: &str) -> (Header, Value) {
    let header = decode_header(jwt).unwrap();
    let kid = header.kid.as_deref().expect("a kid");
    let jwk = jwks
        .find(kid)
        .unwrap_or_else(|| panic!("kid {kid} is not in the JWKS"));
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = decode::<Value>(jwt, &key, &validation)
        .unwrap_or_else(|error| panic!("{kid} does not verify the token: {error}"))
        .claims;
    (header, claims)
}

/// A key of the fixture's `keys list`, by algorithm, that signs.
fn signing_kid(secrets: &Value, alg: &str) -> String {
    let keys = secrets["signing_keys"].as_array().unwrap();
    let key = keys
        .iter()
        .find(|key| key["alg"] == alg && key["signs"] == true)
        .unwrap_or_else(|| panic!("no {alg} key signs: {keys:?}"));
    text(key, "/kid")
}

#[test]
fn issue_11_schema_3_fixture_checks_as_it_is_and_its_server_row_sets_a_rotations_window() {
    let (data, secrets) = fixture(3);
    let before = data.snapshot();
    let check = data.run(&["check", "--json"]).json();
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["schema_version"], 3, "{check}");
    let keys = secrets["signing_keys"].as_array().unwrap();
    assert_eq!(check["tables"]["signing_keys"], keys.len(), "{check}");
    assert_same_files(&before, &data.snapshot(), "check of the schema-3 fixture");
    // Anything else waits for the migration to schema 4.
    let migrated = data.run(&["migrate", "--json"]).json();
    assert_eq!(migrated["from"], 3, "{migrated}");
    // Every key as the release wrote it: the retired RS256 key with its window, and one
    // key of each algorithm that signs.
    let listed = data.run(&["keys", "list", "--json"]).json();
    assert_eq!(listed["keys"], secrets["signing_keys"], "{listed}");

    // A rotation without a server reads the `server` row the fixture's last serve wrote:
    // its ten-year access tokens keep the retired key published for as long.
    let es256 = signing_kid(&secrets, "ES256");
    let started = unix_now();
    data.run(&["keys", "rotate", "--alg", "ES256", "--json"])
        .ok();
    let listed = data.run(&["keys", "list", "--json"]).json();
    let old = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["kid"] == es256.as_str())
        .unwrap_or_else(|| panic!("{es256} is gone: {listed}"))
        .clone();
    assert_eq!(old["signs"], false, "{old}");
    let until = old["published_until"].as_u64().unwrap();
    let margin = 600;
    assert!(
        (started + TEN_YEARS + margin..=unix_now() + TEN_YEARS + margin).contains(&until),
        "{old}"
    );
    let check = data.run(&["check", "--json"]).json();
    assert_eq!(check["ok"], true, "{check}");
}

#[test]
fn issue_11_schema_3_fixture_keeps_its_keys_oidc_client_verified_user_and_reuse_grace() {
    let (data, secrets) = fixture(3);
    data.run(&["migrate"]).ok();
    let redirect = text(&secrets, "/redirect_uri");
    let resource = text(&secrets, "/oidc/resource");
    let post_logout = text(&secrets, "/oidc/post_logout_redirect_uri");
    let rp = App {
        client_id: text(&secrets, "/oidc/client_id"),
        client_secret: Some(text(&secrets, "/oidc/client_secret")),
        redirect_uri: redirect,
    };
    // The records schema 3 brought read as the release wrote them.
    let client = data
        .run(&["client", "show", &rp.client_id, "--json"])
        .json();
    assert_eq!(client["id_token_alg"], "EdDSA", "{client}");
    assert_eq!(client["access_token_format"], "jwt", "{client}");
    assert_eq!(
        client["resources"],
        serde_json::json!([resource]),
        "{client}"
    );
    assert_eq!(
        client["post_logout_redirect_uris"],
        serde_json::json!([post_logout]),
        "{client}"
    );
    assert_eq!(client["id_token_claims"], true, "{client}");
    let vera = data.run(&["user", "show", "vera", "--json"]).json();
    assert_eq!(vera["email_verified"], true, "{vera}");
    assert_eq!(
        vera["email"],
        text(&secrets, "/verified_user/email"),
        "{vera}"
    );
    let alice = data.run(&["user", "show", "alice", "--json"]).json();
    assert_eq!(alice["email_verified"], false, "{alice}");

    let server = serve_fixture(&data);
    exercise_on(&server, &secrets);

    // The JWKS publishes the fixture's keys and no other: every algorithm has a key that
    // signs, so serving made none. The retired key stays until its window ends (ten years
    // after the fixture was written); after that the sweeper drops it, so only while the
    // window lasts, with a minute's slack, is it asserted.
    let jwks = jwks(&server);
    let published: std::collections::BTreeSet<String> = jwks
        .keys
        .iter()
        .map(|key| key.common.key_id.clone().expect("a kid"))
        .collect();
    let fixture_keys: std::collections::BTreeSet<String> = secrets["signing_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| text(key, "/kid"))
        .collect();
    assert!(published.is_subset(&fixture_keys), "{published:?}");
    for alg in ["RS256", "ES256", "EdDSA"] {
        assert!(published.contains(&signing_kid(&secrets, alg)), "{alg}");
    }
    let retired = text(&secrets, "/retired_key/kid");
    let window_ends = secrets["retired_key"]["published_until"].as_u64().unwrap();
    if unix_now() + 60 < window_ends {
        assert_eq!(published, fixture_keys);
        // What it signed before its retirement still verifies with what the JWKS publishes.
        let (header, claims) = verified(&jwks, &text(&secrets, "/retired_key/signed_id_token"));
        assert_eq!(header.kid.as_deref(), Some(retired.as_str()));
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(claims["aud"], text(&secrets, "/confidential/client_id"));
    }

    // The ID token the jwt client got when the fixture was made, and its grant's session.
    let (header, original) = verified(&jwks, &text(&secrets, "/oidc/id_token"));
    let eddsa = text(&secrets, "/oidc/id_token_kid");
    assert_eq!(header.kid.as_deref(), Some(eddsa.as_str()));
    assert_eq!(header.alg, Algorithm::EdDSA);

    // Its refresh token refreshes: a JWT access token for the resource the authorization
    // request named, and an EdDSA ID token with the verified email, for the same session.
    let now = unix_now();
    let refreshed = refresh_as(&server, &rp, &text(&secrets, "/oidc/refresh_token")).ok();
    let access = text(&refreshed, "/access_token");
    let (header, claims) = verified(&jwks, &access);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"), "{header:?}");
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(claims["aud"], resource.as_str(), "{claims}");
    assert_eq!(claims["iss"], server.base_url.as_str(), "{claims}");
    assert_eq!(claims["client_id"], rp.client_id.as_str(), "{claims}");
    assert_eq!(claims["sub"], original["sub"], "{claims}");
    assert!(claims["exp"].as_u64().unwrap() > now, "{claims}");
    let state = introspection(&server, rp.auth(), &access);
    assert_eq!(state["active"], true, "{state}");
    assert_eq!(state["aud"], resource.as_str(), "{state}");
    let id_token = text(&refreshed, "/id_token");
    let (header, claims) = verified(&jwks, &id_token);
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(header.kid.as_deref(), Some(eddsa.as_str()));
    assert_eq!(claims["iss"], server.base_url.as_str(), "{claims}");
    assert_eq!(claims["aud"], rp.client_id.as_str(), "{claims}");
    assert_eq!(claims["sub"], original["sub"], "{claims}");
    assert!(claims["sid"].is_string(), "{claims}");
    assert_eq!(claims["sid"], original["sid"], "{claims}");
    assert_eq!(claims["email_verified"], true, "{claims}");
    assert_eq!(
        claims["email"],
        text(&secrets, "/verified_user/email"),
        "{claims}"
    );

    // The registered post-logout URI takes the browser back, on a hint this server signed.
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("id_token_hint", id_token.as_str()),
            ("post_logout_redirect_uri", post_logout.as_str()),
            ("state", "bye"),
        ])
        .finish();
    let back = Browser::new()
        .get(&server.url(&format!("/oauth2/logout?{query}")))
        .callback(&post_logout);
    assert_eq!(back.get("state"), Some("bye"));

    // A rotation made with a reuse grace, its successor kept (or, had the grace ended before
    // the fixture's server stopped, erased): the grace is long over, so the rotated token is
    // a replay again, which ends the grant with the successor.
    let grace = &secrets["reuse_grace"];
    let grace_ended = grace["rotated_at"].as_u64().unwrap() + 5 * 60;
    assert!(
        unix_now() > grace_ended,
        "the fixture was written less than its reuse grace ago: run this after {grace_ended}"
    );
    let successor = text(grace, "/successor_refresh_token");
    let state = introspection(&server, rp.auth(), &successor);
    assert_eq!(state["active"], true, "{state}");
    refresh_as(&server, &rp, &text(grace, "/rotated_refresh_token")).refused(400, "invalid_grant");
    refresh_as(&server, &rp, &successor).refused(400, "invalid_grant");
}

/// What the schema-4 fixture must never hold as it was given: the client secrets of its
/// upstreams (sealed with their records) and the invitations' secrets (kept as hashes), as
/// text and as the bytes their base64url encodes.
fn schema_4_secrets(secrets: &Value) -> Vec<(String, Vec<u8>)> {
    let mut given = Vec::new();
    for name in ["corp", "chat"] {
        given.push((
            format!("{name}'s client secret"),
            text(secrets, &format!("/upstreams/{name}/client_secret")),
        ));
    }
    for invite in ["invite", "revoked_invite"] {
        let token = text(secrets, &format!("/{invite}/token"));
        let (_, secret) = token
            .split_once('.')
            .expect("an invitation is <id>.<secret>");
        given.push((format!("the {invite}'s secret"), secret.to_owned()));
    }
    let mut needles = Vec::new();
    for (what, secret) in given {
        if let Ok(decoded) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&secret) {
            needles.push((format!("{what}, decoded"), decoded));
        }
        needles.push((what, secret.into_bytes()));
    }
    needles
}

/// A byte scan of every file in the data directory for the fixture's secrets.
#[track_caller]
fn assert_no_schema_4_secrets(data: &DataDir, secrets: &Value, context: &str) {
    let files = data.snapshot();
    let contains = |bytes: &[u8], needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    // The scan reads the database itself: its table names are plain text.
    let database = &files[&data.path.join("keyward.redb")];
    assert!(contains(database, b"user_identities"), "{context}");
    for (what, needle) in schema_4_secrets(secrets) {
        assert!(needle.len() >= 16, "{what}");
        for (path, bytes) in &files {
            assert!(
                !contains(bytes, &needle),
                "{context}: {what} is in {}",
                path.display()
            );
        }
    }
}

#[test]
fn issue_12_schema_4_fixture_checks_as_it_is_and_shows_its_upstreams_identity_and_invitations() {
    let (data, secrets) = fixture(4);
    let before = data.snapshot();
    let check = data.run(&["check", "--json"]).json();
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["schema_version"], 4, "{check}");
    for (table, rows) in [
        ("upstreams", 2),
        ("identities", 1),
        ("user_identities", 1),
        ("invites", 1),
    ] {
        assert_eq!(check["tables"][table], rows, "{table}: {check}");
    }
    assert_same_files(&before, &data.snapshot(), "check of the schema-4 fixture");
    // Then `migrate`, to the current schema.
    let migrated = data.run(&["migrate", "--json"]).json();
    assert_eq!(migrated["from"], 4, "{migrated}");
    assert_eq!(migrated["to"], CURRENT, "{migrated}");
    assert_no_schema_4_secrets(&data, &secrets, "the schema-4 fixture");
    let before = data.snapshot();

    // Both upstreams as the release wrote them, in name order, their callbacks at the
    // issuer of the fixture's last serve, and never a secret.
    let given: Vec<String> = schema_4_secrets(&secrets)
        .into_iter()
        .filter_map(|(_, needle)| String::from_utf8(needle).ok())
        .collect();
    let listed = data.run(&["upstream", "list", "--json"]).json();
    let upstreams = listed["upstreams"].as_array().expect("upstreams");
    let names: Vec<String> = upstreams.iter().map(|u| text(u, "/name")).collect();
    assert_eq!(names, ["chat", "corp"], "{listed}");
    let issuer = text(&secrets, "/issuer");
    for upstream in upstreams {
        let name = text(upstream, "/name");
        let recorded = &secrets["upstreams"][name.as_str()];
        for field in ["kind", "display_name", "client_id", "create_users", "scope"] {
            assert_eq!(
                upstream[field], recorded[field],
                "{name}'s {field}: {upstream}"
            );
        }
        let callback = format!("{issuer}/upstream/{name}/callback");
        assert_eq!(upstream["callback"], callback.as_str(), "{upstream}");
        assert_eq!(upstream["callback"], recorded["callback"], "{upstream}");
        assert_eq!(upstream["loopback"], true, "{upstream}");
        let shown = data.run(&["upstream", "show", &name, "--json"]).json();
        assert_eq!(&shown, upstream);
        let shown_text = data.run(&["upstream", "show", &name]).ok().stdout;
        assert!(shown_text.contains(&callback), "{shown_text}");
        assert!(shown_text.contains("(sealed; never shown)"), "{shown_text}");
        for printed in [shown.to_string(), shown_text] {
            assert!(!printed.contains("client_secret\""), "{printed}");
            for secret in &given {
                assert!(!printed.contains(secret.as_str()), "{name} shows a secret");
            }
        }
    }
    let corp = &upstreams[1];
    assert_eq!(
        corp["issuer"], secrets["upstreams"]["corp"]["issuer"],
        "{corp}"
    );
    assert!(corp.get("authorize_url").is_none(), "{corp}");
    // The preset's record is the OAuth 2.0 variant: its URLs moved to the base URL, and the
    // userinfo fields it fills in.
    let chat = &upstreams[0];
    assert!(chat.get("issuer").is_none(), "{chat}");
    for field in ["authorize_url", "token_url", "userinfo_url"] {
        assert_eq!(chat[field], secrets["upstreams"]["chat"][field], "{chat}");
    }
    for (field, value) in [
        ("subject_field", "id"),
        ("username_field", "username"),
        ("email_field", "email"),
        ("email_verified_field", "verified"),
    ] {
        assert_eq!(chat[field], value, "{chat}");
    }

    // The user signing in through Corp made, linked to Corp's subject; nobody else has an
    // identity. She has no password, so her identity is the last way she signs in.
    let made = &secrets["upstream_user"];
    let username = text(made, "/username");
    let carol = data.run(&["user", "show", &username, "--json"]).json();
    assert_eq!(carol["user_id"], made["user_id"], "{carol}");
    assert_eq!(carol["email"], made["email"], "{carol}");
    assert_eq!(carol["email_verified"], true, "{carol}");
    assert_eq!(carol["name"], made["name"], "{carol}");
    assert_eq!(
        carol["identities"],
        serde_json::json!([{
            "upstream": "corp",
            "subject": made["subject"],
            "linked_at": made["linked_at"],
        }]),
        "{carol}"
    );
    for other in ["alice", "vera", "ivy"] {
        let user = data.run(&["user", "show", other, "--json"]).json();
        assert_eq!(user["identities"], serde_json::json!([]), "{user}");
    }
    let shown_text = data.run(&["user", "show", &username]).ok().stdout;
    assert!(shown_text.contains(&text(made, "/subject")), "{shown_text}");
    let unlink = data.run(&["user", "unlink", &username, "corp"]);
    assert!(!unlink.status.success(), "{}", unlink.stdout);
    assert!(unlink.stderr.contains("last way"), "{}", unlink.stderr);

    // The invitation with two of its three uses left; the revoked one is gone.
    let invite = &secrets["invite"];
    let listed = data.run(&["invite", "list", "--json"]).json();
    let invites = listed["invites"].as_array().expect("invites");
    assert_eq!(invites.len(), 1, "{listed}");
    assert_eq!(invites[0]["id"], invite["id"], "{listed}");
    assert_eq!(invites[0]["expires_at"], invite["expires_at"], "{listed}");
    assert_eq!(invites[0]["uses_total"], 3, "{listed}");
    assert_eq!(invites[0]["uses_left"], 2, "{listed}");
    let listed_text = data.run(&["invite", "list"]).ok().stdout;
    assert!(listed_text.contains("uses left: 2 of 3"), "{listed_text}");
    for printed in [listed.to_string(), listed_text] {
        assert!(!printed.contains(&text(&secrets, "/revoked_invite/id")));
        for secret in &given {
            assert!(!printed.contains(secret.as_str()), "{printed}");
        }
    }
    assert_same_files(&before, &data.snapshot(), "reads of the schema-4 fixture");
}

#[test]
fn issue_12_schema_4_fixture_serves_its_tokens_upstream_buttons_and_invitation() {
    let (data, secrets) = fixture(4);
    data.run(&["migrate"]).ok();
    let server = TestServer::start(
        &data,
        &[
            "--refresh-token-max-lifetime",
            "3650d",
            "--signup",
            "invite",
        ],
    );
    exercise_on(&server, &secrets);

    // The grant of the authorization request Carol signed in to through Corp refreshes,
    // for her; so does the OpenID client's grant of schema 3.
    let redirect = text(&secrets, "/redirect_uri");
    let confidential = App {
        client_id: text(&secrets, "/confidential/client_id"),
        client_secret: Some(text(&secrets, "/confidential/client_secret")),
        redirect_uri: redirect.clone(),
    };
    let made = &secrets["upstream_user"];
    let refreshed = refresh_as(&server, &confidential, &text(made, "/refresh_token")).ok();
    let state = introspection(
        &server,
        confidential.auth(),
        &text(&refreshed, "/access_token"),
    );
    assert_eq!(state["active"], true, "{state}");
    assert_eq!(state["sub"], made["user_id"], "{state}");
    assert_eq!(state["username"], made["username"], "{state}");
    let rp = App {
        client_id: text(&secrets, "/oidc/client_id"),
        client_secret: Some(text(&secrets, "/oidc/client_secret")),
        redirect_uri: redirect.clone(),
    };
    refresh_as(&server, &rp, &text(&secrets, "/oidc/refresh_token")).ok();
    // Ivy, who signed up through the invitation, signs in with her password.
    let invited = &secrets["invited_user"];
    let url = crate::support::code_request(&server, &confidential, "openid", "ivy", None);
    let page = Browser::new().authorize(
        &url,
        &text(invited, "/username"),
        &text(invited, "/password"),
    );
    assert!(page.is_consent(), "{}", page.describe());

    // The sign-in page has a button per upstream, by display name.
    let browser = Browser::new();
    let login = browser.open(&server.url("/login"));
    assert!(login.is_login(), "{}", login.describe());
    for name in ["corp", "chat"] {
        let display = text(&secrets, &format!("/upstreams/{name}/display_name"));
        assert!(
            login.body.contains(&format!("Continue with {display}")),
            "{}",
            login.body
        );
        login.require_form(&format!("/upstream/{name}/start"));
    }
    // Corp's issuer is gone (its port may be anyone's now), so only Discord is pressed: its
    // endpoints are in the record, so starting contacts nothing, and the authorization
    // request carries what the fixture stored, for this server's callback.
    let chat = &secrets["upstreams"]["chat"];
    let form = login.require_form("/upstream/chat/start");
    let started = browser.submit(&login, &form, &form.filled(&[]));
    assert_eq!(started.status, 303, "{}", started.describe());
    let location = started.location().expect("a Location");
    assert!(
        location
            .as_str()
            .starts_with(&format!("{}?", text(chat, "/authorize_url"))),
        "{location}"
    );
    let query: std::collections::BTreeMap<String, String> =
        location.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code", "{location}");
    assert_eq!(query["client_id"], text(chat, "/client_id"), "{location}");
    assert_eq!(
        query["redirect_uri"],
        server.url("/upstream/chat/callback"),
        "{location}"
    );
    assert_eq!(query["scope"], text(chat, "/scope"), "{location}");
    assert_eq!(query["code_challenge_method"], "S256", "{location}");
    assert!(!query["state"].is_empty(), "{location}");
    assert!(!query.contains_key("nonce"), "{location}");
    assert!(
        started
            .set_cookies()
            .iter()
            .any(|cookie| cookie.contains("Path=/upstream/chat")),
        "{:?}",
        started.set_cookies()
    );

    // The revoked invitation admits nobody; the other one, while it lasts (90 days from
    // the fixture's writing), shows the form and takes one more of its uses.
    let signup = |invite: &str| server.url(&format!("/signup?invite={}", text(&secrets, invite)));
    let revoked = Browser::new().get(&signup("/revoked_invite/token"));
    assert_eq!(revoked.status, 403, "{}", revoked.describe());
    let invite = &secrets["invite"];
    let visitor = Browser::new();
    let page = visitor.get(&signup("/invite/token"));
    if unix_now() + 60 < invite["expires_at"].as_u64().unwrap() {
        assert_eq!(page.status, 200, "{}", page.describe());
        let form = page.require_form("/signup");
        assert_eq!(form.value("invite"), Some(text(invite, "/token").as_str()));
        let fields = form.filled(&[("username", "june"), ("password", "a long enough password")]);
        let made = visitor.submit(&page, &form, &fields);
        assert_eq!(made.status, 303, "{}", made.describe());
        let listed = data.run(&["invite", "list", "--json"]).json();
        assert_eq!(listed["invites"][0]["uses_left"], 1, "{listed}");
    } else {
        assert_eq!(page.status, 403, "{}", page.describe());
    }

    server.stop();
    let check = data.run(&["check", "--json"]).json();
    assert_eq!(check["ok"], true, "{check}");
    assert_no_schema_4_secrets(&data, &secrets, "the schema-4 fixture after serving");
}

#[test]
fn issue_10_serve_migrates_a_schema_1_database_and_logs_the_snapshot() {
    let (data, _) = schema_1();
    let server = TestServer::start(&data, &[]);
    assert_eq!(server.healthz(), 200);
    let log_path = server.stderr_path.clone();
    server.stop();
    let log = std::fs::read_to_string(log_path).unwrap();
    let snapshot = snapshots(&data);
    assert_eq!(snapshot.len(), 1);
    assert!(
        log.contains(snapshot[0].to_str().unwrap()),
        "the log does not name the snapshot: {log}"
    );
    assert_eq!(
        u64::from(schema_version(&data.path.join("keyward.redb"))),
        CURRENT
    );
}

#[test]
fn issue_10_a_migration_without_room_for_its_snapshot_changes_nothing() {
    let (data, _) = schema_1();
    let before = data.snapshot();
    // The snapshot is about as large as the database; allow far less.
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(r#"trap '' XFSZ; exec prlimit --fsize=16384 -- "$@""#)
        .arg("sh")
        .arg(keyward_binary())
        .arg("--data-dir")
        .arg(&data.path)
        .arg("migrate")
        .env("KEYWARD_LOG", "warn");
    let run = run_command(command, "");
    assert!(
        !run.status.success(),
        "migrated without room: {}",
        run.stdout
    );
    let last = run.stderr.trim().lines().last().unwrap_or("");
    assert!(
        last.starts_with("error: ")
            && last.contains("snapshot")
            && last.contains("Nothing was changed"),
        "{}",
        run.stderr
    );
    assert_same_files(&before, &data.snapshot(), "a migration without room");
}

#[test]
fn issue_10_a_database_from_a_newer_keyward_is_refused_by_migrate_and_serve() {
    let (data, _) = schema_1();
    set_schema_version(&data.path.join("keyward.redb"), 99);
    let before = data.snapshot();
    for args in [
        &["migrate"][..],
        &["check"],
        &["serve", "--listen", "127.0.0.1:0"],
    ] {
        let run = data.run(args);
        assert!(!run.status.success(), "{args:?}");
        assert!(run.stderr.contains("newer"), "{args:?}: {}", run.stderr);
    }
    assert_same_files(&before, &data.snapshot(), "a newer schema");
}

#[test]
fn issue_10_migrate_without_a_database_creates_nothing() {
    let data = DataDir::new();
    let run = data.run(&["migrate"]);
    assert!(!run.status.success());
    assert!(
        run.stderr.starts_with("error: no keyward database"),
        "{}",
        run.stderr
    );
    assert!(
        !data.path.exists(),
        "migrate created {}",
        data.path.display()
    );
}

#[test]
fn issue_10_a_migration_killed_at_any_moment_leaves_one_schema_and_completes_next_time() {
    let mut seen = std::collections::BTreeSet::new();
    for round in 0..12u64 {
        let (data, _) = schema_1();
        let mut child = data
            .command(&["migrate"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(round * 4));
        let _ = child.kill();
        let _ = child.wait();
        let check = data.run(&["check", "--json"]).json();
        assert_eq!(check["ok"], true, "round {round}: {check}");
        // Each step commits on its own: a kill leaves one of the schemas, whole.
        let version = check["schema_version"].as_u64().unwrap();
        assert!((1..=CURRENT).contains(&version), "round {round}: {version}");
        seen.insert(version);
        data.run(&["migrate"]).ok();
        let check = data.run(&["check", "--json"]).json();
        assert_eq!(check["schema_version"], CURRENT, "round {round}");
        assert_eq!(check["ok"], true, "round {round}: {check}");
    }
    assert!(!seen.is_empty());
}

/// Issue 13: schema 5 adds client format 3 (who registered it, its pages, the review mark, a
/// previous secret in its grace), user format 3 (`developer`) and scope format 3
/// (`self_service`). A schema-4 database is refused until migrated (nothing written), then
/// every client in it is the operator's own, nobody is a developer, no scope is for
/// self-service, and its rows take the new settings when next written.
#[test]
fn issue_13_a_schema_4_database_migrates_to_schema_5_and_its_clients_are_the_operators() {
    let (data, secrets) = fixture(4);
    let database = data.path.join("keyward.redb");
    let before = data.snapshot();
    let refused = data.run(&["client", "list"]);
    assert!(!refused.status.success());
    assert!(
        refused.stderr.contains("keyward migrate"),
        "{}",
        refused.stderr
    );
    assert_same_files(&before, &data.snapshot(), "a read of a schema-4 database");

    let migrated = data.run(&["migrate", "--json"]).json();
    assert_eq!(migrated["migrated"], true, "{migrated}");
    assert_eq!(
        (migrated["from"].as_u64(), migrated["to"].as_u64()),
        (Some(4), Some(CURRENT))
    );
    let snapshot = PathBuf::from(text(&migrated, "/snapshot"));
    assert_eq!(
        schema_version(&snapshot),
        4,
        "the snapshot is the database as it was"
    );
    assert_eq!(schema_version(&database) as u64, CURRENT);
    let check = data.run(&["check", "--json"]).json();
    assert_eq!(check["ok"], true, "{check}");

    let confidential = text(&secrets, "/confidential/client_id");
    let shown = data
        .run(&["client", "show", &confidential, "--json"])
        .json();
    assert_eq!(shown["owner"], Value::Null, "{shown}");
    assert_eq!(shown["verified"], false, "{shown}");
    assert_eq!(shown["homepage"], Value::Null, "{shown}");
    assert_eq!(shown["previous_secret_valid_until"], Value::Null, "{shown}");
    let user = data
        .run(&["user", "show", &text(&secrets, "/user/username"), "--json"])
        .json();
    assert_eq!(user["developer"], false, "{user}");
    let scopes = data.run(&["scope", "list", "--json"]).json();
    for scope in scopes["scopes"].as_array().expect("scopes") {
        assert_eq!(scope["self_service"], false, "{scope}");
    }

    // The fixture's tokens and clients keep working after the upgrade.
    exercise(&data, &secrets);

    // An old client takes the new settings: a homepage, and a secret rotated with a grace
    // while the one the fixture recorded keeps working.
    data.run(&[
        "client",
        "update",
        &confidential,
        "--homepage",
        "https://fixture.example/",
    ])
    .ok();
    let rotated = data
        .run(&[
            "client",
            "rotate-secret",
            &confidential,
            "--grace",
            "1h",
            "--json",
        ])
        .json();
    assert!(
        rotated["previous_secret_valid_until"].as_u64().is_some(),
        "{rotated}"
    );
    let server = serve_fixture(&data);
    let old_secret = text(&secrets, "/confidential/client_secret");
    let new_secret = text(&rotated, "/client_secret");
    for secret in [&old_secret, &new_secret] {
        let state = introspection(
            &server,
            crate::support::ClientAuth::Basic(&confidential, secret),
            "not-a-token",
        );
        assert_eq!(state["active"], false, "{state}");
    }
    let wrong = crate::support::introspect(
        &server,
        Some(crate::support::ClientAuth::Basic(&confidential, "wrong")),
        "not-a-token",
    );
    assert_eq!(wrong.status, 401);
    drop(server);
    let shown = data
        .run(&["client", "show", &confidential, "--json"])
        .json();
    assert_eq!(shown["homepage"], "https://fixture.example/", "{shown}");
    let check = data.run(&["check", "--json"]).json();
    assert_eq!(check["ok"], true, "{check}");
}

/// Issue 13: the schema-5 fixture, written by keyward 0.5.0 with `make_fixture.py --schema
/// 5`: it checks as it is (and `migrate` changes no byte while schema 5 is current), the
/// developer's app is his with its pages and its graced secret, the registration token has
/// 2 of 3 uses left, and the registered client keeps its grant and its RFC 7592 access.
#[test]
fn issue_13_schema_5_fixture_keeps_its_developer_app_registration_token_and_registered_client() {
    let (data, secrets) = fixture(5);
    let before = data.snapshot();
    let check = data.run(&["check", "--json"]).json();
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["schema_version"], 5, "{check}");
    assert_eq!(check["tables"]["registration_tokens"], 1, "{check}");
    let migrated = data.run(&["migrate", "--json"]).json();
    if CURRENT == 5 {
        assert_eq!(migrated["migrated"], false, "{migrated}");
        assert_same_files(&before, &data.snapshot(), "migrate of a current database");
    } else {
        assert_eq!(migrated["from"], 5, "{migrated}");
    }

    let app_id = text(&secrets, "/developer_app/client_id");
    let shown = data.run(&["client", "show", &app_id, "--json"]).json();
    assert_eq!(shown["owner"], "dan", "{shown}");
    assert_eq!(shown["registered_by"], "developer", "{shown}");
    assert_eq!(shown["verified"], false);
    assert_eq!(
        shown["homepage"],
        text(&secrets, "/developer_app/homepage").as_str()
    );
    assert_eq!(shown["scope"], "openid scores:read");
    let user = data.run(&["user", "show", "dan", "--json"]).json();
    assert_eq!(user["developer"], true, "{user}");
    let scopes = data.run(&["scope", "list", "--json"]).json();
    assert!(
        scopes["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|scope| scope["scope"] == "scores:read" && scope["self_service"] == true),
        "{scopes}"
    );
    let tokens = data.run(&["registration-token", "list", "--json"]).json();
    assert_eq!(tokens["tokens"].as_array().unwrap().len(), 1, "{tokens}");
    assert_eq!(tokens["tokens"][0]["uses_left"], 2, "{tokens}");
    assert_eq!(tokens["tokens"][0]["scope"], "scores:read", "{tokens}");

    // Served: the app's current secret works, the previous one while its grace lasts; the
    // registered client refreshes, and its registration access token reads it.
    exercise(&data, &secrets);
    let server = TestServer::start(
        &data,
        &[
            "--refresh-token-max-lifetime",
            "3650d",
            "--registration",
            "token",
        ],
    );
    let introspect_with = |client: &str, secret: &str| {
        crate::support::introspect(
            &server,
            Some(crate::support::ClientAuth::Basic(client, secret)),
            "not-a-token",
        )
        .status
    };
    assert_eq!(
        introspect_with(&app_id, &text(&secrets, "/developer_app/client_secret")),
        200
    );
    let until = secrets["developer_app"]["previous_secret_valid_until"]
        .as_u64()
        .unwrap();
    let previous = introspect_with(
        &app_id,
        &text(&secrets, "/developer_app/previous_client_secret"),
    );
    assert_eq!(previous, if unix_now() < until { 200 } else { 401 });
    let registered = text(&secrets, "/registered_client/client_id");
    let registered_secret = text(&secrets, "/registered_client/client_secret");
    let refreshed = crate::support::token(
        &server,
        crate::support::ClientAuth::Post(&registered, &registered_secret),
        &[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                &text(&secrets, "/registered_client/refresh_token"),
            ),
        ],
    )
    .ok();
    assert!(refreshed["refresh_token"].is_string(), "{refreshed}");
    let read = reqwest::blocking::Client::new()
        .get(server.url(&text(
            &secrets,
            "/registered_client/registration_client_uri_path",
        )))
        .bearer_auth(text(
            &secrets,
            "/registered_client/registration_access_token",
        ))
        .send()
        .unwrap();
    assert_eq!(read.status().as_u16(), 200);
    let read: Value = read.json().unwrap();
    assert_eq!(read["client_name"], "Registered Fixture Agent", "{read}");
    // The revoked token registers nothing; the live one still does.
    let register = |token: &str| {
        reqwest::blocking::Client::new()
            .post(server.url("/oauth2/register"))
            .bearer_auth(token)
            .json(&serde_json::json!({"redirect_uris": [text(&secrets, "/redirect_uri")]}))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(
        register(&text(&secrets, "/revoked_registration_token/token")),
        401
    );
    assert_eq!(register(&text(&secrets, "/registration_token/token")), 201);
}

/// Issue 13: the schema-6 fixture, written by keyward 0.6.0 with `make_fixture.py --schema
/// 6`: it checks as it is, and the client named by its metadata document (a format-4 row;
/// the document itself is gone) keeps its URL as its client_id, and its refresh token, which
/// the token endpoint takes without fetching the document.
#[test]
fn issue_13_schema_6_fixture_keeps_its_client_metadata_documents_client() {
    let (data, secrets) = fixture(6);
    let before = data.snapshot();
    let check = data.run(&["check", "--json"]).json();
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["schema_version"], 6, "{check}");
    let migrated = data.run(&["migrate", "--json"]).json();
    if CURRENT == 6 {
        assert_eq!(migrated["migrated"], false, "{migrated}");
        assert_same_files(&before, &data.snapshot(), "migrate of a current database");
    } else {
        assert_eq!(migrated["from"], 6, "{migrated}");
    }
    let url = text(&secrets, "/document_client/client_id");
    let shown = data.run(&["client", "show", &url, "--json"]).json();
    assert_eq!(shown["client_id"], url.as_str(), "{shown}");
    assert_eq!(shown["registered_by"], "document", "{shown}");
    assert_eq!(shown["name"], "Fixture Agent");
    assert_eq!(shown["public"], true);

    exercise(&data, &secrets);
    let server = serve_fixture(&data);
    let refreshed = crate::support::token(
        &server,
        crate::support::ClientAuth::Id(&url),
        &[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                &text(&secrets, "/document_client/refresh_token"),
            ),
        ],
    )
    .ok();
    let access = refreshed["access_token"].as_str().expect("an access token");
    let state = introspection(
        &server,
        crate::support::ClientAuth::Basic(
            &text(&secrets, "/confidential/client_id"),
            &text(&secrets, "/confidential/client_secret"),
        ),
        access,
    );
    assert_eq!(state["active"], true, "{state}");
    assert_eq!(state["client_id"], url.as_str(), "{state}");
    assert_eq!(state["scope"], "openid profile", "{state}");
}
