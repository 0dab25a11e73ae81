//! Scan: read the site from disk: its pages (text) and the files they may point at.
//!
//! This is the I/O edge of the front half of the pipeline. It reads, never writes, and never
//! follows a symbolic link out of the site root. What it cannot read becomes a diagnostic;
//! only an unreadable site root is fatal.

use crate::config::Config;
use crate::position::LineIndex;
use crate::report::Diagnostic;
use crate::resolve::{is_page_file, AssetIndex, Entry};
use std::path::{Path, PathBuf};
use walkdir::WalkDir;

/// A Markdown page.
#[derive(Debug, Clone)]
pub struct Page {
    /// Site-relative path, `/`-separated.
    pub path: String,
    /// Its text, without a UTF-8 byte order mark.
    pub text: String,
    /// Whether the file started with a byte order mark.
    pub bom: bool,
    /// Line starts of `text`.
    pub lines: LineIndex,
}

/// What `scan` read.
#[derive(Debug)]
pub struct Site {
    /// The site root as given.
    pub root: PathBuf,
    /// Pages, sorted by path.
    pub pages: Vec<Page>,
    /// Files under the content, static and assets folders.
    pub assets: AssetIndex,
    /// Pages and files that could not be read.
    pub diagnostics: Vec<Diagnostic>,
    /// Folders (site-relative) that could not be read: what they hold is unknown, so a build
    /// leaves what it wrote for them before alone.
    pub unreadable: Vec<String>,
}

/// A site that cannot be scanned at all.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The root is missing or unreadable.
    #[error("cannot read site root {path}: {source}")]
    Root {
        /// The root as given.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The `files` filters of content mounts: which files of a mounted folder the site sees.
struct MountFilters {
    dirs: Vec<(String, Option<globset::GlobSet>, Option<globset::GlobSet>)>,
}

impl MountFilters {
    fn new(config: &Config) -> Self {
        let set = |globs: &[String]| -> Option<globset::GlobSet> {
            if globs.is_empty() {
                return None;
            }
            let mut b = globset::GlobSetBuilder::new();
            for g in globs {
                if let Ok(glob) = globset::GlobBuilder::new(g)
                    .literal_separator(false)
                    .build()
                {
                    b.add(glob);
                }
            }
            b.build().ok()
        };
        MountFilters {
            dirs: config
                .content
                .iter()
                .map(|c| (c.dir.clone(), set(&c.include), set(&c.exclude)))
                .collect(),
        }
    }

    /// Whether the site-relative file `rel` is seen through its content mount.
    fn allows(&self, rel: &str) -> bool {
        for (dir, inc, exc) in &self.dirs {
            let Some(r) = rel.strip_prefix(&format!("{dir}/")) else {
                continue;
            };
            if inc.as_ref().is_some_and(|s| !s.is_match(r))
                || exc.as_ref().is_some_and(|s| s.is_match(r))
            {
                return false;
            }
        }
        true
    }
}

fn rel_path(root: &Path, p: &Path) -> Option<String> {
    let rel = p.strip_prefix(root).ok()?;
    let mut parts = Vec::new();
    for c in rel.components() {
        parts.push(c.as_os_str().to_str()?.to_string());
    }
    Some(parts.join("/"))
}

/// The site-relative path of `p`, found in the site folder `dir` (as configured) at `base`:
/// relative to the root, or, for a folder outside the root (`/srv/content`), `dir` and the
/// path inside it. `None` only for a name that is not UTF-8.
fn site_rel(root: &Path, dir: &str, base: &Path, p: &Path) -> Option<String> {
    if p.starts_with(root) {
        return rel_path(root, p);
    }
    let inner = rel_path(base, p)?;
    Some(if inner.is_empty() {
        dir.to_string()
    } else {
        format!("{}/{inner}", dir.trim_end_matches('/'))
    })
}

/// Read the pages and index the files of the site at `root`.
pub fn scan(root: &Path, config: &Config) -> Result<Site, ScanError> {
    check_root(root)?;
    let mut site = Site {
        root: root.to_path_buf(),
        pages: Vec::new(),
        assets: AssetIndex::default(),
        diagnostics: Vec::new(),
        unreadable: Vec::new(),
    };
    for n in &config.notes {
        site.diagnostics
            .push(Diagnostic::note("hugo-config", n.clone()));
    }
    let mut dirs: Vec<&String> = config.content.iter().map(|c| &c.dir).collect();
    dirs.extend(config.static_dirs.iter());
    dirs.extend(config.assets_dirs.iter());
    dirs.sort();
    dirs.dedup();
    let mut indexer = Indexer {
        root,
        canon_root: root.canonicalize().unwrap_or_else(|_| root.to_path_buf()),
        config,
        filters: MountFilters::new(config),
        page_paths: Vec::new(),
    };
    for d in dirs {
        indexer.walk(d, &mut site);
    }
    let mut page_paths = indexer.page_paths;
    page_paths.sort();
    page_paths.dedup();
    read_pages(page_paths, &mut site);
    index_page_urls(config, &mut site);
    Ok(site)
}

/// An error unless `root` is a folder that can be listed: the only fatal problem of a scan.
fn check_root(root: &Path) -> Result<(), ScanError> {
    let meta = std::fs::metadata(root).map_err(|source| ScanError::Root {
        path: root.display().to_string(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(ScanError::Root {
            path: root.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a folder"),
        });
    }
    std::fs::read_dir(root).map_err(|source| ScanError::Root {
        path: root.display().to_string(),
        source,
    })?;
    Ok(())
}

/// Walks the site's folders into its `AssetIndex`, and collects the page files to read.
struct Indexer<'a> {
    root: &'a Path,
    /// The root with symbolic links resolved: a link is followed only to a file below it.
    canon_root: PathBuf,
    config: &'a Config,
    filters: MountFilters,
    /// The page files found: site-relative path, and the path to read.
    page_paths: Vec<(String, PathBuf)>,
}

impl Indexer<'_> {
    /// Index every file below the site folder `d`, if it is a folder; a folder that cannot
    /// be read is an error, and listed in `Site::unreadable`.
    fn walk(&mut self, d: &str, site: &mut Site) {
        let base = self.root.join(d);
        if !base.is_dir() {
            return;
        }
        let is_content = self.config.content.iter().any(|c| c.dir == d);
        for entry in WalkDir::new(&base).follow_links(false).sort_by_file_name() {
            match entry {
                Ok(e) => self.add(&e, (d, &base), is_content, site),
                Err(e) => {
                    let where_ = e
                        .path()
                        .and_then(|p| site_rel(self.root, d, &base, p))
                        .unwrap_or_else(|| d.to_string());
                    // Its pages and images are unknown: an error, not a folder seen empty.
                    site.diagnostics.push(
                        Diagnostic::error("unreadable", format!("cannot read {where_}: {e}"))
                            .in_file(where_.clone())
                            .with_help("give pixpipe read access to it; the build leaves its earlier outputs as they are"),
                    );
                    site.unreadable.push(where_);
                }
            }
        }
    }

    /// Index one entry of a walk (of a content folder when `is_content`): a symbolic link as
    /// what it leads to, a file its content mount shows as a file (and a page file to read).
    fn add(
        &mut self,
        entry: &walkdir::DirEntry,
        (d, base): (&str, &Path),
        is_content: bool,
        site: &mut Site,
    ) {
        let ft = entry.file_type();
        if ft.is_dir() {
            return;
        }
        let Some(rel) = site_rel(self.root, d, base, entry.path()) else {
            site.diagnostics.push(Diagnostic::warning(
                "bad-file-name",
                format!(
                    "skipped a file whose name is not UTF-8: {}",
                    entry.path().to_string_lossy()
                ),
            ));
            return;
        };
        let name = entry.file_name().to_string_lossy();
        if ft.is_symlink() {
            let e = self.link_entry(entry.path(), is_content);
            site.assets.entries.insert(rel, e);
            return;
        }
        if !ft.is_file() {
            return;
        }
        if !self.filters.allows(&rel) {
            return;
        }
        let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
        if is_content && is_page_file(&name) && self.config.content_dir_of(&rel).is_some() {
            self.page_paths
                .push((rel.clone(), entry.path().to_path_buf()));
        }
        site.assets.entries.insert(rel, Entry::File { bytes });
    }

    /// What the symbolic link at `path` is to the site: a link to a file below the root
    /// (ignored in a content folder, as Hugo does), or a link out of it, never read.
    fn link_entry(&self, path: &Path, is_content: bool) -> Entry {
        // A target that cannot be resolved is missing, or the links loop.
        let Ok(target) = path.canonicalize() else {
            return Entry::LinkBroken;
        };
        if !target.starts_with(&self.canon_root) {
            return Entry::LinkOutside;
        }
        match std::fs::metadata(&target) {
            // Hugo ignores symbolic links inside content.
            Ok(m) if m.is_file() && is_content => Entry::LinkInContent,
            Ok(m) if m.is_file() => Entry::LinkInside { bytes: m.len() },
            _ => Entry::LinkBroken,
        }
    }
}

/// Read the page files (sorted, no duplicates) into `site`'s pages; one that cannot be
/// read or is not UTF-8 is a diagnostic.
fn read_pages(page_paths: Vec<(String, PathBuf)>, site: &mut Site) {
    for (rel, path) in page_paths {
        match std::fs::read(&path) {
            Ok(bytes) => match page_from_bytes(&rel, bytes) {
                Ok(p) => site.pages.push(p),
                Err(d) => site.diagnostics.push(*d),
            },
            Err(e) => site.diagnostics.push(
                Diagnostic::error("unreadable", format!("cannot read page: {e}")).in_file(rel),
            ),
        }
    }
}

/// Index the bundles whose URL is not their content path (permalinks, slug, url front
/// matter), so that a link to a file at that URL finds it.
fn index_page_urls(config: &Config, site: &mut Site) {
    for page in &site.pages {
        let Some(info) = crate::resolve::PageInfo::new(&page.path, config) else {
            continue;
        };
        if !info.is_bundle {
            continue;
        }
        let Ok(Some(fm)) = crate::extract::frontmatter::detect(&page.text) else {
            continue;
        };
        let parts = crate::extract::fmvalues::url_parts(&page.text, &fm);
        if let Some(url) = crate::resolve::page_url(&info, &parts, config) {
            let dir = crate::site_path::parent(&page.path).to_string();
            site.assets.page_urls.insert(url, dir);
        }
    }
}

/// Turn a page file's bytes into a `Page`, or a diagnostic when it is not UTF-8.
pub fn page_from_bytes(rel: &str, mut bytes: Vec<u8>) -> Result<Page, Box<Diagnostic>> {
    let bom = bytes.starts_with(&[0xEF, 0xBB, 0xBF]);
    if bom {
        bytes.drain(..3);
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Page {
            path: rel.to_string(),
            lines: LineIndex::new(&text),
            text,
            bom,
        }),
        Err(e) => {
            let good = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let prefix = String::from_utf8_lossy(&bytes[..good]).into_owned();
            let ix = LineIndex::new(&prefix);
            let pos = ix.line_col(&prefix, good);
            let line = ix.line_text(&prefix, pos.line).to_string();
            Err(Box::new(
                Diagnostic::error("bad-encoding", "page is not UTF-8 text; it was not scanned")
                    .in_file(rel)
                    .at(pos, line)
                    .with_help("save the file as UTF-8"),
            ))
        }
    }
}
