//! `--watch`: keep a command's output current while its sources change.
//!
//! The I/O edge of a long-running command: folders are watched through `notify` (inotify on
//! Linux, or polling where events do not arrive), events are gathered into batches (a batch
//! closes when the folders have been quiet for a moment, so an editor's save-by-rename or 500
//! copied photos are one batch), files pixpipe writes itself never open one, and an image
//! still being written is waited for until its size and time stop changing. Each batch goes
//! to the caller's rebuild; the rebuild is the command itself, through the job layer, so what
//! did not change costs a cache lookup and a look at its page.

use crate::naming::is_output_name;
use notify::{EventKind, RecursiveMode, Watcher};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};

/// What to watch.
#[derive(Debug, Clone, Default)]
pub struct Spec {
    /// Folders watched with everything under them.
    pub trees: Vec<PathBuf>,
    /// Folders whose own files are watched (a site root, for its configuration files).
    pub folders: Vec<PathBuf>,
    /// Files that are configuration: a change to one re-reads it (`Batch::config`).
    pub config_files: Vec<PathBuf>,
    /// Folders holding configuration files (Hugo's `config/`).
    pub config_trees: Vec<PathBuf>,
    /// Folders whose changes are pixpipe's own doing (the output, the cache).
    pub ignore: Vec<PathBuf>,
}

/// How changes are noticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The system's file events (inotify), polling when they cannot be had.
    Auto,
    /// Look at every watched file at this interval (network filesystems, containers whose
    /// bind mounts deliver no events).
    Poll(Duration),
}

/// How long the folders must be quiet before a batch closes.
pub const QUIET: Duration = Duration::from_millis(25);
/// ... when all it holds so far is pages saved whole (an editor's save is over within a
/// millisecond or two; copies of photos keep the longer wait, to stay one batch).
pub const QUIET_PAGES: Duration = Duration::from_millis(10);
/// How long an image must keep its size and time before it is taken as complete.
pub const SETTLE: Duration = Duration::from_millis(60);
/// How long to wait at most for an image that keeps changing.
const SETTLE_LIMIT: Duration = Duration::from_secs(30);

/// The changes of one batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// Files and folders that changed (absolute, as the watcher gives them), sorted.
    pub paths: BTreeSet<PathBuf>,
    /// A configuration file changed.
    pub config: bool,
    /// The system lost events: anything may have changed.
    pub rescan: bool,
    /// When the first event of the batch arrived.
    pub first_event: Option<Instant>,
    /// Files of `paths` that may still be being written: their last event was a write, not
    /// the writer closing the file or a rename into place (with polling, every file).
    pub open: BTreeSet<PathBuf>,
    /// Files under the watched folders whose changes open no batch (editor swap files,
    /// hidden files, names like pixpipe's outputs) but that a scan of the site still sees:
    /// gathered with the batch, so that a rebuild that reads only what changed reads them too.
    pub unnoticed: BTreeSet<PathBuf>,
}

/// Whether a file named `name` is one that editors, copy tools or pixpipe write on the way
/// to another (a swap file, a backup, a temporary file renamed over the real one) or one of
/// pixpipe's own outputs. Pure.
pub fn is_noise(name: &str) -> bool {
    name.starts_with('.')
        || name.starts_with('#')
        || name.ends_with('~')
        || name == "4913"
        || [".swp", ".swx", ".tmp", ".part", ".crdownload", ".kate-swp"]
            .iter()
            .any(|e| name.ends_with(e))
        || name.starts_with(crate::emit::TEMP_PREFIX)
        || is_output_name(name)
}

impl Spec {
    /// Whether a change at `path` matters: inside a watched place, not in an ignored one,
    /// not noise, and (for a folder watched alone) one of its own files. Pure.
    pub fn matters(&self, path: &Path) -> bool {
        if self.ignore.iter().any(|i| path.starts_with(i)) {
            return false;
        }
        if self.config_files.iter().any(|c| c == path) {
            return true;
        }
        let noisy = |p: &Path| {
            p.components()
                .filter_map(|c| match c {
                    std::path::Component::Normal(n) => n.to_str(),
                    _ => None,
                })
                .any(is_noise)
        };
        let under = |roots: &[PathBuf]| {
            roots
                .iter()
                .any(|r| path.strip_prefix(r).is_ok_and(|rel| !noisy(rel)))
        };
        if under(&self.trees) || under(&self.config_trees) {
            return true;
        }
        // A folder watched alone: only its configuration files count, and those are listed.
        false
    }

    /// Whether a change at `path` is inside a watched tree (outside the ignored places) but
    /// does not matter only because it is noise. Pure.
    pub fn is_unnoticed(&self, path: &Path) -> bool {
        !self.matters(path)
            && !self.ignore.iter().any(|i| path.starts_with(i))
            && self.trees.iter().any(|t| path.starts_with(t))
    }

    /// Whether `path` is configuration. Pure.
    pub fn is_config(&self, path: &Path) -> bool {
        self.config_files.iter().any(|c| c == path)
            || self.config_trees.iter().any(|t| path.starts_with(t))
    }
}

/// A watch that has started: its watcher is noticing changes from now on, queued until
/// [`Watch::run`] takes them (so that what changes during a long first build is not lost).
pub struct Watch {
    spec: Spec,
    backend: Backend,
    rx: Receiver<notify::Result<notify::Event>>,
    running: Running,
    /// Watched places that did not exist when the watcher started (their nearest existing
    /// folder is watched instead): when one appears, the watcher starts again.
    missing: Vec<PathBuf>,
}

/// Start watching `spec`. `log` gets one-line notes (a fallback to polling).
pub fn start(spec: &Spec, backend: Backend, log: &mut dyn FnMut(&str)) -> Watch {
    let mut backend = backend;
    let (tx, rx) = channel();
    let running = start_watcher(spec, &mut backend, tx, log);
    Watch {
        missing: missing(spec),
        spec: spec.clone(),
        backend,
        rx,
        running,
    }
}

/// The trees of `spec` that are not folders now.
fn missing(spec: &Spec) -> Vec<PathBuf> {
    spec.trees
        .iter()
        .chain(&spec.config_trees)
        .filter(|t| !t.is_dir())
        .cloned()
        .collect()
}

impl Watch {
    /// Until `stop` is set, call `rebuild` with each batch of changes that matter (the
    /// first batch holds what changed since `start`). A rebuild that returns a new spec (the
    /// configuration moved a folder) is watched with it from then on. Whenever the watcher
    /// starts again (a new spec, a watched folder that appeared), one rebuild looks at
    /// everything, since changes between the two watchers have no events.
    pub fn run(
        mut self,
        stop: &AtomicBool,
        log: &mut dyn FnMut(&str),
        rebuild: &mut dyn FnMut(&Batch) -> Option<Spec>,
    ) {
        log(&format!(
            "watching {} for changes ({}); Ctrl-C ends",
            plural(self.spec.trees.len(), "folder"),
            match self.backend {
                Backend::Auto => "file events".to_string(),
                Backend::Poll(d) => format!("looking every {} ms", d.as_millis()),
            }
        ));
        while !stop.load(Ordering::Relaxed) {
            let Some(batch) = next_batch(&self.spec, &self.rx, stop) else {
                continue;
            };
            settle(&batch, stop);
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let mut next = rebuild(&batch);
            while next.is_some() || self.missing.iter().any(|m| m.is_dir()) {
                if let Some(spec) = next.take() {
                    self.spec = spec;
                }
                let (tx, rx) = channel();
                self.running = start_watcher(&self.spec, &mut self.backend, tx, log);
                self.rx = rx;
                self.missing = missing(&self.spec);
                next = rebuild(&Batch {
                    rescan: true,
                    first_event: Some(Instant::now()),
                    ..Batch::default()
                });
            }
        }
    }
}

/// A watcher of every place of `spec`, sending to `tx`: file events when `backend` is
/// `Auto` and they can be had (else it becomes polling every second, with a note), polling
/// otherwise.
fn start_watcher(
    spec: &Spec,
    backend: &mut Backend,
    tx: std::sync::mpsc::Sender<notify::Result<notify::Event>>,
    log: &mut dyn FnMut(&str),
) -> Running {
    if *backend == Backend::Auto {
        let native = notify::recommended_watcher(tx.clone())
            .map_err(|e| (PathBuf::new(), e.to_string()))
            .and_then(|mut w| add_all(&mut w, spec).map(|()| w));
        match native {
            Ok(w) => return Running::Events(w),
            Err((path, message)) => {
                log(&format!(
                    "file events unavailable{} ({message}); polling every second",
                    if path.as_os_str().is_empty() {
                        String::new()
                    } else {
                        format!(" for {}", path.display())
                    }
                ));
                *backend = Backend::Poll(Duration::from_secs(1));
            }
        }
    }
    let interval = match backend {
        Backend::Poll(d) => *d,
        Backend::Auto => Duration::from_secs(1),
    };
    Running::Polling(Poller::start(spec, interval, tx))
}

/// A watcher at work; dropping it stops it (held for that, never read).
#[allow(dead_code)]
enum Running {
    Events(notify::RecommendedWatcher),
    Polling(Poller),
}

/// Size and modification time (ns) of each file under the watched places.
type Stamps = BTreeMap<PathBuf, (u64, u128)>;

/// Polling: every interval, the size and time of every file under the watched places,
/// compared with the last look; each difference is sent as a change. (notify's own poller
/// compares times in whole seconds, and misses a file rewritten within the same second.)
struct Poller {
    stop: std::sync::Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Poller {
    fn start(
        spec: &Spec,
        interval: Duration,
        tx: std::sync::mpsc::Sender<notify::Result<notify::Event>>,
    ) -> Poller {
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let (spec, flag) = (spec.clone(), stop.clone());
        let mut last = stamps(&spec);
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(interval);
                let now = stamps(&spec);
                let changed = now
                    .iter()
                    .filter(|(p, s)| last.get(*p) != Some(s))
                    .map(|(p, _)| p)
                    .chain(last.keys().filter(|p| !now.contains_key(*p)));
                let mut event =
                    notify::Event::new(EventKind::Modify(notify::event::ModifyKind::Any));
                for p in changed {
                    event = event.add_path(p.clone());
                }
                if !event.paths.is_empty() && tx.send(Ok(event)).is_err() {
                    return;
                }
                last = now;
            }
        });
        Poller {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the poller compares: every file under `spec`'s trees (no symlink followed), and the
/// files of the folders watched alone.
fn stamps(spec: &Spec) -> Stamps {
    let stamp = |m: &std::fs::Metadata| {
        let t = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        (m.len(), t)
    };
    let mut out = Stamps::new();
    for t in spec.trees.iter().chain(&spec.config_trees) {
        let walk = walkdir::WalkDir::new(t)
            .into_iter()
            .filter_entry(|e| !spec.ignore.iter().any(|i| e.path().starts_with(i)));
        for e in walk.flatten() {
            if let Ok(m) = e.metadata() {
                if !m.is_dir() {
                    out.insert(e.path().to_path_buf(), stamp(&m));
                }
            }
        }
    }
    for f in &spec.config_files {
        if let Ok(m) = std::fs::metadata(f) {
            out.insert(f.clone(), stamp(&m));
        }
    }
    out
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// Watch every place of `spec` with `w`.
fn add_all(w: &mut impl Watcher, spec: &Spec) -> Result<(), (PathBuf, String)> {
    let trees = spec.trees.iter().chain(&spec.config_trees);
    let mut alone: BTreeSet<PathBuf> = spec.folders.iter().cloned().collect();
    for t in trees {
        if t.is_dir() {
            w.watch(t, RecursiveMode::Recursive)
                .map_err(|e| (t.clone(), e.to_string()))?;
        } else if let Some(up) = t.ancestors().skip(1).find(|a| a.is_dir()) {
            // Not there yet: its nearest folder is watched for it to appear.
            alone.insert(up.to_path_buf());
        }
    }
    alone.extend(
        spec.config_files
            .iter()
            .filter_map(|c| c.parent().map(Path::to_path_buf)),
    );
    for f in alone.iter().filter(|f| f.is_dir()) {
        w.watch(f, RecursiveMode::NonRecursive)
            .map_err(|e| (f.clone(), e.to_string()))?;
    }
    Ok(())
}

/// Wait for the first event that matters, then gather until the folders are quiet for
/// [`Batch::quiet`]; `None` when nothing mattered (or `stop` was set).
fn next_batch(
    spec: &Spec,
    rx: &Receiver<notify::Result<notify::Event>>,
    stop: &AtomicBool,
) -> Option<Batch> {
    let mut batch = Batch::default();
    let add = |ev: notify::Result<notify::Event>, batch: &mut Batch| {
        let Ok(ev) = ev else {
            batch.rescan = true;
            return;
        };
        if ev.need_rescan() {
            batch.rescan = true;
        }
        use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
        match ev.kind {
            // The writer closed the file: it is whole (no batch opens for this alone).
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
                for p in &ev.paths {
                    batch.open.remove(p);
                }
                return;
            }
            EventKind::Access(_) => return,
            _ => {}
        }
        // A rename into place is whole (of a pair, the second path is the new name); a
        // file created or written to may not be yet.
        let (whole, open) = match ev.kind {
            EventKind::Modify(ModifyKind::Name(RenameMode::To)) => (ev.paths.len(), 0),
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => (1, 0),
            EventKind::Modify(ModifyKind::Name(_) | ModifyKind::Metadata(_)) => (0, 0),
            EventKind::Remove(_) => (0, 0),
            _ => (0, ev.paths.len()),
        };
        let n = ev.paths.len();
        for (i, p) in ev.paths.into_iter().enumerate() {
            if !spec.matters(&p) {
                if spec.is_unnoticed(&p) {
                    batch.unnoticed.insert(p);
                }
                continue;
            }
            if i + whole >= n {
                batch.open.remove(&p);
            }
            if i < open {
                batch.open.insert(p.clone());
            }
            batch.config |= spec.is_config(&p);
            batch.paths.insert(p);
        }
    };
    // The first event that matters.
    loop {
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(ev) => {
                add(ev, &mut batch);
                if !batch.paths.is_empty() || batch.rescan {
                    break;
                }
            }
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => {
                stop.store(true, Ordering::Relaxed);
                return None;
            }
        }
    }
    batch.first_event = Some(Instant::now());
    // Then everything until a quiet moment.
    while let Ok(ev) = rx.recv_timeout(batch.quiet()) {
        add(ev, &mut batch);
    }
    Some(batch)
}

impl Batch {
    /// How long the folders must be quiet for this batch to close: [`QUIET_PAGES`] while it
    /// holds only Markdown pages, each renamed into place or closed by its writer; else
    /// [`QUIET`]. Pure.
    pub fn quiet(&self) -> Duration {
        let pages = self.paths.iter().all(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(crate::resolve::is_page_file)
        });
        if pages && self.open.is_empty() && !self.rescan && !self.config {
            QUIET_PAGES
        } else {
            QUIET
        }
    }
}

/// Wait until every image of `batch` that may still be being written keeps its size and
/// time for [`SETTLE`]: a photo still being copied is taken when it is complete, not
/// reported broken half-way. One whose writer has closed it is taken at once.
fn settle(batch: &Batch, stop: &AtomicBool) {
    let images: Vec<&PathBuf> = batch
        .open
        .iter()
        .filter(|p| {
            p.to_str()
                .is_some_and(|s| crate::probe::Format::from_extension(s).is_some())
        })
        .collect();
    if images.is_empty() {
        return;
    }
    let look = || -> BTreeMap<&PathBuf, Option<(u64, Option<SystemTime>)>> {
        images
            .iter()
            .map(|p| {
                let m = std::fs::metadata(p).ok();
                (*p, m.map(|m| (m.len(), m.modified().ok())))
            })
            .collect()
    };
    let started = Instant::now();
    let mut before = look();
    while started.elapsed() < SETTLE_LIMIT && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(SETTLE.saturating_sub(QUIET));
        let now = look();
        if now == before {
            return;
        }
        before = now;
    }
}

/// Files pixpipe itself wrote among the watched ones (pages rewritten `--in-place`), each
/// with its size and time just after: a change event that finds a file so is pixpipe's own
/// write, not the user's, and opens no batch.
#[derive(Debug, Default)]
pub struct OwnWrites(BTreeMap<PathBuf, (u64, Option<SystemTime>)>);

impl OwnWrites {
    /// Remember `paths` as they are now (after pixpipe wrote them); forget earlier ones.
    pub fn record<'a>(&mut self, paths: impl IntoIterator<Item = &'a Path>) {
        self.0 = paths
            .into_iter()
            .filter_map(|p| {
                let m = std::fs::metadata(p).ok()?;
                Some((absolute(p), (m.len(), m.modified().ok())))
            })
            .collect();
    }

    /// `batch` without the files that are as pixpipe left them.
    pub fn drop_from(&self, batch: &mut Batch) {
        batch.paths.retain(|p| {
            let now = std::fs::metadata(p)
                .ok()
                .map(|m| (m.len(), m.modified().ok()));
            self.0.get(p).is_none_or(|was| now.as_ref() != Some(was))
        });
    }
}

/// `path` made absolute (not resolved: events name files under the path as watched).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// What `build --watch` watches: every folder the site's pages and images come from (its
/// content, static and assets folders and their mounts, wherever they are), its
/// configuration files and `config/` folder, its `layouts/` and those of its themes and
/// modules with their configuration, and `--config`; not the output or the cache.
pub fn site_spec(
    root: &Path,
    config: &crate::Config,
    explicit_config: Option<&Path>,
    output: Option<&Path>,
    cache: &Path,
) -> Spec {
    let root = absolute(root);
    let mut trees: Vec<PathBuf> = config.site_dirs().map(|d| root.join(d)).collect();
    trees.sort();
    trees.dedup();
    let mut config_files: Vec<PathBuf> = std::iter::once(crate::config::CONFIG_FILE)
        .chain(crate::hugo_config::CONFIG_FILES)
        .map(|f| root.join(f))
        .collect();
    config_files.extend(explicit_config.map(absolute));
    // What decides where themes and modules are, and their own configuration and templates,
    // which pixpipe learns lookups from (`hugo_components`).
    config_files.extend(["go.mod", "_vendor/modules.txt"].map(|f| root.join(f)));
    let mut config_trees = vec![root.join("config"), root.join("layouts")];
    for d in &config.read_only {
        let dir = root.join(d);
        config_files.extend(crate::hugo_config::CONFIG_FILES.map(|f| dir.join(f)));
        config_trees.extend([dir.join("config"), dir.join("layouts")]);
    }
    let mut ignore = vec![absolute(cache)];
    ignore.extend(output.map(absolute));
    Spec {
        trees,
        folders: vec![root.clone()],
        config_files,
        config_trees,
        ignore,
    }
}

/// What `gallery --watch` watches: the photo folder and its gallery.yaml, not the output or
/// the cache.
pub fn folder_spec(
    photos: &Path,
    explicit_config: Option<&Path>,
    out: &Path,
    cache: &Path,
) -> Spec {
    let photos = absolute(photos);
    Spec {
        trees: vec![photos.clone()],
        folders: Vec::new(),
        config_files: explicit_config
            .map(absolute)
            .into_iter()
            .chain(std::iter::once(photos.join("gallery.yaml")))
            .collect(),
        config_trees: Vec::new(),
        ignore: vec![absolute(out), absolute(cache)],
    }
}

/// A batch's files as the user names them: relative to `base` when inside it, the first few
/// and a count. Pure.
pub fn describe(batch: &Batch, base: &Path) -> String {
    let base = absolute(base);
    let shown: Vec<String> = batch
        .paths
        .iter()
        .map(|p| {
            p.strip_prefix(&base)
                .unwrap_or(p)
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let mut s = shown.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    if shown.len() > 3 {
        s.push_str(&format!(" and {} more", shown.len() - 3));
    }
    if batch.rescan {
        s = if s.is_empty() {
            "everything looked at again".into()
        } else {
            format!("{s} (and everything looked at again)")
        };
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_and_copy_tool_files_and_pixpipe_outputs_are_noise() {
        for n in [
            ".index.md.swp",
            "index.md~",
            "4913",
            "#index.md#",
            "photo.jpg.part",
            "photo-480w.0123456789.webp",
            ".pixpipe-tmp-1",
        ] {
            assert!(is_noise(n), "{n}");
        }
        for n in ["index.md", "photo.jpg", "_index.md", "my-photo-2x.jpg"] {
            assert!(!is_noise(n), "{n}");
        }
    }

    #[test]
    fn an_image_is_waited_for_only_until_its_writer_closes_it_or_renames_it_into_place() {
        use notify::event::{AccessKind, AccessMode, CreateKind, DataChange, ModifyKind};
        use notify::event::{MetadataKind, RenameMode};
        let spec = Spec {
            trees: vec!["/s/content".into()],
            ..Spec::default()
        };
        let ev = |kind: EventKind, paths: &[&str]| {
            let mut e = notify::Event::new(kind);
            for p in paths {
                e = e.add_path(PathBuf::from(p));
            }
            Ok(e)
        };
        let data = || EventKind::Modify(ModifyKind::Data(DataChange::Any));
        let (tx, rx) = channel();
        for e in [
            // Copied whole: created, written, closed, its times set.
            ev(EventKind::Create(CreateKind::File), &["/s/content/a.jpg"]),
            ev(data(), &["/s/content/a.jpg"]),
            ev(
                EventKind::Access(AccessKind::Close(AccessMode::Write)),
                &["/s/content/a.jpg"],
            ),
            ev(
                EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)),
                &["/s/content/a.jpg"],
            ),
            // Still being written when the folders went quiet.
            ev(EventKind::Create(CreateKind::File), &["/s/content/b.jpg"]),
            ev(data(), &["/s/content/b.jpg"]),
            // Written under another name, then renamed into place.
            ev(data(), &["/s/content/c.jpg.part"]),
            ev(
                EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
                &["/s/content/c.jpg.part", "/s/content/c.jpg"],
            ),
            // Closed, then written to again.
            ev(data(), &["/s/content/d.jpg"]),
            ev(
                EventKind::Access(AccessKind::Close(AccessMode::Write)),
                &["/s/content/d.jpg"],
            ),
            ev(data(), &["/s/content/d.jpg"]),
        ] {
            tx.send(e).unwrap();
        }
        let batch = next_batch(&spec, &rx, &AtomicBool::new(false)).expect("a batch");
        let names = |set: &BTreeSet<PathBuf>| -> Vec<String> {
            set.iter().map(|p| p.display().to_string()).collect()
        };
        assert_eq!(
            names(&batch.paths),
            [
                "/s/content/a.jpg",
                "/s/content/b.jpg",
                "/s/content/c.jpg",
                "/s/content/d.jpg"
            ]
        );
        assert_eq!(names(&batch.open), ["/s/content/b.jpg", "/s/content/d.jpg"]);
        assert_eq!(batch.quiet(), QUIET, "photos being copied");

        // An editor's save: a page renamed into place; the batch closes sooner.
        let (tx, rx) = channel();
        tx.send(ev(data(), &["/s/content/.index.md.swp"])).unwrap();
        tx.send(ev(
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
            &["/s/content/.index.md.swp", "/s/content/index.md"],
        ))
        .unwrap();
        let mut batch = next_batch(&spec, &rx, &AtomicBool::new(false)).expect("a batch");
        assert_eq!(names(&batch.paths), ["/s/content/index.md"]);
        assert_eq!(batch.quiet(), QUIET_PAGES);
        batch.open.insert("/s/content/index.md".into());
        assert_eq!(batch.quiet(), QUIET, "a page still being written");

        // A close alone opens no batch.
        let (tx, rx) = channel();
        tx.send(ev(
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            &["/s/content/a.jpg"],
        ))
        .unwrap();
        drop(tx);
        assert_eq!(next_batch(&spec, &rx, &AtomicBool::new(false)), None);
    }

    #[test]
    fn a_change_matters_inside_a_watched_tree_outside_the_output_and_not_as_noise() {
        let spec = Spec {
            trees: vec!["/s/content".into(), "/s/static".into()],
            folders: vec!["/s".into()],
            config_files: vec!["/s/pixpipe.yaml".into(), "/s/hugo.toml".into()],
            config_trees: vec!["/s/config".into()],
            ignore: vec!["/s/content/out".into()],
        };
        let m = |p: &str| spec.matters(Path::new(p));
        assert!(m("/s/content/p/index.md"));
        assert!(m("/s/static/img/a.png"));
        assert!(m("/s/pixpipe.yaml"));
        assert!(m("/s/config/_default/hugo.toml"));
        assert!(!m("/s/content/out/p/index.md"));
        assert!(!m("/s/content/p/.index.md.swp"));
        assert!(!m("/s/content/.git/HEAD"));
        assert!(!m("/s/content/p/photo-480w.0123456789.jpg"));
        assert!(!m("/s/README.md"));
        assert!(spec.is_unnoticed(Path::new("/s/content/p/.index.md.swp")));
        assert!(spec.is_unnoticed(Path::new("/s/content/p/photo-480w.0123456789.jpg")));
        assert!(!spec.is_unnoticed(Path::new("/s/content/p/index.md")));
        assert!(!spec.is_unnoticed(Path::new("/s/content/out/p/.x.swp")));
        assert!(!spec.is_unnoticed(Path::new("/s/README.md")));
        assert!(!m("/s/.pixpipe/site/content/p/index.md"));
        assert!(spec.is_config(Path::new("/s/hugo.toml")));
        assert!(spec.is_config(Path::new("/s/config/_default/params.toml")));
        assert!(!spec.is_config(Path::new("/s/content/p/index.md")));
    }
}
