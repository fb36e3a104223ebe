//! Background expiry. `sweep_once` is a plain function over the store and a time, tested
//! directly; `run` is the owned task that calls it every interval until shutdown.

use std::sync::Arc;
use std::time::Duration;

use crate::clock;
use crate::metrics::Metrics;
use crate::model::UnixTime;
use crate::oauth::apikeys::UsageLog;
use crate::store::{Store, StoreError, SweepCounts};

/// Entries per write transaction: small enough that a sweep never holds the single writer
/// for long, so requests waiting on a durable write are not starved.
pub const BATCH: usize = 1000;

/// Deletes everything that expired at or before `now`, in bounded batches.
pub async fn sweep_once(store: &Store, now: UnixTime) -> Result<SweepCounts, StoreError> {
    let mut total = SweepCounts::default();
    loop {
        let (counts, more) = store.sweep_batch(now, BATCH).await?;
        total.add(&counts);
        if !more {
            return Ok(total);
        }
    }
}

/// Writes the API keys' "last used" times gathered since the last flush, in one commit.
async fn flush_usage(store: &Store, usage: &UsageLog) {
    if let Err(error) = store.record_api_key_use(usage.take()).await {
        tracing::warn!(%error, "could not record API key use; it is dropped");
    }
}

/// Sweeps every `interval` until `shutdown` resolves; a sweep in progress finishes first.
pub async fn run(
    store: Store,
    metrics: Arc<Metrics>,
    usage: Arc<UsageLog>,
    interval: Duration,
    unused_registration_ttl: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => {
                flush_usage(&store, &usage).await;
                return;
            }
            _ = ticks.tick() => {}
        }
        flush_usage(&store, &usage).await;
        let registered_before = clock::now().saturating_sub(unused_registration_ttl.as_secs());
        match store
            .sweep_unused_registered_clients(registered_before)
            .await
        {
            Ok(0) => {}
            Ok(swept) => tracing::info!(swept, "removed registered clients nobody used"),
            Err(error) => tracing::warn!(%error, "could not sweep unused registered clients"),
        }
        match sweep_once(&store, clock::now()).await {
            Ok(counts) => {
                metrics.record_sweep(&counts);
                if counts.removed() > 0 {
                    tracing::info!(?counts, "swept expired records");
                }
            }
            Err(error) => {
                metrics.record_sweep_failure();
                tracing::warn!(%error, "expiry sweep failed; will retry");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClientId, Id, Scope, SecretHash, User, UserId, Username};
    use crate::store::{CodeGrant, NewCode, NewRefreshToken, Presented, Redemption};

    fn store() -> (tempfile::TempDir, Store) {
        crate::store::test_store()
    }

    fn code(id: Id, user_id: UserId, expires_at: UnixTime) -> NewCode {
        NewCode {
            id,
            secret_hash: SecretHash::of("secret"),
            grant: CodeGrant {
                client_id: ClientId(Id::generate(1)),
                user_id,
                redirect_uri: "https://app.example/cb".into(),
                redirect_uri_sent: true,
                scope: Scope::parse("openid").unwrap(),
                code_challenge: None,
                nonce: None,
                auth_time: 0,
                resources: Vec::new(),
                sid: None,
            },
            expires_at,
            remember_consent: false,
            ticket: Some((Id::generate(2), expires_at)),
        }
    }

    /// A reset link's one-time id is marked used in the commit that sets the password, and
    /// the mark lives as long as the link would have, then the sweeper removes it.
    #[tokio::test]
    async fn a_password_reset_uses_its_link_once_and_the_mark_is_swept_at_the_links_expiry() {
        use crate::store::{PasswordReset, ResetNotApplied, Session};
        let (_dir, store) = store();
        let user_id = UserId(Id::generate(1));
        store
            .insert_user(User {
                id: user_id,
                username: Username::parse("alice").unwrap(),
                email: None,
                name: None,
                password_hash: "old".into(),
                created_at: 0,
                email_verified: false,
                updated_at: 0,
                developer: false,
            })
            .await
            .unwrap();
        let session = Session {
            user_id,
            auth_time: 0,
            expires_at: 10_000,
        };
        store
            .insert_session(SecretHash::of("cookie"), session)
            .await
            .unwrap();
        let link_id = Id::generate(2);
        let reset = |hash: &str| PasswordReset {
            user_id,
            link_id,
            link_expires_at: 100,
            password_hash: hash.into(),
        };
        // The caller's check refuses: nothing is written, the link stays unused.
        assert!(matches!(
            store.reset_password(reset("refused"), |_| false).await,
            Err(ResetNotApplied::Superseded)
        ));
        assert!(!store.ticket_used(link_id).unwrap());
        assert!(store
            .session(&SecretHash::of("cookie"), 0)
            .unwrap()
            .is_some());

        store
            .reset_password(reset("new"), |user| user.password_hash == "old")
            .await
            .unwrap();
        assert_eq!(store.user(user_id).unwrap().unwrap().password_hash, "new");
        assert!(store
            .session(&SecretHash::of("cookie"), 0)
            .unwrap()
            .is_none());
        assert!(store.ticket_used(link_id).unwrap());
        // Used once: even a check that passes cannot use it again.
        assert!(matches!(
            store.reset_password(reset("again"), |_| true).await,
            Err(ResetNotApplied::AlreadyUsed)
        ));
        assert_eq!(store.user(user_id).unwrap().unwrap().password_hash, "new");

        assert_eq!(sweep_once(&store, 99).await.unwrap().consent_tickets, 0);
        assert_eq!(sweep_once(&store, 100).await.unwrap().consent_tickets, 1);
        assert!(!store.ticket_used(link_id).unwrap());
    }

    #[tokio::test]
    async fn sweeps_only_what_expired_and_keeps_live_replay_markers() {
        let (_dir, store) = store();
        // Redemption checks that the code's user exists.
        let user_id = UserId(Id::generate(1));
        crate::store::insert_test_user(&store, user_id, "alice").await;
        let unused = Id::generate(10);
        let redeemed = Id::generate(11);
        store.issue_code(code(unused, user_id, 100)).await.unwrap();
        store
            .issue_code(code(redeemed, user_id, 100))
            .await
            .unwrap();
        let outcome = store
            .redeem_code(
                Redemption {
                    code_id: redeemed,
                    secret: "secret".into(),
                    now: 50,
                    grant_id: Id::generate(12),
                    refresh: Some(NewRefreshToken {
                        id: Id::generate(13),
                        secret_hash: SecretHash::of("refresh"),
                        expires_at: 1000,
                    }),
                    access_expires_at: 200,
                },
                |_| Ok::<(), ()>(()),
            )
            .await
            .unwrap();
        assert!(matches!(outcome, Presented::Accepted(_)));

        assert_eq!(
            sweep_once(&store, 99).await.unwrap(),
            SweepCounts::default()
        );

        let at_code_expiry = sweep_once(&store, 100).await.unwrap();
        assert_eq!(at_code_expiry.codes, 1, "{at_code_expiry:?}");
        assert_eq!(at_code_expiry.consent_tickets, 2);
        assert_eq!(at_code_expiry.markers_kept, 1);
        // The redeemed code still ends its grant when replayed.
        let replay = store
            .redeem_code(
                Redemption {
                    code_id: redeemed,
                    secret: "secret".into(),
                    now: 500,
                    grant_id: Id::generate(14),
                    refresh: None,
                    access_expires_at: 600,
                },
                |_| Ok::<(), ()>(()),
            )
            .await
            .unwrap();
        assert!(matches!(replay, Presented::Replayed));

        let later = sweep_once(&store, 1000).await.unwrap();
        assert_eq!(later.refresh_tokens, 1, "{later:?}");
        assert_eq!(later.codes, 1, "{later:?}");
        assert_eq!(sweep_once(&store, 5000).await.unwrap().removed(), 0);
    }
}
