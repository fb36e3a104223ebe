//! Counters for `/metrics` (Prometheus text format). Plain atomics: no registry, no labels
//! beyond what is written here.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::store::{SweepCounts, WriterStats};

#[derive(Default)]
pub struct Metrics {
    sweeps: AtomicU64,
    sweep_failures: AtomicU64,
    swept_codes: AtomicU64,
    swept_refresh_tokens: AtomicU64,
    swept_sessions: AtomicU64,
    swept_grants: AtomicU64,
    swept_api_keys: AtomicU64,
    swept_consent_tickets: AtomicU64,
    swept_revocations: AtomicU64,
    backups: AtomicU64,
    backup_failures: AtomicU64,
    /// Unix seconds of the last scheduled backup that was written and checked; 0: none yet.
    last_backup: AtomicU64,
    last_backup_bytes: AtomicU64,
    /// Whether scheduled backups are on (`serve --backup-dir`): only then are they reported.
    backups_scheduled: std::sync::atomic::AtomicBool,
}

impl Metrics {
    pub fn record_sweep(&self, counts: &SweepCounts) {
        self.sweeps.fetch_add(1, Ordering::Relaxed);
        self.swept_codes.fetch_add(counts.codes, Ordering::Relaxed);
        self.swept_refresh_tokens
            .fetch_add(counts.refresh_tokens, Ordering::Relaxed);
        self.swept_sessions
            .fetch_add(counts.sessions, Ordering::Relaxed);
        self.swept_grants
            .fetch_add(counts.grants, Ordering::Relaxed);
        self.swept_api_keys
            .fetch_add(counts.api_keys, Ordering::Relaxed);
        self.swept_consent_tickets
            .fetch_add(counts.consent_tickets, Ordering::Relaxed);
        self.swept_revocations
            .fetch_add(counts.revocations, Ordering::Relaxed);
    }

    pub fn record_sweep_failure(&self) {
        self.sweep_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn backups_scheduled(&self) {
        self.backups_scheduled.store(true, Ordering::Relaxed);
    }

    pub fn record_backup(&self, at: u64, bytes: u64) {
        self.backups.fetch_add(1, Ordering::Relaxed);
        self.last_backup.store(at, Ordering::Relaxed);
        self.last_backup_bytes.store(bytes, Ordering::Relaxed);
    }

    pub fn record_backup_failure(&self) {
        self.backup_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self, writer: Option<&WriterStats>) -> String {
        let mut text = String::new();
        if let Some(writer) = writer {
            counter(
                &mut text,
                "keyward_write_batches_total",
                "Durable commits of the group-commit writer.",
                &writer.batches,
            );
            counter(
                &mut text,
                "keyward_write_jobs_total",
                "Writes taken by the writer; divided by batches, how many requests share an fsync.",
                &writer.jobs,
            );
            counter(
                &mut text,
                "keyward_write_failed_jobs_total",
                "Writes answered 503 because their batch could not be committed.",
                &writer.failed_jobs,
            );
            counter(
                &mut text,
                "keyward_write_failed_batches_total",
                "Batches whose commit failed; every request in them was answered 503.",
                &writer.failed_batches,
            );
            let _ = writeln!(
                text,
                "# HELP keyward_storage_failed 1 while writes fail on storage or the writer has stopped; cleared by a restart.\n# TYPE keyward_storage_failed gauge\nkeyward_storage_failed {}",
                u8::from(writer.storage_has_failed())
            );
            counter(
                &mut text,
                "keyward_write_job_nanoseconds_total",
                "Writer time spent running jobs.",
                &writer.job_nanos,
            );
            counter(
                &mut text,
                "keyward_write_commit_nanoseconds_total",
                "Writer time spent committing (fsync included).",
                &writer.commit_nanos,
            );
        }
        counter(
            &mut text,
            "keyward_sweeps_total",
            "Background expiry sweeps run.",
            &self.sweeps,
        );
        counter(
            &mut text,
            "keyward_sweep_failures_total",
            "Sweeps that failed on storage.",
            &self.sweep_failures,
        );
        let _ = writeln!(
            text,
            "# HELP keyward_swept_records_total Expired records deleted by the sweeper.\n# TYPE keyward_swept_records_total counter"
        );
        for (kind, value) in [
            ("code", &self.swept_codes),
            ("refresh_token", &self.swept_refresh_tokens),
            ("session", &self.swept_sessions),
            ("grant", &self.swept_grants),
            ("api_key", &self.swept_api_keys),
            ("consent_ticket", &self.swept_consent_tickets),
            ("revocation", &self.swept_revocations),
        ] {
            let _ = writeln!(
                text,
                "keyward_swept_records_total{{kind=\"{kind}\"}} {}",
                value.load(Ordering::Relaxed)
            );
        }
        if self.backups_scheduled.load(Ordering::Relaxed) {
            counter(
                &mut text,
                "keyward_backups_total",
                "Scheduled backups written and checked.",
                &self.backups,
            );
            counter(
                &mut text,
                "keyward_backup_failures_total",
                "Scheduled backups that failed (not written, or written and not checking).",
                &self.backup_failures,
            );
            let last = self.last_backup.load(Ordering::Relaxed);
            let _ = writeln!(
                text,
                "# HELP keyward_backup_last_success_timestamp_seconds When the last scheduled backup was written and checked (0: none since start).
# TYPE keyward_backup_last_success_timestamp_seconds gauge
keyward_backup_last_success_timestamp_seconds {last}"
            );
            if last > 0 {
                let _ = writeln!(
                    text,
                    "# HELP keyward_backup_age_seconds Seconds since the last scheduled backup that was written and checked.
# TYPE keyward_backup_age_seconds gauge
keyward_backup_age_seconds {}",
                    crate::clock::now().saturating_sub(last)
                );
            }
            let _ = writeln!(
                text,
                "# HELP keyward_backup_last_bytes Size of the last scheduled backup.
# TYPE keyward_backup_last_bytes gauge
keyward_backup_last_bytes {}",
                self.last_backup_bytes.load(Ordering::Relaxed)
            );
        }
        text
    }
}

fn counter(text: &mut String, name: &str, help: &str, value: &AtomicU64) {
    let _ = writeln!(text, "# HELP {name} {help}");
    let _ = writeln!(text, "# TYPE {name} counter");
    let _ = writeln!(text, "{name} {}", value.load(Ordering::Relaxed));
}
