//! Command-line flags as typed values (clap derive). No I/O.
//!
//! A module of the binary, not of the library: the library's commands take their own option
//! types (`BuildOptions`, `CheckOptions`, `GalleryOptions`), which `main` fills from these.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Makes the images of a static site correct, small and fast.
#[derive(Debug, Parser)]
#[command(name = "pixpipe", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every image reference in the site's pages and the file it resolves to.
    Scan(ScanArgs),
    /// Verify every referenced image: it exists, decodes and fits what the page declares.
    Check(CheckArgs),
    /// Resize every referenced image to its declared widths, hash it, rewrite the references.
    Build(BuildArgs),
    /// Turn a folder of event photos into a gallery page (standalone HTML or a Hugo bundle).
    Gallery(GalleryArgs),
    /// Optimise the images of a built site (Hugo's public/, Jekyll's _site/, …): each local
    /// `<img>` becomes a responsive `<picture>`, its variants written next to the original.
    Html(HtmlArgs),
    /// Look after a cache, local or shared.
    #[command(subcommand)]
    Cache(CacheCommand),
}

/// `pixpipe cache …`.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Delete outputs from a cache (a folder or a shared cache): those older than a time,
    /// except those the given sites still use.
    Prune(PruneArgs),
}

/// `pixpipe cache prune`.
#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// The cache: a folder, or a shared cache (s3://bucket/prefix, gs://…, az://…,
    /// https://…, file:///…).
    #[arg(long, value_name = "DIR|URL")]
    pub cache: String,
    /// Delete only outputs written longer ago than this (`30d`, `12h`, `90m`).
    #[arg(long, value_name = "AGE")]
    pub older_than: Option<String>,
    /// Keep every output these sites' builds use (each with its own pixpipe.yaml).
    #[arg(long, value_name = "SITE", num_args = 1..)]
    pub keep_referenced_by: Vec<PathBuf>,
    /// Say what would be deleted, and delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Requests in flight at once (shared caches).
    #[arg(long, value_name = "N", default_value_t = pixpipe::remote::DEFAULT_REQUESTS,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub cache_requests: u16,
}

/// Where a command's cache is (`build`, `gallery`, `html`).
#[derive(Debug, Clone, clap::Args)]
pub struct CacheArgs {
    /// The cache: a folder (save and restore it in CI), or a shared cache in an object store
    /// that many machines use (s3://bucket/prefix, gs://bucket/prefix, az://container/prefix,
    /// https://host/path, file:///path) with a local folder in front. Overrides the
    /// configuration's `cache`. Default: a folder .pixpipe/cache in the site (build), the
    /// photo folder (gallery) or beside DIR (html).
    #[arg(long, value_name = "DIR|URL")]
    pub cache: Option<String>,
    /// With a shared cache: the local folder in front of it. Default: the folder used
    /// without one.
    #[arg(long, value_name = "DIR")]
    pub cache_local: Option<PathBuf>,
    /// With a shared cache: a store that cannot be used is an error (exit 1), not a warning.
    #[arg(long)]
    pub cache_strict: bool,
    /// With a shared cache: requests in flight at once.
    #[arg(long, value_name = "N", default_value_t = pixpipe::remote::DEFAULT_REQUESTS,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub cache_requests: u16,
    /// With a shared cache: the longest a run waits for it in all, fetching and for its
    /// last uploads (`90s`, `10m`, `1h`, `none`); past it the store is turned off for the rest
    /// of the run (a warning, or an error with --cache-strict) and the build goes on locally.
    #[arg(long, value_name = "DURATION", default_value = pixpipe::remote::DEFAULT_TIME_LIMIT)]
    pub cache_timeout: String,
}

/// `pixpipe html`.
#[derive(Debug, clap::Args)]
pub struct HtmlArgs {
    /// The built site: the folder a generator wrote (public/, _site/, dist/, site/).
    pub dir: PathBuf,
    /// Work on a copy of DIR here, leaving DIR as it is. Default: rewrite DIR in place.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The site's URL (`https://example.org/docs/`) or base path (`/docs/`): absolute URLs
    /// of the site and a site served under a path resolve to DIR's files.
    #[arg(long)]
    pub base_url: Option<String>,
    /// Also rewrite images that already have a srcset or sit in a <picture>.
    #[arg(long)]
    pub force: bool,
    /// Remove each original whose variants sit beside it and whose name no file of DIR
    /// (page, feed, sitemap, CSS, script) mentions any more.
    #[arg(long)]
    pub prune_originals: bool,
    /// Configuration file (content_width, page_margin, screens, densities, formats, quality).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The cache.
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Threads, memory and progress.
    #[command(flatten)]
    pub work: WorkArgs,
    /// Output formats and the AVIF time budget.
    #[command(flatten)]
    pub encode: EncodeArgs,
}

/// Output of `gallery`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GalleryFormatArg {
    /// index.html with its CSS and JS, standalone.
    Html,
    /// A Hugo page bundle: index.md with one shortcode per photo, next to the images.
    Hugo,
}

/// `pixpipe gallery`.
#[derive(Debug, clap::Args)]
pub struct GalleryArgs {
    /// The folder of photos (with an optional gallery.yaml).
    pub photo_dir: PathBuf,
    /// Output folder. Default: PHOTO_DIR-gallery next to the photo folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GalleryFormatArg::Html)]
    pub format: GalleryFormatArg,
    /// Also publish each original (full size, upright, without metadata or GPS).
    #[arg(long)]
    pub originals: bool,
    /// The site's image shortcode for --format hugo.
    #[arg(long, default_value = "image")]
    pub shortcode: String,
    /// Configuration file (content_width, quality, shortcode parameter names).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The cache.
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Make only part I of N of the image work and store it in the cache (a shared one, for
    /// a CI matrix); write no gallery. A last run without --shard finds every output there.
    #[arg(long, value_name = "I/N", conflicts_with = "watch")]
    pub shard: Option<pixpipe::jobs::Shard>,
    /// Threads, memory and progress.
    #[command(flatten)]
    pub work: WorkArgs,
    /// Output formats and the AVIF time budget.
    #[command(flatten)]
    pub encode: EncodeArgs,
    /// Keep watching after the first run.
    #[command(flatten)]
    pub watch: WatchArgs,
}

/// Manifest file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ManifestFormatArg {
    /// YAML (a Hugo data file).
    Yaml,
    /// JSON.
    Json,
}

/// `pixpipe build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The site root (the folder holding content/). Default: the current folder.
    #[arg(default_value = ".")]
    pub site: PathBuf,
    /// Configuration file. Default: pixpipe.yaml at the site root, if present.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Write the rewritten content tree and the outputs here. Default: SITE/.pixpipe/site.
    #[arg(long, conflicts_with = "in_place")]
    pub out: Option<PathBuf>,
    /// Rewrite the site's own pages and write the outputs next to the originals.
    #[arg(long)]
    pub in_place: bool,
    /// Manifest file. Default: data/pixpipe.yaml in the output tree.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Manifest format.
    #[arg(long, value_enum, default_value_t = ManifestFormatArg::Yaml)]
    pub manifest_format: ManifestFormatArg,
    /// The cache.
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Make only part I of N of the image work and store it in the cache (a shared one, for
    /// a CI matrix); write no page, output or manifest. A last build without --shard finds
    /// every output there.
    #[arg(long, value_name = "I/N", conflicts_with = "watch")]
    pub shard: Option<pixpipe::jobs::Shard>,
    /// Also write the build's report as JSON here: counts, what a visitor downloads before
    /// and after, and every finding.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Remove cache entries this build did not use.
    #[arg(long)]
    pub prune_cache: bool,
    /// Threads, memory and progress.
    #[command(flatten)]
    pub work: WorkArgs,
    /// Output formats and the AVIF time budget.
    #[command(flatten)]
    pub encode: EncodeArgs,
    /// Keep watching after the first run.
    #[command(flatten)]
    pub watch: WatchArgs,
}

/// Output formats of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// Compiler-style messages with the source line and a caret.
    Human,
    /// A JSON array of findings.
    Json,
    /// GitHub Actions annotations.
    Github,
}

/// What `--deny` turns into errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Deny {
    /// Exit 1 on warnings too.
    Warnings,
}

/// `pixpipe check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The site root (the folder holding content/). Default: the current folder.
    #[arg(default_value = ".")]
    pub site: PathBuf,
    /// Configuration file. Default: pixpipe.yaml at the site root, if present.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    pub format: CheckFormat,
    /// Decode every pixel of every image (default: headers and file structure only).
    #[arg(long)]
    pub deep: bool,
    /// Exit 1 on warnings as well as errors.
    #[arg(long, value_enum)]
    pub deny: Option<Deny>,
    /// Check a built site instead (public/, _site/, dist/): every <img> and <source> of its
    /// pages against the folder's files (srcset widths, sizes, width/height, type).
    #[arg(long, value_name = "DIR")]
    pub html: Option<PathBuf>,
    /// With --html: the site's URL or base path (`https://example.org/docs/`, `/docs/`).
    #[arg(long, requires = "html")]
    pub base_url: Option<String>,
}

/// Output formats of `scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    /// Aligned columns for people.
    Table,
    /// One JSON object per reference.
    Jsonl,
}

/// `pixpipe scan`.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// The site root (the folder holding content/). Default: the current folder.
    #[arg(default_value = ".")]
    pub site: PathBuf,
    /// Configuration file. Default: pixpipe.yaml at the site root, if present.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ScanFormat::Table)]
    pub format: ScanFormat,
    /// Print the effective content, static and assets folders and languages, with where each
    /// came from, instead of scanning.
    #[arg(long)]
    pub explain_config: bool,
}

/// `--watch` (`build` and `gallery`).
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// After the first run, keep the output current as the sources change (pages, images,
    /// configuration) until Ctrl-C.
    #[arg(long)]
    pub watch: bool,
    /// With --watch: look for changes every MS milliseconds instead of waiting for file
    /// events (network filesystems, containers whose mounts deliver none). Polling is also
    /// chosen by itself when file events cannot be had.
    #[arg(long, value_name = "MS", requires = "watch")]
    pub poll: Option<u64>,
}

impl WatchArgs {
    /// How changes are noticed.
    pub fn backend(&self) -> pixpipe::watch::Backend {
        match self.poll {
            Some(ms) => pixpipe::watch::Backend::Poll(std::time::Duration::from_millis(ms.max(10))),
            None => pixpipe::watch::Backend::Auto,
        }
    }
}

/// How image work runs (`build` and `gallery`).
#[derive(Debug, clap::Args)]
pub struct WorkArgs {
    /// Worker threads. Default: the number of cores.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Memory budget in MiB: the resident memory the process keeps under while it makes
    /// images (an image that alone needs more runs alone).
    #[arg(long, default_value_t = 320)]
    pub memory: u64,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Encoding flags over the configuration file's settings.
#[derive(Debug, Clone, clap::Args)]
pub struct EncodeArgs {
    /// Output formats, comma-separated (auto, jpeg, png, webp, avif), instead of the
    /// configuration's `formats`.
    #[arg(long, value_name = "LIST")]
    pub formats: Option<String>,
    /// How long AVIF outputs may take (`90s`, `10m`, `1h`, or `none`): the other formats are
    /// made first, AVIF until then, the rest in later runs. Overrides `avif_budget`.
    #[arg(long, value_name = "DURATION")]
    pub avif_budget: Option<String>,
}

impl WorkArgs {
    /// Worker threads to use.
    pub fn threads(&self) -> usize {
        self.jobs.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        })
    }
    /// The memory budget in bytes (at least 16 MiB).
    pub fn memory_bytes(&self) -> u64 {
        self.memory.max(16) << 20
    }
}
