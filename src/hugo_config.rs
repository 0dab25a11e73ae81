//! Hugo's own configuration, read the way Hugo finds it, turned into pixpipe's `Config`.
//!
//! Files: `hugo.toml|yaml|json` (or `config.*`) at the site root, then `config/_default/*`
//! merged in (one file per top-level key, `hugo.*`/`config.*` there holding root keys), in
//! TOML, YAML or JSON; keys are case-insensitive, as in Hugo. Used: `contentDir`, `languages`
//! (per-language `contentDir`), `defaultContentLanguage`, `defaultContentLanguageInSubdir`,
//! `staticDir`, `assetDir`, `module.mounts` (content, static and assets mounts, of folders or
//! single files, at the root of their component or below it, replace the defaults, as in
//! Hugo), `baseURL`'s path, and the image render hook switch. Themes and modules on disk are
//! read by `hugo_components`; nothing is downloaded, and what is not on disk is said once, as
//! a note.
//! Reading files is the only I/O; `from_value` is pure.

use crate::config::{Config, ConfigError, ContentDir, Lookup, SubMount};
use serde_json::{Map, Value};
use std::path::Path;

/// The files Hugo reads its configuration from in a site root, in the order it looks (the
/// first found is used), besides the `config/` folder.
pub const CONFIG_FILES: [&str; 8] = [
    "hugo.toml",
    "hugo.yaml",
    "hugo.yml",
    "hugo.json",
    "config.toml",
    "config.yaml",
    "config.yml",
    "config.json",
];

/// The site's Hugo configuration as pixpipe's, or the defaults when the site has none; with
/// what its themes and modules on disk add (`hugo_components`).
pub fn read(root: &Path) -> Result<Config, ConfigError> {
    let Some((doc, files)) = read_doc(root, "")? else {
        return Ok(Config::default());
    };
    let mut c = from_value(&doc, &files.join(", "));
    let read_config = |dir: &Path, shown: &str| {
        read_doc(dir, shown)
            .map(|d| d.map(|(v, _)| v))
            .map_err(|e| e.to_string())
    };
    let (components, notes) = crate::hugo_components::find(root, &doc, &read_config);
    c.notes.extend(notes);
    let templates = crate::hugo_components::templates(root, &components);
    let exists = |d: &str| root.join(d).exists();
    crate::hugo_components::apply(&mut c, &components, &templates, &exists);
    Ok(c)
}

/// The merged configuration of the Hugo project (a site, theme or module) in folder `dir`,
/// shown as `shown` (`` for the site): its `hugo.*`/`config.*` file, then `config/_default/*`;
/// with the files it came from. `None` when it has none.
pub fn read_doc(dir: &Path, shown: &str) -> Result<Option<(Value, Vec<String>)>, ConfigError> {
    let named = |name: &str| {
        if shown.is_empty() {
            name.to_string()
        } else {
            format!("{shown}/{name}")
        }
    };
    let mut doc = Value::Object(Map::new());
    let mut files = Vec::new();
    for name in CONFIG_FILES {
        let p = dir.join(name);
        if p.is_file() {
            merge(&mut doc, parse_file(&p, &named(name))?);
            files.push(named(name));
            break;
        }
    }
    if let Ok(rd) = std::fs::read_dir(dir.join("config/_default")) {
        let mut entries: Vec<_> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        entries.sort();
        for p in entries {
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_string();
            let Some((stem, ext)) = name.rsplit_once('.') else {
                continue;
            };
            if !matches!(ext, "toml" | "yaml" | "yml" | "json") {
                continue;
            }
            let shown = named(&format!("config/_default/{name}"));
            let v = parse_file(&p, &shown)?;
            let stem = stem.to_ascii_lowercase();
            if stem == "hugo" || stem == "config" {
                merge(&mut doc, v);
            } else if !stem.contains('.') {
                let mut wrapped = Map::new();
                wrapped.insert(stem, v);
                merge(&mut doc, Value::Object(wrapped));
            }
            files.push(shown);
        }
    }
    Ok((!files.is_empty()).then_some((doc, files)))
}

fn parse_file(path: &Path, shown: &str) -> Result<Value, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: shown.to_string(),
        source,
    })?;
    parse(&text, shown)
}

/// Parse one configuration file by its extension, keys lowercased.
pub fn parse(text: &str, shown: &str) -> Result<Value, ConfigError> {
    let invalid = |line: usize, column: usize, message: String| ConfigError::Invalid {
        path: shown.to_string(),
        line,
        column,
        message,
    };
    if let Err(deep) = crate::nesting::check(text) {
        let (line, column) = line_col(text, deep.offset);
        return Err(invalid(line, column, deep.message()));
    }
    let v: Value = if shown.ends_with(".toml") {
        let t: toml::Value = toml::from_str(text).map_err(|e| {
            let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
            invalid(line, col, e.message().to_string())
        })?;
        toml_to_json(t)
    } else if shown.ends_with(".json") {
        serde_json::from_str(text).map_err(|e| invalid(e.line(), e.column(), e.to_string()))?
    } else if text.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_yaml::from_str(text).map_err(|e| {
            let (l, c, message) = crate::config::yaml_error(&e);
            invalid(l, c, message)
        })?
    };
    Ok(lower_keys(v))
}

/// A TOML value as JSON; dates and times become their text (`2023-06-21T00:00:00Z`).
pub fn toml_to_json(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}

fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

fn lower_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), lower_keys(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(lower_keys).collect()),
        other => other,
    }
}

/// Merge `b` into `a`: maps merge key by key, anything else is replaced.
fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(am), Value::Object(bm)) => {
            for (k, v) in bm {
                match am.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        am.insert(k, v);
                    }
                }
            }
        }
        (a, b) => *a = b,
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    match v? {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(a) => Some(
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
        ),
        _ => None,
    }
}

fn clean(d: &str) -> String {
    let d = d.trim().trim_start_matches("./").trim_end_matches('/');
    if d.is_empty() {
        ".".into()
    } else {
        d.into()
    }
}

/// Turn a merged Hugo configuration into pixpipe's. `files` names where it came from.
///
/// Each setting is read by its own function, in the order `scan --explain-config` lists
/// them; each one records where its value came from (`Config::explain`) and what it could not
/// follow (`Config::notes`).
pub fn from_value(doc: &Value, files: &str) -> Config {
    let mut c = Config {
        origin: format!("Hugo configuration ({files})"),
        ..Config::default()
    };
    read_default_language(doc, &mut c);
    read_base_path(doc, &mut c);
    let prefixes = UrlPrefixes {
        default_language: c.default_language.clone(),
        in_subdir: doc
            .get("defaultcontentlanguageinsubdir")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    let content_dir = str_of(doc, "contentdir")
        .map(clean)
        .unwrap_or_else(|| "content".into());
    let langs = languages(doc);
    let per_language = langs.iter().any(|l| l.content_dir.is_some());
    // Several languages: each has its content folders (a folder they share, told apart by
    // file name, once per language), so that each page and file knows its language.
    c.content = if per_language || langs.len() > 1 {
        langs
            .iter()
            .map(|l| {
                content_root(
                    l.content_dir.clone().unwrap_or_else(|| content_dir.clone()),
                    &l.name,
                    &prefixes,
                )
            })
            .collect()
    } else {
        vec![content_root(
            content_dir.clone(),
            &c.default_language,
            &prefixes,
        )]
    };
    read_static_and_assets_dirs(doc, &mut c);
    let names: Vec<String> = langs.iter().map(|l| l.name.clone()).collect();
    let mounted = read_mounts(doc, &prefixes, &names);
    let content_from = if !mounted.content.is_empty() {
        c.content = mounted.content;
        "module.mounts"
    } else if per_language {
        "languages.*.contentDir"
    } else if doc.get("contentdir").is_some() {
        "contentDir"
    } else {
        "Hugo's default"
    };
    // Any mount of a component, below its root too, drops the component's default folder.
    if !mounted.static_dirs.is_empty() || !mounted.static_mounts.is_empty() {
        c.static_dirs = mounted.static_dirs;
        c.static_mounts = mounted.static_mounts;
    }
    if !mounted.assets_dirs.is_empty() || !mounted.assets_mounts.is_empty() {
        c.assets_dirs = mounted.assets_dirs;
        c.assets_mounts = mounted.assets_mounts;
    }
    explain_content(content_from, &mut c);
    read_render_hook(doc, &mut c);
    read_permalinks(doc, &mut c);
    c
}

/// `defaultContentLanguage`: the language of content folders that name none.
fn read_default_language(doc: &Value, c: &mut Config) {
    if let Some(l) = str_of(doc, "defaultcontentlanguage") {
        c.default_language = l.to_string();
        c.explain.push((
            "default language".into(),
            format!("{l} (defaultContentLanguage)"),
        ));
    }
}

/// The path of `baseURL` (`/docs` for `https://x.io/docs/`): every site URL starts with it.
fn read_base_path(doc: &Value, c: &mut Config) {
    if let Some(base) = str_of(doc, "baseurl") {
        let path = base.split_once("://").map(|(_, r)| r).unwrap_or(base);
        let path = path.find('/').map(|i| &path[i..]).unwrap_or("");
        let path = path.trim_end_matches('/');
        if !path.is_empty() {
            c.base_path = path.to_string();
            c.explain
                .push(("base path".into(), format!("{path} (baseURL)")));
        }
    }
}

/// What decides the URL prefix of a language's pages.
struct UrlPrefixes {
    default_language: String,
    /// `defaultContentLanguageInSubdir`: the default language gets a prefix too.
    in_subdir: bool,
}

impl UrlPrefixes {
    /// The URL prefix of pages in `lang`: none for the default language (unless Hugo is told
    /// to put it in a subdirectory), else `/lang`.
    fn of(&self, lang: &str) -> String {
        if lang == self.default_language && !self.in_subdir {
            String::new()
        } else {
            format!("/{lang}")
        }
    }
}

/// One enabled entry of `languages`.
struct Language {
    name: String,
    weight: i64,
    /// Its own `contentDir`, if it names one.
    content_dir: Option<String>,
}

/// The enabled languages, in Hugo's order: by weight, then by name.
fn languages(doc: &Value) -> Vec<Language> {
    let mut langs = Vec::new();
    if let Some(Value::Object(m)) = doc.get("languages") {
        for (lang, v) in m {
            if v.get("disabled").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            langs.push(Language {
                name: lang.clone(),
                weight: v.get("weight").and_then(Value::as_i64).unwrap_or(0),
                content_dir: str_of(v, "contentdir").map(clean),
            });
        }
    }
    langs.sort_by(|a, b| (a.weight, &a.name).cmp(&(b.weight, &b.name)));
    langs
}

/// A content folder mounted at the root of the content tree, taking all its files.
fn content_root(dir: String, lang: &str, prefixes: &UrlPrefixes) -> ContentDir {
    ContentDir {
        dir,
        lang: lang.to_string(),
        url_prefix: prefixes.of(lang),
        mount: String::new(),
        include: Vec::new(),
        exclude: Vec::new(),
    }
}

/// `staticDir` and `assetDir`, which module mounts may replace later.
fn read_static_and_assets_dirs(doc: &Value, c: &mut Config) {
    if let Some(s) = strings(doc.get("staticdir")) {
        c.static_dirs = s.iter().map(|d| clean(d)).collect();
        c.explain.push((
            "static".into(),
            format!("{} (staticDir)", c.static_dirs.join(", ")),
        ));
    }
    if let Some(a) = str_of(doc, "assetdir") {
        c.assets_dirs = vec![clean(a)];
        c.explain
            .push(("assets".into(), format!("{} (assetDir)", c.assets_dirs[0])));
    }
}

/// The folders `module.mounts` mounts, per component; a component with no mount at all keeps
/// its default.
struct Mounted {
    content: Vec<ContentDir>,
    static_dirs: Vec<String>,
    assets_dirs: Vec<String>,
    static_mounts: Vec<SubMount>,
    assets_mounts: Vec<SubMount>,
}

/// Read `module.mounts`: module mounts replace the defaults of each component they mount.
/// `languages` are the site's (none for a site in one language).
fn read_mounts(doc: &Value, prefixes: &UrlPrefixes, languages: &[String]) -> Mounted {
    let mounts = doc
        .pointer("/module/mounts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut mounted = Mounted {
        content: Vec::new(),
        static_dirs: Vec::new(),
        assets_dirs: Vec::new(),
        static_mounts: Vec::new(),
        assets_mounts: Vec::new(),
    };
    for m in &mounts {
        let (Some(source), Some(target)) = (str_of(m, "source"), str_of(m, "target")) else {
            continue;
        };
        let target = target.trim_matches('/');
        let (component, below) = target.split_once('/').unwrap_or((target, ""));
        match component {
            "content" => {
                let (include, exclude) = mount_files(m);
                for lang in mount_languages(m, &prefixes.default_language, languages) {
                    mounted.content.push(ContentDir {
                        dir: clean(source),
                        url_prefix: prefixes.of(&lang),
                        lang,
                        mount: below.to_string(),
                        include: include.clone(),
                        exclude: exclude.clone(),
                    })
                }
            }
            "static" if below.is_empty() => mounted.static_dirs.push(clean(source)),
            "assets" if below.is_empty() => mounted.assets_dirs.push(clean(source)),
            "static" => mounted.static_mounts.push(SubMount {
                source: clean(source),
                at: below.to_string(),
            }),
            "assets" => mounted.assets_mounts.push(SubMount {
                source: clean(source),
                at: below.to_string(),
            }),
            _ => {}
        }
    }
    mounted
}

/// The languages of content mount `m`: its `lang`, else its `sites.matrix.languages` (`*`
/// or `**` for all), else every language of the site (`languages`; the default language on
/// a site in one).
fn mount_languages(m: &Value, default_language: &str, languages: &[String]) -> Vec<String> {
    let all = || {
        if languages.is_empty() {
            vec![default_language.to_string()]
        } else {
            languages.to_vec()
        }
    };
    if let Some(l) = str_of(m, "lang") {
        return vec![l.to_string()];
    }
    match strings(m.pointer("/sites/matrix/languages")) {
        Some(listed) if listed.iter().any(|l| l == "*" || l == "**") => all(),
        Some(listed) if !listed.is_empty() => listed,
        _ => all(),
    }
}

/// The globs of the files mount `m` takes and leaves out, relative to its source:
/// `files: ["**.md", "! drafts/**"]`, or the older includeFiles / excludeFiles.
fn mount_files(m: &Value) -> (Vec<String>, Vec<String>) {
    let mut include = strings(m.get("includefiles")).unwrap_or_default();
    let mut exclude = strings(m.get("excludefiles")).unwrap_or_default();
    for f in strings(m.get("files")).unwrap_or_default() {
        match f.trim().strip_prefix('!') {
            Some(x) => exclude.push(x.trim().to_string()),
            None => include.push(f.trim().to_string()),
        }
    }
    let trim = |v: Vec<String>| {
        v.into_iter()
            .map(|g| g.trim_start_matches('/').to_string())
            .collect::<Vec<_>>()
    };
    (trim(include), trim(exclude))
}

/// Say, for each content folder, where it is mounted, its URL prefix, and which setting
/// (`content_from`) gave it.
fn explain_content(content_from: &str, c: &mut Config) {
    for cd in &c.content {
        let what = if cd.mount.is_empty() {
            cd.dir.clone()
        } else {
            format!("{} (mounted at content/{})", cd.dir, cd.mount)
        };
        let prefix = if cd.url_prefix.is_empty() {
            String::new()
        } else {
            format!(", URLs under {}", cd.url_prefix)
        };
        c.explain.push((
            format!("content ({})", cd.lang),
            format!("{what}{prefix} ({content_from})"),
        ));
    }
}

/// Where Markdown images are looked up. Hugo's embedded image render hook looks up page
/// resources, then global resources; it is on when the configuration says so, or by default
/// on a multilingual site.
fn read_render_hook(doc: &Value, c: &mut Config) {
    let hook = doc
        .pointer("/markup/goldmark/renderhooks/image/enabledefault")
        .and_then(Value::as_bool);
    let multilingual = c
        .content
        .iter()
        .map(|d| &d.lang)
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        > 1;
    if hook == Some(true) || (hook.is_none() && multilingual) {
        c.markdown_lookup = vec![Lookup::Page, Lookup::Assets, Lookup::Url];
        c.explain.push((
            "Markdown images".into(),
            "page resource, assets/, then URL (Hugo's embedded render hook)".into(),
        ));
    }
}

/// `permalinks: {page: {blog: pattern}, section: {...}}`, or the older `{blog: pattern}`.
fn read_permalinks(doc: &Value, c: &mut Config) {
    let Some(Value::Object(m)) = doc.get("permalinks") else {
        return;
    };
    for (k, v) in m {
        match v {
            Value::Object(inner) if matches!(k.as_str(), "page" | "section") => {
                for (section, pattern) in inner {
                    if let Some(p) = pattern.as_str() {
                        c.permalinks
                            .push((k.clone(), section.clone(), p.to_string()));
                    }
                }
            }
            Value::String(p) => c.permalinks.push(("page".into(), k.clone(), p.clone())),
            _ => {}
        }
    }
    for (kind, section, pattern) in &c.permalinks {
        c.explain
            .push((format!("permalinks ({kind} {section})"), pattern.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str, name: &str) -> Config {
        from_value(&parse(text, name).unwrap(), name)
    }

    #[test]
    fn languages_with_their_own_content_folders() {
        let c = cfg(
            "defaultContentLanguage = 'en'\nbaseURL = 'https://x.io/docs/'\n[languages.en]\ncontentDir = 'content/en'\nweight = 1\n[languages.zh]\ncontentDir = 'content/zh'\nweight = 2\n",
            "hugo.toml",
        );
        let dirs: Vec<(&str, &str, &str)> = c
            .content
            .iter()
            .map(|d| (d.dir.as_str(), d.lang.as_str(), d.url_prefix.as_str()))
            .collect();
        assert_eq!(
            dirs,
            vec![("content/en", "en", ""), ("content/zh", "zh", "/zh")]
        );
        assert_eq!(c.base_path, "/docs");
        assert_eq!(
            c.markdown_lookup,
            vec![Lookup::Page, Lookup::Assets, Lookup::Url]
        );
    }

    #[test]
    fn mounts_replace_the_defaults() {
        let c = cfg(
            "module:\n  mounts:\n    - {source: content/en, target: content}\n    - {source: docs, target: content/docs, lang: en}\n    - {source: assets, target: assets}\n    - {source: node_modules/x, target: static}\n",
            "hugo.yaml",
        );
        let dirs: Vec<(&str, &str)> = c
            .content
            .iter()
            .map(|d| (d.dir.as_str(), d.mount.as_str()))
            .collect();
        assert_eq!(dirs, vec![("content/en", ""), ("docs", "docs")]);
        assert_eq!(c.static_dirs, vec!["node_modules/x"]);
    }

    #[test]
    fn json_and_keys_in_any_case() {
        let c = cfg(
            "{\"ContentDir\": \"src/content\", \"StaticDir\": [\"static\", \"public-assets\"]}",
            "hugo.json",
        );
        assert_eq!(c.content[0].dir, "src/content");
        assert_eq!(c.static_dirs, vec!["static", "public-assets"]);
    }

    #[test]
    fn a_bad_file_is_an_error_with_its_position() {
        let e = parse("title = 'x'\nbaseURL = \n", "hugo.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("hugo.toml:2:"), "{e}");
    }
}
