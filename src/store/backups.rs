//! Scheduled backups (`serve --backup-dir DIR --backup-every D --backup-keep N`): one
//! consistent snapshot of the database per run, as `backup --to` writes it, into DIR as
//! `keyward-<UTC time>.redb` (0600). The file is written as `.NAME.partial` first and only
//! renamed once complete and synced, so a name without the dot is always a whole backup;
//! then it is opened read-only and every record checked under the master key, and a backup
//! that does not check is removed and reported. The oldest complete backups beyond N go.

use std::path::{Path, PathBuf};

use super::maintenance::{check_snapshot, read_transaction, write_snapshot_through};
use super::{files, BackupError, BackupReport, Store};
use crate::model::UnixTime;

const PREFIX: &str = "keyward-";
const SUFFIX: &str = ".redb";

/// Whether `name` is one of the complete scheduled backups of a backup directory.
pub fn is_scheduled_backup(name: &str) -> bool {
    name.starts_with(PREFIX) && name.ends_with(SUFFIX) && name.len() > PREFIX.len() + SUFFIX.len()
}

/// The scheduled backups in `directory`, oldest first (their names sort by time).
pub fn scheduled_backups(directory: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(directory)?
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
        .filter(|entry| is_scheduled_backup(&entry.file_name().to_string_lossy()))
        .map(|entry| entry.path())
        .collect();
    found.sort();
    Ok(found)
}

/// What one scheduled run did.
#[derive(Debug)]
pub struct ScheduledBackup {
    pub report: BackupReport,
    /// Older backups removed to keep N.
    pub removed: Vec<PathBuf>,
}

impl Store {
    /// Writes, checks and publishes one backup into `directory`, then keeps the newest
    /// `keep`. Blocking: run it off the async workers.
    pub fn scheduled_backup(
        &self,
        directory: &Path,
        keep: usize,
        now: UnixTime,
    ) -> Result<ScheduledBackup, BackupError> {
        let write_error = |path: &Path, error: &dyn std::fmt::Display| BackupError::Write {
            path: path.to_path_buf(),
            message: error.to_string(),
        };
        let stamp = crate::clock::compact_time(now);
        // Two runs in one second (a short --backup-every after a slow run) get a suffix.
        let mut attempt = 0u32;
        let path = loop {
            let name = match attempt {
                0 => format!("{PREFIX}{stamp}{SUFFIX}"),
                n => format!("{PREFIX}{stamp}-{n}{SUFFIX}"),
            };
            let path = directory.join(&name);
            match std::fs::symlink_metadata(&path) {
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => break path,
                Err(error) => return Err(write_error(&path, &error)),
                Ok(_) if attempt < 100 => attempt += 1,
                Ok(_) => return Err(BackupError::Exists(path)),
            }
        };
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let partial = directory.join(format!(".{name}.partial"));
        let temporary =
            files::create_exact(&partial).map_err(|error| write_error(&partial, &error))?;
        let report = super::catch_panic(|| {
            let snapshot = read_transaction(self)?;
            write_snapshot_through(&snapshot, self.inner.schema_version, &path, temporary)
        })
        .unwrap_or_else(|detail| Err(BackupError::Store(super::damaged(self.path(), &detail))))?;
        if let Err(problem) = self.verify_backup(&path) {
            let _ = std::fs::remove_file(&path);
            return Err(write_error(
                &path,
                &format!("the backup did not check after writing ({problem}); it was removed"),
            ));
        }
        let mut removed = Vec::new();
        let all = scheduled_backups(directory).map_err(|error| write_error(directory, &error))?;
        if all.len() > keep {
            for old in &all[..all.len() - keep] {
                match std::fs::remove_file(old) {
                    Ok(()) => removed.push(old.clone()),
                    Err(error) => tracing::warn!(
                        backup = %old.display(),
                        %error,
                        "an old backup could not be removed"
                    ),
                }
            }
        }
        Ok(ScheduledBackup { report, removed })
    }

    /// Opens a backup file read-only and reads every record as `check` does, under this
    /// store's master key.
    pub fn verify_backup(&self, path: &Path) -> Result<(), String> {
        super::catch_panic(|| -> Result<Vec<String>, String> {
            let database = redb::ReadOnlyDatabase::open(path).map_err(|error| error.to_string())?;
            let snapshot =
                redb::ReadableDatabase::begin_read(&database).map_err(|error| error.to_string())?;
            let report = check_snapshot(&snapshot, &self.inner.sealer, self.inner.schema_version)
                .map_err(|error| error.to_string())?;
            Ok(report.problems)
        })
        .unwrap_or_else(|detail| Err(format!("redb cannot read it ({detail})")))
        .and_then(|problems| match problems.first() {
            None => Ok(()),
            Some(first) => Err(format!("{} problems, the first: {first}", problems.len())),
        })
    }
}
