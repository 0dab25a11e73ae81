//! Resize, orient and colour-convert pixels: bytes in, bytes out.
//!
//! fast_image_resize (SIMD convolution) does the resizing: Catmull-Rom for reductions of less
//! than 2x, Lanczos3 for larger ones (see `filter_for`); alpha is premultiplied while resizing
//! so edges get no dark fringe. fast_image_resize's rayon feature is off: pixpipe parallelises
//! across images, and nested pools oversubscribe the cores. Orientation is applied to each
//! output, which is much smaller than the source. Embedded ICC profiles are converted to sRGB
//! with moxcms, after resizing, for the same reason.

use super::pixels::Pixels;
use super::scratch;
use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

/// Resize `src` to `w` x `h`. The result's buffer comes from this thread's `scratch`.
pub fn resize(src: &Pixels, w: u32, h: u32) -> Result<Pixels, String> {
    if (src.width, src.height) == (w, h) {
        let mut data = scratch::take(src.data.len());
        data.copy_from_slice(&src.data);
        return Ok(Pixels { data, ..*src });
    }
    let pt = if src.channels == 4 {
        PixelType::U8x4
    } else {
        PixelType::U8x3
    };
    // Borrow the source: a copy of a full-size decode costs a memcpy and fresh pages.
    let from = ImageRef::new(src.width, src.height, &src.data, pt).map_err(|e| e.to_string())?;
    let buf = scratch::take(w as usize * h as usize * src.channels as usize);
    let mut to = Image::from_vec_u8(w, h, buf, pt).map_err(|e| e.to_string())?;
    let opts = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(filter_for(
            src.width, src.height, w, h,
        )))
        .use_alpha(src.channels == 4);
    // One resizer per worker: it keeps its intermediate buffer from step to step.
    RESIZER
        .with(|r| r.borrow_mut().resize(&from, &mut to, &opts))
        .map_err(|e| e.to_string())?;
    Ok(Pixels {
        width: w,
        height: h,
        channels: src.channels,
        data: to.into_vec(),
    })
}

thread_local! {
    static RESIZER: std::cell::RefCell<Resizer> = std::cell::RefCell::new(Resizer::new());
}

/// Free this thread's resizer's intermediate buffers.
pub(super) fn release() {
    RESIZER.with(|r| r.borrow_mut().reset_internal_buffers());
}

/// The filter for a reduction from `sw` x `sh` to `w` x `h`. Lanczos3's wide negative lobes pay
/// off when many source pixels fall into one output pixel; for a small reduction (a 3264 px
/// photo to 1920) they only add ringing that costs bytes. Measured on the 32 bench photos
/// (widths 480/960/1920, q80), when a JPEG's DCT-scaled decode could still be reduced by less
/// than 2x: Catmull-Rom below 2x and Lanczos3 above gave 25.68 MB at mean DSSIM 0.00142,
/// Lanczos3 everywhere 26.23 MB at 0.00140. (A DCT-scaled decode now always leaves 1.5x or
/// more: see `codec::dct_denominator`.)
pub fn filter_for(sw: u32, sh: u32, w: u32, h: u32) -> FilterType {
    let ratio = (sw as f64 / w.max(1) as f64).max(sh as f64 / h.max(1) as f64);
    if ratio < 2.0 {
        FilterType::CatmullRom
    } else {
        FilterType::Lanczos3
    }
}

/// Apply EXIF orientation `o` (1–8): the result is upright. Flips and the half turn are done
/// in place; quarter turns write into a `scratch` buffer and give the old one back. Pixels to
/// turn whose buffer does not hold `width` x `height` x `channels` bytes are an error (one
/// of pixpipe's: the decoders and the resizer always give whole RGB or RGBA buffers).
pub fn orient(p: Pixels, o: u8) -> Result<Pixels, String> {
    if o <= 1 || o > 8 {
        return Ok(p);
    }
    let (w, h, channels) = (p.width, p.height, p.channels);
    if p.data.len() != w as usize * h as usize * channels as usize {
        return Err(format!(
            "internal error: a {w}x{h} image with {channels} channels has {} bytes of pixels \
             (please report it)",
            p.data.len()
        ));
    }
    let data = match channels {
        4 => orient_as::<image::Rgba<u8>>(w, h, p.data, o),
        3 => orient_as::<image::Rgb<u8>>(w, h, p.data, o),
        _ => None,
    }
    .ok_or_else(|| {
        format!("internal error: cannot turn a {w}x{h} image with {channels} channels")
    })?;
    let (width, height) = if o >= 5 { (h, w) } else { (w, h) };
    Ok(Pixels {
        width,
        height,
        channels,
        data,
    })
}

/// `data`, `w` x `h` pixels of `P` (its length checked by `orient`), in orientation `o`
/// (2–8), turned upright; `None` if `data` does not hold them.
fn orient_as<P: image::Pixel<Subpixel = u8> + 'static>(
    w: u32,
    h: u32,
    data: Vec<u8>,
    o: u8,
) -> Option<Vec<u8>> {
    use image::imageops;
    let len = data.len();
    let mut img = image::ImageBuffer::<P, Vec<u8>>::from_raw(w, h, data)?;
    match o {
        2 => imageops::flip_horizontal_in_place(&mut img),
        3 => imageops::rotate180_in_place(&mut img),
        4 => imageops::flip_vertical_in_place(&mut img),
        _ => {
            let mut out = image::ImageBuffer::<P, Vec<u8>>::from_raw(h, w, scratch::take(len))?;
            if matches!(o, 5 | 6) {
                imageops::rotate90_in(&img, &mut out)
            } else {
                imageops::rotate270_in(&img, &mut out)
            }
            .ok()?;
            if matches!(o, 5 | 7) {
                imageops::flip_horizontal_in_place(&mut out);
            }
            scratch::give(img.into_raw());
            return Some(out.into_raw());
        }
    }
    Some(img.into_raw())
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
        let mut out = scratch::take(p.data.len());
        let t = if p.channels == 4 {
            &self.rgba
        } else {
            &self.rgb
        };
        t.transform(&p.data, &mut out).map_err(|e| e.to_string())?;
        scratch::give(std::mem::replace(&mut p.data, out));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orient_matches_the_image_crate_for_all_eight_orientations() {
        for channels in [3u8, 4] {
            let (w, h) = (5u32, 3u32);
            let data: Vec<u8> = (0..w * h * channels as u32).map(|i| i as u8).collect();
            for o in 1..=8u8 {
                let p = Pixels {
                    width: w,
                    height: h,
                    channels,
                    data: data.clone(),
                };
                let mut expected = if channels == 4 {
                    image::DynamicImage::ImageRgba8(
                        image::RgbaImage::from_raw(w, h, data.clone()).unwrap(),
                    )
                } else {
                    image::DynamicImage::ImageRgb8(
                        image::RgbImage::from_raw(w, h, data.clone()).unwrap(),
                    )
                };
                expected.apply_orientation(image::metadata::Orientation::from_exif(o).unwrap());
                let got = orient(p, o).unwrap();
                assert_eq!(
                    (got.width, got.height),
                    (expected.width(), expected.height()),
                    "{o}"
                );
                assert_eq!(
                    got.data,
                    expected.as_bytes(),
                    "orientation {o}, {channels} channels"
                );
            }
        }
    }

    #[test]
    fn a_buffer_that_does_not_hold_its_pixels_is_an_error_not_a_wrong_image() {
        let short = Pixels {
            width: 4,
            height: 3,
            channels: 3,
            data: vec![0; 4 * 3 * 3 - 1],
        };
        assert_eq!(
            orient(short.clone(), 6).map(|p| p.width).unwrap_err(),
            "internal error: a 4x3 image with 3 channels has 35 bytes of pixels (please report it)"
        );
        // Upright already: nothing to turn, so nothing to check.
        assert_eq!(orient(short, 1).unwrap().data.len(), 35);
        let grey_alpha = Pixels {
            width: 4,
            height: 3,
            channels: 2,
            data: vec![0; 4 * 3 * 2],
        };
        assert_eq!(
            orient(grey_alpha, 3).map(|p| p.width).unwrap_err(),
            "internal error: cannot turn a 4x3 image with 2 channels"
        );
    }

    #[test]
    fn small_reductions_use_catmull_rom_and_large_ones_lanczos3() {
        // A 2016 px photo to 1920 (a small step), and the cascade steps.
        assert_eq!(filter_for(2016, 1512, 1920, 1440), FilterType::CatmullRom);
        assert_eq!(filter_for(1920, 1440, 960, 720), FilterType::Lanczos3);
        assert_eq!(filter_for(4000, 3000, 480, 360), FilterType::Lanczos3);
        // Portrait: the larger ratio of the two axes decides.
        assert_eq!(filter_for(1512, 2016, 1080, 1440), FilterType::CatmullRom);
    }
}
