//! Analyze: scan → inventory → probe → check, the first half of every site command.
//!
//! `check` runs it whole; `build` runs `read`, recognises its own earlier outputs in the
//! inventory (an in-place page already points at them), then `examine`s, so both commands
//! probe and check exactly the same way. I/O: `read` reads the site, `examine` the images.

use crate::check::{self, CheckOptions, CheckReport};
use crate::config::Config;
use crate::inventory::{self, Inventory};
use crate::probe::{self, Probe, ProbeOptions};
use crate::report::Diagnostic;
use crate::resolve::Resolution;
use crate::scan::{self, ScanError, Site};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A site read, its references resolved, its images probed and checked.
#[derive(Debug)]
pub struct Analysis {
    /// The pages and files.
    pub site: Site,
    /// Every image reference, resolved.
    pub inv: Inventory,
    /// The probe of every local image a reference resolves to, by site-relative path.
    pub probes: BTreeMap<String, Probe>,
    /// Every finding, sorted.
    pub diagnostics: Vec<Diagnostic>,
}

/// Read the site at `root` and take its inventory of references.
pub fn read(root: &Path, config: &Config) -> Result<(Site, Inventory), ScanError> {
    let site = scan::scan(root, config)?;
    let inv = inventory::take(&site, config);
    Ok((site, inv))
}

/// Probe every file the references resolve to (`deep`: decode every pixel) and check them.
pub fn examine(root: &Path, site: Site, inv: Inventory, config: &Config, deep: bool) -> Analysis {
    examine_with(
        root,
        site,
        inv,
        config,
        deep,
        &mut probe::ProbeMemo::default(),
    )
}

/// [`examine`], with the probes a long-running process kept from its last run (`--watch`).
pub fn examine_with(
    root: &Path,
    site: Site,
    inv: Inventory,
    config: &Config,
    deep: bool,
    memo: &mut probe::ProbeMemo,
) -> Analysis {
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
    let probes = probe::probe_files_with(
        root,
        &files,
        ProbeOptions {
            max_pixels: config.max_pixels,
            deep,
            // What `build` decodes with: one decision per file for both commands.
            decoder: Some(crate::process::verify_decode),
        },
        memo,
    );
    let mut diagnostics = check::check(&site, &inv, config, &probes);
    diagnostics.extend(inv.shortcodes_in_code_omitted.iter().cloned());
    // At most `MAX_PER_CODE` of a code per file, for `check` and `build` alike.
    let diagnostics = crate::report::limit(diagnostics);
    Analysis {
        site,
        inv,
        probes,
        diagnostics,
    }
}

/// `read`, then `examine`.
pub fn analyze(root: &Path, config: &Config, deep: bool) -> Result<Analysis, ScanError> {
    let (site, inv) = read(root, config)?;
    Ok(examine(root, site, inv, config, deep))
}

/// The `check` command: analyze the site at `root` and report.
pub fn check_site(
    root: &Path,
    config: &Config,
    opts: CheckOptions,
) -> Result<CheckReport, ScanError> {
    let a = analyze(root, config, opts.deep)?;
    Ok(CheckReport {
        diagnostics: a.diagnostics,
        pages: a.site.pages.len(),
        references: a.inv.refs.len(),
        images: a.probes.len(),
    })
}
