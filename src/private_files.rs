//! Folders and files that only the account running digicon may read: the data
//! folder, the SQLite database, mail written to disk, backups and the JWT key. They
//! hold every consultation and the key that signs sessions, so they are created
//! 0700 / 0600 whatever the umask, instead of being tightened afterwards (no moment
//! when another local user could open them).

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// Creates `dir` and any missing parents with mode 0700. A folder that already
/// exists keeps its mode (it may be a shared one such as the working directory),
/// but a warning says when others can read it.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let mode = std::fs::metadata(dir)?.permissions().mode();
        if mode & 0o077 != 0 {
            log::warn!(
                "{} is readable by other users of this host (mode {:o}); `chmod 700` it",
                dir.display(),
                mode & 0o777
            );
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// Creates a new file with mode 0600; fails if it exists.
pub fn create_new(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Writes `content` to `path`, creating it with mode 0600 or replacing the
/// content of an existing file (whose mode is then tightened).
pub fn write(path: &Path, content: &[u8]) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    restrict(path)?;
    file.write_all(content)
}

/// Takes group and other permissions away from an existing file of ours (a
/// database created by an earlier version under the default umask). A missing
/// file is fine.
pub fn restrict(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::metadata(path) {
            Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                let mode = meta.permissions().mode() & 0o700;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            }
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn folders_and_files_are_created_for_the_owner_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let nested = dir.path().join("data").join("mail");
        create_dir(&nested).expect("created");
        assert_eq!(mode(&dir.path().join("data")), 0o700);
        assert_eq!(mode(&nested), 0o700);
        create_dir(&nested).expect("an existing folder is fine");

        let file = nested.join("a.eml");
        create_new(&file).expect("created");
        assert_eq!(mode(&file), 0o600);
        assert!(create_new(&file).is_err(), "never overwrites");

        let loose = dir.path().join("loose");
        std::fs::write(&loose, "x").expect("write");
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        restrict(&loose).expect("restricted");
        assert_eq!(mode(&loose), 0o600);
        write(&loose, b"y").expect("rewritten");
        assert_eq!(mode(&loose), 0o600);
        restrict(&dir.path().join("missing")).expect("a missing file is fine");
    }
}
