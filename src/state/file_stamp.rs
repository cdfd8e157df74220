//! What tells that a file changed: its inode, size and modification time.
//!
//! geoipupdate and careful editors replace a file by renaming a new one over it (a new
//! inode); others write into it (a new size or time). A change within the file system's
//! time resolution that keeps the size is missed; a reload by signal or admin call still
//! reads everything afresh.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A file's identity and version as last seen; `None` fields stand for a missing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    inode: Option<(u64, u64)>,
    len: u64,
    modified_ns: i128,
}

impl FileStamp {
    /// The stamp of `path` now; a file that cannot be read has a stamp of its own, so that
    /// its return counts as a change too.
    pub fn of(path: &Path) -> FileStamp {
        match std::fs::metadata(path) {
            Ok(meta) => FileStamp {
                inode: Some((meta.dev(), meta.ino())),
                len: meta.len(),
                modified_ns: i128::from(meta.mtime()) * 1_000_000_000
                    + i128::from(meta.mtime_nsec()),
            },
            Err(_) => FileStamp {
                inode: None,
                len: 0,
                modified_ns: 0,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_written_into_or_replaced_or_removed_has_a_new_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.txt");
        std::fs::write(&path, "a").unwrap();
        let first = FileStamp::of(&path);
        assert_eq!(first, FileStamp::of(&path));
        std::fs::write(&path, "ab").unwrap();
        let written = FileStamp::of(&path);
        assert_ne!(first, written);
        let new = dir.path().join("new.txt");
        std::fs::write(&new, "ab").unwrap();
        std::fs::rename(&new, &path).unwrap();
        let replaced = FileStamp::of(&path);
        assert_ne!(written, replaced);
        std::fs::remove_file(&path).unwrap();
        assert_ne!(replaced, FileStamp::of(&path));
    }
}
