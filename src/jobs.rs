//! Jobs: the one job layer under every command that makes images.
//!
//! A `Job` is one source's bytes and the whole set of variants made from them (a variant's
//! bytes depend on the larger sizes of its set: see `cache::job_key`). `lookup` splits the
//! jobs' variants into those the cache has and those to make; `run` makes the latter on the
//! current thread pool, largest jobs first and within the memory budget (`process::Queue`),
//! stores each output in the cache and hands it to the command (`on_made`) as soon as it
//! exists, and returns the results sorted by job, so what a run returns never depends on the
//! number of threads or on which worker made what. Commands build their jobs, decide where
//! outputs go and what a failure means for their pages; they build no pool nor worker loop.
//!
//! A cache that cannot store an output is not the image's fault: the output is kept in
//! memory (`Made::held`) so it can still be placed, and the failure is reported once, as a
//! cache warning with its cause.

use crate::cache::{job_key, Cache};
use crate::config::Config;
use crate::locks::lock;
use crate::naming::short_hash;
use crate::plan::Variant;
use crate::probe::ImageInfo;
use crate::process::{self, ProcessError};
use crate::report::{Diagnostic, Progress};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One source's work.
#[derive(Debug, Clone)]
pub struct Job {
    /// How many references show it (at least 1): a time budget makes the outputs of the most
    /// shown sources first.
    pub uses: u32,
    /// The file to read.
    pub file: PathBuf,
    /// Its probe.
    pub info: ImageInfo,
    /// blake3 of its bytes, hex.
    pub hash: String,
    /// Its size in bytes.
    pub file_len: u64,
    /// Every variant made from it (each size is resized from the next larger one of the set).
    pub variants: Vec<Variant>,
}

impl Job {
    /// The cache key of `v`, one of the job's variants.
    pub fn key(&self, v: &Variant, config: &Config) -> String {
        job_key(&self.hash, v, &self.variants, config.metadata)
    }
}

/// One output of a job.
#[derive(Debug, Clone)]
pub struct Made {
    /// The variant.
    pub variant: Variant,
    /// Its cache key.
    pub key: String,
    /// First 10 hex digits of blake3 of its bytes (the hash in its file name).
    pub hash: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its bytes, when the cache could not store them.
    pub held: Option<Arc<Vec<u8>>>,
}

impl Made {
    /// The output's bytes: held, or read from the cache.
    pub fn read(&self, cache: &Cache) -> std::io::Result<Vec<u8>> {
        match &self.held {
            Some(b) => Ok(b.as_ref().clone()),
            None => cache.read(&self.key),
        }
    }
}

/// The variants of one job that the cache does not have.
#[derive(Debug, Clone)]
pub struct Todo {
    /// Index of the job.
    pub job: usize,
    /// The variants to make.
    pub variants: Vec<Variant>,
}

/// Why a job made nothing.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The source could not be read.
    #[error("cannot be read: {0}")]
    Read(std::io::Error),
    /// Decoding, transforming or encoding failed.
    #[error("cannot be processed: {0}")]
    Process(#[from] ProcessError),
}

/// `--shard I/N`: the part of a build's image work one process makes, so N processes (a CI
/// matrix) share a cold build through a shared cache; a last run without a shard then finds
/// every output in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Shard {
    /// Which part, from 1.
    pub index: u32,
    /// How many parts.
    pub count: u32,
}

/// The most parts `--shard` splits a build into.
pub const MAX_SHARDS: u32 = 1024;

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let bad = || {
            format!(
                "`{text}` is not a shard: write I/N, with 1 <= I <= N <= {MAX_SHARDS} (`--shard 2/4`)"
            )
        };
        let (i, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let (index, count) = (i.trim().parse::<u32>(), n.trim().parse::<u32>());
        match (index, count) {
            (Ok(index), Ok(count)) if (1..=count).contains(&index) && count <= MAX_SHARDS => {
                Ok(Shard { index, count })
            }
            _ => Err(bad()),
        }
    }
}

impl Shard {
    /// How a shard runs: every variant of its jobs is made, whatever `avif_budget` says (the
    /// last build must find them all), and what its cache folder already had is checked
    /// against the shared cache and uploaded where the store lacks it.
    pub fn run_options(opts: RunOptions) -> RunOptions {
        RunOptions {
            avif_deadline: None,
            ..opts
        }
    }

    /// A shard's [`lookup`]: of what the local folder lacks, the shared cache is only asked
    /// whether it has it (a shard writes no site: it needs to know, not to have), and every
    /// output the folder had is made sure to be in the shared cache too.
    pub fn lookup(cache: &Cache, jobs: &[Job], config: &Config) -> (Vec<Vec<Made>>, Vec<Todo>) {
        let mut memo = KeyMemo::default();
        let (hits, todo) = lookup_in(cache, jobs, config, &mut memo, FromStore::Probe);
        let keys: Vec<String> = (hits.iter().flatten()).map(|m| m.key.clone()).collect();
        cache.ensure_shared(&keys);
        (hits, todo)
    }

    /// Which of `jobs` are this shard's. Every process given the same jobs splits them alike:
    /// the jobs, by expected work (largest first, then by cache key), each go to the part
    /// with the least work so far, so the parts take about as long as each other.
    pub fn select(&self, jobs: &[Job], config: &Config) -> Vec<bool> {
        let mut order: Vec<(u64, String, usize)> = jobs
            .iter()
            .enumerate()
            .map(|(i, job)| {
                let key = job.variants.first().map(|v| job.key(v, config));
                (work_of(job), key.unwrap_or_default(), i)
            })
            .collect();
        order.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let mut load = vec![0u64; self.count as usize];
        let mut mine = vec![false; jobs.len()];
        for (work, _, i) in order {
            let part = (0..load.len()).min_by_key(|&p| (load[p], p)).unwrap_or(0);
            load[part] += work.max(1);
            mine[i] = part + 1 == self.index as usize;
        }
        mine
    }
}

/// A job's expected work, in pixels: its source decoded, and each output encoded (an AVIF
/// one costs about what eight JPEG ones do: the bench job took 12.9 s in AVIF at the default
/// speed and 1.4 s in JPEG, decoding included).
fn work_of(job: &Job) -> u64 {
    let source = job.info.width as u64 * job.info.height as u64;
    let outputs: u64 = (job.variants.iter())
        .map(|v| {
            let weight = if v.format == crate::plan::OutFormat::Avif {
                8
            } else {
                1
            };
            v.width as u64 * v.height as u64 * weight
        })
        .sum();
    source + outputs
}

/// How `run` runs.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Budget for the jobs' memory, in bytes (`process::job_bytes`).
    pub memory_bytes: u64,
    /// With a time budget for AVIF (`avif_budget`): when the last AVIF work may start. Every
    /// other output is made first; AVIF ones after, largest expected saving first.
    pub avif_deadline: Option<Instant>,
    /// Why no AVIF can be made here (`avif::unfit`: an old libaom), when AVIF is asked for.
    /// The other formats are then made, AVIF not tried, and the run says so once.
    pub avif_unfit: Option<&'static str>,
}

impl RunOptions {
    /// The options of a command that started at `started`, with `memory_bytes` and
    /// `config`'s `avif_budget`.
    pub fn new(memory_bytes: u64, config: &Config, started: Instant) -> RunOptions {
        let avif = config.formats.iter().any(|f| f == "avif");
        RunOptions {
            memory_bytes,
            avif_deadline: config.avif_budget.map(|b| started + b),
            avif_unfit: avif.then(crate::avif::unfit).flatten(),
        }
    }
}

/// What `run` did.
#[derive(Debug, Default)]
pub struct Ran {
    /// Per job with work to do, sorted by job: its outputs, or why it has none.
    pub results: Vec<(usize, Result<Vec<Made>, JobError>)>,
    /// Cache failures, one warning per distinct cause; AVIF that cannot be made here
    /// (`RunOptions::avif_unfit`), one error.
    pub warnings: Vec<Diagnostic>,
    /// Per job, sorted: how many of its AVIF variants the time budget left for a later run.
    pub later: Vec<(usize, usize)>,
    /// Per job, sorted: how many of its AVIF variants were not tried (`avif_unfit`).
    pub untried: Vec<(usize, usize)>,
}

/// Run `f` on a pool of `threads` workers (at least one): the pool every stage of a command
/// runs its parallel work on, so `--jobs 1` runs the same code on one thread.
pub fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> Result<R, PoolError> {
    Ok(pool(threads)?.install(f))
}

/// A pool of `threads` workers (at least one), for [`in_pool`] or to keep (a process that
/// builds again and again: a new pool's threads start with empty heaps, ~10 ms a rebuild).
pub fn pool(threads: usize) -> Result<rayon::ThreadPool, PoolError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|_| PoolError(threads))
}

/// The worker pool could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start {0} worker threads")]
pub struct PoolError(pub usize);

/// The blake3 of each file, and how many had to be read: a file whose absolute path, size
/// and mtime the cache's stat index knows is not read again. `files` are (name, path) pairs;
/// the result is keyed by name, without the files that could not be read.
pub fn hash_files(
    cache: &Cache,
    files: &[(String, PathBuf)],
) -> (BTreeMap<String, (String, u64)>, usize) {
    let hashed = std::sync::atomic::AtomicUsize::new(0);
    let hashes = files
        .par_iter()
        .filter_map(|(name, path)| {
            let m = std::fs::metadata(path).ok()?;
            let (size, mt) = (m.len(), mtime_ns(&m));
            let abs = path.to_string_lossy();
            let hash = match cache.known_hash(&abs, size, mt) {
                Some(h) => h,
                None => {
                    // Streamed: the whole file is read again when (if) it is decoded.
                    let file = std::fs::File::open(path).ok()?;
                    let mut hasher = blake3::Hasher::new();
                    hasher.update_reader(file).ok()?;
                    let h = hasher.finalize().to_hex().to_string();
                    cache.remember_hash(&abs, size, mt, &h);
                    hashed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    h
                }
            };
            Some((name.clone(), (hash, size)))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    (hashes, hashed.into_inner())
}

fn mtime_ns(m: &std::fs::Metadata) -> u128 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Split every job's variants into those in the cache (per job, in the jobs' order) and
/// those to make.
pub fn lookup(cache: &Cache, jobs: &[Job], config: &Config) -> (Vec<Vec<Made>>, Vec<Todo>) {
    lookup_with(cache, jobs, config, &mut KeyMemo::default(), &|_, _, _| {})
}

/// The cache keys of the jobs of a process's last lookup, by source hash: a key is a pure
/// function of the source's hash, the job's variants and the metadata setting, so a process
/// that builds again and again (`--watch`) computes each only once.
#[derive(Debug, Default)]
pub struct KeyMemo(rustc_hash::FxHashMap<String, Vec<JobKeys>>);

/// The keys of one job's variants, in their order, and what they were computed from.
#[derive(Debug, Clone)]
pub struct JobKeys {
    variants: Vec<Variant>,
    metadata: crate::config::Metadata,
    keys: Vec<String>,
}

/// [`lookup`], taking the keys `memo` knows and leaving it this lookup's. An output fetched
/// from the shared cache is also given to `on_fetched(job, made, bytes)` as it arrives, from
/// the thread that stored it (as [`run`] gives what it makes to `on_made`).
pub fn lookup_with(
    cache: &Cache,
    jobs: &[Job],
    config: &Config,
    memo: &mut KeyMemo,
    on_fetched: &(dyn Fn(usize, &Made, &[u8]) + Sync),
) -> (Vec<Vec<Made>>, Vec<Todo>) {
    lookup_in(cache, jobs, config, memo, FromStore::Fetch(on_fetched))
}

/// What a lookup takes from the shared cache behind the folder.
enum FromStore<'a> {
    /// The outputs the folder lacks, each also given to the function as it arrives.
    Fetch(&'a (dyn Fn(usize, &Made, &[u8]) + Sync)),
    /// Only which of them it has.
    Probe,
}

fn lookup_in(
    cache: &Cache,
    jobs: &[Job],
    config: &Config,
    memo: &mut KeyMemo,
    from_store: FromStore,
) -> (Vec<Vec<Made>>, Vec<Todo>) {
    let known = std::mem::take(&mut memo.0);
    let keys: Vec<JobKeys> = jobs
        .par_iter()
        .map(|job| {
            let same = |k: &&JobKeys| k.variants == job.variants && k.metadata == config.metadata;
            match known.get(&job.hash).and_then(|ks| ks.iter().find(same)) {
                Some(k) => k.clone(),
                None => JobKeys {
                    variants: job.variants.clone(),
                    metadata: config.metadata,
                    keys: job.variants.iter().map(|v| job.key(v, config)).collect(),
                },
            }
        })
        .collect();
    // In parallel (a look at each object: 10,000 on a 1,000-page site), in the jobs' order.
    let mut looked: Vec<(Vec<Made>, Vec<Missing>)> = jobs
        .par_iter()
        .zip(&keys)
        .map(|(job, keys)| {
            let mut found = Vec::new();
            let mut missing = Vec::new();
            let entries = cache.get_all(&keys.keys);
            for ((v, key), entry) in job.variants.iter().zip(&keys.keys).zip(entries) {
                match entry {
                    Some(e) => found.push(made_of(*v, key, e)),
                    None => missing.push((*v, key.clone())),
                }
            }
            (found, missing)
        })
        .collect();
    // What the folder lacks, from the shared cache behind it (if any), all at once.
    if cache.remote().is_some() {
        // Once each: two jobs of one key (two copies of a photo in a gallery) share it.
        let mut wanted: std::collections::BTreeMap<&str, Vec<(usize, Variant)>> =
            Default::default();
        for (job, (_, missing)) in looked.iter().enumerate() {
            for (v, key) in missing {
                wanted.entry(key).or_default().push((job, *v));
            }
        }
        let keys: Vec<String> = wanted.keys().map(|k| k.to_string()).collect();
        let fetched = match from_store {
            FromStore::Fetch(on_fetched) => cache.fetch_missing(&keys, &|key, entry, bytes| {
                for (job, v) in wanted.get(key).into_iter().flatten() {
                    on_fetched(*job, &made_of(*v, key, entry.clone()), bytes);
                }
            }),
            FromStore::Probe => cache.probe_shared(&keys),
        };
        for (found, missing) in &mut looked {
            missing.retain(|(v, key)| match fetched.get(key).cloned() {
                Some(e) => {
                    found.push(made_of(*v, key, e));
                    false
                }
                None => true,
            });
        }
    }
    for (job, k) in jobs.iter().zip(keys) {
        memo.0.entry(job.hash.clone()).or_default().push(k);
    }
    let mut hits = Vec::with_capacity(jobs.len());
    let mut todo = Vec::new();
    for (i, (found, missing)) in looked.into_iter().enumerate() {
        hits.push(found);
        if !missing.is_empty() {
            todo.push(Todo {
                job: i,
                variants: missing.into_iter().map(|(v, _)| v).collect(),
            });
        }
    }
    (hits, todo)
}

/// A variant the cache folder lacks, with its key.
type Missing = (Variant, String);

/// The output of `v` that the cache holds under `key`.
fn made_of(v: Variant, key: &str, e: crate::cache::Entry) -> Made {
    Made {
        variant: v,
        key: key.to_string(),
        hash: e.hash,
        bytes: e.bytes,
        held: None,
    }
}

/// A worker's unit of work: a todo's largest size (and the rest, if it cannot be deferred),
/// or a deferred rest.
enum Work {
    Source(usize),
    Rest(usize, process::Rest),
}

/// Make every todo's variants on the current pool, within `opts.memory_bytes`; each output is
/// stored in the cache, then given to `on_made(job, made, bytes)` from the worker that made
/// it. `progress` counts variants.
///
/// With `opts.avif_deadline`, the AVIF variants are made after all the others (a second
/// pass, which decodes their sources again), largest expected saving first; none is started
/// after the deadline, and those left are counted in `Ran::later`. What is made has the
/// same bytes as in a run without a deadline (a variant's bytes depend on its job's whole
/// set, not on what is made with it), so the next run continues where this one stopped.
pub fn run(
    jobs: &[Job],
    todo: &[Todo],
    cache: &Cache,
    config: &Config,
    opts: RunOptions,
    on_made: &(dyn Fn(usize, &Made, &[u8]) + Sync),
    progress: &dyn Progress,
) -> Ran {
    progress.start(
        "resizing",
        todo.iter().map(|t| t.variants.len() as u64).sum(),
    );
    let pass = |todo: &[Todo], deadline: Option<Instant>| {
        run_pass(
            jobs,
            todo,
            cache,
            config,
            opts.memory_bytes,
            deadline,
            on_made,
            progress,
        )
    };
    if opts.avif_deadline.is_none() && opts.avif_unfit.is_none() {
        let ran = pass(todo, None);
        progress.finish();
        return ran;
    }
    // AVIF waits only where another format shows the image meanwhile (with `formats: [avif]`
    // it is the image, and is made first: with `avif_unfit`, its job fails with that).
    let avif = crate::plan::OutFormat::Avif;
    let waits = |job: usize, v: &Variant| {
        v.format == avif && jobs[job].variants.iter().any(|o| o.format != avif)
    };
    let part = |later: bool| -> Vec<Todo> {
        todo.iter()
            .map(|td| Todo {
                job: td.job,
                variants: (td.variants.iter().copied())
                    .filter(|v| waits(td.job, v) == later)
                    .collect(),
            })
            .filter(|td| !td.variants.is_empty())
            .collect()
    };
    let first = pass(&part(false), None);
    // A source that failed is not decoded again for its AVIF (results are sorted by job).
    let failed: Vec<usize> = first
        .results
        .iter()
        .filter(|r| r.1.is_err())
        .map(|r| r.0)
        .collect();
    let (avif, dropped): (Vec<Todo>, Vec<Todo>) = part(true)
        .into_iter()
        .partition(|td| failed.binary_search(&td.job).is_err());
    progress.advance(dropped.iter().map(|td| td.variants.len() as u64).sum());
    let mut warnings = first.warnings;
    if let Some(why) = opts.avif_unfit {
        progress.advance(avif.iter().map(|td| td.variants.len() as u64).sum());
        progress.finish();
        if !avif.is_empty() {
            warnings.push(unfit_error(why));
        }
        return Ran {
            results: first.results,
            warnings,
            later: Vec::new(),
            untried: avif.iter().map(|td| (td.job, td.variants.len())).collect(),
        };
    }
    let second = pass(&by_saving(jobs, avif), opts.avif_deadline);
    progress.finish();
    let mut results = first.results;
    results.extend(second.results);
    warnings.extend(second.warnings);
    Ran {
        results: merge_jobs(results),
        warnings,
        later: second.later,
        untried: Vec::new(),
    }
}

/// The one error of a run whose AVIF outputs cannot be made (`why`: `avif::unfit`).
fn unfit_error(why: &str) -> Diagnostic {
    Diagnostic::error("avif", why.to_string())
        .with_help("the other formats were made, and pages offer no AVIF until pixpipe can make it")
}

/// `todo`, largest expected saving first (stable: equal savings keep the jobs' order).
fn by_saving(jobs: &[Job], mut todo: Vec<Todo>) -> Vec<Todo> {
    todo.sort_by(|a, b| saving(&jobs[b.job], b).total_cmp(&saving(&jobs[a.job], a)));
    todo
}

/// The bytes a todo's variants are expected to save over the other formats, times the
/// references that show its source: their pixels at the source's own bytes per pixel.
fn saving(job: &Job, td: &Todo) -> f64 {
    let source = (job.info.width as f64 * job.info.height as f64).max(1.0);
    let per_pixel = job.file_len as f64 / source;
    let pixels: f64 = td
        .variants
        .iter()
        .map(|v| v.width as f64 * v.height as f64)
        .sum();
    pixels * per_pixel * job.uses.max(1) as f64
}

/// One pass of `run` over `todo`: sources handed out in the order of `todo` when a
/// `deadline` is given (none started after it), else largest memory need first.
#[allow(clippy::too_many_arguments)]
fn run_pass(
    jobs: &[Job],
    todo: &[Todo],
    cache: &Cache,
    config: &Config,
    memory_bytes: u64,
    deadline: Option<Instant>,
    on_made: &(dyn Fn(usize, &Made, &[u8]) + Sync),
    progress: &dyn Progress,
) -> Ran {
    let work: Vec<(u64, Work)> = todo
        .iter()
        .enumerate()
        .map(|(t, td)| {
            let job = &jobs[td.job];
            // libaom's memory counts only when this work makes AVIF.
            let avif = crate::plan::OutFormat::Avif;
            let counted: Vec<Variant> = (job.variants.iter().copied())
                .filter(|v| v.format != avif || td.variants.contains(v))
                .collect();
            let need = process::job_bytes(&job.info, &counted, job.file_len);
            (need, Work::Source(t))
        })
        .collect();
    let (base, workers) = (process::resident_bytes(), rayon::current_num_threads());
    let queue = match deadline {
        Some(_) => process::Queue::in_order(memory_bytes, base, workers, work),
        None => process::Queue::new(memory_bytes, base, workers, work),
    };
    let worker = Worker {
        jobs,
        todo,
        cache,
        config,
        on_made,
        progress,
        queue: &queue,
        cache_errors: Mutex::new(BTreeMap::new()),
    };
    let done = Mutex::new(Vec::new());
    let later = Mutex::new(Vec::new());
    rayon::broadcast(|_| {
        while let Some((work, _lease)) = queue.next() {
            // Past the deadline, no source is started; a started one finishes.
            if let (Work::Source(t), Some(d)) = (&work, deadline) {
                if Instant::now() >= d {
                    let td = &todo[*t];
                    lock(&later).push((td.job, td.variants.len()));
                    progress.advance(td.variants.len() as u64);
                    continue;
                }
            }
            let part = worker.work(work);
            lock(&done).push(part);
        }
    });
    let parts = done.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut later = later.into_inner().unwrap_or_else(|e| e.into_inner());
    later.sort_unstable();
    let warnings = lock(&worker.cache_errors)
        .iter()
        .map(|(cause, n)| cache_warning(cache.dir(), *n, cause))
        .collect();
    Ran {
        results: merge_jobs(parts.into_iter().map(|(t, r)| (todo[t].job, r)).collect()),
        warnings,
        later,
        untried: Vec::new(),
    }
}

/// What the workers of one `run` share.
struct Worker<'a> {
    jobs: &'a [Job],
    todo: &'a [Todo],
    cache: &'a Cache,
    config: &'a Config,
    on_made: &'a (dyn Fn(usize, &Made, &[u8]) + Sync),
    progress: &'a dyn Progress,
    queue: &'a process::Queue<Work>,
    /// Why outputs could not be stored, and how many.
    cache_errors: Mutex<BTreeMap<String, usize>>,
}

impl Worker<'_> {
    /// Do one unit of work: (its todo, what it made or why it failed).
    fn work(&self, work: Work) -> (usize, Result<Vec<Made>, JobError>) {
        let t = match work {
            Work::Rest(t, rest) => return (t, self.finish(t, rest)),
            Work::Source(t) => t,
        };
        let td = &self.todo[t];
        let job = &self.jobs[td.job];
        let made = std::fs::read(&job.file)
            .map_err(JobError::Read)
            .and_then(|bytes| {
                process::make_largest(
                    &bytes,
                    &job.info,
                    &td.variants,
                    &job.variants,
                    self.config.max_pixels,
                    self.config.metadata,
                )
                .map_err(JobError::Process)
            });
        let (outs, rest) = match made {
            Ok(m) => m,
            Err(e) => {
                self.progress.advance(td.variants.len() as u64);
                return (t, Err(e));
            }
        };
        self.progress.advance(outs.len() as u64);
        let mut m = self.record(t, outs);
        // Leave the smaller sizes for whichever worker is free first.
        let Some(rest) = rest else { return (t, Ok(m)) };
        match self.queue.defer(rest.bytes(), Work::Rest(t, rest)) {
            Err(Work::Rest(_, rest)) => match self.finish(t, rest) {
                Ok(more) => m.extend(more),
                Err(e) => return (t, Err(e)),
            },
            Ok(()) | Err(Work::Source(_)) => {}
        }
        (t, Ok(m))
    }

    /// Make the variants a todo's first part left.
    fn finish(&self, t: usize, rest: process::Rest) -> Result<Vec<Made>, JobError> {
        let n = rest.len() as u64;
        let r = rest.finish().map(|outs| self.record(t, outs));
        self.progress.advance(n);
        Ok(r?)
    }

    /// Store what a worker made of one todo's variants, (index in its list, bytes), in the
    /// cache, name it, and hand it over.
    fn record(&self, t: usize, outs: process::Encoded) -> Vec<Made> {
        let td = &self.todo[t];
        let job = &self.jobs[td.job];
        let mut made = Vec::with_capacity(outs.len());
        for (i, out) in outs {
            let v = td.variants[i];
            let hash = short_hash(&out);
            let key = job.key(&v, self.config);
            let held = match self.cache.put(&key, &out, &hash) {
                Ok(()) => None,
                Err(e) => {
                    *lock(&self.cache_errors).entry(e.to_string()).or_default() += 1;
                    Some(Arc::new(out.clone()))
                }
            };
            let m = Made {
                variant: v,
                key,
                bytes: out.len() as u64,
                hash,
                held,
            };
            (self.on_made)(td.job, &m, &out);
            made.push(m);
        }
        made
    }
}

/// One result per job, sorted by job: a job's parts together (a todo may come in two, see
/// `process::make_largest`, and a job in two passes, see `run`), or its first error.
fn merge_jobs(
    mut results: Vec<(usize, Result<Vec<Made>, JobError>)>,
) -> Vec<(usize, Result<Vec<Made>, JobError>)> {
    results.sort_by_key(|r| r.0);
    let mut out: Vec<(usize, Result<Vec<Made>, JobError>)> = Vec::with_capacity(results.len());
    for (j, r) in results {
        match out.last_mut() {
            Some(last) if last.0 == j => {
                last.1 = match (std::mem::replace(&mut last.1, Ok(Vec::new())), r) {
                    (Ok(mut a), Ok(b)) => {
                        a.extend(b);
                        Ok(a)
                    }
                    (Err(e), _) | (_, Err(e)) => Err(e),
                };
            }
            _ => out.push((j, r)),
        }
    }
    out
}

/// One job's outputs as a command publishes them: those the cache had and those made now,
/// sorted by format, width and quality, less the AVIF ones no visitor gains from.
#[derive(Debug, Default)]
pub struct Outcome {
    /// What is published.
    pub outputs: Vec<Made>,
    /// How many outputs this run made (AVIF left out included).
    pub made: usize,
    /// How many outputs came from the cache (AVIF left out included).
    pub reused: usize,
    /// The AVIF outputs left out (see [`avif_gains`]). A command that placed them as they
    /// were made takes them back.
    pub unserved: Vec<Made>,
}

/// AVIF outputs left out because no visitor gains from them: how many files, of how many
/// sources.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Unserved {
    /// AVIF files made (or cached) and not published.
    pub files: usize,
    /// Sources served without AVIF for that.
    pub sources: usize,
}

impl Unserved {
    /// Count `o`'s AVIF left out.
    pub fn add(&mut self, o: &Outcome) {
        if !o.unserved.is_empty() {
            self.files += o.unserved.len();
            self.sources += 1;
        }
    }
}

/// Each job's outcome, in job order: `hits[j]` (what `lookup` found for job `j`) together
/// with `run`'s result for it, or that result's error.
pub fn outcomes(
    hits: Vec<Vec<Made>>,
    results: Vec<(usize, Result<Vec<Made>, JobError>)>,
) -> Vec<Result<Outcome, JobError>> {
    let mut results: BTreeMap<usize, Result<Vec<Made>, JobError>> = results.into_iter().collect();
    hits.into_iter()
        .enumerate()
        .map(|(j, cached)| {
            let now = results.remove(&j).transpose()?.unwrap_or_default();
            let (made, reused) = (now.len(), cached.len());
            let mut outputs: Vec<Made> = cached.into_iter().chain(now).collect();
            outputs.sort_by_key(|m| (m.variant.format, m.variant.width, m.variant.quality));
            let avif = |m: &Made| m.variant.format == crate::plan::OutFormat::Avif;
            let unserved = if avif_gains(&outputs) {
                Vec::new()
            } else {
                let (unserved, kept) = outputs.into_iter().partition(avif);
                outputs = kept;
                unserved
            };
            Ok(Outcome {
                outputs,
                made,
                reused,
                unserved,
            })
        })
        .collect()
}

/// Whether a job's AVIF outputs are worth serving: only when, over the widths that have an
/// AVIF and another file, the AVIF files together are smaller than the files a browser
/// without AVIF gets there (each width's WebP, else its smallest other file). A visitor's
/// browser fetches one width, which pixpipe cannot know: taken equally likely, AVIF then
/// saves bytes on average. All of a job's AVIF go or stay together: a `<source>` missing
/// some widths would have browsers fetch a larger file than they need, or a blurred one.
/// AVIF alone (the only format) has nothing to compare with and stays.
pub fn avif_gains(outputs: &[Made]) -> bool {
    use crate::plan::OutFormat::{Avif, Webp};
    let (mut avif, mut other) = (0u64, 0u64);
    for a in outputs.iter().filter(|m| m.variant.format == Avif) {
        let same_width = || {
            outputs
                .iter()
                .filter(|m| m.variant.width == a.variant.width && m.variant.format != Avif)
        };
        let replaced = match same_width().find(|m| m.variant.format == Webp) {
            Some(webp) => Some(webp.bytes),
            None => same_width().map(|m| m.bytes).min(),
        };
        if let Some(b) = replaced {
            avif += a.bytes;
            other += b;
        }
    }
    other == 0 || avif < other
}

/// Save the cache's index (see `Cache::save`), after waiting for the shared cache's uploads.
/// A cache that cannot be written is not the run's failure: the outputs are in place, and
/// the next run finds the cached ones from their files. So a failure is a warning with its
/// cause; a shared cache that failed is one too, an error only if it is `strict`.
pub fn save_cache(cache: &Cache, prune: bool, scope: Option<crate::cache::StatScope>) -> Saved {
    let mut saved = Saved::default();
    if let (Some((traffic, failure)), Some(remote)) = (cache.finish_remote(), cache.remote()) {
        saved.shared = Some(traffic);
        if let Some(why) = failure {
            saved.diagnostics.push(shared_failure(remote, &why));
        }
    }
    if let Err(e) = cache.save(prune, scope) {
        saved.diagnostics.push(
            Diagnostic::warning(
                "cache",
                format!("cannot save the cache {}: {e}", cache.dir().display()),
            )
            .with_help(
                "the outputs are in place; the next run finds those the cache holds from their files",
            ),
        );
    }
    saved
}

/// What saving the cache gave.
#[derive(Debug, Default)]
pub struct Saved {
    /// Its warnings (or a strict shared cache's error).
    pub diagnostics: Vec<Diagnostic>,
    /// What the run fetched from and sent to the shared cache, if it has one.
    pub shared: Option<crate::remote::Traffic>,
}

/// The finding for a shared cache that failed with `why`.
fn shared_failure(remote: &crate::remote::Session, why: &str) -> Diagnostic {
    let message = format!("the shared cache {} failed: {why}", remote.url());
    let mut help = "check the URL, the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, \
                AWS_REGION, AWS_ENDPOINT_URL for S3) and that the bucket exists"
        .to_string();
    if why.contains("403") {
        help.push_str(
            ", and that they may read, write and list it (without s3:ListBucket, S3 answers 403 \
             for an object it does not have)",
        );
    }
    if remote.strict() {
        Diagnostic::error("cache", message).with_help(format!(
            "{help}; without --cache-strict (and --shard) the run goes on with local work"
        ))
    } else {
        Diagnostic::warning("cache", message).with_help(format!(
            "this run went on without it: what it lacked was made here, and what it made is in \
             the local cache only; {help}; --cache-strict makes this an error"
        ))
    }
}

/// The warning for `n` outputs that `dir` could not store.
fn cache_warning(dir: &Path, n: usize, cause: &str) -> Diagnostic {
    Diagnostic::warning(
        "cache",
        format!(
            "cannot store {n} output{} in the cache {}: {cause}",
            if n == 1 { "" } else { "s" },
            dir.display()
        ),
    )
    .with_help("the outputs were placed all the same; a later run makes them again until the cache can be written")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::OutFormat;

    fn job(w: u32, h: u32, file_len: u64, uses: u32) -> Job {
        Job {
            uses,
            file: PathBuf::new(),
            info: crate::probe::ImageInfo::plain(crate::probe::Format::Jpeg, w, h),
            hash: String::new(),
            file_len,
            variants: Vec::new(),
        }
    }

    fn avif(job: usize, widths: &[u32]) -> Todo {
        let c = Config::default();
        Todo {
            job,
            variants: widths
                .iter()
                .map(|&w| Variant::new(w, w / 2, OutFormat::Avif, &c))
                .collect(),
        }
    }

    #[test]
    fn deferred_avif_work_goes_by_expected_saving_times_uses() {
        let jobs = [
            // 1 byte a pixel, shown once.
            job(2000, 1000, 2_000_000, 1),
            // The same photo shown on three pages.
            job(2000, 1000, 2_000_000, 3),
            // A photo that compresses four times better (a quarter of the bytes a pixel).
            job(2000, 1000, 500_000, 1),
            // Noisy: twice the bytes a pixel, but only small outputs.
            job(2000, 1000, 4_000_000, 1),
        ];
        let todo = vec![
            avif(0, &[1000, 2000]),
            avif(1, &[1000, 2000]),
            avif(2, &[1000, 2000]),
            avif(3, &[400, 800]),
        ];
        let order: Vec<usize> = by_saving(&jobs, todo).iter().map(|t| t.job).collect();
        // Savings: 7.5 M (x3 uses), 2.5 M, 0.8 M (0.4 M pixels at 2 bytes), 0.6 M.
        assert_eq!(order, vec![1, 0, 3, 2]);
        // Equal savings keep the jobs' order.
        let same = vec![avif(2, &[1000]), avif(0, &[1000])];
        let jobs = [
            job(1000, 500, 500_000, 1),
            job(1, 1, 1, 1),
            job(1000, 500, 500_000, 1),
        ];
        let order: Vec<usize> = by_saving(&jobs, same).iter().map(|t| t.job).collect();
        assert_eq!(order, vec![2, 0]);
    }

    fn made(format: OutFormat, width: u32, bytes: u64) -> Made {
        let c = Config::default();
        Made {
            variant: Variant::new(width, width / 2, format, &c),
            key: format!("{format:?}-{width}"),
            hash: String::new(),
            bytes,
            held: None,
        }
    }

    fn formats_and_widths(outputs: &[Made]) -> Vec<(OutFormat, u32)> {
        outputs
            .iter()
            .map(|m| (m.variant.format, m.variant.width))
            .collect()
    }

    #[test]
    fn avif_is_served_when_smaller_in_total_than_what_it_replaces() {
        use OutFormat::{Avif, Jpeg, Png, Webp};
        // Smaller than the WebP at each width, though larger than the JPEG at 800: a
        // browser that takes AVIF takes WebP too, so the WebP is what it would get.
        let photo = [
            made(Jpeg, 400, 900),
            made(Webp, 400, 1000),
            made(Avif, 400, 700),
            made(Jpeg, 800, 2000),
            made(Webp, 800, 3000),
            made(Avif, 800, 2500),
        ];
        assert!(avif_gains(&photo));
        // Larger at one width, smaller over both: served (3,300 bytes against 4,000).
        let mut diagram = photo.clone();
        diagram[2].bytes = 1300;
        diagram[5].bytes = 2000;
        assert!(avif_gains(&diagram));
        // As large over both: all of the source's AVIF goes.
        diagram[5].bytes = 2700;
        assert!(!avif_gains(&diagram));
        // Without WebP, the other file of the width is what it replaces.
        let no_webp = [
            made(Png, 400, 500),
            made(Avif, 400, 499),
            made(Png, 800, 900),
            made(Avif, 800, 902),
        ];
        assert!(!avif_gains(&no_webp));
        assert!(avif_gains(&no_webp[..2]));
        // AVIF alone replaces nothing; nor does one at a width nothing else has, which
        // is not counted.
        assert!(avif_gains(&[made(Avif, 400, 10_000)]));
        assert!(avif_gains(&[made(Webp, 400, 10), made(Avif, 800, 10_000)]));
        assert!(!avif_gains(&[
            made(Webp, 400, 10),
            made(Avif, 400, 10),
            made(Avif, 800, 1)
        ]));
        assert!(avif_gains(&[]));
    }

    #[test]
    fn outcomes_join_cache_and_run_and_leave_out_avif_that_gains_nothing() {
        use OutFormat::{Avif, Webp};
        let hits = vec![
            vec![made(Webp, 800, 3000), made(Webp, 400, 1000)],
            vec![made(Webp, 400, 1000)],
            vec![],
            vec![made(Webp, 400, 100)],
        ];
        let results = vec![
            (0, Ok(vec![made(Avif, 400, 600), made(Avif, 800, 2000)])),
            (1, Ok(vec![made(Avif, 400, 1000)])),
            (2, Err(JobError::Read(std::io::Error::other("gone")))),
        ];
        let out = outcomes(hits, results);
        assert_eq!(out.len(), 4);
        let o = out[0].as_ref().unwrap();
        assert_eq!((o.made, o.reused), (2, 2));
        assert_eq!(
            formats_and_widths(&o.outputs),
            [(Webp, 400), (Webp, 800), (Avif, 400), (Avif, 800)]
        );
        assert!(o.unserved.is_empty());
        let o = out[1].as_ref().unwrap();
        assert_eq!((o.made, o.reused), (1, 1));
        assert_eq!(formats_and_widths(&o.outputs), [(Webp, 400)]);
        assert_eq!(formats_and_widths(&o.unserved), [(Avif, 400)]);
        assert!(matches!(out[2], Err(JobError::Read(_))));
        let o = out[3].as_ref().unwrap();
        assert_eq!((o.made, o.reused, o.unserved.len()), (0, 1, 0));
        let mut count = Unserved::default();
        for o in out.iter().flatten() {
            count.add(o);
        }
        assert_eq!(
            count,
            Unserved {
                files: 1,
                sources: 1
            }
        );
    }

    #[test]
    fn avif_an_old_libaom_cannot_make_costs_one_error_and_no_other_output() {
        use crate::report::Severity;
        use OutFormat::{Avif, Jpeg, Webp};
        let dir = tempfile::tempdir().unwrap();
        let img =
            image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 90]));
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90)
            .encode_image(&img)
            .unwrap();
        let config = Config::default();
        let jobs: Vec<Job> = ["a.jpg", "b.jpg"]
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let file = dir.path().join(name);
                std::fs::write(&file, &bytes).unwrap();
                let mut j = job(64, 48, bytes.len() as u64, 1);
                j.file = file;
                j.hash = format!("{i:064x}");
                j.variants = [Jpeg, Webp, Avif]
                    .iter()
                    .flat_map(|&f| [32, 64].map(|w| Variant::new(w, w * 3 / 4, f, &config)))
                    .collect();
                j
            })
            .collect();
        let todo: Vec<Todo> = (jobs.iter().enumerate())
            .map(|(i, j)| Todo {
                job: i,
                variants: j.variants.clone(),
            })
            .collect();
        let cache = Cache::open(&dir.path().join("cache"));
        let opts = RunOptions {
            memory_bytes: 1 << 30,
            avif_deadline: None,
            avif_unfit: Some("AVIF output needs libaom 3.14 or later"),
        };
        let progress = crate::report::NoProgress;
        let ran = run(
            &jobs,
            &todo,
            &cache,
            &config,
            opts,
            &|_, _, _| {},
            &progress,
        );
        // Every JPEG and WebP of both sources, no AVIF, and one error for the run.
        assert_eq!(ran.results.len(), 2);
        for (_, r) in &ran.results {
            let made = r.as_ref().expect("the other formats are made");
            assert_eq!(
                formats_and_widths(made)
                    .iter()
                    .filter(|(f, _)| *f != Avif)
                    .count(),
                4
            );
            assert!(made.iter().all(|m| m.variant.format != Avif));
        }
        // Not left for later (no "still to come"), but not done: a rebuild looks again.
        assert!(ran.later.is_empty());
        assert_eq!(ran.untried, [(0, 2), (1, 2)]);
        let errors: Vec<(Severity, &str, &str)> = (ran.warnings.iter())
            .map(|d| (d.severity, d.code, d.message.as_str()))
            .collect();
        assert_eq!(
            errors,
            [(
                Severity::Error,
                "avif",
                "AVIF output needs libaom 3.14 or later"
            )]
        );
    }

    #[test]
    fn shards_split_every_job_once_alike_in_every_process_and_about_evenly() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", "", "1/4294967295"] {
            assert_eq!(
                bad.parse::<Shard>(),
                Err(format!(
                    "`{bad}` is not a shard: write I/N, with 1 <= I <= N <= 1024 (`--shard 2/4`)"
                )),
            );
        }
        let config = Config::default();
        // 30 photos of three sizes, each with its own bytes and one 800-wide JPEG output.
        let jobs: Vec<Job> = (0..30u32)
            .map(|i| {
                let mut j = job(1000 * (1 + i % 3), 1000, 100, 1);
                j.hash = format!("{i:064x}");
                j.variants = avif(0, &[800]).variants;
                j.variants[0].format = crate::plan::OutFormat::Jpeg;
                j
            })
            .collect();
        let parts: Vec<Vec<bool>> = (1..=3)
            .map(|index| Shard { index, count: 3 }.select(&jobs, &config))
            .collect();
        for j in 0..jobs.len() {
            assert_eq!(parts.iter().filter(|p| p[j]).count(), 1, "job {j}");
        }
        assert_eq!(
            parts[1],
            Shard { index: 2, count: 3 }.select(&jobs, &config)
        );
        // Each part gets about a third of the work (by pixels to decode and encode).
        let work: Vec<u64> = (parts.iter())
            .map(|p| {
                (jobs.iter().zip(p))
                    .filter(|(_, m)| **m)
                    .map(|(j, _)| work_of(j))
                    .sum()
            })
            .collect();
        let (least, most) = (work.iter().min().unwrap(), work.iter().max().unwrap());
        assert!(*most as f64 <= *least as f64 * 1.1, "{work:?}");
    }
}
