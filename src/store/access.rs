//! What checking an access token needs, read in one snapshot: one read transaction per
//! check instead of one per record.

use super::apikeys::read_api_key;
use super::grants::{access_revoked, read_grant};
use super::users::read_user;
use super::{ApiKey, Grant, Store, StoreError};
use crate::model::{Id, User, UserId};

/// The records an access token stands on, as of one snapshot.
#[derive(Debug, Default)]
pub struct AccessState {
    pub revoked: bool,
    pub grant: Option<Grant>,
    pub api_key: Option<ApiKey>,
    pub user: Option<User>,
}

impl Store {
    pub fn access_state(
        &self,
        token_id: Id,
        grant_id: Option<Id>,
        api_key_id: Option<Id>,
        user_id: Option<UserId>,
    ) -> Result<AccessState, StoreError> {
        let revocations = self.access_revocations_possible();
        if !revocations && grant_id.is_none() && api_key_id.is_none() && user_id.is_none() {
            return Ok(AccessState::default());
        }
        self.read(|reader| {
            let revoked = revocations && access_revoked(reader, token_id)?;
            if revoked {
                return Ok(AccessState {
                    revoked,
                    ..AccessState::default()
                });
            }
            Ok(AccessState {
                revoked,
                grant: grant_id
                    .map(|id| read_grant(reader, id))
                    .transpose()?
                    .flatten(),
                api_key: api_key_id
                    .map(|id| read_api_key(reader, id))
                    .transpose()?
                    .flatten(),
                user: user_id
                    .map(|id| read_user(reader, id))
                    .transpose()?
                    .flatten(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    use crate::store::{KeyLocation, OpenOptions};

    fn open(dir: &std::path::Path) -> Store {
        Store::open(&OpenOptions {
            data_dir: dir.to_path_buf(),
            key: KeyLocation::Default(dir.join("master.key")),
        })
        .expect("the store opens")
    }

    fn revoked(store: &Store, token: Id) -> bool {
        store
            .access_state(token, None, None, None)
            .expect("the check reads")
            .revoked
    }

    fn bound(store: &Store) -> u64 {
        store.inner.revoked_access.load(Ordering::Acquire)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_revocation_bound_never_falls_below_the_revoked_rows() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let (token, other) = (Id::generate(1), Id::generate(2));
        assert_eq!(bound(&store), 0);
        assert!(!revoked(&store, token));

        store.revoke_access_token(token, 100).await.unwrap();
        assert!(revoked(&store, token));
        assert!(!revoked(&store, other));
        // Revoking twice stores one row, and counts it once.
        store.revoke_access_token(token, 100).await.unwrap();
        assert_eq!(bound(&store), 1);

        // A restart counts the rows on disk.
        store.close().unwrap();
        let store = open(dir.path());
        assert_eq!(bound(&store), 1);
        assert!(revoked(&store, token));

        // Swept once its token would have expired: the bound follows.
        store.sweep_batch(101, 100).await.unwrap();
        assert_eq!(bound(&store), 0);
        assert!(!revoked(&store, token));
    }
}
