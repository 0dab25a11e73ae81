//! Check: every referenced image exists, is readable and fits what its page declares.
//!
//! `check` is pure: it takes what `scan`, `inventory` and `probe` produced and returns
//! diagnostics located at the value the user has to change. `analyze::check_site` is the I/O
//! wrapper the command uses. Remote images are never fetched.

use crate::config::{Config, LintLevel, Lookup};
use crate::declared::{parse_ratio, parse_width, DeclaredWidth};
use crate::extract::{Syntax, Value};
use crate::inventory::{self, Inventory, Reference};
use crate::probe::{self, Probe};
use crate::report::{Diagnostic, Severity};
use crate::resolve::{self, clean_src, Entry, PageInfo, Resolution};
use crate::scan::Site;
use std::collections::{BTreeMap, BTreeSet};
use unicode_normalization::UnicodeNormalization;

/// How `check` runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// Decode every pixel, not only headers and structure.
    pub deep: bool,
}

/// What `check` found.
#[derive(Debug)]
pub struct CheckReport {
    /// Every finding, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
    /// Pages scanned.
    pub pages: usize,
    /// References found.
    pub references: usize,
    /// Distinct local image files probed.
    pub images: usize,
}

fn fmt_num(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// The severity a lint set to `l` reports at (none when it is off).
pub(crate) fn level_severity(l: LintLevel) -> Option<Severity> {
    match l {
        LintLevel::Off => None,
        LintLevel::Note => Some(Severity::Note),
        LintLevel::Warning => Some(Severity::Warning),
        LintLevel::Error => Some(Severity::Error),
    }
}

/// Every finding about the references of `site`.
pub fn check(
    site: &Site,
    inv: &Inventory,
    config: &Config,
    probes: &BTreeMap<String, Probe>,
) -> Vec<Diagnostic> {
    let mut out = site.diagnostics.clone();
    out.extend(inv.diagnostics.iter().cloned());
    for (page_index, pos, name) in &inv.shortcodes_in_code {
        let page = &site.pages[*page_index];
        let line = page.lines.line_text(&page.text, pos.line).to_string();
        out.push(
            Diagnostic::warning(
                "shortcode-in-code",
                format!("shortcode `{name}` inside a code block is still run by Hugo"),
            )
            .in_file(page.path.clone())
            .at(*pos, line)
            .with_help(format!(
                "to show it as code, escape it: {{{{</* {name} … */>}}}}"
            )),
        );
    }
    for r in &inv.refs {
        check_ref(site, r, config, probes, &mut out);
    }
    if let Some(sev) = level_severity(config.lint.orphans) {
        out.extend(orphans(site, inv, config, sev));
    }
    crate::report::sort(&mut out);
    out
}

fn at(site: &Site, r: &Reference, v: &Value, d: Diagnostic) -> Diagnostic {
    inventory::located(&site.pages[r.page_index], v.span, d).with_src(
        r.image.src.text.clone(),
        r.resolution.resolved().map(str::to_string),
    )
}

fn check_ref(
    site: &Site,
    r: &Reference,
    config: &Config,
    probes: &BTreeMap<String, Probe>,
    out: &mut Vec<Diagnostic>,
) {
    let src = &r.image.src;
    match &r.resolution {
        Resolution::Remote | Resolution::Template => {}
        Resolution::Empty => out.push(at(
            site,
            r,
            src,
            Diagnostic::error("missing-image", "image source is empty").with_help("write the path of the image file"),
        )),
        Resolution::OutsideRoot => out.push(at(
            site,
            r,
            src,
            Diagnostic::error("outside-root", format!("image path leaves the site root: {}", src.text))
                .with_help("copy the image into the site (the page bundle, static/ or assets/) and link to it there"),
        )),
        Resolution::Missing { link_outside: None, link_ignored: Some(link), .. } => out.push(at(
            site,
            r,
            src,
            Diagnostic::error("missing-image", format!("image is a symbolic link in content, which Hugo never publishes: {link}"))
                .with_help("replace the link with a copy of the file"),
        )),
        Resolution::Missing { link_outside: Some(link), .. }
            if matches!(site.assets.entries.get(link), Some(Entry::LinkBroken)) =>
        {
            out.push(at(
                site,
                r,
                src,
                Diagnostic::error("missing-image", format!("image is a symbolic link that leads to no file (its target is missing or not a file, or the links loop): {link}"))
                    .with_help("point the link at the image, or replace it with a copy of the file"),
            ))
        }
        Resolution::Missing { link_outside: Some(link), .. } => out.push(at(
            site,
            r,
            src,
            Diagnostic::error("outside-root", format!("image is a symbolic link to a file outside the site root: {link}"))
                .with_help("replace the link with a copy of the file; it is never read or published"),
        )),
        Resolution::Missing { elsewhere: Some((file, url)), .. } => {
            out.push(at(site, r, src, not_at_this_language(r, config, file, url)))
        }
        Resolution::Missing { primary, .. } => {
            let mut d = Diagnostic::error("missing-image", format!("image not found: {}", src.text));
            if let Some(h) = suggest(site, r, primary, config) {
                d = d.with_help(h);
            }
            out.push(at(site, r, src, d));
        }
        Resolution::Found { path, .. } => {
            let Some(p) = probes.get(path) else { return };
            for f in &p.findings {
                let mut d = Diagnostic::new(f.severity, f.code, format!("{}: {}", path, f.message));
                if let Some(h) = &f.help {
                    d = d.with_help(h.clone());
                }
                out.push(at(site, r, src, d));
            }
            if p.is_broken() {
                return;
            }
            if let Some(info) = &p.info {
                check_fit(site, r, config, p, info, out);
            }
        }
    }
    check_text_lints(site, r, config, out);
}

/// A reference whose file Hugo publishes only under another language's URL (`url`): a
/// translation's raw `<img>` of a file its bundle shares with the default language, or of a
/// file named for another language.
fn not_at_this_language(r: &Reference, config: &Config, file: &str, url: &str) -> Diagnostic {
    if let Some(lang) = config.language_in_name(file) {
        return Diagnostic::error(
            "missing-image",
            format!("image not published at this page's URL: {file} is named for language `{lang}`, so Hugo publishes it only at {url}"),
        )
        .with_help(format!("link {url}, or give this page's language its own file"));
    }
    let markdown_finds_it =
        r.image.syntax != Syntax::Markdown && config.markdown_lookup.contains(&Lookup::Page);
    let help = if markdown_finds_it {
        format!("link {url}, or make it a Markdown image: Hugo's image render hook finds the file in the default language's bundle")
    } else {
        format!("link {url}, or put a copy of the file in this page's bundle")
    };
    Diagnostic::error(
        "missing-image",
        format!("image not published at this page's URL: Hugo publishes {file} once, at {url}, not once per language"),
    )
    .with_help(help)
}

/// Whether the image `r` found (probed as `p`, `info`) fits what its page declares: its
/// ratio and width; then the lints about the file itself.
fn check_fit(
    site: &Site,
    r: &Reference,
    config: &Config,
    p: &Probe,
    info: &probe::ImageInfo,
    out: &mut Vec<Diagnostic>,
) {
    if let Some(ratio) = &r.image.ratio {
        check_ratio(site, r, ratio, info, out);
    }
    if let Some(width) = &r.image.width {
        check_width(site, r, config, width, info, out);
    }
    check_file_lints(site, r, config, p, info, out);
}

/// The declared `ratio` of `r`: one that cannot be read, or one more than a percentage
/// point off the image's ratio as displayed (upright).
fn check_ratio(
    site: &Site,
    r: &Reference,
    ratio: &Value,
    info: &probe::ImageInfo,
    out: &mut Vec<Diagnostic>,
) {
    let (dw, dh) = info.display_size();
    match parse_ratio(&ratio.text) {
        None => out.push(at(
            site,
            r,
            ratio,
            Diagnostic::error(
                "bad-ratio",
                format!("{} has {}=\"{}\"", what(r), ratio.name, ratio.text),
            )
            .with_help("write the height as a percentage of the width, like ratio=\"56.25%\""),
        )),
        Some(declared) if dw > 0 && dh > 0 => {
            let actual = dh as f64 * 100.0 / dw as f64;
            if (declared - actual).abs() > 1.0 {
                out.push(at(
                    site,
                    r,
                    ratio,
                    Diagnostic::warning(
                        "ratio-mismatch",
                        format!(
                            "declared ratio {} does not match the image: {}x{} is {}%",
                            ratio.text,
                            dw,
                            dh,
                            fmt_num(actual)
                        ),
                    )
                    .with_help(format!(
                        "write {}=\"{}%\"",
                        ratio.name,
                        fmt_num(actual)
                    )),
                ));
            }
        }
        Some(_) => {}
    }
}

/// The declared `width` of `r`: one that cannot be read, or one wider than the image as
/// displayed, a percentage counting as that share of `content_width`. A vector image
/// scales to any width.
fn check_width(
    site: &Site,
    r: &Reference,
    config: &Config,
    width: &Value,
    info: &probe::ImageInfo,
    out: &mut Vec<Diagnostic>,
) {
    let (dw, _) = info.display_size();
    let vector = info.format == probe::Format::Svg;
    match parse_width(&width.text) {
        None => {
            let help = if width.text.trim().ends_with('%') {
                format!(
                    "write a percentage without a space ({}=\"{}%\")",
                    width.name,
                    width.text.trim().trim_end_matches('%').trim()
                )
            } else {
                format!(
                    "write a pixel count ({0}=\"640\") or a percentage ({0}=\"40%\")",
                    width.name
                )
            };
            out.push(at(
                site,
                r,
                width,
                Diagnostic::error(
                    "bad-width",
                    format!("{} has {}=\"{}\"", what(r), width.name, width.text),
                )
                .with_help(help),
            ));
        }
        Some(w) if !vector && dw > 0 => {
            let (needed, how) = match w {
                DeclaredWidth::Px(px) => (px, format!("{}=\"{}\"", width.name, width.text)),
                DeclaredWidth::Percent(pc) => (
                    pc * config.content_width as f64 / 100.0,
                    format!(
                        "{}=\"{}\" ({} of content_width {})",
                        width.name, width.text, width.text, config.content_width
                    ),
                ),
            };
            let needed_px = needed.ceil() as u64;
            if (dw as u64) < needed_px {
                out.push(at(
                    site,
                    r,
                    width,
                    Diagnostic::warning(
                        "too-small",
                        format!("image is {dw} px wide, but {how} shows it {needed_px} px wide"),
                    )
                    .with_help(format!(
                        "use an original at least {needed_px} px wide ({} px for 2x screens), or declare a smaller width",
                        needed_px * 2
                    )),
                ));
            }
        }
        Some(_) => {}
    }
}

/// The opt-in lints about the file `r` found, whatever its page declares: GPS coordinates
/// in it, and its size over `max_bytes`.
fn check_file_lints(
    site: &Site,
    r: &Reference,
    config: &Config,
    p: &Probe,
    info: &probe::ImageInfo,
    out: &mut Vec<Diagnostic>,
) {
    if let Some(sev) = level_severity(config.lint.gps) {
        if info.gps {
            out.push(at(
                site,
                r,
                &r.image.src,
                Diagnostic::new(sev, "gps", format!("{} carries GPS coordinates and is published as is", r.resolution.resolved().unwrap_or("")))
                    .with_help("publish it through `pixpipe build` (which never copies GPS), or strip it: exiftool -gps:all= FILE"),
            ));
        }
    }
    if let Some(sev) = level_severity(config.lint.max_bytes) {
        if p.bytes > config.lint.max_bytes_limit {
            out.push(at(
                site,
                r,
                &r.image.src,
                Diagnostic::new(
                    sev,
                    "max-bytes",
                    format!(
                        "image is {} bytes, over the budget of {} bytes",
                        p.bytes, config.lint.max_bytes_limit
                    ),
                )
                .with_help("publish resized copies with `pixpipe build`, or compress the original"),
            ));
        }
    }
}

fn what(r: &Reference) -> String {
    match &r.image.syntax {
        Syntax::Shortcode(n) => format!("shortcode `{n}`"),
        Syntax::Markdown => "Markdown image".into(),
        Syntax::Html => "<img>".into(),
        Syntax::FrontMatter(k) => format!("front matter `{k}`"),
    }
}

fn check_text_lints(site: &Site, r: &Reference, config: &Config, out: &mut Vec<Diagnostic>) {
    if let (Some(sev), Some(c)) = (level_severity(config.lint.caption_period), &r.image.caption) {
        let t = c.text.trim_end();
        if t.ends_with('.') && !t.ends_with("...") {
            out.push(at(
                site,
                r,
                c,
                Diagnostic::new(sev, "caption-period", "caption ends with a period")
                    .with_help(format!("write {}=\"{}\"", c.name, t.trim_end_matches('.'))),
            ));
        }
    }
    if let Some(sev) = level_severity(config.lint.missing_alt) {
        let has = |v: &Option<Box<Value>>| v.as_ref().is_some_and(|v| !v.text.trim().is_empty());
        // Front matter images are shown by templates, which bring their own alt text.
        let in_text = !matches!(r.image.syntax, Syntax::FrontMatter(_));
        if in_text
            && !has(&r.image.alt)
            && !has(&r.image.caption)
            && !matches!(r.resolution, Resolution::Remote)
        {
            let hint = match &r.image.syntax {
                Syntax::Markdown => {
                    "describe the image between the brackets: ![what it shows](…)".to_string()
                }
                Syntax::FrontMatter(_) => String::new(),
                Syntax::Html => {
                    "add alt=\"what it shows\" (alt=\"\" for a decorative image)".to_string()
                }
                Syntax::Shortcode(_) => "add alt=\"what it shows\" or a caption".to_string(),
            };
            let page = &site.pages[r.page_index];
            out.push(
                inventory::located(
                    page,
                    r.image.span,
                    Diagnostic::new(sev, "missing-alt", "image has no alt text"),
                )
                .with_help(hint)
                .with_src(
                    r.image.src.text.clone(),
                    r.resolution.resolved().map(str::to_string),
                ),
            );
        }
    }
}

/// Image files in content folders that no reference resolved to.
fn orphans(site: &Site, inv: &Inventory, config: &Config, sev: Severity) -> Vec<Diagnostic> {
    let used: BTreeSet<&str> = inv
        .refs
        .iter()
        .filter_map(|r| r.resolution.resolved())
        .collect();
    // Front matter often names bundle images (cover:, images:); count any mention as a use.
    let mentioned = |path: &str| {
        let name = path.rsplit('/').next().unwrap_or(path);
        let dir = &path[..path.len() - name.len()];
        site.pages.iter().any(|p| {
            let page_dir = &p.path[..p.path.rfind('/').map(|i| i + 1).unwrap_or(0)];
            dir.starts_with(page_dir) && p.text.contains(name)
        })
    };
    let mut out = Vec::new();
    for path in site.assets.entries.keys() {
        let in_content = config
            .content
            .iter()
            .any(|c| path.starts_with(&format!("{}/", c.dir)));
        if !in_content
            || probe::Format::from_extension(path).is_none()
            || used.contains(path.as_str())
            || mentioned(path)
        {
            continue;
        }
        out.push(
            Diagnostic::new(sev, "orphan", format!("no page references {path}"))
                .in_file(path.clone())
                .with_help("delete it, or reference it from its page"),
        );
    }
    out
}

/// A fix for a missing image: a name that differs in case, Unicode form, extension or a
/// typo, in the same folder, or the same name elsewhere in the site. Every suggestion is
/// checked to resolve before it is made.
fn suggest(site: &Site, r: &Reference, primary: &str, config: &Config) -> Option<String> {
    let page = &site.pages[r.page_index];
    let info = PageInfo::new(&page.path, config)?;
    let (link, lookup) = inventory::rule_for(&r.image.syntax, config);
    let written = clean_src(&r.image.src.text);
    let written_dir = &written[..written.rfind('/').map(|i| i + 1).unwrap_or(0)];
    let base = &written[written_dir.len()..];
    let (folder, missing_name) = match primary.rfind('/') {
        Some(i) => (&primary[..i], &primary[i + 1..]),
        None => ("", primary),
    };
    let resolves_to = |candidate_src: &str, file: &str| {
        matches!(resolve::resolve(candidate_src, link, &lookup, &info, config, &site.assets),
            Resolution::Found { ref path, .. } if path == file)
    };
    let in_folder: Vec<&str> = site.assets.files_in(folder).collect();
    let name_of = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
    let lower = missing_name.to_lowercase();
    // 1. Same name in another case.
    for f in &in_folder {
        let n = name_of(f);
        if n != missing_name && n.to_lowercase() == lower {
            let s = format!("{written_dir}{n}");
            if resolves_to(&s, f) || base.is_empty() {
                return Some(format!(
                    "did you mean {s}? names are case-sensitive on Linux, and the file is `{n}`"
                ));
            }
        }
    }
    // 2. The other Unicode normalisation form.
    let nfc: String = missing_name.nfc().collect();
    for f in &in_folder {
        let n = name_of(f);
        if n != missing_name && n.nfc().collect::<String>() == nfc {
            let form = if n.nfd().collect::<String>() == n {
                "NFD"
            } else {
                "NFC"
            };
            return Some(format!(
                "the file `{n}` has the same name in Unicode {form} form, which a Linux server treats as a different name; rename the file to the form written here"
            ));
        }
    }
    // 3. A missing extension, or the nearest name (a typo).
    let mut best: Option<(usize, String)> = None;
    for f in &in_folder {
        let n = name_of(f);
        if probe::Format::from_extension(&n).is_none() {
            continue;
        }
        let dist = if n.starts_with(&format!("{missing_name}.")) {
            0
        } else {
            strsim::levenshtein(&n, missing_name)
        };
        let limit = (missing_name.chars().count() / 4).clamp(1, 3);
        if dist <= limit && best.as_ref().is_none_or(|(d, b)| (dist, &n) < (*d, b)) {
            best = Some((dist, n));
        }
    }
    if let Some((_, n)) = best {
        let s = format!("{written_dir}{n}");
        let file = if folder.is_empty() {
            n.clone()
        } else {
            format!("{folder}/{n}")
        };
        if resolves_to(&s, &file) {
            return Some(format!("did you mean {s}?"));
        }
    }
    // 4. The same name somewhere else: the bundle, static/, assets/.
    let suffix = format!("/{missing_name}");
    let elsewhere: Vec<&String> = site
        .assets
        .entries
        .keys()
        .filter(|p| p.ends_with(&suffix))
        .collect();
    for path in &elsewhere {
        for cand in candidate_srcs(path, &info, config) {
            if resolves_to(&cand, path) {
                return Some(format!("did you mean {cand}? the file is {path}"));
            }
        }
    }
    if let Some(path) = elsewhere.first() {
        let root = path.split('/').next().unwrap_or("");
        return Some(format!(
            "a file of that name is at {path}, but this kind of reference is not looked up in {root}/; move the file, or change the lookup order in pixpipe.yaml"
        ));
    }
    None
}

/// Ways to write a reference to site file `path` from a page.
fn candidate_srcs(path: &str, info: &PageInfo, config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let bundle = if info.dir.is_empty() {
        info.content.dir.clone()
    } else {
        format!("{}/{}", info.content.dir, info.dir)
    };
    if let Some(rel) = path.strip_prefix(&format!("{bundle}/")) {
        out.push(format!("./{rel}"));
        out.push(rel.to_string());
    }
    for d in config.static_dirs.iter().chain(config.assets_dirs.iter()) {
        if let Some(rel) = path.strip_prefix(&format!("{d}/")) {
            out.push(format!("/{rel}"));
            out.push(rel.to_string());
        }
    }
    for c in &config.content {
        if let Some(rel) = path.strip_prefix(&format!("{}/", c.dir)) {
            // Relative to the page's URL first, as authors write links.
            if c == &info.content {
                out.push(relative_url(&info.url_dir, rel));
            }
            out.push(format!("{}/{rel}", c.url_prefix));
        }
    }
    out
}

/// The relative link from a page whose URL folder is `from` to content path `to`.
fn relative_url(from: &str, to: &str) -> String {
    let a: Vec<&str> = from.split('/').filter(|s| !s.is_empty()).collect();
    let b: Vec<&str> = to.split('/').filter(|s| !s.is_empty()).collect();
    let common = a
        .iter()
        .zip(&b)
        .take_while(|(x, y)| x == y)
        .count()
        .min(b.len().saturating_sub(1));
    let mut parts: Vec<&str> = vec![".."; a.len() - common];
    parts.extend(&b[common..]);
    let s = parts.join("/");
    if s.starts_with("..") {
        s
    } else {
        format!("./{s}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_links_between_url_folders() {
        assert_eq!(
            relative_url("tests/markdown", "tests/image.png"),
            "../image.png"
        );
        assert_eq!(relative_url("blog/a", "blog/a/x.png"), "./x.png");
        assert_eq!(relative_url("", "x.png"), "./x.png");
    }

    #[test]
    fn widths_and_ratios_parse_as_written() {
        assert_eq!(parse_width("40%"), Some(DeclaredWidth::Percent(40.0)));
        assert_eq!(parse_width("640"), Some(DeclaredWidth::Px(640.0)));
        assert_eq!(parse_width("640px"), Some(DeclaredWidth::Px(640.0)));
        assert_eq!(parse_width("40 %"), None);
        assert_eq!(parse_width("auto"), None);
        assert_eq!(parse_ratio("45.34%"), Some(45.34));
        assert_eq!(fmt_num(56.25), "56.25");
        assert_eq!(fmt_num(75.0), "75");
    }
}
