//! Themes and Hugo modules that are on disk: where they are, what they mount, and the
//! templates they define.
//!
//! A site's `theme` (in `themesDir`, default `themes/`) and `module.imports` (vendored in
//! `_vendor/`, in `themesDir`, or in Hugo's module cache) are found on disk, never downloaded,
//! with their own themes and imports in turn. From each, pixpipe takes its `static/` and
//! `assets/` folders (or what its `module.mounts` mount there), and its templates: the site's
//! `layouts/` first, then each component's, as Hugo looks them up. An image render hook
//! (`_markup/render-image.html`) replaces Hugo's embedded one, and a shortcode of a known
//! name (`figure`, `imgproc`…) replaces pixpipe's built-in rule's lookup: where each looks an
//! image up is read from its template (and the partials it calls): `.Resources.Get…` is a
//! page resource, `resources.Get…` a global one, and the source as written is its URL.
//!
//! `find` and `templates` read the disk; `apply` is pure.

use crate::config::{Config, Lookup, SubMount};
use crate::site_path;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How deep themes of themes are followed.
const MAX_DEPTH: usize = 5;

/// A theme or module found on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    /// How the site names it: `theme docsy`, `module github.com/google/docsy`.
    pub name: String,
    /// Its folder: site-relative (`themes/docsy`, `../hugo`), or absolute (Hugo's module
    /// cache), `/`-separated.
    pub dir: String,
    /// Its configuration, keys lower-cased (an empty object when it has none).
    pub doc: Value,
}

/// How a component's configuration is read: its folder and how to show it → its merged
/// configuration, if it has one, or why it cannot be read (`hugo_config::read_doc`).
pub type ReadConfig<'a> = &'a dyn Fn(&Path, &str) -> Result<Option<Value>, String>;

/// The themes and modules `doc` (a site's merged configuration) names, in the order Hugo
/// looks templates up in (imports, then themes, each followed by its own), with a note for
/// each one that is not on disk.
pub fn find(root: &Path, doc: &Value, read_config: ReadConfig) -> (Vec<Component>, Vec<String>) {
    let mut found = Vec::new();
    let mut notes = Vec::new();
    let themes_dir = doc
        .get("themesdir")
        .and_then(Value::as_str)
        .unwrap_or("themes")
        .trim_end_matches('/')
        .to_string();
    let versions = go_mod_versions(root);
    let cache = module_cache(root, doc);
    let mut ctx = Finder {
        root,
        read_config,
        themes_dir: &themes_dir,
        versions: &versions,
        cache: cache.as_deref(),
        found: &mut found,
        notes: &mut notes,
    };
    ctx.follow(doc, 0);
    (found, notes)
}

struct Finder<'a> {
    root: &'a Path,
    read_config: ReadConfig<'a>,
    themes_dir: &'a str,
    versions: &'a BTreeMap<String, String>,
    cache: Option<&'a Path>,
    found: &'a mut Vec<Component>,
    notes: &'a mut Vec<String>,
}

impl Finder<'_> {
    /// Find the components `doc` names, then theirs.
    fn follow(&mut self, doc: &Value, depth: usize) {
        if depth >= MAX_DEPTH {
            return;
        }
        let imports = doc
            .pointer("/module/imports")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|i| i.get("path").and_then(Value::as_str))
                    .map(|p| (format!("module {p}"), self.module_dir(p)))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let themes = match doc.get("theme") {
            Some(Value::String(t)) => vec![t.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        // A theme is a module too: `theme = "github.com/x/y"` is looked up as one.
        let themes: Vec<_> = themes
            .into_iter()
            .map(|t| (format!("theme {t}"), self.module_dir(&t)))
            .collect();
        for (name, dir) in imports.into_iter().chain(themes) {
            let dir = match dir {
                Ok(d) => d,
                Err(looked) => {
                    self.notes.push(format!(
                        "{name} is not on disk (looked in {looked}): pixpipe downloads nothing, so the shortcodes, render hooks and mounts it defines are not known"
                    ));
                    continue;
                }
            };
            if self.found.iter().any(|c| c.dir == dir) {
                continue;
            }
            let doc = match (self.read_config)(&self.root.join(&dir), &dir) {
                Ok(doc) => doc,
                Err(e) => {
                    self.notes.push(format!(
                        "{name}: its configuration is not read ({e}); its own folders and templates are"
                    ));
                    None
                }
            }
            .unwrap_or_else(|| Value::Object(Default::default()));
            self.found.push(Component {
                name,
                dir,
                doc: doc.clone(),
            });
            self.follow(&doc, depth + 1);
        }
    }

    /// Where module `path` is on disk: `_vendor/PATH`, `THEMES/PATH`, or Hugo's module cache
    /// (at the version go.mod requires, else the newest there); `Err` with where it looked.
    fn module_dir(&self, path: &str) -> Result<String, String> {
        let path = path.trim_matches('/');
        for dir in [
            site_path::join("_vendor", path),
            site_path::join(self.themes_dir, path),
        ] {
            if self.root.join(&dir).is_dir() {
                return Ok(dir);
            }
        }
        let looked = format!(
            "_vendor/{path}, {}/{path} and Hugo's module cache",
            self.themes_dir
        );
        let Some(cache) = self.cache else {
            return Err(looked);
        };
        let escaped = escape_module_path(path);
        let pkg = cache.join("modules/filecache/modules/pkg/mod");
        let wanted = self
            .versions
            .get(path)
            .map(|v| pkg.join(format!("{escaped}@{v}")));
        let dir = match wanted {
            Some(d) => d.is_dir().then_some(d),
            None => newest_version(&pkg, &escaped),
        };
        dir.and_then(|d| d.to_str().map(str::to_string))
            .ok_or(looked)
    }
}

/// Go's escaping of a module path in its cache: an upper-case letter is `!` and the letter.
fn escape_module_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c.is_ascii_uppercase() {
            out.push('!');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The folder of the newest version of module `escaped` in the cache folder `pkg` (by the
/// version's numbers).
fn newest_version(pkg: &Path, escaped: &str) -> Option<PathBuf> {
    let (parent, base) = match escaped.rsplit_once('/') {
        Some((p, b)) => (pkg.join(p), b.to_string()),
        None => (pkg.to_path_buf(), escaped.to_string()),
    };
    let prefix = format!("{base}@");
    std::fs::read_dir(&parent)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let v = name.strip_prefix(&prefix)?.to_string();
            e.path().is_dir().then(|| (version_key(&v), e.path()))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, p)| p)
}

/// A version (`v0.12.3`, `v1.2.0-rc.1`) to compare: its numbers, then a release before its
/// pre-releases, then the text itself (so that the choice never depends on the folder's
/// order).
fn version_key(v: &str) -> (Vec<u64>, bool, String) {
    let v = v.trim_start_matches('v');
    let (main, pre) = v
        .split_once(['-', '+'])
        .map_or((v, None), |(m, p)| (m, Some(p)));
    let numbers = main.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    (numbers, pre.is_none(), v.to_string())
}

/// The versions a site's `go.mod` requires, by module path.
fn go_mod_versions(root: &Path) -> BTreeMap<String, String> {
    let Ok(text) = std::fs::read_to_string(root.join("go.mod")) else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    let mut in_block = false;
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or("").trim();
        let req = if in_block {
            if line == ")" {
                in_block = false;
                continue;
            }
            line
        } else if line == "require (" {
            in_block = true;
            continue;
        } else if let Some(r) = line.strip_prefix("require ") {
            r
        } else {
            continue;
        };
        let mut parts = req.split_whitespace();
        if let (Some(p), Some(v)) = (parts.next(), parts.next()) {
            out.insert(p.to_string(), v.to_string());
        }
    }
    out
}

/// Hugo's cache folder: `cacheDir` (relative to the site), else `$HUGO_CACHEDIR`, else the
/// user's cache folder's `hugo_cache`.
fn module_cache(root: &Path, doc: &Value) -> Option<PathBuf> {
    if let Some(d) = doc.get("cachedir").and_then(Value::as_str) {
        return Some(root.join(d));
    }
    if let Some(d) = std::env::var_os("HUGO_CACHEDIR") {
        return Some(PathBuf::from(d));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("hugo_cache"))
}

/// The templates pixpipe learns from: per layouts folder (the site's, then each
/// component's), the image render hook, the shortcodes and the partials, each as
/// (site-relative path, text).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Templates {
    /// `_markup/render-image.html` (or `_default/_markup/…`), the first found.
    pub render_image: Option<(String, String)>,
    /// Shortcode name → its template, the first found for each name.
    pub shortcodes: BTreeMap<String, (String, String)>,
    /// Partial name (`pixpipe/picture.html`) → its template, the first found for each.
    pub partials: BTreeMap<String, (String, String)>,
}

/// Read the templates of the site's `layouts/` and of each component's.
pub fn templates(root: &Path, components: &[Component]) -> Templates {
    let mut t = Templates::default();
    let layouts = std::iter::once("layouts".to_string()).chain(
        components
            .iter()
            .map(|c| site_path::join(&c.dir, "layouts")),
    );
    for l in layouts {
        let base = root.join(&l);
        if !base.is_dir() {
            continue;
        }
        for hook in [
            "_markup/render-image.html",
            "_default/_markup/render-image.html",
        ] {
            if t.render_image.is_none() {
                t.render_image = read(&base, &l, hook);
            }
        }
        for dir in ["_shortcodes", "shortcodes", "_partials", "partials"] {
            let shortcode = dir.contains("shortcodes");
            for (name, rel) in html_files(&base.join(dir)) {
                let into = if shortcode {
                    &mut t.shortcodes
                } else {
                    &mut t.partials
                };
                let key = if shortcode {
                    name.trim_end_matches(".html").to_string()
                } else {
                    name
                };
                if let std::collections::btree_map::Entry::Vacant(e) = into.entry(key) {
                    if let Some(found) = read(&base, &l, &format!("{dir}/{rel}")) {
                        e.insert(found);
                    }
                }
            }
        }
    }
    t
}

/// The template `rel` of the layouts folder `base` (named `shown`), if it is there.
fn read(base: &Path, shown: &str, rel: &str) -> Option<(String, String)> {
    let text = std::fs::read_to_string(base.join(rel)).ok()?;
    Some((format!("{shown}/{rel}"), text))
}

/// The `.html` files below `dir`: (name relative to it, the same path).
fn html_files(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .max_depth(4)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            let rel = e
                .path()
                .strip_prefix(dir)
                .ok()?
                .to_str()?
                .replace('\\', "/");
            rel.ends_with(".html").then(|| (rel.clone(), rel))
        })
        .collect();
    out.sort();
    out
}

/// Where a template (and the partials it calls, a few levels deep) looks an image up: page
/// resources where it calls `.Resources.Get…`, global resources where it calls
/// `resources.Get…`, and always the source as written, its URL, last.
pub fn lookups(text: &str, partials: &BTreeMap<String, (String, String)>) -> Vec<Lookup> {
    let mut texts = vec![text.to_string()];
    let mut seen: Vec<String> = Vec::new();
    let mut i = 0;
    while i < texts.len() && i < 16 {
        for name in called_partials(&texts[i]) {
            if seen.contains(&name) {
                continue;
            }
            let key = if name.ends_with(".html") {
                name.clone()
            } else {
                format!("{name}.html")
            };
            if let Some((_, t)) = partials.get(&key) {
                texts.push(t.clone());
            }
            seen.push(name);
        }
        i += 1;
    }
    let all = texts.join("\n");
    let mut out = Vec::new();
    if all.contains(".Resources.Get") || all.contains(".Resources.Match") {
        out.push(Lookup::Page);
    }
    let global = all
        .match_indices("resources.Get")
        .chain(all.match_indices("resources.Match"))
        .any(|(at, m)| !all[..at].ends_with('.') && !all[at + m.len()..].starts_with("Remote"));
    if global {
        out.push(Lookup::Assets);
    }
    out.push(Lookup::Url);
    out
}

/// The partials a template calls by a literal name: `partial "x.html"`, `partialCached "x"`.
fn called_partials(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (at, m) in text.match_indices("partial") {
        let rest = &text[at + m.len()..];
        let rest = rest.strip_prefix("Cached").unwrap_or(rest);
        let rest = rest.trim_start();
        if let Some(q) = rest.strip_prefix('"') {
            if let Some(end) = q.find('"') {
                out.push(q[..end].to_string());
            }
        }
    }
    out
}

/// Apply what the components and templates say to `c`: each component's static and assets
/// folders after the site's, the image render hook's lookup for Markdown images, and each
/// known shortcode's lookup from its template; each recorded in `c.explain`.
pub fn apply(
    c: &mut Config,
    components: &[Component],
    t: &Templates,
    exists: &dyn Fn(&str) -> bool,
) {
    for comp in components {
        c.read_only.push(comp.dir.clone());
        let f = component_folders(comp);
        let mut took = Vec::new();
        for (kind, dirs, into) in [
            ("static", f.statics, &mut c.static_dirs),
            ("assets", f.assets, &mut c.assets_dirs),
        ] {
            for d in dirs {
                if exists(&d) && !into.contains(&d) {
                    took.push(format!("{kind} {d}"));
                    into.push(d);
                }
            }
        }
        for (kind, mounts, into) in [
            ("static", f.static_mounts, &mut c.static_mounts),
            ("assets", f.assets_mounts, &mut c.assets_mounts),
        ] {
            for m in mounts {
                if exists(&m.source) && !into.contains(&m) {
                    took.push(format!("{} at {kind}/{}", m.source, m.at));
                    into.push(m);
                }
            }
        }
        if !f.content.is_empty() {
            c.notes.push(format!(
                "{} mounts content ({}): its pages are not scanned",
                comp.name,
                f.content.join(", ")
            ));
        }
        let what = if took.is_empty() {
            "templates only".to_string()
        } else {
            took.join(", ")
        };
        c.explain
            .push((comp.name.clone(), format!("{} ({what})", comp.dir)));
    }
    if let Some((path, text)) = &t.render_image {
        c.markdown_lookup = lookups(text, &t.partials);
        c.explain.push((
            "Markdown images".into(),
            format!("{} (render hook {path})", lookup_names(&c.markdown_lookup)),
        ));
    }
    let names: Vec<String> = c.shortcodes.keys().cloned().collect();
    for name in names {
        let Some((path, text)) = t.shortcodes.get(&name) else {
            continue;
        };
        let l = lookups(text, &t.partials);
        if let Some(rule) = c.shortcodes.get_mut(&name) {
            if rule.glob.is_none() && rule.set.is_none() {
                rule.lookup = l.clone();
            }
        }
        c.explain.push((
            format!("shortcode {name}"),
            format!("{} ({path})", lookup_names(&l)),
        ));
    }
}

/// `page -> assets -> url`.
fn lookup_names(l: &[Lookup]) -> String {
    l.iter()
        .map(|x| match x {
            Lookup::Page => "page",
            Lookup::Assets => "assets",
            Lookup::Url => "url",
        })
        .collect::<Vec<_>>()
        .join(" -> ")
}

/// What a component mounts for the site: static and assets folders (what its
/// `module.mounts` mount at the root of each, else its `static/` and `assets/`), what they
/// mount below those roots, and whether it mounts content.
#[derive(Default)]
struct Folders {
    statics: Vec<String>,
    assets: Vec<String>,
    static_mounts: Vec<SubMount>,
    assets_mounts: Vec<SubMount>,
    content: Vec<String>,
}

fn component_folders(comp: &Component) -> Folders {
    let mounts = comp
        .doc
        .pointer("/module/mounts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut f = Folders::default();
    let mut mounted = (false, false);
    for m in &mounts {
        let (Some(source), Some(target)) = (
            m.get("source").and_then(Value::as_str),
            m.get("target").and_then(Value::as_str),
        ) else {
            continue;
        };
        let source = site_path::join(&comp.dir, source.trim_matches('/'));
        let target = target.trim_matches('/');
        let (component, below) = target.split_once('/').unwrap_or((target, ""));
        let at = below.to_string();
        match component {
            "static" if below.is_empty() => f.statics.push(source),
            "assets" if below.is_empty() => f.assets.push(source),
            "static" => f.static_mounts.push(SubMount { source, at }),
            "assets" => f.assets_mounts.push(SubMount { source, at }),
            "content" => f.content.push(source),
            _ => {}
        }
        mounted.0 |= component == "static";
        mounted.1 |= component == "assets";
    }
    if !mounted.0 {
        f.statics.push(site_path::join(&comp.dir, "static"));
    }
    if !mounted.1 {
        f.assets.push(site_path::join(&comp.dir, "assets"));
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partials(list: &[(&str, &str)]) -> BTreeMap<String, (String, String)> {
        list.iter()
            .map(|(n, t)| {
                (
                    n.to_string(),
                    (format!("layouts/_partials/{n}"), t.to_string()),
                )
            })
            .collect()
    }

    #[test]
    fn lookups_are_read_from_the_template_and_its_partials() {
        use Lookup::{Assets, Page, Url};
        let none = BTreeMap::new();
        assert_eq!(
            lookups(
                "{{ with .PageInner.Resources.Get $u.Path }}{{ end }}",
                &none
            ),
            vec![Page, Url]
        );
        assert_eq!(
            lookups(
                "{{ with or (.Page.Resources.GetMatch $p) (resources.Get $p) }}",
                &none
            ),
            vec![Page, Assets, Url]
        );
        assert_eq!(
            lookups("<img src=\"{{ .Destination }}\">", &none),
            vec![Url]
        );
        let p = partials(&[
            ("pic.html", "{{ partialCached \"deep\" . }}"),
            ("deep.html", "{{ resources.GetMatch .src }}"),
        ]);
        assert_eq!(
            lookups("{{ partial \"pic.html\" . }}", &p),
            vec![Assets, Url]
        );
        // A partial that calls itself is read once.
        let p = partials(&[("loop.html", "{{ partial \"loop.html\" . }}")]);
        assert_eq!(lookups("{{ partial \"loop\" . }}", &p), vec![Url]);
    }

    #[test]
    fn module_paths_and_go_mod_versions() {
        assert_eq!(
            escape_module_path("github.com/FortAwesome/Font-Awesome"),
            "github.com/!fort!awesome/!font-!awesome"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("go.mod"),
            "module x\n\ngo 1.20\n\nrequire (\n\tgithub.com/google/docsy v0.10.0 // indirect\n\tgithub.com/a/b v1.2.3\n)\nrequire example.com/c v0.0.1\n",
        )
        .unwrap();
        let v = go_mod_versions(dir.path());
        assert_eq!(v["github.com/google/docsy"], "v0.10.0");
        assert_eq!(v["github.com/a/b"], "v1.2.3");
        assert_eq!(v["example.com/c"], "v0.0.1");
    }

    #[test]
    fn a_module_is_found_in_hugos_cache_at_its_version_or_the_newest() {
        let site = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let pkg = cache
            .path()
            .join("modules/filecache/modules/pkg/mod/github.com/!a");
        for v in ["b@v0.9.0", "b@v0.10.0"] {
            std::fs::create_dir_all(pkg.join(v)).unwrap();
        }
        let doc = serde_json::json!({
            "cachedir": cache.path().to_str().unwrap(),
            "module": {"imports": [{"path": "github.com/A/b"}, {"path": "example.com/gone"}]}
        });
        let none = |_: &Path, _: &str| Ok(None);
        let (found, notes) = find(site.path(), &doc, &none);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].dir.ends_with("github.com/!a/b@v0.10.0"),
            "{}",
            found[0].dir
        );
        assert_eq!(found[0].name, "module github.com/A/b");
        assert_eq!(notes, vec!["module example.com/gone is not on disk (looked in _vendor/example.com/gone, themes/example.com/gone and Hugo's module cache): pixpipe downloads nothing, so the shortcodes, render hooks and mounts it defines are not known".to_string()]);
        std::fs::write(
            site.path().join("go.mod"),
            "require github.com/A/b v0.9.0\n",
        )
        .unwrap();
        let (found, _) = find(site.path(), &doc, &none);
        assert!(
            found[0].dir.ends_with("github.com/!a/b@v0.9.0"),
            "{}",
            found[0].dir
        );
    }
}
