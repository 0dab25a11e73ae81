//! Build: resize every referenced image to its declared widths, name each output by the hash
//! of its bytes, rewrite the references, write the manifest.
//!
//! The command's shell calls the stages in order: `analyze` (scan → inventory → probe →
//! check), `plan`, `jobs` (cache lookup, then the variants to make), placement, `rewrite`,
//! the manifest, pruning. Outputs go next to their source in the output tree (a mirror of
//! the site under `--out`, owned through `output::OwnedDir`, or the site itself with
//! `--in-place`), so a rewritten reference resolves exactly as the original did. The
//! manifest is written last.

use crate::analyze::{self, Analysis};
use crate::cache::{Cache, StatScope};
use crate::config::{Config, ContentDir};
use crate::emit::{self, write_atomic, TEMP_PREFIX};
use crate::inventory::{self, Inventory, Reference};
use crate::jobs::{self, Job, JobError, Made, RunOptions};
use crate::manifest::{self, Manifest, ManifestFormat};
use crate::naming::{copy_name, variant_name};
use crate::output::{self, is_placed, Kind, OutputError, OwnedDir};
use crate::plan::{self, OutFormat, Plan, Treatment, Variant};
use crate::probe::{Format, ImageInfo, Probe};
use crate::process::ProcessError;
use crate::report::{Diagnostic, Progress};
use crate::resolve::Resolution;
use crate::rewrite::{self, Target};
use crate::scan::{ScanError, Site};
use crate::site_path::{self, file_name, join};
use crate::stamp::DirMemo;
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
    /// The shared cache behind the cache folder (`--cache s3://…`), if any.
    pub shared: Option<std::sync::Arc<crate::remote::Remote>>,
    /// Make only this part of the image work, for the shared cache, and write nothing else.
    pub shard: Option<jobs::Shard>,
}

/// What a build did.
#[derive(Debug, Default, serde::Serialize)]
pub struct BuildReport {
    /// Findings (those of `check`, plus processing failures and notes).
    pub diagnostics: Vec<Diagnostic>,
    /// Source images published.
    pub images: usize,
    /// Variants encoded in this run.
    pub made: usize,
    /// Variants taken from the cache or already in place.
    pub reused: usize,
    /// AVIF variants left for a later run by `avif_budget` (`jobs::Ran::later`).
    pub avif_later: usize,
    /// AVIF outputs left out: together no smaller than what a browser without AVIF gets
    /// (`jobs::avif_gains`).
    pub avif_unserved: jobs::Unserved,
    /// Sources decoded in this run.
    pub decoded: usize,
    /// With `--shard`: which part this build made, and how many jobs it left to the others.
    pub shard: Option<(jobs::Shard, usize)>,
    /// What the build fetched from and sent to the shared cache, if it has one.
    pub shared: Option<crate::remote::Traffic>,
    /// Sources whose bytes were read to hash them (the others' size and mtime were known).
    pub hashed: usize,
    /// Bytes of the sources.
    pub bytes_in: u64,
    /// Bytes of the outputs.
    pub bytes_out: u64,
    /// What a visitor of the site's pages downloads for their images, before and after.
    pub visitor: Visitor,
    /// Pages written (rewritten or copied).
    pub pages_written: usize,
    /// Which: their paths in the site (what `--in-place` rewrote of the sources). Not in
    /// the JSON report (a first build of a mirror lists every page).
    #[serde(skip)]
    pub written_pages: Vec<String>,
    /// Stale outputs removed.
    pub pruned: usize,
    /// Where the manifest was written, relative to the site root when inside it.
    pub manifest: String,
    /// Seconds taken.
    pub seconds: f64,
}

/// The bytes a visitor downloads for the images of the site's pages: each image a page shows
/// (once per page), at the width the page declares, in the format a current browser takes
/// (WebP where it was made).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Visitor {
    /// Images counted (distinct per page).
    pub images: usize,
    /// Pages showing them.
    pub pages: usize,
    /// Before the build: the originals, whatever the screen.
    pub before: u64,
    /// After, on a standard screen (1x).
    pub after_1x: u64,
    /// After, on a high-density screen (2x).
    pub after_2x: u64,
}

/// A build that could not run.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The site could not be read.
    #[error(transparent)]
    Scan(#[from] ScanError),
    /// Writing failed, or the output folder is not pixpipe's.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// Writing failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// What.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A source to copy could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The source, site-relative.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// An output the cache holds could not be read back to be placed.
    #[error("cannot read {output} from the cache {cache}: {source}")]
    CacheRead {
        /// The output, site-relative.
        output: String,
        /// The cache folder.
        cache: String,
        /// Why.
        source: std::io::Error,
    },
    /// The previous manifest of an in-place build cannot be read.
    #[error("cannot read the manifest {path}: {message}")]
    Manifest {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The worker pool could not start.
    #[error(transparent)]
    Pool(#[from] jobs::PoolError),
}

fn werr(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Write {
        path: path.display().to_string(),
        source,
    }
}

/// One output file of the build, under one source's name.
#[derive(Debug, Clone)]
struct Published {
    variant: Variant,
    /// Site-relative path in the output tree.
    path: String,
    hash: String,
    bytes: u64,
    /// Where its bytes are.
    from: From,
}

/// Where a published output's bytes come from.
#[derive(Debug, Clone)]
enum From {
    /// A job's output (made now or cached).
    Job(Made),
    /// The source itself, copied (SVG, animations).
    Copy,
    /// An earlier build's output, already in the mirror, kept for a source that cannot be
    /// made now.
    Kept,
    /// The original's own bytes (metadata stripped when that makes them smaller), served
    /// where re-encoding made larger files (`serve_smaller_originals`).
    Original(std::sync::Arc<Vec<u8>>),
}

/// Run a build of the site at `root`.
pub fn build(
    root: &Path,
    config: &Config,
    opts: &BuildOptions,
    progress: &dyn Progress,
) -> Result<BuildReport, BuildError> {
    build_warm(root, config, opts, progress, &mut Warm::default())
}

/// What a process that builds the same site again and again (`--watch`) keeps between its
/// builds, so that a rebuild after a one-page edit does not redo the work of the whole
/// site's bookkeeping. Only ever a shortcut: each item is used only when the file on disk
/// still holds exactly what it was made from.
#[derive(Debug, Default)]
pub struct Warm {
    /// The manifest this process wrote last, and its bytes.
    manifest: Option<(Vec<u8>, Manifest)>,
    /// A build of this process has swept the output of killed runs' temporary files.
    swept: bool,
    /// The probes of the last build, each with its file's stamp.
    probes: crate::probe::ProbeMemo,
    /// The outputs and cache objects the last build looked at, by folder.
    looked: std::sync::Arc<DirMemo>,
    /// The cache's index as the last build left it.
    index: crate::cache::IndexMemo,
    /// What the last build's scan read, for a build told what changed since (a mirror only:
    /// `--in-place` rewrites pages itself).
    site: Option<Site>,
    /// The files that changed since the last build, when the caller knows (a watcher).
    changed: Option<Vec<PathBuf>>,
    /// The workers of the last build, and how many.
    pool: Option<(usize, rayon::ThreadPool)>,
    /// What the last build's jobs gave.
    jobs: JobMemo,
}

impl Warm {
    /// Tell the next build that only the files at `paths` (absolute) changed since the last
    /// one (`None`: anything may have): it reads just those again.
    pub fn changed_since_last(&mut self, paths: Option<Vec<PathBuf>>) {
        self.changed = paths;
    }

    /// Start a build: the last build's scan and the files changed since, when both are
    /// known. Taken: if this build fails anywhere, the next one scans anew.
    fn begin(&mut self) -> Option<(Site, Vec<PathBuf>)> {
        match std::sync::Arc::get_mut(&mut self.looked) {
            Some(memo) => memo.next(),
            None => self.looked = Default::default(),
        }
        self.site.take().zip(self.changed.take())
    }
}

/// [`build`], keeping what the next build of the same site can reuse in `warm`.
pub fn build_warm(
    root: &Path,
    config: &Config,
    opts: &BuildOptions,
    progress: &dyn Progress,
    warm: &mut Warm,
) -> Result<BuildReport, BuildError> {
    let pool = match warm.pool.take() {
        Some((n, pool)) if n == opts.jobs => pool,
        _ => jobs::pool(opts.jobs)?,
    };
    let built = pool.install(|| match opts.shard {
        Some(_) => build_shard(root, config, opts, progress, warm),
        None => build_in_pool(root, config, opts, progress, warm),
    });
    warm.pool = Some((opts.jobs, pool));
    built
}

fn build_in_pool(
    root: &Path,
    config: &Config,
    opts: &BuildOptions,
    progress: &dyn Progress,
    warm: &mut Warm,
) -> Result<BuildReport, BuildError> {
    let started = Instant::now();
    let mut report = BuildReport::default();
    let last_scan = warm.begin();
    // Given back only when this build succeeds: one that fails (an object it counted on
    // gone from the cache) leaves the next to look everything up again.
    let mut job_memo = std::mem::take(&mut warm.jobs);
    let dest = Dest::open(root, config, opts, progress)?;
    let manifest_path = opts
        .manifest
        .clone()
        .unwrap_or_else(|| dest.root().join("data").join("pixpipe.yaml"));
    let (previous, written) =
        previous_manifest(&manifest_path, &dest, warm, &mut report.diagnostics)?;

    let (site, mut inv) = read_site(root, config, opts, last_scan, warm)?;
    // Every file a page points at now is kept, whatever happens to its source.
    let referenced: BTreeSet<String> = inv
        .refs
        .iter()
        .filter_map(|r| r.resolution.resolved().map(str::to_string))
        .collect();
    let in_place = matches!(dest, Dest::InPlace(..));
    let frozen = frozen_refs(&mut inv, (&previous, &site), config, in_place);
    let a = analyze::examine_with(root, site, inv, config, false, &mut warm.probes);
    report.diagnostics.extend(a.diagnostics.iter().cloned());
    // A source that is broken now keeps its last good outputs in the mirror: it is planned
    // as that version was, and published from what is already there.
    let stand_ins = stand_ins(&dest, &previous, &a);
    let plan = plan_visible(&a, &frozen, &stand_ins, config);

    let cache = Cache::open_with(&opts.cache_dir, warm.index.clone())
        .looking_through(warm.looked.clone())
        .sharing(opts.shared.clone());
    let Outputs {
        mut made,
        failed,
        hashes,
        live,
    } = make_outputs(
        root,
        (&plan, &stand_ins),
        (&cache, &mut job_memo),
        config,
        (opts, started),
        Some(&dest),
        progress,
        &mut report,
    );
    let kept = keep_previous(&dest, &previous, &failed, &stand_ins, &mut made);
    let smaller = serve_smaller_originals(root, &plan, &hashes, &mut made);
    report.bytes_out = made.values().flatten().map(|m| m.bytes).sum();
    if let Dest::Mirror(owned, layout) = &dest {
        // Placed as soon as they were made; left out now, so pruned at the end.
        for p in smaller.values().flat_map(|s| &s.dropped) {
            owned.unkeep(&layout.path(p));
        }
    }
    report
        .diagnostics
        .extend(smaller_notes(&smaller, &a.site, &a.inv));
    report
        .diagnostics
        .extend(failure_diagnostics(&failed, &kept, &a.site, &a.inv));
    report
        .diagnostics
        .extend(copied_notes(&plan, &made, &a.site, &a.inv));
    report
        .diagnostics
        .extend(kept_notes(&stand_ins, &kept, &a.site, &a.inv));

    dest.place_all(root, &made, (&cache, &warm.looked))?;
    let targets = targets(&plan, &made, &a.inv.refs);
    report.visitor = visitor(&plan, &made, &hashes, &a.inv.refs);
    let texts = rewrite_pages(&a.site, &a.inv, &targets, config);
    report.written_pages = dest.write_pages(root, &a.site, &texts)?;
    report.pages_written = report.written_pages.len();
    if let Dest::Mirror(owned, layout) = &dest {
        let mirror = (owned, layout);
        let published = |rel: &str| made.contains_key(rel) && !failed.contains_key(rel);
        // Left out: replaced by outputs. As is: a page shows the original itself (it could
        // not be made), so it goes without its metadata.
        let left_out = |rel: &str| published(rel) || kept.contains(rel);
        let as_is = |rel: &str| referenced.contains(rel) && !left_out(rel);
        let choice = (
            &left_out as &dyn Fn(&str) -> bool,
            &as_is as &dyn Fn(&str) -> bool,
        );
        mirror_other_files(root, mirror, &a.site, config, choice, &made, &texts)?;
    }

    let kept_as_was = Kept {
        referenced: &referenced,
        sources: &kept,
        unreadable: &a.site.unreadable,
    };
    let manifest = manifest_of(&plan, &made, &hashes, &previous, &kept_as_was);
    let bytes = match written {
        Some(bytes) if previous == manifest => bytes,
        _ => manifest.to_string(opts.manifest_format).into_bytes(),
    };
    dest.write_file(&manifest_path, &bytes)?;
    warm.manifest = Some((bytes, manifest));
    report.manifest = shown_path(root, &manifest_path);
    let keep = Keep {
        referenced: &referenced,
        plan: &plan,
        made: &made,
        unreadable: &a.site.unreadable,
    };
    report.pruned = dest.finish(root, config, &a.site, &previous, keep, !warm.swept)?;
    warm.swept = true;
    let root_abs = absolute(root);
    let scope = StatScope {
        root: &root_abs,
        live: &live,
    };
    close(
        &mut report,
        &cache,
        (opts.prune_cache, Some(scope)),
        started,
    );
    warm.jobs = job_memo;
    Ok(report)
}

/// The end of a build: the cache saved (after the shared cache's uploads) and what that
/// said, the findings sorted, the time taken.
fn close(
    report: &mut BuildReport,
    cache: &Cache,
    (prune, scope): (bool, Option<StatScope>),
    started: Instant,
) {
    let saved = jobs::save_cache(cache, prune, scope);
    report.diagnostics.extend(saved.diagnostics);
    report.shared = saved.shared;
    crate::report::sort(&mut report.diagnostics);
    report.seconds = started.elapsed().as_secs_f64();
}

/// A build with `--shard` (`opts.shard`): plan as a whole build would, then make (and store
/// in the cache, shared or not) only this shard's jobs' outputs. Nothing is written but the
/// cache: no page, output, manifest, nor the output folder.
fn build_shard(
    root: &Path,
    config: &Config,
    opts: &BuildOptions,
    progress: &dyn Progress,
    warm: &mut Warm,
) -> Result<BuildReport, BuildError> {
    let started = Instant::now();
    let mut report = BuildReport::default();
    let (a, plan) = plan_alone(root, config, opts, warm)?;
    report.diagnostics.extend(a.diagnostics.iter().cloned());
    let cache = Cache::open(&opts.cache_dir).sharing(opts.shared.clone());
    let outputs = make_outputs(
        root,
        (&plan, &BTreeMap::new()),
        (&cache, &mut JobMemo::default()),
        config,
        (opts, started),
        None,
        progress,
        &mut report,
    );
    report.diagnostics.extend(failure_diagnostics(
        &outputs.failed,
        &BTreeSet::new(),
        &a.site,
        &a.inv,
    ));
    close(&mut report, &cache, (false, None), started);
    Ok(report)
}

/// The site's analysis and plan as a whole build would make them, without its output folder:
/// outputs that pages already name (in the manifest a build wrote) are planned as their
/// sources; a manifest that cannot be read is none (a first build).
fn plan_alone(
    root: &Path,
    config: &Config,
    opts: &BuildOptions,
    warm: &mut Warm,
) -> Result<(Analysis, Plan), BuildError> {
    let (site, mut inv) = read_site(root, config, opts, None, warm)?;
    let manifest_path = opts.manifest.clone().unwrap_or_else(|| {
        let out = match &opts.output {
            Output::Mirror(dir) => dir.as_path(),
            Output::InPlace => root,
        };
        out.join("data").join("pixpipe.yaml")
    });
    let previous = std::fs::read_to_string(&manifest_path)
        .ok()
        .and_then(|t| Manifest::parse(&t).ok())
        .unwrap_or_default();
    let in_place = matches!(opts.output, Output::InPlace);
    let frozen = frozen_refs(&mut inv, (&previous, &site), config, in_place);
    let a = analyze::examine_with(root, site, inv, config, false, &mut warm.probes);
    let plan = plan_visible(&a, &frozen, &BTreeMap::new(), config);
    Ok((a, plan))
}

/// The cache keys of every output a build of the site at `root` (with its pixpipe.yaml, in
/// place or into the default mirror) uses (`pixpipe cache prune --keep-referenced-by`): its
/// sources are read to hash them, nothing is made or written.
pub fn used_keys(root: &Path, config: &Config) -> Result<BTreeSet<String>, BuildError> {
    // Built in place when its manifest is there (outputs that pages name are then planned
    // as their sources, as its builds plan them), else into the default mirror.
    let in_place = !root.join(".pixpipe/site/data/pixpipe.yaml").is_file()
        && root.join("data/pixpipe.yaml").is_file();
    let opts = BuildOptions {
        output: match in_place {
            true => Output::InPlace,
            false => Output::Mirror(root.join(".pixpipe/site")),
        },
        manifest: None,
        manifest_format: ManifestFormat::Yaml,
        cache_dir: root.join(".pixpipe/cache"),
        jobs: 1,
        memory_bytes: 0,
        prune_cache: false,
        shared: None,
        shard: None,
    };
    let (_, plan) = plan_alone(root, config, &opts, &mut Warm::default())?;
    let root_abs = absolute(root);
    let sources: Vec<(String, PathBuf)> = (plan.sources.keys())
        .map(|rel| (rel.clone(), root_abs.join(rel)))
        .collect();
    // The site's own cache folder only saves re-hashing unchanged sources; it is not saved.
    let (hashes, _) = jobs::hash_files(&Cache::open(&opts.cache_dir), &sources);
    let (job_list, _) = jobs_of(root, &plan, &hashes);
    Ok(job_list
        .iter()
        .flat_map(|job| job.variants.iter().map(|v| job.key(v, config)))
        .collect())
}

/// Scan the site, or bring the last build's scan up to date with the files that changed
/// since; then take its inventory.
fn read_site(
    root: &Path,
    config: &Config,
    opts: &BuildOptions,
    last_scan: Option<(Site, Vec<PathBuf>)>,
    warm: &mut Warm,
) -> Result<(Site, Inventory), BuildError> {
    let site =
        last_scan.and_then(|(before, changed)| crate::scan::rescan(before, &changed, config));
    let site = match site {
        Some(site) => site,
        None => crate::scan::scan(root, config)?,
    };
    if matches!(opts.output, Output::Mirror(_)) {
        warm.site = Some(site.clone());
    }
    let inv = inventory::take(&site, config);
    Ok((site, inv))
}

/// What the build publishes, by source name, and what it could not make.
struct Outputs {
    made: BTreeMap<String, Vec<Published>>,
    failed: BTreeMap<String, JobError>,
    /// Each source's blake3 and size.
    hashes: BTreeMap<String, (String, u64)>,
    /// The absolute paths of the sources (for the cache's stat index).
    live: BTreeSet<String>,
}

/// Hash the sources, then make (or find in the cache) every variant of the plan, one job per
/// distinct source bytes; in a mirror, each output is placed as soon as it is made.
#[allow(clippy::too_many_arguments)]
fn make_outputs(
    root: &Path,
    (plan, stand_ins): (&Plan, &BTreeMap<String, Probe>),
    (cache, memo): (&Cache, &mut JobMemo),
    config: &Config,
    (opts, started): (&BuildOptions, Instant),
    dest: Option<&Dest>,
    progress: &dyn Progress,
    report: &mut BuildReport,
) -> Outputs {
    if cache.damaged() {
        report.diagnostics.push(damaged_cache_note(&opts.cache_dir));
    }
    let root_abs = absolute(root);
    let sources: Vec<(String, PathBuf)> = plan
        .sources
        .keys()
        .filter(|rel| !stand_ins.contains_key(*rel))
        .map(|rel| (rel.clone(), root_abs.join(rel)))
        .collect();
    let (hashes, hashed) = jobs::hash_files(cache, &sources);
    report.hashed = hashed;
    report.bytes_in = hashes.values().map(|(_, size)| size).sum();
    let (job_list, names) = jobs_of(root, plan, &hashes);
    let (job_list, names) = match opts.shard {
        Some(shard) => {
            let mine = shard.select(&job_list, config);
            let others = mine.iter().filter(|m| !**m).count();
            report.shard = Some((shard, others));
            (job_list.into_iter().zip(names).zip(mine))
                .filter(|(_, m)| *m)
                .map(|(jn, _)| jn)
                .unzip()
        }
        None => (job_list, names),
    };
    let (mut made, remembered, recalled) = memo.recall(cache, config, &job_list, &names);
    let (job_list, names): (Vec<Job>, Vec<Names>) = job_list
        .into_iter()
        .zip(names)
        .zip(&remembered)
        .filter(|(_, r)| !**r)
        .map(|(jn, _)| jn)
        .unzip();
    // Placed as soon as it is made or fetched, while its bytes are in memory.
    let early = std::sync::Mutex::new(Vec::new());
    let on_made = |j: usize, m: &Made, bytes: &[u8]| {
        if let Some(dest) = dest {
            let placed = dest.place_early(&names[j], m, bytes);
            crate::locks::lock(&early).extend(placed.into_iter().map(|p| (j, p)));
        }
    };
    let (hits, todo) = match opts.shard {
        Some(_) => jobs::Shard::lookup(cache, &job_list, config),
        None => jobs::lookup_with(cache, &job_list, config, &mut memo.keys, &on_made),
    };
    let mut run_opts = RunOptions::new(opts.memory_bytes, config, started);
    if opts.shard.is_some() {
        run_opts = jobs::Shard::run_options(run_opts);
    }
    let ran = jobs::run(
        &job_list, &todo, cache, config, run_opts, &on_made, progress,
    );
    report.avif_later = ran.later.iter().map(|(_, n)| n).sum();
    report.diagnostics.extend(ran.warnings);
    report.decoded = ran.results.iter().filter(|r| r.1.is_ok()).count();
    report.made = ran
        .results
        .iter()
        .filter_map(|r| r.1.as_ref().ok())
        .map(Vec::len)
        .sum();
    let unpublished = publish(&names, hits, ran.results, &mut made);
    report.avif_unserved = jobs::Unserved {
        files: unpublished.count.files + recalled.count.files,
        sources: unpublished.count.sources + recalled.count.sources,
    };
    take_back(dest, &crate::locks::lock(&early), &names, &unpublished);
    // A job whose AVIF the time budget left, or that could not be tried, is looked up again.
    let unfinished = if ran.untried.is_empty() {
        &ran.later
    } else {
        &ran.untried
    };
    memo.learn(
        config,
        (&job_list, unfinished),
        &names,
        (&made, &unpublished),
    );
    // A shard publishes nothing: its copies are the last build's.
    if opts.shard.is_none() {
        made.extend(copies(plan, &hashes));
    }
    // Every output made now is some name's, published or left out (an AVIF).
    let left_out = |u: &Unpublished| u.unserved.values().map(Vec::len).sum::<usize>();
    let given =
        made.values().map(Vec::len).sum::<usize>() + left_out(&unpublished) + left_out(&recalled);
    report.reused = given.saturating_sub(report.made);
    report.images = made.len();
    report.bytes_out = made.values().flatten().map(|m| m.bytes).sum();
    let live = sources
        .iter()
        .map(|(_, p)| p.to_string_lossy().into())
        .collect();
    Outputs {
        made,
        failed: unpublished.failed,
        hashes,
        live,
    }
}

/// In a mirror, let go of what was placed early but is not this build's: what a job that
/// failed in the end placed (fetched, or made before it failed), which `finish` then removes
/// unless `keep_previous` keeps it after all, and the AVIF outputs left out.
fn take_back(
    dest: Option<&Dest>,
    early: &[(usize, PathBuf)],
    names: &[Names],
    unpublished: &Unpublished,
) {
    let Some(Dest::Mirror(owned, layout)) = dest else {
        return;
    };
    let failed =
        |j: usize| (names[j].iter()).any(|(name, _)| unpublished.failed.contains_key(name));
    for (_, file) in early.iter().filter(|(j, _)| failed(*j)) {
        owned.unkeep(file);
    }
    for p in unpublished.unserved_paths() {
        owned.unkeep(&layout.path(&p));
    }
}

/// What the last build's jobs gave, kept by a process that builds again (`--watch`): a
/// rebuild after a page edit looks up and names again only the jobs whose sources or widths
/// changed, not the 10,000 outputs of the whole site.
#[derive(Debug, Default)]
struct JobMemo {
    /// The cache keys of the jobs the last build looked up.
    keys: jobs::KeyMemo,
    /// Each name's outputs, from a job all of whose outputs are in the cache, with what that
    /// job was made from.
    published: rustc_hash::FxHashMap<String, Remembered>,
}

#[derive(Debug)]
struct Remembered {
    /// The job's source hash, all its variants and the metadata setting: its cache keys.
    hash: String,
    all: Vec<Variant>,
    metadata: crate::config::Metadata,
    /// The variants this name needs, and what it publishes.
    needs: Vec<Variant>,
    outputs: Vec<Published>,
    /// Its AVIF outputs left out (`jobs::avif_gains`): still the cache's, so marked used.
    unserved: Vec<Made>,
    /// How many AVIF outputs the whole job left out (counted once, for its first name).
    job_unserved: usize,
}

impl JobMemo {
    /// The outputs of every name of the jobs the last build published from the cache, for
    /// jobs exactly as they were (each name's too) whose objects the cache's index still
    /// names; which jobs those were; the AVIF outputs those jobs left out. Their objects are
    /// marked used, not looked at again: a rebuild only reads one if its output left the
    /// mirror, and a failure to read it fails that build, which drops this memory
    /// (`build_in_pool`), so the next looks again.
    fn recall(
        &mut self,
        cache: &Cache,
        config: &Config,
        jobs: &[Job],
        names: &[Names],
    ) -> (BTreeMap<String, Vec<Published>>, Vec<bool>, Unpublished) {
        let mut last = std::mem::take(&mut self.published);
        let mut made = BTreeMap::new();
        let mut left_out = Unpublished::default();
        let known = |m: &Made| {
            cache
                .known(&m.key)
                .is_some_and(|e| e.hash == m.hash && e.bytes == m.bytes)
        };
        let indexed = |p: &Published| matches!(&p.from, From::Job(m) if known(m));
        let same = |job: &Job, (name, needs): &(String, Vec<Variant>)| {
            last.get(name).is_some_and(|r| {
                r.hash == job.hash
                    && r.all == job.variants
                    && r.metadata == config.metadata
                    && r.needs == *needs
                    && r.outputs.iter().all(indexed)
                    && r.unserved.iter().all(known)
            })
        };
        let remembered: Vec<bool> = jobs
            .iter()
            .zip(names)
            .map(|(job, names)| names.iter().all(|n| same(job, n)))
            .collect();
        for (names, _) in names.iter().zip(&remembered).filter(|(_, r)| **r) {
            for (i, (name, _)) in names.iter().enumerate() {
                if let Some(r) = last.remove(name) {
                    let keys = r.outputs.iter().filter_map(|p| match &p.from {
                        From::Job(m) => Some(m.key.clone()),
                        _ => None,
                    });
                    cache.mark_used(keys.chain(r.unserved.iter().map(|m| m.key.clone())));
                    if i == 0 && r.job_unserved > 0 {
                        left_out.count.files += r.job_unserved;
                        left_out.count.sources += 1;
                    }
                    if !r.unserved.is_empty() {
                        left_out.unserved.insert(name.clone(), r.unserved.clone());
                    }
                    made.insert(name.clone(), r.outputs.clone());
                    self.published.insert(name.clone(), r);
                }
            }
        }
        (made, remembered, left_out)
    }

    /// Remember what `jobs` published in `made`, for each job all of whose outputs are in
    /// the cache (not a failed one, nor one whose outputs could not be stored, nor one the
    /// AVIF time budget left unfinished: `later`, sorted by job).
    fn learn(
        &mut self,
        config: &Config,
        (jobs, later): (&[Job], &[(usize, usize)]),
        names: &[Names],
        (made, unpublished): (&BTreeMap<String, Vec<Published>>, &Unpublished),
    ) {
        let cached = |outs: &[Published]| {
            outs.iter()
                .all(|p| matches!(&p.from, From::Job(m) if m.held.is_none()))
        };
        for (j, (job, names)) in jobs.iter().zip(names).enumerate() {
            // A job whose AVIF outputs the time budget left is looked up again next time.
            if later.binary_search_by_key(&j, |(l, _)| *l).is_ok() {
                continue;
            }
            let outs: Option<Vec<&Vec<Published>>> =
                names.iter().map(|(name, _)| made.get(name)).collect();
            let Some(outs) = outs.filter(|o| o.iter().all(|o| cached(o))) else {
                continue;
            };
            for ((name, needs), outs) in names.iter().zip(outs) {
                let r = Remembered {
                    hash: job.hash.clone(),
                    all: job.variants.clone(),
                    metadata: config.metadata,
                    needs: needs.clone(),
                    outputs: outs.clone(),
                    unserved: (unpublished.unserved.get(name).cloned()).unwrap_or_default(),
                    job_unserved: unpublished.job_unserved[j],
                };
                self.published.insert(name.clone(), r);
            }
        }
    }
}

/// In a mirror, a source that cannot be made now keeps the outputs its last good version left
/// there (in place, its pages still point at them anyway): a broken upload never makes the
/// published page worse, nor publishes the broken original. Returns the sources kept so.
fn keep_previous(
    dest: &Dest,
    previous: &Manifest,
    failed: &BTreeMap<String, JobError>,
    stand_ins: &BTreeMap<String, Probe>,
    made: &mut BTreeMap<String, Vec<Published>>,
) -> BTreeSet<String> {
    let Dest::Mirror(owned, layout) = dest else {
        return BTreeSet::new();
    };
    let mut kept = BTreeSet::new();
    for name in failed.keys().chain(stand_ins.keys()) {
        let Some(img) = previous.images.get(name) else {
            continue;
        };
        let list: Option<Vec<Published>> = img
            .variants
            .iter()
            .map(|v| {
                let placed = is_placed(&owned.dir().join(layout.path(&v.path)), v.bytes);
                let variant = Variant {
                    width: v.width,
                    height: v.height,
                    format: OutFormat::from_name(&v.format)?,
                    quality: 0,
                    effort: 0,
                };
                placed.then(|| Published {
                    variant,
                    path: v.path.clone(),
                    hash: v.hash.clone(),
                    bytes: v.bytes,
                    from: From::Kept,
                })
            })
            .collect();
        if let Some(list) = list.filter(|l| !l.is_empty() && img.treatment == "resized") {
            made.insert(name.clone(), list);
            kept.insert(name.clone());
        }
    }
    kept
}

/// `path` as the summary shows it: relative to the site root when inside it.
fn shown_path(root: &Path, path: &Path) -> String {
    let shown = path.strip_prefix(root).unwrap_or(path);
    shown.display().to_string()
}

/// The note for a cache whose index could not be read.
pub(crate) fn damaged_cache_note(dir: &Path) -> Diagnostic {
    Diagnostic::note(
        "cache",
        format!(
            "the cache index {} was damaged; its outputs are found again from their files",
            dir.join("index.json").display()
        ),
    )
}

/// The manifest an earlier build wrote. In place, a manifest that cannot be parsed is an
/// error: the pages already point at outputs it names, and without it they would be taken
/// for new sources. A mirror's own manifest is only noted and rebuilt. With it, its bytes
/// when they are what this process last wrote (taken from `warm`: not parsed again).
fn previous_manifest(
    path: &Path,
    dest: &Dest,
    warm: &mut Warm,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<(Manifest, Option<Vec<u8>>), BuildError> {
    let last = warm.manifest.take();
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
        Err(e) => return Err(werr(path)(e)),
    };
    // The file as this process wrote it: what it was made from, without parsing it again.
    if let Some((bytes, m)) = last.filter(|(bytes, _)| *bytes == text) {
        return Ok((m, Some(bytes)));
    }
    let parsed = std::str::from_utf8(&text)
        .map_err(|e| e.to_string())
        .and_then(Manifest::parse);
    match (parsed, dest) {
        (Ok(m), _) => Ok((m, None)),
        (Err(message), Dest::InPlace(..)) => Err(BuildError::Manifest {
            path: path.display().to_string(),
            message,
        }),
        (Err(message), Dest::Mirror(..)) => {
            diagnostics.push(Diagnostic::note(
                "manifest",
                format!(
                    "{}: cannot be read ({message}); it is written anew",
                    path.display()
                ),
            ));
            Ok(Default::default())
        }
    }
}

/// Recognise our own outputs (an in-place page already points at them) as their sources, so
/// a second run plans, and writes, exactly what the first did. Returns the references whose
/// output's original is gone: they stay as they are (never re-encoded).
fn recognise_outputs(inv: &mut Inventory, previous: &Manifest, site: &Site) -> BTreeSet<usize> {
    let previous_outputs = previous.outputs();
    let mut frozen = BTreeSet::new();
    for (i, r) in inv.refs.iter_mut().enumerate() {
        if let Resolution::Found { path, .. } = &mut r.resolution {
            if let Some(src) = previous_outputs.get(path.as_str()) {
                if site.assets.is_file(src) {
                    *path = src.to_string();
                } else {
                    frozen.insert(i);
                }
            }
        }
    }
    frozen
}

/// The references planned as nothing: those to outputs of an earlier build
/// (`recognise_outputs`), and in place those to files in folders pixpipe never writes in (a
/// theme's, a module's), whose outputs would go there.
fn frozen_refs(
    inv: &mut Inventory,
    (previous, site): (&Manifest, &Site),
    config: &Config,
    in_place: bool,
) -> BTreeSet<usize> {
    let mut frozen = recognise_outputs(inv, previous, site);
    if in_place {
        frozen.extend(read_only_refs(inv, config));
    }
    frozen
}

/// The references to files in a theme's or module's folder.
fn read_only_refs<'a>(inv: &'a Inventory, config: &'a Config) -> impl Iterator<Item = usize> + 'a {
    inv.refs.iter().enumerate().filter_map(|(i, r)| {
        let path = r.resolution.resolved()?;
        (config.is_read_only(path) && matches!(r.resolution, Resolution::Found { .. })).then_some(i)
    })
}

/// The plan, with frozen references planned as nothing (a template value is left as written).
fn plan_visible(
    a: &Analysis,
    frozen: &BTreeSet<usize>,
    stand_ins: &BTreeMap<String, Probe>,
    config: &Config,
) -> Plan {
    let refs = a
        .inv
        .refs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut r = r.clone();
            if frozen.contains(&i) {
                r.resolution = Resolution::Template;
            }
            r
        })
        .collect();
    let visible = Inventory {
        refs,
        ..Default::default()
    };
    if stand_ins.is_empty() {
        return plan::plan(&visible, &a.probes, config);
    }
    let mut probes = a.probes.clone();
    probes.extend(stand_ins.iter().map(|(k, p)| (k.clone(), p.clone())));
    plan::plan(&visible, &probes, config)
}

/// In a mirror, the sources that are referenced but broken now, whose last good version's
/// outputs are all still in the mirror: each with a probe as that version was (from the
/// previous manifest), so that they are planned as it was.
fn stand_ins(dest: &Dest, previous: &Manifest, a: &Analysis) -> BTreeMap<String, Probe> {
    let Dest::Mirror(owned, layout) = dest else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for (path, probe) in &a.probes {
        // Only a broken source needs a stand-in (looking at every output first was a stat
        // per output of the site on every build).
        if !probe.is_broken() {
            continue;
        }
        let Some(img) = previous.images.get(path) else {
            continue;
        };
        let format = [Format::Jpeg, Format::Png, Format::WebP]
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(&img.format));
        let all_there = !img.variants.is_empty()
            && img
                .variants
                .iter()
                .all(|v| is_placed(&owned.dir().join(layout.path(&v.path)), v.bytes));
        let (Some(format), true, true, "resized") =
            (format, probe.is_broken(), all_there, img.treatment.as_str())
        else {
            continue;
        };
        let info = ImageInfo {
            format,
            width: img.width,
            height: img.height,
            orientation: 1,
            frames: 1,
            alpha: format == Format::Png && img.variants.iter().any(|v| v.format == "png"),
            gps: false,
            icc: false,
            coefficient_bytes: 0,
            cmyk: false,
        };
        let stand_in = Probe {
            bytes: img.bytes,
            info: Some(info),
            findings: Vec::new(),
        };
        out.insert(path.clone(), stand_in);
    }
    out
}

/// The names (site-relative paths) one job's bytes go by, each with the variants it needs.
type Names = Vec<(String, Vec<Variant>)>;

/// One job per distinct source bytes: the same bytes under several names are decoded once,
/// for all the widths any of them needs (so what a build makes never depends on what
/// earlier builds left in the cache); each name then gets its own variants.
fn jobs_of(
    root: &Path,
    plan: &Plan,
    hashes: &BTreeMap<String, (String, u64)>,
) -> (Vec<Job>, Vec<Names>) {
    let uses = plan.use_counts();
    let mut groups: BTreeMap<&str, (BTreeSet<Variant>, Names)> = BTreeMap::new();
    for (path, sp) in &plan.sources {
        if let (Some((hash, _)), Treatment::Resize(vs)) = (hashes.get(path), &sp.treatment) {
            let g = groups.entry(hash.as_str()).or_default();
            g.0.extend(vs.iter().copied());
            g.1.push((path.clone(), vs.clone()));
        }
    }
    groups
        .into_iter()
        .map(|(hash, (all, names))| {
            let first = &names[0].0;
            let job = Job {
                uses: names
                    .iter()
                    .map(|(n, _)| uses.get(n.as_str()).copied().unwrap_or(0))
                    .sum(),
                file: root.join(first),
                info: plan.sources[first].info.clone(),
                hash: hash.to_string(),
                file_len: hashes[first].1,
                variants: all.into_iter().collect(),
            };
            (job, names)
        })
        .unzip()
}

/// A name's AVIF outputs go or stay together (as in `jobs::avif_gains`: a `<source>` missing
/// widths has browsers fetch a larger file than they need, or a blurred one): when one is
/// larger than `limit` and another format serves the name, they all go, before the other
/// formats' outputs are weighed, so every width keeps a file.
fn avif_within(outs: &mut Vec<Published>, limit: u64) {
    let avif = |o: &Published| o.variant.format == OutFormat::Avif;
    if outs.iter().any(|o| !avif(o)) && outs.iter().any(|o| avif(o) && o.bytes > limit) {
        outs.retain(|o| !avif(o));
    }
}

/// What `serve_smaller_originals` did to one source: how many outputs it left out, and the
/// bytes of the original served in their place (if one is).
struct Smaller {
    left_out: usize,
    original: Option<u64>,
    /// The site paths of the outputs left out (a mirror may have placed them already).
    dropped: Vec<String>,
}

/// Never serve more bytes than the original (issue #18): a source's outputs that came out
/// larger than the original file (as a downscaled screenshot re-encoded as PNG can) are left
/// out, and when that leaves the source's own format without its full width, the original
/// itself is served (metadata stripped when that makes it smaller; named by the hash of
/// those bytes). Only JPEG, PNG and WebP originals shown upright (no EXIF rotation to keep)
/// and not CMYK are served so; of the others' outputs, a larger one is left out only where
/// another format serves its width.
fn serve_smaller_originals(
    root: &Path,
    plan: &Plan,
    hashes: &BTreeMap<String, (String, u64)>,
    made: &mut BTreeMap<String, Vec<Published>>,
) -> BTreeMap<String, Smaller> {
    let mut done = BTreeMap::new();
    for (path, outs) in made.iter_mut() {
        let (Some(sp), Some((_, size))) = (plan.sources.get(path), hashes.get(path)) else {
            continue;
        };
        if sp.treatment == Treatment::Copy || !outs.iter().any(|o| o.bytes > *size) {
            continue;
        }
        let own = match sp.info.format {
            crate::probe::Format::Jpeg => Some(OutFormat::Jpeg),
            crate::probe::Format::Png => Some(OutFormat::Png),
            crate::probe::Format::WebP => Some(OutFormat::Webp),
            _ => None,
        };
        let Some(own) = own.filter(|_| sp.info.orientation <= 1 && !sp.info.cmyk) else {
            // A GIF original (or one that needs its EXIF rotation) is not served as it is: a
            // larger output is left out where another format serves its width.
            let before = outs.len();
            let size = *size;
            let all: Vec<String> = outs.iter().map(|o| o.path.clone()).collect();
            avif_within(outs, size);
            let widths_served: Vec<(u32, OutFormat)> = outs
                .iter()
                .filter(|o| o.bytes <= size)
                .map(|o| (o.variant.width, o.variant.format))
                .collect();
            outs.retain(|o| {
                o.bytes <= size
                    || !widths_served
                        .iter()
                        .any(|&(w, f)| w == o.variant.width && f != o.variant.format)
            });
            if outs.len() < before {
                let left_out = before - outs.len();
                let dropped = left_out_of(all, outs);
                done.insert(
                    path.clone(),
                    Smaller {
                        left_out,
                        original: None,
                        dropped,
                    },
                );
            }
            continue;
        };
        let Ok(bytes) = std::fs::read(root.join(path)) else {
            continue;
        };
        let served = match crate::process::metadata::strip(&bytes) {
            Some(s) if s.len() < bytes.len() => s,
            _ => bytes,
        };
        let limit = served.len() as u64;
        let before = outs.len();
        let all: Vec<String> = outs.iter().map(|o| o.path.clone()).collect();
        avif_within(outs, limit);
        outs.retain(|o| o.bytes <= limit);
        let (w, h) = sp.info.display_size();
        let full = |o: &Published| o.variant.format == own && o.variant.width == w;
        let mut original = None;
        if outs.len() < before && !outs.iter().any(full) {
            let hash = crate::naming::short_hash(&served);
            outs.push(Published {
                variant: Variant {
                    width: w,
                    height: h,
                    format: own,
                    quality: 0,
                    effort: 0,
                },
                path: join(site_path::parent(path), &copy_name(path, &hash)),
                hash,
                bytes: limit,
                from: From::Original(std::sync::Arc::new(served)),
            });
            outs.sort_by_key(|p| (p.variant.format, p.variant.width));
            original = Some(limit);
        }
        if outs.len() != before || original.is_some() {
            let left_out = before + usize::from(original.is_some()) - outs.len();
            let dropped = left_out_of(all, outs);
            done.insert(
                path.clone(),
                Smaller {
                    left_out,
                    original,
                    dropped,
                },
            );
        }
    }
    done
}

/// Of the site paths `all`, those no longer among `outs`.
fn left_out_of(all: Vec<String>, outs: &[Published]) -> Vec<String> {
    all.into_iter()
        .filter(|p| !outs.iter().any(|o| &o.path == p))
        .collect()
}

/// A note at each reference to a source whose original is served in place of larger outputs.
fn smaller_notes(
    smaller: &BTreeMap<String, Smaller>,
    site: &Site,
    inv: &Inventory,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in &inv.refs {
        let Some((path, s)) = r
            .resolution
            .resolved()
            .and_then(|p| smaller.get_key_value(p))
        else {
            continue;
        };
        let message = match s.original {
            Some(bytes) => format!(
                "{path}: {} output(s) came out larger than the original ({bytes} bytes), which is served in their place",
                s.left_out
            ),
            None => format!(
                "{path}: {} output(s) came out larger than the original and are left out",
                s.left_out
            ),
        };
        let d = Diagnostic::note("original-smaller", message).with_help(
            "a screenshot or diagram compresses better as it is; pixpipe never serves more bytes than the original",
        );
        out.push(inventory::located(
            &site.pages[r.page_index],
            r.image.src.span,
            d,
        ));
    }
    out
}

/// The copied sources (SVG, animations): published as they are, under a hashed name.
fn copies(
    plan: &Plan,
    hashes: &BTreeMap<String, (String, u64)>,
) -> BTreeMap<String, Vec<Published>> {
    let mut out = BTreeMap::new();
    for (path, sp) in &plan.sources {
        let (Some((hash, size)), Treatment::Copy) = (hashes.get(path), &sp.treatment) else {
            continue;
        };
        let (width, height) = sp.info.display_size();
        let variant = Variant {
            width,
            height,
            format: OutFormat::Png,
            quality: 0,
            effort: 0,
        };
        out.insert(
            path.clone(),
            vec![Published {
                variant,
                path: join(site_path::parent(path), &copy_name(path, &hash[..10])),
                hash: hash[..10].to_string(),
                bytes: *size,
                from: From::Copy,
            }],
        );
    }
    out
}

/// What `publish` (or `JobMemo::recall`) gave no name.
#[derive(Default)]
struct Unpublished {
    /// The names whose job failed, with why.
    failed: BTreeMap<String, JobError>,
    /// Each name's AVIF outputs left out (`jobs::Outcome::unserved`; a mirror may have
    /// placed them already).
    unserved: BTreeMap<String, Vec<Made>>,
    /// Per job: how many of its AVIF outputs were left out.
    job_unserved: Vec<usize>,
    count: jobs::Unserved,
}

impl Unpublished {
    /// The site paths of the AVIF outputs left out.
    fn unserved_paths(&self) -> impl Iterator<Item = String> + '_ {
        (self.unserved.iter())
            .flat_map(|(name, ms)| ms.iter().map(|m| output_path(name, &m.variant, &m.hash)))
    }
}

/// Give every name of every job its variants (those the cache had and those made now, less
/// AVIF no visitor gains from: `jobs::outcomes`), each name's sorted by format and width.
fn publish(
    names: &[Names],
    hits: Vec<Vec<Made>>,
    results: Vec<(usize, Result<Vec<Made>, JobError>)>,
    published: &mut BTreeMap<String, Vec<Published>>,
) -> Unpublished {
    let mut out = Unpublished {
        job_unserved: vec![0; names.len()],
        ..Unpublished::default()
    };
    for (j, outcome) in jobs::outcomes(hits, results).into_iter().enumerate() {
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                let e = std::sync::Arc::new(e);
                for (name, _) in &names[j] {
                    out.failed.insert(name.clone(), share(&e));
                }
                continue;
            }
        };
        out.count.add(&outcome);
        out.job_unserved[j] = outcome.unserved.len();
        for (name, vs) in &names[j] {
            let mine = |m: &&Made| vs.contains(&m.variant);
            let left_out: Vec<Made> = outcome.unserved.iter().filter(mine).cloned().collect();
            if !left_out.is_empty() {
                out.unserved.insert(name.clone(), left_out);
            }
            let mut mine: Vec<Published> = (outcome.outputs.iter().filter(mine))
                .map(|m| Published {
                    variant: m.variant,
                    path: output_path(name, &m.variant, &m.hash),
                    hash: m.hash.clone(),
                    bytes: m.bytes,
                    from: From::Job(m.clone()),
                })
                .collect();
            mine.sort_by_key(|p| (p.variant.format, p.variant.width));
            published.insert(name.clone(), mine);
        }
    }
    out
}

/// The site path of `name`'s output `v` whose bytes hash to `hash`: beside the source.
fn output_path(name: &str, v: &Variant, hash: &str) -> String {
    join(site_path::parent(name), &variant_name(name, v, hash))
}

/// A job's error, once for each of its names.
fn share(e: &std::sync::Arc<JobError>) -> JobError {
    match e.as_ref() {
        JobError::Read(io) => JobError::Read(std::io::Error::new(io.kind(), io.to_string())),
        JobError::Process(p) => JobError::Process(p.clone()),
    }
}

/// One error per reference to a source that could not be made, saying whose fault it is.
fn failure_diagnostics(
    failed: &BTreeMap<String, JobError>,
    kept: &BTreeSet<String>,
    site: &Site,
    inv: &Inventory,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (member, e) in failed {
        let (code, fix) = match e {
            JobError::Read(_) => ("unreadable", "check the file's permissions"),
            JobError::Process(ProcessError::Decode(_)) => {
                ("undecodable", "re-export the image from the original")
            }
            JobError::Process(_) => (
                "processing",
                "this is a failure of pixpipe, not of the image: please report it",
            ),
        };
        let help = if kept.contains(member) {
            format!("{fix}; the outputs of its last good version stay published")
        } else {
            format!("{fix}; its references were left as they are")
        };
        for r in inv
            .refs
            .iter()
            .filter(|r| r.resolution.resolved() == Some(member.as_str()))
        {
            let page = &site.pages[r.page_index];
            let d = Diagnostic::error(code, format!("{member}: {e}")).with_help(help.clone());
            out.push(inventory::located(page, r.image.src.span, d));
        }
    }
    out
}

/// A note at each reference to a broken source whose last good outputs stay published (the
/// error itself is check's).
fn kept_notes(
    stand_ins: &BTreeMap<String, Probe>,
    kept: &BTreeSet<String>,
    site: &Site,
    inv: &Inventory,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for path in stand_ins.keys().filter(|p| kept.contains(*p)) {
        for r in inv
            .refs
            .iter()
            .filter(|r| r.resolution.resolved() == Some(path.as_str()))
        {
            let message = format!(
                "{path}: the outputs of its last good version stay published until it is fixed"
            );
            let page = &site.pages[r.page_index];
            let d = Diagnostic::note("kept", message);
            out.push(inventory::located(page, r.image.src.span, d));
        }
    }
    out
}

/// A note at each reference to a copied image (SVG, animation).
fn copied_notes(
    plan: &Plan,
    made: &BTreeMap<String, Vec<Published>>,
    site: &Site,
    inv: &Inventory,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (path, sp) in &plan.sources {
        if sp.treatment != Treatment::Copy || !made.contains_key(path) {
            continue;
        }
        let what = if sp.info.format == crate::probe::Format::Svg {
            "SVG"
        } else {
            "animated image"
        };
        for r in inv
            .refs
            .iter()
            .filter(|r| r.resolution.resolved() == Some(path.as_str()))
        {
            let message =
                format!("{path}: {what} published as it is (not resized), under a hashed name");
            let page = &site.pages[r.page_index];
            let d = Diagnostic::note("copied", message);
            out.push(inventory::located(page, r.image.src.span, d));
        }
    }
    out
}

/// Where a build writes: a mirror it owns (and where each site path goes in it), or the site
/// itself (locked while it writes).
enum Dest {
    Mirror(OwnedDir, Layout),
    InPlace(PathBuf, #[allow(dead_code)] std::fs::File),
}

/// Where a site-relative path goes in the mirror: the same path, except under a site folder
/// that lies outside the site (`contentDir = "../shared/content"`, as monorepos have), which
/// is mirrored as `_mounts/<n>`: no path the build writes can leave the mirror.
#[derive(Debug, Default)]
struct Layout {
    /// (the folder as the configuration names it, where it goes in the mirror)
    outside: Vec<(String, String)>,
}

impl Layout {
    fn of(config: &Config) -> Layout {
        // A single image mounted on its own has its outputs beside it: its folder is mapped.
        let dirs = config.site_dirs().map(|d| {
            if crate::probe::Format::from_extension(d).is_some() {
                site_path::parent(d).to_string()
            } else {
                d.clone()
            }
        });
        let mut outside: Vec<(String, String)> = Vec::new();
        for d in dirs {
            let d = &d;
            let escapes = d.starts_with('/') || d == ".." || d.starts_with("../");
            if escapes && !outside.iter().any(|(x, _)| x == d) {
                let mapped = format!("_mounts/{}", outside.len());
                outside.push((d.clone(), mapped));
            }
        }
        // The longest folder first, so a folder inside another outside one maps by its own.
        outside.sort_by_key(|(d, _)| std::cmp::Reverse(d.len()));
        Layout { outside }
    }

    /// The mirror path of `rel` (site-relative).
    fn path(&self, rel: &str) -> PathBuf {
        for (dir, mapped) in &self.outside {
            if rel == dir {
                return PathBuf::from(mapped);
            }
            if let Some(rest) = rel
                .strip_prefix(dir.as_str())
                .and_then(|r| r.strip_prefix('/'))
            {
                return Path::new(mapped).join(rest);
            }
        }
        PathBuf::from(rel)
    }
}

impl Dest {
    fn open(
        root: &Path,
        config: &Config,
        opts: &BuildOptions,
        progress: &dyn Progress,
    ) -> Result<Dest, BuildError> {
        match &opts.output {
            Output::Mirror(dir) => {
                refuse_site_folders(root, dir, config)?;
                let owned = OwnedDir::claim(dir, Kind::Mirror, Some(&opts.cache_dir), progress)?;
                Ok(Dest::Mirror(owned, Layout::of(config)))
            }
            Output::InPlace => {
                let lock = output::lock_folder(root, progress).map_err(werr(root))?;
                Ok(Dest::InPlace(root.to_path_buf(), lock))
            }
        }
    }

    /// The root of the output tree.
    fn root(&self) -> &Path {
        match self {
            Dest::Mirror(o, _) => o.dir(),
            Dest::InPlace(root, _) => root,
        }
    }

    /// In a mirror, a worker places each output it makes while the others still encode
    /// (rather than all being read back from the cache and written after the last one: on
    /// the bench job, 96 files took ~35 ms with one core idle). What a job that fails in the
    /// end placed is not kept, so `finish` removes it. In place, outputs are written only
    /// after all were made, so that a failed or killed build leaves the fewest files in the
    /// site. Failing to place one early is not an error: `place` retries and reports it.
    /// Returns the mirror's files placed (for `make_outputs` to let go of those of a job
    /// that fails).
    fn place_early(&self, names: &Names, m: &Made, bytes: &[u8]) -> Vec<PathBuf> {
        let Dest::Mirror(owned, layout) = self else {
            return Vec::new();
        };
        let mut placed = Vec::new();
        for (name, vs) in names {
            if vs.contains(&m.variant) {
                let file = layout.path(&output_path(name, &m.variant, &m.hash));
                if owned.place(&file, bytes, false).is_ok() {
                    placed.push(file);
                }
            }
        }
        placed
    }

    /// Place one output unless it is there (checked by size on every build, so not flushed;
    /// the manifest is). Returns the mirror's file to keep (all kept at once after: 10,000
    /// outputs from two workers waited on the lock of the kept set one by one).
    fn place(
        &self,
        root: &Path,
        src: &str,
        m: &Published,
        (cache, looked): (&Cache, &DirMemo),
    ) -> Result<Option<PathBuf>, BuildError> {
        let rel = match self {
            Dest::Mirror(_, layout) => layout.path(&m.path),
            Dest::InPlace(..) => PathBuf::from(&m.path),
        };
        let dest = self.root().join(&rel);
        let mirror = matches!(self, Dest::Mirror(..));
        if let (From::Kept, true) = (&m.from, mirror) {
            // Chosen because it is in place (`keep_previous`): it only stays.
            return Ok(Some(rel));
        }
        if looked.len(&dest) != Some(m.bytes) {
            let bytes = match &m.from {
                From::Job(made) => made.read(cache).map_err(|source| BuildError::CacheRead {
                    output: m.path.clone(),
                    cache: cache.dir().display().to_string(),
                    source,
                }),
                From::Copy | From::Kept => {
                    std::fs::read(root.join(src)).map_err(|source| BuildError::Read {
                        path: src.to_string(),
                        source,
                    })
                }
                From::Original(bytes) => Ok(bytes.as_ref().clone()),
            }?;
            match self {
                Dest::Mirror(owned, _) => owned.place(&rel, &bytes, false)?,
                Dest::InPlace(..) => emit::write_rebuildable(&dest, &bytes).map_err(werr(&dest))?,
            }
        }
        Ok(mirror.then_some(rel))
    }

    /// Place every output of `made`, in parallel: mostly a look at each output already in
    /// place (10,000 on a 1,000-page site); the mark is written sorted at the end whatever
    /// the order. In a mirror, all are then kept at once.
    fn place_all(
        &self,
        root: &Path,
        made: &BTreeMap<String, Vec<Published>>,
        memo: (&Cache, &DirMemo),
    ) -> Result<(), BuildError> {
        let placed = made
            .par_iter()
            .flat_map_iter(|(src, ms)| ms.iter().map(move |m| (src, m)))
            .map(|(src, m)| self.place(root, src, m, memo))
            .collect::<Result<Vec<Option<PathBuf>>, BuildError>>()?;
        if let Dest::Mirror(owned, _) = self {
            owned.keep_all(placed.into_iter().flatten());
        }
        Ok(())
    }

    /// Write every page: rewritten where `texts` has a new text, else (in a mirror) a copy.
    /// Returns how many were written.
    fn write_pages(
        &self,
        root: &Path,
        site: &Site,
        texts: &[Option<String>],
    ) -> Result<Vec<String>, BuildError> {
        // In parallel: mostly a comparison of each page with what the output holds.
        let written: Vec<Option<String>> = site
            .pages
            .par_iter()
            .zip(texts)
            .map(|(page, text)| -> Result<Option<String>, BuildError> {
                let rel = Path::new(&page.path);
                let wrote = match (self, text) {
                    (Dest::Mirror(owned, layout), None) => {
                        owned.mirror(&layout.path(&page.path), &root.join(rel))?
                    }
                    (Dest::InPlace(..), None) => false,
                    (_, Some(t)) => {
                        let text = if page.bom {
                            format!("\u{feff}{t}")
                        } else {
                            t.clone()
                        };
                        match self {
                            Dest::Mirror(owned, layout) => {
                                owned.write_as(&layout.path(&page.path), text.as_bytes(), false)?
                            }
                            Dest::InPlace(..) => {
                                let dest = root.join(rel);
                                let same =
                                    std::fs::read(&dest).ok().as_deref() == Some(text.as_bytes());
                                if !same {
                                    emit::replace_keeping_mode(&dest, text.as_bytes())
                                        .map_err(werr(&dest))?;
                                }
                                !same
                            }
                        }
                    }
                };
                Ok(wrote.then(|| page.path.clone()))
            })
            .collect::<Result<_, _>>()?;
        Ok(written.into_iter().flatten().collect())
    }

    /// End the build: in a mirror, write the mounts, keep what is under an unreadable
    /// folder and remove what earlier builds wrote and this one does not; in place, remove
    /// the outputs no page uses any more. Returns how many files were removed.
    fn finish(
        self,
        root: &Path,
        config: &Config,
        site: &Site,
        previous: &Manifest,
        keep: Keep,
        sweep: bool,
    ) -> Result<usize, BuildError> {
        match self {
            Dest::Mirror(owned, layout) => {
                for u in &site.unreadable {
                    owned.keep_under(&layout.path(u));
                }
                let mounts = hugo_mounts(root, owned.dir(), config, &layout);
                owned.write(Path::new("hugo-mounts.toml"), mounts.as_bytes())?;
                Ok(owned.finish_sweeping(sweep)?)
            }
            Dest::InPlace(..) => Ok(prune_in_place(root, config, site, previous, keep)),
        }
    }

    /// Write `bytes` at `path` (the manifest) unless it holds them already.
    fn write_file(&self, path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
        if let Dest::Mirror(owned, _) = self {
            if let Ok(rel) = absolute(path).strip_prefix(absolute(owned.dir())) {
                owned.write(rel, bytes)?;
                return Ok(());
            }
        }
        if std::fs::read(path).ok().as_deref() != Some(bytes) {
            write_atomic(path, bytes).map_err(werr(path))?;
        }
        Ok(())
    }
}

/// The new text of each page (None where nothing changed): pure.
fn rewrite_pages(
    site: &Site,
    inv: &Inventory,
    targets: &BTreeMap<usize, Target>,
    config: &Config,
) -> Vec<Option<String>> {
    let mut edits: BTreeMap<usize, Vec<rewrite::Edit>> = BTreeMap::new();
    // Reference-style images whose definition serves only images that all show the same
    // output: the definition is rewritten, and they stay as written.
    let mut users: BTreeMap<(usize, usize, usize), Vec<Option<&Target>>> = BTreeMap::new();
    for (i, r) in inv.refs.iter().enumerate() {
        if let Some(d) = r.image.definition {
            let key = (r.page_index, d.start, d.end);
            users.entry(key).or_default().push(targets.get(&i));
        }
    }
    let shared: BTreeMap<(usize, usize, usize), &Target> = users
        .into_iter()
        .filter_map(|(k, ts)| {
            let first = ts.first().copied().flatten()?;
            let same = ts.iter().all(|t| t.is_some_and(|t| t.src == first.src));
            same.then_some((k, first))
        })
        .collect();
    for (&(page, start, end), t) in &shared {
        let text = &site.pages[page].text;
        let e = rewrite::definition_edit(text, crate::position::Span::new(start, end), t);
        edits.entry(page).or_default().extend(e);
    }
    for (i, t) in targets {
        let r = &inv.refs[*i];
        let def = r.image.definition.map(|d| (r.page_index, d.start, d.end));
        if def.is_some_and(|d| shared.contains_key(&d)) {
            continue;
        }
        let page = &site.pages[r.page_index];
        let ratio_param = match &r.image.syntax {
            crate::extract::Syntax::Shortcode(n) => {
                config.shortcodes.get(n).and_then(|s| s.ratio.clone())
            }
            _ => None,
        };
        let e = rewrite::edits_for(&page.text, &r.image, t, ratio_param.as_deref());
        edits.entry(r.page_index).or_default().extend(e);
    }
    site.pages
        .iter()
        .enumerate()
        .map(|(i, page)| match edits.remove(&i) {
            Some(e) if !e.is_empty() => Some(rewrite::apply(&page.text, e)),
            _ => None,
        })
        .collect()
}

/// A decision about a site-relative path.
type Choice<'a> = &'a dyn Fn(&str) -> bool;

/// Mirror every other content file, so Hugo finds the bundles' other resources. An original
/// that was replaced everywhere is left out (Hugo would publish it for nothing), unless a
/// page near it still names it (front matter such as `cover:` does). An original a page
/// shows as it is, because it could not be made, is copied without its metadata (GPS
/// included: `process::metadata::strip`).
fn mirror_other_files(
    root: &Path,
    (owned, layout): (&OwnedDir, &Layout),
    site: &Site,
    config: &Config,
    (left_out, as_is): (Choice, Choice),
    made: &BTreeMap<String, Vec<Published>>,
    texts: &[Option<String>],
) -> Result<(), BuildError> {
    // The pages of each folder: a file is still named by a page in its folder or above.
    let mut by_folder: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (p, t) in site.pages.iter().zip(texts) {
        let text = t.as_deref().unwrap_or(&p.text);
        by_folder
            .entry(site_path::parent_prefix(&p.path))
            .or_default()
            .push(text);
    }
    let still_named = |rel: &str| {
        let name = file_name(rel);
        let folders = std::iter::once("").chain(rel.match_indices('/').map(|(i, _)| &rel[..=i]));
        folders
            .filter_map(|f| by_folder.get(f))
            .flatten()
            .any(|text| text.contains(name))
    };
    let pages: BTreeSet<&str> = site.pages.iter().map(|p| p.path.as_str()).collect();
    let outputs: BTreeSet<&str> = made.values().flatten().map(|m| m.path.as_str()).collect();
    for rel in site.assets.entries.keys() {
        if left_out(rel) && !still_named(rel) {
            continue;
        }
        let in_content = config
            .content
            .iter()
            .any(|c| rel.starts_with(&format!("{}/", c.dir)));
        if !in_content
            || pages.contains(rel.as_str())
            || outputs.contains(rel.as_str())
            || file_name(rel).starts_with(TEMP_PREFIX)
        {
            continue;
        }
        if std::fs::symlink_metadata(root.join(rel))
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(true)
        {
            continue;
        }
        let src = root.join(rel);
        let stripped = as_is(rel)
            .then(|| std::fs::read(&src).ok())
            .flatten()
            .and_then(|b| crate::process::metadata::strip(&b).filter(|s| *s != b));
        match stripped {
            Some(clean) => owned.write(&layout.path(rel), &clean)?,
            None => owned.mirror(&layout.path(rel), &src)?,
        };
    }
    Ok(())
}

/// What an in-place prune never removes: files pages point at, sources, this build's outputs.
struct Keep<'a> {
    referenced: &'a BTreeSet<String>,
    plan: &'a Plan,
    made: &'a BTreeMap<String, Vec<Published>>,
    /// Folders that could not be read: whether their outputs are used is unknown.
    unreadable: &'a [String],
}

/// In place: remove the outputs an earlier build wrote that this one does not and no page
/// uses any more (and the temporary files of killed builds). Returns how many were removed.
fn prune_in_place(
    root: &Path,
    config: &Config,
    site: &Site,
    previous: &Manifest,
    keep: Keep,
) -> usize {
    let published: BTreeSet<&str> = keep
        .made
        .values()
        .flatten()
        .map(|m| m.path.as_str())
        .collect();
    let mut n = 0;
    for out in previous.outputs().keys() {
        // A manifest is a file a user can edit: only ever delete what is plainly one of our
        // outputs, inside the site's folders, and no longer used by any page.
        if !is_our_output_path(out, config)
            || keep.referenced.contains(*out)
            || keep.plan.sources.contains_key(*out)
            || published.contains(out)
            || keep.unreadable.iter().any(|u| site_path::is_within(out, u))
        {
            continue;
        }
        if std::fs::remove_file(root.join(out)).is_ok() {
            n += 1;
        }
    }
    for rel in site
        .assets
        .entries
        .keys()
        .filter(|k| file_name(k).starts_with(TEMP_PREFIX))
    {
        if std::fs::remove_file(root.join(rel)).is_ok() {
            n += 1;
        }
    }
    n
}

/// Whether `path` (site-relative, from a manifest) is a safe thing to delete: normalised,
/// inside a content, static or assets folder, and named like an output of ours.
fn is_our_output_path(path: &str, config: &Config) -> bool {
    if crate::resolve::normalize(path).as_deref() != Some(path) || path.starts_with('/') {
        return false;
    }
    // Beside a single image mounted on its own, named after it.
    let beside = |d: &String| {
        let stem = crate::naming::clean_stem(crate::naming::stem_and_language(d).0);
        let name = file_name(path);
        crate::probe::Format::from_extension(d).is_some()
            && site_path::parent(path) == site_path::parent(d)
            && (name.starts_with(&format!("{stem}-")) || name.starts_with(&format!("{stem}.")))
    };
    let in_site = config
        .site_dirs()
        .any(|d| d != "." && (path.starts_with(&format!("{d}/")) || beside(d)))
        && !config.is_read_only(path);
    in_site && crate::naming::is_output_name(file_name(path))
}

/// What each planned reference points at after the build.
fn targets(
    plan: &Plan,
    made: &BTreeMap<String, Vec<Published>>,
    refs: &[Reference],
) -> BTreeMap<usize, Target> {
    let mut out = BTreeMap::new();
    for u in &plan.uses {
        let Some(ms) = made.get(&u.source) else {
            continue;
        };
        let r = &refs[u.reference];
        let Some(served) = served_format(u, ms) else {
            continue;
        };
        let of_format: Vec<&Published> = ms
            .iter()
            .filter(|m| m.variant.format == served && serves(u, m))
            .collect();
        let Some(one_x) = one_x_of(u, &of_format) else {
            continue;
        };
        let srcset = of_format
            .iter()
            .map(|m| {
                format!(
                    "{} {}w",
                    rewrite::sibling_src(&r.image.src.text, file_name(&m.path)),
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
                src: rewrite::sibling_src(&r.image.src.text, file_name(&one_x.path)),
                srcset,
                sizes: u.sizes.clone(),
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
                src: rewrite::sibling_src(&r.image.src.text, file_name(&m.path)),
                srcset: String::new(),
                sizes: String::new(),
                css_width: w,
                css_height: h,
                ratio: format!("{}%", trim_num(h as f64 * 100.0 / w.max(1) as f64)),
            },
        );
    }
    out
}

/// Whether `m` is one of the outputs made for `u` (or the original served in their place).
fn serves(u: &plan::Use, m: &Published) -> bool {
    u.widths.contains(&m.variant.width) || matches!(m.from, From::Original(_))
}

/// The output a page names for `u` among `outs` (one format's, ascending): the 1x, or when
/// it was left out (larger than the original), the smallest one at least as wide.
fn one_x_of<'a>(u: &plan::Use, outs: &[&'a Published]) -> Option<&'a Published> {
    outs.iter()
        .find(|m| m.variant.width >= u.one_x)
        .or(outs.last())
        .copied()
}

/// The format a use's page points at: of the formats made for it that every browser of the
/// README's support table shows, the one whose 1x output is smallest; the primary format on
/// a tie. AVIF (not shown by Safari before 16.4) only when it is the only format: it is
/// offered in a `<picture>`'s `<source>`, never named alone.
fn served_format(u: &plan::Use, made: &[Published]) -> Option<OutFormat> {
    let one_x = |f: OutFormat| {
        let outs: Vec<&Published> = made
            .iter()
            .filter(|m| m.variant.format == f && serves(u, m))
            .collect();
        one_x_of(u, &outs).map(|m| m.bytes)
    };
    let mut best: Option<(OutFormat, u64)> = None;
    let only_avif = u.formats.iter().all(|f| *f == OutFormat::Avif);
    for &f in u
        .formats
        .iter()
        .filter(|f| only_avif || **f != OutFormat::Avif)
    {
        if let Some(b) = one_x(f) {
            if best.is_none_or(|(_, cur)| b < cur) {
                best = Some((f, b));
            }
        }
    }
    best.map(|(f, _)| f)
}

/// What a visitor downloads for the images of the pages, before and after (see `Visitor`).
fn visitor(
    plan: &Plan,
    made: &BTreeMap<String, Vec<Published>>,
    hashes: &BTreeMap<String, (String, u64)>,
    refs: &[Reference],
) -> Visitor {
    let mut seen = BTreeSet::new();
    let mut pages = BTreeSet::new();
    let mut v = Visitor::default();
    for u in &plan.uses {
        let page = refs[u.reference].page_index;
        let (Some(ms), Some((_, original))) = (made.get(&u.source), hashes.get(&u.source)) else {
            continue;
        };
        if !seen.insert((page, u.source.as_str())) {
            continue;
        }
        // A raw <img> (and a front matter value) gets one format; the templates' <picture>
        // offers AVIF, then WebP, and a current browser takes the first made for this use.
        let made_for = |f: &&OutFormat| ms.iter().any(|m| m.variant.format == **f && serves(u, m));
        let taken = match refs[u.reference].image.syntax {
            crate::extract::Syntax::Html | crate::extract::Syntax::FrontMatter(_) => {
                served_format(u, ms)
            }
            _ => OutFormat::in_source_order(&u.formats)
                .iter()
                .find(made_for)
                .copied(),
        };
        let outs: Vec<&Published> = ms
            .iter()
            .filter(|m| Some(m.variant.format) == taken && serves(u, m))
            .collect();
        let at = |density: u32| {
            let need = u.css_width.saturating_mul(density);
            outs.iter()
                .find(|m| m.variant.width >= need)
                .or(outs.last())
                .map_or(*original, |m| m.bytes)
        };
        pages.insert(page);
        v.images += 1;
        v.before += original;
        v.after_1x += at(1);
        v.after_2x += at(2);
    }
    v.pages = pages.len();
    v
}

fn trim_num(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The manifest of this build, a value: every published source with its variants, plus the
/// images of an earlier build that pages still use although their source could not be made
/// this time (broken or deleted), so that a later build still recognises them.
fn manifest_of(
    plan: &Plan,
    made: &BTreeMap<String, Vec<Published>>,
    hashes: &BTreeMap<String, (String, u64)>,
    previous: &Manifest,
    kept_as_was: &Kept,
) -> Manifest {
    let Kept {
        referenced,
        sources: kept,
        unreadable,
    } = kept_as_was;
    let mut m = Manifest {
        version: manifest::VERSION,
        images: BTreeMap::new(),
    };
    for (path, ms) in made {
        if let Some(img) = kept
            .contains(path)
            .then(|| previous.images.get(path))
            .flatten()
        {
            m.images.insert(path.clone(), img.clone());
            continue;
        }
        let sp = &plan.sources[path];
        let (w, h) = sp.info.display_size();
        let (hash, bytes) = hashes.get(path).cloned().unwrap_or_default();
        let copied = sp.treatment == Treatment::Copy;
        let source_format = sp.info.format.name().to_ascii_lowercase();
        let variants = ms
            .iter()
            .map(|x| manifest::Variant {
                path: x.path.clone(),
                width: x.variant.width,
                height: x.variant.height,
                format: if copied {
                    source_format.clone()
                } else {
                    x.variant.format.name().to_string()
                },
                bytes: x.bytes,
                hash: x.hash.clone(),
            })
            .collect();
        let image = manifest::Image {
            width: w,
            height: h,
            format: source_format,
            hash: hash.get(..10).unwrap_or("").to_string(),
            bytes,
            treatment: if copied { "copied" } else { "resized" }.into(),
            variants,
        };
        m.images.insert(path.clone(), image);
    }
    for (src, img) in &previous.images {
        let used = img.variants.iter().any(|v| referenced.contains(&v.path));
        // What is under a folder that could not be read stays as it was (see `scan::Site`).
        let unknown = unreadable.iter().any(|u| site_path::is_within(src, u));
        if !m.images.contains_key(src) && (used || unknown) {
            m.images.insert(src.clone(), img.clone());
        }
    }
    m
}

/// What a build keeps of the previous manifest.
struct Kept<'a> {
    /// Every file a page points at now.
    referenced: &'a BTreeSet<String>,
    /// Broken sources whose last good outputs stay published (`keep_previous`).
    sources: &'a BTreeSet<String>,
    /// Folders that could not be read.
    unreadable: &'a [String],
}

/// A Hugo config fragment that mounts the mirror over the site: give it to Hugo after the
/// site's own config (`hugo --config hugo.toml,DIR/hugo-mounts.toml`). Hugo resolves a
/// mount's relative source against the site root, so the mirror is named relative to it
/// (with `../` when it lies beside the site), and the fragment stays right when the site and
/// its mirror move together or a CI cache restores them elsewhere.
fn hugo_mounts(root: &Path, dir: &Path, config: &Config, layout: &Layout) -> String {
    let d = relative_to(&absolute(root), &absolute(dir));
    let multi = config
        .content
        .iter()
        .map(|c| &c.lang)
        .collect::<BTreeSet<_>>()
        .len()
        > 1;
    let mut s = String::from("# Written by pixpipe build: mounts the optimised mirror over the site.\n# Use: hugo --config <your config>,");
    s.push_str(&format!("{d}/hugo-mounts.toml\n"));
    let mirror = |dir: &str| format!("{d}/{}", layout.path(dir).display());
    for (i, c) in config.content.iter().enumerate() {
        // A folder that several languages share is mounted once for all of them, as in the
        // site: Hugo tells a file's language by its name, and publishes the files they share
        // once (under the default language, when it is one of them).
        let same = |o: &ContentDir| {
            o.dir == c.dir && o.mount == c.mount && o.include == c.include && o.exclude == c.exclude
        };
        if config.content[..i].iter().any(same) {
            continue;
        }
        let sharing: Vec<&str> = config
            .content
            .iter()
            .filter(|o| same(o))
            .map(|o| o.lang.as_str())
            .collect();
        let with_default = sharing.contains(&config.default_language.as_str());
        let langs: Vec<&str> = if !multi || (with_default && sharing.len() > 1) {
            Vec::new()
        } else {
            sharing
        };
        let target = match c.mount.as_str() {
            "" => "content".to_string(),
            m => format!("content/{m}"),
        };
        if root.join(&c.dir).is_file() {
            // A single file: the original, and its outputs beside it in the mirror.
            mount_file(&mut s, (&mirror, &c.dir), &target, (&langs, true));
            continue;
        }
        // Mounted where the site mounts it, taking the files it takes, and its outputs.
        let mut globs: Vec<String> = c.include.clone();
        if !globs.is_empty() {
            globs.push(OUTPUT_GLOB.to_string());
        }
        globs.extend(c.exclude.iter().map(|g| format!("! {g}")));
        push_mount(&mut s, &mirror(&c.dir), &target, &langs, &globs);
    }
    for (kind, dirs) in [
        ("static", &config.static_dirs),
        ("assets", &config.assets_dirs),
    ] {
        for x in dirs {
            push_mount(&mut s, &mirror(x), kind, &[], &[]);
            // A theme's or module's folder is mounted by the theme itself.
            if !config.is_read_only(x) {
                push_mount(&mut s, x, kind, &[], &[]);
            }
        }
    }
    for (kind, mounts) in [
        ("static", &config.static_mounts),
        ("assets", &config.assets_mounts),
    ] {
        for m in mounts {
            let target = format!("{kind}/{}", m.at);
            let theirs = config.is_read_only(&m.source);
            if root.join(&m.source).is_file() {
                mount_file(&mut s, (&mirror, &m.source), &target, (&[], !theirs));
            } else {
                push_mount(&mut s, &mirror(&m.source), &target, &[], &[]);
                if !theirs {
                    push_mount(&mut s, &m.source, &target, &[], &[]);
                }
            }
        }
    }
    s.push_str(&format!("[[module.mounts]]\nsource = \"{d}/data\"\ntarget = \"data\"\n[[module.mounts]]\nsource = \"data\"\ntarget = \"data\"\n"));
    s
}

/// A glob (Hugo's) for pixpipe's outputs, `<name>.<10 hex>.<ext>` and
/// `<name>.<10 hex>.<lang>.<ext>`: added to a mount that names the files it takes.
const OUTPUT_GLOB: &str = "**.??????????.*";

/// One `[[module.mounts]]` entry: `source` at `target`, for `langs` (none: as Hugo decides),
/// taking the files `files` (Hugo's globs, `! ` before those left out; empty: all).
fn push_mount(s: &mut String, source: &str, target: &str, langs: &[&str], files: &[String]) {
    let text = |x: &str| toml::Value::String(x.to_string()).to_string();
    let list = |xs: Vec<String>| {
        toml::Value::Array(xs.into_iter().map(toml::Value::String).collect()).to_string()
    };
    s.push_str(&format!(
        "[[module.mounts]]\nsource = {}\ntarget = {}\n",
        text(source),
        text(target)
    ));
    if !langs.is_empty() {
        // (`lang` of Hugo before 0.153.)
        let langs = list(langs.iter().map(|l| l.to_string()).collect());
        s.push_str(&format!(
            "sites = {{ matrix = {{ languages = {langs} }} }}\n"
        ));
    }
    if !files.is_empty() {
        s.push_str(&format!("files = {}\n", list(files.to_vec())));
    }
}

/// The mounts of a single file `source` mounted at `target`: the file itself (unless a theme
/// mounts it: `original` false), and its outputs (named by its stem) from its folder in the
/// mirror (`mirror` names a site folder's copy), in the folder `target` is in.
fn mount_file(
    s: &mut String,
    (mirror, source): (&dyn Fn(&str) -> String, &str),
    target: &str,
    (langs, original): (&[&str], bool),
) {
    let stem = crate::naming::clean_stem(crate::naming::stem_and_language(source).0);
    let outputs = [format!("{stem}-*"), format!("{stem}.*")];
    let parent = crate::site_path::parent(source);
    push_mount(
        s,
        &mirror(parent),
        crate::site_path::parent(target),
        langs,
        &outputs,
    );
    if original {
        push_mount(s, source, target, langs, &[]);
    }
}

/// The path of `to` relative to `from` (both absolute and normalised), `/`-separated, with
/// `..` for each folder of `from` below their common part.
fn relative_to(from: &Path, to: &Path) -> String {
    let (f, t): (Vec<_>, Vec<_>) = (from.components().collect(), to.components().collect());
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let parts: Vec<String> = std::iter::repeat_n("..".to_string(), f.len() - common)
        .chain(
            t[common..]
                .iter()
                .map(|c| c.as_os_str().to_string_lossy().into_owned()),
        )
        .collect();
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
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
pub const MIRROR_MARK: &str = output::MIRROR_MARK;

/// Refuse a mirror folder that is the site itself or lies inside one of its folders.
fn refuse_site_folders(root: &Path, dir: &Path, config: &Config) -> Result<(), BuildError> {
    let bad = |reason: String| OutputError::Refused {
        path: dir.display().to_string(),
        reason,
    };
    let d = absolute(dir);
    let r = absolute(root);
    if d == r {
        return Err(bad(
            "the output folder is the site itself; choose another --out (or use --in-place)".into(),
        )
        .into());
    }
    let site_dirs = config
        .site_dirs()
        .cloned()
        .chain(["data".to_string(), "layouts".to_string()]);
    for sd in site_dirs {
        if sd != "." && d.starts_with(absolute(&root.join(&sd))) {
            return Err(bad(format!(
                "the output folder is inside the site's {sd}/ folder; choose another --out"
            ))
            .into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_keeps_all_its_avif_or_none() {
        let c = Config::default();
        let out = |format: OutFormat, width: u32, bytes: u64| Published {
            variant: Variant::new(width, width, format, &c),
            path: format!("a-{width}w.{}", format.extension()),
            hash: String::new(),
            bytes,
            from: From::Copy,
        };
        let full = vec![
            out(OutFormat::Webp, 400, 50),
            out(OutFormat::Webp, 800, 200),
            out(OutFormat::Avif, 400, 40),
            out(OutFormat::Avif, 800, 120),
        ];
        let paths = |outs: &[Published]| outs.iter().map(|o| o.path.clone()).collect::<Vec<_>>();
        // One AVIF larger than the original (100 bytes): the other goes too; the WebP are
        // left to the rest of `serve_smaller_originals`.
        let mut outs = full.clone();
        avif_within(&mut outs, 100);
        assert_eq!(paths(&outs), ["a-400w.webp", "a-800w.webp"]);
        // None larger: all stay.
        let mut outs = full.clone();
        avif_within(&mut outs, 120);
        assert_eq!(outs.len(), 4);
        // AVIF alone: nothing else would serve its widths.
        let mut outs = full[2..].to_vec();
        avif_within(&mut outs, 100);
        assert_eq!(paths(&outs), ["a-400w.avif", "a-800w.avif"]);
    }

    #[test]
    fn the_mounts_name_the_mirror_relative_to_the_site_even_beside_it() {
        // Issue #16: a mirror outside the site was named by its absolute path, so a site
        // restored from a CI cache or moved with its repository mounted the wrong folder.
        let t = tempfile::tempdir().unwrap();
        let (site, out) = (t.path().join("site"), t.path().join("out/mirror"));
        std::fs::create_dir_all(&site).unwrap();
        std::fs::create_dir_all(&out).unwrap();
        let text = hugo_mounts(&site, &out, &Config::default(), &Layout::default());
        assert!(
            text.contains("source = \"../out/mirror/content\"\ntarget = \"content\""),
            "{text}"
        );
        assert!(!text.contains(&t.path().display().to_string()), "{text}");
        let inside = site.join(".pixpipe/site");
        std::fs::create_dir_all(&inside).unwrap();
        let text = hugo_mounts(&site, &inside, &Config::default(), &Layout::default());
        assert!(
            text.contains("source = \".pixpipe/site/content\""),
            "{text}"
        );
        assert_eq!(relative_to(Path::new("/a/b"), Path::new("/a/b")), ".");
    }
}
