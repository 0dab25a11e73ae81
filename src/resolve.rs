//! Resolve: an image source as written → the site file it is served from.
//!
//! Pure: resolve never touches the filesystem; `scan` builds the `AssetIndex` it looks in.
//! The rules follow Hugo (page resources, global resources in `assets/`, files published at a
//! URL from `static/` or a content folder) and the per-syntax lookup order in `Config`.

use crate::config::{Config, ContentDir, LinkRule, Lookup};
use crate::site_path;
use percent_encoding::percent_decode_str;
use std::collections::BTreeMap;

/// What a path in the site is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A regular file of this many bytes.
    File {
        /// Size in bytes.
        bytes: u64,
    },
    /// A symbolic link to a regular file inside the site root.
    LinkInside {
        /// Size of the target in bytes.
        bytes: u64,
    },
    /// A symbolic link whose target leaves the site root: never read.
    LinkOutside,
    /// A symbolic link that leads to no file: its target is missing or a folder, or links
    /// loop.
    LinkBroken,
    /// A symbolic link inside a content folder: Hugo ignores it, so it is never published.
    LinkInContent,
}

/// The files present under the site's content, static and assets folders.
#[derive(Debug, Default, Clone)]
pub struct AssetIndex {
    /// Site-relative `/`-separated path → entry.
    pub entries: BTreeMap<String, Entry>,
    /// The URL folder of each page bundle (no slashes around) → its folder on disk, for URLs
    /// that a permalink, `slug` or `url` made different from the content path.
    pub page_urls: BTreeMap<String, String>,
    /// Site-relative page file → its URL folder (language prefix included, no slashes
    /// around), for every page whose URL a permalink, `slug` or `url` made different from its
    /// content path: what its relative links are resolved against.
    pub url_of_page: BTreeMap<String, String>,
}

impl AssetIndex {
    /// Whether `path` is a readable image file candidate (a file, or a link to one inside the root).
    pub fn is_file(&self, path: &str) -> bool {
        matches!(
            self.entries.get(path),
            Some(Entry::File { .. } | Entry::LinkInside { .. })
        )
    }
    /// The entry at `path`.
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(path)
    }

    /// Whether `dir` holds a page bundle (`index.md` or `_index.md`).
    pub fn is_bundle_dir(&self, dir: &str) -> bool {
        ["index.md", "_index.md", "index.markdown", "_index.markdown"]
            .iter()
            .any(|f| self.entries.contains_key(&join(dir, f)))
    }

    /// Whether `path` (below the bundle folder `dir`) lies inside a nested bundle.
    pub fn in_nested_bundle(&self, dir: &str, path: &str) -> bool {
        let mut at = path;
        while let Some(i) = at.rfind('/') {
            at = &at[..i];
            if at.len() <= dir.len() {
                return false;
            }
            if self.is_bundle_dir(at) {
                return true;
            }
        }
        false
    }

    /// The resources of the bundle in folder `dir`, as Hugo gives them to `.Resources`: the
    /// files in it and below, but not pages, and not inside a nested bundle.
    pub fn resources_of(&self, dir: &str) -> Vec<&str> {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        self.entries
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.as_str())
            .filter(|k| !is_page_file(k) && !self.in_nested_bundle(dir, k))
            .collect()
    }

    /// A page resource as `.Resources.Get` finds it: `rel` inside the bundle at `dir`,
    /// whatever its case.
    pub fn resource(&self, dir: &str, rel: &str) -> Option<String> {
        let exact = join(dir, rel);
        if self.entries.contains_key(&exact) {
            return (!self.in_nested_bundle(dir, &exact)).then_some(exact);
        }
        let want = exact.to_lowercase();
        self.resources_of(dir)
            .into_iter()
            .find(|k| k.to_lowercase() == want)
            .map(str::to_string)
    }

    /// The page resources of the bundle at `dir` that match `glob` (case-insensitive, `**`
    /// crossing folders), sorted.
    pub fn resources_matching(&self, dir: &str, glob: &str) -> Vec<String> {
        let Ok(g) = globset::GlobBuilder::new(glob)
            .case_insensitive(true)
            .literal_separator(true)
            .build()
        else {
            return Vec::new();
        };
        let m = g.compile_matcher();
        let n = if dir.is_empty() { 0 } else { dir.len() + 1 };
        self.resources_of(dir)
            .into_iter()
            .filter(|k| m.is_match(&k[n..]))
            .map(str::to_string)
            .collect()
    }
    /// Files directly inside folder `dir` (site-relative, no trailing slash).
    pub fn files_in<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let prefix = if dir.is_empty() || dir == "." {
            String::new()
        } else {
            format!("{dir}/")
        };
        let p2 = prefix.clone();
        let n = prefix.len();
        self.entries
            .range(prefix.clone()..)
            .take_while(move |(k, _)| k.starts_with(&p2))
            .filter(move |(k, _)| !k[n..].contains('/'))
            .map(|(k, _)| k.as_str())
    }
}

/// Whether `name` is a Markdown page file.
pub fn is_page_file(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".md") || lower.ends_with(".markdown") || lower.ends_with(".mdown")
}

/// Where a page sits, as resolution needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageInfo {
    /// Its site-relative file.
    pub path: String,
    /// The content folder it is in.
    pub content: ContentDir,
    /// Its folder in the content tree (Hugo's `.Page.Dir`: mount included), `/`-separated, no
    /// slashes around; empty at the root.
    pub dir: String,
    /// Its folder relative to its content folder on disk (mount not included).
    pub source_dir: String,
    /// The folder (relative to its content folder) whose files are its resources: a bundle's
    /// own folder, or a leaf page `x.md`'s sibling folder `x/`.
    pub resource_dir: String,
    /// Whether it is a page bundle (`index.md` or `_index.md`).
    pub is_bundle: bool,
    /// Whether it is a branch bundle (`_index.md`: a section's page).
    pub is_branch: bool,
    /// The content-relative folder of its URL: the bundle folder, or a leaf page's path
    /// without extension.
    pub url_dir: String,
}

impl PageInfo {
    /// Describe the page at site-relative `path`, or `None` when it is in no content folder.
    pub fn new(path: &str, config: &Config) -> Option<PageInfo> {
        let cd = config.content_dir_of(path)?;
        let rel = if cd.dir == "." {
            path
        } else {
            &path[cd.dir.len() + 1..]
        };
        let (dir, file) = (site_path::parent(rel), site_path::file_name(rel));
        let stem = file.rsplit_once('.').map(|(s, _)| s).unwrap_or(file);
        // Translation by file name: `index.fr.md` is the French page of the bundle (and
        // `release-1.2.md` is the page `release-1.2`).
        let stem = match config.language_in_name(file) {
            Some(lang) => &stem[..stem.len() - lang.len() - 1],
            None => stem,
        };
        let is_bundle = stem == "index" || stem == "_index";
        let source_dir = dir.to_string();
        let dir = &join(&cd.mount, dir);
        let url_dir = if is_bundle {
            dir.to_string()
        } else if dir.is_empty() {
            stem.to_string()
        } else {
            format!("{dir}/{stem}")
        };
        Some(PageInfo {
            path: path.to_string(),
            content: cd.clone(),
            dir: dir.to_string(),
            resource_dir: if is_bundle {
                source_dir.clone()
            } else {
                join(&source_dir, stem)
            },
            source_dir,
            is_bundle,
            is_branch: stem == "_index",
            url_dir,
        })
    }
}

/// Resolve a glob over the page's resources (`.Resources.Match`): every matching file of the
/// page's bundle, or of the default language's when the page's own has none.
pub fn resolve_glob(
    glob: &str,
    page: &PageInfo,
    config: &Config,
    index: &AssetIndex,
) -> Vec<String> {
    let own = join(&page.content.dir, &page.resource_dir);
    let found = index.resources_matching(&own, glob);
    if !found.is_empty() {
        return found;
    }
    for c in config
        .content
        .iter()
        .filter(|c| c.lang == config.default_language && c.dir != page.content.dir)
    {
        let found = index.resources_matching(&join(&c.dir, &page.resource_dir), glob);
        if !found.is_empty() {
            return found;
        }
    }
    Vec::new()
}

/// The outcome of resolving one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// `https:`, `data:`, `//host`…: not ours to check.
    Remote,
    /// A template expression (`{{ … }}`): only known when the site is built.
    Template,
    /// Nothing but a query or fragment, or nothing at all.
    Empty,
    /// The path leaves the site root.
    OutsideRoot,
    /// The file.
    Found {
        /// Site-relative path.
        path: String,
        /// Through which lookup.
        via: Lookup,
    },
    /// No file: `primary` is where the site would serve it from.
    Missing {
        /// The most likely intended location.
        primary: String,
        /// A candidate that is a symbolic link leaving the site root.
        link_outside: Option<String>,
        /// A candidate that is a symbolic link in a content folder, which Hugo ignores.
        link_ignored: Option<String>,
        /// The file at the URL's content path, which Hugo publishes only under another
        /// language's URL (file, that URL).
        elsewhere: Option<(String, String)>,
    },
}

impl Resolution {
    /// The site-relative file, found or expected (`resolved` in `scan`'s output).
    pub fn resolved(&self) -> Option<&str> {
        match self {
            Resolution::Found { path, .. } => Some(path),
            Resolution::Missing { primary, .. } => Some(primary),
            _ => None,
        }
    }
    /// Whether the file exists; `None` for remote sources.
    pub fn exists(&self) -> Option<bool> {
        match self {
            Resolution::Remote => None,
            Resolution::Found { .. } => Some(true),
            _ => Some(false),
        }
    }
}

/// Whether `src` points off the site: any `scheme:` or `//host`.
pub fn is_remote(src: &str) -> bool {
    if src.starts_with("//") {
        return true;
    }
    let Some(colon) = src.find(':') else {
        return false;
    };
    let scheme = &src[..colon];
    let mut chars = scheme.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Normalise `.` and `..` in a `/`-separated path; `None` when `..` climbs above its start.
pub fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty() || a == ".", b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}/{b}"),
    }
}

/// The source with query and fragment dropped and percent-decoding applied.
pub fn clean_src(src: &str) -> String {
    let s = src.trim();
    let s = s.split_once('#').map(|(a, _)| a).unwrap_or(s);
    let s = s.split_once('?').map(|(a, _)| a).unwrap_or(s);
    match percent_decode_str(s).decode_utf8() {
        Ok(d) => d.into_owned(),
        Err(_) => s.to_string(),
    }
}

/// Resolve `src`, written with link rule `link` and lookup order `lookup`, in `page`.
pub fn resolve(
    src: &str,
    link: LinkRule,
    lookup: &[Lookup],
    page: &PageInfo,
    config: &Config,
    index: &AssetIndex,
) -> Resolution {
    let raw = src.trim();
    if raw.contains("{{") {
        return Resolution::Template;
    }
    if is_remote(raw) {
        return Resolution::Remote;
    }
    let mut p = clean_src(raw);
    if p.is_empty() {
        return Resolution::Empty;
    }
    // A site served below a path (baseURL https://x.io/docs/) links to /docs/x.png.
    if !config.base_path.is_empty() {
        if let Some(rest) = p.strip_prefix(&format!("{}/", config.base_path)) {
            p = format!("/{rest}");
        }
    }
    let mut candidates = Candidates {
        paths: Vec::new(),
        escaped: false,
        elsewhere: None,
    };
    for l in lookup {
        match l {
            Lookup::Page => candidates.add_page_resources(&p, page, config, index),
            Lookup::Assets => candidates.add_global_resources(&p, config),
            Lookup::Url => candidates.add_published(&p, link, page, config, index),
        }
    }
    candidates.pick(&p, lookup, config, index)
}

/// The site files a source may be, in lookup order.
struct Candidates {
    /// (path, rank as the primary candidate: lower is more likely what the author meant; a
    /// missing file is reported at the best-ranked one. A page resource, then where the URL
    /// is published, then a global resource.)
    paths: Vec<(String, u8)>,
    /// Whether a lookup was skipped because the path climbs above its folder.
    escaped: bool,
    /// A file at the URL's content path that Hugo publishes under another language's URL
    /// (file, that URL).
    elsewhere: Option<(String, String)>,
}

impl Candidates {
    /// `p` as a resource of `page`: in the page's own bundle (a leaf page's sibling folder),
    /// then in the same folder of the default language, as translations share the bundle's
    /// files. An absolute path is never a page resource.
    fn add_page_resources(
        &mut self,
        p: &str,
        page: &PageInfo,
        config: &Config,
        index: &AssetIndex,
    ) {
        if p.starts_with('/') {
            return;
        }
        let rel = p.trim_start_matches("./");
        let Some(rel) = normalize(rel).filter(|r| !r.is_empty()) else {
            self.escaped |= normalize(rel).is_none();
            return;
        };
        let mut folders = vec![join(&page.content.dir, &page.resource_dir)];
        for c in config
            .content
            .iter()
            .filter(|c| c.lang == config.default_language && c.dir != page.content.dir)
        {
            folders.push(join(&c.dir, &page.resource_dir));
        }
        for (k, folder) in folders.iter().enumerate() {
            let rank = if k == 0 { 0 } else { 9 };
            let exact = join(folder, &rel);
            match index.resource(folder, &rel) {
                Some(found) => self.paths.push((found, rank)),
                // A file of a nested bundle is not this page's resource.
                None if !index.in_nested_bundle(folder, &exact) => self.paths.push((exact, rank)),
                None => {}
            }
        }
    }

    /// `p` as a global resource, in each assets folder.
    fn add_global_resources(&mut self, p: &str, config: &Config) {
        let rel = p.trim_start_matches('/').trim_start_matches("./");
        match normalize(rel) {
            Some(n) if !n.is_empty() => {
                for (i, a) in config.assets_dirs.iter().enumerate() {
                    self.paths.push((join(a, &n), if i == 0 { 2 } else { 9 }));
                }
                for m in &config.assets_mounts {
                    if let Some(f) = m.file_for(&n) {
                        self.paths.push((f, 9));
                    }
                }
            }
            Some(_) => {}
            None => self.escaped = true,
        }
    }

    /// The files published at the URL `p` links to (by link rule `link` when relative): in
    /// each static folder, at the content path, and in the bundle of a page whose URL is not
    /// its content path (permalinks, slug, url).
    fn add_published(
        &mut self,
        p: &str,
        link: LinkRule,
        page: &PageInfo,
        config: &Config,
        index: &AssetIndex,
    ) {
        let url = match link {
            _ if p.starts_with('/') => normalize(p),
            LinkRule::Hugo => {
                let base = match index.url_of_page.get(&page.path) {
                    Some(url) => url.clone(),
                    None => join(
                        page.content.url_prefix.trim_start_matches('/'),
                        &page.url_dir,
                    ),
                };
                normalize(&join(&base, p))
            }
            LinkRule::PageDir => {
                let rel = p.strip_prefix("../").unwrap_or(p);
                normalize(&join(&page.dir, rel))
            }
        };
        let Some(url) = url else {
            self.escaped = true;
            return;
        };
        if url.is_empty() {
            return;
        }
        for sd in &config.static_dirs {
            self.paths.push((join(sd, &url), 9));
        }
        for m in &config.static_mounts {
            if let Some(f) = m.file_for(&url) {
                self.paths.push((f, 9));
            }
        }
        let files = content_for_url(&url, config);
        for (k, c) in files.published.into_iter().enumerate() {
            self.paths.push((c, if k == 0 { 1 } else { 9 }));
        }
        for (file, at) in files.elsewhere {
            if index.is_file(&file) && self.elsewhere.is_none() {
                // A bundle a permalink, slug or url moved publishes its files at its URL (in
                // the language the file is published in).
                let folder = site_path::parent(&file);
                let lang = url_language(
                    at.strip_prefix(&config.base_path)
                        .unwrap_or(&at)
                        .trim_start_matches('/'),
                    config,
                );
                let moved = index
                    .page_urls
                    .iter()
                    .find(|(u, d)| d.as_str() == folder && url_language(u, config) == lang);
                let at = match moved {
                    Some((u, _)) => {
                        let name = site_path::file_name(&file);
                        format!("{}/{u}/{name}", config.base_path)
                    }
                    None => at,
                };
                self.elsewhere = Some((file, at));
            }
        }
        let mut at = url.len();
        while let Some(i) = url[..at].rfind('/') {
            if let Some(dir) = index.page_urls.get(&url[..i]) {
                self.add_moved(&url, i, dir, config, index);
                break;
            }
            at = i;
        }
    }

    /// The file at `url` in the bundle `dir` that a permalink, slug or url moved to
    /// `url[..i]`: a candidate when Hugo publishes it in that URL's language, else where it
    /// is published instead (the same bundle's URL in the file's language).
    fn add_moved(&mut self, url: &str, i: usize, dir: &str, config: &Config, index: &AssetIndex) {
        let rest = &url[i + 1..];
        let file = format!("{dir}/{rest}");
        let owner = config
            .content_dir_of(&file)
            .map(|cd| language_of(&file, cd, config));
        let wanted = url_language(url, config);
        match owner {
            Some(owner) if owner != wanted => {
                let home = index
                    .page_urls
                    .iter()
                    .find(|(u, d)| d.as_str() == dir && url_language(u, config) == owner);
                if let (Some((u, _)), true) = (home, index.is_file(&file)) {
                    let at = format!("{}/{u}/{rest}", config.base_path);
                    self.elsewhere.get_or_insert((file, at));
                }
            }
            _ => self.paths.push((file, 3)),
        }
    }

    /// The first candidate that is a file (or a link to one inside the root); else `p`
    /// (cleaned) missing at the best-ranked candidate, with every one tried and any that is
    /// a link pixpipe does not follow.
    fn pick(self, p: &str, lookup: &[Lookup], config: &Config, index: &AssetIndex) -> Resolution {
        if self.paths.is_empty() {
            return if self.escaped {
                Resolution::OutsideRoot
            } else {
                Resolution::Missing {
                    primary: p.trim_start_matches('/').to_string(),
                    link_outside: None,
                    link_ignored: None,
                    elsewhere: None,
                }
            };
        }
        let mut link_outside = None;
        let mut link_ignored = None;
        for (c, _) in &self.paths {
            match index.get(c) {
                Some(Entry::File { .. } | Entry::LinkInside { .. }) => {
                    let via = lookup_of(c, lookup, config);
                    return Resolution::Found {
                        path: c.clone(),
                        via,
                    };
                }
                Some(Entry::LinkOutside | Entry::LinkBroken) if link_outside.is_none() => {
                    link_outside = Some(c.clone())
                }
                Some(Entry::LinkInContent) if link_ignored.is_none() => {
                    link_ignored = Some(c.clone())
                }
                _ => {}
            }
        }
        let primary = self
            .paths
            .iter()
            .min_by_key(|(_, rank)| *rank)
            .map(|(c, _)| c.clone())
            .unwrap_or_default();
        Resolution::Missing {
            primary,
            link_outside,
            link_ignored,
            elsewhere: self.elsewhere,
        }
    }
}

fn lookup_of(path: &str, lookup: &[Lookup], config: &Config) -> Lookup {
    let under = |d: &String| d == "." || crate::site_path::is_within(path, d);
    let assets = config.assets_mounts.iter().map(|m| &m.source);
    let statics = config.static_mounts.iter().map(|m| &m.source);
    if config.assets_dirs.iter().chain(assets).any(under) && lookup.contains(&Lookup::Assets) {
        Lookup::Assets
    } else if config.static_dirs.iter().chain(statics).any(under) {
        Lookup::Url
    } else if lookup.contains(&Lookup::Page) {
        Lookup::Page
    } else {
        Lookup::Url
    }
}

/// The content files found for a URL: those published there, and those at the same path in
/// the content tree that Hugo publishes under another language's URL (file, that URL).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct UrlFiles {
    /// Published at the URL, most likely first.
    pub published: Vec<String>,
    /// At the URL's content path, but published elsewhere.
    pub elsewhere: Vec<(String, String)>,
}

/// The content files for `url` (no leading slash): in the content folders of the language
/// whose prefix the URL starts with (or of the languages without a prefix), those published
/// there; and the same path in the default language's folders, published at its URL.
pub fn content_for_url(url: &str, config: &Config) -> UrlFiles {
    let mut out = UrlFiles::default();
    let prefixed: Vec<&ContentDir> = config.content.iter().filter(|c| c.prefixes(url)).collect();
    let (dirs, rest): (Vec<&ContentDir>, String) = if let Some(first) = prefixed.first() {
        let pre = first.url_prefix.trim_start_matches('/');
        let rest = url[pre.len()..].trim_start_matches('/').to_string();
        (
            prefixed
                .iter()
                .filter(|c| c.url_prefix == first.url_prefix)
                .copied()
                .collect(),
            rest,
        )
    } else {
        (
            config
                .content
                .iter()
                .filter(|c| c.url_prefix.is_empty())
                .collect(),
            url.to_string(),
        )
    };
    // A folder mounted at `mount` serves the URLs below it, of the files it takes.
    let within = |d: &ContentDir| -> Option<String> {
        let inner = if d.mount.is_empty() {
            rest.as_str()
        } else if rest == d.mount {
            ""
        } else {
            rest.strip_prefix(&format!("{}/", d.mount))?
        };
        (inner.is_empty() || d.takes(inner)).then(|| inner.to_string())
    };
    for d in dirs.iter().copied().chain(
        config
            .content
            .iter()
            .filter(|c| c.lang == config.default_language),
    ) {
        let Some(inner) = within(d) else { continue };
        let file = join(&d.dir, &inner);
        let owner = language_of(&file, d, config);
        if owner == d.lang && dirs.contains(&d) {
            if !out.published.contains(&file) {
                out.published.push(file);
            }
        } else if let Some(home) = config
            .content
            .iter()
            .find(|c| c.dir == d.dir && c.lang == owner)
        {
            let at = join(
                &join(home.url_prefix.trim_start_matches('/'), &home.mount),
                &inner,
            );
            if !out.published.contains(&file) && !out.elsewhere.iter().any(|(f, _)| *f == file) {
                out.elsewhere
                    .push((file, format!("{}/{at}", config.base_path)));
            }
        }
    }
    out
}

/// The language whose pages are served at `url` (no leading slash): the one whose prefix
/// it starts with, else the default language.
fn url_language<'a>(url: &str, config: &'a Config) -> &'a str {
    config
        .content
        .iter()
        .find(|c| c.prefixes(url))
        .map_or(config.default_language.as_str(), |c| c.lang.as_str())
}

/// The language whose URLs Hugo publishes content file `file` (in folder `d`) under: the one
/// its name carries (`flag.fr.png`), else, in a folder several languages share, the default
/// language (or the first of them): a bundle's shared files are published once.
fn language_of(file: &str, d: &ContentDir, config: &Config) -> String {
    if let Some(lang) = config.language_in_name(file) {
        return lang.to_string();
    }
    let sharing: Vec<&ContentDir> = config.content.iter().filter(|c| c.dir == d.dir).collect();
    sharing
        .iter()
        .find(|c| c.lang == config.default_language)
        .or(sharing.first())
        .map_or_else(|| d.lang.clone(), |c| c.lang.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(files: &[&str]) -> AssetIndex {
        AssetIndex {
            entries: files
                .iter()
                .map(|f| (f.to_string(), Entry::File { bytes: 1 }))
                .collect(),
            page_urls: BTreeMap::new(),
            url_of_page: BTreeMap::new(),
        }
    }

    fn res(
        src: &str,
        page: &str,
        config: &Config,
        idx: &AssetIndex,
        link: LinkRule,
        lookup: &[Lookup],
    ) -> Resolution {
        let info = PageInfo::new(page, config).unwrap();
        resolve(src, link, lookup, &info, config, idx)
    }

    #[test]
    fn bundle_relative_and_static_absolute() {
        let c = Config::default();
        let idx = index(&["content/a/b/x.png", "static/img/y.png"]);
        let r = res(
            "./x.png",
            "content/a/b/index.md",
            &c,
            &idx,
            LinkRule::Hugo,
            &[Lookup::Url],
        );
        assert_eq!(r.resolved(), Some("content/a/b/x.png"));
        assert_eq!(r.exists(), Some(true));
        let r = res(
            "/img/y.png?v=1#top",
            "content/a/b/index.md",
            &c,
            &idx,
            LinkRule::Hugo,
            &[Lookup::Url],
        );
        assert_eq!(r.resolved(), Some("static/img/y.png"));
    }

    #[test]
    fn a_translated_index_file_is_still_the_bundle() {
        let mut c = Config::default();
        let fr = ContentDir {
            lang: "fr".into(),
            url_prefix: "/fr".into(),
            ..c.content[0].clone()
        };
        c.content.push(fr);
        let idx = index(&["content/a/x.png"]);
        let r = res(
            "x.png",
            "content/a/index.fr.md",
            &c,
            &idx,
            LinkRule::Hugo,
            &[Lookup::Page],
        );
        assert_eq!(r.exists(), Some(true));
    }

    #[test]
    fn leaf_page_resolves_against_its_url() {
        let c = Config::default();
        let idx = index(&["content/tests/image.png"]);
        let r = res(
            "image.png",
            "content/tests/markdown.md",
            &c,
            &idx,
            LinkRule::Hugo,
            &[Lookup::Url],
        );
        assert_eq!(r.resolved(), Some("content/tests/markdown/image.png"));
        assert_eq!(r.exists(), Some(false));
    }

    #[test]
    fn remote_template_and_escape() {
        let c = Config::default();
        let idx = index(&[]);
        for s in [
            "https://x/y.png",
            "data:image/png;base64,xx",
            "//cdn/x.png",
            "mailto:x",
        ] {
            assert_eq!(
                res(s, "content/a.md", &c, &idx, LinkRule::Hugo, &[Lookup::Url]),
                Resolution::Remote,
                "{s}"
            );
        }
        assert_eq!(
            res(
                "{{ .Params.x }}",
                "content/a.md",
                &c,
                &idx,
                LinkRule::Hugo,
                &[Lookup::Url]
            ),
            Resolution::Template
        );
        assert_eq!(
            res(
                "../../../../etc/passwd",
                "content/a/index.md",
                &c,
                &idx,
                LinkRule::Hugo,
                &[Lookup::Url]
            ),
            Resolution::OutsideRoot
        );
    }

    #[test]
    fn percent_decoding_and_case_sensitivity() {
        let c = Config::default();
        let idx = index(&["content/p/A b.jpg"]);
        let r = res(
            "A%20b.jpg",
            "content/p/index.md",
            &c,
            &idx,
            LinkRule::Hugo,
            &[Lookup::Url],
        );
        assert_eq!(r.exists(), Some(true));
        let r = res(
            "a%20b.jpg",
            "content/p/index.md",
            &c,
            &idx,
            LinkRule::Hugo,
            &[Lookup::Url],
        );
        assert_eq!(r.exists(), Some(false));
    }

    #[test]
    fn page_then_assets() {
        let c = Config::default();
        let idx = index(&["assets/images/z.jpg"]);
        let r = res(
            "images/z.jpg",
            "content/f/index.md",
            &c,
            &idx,
            LinkRule::Hugo,
            &[Lookup::Page, Lookup::Assets],
        );
        assert_eq!(
            r,
            Resolution::Found {
                path: "assets/images/z.jpg".into(),
                via: Lookup::Assets
            }
        );
    }

    #[test]
    fn page_dir_rule_drops_leading_dotdot_and_language_prefix() {
        let c = Config::from_yaml(
            "content:\n  - {dir: content/en, lang: en}\n  - {dir: content/zh, lang: zh, url_prefix: /zh}\n",
            "p",
        )
        .unwrap();
        let idx = index(&["content/en/blog/x/a.png"]);
        let r = res(
            "./a.png",
            "content/zh/blog/x/index.md",
            &c,
            &idx,
            LinkRule::PageDir,
            &[Lookup::Url],
        );
        assert_eq!(r.resolved(), Some("content/en/blog/x/a.png"));
        assert_eq!(r.exists(), Some(true));
        let r = res(
            "../b.png",
            "content/en/blog/x/index.md",
            &c,
            &idx,
            LinkRule::PageDir,
            &[Lookup::Url],
        );
        assert_eq!(r.resolved(), Some("content/en/blog/x/b.png"));
        let r = res(
            "/zh/docs/c.svg",
            "content/en/blog/x/index.md",
            &c,
            &idx,
            LinkRule::PageDir,
            &[Lookup::Url],
        );
        assert_eq!(r.resolved(), Some("content/zh/docs/c.svg"));
    }
}
