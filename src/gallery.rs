//! Gallery: a folder of event photos → a gallery page, standalone HTML or a Hugo page bundle.
//!
//! Photos are ordered (gallery.yaml's `order`, then capture time from EXIF with its offset,
//! then name), captioned (gallery.yaml, else EXIF ImageDescription) and made through the same
//! pipeline, cache and naming as `build`: upright, sRGB, no metadata. `plan_gallery` and the
//! page renderers are pure; `gallery` does the I/O.

use crate::cache::Cache;
use crate::config::Config;
use crate::jobs::{self, Job, JobError, Made, RunOptions};
use crate::naming::{original_name, variant_name};
use crate::output::{is_placed, Kind, OutputError, OwnedDir};
use crate::plan::{formats_for, OutFormat, Variant};
use crate::probe::{self, ImageInfo, ProbeOptions};
use crate::process;
use crate::process::ProcessError;
use crate::report::{Diagnostic, Progress};
use crate::rows::{self, Slot};
use rayon::prelude::*;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Widths made for the lightbox (never above the photo's own).
pub const DISPLAY_WIDTHS: [u32; 3] = [1280, 1920, 2560];
/// Desktop screens (viewport@density) whose grid thumbnails get widths of their own, besides
/// the configuration's `screens` (phones and a tablet).
pub const DESKTOP_SCREENS: [(u32, f64); 4] = [(1280, 1.0), (1440, 1.0), (1920, 1.0), (1440, 2.0)];

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
    /// The shared cache behind the cache folder (`--cache s3://…`), if any.
    pub shared: Option<std::sync::Arc<crate::remote::Remote>>,
    /// Make only this part of the image work, for the shared cache, and write nothing else.
    pub shard: Option<jobs::Shard>,
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
    /// AVIF variants left for a later run by `avif_budget` (`jobs::Ran::later`).
    pub avif_later: usize,
    /// AVIF outputs left out: together no smaller than what a browser without AVIF gets
    /// (`jobs::avif_gains`).
    pub avif_unserved: jobs::Unserved,
    /// Files of the previous run removed because this one no longer writes them.
    pub removed: usize,
    /// The page written (none with `--shard`).
    pub page: PathBuf,
    /// With `--shard`: which part this run made, and how many jobs it left to the others.
    pub shard: Option<(jobs::Shard, usize)>,
    /// What the run fetched from and sent to the shared cache, if it has one.
    pub shared: Option<crate::remote::Traffic>,
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
    /// The output folder is not pixpipe's, or could not be written.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The worker pool could not start.
    #[error(transparent)]
    Pool(#[from] jobs::PoolError),
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
    let description = ascii(exif::Tag::ImageDescription).filter(|s| !is_camera_placeholder(s));
    (taken, description)
}

/// Whether an EXIF description is what camera firmware writes when the photographer wrote
/// nothing: blank, a maker's stock phrase (`OLYMPUS DIGITAL CAMERA`, `SONY DSC`, `DCIM`, …),
/// or a file name such as `DSC_0042` or `IMG_1234.JPG`. Such text is not a caption.
pub fn is_camera_placeholder(s: &str) -> bool {
    let t = s.trim_matches(|c: char| c.is_whitespace() || c.is_control());
    if t.is_empty() {
        return true;
    }
    let upper = t.to_ascii_uppercase();
    const STOCK: [&str; 12] = [
        "OLYMPUS DIGITAL CAMERA",
        "SONY DSC",
        "DCIM",
        "DIGITAL CAMERA",
        "KODAK DIGITAL STILL CAMERA",
        "MINOLTA DIGITAL CAMERA",
        "SAMSUNG DIGITAL CAMERA",
        "DEFAULT",
        "CAMERA",
        "IMAGE",
        "PICTURE",
        "EXIF_JPEG_PICTURE",
    ];
    if STOCK.contains(&upper.as_str()) {
        return true;
    }
    // A file name: letters, then (after an optional `_` or `-`) digits, then maybe `.JPG`.
    let stem = upper
        .strip_suffix(".JPG")
        .or_else(|| upper.strip_suffix(".JPEG"))
        .unwrap_or(&upper);
    let letters = stem.trim_end_matches(|c: char| c.is_ascii_digit());
    let digits = stem.len() - letters.len();
    let letters = letters.trim_end_matches(['_', '-']);
    digits >= 3
        && !letters.is_empty()
        && letters.len() <= 5
        && letters.chars().all(|c| c.is_ascii_uppercase())
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

/// The justified rows of the HTML page: per photo (in order, given by its probe), its slot in
/// each screen class (`rows::CLASSES`).
pub fn layout_of<'a>(photos: impl IntoIterator<Item = &'a ImageInfo>) -> Vec<Vec<Slot>> {
    let aspects: Vec<f64> = photos
        .into_iter()
        .map(|info| {
            let (w, h) = info.display_size();
            w.max(1) as f64 / h.max(1) as f64
        })
        .collect();
    let per_class: Vec<Vec<Slot>> = rows::CLASSES
        .iter()
        .map(|c| rows::justify(&aspects, c.reference, c.row_height))
        .collect();
    (0..aspects.len())
        .map(|i| per_class.iter().map(|slots| slots[i]).collect())
        .collect()
}

/// The pixel widths a photo's grid thumbnail needs on the configuration's screens and the
/// desktop ones, given its `slots`.
pub fn thumb_needs(slots: &[Slot], config: &Config) -> Vec<u32> {
    let screens: Vec<(u32, f64)> = config
        .screens
        .iter()
        .map(|s| (s.width, s.density))
        .chain(DESKTOP_SCREENS)
        .collect();
    rows::needs(slots, &screens)
}

/// The variants a photo gets: for the HTML page, the widths its grid thumbnail needs
/// (`thumbs`, merged as the build's ladder) and the lightbox's display sizes; for a Hugo
/// bundle one large image, from which the site's build makes the rest. Never upscaled.
pub fn variants_for(
    info: &ImageInfo,
    config: &Config,
    format: GalleryFormat,
    thumbs: &[u32],
) -> Vec<Variant> {
    let (w, h) = info.display_size();
    let widths: Vec<u32> = match format {
        GalleryFormat::Hugo => vec![w.min(DISPLAY_WIDTHS[2])],
        GalleryFormat::Html => {
            let display: Vec<u32> = DISPLAY_WIDTHS.iter().map(|&x| x.min(w)).collect();
            crate::layout::merge(thumbs.to_vec(), &display, w)
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
            if f.fits(width, height) {
                out.push(Variant::new(width, height, f, config));
            }
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
        crate::permalink::urlize(stem).replace(['/', '.'], "-")
    )
}

/// The standalone page.
pub fn render_html(spec: &Spec, title: &str, photos: &[(Photo, Vec<Output>, String)]) -> String {
    let layout = layout_of(photos.iter().map(|(p, _, _)| &p.info));
    let mut grid = String::new();
    for (i, ((p, outs, colour), slots)) in photos.iter().zip(&layout).enumerate() {
        // Explicit both ways: a photo in the first screen of a phone, a tablet or a desktop
        // loads at once (one of them is the LCP), the first with high priority.
        let loading = match (i, rows::in_first_screen(slots)) {
            (0, _) => "loading=\"eager\" fetchpriority=\"high\"",
            (_, true) => "loading=\"eager\" decoding=\"async\"",
            _ => "loading=\"lazy\" decoding=\"async\"",
        };
        grid.push_str(&grid_item(p, outs, colour, slots, loading));
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

/// One photo of the grid: a link to the lightbox around a `<picture>` (WebP `<source>`, the
/// source's format as the `<img>`), its width in each screen class as CSS custom properties
/// (gallery.css picks one), `sizes` to match, and its caption.
fn grid_item(p: &Photo, outs: &[Output], colour: &str, slots: &[Slot], loading: &str) -> String {
    let primary = outs[0].variant.format;
    let of =
        |f: OutFormat| -> Vec<&Output> { outs.iter().filter(|o| o.variant.format == f).collect() };
    let set = |ws: &[&Output]| {
        ws.iter()
            .map(|o| format!("images/{} {}w", o.name, o.variant.width))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let display = of(primary);
    let largest = display.last().copied().unwrap_or(&outs[0]);
    let webp = if primary == OutFormat::Webp {
        Vec::new()
    } else {
        of(OutFormat::Webp)
    };
    let lightbox_set = if webp.is_empty() { &display } else { &webp };
    // The `src` of browsers without srcset: the width a desktop shows.
    let desktop = rows::slot_width(slots[slots.len() - 1], rows::MAX_CONTENT);
    let thumb = display
        .iter()
        .find(|o| o.variant.width as f64 >= desktop)
        .copied()
        .unwrap_or(largest);
    let alt = p
        .alt
        .clone()
        .or_else(|| p.caption.clone())
        .unwrap_or_default();
    let sizes = rows::sizes(slots);
    let style: Vec<String> = ["s", "m", "l"]
        .iter()
        .zip(slots)
        .map(|(class, slot)| format!("--pp-w{class}: {}", rows::css_width(*slot)))
        .collect();
    // AVIF before WebP: a browser takes the first source it supports.
    let source: String = [OutFormat::Avif, OutFormat::Webp]
        .into_iter()
        .filter(|f| *f != primary)
        .map(|f| (f, of(f)))
        .filter(|(_, outs)| !outs.is_empty())
        .map(|(f, outs)| {
            format!(
                "<source type=\"{}\" srcset=\"{}\" sizes=\"{sizes}\">",
                f.mime(),
                set(&outs)
            )
        })
        .collect();
    format!(
        "<li id=\"{id}\" style=\"{style}\"><a href=\"images/{big}\" data-srcset=\"{lset}\" data-sizes=\"92vw\" data-width=\"{bw}\" data-height=\"{bh}\" data-caption=\"{cap}\"{original} aria-label=\"Open photo: {label}\"><picture>{source}<img src=\"images/{src}\" srcset=\"{tset}\" sizes=\"{sizes}\" width=\"{tw}\" height=\"{th}\" alt=\"{alt}\" {loading} style=\"background-color: {colour}\"></picture></a>{caption}</li>\n",
        id = p.id,
        style = style.join("; "),
        big = largest.name,
        lset = set(lightbox_set),
        bw = largest.variant.width,
        bh = largest.variant.height,
        cap = html_escape(p.caption.as_deref().unwrap_or("")),
        original = original_attrs(p),
        label = html_escape(if alt.is_empty() { &p.name } else { &alt }),
        src = thumb.name,
        tset = set(&display),
        tw = thumb.variant.width,
        th = thumb.variant.height,
        alt = html_escape(&alt),
        caption = p
            .caption
            .as_ref()
            .map(|c| format!("<p class=\"pp-caption\">{}</p>", html_escape(c)))
            .unwrap_or_default(),
    )
}

/// With --originals: the lightbox offers the original for download.
fn original_attrs(p: &Photo) -> String {
    let Some(o) = &p.original else {
        return String::new();
    };
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
pub const GALLERY_MARK: &str = crate::output::GALLERY_MARK;

/// Refuse an output folder that is the photo folder or holds it, then claim it.
fn claim_output(
    photos: &Path,
    out: &Path,
    progress: &dyn Progress,
) -> Result<OwnedDir, GalleryError> {
    let (p, o) = (crate::build::absolute(photos), crate::build::absolute(out));
    if o == p || p.starts_with(&o) {
        return Err(GalleryError::Write {
            path: out.display().to_string(),
            source: std::io::Error::other(
                "the output folder would hold the photos themselves; choose another --out",
            ),
        });
    }
    Ok(OwnedDir::claim(out, Kind::Gallery, None, progress)?)
}

/// `gallery.yaml`, or the default spec when there is none. A file that is there but cannot
/// be read, or is not UTF-8, is an error naming it.
fn read_spec(dir: &Path) -> Result<Spec, GalleryError> {
    let path = dir.join("gallery.yaml");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Spec::default()),
        Err(source) => {
            return Err(GalleryError::Read {
                path: path.display().to_string(),
                source,
            })
        }
    };
    let text = String::from_utf8(bytes).map_err(|e| GalleryError::Read {
        path: path.display().to_string(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 text ({e})"),
        ),
    })?;
    parse_spec(&text, &path.display().to_string())
}

/// The photo files of `dir`, sorted, with a note for each other file skipped.
fn photo_files(dir: &Path, report: &mut GalleryReport) -> Result<Vec<String>, GalleryError> {
    let rd = std::fs::read_dir(dir).map_err(|source| GalleryError::Read {
        path: dir.display().to_string(),
        source,
    })?;
    let mut names: Vec<String> = rd
        .flatten()
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    names.sort();
    let mut files = Vec::new();
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
    Ok(files)
}

/// Warn about names in `order` and `exclude` that are not photos of the folder.
fn spec_warnings(spec: &Spec, files: &[String]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (what, list) in [("order", &spec.order), ("exclude", &spec.exclude)] {
        for n in list.iter().filter(|n| !files.contains(n)) {
            out.push(
                Diagnostic::warning(
                    "gallery-spec",
                    format!("gallery.yaml names {n} in `{what}`, but there is no such photo"),
                )
                .in_file("gallery.yaml"),
            );
        }
    }
    out
}

/// Read, probe and describe every photo (in parallel); a photo that cannot be used is a
/// diagnostic instead.
// A photo's failure is a whole Diagnostic, made once per broken photo: size is no concern.
#[allow(clippy::result_large_err)]
fn probe_photos(
    dir: &Path,
    files: &[String],
    spec: &Spec,
    config: &Config,
) -> Vec<Result<Photo, Diagnostic>> {
    let popts = ProbeOptions {
        max_pixels: config.max_pixels,
        deep: false,
        decoder: None,
    };
    files
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
            Ok(Photo {
                name: n.clone(),
                id: photo_id(n),
                caption: s.caption.or(description),
                alt: s.alt,
                taken,
                info,
                hash: blake3::hash(&bytes).to_hex().to_string(),
                original: None,
            })
        })
        .collect()
}

/// One job of the gallery: whose photo, the variants it shows, its original.
struct PhotoJob {
    photo: usize,
    shown: Vec<Variant>,
    original: Option<Variant>,
}

/// Per photo: a job for the variants it shows and, with --originals, one for its original (a
/// job of its own: one decode for both would make the shown sizes from a full-size decode,
/// so their bytes would depend on the flag).
fn jobs_of(
    dir: &Path,
    photos: &[Photo],
    config: &Config,
    opts: &GalleryOptions,
) -> (Vec<Job>, Vec<PhotoJob>) {
    let mut jobs = Vec::new();
    let mut meta = Vec::new();
    let layout = layout_of(photos.iter().map(|p| &p.info));
    for (i, p) in photos.iter().enumerate() {
        let thumbs = thumb_needs(&layout[i], config);
        let shown = variants_for(&p.info, config, opts.format, &thumbs);
        let original = opts.originals.then(|| original_variant(&p.info, config));
        let parts = match original {
            Some(o) if !shown.contains(&o) => vec![(shown, None), (Vec::new(), Some(o))],
            _ => vec![(shown, original)],
        };
        for (shown, original) in parts {
            let variants = shown
                .iter()
                .copied()
                .chain(original.filter(|o| !shown.contains(o)));
            let file = dir.join(&p.name);
            jobs.push(Job {
                uses: 1,
                file_len: std::fs::metadata(&file).map_or(0, |m| m.len()),
                file,
                info: p.info.clone(),
                hash: p.hash.clone(),
                variants: variants.collect(),
            });
            meta.push(PhotoJob {
                photo: i,
                shown,
                original,
            });
        }
    }
    (jobs, meta)
}

/// Where a gallery's output of `v` goes, relative to the output folder: the image folder
/// when the page shows it, `originals/` when it is the original (or both).
fn destinations(
    job: &PhotoJob,
    photo: &Photo,
    format: GalleryFormat,
    m: &Made,
) -> Vec<(PathBuf, bool)> {
    let mut out = Vec::new();
    if job.shown.contains(&m.variant) {
        let name = variant_name(&photo.name, &m.variant, &m.hash);
        let rel = match format {
            GalleryFormat::Html => Path::new("images").join(name),
            GalleryFormat::Hugo => PathBuf::from(name),
        };
        out.push((rel, true));
    }
    if job.original == Some(m.variant) {
        let name = original_name(&photo.name, &m.variant, &m.hash);
        out.push((Path::new("originals").join(name), false));
    }
    out
}

/// Per photo: its outputs, its original's file name (with `--originals`) and how many
/// variants were made and reused, or why it has none.
type PhotoOutputs = Result<(Vec<Output>, Option<String>, usize, usize), Diagnostic>;

/// Make the gallery of `dir`.
pub fn gallery(
    dir: &Path,
    config: &Config,
    opts: &GalleryOptions,
    progress: &dyn Progress,
) -> Result<GalleryReport, GalleryError> {
    jobs::in_pool(opts.jobs, || gallery_in_pool(dir, config, opts, progress))?
}

fn gallery_in_pool(
    dir: &Path,
    config: &Config,
    opts: &GalleryOptions,
    progress: &dyn Progress,
) -> Result<GalleryReport, GalleryError> {
    let started = std::time::Instant::now();
    let mut report = GalleryReport::default();
    let spec = read_spec(dir)?;
    if let Some(shard) = opts.shard {
        return gallery_shard(dir, &spec, config, opts, shard, progress);
    }
    let owned = claim_output(dir, &opts.out, progress)?;
    let photos = photos_of(dir, &spec, config, &mut report)?;
    let cache = open_cache(opts, &mut report);
    let (job_list, meta) = jobs_of(dir, &photos, config, opts);
    let (hits, todo) = jobs::lookup(&cache, &job_list, config);
    let durable = opts.format == GalleryFormat::Hugo;
    let on_made = |j: usize, m: &Made, bytes: &[u8]| {
        let job = &meta[j];
        for (rel, _) in destinations(job, &photos[job.photo], opts.format, m) {
            owned.place(&rel, bytes, durable).ok();
        }
    };
    let run_opts = RunOptions::new(opts.memory_bytes, config, started);
    let ran = jobs::run(
        &job_list, &todo, &cache, config, run_opts, &on_made, progress,
    );
    report.diagnostics.extend(ran.warnings);
    report.avif_later = ran.later.iter().map(|(_, n)| n).sum();
    let per_photo = place_photos(
        &owned,
        &cache,
        &photos,
        &meta,
        opts.format,
        jobs::outcomes(hits, ran.results),
        &mut report.avif_unserved,
    );

    let mut shown: Vec<(Photo, Vec<Output>, String)> = Vec::new();
    for (p, r) in photos.into_iter().zip(per_photo) {
        match r {
            Ok((outs, original, m, u)) => {
                report.made += m;
                report.reused += u;
                let image_dir = match opts.format {
                    GalleryFormat::Html => opts.out.join("images"),
                    GalleryFormat::Hugo => opts.out.clone(),
                };
                let colour = dominant_colour(&image_dir, &outs);
                shown.push((Photo { original, ..p }, outs, colour));
            }
            Err(d) => report.diagnostics.push(d),
        }
    }
    let pages = pages(dir, &spec, &shown, config, opts);
    for (name, text) in &pages {
        owned.write(Path::new(name), text.as_bytes())?;
    }
    report.page = opts.out.join(pages[pages.len() - 1].0);
    report.removed = owned.finish()?;
    close(&mut report, &cache);
    Ok(report)
}

/// The end of a run: the cache saved (after the shared cache's uploads) and what that said,
/// the findings sorted.
fn close(report: &mut GalleryReport, cache: &Cache) {
    let saved = jobs::save_cache(cache, false, None);
    report.diagnostics.extend(saved.diagnostics);
    report.shared = saved.shared;
    crate::report::sort(&mut report.diagnostics);
}

/// The photos of `dir` that can be shown, in the gallery's order; the others reported.
fn photos_of(
    dir: &Path,
    spec: &Spec,
    config: &Config,
    report: &mut GalleryReport,
) -> Result<Vec<Photo>, GalleryError> {
    let files = photo_files(dir, report)?;
    report.diagnostics.extend(spec_warnings(spec, &files));
    let (photos, broken): (Vec<_>, Vec<_>) = probe_photos(dir, &files, spec, config)
        .into_iter()
        .partition(Result::is_ok);
    report
        .diagnostics
        .extend(broken.into_iter().filter_map(Result::err));
    let photos = order(photos.into_iter().flatten().collect(), spec);
    report.photos = photos.len();
    report.without_text = photos
        .iter()
        .filter(|p| p.caption.is_none() && p.alt.is_none())
        .count();
    Ok(photos)
}

/// The gallery's cache (with its shared cache), its damage noted.
fn open_cache(opts: &GalleryOptions, report: &mut GalleryReport) -> Cache {
    let cache = Cache::open(&opts.cache_dir).sharing(opts.shared.clone());
    if cache.damaged() {
        report
            .diagnostics
            .push(crate::build::damaged_cache_note(&opts.cache_dir));
    }
    cache
}

/// The error for photo `name`, whose job failed with `e`.
fn job_failure(name: &str, e: &JobError) -> Diagnostic {
    let code = match e {
        JobError::Read(_) => "unreadable",
        JobError::Process(ProcessError::Decode(_)) => "undecodable",
        JobError::Process(_) => "processing",
    };
    Diagnostic::error(code, format!("{name}: {e}")).in_file(name.to_string())
}

/// A gallery run with `--shard`: only this shard's jobs' outputs are made and stored in the
/// cache; the output folder is not touched.
fn gallery_shard(
    dir: &Path,
    spec: &Spec,
    config: &Config,
    opts: &GalleryOptions,
    shard: jobs::Shard,
    progress: &dyn Progress,
) -> Result<GalleryReport, GalleryError> {
    let started = std::time::Instant::now();
    let mut report = GalleryReport::default();
    let photos = photos_of(dir, spec, config, &mut report)?;
    let cache = open_cache(opts, &mut report);
    let (job_list, meta) = jobs_of(dir, &photos, config, opts);
    let mine = shard.select(&job_list, config);
    report.shard = Some((shard, mine.iter().filter(|m| !**m).count()));
    let (job_list, meta): (Vec<Job>, Vec<PhotoJob>) = (job_list.into_iter().zip(meta))
        .zip(mine)
        .filter_map(|(jm, m)| m.then_some(jm))
        .unzip();
    let (hits, todo) = jobs::Shard::lookup(&cache, &job_list, config);
    let run_opts = jobs::Shard::run_options(RunOptions::new(opts.memory_bytes, config, started));
    let ran = jobs::run(
        &job_list,
        &todo,
        &cache,
        config,
        run_opts,
        &|_, _, _| {},
        progress,
    );
    report.diagnostics.extend(ran.warnings);
    report.avif_later = ran.later.iter().map(|(_, n)| n).sum();
    report.reused = hits.iter().map(Vec::len).sum();
    for (j, r) in ran.results {
        match r {
            Ok(made) => report.made += made.len(),
            Err(e) => (report.diagnostics).push(job_failure(&photos[meta[j].photo].name, &e)),
        }
    }
    close(&mut report, &cache);
    Ok(report)
}

/// The gallery's page and what it needs beside it, (file name, text), the page last.
fn pages(
    dir: &Path,
    spec: &Spec,
    shown: &[(Photo, Vec<Output>, String)],
    config: &Config,
    opts: &GalleryOptions,
) -> Vec<(&'static str, String)> {
    let title = spec.title.clone().unwrap_or_else(|| {
        dir.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("Gallery")
            .to_string()
    });
    match opts.format {
        GalleryFormat::Html => vec![
            (
                "gallery.css",
                include_str!("../assets/gallery/gallery.css").into(),
            ),
            (
                "gallery.js",
                include_str!("../assets/gallery/gallery.js").into(),
            ),
            ("index.html", render_html(spec, &title, shown)),
        ],
        GalleryFormat::Hugo => vec![(
            "index.md",
            render_hugo(spec, &title, shown, config, &opts.shortcode),
        )],
    }
}

/// Place every photo's outputs (those just made were placed by their worker; the cached ones
/// are read from the cache) and gather, per photo, what its page shows.
#[allow(clippy::result_large_err)]
fn place_photos(
    owned: &OwnedDir,
    cache: &Cache,
    photos: &[Photo],
    meta: &[PhotoJob],
    format: GalleryFormat,
    outcomes: Vec<Result<jobs::Outcome, JobError>>,
    unserved: &mut jobs::Unserved,
) -> Vec<PhotoOutputs> {
    // An HTML gallery's images are written like the build's outputs, without waiting for the
    // disk (a rerun checks them before it trusts them); a Hugo bundle's are the site's
    // sources, read by `pixpipe build` and Hugo and often committed, so they wait for it.
    let durable = format == GalleryFormat::Hugo;
    let mut per_photo: Vec<PhotoOutputs> = (0..photos.len())
        .map(|_| Ok((Vec::new(), None, 0, 0)))
        .collect();
    for (j, outcome) in outcomes.into_iter().enumerate() {
        let job = &meta[j];
        let p = &photos[job.photo];
        let fail = |e: &dyn std::fmt::Display, code| {
            Diagnostic::error(code, format!("{}: {e}", p.name)).in_file(p.name.clone())
        };
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                if per_photo[job.photo].is_ok() {
                    per_photo[job.photo] = Err(job_failure(&p.name, &e));
                }
                continue;
            }
        };
        unserved.add(&outcome);
        // Placed as they were made; not the gallery's now, so removed at the end.
        for m in &outcome.unserved {
            for (rel, _) in destinations(job, p, format, m) {
                owned.unkeep(&rel);
            }
        }
        let counts = (outcome.made, outcome.reused);
        let all = outcome.outputs;
        let mut outs = Vec::new();
        let mut original = None;
        let mut error = None;
        'outputs: for m in &all {
            for (rel, in_page) in destinations(job, p, format, m) {
                if !is_placed(&owned.dir().join(&rel), m.bytes) {
                    let placed = m
                        .read(cache)
                        .map_err(|e| {
                            fail(
                                &format!("cannot read its output from the cache: {e}"),
                                "cache",
                            )
                        })
                        .and_then(|b| {
                            owned
                                .place(&rel, &b, durable)
                                .map_err(|e| fail(&e, "write"))
                        });
                    if let Err(d) = placed {
                        error = Some(d);
                        break 'outputs;
                    }
                }
                owned.keep(&rel);
                let name = rel
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if in_page {
                    outs.push(Output {
                        variant: m.variant,
                        name,
                    });
                } else {
                    original = Some(name);
                }
            }
        }
        let photo = &mut per_photo[job.photo];
        match (photo, error) {
            (Err(_), _) => {}
            (photo, Some(d)) => *photo = Err(d),
            (Ok(p), None) => {
                p.0.extend(outs);
                p.1 = p.1.take().or(original);
                p.2 += counts.0;
                p.3 += counts.1;
            }
        }
    }
    for r in per_photo.iter_mut().flatten() {
        r.0.sort_by_key(|o| (o.variant.format, o.variant.width));
    }
    per_photo
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
    fn camera_placeholders_are_not_captions() {
        for stock in [
            "OLYMPUS DIGITAL CAMERA",
            "SONY DSC  ",
            "DCIM",
            "  ",
            "\0\0",
            "DSC_0042",
            "IMG_1234.JPG",
            "P1010001",
            "DSCN0001",
            "KODAK Digital Still Camera",
        ] {
            assert!(is_camera_placeholder(stock), "{stock:?}");
        }
        for caption in [
            "Istio Day Europe 2023, Welcome",
            "DCIM folder tour",
            "Room 101",
            "Sony DSC-RX100 review shot",
            "2023",
        ] {
            assert!(!is_camera_placeholder(caption), "{caption:?}");
        }
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
