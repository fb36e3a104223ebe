//! `keyward restore --from FILE [--end-grants]`: the database put back from a backup, only
//! while no server runs.
//!
//! Nothing is replaced until the backup has proved itself. It is copied into the data
//! directory (the file named stays as it was), checked by redb's integrity check, opened
//! with the master key (a backup sealed under another key is refused), migrated if it is
//! of an older schema, and then what it may no longer vouch for is ended in it: every
//! session (everyone signs in again), every access token issued before now (the `restored`
//! row of `meta`), and with `--end-grants` every grant with its refresh tokens. Then
//! `check` must pass on it. Only then is the live database linked aside as
//! `keyward.redb.replaced-<UTC time>` and the restored one renamed over `keyward.redb`: a
//! crash at any moment leaves one whole database under the name, the old or the new.

use std::path::{Path, PathBuf};

use super::records::values::{decode_restored, encode_restored};
use super::tables::{GRANTS, META, SESSIONS};
use super::{files, OpenError, OpenOptions, Store, StoreError, DATABASE_FILE};
use crate::model::UnixTime;

const RESTORED_KEY: &[u8] = b"restored";

/// What a restore did, for the operator.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    pub database: PathBuf,
    pub from: PathBuf,
    /// When the backup file was last written (its modification time).
    pub backup_written_at: Option<UnixTime>,
    /// The schema the backup held, before any migration.
    pub backup_schema: u32,
    /// Where the database it replaced is kept; `None` when there was none.
    pub replaced: Option<PathBuf>,
    /// Rows per table, before (the replaced database) and after.
    pub before: Vec<(String, u64)>,
    pub after: Vec<(String, u64)>,
    pub sessions_ended: u64,
    /// `Some` under `--end-grants`: how many grants were ended.
    pub grants_ended: Option<u64>,
    /// Access tokens issued before this are refused.
    pub restored_at: UnixTime,
}

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(
        "database {0} is in use by a running keyward server: stop it first (systemctl stop \
         keyward), then restore. Nothing was changed"
    )]
    ServerRunning(PathBuf),
    #[error("{0}. Nothing was changed")]
    Refused(String),
}

impl Store {
    /// When the database was last restored from a backup, in milliseconds (0: never).
    pub fn restored_at_millis(&self) -> Result<u64, StoreError> {
        self.read(|reader| {
            reader
                .get(META, RESTORED_KEY)?
                .map(|bytes| decode_restored(&bytes))
                .transpose()
                .map(Option::unwrap_or_default)
        })
    }

    /// Ends every session, with its index entry. Returns how many there were.
    async fn end_every_session(&self) -> Result<u64, StoreError> {
        self.write(|tx| {
            let keys = tx.keys_with_prefix(SESSIONS, &[])?;
            let mut ended = 0;
            for key in keys {
                ended += u64::from(super::sessions::remove_session(tx, &key)?);
            }
            Ok(ended)
        })
        .await
    }

    /// Ends every grant, and with it its refresh tokens. Returns how many there were.
    async fn end_every_grant(&self) -> Result<u64, StoreError> {
        self.write(|tx| {
            let keys = tx.keys_with_prefix(GRANTS, &[])?;
            let mut ended = 0;
            for key in keys {
                ended += u64::from(super::grants::remove_grant(tx, &key)?);
            }
            Ok(ended)
        })
        .await
    }

    async fn mark_restored(&self, at_millis: u64) -> Result<(), StoreError> {
        self.write(move |tx| tx.insert(META, RESTORED_KEY, &encode_restored(at_millis)))
            .await
    }
}

fn refused(message: impl Into<String>) -> RestoreError {
    RestoreError::Refused(message.into())
}

/// Rows per table of the database at `path` as it is (empty when there is none).
fn table_rows(path: &Path) -> Result<Vec<(String, u64)>, RestoreError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let database = super::builder()
        .open_read_only(path)
        .map_err(|error| match error {
            redb::DatabaseError::DatabaseAlreadyOpen => {
                RestoreError::ServerRunning(path.to_path_buf())
            }
            error => refused(format!("cannot read {}: {error}", path.display())),
        })?;
    Ok(rows_of(&database))
}

/// The restore itself (see the module's docs). Access tokens made before `now_millis` stop
/// counting.
pub async fn restore(
    options: &OpenOptions,
    from: &Path,
    end_grants: bool,
    now_millis: u64,
) -> Result<RestoreReport, RestoreError> {
    let now: UnixTime = now_millis / 1000;
    let live = options.data_dir.join(DATABASE_FILE);
    let from_meta = std::fs::metadata(from).map_err(|error| {
        refused(format!(
            "cannot read the backup {}: {error}",
            from.display()
        ))
    })?;
    if !from_meta.is_file() {
        return Err(refused(format!("{} is not a file", from.display())));
    }
    if std::fs::canonicalize(from).ok() == std::fs::canonicalize(&live).ok() && live.exists() {
        return Err(refused("the backup named is the live database itself"));
    }
    // Hold the live database for the whole restore: a server started meanwhile waits, and
    // one running now is found here, before anything is done.
    let hold = if live.exists() {
        // Read-only: a refusal later must leave every byte of it as it was. A file left by
        // a crash opens only read-write (redb repairs it first, as any start would).
        match super::builder().open_read_only(&live) {
            Ok(database) => Some(Held::ReadOnly(database)),
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(RestoreError::ServerRunning(live))
            }
            Err(redb::DatabaseError::RepairAborted) => match super::builder().open(&live) {
                Ok(database) => Some(Held::Repaired(database)),
                Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                    return Err(RestoreError::ServerRunning(live))
                }
                Err(error) => return Err(damaged_live(&live, &error)),
            },
            Err(error) => return Err(damaged_live(&live, &error)),
        }
    } else {
        None
    };
    let before = match &hold {
        Some(Held::ReadOnly(database)) => rows_of(database),
        Some(Held::Repaired(database)) => rows_of(database),
        None => Vec::new(),
    };

    // The copy the restore works on, in a private directory beside the database.
    let work = tempdir_in(&options.data_dir)?;
    let copy = work.path.join(DATABASE_FILE);
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut source = std::fs::File::open(from).map_err(|error| {
            refused(format!(
                "cannot read the backup {}: {error}",
                from.display()
            ))
        })?;
        // In the private directory just made: a new file, 0600, never through a link.
        let mut target = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .mode(0o600)
            .open(&copy)
            .map_err(|error| {
                refused(format!(
                    "cannot write in {}: {error}",
                    options.data_dir.display()
                ))
            })?;
        std::io::copy(&mut source, &mut target)
            .and_then(|_| target.sync_all())
            .map_err(|error| refused(format!("cannot copy the backup: {error}")))?;
    }
    if let Err(problem) = super::maintenance::verify_file(&copy) {
        return Err(refused(format!(
            "the backup {} is damaged: {problem}",
            from.display()
        )));
    }
    let backup_schema = schema_of(&copy)?;
    if backup_schema > super::SCHEMA_VERSION {
        return Err(refused(format!(
            "the backup {} is of schema {backup_schema}, newer than this keyward's {}: restore \
             it with the keyward that wrote it",
            from.display(),
            super::SCHEMA_VERSION
        )));
    }
    let work_options = OpenOptions {
        data_dir: work.path.clone(),
        key: super::KeyLocation::FromEnvironment(options.key.path().to_path_buf()),
    };
    let store = Store::open(&work_options).map_err(|error| match error {
        OpenError::WrongKey { .. } => refused(format!(
            "the backup {} was not sealed with this data directory's master key ({}); a \
             backup opens only with the key it was made with",
            from.display(),
            options.key.path().display()
        )),
        error => refused(format!(
            "the backup {} does not open: {error}",
            from.display()
        )),
    })?;
    let ended = async {
        let sessions = store.end_every_session().await?;
        let grants = if end_grants {
            Some(store.end_every_grant().await?)
        } else {
            None
        };
        store.mark_restored(now_millis).await?;
        Ok::<_, StoreError>((sessions, grants))
    }
    .await
    .map_err(|error| refused(format!("cannot prepare the restored database: {error}")))?;
    let check = store
        .check()
        .await
        .map_err(|error| refused(format!("cannot check the restored database: {error}")))?;
    store
        .close()
        .map_err(|error| refused(format!("cannot close the restored database: {error}")))?;
    if let Some(problem) = check.problems.first() {
        return Err(refused(format!(
            "the backup {} does not pass check ({} problems; the first: {problem})",
            from.display(),
            check.problems.len()
        )));
    }
    let after = table_rows(&copy)?;

    // The swap: the live file linked aside first, then the restored one renamed over the
    // name, so the name always holds a whole database.
    let replaced = if live.exists() {
        let aside = free_name(&options.data_dir, now)?;
        std::fs::hard_link(&live, &aside).map_err(|error| {
            refused(format!(
                "cannot keep the database being replaced as {}: {error}",
                aside.display()
            ))
        })?;
        Some(aside)
    } else {
        None
    };
    std::fs::rename(&copy, &live).map_err(|error| {
        if let Some(aside) = &replaced {
            let _ = std::fs::remove_file(aside);
        }
        refused(format!(
            "cannot put the restored database in place: {error}"
        ))
    })?;
    let _ = files::sync_directory(&options.data_dir);
    drop(hold);
    Ok(RestoreReport {
        database: live,
        from: from.to_path_buf(),
        backup_written_at: from_meta
            .modified()
            .ok()
            .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|since| since.as_secs()),
        backup_schema,
        replaced,
        before,
        after,
        sessions_ended: ended.0,
        grants_ended: ended.1,
        restored_at: now,
    })
}

/// The live database, held open (and so locked against a server) for the whole restore.
enum Held {
    ReadOnly(redb::ReadOnlyDatabase),
    Repaired(redb::Database),
}

/// A live database that does not open at all cannot be held against a server starting
/// meanwhile; the operator moves it away first (and then restores into the empty place).
fn damaged_live(live: &Path, error: &redb::DatabaseError) -> RestoreError {
    refused(format!(
        "the database {} does not open ({error}); move it out of the data directory \
         yourself, then restore",
        live.display()
    ))
}

fn rows_of(database: &impl redb::ReadableDatabase) -> Vec<(String, u64)> {
    use redb::{ReadableTableMetadata, TableHandle};
    let Ok(read) = database.begin_read() else {
        return Vec::new();
    };
    let mut rows: Vec<(String, u64)> = read
        .list_tables()
        .map(|tables| {
            tables
                .filter_map(|table| {
                    let definition: redb::TableDefinition<&[u8], &[u8]> =
                        redb::TableDefinition::new(table.name());
                    read.open_table(definition)
                        .ok()
                        .map(|open| (table.name().to_owned(), open.len().unwrap_or(0)))
                })
                .collect()
        })
        .unwrap_or_default();
    rows.sort();
    rows
}

fn schema_of(path: &Path) -> Result<u32, RestoreError> {
    use redb::ReadableDatabase;
    let database = super::builder()
        .open_read_only(path)
        .map_err(|error| refused(format!("the backup does not open: {error}")))?;
    let read = database
        .begin_read()
        .map_err(|error| refused(error.to_string()))?;
    let meta = read
        .open_table(META)
        .map_err(|_| refused("the backup is not a keyward database (it has no meta table)"))?;
    let version = meta
        .get(super::META_SCHEMA_VERSION)
        .map_err(|error| refused(error.to_string()))?
        .ok_or_else(|| refused("the backup is not a keyward database (no schema version)"))?;
    let bytes: [u8; 4] = version
        .value()
        .try_into()
        .map_err(|_| refused("the backup's schema version is not 4 bytes"))?;
    Ok(u32::from_le_bytes(bytes))
}

/// `keyward.redb.replaced-<UTC time>`, with a suffix if that is taken.
fn free_name(data_dir: &Path, now: UnixTime) -> Result<PathBuf, RestoreError> {
    let stamp = crate::clock::compact_time(now);
    for attempt in 0..100u32 {
        let name = match attempt {
            0 => format!("{DATABASE_FILE}.replaced-{stamp}"),
            n => format!("{DATABASE_FILE}.replaced-{stamp}-{n}"),
        };
        let path = data_dir.join(name);
        if std::fs::symlink_metadata(&path).is_err() {
            return Ok(path);
        }
    }
    Err(refused("no free name to keep the replaced database under"))
}

/// A private directory in `parent` (0700, an unpredictable name), removed with what is in
/// it when dropped.
struct WorkDir {
    path: PathBuf,
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn tempdir_in(parent: &Path) -> Result<WorkDir, RestoreError> {
    use std::os::unix::fs::DirBuilderExt;
    if !parent.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|error| refused(format!("cannot create {}: {error}", parent.display())))?;
    }
    let path = parent.join(format!(".keyward-restore-{:016x}", rand::random::<u64>()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&path)
        .map_err(|error| refused(format!("cannot write in {}: {error}", parent.display())))?;
    Ok(WorkDir { path })
}
