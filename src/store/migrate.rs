//! Schema migrations: the steps that bring a database written by an older keyward to the
//! schema this binary uses (`SCHEMA_VERSION`).
//!
//! - Before the first step, a consistent snapshot of the database as it was is written next
//!   to it (`keyward.pre-schema-N.<unix time>.redb`, mode 0600): a plain redb file that an
//!   older keyward opens with the same master key. When it cannot be written (a full disk,
//!   say), nothing is migrated and the open is refused.
//! - Each step runs in one write transaction that also records the new schema version, so a
//!   kill at any moment leaves the old schema or the new one, never a mix, and the next
//!   start carries on from there.
//! - A step reads records in the format of the schema it starts from: readers of old
//!   formats stay here for as long as an upgrade from that schema is supported.

use std::path::{Path, PathBuf};

use redb::ReadableTable;

use super::codec::unseal;
use super::records;
use super::sessions;
use super::tables::{self, META, SESSIONS, USER_SESSIONS};
use super::{BackupError, META_SCHEMA_VERSION};
use crate::seal::Sealer;

/// What a migration did, for the log and for `keyward migrate`.
#[derive(Debug, Clone)]
pub struct MigrationReport {
    pub from: u32,
    pub to: u32,
    /// The snapshot of the database as it was before the first step.
    pub snapshot: PathBuf,
}

/// Why a migration did not happen. Nothing was changed in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error(
        "cannot write the snapshot that must precede the migration of {database} from schema \
         {from} ({error}); make room in its directory (the snapshot is about as large as the \
         database) and start again. Nothing was changed"
    )]
    Snapshot {
        database: PathBuf,
        from: u32,
        error: BackupError,
    },
    #[error("migrating {database} from schema {from} to {to} failed: {message}; nothing was changed by this step")]
    Step {
        database: PathBuf,
        from: u32,
        to: u32,
        message: String,
    },
}

/// One step: from schema `from` to `from + 1`, inside the given write transaction.
struct Step {
    from: u32,
    run: fn(&redb::WriteTransaction, &Sealer) -> Result<(), String>,
}

const STEPS: &[Step] = &[
    Step {
        from: 1,
        run: schema_1_to_2,
    },
    Step {
        from: 2,
        run: schema_2_to_3,
    },
    Step {
        from: 3,
        run: schema_3_to_4,
    },
    Step {
        from: 4,
        run: schema_4_to_5,
    },
    Step {
        from: 5,
        run: schema_5_to_6,
    },
];

/// Schema 2 adds `user_sessions`, an index of each user's sessions. Every session of a
/// schema-1 database is indexed under its user; a session that no longer opens is useless
/// to anyone and is left out of the index (the sweeper removes it when it expires).
fn schema_1_to_2(transaction: &redb::WriteTransaction, sealer: &Sealer) -> Result<(), String> {
    let failed = |error: redb::Error| error.to_string();
    let mut index = transaction
        .open_table(USER_SESSIONS)
        .map_err(|error| failed(error.into()))?;
    let sessions = transaction
        .open_table(SESSIONS)
        .map_err(|error| failed(error.into()))?;
    for row in sessions.iter().map_err(|error| failed(error.into()))? {
        let (key, value) = row.map_err(|error| failed(error.into()))?;
        // Sessions are at format 1 in schemas 1 and 2 alike: today's reader is schema 1's.
        let opened = unseal(sealer, SESSIONS, key.value(), value.value())
            .and_then(|plaintext| records::sessions::decode(&plaintext));
        if let Ok(session) = opened {
            index
                .insert(
                    sessions::index_key(session.user_id, key.value()).as_slice(),
                    [].as_slice(),
                )
                .map_err(|error| failed(error.into()))?;
        }
    }
    Ok(())
}

/// Schema 3 adds `signing_keys` (created by `run`, empty: the server makes its first key
/// when it starts) and format 2 of `clients`, `users`, `codes`, `grants` and
/// `refresh_tokens`. Their format-1 rows are read as they are, with the defaults format 1
/// implies, and stay at format 1 until they are next written: nothing to rewrite here.
/// The bump itself is what matters: a keyward of schema 2 would report a format-2 row as
/// corrupt, so it must refuse the whole database instead (docs/storage-format.md §14).
fn schema_2_to_3(_transaction: &redb::WriteTransaction, _sealer: &Sealer) -> Result<(), String> {
    Ok(())
}

/// Schema 4 adds `upstreams`, `identities`, `user_identities` and `invites` (created by
/// `run`, empty: upstreams and invitations are made by the operator) and rewrites nothing. A keyward of schema 3 would
/// ignore the tables, so the bump is not about misreading; it keeps an older binary from
/// serving a database whose users may sign in only through an upstream, and from deleting
/// a user while leaving the identities that point at them (docs/storage-format.md §14).
fn schema_3_to_4(_transaction: &redb::WriteTransaction, _sealer: &Sealer) -> Result<(), String> {
    Ok(())
}

/// Schema 5 adds `registration_tokens` (created by `run`, empty: initial access tokens are
/// made by the operator) and format 3 of `clients` (who registered the app, its pages, the
/// operator's review, the previous secret in its grace, a registered client's registration
/// access token), of `users` (`developer`) and of `scopes` (`self_service`). Older rows are
/// read as they are, with the defaults their format
/// implies (the operator's own clients; nobody a developer; no scope for self-service),
/// and stay as they are until next written: nothing to rewrite. The bump keeps a keyward of
/// schema 4 from reading a format-3 row as corrupt, and from serving apps registered by
/// users without the limits on what they may ask for.
fn schema_4_to_5(_transaction: &redb::WriteTransaction, _sealer: &Sealer) -> Result<(), String> {
    Ok(())
}

/// Schema 6 adds format 4 of `clients`: the stand-ins for client metadata documents
/// (origin code 3, with the document's URL). Older rows read as format 3 says, and no row
/// of schema 5 is a stand-in: nothing to rewrite. The bump keeps a keyward of schema 5 from
/// reading a format-4 row as corrupt.
fn schema_5_to_6(_transaction: &redb::WriteTransaction, _sealer: &Sealer) -> Result<(), String> {
    Ok(())
}

/// A name for the pre-migration snapshot of `database` that nothing has yet. A migration
/// killed after its snapshot leaves that file behind, and a rerun within the same second must
/// not collide with it.
pub(super) fn snapshot_path(database: &Path, from: u32, now: u64) -> PathBuf {
    let mut attempt = 0u32;
    loop {
        let suffix = match attempt {
            0 => String::new(),
            n => format!("-{n}"),
        };
        let candidate = database.with_file_name(format!(
            "keyward.pre-schema-{}.{now}{suffix}.redb",
            from + 1
        ));
        if std::fs::symlink_metadata(&candidate).is_err() {
            return candidate;
        }
        attempt += 1;
    }
}

/// The pre-migration snapshots kept beside `database`, oldest first.
pub(super) fn snapshots_beside(database: &Path) -> Vec<PathBuf> {
    let Some(directory) = database.parent() else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(directory) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| {
                    name.starts_with("keyward.pre-schema-") && name.ends_with(".redb")
                })
        })
        .collect();
    found.sort();
    found
}

/// Writes the pre-migration snapshot of a schema-`found` database from `read`, a read
/// transaction on it. Done before the database is opened for writing, when it can be, so a
/// refused migration leaves every byte of the file as it was.
pub(super) fn write_snapshot(
    read: &redb::ReadTransaction,
    database: &Path,
    found: u32,
    now: u64,
) -> Result<PathBuf, MigrationError> {
    let snapshot = snapshot_path(database, found, now);
    super::maintenance::write_snapshot(read, found, &snapshot).map_err(|error| {
        MigrationError::Snapshot {
            database: database.to_path_buf(),
            from: found,
            error,
        }
    })?;
    Ok(snapshot)
}

/// Brings `database` from schema `found` to `target`, each step in its own transaction,
/// once `snapshot` holds the database as it was. `found < target`.
pub(super) fn run(
    database: &redb::Database,
    path: &Path,
    sealer: &Sealer,
    found: u32,
    target: u32,
    snapshot: PathBuf,
) -> Result<MigrationReport, MigrationError> {
    tracing::info!(
        database = %path.display(), snapshot = %snapshot.display(), from = found, to = target,
        "migrating the database; a snapshot of it as it was is kept"
    );
    for version in found..target {
        let step_error = |message: String| MigrationError::Step {
            database: path.to_path_buf(),
            from: version,
            to: version + 1,
            message,
        };
        let step = STEPS
            .iter()
            .find(|step| step.from == version)
            .ok_or_else(|| step_error(format!("no migration step from schema {version}")))?;
        let transaction = database
            .begin_write()
            .map_err(|error| step_error(error.to_string()))?;
        // Tables the new schema brings in are created first, so a step can rely on them.
        for table in tables::ALL
            .into_iter()
            .filter(|table| tables::introduced_in(*table) == version + 1)
        {
            transaction
                .open_table(table)
                .map_err(|error| step_error(error.to_string()))?;
        }
        (step.run)(&transaction, sealer).map_err(&step_error)?;
        {
            let mut meta = transaction
                .open_table(META)
                .map_err(|error| step_error(error.to_string()))?;
            meta.insert(META_SCHEMA_VERSION, (version + 1).to_le_bytes().as_slice())
                .map_err(|error| step_error(error.to_string()))?;
        }
        transaction
            .commit()
            .map_err(|error| step_error(error.to_string()))?;
        tracing::info!(from = version, to = version + 1, "migration step done");
    }
    Ok(MigrationReport {
        from: found,
        to: target,
        snapshot,
    })
}
