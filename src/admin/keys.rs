//! `keys list | rotate [--alg A]`: the signing keys of ID tokens and JWT access tokens.
//!
//! A rotation makes a new key for each algorithm (or the one named), which signs from then
//! on, and retires the one it replaces: a retired key stays published in the JWKS until
//! every token it signed has expired (the longest a signed token lives, as the last `serve`
//! recorded it, plus a margin for clocks), then the sweeper removes it. While a server runs,
//! the rotation runs inside it, and its key ring picks the new keys up at once.

use super::views::{KeyView, KeysView};
use super::{AdminError, AdminErrorKind, AdminOutput, Plan, WritePlan};
use crate::clock;
use crate::model::{Id, SigningAlg};
use crate::oidc::keyring::new_key;
use crate::store::{SigningKey, SigningKeyNotAdded, Store};

/// When the last `serve` recorded no token lifetime: the default access-token lifetime.
const DEFAULT_TOKEN_LIFETIME: u64 = 3600;
/// Added to the token lifetime before a retired key leaves the JWKS: relying parties'
/// clocks differ, and some cache the JWKS for a while.
const PUBLISH_MARGIN: u64 = 600;

/// One algorithm's new key, and the keys of that algorithm it retires.
pub struct Rotation {
    key: SigningKey,
    retire: Vec<(Id, u64, u64)>,
}

fn view(key: &SigningKey) -> KeyView {
    KeyView {
        kid: key.id.to_string(),
        alg: key.alg.as_str().to_owned(),
        created_at: key.created_at,
        signs: key.signs(),
        retired_at: key.retired_at,
        published_until: key.publish_until,
    }
}

pub(super) fn list(store: &Store) -> Result<Plan, AdminError> {
    Ok(Plan::Done(AdminOutput::Keys(KeysView {
        keys: store.signing_keys()?.iter().map(view).collect(),
    })))
}

pub(super) fn rotate(store: &Store, alg: Option<&str>) -> Result<Plan, AdminError> {
    let algs = match alg {
        Some(text) => vec![SigningAlg::parse(text)?],
        None => SigningAlg::ALL.to_vec(),
    };
    let now = clock::now();
    let lifetime = store
        .server_settings()?
        .map_or(DEFAULT_TOKEN_LIFETIME, |settings| settings.token_lifetime);
    let publish_until = now + lifetime + PUBLISH_MARGIN;
    let existing = store.signing_keys()?;
    let mut rotations = Vec::with_capacity(algs.len());
    for alg in algs {
        let key = new_key(alg, now, clock::now_millis())
            .map_err(|error| AdminError::new(AdminErrorKind::Unavailable, error.to_string()))?;
        let retire = existing
            .iter()
            .filter(|old| old.alg == alg && old.signs())
            .map(|old| (old.id, now, publish_until))
            .collect();
        rotations.push(Rotation { key, retire });
    }
    Ok(Plan::Write(WritePlan::RotateKeys(rotations)))
}

pub(super) async fn apply_rotate(
    store: &Store,
    rotations: Vec<Rotation>,
) -> Result<AdminOutput, AdminError> {
    let mut made = Vec::with_capacity(rotations.len());
    for Rotation { key, retire } in rotations {
        let made_view = view(&key);
        match store.add_signing_key(key, retire).await {
            Ok(()) => made.push(made_view),
            Err(SigningKeyNotAdded::Storage(error)) => return Err(error.into()),
            // Another rotation ran meanwhile; what it did stands.
            Err(other) => {
                return Err(AdminError::new(
                    AdminErrorKind::Conflict,
                    format!("the signing keys changed meanwhile ({other}); run keys rotate again"),
                ))
            }
        }
    }
    Ok(AdminOutput::Keys(KeysView { keys: made }))
}
