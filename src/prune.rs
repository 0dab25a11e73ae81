//! `pixpipe cache prune`: delete outputs from a cache, a folder or a shared cache, by age and
//! by what sites still use. Listing and deleting a shared cache go through its store.

use crate::remote::{Listed, Remote};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// A cache to prune.
#[derive(Debug)]
pub enum Store {
    /// A cache folder (`objects/XX/KEY`).
    Folder(PathBuf),
    /// A shared cache (`PREFIX/objects/KEY`).
    Shared(Box<Remote>),
}

/// What to delete: every output older than `older_than` (if given) that is not in `keep`
/// (if given). At least one of the two is given.
#[derive(Debug, Clone)]
pub struct Rule<'a> {
    /// Only outputs written longer ago than this.
    pub older_than: Option<Duration>,
    /// Never these keys (the outputs the sites named by `--keep-referenced-by` use).
    pub keep: Option<&'a BTreeSet<String>>,
    /// The time ages are counted from.
    pub now: SystemTime,
}

impl Rule<'_> {
    /// Whether `o` goes.
    pub fn deletes(&self, o: &Listed) -> bool {
        let old = self.older_than.is_none_or(|age| {
            self.now
                .duration_since(o.modified)
                .is_ok_and(|since| since > age)
        });
        let unused = self.keep.is_none_or(|keep| !keep.contains(&o.key));
        old && unused
    }
}

/// What a prune did (or, dry, would do).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pruned {
    /// Outputs deleted.
    pub deleted: usize,
    /// Their bytes.
    pub deleted_bytes: u64,
    /// Outputs kept.
    pub kept: usize,
    /// Their bytes.
    pub kept_bytes: u64,
}

/// Why a prune stopped.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    /// The folder could not be read or an object not deleted.
    #[error("{path}: {source}")]
    Folder {
        /// Where.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The store could not be listed or an object not deleted.
    #[error("{url}: {why}")]
    Shared {
        /// The store.
        url: String,
        /// Its reason.
        why: String,
    },
}

/// An age as `--older-than` takes it: a number and a unit, `s`, `m`, `h` or `d`.
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let bad = || format!("`{t}` is not an age (write `30d`, `12h`, `90m` or `3600s`)");
    if let Some(days) = t.strip_suffix('d') {
        return match days.trim().parse::<f64>() {
            Ok(n) if n.is_finite() && (0.0..=1e6).contains(&n) => {
                Ok(Duration::from_secs_f64(n * 86_400.0))
            }
            _ => Err(bad()),
        };
    }
    match crate::config::parse_budget(t) {
        Ok(Some(d)) => Ok(d),
        _ => Err(bad()),
    }
}

/// Delete what `rule` says from `store` (nothing when `dry`).
pub fn prune(store: &Store, rule: &Rule, dry: bool) -> Result<Pruned, PruneError> {
    let listed = match store {
        Store::Folder(dir) => list_folder(dir)?,
        Store::Shared(remote) => remote.list().map_err(|why| PruneError::Shared {
            url: remote.url().to_string(),
            why,
        })?,
    };
    let mut r = Pruned::default();
    let mut doomed = Vec::new();
    for o in listed {
        if rule.deletes(&o) {
            r.deleted += 1;
            r.deleted_bytes += o.bytes;
            doomed.push(o.key);
        } else {
            r.kept += 1;
            r.kept_bytes += o.bytes;
        }
    }
    if dry {
        return Ok(r);
    }
    match store {
        Store::Folder(dir) => {
            for key in &doomed {
                let path = object_path(dir, key);
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => {
                        return Err(PruneError::Folder {
                            path: path.display().to_string(),
                            source,
                        })
                    }
                }
            }
        }
        Store::Shared(remote) => {
            remote.delete(&doomed).map_err(|why| PruneError::Shared {
                url: remote.url().to_string(),
                why,
            })?;
        }
    }
    Ok(r)
}

fn object_path(dir: &std::path::Path, key: &str) -> PathBuf {
    dir.join("objects")
        .join(key.get(..2).unwrap_or(""))
        .join(key)
}

/// The outputs of a cache folder. A folder without objects is an empty cache.
fn list_folder(dir: &std::path::Path) -> Result<Vec<Listed>, PruneError> {
    let objects = dir.join("objects");
    let err = |path: &std::path::Path| {
        let path = path.display().to_string();
        move |source| PruneError::Folder { path, source }
    };
    let shards = match std::fs::read_dir(&objects) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(err(&objects)(e)),
    };
    let mut out = Vec::new();
    for shard in shards {
        let shard = shard.map_err(err(&objects))?.path();
        if !shard.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&shard).map_err(err(&shard))? {
            let f = f.map_err(err(&shard))?;
            let key = f.file_name().to_string_lossy().into_owned();
            // Temporary files of a write under way are not outputs.
            if key.starts_with('.') || key.starts_with(crate::emit::TEMP_PREFIX) {
                continue;
            }
            let meta = f.metadata().map_err(err(&f.path()))?;
            out.push(Listed {
                key,
                bytes: meta.len(),
                modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            });
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(key: &str, days_old: u64, now: SystemTime) -> Listed {
        Listed {
            key: key.to_string(),
            bytes: 10,
            modified: now - Duration::from_secs(days_old * 86_400),
        }
    }

    #[test]
    fn an_output_goes_when_it_is_old_enough_and_no_site_keeps_it() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000 * 86_400);
        let keep: BTreeSet<String> = ["kept".to_string()].into();
        let both = Rule {
            older_than: Some(parse_age("30d").unwrap()),
            keep: Some(&keep),
            now,
        };
        assert!(both.deletes(&listed("old", 31, now)));
        assert!(!both.deletes(&listed("new", 29, now)));
        assert!(!both.deletes(&listed("kept", 400, now)));
        let by_age = Rule {
            keep: None,
            ..both.clone()
        };
        assert!(by_age.deletes(&listed("kept", 31, now)));
        let by_use = Rule {
            older_than: None,
            ..both
        };
        assert!(by_use.deletes(&listed("new", 0, now)));
        assert!(!by_use.deletes(&listed("kept", 0, now)));
    }

    #[test]
    fn ages_take_days_hours_minutes_and_seconds() {
        assert_eq!(parse_age("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_age("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(parse_age(" 90m "), Ok(Duration::from_secs(5400)));
        assert_eq!(
            parse_age("soon"),
            Err("`soon` is not an age (write `30d`, `12h`, `90m` or `3600s`)".to_string())
        );
        assert!(parse_age("none").is_err());
        assert!(parse_age("-1d").is_err());
    }
}
