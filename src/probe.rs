//! Probe: what an image file is and whether a browser can show it, from its bytes.
//!
//! Headers and container structure are checked without decoding pixels (chunk CRCs and
//! truncation for PNG, marker structure for JPEG, block structure for GIF, RIFF chunks for
//! WebP), so a decompression bomb is caught from its header and never allocated. `deep`
//! additionally decodes every pixel with the `image` crate. `probe_bytes` is pure;
//! `probe_files` reads files, in parallel.

use crate::report::Severity;
use crate::stamp::Stamp;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// Image container formats pixpipe recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// JPEG.
    Jpeg,
    /// PNG (and APNG).
    Png,
    /// GIF.
    Gif,
    /// WebP.
    WebP,
    /// AVIF.
    Avif,
    /// HEIF/HEIC.
    Heif,
    /// TIFF.
    Tiff,
    /// BMP.
    Bmp,
    /// ICO.
    Ico,
    /// SVG.
    Svg,
}

impl Format {
    /// Name as people say it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "JPEG",
            Format::Png => "PNG",
            Format::Gif => "GIF",
            Format::WebP => "WebP",
            Format::Avif => "AVIF",
            Format::Heif => "HEIF",
            Format::Tiff => "TIFF",
            Format::Bmp => "BMP",
            Format::Ico => "ICO",
            Format::Svg => "SVG",
        }
    }
    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::Gif => "gif",
            Format::WebP => "webp",
            Format::Avif => "avif",
            Format::Heif => "heic",
            Format::Tiff => "tiff",
            Format::Bmp => "bmp",
            Format::Ico => "ico",
            Format::Svg => "svg",
        }
    }
    /// The format a file name's extension claims, if it names one.
    pub fn from_extension(name: &str) -> Option<Format> {
        // Lowercased on the stack: this runs for every value a page or its front matter names.
        let ext = name.rsplit_once('.')?.1.as_bytes();
        let mut lower = [0u8; 5];
        let lower = lower.get_mut(..ext.len())?;
        lower.copy_from_slice(ext);
        lower.make_ascii_lowercase();
        Some(match &*lower {
            b"jpg" | b"jpeg" | b"jpe" | b"jfif" | b"pjpeg" => Format::Jpeg,
            b"png" | b"apng" => Format::Png,
            b"gif" => Format::Gif,
            b"webp" => Format::WebP,
            b"avif" => Format::Avif,
            b"heic" | b"heif" => Format::Heif,
            b"tif" | b"tiff" => Format::Tiff,
            b"bmp" => Format::Bmp,
            b"ico" => Format::Ico,
            b"svg" => Format::Svg,
            _ => return None,
        })
    }
    /// The `image` crate's name for this format, when it decodes it.
    pub fn image_format(self) -> Option<image::ImageFormat> {
        Some(match self {
            Format::Jpeg => image::ImageFormat::Jpeg,
            Format::Png => image::ImageFormat::Png,
            Format::Gif => image::ImageFormat::Gif,
            Format::WebP => image::ImageFormat::WebP,
            Format::Tiff => image::ImageFormat::Tiff,
            Format::Bmp => image::ImageFormat::Bmp,
            Format::Ico => image::ImageFormat::Ico,
            Format::Avif | Format::Heif | Format::Svg => return None,
        })
    }
    /// Whether pixpipe decodes and resizes this format.
    pub fn is_raster_web(self) -> bool {
        matches!(
            self,
            Format::Jpeg | Format::Png | Format::Gif | Format::WebP | Format::Tiff | Format::Avif
        )
    }
}

/// What the probe learned about a readable image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// Container format.
    pub format: Format,
    /// Stored width in pixels.
    pub width: u32,
    /// Stored height in pixels.
    pub height: u32,
    /// EXIF orientation, 1–8 (1 when absent).
    pub orientation: u8,
    /// Number of frames (more than 1: animated).
    pub frames: u32,
    /// Whether it has an alpha channel or transparency.
    pub alpha: bool,
    /// Whether it carries GPS coordinates in EXIF.
    pub gps: bool,
    /// Whether it embeds an ICC profile.
    pub icc: bool,
    /// Bytes of DCT coefficients a decoder holds for the whole image: non-zero for a
    /// progressive JPEG only (a baseline one is decoded a few rows at a time).
    pub coefficient_bytes: u64,
    /// A four-component (CMYK or YCCK) JPEG: decoded at full size, without DCT scaling.
    pub cmyk: bool,
}

impl ImageInfo {
    /// A still `width` x `height` image of `format`, upright, opaque, without GPS or ICC.
    pub fn plain(format: Format, width: u32, height: u32) -> ImageInfo {
        ImageInfo {
            format,
            width,
            height,
            orientation: 1,
            frames: 1,
            alpha: false,
            gps: false,
            icc: false,
            coefficient_bytes: 0,
            cmyk: false,
        }
    }
    /// Width and height as displayed, after EXIF orientation.
    pub fn display_size(&self) -> (u32, u32) {
        if self.orientation >= 5 {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        }
    }
    /// Pixels in one frame.
    pub fn pixels(&self) -> u64 {
        self.width as u64 * self.height as u64
    }
}

/// Something wrong with a file, independent of where it is referenced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How bad.
    pub severity: Severity,
    /// Stable code.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

fn finding(
    severity: Severity,
    code: &'static str,
    message: impl Into<String>,
    help: Option<&str>,
) -> Finding {
    Finding {
        severity,
        code,
        message: message.into(),
        help: help.map(str::to_string),
    }
}

/// The probe of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// File size in bytes.
    pub bytes: u64,
    /// Present when the header could be read.
    pub info: Option<ImageInfo>,
    /// Problems, most severe first.
    pub findings: Vec<Finding>,
}

impl Probe {
    /// Whether any finding is an error (the file cannot be shown or processed).
    pub fn is_broken(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// Limits and depth of a probe.
#[derive(Debug, Clone, Copy)]
pub struct ProbeOptions {
    /// Largest image (pixels in one frame) that is accepted.
    pub max_pixels: u64,
    /// Decode every pixel too.
    pub deep: bool,
    /// The decoder a deep probe of a still image uses (the image crate's when none).
    pub decoder: Option<Decoder>,
}

/// The decoder `build` uses, given to a deep probe so that `check --deep` and `build` take
/// one decision per file (`process::verify_decode`; probe itself knows no codec): `Err` with
/// the decoder's message when the pixels cannot be decoded.
pub type Decoder = fn(&[u8], &ImageInfo, u64) -> Result<(), String>;

/// Largest text chunk we inflate while probing (Pillow's limit too).
const MAX_INFLATED_METADATA: usize = 1 << 20;

/// Sniff the container format from the first bytes.
pub fn sniff(d: &[u8]) -> Option<Format> {
    if d.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(Format::Jpeg);
    }
    if d.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(Format::Png);
    }
    if d.starts_with(b"GIF87a") || d.starts_with(b"GIF89a") {
        return Some(Format::Gif);
    }
    if d.len() >= 12 && &d[..4] == b"RIFF" && &d[8..12] == b"WEBP" {
        return Some(Format::WebP);
    }
    if d.starts_with(b"II*\0") || d.starts_with(b"MM\0*") {
        return Some(Format::Tiff);
    }
    if d.starts_with(b"BM") && d.len() > 26 {
        return Some(Format::Bmp);
    }
    if d.starts_with(&[0, 0, 1, 0]) && d.len() > 6 {
        return Some(Format::Ico);
    }
    if d.len() >= 12 && &d[4..8] == b"ftyp" {
        let brand = &d[8..12];
        return Some(if brand == b"avif" || brand == b"avis" {
            Format::Avif
        } else {
            Format::Heif
        });
    }
    let head = &d[..d.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if (t.starts_with("<?xml")
        || t.starts_with("<svg")
        || t.starts_with("<!--")
        || t.starts_with("<!DOCTYPE svg"))
        && text.contains("<svg")
    {
        return Some(Format::Svg);
    }
    None
}

/// Probe a file's bytes. `name` is its file name (for the extension check).
pub fn probe_bytes(name: &str, d: &[u8], opts: ProbeOptions) -> Probe {
    let mut p = Probe {
        bytes: d.len() as u64,
        info: None,
        findings: Vec::new(),
    };
    if d.is_empty() {
        p.findings.push(finding(
            Severity::Error,
            "undecodable",
            "file is empty (0 bytes)",
            Some("replace it with the real image"),
        ));
        return p;
    }
    let claimed = Format::from_extension(name);
    let Some(format) = sniff(d) else {
        p.findings.push(unknown_format(claimed, d));
        return p;
    };
    if let Some(f) = claimed.and_then(|c| wrong_extension(name, c, format)) {
        p.findings.push(f);
    }
    let parsed = match format {
        Format::Jpeg => jpeg(d),
        Format::Png => png(d),
        Format::Gif => gif(d),
        Format::WebP => webp(d),
        Format::Svg => svg(d),
        Format::Avif => avif(d),
        Format::Heif => isobmff(d, format),
        Format::Tiff | Format::Bmp | Format::Ico => via_image_crate(d, format),
    };
    let mut parsed = match parsed {
        Ok(x) => x,
        Err(f) => {
            p.findings.push(f);
            return p;
        }
    };
    p.findings.append(&mut parsed.findings);
    let mut info = parsed.info;
    if let Some(exif) = parsed.exif {
        match read_exif(exif) {
            Ok((orientation, gps)) => {
                info.orientation = orientation;
                info.gps = gps;
            }
            Err(e) => p.findings.push(finding(
                Severity::Warning,
                "damaged-metadata",
                format!("EXIF data cannot be read ({e}); its orientation is ignored"),
                Some("rewrite the metadata (pixpipe build strips it; or `exiftool -all= FILE`)"),
            )),
        }
    }
    if matches!(format, Format::Heif | Format::Tiff) {
        p.findings.push(finding(
            Severity::Warning,
            "unsupported-format",
            format!("{} images are not shown by most browsers", format.name()),
            Some("convert it to JPEG or PNG"),
        ));
    }
    if format != Format::Svg && (info.width == 0 || info.height == 0) {
        p.findings.push(no_pixels(&info));
    } else if info.pixels() > opts.max_pixels {
        // Nothing else matters about a file that is never decoded.
        p.findings.retain(|f| f.severity != Severity::Error);
        p.findings.push(too_large(&info, opts.max_pixels));
    } else {
        // An animation is published as it is, so `build` decides about it as a deep check
        // does: its first frame is decoded, with or without `deep`.
        if (opts.deep || info.frames > 1) && !p.is_broken() {
            let found = match opts.decoder {
                Some(decode) if info.frames <= 1 => decode(d, &info, opts.max_pixels)
                    .err()
                    .map(|e| undecodable_pixels(format, &e)),
                _ => deep_decode(d, format, opts.max_pixels),
            };
            p.findings.extend(found);
        }
        p.findings.sort_by_key(|f| f.severity);
    }
    p.info = Some(info);
    p
}

/// The finding for a file whose signature is no image format known here, said in terms of
/// the format its extension `claimed`.
fn unknown_format(claimed: Option<Format>, d: &[u8]) -> Finding {
    let what = match claimed {
        Some(f) if looks_like(f, d) => format!(
            "not a readable {} image: its signature is damaged",
            f.name()
        ),
        Some(f) => format!("not a readable {} image (unknown format)", f.name()),
        None => "not an image file (unknown format)".to_string(),
    };
    finding(
        Severity::Error,
        "undecodable",
        what,
        Some("replace it with an image that opens in a browser"),
    )
}

/// The finding for file `name`, whose extension claims `claimed` but which holds a
/// `format` image; `None` when they agree.
fn wrong_extension(name: &str, claimed: Format, format: Format) -> Option<Finding> {
    if claimed == format {
        return None;
    }
    let stem = name.rsplit_once('.').map(|(s, _)| s).unwrap_or(name);
    Some(finding(
        Severity::Warning,
        "wrong-extension",
        format!(
            "file is a {} image but its name says {}",
            format.name(),
            claimed.name()
        ),
        Some(&format!(
            "rename it to {stem}.{} and update its references",
            format.extension()
        )),
    ))
}

/// The finding for an image that declares a width or height of 0.
fn no_pixels(info: &ImageInfo) -> Finding {
    finding(
        Severity::Error,
        "undecodable",
        format!(
            "image declares a size of {}x{} pixels",
            info.width, info.height
        ),
        Some("replace it with an image that opens in a browser"),
    )
}

/// The finding for an image of more than `max_pixels`, which is never decoded.
fn too_large(info: &ImageInfo, max_pixels: u64) -> Finding {
    finding(
        Severity::Error,
        "too-large",
        format!(
            "image is {}x{} ({} megapixels), over the limit of {} megapixels",
            info.width,
            info.height,
            info.pixels() / 1_000_000,
            max_pixels / 1_000_000
        ),
        Some("resize the original, or raise `max_pixels` in pixpipe.yaml if you trust it"),
    )
}

fn looks_like(f: Format, d: &[u8]) -> bool {
    match f {
        Format::Png => d.len() >= 8 && &d[1..4] == b"PNG",
        Format::Jpeg => d.starts_with(&[0xFF, 0xD8]),
        Format::Gif => d.starts_with(b"GIF"),
        Format::WebP => d.starts_with(b"RIFF"),
        _ => false,
    }
}

fn deep_decode(d: &[u8], format: Format, max_pixels: u64) -> Option<Finding> {
    if format == Format::Avif {
        return crate::avif::decode(d, false, max_pixels)
            .err()
            .map(|e| undecodable_pixels(format, &e));
    }
    let fmt = format.image_format()?;
    let mut reader = image::ImageReader::with_format(Cursor::new(d), fmt);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(max_pixels.saturating_mul(8));
    reader.limits(limits);
    match reader.decode() {
        Ok(_) => None,
        Err(e) => Some(undecodable_pixels(format, &e.to_string())),
    }
}

fn undecodable_pixels(format: Format, why: &str) -> Finding {
    finding(
        Severity::Error,
        "undecodable",
        format!("{} pixel data cannot be decoded: {why}", format.name()),
        Some("re-export the image from the original"),
    )
}

struct Parsed {
    info: ImageInfo,
    exif: Option<Vec<u8>>,
    findings: Vec<Finding>,
}

fn info(format: Format, width: u32, height: u32) -> ImageInfo {
    ImageInfo::plain(format, width, height)
}

/// Bytes of the coefficient buffer for the frame header `seg` (SOFn without its length):
/// 64 coefficients of 2 bytes per 8x8 block of each component, at its sampling.
fn jpeg_coefficient_bytes(seg: &[u8], w: u32, h: u32) -> u64 {
    let n = *seg.get(5).unwrap_or(&0) as usize;
    let comps: Vec<(u64, u64)> = (0..n)
        .filter_map(|c| seg.get(6 + c * 3 + 1))
        .map(|s| ((s >> 4).max(1) as u64, (s & 15).max(1) as u64))
        .collect();
    let hmax = comps.iter().map(|c| c.0).max().unwrap_or(1);
    let vmax = comps.iter().map(|c| c.1).max().unwrap_or(1);
    comps
        .iter()
        .map(|&(hs, vs)| {
            let cw = (w as u64 * hs).div_ceil(hmax);
            let ch = (h as u64 * vs).div_ceil(vmax);
            // libjpeg pads each component to whole MCUs.
            cw.div_ceil(8 * hs) * hs * ch.div_ceil(8 * vs) * vs * 128
        })
        .sum()
}

fn be16(d: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(i)?, *d.get(i + 1)?]))
}
fn le16(d: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*d.get(i)?, *d.get(i + 1)?]))
}
fn be32(d: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(i..i + 4)?.try_into().ok()?))
}
fn le32(d: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(i..i + 4)?.try_into().ok()?))
}
fn le24(d: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *d.get(i)?,
        *d.get(i + 1)?,
        *d.get(i + 2)?,
        0,
    ]))
}

fn broken(format: Format, what: &str) -> Finding {
    finding(
        Severity::Error,
        "undecodable",
        format!("not a readable {} image: {what}", format.name()),
        Some("re-export or re-download the image; the file is damaged"),
    )
}

fn truncated(format: Format, what: &str) -> Finding {
    finding(
        Severity::Error,
        "undecodable",
        format!("{} image is truncated: {what}", format.name()),
        Some("the file was cut short (an interrupted copy or upload?); copy it again from the original"),
    )
}

/// What the marker segments of a JPEG before its end-of-image marker say.
#[derive(Default)]
struct JpegSegments {
    /// Width and height in the first frame header.
    size: Option<(u32, u32)>,
    /// The coefficient buffer a progressive first frame needs (`jpeg_coefficient_bytes`).
    coefficients: u64,
    /// Whether the first frame has four components.
    cmyk: bool,
    /// The first EXIF block (APP1).
    exif: Option<Vec<u8>>,
    /// Whether an ICC profile (APP2) is there.
    icc: bool,
}

impl JpegSegments {
    /// Read the segment `seg` (its length left out) of marker `m`: a frame header (SOFn),
    /// EXIF or an ICC profile; other segments say nothing probe needs.
    fn read(&mut self, m: u8, seg: &[u8]) -> Result<(), Finding> {
        match m {
            0xC0..=0xCF if !matches!(m, 0xC4 | 0xC8 | 0xCC) => {
                if seg.len() < 6 {
                    return Err(broken(Format::Jpeg, "its frame header is too short"));
                }
                let h = be16(seg, 1).unwrap_or(0) as u32;
                let w = be16(seg, 3).unwrap_or(0) as u32;
                if self.size.is_none() && matches!(m, 0xC2 | 0xC6 | 0xCA | 0xCE) {
                    self.coefficients = jpeg_coefficient_bytes(seg, w, h);
                }
                if self.size.is_none() {
                    self.cmyk = seg[5] == 4;
                }
                self.size.get_or_insert((w, h));
            }
            0xE1 if seg.starts_with(b"Exif\0\0") && self.exif.is_none() => {
                self.exif = Some(seg[6..].to_vec())
            }
            0xE2 if seg.starts_with(b"ICC_PROFILE\0") => self.icc = true,
            _ => {}
        }
        Ok(())
    }
}

/// Read a JPEG's marker segments up to its end-of-image marker, skipping each scan's data:
/// its size and what the decoder needs, or what makes it unreadable; damaged data or stray
/// bytes between segments are findings.
fn jpeg(d: &[u8]) -> Result<Parsed, Finding> {
    let f = Format::Jpeg;
    let mut i = 2;
    let mut segments = JpegSegments::default();
    let mut saw_scan = false;
    let mut stray = 0usize;
    let mut damaged = 0usize;
    loop {
        if i >= d.len() {
            return Err(truncated(f, "it ends before the end-of-image marker"));
        }
        if d[i] != 0xFF {
            // libjpeg skips bytes between segments (with a warning); so do browsers.
            let next = memchr::memchr(0xFF, &d[i..])
                .map(|r| i + r)
                .unwrap_or(d.len());
            stray += next - i;
            i = next;
            continue;
        }
        while i < d.len() && d[i] == 0xFF {
            i += 1;
        }
        let Some(&m) = d.get(i) else {
            return Err(truncated(f, "it ends before the end-of-image marker"));
        };
        i += 1;
        match m {
            0xD9 => break,
            0x00 | 0x01 | 0xD0..=0xD8 => continue,
            _ => {}
        }
        let Some(len) = be16(d, i) else {
            return Err(truncated(f, "it ends inside a segment header"));
        };
        let len = len as usize;
        if len < 2 || i + len > d.len() {
            return Err(truncated(f, "it ends inside a segment"));
        }
        segments.read(m, &d[i + 2..i + len])?;
        i += len;
        if m == 0xDA {
            saw_scan = true;
            damaged += skip_entropy_coded(d, &mut i)?;
        }
    }
    let Some((w, h)) = segments.size else {
        return Err(broken(f, "it has no frame header"));
    };
    if !saw_scan {
        return Err(broken(f, "it has no image data"));
    }
    let mut findings = Vec::new();
    if damaged > 0 {
        findings.push(finding(
            Severity::Warning,
            "damaged-data",
            format!(
                "JPEG image data is damaged ({damaged} invalid {} in the compressed data); browsers show it with visible errors",
                if damaged == 1 { "marker" } else { "markers" }
            ),
            Some("re-export the image from the original"),
        ));
    } else if stray > 0 {
        findings.push(finding(
            Severity::Warning,
            "damaged-data",
            format!("JPEG has {stray} stray bytes between segments; decoders skip them"),
            Some("re-save the image to clean it up"),
        ));
    }
    let mut inf = info(f, w, h);
    inf.icc = segments.icc;
    inf.coefficient_bytes = segments.coefficients;
    inf.cmyk = segments.cmyk;
    Ok(Parsed {
        info: inf,
        exif: segments.exif,
        findings,
    })
}

/// Move `i` from the start of a scan's entropy-coded data to the marker after it: the next
/// one that is not a stuffed byte or a restart marker. Returns how many invalid markers were
/// in the data.
fn skip_entropy_coded(d: &[u8], i: &mut usize) -> Result<usize, Finding> {
    let mut damaged = 0;
    loop {
        let Some(r) = memchr::memchr(0xFF, &d[*i..]) else {
            return Err(truncated(
                Format::Jpeg,
                "its image data ends early (no end-of-image marker)",
            ));
        };
        *i += r;
        match d.get(*i + 1) {
            None => {
                return Err(truncated(
                    Format::Jpeg,
                    "its image data ends early (no end-of-image marker)",
                ))
            }
            Some(0xFF) => *i += 1,
            Some(0x00 | 0xD0..=0xD7) => *i += 2,
            // Markers that may follow a scan: tables, the next scan, EOI, APPn/COM.
            Some(0xC0..=0xCF | 0xD9..=0xDF | 0xE0..=0xEF | 0xFE) => return Ok(damaged),
            Some(_) => {
                damaged += 1;
                *i += 2;
            }
        }
    }
}

/// What the chunks of a PNG up to its IEND say.
struct PngChunks {
    /// IHDR: width, height, bit depth, colour type.
    ihdr: Option<(u32, u32, u8, u8)>,
    plte: bool,
    trns: bool,
    idat: bool,
    iend: bool,
    /// Frames (APNG's acTL), 1 without one.
    frames: u32,
    icc: bool,
    exif: Option<Vec<u8>>,
    findings: Vec<Finding>,
    /// Whether a compressed text chunk was already found not to inflate: one finding says it.
    text_bomb: bool,
}

impl PngChunks {
    /// Read chunk `ty` (named `name`) with `data`, its CRC checked. IEND is the caller's.
    fn read(&mut self, ty: &[u8], data: &[u8], name: &str) -> Result<(), Finding> {
        match ty {
            b"IHDR" => self.ihdr = Some(png_header(data)?),
            b"PLTE" => self.plte = true,
            b"tRNS" => self.trns = true,
            b"IDAT" => self.idat = true,
            b"iCCP" => self.icc = true,
            b"eXIf" => self.exif = Some(data.to_vec()),
            b"acTL" => self.frames = be32(data, 0).unwrap_or(1).max(1),
            b"zTXt" | b"iTXt" => {
                if let Some(z) = compressed_text(ty, data).filter(|_| !self.text_bomb) {
                    if miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(
                        z,
                        MAX_INFLATED_METADATA,
                    )
                    .is_err()
                    {
                        self.text_bomb = true;
                        self.findings.push(finding(
                            Severity::Warning,
                            "damaged-metadata",
                            format!("a compressed {name} text chunk does not inflate to a sane size (a decompression bomb, or damaged); browsers ignore it, some tools refuse the file"),
                            Some("strip the metadata (pixpipe build does; or `optipng -strip all FILE`)"),
                        ));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Width, height, bit depth and colour type from IHDR's `data`, if they are valid.
fn png_header(data: &[u8]) -> Result<(u32, u32, u8, u8), Finding> {
    let f = Format::Png;
    if data.len() != 13 {
        return Err(broken(f, "its IHDR chunk has the wrong size"));
    }
    let (w, h, depth, color) = (
        be32(data, 0).unwrap_or(0),
        be32(data, 4).unwrap_or(0),
        data[8],
        data[9],
    );
    let ok = match color {
        0 => matches!(depth, 1 | 2 | 4 | 8 | 16),
        3 => matches!(depth, 1 | 2 | 4 | 8),
        2 | 4 | 6 => matches!(depth, 8 | 16),
        _ => false,
    };
    if !ok {
        return Err(broken(
            f,
            &format!("bit depth {depth} with colour type {color} is not valid"),
        ));
    }
    Ok((w, h, depth, color))
}

/// Read a PNG's chunks up to IEND, each checksum checked: its size, alpha, frames and
/// metadata, or what makes it unreadable; damaged metadata or a missing IEND are findings.
fn png(d: &[u8]) -> Result<Parsed, Finding> {
    let f = Format::Png;
    let mut i = 8;
    let mut chunks = PngChunks {
        ihdr: None,
        plte: false,
        trns: false,
        idat: false,
        iend: false,
        frames: 1,
        icc: false,
        exif: None,
        findings: Vec::new(),
        text_bomb: false,
    };
    while i < d.len() {
        let (Some(len), Some(ty)) = (be32(d, i), d.get(i + 4..i + 8)) else {
            return Err(truncated(f, "it ends inside a chunk header"));
        };
        let len = len as usize;
        if !ty.iter().all(u8::is_ascii_alphabetic) {
            return Err(broken(f, "its chunk structure is damaged"));
        }
        let name = String::from_utf8_lossy(ty).into_owned();
        if i + 12 + len > d.len() || len > 0x7FFF_FFFF {
            return Err(truncated(f, &format!("it ends inside the {name} chunk")));
        }
        let data = &d[i + 8..i + 8 + len];
        let stored = be32(d, i + 8 + len).unwrap_or(0);
        let mut h = crc32fast::Hasher::new();
        h.update(ty);
        h.update(data);
        let critical = ty[0].is_ascii_uppercase();
        if h.finalize() != stored {
            if critical {
                return Err(broken(
                    f,
                    &format!("the checksum (CRC) of its {name} chunk is wrong"),
                ));
            }
            chunks.findings.push(finding(
                Severity::Warning,
                "damaged-metadata",
                format!("the checksum (CRC) of its {name} metadata chunk is wrong; decoders drop that chunk"),
                Some("re-save the image to drop the damaged chunk"),
            ));
        }
        if chunks.ihdr.is_none() && ty != b"IHDR" {
            return Err(broken(f, "its first chunk is not IHDR"));
        }
        if ty == b"IEND" {
            chunks.iend = true;
            break;
        }
        chunks.read(ty, data, &name)?;
        i += 12 + len;
    }
    let Some((w, h, _, color)) = chunks.ihdr else {
        return Err(truncated(f, "it ends before its header"));
    };
    if color == 3 && !chunks.plte {
        return Err(broken(f, "it is a palette image without a palette"));
    }
    if !chunks.idat {
        return Err(broken(f, "it has no image data (IDAT chunk)"));
    }
    if !chunks.iend {
        chunks.findings.push(finding(
            Severity::Warning,
            "damaged-data",
            "PNG has no end chunk (IEND); most decoders show it anyway",
            Some("re-save the image"),
        ));
    }
    let mut inf = info(f, w, h);
    inf.alpha = matches!(color, 4 | 6) || chunks.trns;
    inf.frames = chunks.frames;
    inf.icc = chunks.icc;
    Ok(Parsed {
        info: inf,
        exif: chunks.exif,
        findings: chunks.findings,
    })
}

fn compressed_text<'a>(ty: &[u8], data: &'a [u8]) -> Option<&'a [u8]> {
    let nul = data.iter().position(|&b| b == 0)?;
    if ty == b"zTXt" {
        return data.get(nul + 2..);
    }
    // iTXt: keyword\0 flag method lang\0 translated\0 text
    if *data.get(nul + 1)? != 1 {
        return None;
    }
    let rest = data.get(nul + 3..)?;
    let a = rest.iter().position(|&b| b == 0)?;
    let rest = &rest[a + 1..];
    let b = rest.iter().position(|&b| b == 0)?;
    rest.get(b + 1..)
}

fn skip_sub_blocks(d: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let n = *d.get(i)? as usize;
        i += 1;
        if n == 0 {
            return Some(i);
        }
        i += n;
    }
}

/// The screen a GIF is shown on: its logical screen, enlarged to hold its first frame where
/// that reaches past it, as browsers do (Chromium 156, measured: a first frame past the screen
/// is shown whole, later frames are cut to the screen). Capped at the 65535 pixels a GIF
/// header can say, as `codec::decode` writes it there for the image crate, which decodes on
/// the logical screen alone. `None` before the first frame's descriptor.
pub fn gif_shown_screen(d: &[u8]) -> Option<(u16, u16)> {
    let (w, h, flags) = (le16(d, 6)?, le16(d, 8)?, *d.get(10)?);
    let mut i = 13
        + if flags & 0x80 != 0 {
            3 << ((flags & 7) + 1)
        } else {
            0
        };
    while *d.get(i)? == 0x21 {
        i = skip_sub_blocks(d, i + 2)?;
    }
    if *d.get(i)? != 0x2C {
        return None;
    }
    let (left, top, fw, fh) = (
        le16(d, i + 1)?,
        le16(d, i + 3)?,
        le16(d, i + 5)?,
        le16(d, i + 7)?,
    );
    let reach = |at: u16, size: u16| (at as u32 + size as u32).min(0xFFFF) as u16;
    Some((w.max(reach(left, fw)), h.max(reach(top, fh))))
}

fn gif(d: &[u8]) -> Result<Parsed, Finding> {
    let f = Format::Gif;
    let (Some(w), Some(h), Some(&flags)) = (le16(d, 6), le16(d, 8), d.get(10)) else {
        return Err(truncated(f, "it ends inside its header"));
    };
    if w == 0 || h == 0 {
        // Zero canvas: report the declared size; the caller flags it.
        return Ok(Parsed {
            info: info(f, w as u32, h as u32),
            exif: None,
            findings: vec![],
        });
    }
    let mut i = 13
        + if flags & 0x80 != 0 {
            3 << ((flags & 7) + 1)
        } else {
            0
        };
    let mut frames = 0;
    let mut damage: Option<Finding> = None;
    let mut alpha = false;
    loop {
        let Some(&b) = d.get(i) else {
            if frames == 0 {
                return Err(truncated(f, "it ends before its first frame"));
            }
            break;
        };
        match b {
            0x21 => {
                if d.get(i + 1) == Some(&0xF9) && d.get(i + 3).is_some_and(|p| p & 1 != 0) {
                    alpha = true;
                }
                match skip_sub_blocks(d, i + 2) {
                    Some(n) => i = n,
                    None if frames > 0 => break,
                    None => return Err(truncated(f, "it ends inside an extension block")),
                }
            }
            0x2C => {
                let Some(&ff) = d.get(i + 9) else {
                    return Err(truncated(f, "it ends inside a frame header"));
                };
                i += 10
                    + if ff & 0x80 != 0 {
                        3 << ((ff & 7) + 1)
                    } else {
                        0
                    };
                frames += 1;
                match skip_sub_blocks(d, i + 1) {
                    Some(n) => i = n,
                    None => {
                        // Reported unless the frame is too large to decode anyway.
                        damage = Some(truncated(f, "its image data ends early"));
                        break;
                    }
                }
            }
            0x3B => break,
            _ => {
                if frames == 0 {
                    return Err(broken(f, "its block structure is damaged"));
                }
                break;
            }
        }
    }
    if frames == 0 {
        return Err(broken(f, "it has no frame"));
    }
    let (shown_w, shown_h) = gif_shown_screen(d).unwrap_or((w, h));
    let mut inf = info(f, shown_w as u32, shown_h as u32);
    inf.frames = frames;
    inf.alpha = alpha;
    Ok(Parsed {
        info: inf,
        exif: None,
        findings: damage.into_iter().collect(),
    })
}

fn webp(d: &[u8]) -> Result<Parsed, Finding> {
    let f = Format::WebP;
    let riff = le32(d, 4).unwrap_or(0) as usize + 8;
    if riff > d.len() {
        return Err(truncated(f, "it is shorter than its RIFF header says"));
    }
    let end = riff.min(d.len());
    // The extended format starts with VP8X, which gives the canvas; a simple file is its one
    // VP8 or VP8L chunk, and decoders ignore what follows it.
    let extended = d.get(12..16) == Some(&b"VP8X"[..]);
    let mut i = 12;
    let mut size = None;
    let mut alpha = false;
    let mut frames = 0u32;
    let mut icc = false;
    let mut exif = None;
    while i + 8 <= end {
        let ty = &d[i..i + 4];
        let len = le32(d, i + 4).unwrap_or(0) as usize;
        let data_start = i + 8;
        if data_start + len > end {
            return Err(truncated(
                f,
                &format!("it ends inside the {} chunk", String::from_utf8_lossy(ty)),
            ));
        }
        let data = &d[data_start..data_start + len];
        match ty {
            // Chromium refuses a file with a second VP8X, even one of the same bytes
            // (measured, Chromium 156); a simple file's is ignored, as what follows its image.
            b"VP8X" if i > 12 && extended => {
                return Err(broken(f, "its VP8X header chunk is repeated"));
            }
            b"VP8X" if !extended => {}
            b"VP8X" if len >= 10 => {
                alpha |= data[0] & 0x10 != 0;
                size = Some((
                    le24(data, 4).unwrap_or(0) + 1,
                    le24(data, 7).unwrap_or(0) + 1,
                ));
            }
            b"VP8 " => {
                if len < 10 || data[3..6] != [0x9D, 0x01, 0x2A] {
                    return Err(broken(f, "its VP8 frame header is damaged"));
                }
                size.get_or_insert((
                    (le16(data, 6).unwrap_or(0) & 0x3FFF) as u32,
                    (le16(data, 8).unwrap_or(0) & 0x3FFF) as u32,
                ));
            }
            b"VP8L" => {
                if len < 5 || data[0] != 0x2F {
                    return Err(broken(f, "its lossless header is damaged"));
                }
                let b = le32(data, 1).unwrap_or(0);
                alpha |= (b >> 28) & 1 != 0;
                size.get_or_insert(((b & 0x3FFF) + 1, ((b >> 14) & 0x3FFF) + 1));
            }
            b"ALPH" => alpha = true,
            b"ANMF" => frames += 1,
            b"ICCP" => icc = true,
            b"EXIF" => exif = Some(data.strip_prefix(b"Exif\0\0").unwrap_or(data).to_vec()),
            _ => {}
        }
        i = data_start + len + (len & 1);
    }
    let Some((w, h)) = size else {
        return Err(broken(f, "it has no image chunk"));
    };
    let mut inf = info(f, w, h);
    inf.alpha = alpha;
    inf.frames = frames.max(1);
    inf.icc = icc;
    Ok(Parsed {
        info: inf,
        exif,
        findings: vec![],
    })
}

fn isobmff(d: &[u8], f: Format) -> Result<Parsed, Finding> {
    // The primary item's `ispe` (image spatial extents) box: version/flags, width, height.
    let pos =
        memchr::memmem::find(d, b"ispe").ok_or_else(|| broken(f, "it has no image size box"))?;
    let (w, h) = (
        be32(d, pos + 8).unwrap_or(0),
        be32(d, pos + 12).unwrap_or(0),
    );
    Ok(Parsed {
        info: info(f, w, h),
        exif: None,
        findings: vec![],
    })
}

/// An AVIF's header through libavif: size, alpha, ICC profile, and `irot`/`imir` as the
/// orientation. A header libavif refuses is still sized from its `ispe` box when it has one,
/// so that a decompression bomb is called too large rather than damaged.
fn avif(d: &[u8]) -> Result<Parsed, Finding> {
    match crate::avif::probe(d) {
        Ok(h) => {
            let mut i = info(Format::Avif, h.width, h.height);
            i.frames = h.frames;
            i.alpha = h.alpha;
            i.icc = h.icc;
            i.orientation = h.orientation as u8;
            Ok(Parsed {
                info: i,
                exif: None,
                findings: vec![],
            })
        }
        Err(e) => match isobmff(d, Format::Avif) {
            // Over libavif's own limit: `probe_bytes` says it is too large.
            Ok(p) if p.info.pixels() > 16_384 * 16_384 => Ok(p),
            _ => Err(broken(Format::Avif, &e)),
        },
    }
}

fn via_image_crate(d: &[u8], f: Format) -> Result<Parsed, Finding> {
    let fmt = f.image_format().ok_or_else(|| broken(f, "unsupported"))?;
    let (w, h) = image::ImageReader::with_format(Cursor::new(d), fmt)
        .into_dimensions()
        .map_err(|e| broken(f, &e.to_string()))?;
    Ok(Parsed {
        info: info(f, w, h),
        exif: None,
        findings: vec![],
    })
}

fn svg(d: &[u8]) -> Result<Parsed, Finding> {
    let text = String::from_utf8_lossy(&d[..d.len().min(64 * 1024)]);
    let start = text
        .find("<svg")
        .ok_or_else(|| broken(Format::Svg, "it has no <svg> element"))?;
    let end = text[start..]
        .find('>')
        .map(|e| start + e)
        .unwrap_or(text.len());
    let tag = &text[start..end];
    let attr = |name: &str| -> Option<String> {
        let mut from = 0;
        while let Some(p) = tag[from..].find(name) {
            let at = from + p;
            let before = tag[..at].chars().last();
            let rest = tag[at + name.len()..].trim_start();
            if before.is_some_and(char::is_whitespace) && rest.starts_with('=') {
                let rest = rest[1..].trim_start();
                let q = rest.chars().next()?;
                if q == '"' || q == '\'' {
                    return rest[1..].split(q).next().map(str::to_string);
                }
            }
            from = at + name.len();
        }
        None
    };
    let px = |v: Option<String>| -> Option<f64> {
        let v = v?;
        let v = v.trim().trim_end_matches("px");
        v.parse::<f64>().ok().filter(|x| *x > 0.0)
    };
    let (mut w, mut h) = (px(attr("width")), px(attr("height")));
    if w.is_none() || h.is_none() {
        if let Some(vb) = attr("viewBox") {
            let n: Vec<f64> = vb
                .split([' ', ','])
                .filter_map(|x| x.parse().ok())
                .collect();
            if n.len() == 4 && n[2] > 0.0 && n[3] > 0.0 {
                match (w, h) {
                    (Some(ww), None) => h = Some(ww * n[3] / n[2]),
                    (None, Some(hh)) => w = Some(hh * n[2] / n[3]),
                    _ => {
                        w = Some(n[2]);
                        h = Some(n[3]);
                    }
                }
            }
        }
    }
    let (w, h) = (
        w.unwrap_or(0.0).round() as u32,
        h.unwrap_or(0.0).round() as u32,
    );
    let mut inf = info(Format::Svg, w, h);
    inf.alpha = true;
    Ok(Parsed {
        info: inf,
        exif: None,
        findings: vec![],
    })
}

/// Orientation (1–8) and whether GPS coordinates are present, from EXIF (TIFF) bytes.
pub fn read_exif(tiff: Vec<u8>) -> Result<(u8, bool), String> {
    let exif = exif::Reader::new()
        .read_raw(tiff)
        .map_err(|e| e.to_string())?;
    let orientation = exif
        .get_field(exif::Tag::Orientation, exif::In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .filter(|o| (1..=8).contains(o))
        .unwrap_or(1) as u8;
    let gps = exif.fields().any(|f| {
        matches!(f.tag, exif::Tag::GPSLatitude | exif::Tag::GPSLongitude)
            && match &f.value {
                exif::Value::Rational(v) => v.iter().any(|r| r.num != 0),
                _ => true,
            }
    });
    Ok((orientation, gps))
}

thread_local! {
    /// Each worker reads every file into the same buffer: a fresh one per file would leave
    /// the allocator holding as much as the files' sum, at the start of a build that then
    /// needs the memory for pixels.
    static READ: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn read_into(path: &Path, buf: &mut Vec<u8>) -> std::io::Result<()> {
    use std::io::Read;
    buf.clear();
    std::fs::File::open(path)?.read_to_end(buf).map(|_| ())
}

/// Probe the files at site-relative `paths` under `root`, in parallel; results by path.
pub fn probe_files(root: &Path, paths: &[String], opts: ProbeOptions) -> BTreeMap<String, Probe> {
    probe_files_with(root, paths, opts, &mut ProbeMemo::default())
}

/// Probes kept between the builds of one process (`--watch`): a file whose [`Stamp`] is as
/// it was is not read again.
#[derive(Debug, Default)]
pub struct ProbeMemo {
    /// What the probes were made with (`max_pixels`, `deep`).
    made_with: Option<(u64, bool)>,
    probes: std::collections::HashMap<PathBuf, (Stamp, Probe)>,
}

/// [`probe_files`], taking what `memo` knows and leaving it what this call found.
pub fn probe_files_with(
    root: &Path,
    paths: &[String],
    opts: ProbeOptions,
    memo: &mut ProbeMemo,
) -> BTreeMap<String, Probe> {
    let made_with = Some((opts.max_pixels, opts.deep));
    let known = if memo.made_with == made_with {
        std::mem::take(&mut memo.probes)
    } else {
        Default::default()
    };
    // Each probe, and its file's stamp when the probe can stand for the file until it changes.
    type Stamped = (String, Probe, Option<(PathBuf, Stamp)>);
    let probes: Vec<Stamped> = paths
        .par_iter()
        .map(|rel| {
            let path = root.join(rel);
            // Looked at before the file is read: a change during the read moves the stamp.
            let looked = std::time::SystemTime::now();
            let stamp = Stamp::read(&path);
            if let Some((was, p)) = stamp.and_then(|s| known.get(&path).filter(|k| k.0 == s)) {
                return (rel.clone(), p.clone(), Some((path, *was)));
            }
            let p = probe_path(&path, crate::site_path::file_name(rel), opts);
            let keep = stamp.filter(|s| s.settled(looked)).map(|s| (path, s));
            (rel.clone(), p, keep)
        })
        .collect();
    rayon::broadcast(|_| READ.with(|b| *b.borrow_mut() = Vec::new()));
    memo.made_with = made_with;
    memo.probes = probes
        .iter()
        .filter_map(|(_, p, keep)| keep.clone().map(|(path, s)| (path, (s, p.clone()))))
        .collect();
    probes.into_iter().map(|(rel, p, _)| (rel, p)).collect()
}

/// Read and probe the file at `path`, named `name`.
fn probe_path(path: &Path, name: &str, opts: ProbeOptions) -> Probe {
    let read = READ.with(|b| {
        let mut buf = b.borrow_mut();
        read_into(path, &mut buf).map(|()| probe_bytes(name, &buf, opts))
    });
    match read {
        Ok(probe) => probe,
        Err(e) => Probe {
            bytes: 0,
            info: None,
            findings: vec![finding(
                Severity::Error,
                "undecodable",
                format!("cannot read the file: {e}"),
                None,
            )],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, RgbImage};

    const OPTS: ProbeOptions = ProbeOptions {
        max_pixels: crate::config::DEFAULT_MAX_PIXELS,
        deep: false,
        decoder: None,
    };

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
            .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    fn codes(p: &Probe) -> Vec<&'static str> {
        p.findings.iter().map(|f| f.code).collect()
    }

    #[test]
    fn good_files_have_sizes_and_no_findings() {
        let p = probe_bytes("a.jpg", &jpeg(64, 48), OPTS);
        assert_eq!(codes(&p), Vec::<&str>::new());
        assert_eq!(p.info.as_ref().unwrap().display_size(), (64, 48));
        let p = probe_bytes("a.png", &png(30, 20), OPTS);
        assert_eq!(codes(&p), Vec::<&str>::new());
        assert_eq!(
            (p.info.as_ref().unwrap().width, p.info.unwrap().height),
            (30, 20)
        );
    }

    #[test]
    fn a_progressive_jpeg_counts_its_coefficient_buffer() {
        let img = RgbImage::from_fn(1601, 1200, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let encode = |progressive: bool| {
            let mut c = turbojpeg::Compressor::new().unwrap();
            c.set_subsamp(turbojpeg::Subsamp::Sub2x2).unwrap();
            c.set_progressive(progressive).unwrap();
            c.compress_to_vec(turbojpeg::Image {
                pixels: img.as_raw().as_slice(),
                width: 1601,
                pitch: 1601 * 3,
                height: 1200,
                format: turbojpeg::PixelFormat::RGB,
            })
            .unwrap()
        };
        let baseline = probe_bytes("a.jpg", &encode(false), OPTS).info.unwrap();
        assert_eq!(baseline.coefficient_bytes, 0);
        let progressive = probe_bytes("a.jpg", &encode(true), OPTS).info.unwrap();
        // 4:2:0 in whole 16x16 MCUs: 101 x 75 of them, 6 blocks each, 128 bytes a block.
        assert_eq!(progressive.coefficient_bytes, 101 * 75 * 6 * 128);
        assert!(!baseline.cmyk && !progressive.cmyk);
    }

    #[test]
    fn a_four_component_jpeg_is_known_as_cmyk() {
        let pixels: Vec<u8> = (0..64 * 48 * 4).map(|i| (i * 7) as u8).collect();
        let mut c = turbojpeg::Compressor::new().unwrap();
        c.set_subsamp(turbojpeg::Subsamp::None).unwrap();
        let cmyk = c
            .compress_to_vec(turbojpeg::Image {
                pixels: pixels.as_slice(),
                width: 64,
                pitch: 64 * 4,
                height: 48,
                format: turbojpeg::PixelFormat::CMYK,
            })
            .unwrap();
        let info = probe_bytes("a.jpg", &cmyk, OPTS).info.unwrap();
        assert!(info.cmyk);
        assert_eq!((info.width, info.height), (64, 48));
    }

    #[test]
    fn truncated_files_are_undecodable() {
        let j = jpeg(64, 48);
        let p = probe_bytes("a.jpg", &j[..j.len() - 40], OPTS);
        assert_eq!(codes(&p), vec!["undecodable"]);
        assert!(
            p.findings[0].message.starts_with("JPEG image is truncated"),
            "{}",
            p.findings[0].message
        );
        let g = png(30, 20);
        let p = probe_bytes("a.png", &g[..g.len() - 20], OPTS);
        assert_eq!(codes(&p), vec!["undecodable"]);
        assert_eq!(
            p.findings[0].message,
            "PNG image is truncated: it ends inside the IDAT chunk"
        );
    }

    #[test]
    fn png_crc_error_in_a_critical_chunk() {
        let mut g = png(8, 8);
        let idat = g.windows(4).position(|w| w == b"IDAT").unwrap();
        g[idat + 5] ^= 0xFF;
        let p = probe_bytes("a.png", &g, OPTS);
        assert_eq!(
            p.findings[0].message,
            "not a readable PNG image: the checksum (CRC) of its IDAT chunk is wrong"
        );
    }

    #[test]
    fn empty_misnamed_and_unknown() {
        assert_eq!(
            probe_bytes("e.jpg", b"", OPTS).findings[0].message,
            "file is empty (0 bytes)"
        );
        let p = probe_bytes("photo.jpg", &png(4, 4), OPTS);
        assert_eq!(codes(&p), vec!["wrong-extension"]);
        assert_eq!(
            p.findings[0].help.as_deref(),
            Some("rename it to photo.png and update its references")
        );
        assert_eq!(
            codes(&probe_bytes("x.png", b"hello world", OPTS)),
            vec!["undecodable"]
        );
    }

    #[test]
    fn a_bomb_is_refused_from_its_header() {
        // 65535x65535 PNG header with a tiny IDAT: never allocated.
        let mut g = png(1, 1);
        g[16..20].copy_from_slice(&65535u32.to_be_bytes());
        g[20..24].copy_from_slice(&65535u32.to_be_bytes());
        let crc = crc32fast::hash(&g[12..29]);
        g[29..33].copy_from_slice(&crc.to_be_bytes());
        let p = probe_bytes("bomb.png", &g, ProbeOptions { deep: true, ..OPTS });
        assert_eq!(codes(&p), vec!["too-large"]);
        assert_eq!(
            p.findings[0].message,
            "image is 65535x65535 (4294 megapixels), over the limit of 268 megapixels"
        );
    }

    #[test]
    fn an_avif_is_read_by_libavif_and_an_avif_bomb_refused_from_its_header() {
        let px: Vec<u8> = (0..64 * 48 * 4).map(|i| (i % 251) as u8).collect();
        let a = crate::avif::encode(&px, (64, 48, 4), 60, 9, None).unwrap();
        let p = probe_bytes("a.avif", &a, ProbeOptions { deep: true, ..OPTS });
        assert_eq!(codes(&p), Vec::<&str>::new());
        let info = p.info.unwrap();
        assert_eq!((info.width, info.height, info.alpha), (64, 48, true));
        // Its size box says 100,000 x 100,000: libavif refuses it, the box is read.
        let mut bomb = a.clone();
        let at = memchr::memmem::find(&bomb, b"ispe").unwrap();
        bomb[at + 8..at + 12].copy_from_slice(&100_000u32.to_be_bytes());
        bomb[at + 12..at + 16].copy_from_slice(&100_000u32.to_be_bytes());
        let p = probe_bytes("bomb.avif", &bomb, ProbeOptions { deep: true, ..OPTS });
        assert_eq!(codes(&p), vec!["too-large"]);
        // Cut short: an error from the header alone, without decoding.
        let p = probe_bytes("cut.avif", &a[..a.len() - 10], OPTS);
        assert_eq!(codes(&p), vec!["undecodable"]);
        assert!(
            p.findings[0]
                .message
                .starts_with("not a readable AVIF image: the file is cut short ("),
            "{}",
            p.findings[0].message
        );
    }

    #[test]
    fn svg_size_from_attributes_or_view_box() {
        let p = probe_bytes(
            "a.svg",
            br#"<?xml version="1.0"?><svg xmlns="x" viewBox="0 0 400 300"></svg>"#,
            OPTS,
        );
        assert_eq!(p.info.unwrap().display_size(), (400, 300));
        let p = probe_bytes(
            "a.svg",
            br#"<svg width="200px" viewBox="0 0 400 300">"#,
            OPTS,
        );
        assert_eq!(p.info.unwrap().display_size(), (200, 150));
    }
}
