//! New files that hold what the database holds: created exclusively, never through a
//! symbolic link, under a name nobody can guess, mode 0600, and published under their real
//! name with a hard link that never replaces a file.
//!
//! A predictable temporary name opened without `O_EXCL` lets anyone who can write to the
//! directory plant a link there: the database (or a backup, or the master key) would be
//! written through it into another file, and the link itself published as the result.

use std::fs::File;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A file created for us alone. The path is removed on drop unless it was `published`
/// (the published name stays; only the temporary name goes).
pub(super) struct PrivateFile {
    pub(super) path: PathBuf,
    pub(super) file: File,
}

/// Creates `<dir>/<name>.<tag>-<16 random hex digits>` beside `target`, with
/// `O_CREAT|O_EXCL|O_NOFOLLOW` and mode 0600 from the first instant.
pub(super) fn create_beside(target: &Path, tag: &str) -> io::Result<PrivateFile> {
    let directory = directory_of(target);
    let name = target
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "keyward".to_owned());
    create_in(directory, &format!(".{name}.{tag}"))
}

/// Creates exactly `path`, as `create_in` does (`O_CREAT|O_EXCL|O_NOFOLLOW`, 0600), after
/// removing what is there: for a name in a directory that only keyward writes (the
/// scheduled backups' `.NAME.partial`), where a leftover is a write that was cut off. A
/// link left there is removed, never followed.
pub(super) fn create_exact(path: &Path) -> io::Result<PrivateFile> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            return Err(io::Error::other(format!(
                "{} is a directory",
                path.display()
            )))
        }
        Ok(_) => std::fs::remove_file(path)?,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .mode(0o600)
        .open(path)?;
    Ok(PrivateFile {
        path: path.to_path_buf(),
        file,
    })
}

/// Creates `<directory>/<prefix>-<16 random hex digits>` as `create_beside` does.
pub(super) fn create_in(directory: &Path, prefix: &str) -> io::Result<PrivateFile> {
    let mut last_error = None;
    // A clash of 64 random bits means someone planted the name; a few tries get past it.
    for _attempt in 0..8 {
        let path = directory.join(format!("{prefix}-{:016x}", rand::random::<u64>()));
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .mode(0o600)
            .open(&path)
        {
            Ok(file) => return Ok(PrivateFile { path, file }),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => last_error = Some(error),
            Err(error) => return Err(error),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no free temporary name")))
}

impl PrivateFile {
    /// A second descriptor on the same file, for an fsync after the first was handed to redb.
    pub(super) fn handle(&self) -> io::Result<File> {
        self.file.try_clone()
    }

    /// Links the file under `target`, which must not exist (a file, a directory or a link
    /// there fails with `AlreadyExists`), checks that the name now leads to this very file
    /// (the temporary name was not swapped for something else in between), and syncs the
    /// directory so the new name survives a power cut.
    pub(super) fn publish(&self, target: &Path) -> io::Result<()> {
        std::fs::hard_link(&self.path, target)?;
        let ours = self.file.metadata()?;
        let published = std::fs::symlink_metadata(target)?;
        if !published.file_type().is_file()
            || published.ino() != ours.ino()
            || published.dev() != ours.dev()
        {
            let _ = std::fs::remove_file(target);
            return Err(io::Error::other(
                "the temporary file was replaced before it was published",
            ));
        }
        sync_directory(directory_of(target))
    }
}

impl Drop for PrivateFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

pub(super) fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

pub(super) fn sync_directory(directory: &Path) -> io::Result<()> {
    File::open(directory)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_file_is_new_0600_unpredictable_and_gone_when_dropped() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("backup.redb");
        let first = create_beside(&target, "partial").unwrap();
        let second = create_beside(&target, "partial").unwrap();
        assert_ne!(first.path, second.path);
        let mode = first.file.metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let path = first.path.clone();
        drop(first);
        assert!(!path.exists());
    }

    #[test]
    fn publishing_never_replaces_a_file_or_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let target = dir.path().join("backup.redb");
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        let file = create_beside(&target, "partial").unwrap();
        let error = file.publish(&target).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert!(std::fs::symlink_metadata(&target)
            .unwrap()
            .file_type()
            .is_symlink());
    }
}
