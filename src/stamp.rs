//! What a process that builds the same site again and again (`--watch`) may remember of a
//! file between its builds, and how it knows that what it remembers still holds.
//!
//! Two kinds of memory, both only ever a shortcut:
//! - [`Stamp`]: a file's identity and version (size, inode, modification and change times).
//!   A file whose stamp is unchanged holds the same bytes: any write moves its change time,
//!   which no program can set back.
//! - [`DirMemo`]: the sizes of files looked at in a folder, kept for as long as the folder
//!   itself is unchanged. Adding, removing or renaming a file in a folder moves the folder's
//!   times, so one `stat` of the folder answers for every file in it (a file written in place
//!   without being renamed is not seen: this is for outputs and cache objects, which pixpipe
//!   writes whole and renames into place).

use crate::locks::lock;
use rustc_hash::FxHashMap as HashMap;
use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::sync::Mutex;

/// A file's identity and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stamp {
    len: u64,
    modified: (i64, i64),
    changed: (i64, i64),
    inode: (u64, u64),
}

impl Stamp {
    /// The stamp of what `m` describes.
    #[cfg(unix)]
    pub fn of(m: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            len: m.len(),
            modified: (m.mtime(), m.mtime_nsec()),
            changed: (m.ctime(), m.ctime_nsec()),
            inode: (m.dev(), m.ino()),
        }
    }

    /// The stamp of what `m` describes (size and modification time only: without a change
    /// time, a file rewritten in the same instant at the same size is not seen).
    #[cfg(not(unix))]
    pub fn of(m: &std::fs::Metadata) -> Stamp {
        let t = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .unwrap_or_default();
        Stamp {
            len: m.len(),
            modified: (t.as_secs() as i64, i64::from(t.subsec_nanos())),
            changed: (0, 0),
            inode: (0, 0),
        }
    }

    /// The stamp of the file at `path` now (following a symlink, as reading it does).
    pub fn read(path: &Path) -> Option<Stamp> {
        std::fs::metadata(path).ok().map(|m| Stamp::of(&m))
    }

    /// Whether a look taken at `looked` can stand for the file until its stamp changes.
    /// File times come from a clock that moves in ticks of a few milliseconds: a second
    /// change within the tick of the first leaves the same times. A file last changed a
    /// while before the look cannot change again without new times; one changed just
    /// before it can, so what was seen of it is not kept.
    pub fn settled(&self, looked: std::time::SystemTime) -> bool {
        let (s, ns) = self.changed.max(self.modified);
        let changed = std::time::UNIX_EPOCH
            + std::time::Duration::new(s.max(0) as u64, ns.clamp(0, 999_999_999) as u32);
        // Times in whole seconds (FAT, some network file systems) move in steps of up to 2 s.
        let tick = if ns == 0 {
            std::time::Duration::from_secs(2)
        } else {
            RACY
        };
        changed + tick <= looked
    }
}

/// How long before a look a file must have been last changed for the look to be kept (many
/// times the clock's tick).
const RACY: std::time::Duration = std::time::Duration::from_millis(50);

/// Sizes of files (or their absence) as last looked at, by folder, each folder with its
/// stamp from just before the look. Shared by the workers of one build; [`DirMemo::next`]
/// between builds keeps what this build looked at for the next.
#[derive(Debug, Default)]
pub struct DirMemo {
    /// What the last build looked at; a folder is taken out of it (moved, not copied) when
    /// this build first looks at it. Folders by their path's bytes: a `Path` hashes and
    /// compares component by component, ten times slower for 10,000 outputs.
    before: [Mutex<HashMap<OsString, Folder>>; SHARDS],
    /// What this build looked at, in shards by folder (two workers looking at 10,000 files
    /// would otherwise wait on one lock).
    now: [Mutex<HashMap<OsString, Folder>>; SHARDS],
}

#[derive(Debug, Clone, Default)]
struct Folder {
    /// The folder's stamp taken before any of `files` was looked at (`None`: no folder).
    stamp: Option<Stamp>,
    /// Whether the stamp can stand for the folder ([`Stamp::settled`]).
    settled: bool,
    /// What earlier builds saw, still true: the folder has the stamp it had then.
    files: HashMap<OsString, Option<u64>>,
    /// What this build saw by looking: only for the next build (this one may change it).
    seen: HashMap<OsString, Option<u64>>,
}

impl DirMemo {
    /// The size of the file at `path` (`None` when there is none), from memory when its
    /// folder's stamp is the one an earlier build saw the file under, else by looking.
    pub fn len(&self, path: &Path) -> Option<u64> {
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return std::fs::metadata(path).ok().map(|m| m.len());
        };
        let key: &OsStr = dir.as_os_str();
        let shard = shard_of(key);
        {
            let mut now = lock(&self.now[shard]);
            let folder = match now.get(key) {
                Some(f) => f,
                None => {
                    // The folder's first look in this build: its stamp, taken before any of
                    // its files is looked at (a change after it moves the stamp, so the next
                    // build looks again), and what the last build knew of it if that holds.
                    let looked = std::time::SystemTime::now();
                    let stamp = Stamp::read(dir);
                    let settled = stamp.is_some_and(|s| s.settled(looked));
                    let files = lock(&self.before[shard])
                        .remove(key)
                        .filter(|b| b.settled && b.stamp == stamp)
                        .map(|b| b.files)
                        .unwrap_or_default();
                    let folder = Folder {
                        stamp,
                        settled,
                        files,
                        seen: HashMap::default(),
                    };
                    now.entry(key.to_os_string()).or_insert(folder)
                }
            };
            if let Some(len) = folder.files.get(name) {
                return *len;
            }
        }
        let len = std::fs::metadata(path)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        if let Some(f) = lock(&self.now[shard]).get_mut(key) {
            f.seen.insert(name.to_os_string(), len);
        }
        len
    }

    /// Start the next build: what this one looked at (and what it knew still held) is what
    /// that one may use.
    pub fn next(&mut self) {
        for (before, now) in self.before.iter_mut().zip(&mut self.now) {
            let mut folders = std::mem::take(now.get_mut().unwrap_or_else(|e| e.into_inner()));
            for f in folders.values_mut() {
                let seen = std::mem::take(&mut f.seen);
                f.files.extend(seen);
            }
            *before.get_mut().unwrap_or_else(|e| e.into_inner()) = folders;
        }
    }
}

/// The shard that holds the folder `key`.
fn shard_of(key: &OsStr) -> usize {
    use std::hash::BuildHasher;
    let h = rustc_hash::FxBuildHasher.hash_one(key);
    // Middle bits: a shard's own table places by the low bits and tags by the top ones, so
    // a shard chosen by either would crowd its keys together (every look comparing keys).
    (h >> 32) as usize % SHARDS
}

const SHARDS: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_memory_holds_until_a_file_is_added_removed_or_renamed_there() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a.jpg"), t.path().join("b.jpg"));
        std::fs::write(&a, b"12345").unwrap();
        let mut memo = DirMemo::default();
        assert_eq!(memo.len(&a), Some(5));
        memo.next();
        // Looked at just after the folder changed: not kept.
        assert!(memo
            .before
            .iter()
            .all(|b| lock(b).values().all(|f| !f.settled)));
        std::thread::sleep(RACY * 2);
        assert_eq!(memo.len(&a), Some(5));
        assert_eq!(memo.len(&b), None);
        memo.next();
        assert!(memo
            .before
            .iter()
            .all(|b| lock(b).values().all(|f| f.settled)));
        // Written in place, the folder unchanged: the memory answers (what it is not for).
        std::fs::write(&a, b"123").unwrap();
        assert_eq!(memo.len(&a), Some(5));
        assert_eq!(memo.len(&b), None);
        memo.next();
        // A file added: the folder changed, every file is looked at again.
        std::fs::write(&b, b"1").unwrap();
        assert_eq!(memo.len(&a), Some(3));
        assert_eq!(memo.len(&b), Some(1));
        memo.next();
        std::thread::sleep(RACY * 2);
        // Renamed over, and removed.
        std::fs::write(t.path().join("new"), b"1234").unwrap();
        std::fs::rename(t.path().join("new"), &a).unwrap();
        assert_eq!(memo.len(&a), Some(4));
        memo.next();
        std::fs::remove_file(&b).unwrap();
        assert_eq!(memo.len(&b), None);
        // Within one build, what it saw by looking is looked at again (it may have changed it).
        let c = t.path().join("c.jpg");
        assert_eq!(memo.len(&c), None);
        std::fs::write(&c, b"12").unwrap();
        assert_eq!(memo.len(&c), Some(2));
    }

    #[test]
    fn a_file_written_again_in_place_has_another_stamp() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("index.md");
        std::fs::write(&a, b"one").unwrap();
        // Just written: a look now cannot stand for the file (a second write in the same
        // clock tick would leave the same times).
        assert!(!Stamp::read(&a)
            .unwrap()
            .settled(std::time::SystemTime::now()));
        std::thread::sleep(RACY * 2);
        let before = Stamp::read(&a).unwrap();
        assert!(before.settled(std::time::SystemTime::now()));
        assert_eq!(Stamp::read(&a), Some(before));
        // The same size, written in place: other times.
        std::fs::write(&a, b"two").unwrap();
        assert_ne!(Stamp::read(&a), Some(before));
    }
}
