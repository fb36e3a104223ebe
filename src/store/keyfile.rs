//! Finding, reading and (on first use) creating `master.key`.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rand::RngCore;

use super::seal::MasterKey;
use super::OpenError;

/// Where the master key lives and who said so. Only the default location is ever created:
/// a key named by the operator (environment or systemd credential) that is missing is an
/// error, never a reason to invent a new key that would orphan the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLocation {
    Default(PathBuf),
    FromEnvironment(PathBuf),
    SystemdCredential(PathBuf),
}

impl KeyLocation {
    /// `KEYWARD_MASTER_KEY_FILE` wins, then `$CREDENTIALS_DIRECTORY/master.key`, then the
    /// data directory.
    pub fn resolve(
        data_dir: &Path,
        key_file_env: Option<&str>,
        credentials_dir_env: Option<&str>,
    ) -> KeyLocation {
        if let Some(path) = key_file_env.filter(|value| !value.is_empty()) {
            return KeyLocation::FromEnvironment(PathBuf::from(path));
        }
        if let Some(dir) = credentials_dir_env.filter(|value| !value.is_empty()) {
            return KeyLocation::SystemdCredential(Path::new(dir).join("master.key"));
        }
        KeyLocation::Default(data_dir.join("master.key"))
    }

    pub fn path(&self) -> &Path {
        match self {
            KeyLocation::Default(path)
            | KeyLocation::FromEnvironment(path)
            | KeyLocation::SystemdCredential(path) => path,
        }
    }

    /// Reads the key; creates it first only when `may_create` and the location is the default.
    pub(crate) fn load(&self, may_create: bool) -> Result<MasterKey, OpenError> {
        self.load_or_create(may_create).map(|(key, _)| key)
    }

    /// As `load`, and whether this call created the key, so the operator can be told.
    pub(crate) fn load_or_create(&self, may_create: bool) -> Result<(MasterKey, bool), OpenError> {
        let path = self.path().to_path_buf();
        match std::fs::File::open(&path) {
            Ok(mut file) => {
                let mut bytes = Vec::with_capacity(MasterKey::LEN);
                Read::by_ref(&mut file)
                    .take(MasterKey::LEN as u64 + 1)
                    .read_to_end(&mut bytes)
                    .map_err(|source| OpenError::KeyUnreadable {
                        path: path.clone(),
                        source,
                    })?;
                let key: [u8; 32] =
                    bytes
                        .try_into()
                        .map_err(|bytes: Vec<u8>| OpenError::KeyMalformed {
                            path: path.clone(),
                            length: bytes.len(),
                        })?;
                Ok((MasterKey::from_bytes(key), false))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                if may_create && matches!(self, KeyLocation::Default(_)) {
                    create_key(&path)
                } else {
                    Err(OpenError::KeyMissing { path })
                }
            }
            Err(source) => Err(OpenError::KeyUnreadable { path, source }),
        }
    }
}

/// Returns the key, and whether this process wrote it (another may have been first).
fn create_key(path: &Path) -> Result<(MasterKey, bool), OpenError> {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    // Written whole under a temporary name, then published with a hard link that fails if
    // the name exists: no reader ever sees a half-written key, and a key another process
    // created a moment ago is never overwritten.
    let temporary = path.with_extension(format!("key.new-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let _ = std::fs::remove_file(&temporary);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(&key)?;
        file.sync_all()?;
        std::fs::hard_link(&temporary, path)?;
        if let Some(parent) = path.parent() {
            std::fs::File::open(parent)?.sync_all()?;
        }
        Ok(())
    };
    let written = write();
    let _ = std::fs::remove_file(&temporary);
    match written {
        Ok(()) => Ok((MasterKey::from_bytes(key), true)),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            KeyLocation::Default(path.to_path_buf()).load_or_create(false)
        }
        Err(source) => Err(OpenError::KeyUnreadable {
            path: path.to_path_buf(),
            source,
        }),
    }
}
