//! `pixpipe check --html DIR`: what a built page asks a browser to fetch, checked against
//! the files of the folder.
//!
//! For every `<img>` and every `<source>` of a `<picture>`: each URL of `src` and `srcset`
//! names a file of the folder (remote URLs are left alone); a `w` descriptor is the file's
//! real width (after EXIF orientation); `x` descriptors agree with each other; `w`
//! descriptors come with `sizes`; `width` and `height` have the file's aspect ratio; a
//! `<source type>` is the format of its files; plus the `missing_alt` and `max_bytes` lints.
//! Findings point at the tag's line and column in the built page.

use super::url::{resolve, Base, Target};
use super::{list, locate, read_pages, shown_in, HtmlError, Read};
use crate::check::{level_severity, CheckReport};
use crate::config::Config;
use crate::position::Span;
use crate::probe::{self, Format, Probe, ProbeOptions};
use crate::report::{Diagnostic, Severity};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One candidate of a `srcset`: its URL and descriptor.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The URL as written.
    pub url: String,
    /// The descriptor.
    pub descriptor: Descriptor,
}

/// A `srcset` descriptor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Descriptor {
    /// `480w`.
    Width(u32),
    /// `2x` (none written is `1x`).
    Density(f64),
    /// Something a browser ignores the candidate for (`12q`, `-1w`).
    Invalid,
}

/// Parse a `srcset` as browsers do: URLs are runs of non-blanks (a trailing comma ends the
/// candidate), descriptors follow up to the next comma.
pub fn parse_srcset(s: &str) -> Vec<Candidate> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == ',');
        if rest.is_empty() {
            return out;
        }
        let end = rest
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(rest.len());
        let mut url = &rest[..end];
        rest = &rest[end..];
        let mut descriptor = Descriptor::Density(1.0);
        if url.ends_with(',') {
            url = url.trim_end_matches(',');
        } else {
            let stop = rest.find(',').unwrap_or(rest.len());
            let words: Vec<&str> = rest[..stop].split_ascii_whitespace().collect();
            rest = &rest[stop..];
            descriptor = match words.as_slice() {
                [] => Descriptor::Density(1.0),
                [d] => parse_descriptor(d),
                _ => Descriptor::Invalid,
            };
        }
        out.push(Candidate {
            url: url.to_string(),
            descriptor,
        });
    }
}

fn parse_descriptor(d: &str) -> Descriptor {
    let (num, unit) = d.split_at(d.len() - 1);
    match unit {
        "w" => num
            .parse::<u32>()
            .ok()
            .filter(|w| *w > 0)
            .map_or(Descriptor::Invalid, Descriptor::Width),
        "x" => num
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x > 0.0)
            .map_or(Descriptor::Invalid, Descriptor::Density),
        _ => Descriptor::Invalid,
    }
}

/// The MIME type of a format, as `<source type>` names it.
fn mime(f: Format) -> &'static str {
    match f {
        Format::Jpeg => "image/jpeg",
        Format::Png => "image/png",
        Format::Gif => "image/gif",
        Format::WebP => "image/webp",
        Format::Avif => "image/avif",
        Format::Heif => "image/heic",
        Format::Tiff => "image/tiff",
        Format::Bmp => "image/bmp",
        Format::Ico => "image/x-icon",
        Format::Svg => "image/svg+xml",
    }
}

/// One tag to check: its page, where it is, and its URLs.
struct Tag<'a> {
    page: &'a Read,
    span: Span,
    name: &'static str,
    src: Option<&'a str>,
    srcset: Option<&'a str>,
    sizes: Option<&'a str>,
    mime: Option<&'a str>,
    size: Option<(&'a str, &'a str)>,
    alt: Option<Option<&'a str>>,
}

/// Check the built site in `dir`.
pub fn check_html(dir: &Path, config: &Config, base: &Base) -> Result<CheckReport, HtmlError> {
    let (files, pages) = list(dir)?;
    let (read, mut diagnostics) = read_pages(dir, &pages);
    let mut tags: Vec<Tag> = Vec::new();
    for p in &read {
        for i in &p.images.imgs {
            let size = i.attr("width").zip(i.attr("height"));
            tags.push(Tag {
                page: p,
                span: i.span,
                name: "img",
                src: i.attr("src"),
                srcset: i.attr("srcset"),
                sizes: i.attr("sizes"),
                mime: None,
                size,
                alt: Some(i.attr("alt")),
            });
        }
        for s in &p.images.sources {
            tags.push(Tag {
                page: p,
                span: s.span,
                name: "source",
                src: None,
                srcset: s.attrs.get("srcset").map(String::as_str),
                sizes: s.attrs.get("sizes").map(String::as_str),
                mime: s.attrs.get("type").map(String::as_str),
                size: None,
                alt: None,
            });
        }
    }
    // Every local file any tag names, probed once.
    let mut wanted = BTreeSet::new();
    let target =
        |t: &Tag, url: &str| resolve(url, &t.page.path, t.page.images.base.as_deref(), base);
    for t in &tags {
        let urls = t.src.into_iter().map(str::to_string).chain(
            t.srcset
                .map(parse_srcset)
                .unwrap_or_default()
                .into_iter()
                .map(|c| c.url),
        );
        for u in urls {
            if let Target::Site(rel) = target(t, &u) {
                if files.contains(&rel) {
                    wanted.insert(rel);
                }
            }
        }
    }
    let wanted: Vec<String> = wanted.into_iter().collect();
    let probes = probe::probe_files(
        dir,
        &wanted,
        ProbeOptions {
            max_pixels: config.max_pixels,
            deep: false,
            decoder: None,
        },
    );
    let mut references = 0;
    for t in &tags {
        references += check_tag(t, &files, &probes, config, base, &mut diagnostics);
    }
    if let Some(sev) = level_severity(config.lint.max_page_bytes) {
        for p in &read {
            page_budget(
                p,
                &probes,
                base,
                config.lint.max_page_bytes_limit,
                sev,
                &mut diagnostics,
            );
        }
    }
    shown_in(dir, &mut diagnostics);
    crate::report::sort(&mut diagnostics);
    Ok(CheckReport {
        diagnostics: crate::report::limit(diagnostics),
        pages: read.len(),
        references,
        images: probes.len(),
    })
}

/// Whether the images of page `p` (each file once, at its `<img src>`) weigh more than
/// `limit` bytes: a finding at the page's first image that counts.
fn page_budget(
    p: &Read,
    probes: &BTreeMap<String, Probe>,
    base: &Base,
    limit: u64,
    sev: Severity,
    out: &mut Vec<Diagnostic>,
) {
    let mut seen = BTreeSet::new();
    let mut total = 0;
    let mut first = None;
    for img in &p.images.imgs {
        let Some(src) = img.attr("src") else { continue };
        let Target::Site(rel) = resolve(src, &p.path, p.images.base.as_deref(), base) else {
            continue;
        };
        if let Some(probe) = probes.get(&rel) {
            if seen.insert(rel) {
                total += probe.bytes;
                first.get_or_insert(img.span);
            }
        }
    }
    if let (true, Some(span)) = (total > limit, first) {
        let d = Diagnostic::new(
            sev,
            "max-page-bytes",
            format!(
                "the page's images weigh {total} bytes at their src, over the budget of {limit}"
            ),
        )
        .with_help("make the images smaller (pixpipe html), or show fewer on this page");
        out.push(locate(d, p, span));
    }
}

/// (URL, descriptor, probe) of a tag's URLs that name files of the folder.
type Found<'a> = Vec<(&'a str, Option<Descriptor>, &'a Probe)>;

/// The findings of one tag; how many URLs it names.
fn check_tag(
    t: &Tag,
    files: &BTreeSet<String>,
    probes: &BTreeMap<String, Probe>,
    config: &Config,
    base: &Base,
    out: &mut Vec<Diagnostic>,
) -> usize {
    let candidates = t.srcset.map(parse_srcset).unwrap_or_default();
    let mut urls: Vec<(String, Option<Descriptor>)> =
        t.src.map(|s| (s.to_string(), None)).into_iter().collect();
    urls.extend(
        candidates
            .iter()
            .map(|c| (c.url.clone(), Some(c.descriptor))),
    );
    let found = found_files(t, &urls, files, probes, base, out);
    file_findings(t, &found, config, out);
    descriptor_findings(t, &found, out);
    markup_findings(t, &candidates, &found, config, out);
    urls.len()
}

/// The files `urls` name; a finding for each that names none (or leaves the folder).
fn found_files<'a>(
    t: &Tag,
    urls: &'a [(String, Option<Descriptor>)],
    files: &BTreeSet<String>,
    probes: &'a BTreeMap<String, Probe>,
    base: &Base,
    out: &mut Vec<Diagnostic>,
) -> Found<'a> {
    let at = |d: Diagnostic| locate(d, t.page, t.span);
    let mut found: Found = Vec::new();
    for (u, d) in urls {
        let rel = match resolve(u, &t.page.path, t.page.images.base.as_deref(), base) {
            Target::Site(rel) => rel,
            Target::Outside(_) => {
                out.push(at(Diagnostic::error(
                    "outside-root",
                    format!("{u} is outside the site's folder (or its base path)"),
                )
                .with_help(
                    "check the URL, or give the site's address with --base-url",
                )));
                continue;
            }
            Target::Remote | Target::Empty => continue,
        };
        if !files.contains(&rel) {
            out.push(at(Diagnostic::error(
                "missing-image",
                format!("image not found: {u}"),
            )
            .with_src(u.clone(), Some(rel))));
            continue;
        }
        if let Some(p) = probes.get(&rel) {
            found.push((u.as_str(), *d, p));
        }
    }
    found
}

/// What is wrong with the files themselves: broken, or over the byte budget.
fn file_findings(t: &Tag, found: &Found, config: &Config, out: &mut Vec<Diagnostic>) {
    let at = |d: Diagnostic| locate(d, t.page, t.span);
    for (u, _, p) in found {
        if p.is_broken() {
            for f in &p.findings {
                out.push(at(Diagnostic::new(
                    f.severity,
                    f.code,
                    format!("{u}: {}", f.message),
                )));
            }
        }
        if let (Some(sev), Some(info)) = (level_severity(config.lint.max_bytes), &p.info) {
            if p.bytes > config.lint.max_bytes_limit && info.format != Format::Svg {
                out.push(at(Diagnostic::new(
                    sev,
                    "max-bytes",
                    format!(
                        "{u} is {} bytes, over the budget of {}",
                        p.bytes, config.lint.max_bytes_limit
                    ),
                )));
            }
        }
    }
}

/// Whether the `srcset` descriptors say what the files are.
fn descriptor_findings(t: &Tag, found: &Found, out: &mut Vec<Diagnostic>) {
    let at = |d: Diagnostic| locate(d, t.page, t.span);
    let sized: Vec<(&str, Descriptor, u32, u32)> = found
        .iter()
        .filter_map(|(u, d, p)| {
            let (w, h) = p.info.as_ref()?.display_size();
            Some((*u, (*d)?, w, h))
        })
        .collect();
    for (u, d, w, _) in &sized {
        match d {
            Descriptor::Width(dw) if dw != w => out.push(at(Diagnostic::error(
                "srcset-width",
                format!("{u} is described as {dw}w but is {w} px wide"),
            )
            .with_help(format!("write `{u} {w}w`")))),
            Descriptor::Invalid => out.push(at(Diagnostic::warning(
                "srcset-descriptor",
                format!("{u} has a descriptor browsers ignore"),
            ))),
            _ => {}
        }
    }
    let densities: Vec<(&str, f64, u32)> = sized
        .iter()
        .filter_map(|(u, d, w, _)| match d {
            Descriptor::Density(x) => Some((*u, *x, *w)),
            _ => None,
        })
        .collect();
    if let Some(&(u1, x1, w1)) = densities.iter().min_by(|a, b| a.1.total_cmp(&b.1)) {
        for &(u, x, w) in &densities {
            let expect = w1 as f64 / x1 * x;
            if (w as f64 - expect).abs() > expect * 0.05 + 1.0 {
                out.push(at(Diagnostic::warning(
                    "srcset-density",
                    format!("{u} is {w} px wide for {x}x, but {u1} is {w1} px for {x1}x (expected about {} px)", expect.round()),
                )));
            }
        }
    }
}

/// Whether the tag's other attributes fit its files: `sizes`, `type`, `width`/`height`, `alt`.
fn markup_findings(
    t: &Tag,
    candidates: &[Candidate],
    found: &Found,
    config: &Config,
    out: &mut Vec<Diagnostic>,
) {
    let at = |d: Diagnostic| locate(d, t.page, t.span);
    if candidates
        .iter()
        .any(|c| matches!(c.descriptor, Descriptor::Width(_)))
        && t.sizes.is_none()
    {
        out.push(at(Diagnostic::error(
            "missing-sizes",
            format!("<{}> has `w` descriptors in srcset but no sizes: browsers then assume the image is as wide as the screen", t.name),
        )
        .with_help("add sizes=\"…\" saying how wide the page shows it")));
    }
    if let Some(ty) = t.mime {
        for (u, _, p) in found {
            if let Some(info) = &p.info {
                if !ty.trim().eq_ignore_ascii_case(mime(info.format)) {
                    out.push(at(Diagnostic::error(
                        "wrong-type",
                        format!(
                            "<source type=\"{ty}\"> lists {u}, a {} file",
                            info.format.name()
                        ),
                    )
                    .with_help(format!(
                        "write type=\"{}\", or list only {ty} files",
                        mime(info.format)
                    ))));
                }
            }
        }
    }
    if let (Some((w, h)), Some((u, _, p))) = (t.size, found.first()) {
        if let (Ok(aw), Ok(ah), Some(info)) =
            (w.trim().parse::<f64>(), h.trim().parse::<f64>(), &p.info)
        {
            let (fw, fh) = info.display_size();
            let (declared, real) = (ah / aw.max(1.0), fh as f64 / fw.max(1) as f64);
            if aw > 0.0 && ah > 0.0 && (declared / real - 1.0).abs() > 0.02 {
                let fit = (aw * real).round();
                out.push(at(Diagnostic::warning(
                    "ratio-mismatch",
                    format!("width=\"{w}\" height=\"{h}\" is not the shape of {u} ({fw}x{fh}): the browser reserves the wrong space"),
                )
                .with_help(format!("write width=\"{w}\" height=\"{fit}\""))));
            }
        }
    }
    if let (Some(sev), Some(alt)) = (level_severity(config.lint.missing_alt), t.alt) {
        if alt.is_none() && !found.is_empty() {
            out.push(at(Diagnostic::new(
                sev,
                "missing-alt",
                "image without alt text",
            )
            .with_help(
                "add alt=\"what it shows\" (alt=\"\" for a decorative image)",
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srcset_candidates_are_read_as_browsers_read_them() {
        let c = parse_srcset(" a.jpg 480w,b.jpg 960w , c.jpg, d,e.jpg 2x, f.jpg 12q");
        let got: Vec<(&str, Descriptor)> =
            c.iter().map(|c| (c.url.as_str(), c.descriptor)).collect();
        assert_eq!(
            got,
            vec![
                ("a.jpg", Descriptor::Width(480)),
                ("b.jpg", Descriptor::Width(960)),
                ("c.jpg", Descriptor::Density(1.0)),
                ("d,e.jpg", Descriptor::Density(2.0)),
                ("f.jpg", Descriptor::Invalid),
            ]
        );
    }
}
