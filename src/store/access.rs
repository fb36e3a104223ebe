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
        self.read(|reader| {
            let revoked = access_revoked(reader, token_id)?;
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
