//! Build: resize every referenced image to its declared widths, name each output by the hash
//! of its bytes, rewrite the references, write the manifest.
//!
//! This is the command's I/O shell around the pure stages: scan → inventory → probe/check →
//! plan → (cache) → process → rewrite → emit. Outputs go next to their source in the output
//! tree (a mirror of the site under `--out`, or the site itself with `--in-place`), so a
//! rewritten reference resolves exactly as the original did. The manifest is written last.

use crate::cache::{job_key, Cache};
use crate::check;
use crate::config::Config;
use crate::emit::{self, write_atomic, TEMP_PREFIX};
use crate::inventory::{self, Reference};
use crate::manifest::{self, Manifest, ManifestFormat};
use crate::plan::{self, OutFormat, Plan, Treatment, Variant};
use crate::probe::{self, ProbeOptions};
use crate::process;
use crate::report::{Diagnostic, Progress};
use crate::resolve::Resolution;
use crate::rewrite::{self, Target};
use crate::scan::{self, ScanError};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where the build writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A mirror of the content tree plus outputs under this folder; sources stay untouched.
    Mirror(PathBuf),
    /// Rewrite the site's own pages and write outputs next to the sources.
    InPlace,
}

/// How `build` runs.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Where to write.
    pub output: Output,
    /// Manifest file. Default: `data/pixpipe.yaml` in the output tree.
    pub manifest: Option<PathBuf>,
    /// Manifest format.
    pub manifest_format: ManifestFormat,
    /// Cache folder.
    pub cache_dir: PathBuf,
    /// Worker threads.
    pub jobs: usize,
    /// Budget for decoded pixels in memory, in bytes.
    pub memory_bytes: u64,
    /// Remove cache entries this build did not use.
    pub prune_cache: bool,
}

/// What a build did.
#[derive(Debug, Default)]
pub struct BuildReport {
    /// Findings (those of `check`, plus processing failures and notes).
    pub diagnostics: Vec<Diagnostic>,
    /// Source images published.
    pub images: usize,
    /// Variants encoded in this run.
    pub made: usize,
    /// Variants taken from the cache or already in place.
    pub reused: usize,
    /// Sources decoded in this run.
    pub decoded: usize,
    /// Bytes of the sources.
    pub bytes_in: u64,
    /// Bytes of the outputs.
    pub bytes_out: u64,
    /// Pages written (rewritten or copied).
    pub pages_written: usize,
    /// Stale outputs removed.
    pub pruned: usize,
    /// Where the manifest was written, relative to the site root when inside it.
    pub manifest: String,
    /// Seconds taken.
    pub seconds: f64,
}

/// A build that could not run.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The site could not be read.
    #[error(transparent)]
    Scan(#[from] ScanError),
    /// Writing failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// What.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The worker pool could not start.
    #[error("cannot start {0} worker threads")]
    Threads(usize),
}

fn werr(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Write {
        path: path.display().to_string(),
        source,
    }
}

/// Characters kept in output names; others become `-` (names end up in URLs and Markdown).
pub fn clean_stem(stem: &str) -> String {
    let s: String = stem
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() {
        "image".into()
    } else {
        s
    }
}

pub fn short_hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex()[..10].to_string()
}

/// `<stem>-<width>w.<hash>.<ext>` for a variant of the source at `source`.
pub fn variant_name(source: &str, v: &Variant, hash: &str) -> String {
    let file = source.rsplit('/').next().unwrap_or(source);
    let stem = file.rsplit_once('.').map(|(s, _)| s).unwrap_or(file);
    format!(
        "{}-{}w.{hash}.{}",
        clean_stem(stem),
        v.width,
        v.format.extension()
    )
}

fn copy_name(source: &str, hash: &str) -> String {
    let file = source.rsplit('/').next().unwrap_or(source);
    let (stem, ext) = file.rsplit_once('.').unwrap_or((file, "bin"));
    format!("{}.{hash}.{}", clean_stem(stem), ext.to_ascii_lowercase())
}

/// Whether an output of `bytes` bytes is already at `dest` (outputs are named by a hash of
/// their bytes, so the name and the size tell; a file a power cut left short is not).
pub(crate) fn is_placed(dest: &Path, bytes: u64) -> bool {
    std::fs::metadata(dest).is_ok_and(|d| d.len() == bytes)
}

fn dir_of(path: &str) -> &str {
    path.rfind('/').map(|i| &path[..i]).unwrap_or("")
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

fn mtime_ns(m: &std::fs::Metadata) -> u128 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Whether `path` (site-relative, from a manifest) is a safe thing to delete: normalised,
/// inside a content, static or assets folder, and named like an output of ours
/// (`<stem>-<width>w.<10 hex>.<ext>` or `<stem>.<10 hex>.<ext>`).
fn is_our_output_path(path: &str, config: &Config) -> bool {
    if crate::resolve::normalize(path).as_deref() != Some(path) || path.starts_with('/') {
        return false;
    }
    let in_site = config
        .content
        .iter()
        .map(|c| &c.dir)
        .chain(&config.static_dirs)
        .chain(&config.assets_dirs)
        .any(|d| d != "." && path.starts_with(&format!("{d}/")));
    let name = path.rsplit('/').next().unwrap_or(path);
    let parts: Vec<&str> = name.rsplitn(3, '.').collect();
    let hashed = parts.len() == 3
        && parts[1].len() == 10
        && parts[1]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    in_site && hashed
}

/// A source path and the variants it needs.
type Member<'a> = (&'a String, Vec<Variant>);

/// One output file of the build.
#[derive(Debug, Clone)]
struct Made {
    variant: Variant,
    /// Site-relative path in the output tree.
    path: String,
    hash: String,
    bytes: u64,
    /// The cache key it is stored under (None for copies of the original).
    key: Option<String>,
}

/// Run a build of the site at `root`.
pub fn build(
    root: &Path,
    config: &Config,
    opts: &BuildOptions,
    progress: &dyn Progress,
) -> Result<BuildReport, BuildError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .build()
        .map_err(|_| BuildError::Threads(opts.jobs))?;
    pool.install(|| build_in_pool(root, config, opts, progress))
}

fn build_in_pool(
    root: &Path,
    config: &Config,
    opts: &BuildOptions,
    progress: &dyn Progress,
) -> Result<BuildReport, BuildError> {
    let started = Instant::now();
    let mut report = BuildReport::default();
    let out_root: PathBuf = match &opts.output {
        Output::Mirror(d) => d.clone(),
        Output::InPlace => root.to_path_buf(),
    };
    if let Output::Mirror(dir) = &opts.output {
        claim_mirror(root, dir, config)?;
    }
    let manifest_path = opts
        .manifest
        .clone()
        .unwrap_or_else(|| out_root.join("data").join("pixpipe.yaml"));
    let previous = std::fs::read_to_string(&manifest_path)
        .ok()
        .and_then(|t| Manifest::parse(&t).ok())
        .unwrap_or_default();

    // Scan, then recognise our own outputs (an in-place page already points at them) as
    // their sources, so a second run plans, and writes, exactly what the first did.
    let site = scan::scan(root, config)?;
    let mut inv = inventory::take(&site, config);
    let previous_outputs = previous.outputs();
    // Every file a page points at now is kept, whatever happens to its source.
    let referenced: BTreeSet<String> = inv
        .refs
        .iter()
        .filter_map(|r| r.resolution.resolved().map(str::to_string))
        .collect();
    let mut frozen: BTreeSet<usize> = BTreeSet::new();
    for (i, r) in inv.refs.iter_mut().enumerate() {
        if let Resolution::Found { path, .. } = &mut r.resolution {
            if let Some(src) = previous_outputs.get(path.as_str()) {
                if site.assets.is_file(src) {
                    *path = src.to_string();
                } else {
                    // The original is gone: the output stays as it is (never re-encoded).
                    frozen.insert(i);
                }
            }
        }
    }

    let files: Vec<String> = inv
        .refs
        .iter()
        .filter_map(|r| match &r.resolution {
            Resolution::Found { path, .. } => Some(path.clone()),
            _ => None,
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let probes = probe::probe_files(
        root,
        &files,
        ProbeOptions {
            max_pixels: config.max_pixels,
            deep: false,
        },
    );
    report.diagnostics = check::check(&site, &inv, config, &probes);
    let plan = {
        // Frozen references are not planned: they keep pointing at their output.
        let refs = inv
            .refs
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut r = r.clone();
                if frozen.contains(&i) {
                    // Planned as nothing: a template value is left as written.
                    r.resolution = Resolution::Template;
                }
                r
            })
            .collect();
        let visible = crate::inventory::Inventory {
            refs,
            ..Default::default()
        };
        plan::plan(&visible, &probes, config)
    };

    // Hash the sources (a stat match in the cache's index skips the read).
    let cache = Cache::open(&opts.cache_dir);
    let hashes: BTreeMap<String, (String, u64)> = plan
        .sources
        .keys()
        .par_bridge()
        .filter_map(|rel| {
            let p = root.join(rel);
            let m = std::fs::metadata(&p).ok()?;
            let (size, mt) = (m.len(), mtime_ns(&m));
            let hash = match cache.known_hash(rel, size, mt) {
                Some(h) => h,
                None => {
                    // Streamed: the whole file is read again when (if) it is decoded.
                    let file = std::fs::File::open(&p).ok()?;
                    let mut hasher = blake3::Hasher::new();
                    hasher.update_reader(file).ok()?;
                    let h = hasher.finalize().to_hex().to_string();
                    cache.remember_hash(rel, size, mt, &h);
                    h
                }
            };
            Some((rel.clone(), (hash, size)))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect();

    // The variants each source's bytes need, over every name they go by. A variant's bytes
    // depend on the larger sizes of that set (see `job_key`), so a job passes through all of
    // its sizes, whichever variants it encodes: what a build makes never depends on what
    // earlier builds left in the cache.
    let mut sets: BTreeMap<&str, BTreeSet<Variant>> = BTreeMap::new();
    for (path, sp) in &plan.sources {
        if let (Some((hash, _)), Treatment::Resize(vs)) = (hashes.get(path), &sp.treatment) {
            sets.entry(hash.as_str())
                .or_default()
                .extend(vs.iter().copied());
        }
    }
    let sets: BTreeMap<&str, Vec<Variant>> = sets
        .into_iter()
        .map(|(h, vs)| (h, vs.into_iter().collect()))
        .collect();
    // Decide what must be encoded: every variant whose key the cache does not have.
    let mut todo: Vec<(&String, Vec<Variant>)> = Vec::new();
    let mut made: BTreeMap<String, Vec<Made>> = BTreeMap::new();
    for (path, sp) in &plan.sources {
        let Some((hash, size)) = hashes.get(path) else {
            continue;
        };
        report.bytes_in += size;
        match &sp.treatment {
            Treatment::Copy => {
                let name = copy_name(path, &hash[..10]);
                let v = Variant {
                    width: sp.info.display_size().0,
                    height: sp.info.display_size().1,
                    format: OutFormat::Png,
                    quality: 0,
                    effort: 0,
                };
                made.entry(path.clone()).or_default().push(Made {
                    variant: v,
                    path: join(dir_of(path), &name),
                    hash: hash[..10].to_string(),
                    bytes: *size,
                    key: None,
                });
            }
            Treatment::Resize(vs) => {
                let all = &sets[hash.as_str()];
                let mut missing = Vec::new();
                for v in vs {
                    let key = job_key(hash, v, all, config.metadata);
                    match cache.get(&key) {
                        Some(e) => made.entry(path.clone()).or_default().push(Made {
                            variant: *v,
                            path: join(dir_of(path), &variant_name(path, v, &e.hash)),
                            hash: e.hash,
                            bytes: e.bytes,
                            key: Some(key),
                        }),
                        None => missing.push(*v),
                    }
                }
                if !missing.is_empty() {
                    todo.push((path, missing));
                }
            }
        }
    }
    // The same bytes under several names are decoded once, for all the widths any of them
    // needs; each name then gets its own variants.
    let mut groups: BTreeMap<String, (BTreeSet<Variant>, Vec<Member>)> = BTreeMap::new();
    for (path, vs) in todo.drain(..) {
        let g = groups.entry(hashes[path].0.clone()).or_default();
        g.0.extend(vs.iter().copied());
        g.1.push((path, vs));
    }
    let members: BTreeMap<&String, Vec<(&String, Vec<Variant>)>> =
        groups.values().map(|(_, m)| (m[0].0, m.clone())).collect();
    todo = groups
        .into_values()
        .map(|(all, m)| (m[0].0, all.into_iter().collect()))
        .collect();

    // Make the variants, largest jobs first, within the memory budget.
    // A source's whole set of variants: the sizes its job passes through.
    let all_of = |path: &String| &sets[hashes[path].0.as_str()];
    let need =
        |path: &String| process::job_bytes(&plan.sources[path].info, all_of(path), hashes[path].1);
    progress.start("resizing", todo.iter().map(|(_, v)| v.len() as u64).sum());
    let queue = process::Queue::new(
        opts.memory_bytes,
        process::resident_bytes(),
        rayon::current_num_threads(),
        todo.iter()
            .enumerate()
            .map(|(order, job)| (need(job.0), Work::Source(order, job)))
            .collect(),
    );
    let done = std::sync::Mutex::new(Vec::new());
    // In a mirror, a worker places each output it makes while the others still encode,
    // rather than all of them being read back from the cache and written after the last one
    // (on the bench job, 96 files took ~35 ms with one core idle). Only the source's own
    // variants: those it makes for other names with the same bytes come with theirs below.
    // What a source that fails in the end placed is not expected, so the mirror's prune
    // removes it (this build's, or the next one's if this one stops on an error first), as
    // it removes what a killed build placed. In place, outputs are written only after all
    // were made, so that a failed or killed build leaves the fewest files in the site.
    // Failing to place one early is not an error: the placement below retries and reports
    // it.
    let early = matches!(opts.output, Output::Mirror(_));
    let mine = |path: &String| -> &[Variant] {
        members
            .get(path)
            .and_then(|m| m.iter().find(|(p, _)| *p == path))
            .map(|(_, vs)| vs.as_slice())
            .unwrap_or(&[])
    };
    let place_early = |m: &Made, bytes: &[u8]| {
        let dest = out_root.join(&m.path);
        if !is_placed(&dest, m.bytes) {
            emit::write_rebuildable(&dest, bytes).ok();
        }
    };
    // What a worker made of one source's variants, (index in its list, bytes), cached and
    // named; a source's results may come in two parts (see `process::make_largest`).
    let record = |path: &String, vs: &[Variant], outs: process::Encoded| {
        let hash = &hashes[path].0;
        let mut m = Vec::new();
        for (i, out) in outs {
            let v = &vs[i];
            let h = short_hash(&out);
            let key = job_key(hash, v, all_of(path), config.metadata);
            cache
                .put(&key, &out, &h)
                .map_err(|e| format!("cannot write to the cache: {e}"))?;
            let made = Made {
                variant: *v,
                path: join(dir_of(path), &variant_name(path, v, &h)),
                hash: h,
                bytes: out.len() as u64,
                key: Some(key),
            };
            if early && mine(path).contains(v) {
                place_early(&made, &out);
            }
            m.push(made);
        }
        Ok::<_, String>(m)
    };
    let finish = |path: &String, vs: &[Variant], rest: process::Rest| {
        let n = rest.len() as u64;
        let r = rest.finish().and_then(|outs| record(path, vs, outs));
        progress.advance(n);
        r
    };
    rayon::broadcast(|_| {
        while let Some((work, _lease)) = queue.next() {
            let (order, path, r) = match work {
                Work::Source(order, job @ (path, vs)) => {
                    let info = &plan.sources[*path].info;
                    let made = std::fs::read(root.join(path))
                        .map_err(|e| e.to_string())
                        .and_then(|bytes| {
                            process::make_largest(
                                &bytes,
                                info,
                                vs,
                                all_of(path),
                                config.max_pixels,
                                config.metadata,
                            )
                        });
                    let r = match made {
                        Ok((outs, rest)) => {
                            progress.advance(outs.len() as u64);
                            record(path, vs, outs).and_then(|mut m| {
                                // Leave the smaller sizes for whichever worker is free first.
                                let Some(rest) = rest else { return Ok(m) };
                                let need = rest.bytes();
                                if let Err(Work::Rest(_, _, rest)) =
                                    queue.defer(need, Work::Rest(order, job, rest))
                                {
                                    m.extend(finish(path, vs, rest)?);
                                }
                                Ok(m)
                            })
                        }
                        Err(e) => {
                            progress.advance(vs.len() as u64);
                            Err(e)
                        }
                    };
                    (order, path, r)
                }
                Work::Rest(order, (path, vs), rest) => (order, path, finish(path, vs, rest)),
            };
            let made = (order, (*path).clone(), r);
            done.lock().unwrap_or_else(|e| e.into_inner()).push(made);
        }
    });
    progress.finish();
    let mut parts = done.into_inner().unwrap_or_else(|e| e.into_inner());
    parts.sort_by_key(|r| r.0);
    // One result per source: its parts together, or its first error.
    let mut results: Vec<(usize, String, Result<Vec<Made>, String>)> = Vec::new();
    for (order, path, r) in parts {
        match results.last_mut() {
            Some(last) if last.0 == order => {
                last.2 = match (std::mem::replace(&mut last.2, Ok(Vec::new())), r) {
                    (Ok(mut a), Ok(b)) => {
                        a.extend(b);
                        Ok(a)
                    }
                    (Err(e), _) | (_, Err(e)) => Err(e),
                };
            }
            _ => results.push((order, path, r)),
        }
    }
    let mut failed: BTreeSet<String> = BTreeSet::new();
    for (_, path, r) in results {
        match r {
            Ok(m) => {
                report.decoded += 1;
                report.made += m.len();
                for (member, vs) in members.get(&path).cloned().unwrap_or_default() {
                    let mine = m.iter().filter(|x| vs.contains(&x.variant)).map(|x| Made {
                        path: join(dir_of(member), &variant_name(member, &x.variant, &x.hash)),
                        ..x.clone()
                    });
                    made.entry(member.clone()).or_default().extend(mine);
                }
            }
            Err(e) => {
                for (member, _) in members.get(&path).cloned().unwrap_or_default() {
                    failed.insert(member.clone());
                    made.remove(member);
                    for r in inv
                        .refs
                        .iter()
                        .filter(|r| r.resolution.resolved() == Some(member.as_str()))
                    {
                        let page = &site.pages[r.page_index];
                        report.diagnostics.push(
                            inventory::located(page, r.image.src.span, Diagnostic::error("undecodable", format!("{member}: cannot be processed: {e}")))
                                .with_help("re-export the image from the original; its references were left as they are"),
                        );
                    }
                }
            }
        }
    }
    for m in made.values_mut() {
        m.sort_by(|a, b| {
            (a.variant.format, a.variant.width).cmp(&(b.variant.format, b.variant.width))
        });
    }
    report.reused = made.values().map(Vec::len).sum::<usize>() - report.made;
    report.images = made.len();
    report.bytes_out = made.values().flatten().map(|m| m.bytes).sum();
    for (path, sp) in &plan.sources {
        if sp.treatment == Treatment::Copy && made.contains_key(path) {
            let what = if sp.info.format == probe::Format::Svg {
                "SVG"
            } else {
                "animated image"
            };
            for r in inv
                .refs
                .iter()
                .filter(|r| r.resolution.resolved() == Some(path.as_str()))
            {
                let page = &site.pages[r.page_index];
                report.diagnostics.push(inventory::located(
                    page,
                    r.image.src.span,
                    Diagnostic::note(
                        "copied",
                        format!(
                            "{path}: {what} published as it is (not resized), under a hashed name"
                        ),
                    ),
                ));
            }
        }
    }

    // Place outputs in the output tree (skipping those already there).
    let mut expected: BTreeSet<PathBuf> = BTreeSet::new();
    for (src, ms) in &made {
        for m in ms {
            let dest = out_root.join(&m.path);
            expected.insert(dest.clone());
            if is_placed(&dest, m.bytes) {
                continue;
            }
            let bytes = match &m.key {
                Some(k) => cache.read(k),
                None => std::fs::read(root.join(src)),
            }
            .map_err(werr(&dest))?;
            // Checked by size above on every build, so not flushed (the manifest is).
            emit::write_rebuildable(&dest, &bytes).map_err(werr(&dest))?;
        }
    }

    // Rewrite pages.
    let targets = targets(&plan, &made, &inv.refs);
    let mut page_edits: BTreeMap<usize, Vec<rewrite::Edit>> = BTreeMap::new();
    for (i, t) in &targets {
        let r = &inv.refs[*i];
        let page = &site.pages[r.page_index];
        let ratio_param = match &r.image.syntax {
            crate::extract::Syntax::Shortcode(n) => {
                config.shortcodes.get(n).and_then(|s| s.ratio.clone())
            }
            _ => None,
        };
        page_edits
            .entry(r.page_index)
            .or_default()
            .extend(rewrite::edits_for(
                &page.text,
                &r.image,
                t,
                ratio_param.as_deref(),
            ));
    }
    let mut final_texts: Vec<(String, String)> = Vec::new();
    for (pi, page) in site.pages.iter().enumerate() {
        let edits = page_edits.remove(&pi).unwrap_or_default();
        let unchanged = edits.is_empty();
        let text = if unchanged {
            page.text.clone()
        } else {
            rewrite::apply(&page.text, edits)
        };
        final_texts.push((page.path.clone(), text));
        let dest = out_root.join(&page.path);
        expected.insert(dest.clone());
        if unchanged {
            if let Output::Mirror(_) = opts.output {
                if emit::mirror_file(&root.join(&page.path), &dest).map_err(werr(&dest))? {
                    report.pages_written += 1;
                }
            }
            continue;
        }
        let rewritten = &final_texts[final_texts.len() - 1].1;
        let text = if page.bom {
            format!("\u{feff}{rewritten}")
        } else {
            rewritten.clone()
        };
        let current = std::fs::read(&dest).ok();
        if current.as_deref() == Some(text.as_bytes()) {
            continue;
        }
        match opts.output {
            Output::Mirror(_) => write_atomic(&dest, text.as_bytes()),
            Output::InPlace => emit::replace_keeping_mode(&dest, text.as_bytes()),
        }
        .map_err(werr(&dest))?;
        report.pages_written += 1;
    }

    // Mirror every other content file, so Hugo finds the bundles' other resources. An original
    // that was replaced everywhere is left out (Hugo would publish it for nothing), unless a
    // page near it still names it (front matter such as `cover:` does).
    if let Output::Mirror(_) = opts.output {
        let still_named = |rel: &str| {
            let name = rel.rsplit('/').next().unwrap_or(rel);
            final_texts.iter().any(|(p, t)| {
                rel.starts_with(&p[..p.rfind('/').map(|i| i + 1).unwrap_or(0)]) && t.contains(name)
            })
        };
        for rel in site.assets.entries.keys() {
            if made.contains_key(rel) && !failed.contains(rel) && !still_named(rel) {
                continue;
            }
            let in_content = config
                .content
                .iter()
                .any(|c| rel.starts_with(&format!("{}/", c.dir)));
            let dest = out_root.join(rel);
            if !in_content
                || expected.contains(&dest)
                || rel
                    .rsplit('/')
                    .next()
                    .is_some_and(|n| n.starts_with(TEMP_PREFIX))
            {
                continue;
            }
            if std::fs::symlink_metadata(root.join(rel))
                .map(|m| m.file_type().is_symlink())
                .unwrap_or(true)
            {
                continue;
            }
            emit::mirror_file(&root.join(rel), &dest).map_err(werr(&dest))?;
            expected.insert(dest);
        }
    }

    // The manifest, last.
    let mut manifest = make_manifest(&plan, &made, &hashes);
    // Outputs that pages still use although their source could not be made this time (broken
    // or deleted) stay in the manifest, so that a later build still recognises them.
    for (src, img) in &previous.images {
        if !manifest.images.contains_key(src)
            && img.variants.iter().any(|v| referenced.contains(&v.path))
        {
            manifest.images.insert(src.clone(), img.clone());
        }
    }
    let text = manifest.to_string(opts.manifest_format);
    if std::fs::read_to_string(&manifest_path).ok().as_deref() != Some(text.as_str()) {
        write_atomic(&manifest_path, text.as_bytes()).map_err(werr(&manifest_path))?;
    }
    expected.insert(manifest_path.clone());
    report.manifest = manifest_path
        .strip_prefix(root)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| manifest_path.display().to_string());

    // Remove what an earlier build wrote and this one does not (and temp files of killed builds).
    report.pruned = match &opts.output {
        Output::Mirror(dir) => {
            let mounts = dir.join("hugo-mounts.toml");
            let text = hugo_mounts(root, dir, config);
            if std::fs::read_to_string(&mounts).ok().as_deref() != Some(text.as_str()) {
                write_atomic(&mounts, text.as_bytes()).map_err(werr(&mounts))?;
            }
            expected.insert(mounts);
            expected.insert(dir.join(MIRROR_MARK));
            prune_mirror(dir, &expected, &opts.cache_dir)
        }
        Output::InPlace => {
            let mut n = 0;
            for out in previous_outputs.keys() {
                // A manifest is a file a user can edit: only ever delete what is plainly one of
                // our outputs, inside the site's folders, and no longer used by any page.
                if !is_our_output_path(out, config)
                    || referenced.contains(*out)
                    || plan.sources.contains_key(*out)
                {
                    continue;
                }
                let p = out_root.join(out);
                if !expected.contains(&p) && std::fs::remove_file(&p).is_ok() {
                    n += 1;
                }
            }
            for rel in site.assets.entries.keys().filter(|k| {
                k.rsplit('/')
                    .next()
                    .is_some_and(|n| n.starts_with(TEMP_PREFIX))
            }) {
                if std::fs::remove_file(root.join(rel)).is_ok() {
                    n += 1;
                }
            }
            n
        }
    };
    let live: BTreeSet<String> = plan.sources.keys().cloned().collect();
    cache
        .save(opts.prune_cache, &live)
        .map_err(werr(&opts.cache_dir))?;
    crate::report::sort(&mut report.diagnostics);
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// A build worker's unit of work: a source's largest size (and the rest, if it cannot be
/// deferred), or a deferred rest, with the source's place in the job list.
enum Work<J> {
    Source(usize, J),
    Rest(usize, J, process::Rest),
}

/// What each planned reference points at after the build.
fn targets(
    plan: &Plan,
    made: &BTreeMap<String, Vec<Made>>,
    refs: &[Reference],
) -> BTreeMap<usize, Target> {
    let mut out = BTreeMap::new();
    let name_of = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
    for u in &plan.uses {
        let Some(ms) = made.get(&u.source) else {
            continue;
        };
        let r = &refs[u.reference];
        let of_primary: Vec<&Made> = ms
            .iter()
            .filter(|m| m.variant.format == u.primary && u.widths.contains(&m.variant.width))
            .collect();
        let Some(one_x) = of_primary
            .iter()
            .find(|m| m.variant.width == u.widths[0])
            .or(of_primary.first())
        else {
            continue;
        };
        let srcset = of_primary
            .iter()
            .map(|m| {
                format!(
                    "{} {}w",
                    rewrite::sibling_src(&r.image.src.text, &name_of(&m.path)),
                    m.variant.width
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let (dw, dh) = plan.sources[&u.source].info.display_size();
        let css_h = ((u.css_width as f64 * dh as f64 / dw.max(1) as f64).round() as u32).max(1);
        let ratio = format!("{}%", trim_num(dh as f64 * 100.0 / dw.max(1) as f64));
        out.insert(
            u.reference,
            Target {
                src: rewrite::sibling_src(&r.image.src.text, &name_of(&one_x.path)),
                srcset,
                css_width: u.css_width,
                css_height: css_h,
                ratio,
            },
        );
    }
    // Copied images (SVG, animations): the source points at the hashed copy.
    for (i, r) in refs.iter().enumerate() {
        let Some(path) = r.resolution.resolved() else {
            continue;
        };
        let Some(sp) = plan.sources.get(path) else {
            continue;
        };
        if sp.treatment != Treatment::Copy || out.contains_key(&i) {
            continue;
        }
        let Some(m) = made.get(path).and_then(|m| m.first()) else {
            continue;
        };
        let (w, h) = sp.info.display_size();
        out.insert(
            i,
            Target {
                src: rewrite::sibling_src(&r.image.src.text, &name_of(&m.path)),
                srcset: String::new(),
                css_width: w,
                css_height: h,
                ratio: format!("{}%", trim_num(h as f64 * 100.0 / w.max(1) as f64)),
            },
        );
    }
    out
}

fn trim_num(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn make_manifest(
    plan: &Plan,
    made: &BTreeMap<String, Vec<Made>>,
    hashes: &BTreeMap<String, (String, u64)>,
) -> Manifest {
    let mut m = Manifest {
        version: manifest::VERSION,
        images: BTreeMap::new(),
    };
    for (path, ms) in made {
        let sp = &plan.sources[path];
        let (w, h) = sp.info.display_size();
        let (hash, bytes) = hashes.get(path).cloned().unwrap_or_default();
        let copied = sp.treatment == Treatment::Copy;
        m.images.insert(
            path.clone(),
            manifest::Image {
                width: w,
                height: h,
                format: sp.info.format.name().to_ascii_lowercase(),
                hash: hash.get(..10).unwrap_or("").to_string(),
                bytes,
                treatment: if copied {
                    "copied".into()
                } else {
                    "resized".into()
                },
                variants: ms
                    .iter()
                    .map(|x| manifest::Variant {
                        path: x.path.clone(),
                        width: x.variant.width,
                        height: x.variant.height,
                        format: if copied {
                            sp.info.format.name().to_ascii_lowercase()
                        } else {
                            x.variant.format.name().to_string()
                        },
                        bytes: x.bytes,
                        hash: x.hash.clone(),
                    })
                    .collect(),
            },
        );
    }
    m
}

/// A Hugo config fragment that mounts the mirror over the site: give it to Hugo after the
/// site's own config (`hugo --config hugo.toml,DIR/hugo-mounts.toml`).
fn hugo_mounts(root: &Path, dir: &Path, config: &Config) -> String {
    let rel = |p: &Path| -> String {
        let abs_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        let abs = p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        abs.strip_prefix(&abs_root)
            .map(|r| r.display().to_string())
            .unwrap_or_else(|_| abs.display().to_string())
    };
    let d = rel(dir);
    let multi = config
        .content
        .iter()
        .map(|c| &c.lang)
        .collect::<BTreeSet<_>>()
        .len()
        > 1;
    let mut s = String::from("# Written by pixpipe build: mounts the optimised mirror over the site.\n# Use: hugo --config <your config>,");
    s.push_str(&format!("{d}/hugo-mounts.toml\n"));
    for c in &config.content {
        s.push_str(&format!(
            "[[module.mounts]]\nsource = \"{d}/{}\"\ntarget = \"content\"\n",
            c.dir
        ));
        if multi {
            s.push_str(&format!("lang = \"{}\"\n", c.lang));
        }
    }
    for (kind, dirs) in [
        ("static", &config.static_dirs),
        ("assets", &config.assets_dirs),
    ] {
        for x in dirs {
            s.push_str(&format!(
                "[[module.mounts]]\nsource = \"{d}/{x}\"\ntarget = \"{kind}\"\n"
            ));
            s.push_str(&format!(
                "[[module.mounts]]\nsource = \"{x}\"\ntarget = \"{kind}\"\n"
            ));
        }
    }
    s.push_str(&format!("[[module.mounts]]\nsource = \"{d}/data\"\ntarget = \"data\"\n[[module.mounts]]\nsource = \"data\"\ntarget = \"data\"\n"));
    s
}

/// `p` made absolute and normalised without touching the filesystem (it may not exist yet),
/// then with symbolic links resolved for the part that exists.
pub(crate) fn absolute(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut clean = PathBuf::new();
    for c in abs.components() {
        match c {
            std::path::Component::ParentDir => {
                clean.pop();
            }
            std::path::Component::CurDir => {}
            other => clean.push(other),
        }
    }
    clean.canonicalize().unwrap_or(clean)
}

/// Name of the file that marks a folder as a pixpipe mirror (and so safe to prune).
pub const MIRROR_MARK: &str = ".pixpipe-mirror";

/// Refuse a mirror folder that holds someone else's files, or that lies inside the content.
fn claim_mirror(root: &Path, dir: &Path, config: &Config) -> Result<(), BuildError> {
    let bad = |msg: String| BuildError::Write {
        path: dir.display().to_string(),
        source: std::io::Error::other(msg),
    };
    let d = absolute(dir);
    let r = absolute(root);
    if d == r {
        return Err(bad(
            "the output folder is the site itself; choose another --out (or use --in-place)".into(),
        ));
    }
    let site_dirs = config
        .content
        .iter()
        .map(|c| c.dir.clone())
        .chain(config.static_dirs.iter().cloned())
        .chain(config.assets_dirs.iter().cloned())
        .chain(["data".to_string(), "layouts".to_string()]);
    for sd in site_dirs {
        if sd != "." && d.starts_with(absolute(&root.join(&sd))) {
            return Err(bad(format!(
                "the output folder is inside the site's {sd}/ folder; choose another --out"
            )));
        }
    }
    let mark = dir.join(MIRROR_MARK);
    if !mark.exists() && !emit::is_empty_but_leftovers(dir) {
        return Err(bad("the output folder is not empty and was not made by pixpipe; choose an empty or new folder".into()));
    }
    if !mark.exists() {
        write_atomic(
            &mark,
            b"This folder is written by pixpipe build; files not in the build are removed.\n",
        )
        .map_err(werr(&mark))?;
    }
    Ok(())
}

fn prune_mirror(dir: &Path, expected: &BTreeSet<PathBuf>, cache_dir: &Path) -> usize {
    let mut n = 0;
    // Compare absolute paths: --manifest or --out may be spelled relative to the caller.
    let expected: BTreeSet<PathBuf> = expected.iter().map(|p| absolute(p)).collect();
    let cache = cache_dir.canonicalize().ok();
    for e in walkdir::WalkDir::new(dir)
        .contents_first(true)
        .into_iter()
        .flatten()
    {
        let p = e.path();
        if cache.as_deref().is_some_and(|c| {
            p.canonicalize()
                .ok()
                .as_deref()
                .is_some_and(|q| q.starts_with(c))
        }) {
            continue;
        }
        if e.file_type().is_dir() {
            if p != dir {
                let _ = std::fs::remove_dir(p); // only succeeds when empty
            }
        } else if !expected.contains(&absolute(p)) && std::fs::remove_file(p).is_ok() {
            n += 1;
        }
    }
    n
}
