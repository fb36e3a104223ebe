//! Finding, reading and (on first use) creating `master.key`.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rand::RngCore;

use super::files;
use super::OpenError;
use crate::seal::MasterKey;

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
                let unreadable = |source| OpenError::KeyUnreadable {
                    path: path.clone(),
                    source,
                };
                let metadata = file.metadata().map_err(unreadable)?;
                self.check_mode(metadata.permissions().mode())?;
                let mut bytes = Vec::with_capacity(MasterKey::LEN);
                Read::by_ref(&mut file)
                    .take(MasterKey::LEN as u64 + 1)
                    .read_to_end(&mut bytes)
                    .map_err(unreadable)?;
                let key: [u8; 32] =
                    bytes
                        .try_into()
                        .map_err(|bytes: Vec<u8>| OpenError::KeyMalformed {
                            path: path.clone(),
                            // Only 33 bytes were read to know it is too long; the size on
                            // disk is what the operator can compare.
                            length: metadata.len().max(bytes.len() as u64),
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

/// Group or other permission bits on a key file. Like ssh with a private key, any of them is
/// too many: whoever can read the key can open every sealed record of the database.
const LOOSE_MODE_BITS: u32 = 0o077;

impl KeyLocation {
    /// At the default location, which keyward itself creates 0600, a looser mode means
    /// someone loosened it: refuse, as ssh does. A file the operator named (environment,
    /// systemd credential) may sit where keyward does not decide the permissions: warn
    /// loudly, once, and go on.
    fn check_mode(&self, mode: u32) -> Result<(), OpenError> {
        if mode & LOOSE_MODE_BITS == 0 {
            return Ok(());
        }
        let path = self.path();
        let mode = mode & 0o7777;
        match self {
            KeyLocation::Default(_) => Err(OpenError::KeyExposed {
                path: path.to_path_buf(),
                mode,
            }),
            KeyLocation::FromEnvironment(_) | KeyLocation::SystemdCredential(_) => {
                static WARNED: std::sync::Once = std::sync::Once::new();
                WARNED.call_once(|| {
                    // Straight to stderr, not through the log filter: an operator must see
                    // this whatever KEYWARD_LOG says. A lost line costs nothing more.
                    let _ = writeln!(
                        std::io::stderr(),
                        "warning: master key file {} can be read by group or others (mode \
                         {mode:04o}); anyone who can read it can open every sealed record. \
                         Run `chmod 600 {}`.",
                        path.display(),
                        path.display()
                    );
                });
                Ok(())
            }
        }
    }
}

/// Returns the key, and whether this process wrote it (another may have been first).
fn create_key(path: &Path) -> Result<(MasterKey, bool), OpenError> {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    // Written whole under a temporary name nobody can plant in advance (created
    // exclusively, mode 0600, never through a link), then published with a hard link that
    // fails if the name exists: no reader ever sees a half-written key, and a key another
    // process created a moment ago is never overwritten.
    let write = || -> std::io::Result<()> {
        let mut temporary = files::create_beside(path, "new")?;
        temporary.file.write_all(&key)?;
        temporary.file.sync_all()?;
        temporary.publish(path)
    };
    match write() {
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
