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
    /// Cache folder. Default: .pixpipe/cache beside DIR.
    #[arg(long)]
    pub cache: Option<PathBuf>,
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
    /// Cache folder. Default: PHOTO_DIR/.pixpipe/cache.
    #[arg(long)]
    pub cache: Option<PathBuf>,
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
    /// Cache folder (save and restore it in CI). Default: SITE/.pixpipe/cache.
    #[arg(long)]
    pub cache: Option<PathBuf>,
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
