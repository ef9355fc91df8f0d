//! Where attachment bytes live: `data/files/<first two hex>/<sha256>`, 0600,
//! one file per content however many attachments share it. An upload is
//! written to `data/files/tmp/` while it arrives, then moved into place; the
//! row that names it is written after, so a failed upload leaves at most a
//! file without a row (never a row without its file), which
//! [`FileStore::sweep`] takes away.

use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct FileStore {
    root: PathBuf,
}

impl FileStore {
    pub fn new(data_dir: &Path) -> FileStore {
        FileStore {
            root: data_dir.join("files"),
        }
    }

    /// A new, empty temporary file (0600) for an upload to stream into.
    pub fn temp(&self) -> io::Result<(PathBuf, std::fs::File)> {
        let dir = self.root.join("tmp");
        crate::private_files::create_dir(&dir)?;
        let path = dir.join(format!("{:032x}", rand::random::<u128>()));
        let file = crate::private_files::create_new(&path)?;
        Ok((path, file))
    }

    /// Where the bytes of a content hash are kept.
    pub fn path(&self, sha256: &str) -> PathBuf {
        let prefix = sha256.get(..2).unwrap_or("00");
        self.root.join(prefix).join(sha256)
    }

    /// Moves an upload into place under its hash; when the same bytes are there
    /// already, the upload is dropped.
    pub fn keep(&self, temp: &Path, sha256: &str) -> io::Result<()> {
        let target = self.path(sha256);
        if target.exists() {
            return std::fs::remove_file(temp);
        }
        if let Some(dir) = target.parent() {
            crate::private_files::create_dir(dir)?;
        }
        std::fs::rename(temp, &target)
    }

    /// Takes away files no row names (`known` says whether a hash is named) and
    /// uploads abandoned over an hour ago. Returns how many went.
    pub fn sweep(&self, known: &mut dyn FnMut(&str) -> bool) -> io::Result<usize> {
        let mut removed = 0;
        let Ok(dirs) = std::fs::read_dir(&self.root) else {
            return Ok(0);
        };
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for dir in dirs.flatten() {
            let is_tmp = dir.file_name() == "tmp";
            for file in std::fs::read_dir(dir.path())?.flatten() {
                let old = file
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t < hour_ago);
                let name = file.file_name().to_string_lossy().to_string();
                if old && (is_tmp || !known(&name)) {
                    std::fs::remove_file(file.path())?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}
