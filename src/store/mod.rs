//! The only module that touches redb. Everything above it sees domain types from
//! `model.rs` and these methods; no redb type crosses this boundary, so a second engine can
//! stand behind the same API later.
//!
//! Reads run on the caller's thread in a redb read transaction. Writes go to one writer
//! thread (`writer.rs`) that commits them in batches, durably, before any caller hears back.

mod access;
mod apikeys;
mod backups;
mod clients;
mod codec;
mod files;
mod grants;
mod invites;
mod keyfile;
mod maintenance;
mod meta;
mod migrate;
mod records;
mod registration;
mod restore;
mod scopes;
mod sessions;
mod signing_keys;
mod sweep;
mod tables;
mod upstreams;
mod users;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use redb::{ReadableDatabase, ReadableTable, TableHandle};

use crate::seal::Sealer;
pub use access::AccessState;
pub use apikeys::{ApiKey, KeyNotStored};
pub use backups::{is_scheduled_backup, scheduled_backups, ScheduledBackup};
pub use clients::{ClientNotInserted, ClientNotUpdated, SecretNotSet};
pub use grants::{
    CodeGrant, CodeNotIssued, GraceSuccessor, Grant, NewCode, NewRefreshToken, Presented,
    RedeemedCode, Redemption, RefreshGrace, Refreshed, Rotation, TicketNotConsumed,
};
pub use invites::{Invite, InvitedUserNotInserted};
pub use keyfile::KeyLocation;
pub use maintenance::{BackupError, BackupReport, CheckReport};
pub use meta::ServerSettings;
pub use migrate::{MigrationError, MigrationReport};
pub use registration::{RegistrationNotStored, RegistrationToken};
pub use restore::{restore, RestoreError, RestoreReport};
pub use scopes::ScopeSettings;
pub use sessions::Session;
pub use signing_keys::{SigningKey, SigningKeyNotAdded};
pub use sweep::SweepCounts;
use tables::{Table, META, REVOKED_ACCESS};
pub use upstreams::{
    IdentityNotLinked, IdentityNotUnlinked, LinkedIdentity, UpstreamDeleted, UpstreamNotStored,
    UpstreamUserNotInserted,
};
pub use users::{PasswordReset, ResetNotApplied, UserNotInserted};
pub use writer::WriterStats;
use writer::{Tx, Writer};

/// The schema this binary reads and writes. A database with a larger number was written by
/// a newer keyward and is refused rather than misread.
pub const SCHEMA_VERSION: u32 = 6;

const DATABASE_FILE: &str = "keyward.redb";
const META_SCHEMA_VERSION: &[u8] = b"schema_version";
const META_KEY_CHECK: &[u8] = b"key_check";
const KEY_CHECK_PLAINTEXT: &[u8] = b"keyward master key check v1";

/// Why the store could not be opened. Each message names the file involved, because the
/// operator reading it is looking at a shell, not at our source.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("data directory {0} is not a directory")]
    NotADirectory(PathBuf),
    #[error(
        "master key file {path} not found; the database cannot be opened without the key it was \
         created with (set KEYWARD_MASTER_KEY_FILE if it lives elsewhere)"
    )]
    KeyMissing { path: PathBuf },
    #[error("master key file {path} cannot be read: {source} (nothing was changed)")]
    KeyUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "master key file {path} holds {length} bytes; a master key is exactly 32 bytes \
         (nothing was changed)"
    )]
    KeyMalformed { path: PathBuf, length: u64 },
    #[error(
        "master key file {path} can be read by group or others (mode {mode:04o}); run `chmod \
         600 {path}` and try again (nothing was changed)"
    )]
    KeyExposed { path: PathBuf, mode: u32 },
    #[error(
        "master key file {path} is not the key this database was created with; nothing was changed"
    )]
    WrongKey { path: PathBuf },
    #[error(
        "database {path} has schema version {found}, newer than the {supported} this keyward \
         understands; upgrade keyward (nothing was changed)"
    )]
    NewerSchema {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{path} is not a keyward database (it has no keyward metadata); nothing was changed")]
    NotKeyward { path: PathBuf },
    /// A keyward database that lacks tables it must have: damaged (a changed byte in a
    /// table name is enough), never to be read as "those tables are empty", which would
    /// bring revoked tokens back and let a taken username be taken again.
    #[error(
        "database {path} is damaged: table(s) {} missing; restore it from a backup (nothing \
         was changed)",
        tables.join(", ")
    )]
    MissingTables {
        path: PathBuf,
        tables: Vec<&'static str>,
    },
    /// redb panicked on what it read: pages changed outside redb. Caught, so the operator
    /// reads one line that names the file instead of a panic and a backtrace hint.
    #[error(
        "database {path} is damaged and cannot be read ({detail}); restore it from a backup \
         (nothing was changed)"
    )]
    Damaged { path: PathBuf, detail: String },
    #[error("database {0} is in use by another process")]
    InUse(PathBuf),
    #[error("database {path}: {message}")]
    Storage { path: PathBuf, message: String },
    #[error("{0}")]
    Migration(#[from] MigrationError),
    #[error(
        "database {path} has schema version {found}; this keyward uses {current}. Run `keyward \
         migrate` (it keeps a snapshot of the database as it was) or start `keyward serve`, \
         which migrates. Nothing was changed"
    )]
    NeedsMigration {
        path: PathBuf,
        found: u32,
        current: u32,
    },
}

/// A failure of the storage itself. Never shown to a client in detail: HTTP maps it to 503.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    fn unavailable(error: impl std::fmt::Display) -> StoreError {
        StoreError::Unavailable(error.to_string())
    }
}

pub struct OpenOptions {
    pub data_dir: PathBuf,
    pub key: KeyLocation,
}

/// What `Store::open` brought into being on a data directory that held no database: a new
/// installation, which the operator is told about rather than finding it later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub database: PathBuf,
    /// Whether the master key was made too. If not, the key already there (or the one the
    /// operator named, which is never made) seals the new database.
    pub new_key: bool,
    /// Where the master key is.
    pub key: PathBuf,
}

impl std::fmt::Display for Created {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.new_key {
            write!(
                formatter,
                "created a new database at {} and master key {}",
                self.database.display(),
                self.key.display()
            )
        } else {
            write!(
                formatter,
                "created a new database at {} with the existing master key {}",
                self.database.display(),
                self.key.display()
            )
        }
    }
}

struct Inner {
    engine: Engine,
    sealer: Arc<Sealer>,
    path: PathBuf,
    client_cache: clients::ClientCache,
    /// An upper bound on the rows of `revoked_access`: raised before a revocation is
    /// written, lowered only after a sweep that removed rows has committed. While it is
    /// zero no access token is revoked, and checking one needs no lookup: most of the
    /// time on a running server, since a row lives only as long as its token would.
    revoked_access: AtomicU64,
    /// Moves on after every change to the signing keys (a rotation, the sweeper removing a
    /// retired key), so a key ring in memory knows to reload.
    signing_keys_generation: AtomicU64,
    /// The schema of the file. Always `SCHEMA_VERSION` for a writable store (it migrates
    /// on open); a read-only store may be older, for `check` and `backup` before an upgrade.
    schema_version: u32,
    /// What opening this store migrated, if anything.
    migration: Option<MigrationReport>,
    /// What opening this store created, if anything.
    created: Option<Created>,
}

enum Engine {
    Writable {
        database: Arc<redb::Database>,
        writer: Writer,
    },
    /// For commands that only check and read: opening read-only never changes the file.
    ReadOnly(redb::ReadOnlyDatabase),
}

/// A handle on the open database. Cheap to clone; the database closes when the last clone
/// is dropped, after the writer has committed everything it accepted.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl Store {
    /// Opens for reading and writing, creating the data directory, the key (at the default
    /// location) and the database when there are none, and migrating a database of an
    /// older schema (snapshot first). Every check runs on a read-only handle first, so a
    /// refusal, a damaged file included, leaves every byte as it was.
    pub fn open(options: &OpenOptions) -> Result<Store, OpenError> {
        guard_open(options, || Store::open_writable(options, true))
    }

    /// `migrate: false` is for the read-only path's crash recovery: redb must repair the file
    /// before anything can be read, but a command that only reads must not also migrate it.
    fn open_writable(options: &OpenOptions, migrate: bool) -> Result<Store, OpenError> {
        let data_dir = &options.data_dir;
        ensure_data_dir(data_dir)?;
        let path = data_dir.join(DATABASE_FILE);
        let exists = match std::fs::metadata(&path) {
            Ok(_) => true,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => false,
            Err(source) => return Err(OpenError::DataDir { path, source }),
        };
        let (master_key, new_key) = options.key.load_or_create(!exists)?;
        let sealer = Arc::new(Sealer::new(&master_key));
        let key_path = options.key.path().to_path_buf();

        let mut snapshot = None;
        if exists {
            // Check key and schema on a read-only handle first: a refusal must leave every
            // byte of the file as it was, and a read-write open may write. For the same
            // reason a migration's snapshot is taken here, before that open.
            match builder().open_read_only(&path) {
                Ok(database) => {
                    let transaction = database
                        .begin_read()
                        .map_err(|error| storage_error(&path, error))?;
                    // Everything the read-write handle will read below, read here first:
                    // a damaged page is met (and refused) before anything may be written.
                    let (found, _) = verify(&path, &key_path, &sealer, &transaction)?;
                    if migrate && found < SCHEMA_VERSION {
                        snapshot = Some(migrate::write_snapshot(
                            &transaction,
                            &path,
                            found,
                            crate::clock::now(),
                        )?);
                    }
                }
                Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                    return Err(OpenError::InUse(path))
                }
                // A file left by a crash needs recovery, which only a read-write open does;
                // the checks then run after it.
                Err(redb::DatabaseError::RepairAborted) => {}
                Err(error) => return Err(storage_error(&path, error)),
            }
        }

        if !exists {
            create_database(&path, &sealer)?;
        }
        let database = builder().open(&path).map_err(|error| match error {
            redb::DatabaseError::DatabaseAlreadyOpen => OpenError::InUse(path.clone()),
            error => storage_error(&path, error),
        })?;
        let found = {
            let transaction = database
                .begin_read()
                .map_err(|error| storage_error(&path, error))?;
            let found = check_meta(&path, &key_path, &sealer, &transaction)?;
            if migrate && found < SCHEMA_VERSION && snapshot.is_none() {
                snapshot = Some(migrate::write_snapshot(
                    &transaction,
                    &path,
                    found,
                    crate::clock::now(),
                )?);
            }
            found
        };
        let migration = match snapshot {
            Some(snapshot) if found < SCHEMA_VERSION => Some(migrate::run(
                &database,
                &path,
                &sealer,
                found,
                SCHEMA_VERSION,
                snapshot,
            )?),
            _ => None,
        };
        let transaction = database
            .begin_read()
            .map_err(|error| storage_error(&path, error))?;
        let (_, revoked_access) = verify(&path, &key_path, &sealer, &transaction)?;
        drop(transaction);

        let mut store = Store::writable(database, sealer, path, revoked_access, migration);
        if let Some(inner) = Arc::get_mut(&mut store.inner) {
            inner.schema_version = if migrate { SCHEMA_VERSION } else { found };
            inner.created = (!exists).then(|| Created {
                database: inner.path.clone(),
                new_key,
                key: key_path,
            });
        }
        Ok(store)
    }

    fn writable(
        database: redb::Database,
        sealer: Arc<Sealer>,
        path: PathBuf,
        revoked_access: u64,
        migration: Option<MigrationReport>,
    ) -> Store {
        let database = Arc::new(database);
        let writer = Writer::start(database.clone(), sealer.clone());
        Store {
            inner: Arc::new(Inner {
                engine: Engine::Writable { database, writer },
                sealer,
                path,
                client_cache: Default::default(),
                revoked_access: AtomicU64::new(revoked_access),
                signing_keys_generation: AtomicU64::new(0),
                schema_version: SCHEMA_VERSION,
                migration,
                created: None,
            }),
        }
    }

    /// Opens for reading only, creating nothing: no data directory, no key, no database.
    /// Where there is no database yet, the store is an empty one in memory, so a command
    /// can be checked against "nothing exists" without bringing a database into being.
    pub fn open_read_only(options: &OpenOptions) -> Result<Store, OpenError> {
        guard_open(options, || Store::open_read_only_unguarded(options))
    }

    fn open_read_only_unguarded(options: &OpenOptions) -> Result<Store, OpenError> {
        let data_dir = &options.data_dir;
        let path = data_dir.join(DATABASE_FILE);
        match std::fs::metadata(data_dir) {
            Ok(metadata) if !metadata.is_dir() => {
                return Err(OpenError::NotADirectory(data_dir.clone()))
            }
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Store::empty_in_memory(path)
            }
            Err(source) => {
                return Err(OpenError::DataDir {
                    path: data_dir.clone(),
                    source,
                })
            }
        }
        match std::fs::metadata(&path) {
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Store::empty_in_memory(path)
            }
            Err(source) => return Err(OpenError::DataDir { path, source }),
        }
        let sealer = Arc::new(Sealer::new(&options.key.load(false)?));
        let database = match builder().open_read_only(&path) {
            Ok(database) => database,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => return Err(OpenError::InUse(path)),
            // Only a read-write open recovers a file left by a crash.
            Err(redb::DatabaseError::RepairAborted) => {
                return guard_open(options, || Store::open_writable(options, false))
            }
            Err(error) => return Err(storage_error(&path, error)),
        };
        let transaction = database
            .begin_read()
            .map_err(|error| storage_error(&path, error))?;
        let (schema_version, _) = verify(&path, options.key.path(), &sealer, &transaction)?;
        drop(transaction);
        Ok(Store {
            inner: Arc::new(Inner {
                engine: Engine::ReadOnly(database),
                sealer,
                path,
                client_cache: Default::default(),
                // Nothing here writes, so nothing keeps a count: always look.
                revoked_access: AtomicU64::new(u64::MAX),
                signing_keys_generation: AtomicU64::new(0),
                schema_version,
                migration: None,
                created: None,
            }),
        })
    }

    fn empty_in_memory(path: PathBuf) -> Result<Store, OpenError> {
        let mut throwaway = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut throwaway);
        let sealer = Arc::new(Sealer::new(&crate::seal::MasterKey::from_bytes(throwaway)));
        let database = redb::Builder::new()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(|error| storage_error(&path, error))?;
        initialize(&database, &sealer).map_err(|error| storage_error(&path, error))?;
        Ok(Store::writable(database, sealer, path, 0, None))
    }

    /// Closes the database cleanly: waits briefly for other handles (server workers that
    /// are still winding down) to go, lets the writer finish, then closes the file.
    pub fn close(self) -> Result<(), StoreError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut shared = self.inner;
        let inner = loop {
            match Arc::try_unwrap(shared) {
                Ok(inner) => break inner,
                Err(still_shared) if std::time::Instant::now() < deadline => {
                    shared = still_shared;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(_) => {
                    return Err(StoreError::Unavailable(
                        "the database is still in use and was not closed".into(),
                    ))
                }
            }
        };
        match inner.engine {
            Engine::Writable { database, writer } => {
                drop(writer);
                match Arc::try_unwrap(database) {
                    Ok(database) => database.close().map_err(StoreError::unavailable),
                    Err(_) => Ok(()),
                }
            }
            Engine::ReadOnly(database) => database.close().map_err(StoreError::unavailable),
        }
    }

    /// A 32-byte key derived from the master key for one named purpose outside the store
    /// (sealing self-contained access tokens, consent tickets, CSRF tokens). Each purpose
    /// gets its own key, so no key serves two jobs.
    pub fn derived_key(&self, purpose: &str) -> [u8; 32] {
        self.inner.sealer.derive(purpose)
    }

    /// The writer's counters; `None` for a read-only handle.
    pub fn writer_stats(&self) -> Option<&WriterStats> {
        match &self.inner.engine {
            Engine::Writable { writer, .. } => Some(&writer.stats),
            Engine::ReadOnly(_) => None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The schema of the open file (older than `SCHEMA_VERSION` only for a read-only store).
    pub fn schema_version(&self) -> u32 {
        self.inner.schema_version
    }

    /// What opening this store migrated, if anything.
    pub fn migration(&self) -> Option<&MigrationReport> {
        self.inner.migration.as_ref()
    }

    /// What opening this store created (a new database, maybe a new key), if anything.
    pub fn created(&self) -> Option<&Created> {
        self.inner.created.as_ref()
    }

    /// False only while no access token is revoked, so checks may skip the lookup.
    fn access_revocations_possible(&self) -> bool {
        self.inner.revoked_access.load(Ordering::Acquire) != 0
    }

    fn adjust_revoked_access(&self, change: impl Fn(u64) -> u64) {
        let _ =
            self.inner
                .revoked_access
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |count| {
                    Some(change(count))
                });
    }

    /// Runs `job` inside the next batch of the writer thread and resolves after that batch
    /// has been durably committed. Jobs decide before they write: a job that returns an
    /// error after writing takes its whole batch down with it, so nothing half-applies.
    async fn write<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        match &self.inner.engine {
            Engine::Writable { writer, .. } => writer.submit(job).await,
            Engine::ReadOnly(_) => Err(StoreError::Unavailable(
                "the database was opened read-only".into(),
            )),
        }
    }

    /// Runs `job` in one read snapshot. redb may panic on a page damaged outside it; that
    /// is a storage error (503), not a dead worker thread.
    fn read<T>(
        &self,
        job: impl FnOnce(&Reader<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        catch_panic(|| {
            let transaction = match &self.inner.engine {
                Engine::Writable { database, .. } => database.begin_read(),
                Engine::ReadOnly(database) => database.begin_read(),
            }
            .map_err(StoreError::unavailable)?;
            job(&Reader {
                transaction: &transaction,
                sealer: &self.inner.sealer,
            })
        })
        .unwrap_or_else(|detail| Err(damaged(self.path(), &detail)))
    }
}

/// Runs `f`; a panic inside it becomes `Err` with the panic's message. redb documents that
/// a plain open of a file altered outside it may panic: every path that reads the file
/// goes through here, so damage is reported, never a crash. (The process's panic hook,
/// in main.rs, has logged one plain line by the time this returns.)
pub(crate) fn catch_panic<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|text| (*text).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "an internal error".to_owned())
    })
}

/// What a caught panic of redb means for a caller: the file is damaged. Named, because an
/// operator may read it (an admin command); a client never does (it becomes a 503).
pub(crate) fn damaged(path: &Path, detail: &str) -> StoreError {
    StoreError::Corrupt(format!(
        "the database file {} is damaged ({detail}); restore it from a backup",
        path.display()
    ))
}

fn guard_open(
    options: &OpenOptions,
    open: impl FnOnce() -> Result<Store, OpenError>,
) -> Result<Store, OpenError> {
    catch_panic(open).unwrap_or_else(|detail| {
        Err(OpenError::Damaged {
            path: options.data_dir.join(DATABASE_FILE),
            detail,
        })
    })
}

/// Every check an open makes on the file, in one snapshot: metadata, key and schema, then
/// that every table exists. Returns the row count of `revoked_access`.
/// The checks every open runs: a keyward database of a schema we understand, sealed under
/// this key, holding every table of its schema. Returns the schema version and the number
/// of revoked access tokens.
fn verify(
    path: &Path,
    key_path: &Path,
    sealer: &Sealer,
    transaction: &redb::ReadTransaction,
) -> Result<(u32, u64), OpenError> {
    let version = check_meta(path, key_path, sealer, transaction)?;
    check_tables(path, version, transaction)?;
    let revoked =
        table_len(transaction, REVOKED_ACCESS).map_err(|error| storage_error(path, error))?;
    Ok((version, revoked))
}

fn table_len(transaction: &redb::ReadTransaction, table: Table) -> Result<u64, redb::Error> {
    use redb::ReadableTableMetadata;
    // Every open path has checked that each table exists: a missing one is an error here.
    Ok(transaction.open_table(table)?.len()?)
}

/// Opens a table for reading. A table that does not exist is damage, not emptiness: every
/// keyward database has every table from its creation (or its migration) on, and reading a
/// lost `revoked_access` as empty would make revoked tokens active again.
fn open_for_reading(
    transaction: &redb::ReadTransaction,
    table: Table,
) -> Result<redb::ReadOnlyTable<&'static [u8], &'static [u8]>, StoreError> {
    transaction.open_table(table).map_err(|error| match error {
        redb::TableError::TableDoesNotExist(_) => missing_table(table),
        error => StoreError::unavailable(error),
    })
}

fn missing_table(table: Table) -> StoreError {
    StoreError::Corrupt(format!("the table {} is missing", table.name()))
}

/// The tables of `tables::ALL` that this snapshot lacks, in that order. Run by every open
/// path after the metadata, key and schema checks (and after any migration, which may
/// create tables an older schema did not have).
/// The tables of a schema-`version` database that the file lacks.
pub(crate) fn missing_tables(
    transaction: &redb::ReadTransaction,
    version: u32,
) -> Result<Vec<&'static str>, redb::TableError> {
    let mut missing = Vec::new();
    for table in tables::tables_at(version) {
        match transaction.open_table(table) {
            Ok(_) => {}
            Err(redb::TableError::TableDoesNotExist(_)) => missing.push(table_name(table)),
            Err(error) => return Err(error),
        }
    }
    Ok(missing)
}

/// A table's name with the `'static` lifetime its definition was made with.
fn table_name(table: Table) -> &'static str {
    tables::ALL
        .iter()
        .map(|known| known.name())
        .find(|name| *name == table.name())
        .unwrap_or("unknown")
}

fn check_tables(
    path: &Path,
    version: u32,
    transaction: &redb::ReadTransaction,
) -> Result<(), OpenError> {
    let missing =
        missing_tables(transaction, version).map_err(|error| storage_error(path, error))?;
    if missing.is_empty() {
        return Ok(());
    }
    Err(OpenError::MissingTables {
        path: path.to_path_buf(),
        tables: missing,
    })
}

/// A (key, value) pair as stored.
type Row = (Vec<u8>, Vec<u8>);

/// Read access inside one consistent snapshot.
struct Reader<'a> {
    transaction: &'a redb::ReadTransaction,
    sealer: &'a Sealer,
}

impl Reader<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let table = open_for_reading(self.transaction, table)?;
        Ok(table
            .get(key)
            .map_err(StoreError::unavailable)?
            .map(|value| value.value().to_vec()))
    }

    /// Every (key, value) whose key starts with `prefix`, in key order.
    fn with_prefix(&self, table: Table, prefix: &[u8]) -> Result<Vec<Row>, StoreError> {
        let table = open_for_reading(self.transaction, table)?;
        let mut rows = Vec::new();
        for row in table
            .range::<&[u8]>(prefix..)
            .map_err(StoreError::unavailable)?
        {
            let (key, value) = row.map_err(StoreError::unavailable)?;
            if !key.value().starts_with(prefix) {
                break;
            }
            rows.push((key.value().to_vec(), value.value().to_vec()));
        }
        Ok(rows)
    }

    /// Every (key, value) of a table, in key order.
    fn all(&self, table: Table) -> Result<Vec<Row>, StoreError> {
        let table = open_for_reading(self.transaction, table)?;
        let mut rows = Vec::new();
        for row in table.iter().map_err(StoreError::unavailable)? {
            let (key, value) = row.map_err(StoreError::unavailable)?;
            rows.push((key.value().to_vec(), value.value().to_vec()));
        }
        Ok(rows)
    }
}

/// redb's page cache defaults to 1 GiB, which a busy server would grow into. keyward's
/// working set is small (clients, live tokens' grants), so a bounded cache keeps RSS flat
/// on a small VPS; the OS page cache still holds the file.
const CACHE_BYTES: usize = 8 * 1024 * 1024;

fn builder() -> redb::Builder {
    let mut builder = redb::Builder::new();
    builder.set_cache_size(CACHE_BYTES);
    builder
}

fn ensure_data_dir(data_dir: &Path) -> Result<(), OpenError> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::metadata(data_dir) {
        Ok(metadata) if metadata.is_dir() => Ok(()),
        Ok(_) => Err(OpenError::NotADirectory(data_dir.to_path_buf())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)
            .map_err(|source| OpenError::DataDir {
                path: data_dir.to_path_buf(),
                source,
            }),
        Err(source) => Err(OpenError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        }),
    }
}

fn storage_error(path: &Path, error: impl std::fmt::Display) -> OpenError {
    OpenError::Storage {
        path: path.to_path_buf(),
        message: error.to_string(),
    }
}

/// Checks that this is a keyward database of a schema we understand, sealed under this
/// master key; returns its schema version.
fn check_meta(
    path: &Path,
    key_path: &Path,
    sealer: &Sealer,
    transaction: &redb::ReadTransaction,
) -> Result<u32, OpenError> {
    let not_keyward = || OpenError::NotKeyward {
        path: path.to_path_buf(),
    };
    let meta = match transaction.open_table(META) {
        Ok(meta) => meta,
        // Without its metadata a file is no keyward database, unless it holds keyward's
        // other tables: then it is one that lost its `meta` table, and is reported so.
        Err(redb::TableError::TableDoesNotExist(_)) => {
            // Its version is unknown: judge it by the tables every schema has.
            let missing =
                missing_tables(transaction, 1).map_err(|error| storage_error(path, error))?;
            if missing.len() == tables::tables_at(1).count() {
                return Err(not_keyward());
            }
            return Err(OpenError::MissingTables {
                path: path.to_path_buf(),
                tables: missing,
            });
        }
        Err(error) => return Err(storage_error(path, error)),
    };
    let version = meta
        .get(META_SCHEMA_VERSION)
        .map_err(|error| storage_error(path, error))?
        .ok_or_else(not_keyward)?;
    let version: [u8; 4] = version.value().try_into().map_err(|_| not_keyward())?;
    let version = u32::from_le_bytes(version);
    if version > SCHEMA_VERSION {
        return Err(OpenError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    let check = meta
        .get(META_KEY_CHECK)
        .map_err(|error| storage_error(path, error))?
        .ok_or_else(not_keyward)?;
    match sealer.open(META.name(), META_KEY_CHECK, check.value()) {
        Ok(plaintext) if plaintext == KEY_CHECK_PLAINTEXT => Ok(version),
        _ => Err(OpenError::WrongKey {
            path: key_path.to_path_buf(),
        }),
    }
}

/// Builds a new database beside its final name and publishes it with a hard link, which
/// fails if the name exists: a crash mid-creation leaves no half-initialized database under
/// the real name, and of two processes creating at once, exactly one wins. The temporary is
/// created exclusively, never through a link, under a name nobody can plant in advance.
fn create_database(path: &Path, sealer: &Sealer) -> Result<(), OpenError> {
    let fail = |error: &dyn std::fmt::Display| storage_error(path, error);
    let temporary = files::create_beside(path, "new").map_err(|error| fail(&error))?;
    let built = (|| -> Result<(), redb::Error> {
        let backend = redb::backends::FileBackend::new(temporary.handle()?)?;
        let database = builder().create_with_backend(backend)?;
        initialize(&database, sealer)?;
        database.close()?;
        temporary.file.sync_all()?;
        Ok(())
    })();
    built.map_err(|error| fail(&error))?;
    match temporary.publish(path) {
        Ok(()) => Ok(()),
        // Another process created it a moment ago; it is checked like any existing one.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(fail(&error)),
    }
}

fn initialize(database: &redb::Database, sealer: &Sealer) -> Result<(), redb::Error> {
    let transaction = database.begin_write()?;
    {
        let mut meta = transaction.open_table(META)?;
        meta.insert(META_SCHEMA_VERSION, SCHEMA_VERSION.to_le_bytes().as_slice())?;
        let check = sealer.seal(META.name(), META_KEY_CHECK, KEY_CHECK_PLAINTEXT);
        meta.insert(META_KEY_CHECK, check.as_slice())?;
    }
    // Create every table up front, so a reader never has to tell "empty" from "missing".
    for table in tables::ALL
        .into_iter()
        .filter(|table| table.name() != META.name())
    {
        transaction.open_table(table)?;
    }
    transaction.commit()?;
    Ok(())
}

/// A store in a fresh temporary directory, for unit tests across the crate.
#[cfg(test)]
pub(crate) fn test_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&OpenOptions {
        data_dir: dir.path().to_path_buf(),
        key: KeyLocation::Default(dir.path().join("master.key")),
    })
    .unwrap();
    (dir, store)
}

/// A user whose password no test checks, for unit tests that need one to exist.
#[cfg(test)]
pub(crate) async fn insert_test_user(store: &Store, id: crate::model::UserId, username: &str) {
    store
        .insert_user(crate::model::User {
            id,
            username: crate::model::Username::parse(username).unwrap(),
            email: None,
            name: None,
            password_hash: "not checked here".into(),
            created_at: 0,
            email_verified: false,
            updated_at: 0,
            developer: false,
        })
        .await
        .unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database holding only some of keyward's tables, as a damaged file would.
    fn database_without(missing: Table) -> redb::Database {
        let database = redb::Builder::new()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .unwrap();
        let transaction = database.begin_write().unwrap();
        for table in tables::ALL {
            if table.name() != missing.name() {
                transaction.open_table(table).unwrap();
            }
        }
        transaction.commit().unwrap();
        database
    }

    #[test]
    fn a_missing_table_reads_as_an_error_never_as_empty() {
        let database = database_without(REVOKED_ACCESS);
        let transaction = database.begin_read().unwrap();
        let sealer = Sealer::new(&crate::seal::MasterKey::from_bytes([3; 32]));
        let reader = Reader {
            transaction: &transaction,
            sealer: &sealer,
        };
        assert!(matches!(
            reader.get(REVOKED_ACCESS, b"token"),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            reader.with_prefix(REVOKED_ACCESS, b""),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            reader.all(REVOKED_ACCESS),
            Err(StoreError::Corrupt(_))
        ));
        assert!(table_len(&transaction, REVOKED_ACCESS).is_err());
        assert_eq!(
            missing_tables(&transaction, SCHEMA_VERSION).unwrap(),
            ["revoked_access"]
        );
        // The tables that are there read as they are.
        assert_eq!(reader.all(tables::USERS).unwrap(), Vec::<Row>::new());
    }
}
