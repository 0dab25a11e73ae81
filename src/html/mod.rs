//! `pixpipe html`: optimise the images of a built static site, whatever made it.
//!
//! The stages of `build`, over built HTML instead of Markdown: read each page's `<img>` tags
//! (`page`, lol_html), resolve their URLs to files of the folder (`url`), probe them, plan
//! their widths (`plan`, the same ladder and `sizes` as `build`), make the variants through the
//! job layer (`jobs`: the cache, the memory budget and the pool every command shares), write
//! them next to their originals under hashed names, and rewrite each `<img>` into a
//! `<picture>` (`page::rewrite`: every other byte of the page unchanged). Pages are replaced
//! atomically; a second run finds every image already responsive and changes nothing.

pub mod check;
pub mod page;
pub mod prune;
pub mod url;

use crate::cache::Cache;
use crate::config::{Config, Lookup};
use crate::extract::{ImageRef, Syntax, Value};
use crate::inventory::{Inventory, Reference};
use crate::jobs::{self, Job, JobError, Made, RunOptions};
use crate::naming::{is_output_name, variant_name};
use crate::plan::{self, OutFormat, Plan, Treatment};
use crate::position::{LineIndex, Span};
use crate::probe::{self, Probe, ProbeOptions};
use crate::report::{Diagnostic, Progress};
use crate::resolve::Resolution;
use crate::site_path;
use page::{Edit, PageImages};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use url::{Base, Target};

/// How `html` runs.
#[derive(Debug, Clone)]
pub struct HtmlOptions {
    /// Work on a copy of the folder here instead of the folder itself.
    pub out: Option<PathBuf>,
    /// The site's URL (or base path), for absolute URLs and a site served under a path.
    pub base: Base,
    /// Rewrite images that already have a `srcset` or a `<picture>` too.
    pub force: bool,
    /// Remove the originals no file names any more (`prune`).
    pub prune_originals: bool,
    /// Cache folder.
    pub cache_dir: PathBuf,
    /// Worker threads.
    pub jobs: usize,
    /// Budget for the jobs' memory, in bytes.
    pub memory_bytes: u64,
    /// The shared cache behind the cache folder (`--cache s3://…`), if any.
    pub shared: Option<std::sync::Arc<crate::remote::Remote>>,
}

/// What `html` did.
#[derive(Debug, Default, serde::Serialize)]
pub struct HtmlReport {
    /// The folder worked on.
    pub dir: PathBuf,
    /// HTML pages read.
    pub pages: usize,
    /// Pages rewritten.
    pub pages_written: usize,
    /// `<img>` tags in the pages.
    pub imgs: usize,
    /// `<img>` tags turned into a `<picture>`.
    pub rewritten: usize,
    /// `<img>` tags already responsive (a `srcset`, or inside a `<picture>`), left alone.
    pub responsive: usize,
    /// Variants made now.
    pub made: usize,
    /// Variants found in the cache.
    pub reused: usize,
    /// AVIF variants left for a later run by `avif_budget` (`jobs::Ran::later`).
    pub avif_later: usize,
    /// AVIF outputs left out: together no smaller than what a browser without AVIF gets
    /// (`jobs::avif_gains`).
    pub avif_unserved: jobs::Unserved,
    /// What the run fetched from and sent to the shared cache, if it has one.
    pub shared: Option<crate::remote::Traffic>,
    /// What the rewritten images weighed before (their originals, once per page).
    pub bytes_before: u64,
    /// What a visitor's 1x fallback weighs after (the same images).
    pub bytes_after: u64,
    /// Originals removed by `--prune-originals`.
    pub pruned: prune::Pruned,
    /// Findings.
    pub diagnostics: Vec<Diagnostic>,
    /// Wall time.
    pub seconds: f64,
}

/// Why `html` could not run.
#[derive(Debug, thiserror::Error)]
pub enum HtmlError {
    /// The folder could not be read or written.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// The thread pool could not be started.
    #[error(transparent)]
    Pool(#[from] jobs::PoolError),
}

/// Optimise the images of the built site in `dir`.
pub fn html(
    dir: &Path,
    config: &Config,
    opts: &HtmlOptions,
    progress: &dyn Progress,
) -> Result<HtmlReport, HtmlError> {
    jobs::in_pool(opts.jobs, || html_in_pool(dir, config, opts, progress))?
}

/// One page read.
struct Read {
    path: String,
    text: String,
    lines: LineIndex,
    images: PageImages,
}

fn html_in_pool(
    dir: &Path,
    config: &Config,
    opts: &HtmlOptions,
    progress: &dyn Progress,
) -> Result<HtmlReport, HtmlError> {
    let started = std::time::Instant::now();
    let root = match &opts.out {
        Some(out) => {
            copy_tree(dir, out)?;
            out.clone()
        }
        None => dir.to_path_buf(),
    };
    let mut report = HtmlReport {
        dir: root.clone(),
        ..Default::default()
    };
    let (files, pages) = list(&root)?;
    let (read, unreadable) = read_pages(&root, &pages);
    report.diagnostics.extend(unreadable);
    report.pages = read.len();
    report.imgs = read.iter().map(|p| p.images.imgs.len()).sum();

    let (inv, at, diags) = inventory(&read, &files, opts);
    report.diagnostics.extend(diags);
    report.responsive = read
        .iter()
        .flat_map(|p| &p.images.imgs)
        .filter(|i| is_responsive(i))
        .count();
    let sources: Vec<String> = inv
        .refs
        .iter()
        .filter_map(|r| r.resolution.resolved().map(str::to_string))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let probes = probe::probe_files(
        &root,
        &sources,
        ProbeOptions {
            max_pixels: config.max_pixels,
            deep: false,
            decoder: None,
        },
    );
    report.diagnostics.extend(broken(&inv, &probes, &read));
    let plan = plan::plan(&inv, &probes, config);

    let cache = Cache::open(&opts.cache_dir).sharing(opts.shared.clone());
    if cache.damaged() {
        report
            .diagnostics
            .push(crate::build::damaged_cache_note(&opts.cache_dir));
    }
    let run = RunOptions::new(opts.memory_bytes, config, started);
    let (outputs, failed) = make(&root, &plan, &cache, config, run, progress, &mut report);
    for (src, e) in &failed {
        report.diagnostics.push(
            Diagnostic::error(
                "undecodable",
                format!("{src} {e}; its <img> tags are left as they are"),
            )
            .in_file(src.clone()),
        );
    }

    let edits = edits(&read, &at, &plan, &outputs, &probes, &mut report);
    let written: Vec<Result<bool, Box<Diagnostic>>> = read
        .par_iter()
        .enumerate()
        .map(|(i, p)| write_page(&root, p, edits.get(&i)))
        .collect();
    for w in written {
        match w {
            Ok(true) => report.pages_written += 1,
            Ok(false) => {}
            Err(d) => report.diagnostics.push(*d),
        }
    }
    let saved = jobs::save_cache(&cache, false, None);
    report.diagnostics.extend(saved.diagnostics);
    report.shared = saved.shared;
    if opts.prune_originals {
        let (files, _) = list(&root)?;
        let candidates = prune::candidates(&files, is_raster);
        match prune::prune(&root, &files, &candidates) {
            Ok(p) => {
                for (path, why) in &p.failed {
                    report.diagnostics.push(
                        Diagnostic::error("prune", format!("cannot remove the original: {why}"))
                            .in_file(path.clone()),
                    );
                }
                report.pruned = p;
            }
            Err(e) => report
                .diagnostics
                .push(Diagnostic::error("prune", e.to_string())),
        }
    }
    shown_in(&root, &mut report.diagnostics);
    crate::report::sort(&mut report.diagnostics);
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The findings of each broken image, at each `<img>` that shows it.
fn broken(inv: &Inventory, probes: &BTreeMap<String, Probe>, read: &[Read]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in &inv.refs {
        let Some(p) = r.resolution.resolved().and_then(|s| probes.get(s)) else {
            continue;
        };
        if !p.is_broken() {
            continue;
        }
        for f in &p.findings {
            let d = Diagnostic::new(
                f.severity,
                f.code,
                format!("{}: {}", r.image.src.text, f.message),
            );
            out.push(locate(d, &read[r.page_index], r.image.span));
        }
    }
    out
}

/// Name the files of `diags` (paths inside `dir`) as the user named the folder:
/// `public/index.html`, the path CI annotations and editors resolve from where pixpipe ran.
fn shown_in(dir: &Path, diags: &mut [Diagnostic]) {
    let prefix = dir.to_string_lossy();
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() || prefix == "." {
        return;
    }
    for d in diags {
        if let Some(f) = &d.file {
            d.file = Some(format!("{prefix}/{f}"));
        }
    }
}

/// Whether `img` is already responsive: `html` leaves it alone (unless `--force`).
fn is_responsive(img: &page::Img) -> bool {
    img.in_picture || img.attr("srcset").is_some()
}

/// A diagnostic at byte `span.start` of page `p`.
fn locate(d: Diagnostic, p: &Read, span: Span) -> Diagnostic {
    let pos = p.lines.line_col(&p.text, span.start);
    let line_start = p.lines.line_start(&p.text, pos.line);
    d.in_file(p.path.clone()).at_byte(
        pos,
        p.lines.line_text(&p.text, pos.line),
        span.start - line_start,
    )
}

/// Copy `dir` into `out` (files that differ), for `--out`.
fn copy_tree(dir: &Path, out: &Path) -> Result<(), HtmlError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e| HtmlError::Io(p, e)
    };
    if crate::build::absolute(out).starts_with(crate::build::absolute(dir)) {
        return Err(HtmlError::Io(
            out.to_path_buf(),
            std::io::Error::other("--out must not be inside the folder it copies"),
        ));
    }
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.map_err(|e| HtmlError::Io(dir.to_path_buf(), e.into()))?;
        let rel = e.path().strip_prefix(dir).unwrap_or(e.path());
        let dest = out.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dest).map_err(io(&dest))?;
        } else if e.file_type().is_file() {
            crate::emit::mirror_file(e.path(), &dest).map_err(io(&dest))?;
        }
    }
    Ok(())
}

/// Every file of the folder (site paths) and its pages, sorted; hidden folders are skipped.
fn list(root: &Path) -> Result<(BTreeSet<String>, Vec<String>), HtmlError> {
    let mut files = BTreeSet::new();
    let walk = walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for e in walk {
        let e = e.map_err(|e| HtmlError::Io(root.to_path_buf(), e.into()))?;
        if !e.file_type().is_file() {
            continue;
        }
        let rel = e.path().strip_prefix(root).unwrap_or(e.path());
        let rel: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        files.insert(rel.join("/"));
    }
    let pages = files
        .iter()
        .filter(|f| {
            let l = f.to_ascii_lowercase();
            l.ends_with(".html") || l.ends_with(".htm")
        })
        .cloned()
        .collect();
    Ok((files, pages))
}

/// Read and parse every page; a page that cannot be read is a finding.
fn read_pages(root: &Path, pages: &[String]) -> (Vec<Read>, Vec<Diagnostic>) {
    let results: Vec<Result<Read, Box<Diagnostic>>> = pages
        .par_iter()
        .map(|rel| {
            let fail =
                |why: String| Box::new(Diagnostic::warning("unreadable", why).in_file(rel.clone()));
            let bytes = std::fs::read(root.join(rel))
                .map_err(|e| fail(format!("cannot read the page: {e}")))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| fail("the page is not UTF-8; it is left as it is".into()))?;
            let images = page::read(&text).map_err(|e| fail(e.to_string()))?;
            Ok(Read {
                path: rel.clone(),
                lines: LineIndex::new(&text),
                text,
                images,
            })
        })
        .collect();
    let mut read = Vec::new();
    let mut diags = Vec::new();
    for r in results {
        match r {
            Ok(p) => read.push(p),
            Err(d) => diags.push(*d),
        }
    }
    (read, diags)
}

/// Extensions of the files `html` makes variants of.
fn is_raster(path: &str) -> bool {
    let l = path.to_ascii_lowercase();
    [".jpg", ".jpeg", ".png", ".webp", ".gif"]
        .iter()
        .any(|e| l.ends_with(e))
}

/// The references to optimise, as `plan` takes them (one per `<img>` whose file is a raster
/// image of the folder), with (page, img index) for each; and findings for URLs that point
/// nowhere.
fn inventory(
    read: &[Read],
    files: &BTreeSet<String>,
    opts: &HtmlOptions,
) -> (Inventory, Vec<(usize, usize)>, Vec<Diagnostic>) {
    let mut inv = Inventory::default();
    let mut at = Vec::new();
    let mut diags = Vec::new();
    for (pi, p) in read.iter().enumerate() {
        let path: Arc<str> = p.path.as_str().into();
        for (ii, img) in p.images.imgs.iter().enumerate() {
            if is_responsive(img) && !opts.force {
                continue;
            }
            let Some(src) = img.attr("src") else { continue };
            let rel = match url::resolve(src, &p.path, p.images.base.as_deref(), &opts.base) {
                Target::Site(rel) => rel,
                Target::Outside(u) => {
                    let d = Diagnostic::warning(
                        "outside-root",
                        format!(
                            "{u} is outside the site's folder (or its base path); left as it is"
                        ),
                    );
                    diags.push(locate(d, p, img.span));
                    continue;
                }
                Target::Remote | Target::Empty => continue,
            };
            if !files.contains(&rel) {
                let d = Diagnostic::error("missing-image", format!("image not found: {src}"))
                    .with_src(src, Some(rel));
                diags.push(locate(d, p, img.span));
                continue;
            }
            // pixpipe's own outputs are never sources, even with --force: a forced second run
            // would otherwise make variants of the 1x variant an earlier run put in `src`.
            if !is_raster(&rel) || is_output_name(site_path::file_name(&rel)) {
                continue;
            }
            let value = |name: &str, v: &str| Value {
                text: v.to_string(),
                span: img.span,
                name: name.to_string(),
            };
            let image = ImageRef {
                syntax: Syntax::Html,
                span: img.span,
                src: value("src", src),
                // What the page shows it at: an inline style's width (its own, or a
                // wrapper's such as `<figure style="width: 40%">`), else its width attribute.
                width: img
                    .styled_width
                    .as_deref()
                    .or(img.attr("width"))
                    .map(|w| Box::new(value("width", w))),
                height: img.attr("height").map(|h| Box::new(value("height", h))),
                ratio: None,
                alt: img.attr("alt").map(|a| Box::new(value("alt", a))),
                title: None,
                caption: None,
                srcset: None,
                glob: None,
                definition: None,
            };
            inv.refs.push(Reference {
                page_index: pi,
                page: path.clone(),
                pos: p.lines.line_col(&p.text, img.span.start),
                image,
                resolution: Resolution::Found {
                    path: rel,
                    via: Lookup::Url,
                },
            });
            at.push((pi, ii));
        }
    }
    (inv, at, diags)
}

/// Per source: its outputs by variant.
type Outputs = BTreeMap<String, Vec<Made>>;

/// Make (or find in the cache) every variant of the plan and place each next to its source.
fn make(
    root: &Path,
    plan: &Plan,
    cache: &Cache,
    config: &Config,
    run: RunOptions,
    progress: &dyn Progress,
    report: &mut HtmlReport,
) -> (Outputs, BTreeMap<String, JobError>) {
    let resized: Vec<(&String, &Vec<plan::Variant>)> = plan
        .sources
        .iter()
        .filter_map(|(rel, s)| match &s.treatment {
            Treatment::Resize(v) => Some((rel, v)),
            Treatment::Copy => None,
        })
        .collect();
    let files: Vec<(String, PathBuf)> = resized
        .iter()
        .map(|(rel, _)| ((*rel).clone(), root.join(rel)))
        .collect();
    let (hashes, _) = jobs::hash_files(cache, &files);
    let uses = plan.use_counts();
    let mut names = Vec::new();
    let mut job_list = Vec::new();
    for (rel, variants) in resized {
        let Some((hash, size)) = hashes.get(rel) else {
            continue;
        };
        job_list.push(Job {
            uses: uses.get(rel.as_str()).copied().unwrap_or(0),
            file: root.join(rel),
            info: plan.sources[rel].info.clone(),
            hash: hash.clone(),
            file_len: *size,
            variants: variants.clone(),
        });
        names.push(rel.clone());
    }
    let dest = |rel: &str, m: &Made| {
        root.join(site_path::parent(rel))
            .join(variant_name(rel, &m.variant, &m.hash))
    };
    let place = |rel: &str, m: &Made, bytes: &[u8]| {
        let d = dest(rel, m);
        if !crate::output::is_placed(&d, m.bytes) {
            crate::emit::write_rebuildable(&d, bytes).ok();
        }
    };
    let (hits, todo) = jobs::lookup(cache, &job_list, config);
    // An AVIF waits for its job's other outputs, which may leave it out (`jobs::avif_gains`):
    // the site's folder is the user's, and it gets no file that no page names.
    let on_made = |j: usize, m: &Made, bytes: &[u8]| {
        if m.variant.format != plan::OutFormat::Avif {
            place(&names[j], m, bytes)
        }
    };
    let ran = jobs::run(&job_list, &todo, cache, config, run, &on_made, progress);
    report.diagnostics.extend(ran.warnings);
    report.avif_later = ran.later.iter().map(|(_, n)| n).sum();
    let mut outputs: Outputs = BTreeMap::new();
    let mut failed = BTreeMap::new();
    for (j, outcome) in jobs::outcomes(hits, ran.results).into_iter().enumerate() {
        match outcome {
            Ok(o) => {
                report.made += o.made;
                report.reused += o.reused;
                report.avif_unserved.add(&o);
                outputs.insert(names[j].clone(), o.outputs);
            }
            Err(e) => {
                failed.insert(names[j].clone(), e);
            }
        }
    }
    // Every output in place, or its source is treated as failed (its tags left alone).
    for (rel, made) in &outputs {
        for m in made {
            let d = dest(rel, m);
            if crate::output::is_placed(&d, m.bytes) {
                continue;
            }
            let placed = m
                .read(cache)
                .and_then(|b| crate::emit::write_rebuildable(&d, &b));
            if let Err(e) = placed {
                failed.insert(rel.clone(), JobError::Read(e));
            }
        }
    }
    outputs.retain(|rel, _| !failed.contains_key(rel));
    (outputs, failed)
}

/// `src` as written with its file name replaced by `name` (query and fragment dropped): the
/// output sits next to the original, so the URL keeps its folder and its style.
fn sibling_url(src: &str, name: &str) -> String {
    let s = src.trim();
    let s = s.split(['?', '#']).next().unwrap_or(s);
    match s.rfind('/') {
        Some(i) => format!("{}{name}", &s[..=i]),
        None => name.to_string(),
    }
}

/// The edits of every page: for each planned `<img>` whose outputs exist, its `<picture>`.
fn edits(
    read: &[Read],
    at: &[(usize, usize)],
    plan: &Plan,
    outputs: &Outputs,
    probes: &BTreeMap<String, probe::Probe>,
    report: &mut HtmlReport,
) -> BTreeMap<usize, BTreeMap<usize, Edit>> {
    let mut out: BTreeMap<usize, BTreeMap<usize, Edit>> = BTreeMap::new();
    let mut counted: BTreeSet<(usize, &str)> = BTreeSet::new();
    for u in &plan.uses {
        let (pi, ii) = at[u.reference];
        let Some(made) = outputs.get(&u.source) else {
            continue;
        };
        let img = &read[pi].images.imgs[ii];
        let src = img.attr("src").unwrap_or_default();
        // The use's widths made in format `f`: all of them for the primary format; for
        // another, those it has (a size the format cannot hold is not made in it).
        let set_of = |f: OutFormat| -> Option<Vec<(u32, &Made)>> {
            let have: Vec<(u32, &Made)> = u
                .widths
                .iter()
                .filter_map(|&w| {
                    made.iter()
                        .find(|m| m.variant.format == f && m.variant.width == w)
                        .map(|m| (w, m))
                })
                .collect();
            let complete = have.len() == u.widths.len();
            (complete || (!have.is_empty() && f != u.primary)).then_some(have)
        };
        let Some(primary) = set_of(u.primary) else {
            continue;
        };
        let srcset = |set: &[(u32, &Made)]| {
            set.iter()
                .map(|(w, m)| {
                    let name = variant_name(&u.source, &m.variant, &m.hash);
                    format!("{} {w}w", sibling_url(src, &name))
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut sources = String::new();
        for f in OutFormat::in_source_order(&u.formats[1..]) {
            if let Some(set) = set_of(f) {
                sources.push_str(&format!(
                    "<source type=\"{}\" srcset=\"{}\" sizes=\"{}\">",
                    f.mime(),
                    page::escape_attr(&srcset(&set)),
                    page::escape_attr(&u.sizes)
                ));
            }
        }
        let one_x = primary
            .iter()
            .find(|(w, _)| *w == u.one_x)
            .unwrap_or(&primary[0])
            .1;
        let mut set: Vec<(&'static str, String)> = vec![
            (
                "src",
                sibling_url(src, &variant_name(&u.source, &one_x.variant, &one_x.hash)),
            ),
            ("srcset", srcset(&primary)),
            ("sizes", u.sizes.clone()),
        ];
        let info = probes.get(&u.source).and_then(|p| p.info.as_ref());
        if let Some(info) = info {
            let (dw, dh) = info.display_size();
            let height_for =
                |w: u32| ((w as f64 * dh as f64 / dw.max(1) as f64).round() as u32).max(1);
            match (img.attr("width"), img.attr("height")) {
                (None, None) => {
                    set.push(("width", u.css_width.to_string()));
                    set.push(("height", height_for(u.css_width).to_string()));
                }
                (Some(w), None) => {
                    if let Ok(w) = w.trim().parse::<u32>() {
                        set.push(("height", height_for(w).to_string()));
                    }
                }
                _ => {}
            }
        }
        // The first image of a page is likely what the visitor sees first.
        let first = ii == 0;
        if img.attr("loading").is_none() {
            set.push(("loading", if first { "eager" } else { "lazy" }.to_string()));
        }
        if first && img.attr("fetchpriority").is_none() {
            set.push(("fetchpriority", "high".to_string()));
        }
        if img.attr("decoding").is_none() {
            set.push(("decoding", "async".to_string()));
        }
        if counted.insert((pi, u.source.as_str())) {
            report.bytes_before += probes.get(&u.source).map_or(0, |p| p.bytes);
            report.bytes_after += one_x.bytes;
        }
        report.rewritten += 1;
        // With --force, an `<img>` in the author's `<picture>` stays in it: the picture's
        // format alternatives (no `media`) give way to the new sources; art direction stays.
        let replaces = img
            .picture_sources
            .iter()
            .copied()
            .filter(|&s| !read[pi].images.sources[s].attrs.contains_key("media"))
            .collect();
        out.entry(pi).or_default().insert(
            ii,
            Edit {
                sources,
                set,
                in_picture: img.in_picture,
                replaces,
            },
        );
    }
    out
}

/// Rewrite one page with its edits, atomically; whether it changed.
fn write_page(
    root: &Path,
    p: &Read,
    edits: Option<&BTreeMap<usize, Edit>>,
) -> Result<bool, Box<Diagnostic>> {
    let Some(edits) = edits.filter(|e| !e.is_empty()) else {
        return Ok(false);
    };
    let fail = |why: String| Box::new(Diagnostic::error("write", why).in_file(p.path.clone()));
    let text = page::rewrite(&p.text, edits).map_err(|e| fail(e.to_string()))?;
    if text == p.text {
        return Ok(false);
    }
    // Atomic (a temporary file renamed over the page) without waiting for the disk: the
    // folder is a generator's output, made again by rerunning both, and a wait per page was
    // most of a 5,000-page run.
    let path = root.join(&p.path);
    let perms = std::fs::metadata(&path).map(|m| m.permissions()).ok();
    crate::emit::write_rebuildable(&path, text.as_bytes())
        .and_then(|()| perms.map_or(Ok(()), |m| std::fs::set_permissions(&path, m)))
        .map_err(|e| fail(format!("cannot write the page: {e}")))?;
    Ok(true)
}
