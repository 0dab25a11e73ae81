//! Output: a folder pixpipe owns (a build's mirror, a gallery), and the lock that keeps two
//! runs from writing one folder at once.
//!
//! A folder is claimed once: it must be new, empty (but for a killed run's temporary files) or
//! carry the mark of the same command. The mark lists every file a run wrote, and each file is
//! listed *before* it is written, so whatever moment a run is killed at, the next one knows
//! every file that may be its to remove. A run then removes what the mark lists and it no
//! longer writes, and nothing else: a user's own file in the folder stays. Nothing is written
//! or removed through a symlinked folder inside the owned one. The mark format is the same
//! for every kind; the marks of earlier versions are read once and replaced.

use crate::emit::{self, TEMP_PREFIX};
use crate::locks::lock;
use crate::report::Progress;
use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

/// Which command owns a folder (each has its own mark, so neither takes the other's folder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `pixpipe build --out`: a mirror of the site.
    Mirror,
    /// `pixpipe gallery`: a gallery page and its images.
    Gallery,
}

impl Kind {
    /// The mark's file name.
    pub fn mark(self) -> &'static str {
        match self {
            Kind::Mirror => MIRROR_MARK,
            Kind::Gallery => GALLERY_MARK,
        }
    }

    fn command(self) -> &'static str {
        match self {
            Kind::Mirror => "pixpipe build",
            Kind::Gallery => "pixpipe gallery",
        }
    }

    /// Who a foreign folder was not made by, in the refusal.
    fn maker(self) -> &'static str {
        match self {
            Kind::Mirror => "pixpipe",
            Kind::Gallery => "pixpipe gallery",
        }
    }
}

/// The mark of a build's mirror.
pub const MIRROR_MARK: &str = ".pixpipe-mirror";
/// The mark of a gallery folder.
pub const GALLERY_MARK: &str = ".pixpipe-gallery";

/// The mark of a mirror before marks listed files: the whole folder was the build's.
const OLD_MIRROR_MARK: &str =
    "This folder is written by pixpipe build; files not in the build are removed.";
/// The mark of a gallery before marks listed files: it lists nothing.
const OLD_GALLERY_MARK: &str =
    "Written by pixpipe gallery; its files are replaced on the next run.";

/// A folder that could not be claimed or written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The folder is not pixpipe's to write.
    #[error("cannot write {path}: {reason}")]
    Refused {
        /// The folder.
        path: String,
        /// Why, and what to do.
        reason: String,
    },
    /// Reading or writing failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// What.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A folder this run owns, locked until it is dropped.
#[derive(Debug)]
pub struct OwnedDir {
    dir: PathBuf,
    kind: Kind,
    /// What the mark lists: earlier runs' files and those this run is about to write.
    /// (Hashed, as `kept`: the mark is written sorted.)
    listed: Mutex<Names>,
    /// What this run keeps (writes, or finds already written).
    /// (Hashed: 10,000 inserts into a sorted set of paths cost a rebuild ~8 ms.)
    kept: Mutex<rustc_hash::FxHashSet<PathBuf>>,
    /// A folder inside this one that is not ours (a cache put inside the mirror).
    skip: Option<PathBuf>,
    /// This run appended names to the mark (not flushed): it is written anew at the end.
    appended: std::sync::atomic::AtomicBool,
    /// The mark, open for appending, once a name was appended to it (opening it for each of
    /// 3,000 outputs fetched from a shared cache was a tenth of their placing); dropped when
    /// the mark is written anew (another file then).
    appender: Mutex<Option<File>>,
    /// Folders inside this one already seen not to be symbolic links in this run.
    checked: Mutex<rustc_hash::FxHashSet<PathBuf>>,
    /// The folder's file system may give one file several spellings (case-insensitive):
    /// its mark is found under its name in capitals (or that could not be told).
    folds_case: bool,
    _lock: File,
}

/// Take the advisory lock of `dir` (which must exist), waiting for another pixpipe that holds
/// it and saying so through `progress`. The lock goes when the returned file is dropped.
pub fn lock_folder(dir: &Path, progress: &dyn Progress) -> std::io::Result<File> {
    let f = File::open(dir)?;
    match f.try_lock() {
        Ok(()) => return Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => {}
        Err(std::fs::TryLockError::Error(e)) => return Err(e),
    }
    progress.message(&format!(
        "waiting for another pixpipe that is writing {}",
        dir.display()
    ));
    f.lock()?;
    Ok(f)
}

impl OwnedDir {
    /// Claim `dir` for `kind`: refuse a folder holding someone else's files, create it if
    /// needed, lock it (waiting for another run that writes it), read what earlier runs
    /// listed. `skip` is a folder inside `dir` that is never listed nor pruned.
    pub fn claim(
        dir: &Path,
        kind: Kind,
        skip: Option<&Path>,
        progress: &dyn Progress,
    ) -> Result<OwnedDir, OutputError> {
        let mark = dir.join(kind.mark());
        if !mark.exists() && !emit::is_empty_but_leftovers(dir) {
            return Err(OutputError::Refused {
                path: dir.display().to_string(),
                reason: format!(
                    "the output folder is not empty and was not made by {}; choose an empty or new folder",
                    kind.maker()
                ),
            });
        }
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let held = lock_folder(dir, progress).map_err(io_err(dir))?;
        let skip = skip.and_then(|s| s.canonicalize().ok());
        let (listed, whole) = match std::fs::read_to_string(&mark) {
            Ok(text) if kind == Kind::Mirror && text.trim() == OLD_MIRROR_MARK => {
                (every_file(dir, skip.as_deref()), false)
            }
            Ok(text) => {
                let whole = text.starts_with(&header(kind)) && text.ends_with(MARK_END);
                (listed_files(&text, kind), whole)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Names::default(), false),
            Err(e) => return Err(io_err(&mark)(e)),
        };
        let owned = OwnedDir {
            dir: dir.to_path_buf(),
            kind,
            listed: Mutex::new(listed),
            kept: Mutex::new(Default::default()),
            skip,
            appended: std::sync::atomic::AtomicBool::new(false),
            appender: Mutex::new(None),
            checked: Mutex::new(Default::default()),
            folds_case: true,
            _lock: held,
        };
        // The mark whole and in this version's format before anything is written (after a
        // killed run, its last line may be cut short: an append would run on from it).
        if !whole {
            owned.write_mark(&lock(&owned.listed).clone())?;
        }
        Ok(OwnedDir {
            folds_case: folds_case(&mark),
            ..owned
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// List `names` (relative to the folder) before they are written: the new ones are
    /// appended to the mark in one write, without waiting for the disk (this guards against a
    /// killed run; `finish` writes the final mark durably).
    pub fn list(&self, names: &[PathBuf]) -> Result<(), OutputError> {
        use std::io::Write;
        let mut listed = lock(&self.listed);
        let mut lines = String::new();
        for n in names {
            if listed.insert(n.clone()) {
                lines.push_str(&n.to_string_lossy());
                lines.push('\n');
            }
        }
        if lines.is_empty() {
            return Ok(());
        }
        self.appended
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let mark = self.dir.join(self.kind.mark());
        let mut appender = lock(&self.appender);
        let file = match &mut *appender {
            Some(f) => f,
            None => appender.insert(
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(&mark)
                    .map_err(io_err(&mark))?,
            ),
        };
        file.write_all(lines.as_bytes()).map_err(io_err(&mark))
    }

    /// Keep `rel` as one of this run's files (it is written, or already there).
    pub fn keep(&self, rel: &Path) {
        lock(&self.kept).insert(rel.to_path_buf());
    }

    /// [`OwnedDir::keep`] for each of `rels`, under one lock.
    pub fn keep_all(&self, rels: impl Iterator<Item = PathBuf>) {
        lock(&self.kept).extend(rels);
    }

    /// Forget that this run keeps `rel` (it was placed for a job that failed after all).
    pub fn unkeep(&self, rel: &Path) {
        lock(&self.kept).remove(rel);
    }

    /// Keep every listed file under the folder `rel` (its source folder could not be read, so
    /// whether they are still wanted is unknown).
    pub fn keep_under(&self, rel: &Path) {
        let under: Vec<PathBuf> = lock(&self.listed)
            .iter()
            .filter(|l| l.starts_with(rel))
            .cloned()
            .collect();
        lock(&self.kept).extend(under);
    }

    /// Write `bytes` at `rel` unless a file of that size is there already (outputs are named
    /// by a hash of their bytes, and the size tells a file a power cut left short), listing
    /// it first and keeping it. `durable` waits for the disk (for files a rerun does not
    /// check, or that are someone's sources).
    pub fn place(&self, rel: &Path, bytes: &[u8], durable: bool) -> Result<(), OutputError> {
        let dest = self.dir.join(rel);
        if is_placed(&dest, bytes.len() as u64) {
            self.keep(rel);
            return Ok(());
        }
        self.check_inside(rel)?;
        self.list(&[rel.to_path_buf()])?;
        if durable {
            emit::write_atomic(&dest, bytes)
        } else {
            emit::write_rebuildable(&dest, bytes)
        }
        .map_err(io_err(&dest))?;
        self.keep(rel);
        Ok(())
    }

    /// Write the text file `rel` (a page, a manifest), durably, unless it already holds
    /// exactly `bytes`. Returns whether it was written.
    pub fn write(&self, rel: &Path, bytes: &[u8]) -> Result<bool, OutputError> {
        self.write_as(rel, bytes, true)
    }

    /// [`OwnedDir::write`]; `durable` false does not wait for the disk (a page of the
    /// mirror: every build compares it with what it should hold and rewrites it if a power
    /// cut left it otherwise; the manifest, written last, stays durable).
    pub fn write_as(&self, rel: &Path, bytes: &[u8], durable: bool) -> Result<bool, OutputError> {
        let dest = self.dir.join(rel);
        self.keep(rel);
        if std::fs::read(&dest).ok().as_deref() == Some(bytes) {
            return Ok(false);
        }
        self.check_inside(rel)?;
        self.list(&[rel.to_path_buf()])?;
        if durable {
            emit::write_atomic(&dest, bytes)
        } else {
            emit::write_rebuildable(&dest, bytes)
        }
        .map_err(io_err(&dest))?;
        Ok(true)
    }

    /// Make `rel` a copy of the file `src` (see `emit::mirror_file`). Returns whether it was
    /// written.
    pub fn mirror(&self, rel: &Path, src: &Path) -> Result<bool, OutputError> {
        let dest = self.dir.join(rel);
        self.keep(rel);
        self.check_inside(rel)?;
        self.list(&[rel.to_path_buf()])?;
        emit::mirror_file(src, &dest).map_err(io_err(&dest))
    }

    /// Refuse to write `rel` anywhere but inside the folder: a path that is not plain (`..`,
    /// absolute), or that passes through a folder that is a symlink.
    fn check_inside(&self, rel: &Path) -> Result<(), OutputError> {
        if rel.as_os_str().is_empty()
            || !rel.components().all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(OutputError::Refused {
                path: self.dir.join(rel).display().to_string(),
                reason: "it is outside the output folder, where pixpipe never writes".into(),
            });
        }
        let mut dir = self.dir.clone();
        let parts: Vec<_> = rel.components().collect();
        for c in &parts[..parts.len().saturating_sub(1)] {
            dir.push(c);
            if lock(&self.checked).contains(&dir) {
                continue;
            }
            let meta = std::fs::symlink_metadata(&dir);
            if meta.as_ref().is_ok_and(|m| m.is_dir()) {
                lock(&self.checked).insert(dir.clone());
            }
            if meta.is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(OutputError::Refused {
                    path: self.dir.join(rel).display().to_string(),
                    reason: format!(
                        "{} is a symbolic link, and pixpipe never writes through one inside its output; remove it",
                        dir.display()
                    ),
                });
            }
        }
        Ok(())
    }

    /// End the run: remove what the mark lists that this run did not keep (the files of
    /// pages and photos since removed or changed) and the temporary files of killed runs,
    /// then list only what was kept. Returns how many files were removed.
    pub fn finish(self) -> Result<usize, OutputError> {
        self.finish_sweeping(true)
    }

    /// [`OwnedDir::finish`]; `sweep` false skips the walk of the whole folder for the
    /// temporary files of killed runs (a process that swept it once, at its first build,
    /// leaves none: a rebuild while watching).
    pub fn finish_sweeping(self, sweep: bool) -> Result<usize, OutputError> {
        use std::os::unix::fs::MetadataExt;
        let listed = std::mem::take(&mut *lock(&self.listed));
        let kept = std::mem::take(&mut *lock(&self.kept));
        // A listed name can be a file this run kept under another name: on a
        // case-insensitive file system another spelling (a photo renamed IMG_1.JPG ->
        // img_1.jpg), anywhere a hard link. Never remove those. Every kept file is looked at
        // only when a stale one could be such a name: not on a rebuild that removes nothing
        // (most of a watch), nor for a stale file that is its file's only name on a file
        // system that tells spellings apart.
        let stale: Vec<PathBuf> = listed
            .iter()
            .filter(|l| !kept.contains(*l))
            .cloned()
            .collect();
        let kept_files = std::cell::OnceCell::new();
        let is_kept = |m: &std::fs::Metadata| {
            (self.folds_case || m.nlink() > 1)
                && kept_files
                    .get_or_init(|| {
                        kept.iter()
                            .filter_map(|w| std::fs::metadata(self.dir.join(w)).ok())
                            .map(|m| (m.dev(), m.ino()))
                            .collect::<BTreeSet<(u64, u64)>>()
                    })
                    .contains(&(m.dev(), m.ino()))
        };
        let mut removed = 0;
        // What is kept stays listed; what could not be removed too, for the next run to try
        // again.
        let unlisted: Vec<PathBuf> = {
            // (Hashed: a sorted set of paths compares them component by component.)
            let listed: rustc_hash::FxHashSet<&Path> = listed.iter().map(|p| p.as_path()).collect();
            kept.iter()
                .filter(|k| !listed.contains(k.as_path()))
                .cloned()
                .collect()
        };
        let mut same = unlisted.is_empty();
        let mut still = listed;
        still.extend(unlisted);
        let mut emptied: BTreeSet<PathBuf> = BTreeSet::new();
        for stale in &stale {
            let path = self.dir.join(stale);
            // Only through real folders: never into one that a symlink points at.
            if !within_real_folders(&self.dir, stale) {
                continue;
            }
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => {}
                Ok(m) if is_kept(&m) => {}
                Ok(_) => match std::fs::remove_file(&path) {
                    Ok(()) => {
                        removed += 1;
                        emptied.extend(stale.parent().map(Path::to_path_buf));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(_) => continue,
                },
                Err(_) => {}
            }
            same &= !still.remove(stale);
        }
        if sweep {
            self.remove_leftovers();
        }
        // Folders left empty go (deepest first); a folder holding anything stays.
        let mut dirs: Vec<PathBuf> = emptied
            .iter()
            .flat_map(|d| d.ancestors().map(Path::to_path_buf).collect::<Vec<_>>())
            .filter(|d| !d.as_os_str().is_empty())
            .collect();
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        dirs.dedup();
        for d in dirs {
            if within_real_folders(&self.dir, &d.join("x")) {
                let _ = std::fs::remove_dir(self.dir.join(&d));
            }
        }
        // The mark is whole since `claim`: unchanged and nothing appended (most rebuilds of
        // a watch), it is not even compared with what is there.
        let appended = self.appended.load(std::sync::atomic::Ordering::Relaxed);
        if !same || appended {
            self.write_mark(&still)?;
        }
        Ok(removed)
    }

    /// Remove the temporary files a killed run left anywhere in the folder (never through a
    /// symlink, never in the skipped folder), and in a mirror, the folders left empty.
    fn remove_leftovers(&self) {
        let walk = walkdir::WalkDir::new(&self.dir)
            .contents_first(true)
            .into_iter()
            .filter_entry(outside(&self.dir, self.skip.as_deref()));
        for e in walk.flatten() {
            let name = e.file_name().to_string_lossy();
            if e.file_type().is_file() && name.starts_with(TEMP_PREFIX) {
                let _ = std::fs::remove_file(e.path());
            } else if e.file_type().is_dir() && self.kind == Kind::Mirror && e.path() != self.dir {
                let _ = std::fs::remove_dir(e.path()); // only succeeds when empty
            }
        }
    }

    fn write_mark(&self, files: &Names) -> Result<(), OutputError> {
        *lock(&self.appender) = None;
        let mark = self.dir.join(self.kind.mark());
        let mut text = header(self.kind);
        let mut files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        files.sort_unstable_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
        for f in files {
            text.push_str(&f.to_string_lossy());
            text.push('\n');
        }
        text.push_str(MARK_END);
        // Unchanged and nothing appended this run (a rebuild that wrote nothing new): no
        // write, no wait for the disk. Appended lines were not flushed: written anew.
        let appended = self.appended.load(std::sync::atomic::Ordering::Relaxed);
        if !appended && std::fs::read(&mark).ok().as_deref() == Some(text.as_bytes()) {
            return Ok(());
        }
        emit::write_atomic(&mark, text.as_bytes()).map_err(io_err(&mark))
    }
}

/// The set of a folder's files, relative to it.
type Names = rustc_hash::FxHashSet<PathBuf>;

/// The last line of a mark written whole (names a killed run appended come after it).
const MARK_END: &str = "# end\n";

/// Whether the file system of `mark` (a file that exists) finds it under its name in
/// capitals as well: one file, several spellings. True when that cannot be told.
fn folds_case(mark: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some(name) = mark.file_name().and_then(|n| n.to_str()) else {
        return true;
    };
    let upper = mark.with_file_name(name.to_ascii_uppercase());
    match (std::fs::metadata(mark), std::fs::metadata(upper)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        (Ok(_), Err(e)) => e.kind() != std::io::ErrorKind::NotFound,
        _ => true,
    }
}

/// The first lines of a mark in this version's format.
fn header(kind: Kind) -> String {
    format!(
        "# Written by {}. The next run replaces the files listed below and removes\n\
         # those it no longer writes; it leaves every other file alone.\n",
        kind.command()
    )
}

/// Whether an output of `bytes` bytes is already at `dest` (outputs are named by a hash of
/// their bytes, so the name and the size tell; a file a power cut left short is not).
pub fn is_placed(dest: &Path, bytes: u64) -> bool {
    std::fs::metadata(dest).is_ok_and(|d| d.len() == bytes)
}

/// The files a mark lists: plain relative paths only, so that an edited mark can never name
/// a file outside the output folder (nor the mark itself).
pub fn listed_files(mark: &str, kind: Kind) -> Names {
    mark.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#') && *l != OLD_GALLERY_MARK)
        .map(PathBuf::from)
        .filter(|p| {
            p.components().count() > 0
                && p.components().all(|c| matches!(c, Component::Normal(_)))
                && p.as_os_str() != kind.mark()
        })
        .collect()
}

/// Every file in `dir` (relative to it), not following symlinks, outside `skip` and the mark:
/// what a mirror of an earlier version owned.
fn every_file(dir: &Path, skip: Option<&Path>) -> Names {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_entry(outside(dir, skip))
        .flatten()
        .filter(|e| !e.file_type().is_dir())
        .filter_map(|e| e.path().strip_prefix(dir).ok().map(Path::to_path_buf))
        .filter(|p| p.as_os_str() != MIRROR_MARK)
        .collect()
}

/// For a walk of `dir` that follows no symlink: whether an entry is outside `skip` (a
/// canonical path). The folder is resolved once: an entry's real path is then the folder's
/// plus its path in the walk (resolving each one was 80,000 `readlink` calls on a mirror of
/// 10,000 files, most of a rebuild with nothing to do).
fn outside<'a>(
    dir: &'a Path,
    skip: Option<&'a Path>,
) -> impl FnMut(&walkdir::DirEntry) -> bool + 'a {
    let real = skip.and_then(|_| dir.canonicalize().ok());
    move |e| match (skip, &real) {
        (Some(s), Some(real)) if e.file_type().is_dir() => e
            .path()
            .strip_prefix(dir)
            .map(|rel| !real.join(rel).starts_with(s))
            .unwrap_or(true),
        _ => true,
    }
}

/// Whether every folder between `dir` and `rel` (a plain relative path) is a real folder,
/// not a symlink.
fn within_real_folders(dir: &Path, rel: &Path) -> bool {
    let mut d = dir.to_path_buf();
    let parts: Vec<_> = rel.components().collect();
    parts[..parts.len().saturating_sub(1)].iter().all(|c| {
        d.push(c);
        std::fs::symlink_metadata(&d).is_ok_and(|m| m.is_dir())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::report::NoProgress as Quiet;

    #[test]
    fn a_mark_lists_only_plain_relative_paths() {
        let mark = "# header\nimages/a-400w.0123456789.jpg\n../outside.txt\n/etc/passwd\n\
             images/../../x\n.pixpipe-gallery\n\nindex.html\n";
        let mut files: Vec<PathBuf> = listed_files(mark, Kind::Gallery).into_iter().collect();
        files.sort();
        assert_eq!(
            files,
            vec![
                PathBuf::from("images/a-400w.0123456789.jpg"),
                PathBuf::from("index.html")
            ]
        );
        // The mark of earlier versions lists nothing.
        assert!(listed_files(&format!("{OLD_GALLERY_MARK}\n"), Kind::Gallery).is_empty());
    }

    #[test]
    fn a_run_removes_what_it_no_longer_writes_and_nothing_else() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("out");
        let first = OwnedDir::claim(&out, Kind::Mirror, None, &Quiet).unwrap();
        first.place(Path::new("a/one.jpg"), b"1", false).unwrap();
        first.place(Path::new("a/two.jpg"), b"22", false).unwrap();
        assert_eq!(first.finish().unwrap(), 0);
        std::fs::write(out.join("a/mine.txt"), b"a user's file").unwrap();
        std::fs::write(out.join(format!("a/{TEMP_PREFIX}x")), b"half").unwrap();
        let second = OwnedDir::claim(&out, Kind::Mirror, None, &Quiet).unwrap();
        second.place(Path::new("a/one.jpg"), b"1", false).unwrap();
        assert_eq!(second.finish().unwrap(), 1, "two.jpg");
        assert!(
            !out.join(format!("a/{TEMP_PREFIX}x")).exists(),
            "the leftover goes"
        );
        assert!(out.join("a/one.jpg").is_file());
        assert!(!out.join("a/two.jpg").exists());
        assert_eq!(
            std::fs::read(out.join("a/mine.txt")).unwrap(),
            b"a user's file"
        );
        // A gallery does not take a mirror's folder.
        let e = OwnedDir::claim(&out, Kind::Gallery, None, &Quiet).unwrap_err();
        assert!(e.to_string().contains("not made by pixpipe gallery"), "{e}");
    }

    #[test]
    fn a_mark_is_written_again_only_when_its_list_changed_or_a_killed_run_appended_to_it() {
        use std::os::unix::fs::MetadataExt;
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("out");
        let mark = out.join(MIRROR_MARK);
        let run = |files: &[&str]| {
            let owned = OwnedDir::claim(&out, Kind::Mirror, None, &Quiet).unwrap();
            for f in files {
                owned.place(Path::new(f), b"1", false).unwrap();
            }
            owned.finish().unwrap();
            let m = std::fs::metadata(&mark).unwrap();
            (m.ino(), std::fs::read_to_string(&mark).unwrap())
        };
        let (ino, text) = run(&["b/two.jpg", "a/one.jpg"]);
        assert_eq!(
            text,
            format!("{}a/one.jpg\nb/two.jpg\n{MARK_END}", header(Kind::Mirror))
        );
        assert_eq!(
            run(&["a/one.jpg", "b/two.jpg"]),
            (ino, text.clone()),
            "untouched"
        );
        // What a run killed after listing a file leaves: the next one writes it whole.
        // (Its last line possibly cut short.)
        std::fs::write(&mark, format!("{text}a/three.jpg\na/fo")).unwrap();
        let (_, again) = run(&["a/one.jpg", "b/two.jpg"]);
        assert_eq!(
            again, text,
            "three.jpg was never written: it is no longer listed"
        );
        let (ino, _) = run(&["a/one.jpg", "b/two.jpg"]);
        let (changed, text) = run(&["a/one.jpg"]);
        assert_ne!(changed, ino);
        assert_eq!(
            text,
            format!("{}a/one.jpg\n{MARK_END}", header(Kind::Mirror))
        );
    }

    #[test]
    fn a_file_system_folds_case_when_the_mark_is_found_under_its_name_in_capitals() {
        let t = tempfile::tempdir().unwrap();
        let mark = t.path().join(MIRROR_MARK);
        std::fs::write(&mark, "x").unwrap();
        let upper = t.path().join(MIRROR_MARK.to_ascii_uppercase());
        // (This file system tells spellings apart; a second name of the same file stands in
        // for one that does not.)
        assert!(!folds_case(&mark));
        std::fs::write(&upper, "another file").unwrap();
        assert!(!folds_case(&mark));
        std::fs::remove_file(&upper).unwrap();
        std::fs::hard_link(&mark, &upper).unwrap();
        assert!(folds_case(&mark));
    }

    #[test]
    fn an_old_mirror_mark_owns_the_whole_folder_once() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path();
        std::fs::write(out.join(MIRROR_MARK), format!("{OLD_MIRROR_MARK}\n")).unwrap();
        std::fs::create_dir_all(out.join("content/a")).unwrap();
        std::fs::write(out.join("content/a/old-480w.0123456789.jpg"), b"x").unwrap();
        let owned = OwnedDir::claim(out, Kind::Mirror, None, &Quiet).unwrap();
        assert_eq!(owned.finish().unwrap(), 1);
        assert!(!out.join("content").exists(), "emptied folders go");
        let mark = std::fs::read_to_string(out.join(MIRROR_MARK)).unwrap();
        assert!(mark.starts_with("# Written by pixpipe build."), "{mark}");
    }

    #[test]
    fn nothing_is_written_through_a_symlinked_folder() {
        let t = tempfile::tempdir().unwrap();
        let (out, elsewhere) = (t.path().join("out"), t.path().join("elsewhere"));
        std::fs::create_dir_all(&elsewhere).unwrap();
        let owned = OwnedDir::claim(&out, Kind::Mirror, None, &Quiet).unwrap();
        std::os::unix::fs::symlink(&elsewhere, out.join("content")).unwrap();
        let e = owned
            .place(Path::new("content/p.jpg"), b"x", false)
            .unwrap_err();
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
        assert!(std::fs::read_dir(&elsewhere).unwrap().next().is_none());
    }
}
