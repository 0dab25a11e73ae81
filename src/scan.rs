//! Scan: read the site from disk: its pages (text) and the files they may point at.
//!
//! This is the I/O edge of the front half of the pipeline. It reads, never writes, and never
//! follows a symbolic link out of the site root. What it cannot read becomes a diagnostic;
//! only an unreadable site root is fatal.

use crate::config::Config;
use crate::position::LineIndex;
use crate::report::Diagnostic;
use crate::resolve::{is_page_file, AssetIndex, Entry};
use crate::site_path;
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
#[derive(Debug, Clone)]
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
        MountFilters {
            dirs: config
                .content
                .iter()
                .map(|c| {
                    (
                        c.dir.clone(),
                        crate::config::mount_globs(&c.include),
                        crate::config::mount_globs(&c.exclude),
                    )
                })
                .collect(),
        }
    }

    /// Whether the site-relative file `rel` is seen through a content mount: one that holds
    /// it takes it. (A folder that one mount leaves out may be mounted again by another.)
    fn allows(&self, rel: &str) -> bool {
        let mut held = false;
        for (dir, inc, exc) in &self.dirs {
            let Some(r) = rel.strip_prefix(&format!("{dir}/")) else {
                continue;
            };
            held = true;
            if inc.as_ref().is_none_or(|s| s.is_match(r))
                && !exc.as_ref().is_some_and(|s| s.is_match(r))
            {
                return true;
            }
        }
        !held
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
    let mut dirs: Vec<&String> = config.site_dirs().collect();
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

/// `before` (what `scan` read), brought up to date after a change to the files at
/// `changed` (absolute, as a watcher names them) and nothing else: each file among them
/// looked at again (added, replaced or removed), each page among them read again. `None`
/// when that is not enough and the site must be scanned anew: a folder or a link among them,
/// a path in two site folders or in one that could not be read, a page that cannot be read.
pub fn rescan(mut before: Site, changed: &[PathBuf], config: &Config) -> Option<Site> {
    // A link's entry depends on its target, which the watcher does not name: a site with
    // links is scanned anew.
    let plain = |e: &Entry| matches!(e, Entry::File { .. });
    if !before.unreadable.is_empty() || !before.assets.entries.values().all(plain) {
        return None;
    }
    let root = std::path::absolute(&before.root).ok()?;
    let mut dirs: Vec<&String> = config.site_dirs().collect();
    dirs.sort();
    dirs.dedup();
    let filters = MountFilters::new(config);
    let mut pages_changed = false;
    for path in changed {
        // Its site-relative name, through the one site folder it is in.
        let mut found = dirs.iter().filter_map(|d| {
            let base = root.join(d);
            path.starts_with(&base)
                .then(|| Some((site_rel(&root, d, &base, path)?, *d)))
                .flatten()
        });
        let (rel, dir) = found.next()?;
        if found.next().is_some() {
            return None;
        }
        let page = before.pages.binary_search_by(|p| p.path.as_str().cmp(&rel));
        let is_page = is_page_file(&rel)
            && config.content.iter().any(|c| c.dir == *dir)
            && config.content_dir_of(&rel).is_some();
        let known = match before.assets.entries.get(&rel) {
            Some(Entry::File { .. }) => true,
            Some(_) => return None,
            None => false,
        };
        match std::fs::symlink_metadata(path) {
            // A page the scan could not read, gone: its diagnostic is the scan's to drop.
            Err(_) if known && is_page && page.is_err() => return None,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if known {
                    before.assets.entries.remove(&rel);
                } else if holds_files(&before, &format!("{rel}/")) {
                    // A folder gone (moved away) with its files.
                    return None;
                }
                if let Ok(i) = page {
                    before.pages.remove(i);
                    pages_changed = true;
                }
            }
            // A new file must be in a folder the scan walked (one it found a file in, so not
            // behind a link) and seen through its mount.
            Ok(meta)
                if meta.is_file()
                    && (known
                        || (holds_files(&before, site_path::parent_prefix(&rel))
                            && filters.allows(&rel))) =>
            {
                before
                    .assets
                    .entries
                    .insert(rel.clone(), Entry::File { bytes: meta.len() });
                if is_page {
                    let read = page_from_bytes(&rel, std::fs::read(path).ok()?).ok()?;
                    match page {
                        Ok(i) => before.pages[i] = read,
                        Err(i) if !known => before.pages.insert(i, read),
                        // A page the scan could not read: its diagnostic is the scan's.
                        Err(_) => return None,
                    }
                    pages_changed = true;
                }
            }
            _ => return None,
        }
    }
    if pages_changed {
        index_page_urls(config, &mut before);
    }
    Some(before)
}

/// Whether the scan found a file whose site path starts with `prefix` (a folder's, with its
/// `/`; `` for the root).
fn holds_files(site: &Site, prefix: &str) -> bool {
    site.assets
        .entries
        .range::<str, _>((
            std::ops::Bound::Included(prefix),
            std::ops::Bound::Unbounded,
        ))
        .next()
        .is_some_and(|(k, _)| k.starts_with(prefix))
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
        // A folder, or a single file mounted on its own.
        if !base.is_dir() && !base.is_file() {
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

/// Index the pages whose URL is not their content path (permalinks, slug, url front
/// matter): each page's URL, which its relative links are resolved against, and each such
/// bundle's folder, so that a link to a file at that URL finds it.
fn index_page_urls(config: &Config, site: &mut Site) {
    site.assets.page_urls.clear();
    site.assets.url_of_page.clear();
    for page in &site.pages {
        let Some(info) = crate::resolve::PageInfo::new(&page.path, config) else {
            continue;
        };
        let section = info.dir.split('/').next().unwrap_or("");
        let patterned = config.permalinks.iter().any(|(_, s, _)| s == section);
        let fm = crate::extract::frontmatter::detect(&page.text)
            .ok()
            .flatten();
        // Parse the front matter only when something in it could move the page.
        let moves = |fm: &crate::extract::frontmatter::FrontMatter| {
            let inner = page.text[fm.inner.start..fm.inner.end].to_ascii_lowercase();
            patterned || inner.contains("slug") || inner.contains("url")
        };
        let parts = match &fm {
            Some(fm) if moves(fm) => crate::extract::fmvalues::url_parts(&page.text, fm),
            None if patterned => Default::default(),
            _ => continue,
        };
        // A folder of the content tree is a section when it holds an `_index` page (in any
        // language), in this page's content folder.
        let is_section = |tree_dir: &str| {
            let below = if info.content.mount.is_empty() {
                Some(tree_dir)
            } else {
                tree_dir
                    .strip_prefix(info.content.mount.as_str())
                    .map(|r| r.trim_start_matches('/'))
            };
            below.is_some_and(|b| {
                let dir = match info.content.dir.as_str() {
                    "." => b.to_string(),
                    d => crate::site_path::join(d, b),
                };
                let found = site
                    .assets
                    .files_in(&dir)
                    .any(|f| crate::site_path::file_name(f).starts_with("_index."));
                found
            })
        };
        if let Some(url) = crate::permalink::page_url(&info, &parts, config, &is_section) {
            if info.is_bundle {
                let dir = crate::site_path::parent(&page.path).to_string();
                site.assets.page_urls.insert(url.clone(), dir);
            }
            site.assets.url_of_page.insert(page.path.clone(), url);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) -> PathBuf {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        std::path::absolute(p).unwrap()
    }

    /// What a scan says, to compare two.
    fn shown(s: &Site) -> String {
        let pages: Vec<(&str, &str, bool)> = s
            .pages
            .iter()
            .map(|p| (p.path.as_str(), p.text.as_str(), p.bom))
            .collect();
        format!(
            "{pages:?}\n{:?}\n{:?}\n{:?}",
            s.assets.entries, s.assets.page_urls, s.diagnostics
        )
    }

    #[test]
    fn a_rescan_after_edits_equals_a_scan_and_gives_way_to_one_for_new_or_gone_files() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        let config = Config::default();
        let page = write(
            root,
            "content/a/index.md",
            "---\ntitle: A\n---\n![x](x.jpg)\n",
        );
        let photo = write(root, "content/a/x.jpg", "1234");
        write(root, "content/b/index.md", "---\ntitle: B\n---\n");
        let before = scan(root, &config).unwrap();

        // A page edited (its URL now set by front matter) and an image replaced in place.
        std::fs::write(&page, "---\ntitle: A\nurl: /elsewhere/\n---\n![y](x.jpg)\n").unwrap();
        std::fs::write(&photo, "123456").unwrap();
        let again =
            rescan(before.clone(), &[page.clone(), photo.clone()], &config).expect("edits only");
        let fresh = scan(root, &config).unwrap();
        assert_eq!(shown(&again), shown(&fresh));
        assert_eq!(again.assets.page_urls["elsewhere"], "content/a");
        assert_eq!(
            again.assets.entries["content/a/x.jpg"],
            Entry::File { bytes: 6 }
        );

        // Files added and removed in folders the scan walked: a new photo and a new page,
        // a page and a photo gone.
        let new_photo = write(root, "content/a/y.jpg", "1");
        let new_page = write(
            root,
            "content/a/more.md",
            "---\ntitle: M\n---\n![y](y.jpg)\n",
        );
        let gone = std::path::absolute(root.join("content/b/index.md")).unwrap();
        std::fs::remove_file(&gone).unwrap();
        std::fs::remove_file(&photo).unwrap();
        let changed = [new_photo, new_page, gone, photo.clone()];
        let again = rescan(fresh, &changed, &config).expect("files added and removed");
        let fresh = scan(root, &config).unwrap();
        assert_eq!(shown(&again), shown(&fresh));
        assert_eq!(again.pages.len(), 2);

        // A folder, a file in a folder the scan never saw, a folder moved away with its
        // files: only a scan can tell.
        let folder = std::path::absolute(root.join("content/c")).unwrap();
        std::fs::create_dir(&folder).unwrap();
        assert!(rescan(fresh.clone(), std::slice::from_ref(&folder), &config).is_none());
        let inside = write(root, "content/c/z.jpg", "1");
        assert!(rescan(fresh.clone(), &[inside], &config).is_none());
        let moved = std::path::absolute(root.join("content/a")).unwrap();
        std::fs::rename(&moved, root.join("elsewhere")).unwrap();
        assert!(rescan(fresh.clone(), &[moved], &config).is_none());
        std::fs::rename(root.join("elsewhere"), root.join("content/a")).unwrap();
        // A page that is not UTF-8 now: the scan's diagnostic; and when it goes, the scan's
        // to drop.
        std::fs::write(&page, b"\xff\xfe").unwrap();
        assert!(rescan(fresh.clone(), std::slice::from_ref(&page), &config).is_none());
        let unreadable = scan(root, &config).unwrap();
        std::fs::remove_file(&page).unwrap();
        assert!(rescan(unreadable, std::slice::from_ref(&page), &config).is_none());
        // A site with a link: its target may change unnamed.
        std::os::unix::fs::symlink("x.jpg", root.join("content/a/link.jpg")).unwrap();
        let linked = scan(root, &config).unwrap();
        assert!(rescan(linked, &[], &config).is_none());
    }
}
