//! Emit: write files so that no reader ever sees half of one.
//!
//! Every write goes to a temporary file in the target folder and is renamed over the target,
//! so a build killed at any moment leaves each file either old or new. Temporary files carry
//! a recognisable prefix so a later build can remove the leftovers of a killed one.

use std::io::Write;
use std::path::Path;

/// Prefix of pixpipe's temporary files.
pub const TEMP_PREFIX: &str = ".pixpipe-tmp-";

/// Whether `e` is a temporary file a killed pixpipe left: a plain file named `TEMP_PREFIX*`.
fn is_leftover(e: &std::fs::DirEntry) -> bool {
    e.file_type().is_ok_and(|t| t.is_file())
        && e.file_name().to_string_lossy().starts_with(TEMP_PREFIX)
}

/// Remove the temporary files a killed pixpipe left directly in `dir`.
pub fn remove_leftovers(dir: &Path) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if is_leftover(&e) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Whether `dir` is missing or holds nothing but the temporary files of a killed pixpipe;
/// those leftovers are removed. An output folder in that state is a new one, not someone's.
pub fn is_empty_but_leftovers(dir: &Path) -> bool {
    let Ok(mut entries) = std::fs::read_dir(dir) else {
        return true;
    };
    if !entries.all(|e| e.is_ok_and(|e| is_leftover(&e))) {
        return false;
    }
    remove_leftovers(dir);
    true
}

/// Write `bytes` to `path` atomically, creating folders as needed, and flush them to disk
/// before the rename, so that not even a power cut leaves an empty file in its place.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_renamed(path, bytes, true)
}

/// Write `bytes` to `path` atomically like `write_atomic`, without waiting for the disk: for
/// files a build can make again and checks before it trusts them (cache objects and placed
/// outputs, whose size is recorded), where the wait cost a worker ~0.6 ms per file.
pub fn write_rebuildable(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_renamed(path, bytes, false)
}

fn write_renamed(path: &Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let temp = || {
        tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(dir)
    };
    // The folder is made only when it is missing: a look for it before each of thousands
    // of files was two system calls each.
    let mut tmp = match temp() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)?;
            temp()?
        }
        other => other?,
    };
    tmp.write_all(bytes)?;
    // Temporary files are created 0600; what we publish is readable like any new file.
    use std::os::unix::fs::PermissionsExt;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    if sync {
        tmp.as_file().sync_data().ok();
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Write `bytes` to `path` atomically, keeping the permissions `path` had.
pub fn replace_keeping_mode(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let perms = std::fs::metadata(path).map(|m| m.permissions()).ok();
    write_atomic(path, bytes)?;
    if let Some(p) = perms {
        std::fs::set_permissions(path, p)?;
    }
    Ok(())
}

/// Make `dest` a copy of `src`, atomically, with `src`'s modification time. Skips the work
/// when `dest` is a file of the same size and modification time (the quick check rsync
/// makes). Never a hard link: a mirror file edited in place would edit the source. The copy
/// is `copy_file_range`, which shares the blocks on file systems that can (Btrfs, XFS).
pub fn mirror_file(src: &Path, dest: &Path) -> std::io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let sm = std::fs::metadata(src)?;
    if let Ok(dm) = std::fs::symlink_metadata(dest) {
        // A mirror of an earlier version may hold hard links to the sources: replaced.
        let linked = (dm.dev(), dm.ino()) == (sm.dev(), sm.ino());
        let same = dm.is_file()
            && dm.len() == sm.len()
            && dm
                .modified()
                .ok()
                .is_some_and(|t| Some(t) == sm.modified().ok());
        if same && !linked {
            return Ok(false);
        }
    }
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)?;
    std::fs::copy(src, tmp.path())?;
    if let Ok(t) = sm.modified() {
        tmp.as_file().set_modified(t)?;
    }
    tmp.persist(dest).map_err(|e| e.error)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mirrored_file_is_a_copy_that_edits_never_reach_the_source() {
        // Issue #17, item 9: the mirror hard-linked pages and originals to the sources.
        let t = tempfile::tempdir().unwrap();
        let (src, dest) = (t.path().join("src.md"), t.path().join("out/src.md"));
        std::fs::write(&src, b"source").unwrap();
        assert!(mirror_file(&src, &dest).unwrap());
        assert!(
            !mirror_file(&src, &dest).unwrap(),
            "unchanged: not copied again"
        );
        std::fs::write(&dest, b"edited").unwrap();
        assert_eq!(std::fs::read(&src).unwrap(), b"source");
        // A hard link left by an earlier version is replaced by a copy.
        std::fs::remove_file(&dest).unwrap();
        std::fs::hard_link(&src, &dest).unwrap();
        assert!(mirror_file(&src, &dest).unwrap());
        std::fs::write(&dest, b"edited").unwrap();
        assert_eq!(std::fs::read(&src).unwrap(), b"source");
    }

    #[test]
    fn only_temporary_files_make_a_folder_empty_but_leftovers() {
        let t = tempfile::tempdir().unwrap();
        assert!(is_empty_but_leftovers(&t.path().join("missing")));
        assert!(is_empty_but_leftovers(t.path()));
        let leftover = t.path().join(format!("{TEMP_PREFIX}x1"));
        std::fs::write(&leftover, b"half").unwrap();
        assert!(is_empty_but_leftovers(t.path()));
        assert!(!leftover.exists(), "the leftover is removed");
        std::fs::write(&leftover, b"half").unwrap();
        std::fs::write(t.path().join("index.html"), b"mine").unwrap();
        assert!(!is_empty_but_leftovers(t.path()));
        assert!(
            leftover.exists(),
            "nothing is removed from someone's folder"
        );
        assert_eq!(std::fs::read(t.path().join("index.html")).unwrap(), b"mine");
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join(format!("{TEMP_PREFIX}dir"))).unwrap();
        assert!(
            !is_empty_but_leftovers(d.path()),
            "a folder is never a leftover"
        );
    }
}
