//! Plan: decide every output image and every reference's variants, before any pixel is touched.
//!
//! Pure: it takes the inventory (references and their files) and the probes, and returns the
//! jobs. Nothing here reads files or decodes. Widths follow the page: a declared `640` or `40%`
//! of `content_width` (the whole column when nothing is declared), capped at the image's own
//! width, times each density; a width above the source's is never made (the source width is
//! used once instead).

use crate::config::Config;
use crate::declared::{parse_width, DeclaredWidth};
use crate::inventory::{Inventory, Reference};
use crate::layout::ladder;
use crate::probe::{Format, ImageInfo, Probe};
use crate::resolve::Resolution;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

// A `Variant`'s format, and what `build`, `cache` and `process` name as `plan::OutFormat`.
pub use crate::format::OutFormat;

/// One output to make from a source: a width in one format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Variant {
    /// Width in pixels (displayed orientation).
    pub width: u32,
    /// Height in pixels (displayed orientation).
    pub height: u32,
    /// Format.
    pub format: OutFormat,
    /// Encoder quality (0 for lossless).
    pub quality: u8,
    /// Encoder effort: libwebp's method for WebP; for PNG 1 when a palette may replace the
    /// colours (`png: {palette: auto}`); 0 for JPEG.
    pub effort: u8,
}

/// What happens to one source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Treatment {
    /// Decode once, make every variant.
    Resize(Vec<Variant>),
    /// Animated images and SVG: published as they are, under a hashed name.
    Copy,
}

/// One source file and everything made from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePlan {
    /// Site-relative path.
    pub path: String,
    /// What the probe saw.
    pub info: ImageInfo,
    /// What to do.
    pub treatment: Treatment,
}

/// One reference and the variants it will point at.
#[derive(Debug, Clone, PartialEq)]
pub struct Use {
    /// Index into `Inventory::refs`.
    pub reference: usize,
    /// The source file.
    pub source: String,
    /// CSS width the page shows it at on a wide screen (after capping at the image's width).
    pub css_width: u32,
    /// The pixel width of its 1x output (`css_width`, or the image's own width when smaller).
    pub one_x: u32,
    /// Widths made for it, ascending: `css_width` times each density, and the widths smaller
    /// screens need (`layout::ladder`).
    pub widths: Vec<u32>,
    /// The `sizes` attribute that tells a browser how wide the page shows it on any screen.
    pub sizes: String,
    /// The format its `src` points at.
    pub primary: OutFormat,
    /// All formats made for it, primary first.
    pub formats: Vec<OutFormat>,
}

/// The whole build, decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Sources by site-relative path.
    pub sources: BTreeMap<String, SourcePlan>,
    /// Uses, in reference order.
    pub uses: Vec<Use>,
}

impl Plan {
    /// Number of variants to make.
    pub fn variant_count(&self) -> usize {
        self.sources
            .values()
            .map(|s| match &s.treatment {
                Treatment::Resize(v) => v.len(),
                Treatment::Copy => 1,
            })
            .sum()
    }

    /// How many uses each source has.
    pub fn use_counts(&self) -> BTreeMap<&str, u32> {
        let mut n = BTreeMap::new();
        for u in &self.uses {
            *n.entry(u.source.as_str()).or_insert(0) += 1;
        }
        n
    }
}

/// The width a reference declares, if it can be read.
fn declared(r: &Reference) -> Option<DeclaredWidth> {
    r.image.width.as_ref().and_then(|w| parse_width(&w.text))
}

/// The CSS width a reference shows its image at on a wide screen, before capping.
pub fn css_width(r: &Reference, config: &Config) -> u32 {
    let w = match declared(r) {
        Some(DeclaredWidth::Px(px)) => px,
        Some(DeclaredWidth::Percent(pc)) => pc * config.content_width as f64 / 100.0,
        None => config.content_width as f64,
    };
    w.round().max(1.0) as u32
}

/// Pixel widths for `css` CSS pixels at each density, never above `source_width`.
pub fn widths_for(css: u32, densities: &[f64], source_width: u32) -> Vec<u32> {
    let mut out = BTreeSet::new();
    for d in densities {
        let w = (css as f64 * d).round() as u32;
        if w <= source_width {
            out.insert(w.max(1));
        } else {
            // Never upscale: the full source width serves every larger density once.
            out.insert(source_width);
        }
    }
    out.into_iter().collect()
}

/// The formats made for a source, primary first.
pub fn formats_for(info: &ImageInfo, config: &Config) -> Vec<OutFormat> {
    let family = if info.alpha || info.format == Format::Png || info.format == Format::Gif {
        OutFormat::Png
    } else {
        OutFormat::Jpeg
    };
    let mut out = Vec::new();
    for f in &config.formats {
        let fmt = match f.as_str() {
            "auto" => family,
            "jpeg" if info.alpha => OutFormat::Png,
            "jpeg" => OutFormat::Jpeg,
            "png" => OutFormat::Png,
            "avif" => OutFormat::Avif,
            _ => OutFormat::Webp,
        };
        if !out.contains(&fmt) {
            out.push(fmt);
        }
    }
    // AVIF is never the primary format (the `<img>`, what a page names alone) unless it is
    // the only one: Safari shows it only from 16.4.
    out.sort_by_key(|f| *f == OutFormat::Avif);
    out
}

impl Variant {
    /// A `width`x`height` output in `format`, encoded as `config` says.
    pub fn new(width: u32, height: u32, format: OutFormat, config: &Config) -> Variant {
        Variant {
            width,
            height,
            format,
            quality: config.quality_of(format),
            effort: config.effort_of(format),
        }
    }
}

/// Plan every output for the references of `inv`. References to files that are missing,
/// broken, remote, or not raster images pixpipe can resize get no use (they stay as written).
pub fn plan(inv: &Inventory, probes: &BTreeMap<String, Probe>, config: &Config) -> Plan {
    let mut plan = Plan::default();
    let mut variants: BTreeMap<String, BTreeSet<Variant>> = BTreeMap::new();
    for (i, r) in inv.refs.iter().enumerate() {
        let Resolution::Found { path, .. } = &r.resolution else {
            continue;
        };
        let Some(probe) = probes.get(path) else {
            continue;
        };
        if probe.is_broken() {
            continue;
        }
        let Some(info) = &probe.info else { continue };
        let copy = info.format == Format::Svg || info.frames > 1;
        if copy {
            plan.sources
                .entry(path.clone())
                .or_insert_with(|| SourcePlan {
                    path: path.clone(),
                    info: info.clone(),
                    treatment: Treatment::Copy,
                });
            continue;
        }
        if !info.format.is_raster_web() {
            continue;
        }
        let (dw, dh) = info.display_size();
        let css = css_width(r, config).min(dw);
        let fixed = widths_for(css, &config.densities, dw);
        let column = config.column();
        let widths = ladder(column, declared(r), css, &config.screens, &fixed, dw);
        let formats = formats_for(info, config);
        let set = variants.entry(path.clone()).or_default();
        for &w in &widths {
            let h = ((w as f64 * dh as f64 / dw as f64).round() as u32).max(1);
            // A size a format cannot hold is not made in it (a tall strip has no WebP).
            for &f in formats.iter().filter(|f| f.fits(w, h)) {
                set.insert(Variant::new(w, h, f, config));
            }
        }
        plan.sources
            .entry(path.clone())
            .or_insert_with(|| SourcePlan {
                path: path.clone(),
                info: info.clone(),
                treatment: Treatment::Resize(Vec::new()),
            });
        plan.uses.push(Use {
            reference: i,
            source: path.clone(),
            css_width: css,
            one_x: fixed
                .iter()
                .copied()
                .find(|&w| w >= css)
                .unwrap_or(fixed[fixed.len() - 1]),
            widths,
            sizes: column.sizes(declared(r), css),
            primary: formats[0],
            formats,
        });
    }
    for (path, set) in variants {
        if let Some(s) = plan.sources.get_mut(&path) {
            s.treatment = Treatment::Resize(set.into_iter().collect());
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_upscale_the_source_width_is_used_once() {
        assert_eq!(widths_for(900, &[1.0, 2.0], 1600), vec![900, 1600]);
        assert_eq!(widths_for(480, &[1.0, 2.0], 4000), vec![480, 960]);
        assert_eq!(widths_for(1200, &[1.0, 2.0, 3.0], 1000), vec![1000]);
    }

    #[test]
    fn formats_follow_the_source_family() {
        let mut info = ImageInfo::plain(Format::Jpeg, 10, 10);
        let c = Config::default();
        assert_eq!(
            formats_for(&info, &c),
            vec![OutFormat::Jpeg, OutFormat::Webp]
        );
        info.format = Format::Png;
        assert_eq!(
            formats_for(&info, &c),
            vec![OutFormat::Png, OutFormat::Webp]
        );
        info.format = Format::WebP;
        info.alpha = true;
        assert_eq!(
            formats_for(&info, &c),
            vec![OutFormat::Png, OutFormat::Webp]
        );
        // AVIF is never the primary format unless it is the only one.
        let mut c = Config {
            formats: vec!["avif".into(), "webp".into(), "auto".into()],
            ..Config::default()
        };
        assert_eq!(
            formats_for(&info, &c),
            vec![OutFormat::Webp, OutFormat::Png, OutFormat::Avif]
        );
        c.formats = vec!["avif".into()];
        assert_eq!(formats_for(&info, &c), vec![OutFormat::Avif]);
    }
}
