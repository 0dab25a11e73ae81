//! Resize, orient and colour-convert pixels: bytes in, bytes out.
//!
//! fast_image_resize (SIMD, Lanczos3) does the resizing; alpha is premultiplied while resizing
//! so edges get no dark fringe. fast_image_resize's rayon feature is off: pixpipe parallelises
//! across images, and nested pools oversubscribe the cores. Orientation is applied to each
//! output, which is much smaller than the source. Embedded ICC profiles are converted to sRGB
//! with moxcms, after resizing, for the same reason.

use super::codec::Pixels;
use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

/// Resize `src` to `w` x `h`.
pub fn resize(src: &Pixels, w: u32, h: u32) -> Result<Pixels, String> {
    if (src.width, src.height) == (w, h) {
        return Ok(src.clone());
    }
    let pt = if src.channels == 4 {
        PixelType::U8x4
    } else {
        PixelType::U8x3
    };
    // Borrow the source: a copy of a full-size decode costs a memcpy and fresh pages.
    let from = ImageRef::new(src.width, src.height, &src.data, pt).map_err(|e| e.to_string())?;
    let mut to = Image::new(w, h, pt);
    let opts = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .use_alpha(src.channels == 4);
    Resizer::new()
        .resize(&from, &mut to, &opts)
        .map_err(|e| e.to_string())?;
    Ok(Pixels {
        width: w,
        height: h,
        channels: src.channels,
        data: to.into_vec(),
    })
}

/// Apply EXIF orientation `o` (1–8): the result is upright.
pub fn orient(p: Pixels, o: u8) -> Pixels {
    if o <= 1 || o > 8 {
        return p;
    }
    let orientation = image::metadata::Orientation::from_exif(o)
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = if p.channels == 4 {
        image::DynamicImage::ImageRgba8(
            image::RgbaImage::from_raw(p.width, p.height, p.data).unwrap_or_default(),
        )
    } else {
        image::DynamicImage::ImageRgb8(
            image::RgbImage::from_raw(p.width, p.height, p.data).unwrap_or_default(),
        )
    };
    img.apply_orientation(orientation);
    let (width, height) = (img.width(), img.height());
    let data = if p.channels == 4 {
        img.into_rgba8().into_raw()
    } else {
        img.into_rgb8().into_raw()
    };
    Pixels {
        width,
        height,
        channels: p.channels,
        data,
    }
}

/// A transform from an embedded ICC profile to sRGB, or `None` when the profile is sRGB
/// already, not RGB, or unreadable (then the pixels are used as they are, as browsers do).
pub struct ToSrgb {
    rgb: std::sync::Arc<moxcms::Transform8BitExecutor>,
    rgba: std::sync::Arc<moxcms::Transform8BitExecutor>,
}

impl ToSrgb {
    /// Build the transform for `icc`.
    pub fn new(icc: &[u8]) -> Option<ToSrgb> {
        let src = moxcms::ColorProfile::new_from_slice(icc).ok()?;
        if src.color_space != moxcms::DataColorSpace::Rgb {
            return None;
        }
        if format!("{:?}", src.description).contains("sRGB") {
            return None;
        }
        let dst = moxcms::ColorProfile::new_srgb();
        let opts = moxcms::TransformOptions::default();
        let rgb = src
            .create_transform_8bit(moxcms::Layout::Rgb, &dst, moxcms::Layout::Rgb, opts)
            .ok()?;
        let rgba = src
            .create_transform_8bit(moxcms::Layout::Rgba, &dst, moxcms::Layout::Rgba, opts)
            .ok()?;
        Some(ToSrgb { rgb, rgba })
    }

    /// Convert `p` in place.
    pub fn apply(&self, p: &mut Pixels) -> Result<(), String> {
        let mut out = vec![0u8; p.data.len()];
        let t = if p.channels == 4 {
            &self.rgba
        } else {
            &self.rgb
        };
        t.transform(&p.data, &mut out).map_err(|e| e.to_string())?;
        p.data = out;
        Ok(())
    }
}
