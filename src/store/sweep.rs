//! Deleting what has expired, through the expiry index: each batch reads only entries
//! whose time has come, so its cost follows what expired, never the size of the database.

use super::apikeys::{api_key_expired, remove_api_key};
use super::grants::{end_grace, load_grant_record, remove_grant, CodeMarker, RefreshMarker};
use super::tables::{
    expiry_key, ExpiryKind, CODES, EXPIRY, REFRESH_TOKENS, REVOKED_ACCESS, SIGNING_KEYS,
    USED_TICKETS,
};
use super::writer::Tx;
use super::{Store, StoreError};
use crate::model::UnixTime;

/// What one sweep removed, by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepCounts {
    pub codes: u64,
    pub refresh_tokens: u64,
    pub sessions: u64,
    pub grants: u64,
    pub api_keys: u64,
    pub consent_tickets: u64,
    pub revocations: u64,
    /// Records that failed to open; left in place and logged.
    pub corrupt: u64,
    /// Redeemed codes and rotated refresh tokens kept past their expiry because their grant
    /// still lives: presenting one again must still end it.
    pub markers_kept: u64,
    /// Retired signing keys whose last token has expired, taken out of the JWKS.
    pub signing_keys: u64,
    /// Rotated refresh tokens whose reuse grace ended: the successor's secret they kept is
    /// erased (the token itself stays, as a replay marker).
    pub graces_ended: u64,
    /// Sign-up invitations past their expiry.
    pub invites: u64,
}

impl SweepCounts {
    pub fn add(&mut self, other: &SweepCounts) {
        self.codes += other.codes;
        self.refresh_tokens += other.refresh_tokens;
        self.sessions += other.sessions;
        self.grants += other.grants;
        self.api_keys += other.api_keys;
        self.consent_tickets += other.consent_tickets;
        self.revocations += other.revocations;
        self.markers_kept += other.markers_kept;
        self.corrupt += other.corrupt;
        self.signing_keys += other.signing_keys;
        self.graces_ended += other.graces_ended;
        self.invites += other.invites;
    }

    pub fn removed(&self) -> u64 {
        self.codes
            + self.refresh_tokens
            + self.sessions
            + self.grants
            + self.api_keys
            + self.consent_tickets
            + self.revocations
            + self.signing_keys
            + self.invites
    }
}

impl Store {
    /// Removes up to `limit` expired entries in one write. Returns what it removed and
    /// whether expired entries remain for another batch.
    pub async fn sweep_batch(
        &self,
        now: UnixTime,
        limit: usize,
    ) -> Result<(SweepCounts, bool), StoreError> {
        self.write(move |tx| {
            let end = (now + 1).to_be_bytes();
            let entries = tx.keys_below(EXPIRY, &end, limit)?;
            let mut counts = SweepCounts::default();
            for entry in &entries {
                tx.remove(EXPIRY, entry)?;
                if entry.len() < 9 {
                    continue;
                }
                let key = &entry[9..];
                match sweep_entry(tx, entry[8], key, now, &mut counts) {
                    Ok(()) => {}
                    // A record that fails to open is reported, not retried forever, and
                    // never takes the other writes of this batch down with it.
                    Err(StoreError::Corrupt(message)) => {
                        tracing::error!(%message, "sweeper skipped a corrupt record");
                        counts.corrupt += 1;
                    }
                    Err(error) => return Err(error),
                }
            }
            Ok((counts, entries.len() == limit))
        })
        .await
        .inspect(|(counts, _)| {
            if counts.revocations > 0 {
                self.adjust_revoked_access(|count| count.saturating_sub(counts.revocations));
            }
            if counts.signing_keys > 0 {
                self.signing_keys_changed();
            }
        })
    }
}

fn sweep_entry(
    tx: &mut Tx<'_>,
    kind: u8,
    key: &[u8],
    now: UnixTime,
    counts: &mut SweepCounts,
) -> Result<(), StoreError> {
    match kind {
        kind if kind == ExpiryKind::Code as u8 => {
            match CodeMarker::of(tx, key)? {
                // Keep the consumed-code marker while its grant lives, re-indexed to the
                // grant's expiry; delete it once nothing is left to protect.
                CodeMarker::RedeemedInto(Some(grant_expires_at)) if grant_expires_at > now => {
                    tx.insert(
                        EXPIRY,
                        &expiry_key(grant_expires_at, ExpiryKind::Code, key),
                        &[],
                    )?;
                    counts.markers_kept += 1;
                }
                CodeMarker::Missing => {}
                _ => {
                    tx.remove(CODES, key)?;
                    counts.codes += 1;
                }
            }
        }
        kind if kind == ExpiryKind::RefreshToken as u8 => match RefreshMarker::of(tx, key)? {
            // A rotated token is the replay detector for its grant: while the grant lives,
            // the token stays (re-indexed to the grant's expiry), so presenting it again
            // still ends the grant. The successor it kept for a reuse grace goes once the
            // grace is over (the grace has its own entry, at its end).
            RefreshMarker::Rotated {
                grant_expires_at: Some(grant_expires_at),
                grace_until,
            } if grant_expires_at > now => {
                if grace_until.is_some_and(|until| until <= now) {
                    end_grace(tx, key)?;
                    counts.graces_ended += 1;
                }
                tx.insert(
                    EXPIRY,
                    &expiry_key(grant_expires_at, ExpiryKind::RefreshToken, key),
                    &[],
                )?;
                counts.markers_kept += 1;
            }
            RefreshMarker::Missing => {}
            _ => {
                tx.remove(REFRESH_TOKENS, key)?;
                counts.refresh_tokens += 1;
            }
        },
        kind if kind == ExpiryKind::Session as u8 => {
            let expired =
                super::sessions::load(tx, key)?.is_some_and(|session| session.expires_at <= now);
            if expired {
                super::sessions::remove_session(tx, key)?;
                counts.sessions += 1;
            }
        }
        kind if kind == ExpiryKind::Grant as u8 => {
            if let Some(grant) = load_grant_record(tx, key)? {
                if grant.expires_at <= now {
                    remove_grant(tx, key)?;
                    counts.grants += 1;
                } else {
                    // Rotations slid its lifetime without touching the index: come back then.
                    tx.insert(
                        EXPIRY,
                        &expiry_key(grant.expires_at, ExpiryKind::Grant, key),
                        &[],
                    )?;
                }
            }
        }
        kind if kind == ExpiryKind::ApiKey as u8 => {
            let expired = api_key_expired(tx, key, now)?;
            if expired {
                remove_api_key(tx, key)?;
            }
            counts.api_keys += u64::from(expired);
        }
        kind if kind == ExpiryKind::Invite as u8 => {
            counts.invites += u64::from(super::invites::sweep_invite(tx, key, now)?);
        }
        kind if kind == ExpiryKind::UsedTicket as u8 => {
            counts.consent_tickets += u64::from(tx.remove(USED_TICKETS, key)?);
        }
        kind if kind == ExpiryKind::RevokedAccess as u8 => {
            counts.revocations += u64::from(tx.remove(REVOKED_ACCESS, key)?);
        }
        kind if kind == ExpiryKind::SigningKey as u8 => {
            match super::signing_keys::publish_until(tx, key)? {
                // A retired key leaves the JWKS once every token it signed has expired.
                Some(until) if until <= now => {
                    counts.signing_keys += u64::from(tx.remove(SIGNING_KEYS, key)?);
                }
                // Its publication was extended after the entry was written: come back then.
                Some(until) => {
                    tx.insert(EXPIRY, &expiry_key(until, ExpiryKind::SigningKey, key), &[])?;
                }
                // Gone, or not retired: nothing to remove.
                None => {}
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClientId, Id, Scope, SecretHash, UserId};
    use crate::store::codec::unseal;
    use crate::store::grants::RefreshToken;
    use crate::store::records::grants::decode_refresh;
    use crate::store::{
        CodeGrant, NewCode, NewRefreshToken, Presented, Redemption, RefreshGrace, Rotation,
    };

    fn refresh_record(store: &Store, id: Id) -> Option<RefreshToken> {
        store
            .read(|reader| {
                reader
                    .get(REFRESH_TOKENS, id.as_bytes())?
                    .map(|bytes| {
                        decode_refresh(&unseal(
                            reader.sealer,
                            REFRESH_TOKENS,
                            id.as_bytes(),
                            &bytes,
                        )?)
                    })
                    .transpose()
            })
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_invitation_is_swept_at_its_expiry_and_not_before() {
        let (_dir, store) = crate::store::test_store();
        let id = Id::generate(1);
        store
            .insert_invite(crate::store::Invite {
                id,
                secret_hash: crate::model::SecretHash::of("s"),
                created_at: 1_000,
                expires_at: 2_000,
                uses_left: 1,
                uses_total: 1,
            })
            .await
            .unwrap();
        let (counts, _) = store.sweep_batch(1_999, 100).await.unwrap();
        assert_eq!(counts.invites, 0);
        assert!(store.invite(id).unwrap().is_some());
        let (counts, _) = store.sweep_batch(2_000, 100).await.unwrap();
        assert_eq!(counts.invites, 1);
        assert!(store.invite(id).unwrap().is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reuse_grace_keeps_the_successor_until_its_end_and_no_longer() {
        let (_dir, store) = crate::store::test_store();
        let user_id = UserId(Id::generate(1));
        crate::store::insert_test_user(&store, user_id, "alice").await;
        let code = Id::generate(10);
        store
            .issue_code(NewCode {
                id: code,
                secret_hash: SecretHash::of("code"),
                grant: CodeGrant {
                    client_id: ClientId(Id::generate(2)),
                    user_id,
                    redirect_uri: "https://app.example/cb".into(),
                    redirect_uri_sent: true,
                    scope: Scope::parse("openid").unwrap(),
                    code_challenge: None,
                    nonce: None,
                    auth_time: 0,
                    resources: Vec::new(),
                    sid: Some([7; 16]),
                },
                expires_at: 60,
                remember_consent: false,
                ticket: None,
            })
            .await
            .unwrap();
        let first = Id::generate(11);
        let redeemed = store
            .redeem_code(
                Redemption {
                    code_id: code,
                    secret: "code".into(),
                    now: 50,
                    grant_id: Id::generate(12),
                    refresh: Some(NewRefreshToken {
                        id: first,
                        secret_hash: SecretHash::of("first"),
                        expires_at: 10_000,
                    }),
                    access_expires_at: 200,
                },
                |_| Ok::<(), ()>(()),
            )
            .await
            .unwrap();
        // The grant carries its code's session id.
        let Presented::Accepted(crate::store::RedeemedCode { grant, .. }) = redeemed else {
            panic!("{redeemed:?}")
        };
        assert_eq!(grant.sid, Some([7; 16]));
        assert_eq!(store.grant(grant.id).unwrap().unwrap().sid, Some([7; 16]));

        let second = Id::generate(13);
        let rotated = store
            .rotate_refresh_token(
                Rotation {
                    token_id: first,
                    secret: "first".into(),
                    now: 100,
                    next_id: second,
                    next_secret_hash: SecretHash::of("second"),
                    grace: Some(RefreshGrace {
                        secret: "second".into(),
                        until: 130,
                    }),
                },
                |_| Ok::<UnixTime, ()>(10_000),
            )
            .await
            .unwrap();
        assert!(matches!(rotated, Presented::Accepted(_)));
        let kept = refresh_record(&store, first).unwrap();
        assert!(kept.rotated);
        let grace = kept.grace.expect("the successor is kept for the grace");
        assert_eq!(
            (grace.id, grace.secret.as_str(), grace.until),
            (second, "second", 130)
        );
        assert!(refresh_record(&store, second).unwrap().grace.is_none());

        let (before, _) = store.sweep_batch(129, 1000).await.unwrap();
        assert_eq!(before.graces_ended, 0);
        assert!(refresh_record(&store, first).unwrap().grace.is_some());
        // At its end the successor's secret is erased; the rotated token stays as the
        // replay marker it is.
        let (due, _) = store.sweep_batch(130, 1000).await.unwrap();
        assert_eq!(due.graces_ended, 1, "{due:?}");
        assert_eq!(due.refresh_tokens, 0, "{due:?}");
        let after = refresh_record(&store, first).unwrap();
        assert!(after.rotated && after.grace.is_none());
        let replay = store
            .rotate_refresh_token(
                Rotation {
                    token_id: first,
                    secret: "first".into(),
                    now: 140,
                    next_id: Id::generate(14),
                    next_secret_hash: SecretHash::of("third"),
                    grace: None,
                },
                |_| Ok::<UnixTime, ()>(10_000),
            )
            .await
            .unwrap();
        assert!(matches!(replay, Presented::Replayed));
    }
}
