//! What an ID token costs to sign (issue 11), per algorithm, on one thread.
//!
//! Two figures each, from the same run: the bare signature of aws-lc-rs (keyward's crypto
//! library) over a message of an ID token's size, and `IdTokens::issue`, keyward's whole
//! path for one ID token: the key ring's active key for the client's algorithm, the claims
//! and `at_hash`, the JSON, base64url and the signature. Their ratio is what keyward adds
//! to the signature. `benches/load.py` prints the second next to `openssl speed` for the same
//! algorithm on the same machine.
//!
//! `cargo bench --bench sign` (KEYWARD_BENCH_SIGN_SECONDS: seconds per figure, default 3).

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature as aws;
use keyward::model::{
    AccessTokenFormat, Client, ClientId, DisplayName, Email, Id, Scope, SigningAlg, User, UserId,
    Username,
};
use keyward::oidc::idtoken::{IdTokenRequest, IdTokens};
use keyward::oidc::keyring::KeyRing;
use keyward::store::{Grant, KeyLocation, OpenOptions, Store};

/// Runs `work` for `duration`, in batches so the clock is read rarely; returns calls/s.
fn rate(duration: Duration, mut work: impl FnMut()) -> f64 {
    const BATCH: u32 = 50;
    let started = Instant::now();
    let mut calls = 0u64;
    while started.elapsed() < duration {
        for _ in 0..BATCH {
            work();
        }
        calls += u64::from(BATCH);
    }
    calls as f64 / started.elapsed().as_secs_f64()
}

/// Signs a message and throws the signature away.
type Signer = Box<dyn Fn(&[u8])>;

/// The bare signature over `message`, with a key of its own.
fn raw_signer(alg: SigningAlg) -> Signer {
    let random = SystemRandom::new();
    match alg {
        SigningAlg::Rs256 => {
            let pair = aws::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA");
            Box::new(move |message| {
                let mut signature = vec![0u8; pair.public_modulus_len()];
                pair.sign(&aws::RSA_PKCS1_SHA256, &random, message, &mut signature)
                    .expect("signs");
                std::hint::black_box(signature);
            })
        }
        SigningAlg::Es256 => {
            let pair =
                aws::EcdsaKeyPair::generate(&aws::ECDSA_P256_SHA256_FIXED_SIGNING).expect("P-256");
            Box::new(move |message| {
                std::hint::black_box(pair.sign(&random, message).expect("signs"));
            })
        }
        SigningAlg::EdDsa => {
            let pair = aws::Ed25519KeyPair::generate().expect("Ed25519");
            Box::new(move |message| {
                std::hint::black_box(pair.sign(message));
            })
        }
    }
}

fn client(alg: SigningAlg) -> Client {
    Client {
        id: ClientId(Id::from_bytes([1; 16])),
        name: DisplayName::parse("name", "Bench").expect("name"),
        redirect_uris: Vec::new(),
        scope: Scope::parse("openid profile email").expect("scope"),
        grant_types: Vec::new(),
        secret_hash: None,
        created_at: 1_700_000_000,
        id_token_alg: alg,
        post_logout_redirect_uris: Vec::new(),
        access_token_format: AccessTokenFormat::Opaque,
        resources: Vec::new(),
        id_token_claims: false,
        origin: keyward::model::ClientOrigin::Operator,
        homepage: None,
        privacy_policy: None,
        verified: false,
        previous_secret: None,
        registration_token_hash: None,
        document: None,
    }
}

fn main() {
    let seconds: f64 = std::env::var("KEYWARD_BENCH_SIGN_SECONDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(3.0);
    let duration = Duration::from_secs_f64(seconds);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&OpenOptions {
        data_dir: dir.path().to_path_buf(),
        key: KeyLocation::Default(dir.path().join("master.key")),
    })
    .expect("store opens");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let now = keyward::clock::now();
    let keys = runtime
        .block_on(KeyRing::open(
            store.clone(),
            now,
            keyward::clock::now_millis(),
        ))
        .expect("the key ring opens, with a key per algorithm");
    let issuer = "https://id.example.com".to_owned();
    let id_tokens = IdTokens::new(Arc::new(keys), issuer, 3600);
    let user = User {
        id: UserId(Id::from_bytes([2; 16])),
        username: Username::parse("alice").expect("username"),
        email: Some(Email::parse("alice@example.com").expect("email")),
        name: Some(DisplayName::parse("name", "Alice Liddell").expect("name")),
        password_hash: String::new(),
        created_at: 1_700_000_000,
        email_verified: true,
        updated_at: 1_700_000_000,
        developer: false,
    };
    let grant = Grant {
        id: Id::from_bytes([3; 16]),
        client_id: ClientId(Id::from_bytes([1; 16])),
        user_id: user.id,
        scope: Scope::parse("openid profile email").expect("scope"),
        created_at: now,
        auth_time: now,
        expires_at: now + 86_400,
        last_used: now,
        resources: Vec::new(),
        sid: Some([4; 16]),
    };
    // As long as one of keyward's sealed access tokens, for at_hash.
    let access_token = "a".repeat(190);
    println!("ID token signing, one thread, {seconds} s per figure:");
    for alg in SigningAlg::ALL {
        let client = client(alg);
        let request = || IdTokenRequest {
            client: &client,
            user: Some(&user),
            grant: &grant,
            scope: &grant.scope,
            nonce: Some("n-0S6_WzA2Mj"),
            access_token: &access_token,
            now,
        };
        let sample = id_tokens.issue(request()).expect("an ID token");
        let issued = rate(duration, || {
            std::hint::black_box(id_tokens.issue(request()).expect("an ID token"));
        });
        // The message a JWS signs: header and claims, base64url, as long as the sample's.
        let signing_input = sample
            .rsplit_once('.')
            .expect("a JWS")
            .0
            .as_bytes()
            .to_vec();
        let raw = raw_signer(alg);
        let bare = rate(duration, || raw(&signing_input));
        println!(
            "sign {}: {issued:.0} ID tokens/s; bare aws-lc-rs signature {bare:.0}/s; \
             keyward's path costs {:.2}x the bare signature ({} bytes signed)",
            alg.as_str(),
            bare / issued,
            signing_input.len()
        );
    }
    // The key ring holds the store too.
    drop(id_tokens);
    store.close().expect("store closes");
}
