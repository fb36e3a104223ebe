//! `backup` and `check`: both only read the database, so they run on a read-only handle, on
//! a database of an older schema too (before a migration, they are what an operator wants).

use super::views::{BackupView, CheckView};
use super::{AdminError, AdminErrorKind, AdminOutput, Plan};
use crate::model::Invalid;
use crate::store::{BackupError, Store};

/// Writes a consistent snapshot to `to`, which must be absolute: the server may be the one
/// writing it, from another working directory than the CLI's.
pub(super) fn backup(store: &Store, to: &str) -> Result<Plan, AdminError> {
    let path = std::path::PathBuf::from(to);
    if !path.is_absolute() {
        return Err(Invalid(format!("backup path '{to}' must be absolute")).into());
    }
    let report = store.backup_to(&path).map_err(|error| match error {
        BackupError::Store(error) => AdminError::from(error),
        other => AdminError::new(AdminErrorKind::Invalid, other.to_string()),
    })?;
    Ok(Plan::Done(AdminOutput::Backup(BackupView {
        backup: report.path.display().to_string(),
        records: report.records,
        bytes: report.bytes,
    })))
}

pub(super) async fn check(store: &Store) -> Result<Plan, AdminError> {
    let report = store.check().await?;
    Ok(Plan::Done(AdminOutput::Check(CheckView {
        ok: report.problems.is_empty(),
        schema_version: store.schema_version(),
        migration_snapshots: report
            .migration_snapshots
            .iter()
            .map(|path| path.display().to_string())
            .collect(),
        tables: report.tables.into_iter().collect(),
        problems: report.problems,
    })))
}
