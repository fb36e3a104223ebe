//! Unit tests of the browser-side services (`Authorizer`, `SignInService`) on a real store in
//! a temp directory, with the time injected: nothing here sleeps to make time pass.

mod authorize;
mod signin;

use crate::model::{
    AccessTokenFormat, Client, ClientId, DisplayName, GrantType, Id, Password, RedirectUri, Scope,
    SecretHash, SigningAlg, User, UserId, Username,
};
use crate::store::{Session, Store};

pub const T0: u64 = 1_800_000_000;
pub const REDIRECT: &str = "https://app.example.com/cb";

pub fn store() -> (tempfile::TempDir, Store) {
    crate::store::test_store()
}

pub async fn user(store: &Store, name: &str, password: &str) -> User {
    let user = User {
        id: UserId(Id::generate(crate::clock::now_millis())),
        username: Username::parse(name).unwrap(),
        email: None,
        name: None,
        password_hash: crate::password::hash(Password::parse(password).unwrap())
            .await
            .unwrap(),
        created_at: T0,
        email_verified: false,
        updated_at: T0,
        developer: false,
    };
    store.insert_user(user.clone()).await.unwrap();
    user
}

pub async fn client(store: &Store, public: bool) -> Client {
    let client = Client {
        id: ClientId(Id::generate(crate::clock::now_millis())),
        name: DisplayName::parse("name", "Score Tracker").unwrap(),
        redirect_uris: vec![RedirectUri::parse(REDIRECT).unwrap()],
        scope: Scope::parse("openid profile email").unwrap(),
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        secret_hash: (!public).then(|| SecretHash::of("secret")),
        created_at: T0,
        id_token_alg: SigningAlg::default(),
        post_logout_redirect_uris: Vec::new(),
        access_token_format: AccessTokenFormat::default(),
        resources: Vec::new(),
        id_token_claims: false,
        origin: crate::model::ClientOrigin::Operator,
        homepage: None,
        privacy_policy: None,
        verified: false,
        previous_secret: None,
        registration_token_hash: None,
        document: None,
    };
    store.insert_client(client.clone()).await.unwrap();
    client
}

/// A session for `user`, started at `at`, lasting `seconds`; returns its cookie hash.
pub async fn session(store: &Store, user: &User, at: u64, seconds: u64) -> SecretHash {
    let hash = SecretHash::of(&crate::model::random_secret());
    store
        .insert_session(
            hash,
            Session {
                user_id: user.id,
                auth_time: at,
                expires_at: at + seconds,
            },
        )
        .await
        .unwrap();
    hash
}
