//! The cache flags of `build`, `gallery` and `html`, their summary lines, and `pixpipe cache
//! prune`. A module of the binary: the library's commands take a folder and an opened
//! shared cache; the pruning itself is `pixpipe::prune`.

use crate::cli::{CacheArgs, PruneArgs};
use pixpipe::remote::{self, Remote, Settings, Traffic};
use pixpipe::Config;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// A command's cache folder and shared cache: `--cache`, else the configuration's `cache` (a
/// folder there is relative to `base`: the site, the photo folder, or beside the built
/// site), else the folder `.pixpipe/cache` in `base`. With a shared cache, the folder is
/// `--cache-local`, else that default; its uploads hold at most a 32nd of `memory_bytes`.
/// A shard's store is strict: a shard exists to fill it, and one that could not would leave
/// the last build to make its part after all.
pub fn cache_of(
    args: &CacheArgs,
    config: &Config,
    (base, shard): (&Path, bool),
    memory_bytes: u64,
) -> anyhow::Result<(PathBuf, Option<Arc<Remote>>)> {
    // Checked whatever the cache is: a mistake is an error before anything starts.
    let time_limit = pixpipe::config::parse_budget(&args.cache_timeout)
        .map_err(|e| anyhow::anyhow!("--cache-timeout: {e}"))?;
    let default = base.join(".pixpipe/cache");
    let given = match (&args.cache, &config.cache) {
        (Some(c), _) => Some((c.clone(), None)),
        (None, Some(c)) => Some((c.clone(), Some(base))),
        (None, None) => None,
    };
    match given {
        Some((url, _)) if remote::is_url(&url) => {
            let remote = Remote::open(Settings {
                url,
                strict: args.cache_strict || shard,
                requests: args.cache_requests.max(1) as usize,
                upload_bytes: remote::upload_bytes(memory_bytes),
                time_limit,
            })?;
            Ok((
                args.cache_local.clone().unwrap_or(default),
                Some(Arc::new(remote)),
            ))
        }
        Some((dir, base)) => {
            if args.cache_local.is_some() {
                anyhow::bail!(
                    "--cache-local is the folder in front of a shared cache, and the cache `{dir}` is a folder: give one of them"
                );
            }
            Ok((
                base.map_or_else(|| dir.clone().into(), |b| b.join(&dir)),
                None,
            ))
        }
        None => Ok((args.cache_local.clone().unwrap_or(default), None)),
    }
}

/// The summary line of a run's use of the shared cache at `url`.
pub fn print_shared(url: Option<&str>, traffic: Option<&Traffic>) {
    let (Some(url), Some(t)) = (url, traffic) else {
        return;
    };
    let damaged = match t.damaged {
        0 => String::new(),
        n => format!(", {n} damaged objects made again"),
    };
    eprintln!(
        "shared cache {url}: {} outputs fetched ({}), {} uploaded ({}), {} requests{damaged}",
        t.fetched,
        crate::megabytes(t.fetched_bytes),
        t.uploaded,
        crate::megabytes(t.uploaded_bytes),
        t.requests
    );
}

/// `pixpipe cache prune`.
pub fn run_prune(args: PruneArgs) -> anyhow::Result<ExitCode> {
    let older_than = match &args.older_than {
        Some(age) => Some(pixpipe::prune::parse_age(age).map_err(anyhow::Error::msg)?),
        None => None,
    };
    if older_than.is_none() && args.keep_referenced_by.is_empty() {
        anyhow::bail!(
            "say what to delete: --older-than AGE (`30d`), --keep-referenced-by SITE..., or both"
        );
    }
    let store = if remote::is_url(&args.cache) {
        pixpipe::prune::Store::Shared(Box::new(Remote::open(Settings {
            url: args.cache.clone(),
            strict: true,
            requests: args.cache_requests.max(1) as usize,
            upload_bytes: remote::UPLOAD_BYTES,
            // Listing and deleting are the whole command: each request has its own limits.
            time_limit: None,
        })?))
    } else {
        pixpipe::prune::Store::Folder(PathBuf::from(&args.cache))
    };
    let mut keep = std::collections::BTreeSet::new();
    for site in &args.keep_referenced_by {
        let config = pixpipe::site_config::load(site, None)?;
        let used = pixpipe::build::used_keys(site, &config)
            .map_err(|e| anyhow::anyhow!("{}: {e}", site.display()))?;
        eprintln!("keep: {} outputs used by {}", used.len(), site.display());
        keep.extend(used);
    }
    let rule = pixpipe::prune::Rule {
        older_than,
        keep: (!args.keep_referenced_by.is_empty()).then_some(&keep),
        now: std::time::SystemTime::now(),
    };
    let r = pixpipe::prune::prune(&store, &rule, args.dry_run)?;
    eprintln!(
        "cache prune {}: {} outputs ({}) {}, {} kept ({})",
        args.cache,
        r.deleted,
        crate::megabytes(r.deleted_bytes),
        if args.dry_run {
            "would be deleted (dry run)"
        } else {
            "deleted"
        },
        r.kept,
        crate::megabytes(r.kept_bytes)
    );
    Ok(ExitCode::SUCCESS)
}
