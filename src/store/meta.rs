//! The `server` row of `meta`: what the last `serve` ran with (its issuer, the lifetime of
//! the tokens it signs), recorded at every start, for admin commands that need it while no
//! server runs, or from inside one.

use super::records::values::{decode_server, encode_server};
use super::tables::META;
use super::{Store, StoreError};
use crate::model::UnixTime;

const SERVER_KEY: &[u8] = b"server";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    pub issuer: String,
    /// Seconds: the longest an ID token or a JWT access token lives.
    pub token_lifetime: UnixTime,
}

impl Store {
    pub async fn record_server_settings(&self, settings: ServerSettings) -> Result<(), StoreError> {
        self.write(move |tx| tx.insert(META, SERVER_KEY, &encode_server(&settings)))
            .await
    }

    pub fn server_settings(&self) -> Result<Option<ServerSettings>, StoreError> {
        self.read(|reader| {
            reader
                .get(META, SERVER_KEY)?
                .map(|bytes| decode_server(&bytes))
                .transpose()
        })
    }
}
