//! Process: decode each source once and make all its variants from it.
//!
//! `make_variants` is bytes in, encoded bytes out (no file I/O), so it is tested on generated
//! images. The largest variant is made first and each smaller one from the previous output,
//! which is cheaper and, for downscales of at least ~1.25x, indistinguishable. `Budget` bounds
//! how many decoded pixels are in memory at once.

pub mod codec;
pub mod metadata;
pub mod resize;

use crate::plan::Variant;
use crate::probe::ImageInfo;
use codec::Pixels;
use image::ImageDecoder;
use std::io::Cursor;
use std::sync::{Condvar, Mutex};

/// The embedded ICC profile of an image, if any.
pub fn icc_profile(bytes: &[u8], info: &ImageInfo) -> Option<Vec<u8>> {
    if !info.icc {
        return None;
    }
    let fmt = info.format.image_format()?;
    let mut dec = image::ImageReader::with_format(Cursor::new(bytes), fmt)
        .into_decoder()
        .ok()?;
    dec.icc_profile().ok().flatten()
}

/// The source's EXIF (TIFF) bytes, if any.
pub fn exif_of(bytes: &[u8], info: &ImageInfo) -> Option<Vec<u8>> {
    let fmt = info.format.image_format()?;
    let mut dec = image::ImageReader::with_format(Cursor::new(bytes), fmt)
        .into_decoder()
        .ok()?;
    dec.exif_metadata().ok().flatten()
}

/// Make every variant of one source. Returns the encoded bytes in the order of `variants`.
/// With `Metadata::KeepCopyright`, outputs carry the source's Artist and Copyright only.
pub fn make_variants(
    bytes: &[u8],
    info: &ImageInfo,
    variants: &[Variant],
    max_pixels: u64,
    keep: crate::config::Metadata,
) -> Result<Vec<Vec<u8>>, String> {
    let kept = match keep {
        crate::config::Metadata::Strip => None,
        crate::config::Metadata::KeepCopyright => exif_of(bytes, info).and_then(|t| {
            let (a, c) = metadata::copyright_of(t);
            metadata::exif_block(a.as_deref(), c.as_deref())
        }),
    };
    let transposed = info.orientation >= 5;
    let stored = |w: u32, h: u32| if transposed { (h, w) } else { (w, h) };
    let (max_w, max_h) = variants
        .iter()
        .map(|v| stored(v.width, v.height))
        .max()
        .unwrap_or((1, 1));
    let alpha = info.alpha;
    let decoded = codec::decode(bytes, info.format, alpha, max_w, max_h, max_pixels)?;
    let to_srgb = icc_profile(bytes, info).and_then(|icc| resize::ToSrgb::new(&icc));
    // Distinct sizes, largest first.
    let mut sizes: Vec<(u32, u32)> = variants.iter().map(|v| (v.width, v.height)).collect();
    sizes.sort_by(|a, b| b.cmp(a));
    sizes.dedup();
    let mut out: Vec<Option<Vec<u8>>> = vec![None; variants.len()];
    // The largest output is made from the decode, turned upright and converted to sRGB; each
    // smaller one is resized from the previous output, already upright and in sRGB.
    let mut prev: Option<Pixels> = None;
    for (w, h) in sizes {
        let upright = match &prev {
            None => {
                let (sw, sh) = stored(w, h);
                let mut p = resize::orient(resize::resize(&decoded, sw, sh)?, info.orientation);
                if let Some(t) = &to_srgb {
                    t.apply(&mut p)?;
                }
                p
            }
            Some(p) => resize::resize(p, w, h)?,
        };
        for (i, v) in variants.iter().enumerate() {
            if (v.width, v.height) == (w, h) {
                let encoded = codec::encode(&upright, v.format, v.quality)?;
                out[i] = Some(match &kept {
                    Some(tiff) => metadata::embed(encoded, v.format, tiff),
                    None => encoded,
                });
            }
        }
        prev = Some(upright);
    }
    codec::give_back(decoded.data);
    Ok(out.into_iter().map(Option::unwrap_or_default).collect())
}

/// Bytes of decoded pixels a source needs while it is processed.
pub fn decoded_bytes(info: &ImageInfo, variants: &[Variant]) -> u64 {
    // A JPEG is decoded at the smallest DCT scale that still covers the largest output.
    let (vw, vh) = variants
        .iter()
        .map(|v| (v.width, v.height))
        .max()
        .unwrap_or((1, 1));
    let (dw, dh) = info.display_size();
    let mut scale = 1u64;
    if info.format == crate::probe::Format::Jpeg {
        for s in [8u64, 4, 2] {
            if (dw as u64).div_ceil(s) >= vw as u64 && (dh as u64).div_ceil(s) >= vh as u64 {
                scale = s;
                break;
            }
        }
    }
    let px = (dw as u64).div_ceil(scale) * (dh as u64).div_ceil(scale);
    let ch = if info.alpha { 4 } else { 3 };
    // The decode, one resized copy of it, and the image crate's intermediate for non-JPEG.
    px * ch
        * if info.format == crate::probe::Format::Jpeg {
            2
        } else {
            3
        }
}

/// A budget of bytes shared by workers: each takes what it needs before decoding and gives it
/// back after. One job larger than the whole budget still runs, alone.
pub struct Budget {
    limit: u64,
    used: Mutex<u64>,
    freed: Condvar,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Self {
        Budget {
            limit,
            used: Mutex::new(0),
            freed: Condvar::new(),
        }
    }
    /// Wait until `n` bytes fit, then take them.
    pub fn take(&self, n: u64) -> Lease<'_> {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        while *used > 0 && *used + n > self.limit {
            used = self.freed.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used += n;
        Lease { budget: self, n }
    }
}

/// Bytes taken from a `Budget`, given back on drop.
pub struct Lease<'a> {
    budget: &'a Budget,
    n: u64,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut used = self.budget.used.lock().unwrap_or_else(|e| e.into_inner());
        *used -= self.n;
        self.budget.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::OutFormat;
    use crate::probe::{probe_bytes, Format, ProbeOptions};
    use image::{ImageEncoder, RgbImage};

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(w, h, |x, y| {
            // Red top-left quadrant, blue bottom-right: orientation shows in the pixels.
            if x < w / 2 && y < h / 2 {
                image::Rgb([230, 20, 20])
            } else if x >= w / 2 && y >= h / 2 {
                image::Rgb([20, 20, 230])
            } else {
                image::Rgb([120, 200, 120])
            }
        });
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95)
            .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    fn info(bytes: &[u8], name: &str) -> ImageInfo {
        probe_bytes(
            name,
            bytes,
            ProbeOptions {
                max_pixels: u64::MAX,
                deep: false,
            },
        )
        .info
        .unwrap()
    }

    #[test]
    fn variants_decode_to_their_planned_sizes_in_every_decoder() {
        let src = jpeg(1600, 900);
        let inf = info(&src, "a.jpg");
        let vs = [
            Variant {
                width: 800,
                height: 450,
                format: OutFormat::Jpeg,
                quality: 80,
            },
            Variant {
                width: 400,
                height: 225,
                format: OutFormat::Jpeg,
                quality: 80,
            },
            Variant {
                width: 400,
                height: 225,
                format: OutFormat::Webp,
                quality: 80,
            },
            Variant {
                width: 100,
                height: 56,
                format: OutFormat::Png,
                quality: 0,
            },
        ];
        let out = make_variants(&src, &inf, &vs, u64::MAX, crate::config::Metadata::Strip).unwrap();
        for (v, bytes) in vs.iter().zip(&out) {
            let img = image::load_from_memory(bytes).unwrap();
            assert_eq!((img.width(), img.height()), (v.width, v.height), "{v:?}");
            if v.format == OutFormat::Webp {
                // libwebp must read our WebP files as the image crate does.
                let lib = webp::Decoder::new(bytes).decode().unwrap();
                assert_eq!((lib.width(), lib.height()), (v.width, v.height));
                let a = img.to_rgb8();
                let max_diff = a
                    .as_raw()
                    .iter()
                    .zip(lib.iter())
                    .map(|(x, y)| (*x as i32 - *y as i32).abs())
                    .max()
                    .unwrap();
                assert!(max_diff <= 3, "WebP decoders disagree by {max_diff}");
            }
            if v.format == OutFormat::Jpeg {
                // libjpeg-turbo must read our JPEGs as the image crate does.
                let t = turbojpeg::decompress(bytes, turbojpeg::PixelFormat::RGB).unwrap();
                assert_eq!((t.width as u32, t.height as u32), (v.width, v.height));
                let a = img.to_rgb8();
                let max_diff = a
                    .as_raw()
                    .iter()
                    .zip(t.pixels.iter())
                    .map(|(x, y)| (*x as i32 - *y as i32).abs())
                    .max()
                    .unwrap();
                assert!(max_diff <= 3, "decoders disagree by {max_diff}");
            }
        }
    }

    #[test]
    fn keep_copyright_keeps_artist_and_copyright_and_nothing_else() {
        let tiff = metadata::exif_block(Some("Ann"), Some("(c) Ann")).unwrap();
        let mut src = jpeg(400, 300);
        let mut seg = vec![0xFF, 0xE1];
        seg.extend_from_slice(&((tiff.len() + 8) as u16).to_be_bytes());
        seg.extend_from_slice(b"Exif\0\0");
        seg.extend_from_slice(&tiff);
        src.splice(2..2, seg);
        let inf = info(&src, "a.jpg");
        let vs = [
            Variant {
                width: 200,
                height: 150,
                format: OutFormat::Jpeg,
                quality: 80,
            },
            Variant {
                width: 200,
                height: 150,
                format: OutFormat::Webp,
                quality: 80,
            },
            Variant {
                width: 100,
                height: 75,
                format: OutFormat::Png,
                quality: 0,
            },
        ];
        let out = make_variants(
            &src,
            &inf,
            &vs,
            u64::MAX,
            crate::config::Metadata::KeepCopyright,
        )
        .unwrap();
        for (v, bytes) in vs.iter().zip(&out) {
            let img = image::load_from_memory(bytes).unwrap();
            assert_eq!(
                (img.width(), img.height()),
                (v.width, v.height),
                "{v:?} still decodes"
            );
            let exif = exif_of(bytes, &info(bytes, &format!("x.{}", v.format.extension())))
                .unwrap_or_else(|| panic!("no EXIF in {v:?}"));
            assert_eq!(
                metadata::copyright_of(exif),
                (Some("Ann".into()), Some("(c) Ann".into())),
                "{v:?}"
            );
        }
        let stripped = make_variants(
            &src,
            &inf,
            &vs[..1],
            u64::MAX,
            crate::config::Metadata::Strip,
        )
        .unwrap();
        assert!(!stripped[0].windows(6).any(|w| w == b"Exif\0\0"));
    }

    #[test]
    fn budget_lets_one_oversized_job_run_alone() {
        let b = Budget::new(10);
        let l = b.take(100);
        drop(l);
        let _a = b.take(6);
        assert_eq!(*b.used.lock().unwrap(), 6);
    }

    #[test]
    fn decoded_bytes_counts_shrink_on_load() {
        let src = jpeg(1600, 1200);
        let inf = info(&src, "a.jpg");
        assert_eq!(inf.format, Format::Jpeg);
        let small = [Variant {
            width: 400,
            height: 300,
            format: OutFormat::Jpeg,
            quality: 80,
        }];
        assert_eq!(decoded_bytes(&inf, &small), 400 * 300 * 3 * 2);
    }
}
