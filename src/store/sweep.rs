//! Deleting what has expired, through the expiry index: each batch reads only entries
//! whose time has come, so its cost follows what expired, never the size of the database.

use super::apikeys::{api_key_expired, remove_api_key};
use super::grants::{load_grant_record, remove_grant, CodeMarker, RefreshMarker};
use super::tables::{
    expiry_key, ExpiryKind, CODES, EXPIRY, REFRESH_TOKENS, REVOKED_ACCESS, USED_TICKETS,
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
    }

    pub fn removed(&self) -> u64 {
        self.codes
            + self.refresh_tokens
            + self.sessions
            + self.grants
            + self.api_keys
            + self.consent_tickets
            + self.revocations
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
            // still ends the grant.
            RefreshMarker::Rotated(Some(grant_expires_at)) if grant_expires_at > now => {
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
        kind if kind == ExpiryKind::UsedTicket as u8 => {
            counts.consent_tickets += u64::from(tx.remove(USED_TICKETS, key)?);
        }
        kind if kind == ExpiryKind::RevokedAccess as u8 => {
            counts.revocations += u64::from(tx.remove(REVOKED_ACCESS, key)?);
        }
        _ => {}
    }
    Ok(())
}
