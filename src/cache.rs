//! The cache: encoded outputs by content-addressed key, in one relocatable folder.
//!
//! A job's key is blake3 of the source's bytes, the job's canonical settings and the versions
//! of pixpipe and its encoders, so a moved or renamed photo reuses its outputs, a changed
//! photo or setting misses exactly its own jobs, and a new encoder invalidates everything.
//! The folder holds `objects/` (one file per output) and `index.json` (key → output hash and
//! size, plus a stat index so unchanged sources are not even re-hashed). Restoring the folder
//! in CI is enough: paths are relative, and a stat miss only costs a re-hash.

use crate::plan::Variant;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Bumped whenever pixpipe's output for the same input and settings changes.
pub const PIPELINE_VERSION: &str =
    "pixpipe-pipeline-1;libjpeg-turbo-3;libwebp-1;png-0.18;fir-5-lanczos3";

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

#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    version: String,
    outputs: BTreeMap<String, Entry>,
    stats: BTreeMap<String, Stat>,
}

/// The cache folder, loaded.
#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
    outputs: Mutex<BTreeMap<String, Entry>>,
    stats: Mutex<BTreeMap<String, Stat>>,
    used: Mutex<BTreeSet<String>>,
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
        // Only WebP has an effort: the other formats' keys (and caches) stay as they were.
        if v.format == crate::plan::OutFormat::Webp {
            format!("|e={}", v.effort)
        } else {
            String::new()
        },
        after.join(",")
    );
    blake3::hash(canonical.as_bytes()).to_hex().to_string()
}

impl Cache {
    /// Open (or start) the cache at `dir`. A missing or unreadable index is an empty cache.
    pub fn open(dir: &Path) -> Cache {
        let index: Index = std::fs::read_to_string(dir.join("index.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .filter(|i: &Index| i.version == PIPELINE_VERSION)
            .map(|mut i: Index| {
                // The index is restored from CI caches: trust nothing that does not look like
                // what pixpipe writes (hashes end up in file names).
                let hex = |s: &str, n: usize| {
                    s.len() == n
                        && s.bytes()
                            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                };
                i.outputs.retain(|k, e| hex(k, 64) && hex(&e.hash, 10));
                i.stats.retain(|_, st| hex(&st.hash, 64));
                i
            })
            .unwrap_or_default();
        Cache {
            dir: dir.to_path_buf(),
            outputs: Mutex::new(index.outputs),
            stats: Mutex::new(index.stats),
            used: Mutex::new(BTreeSet::new()),
        }
    }

    fn object_path(&self, key: &str) -> PathBuf {
        self.dir.join("objects").join(&key[..2]).join(key)
    }

    /// The cached output for `key`, if its object is still there.
    pub fn get(&self, key: &str) -> Option<Entry> {
        let e = self.outputs.lock().ok()?.get(key).cloned()?;
        let ok = std::fs::metadata(self.object_path(key))
            .map(|m| m.len() == e.bytes)
            .unwrap_or(false);
        if ok {
            self.used.lock().ok()?.insert(key.to_string());
            Some(e)
        } else {
            None
        }
    }

    /// The cached output's bytes.
    pub fn read(&self, key: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.object_path(key))
    }

    /// Store an output.
    pub fn put(&self, key: &str, bytes: &[u8], hash: &str) -> std::io::Result<()> {
        // `get` checks the size: an object a power cut left empty is a miss, not a wrong hit.
        crate::emit::write_rebuildable(&self.object_path(key), bytes)?;
        if let Ok(mut o) = self.outputs.lock() {
            o.insert(
                key.to_string(),
                Entry {
                    hash: hash.to_string(),
                    bytes: bytes.len() as u64,
                },
            );
        }
        if let Ok(mut u) = self.used.lock() {
            u.insert(key.to_string());
        }
        Ok(())
    }

    /// The known hash of the source at `rel` if its size and mtime are unchanged.
    pub fn known_hash(&self, rel: &str, size: u64, mtime_ns: u128) -> Option<String> {
        let s = self.stats.lock().ok()?;
        let st = s.get(rel)?;
        (st.size == size && st.mtime_ns == mtime_ns).then(|| st.hash.clone())
    }

    /// Remember the hash of the source at `rel`.
    pub fn remember_hash(&self, rel: &str, size: u64, mtime_ns: u128, hash: &str) {
        if let Ok(mut s) = self.stats.lock() {
            s.insert(
                rel.to_string(),
                Stat {
                    size,
                    mtime_ns,
                    hash: hash.to_string(),
                },
            );
        }
    }

    /// Write the index; with `prune`, first drop every output this build did not use.
    /// Returns how many objects were removed.
    pub fn save(&self, prune: bool, live_sources: &BTreeSet<String>) -> std::io::Result<usize> {
        let mut removed = 0;
        let mut outputs = self.outputs.lock().map(|o| o.clone()).unwrap_or_default();
        let mut stats = self.stats.lock().map(|s| s.clone()).unwrap_or_default();
        stats.retain(|k, _| live_sources.contains(k));
        if prune {
            let used = self.used.lock().map(|u| u.clone()).unwrap_or_default();
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
            outputs.retain(|k, _| used.contains(k));
        }
        let index = Index {
            version: PIPELINE_VERSION.to_string(),
            outputs,
            stats,
        };
        let text = serde_json::to_string(&index).unwrap_or_default();
        crate::emit::write_atomic(&self.dir.join("index.json"), text.as_bytes())?;
        Ok(removed)
    }
}
