//! Inventory: every image reference of a scanned site, located and resolved.
//!
//! Pure: it runs `extract` and `resolve` over what `scan` read (pages in parallel with rayon,
//! results in page order), and turns extraction problems into diagnostics.

use crate::config::{Config, LinkRule, Lookup};
use crate::extract::{self, ImageRef, Rules, Syntax};
use crate::position::{LineCol, Span};
use crate::report::{Diagnostic, Severity};
use crate::resolve::{self, PageInfo, Resolution};
use crate::scan::{Page, Site};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// One reference with where it is and what it resolved to.
#[derive(Debug, Clone)]
pub struct Reference {
    /// Index of the page in `Site::pages`.
    pub page_index: usize,
    /// Site-relative page path, shared by the page's references (a page can hold 80,000).
    pub page: std::sync::Arc<str>,
    /// Position of the reference's first character.
    pub pos: LineCol,
    /// The reference as extracted.
    pub image: ImageRef,
    /// Where its file is.
    pub resolution: Resolution,
}

/// All references and the problems met while finding them.
#[derive(Debug, Default)]
pub struct Inventory {
    /// References sorted by page, then position.
    pub refs: Vec<Reference>,
    /// Problems, sorted.
    pub diagnostics: Vec<Diagnostic>,
    /// Image shortcodes inside code blocks (Hugo executes them): at most
    /// `report::MAX_PER_CODE` for each page.
    pub shortcodes_in_code: Vec<(usize, LineCol, String)>,
    /// For each page with more image shortcodes in code than that: the summary diagnostic
    /// that stands for the rest (`check` reports shortcodes in code, `scan` does not).
    pub shortcodes_in_code_omitted: Vec<Diagnostic>,
}

/// How a syntax is resolved under `config`.
pub fn rule_for(syntax: &Syntax, config: &Config) -> (LinkRule, Vec<Lookup>) {
    match syntax {
        Syntax::Shortcode(n) => match config.shortcodes.get(n) {
            Some(r) => (r.link, r.lookup.clone()),
            None => (LinkRule::Hugo, vec![Lookup::Url]),
        },
        Syntax::Markdown => (LinkRule::Hugo, config.markdown_lookup.clone()),
        Syntax::Html => (LinkRule::Hugo, config.html_lookup.clone()),
        // Templates look front matter images up as page resources, then global resources.
        Syntax::FrontMatter(_) => (
            LinkRule::Hugo,
            vec![Lookup::Page, Lookup::Assets, Lookup::Url],
        ),
    }
}

/// A diagnostic located at `span` of `page`. Reads only a window of a long line: a page can
/// have thousands of problems on one line (issue #17, item 7).
pub fn located(page: &Page, span: Span, d: Diagnostic) -> Diagnostic {
    let pos = page.lines.line_col(&page.text, span.start);
    let line = page.lines.line_text(&page.text, pos.line);
    let at = span
        .start
        .saturating_sub(page.lines.line_start(&page.text, pos.line));
    d.in_file(page.path.clone()).at_byte(pos, line, at)
}

/// Extract and resolve every reference of `site`.
pub fn take(site: &Site, config: &Config) -> Inventory {
    let rules = Rules::from_config(config);
    let per_page: Vec<Inventory> = site
        .pages
        .par_iter()
        .enumerate()
        .map(|(i, page)| page_inventory(i, page, site, config, &rules))
        .collect();
    let mut inv = Inventory::default();
    for p in per_page {
        append(&mut inv.refs, p.refs);
        append(&mut inv.diagnostics, p.diagnostics);
        append(&mut inv.shortcodes_in_code, p.shortcodes_in_code);
        append(
            &mut inv.shortcodes_in_code_omitted,
            p.shortcodes_in_code_omitted,
        );
    }
    inv
}

/// `more` after `all`; moved, not copied, while `all` is empty: a reference is most of a
/// kilobyte, and the copy of a page's 80,000 was a tenth of the time they took (issue #17,
/// item 7).
fn append<T>(all: &mut Vec<T>, more: Vec<T>) {
    if all.is_empty() {
        *all = more;
    } else {
        all.extend(more);
    }
}

fn page_inventory(i: usize, page: &Page, site: &Site, config: &Config, rules: &Rules) -> Inventory {
    let mut inv = Inventory::default();
    let ex = extract::extract(&page.text, rules);
    inv.diagnostics = problem_diagnostics(page, &ex.problems);
    let shown = ex.shortcodes_in_code.len().min(crate::report::MAX_PER_CODE);
    for c in &ex.shortcodes_in_code[..shown] {
        inv.shortcodes_in_code.push((
            i,
            page.lines.line_col(&page.text, c.span.start),
            c.name.clone(),
        ));
    }
    if let Some(first) = ex.shortcodes_in_code.get(shown) {
        inv.shortcodes_in_code_omitted.push(crate::report::omitted(
            Severity::Warning,
            "shortcode-in-code",
            page.path.clone(),
            Some(page.lines.line_col(&page.text, first.span.start)),
            ex.shortcodes_in_code.len() - shown,
        ));
    }
    let Some(info) = PageInfo::new(&page.path, config) else {
        return inv;
    };
    let resolved = resolve_each(&ex.refs, &info, config, site);
    inv.refs.reserve(ex.refs.len());
    let path: std::sync::Arc<str> = page.path.as_str().into();
    let mut positions = page.lines.cursor(&page.text);
    for (image, resolution) in ex.refs.into_iter().zip(resolved) {
        let pos = positions.line_col(image.span.start);
        let mut push = |image, resolution| {
            inv.refs.push(Reference {
                page_index: i,
                page: path.clone(),
                pos,
                image,
                resolution,
            })
        };
        match resolution {
            Some(resolution) => push(image, resolution),
            // A glob: one reference per match.
            None => {
                let glob = image
                    .glob
                    .as_ref()
                    .map(|g| g.text.clone())
                    .unwrap_or_default();
                for (image, resolution) in glob_references(image, &glob, &info, config, site) {
                    push(image, resolution);
                }
            }
        }
    }
    inv
}

/// The resolution of each of `refs` but those whose source is a glob (`None`, see
/// `glob_references`). A source written many times under one syntax is resolved once and its
/// resolution copied: a page naming one image 80,000 times resolved it 80,000 times, most of
/// the time it took (issue #17, item 7).
fn resolve_each(
    refs: &[ImageRef],
    info: &PageInfo,
    config: &Config,
    site: &Site,
) -> Vec<Option<Resolution>> {
    let mut known: FxHashMap<(&Syntax, &str), Resolution> = FxHashMap::default();
    refs.iter()
        .map(|image| {
            if image.glob.is_some() {
                return None;
            }
            let key = (&image.syntax, image.src.text.as_str());
            let resolution = known.entry(key).or_insert_with(|| {
                let (link, lookup) = rule_for(&image.syntax, config);
                resolve::resolve(&image.src.text, link, &lookup, info, config, &site.assets)
            });
            Some(resolution.clone())
        })
        .collect()
}

/// The diagnostics of `problems` (in text order): `report::MAX_PER_CODE` of each code, then
/// one that says how many more there are. Only those shown are located: a page with 20,000
/// broken tags is not 20,000 positions and snippets (issue #17, item 7).
fn problem_diagnostics(page: &Page, problems: &[extract::Problem]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    // Per code: how many, and where the first one left out is.
    let mut seen: std::collections::BTreeMap<&'static str, (usize, Option<Span>)> =
        Default::default();
    for p in problems {
        let (n, first_left_out) = seen.entry(p.code).or_insert((0, None));
        *n += 1;
        if *n > crate::report::MAX_PER_CODE {
            first_left_out.get_or_insert(p.span);
            continue;
        }
        let d = Diagnostic::error(p.code, p.message.clone());
        let d = match &p.help {
            Some(h) => d.with_help(h.clone()),
            None => d,
        };
        out.push(located(page, p.span, d));
    }
    for (code, (n, first)) in seen {
        if let Some(first) = first {
            out.push(crate::report::omitted(
                Severity::Error,
                code,
                page.path.clone(),
                Some(page.lines.line_col(&page.text, first.start)),
                n - crate::report::MAX_PER_CODE,
            ));
        }
    }
    crate::report::sort(&mut out);
    out
}

/// A reference whose source is a pattern among the page's resources: the first match (or,
/// for a shortcode that shows a set, one reference per match), or a missing one.
fn glob_references(
    image: ImageRef,
    glob: &str,
    info: &PageInfo,
    config: &Config,
    site: &Site,
) -> Vec<(ImageRef, Resolution)> {
    let found = resolve::resolve_glob(glob, info, config, &site.assets);
    let is_set = match &image.syntax {
        Syntax::Shortcode(n) => config.shortcodes.get(n).is_some_and(|r| r.set.is_some()),
        _ => false,
    };
    let bundle = if info.resource_dir.is_empty() {
        info.content.dir.clone()
    } else {
        format!("{}/{}", info.content.dir, info.resource_dir)
    };
    if found.is_empty() {
        let primary = format!("{bundle}/{glob}");
        return vec![(
            image,
            Resolution::Missing {
                primary,
                link_outside: None,
                link_ignored: None,
                elsewhere: None,
            },
        )];
    }
    let take = if is_set { found.len() } else { 1 };
    found
        .into_iter()
        .take(take)
        .map(|path| {
            let mut one = image.clone();
            if is_set {
                one.src.text = path
                    .strip_prefix(&format!("{bundle}/"))
                    .unwrap_or(&path)
                    .to_string();
            }
            (
                one,
                Resolution::Found {
                    path,
                    via: Lookup::Page,
                },
            )
        })
        .collect()
}

/// One line of `scan --format jsonl`.
#[derive(serde::Serialize)]
struct JsonRef<'a> {
    page: &'a str,
    line: usize,
    column: usize,
    syntax: String,
    src: &'a str,
    width: Option<&'a str>,
    height: Option<&'a str>,
    ratio: Option<&'a str>,
    alt: Option<&'a str>,
    title: Option<&'a str>,
    caption: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    glob: Option<&'a str>,
    resolved: Option<&'a str>,
    exists: Option<bool>,
}

/// The references as JSON Lines, one object per reference.
pub fn to_jsonl(refs: &[Reference]) -> String {
    let mut out = String::new();
    for r in refs {
        fn v(x: &Option<Box<extract::Value>>) -> Option<&str> {
            x.as_ref().map(|v| v.text.as_str())
        }
        let j = JsonRef {
            page: &r.page,
            line: r.pos.line,
            column: r.pos.column,
            syntax: r.image.syntax.to_string(),
            src: &r.image.src.text,
            width: v(&r.image.width),
            height: v(&r.image.height),
            ratio: v(&r.image.ratio),
            alt: v(&r.image.alt),
            title: v(&r.image.title),
            caption: v(&r.image.caption),
            glob: v(&r.image.glob),
            resolved: r.resolution.resolved(),
            exists: r.resolution.exists(),
        };
        out.push_str(&serde_json::to_string(&j).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// The references as an aligned table for people.
pub fn to_table(refs: &[Reference]) -> String {
    let rows: Vec<[String; 4]> = refs
        .iter()
        .map(|r| {
            let status = match &r.resolution {
                Resolution::Found { path, .. } => path.clone(),
                Resolution::Missing { primary, .. } => format!("MISSING {primary}"),
                Resolution::Remote => "remote".into(),
                Resolution::Template => "template".into(),
                Resolution::Empty => "EMPTY".into(),
                Resolution::OutsideRoot => "OUTSIDE ROOT".into(),
            };
            [
                format!("{}:{}:{}", r.page, r.pos.line, r.pos.column),
                r.image.syntax.to_string(),
                r.image.src.text.clone(),
                status,
            ]
        })
        .map(|row| row.map(|c| crate::report::clean(&c)))
        .collect();
    let mut w = [8usize, 6, 3];
    for row in &rows {
        for k in 0..3 {
            w[k] = w[k].max(row[k].chars().count());
        }
    }
    let mut out = format!(
        "{:<a$}  {:<b$}  {:<c$}  {}\n",
        "LOCATION",
        "SYNTAX",
        "SRC",
        "FILE",
        a = w[0],
        b = w[1],
        c = w[2]
    );
    for row in rows {
        out.push_str(&format!(
            "{:<a$}  {:<b$}  {:<c$}  {}\n",
            row[0],
            row[1],
            row[2],
            row[3],
            a = w[0],
            b = w[1],
            c = w[2]
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::{AssetIndex, Entry};

    fn site(text: &str, files: &[&str]) -> Site {
        let mut assets = AssetIndex::default();
        for f in files {
            assets
                .entries
                .insert(f.to_string(), Entry::File { bytes: 1 });
        }
        let page = crate::scan::page_from_bytes("content/post/index.md", text.into());
        Site {
            root: "/site".into(),
            pages: vec![page.expect("page")],
            assets,
            diagnostics: vec![],
            unreadable: vec![],
        }
    }

    // Each source is resolved once per syntax and the resolution given to every reference
    // that repeats it (issue #17, item 7): each must still be what resolving it alone gives.
    #[test]
    fn a_repeated_source_resolves_as_when_written_once() {
        let text = "![a](a.png)\n\n{{< figure src=\"a.png\" >}}\n\n![a](a.png) ![b](/b.png)\n\n\
                    {{< gallery match=\"*.png\" >}}\n\n![a](a.png)\n";
        let site = site(text, &["content/post/a.png", "content/post/c.png"]);
        let config = Config::default();
        let inv = take(&site, &config);
        let info = PageInfo::new(&site.pages[0].path, &config).expect("page info");
        let alone: Vec<(String, Resolution)> = inv
            .refs
            .iter()
            .filter(|r| r.image.glob.is_none())
            .map(|r| {
                let (link, lookup) = rule_for(&r.image.syntax, &config);
                let res = resolve::resolve(
                    &r.image.src.text,
                    link,
                    &lookup,
                    &info,
                    &config,
                    &site.assets,
                );
                (r.image.src.text.clone(), res)
            })
            .collect();
        let got: Vec<(String, Resolution)> = inv
            .refs
            .iter()
            .filter(|r| r.image.glob.is_none())
            .map(|r| (r.image.src.text.clone(), r.resolution.clone()))
            .collect();
        assert_eq!(got.len(), 5, "{got:?}");
        assert_eq!(got, alone);
        let lines: Vec<usize> = inv.refs.iter().map(|r| r.pos.line).collect();
        assert_eq!(lines, vec![1, 3, 5, 5, 7, 7, 9], "{:?}", inv.refs);
    }
}
