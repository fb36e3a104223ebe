//! Whole-database operations for operators: a consistent backup while serving, and a check
//! that every record opens under the master key and decodes.

use std::path::{Path, PathBuf};

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableHandle};

use super::tables::{self, Table};
use super::{codec, files, records};
use super::{Engine, Store, StoreError};
use crate::seal::Sealer;

/// What a backup wrote.
#[derive(Debug, Clone)]
pub struct BackupReport {
    pub path: PathBuf,
    pub records: u64,
    pub bytes: u64,
}

/// What a check found: rows per table, and every problem, in words.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    pub tables: Vec<(String, u64)>,
    pub problems: Vec<String>,
    /// Snapshots that migrations kept beside the database.
    pub migration_snapshots: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} already exists; choose a new file name (a backup never overwrites)")]
    Exists(PathBuf),
    #[error("cannot write the backup to {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error("{0}")]
    Store(#[from] StoreError),
}

pub(super) fn read_transaction(store: &Store) -> Result<redb::ReadTransaction, StoreError> {
    match &store.inner.engine {
        Engine::Writable { database, .. } => database.begin_read(),
        Engine::ReadOnly(database) => database.begin_read(),
    }
    .map_err(StoreError::unavailable)
}

impl Store {
    /// Copies one consistent snapshot of every table into a new database file at `path`.
    /// Records stay sealed as they are, so the backup opens with the same master key. The
    /// copy is written under an unpredictable temporary name beside its own (created
    /// exclusively, mode 0600, never through a link) and published with a hard link that
    /// never replaces an existing file, so a crash mid-backup leaves no half backup under
    /// the name, and a link planted at either name is never written through.
    pub fn backup_to(&self, path: &Path) -> Result<BackupReport, BackupError> {
        // A page damaged outside redb may make it panic while copying: the temporary is
        // removed on the way out, and the caller hears that the database is damaged.
        super::catch_panic(|| {
            let snapshot = read_transaction(self)?;
            write_snapshot(&snapshot, self.inner.schema_version, path)
        })
        .unwrap_or_else(|detail| Err(BackupError::Store(super::damaged(self.path(), &detail))))
    }

    /// Verifies the file as redb's own integrity check does (on a copy: that check repairs
    /// what it finds, and `check` changes nothing), then reads every record of every table,
    /// opens the sealed ones and decodes them, and checks that the username index points at
    /// users. A file that passes can be written.
    pub async fn check(&self) -> Result<CheckReport, StoreError> {
        let integrity = self.check_integrity_of_copy().await?;
        let mut report = super::catch_panic(|| self.check_records())
            .unwrap_or_else(|detail| Err(super::damaged(self.path(), &detail)))?;
        if let Err(problem) = integrity {
            report.problems.insert(
                0,
                format!(
                    "{}: the file is damaged: {problem}; restore it from a backup",
                    self.path().display()
                ),
            );
        }
        Ok(report)
    }

    /// Copies the file into a private temporary beside it (0600, an unpredictable name,
    /// removed afterwards) while it is quiescent, and runs redb's integrity check on the
    /// copy. While a server runs, the copy is taken on its writer thread between two
    /// batches, so it is exactly the last commit; a read-only handle has no writer, and the
    /// file's lock keeps any other writer out. `Ok(Err(problem))` is a damaged file.
    async fn check_integrity_of_copy(&self) -> Result<Result<(), String>, StoreError> {
        let source = self.path().to_path_buf();
        let copy = move || -> std::io::Result<files::PrivateFile> {
            let mut temporary =
                files::create_in(files::directory_of(&source), ".keyward.redb.check")?;
            let mut file = std::fs::File::open(&source)?;
            std::io::copy(&mut file, &mut temporary.file)?;
            Ok(temporary)
        };
        let copied = match &self.inner.engine {
            Engine::Writable { writer, .. } => writer.between_batches(copy).await?,
            Engine::ReadOnly(_) => copy(),
        };
        let copy = copied.map_err(|error| {
            StoreError::Unavailable(format!(
                "cannot copy {} to check it: {error}",
                self.path().display()
            ))
        })?;
        Ok(verify_copy(&copy))
    }

    fn check_records(&self) -> Result<CheckReport, StoreError> {
        let snapshot = read_transaction(self)?;
        let mut report = check_snapshot(&snapshot, &self.inner.sealer, self.inner.schema_version)?;
        report.migration_snapshots = super::migrate::snapshots_beside(&self.inner.path);
        Ok(report)
    }
}

/// Every record of every table of a schema-`version` database, as `snapshot` sees it,
/// opened with `sealer` and decoded, and the indexes that find a user checked against the
/// users: `check`'s reading of the records, for the database and for a backup just written.
pub(super) fn check_snapshot(
    snapshot: &redb::ReadTransaction,
    sealer: &Sealer,
    version: u32,
) -> Result<CheckReport, StoreError> {
    {
        let mut report = CheckReport::default();
        for table in tables::tables_at(version) {
            let source = match snapshot.open_table(table) {
                Ok(source) => source,
                // The open paths refuse such a database; should one get here, a missing
                // table is a problem to report, never an empty table.
                Err(redb::TableError::TableDoesNotExist(_)) => {
                    report
                        .problems
                        .push(format!("{}: the table is missing", table.name()));
                    continue;
                }
                Err(error) => return Err(StoreError::unavailable(error)),
            };
            let rows = source.len().map_err(StoreError::unavailable)?;
            report.tables.push((table.name().to_owned(), rows));
            for row in source.iter().map_err(StoreError::unavailable)? {
                let (key, value) = row.map_err(StoreError::unavailable)?;
                if let Err(error) = check_row(sealer, table, key.value(), value.value()) {
                    report.problems.push(format!(
                        "{}: record {}: {error}",
                        table.name(),
                        hex(key.value())
                    ));
                }
            }
        }
        let users = snapshot
            .open_table(tables::USERS)
            .map_err(StoreError::unavailable)?;
        // The indexes that find a user must name one that exists: a dangling entry would
        // make a name look taken, or an identity sign in to nobody.
        for index in tables::tables_at(version)
            .filter(|table| matches!(table.name(), "usernames" | "identities"))
        {
            let entries = snapshot
                .open_table(index)
                .map_err(StoreError::unavailable)?;
            for row in entries.iter().map_err(StoreError::unavailable)? {
                let (_, user_id) = row.map_err(StoreError::unavailable)?;
                if users
                    .get(user_id.value())
                    .map_err(StoreError::unavailable)?
                    .is_none()
                {
                    report.problems.push(format!(
                        "{}: an entry names user {} which does not exist",
                        index.name(),
                        hex(user_id.value())
                    ));
                }
            }
        }
        Ok(report)
    }
}

/// `verify_copy` on a file of the caller's (a restore's private copy of a backup).
pub(super) fn verify_file(path: &Path) -> Result<(), String> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|error| error.to_string())?;
    verify_handle(file)
}

/// redb's integrity check on a copy: every page of the committed trees against its
/// checksum, and the allocator state rebuilt and compared. The open itself runs that check
/// (`set_check_integrity_on_open`), because a plain open of a damaged file may panic; a
/// repair that had to roll back to the previous commit is damage too.
fn verify_copy(copy: &files::PrivateFile) -> Result<(), String> {
    verify_handle(copy.handle().map_err(|error| error.to_string())?)
}

fn verify_handle(handle: std::fs::File) -> Result<(), String> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let rolled_back = Arc::new(AtomicBool::new(false));
    let seen = rolled_back.clone();
    let mut builder = super::builder();
    builder.set_check_integrity_on_open(true);
    // redb reports a repair's progress: 0.3 is reached only when the last commit does not
    // verify and is being rolled back.
    builder.set_repair_callback(move |session| {
        if (0.2..0.5).contains(&session.progress()) {
            seen.store(true, Ordering::Relaxed);
        }
    });
    let outcome = super::catch_panic(|| -> Result<bool, redb::Error> {
        let backend = redb::backends::FileBackend::new(handle)?;
        let mut database = builder.create_with_backend(backend)?;
        let clean = database.check_integrity()?;
        Ok(clean)
    });
    match outcome {
        Err(detail) => Err(format!("redb cannot read it ({detail})")),
        Ok(Err(error)) => Err(error.to_string()),
        Ok(Ok(false)) => Err("its pages or its allocator state do not verify".into()),
        Ok(Ok(true)) if rolled_back.load(Ordering::Relaxed) => {
            Err("its last commit does not verify (redb would roll it back)".into())
        }
        Ok(Ok(true)) => Ok(()),
    }
}

/// Reads one row as the store reads it: a sealed value is opened under its table and key,
/// and every record goes through its kind's decoder, so a damaged record or one of a format
/// version this keyward does not read is a problem. Rows that hold no record (the indexes,
/// `expiry`) are checked for their layout.
fn check_row(sealer: &Sealer, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
    let opened = || codec::unseal(sealer, table, key, value);
    let key_of = |length: usize| layout(table, "key", key, length);
    let value_of = |length: usize| layout(table, "value", value, length);
    match table.name() {
        // Its two rows are verified by every open: the schema version and the key check.
        "meta" => {}
        "clients" => {
            records::clients::decode(super::clients::key_id(key)?, &opened()?)?;
        }
        "users" => {
            records::users::decode(super::users::user_id(key)?, &opened()?)?;
        }
        "codes" => {
            key_of(16)?;
            records::grants::decode_code(&opened()?)?;
        }
        "grants" => {
            key_of(16)?;
            records::grants::decode_grant(&opened()?)?;
        }
        "refresh_tokens" => {
            key_of(16)?;
            records::grants::decode_refresh(&opened()?)?;
        }
        "consents" => {
            key_of(32)?;
            records::grants::decode_consent(&opened()?)?;
        }
        "sessions" => {
            key_of(32)?;
            records::sessions::decode(&opened()?)?;
        }
        "api_keys" => {
            key_of(16)?;
            records::apikeys::decode(&opened()?)?;
        }
        "scopes" => {
            std::str::from_utf8(key)
                .map_err(|_| StoreError::Corrupt("scope name is not UTF-8".into()))?;
            records::scopes::decode(value)?;
        }
        "used_tickets" | "revoked_access" => {
            key_of(16)?;
            records::values::decode_expiry(table, value)?;
        }
        "code_fences" => {
            key_of(32)?;
            records::values::decode_fence(value)?;
        }
        "signing_keys" => {
            records::signing_keys::decode(super::signing_keys::key_id(key)?, &opened()?)?;
        }
        "upstreams" => {
            let name = super::upstreams::upstream_name(key)?;
            records::upstreams::decode(name, &opened()?)?;
        }
        "registration_tokens" => {
            records::registration_tokens::decode(super::registration::token_id(key)?, &opened()?)?;
        }
        "invites" => {
            records::invites::decode(super::invites::invite_id(key)?, &opened()?)?;
        }
        "user_identities" => {
            if !(17..=16 + crate::upstream::UpstreamName::MAX_CHARS).contains(&key.len()) {
                return Err(StoreError::Corrupt(format!(
                    "user_identities key is {} bytes, expected a user id and an upstream name",
                    key.len()
                )));
            }
            super::upstreams::upstream_name(&key[16..])?;
            records::upstreams::decode_identity(&opened()?)?;
        }
        "usernames" | "identities" => {
            key_of(32)?;
            value_of(16)?;
        }
        "user_grants" | "client_grants" | "user_api_keys" => {
            key_of(32)?;
            value_of(0)?;
        }
        "user_sessions" => {
            key_of(48)?;
            value_of(0)?;
        }
        "expiry" => {
            if key.len() < 9 {
                return Err(StoreError::Corrupt(format!(
                    "expiry key is {} bytes, shorter than a time and a kind",
                    key.len()
                )));
            }
            value_of(0)?;
        }
        // A table added without a reader here would pass unread: say so instead.
        name => {
            return Err(StoreError::Corrupt(format!(
                "keyward check has no reader for table {name}"
            )))
        }
    }
    Ok(())
}

fn layout(table: Table, part: &str, bytes: &[u8], length: usize) -> Result<(), StoreError> {
    if bytes.len() == length {
        return Ok(());
    }
    Err(StoreError::Corrupt(format!(
        "{} {part} is {} bytes, expected {length}",
        table.name(),
        bytes.len()
    )))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Writes the tables of a schema-`version` database, as `snapshot` sees them, into a new
/// database file at `path` (see `Store::backup_to`). Also the pre-migration snapshot.
pub(super) fn write_snapshot(
    snapshot: &redb::ReadTransaction,
    version: u32,
    path: &Path,
) -> Result<BackupReport, BackupError> {
    let write_error = |error: &dyn std::fmt::Display| BackupError::Write {
        path: path.to_path_buf(),
        message: error.to_string(),
    };
    // Not `exists()`, which follows a link: a link at the target is a file that exists.
    match std::fs::symlink_metadata(path) {
        Ok(_) => return Err(BackupError::Exists(path.to_path_buf())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(write_error(&error)),
    }
    let temporary = files::create_beside(path, "partial").map_err(|error| write_error(&error))?;
    write_snapshot_through(snapshot, version, path, temporary)
}

/// `write_snapshot` into a temporary file the caller made, published at `path`.
pub(super) fn write_snapshot_through(
    snapshot: &redb::ReadTransaction,
    version: u32,
    path: &Path,
    temporary: files::PrivateFile,
) -> Result<BackupReport, BackupError> {
    let write_error = |error: &dyn std::fmt::Display| BackupError::Write {
        path: path.to_path_buf(),
        message: error.to_string(),
    };
    let mut records = 0u64;
    let copied = (|| -> Result<(), redb::Error> {
        let backend = redb::backends::FileBackend::new(temporary.handle()?)?;
        let target = super::builder().create_with_backend(backend)?;
        let transaction = target.begin_write()?;
        for table in tables::tables_at(version) {
            let mut destination = transaction.open_table(table)?;
            // A missing table fails the backup: a copy without it would restore as a
            // database that lost, say, its revocations.
            let source = snapshot.open_table(table)?;
            for row in source.iter()? {
                let (key, value) = row?;
                destination.insert(key.value(), value.value())?;
                records += 1;
            }
        }
        transaction.commit()?;
        target.close()?;
        temporary.file.sync_all()?;
        Ok(())
    })();
    copied.map_err(|error| write_error(&error))?;
    match temporary.publish(path) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(BackupError::Exists(path.to_path_buf()))
        }
        Err(error) => return Err(write_error(&error)),
    }
    let bytes = temporary
        .file
        .metadata()
        .map(|meta| meta.len())
        .unwrap_or(0);
    Ok(BackupReport {
        path: path.to_path_buf(),
        records,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::MasterKey;
    use crate::store::tables::{
        API_KEYS, CLIENTS, CODES, CODE_FENCES, CONSENTS, GRANTS, INVITES, REFRESH_TOKENS,
        REGISTRATION_TOKENS, REVOKED_ACCESS, SCOPES, SESSIONS, SIGNING_KEYS, UPSTREAMS,
        USED_TICKETS, USERS, USER_IDENTITIES, USER_SESSIONS,
    };
    use crate::store::{KeyLocation, OpenOptions};

    fn open(dir: &Path) -> Store {
        Store::open(&OpenOptions {
            data_dir: dir.to_path_buf(),
            key: KeyLocation::Default(dir.join("master.key")),
        })
        .expect("the store opens")
    }

    /// The tables whose values are sealed (docs/storage-format.md §5).
    fn sealed(table: Table) -> bool {
        matches!(
            table.name(),
            "clients"
                | "users"
                | "codes"
                | "grants"
                | "refresh_tokens"
                | "sessions"
                | "consents"
                | "api_keys"
                | "signing_keys"
                | "upstreams"
                | "user_identities"
                | "invites"
                | "registration_tokens"
        )
    }

    #[test]
    fn check_has_a_reader_for_every_table() {
        let sealer = Sealer::new(&MasterKey::from_bytes([5; 32]));
        for table in tables::ALL {
            if let Err(error) = check_row(&sealer, table, &[], &[]) {
                let message = error.to_string();
                assert!(!message.contains("no reader"), "{}", table.name());
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn check_reports_a_record_of_a_format_version_it_does_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        // One row at format version 9 in every table that holds records, its key well formed.
        let rows: Vec<(Table, Vec<u8>)> = vec![
            (CLIENTS, vec![1; 16]),
            (USERS, vec![2; 16]),
            (CODES, vec![3; 16]),
            (GRANTS, vec![4; 16]),
            (REFRESH_TOKENS, vec![5; 16]),
            (SESSIONS, vec![6; 32]),
            (CONSENTS, vec![7; 32]),
            (API_KEYS, vec![8; 16]),
            (USED_TICKETS, vec![9; 16]),
            (REVOKED_ACCESS, vec![10; 16]),
            (SCOPES, b"deploy".to_vec()),
            (CODE_FENCES, vec![11; 32]),
            (SIGNING_KEYS, vec![13; 16]),
            (UPSTREAMS, b"corp".to_vec()),
            (INVITES, vec![15; 16]),
            (REGISTRATION_TOKENS, vec![16; 16]),
            (USER_IDENTITIES, [[14; 16].as_slice(), b"corp"].concat()),
        ];
        let written = rows.clone();
        store
            .write(move |tx| {
                for (table, key) in &written {
                    let record = [9u8, 0, 0];
                    let value = if sealed(*table) {
                        tx.sealer.seal(table.name(), key, &record)
                    } else {
                        record.to_vec()
                    };
                    tx.insert(*table, key, &value)?;
                }
                // A scope of format 1, as keyward 0.1 wrote it, is read; an index row that
                // carries a value is not what the index holds.
                tx.insert(SCOPES, b"read", &[1, 4, b'R', b'e', b'a', b'd'])?;
                tx.insert(USER_SESSIONS, &[12; 48], &[1])?;
                Ok(())
            })
            .await
            .unwrap();
        let report = store.check().await.unwrap();
        for (table, _) in &rows {
            assert!(
                report.problems.iter().any(|problem| {
                    problem.starts_with(&format!("{}: record ", table.name()))
                        && problem.contains("format version 9")
                }),
                "{}: {:?}",
                table.name(),
                report.problems
            );
        }
        assert!(
            report
                .problems
                .iter()
                .any(|problem| problem.starts_with("user_sessions: record")
                    && problem.contains("value is 1 bytes, expected 0")),
            "{:?}",
            report.problems
        );
        assert_eq!(
            report.problems.len(),
            rows.len() + 1,
            "{:?}",
            report.problems
        );
    }
}
