//! The cache: encoded outputs by content-addressed key, in one relocatable folder that any
//! number of pixpipe processes may share at once.
//!
//! A job's key is blake3 of the source's bytes, the job's canonical settings and the versions
//! of pixpipe and its encoders, so a moved or renamed photo reuses its outputs, a changed
//! photo or setting misses exactly its own jobs, and a new encoder invalidates everything.
//! The folder holds `objects/` (one file per output, named by its key) and `index.json` (key →
//! output hash and size, plus a stat index so unchanged sources are not even re-hashed).
//!
//! Sharing: every object is written to a temporary file and renamed, so it is whole or
//! absent; an object is found by its key alone (the index only saves reading it to learn its
//! hash), so an index that lost entries (two runs saving at once before, a killed run, a
//! damaged file) costs a read, never a re-encode. `save` merges under a lock: it re-reads the
//! index, adds what this run learnt and drops only what this run owns (its own sources' stale
//! stat entries), so runs of different commands and sites keep each other's entries.
//! The cache does not own the files the outputs are placed in; `output` does.
//!
//! Shared: with a store (`remote`), the folder is a read-through, write-back layer in front
//! of it. What the folder lacks is fetched from the store and kept in the folder
//! (`fetch_missing`); what a run makes is uploaded as it is stored (`put`); a machine whose
//! folder has everything sends the store nothing.

use crate::locks::lock;
use crate::plan::Variant;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Bumped whenever pixpipe's output for the same input and settings changes.
pub const PIPELINE_VERSION: &str =
    "pixpipe-pipeline-2;libjpeg-turbo-3;libwebp-1;png-0.18;fir-5-lanczos3";

/// What the cache knows about one output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// First 10 hex digits of blake3 of the output bytes.
    pub hash: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// A source file's identity on disk when it was last hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stat {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch (only to skip re-hashing).
    pub mtime_ns: u128,
    /// blake3 of the bytes, hex.
    pub hash: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Index {
    version: String,
    outputs: BTreeMap<String, Entry>,
    /// By the source's absolute path: a file of another site with the same relative path,
    /// size and mtime is another file.
    stats: BTreeMap<String, Stat>,
}

/// What reading `index.json` gave.
enum Read {
    /// An index of this version (possibly after dropping entries that do not look like ours).
    Index(std::sync::Arc<Index>),
    /// No index, or one of another pipeline version: an empty cache.
    Empty,
    /// An index that cannot be parsed.
    Damaged,
}

/// The cache folder, loaded.
#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
    /// The index as it was opened: shared with the memo, never copied by a run (a watch's
    /// rebuild opens an index of 10,000 outputs each time).
    base: std::sync::Arc<Index>,
    /// Outputs this run stored or found again from their objects, over `base`: merged into
    /// the index.
    added: Mutex<BTreeMap<String, Entry>>,
    /// Source hashes this run learnt, over `base`.
    stats_added: Mutex<BTreeMap<String, Stat>>,
    used: Mutex<rustc_hash::FxHashSet<String>>,
    damaged: bool,
    /// What a long-running process remembers of the objects' folders (`--watch`).
    looked: Option<std::sync::Arc<crate::stamp::DirMemo>>,
    /// ... and of the index.
    memo: IndexMemo,
    /// The shared cache behind the folder, for this run.
    remote: Option<crate::remote::Session>,
}

/// Which stat entries a save may drop: those of files under `root` that are not in `live`
/// (sources this run saw gone or no longer used). Every other entry stays.
pub struct StatScope<'a> {
    /// The site's root, absolute.
    pub root: &'a Path,
    /// The absolute paths of the sources this run used.
    pub live: &'a BTreeSet<String>,
}

/// The key of `v`, one of the variants `all` made together from the source whose bytes hash
/// to `source_hash`. Each size is resized from the next larger one and the largest sets the
/// decode's DCT scale, so a variant's bytes depend on the larger sizes made with it: they are
/// part of its key, and the same variant made beside other sizes is another output.
pub fn job_key(
    source_hash: &str,
    v: &Variant,
    all: &[Variant],
    metadata: crate::config::Metadata,
) -> String {
    let after: Vec<String> = crate::process::sizes_of(all.iter())
        .into_iter()
        .filter(|s| *s > (v.width, v.height))
        .map(|(w, h)| format!("{w}x{h}"))
        .collect();
    let canonical = format!(
        "{PIPELINE_VERSION}|src={source_hash}|w={}|h={}|fmt={}|q={}{}|meta={metadata:?}|srgb|after={}",
        v.width,
        v.height,
        v.format.name(),
        v.quality,
        // Only WebP has an effort, and PNG names its encoder (oxipng since pipeline 1): a
        // JPEG key needs neither.
        match v.format {
            crate::plan::OutFormat::Webp => format!("|e={}", v.effort),
            crate::plan::OutFormat::Png => format!(
                "|oxipng-10-p{}|palette={}",
                crate::process::codec::png_preset(v.width as u64 * v.height as u64),
                v.effort
            ),
            crate::plan::OutFormat::Jpeg => String::new(),
            // The speed, the tuning and the encoder's versions: another libaom makes other
            // bytes.
            crate::plan::OutFormat::Avif => format!(
                "|s={}|color:tune={}|{}",
                v.effort,
                crate::avif::TUNE.to_string_lossy(),
                crate::avif::versions_once()
            ),
        },
        after.join(",")
    );
    blake3::hash(canonical.as_bytes()).to_hex().to_string()
}

/// Whether `s` is `n` lowercase hex digits.
fn is_hex(s: &str, n: usize) -> bool {
    s.len() == n
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The index as this process last read or wrote it, with its file's stamp then: a process
/// that opens the same cache again and again (`--watch`) parses the index again only when
/// another process wrote it since. (Every writer renames a new file into place, so a write
/// gives the index another inode, whatever the clock says.)
#[derive(Debug, Default, Clone)]
pub struct IndexMemo(std::sync::Arc<Mutex<Option<Remembered>>>);

/// An index, with the stamp its file had when it was read or written.
type Remembered = (crate::stamp::Stamp, std::sync::Arc<Index>);

impl IndexMemo {
    /// `read_index`, from memory when the file is the one remembered.
    fn read(&self, dir: &Path) -> Read {
        let stamp = crate::stamp::Stamp::read(&dir.join("index.json"));
        if let (Some(s), Some((was, index))) = (stamp, lock(&self.0).as_ref()) {
            if s == *was {
                return Read::Index(index.clone());
            }
        }
        // The stamp taken before the read: a write in between gives the next look another.
        let read = read_index(dir);
        if let (Some(s), Read::Index(index)) = (stamp, &read) {
            *lock(&self.0) = Some((s, index.clone()));
        }
        read
    }

    /// Remember `index`, just written to `dir`.
    fn wrote(&self, dir: &Path, index: Index) {
        *lock(&self.0) = crate::stamp::Stamp::read(&dir.join("index.json"))
            .map(|s| (s, std::sync::Arc::new(index)));
    }
}

fn read_index(dir: &Path) -> Read {
    let text = match std::fs::read(dir.join("index.json")) {
        Ok(t) => t,
        Err(_) => return Read::Empty,
    };
    let Ok(mut index) = serde_json::from_slice::<Index>(&text) else {
        return Read::Damaged;
    };
    if index.version != PIPELINE_VERSION {
        return Read::Empty;
    }
    // The index is restored from CI caches: trust nothing that does not look like what
    // pixpipe writes (hashes end up in file names).
    index
        .outputs
        .retain(|k, e| is_hex(k, 64) && is_hex(&e.hash, 10));
    index.stats.retain(|_, st| is_hex(&st.hash, 64));
    Read::Index(std::sync::Arc::new(index))
}

impl Cache {
    /// Open (or start) the cache at `dir`. A missing index is an empty cache; a damaged one
    /// too, and `damaged` says so (its outputs are found again from their objects).
    pub fn open(dir: &Path) -> Cache {
        Cache::open_with(dir, IndexMemo::default())
    }

    /// [`Cache::open`], with the index a long-running process remembers (`--watch`).
    pub fn open_with(dir: &Path, memo: IndexMemo) -> Cache {
        let (base, damaged) = match memo.read(dir) {
            Read::Index(i) => (i, false),
            Read::Empty => (Default::default(), false),
            Read::Damaged => (Default::default(), true),
        };
        Cache {
            dir: dir.to_path_buf(),
            base,
            added: Mutex::new(BTreeMap::new()),
            stats_added: Mutex::new(BTreeMap::new()),
            used: Mutex::new(Default::default()),
            damaged,
            looked: None,
            memo,
            remote: None,
        }
    }

    /// Put the shared cache `remote` behind the folder for this run.
    pub fn sharing(mut self, remote: Option<std::sync::Arc<crate::remote::Remote>>) -> Cache {
        self.remote = remote.map(crate::remote::Session::new);
        self
    }

    /// The shared cache behind the folder, if any.
    pub fn remote(&self) -> Option<&crate::remote::Session> {
        self.remote.as_ref()
    }

    /// Fetch what the shared cache has of `keys` (outputs the folder does not have) into the
    /// folder, each also given to `also(key, entry, bytes)` once stored; what was fetched, by
    /// key. Without a shared cache, nothing.
    pub fn fetch_missing(
        &self,
        keys: &[String],
        also: &(dyn Fn(&str, &Entry, &[u8]) + Sync),
    ) -> rustc_hash::FxHashMap<String, Entry> {
        let got = Mutex::new(rustc_hash::FxHashMap::default());
        let Some(remote) = &self.remote else {
            return got.into_inner().unwrap_or_default();
        };
        remote.fetch(keys, &|key, bytes, blake3| {
            let hash = crate::naming::short_of(&blake3);
            // A folder that cannot take it: the output is made here instead.
            if self.store(key, bytes, &hash).is_ok() {
                let entry = Entry {
                    hash,
                    bytes: bytes.len() as u64,
                };
                also(key, &entry, bytes);
                lock(&got).insert(key.to_string(), entry);
            }
        });
        got.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    /// Which of `keys` (outputs the folder does not have) the shared cache has, as entries
    /// (its hash and size, read from each object's header; the bytes stay in the store).
    pub fn probe_shared(&self, keys: &[String]) -> rustc_hash::FxHashMap<String, Entry> {
        let Some(remote) = &self.remote else {
            return Default::default();
        };
        (remote.probe(keys).into_iter())
            .map(|(key, blake3, bytes)| {
                let hash = crate::naming::short_of(&blake3);
                (key, Entry { hash, bytes })
            })
            .collect()
    }

    /// Make sure the shared cache (if any) has the outputs of `keys`, which the folder has:
    /// uploaded from the folder where the store lacks them.
    pub fn ensure_shared(&self, keys: &[String]) {
        if let Some(remote) = &self.remote {
            // Only an object whose bytes still hash as the index says: a damaged one in a
            // restored folder is not sent to every other machine under a valid header.
            remote.ensure(keys, &|key| {
                let bytes = self.read(key).ok()?;
                let known = self.known(key)?;
                (crate::naming::short_hash(&bytes) == known.hash).then_some(bytes)
            });
        }
    }

    /// Wait for the shared cache's uploads: what this run sent and fetched, and the store's
    /// failure if it had one. `None` without a shared cache.
    pub fn finish_remote(&self) -> Option<(crate::remote::Traffic, Option<String>)> {
        self.remote.as_ref().map(|r| r.finish())
    }

    /// Look for objects through `memo` (an object is found by its folder's stamp while the
    /// folder is unchanged: objects are written whole and renamed into place).
    pub fn looking_through(mut self, memo: std::sync::Arc<crate::stamp::DirMemo>) -> Cache {
        self.looked = Some(memo);
        self
    }

    /// The cache's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the index could not be read when the cache was opened.
    pub fn damaged(&self) -> bool {
        self.damaged
    }

    fn object_path(&self, key: &str) -> PathBuf {
        self.dir.join("objects").join(&key[..2]).join(key)
    }

    /// What the index (or this run) knows of `key`.
    pub fn known(&self, key: &str) -> Option<Entry> {
        self.known_over(&lock(&self.added), key)
    }

    /// [`Cache::known`], with this run's additions already locked.
    fn known_over(&self, added: &BTreeMap<String, Entry>, key: &str) -> Option<Entry> {
        added
            .get(key)
            .or_else(|| self.base.outputs.get(key))
            .cloned()
    }

    /// The cached output for `key`, if its object is there: by the index when it knows the
    /// key (checked by size), else found from the object itself (read once to learn its hash).
    pub fn get(&self, key: &str) -> Option<Entry> {
        let known = self.known(key);
        let path = self.object_path(key);
        if let (Some(e), Some(memo)) = (&known, &self.looked) {
            if memo.len(&path) == Some(e.bytes) {
                lock(&self.used).insert(key.to_string());
                return known;
            }
        }
        let meta = std::fs::metadata(&path).ok()?;
        let entry = match known {
            Some(e) if meta.len() == e.bytes => e,
            // An empty object is what a power cut can leave of an unflushed write: a miss.
            _ if meta.len() == 0 || !meta.is_file() => return None,
            _ => {
                let bytes = self.read(key).ok()?;
                let e = Entry {
                    hash: crate::naming::short_hash(&bytes),
                    bytes: bytes.len() as u64,
                };
                lock(&self.added).insert(key.to_string(), e.clone());
                e
            }
        };
        lock(&self.used).insert(key.to_string());
        Some(entry)
    }

    /// [`Cache::get`] for each of `keys` (one job's variants): the index and the set of
    /// used keys locked once for all of them, not once each (10,000 lookups from two
    /// workers spent more time waiting on the locks than looking).
    pub fn get_all(&self, keys: &[String]) -> Vec<Option<Entry>> {
        let known: Vec<Option<Entry>> = {
            let added = lock(&self.added);
            keys.iter().map(|k| self.known_over(&added, k)).collect()
        };
        let mut used = Vec::with_capacity(keys.len());
        let found = keys
            .iter()
            .zip(known)
            .map(|(key, known)| match (known, &self.looked) {
                (Some(e), Some(memo)) if memo.len(&self.object_path(key)) == Some(e.bytes) => {
                    used.push(key.clone());
                    Some(e)
                }
                _ => self.get(key),
            })
            .collect();
        lock(&self.used).extend(used);
        found
    }

    /// Mark `keys` used by this run (objects it found earlier: `--prune-cache` keeps them).
    pub fn mark_used(&self, keys: impl Iterator<Item = String>) {
        lock(&self.used).extend(keys);
    }

    /// The cached output's bytes.
    pub fn read(&self, key: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.object_path(key))
    }

    /// Store an output this run made, and send it to the shared cache if there is one.
    /// Concurrent writers of one key are harmless: each renames a whole file of the same
    /// bytes over the other's.
    pub fn put(&self, key: &str, bytes: &[u8], hash: &str) -> std::io::Result<()> {
        if let Some(remote) = &self.remote {
            remote.upload(key, bytes);
        }
        self.store(key, bytes, hash)
    }

    /// Store an output in the folder.
    fn store(&self, key: &str, bytes: &[u8], hash: &str) -> std::io::Result<()> {
        // `get` checks the size: an object a power cut left empty is a miss, not a wrong hit.
        crate::emit::write_rebuildable(&self.object_path(key), bytes)?;
        let e = Entry {
            hash: hash.to_string(),
            bytes: bytes.len() as u64,
        };
        lock(&self.added).insert(key.to_string(), e);
        lock(&self.used).insert(key.to_string());
        Ok(())
    }

    /// The known hash of the source at `abs` (an absolute path) if its size and mtime are
    /// unchanged.
    pub fn known_hash(&self, abs: &str, size: u64, mtime_ns: u128) -> Option<String> {
        let added = lock(&self.stats_added);
        let st = added.get(abs).or_else(|| self.base.stats.get(abs))?;
        (st.size == size && st.mtime_ns == mtime_ns).then(|| st.hash.clone())
    }

    /// Remember the hash of the source at `abs` (an absolute path).
    pub fn remember_hash(&self, abs: &str, size: u64, mtime_ns: u128, hash: &str) {
        let st = Stat {
            size,
            mtime_ns,
            hash: hash.to_string(),
        };
        lock(&self.stats_added).insert(abs.to_string(), st);
    }

    /// Merge what this run learnt into the index, under the cache's lock: the index on disk
    /// now (other runs may have saved since this one opened it) plus this run's outputs and
    /// stat entries, less the stat entries `scope` says are stale. With `prune`, first remove
    /// every object this run did not use (of any site sharing the cache: the user asked for
    /// it). Returns how many objects were removed.
    pub fn save(&self, prune: bool, scope: Option<StatScope>) -> std::io::Result<usize> {
        std::fs::create_dir_all(&self.dir)?;
        let lock_file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join("index.lock"))?;
        lock_file.lock()?;
        let read = match self.memo.read(&self.dir) {
            Read::Index(i) => Some(i),
            Read::Empty | Read::Damaged => None,
        };
        let on_disk = read.clone().unwrap_or_default();
        let added = lock(&self.added).clone();
        let stats_added = lock(&self.stats_added).clone();
        let under = scope
            .as_ref()
            .map(|s| format!("{}/", s.root.to_string_lossy().trim_end_matches('/')));
        let stale = |k: &String| match (&scope, &under) {
            (Some(scope), Some(under)) => k.starts_with(under) && !scope.live.contains(k),
            _ => false,
        };
        let mut removed = 0;
        let used = if prune {
            let used = lock(&self.used).clone();
            removed = self.remove_unused(&used)?;
            Some(used)
        } else {
            None
        };
        let unused = |k: &String| used.as_ref().is_some_and(|u| !u.contains(k));
        // Nothing new (a rebuild that made nothing): the index stays as it is, unwritten,
        // and is not even copied (a watch saves after every rebuild).
        let new = added.iter().any(|(k, e)| on_disk.outputs.get(k) != Some(e))
            || stats_added
                .iter()
                .any(|(k, st)| on_disk.stats.get(k) != Some(st))
            || on_disk.stats.keys().any(stale)
            || on_disk.outputs.keys().any(unused);
        if read.is_some() && !new {
            return Ok(removed);
        }
        let mut index = Index::clone(&on_disk);
        index.version = PIPELINE_VERSION.to_string();
        index.outputs.extend(added);
        index.stats.retain(|k, _| !stale(k));
        index.stats.extend(stats_added);
        index.outputs.retain(|k, _| !unused(k));
        let text = serde_json::to_string(&index).map_err(std::io::Error::other)?;
        crate::emit::write_atomic(&self.dir.join("index.json"), text.as_bytes())?;
        self.memo.wrote(&self.dir, index);
        Ok(removed)
    }

    /// Remove every object whose key is not in `used`; returns how many.
    fn remove_unused(&self, used: &rustc_hash::FxHashSet<String>) -> std::io::Result<usize> {
        let mut removed = 0;
        let objects = self.dir.join("objects");
        for shard in std::fs::read_dir(&objects).into_iter().flatten().flatten() {
            for f in std::fs::read_dir(shard.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = f.file_name().to_string_lossy().into_owned();
                if !used.contains(&name) {
                    std::fs::remove_file(f.path())?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "aa00000000000000000000000000000000000000000000000000000000000001";
    const KEY_B: &str = "bb00000000000000000000000000000000000000000000000000000000000002";

    #[test]
    fn two_runs_saving_one_cache_keep_each_others_entries() {
        let t = tempfile::tempdir().unwrap();
        let a = Cache::open(t.path());
        let b = Cache::open(t.path());
        a.put(KEY_A, b"first", "0123456789").unwrap();
        a.remember_hash("/site-a/content/p.jpg", 5, 1, &"a".repeat(64));
        b.put(KEY_B, b"second", "abcdefabcd").unwrap();
        b.remember_hash("/site-b/content/p.jpg", 6, 1, &"b".repeat(64));
        let live_a: BTreeSet<String> = ["/site-a/content/p.jpg".to_string()].into();
        let live_b: BTreeSet<String> = BTreeSet::new();
        a.save(
            false,
            Some(StatScope {
                root: Path::new("/site-a"),
                live: &live_a,
            }),
        )
        .unwrap();
        b.save(
            false,
            Some(StatScope {
                root: Path::new("/site-b"),
                live: &live_b,
            }),
        )
        .unwrap();
        let c = Cache::open(t.path());
        assert_eq!(c.get(KEY_A).unwrap().bytes, 5);
        assert_eq!(c.get(KEY_B).unwrap().bytes, 6);
        assert!(c.known_hash("/site-a/content/p.jpg", 5, 1).is_some());
        // Site B's own entry was added by its run: this run decides what of B is live.
        assert!(c.known_hash("/site-b/content/p.jpg", 6, 1).is_some());
        // Another site's file with the same relative path, size and mtime is not known.
        assert!(c.known_hash("/site-c/content/p.jpg", 5, 1).is_none());
    }

    #[test]
    fn an_object_is_found_by_its_key_when_the_index_lost_it() {
        let t = tempfile::tempdir().unwrap();
        let a = Cache::open(t.path());
        a.put(KEY_A, b"made before a kill", "0000000000").unwrap();
        // Killed before it saved: no index at all.
        let b = Cache::open(t.path());
        let e = b.get(KEY_A).unwrap();
        assert_eq!(e.bytes, 18);
        assert_eq!(e.hash, crate::naming::short_hash(b"made before a kill"));
        // A damaged index is an empty one, said as such, and the objects are still found.
        std::fs::write(t.path().join("index.json"), b"{\"version\": tr").unwrap();
        let c = Cache::open(t.path());
        assert!(c.damaged());
        assert!(c.get(KEY_A).is_some());
        c.save(false, None).unwrap();
        assert!(
            !Cache::open(t.path()).damaged(),
            "the save rebuilt the index"
        );
        // An empty object (a power cut before its bytes reached the disk) is a miss.
        std::fs::write(t.path().join("objects/bb").join(KEY_B), b"").ok();
        std::fs::create_dir_all(t.path().join("objects/bb")).unwrap();
        std::fs::write(t.path().join("objects/bb").join(KEY_B), b"").unwrap();
        assert!(Cache::open(t.path()).get(KEY_B).is_none());
    }
}
