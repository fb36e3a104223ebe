//! The scheduled-backup task of `serve --backup-dir`: one `Store::scheduled_backup` at
//! start and then every `--backup-every`, off the async workers, each outcome logged and
//! counted in `/metrics`. A failed run is retried at the next one; it never stops serving.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::clock;
use crate::metrics::Metrics;
use crate::store::Store;

pub const DEFAULT_EVERY: Duration = Duration::from_secs(86_400);
pub const DEFAULT_KEEP: usize = 7;

#[derive(Clone, Debug)]
pub struct BackupSchedule {
    pub dir: PathBuf,
    pub every: Duration,
    pub keep: usize,
}

/// Makes the directory (0700) when it is missing, and tries a file in it, so that a
/// directory keyward cannot write stops the start with a sentence.
pub fn prepare_directory(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(format!("--backup-dir {} is not a directory", dir.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|error| {
                    format!("--backup-dir {}: cannot create it: {error}", dir.display())
                })?;
        }
        Err(error) => return Err(format!("--backup-dir {}: {error}", dir.display())),
    }
    let probe = dir.join(format!(".keyward-probe-{:016x}", rand::random::<u64>()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|error| {
            format!(
                "--backup-dir {}: cannot write in it: {error}",
                dir.display()
            )
        })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

pub async fn run(
    store: Store,
    metrics: Arc<Metrics>,
    schedule: BackupSchedule,
    shutdown: impl std::future::Future<Output = ()>,
) {
    metrics.backups_scheduled();
    let mut ticks = tokio::time::interval(schedule.every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = ticks.tick() => {}
        }
        let (store, dir, keep) = (store.clone(), schedule.dir.clone(), schedule.keep);
        let now = clock::now();
        let outcome =
            tokio::task::spawn_blocking(move || store.scheduled_backup(&dir, keep, now)).await;
        match outcome {
            Ok(Ok(done)) => {
                metrics.record_backup(now, done.report.bytes);
                tracing::info!(
                    backup = %done.report.path.display(),
                    records = done.report.records,
                    bytes = done.report.bytes,
                    removed = done.removed.len(),
                    "scheduled backup written and checked"
                );
            }
            Ok(Err(error)) => {
                metrics.record_backup_failure();
                tracing::error!(%error, "scheduled backup failed; will retry at the next run");
            }
            Err(error) => {
                metrics.record_backup_failure();
                tracing::error!(%error, "scheduled backup stopped; will retry at the next run");
            }
        }
    }
}
