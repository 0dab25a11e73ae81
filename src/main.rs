//! The `pixpipe` binary: parses flags, runs a library command, prints, picks the exit code
//! (0 clean, 1 problems reported, 2 fatal or usage).
//!
//! What is process-wide is decided here, not in the library: the global allocator and its
//! tuning (`alloc`) and the command line (`cli`) are modules of the binary.

mod alloc;
mod cache_cli;
mod cli;

use clap::Parser;
use cli::{
    BuildArgs, CheckArgs, CheckFormat, Cli, Command, EncodeArgs, GalleryArgs, GalleryFormatArg,
    HtmlArgs, ManifestFormatArg, ScanArgs, ScanFormat,
};
use pixpipe::analyze;
use pixpipe::build::{self, BuildOptions, Output};
use pixpipe::check::CheckOptions;
use pixpipe::gallery::{self, GalleryFormat, GalleryOptions};
use pixpipe::html::HtmlOptions;
use pixpipe::manifest::ManifestFormat;
use pixpipe::report;
use pixpipe::report::Progress;
use pixpipe::{inventory, scan, site_config, watch, Config};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

// mimalloc for small blocks, the system allocator for image buffers: see `alloc`.
#[global_allocator]
static GLOBAL: alloc::Split = alloc::Split;

fn main() -> ExitCode {
    alloc::tune();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(args) => run_scan(args),
        Command::Check(args) => run_check(args),
        Command::Build(args) => run_build(args),
        Command::Gallery(args) => run_gallery(args),
        Command::Html(args) => run_html(args),
        Command::Cache(cli::CacheCommand::Prune(args)) => cache_cli::run_prune(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // Every error's message already ends with its cause: `{e}`, not the `{e:#}`
            // chain, which would repeat it.
            eprintln!("error: {}", report::clean(&e.to_string()));
            ExitCode::from(2)
        }
    }
}

fn stderr_color() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
}

fn print_diagnostics(diags: &[pixpipe::Diagnostic]) {
    let color = stderr_color();
    let mut err = std::io::stderr().lock();
    for d in diags {
        let _ = err.write_all(report::render_human(d, color).as_bytes());
    }
}

fn run_scan(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let config = site_config::load(&args.site, args.config.as_deref())?;
    if args.explain_config {
        std::io::stdout()
            .lock()
            .write_all(config.explain_text().as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    let site = scan::scan(&args.site, &config)?;
    let inv = inventory::take(&site, &config);
    let mut diags = site.diagnostics.clone();
    diags.extend(inv.diagnostics.iter().cloned());
    report::sort(&mut diags);
    print_diagnostics(&report::limit(diags));
    let out = match args.format {
        ScanFormat::Jsonl => inventory::to_jsonl(&inv.refs),
        ScanFormat::Table => inventory::to_table(&inv.refs),
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn run_check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let report = match &args.html {
        Some(dir) => {
            let config = config_or_default(args.config.as_deref())?;
            let base = pixpipe::html::url::Base::parse(args.base_url.as_deref());
            pixpipe::html::check::check_html(dir, &config, &base)?
        }
        None => {
            let config = site_config::load(&args.site, args.config.as_deref())?;
            analyze::check_site(&args.site, &config, CheckOptions { deep: args.deep })?
        }
    };
    let counts = report::count(&report.diagnostics);
    let out = match args.format {
        CheckFormat::Human => {
            let color = std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal();
            report
                .diagnostics
                .iter()
                .map(|d| report::render_human(d, color))
                .collect::<String>()
        }
        CheckFormat::Json => report::render_json(&report.diagnostics),
        CheckFormat::Github => report
            .diagnostics
            .iter()
            .map(report::render_github)
            .collect::<String>(),
    };
    std::io::stdout().lock().write_all(out.as_bytes())?;
    eprintln!(
        "check: {} ({} references in {} pages, {} image files)",
        report::summarize(counts),
        report.references,
        report.pages,
        report.images
    );
    let failed = counts.errors > 0 || (args.deny.is_some() && counts.warnings > 0);
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// An indicatif bar on a terminal (none when piped or quiet), and whether `--quiet` was given.
struct Bar(Option<indicatif::ProgressBar>, bool);

impl Progress for Bar {
    fn start(&self, what: &str, total: u64) {
        if let Some(b) = &self.0 {
            b.set_length(total);
            b.set_position(0);
            b.set_message(what.to_string());
            b.reset_eta();
        }
    }
    fn advance(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.inc(n);
        }
    }
    fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
    fn message(&self, what: &str) {
        match &self.0 {
            Some(b) => b.println(what),
            None if !self.1 => eprintln!("{what}"),
            None => {}
        }
    }
}

fn progress_bar(quiet: bool, template: &str) -> Bar {
    if quiet || !std::io::stderr().is_terminal() {
        return Bar(None, quiet);
    }
    let b = indicatif::ProgressBar::new(0);
    b.set_style(
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    Bar(Some(b), quiet)
}

/// `config` with the command line's `--formats` and `--avif-budget` over its own.
fn encoded(mut config: Config, e: &EncodeArgs) -> anyhow::Result<Config> {
    config
        .override_encoding(e.formats.as_deref(), e.avif_budget.as_deref())
        .map_err(anyhow::Error::msg)?;
    Ok(config)
}

/// The configuration of `--config FILE` for the commands that work without a site (gallery,
/// html, check --html), else the defaults.
fn config_or_default(file: Option<&Path>) -> anyhow::Result<Config> {
    Ok(match file {
        Some(c) => site_config::load(Path::new("."), Some(c))?,
        None => Config::default(),
    })
}

fn run_gallery(args: GalleryArgs) -> anyhow::Result<ExitCode> {
    let config = encoded(config_or_default(args.config.as_deref())?, &args.encode)?;
    // Default: PHOTO_DIR-gallery beside the photo folder (from its absolute path, so that
    // `pixpipe gallery .` does not write into the photos).
    let abs = std::path::absolute(&args.photo_dir).unwrap_or_else(|_| args.photo_dir.clone());
    let abs: std::path::PathBuf = abs
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    let name = abs
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("photos")
        .to_string();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| abs.with_file_name(format!("{name}-gallery")));
    let (cache_dir, shared) = cache_cli::cache_of(
        &args.cache,
        &config,
        (&args.photo_dir, args.shard.is_some()),
        args.work.memory_bytes(),
    )?;
    let opts = GalleryOptions {
        out,
        format: match args.format {
            GalleryFormatArg::Html => GalleryFormat::Html,
            GalleryFormatArg::Hugo => GalleryFormat::Hugo,
        },
        originals: args.originals,
        cache_dir,
        jobs: args.work.threads(),
        memory_bytes: args.work.memory_bytes(),
        shortcode: args.shortcode.to_ascii_lowercase(),
        shared,
        shard: args.shard,
    };
    let bar = progress_bar(
        args.work.quiet,
        "{msg:>9} [{bar:30}] {pos}/{len} variants, {eta} left",
    );
    let stop = args.watch.watch.then(stop_on_ctrl_c).transpose()?;
    let spec = watch::folder_spec(
        &args.photo_dir,
        args.config.as_deref(),
        &opts.out,
        &opts.cache_dir,
    );
    // Watching from before the first run: photos landing during it are the first batch.
    let watching = stop
        .is_some()
        .then(|| watch::start(&spec, args.watch.backend(), &mut log_note));
    let started = std::time::Instant::now();
    let report = gallery::gallery(&args.photo_dir, &config, &opts, &bar)?;
    print_diagnostics(&report.diagnostics);
    let url = opts.shared.as_ref().map(|r| r.url());
    if let Some((shard, others)) = report.shard {
        eprintln!(
            "gallery: shard {shard}: {} variants ({} made, {} already in the cache), {others} jobs left to the other shards; no gallery written",
            report.made + report.reused,
            report.made,
            report.reused,
        );
        cache_cli::print_shared(url, report.shared.as_ref());
        return Ok(exit_code(&report.diagnostics));
    }
    eprintln!(
        "gallery: {} photos ({} with neither caption nor alt text), {} variants ({} made, {} reused), {} stale files removed, {:.2} s; open {}",
        report.photos,
        report.without_text,
        report.made + report.reused,
        report.made,
        report.reused,
        report.removed,
        started.elapsed().as_secs_f64(),
        report.page.display()
    );
    print_avif_later(report.avif_later, "gallery");
    print_avif_unserved(report.avif_unserved);
    cache_cli::print_shared(url, report.shared.as_ref());
    let (Some(stop), Some(watching)) = (stop, watching) else {
        return Ok(exit_code(&report.diagnostics));
    };
    let mut session = WatchSession::new(&report.diagnostics);
    let mut config = config;
    WATCHING.store(true, std::sync::atomic::Ordering::SeqCst);
    watching.run(&stop, &mut log_note, &mut |batch| {
        let what = watch::describe(batch, &args.photo_dir);
        if batch.config && args.config.is_some() {
            match config_or_default(args.config.as_deref()).and_then(|c| encoded(c, &args.encode)) {
                Ok(c) => config = c,
                Err(e) => eprintln!(
                    "watch: {what}: {}; the last good configuration stays",
                    report::clean(&e.to_string())
                ),
            }
        }
        match gallery::gallery(&args.photo_dir, &config, &opts, &report::NoProgress) {
            Ok(r) => session.show(&what, batch, &r.diagnostics, || {
                format!(
                    "{} photos, {} variants made, {} reused, {} stale files removed",
                    r.photos, r.made, r.reused, r.removed
                )
            }),
            Err(e) => eprintln!("watch: {what}: {}", report::clean(&e.to_string())),
        }
        None
    });
    eprintln!("watch: stopped");
    Ok(session.exit_code())
}

fn run_html(args: HtmlArgs) -> anyhow::Result<ExitCode> {
    let config = encoded(config_or_default(args.config.as_deref())?, &args.encode)?;
    let abs = std::path::absolute(&args.dir).unwrap_or_else(|_| args.dir.clone());
    let beside = abs
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect::<std::path::PathBuf>()
        .parent()
        .map_or_else(|| abs.clone(), Path::to_path_buf);
    let (cache_dir, shared) = cache_cli::cache_of(
        &args.cache,
        &config,
        (&beside, false),
        args.work.memory_bytes(),
    )?;
    let opts = HtmlOptions {
        out: args.out.clone(),
        base: pixpipe::html::url::Base::parse(args.base_url.as_deref()),
        force: args.force,
        prune_originals: args.prune_originals,
        cache_dir,
        jobs: args.work.threads(),
        memory_bytes: args.work.memory_bytes(),
        shared,
    };
    let bar = progress_bar(
        args.work.quiet,
        "{msg:>9} [{bar:30}] {pos}/{len} variants, {eta} left",
    );
    let report = pixpipe::html::html(&args.dir, &config, &opts, &bar)?;
    print_diagnostics(&report::limit(report.diagnostics.clone()));
    eprintln!(
        "html: {} pages ({} rewritten), {} <img> ({} made responsive, {} already were), {} variants ({} made, {} reused), {:.2} s",
        report.pages,
        report.pages_written,
        report.imgs,
        report.rewritten,
        report.responsive,
        report.made + report.reused,
        report.made,
        report.reused,
        report.seconds
    );
    print_avif_later(report.avif_later, "html");
    print_avif_unserved(report.avif_unserved);
    cache_cli::print_shared(
        opts.shared.as_ref().map(|r| r.url()),
        report.shared.as_ref(),
    );
    if report.rewritten > 0 {
        eprintln!(
            "visitors: the rewritten images weighed {}; their 1x fallbacks weigh {}",
            megabytes(report.bytes_before),
            megabytes(report.bytes_after)
        );
    }
    if args.prune_originals {
        eprintln!(
            "pruned: {} originals no file names any more ({}); {} kept, still named",
            report.pruned.removed.len(),
            megabytes(report.pruned.bytes),
            report.pruned.kept
        );
    }
    let errors = report::count(&report.diagnostics).errors;
    Ok(if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub(crate) fn megabytes(b: u64) -> String {
    if b < 1_000_000 {
        format!("{} KB", (b as f64 / 1e3).round())
    } else {
        format!("{:.1} MB", b as f64 / 1e6)
    }
}

fn run_build(args: BuildArgs) -> anyhow::Result<ExitCode> {
    // Set before the first build, so that Ctrl-C during it ends the watch cleanly too.
    let stop = args.watch.watch.then(stop_on_ctrl_c).transpose()?;
    let mut config = encoded(
        site_config::load(&args.site, args.config.as_deref())?,
        &args.encode,
    )?;
    let output = if args.in_place {
        Output::InPlace
    } else {
        Output::Mirror(
            args.out
                .clone()
                .unwrap_or_else(|| args.site.join(".pixpipe/site")),
        )
    };
    let (cache_dir, shared) = cache_cli::cache_of(
        &args.cache,
        &config,
        (&args.site, args.shard.is_some()),
        args.work.memory_bytes(),
    )?;
    let opts = BuildOptions {
        output,
        manifest: args.manifest.clone(),
        manifest_format: match args.manifest_format {
            ManifestFormatArg::Yaml => ManifestFormat::Yaml,
            ManifestFormatArg::Json => ManifestFormat::Json,
        },
        cache_dir,
        jobs: args.work.threads(),
        memory_bytes: args.work.memory_bytes(),
        prune_cache: args.prune_cache,
        shared,
        shard: args.shard,
    };
    let bar = progress_bar(
        args.work.quiet,
        "{msg:>9} [{bar:30}] {pos}/{len} variants, {eta} left",
    );
    let out_dir = match &opts.output {
        Output::Mirror(p) => Some(p.clone()),
        Output::InPlace => None,
    };
    let spec_of = |config: &Config| {
        watch::site_spec(
            &args.site,
            config,
            args.config.as_deref(),
            out_dir.as_deref(),
            &opts.cache_dir,
        )
    };
    // Watching from before the first build: what changes during it is the first batch.
    let watching = stop
        .is_some()
        .then(|| watch::start(&spec_of(&config), args.watch.backend(), &mut log_note));
    let mut warm = build::Warm::default();
    let report = build::build_warm(&args.site, &config, &opts, &bar, &mut warm)?;
    print_diagnostics(&report.diagnostics);
    print_build_summary(&report);
    cache_cli::print_shared(
        opts.shared.as_ref().map(|r| r.url()),
        report.shared.as_ref(),
    );
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&report)?;
        pixpipe::emit::write_atomic(path, format!("{json}\n").as_bytes())
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    let counts = report::count(&report.diagnostics);
    if counts.errors + counts.warnings > 0 {
        eprintln!("check: {}", report::summarize(counts));
    }
    let (Some(stop), Some(watching)) = (stop, watching) else {
        return Ok(exit_code(&report.diagnostics));
    };
    let mut session = WatchSession::new(&report.diagnostics);
    session.own_pages(&args.site, &report, &opts.output);
    WATCHING.store(true, std::sync::atomic::Ordering::SeqCst);
    watching.run(&stop, &mut log_note, &mut |batch| {
        let mut batch = batch.clone();
        session.own.drop_from(&mut batch);
        if batch.paths.is_empty() && !batch.rescan {
            return None;
        }
        let what = watch::describe(&batch, &args.site);
        let mut respec = None;
        if batch.config {
            let loaded = site_config::load(&args.site, args.config.as_deref())
                .map_err(anyhow::Error::from)
                .and_then(|c| encoded(c, &args.encode));
            match loaded {
                Ok(c) => {
                    let new = spec_of(&c);
                    if new.trees != spec_of(&config).trees {
                        respec = Some(new);
                    }
                    config = c;
                }
                // Reported; the rest of the batch is built with the last good one.
                Err(e) => eprintln!(
                    "watch: {what}: {}; the last good configuration stays",
                    report::clean(&e.to_string())
                ),
            }
        }
        // What changed, unless anything may have (lost events, a new configuration).
        let changed = !(batch.rescan || batch.config);
        let paths = batch.paths.iter().chain(&batch.unnoticed);
        warm.changed_since_last(changed.then(|| paths.cloned().collect()));
        match build::build_warm(&args.site, &config, &opts, &report::NoProgress, &mut warm) {
            Ok(r) => {
                session.show(&what, &batch, &r.diagnostics, || build_line(&r));
                session.own_pages(&args.site, &r, &opts.output);
            }
            Err(e) => eprintln!("watch: {what}: {}", report::clean(&e.to_string())),
        }
        respec
    });
    eprintln!("watch: stopped");
    Ok(session.exit_code())
}

fn log_note(note: &str) {
    eprintln!("watch: {note}");
}

/// What one rebuild did, in a line.
fn build_line(r: &build::BuildReport) -> String {
    format!(
        "{} pages written, {} variants made ({} sources decoded), {} reused, {} stale files removed",
        r.pages_written, r.made, r.decoded, r.reused, r.pruned
    )
}

/// A flag set by Ctrl-C: a watch ends after the rebuild under way (its cache saved, no
/// temporary file left). A second Ctrl-C ends the process at once.
fn stop_on_ctrl_c() -> anyhow::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || {
        // Before the watch starts (a long first build), Ctrl-C ends at once, as without
        // --watch (files are written whole, so nothing is left half-written).
        if !WATCHING.load(Ordering::SeqCst) || flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    })?;
    Ok(stop)
}

/// Set when a watch takes over from the first build: Ctrl-C then ends it cleanly.
static WATCHING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// What a watch remembers between rebuilds: the problems already shown, and the files it
/// wrote among the watched ones.
struct WatchSession {
    shown: std::collections::BTreeSet<String>,
    last: Vec<pixpipe::Diagnostic>,
    own: watch::OwnWrites,
}

impl WatchSession {
    fn new(diags: &[pixpipe::Diagnostic]) -> Self {
        WatchSession {
            shown: diags
                .iter()
                .map(|d| report::render_human(d, false))
                .collect(),
            last: diags.to_vec(),
            own: watch::OwnWrites::default(),
        }
    }

    /// Remember the source pages an `--in-place` build rewrote: their change events are its own.
    fn own_pages(&mut self, root: &Path, r: &build::BuildReport, output: &Output) {
        let paths: Vec<std::path::PathBuf> = match output {
            Output::InPlace => r.written_pages.iter().map(|p| root.join(p)).collect(),
            Output::Mirror(_) => Vec::new(),
        };
        self.own.record(paths.iter().map(|p| p.as_path()));
    }

    /// Print the problems not shown before, and one line for the batch: what changed, what
    /// was done, how many problems are left and how long after the change it was done.
    fn show(
        &mut self,
        what: &str,
        batch: &watch::Batch,
        diags: &[pixpipe::Diagnostic],
        line: impl FnOnce() -> String,
    ) {
        let now: std::collections::BTreeSet<String> = diags
            .iter()
            .map(|d| report::render_human(d, false))
            .collect();
        let new: Vec<pixpipe::Diagnostic> = diags
            .iter()
            .filter(|d| !self.shown.contains(&report::render_human(d, false)))
            .cloned()
            .collect();
        print_diagnostics(&new);
        let fixed = self.shown.difference(&now).count();
        let counts = report::count(diags);
        let ms = batch.first_event.map_or(0, |t| t.elapsed().as_millis());
        let mut problems = report::summarize(counts);
        if fixed > 0 {
            problems.push_str(&format!(", {fixed} gone"));
        }
        eprintln!("watch: {what}: {}; {problems}; {ms} ms", line());
        self.shown = now;
        self.last = diags.to_vec();
    }

    fn exit_code(&self) -> ExitCode {
        exit_code(&self.last)
    }
}

/// 1 when `diags` hold an error, else 0.
fn exit_code(diags: &[pixpipe::Diagnostic]) -> ExitCode {
    if report::count(diags).errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The line that says how many AVIF variants the time budget left for later runs.
fn print_avif_later(n: usize, command: &str) {
    if n > 0 {
        eprintln!(
            "avif: {n} AVIF variants still to come: the time budget (avif_budget) ran out; \
             pages point only at those made, and the next {command} continues"
        );
    }
}

/// The line that says how many AVIF outputs were left out for being no smaller.
fn print_avif_unserved(n: pixpipe::jobs::Unserved) {
    if n.files > 0 {
        let (files, sources) = (n.files, n.sources);
        let (f, s) = (plural(files), plural(sources));
        eprintln!(
            "avif: {files} AVIF file{f} of {sources} image{s} left out: together no smaller than \
             the files a browser without AVIF gets at the same widths (the WebP, else the \
             fallback), so {} served without AVIF",
            if sources == 1 { "it is" } else { "those are" }
        );
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn print_build_summary(report: &build::BuildReport) {
    if let Some((shard, others)) = report.shard {
        eprintln!(
            "build: shard {shard}: {} variants ({} made, {} already in the cache), {} sources decoded, {others} jobs left to the other shards, {:.2} s; no pages written",
            report.made + report.reused,
            report.made,
            report.reused,
            report.decoded,
            report.seconds,
        );
        return;
    }
    eprintln!(
        "build: {} images, {} variants ({} made, {} reused), {} sources decoded, {} sources hashed, {} written, {} pages written, {} stale files removed, {:.2} s; manifest {}",
        report.images,
        report.made + report.reused,
        report.made,
        report.reused,
        report.decoded,
        report.hashed,
        megabytes(report.bytes_out),
        report.pages_written,
        report.pruned,
        report.seconds,
        report.manifest
    );
    print_avif_later(report.avif_later, "build");
    print_avif_unserved(report.avif_unserved);
    let v = report.visitor;
    if v.images > 0 {
        eprintln!(
            "visitors: {} images on {} pages: {} as the originals -> {} at 1x, {} at 2x (AVIF, else WebP, where made)",
            v.images,
            v.pages,
            megabytes(v.before),
            megabytes(v.after_1x),
            megabytes(v.after_2x)
        );
    }
}
