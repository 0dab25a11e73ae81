//! The resolved, validated configuration every stage reads.
//!
//! Sources, lowest priority first: built-in defaults (plain Hugo plus the common image
//! shortcodes), then `pixpipe.yaml` at the site root (or `--config FILE`). This module reads
//! no file: `Config::from_yaml` and `Config::with_yaml` take the text (the tests give it as a
//! string), and `site_config::load` finds and reads the files, Hugo's first.
//! This module is the only one that knows the file format of `pixpipe.yaml`.

use crate::format::OutFormat;
use crate::layout::{Column, Screen, DEFAULT_SCREENS};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Name of the configuration file looked for at the site root.
pub const CONFIG_FILE: &str = "pixpipe.yaml";

/// Where a lookup for an image source may find its file, tried in the order a rule lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lookup {
    /// A page resource: a file in the page's bundle (bundles only; `./` trimmed).
    Page,
    /// A global resource: `assets/<path>` (a leading `/` trimmed).
    Assets,
    /// The published URL, as a browser resolves it against the page's URL:
    /// `static/<url>`, then the content file published at that URL.
    Url,
}

/// How a shortcode turns its source parameter into a path before lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkRule {
    /// As Hugo resolves links: relative to the page (bundle folder, or a leaf page's URL).
    Hugo,
    /// istio.io's `image` shortcode: `/x` stays, a leading `../` is dropped (not applied), and
    /// anything else is appended to the page's folder *without* its language prefix.
    PageDir,
}

/// Which shortcode is an image and where its values are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShortcodeRule {
    /// Named parameters that hold the image source, the first present wins.
    pub src: Vec<String>,
    /// Use this positional parameter (0-based) when no named source is present.
    pub positional_src: Option<usize>,
    /// Parameter holding the display width (`640` or `40%`).
    pub width: Option<String>,
    /// Parameter holding the height.
    pub height: Option<String>,
    /// Parameter holding the aspect ratio (height/width in percent, istio's `ratio`).
    pub ratio: Option<String>,
    /// Parameter holding the alt text.
    pub alt: Option<String>,
    /// Parameter holding the title.
    pub title: Option<String>,
    /// Parameter holding the caption.
    pub caption: Option<String>,
    /// How the source becomes a path.
    pub link: LinkRule,
    /// Where the file is looked for, in order.
    pub lookup: Vec<Lookup>,
    /// Look the source up as this glob among the page's resources, case-insensitively, `{}`
    /// standing for the source (Docsy's `imgproc`: `**{}*`, like `.Resources.GetMatch`).
    pub glob: Option<String>,
    /// A parameter holding a glob of page resources that are all shown (a gallery's
    /// `match="photos/*"`): one reference per matching file.
    pub set: Option<String>,
}

/// One content directory and the URL prefix of its language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentDir {
    /// Site-relative folder, `/`-separated, no trailing slash.
    pub dir: String,
    /// Language code (the default language when unset).
    pub lang: String,
    /// URL prefix of pages in this folder, like `/zh`; empty for none.
    pub url_prefix: String,
    /// Where the folder is mounted in the content tree (Hugo's mount target below
    /// `content`), `/`-separated; empty for the root.
    pub mount: String,
    /// Globs (relative to `dir`) of the files the mount takes; empty takes all.
    pub include: Vec<String>,
    /// Globs (relative to `dir`) of the files the mount leaves out.
    pub exclude: Vec<String>,
}

/// A folder or a single file mounted below the root of `static/` or `assets/`: what is
/// below `at` there (a URL path, or a global resource's name) is below `source`, or is
/// `source` itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubMount {
    /// Site-relative folder or file, `/`-separated, no trailing slash.
    pub source: String,
    /// Where it is mounted below the component's root (`img/icons`), no slashes around.
    pub at: String,
}

impl SubMount {
    /// The site file for `rel` (relative to the component's root), if the mount holds it.
    pub fn file_for(&self, rel: &str) -> Option<String> {
        if rel == self.at {
            return Some(self.source.clone());
        }
        let inner = rel.strip_prefix(&self.at)?.strip_prefix('/')?;
        Some(match self.source.as_str() {
            "" | "." => inner.to_string(),
            s => crate::site_path::join(s, inner),
        })
    }

    /// Where site file `path` is below the component's root, if the mount holds it.
    pub fn place_of(&self, path: &str) -> Option<String> {
        if path == self.source {
            return Some(self.at.clone());
        }
        let inner = path.strip_prefix(&self.source)?.strip_prefix('/')?;
        Some(crate::site_path::join(&self.at, inner))
    }
}

impl ContentDir {
    /// Whether `url` (no leading slash) is under this folder's language prefix; never for a
    /// folder without one.
    pub fn prefixes(&self, url: &str) -> bool {
        let pre = self.url_prefix.trim_start_matches('/');
        !pre.is_empty() && (url == pre || url.starts_with(&format!("{pre}/")))
    }

    /// Whether the mount takes the file at `rel` (relative to `dir`).
    pub fn takes(&self, rel: &str) -> bool {
        if self.include.is_empty() && self.exclude.is_empty() {
            return true;
        }
        matches_globs(&self.include, rel).unwrap_or(true)
            && !matches_globs(&self.exclude, rel).unwrap_or(false)
    }
}

/// Whether `rel` matches one of `globs` (`None` for no globs), each list compiled once per
/// thread: resolving every reference asks again.
fn matches_globs(globs: &[String], rel: &str) -> Option<bool> {
    type Compiled = std::collections::HashMap<Vec<String>, Option<globset::GlobSet>>;
    thread_local! {
        static COMPILED: std::cell::RefCell<Compiled> = Default::default();
    }
    if globs.is_empty() {
        return None;
    }
    COMPILED.with(|c| {
        let mut c = c.borrow_mut();
        let set = c
            .entry(globs.to_vec())
            .or_insert_with(|| mount_globs(globs));
        set.as_ref().map(|s| s.is_match(rel))
    })
}

/// The globs of a mount's `files` (`*` crosses folders, as in Hugo); `None` for none.
pub fn mount_globs(globs: &[String]) -> Option<globset::GlobSet> {
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
}

/// Metadata kept in outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Metadata {
    /// None at all.
    #[default]
    Strip,
    /// EXIF Artist and Copyright, nothing else.
    KeepCopyright,
}

/// Severity for an opt-in lint; `off` disables it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LintLevel {
    /// Not reported.
    #[default]
    Off,
    /// Reported as a note.
    Note,
    /// Reported as a warning.
    Warning,
    /// Reported as an error.
    Error,
}

/// Opt-in lints of `check`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Lints {
    /// A caption that ends in a period. Default: off.
    pub caption_period: LintLevel,
    /// An image with neither alt text nor a caption. Default: off.
    pub missing_alt: LintLevel,
    /// An original published with GPS coordinates in it. Default: off.
    pub gps: LintLevel,
    /// Image files in content bundles that no page references. Default: off.
    pub orphans: LintLevel,
    /// Originals larger than `max_bytes_limit`. Default: off.
    pub max_bytes: LintLevel,
    /// Byte budget for `max_bytes`. Default: 1,000,000.
    pub max_bytes_limit: u64,
    /// Built pages whose images (each once, at its `src`) weigh more than
    /// `max_page_bytes_limit` (`check --html`). Default: off.
    pub max_page_bytes: LintLevel,
    /// Byte budget for `max_page_bytes`. Default: 2,000,000.
    pub max_page_bytes_limit: u64,
}

/// The configuration every stage reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Content folders with their languages. Default: `content`, default language, no prefix.
    pub content: Vec<ContentDir>,
    /// The default content language. Default: `en`.
    pub default_language: String,
    /// Folders served at the site's root URL. Default: `[static]`.
    pub static_dirs: Vec<String>,
    /// Folders of global resources. Default: `[assets]`.
    pub assets_dirs: Vec<String>,
    /// Folders and single files mounted below the root of `static/` (Hugo's module mounts
    /// with a target such as `static/img/icons`). Default: none.
    pub static_mounts: Vec<SubMount>,
    /// The same below the root of `assets/`. Default: none.
    pub assets_mounts: Vec<SubMount>,
    /// Folders the site is read from that pixpipe never writes in: the themes' and modules'
    /// (an in-place build leaves references to their images as written). Default: none.
    pub read_only: Vec<String>,
    /// Image shortcodes by name. Default: `image`, `figure`, `img`.
    pub shortcodes: BTreeMap<String, ShortcodeRule>,
    /// Shortcodes whose body is code on display, not content.
    /// Default: `highlight`, `text`, `code-toggle`, `code`.
    pub code_shortcodes: Vec<String>,
    /// Front matter keys whose values are images, at any depth. Default: images, image, cover,
    /// thumbnail, feature, featured_image, featuredImage, social_image, og_image, banner.
    pub front_matter_keys: Vec<String>,
    /// Permalink patterns: (kind `page` or `section`, section, pattern). Default: none
    /// (or Hugo's `permalinks`).
    pub permalinks: Vec<(String, String, String)>,
    /// Lookup order for Markdown images. Default: `[url]` (no render hook).
    pub markdown_lookup: Vec<Lookup>,
    /// Lookup order for raw `<img>`. Default: `[url]`.
    pub html_lookup: Vec<Lookup>,
    /// Width in CSS pixels of the content column, for percentage widths. Default: 1200.
    pub content_width: u32,
    /// Pixel densities each width is made for. Default: `[1, 2]`.
    pub densities: Vec<f64>,
    /// CSS pixels beside the content column (both sides together) on screens narrower than
    /// it, for `sizes` and the widths phones need. Default: 32.
    pub page_margin: u32,
    /// Screens that get a width of their own besides the declared width times `densities`
    /// (`layout::ladder`). Default: `layout::DEFAULT_SCREENS`; `[]` makes only the former.
    pub screens: Vec<Screen>,
    /// Output formats (`auto` = the source's family, `jpeg`, `png`, `webp`, `avif`). Default:
    /// `[auto, webp]`.
    pub formats: Vec<String>,
    /// Encoder quality per format. Default: jpeg 80, webp 80, avif `DEFAULT_AVIF_QUALITY`.
    pub quality: BTreeMap<String, u8>,
    /// How hard libwebp searches (its `method`): 0 fastest to 6 smallest. Default: 4, as
    /// cwebp's and sharp's.
    pub webp_effort: u8,
    /// libaom's speed for AVIF (its `cpu-used` in still-image mode): 0 slowest and smallest
    /// to 9 fastest.
    /// Default: `DEFAULT_AVIF_SPEED`.
    pub avif_speed: u8,
    /// Whether a PNG output may be a palette of at most 256 colours when that looks the same
    /// (`process::palette`). Default: auto.
    pub png_palette: PngPalette,
    /// What metadata outputs keep: `strip` (nothing) or `keep-copyright` (Artist and
    /// Copyright). GPS never survives. Default: strip.
    pub metadata: Metadata,
    /// Largest image, in pixels, that is ever decoded. Default: 268,402,689 (as libvips).
    pub max_pixels: u64,
    /// How long AVIF outputs may take (`avif_budget: 10m`): every other output is made
    /// first, then AVIF ones, largest expected saving first, until this long after the
    /// command started; the rest come in later builds. Default: none (all are made).
    pub avif_budget: Option<std::time::Duration>,
    /// The cache (`cache: s3://bucket/prefix`, or a folder, relative to the site): a shared
    /// cache in an object store, behind the local folder. `--cache` overrides it. Default:
    /// none (each command's own folder).
    pub cache: Option<String>,
    /// Opt-in lints. Default: all off.
    pub lint: Lints,
    /// Where the configuration came from, for messages. Default: built-in.
    pub origin: String,
    /// Path of the site's base URL (`/docs` for `https://x.io/docs/`); absolute links start
    /// with it. Default: empty.
    pub base_path: String,
    /// What could not be followed in the site's Hugo configuration, said once. Default: none.
    pub notes: Vec<String>,
    /// Each effective setting read from Hugo, with where it came from (`scan --explain-config`).
    pub explain: Vec<(String, String)>,
}

/// A YAML error's 1-based line and column (0 when unknown) and its message without the
/// " at line L column C" that serde_yaml appends.
pub fn yaml_error(e: &serde_yaml::Error) -> (usize, usize, String) {
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    let msg = e.to_string();
    let msg = msg
        .find(" at line ")
        .map(|i| msg[..i].to_string())
        .unwrap_or(msg);
    (line, column, msg)
}

/// libvips' and sharp's default pixel limit (0x3FFF × 0x3FFF).
pub const DEFAULT_MAX_PIXELS: u64 = 268_402_689;

/// A time budget as written in `avif_budget` or `--avif-budget`: `none`, or a number with a
/// unit, `s`, `m` or `h` (`90s`, `10m`, `1.5h`).
pub fn parse_budget(text: &str) -> Result<Option<std::time::Duration>, String> {
    let t = text.trim();
    if t == "none" {
        return Ok(None);
    }
    let unit = t.chars().last().unwrap_or(' ');
    let scale = match unit {
        's' => 1.0,
        'm' => 60.0,
        'h' => 3600.0,
        _ => {
            return Err(format!(
                "`{t}` is not a duration (write `90s`, `10m`, `1h` or `none`)"
            ))
        }
    };
    match t[..t.len() - 1].trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 && n * scale <= 1e9 => {
            Ok(Some(std::time::Duration::from_secs_f64(n * scale)))
        }
        _ => Err(format!(
            "`{t}` is not a duration (write `90s`, `10m`, `1h` or `none`)"
        )),
    }
}

/// AVIF's default quality (libavif's scale, 1-100). Chosen on the bench photos against sharp's
/// AVIF defaults (README, "AVIF").
pub const DEFAULT_AVIF_QUALITY: u8 = 43;

/// libaom's default speed for AVIF. Chosen on the bench photos (README, "AVIF").
pub const DEFAULT_AVIF_SPEED: u8 = 8;

fn s(v: &str) -> String {
    v.to_string()
}

/// A shortcode rule reading the usual parameter names.
fn rule(
    src: &[&str],
    positional_src: Option<usize>,
    ratio: bool,
    lookup: &[Lookup],
) -> ShortcodeRule {
    ShortcodeRule {
        src: src.iter().map(|x| s(x)).collect(),
        positional_src,
        width: Some(s("width")),
        height: Some(s("height")),
        ratio: ratio.then(|| s("ratio")),
        alt: Some(s("alt")),
        title: Some(s("title")),
        caption: Some(s("caption")),
        link: LinkRule::Hugo,
        lookup: lookup.to_vec(),
        glob: None,
        set: None,
    }
}

fn builtin_shortcodes() -> BTreeMap<String, ShortcodeRule> {
    use Lookup::{Assets, Page, Url};
    let mut m = BTreeMap::new();
    // istio.io's `image`: the source is `link`. Its template resolves the link against the
    // page folder; that rule is opt-in (`link: page-dir`), plain Hugo resolution is the default.
    m.insert(
        s("image"),
        rule(&["link", "src"], None, true, &[Page, Assets, Url]),
    );
    // Hugo's embedded `figure`: page resource, then global resource, then as written.
    m.insert(
        s("figure"),
        rule(&["src"], None, false, &[Page, Assets, Url]),
    );
    // `img` (Hugo's documentation site): page resource, then global resource, nothing else.
    m.insert(s("img"), rule(&["src"], Some(0), false, &[Page, Assets]));
    // Docsy's `imgproc NAME Fill "400x450"`: `.Resources.GetMatch (printf "**%s*" NAME)`.
    m.insert(
        s("imgproc"),
        ShortcodeRule {
            glob: Some(s("**{}*")),
            ..rule(&["src"], Some(0), false, &[Page])
        },
    );
    // A gallery of the page's resources: `{{< gallery match="photos/*" >}}`.
    m.insert(
        s("gallery"),
        ShortcodeRule {
            set: Some(s("match")),
            ..rule(&[], None, false, &[Page])
        },
    );
    m
}

impl Default for Config {
    fn default() -> Self {
        Config {
            content: vec![ContentDir {
                dir: s("content"),
                lang: s("en"),
                url_prefix: String::new(),
                mount: String::new(),
                include: Vec::new(),
                exclude: Vec::new(),
            }],
            default_language: s("en"),
            static_dirs: vec![s("static")],
            assets_dirs: vec![s("assets")],
            static_mounts: Vec::new(),
            assets_mounts: Vec::new(),
            read_only: Vec::new(),
            shortcodes: builtin_shortcodes(),
            code_shortcodes: vec![s("highlight"), s("text"), s("code-toggle"), s("code")],
            front_matter_keys: [
                "images",
                "image",
                "cover",
                "thumbnail",
                "feature",
                "featured_image",
                "featuredImage",
                "social_image",
                "og_image",
                "banner",
            ]
            .into_iter()
            .map(s)
            .collect(),
            permalinks: Vec::new(),
            markdown_lookup: vec![Lookup::Url],
            html_lookup: vec![Lookup::Url],
            content_width: 1200,
            densities: vec![1.0, 2.0],
            page_margin: 32,
            screens: DEFAULT_SCREENS
                .iter()
                .filter_map(|s| Screen::parse(s))
                .collect(),
            formats: vec![s("auto"), s("webp")],
            quality: [(s("jpeg"), 80u8), (s("webp"), 80u8)].into_iter().collect(),
            webp_effort: 4,
            avif_speed: DEFAULT_AVIF_SPEED,
            png_palette: PngPalette::Auto,
            max_pixels: DEFAULT_MAX_PIXELS,
            avif_budget: None,
            cache: None,
            metadata: Metadata::Strip,
            lint: Lints {
                max_bytes_limit: 1_000_000,
                max_page_bytes_limit: 2_000_000,
                ..Lints::default()
            },
            origin: s("built-in defaults"),
            base_path: String::new(),
            notes: Vec::new(),
            explain: Vec::new(),
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid for pixpipe.
    #[error("{}", located(.path, *.line, *.column, .message))]
    Invalid {
        /// The file.
        path: String,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// What is wrong.
        message: String,
    },
}

/// `path:line:column: message`, or `path: message` when the place is unknown (line 0).
fn located(path: &str, line: usize, column: usize, message: &str) -> String {
    if line == 0 {
        format!("{path}: {message}")
    } else {
        format!("{path}:{line}:{column}: {message}")
    }
}

/// Line and column (1-based) of the top-level `key:` in YAML `text`; (0, 0) when it is not
/// written at the start of a line (e.g. in a flow mapping).
fn key_position(text: &str, key: &str) -> (usize, usize) {
    text.lines()
        .position(|l| {
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map_or((0, 0), |i| (i + 1, 1))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    content: Option<Vec<RawContentDir>>,
    folders_outside_site: Option<bool>,
    default_language: Option<String>,
    #[serde(rename = "static")]
    static_dirs: Option<OneOrMany>,
    assets: Option<OneOrMany>,
    markdown: Option<RawSyntax>,
    html: Option<RawSyntax>,
    shortcodes: Option<BTreeMap<String, Option<RawShortcode>>>,
    code_shortcodes: Option<Vec<String>>,
    front_matter_keys: Option<Vec<String>>,
    content_width: Option<u32>,
    densities: Option<Vec<f64>>,
    page_margin: Option<u32>,
    screens: Option<Vec<String>>,
    formats: Option<Vec<String>>,
    quality: Option<BTreeMap<String, u8>>,
    webp_effort: Option<u8>,
    avif_speed: Option<u8>,
    png: Option<RawPng>,
    max_pixels: Option<u64>,
    avif_budget: Option<String>,
    cache: Option<String>,
    metadata: Option<Metadata>,
    lint: Option<RawLints>,
}

/// `png:` in pixpipe.yaml.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPng {
    palette: Option<PngPalette>,
}

/// Whether PNG outputs may become palettes (`png: {palette: …}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PngPalette {
    /// When the palette image scores at least `process::palette::VISUALLY_LOSSLESS`.
    Auto,
    /// Never: PNG outputs keep every colour.
    Never,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawContentDir {
    Dir(String),
    Full(RawContentDirFull),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContentDirFull {
    dir: String,
    lang: Option<String>,
    url_prefix: Option<String>,
    mount: Option<String>,
    include: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSyntax {
    lookup: Vec<Lookup>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawShortcode {
    src: Option<OneOrMany>,
    positional_src: Option<Option<usize>>,
    width: Option<String>,
    height: Option<String>,
    ratio: Option<String>,
    alt: Option<String>,
    title: Option<String>,
    caption: Option<String>,
    link: Option<LinkRule>,
    lookup: Option<Vec<Lookup>>,
    glob: Option<String>,
    set: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLints {
    caption_period: Option<LintLevel>,
    missing_alt: Option<LintLevel>,
    gps: Option<LintLevel>,
    orphans: Option<LintLevel>,
    max_bytes: Option<RawMaxBytes>,
    max_page_bytes: Option<RawMaxBytes>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawMaxBytes {
    Limit(u64),
    Level(LintLevel),
    Full { limit: u64, severity: LintLevel },
}

/// The range of `densities`: below half a pixel per CSS pixel an output is a blur, above 8
/// no screen has the pixels.
const MIN_DENSITY: f64 = 0.5;
const MAX_DENSITY: f64 = 8.0;

/// A content, static or assets folder that pixpipe.yaml puts outside the site (`/etc`,
/// `../other`) is an error unless `folders_outside_site: true` says it is meant: pixpipe
/// would read it, and with `--in-place` write into it. (A Hugo configuration's folders are
/// the site's own statement and are taken as they are.)
fn refuse_folders_outside(
    c: &Config,
    [content, static_, assets]: [bool; 3],
    file: &YamlFile,
) -> Result<(), ConfigError> {
    let dirs = c
        .content
        .iter()
        .filter(|_| content)
        .map(|d| ("content", &d.dir))
        .chain(
            c.static_dirs
                .iter()
                .filter(|_| static_)
                .map(|d| ("static", d)),
        )
        .chain(
            c.assets_dirs
                .iter()
                .filter(|_| assets)
                .map(|d| ("assets", d)),
        );
    for (key, d) in dirs {
        if d.starts_with('/') || d == ".." || d.starts_with("../") {
            return Err(file.invalid_at(
                key,
                format!("`{key}` names {d}, which is outside the site; if that is meant, add `folders_outside_site: true`"),
            ));
        }
    }
    Ok(())
}

fn clean_dir(d: &str) -> String {
    let d = d.trim().trim_start_matches("./").trim_end_matches('/');
    if d.is_empty() {
        ".".to_string()
    } else {
        d.to_string()
    }
}

fn clean_prefix(p: &str) -> String {
    let p = p.trim().trim_matches('/');
    if p.is_empty() {
        String::new()
    } else {
        format!("/{p}")
    }
}

/// The `pixpipe.yaml` being read: its text, to point at a key, and its name for errors.
struct YamlFile<'a> {
    text: &'a str,
    path: &'a str,
}

impl YamlFile<'_> {
    /// The settings written in the file; none when it is empty.
    fn parse(&self) -> Result<RawConfig, ConfigError> {
        if self.text.trim().is_empty() {
            return Ok(RawConfig::default());
        }
        if let Err(deep) = crate::nesting::check(self.text) {
            let pos = crate::position::LineIndex::new(self.text).line_col(self.text, deep.offset);
            return Err(self.invalid(pos.line, pos.column, deep.message()));
        }
        serde_yaml::from_str(self.text).map_err(|e| {
            let (line, column, message) = yaml_error(&e);
            self.invalid(line, column, message)
        })
    }

    /// The file is not valid at `line`:`column` (1-based; 0 when unknown).
    fn invalid(&self, line: usize, column: usize, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_string(),
            line,
            column,
            message,
        }
    }

    /// A value that parses but cannot be used: reported at its key.
    fn invalid_at(&self, key: &str, message: String) -> ConfigError {
        let (line, column) = key_position(self.text, key);
        self.invalid(line, column, message)
    }
}

impl RawContentDir {
    /// The content folder as written, in `default_language` unless it names its own.
    fn resolve(self, default_language: &str) -> ContentDir {
        match self {
            RawContentDir::Dir(dir) => ContentDir {
                dir: clean_dir(&dir),
                lang: default_language.to_string(),
                url_prefix: String::new(),
                mount: String::new(),
                include: Vec::new(),
                exclude: Vec::new(),
            },
            RawContentDir::Full(f) => ContentDir {
                dir: clean_dir(&f.dir),
                lang: f.lang.unwrap_or_else(|| default_language.to_string()),
                url_prefix: clean_prefix(f.url_prefix.as_deref().unwrap_or("")),
                mount: f
                    .mount
                    .as_deref()
                    .unwrap_or("")
                    .trim_matches('/')
                    .to_string(),
                include: f.include.unwrap_or_default(),
                exclude: f.exclude.unwrap_or_default(),
            },
        }
    }
}

impl RawShortcode {
    /// `base` with the fields this sets replaced.
    fn over(self, base: ShortcodeRule) -> ShortcodeRule {
        ShortcodeRule {
            src: self.src.map(OneOrMany::into_vec).unwrap_or(base.src),
            positional_src: self.positional_src.unwrap_or(base.positional_src),
            width: self.width.or(base.width),
            height: self.height.or(base.height),
            ratio: self.ratio.or(base.ratio),
            alt: self.alt.or(base.alt),
            title: self.title.or(base.title),
            caption: self.caption.or(base.caption),
            link: self.link.unwrap_or(base.link),
            lookup: self.lookup.unwrap_or(base.lookup),
            glob: self.glob.or(base.glob),
            set: self.set.or(base.set),
        }
    }
}

/// Apply a byte-budget lint as written (`N` alone turns it on as a warning).
fn budget(raw: Option<RawMaxBytes>, level: &mut LintLevel, limit: &mut u64) {
    match raw {
        None => {}
        Some(RawMaxBytes::Limit(n)) => {
            *level = LintLevel::Warning;
            *limit = n;
        }
        Some(RawMaxBytes::Level(lv)) => *level = lv,
        Some(RawMaxBytes::Full { limit: n, severity }) => {
            *level = severity;
            *limit = n;
        }
    }
}

impl Lints {
    /// The levels (and byte budget) `l` sets, over these. `max_bytes: N` alone turns the
    /// lint on as a warning.
    fn apply(&mut self, l: RawLints) {
        self.caption_period = l.caption_period.unwrap_or(self.caption_period);
        self.missing_alt = l.missing_alt.unwrap_or(self.missing_alt);
        self.gps = l.gps.unwrap_or(self.gps);
        self.orphans = l.orphans.unwrap_or(self.orphans);
        budget(l.max_bytes, &mut self.max_bytes, &mut self.max_bytes_limit);
        budget(
            l.max_page_bytes,
            &mut self.max_page_bytes,
            &mut self.max_page_bytes_limit,
        );
    }
}

impl Config {
    /// Parse `pixpipe.yaml` text on top of the built-in defaults. `path` names the file in
    /// errors.
    pub fn from_yaml(text: &str, path: &str) -> Result<Config, ConfigError> {
        Config::default().with_yaml(text, path)
    }

    /// Apply `pixpipe.yaml` text on top of this configuration (the defaults, or what was read
    /// from the site's Hugo configuration). `path` names the file in errors.
    ///
    /// Settings are checked in the order below and the first unusable one is the error.
    pub fn with_yaml(self, text: &str, path: &str) -> Result<Config, ConfigError> {
        let file = YamlFile { text, path };
        let raw = file.parse()?;
        let base_origin = self.origin.clone();
        let mut c = Config {
            origin: path.to_string(),
            ..self
        };
        if base_origin != Config::default().origin {
            c.origin = format!("{path} over {base_origin}");
        }
        // Only the folders this file names are its to check.
        let named_here = [
            raw.content.is_some(),
            raw.static_dirs.is_some(),
            raw.assets.is_some(),
        ];
        c.set_content(raw.default_language, raw.content, &file)?;
        if let Some(v) = raw.static_dirs {
            c.static_dirs = v.into_vec().iter().map(|d| clean_dir(d)).collect();
        }
        if let Some(v) = raw.assets {
            c.assets_dirs = v.into_vec().iter().map(|d| clean_dir(d)).collect();
        }
        if raw.folders_outside_site != Some(true) {
            refuse_folders_outside(&c, named_here, &file)?;
        }
        if let Some(m) = raw.markdown {
            c.markdown_lookup = m.lookup;
        }
        if let Some(h) = raw.html {
            c.html_lookup = h.lookup;
        }
        if let Some(v) = raw.code_shortcodes {
            c.code_shortcodes = v;
        }
        if let Some(v) = raw.front_matter_keys {
            c.front_matter_keys = v;
        }
        if let Some(scs) = raw.shortcodes {
            c.merge_shortcodes(scs, &file)?;
        }
        c.set_sizes(raw.content_width, raw.densities, &file)?;
        c.set_screens(raw.page_margin, raw.screens, &file)?;
        c.set_encoding(
            raw.formats,
            raw.quality,
            (raw.webp_effort, raw.avif_speed),
            &file,
        )?;
        if let Some(p) = raw.png.and_then(|p| p.palette) {
            c.png_palette = p;
        }
        if let Some(m) = raw.metadata {
            c.metadata = m;
        }
        if let Some(m) = raw.max_pixels {
            c.max_pixels = m;
        }
        if let Some(b) = raw.avif_budget {
            c.avif_budget = parse_budget(&b)
                .map_err(|e| file.invalid_at("avif_budget", format!("`avif_budget`: {e}")))?;
        }
        if let Some(cache) = raw.cache {
            if cache.trim().is_empty() {
                return Err(file.invalid_at(
                    "cache",
                    "`cache`: write a folder or a URL (`s3://bucket/prefix`)".into(),
                ));
            }
            c.cache = Some(cache.trim().to_string());
        }
        if let Some(l) = raw.lint {
            c.lint.apply(l);
        }
        Ok(c)
    }

    /// `default_language` and `content`. A new default language also becomes the language of
    /// a single content folder the file does not list again.
    fn set_content(
        &mut self,
        default_language: Option<String>,
        content: Option<Vec<RawContentDir>>,
        file: &YamlFile,
    ) -> Result<(), ConfigError> {
        let new_default = default_language.is_some();
        if let Some(l) = default_language {
            self.default_language = l;
        }
        if let Some(dirs) = content {
            if dirs.is_empty() {
                return Err(file.invalid_at("content", "`content` lists no folder".into()));
            }
            self.content = dirs
                .into_iter()
                .map(|d| d.resolve(&self.default_language))
                .collect();
        } else if new_default && self.content.len() == 1 {
            self.content[0].lang = self.default_language.clone();
        }
        Ok(())
    }

    /// Merge `shortcodes` into the rules: a rule given for a known shortcode overrides only
    /// the fields it sets, a new one starts from the rule for `{{< name "src" >}}`, and
    /// `name: null` (or `name: ~`) turns a built-in off.
    fn merge_shortcodes(
        &mut self,
        shortcodes: BTreeMap<String, Option<RawShortcode>>,
        file: &YamlFile,
    ) -> Result<(), ConfigError> {
        for (name, given) in shortcodes {
            // Hugo finds shortcode templates whatever the case of the name.
            let name = name.to_ascii_lowercase();
            let Some(r) = given else {
                self.shortcodes.remove(&name);
                continue;
            };
            let base = self.shortcodes.get(&name).cloned().unwrap_or_else(|| {
                rule(
                    &["src"],
                    Some(0),
                    false,
                    &[Lookup::Page, Lookup::Assets, Lookup::Url],
                )
            });
            let merged = r.over(base);
            if merged.lookup.is_empty() {
                return Err(file.invalid_at(
                    "shortcodes",
                    format!("shortcode `{name}` has an empty `lookup`"),
                ));
            }
            self.shortcodes.insert(name, merged);
        }
        Ok(())
    }

    /// `content_width` and `densities`, which decide the sizes of the outputs.
    fn set_sizes(
        &mut self,
        content_width: Option<u32>,
        densities: Option<Vec<f64>>,
        file: &YamlFile,
    ) -> Result<(), ConfigError> {
        if let Some(w) = content_width {
            if w == 0 {
                return Err(file.invalid_at(
                    "content_width",
                    "`content_width` must be more than 0".into(),
                ));
            }
            self.content_width = w;
        }
        if let Some(d) = densities {
            if d.is_empty() || d.iter().any(|x| !(MIN_DENSITY..=MAX_DENSITY).contains(x)) {
                return Err(file.invalid_at(
                    "densities",
                    format!("`densities` must list numbers from {MIN_DENSITY} to {MAX_DENSITY} (1 for standard screens, 2 for high-density ones)"),
                ));
            }
            self.densities = d;
        }
        Ok(())
    }

    /// `page_margin` and `screens`: the widths made for smaller screens.
    fn set_screens(
        &mut self,
        page_margin: Option<u32>,
        screens: Option<Vec<String>>,
        file: &YamlFile,
    ) -> Result<(), ConfigError> {
        if let Some(m) = page_margin {
            self.page_margin = m;
        }
        if let Some(list) = screens {
            let parsed: Option<Vec<Screen>> = list.iter().map(|s| Screen::parse(s)).collect();
            let in_range = |s: &Screen| (MIN_DENSITY..=MAX_DENSITY).contains(&s.density);
            self.screens = parsed.filter(|p| p.iter().all(in_range)).ok_or_else(|| {
                file.invalid_at(
                    "screens",
                    format!("`screens` must list viewports as WIDTH@DENSITY, such as `412@1.75`, with a density from {MIN_DENSITY} to {MAX_DENSITY}"),
                )
            })?;
        }
        Ok(())
    }

    /// The page's content column.
    pub fn column(&self) -> Column {
        Column {
            width: self.content_width,
            margin: self.page_margin,
        }
    }

    /// `formats`, `quality`, `webp_effort` and `avif_speed`: what the outputs are encoded as,
    /// and how.
    fn set_encoding(
        &mut self,
        formats: Option<Vec<String>>,
        quality: Option<BTreeMap<String, u8>>,
        (webp_effort, avif_speed): (Option<u8>, Option<u8>),
        file: &YamlFile,
    ) -> Result<(), ConfigError> {
        if let Some(f) = formats {
            if f.is_empty() {
                return Err(file.invalid_at(
                    "formats",
                    "`formats` lists no format (use auto, jpeg, png, webp or avif)".into(),
                ));
            }
            for x in &f {
                if !matches!(x.as_str(), "auto" | "jpeg" | "png" | "webp" | "avif") {
                    return Err(file.invalid_at(
                        "formats",
                        format!(
                            "unknown format `{x}` in `formats` (use auto, jpeg, png, webp or avif)"
                        ),
                    ));
                }
            }
            self.formats = f;
        }
        if let Some(q) = quality {
            for (k, v) in q {
                if !matches!(k.as_str(), "jpeg" | "webp" | "avif") {
                    return Err(file.invalid_at(
                        "quality",
                        format!(
                            "unknown format `{k}` in `quality` (use jpeg, webp or avif; PNG is \
                             lossless)"
                        ),
                    ));
                }
                if !(1..=100).contains(&v) {
                    return Err(
                        file.invalid_at("quality", format!("quality for `{k}` must be 1 to 100"))
                    );
                }
                self.quality.insert(k, v);
            }
        }
        let at_most = |key: &str, value: Option<u8>, max: u8| match value {
            Some(v) if v > max => {
                Err(file.invalid_at(key, format!("`{key}` must be 0 to {max}, not {v}")))
            }
            _ => Ok(value),
        };
        if let Some(e) = at_most("webp_effort", webp_effort, 6)? {
            self.webp_effort = e;
        }
        if let Some(s) = at_most("avif_speed", avif_speed, 9)? {
            self.avif_speed = s;
        }
        Ok(())
    }

    /// `--formats` (comma-separated) and `--avif-budget` from the command line, over the
    /// configuration file's `formats` and `avif_budget`.
    pub fn override_encoding(
        &mut self,
        formats: Option<&str>,
        avif_budget: Option<&str>,
    ) -> Result<(), String> {
        if let Some(list) = formats {
            let f: Vec<String> = list
                .split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect();
            if f.is_empty() {
                return Err("--formats lists no format (use auto, jpeg, png, webp or avif)".into());
            }
            if let Some(x) = f
                .iter()
                .find(|x| !matches!(x.as_str(), "auto" | "jpeg" | "png" | "webp" | "avif"))
            {
                return Err(format!(
                    "unknown format `{x}` in --formats (use auto, jpeg, png, webp or avif)"
                ));
            }
            self.formats = f;
        }
        if let Some(b) = avif_budget {
            self.avif_budget = parse_budget(b).map_err(|e| format!("--avif-budget: {e}"))?;
        }
        Ok(())
    }

    /// The effective folders, languages and output settings, with where each came from, one
    /// per line.
    pub fn explain_text(&self) -> String {
        let mut out = format!("configuration: {}\n", self.origin);
        for cd in &self.content {
            let mount = if cd.mount.is_empty() {
                String::new()
            } else {
                format!(" mounted at content/{}", cd.mount)
            };
            let prefix = if cd.url_prefix.is_empty() {
                String::new()
            } else {
                format!(", URLs under {}", cd.url_prefix)
            };
            out.push_str(&format!(
                "content: {} (language {}{mount}{prefix})\n",
                cd.dir, cd.lang
            ));
        }
        out.push_str(&format!("default language: {}\n", self.default_language));
        out.push_str(&format!("static: {}\n", self.static_dirs.join(", ")));
        for m in &self.static_mounts {
            out.push_str(&format!(
                "static: {} mounted at static/{}\n",
                m.source, m.at
            ));
        }
        out.push_str(&format!("assets: {}\n", self.assets_dirs.join(", ")));
        for m in &self.assets_mounts {
            out.push_str(&format!(
                "assets: {} mounted at assets/{}\n",
                m.source, m.at
            ));
        }
        if !self.base_path.is_empty() {
            out.push_str(&format!("base path: {}\n", self.base_path));
        }
        let lookups = |l: &[Lookup]| {
            l.iter()
                .map(|x| format!("{x:?}").to_lowercase())
                .collect::<Vec<_>>()
                .join(" -> ")
        };
        out.push_str(&format!(
            "markdown images: {}\n",
            lookups(&self.markdown_lookup)
        ));
        for (name, r) in &self.shortcodes {
            // In the order extraction tries them.
            let mut ways = Vec::new();
            if let Some(set) = &r.set {
                ways.push(format!("the files its `{set}` pattern matches"));
            }
            if !r.src.is_empty() {
                ways.push(r.src.join("|"));
            }
            if let Some(i) = r.positional_src {
                ways.push(format!("positional {i}"));
            }
            let mut source = if ways.is_empty() {
                "none".to_string()
            } else {
                ways.join(", else ")
            };
            if let Some(glob) = &r.glob {
                source.push_str(&format!(", as `{glob}` among the page's resources"));
            }
            out.push_str(&format!(
                "shortcode {name}: source {source}; lookup {}; {}\n",
                lookups(&r.lookup),
                if r.link == LinkRule::PageDir {
                    "page-dir links"
                } else {
                    "Hugo links"
                }
            ));
        }
        let densities: Vec<String> = self.densities.iter().map(|d| d.to_string()).collect();
        let quality: Vec<String> = [OutFormat::Jpeg, OutFormat::Webp, OutFormat::Avif]
            .into_iter()
            .map(|f| format!("{} {}", f.name(), self.quality_of(f)))
            .collect();
        out.push_str(&format!(
            "outputs: {} for a {} px column at densities {}; quality {}; webp effort {}; \
             avif speed {}; metadata {}\n",
            self.formats
                .iter()
                .map(|f| match f.as_str() {
                    "auto" => "auto (the source's family)",
                    f => f,
                })
                .collect::<Vec<_>>()
                .join(", "),
            self.content_width,
            densities.join(", "),
            quality.join(", "),
            self.webp_effort,
            self.avif_speed,
            match self.metadata {
                Metadata::Strip => "strip",
                Metadata::KeepCopyright => "keep-copyright",
            }
        ));
        let screens: Vec<String> = self.screens.iter().map(|s| s.to_string()).collect();
        out.push_str(&format!(
            "smaller screens: {} (page margin {} px)\n",
            if screens.is_empty() {
                "none".to_string()
            } else {
                screens.join(", ")
            },
            self.page_margin
        ));
        for (what, from) in &self.explain {
            out.push_str(&format!("from Hugo: {what}: {from}\n"));
        }
        for n in &self.notes {
            out.push_str(&format!("note: {n}\n"));
        }
        out
    }

    /// The encoder quality for `format`: its entry in `quality` (80 when there is none), 0 for
    /// lossless PNG.
    pub fn quality_of(&self, format: OutFormat) -> u8 {
        match format {
            OutFormat::Png => 0,
            OutFormat::Jpeg => self.quality.get("jpeg").copied().unwrap_or(80),
            OutFormat::Webp => self.quality.get("webp").copied().unwrap_or(80),
            OutFormat::Avif => (self.quality.get("avif").copied()).unwrap_or(DEFAULT_AVIF_QUALITY),
        }
    }

    /// The encoder effort for `format`: `webp_effort` for WebP, `avif_speed` for AVIF; for PNG
    /// 1 when a palette may replace the colours (`png: {palette: auto}`), else 0; 0 for JPEG.
    pub fn effort_of(&self, format: OutFormat) -> u8 {
        match format {
            OutFormat::Webp => self.webp_effort,
            OutFormat::Avif => self.avif_speed,
            OutFormat::Png => u8::from(self.png_palette == PngPalette::Auto),
            OutFormat::Jpeg => 0,
        }
    }

    /// Every folder (or single file) the site is read from: content, static and assets,
    /// with what is mounted below static/ and assets/, in this order (may repeat).
    pub fn site_dirs(&self) -> impl Iterator<Item = &String> {
        self.content
            .iter()
            .map(|c| &c.dir)
            .chain(&self.static_dirs)
            .chain(&self.assets_dirs)
            .chain(self.static_mounts.iter().map(|m| &m.source))
            .chain(self.assets_mounts.iter().map(|m| &m.source))
    }

    /// The language a file's name carries (`flag.fr.png`, `index.fr.md` → `fr`), if it is
    /// one of the site's.
    pub fn language_in_name<'a>(&self, file: &'a str) -> Option<&'a str> {
        let mut parts = crate::site_path::file_name(file).rsplit('.');
        let (_ext, lang, _stem) = (parts.next()?, parts.next()?, parts.next()?);
        self.content.iter().any(|c| c.lang == lang).then_some(lang)
    }

    /// Whether the site path `path` is in a folder pixpipe never writes in (a theme's, a
    /// module's).
    pub fn is_read_only(&self, path: &str) -> bool {
        self.read_only
            .iter()
            .any(|d| crate::site_path::is_within(path, d))
    }

    /// The content folder, and so the language, of the file at `site_path`, if any.
    pub fn content_dir_of(&self, site_path: &str) -> Option<&ContentDir> {
        let holding =
            |c: &&ContentDir| c.dir == "." || site_path.starts_with(&format!("{}/", c.dir));
        let inner = |c: &ContentDir| {
            if c.dir == "." {
                site_path.to_string()
            } else {
                site_path[c.dir.len() + 1..].to_string()
            }
        };
        // The deepest folder whose mount takes the file, else the deepest that holds it.
        let deepest = self
            .content
            .iter()
            .filter(holding)
            .filter(|c| c.takes(&inner(c)))
            .max_by_key(|c| c.dir.len())
            .or_else(|| {
                self.content
                    .iter()
                    .filter(holding)
                    .max_by_key(|c| c.dir.len())
            })?;
        // Languages sharing a folder: the one the file's name carries (`index.fr.md`), else
        // the default language, else the first.
        let sharing = || self.content.iter().filter(|c| c.dir == deepest.dir);
        let named = self
            .language_in_name(site_path)
            .and_then(|lang| sharing().find(|c| c.lang == lang));
        named
            .or_else(|| sharing().find(|c| c.lang == self.default_language))
            .or_else(|| sharing().next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message of the error `yaml` gives as `pixpipe.yaml`.
    fn error_of(yaml: &str) -> String {
        Config::from_yaml(yaml, "pixpipe.yaml")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn png_palette_is_auto_unless_never_and_nothing_else() {
        let c = Config::default();
        assert_eq!(
            (c.png_palette, c.effort_of(OutFormat::Png)),
            (PngPalette::Auto, 1)
        );
        let c = Config::from_yaml("png: {palette: never}\n", "pixpipe.yaml").unwrap();
        assert_eq!(
            (c.png_palette, c.effort_of(OutFormat::Png)),
            (PngPalette::Never, 0)
        );
        assert!(
            error_of("png: {palette: sometimes}\n").contains("unknown variant `sometimes`"),
            "{}",
            error_of("png: {palette: sometimes}\n")
        );
        assert!(error_of("png: {palete: auto}\n").contains("unknown field `palete`"));
    }

    #[test]
    fn unknown_key_is_an_error_with_line_and_column() {
        let msg = error_of("content_width: 800\ndensitys: [1]\n");
        assert!(
            msg.starts_with("pixpipe.yaml:2:1: unknown field `densitys`"),
            "{msg}"
        );
    }

    #[test]
    fn folders_outside_the_site_and_densities_out_of_range_are_refused() {
        // Issue #17, item 9: `content: [/etc]` walked /etc, and `densities: [0.0001]` made
        // 1-px outputs while the message for [0] said "between 0 and 8".
        assert_eq!(
            error_of("content: [/etc]\n"),
            "pixpipe.yaml:1:1: `content` names /etc, which is outside the site; if that is meant, add `folders_outside_site: true`"
        );
        assert!(error_of("static: ../shared/static\n")
            .starts_with("pixpipe.yaml:1:1: `static` names ../shared/static"));
        let ok = Config::from_yaml(
            "content: [../shared/content]\nfolders_outside_site: true\n",
            "pixpipe.yaml",
        )
        .unwrap();
        assert_eq!(ok.content[0].dir, "../shared/content");
        for d in ["0.0001", "0", "9"] {
            assert_eq!(
                error_of(&format!("densities: [{d}]\n")),
                "pixpipe.yaml:1:1: `densities` must list numbers from 0.5 to 8 (1 for standard screens, 2 for high-density ones)"
            );
        }
    }

    #[test]
    fn an_unusable_value_is_reported_at_its_key() {
        assert_eq!(
            error_of("densities: [1]\ncontent_width: 0\n"),
            "pixpipe.yaml:2:1: `content_width` must be more than 0"
        );
        assert_eq!(
            error_of("quality: {jpeg: 0}\n"),
            "pixpipe.yaml:1:1: quality for `jpeg` must be 1 to 100"
        );
        assert_eq!(
            error_of("densities: [1]\nquality:\n  jpg: 90\n"),
            "pixpipe.yaml:2:1: unknown format `jpg` in `quality` (use jpeg, webp or avif; PNG is \
             lossless)"
        );
        // Written as one flow mapping, the key has no line of its own.
        assert_eq!(
            error_of("{content_width: 0}\n"),
            "pixpipe.yaml: `content_width` must be more than 0"
        );
    }

    #[test]
    fn webp_effort_defaults_to_4_is_0_to_6_and_is_planned_for_webp_only() {
        use crate::plan::{OutFormat, Variant};
        assert_eq!(
            error_of("content_width: 800\nwebp_effort: 7\n"),
            "pixpipe.yaml:2:1: `webp_effort` must be 0 to 6, not 7"
        );
        assert_eq!(Config::default().webp_effort, 4);
        let c = Config::from_yaml("webp_effort: 2\n", "p").unwrap();
        assert_eq!(Variant::new(100, 50, OutFormat::Webp, &c).effort, 2);
        assert_eq!(Variant::new(100, 50, OutFormat::Jpeg, &c).effort, 0);
        // A PNG's effort says whether a palette may replace its colours (auto by default).
        assert_eq!(Variant::new(100, 50, OutFormat::Png, &c).effort, 1);
    }

    #[test]
    fn avif_is_a_format_with_its_own_quality_and_speed() {
        use crate::plan::{OutFormat, Variant};
        assert_eq!(
            error_of("formats: [auto, avif]\navif_speed: 11\n"),
            "pixpipe.yaml:2:1: `avif_speed` must be 0 to 9, not 11"
        );
        assert_eq!(
            error_of("formats: [auto, heic]\n"),
            "pixpipe.yaml:1:1: unknown format `heic` in `formats` (use auto, jpeg, png, webp or \
             avif)"
        );
        let d = Variant::new(100, 50, OutFormat::Avif, &Config::default());
        assert_eq!(
            (d.quality, d.effort),
            (DEFAULT_AVIF_QUALITY, DEFAULT_AVIF_SPEED)
        );
        let c = Config::from_yaml(
            "formats: [auto, webp, avif]\nquality: {avif: 40}\navif_speed: 9\n",
            "p",
        )
        .unwrap();
        let v = Variant::new(100, 50, OutFormat::Avif, &c);
        assert_eq!((v.quality, v.effort), (40, 9));
        assert_eq!(Variant::new(100, 50, OutFormat::Webp, &c).quality, 80);
    }

    #[test]
    fn explain_text_gives_the_output_settings_and_each_shortcodes_source() {
        let c = Config::from_yaml(
            "densities: [1, 1.5]\nformats: [jpeg, webp]\nquality: {webp: 70}\nwebp_effort: 2\n",
            "p",
        )
        .unwrap();
        assert!(
            c.explain_text().contains(
                "\nshortcode gallery: source the files its `match` pattern matches; lookup page; \
                 Hugo links\n"
            ),
            "{}",
            c.explain_text()
        );
        assert!(
            c.explain_text().contains(
                "\nshortcode imgproc: source src, else positional 0, as `**{}*` among the \
                 page's resources; lookup page; Hugo links\n"
            ),
            "{}",
            c.explain_text()
        );
        assert!(
            c.explain_text().contains(
                "\noutputs: jpeg, webp for a 1200 px column at densities 1, 1.5; \
                 quality jpeg 80, webp 70, avif 43; webp effort 2; avif speed 8; metadata \
                 strip\n"
            ),
            "{}",
            c.explain_text()
        );
    }

    #[test]
    fn shortcode_override_keeps_the_builtin_fields_it_does_not_name() {
        let c = Config::from_yaml(
            "shortcodes:\n  image:\n    link: page-dir\n    lookup: [url]\n",
            "p",
        )
        .unwrap();
        let r = &c.shortcodes["image"];
        assert_eq!(r.src, vec!["link", "src"]);
        assert_eq!(r.link, LinkRule::PageDir);
        assert_eq!(r.lookup, vec![Lookup::Url]);
    }

    #[test]
    fn null_turns_a_builtin_shortcode_off() {
        let c = Config::from_yaml("shortcodes:\n  img: ~\n", "p").unwrap();
        assert!(!c.shortcodes.contains_key("img"));
        assert!(c.shortcodes.contains_key("figure"));
    }

    #[test]
    fn languages_get_url_prefixes() {
        let c = Config::from_yaml(
            "content:\n  - {dir: content/en, lang: en}\n  - {dir: content/zh/, lang: zh, url_prefix: zh}\n",
            "p",
        )
        .unwrap();
        assert_eq!(c.content[1].dir, "content/zh");
        assert_eq!(c.content[1].url_prefix, "/zh");
        assert_eq!(c.content_dir_of("content/zh/a.md").unwrap().lang, "zh");
    }
}
