//! Gallery: a folder of event photos → a gallery page, standalone HTML or a Hugo page bundle.
//!
//! Photos are ordered (gallery.yaml's `order`, then capture time from EXIF with its offset,
//! then name), captioned (gallery.yaml, else EXIF ImageDescription) and made through the same
//! pipeline, cache and naming as `build`: upright, sRGB, no metadata. `plan_gallery` and the
//! page renderers are pure; `gallery` does the I/O.

use crate::build::{is_placed, short_hash, variant_name};
use crate::cache::{job_key, Cache};
use crate::config::Config;
use crate::emit::{self, write_atomic};
use crate::plan::{formats_for, OutFormat, Variant};
use crate::probe::{self, ImageInfo, ProbeOptions};
use crate::process;
use crate::report::{Diagnostic, Progress};
use rayon::prelude::*;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Width of a grid thumbnail in CSS pixels (made at 1x and 2x).
pub const THUMB_WIDTH: u32 = 400;
/// Widths made for the lightbox (never above the photo's own).
pub const DISPLAY_WIDTHS: [u32; 3] = [1280, 1920, 2560];

/// `gallery.yaml`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Page title. Default: the folder's name.
    pub title: Option<String>,
    /// Event date, as written (`2023-04-18`).
    pub date: Option<String>,
    /// A sentence under the title.
    pub description: Option<String>,
    /// The photo for the page's cover.
    pub cover: Option<String>,
    /// Per-photo settings by file name.
    #[serde(default)]
    pub photos: BTreeMap<String, PhotoSpec>,
    /// These first, in this order; the rest by capture time, then name.
    #[serde(default)]
    pub order: Vec<String>,
    /// Left out.
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// One photo's settings in `gallery.yaml`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PhotoSpec {
    /// Caption.
    pub caption: Option<String>,
    /// Alt text (the caption when absent).
    pub alt: Option<String>,
}

/// Output of the gallery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GalleryFormat {
    /// `index.html` + CSS + JS, standalone.
    Html,
    /// A Hugo page bundle: `index.md` with one shortcode per photo.
    Hugo,
}

/// How `gallery` runs.
#[derive(Debug, Clone)]
pub struct GalleryOptions {
    /// Output folder.
    pub out: PathBuf,
    /// Output kind.
    pub format: GalleryFormat,
    /// Also publish each original, without metadata (GPS included).
    pub originals: bool,
    /// Cache folder.
    pub cache_dir: PathBuf,
    /// Worker threads.
    pub jobs: usize,
    /// Decoded-pixel budget in bytes.
    pub memory_bytes: u64,
    /// The site's image shortcode for `hugo` (its parameter names come from the config).
    pub shortcode: String,
}

/// One photo as the gallery shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Photo {
    /// File name in the photo folder.
    pub name: String,
    /// `photo-<stem>`, for deep links.
    pub id: String,
    /// Caption.
    pub caption: Option<String>,
    /// Alt text.
    pub alt: Option<String>,
    /// Capture time, as `YYYY:MM:DD HH:MM:SS` normalised to UTC when an offset is known.
    pub taken: Option<String>,
    /// Probe of the file.
    pub info: ImageInfo,
    /// blake3 of the file.
    pub hash: String,
    /// File name of its published original in `originals/` (with `--originals`).
    pub original: Option<String>,
}

/// A made file.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// The variant.
    pub variant: Variant,
    /// File name in the output's image folder.
    pub name: String,
}

/// What `gallery` did.
#[derive(Debug, Default)]
pub struct GalleryReport {
    /// Problems and notes.
    pub diagnostics: Vec<Diagnostic>,
    /// Photos shown.
    pub photos: usize,
    /// Photos with neither alt text nor caption.
    pub without_text: usize,
    /// Variants encoded now.
    pub made: usize,
    /// Variants from the cache.
    pub reused: usize,
    /// Files of the previous run removed because this one no longer writes them.
    pub removed: usize,
    /// The page written.
    pub page: PathBuf,
}

/// A gallery that could not be made.
#[derive(Debug, thiserror::Error)]
pub enum GalleryError {
    /// The folder could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// What.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// gallery.yaml is invalid.
    #[error("{path}:{line}:{column}: {message}")]
    Spec {
        /// The file.
        path: String,
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// What.
        message: String,
    },
    /// Writing failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// What.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Parse `gallery.yaml`.
pub fn parse_spec(text: &str, path: &str) -> Result<Spec, GalleryError> {
    if text.trim().is_empty() {
        return Ok(Spec::default());
    }
    serde_yaml::from_str(text).map_err(|e| {
        let (line, column, message) = crate::config::yaml_error(&e);
        GalleryError::Spec {
            path: path.to_string(),
            line,
            column,
            message,
        }
    })
}

/// Capture time (UTC when the offset is known), caption from EXIF.
pub fn exif_facts(tiff: Vec<u8>) -> (Option<String>, Option<String>) {
    let Ok(exif) = exif::Reader::new().read_raw(tiff) else {
        return (None, None);
    };
    let ascii = |tag| {
        exif.fields()
            .find(|f| f.tag == tag)
            .and_then(|f| match &f.value {
                exif::Value::Ascii(v) => v.first().map(|b| {
                    String::from_utf8_lossy(b)
                        .trim_matches(['\0', ' '])
                        .to_string()
                }),
                _ => None,
            })
    };
    let taken = ascii(exif::Tag::DateTimeOriginal)
        .filter(|s| s.len() >= 19)
        .map(|t| match ascii(exif::Tag::OffsetTimeOriginal) {
            Some(off) => to_utc(&t, &off).unwrap_or(t),
            None => t,
        });
    let description = ascii(exif::Tag::ImageDescription).filter(|s| !s.is_empty());
    (taken, description)
}

/// `2023:04:18 09:00:00` at offset `+02:00` → `2023:04:18 07:00:00` (same format, UTC).
fn to_utc(t: &str, off: &str) -> Option<String> {
    if !t.is_ascii() || !off.is_ascii() || t.len() < 19 {
        return None;
    }
    let n = |s: &str| s.parse::<i64>().ok();
    let (y, mo, d) = (n(&t[0..4])?, n(&t[5..7])?, n(&t[8..10])?);
    let (h, mi, s) = (n(&t[11..13])?, n(&t[14..16])?, n(&t[17..19])?);
    let sign = if off.starts_with('-') { -1 } else { 1 };
    let oh = n(off.get(1..3)?)?;
    let om = n(off.get(4..6)?)?;
    // Days since the epoch (civil calendar), then back.
    let days = {
        let (y, m) = if mo <= 2 {
            (y - 1, mo + 9)
        } else {
            (y, mo - 3)
        };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * m + 2) / 5 + d - 1;
        era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468
    };
    let secs = days * 86400 + h * 3600 + mi * 60 + s - sign * (oh * 3600 + om * 60);
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    Some(format!(
        "{y:04}:{m:02}:{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    ))
}

/// Order photos: `order` first, then by capture time, then by name.
pub fn order(mut photos: Vec<Photo>, spec: &Spec) -> Vec<Photo> {
    photos.retain(|p| !spec.exclude.contains(&p.name));
    photos.sort_by(|a, b| {
        let ka = (
            spec.order
                .iter()
                .position(|n| *n == a.name)
                .unwrap_or(usize::MAX),
            a.taken.is_none(),
            &a.taken,
            &a.name,
        );
        let kb = (
            spec.order
                .iter()
                .position(|n| *n == b.name)
                .unwrap_or(usize::MAX),
            b.taken.is_none(),
            &b.taken,
            &b.name,
        );
        ka.cmp(&kb)
    });
    photos
}

/// The variants a photo gets: thumbnails at 1x and 2x, display sizes, never upscaled.
pub fn variants_for(info: &ImageInfo, config: &Config, format: GalleryFormat) -> Vec<Variant> {
    let (w, h) = info.display_size();
    let widths: Vec<u32> = match format {
        // The site's own build makes the responsive sizes from one large image.
        GalleryFormat::Hugo => vec![w.min(DISPLAY_WIDTHS[2])],
        GalleryFormat::Html => {
            let mut v: Vec<u32> = [THUMB_WIDTH, THUMB_WIDTH * 2]
                .into_iter()
                .chain(DISPLAY_WIDTHS)
                .map(|x| x.min(w))
                .collect();
            v.sort();
            v.dedup();
            v
        }
    };
    let formats: Vec<OutFormat> = match format {
        GalleryFormat::Hugo => vec![formats_for(info, config)[0]],
        GalleryFormat::Html => formats_for(info, config),
    };
    let mut out = Vec::new();
    for f in formats {
        for &width in &widths {
            let height = ((width as f64 * h as f64 / w.max(1) as f64).round() as u32).max(1);
            out.push(Variant::new(width, height, f, config));
        }
    }
    out
}

/// The published original: full size, upright, in the source's family, quality 95.
pub fn original_variant(info: &ImageInfo, config: &Config) -> Variant {
    let (width, height) = info.display_size();
    let format = formats_for(info, config)[0];
    Variant {
        quality: if format == OutFormat::Png { 0 } else { 95 },
        ..Variant::new(width, height, format, config)
    }
}

/// `welcome.jpg` -> `welcome.<hash>.jpg`: the original's name, made unique by its bytes.
fn original_name_of(source: &str, v: &Variant, hash: &str) -> String {
    let stem = source.rsplit_once('.').map(|(s, _)| s).unwrap_or(source);
    format!(
        "{}.{hash}.{}",
        crate::build::clean_stem(stem),
        v.format.extension()
    )
}

/// One photo's work: the variants it shows, its original (with `--originals`), and of
/// those the ones in the cache and the ones to make.
struct Job {
    shown: Vec<Variant>,
    original: Option<Variant>,
    /// Every variant the job makes, with its cache key (the keys depend on each other: see
    /// `job_key`).
    all: Vec<(Variant, String)>,
    cached: Cached,
    /// The variants to make, with their keys.
    missing: Vec<(Variant, String)>,
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn photo_id(name: &str) -> String {
    let stem = name.rsplit_once('.').map(|(s, _)| s).unwrap_or(name);
    format!(
        "photo-{}",
        crate::resolve::urlize(stem).replace(['/', '.'], "-")
    )
}

/// The standalone page.
pub fn render_html(spec: &Spec, title: &str, photos: &[(Photo, Vec<Output>, String)]) -> String {
    let mut grid = String::new();
    for (p, outs, colour) in photos {
        let primary = outs[0].variant.format;
        let of = |f: OutFormat| outs.iter().filter(move |o| o.variant.format == f);
        let set = |ws: &mut dyn Iterator<Item = &Output>| {
            ws.map(|o| format!("images/{} {}w", o.name, o.variant.width))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let thumbs: Vec<&Output> = of(primary)
            .filter(|o| o.variant.width <= THUMB_WIDTH * 2)
            .collect();
        let thumb = thumbs.first().copied().unwrap_or(&outs[0]);
        let display: Vec<&Output> = of(primary).collect();
        let largest = display.last().copied().unwrap_or(&outs[0]);
        let webp_display: Vec<&Output> = of(OutFormat::Webp).collect();
        let lightbox_set = if !webp_display.is_empty() && primary != OutFormat::Webp {
            &webp_display
        } else {
            &display
        };
        let alt = p
            .alt
            .clone()
            .or_else(|| p.caption.clone())
            .unwrap_or_default();
        // With --originals: the lightbox offers the original for download.
        let original = p
            .original
            .as_ref()
            .map(|o| {
                let (w, h) = p.info.display_size();
                // Saved as NAME.EXT, without the hash that keeps the URL fresh.
                let mut parts = o.rsplitn(3, '.');
                let (ext, _hash, stem) = (parts.next(), parts.next(), parts.next());
                let save_as = match (stem, ext) {
                    (Some(s), Some(e)) => format!("{s}.{e}"),
                    _ => o.clone(),
                };
                format!(
                    " data-original=\"originals/{o}\" data-original-name=\"{}\" data-original-size=\"{w} \u{d7} {h}\"",
                    html_escape(&save_as)
                )
            })
            .unwrap_or_default();
        grid.push_str(&format!(
            "<li id=\"{id}\"><a href=\"images/{big}\" data-srcset=\"{lset}\" data-sizes=\"92vw\" data-width=\"{bw}\" data-height=\"{bh}\" data-caption=\"{cap}\"{original} aria-label=\"Open photo: {label}\"><img src=\"images/{src}\" srcset=\"{tset}\" sizes=\"(max-width: 600px) 100vw, 400px\" width=\"{tw}\" height=\"{th}\" alt=\"{alt}\" loading=\"lazy\" decoding=\"async\" style=\"background-color: {colour}\"></a>{caption}</li>\n",
            id = p.id,
            big = largest.name,
            lset = set(&mut lightbox_set.iter().copied()),
            bw = largest.variant.width,
            bh = largest.variant.height,
            cap = html_escape(p.caption.as_deref().unwrap_or("")),
            label = html_escape(if alt.is_empty() { &p.name } else { &alt }),
            src = thumb.name,
            tset = set(&mut thumbs.iter().copied()),
            tw = thumb.variant.width,
            th = thumb.variant.height,
            alt = html_escape(&alt),
            caption = p.caption.as_ref().map(|c| format!("<p class=\"pp-caption\">{}</p>", html_escape(c))).unwrap_or_default(),
        ));
    }
    let download = if photos.iter().any(|(p, _, _)| p.original.is_some()) {
        "<a class=\"pp-original\" download hidden></a>"
    } else {
        ""
    };
    let meta: Vec<String> = [spec.date.clone(), spec.description.clone()]
        .into_iter()
        .flatten()
        .map(|s| html_escape(&s))
        .collect();
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{t}</title>\n<link rel=\"icon\" href=\"data:,\">\n<link rel=\"stylesheet\" href=\"gallery.css\">\n</head>\n<body>\n<main class=\"pp-gallery\">\n<h1>{t}</h1>\n<p class=\"pp-meta\">{meta}</p>\n<ul class=\"pp-grid\">\n{grid}</ul>\n</main>\n<div class=\"pp-lightbox\" role=\"dialog\" aria-modal=\"true\" aria-label=\"Photo viewer\" hidden>\n<span class=\"pp-count\" aria-live=\"polite\"></span>\n<button type=\"button\" class=\"pp-close\" aria-label=\"Close (Esc)\">&times;</button>\n<button type=\"button\" class=\"pp-prev\" aria-label=\"Previous photo (left arrow)\">&lsaquo;</button>\n<figure><img alt=\"\"><figcaption></figcaption>{download}</figure>\n<button type=\"button\" class=\"pp-next\" aria-label=\"Next photo (right arrow)\">&rsaquo;</button>\n</div>\n<script src=\"gallery.js\"></script>\n</body>\n</html>\n",
        t = html_escape(title),
        meta = meta.join(" · "),
        download = download,
    )
}

/// The Hugo page bundle's `index.md`.
pub fn render_hugo(
    spec: &Spec,
    title: &str,
    photos: &[(Photo, Vec<Output>, String)],
    config: &Config,
    shortcode: &str,
) -> String {
    let rule = config.shortcodes.get(shortcode);
    let name = |f: &Option<String>, d: &str| f.clone().unwrap_or_else(|| d.to_string());
    let src_param = rule
        .and_then(|r| r.src.first().cloned())
        .unwrap_or_else(|| "src".into());
    let (width_p, ratio_p, caption_p, alt_p) = match rule {
        Some(r) => (
            name(&r.width, "width"),
            r.ratio.clone(),
            name(&r.caption, "caption"),
            name(&r.alt, "alt"),
        ),
        None => ("width".into(), None, "caption".into(), "alt".into()),
    };
    let q = |s: &str| s.replace('"', "\\\"");
    let mut out = String::from("---\n");
    out.push_str(&format!("title: \"{}\"\n", q(title)));
    if let Some(d) = &spec.date {
        out.push_str(&format!("date: {d}\n"));
    }
    if let Some(d) = &spec.description {
        out.push_str(&format!("description: \"{}\"\n", q(d)));
    }
    let cover = spec
        .cover
        .as_ref()
        .and_then(|c| photos.iter().find(|(p, _, _)| &p.name == c))
        .or(photos.first());
    if let Some((_, outs, _)) = cover {
        out.push_str(&format!("cover: {}\n", outs[0].name));
    }
    out.push_str("---\n");
    for (p, outs, _) in photos {
        let o = &outs[0];
        let (w, h) = (o.variant.width, o.variant.height);
        // The whole column when the photo is wide enough, else its own width in pixels.
        let width = if w >= config.content_width {
            "100%".to_string()
        } else {
            w.to_string()
        };
        out.push_str(&format!(
            "\n{{{{< {shortcode} {src_param}=\"./{}\" {width_p}=\"{width}\"",
            o.name
        ));
        if let Some(r) = &ratio_p {
            let ratio = format!("{:.2}", h as f64 * 100.0 / w as f64);
            out.push_str(&format!(
                " {r}=\"{}%\"",
                ratio.trim_end_matches('0').trim_end_matches('.')
            ));
        }
        if let Some(c) = &p.caption {
            out.push_str(&format!(
                "\n    {caption_p}=\"{}\"",
                q(c.trim_end_matches('.'))
            ));
        }
        if let Some(a) = p.alt.as_ref().or(p.caption.as_ref()) {
            out.push_str(&format!("\n    {alt_p}=\"{}\"", q(a)));
        }
        out.push_str(" >}}\n");
        // With --originals: a link to the original in the bundle, which Hugo publishes
        // beside the page (bundle resources are published by default).
        if let Some(o) = &p.original {
            let (w, h) = p.info.display_size();
            out.push_str(&format!(
                "\n[Download original ({w} \u{d7} {h})](originals/{o})\n"
            ));
        }
    }
    out
}

/// The file that marks a folder as written by `pixpipe gallery` (so it may be rewritten).
pub const GALLERY_MARK: &str = ".pixpipe-gallery";

/// Refuse an output folder that is the photo folder, or that holds files pixpipe did not
/// write: a gallery never overwrites someone's page.
fn claim_output(photos: &Path, out: &Path) -> Result<(), GalleryError> {
    let bad = |msg: &str| GalleryError::Write {
        path: out.display().to_string(),
        source: std::io::Error::other(msg.to_string()),
    };
    let (p, o) = (crate::build::absolute(photos), crate::build::absolute(out));
    if o == p || p.starts_with(&o) {
        return Err(bad(
            "the output folder would hold the photos themselves; choose another --out",
        ));
    }
    let mark = out.join(GALLERY_MARK);
    if mark.exists() {
        return Ok(());
    }
    if !emit::is_empty_but_leftovers(out) {
        return Err(bad("the output folder is not empty and was not made by pixpipe gallery; choose an empty or new folder"));
    }
    write_mark(out, &BTreeSet::new())
}

/// The mark's first lines; every other line names a file the gallery wrote.
const MARK_HEADER: &str =
    "# Written by pixpipe gallery. The next run replaces the files listed below and removes\n\
     # those it no longer writes; it leaves every other file alone.\n";
/// The whole mark of versions that listed nothing.
const OLD_MARK: &str = "Written by pixpipe gallery; its files are replaced on the next run.";

/// Write the mark of `out`, listing the files (relative to `out`) the gallery wrote.
fn write_mark(out: &Path, files: &BTreeSet<PathBuf>) -> Result<(), GalleryError> {
    let mark = out.join(GALLERY_MARK);
    write_atomic(&mark, mark_text(files).as_bytes()).map_err(|source| GalleryError::Write {
        path: mark.display().to_string(),
        source,
    })
}

fn mark_text(files: &BTreeSet<PathBuf>) -> String {
    let mut text = String::from(MARK_HEADER);
    for f in files {
        text.push_str(&f.to_string_lossy());
        text.push('\n');
    }
    text
}

/// The mark of an output folder while a run writes into it: what earlier runs listed plus
/// every file this run is about to write, listed before the file exists, so that whatever
/// moment the run is killed at, the next run knows every file that may be its to remove.
struct Listing<'a> {
    out: &'a Path,
    files: std::sync::Mutex<BTreeSet<PathBuf>>,
}

impl Listing<'_> {
    /// List `names` (relative to the output folder) before they are written: the new ones
    /// are appended to the mark in one write, without waiting for the disk (this guards
    /// against a killed run; the final mark is written with `write_atomic`).
    fn add(&self, names: &[PathBuf]) -> std::io::Result<()> {
        use std::io::Write;
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        let mut lines = String::new();
        for n in names {
            if files.insert(n.clone()) {
                lines.push_str(&n.to_string_lossy());
                lines.push('\n');
            }
        }
        if lines.is_empty() {
            return Ok(());
        }
        std::fs::OpenOptions::new()
            .append(true)
            .open(self.out.join(GALLERY_MARK))?
            .write_all(lines.as_bytes())
    }
}

/// The files an earlier gallery's mark lists: plain relative paths only, so that an edited
/// mark can never name a file outside the output folder.
pub fn listed_files(mark: &str) -> BTreeSet<PathBuf> {
    mark.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#') && *l != OLD_MARK)
        .map(PathBuf::from)
        .filter(|p| {
            p.components().count() > 0
                && p.components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)))
                && p.as_os_str() != GALLERY_MARK
        })
        .collect()
}

/// After a run that wrote `written` into `out`: remove what the mark `listed` (what earlier
/// runs wrote or were about to, and what this one was about to) that this run did not write
/// (the images of photos since removed or changed, the originals when they are no longer
/// asked for) and the temporary files of a killed run, then list `written` in the mark.
/// Returns how many files were removed.
fn tidy_output(
    out: &Path,
    listed: &BTreeSet<PathBuf>,
    written: &BTreeSet<PathBuf>,
) -> Result<usize, GalleryError> {
    use std::os::unix::fs::MetadataExt;
    // On a case-insensitive file system a listed name can be a file this run kept under
    // another spelling (a photo renamed IMG_1.JPG -> img_1.jpg): never remove those.
    let kept: BTreeSet<(u64, u64)> = written
        .iter()
        .filter_map(|w| std::fs::metadata(out.join(w)).ok())
        .map(|m| (m.dev(), m.ino()))
        .collect();
    let mut removed = 0;
    // What could not be removed stays listed, for the next run to try again.
    let mut still = written.clone();
    for stale in listed.difference(written) {
        let path = out.join(stale);
        // Only through real folders: never into one that a symlink (images -> elsewhere)
        // points at.
        if !within_real_folders(out, stale) {
            still.insert(stale.clone());
            continue;
        }
        match std::fs::symlink_metadata(&path) {
            Ok(m) if kept.contains(&(m.dev(), m.ino())) => continue,
            Ok(_) => {}
            Err(_) => continue,
        }
        match std::fs::remove_file(&path) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => {
                still.insert(stale.clone());
            }
        }
    }
    emit::remove_leftovers(out);
    for dir in ["images", "originals"] {
        let dir = out.join(dir);
        // Not in a folder a symlink points at.
        if is_real_folder(&dir) {
            emit::remove_leftovers(&dir);
        }
    }
    for dir in ["images", "originals"] {
        // Gone when empty; kept when it holds anything.
        let _ = std::fs::remove_dir(out.join(dir));
    }
    write_mark(out, &still)?;
    Ok(removed)
}

/// Whether every folder between `out` and `rel` (a plain relative path) is a real folder,
/// not a symlink.
fn within_real_folders(out: &Path, rel: &Path) -> bool {
    let mut dir = out.to_path_buf();
    let parts: Vec<_> = rel.components().collect();
    parts[..parts.len().saturating_sub(1)].iter().all(|c| {
        dir.push(c);
        is_real_folder(&dir)
    })
}

/// Whether `dir` is a folder itself, not a symlink to one.
fn is_real_folder(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir())
}

/// Per photo: its outputs, its original's file name (with `--originals`) and how many
/// variants were made and reused, or why it has none.
type Made = Result<(Vec<Output>, Option<String>, usize, usize), Diagnostic>;
/// A photo's variants found in the cache, with their keys and entries (output hash, size).
type Cached = Vec<(Variant, String, crate::cache::Entry)>;

/// Make the gallery of `dir`.
// A photo's failure is a whole Diagnostic, made once per broken photo: size is no concern.
#[allow(clippy::result_large_err)]
pub fn gallery(
    dir: &Path,
    config: &Config,
    opts: &GalleryOptions,
    progress: &dyn Progress,
) -> Result<GalleryReport, GalleryError> {
    let mut report = GalleryReport::default();
    claim_output(dir, &opts.out)?;
    let rd = std::fs::read_dir(dir).map_err(|source| GalleryError::Read {
        path: dir.display().to_string(),
        source,
    })?;
    let spec_path = dir.join("gallery.yaml");
    let spec = match std::fs::read_to_string(&spec_path) {
        Ok(t) => parse_spec(&t, &spec_path.display().to_string())?,
        Err(_) => Spec::default(),
    };
    let mut names: Vec<String> = rd
        .flatten()
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    names.sort();
    let mut files: Vec<String> = Vec::new();
    for n in names {
        if n == "gallery.yaml" || n.starts_with('.') {
            continue;
        }
        match probe::Format::from_extension(&n) {
            Some(probe::Format::Jpeg | probe::Format::Png | probe::Format::WebP) => files.push(n),
            _ => report.diagnostics.push(
                Diagnostic::note(
                    "skipped",
                    format!("{n}: not a JPEG, PNG or WebP photo; skipped"),
                )
                .in_file(n.clone()),
            ),
        }
    }
    for (what, list) in [("order", &spec.order), ("exclude", &spec.exclude)] {
        for n in list {
            if !files.contains(n) {
                report.diagnostics.push(
                    Diagnostic::warning(
                        "gallery-spec",
                        format!("gallery.yaml names {n} in `{what}`, but there is no such photo"),
                    )
                    .in_file("gallery.yaml"),
                );
            }
        }
    }
    let popts = ProbeOptions {
        max_pixels: config.max_pixels,
        deep: false,
    };
    let probed: Vec<Result<Photo, Diagnostic>> = files
        .par_iter()
        .map(|n| {
            let bytes = std::fs::read(dir.join(n)).map_err(|e| {
                Diagnostic::error("unreadable", format!("{n}: {e}")).in_file(n.clone())
            })?;
            let p = probe::probe_bytes(n, &bytes, popts);
            if let Some(f) = p
                .findings
                .iter()
                .find(|f| f.severity == crate::report::Severity::Error)
            {
                return Err(
                    Diagnostic::error(f.code, format!("{n}: {}; skipped", f.message))
                        .in_file(n.clone()),
                );
            }
            let info = p.info.ok_or_else(|| {
                Diagnostic::error("undecodable", format!("{n}: unreadable; skipped"))
                    .in_file(n.clone())
            })?;
            let (taken, description) = process::exif_of(&bytes, &info)
                .map(exif_facts)
                .unwrap_or((None, None));
            let s = spec.photos.get(n).cloned().unwrap_or_default();
            let hash = blake3::hash(&bytes).to_hex().to_string();
            Ok(Photo {
                name: n.clone(),
                id: photo_id(n),
                caption: s.caption.or(description),
                alt: s.alt,
                taken,
                info,
                hash,
                original: None,
            })
        })
        .collect();
    let mut photos = Vec::new();
    for r in probed {
        match r {
            Ok(p) => photos.push(p),
            Err(d) => report.diagnostics.push(d),
        }
    }
    let photos = order(photos, &spec);
    report.photos = photos.len();
    report.without_text = photos
        .iter()
        .filter(|p| p.caption.is_none() && p.alt.is_none())
        .count();

    // Make (or reuse) every variant: the cached ones are reused, the largest photos are made
    // first, and the photos being made at once stay within the memory budget.
    let cache = Cache::open(&opts.cache_dir);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .build()
        .map_err(|e| GalleryError::Write {
            path: "threads".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
    let image_dir = match opts.format {
        GalleryFormat::Html => opts.out.join("images"),
        GalleryFormat::Hugo => opts.out.clone(),
    };
    // Per photo: a job for the variants it shows and, with --originals, one for its original
    // (a job of its own: one decode for both would make the shown sizes from a full-size
    // decode, so their bytes would depend on the flag), each with every variant's cache key,
    // the variants in the cache (and their entries) and those to make.
    let job = |p: &Photo, shown: Vec<Variant>, original: Option<Variant>| {
        let extra = original.filter(|o| !shown.contains(o));
        let variants: Vec<Variant> = shown.iter().copied().chain(extra).collect();
        let all: Vec<(Variant, String)> = variants
            .iter()
            .map(|v| (*v, job_key(&p.hash, v, &variants, config.metadata)))
            .collect();
        let mut cached = Vec::new();
        let mut missing = Vec::new();
        for (v, key) in &all {
            match cache.get(key) {
                Some(e) => cached.push((*v, key.clone(), e)),
                None => missing.push((*v, key.clone())),
            }
        }
        Job {
            shown,
            original,
            all,
            cached,
            missing,
        }
    };
    let mut jobs: Vec<(usize, Job)> = Vec::new();
    for (i, p) in photos.iter().enumerate() {
        let shown = variants_for(&p.info, config, opts.format);
        let original = opts.originals.then(|| original_variant(&p.info, config));
        match original {
            Some(o) if !shown.contains(&o) => {
                jobs.push((i, job(p, shown, None)));
                jobs.push((i, job(p, Vec::new(), Some(o))));
            }
            _ => jobs.push((i, job(p, shown, original))),
        }
    }
    let job_count = jobs.len() as u64;
    let queue = process::Queue::new(
        opts.memory_bytes,
        process::resident_bytes(),
        pool.current_num_threads(),
        jobs.into_iter()
            .map(|(i, job)| {
                let need = if job.missing.is_empty() {
                    0
                } else {
                    let file_len =
                        std::fs::metadata(dir.join(&photos[i].name)).map_or(0, |m| m.len());
                    let all: Vec<Variant> = job.all.iter().map(|(v, _)| *v).collect();
                    process::job_bytes(&photos[i].info, &all, file_len)
                };
                (need, (i, job))
            })
            .collect(),
    );
    let mark = opts.out.join(GALLERY_MARK);
    let before = match std::fs::read_to_string(&mark) {
        Ok(t) => listed_files(&t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
        Err(source) => {
            return Err(GalleryError::Read {
                path: mark.display().to_string(),
                source,
            })
        }
    };
    let listing = Listing {
        out: &opts.out,
        files: std::sync::Mutex::new(before),
    };
    let rel = |p: &Path| p.strip_prefix(&opts.out).unwrap_or(p).to_path_buf();
    // Write an output to `dest` unless it is there (names are hashes, and the size tells a
    // file a power cut left short): the bytes just made, or else the cache's copy. An HTML
    // gallery's images are written like the build's outputs, without waiting for the disk (a
    // rerun checks them before it trusts them); a Hugo bundle's are the site's sources, read
    // by `pixpipe build` and Hugo and often committed, so they wait for the disk.
    let durable = opts.format == GalleryFormat::Hugo;
    let place = |dest: &Path, entry: &crate::cache::Entry, key: &str, fresh: Option<&Vec<u8>>| {
        if is_placed(dest, entry.bytes) {
            return Ok(());
        }
        let read;
        let bytes = match fresh {
            Some(b) => b,
            None => {
                read = cache
                    .read(key)
                    .map_err(|e| Diagnostic::error("cache", e.to_string()))?;
                &read
            }
        };
        if durable {
            write_atomic(dest, bytes)
        } else {
            emit::write_rebuildable(dest, bytes)
        }
        .map_err(|e| Diagnostic::error("write", format!("{}: {e}", dest.display())))
    };
    let make = |p: &Photo, job: Job| -> Made {
        let Job {
            shown,
            original,
            all,
            cached: mut outs,
            missing,
        } = job;
        let made_now = missing.len();
        // What this job encodes, kept until it is placed.
        let mut fresh: BTreeMap<Variant, Vec<u8>> = BTreeMap::new();
        if !missing.is_empty() {
            let bytes = std::fs::read(dir.join(&p.name))
                .map_err(|e| Diagnostic::error("unreadable", format!("{}: {e}", p.name)))?;
            let variants: Vec<Variant> = all.iter().map(|(v, _)| *v).collect();
            let to_make: Vec<Variant> = missing.iter().map(|(v, _)| *v).collect();
            let encoded = process::make_variants(
                &bytes,
                &p.info,
                &to_make,
                &variants,
                config.max_pixels,
                config.metadata,
            )
            .map_err(|e| {
                Diagnostic::error(
                    "undecodable",
                    format!("{}: cannot be processed: {e}", p.name),
                )
                .in_file(p.name.clone())
            })?;
            for ((v, key), b) in missing.into_iter().zip(encoded) {
                let hash = short_hash(&b);
                cache
                    .put(&key, &b, &hash)
                    .map_err(|e| Diagnostic::error("cache", e.to_string()))?;
                let entry = crate::cache::Entry {
                    hash,
                    bytes: b.len() as u64,
                };
                outs.push((v, key, entry));
                fresh.insert(v, b);
            }
        }
        outs.sort_by_key(|(v, _, _)| (v.format, v.width, v.quality));
        let reused = outs.len() - made_now;
        // Where each goes: (variant, key, entry, its folder, file name, shown in the page).
        let mut dests = Vec::new();
        for (v, key, e) in &outs {
            if shown.contains(v) {
                let name = variant_name(&p.name, v, &e.hash);
                dests.push((*v, key, e, image_dir.clone(), name, true));
            }
            if original == Some(*v) {
                let name = original_name_of(&p.name, v, &e.hash);
                dests.push((*v, key, e, opts.out.join("originals"), name, false));
            }
        }
        let names: Vec<PathBuf> = dests.iter().map(|d| rel(&d.3.join(&d.4))).collect();
        listing.add(&names).map_err(|e| {
            let mark = opts.out.join(GALLERY_MARK);
            Diagnostic::error("write", format!("{}: {e}", mark.display()))
        })?;
        let mut result = Vec::new();
        let mut original_name = None;
        for (v, key, entry, dir, name, in_page) in dests {
            place(&dir.join(&name), entry, key, fresh.get(&v))?;
            if in_page {
                result.push(Output { variant: v, name });
            } else {
                original_name = Some(name);
            }
        }
        Ok((result, original_name, made_now, reused))
    };
    progress.start("gallery", job_count);
    let done = std::sync::Mutex::new(Vec::new());
    pool.broadcast(|_| {
        while let Some(((i, job), _lease)) = queue.next() {
            let r = make(&photos[i], job);
            progress.advance(1);
            done.lock().unwrap_or_else(|e| e.into_inner()).push((i, r));
        }
    });
    // One result per photo: its jobs' together, or its first error.
    let mut per_photo: BTreeMap<usize, Made> = BTreeMap::new();
    for (i, r) in done.into_inner().unwrap_or_else(|e| e.into_inner()) {
        let merged = match (per_photo.remove(&i), r) {
            (None, r) => r,
            (Some(Ok(a)), Ok(b)) => {
                let (mut outs, original) = (a.0, a.1.or(b.1));
                outs.extend(b.0);
                outs.sort_by_key(|o| (o.variant.format, o.variant.width));
                Ok((outs, original, a.2 + b.2, a.3 + b.3))
            }
            (Some(Err(e)), _) | (Some(Ok(_)), Err(e)) => Err(e),
        };
        per_photo.insert(i, merged);
    }
    let made = per_photo.into_values();
    progress.finish();
    // What this run wrote, relative to the output folder: the mark lists it for the next run.
    let mut written: BTreeSet<PathBuf> = BTreeSet::new();
    let mut shown: Vec<(Photo, Vec<Output>, String)> = Vec::new();
    for (p, r) in photos.into_iter().zip(made) {
        match r {
            Ok((outs, original, m, u)) => {
                report.made += m;
                report.reused += u;
                let colour = dominant_colour(&image_dir, &outs);
                written.extend(outs.iter().map(|o| rel(&image_dir.join(&o.name))));
                if let Some(name) = &original {
                    written.insert(PathBuf::from("originals").join(name));
                }
                shown.push((Photo { original, ..p }, outs, colour));
            }
            Err(d) => report.diagnostics.push(d),
        }
    }
    let title = spec.title.clone().unwrap_or_else(|| {
        dir.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("Gallery")
            .to_string()
    });
    let mut write = |path: PathBuf, text: &str| {
        let name = rel(&path);
        let listed = listing.add(std::slice::from_ref(&name));
        written.insert(name);
        listed
            .and_then(|()| write_atomic(&path, text.as_bytes()))
            .map_err(|source| GalleryError::Write {
                path: path.display().to_string(),
                source,
            })
    };
    match opts.format {
        GalleryFormat::Html => {
            write(
                opts.out.join("gallery.css"),
                include_str!("../assets/gallery/gallery.css"),
            )?;
            write(
                opts.out.join("gallery.js"),
                include_str!("../assets/gallery/gallery.js"),
            )?;
            report.page = opts.out.join("index.html");
            write(report.page.clone(), &render_html(&spec, &title, &shown))?;
        }
        GalleryFormat::Hugo => {
            report.page = opts.out.join("index.md");
            write(
                report.page.clone(),
                &render_hugo(&spec, &title, &shown, config, &opts.shortcode),
            )?;
        }
    }
    let listed = listing
        .files
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    report.removed = tidy_output(&opts.out, &listed, &written)?;
    let live = BTreeSet::new();
    cache
        .save(false, &live)
        .map_err(|source| GalleryError::Write {
            path: opts.cache_dir.display().to_string(),
            source,
        })?;
    crate::report::sort(&mut report.diagnostics);
    Ok(report)
}

/// The average colour of a photo's smallest output, as a CSS colour (the placeholder shown
/// until the thumbnail loads).
fn dominant_colour(dir: &Path, outs: &[Output]) -> String {
    let smallest = outs.iter().min_by_key(|o| o.variant.width);
    let img = smallest
        .and_then(|o| std::fs::read(dir.join(&o.name)).ok())
        .and_then(|b| image::load_from_memory(&b).ok());
    let Some(img) = img else { return "#ddd".into() };
    let small = img.thumbnail(16, 16).to_rgb8();
    let n = (small.width() * small.height()).max(1) as u64;
    let mut sum = [0u64; 3];
    for p in small.pixels() {
        for (s, v) in sum.iter_mut().zip(p.0) {
            *s += v as u64;
        }
    }
    format!("#{:02x}{:02x}{:02x}", sum[0] / n, sum[1] / n, sum[2] / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_lists_only_plain_relative_paths() {
        let mark = format!(
            "{MARK_HEADER}images/a-400w.0123456789.jpg\n../outside.txt\n/etc/passwd\n\
             images/../../x\n.pixpipe-gallery\n\nindex.html\n"
        );
        let files: Vec<PathBuf> = listed_files(&mark).into_iter().collect();
        assert_eq!(
            files,
            vec![
                PathBuf::from("images/a-400w.0123456789.jpg"),
                PathBuf::from("index.html")
            ]
        );
        // The mark of earlier versions lists nothing.
        assert!(listed_files(
            "Written by pixpipe gallery; its files are replaced on the next run.\n"
        )
        .is_empty());
    }

    #[test]
    fn capture_times_are_compared_in_utc() {
        assert_eq!(
            to_utc("2023:04:18 09:00:00", "+02:00").unwrap(),
            "2023:04:18 07:00:00"
        );
        assert_eq!(
            to_utc("2023:01:01 01:30:00", "+03:00").unwrap(),
            "2022:12:31 22:30:00"
        );
        assert_eq!(
            to_utc("2023:12:31 23:00:00", "-05:00").unwrap(),
            "2024:01:01 04:00:00"
        );
    }

    #[test]
    fn unknown_keys_in_gallery_yaml_are_errors_with_a_position() {
        let e = parse_spec(
            "title: x\nphotos:\n  a.jpg:\n    captoin: y\n",
            "gallery.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("gallery.yaml:4:5: photos.a.jpg: unknown field `captoin`"),
            "{e}"
        );
    }
}
