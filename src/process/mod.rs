//! Process: decode each source once and make all its variants from it.
//!
//! `make_variants` is bytes in, encoded bytes out (no file I/O), so it is tested on generated
//! images. The largest variant is made first and each smaller one from the previous output,
//! which is cheaper and, for downscales of at least ~1.25x, indistinguishable. `job_bytes`
//! says what one source needs in memory; `Queue` (build) and `Budget` (gallery) keep the sum
//! of the running jobs' needs within the `--memory` budget.

pub mod codec;
pub mod metadata;
pub mod resize;
pub mod scratch;

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
/// At most `job_bytes` are held meanwhile, and nothing once it returns.
pub fn make_variants(
    bytes: &[u8],
    info: &ImageInfo,
    variants: &[Variant],
    max_pixels: u64,
    keep: crate::config::Metadata,
) -> Result<Vec<Vec<u8>>, String> {
    let made = variants_of(bytes, info, variants, max_pixels, keep);
    scratch::release();
    made
}

fn variants_of(
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
    let mut decoded = Some(codec::decode(
        bytes,
        info.format,
        alpha,
        max_w,
        max_h,
        max_pixels,
    )?);
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
        let upright = match (prev.take(), decoded.take()) {
            (Some(p), _) => {
                let smaller = resize::resize(&p, w, h)?;
                scratch::give(p.data);
                smaller
            }
            (None, Some(d)) => {
                let (sw, sh) = stored(w, h);
                let resized = resize::resize(&d, sw, sh)?;
                // Neither the decode nor the resizer's rows are needed again: free them
                // before the upright and sRGB copies are made (see `job_bytes`).
                drop(d);
                resize::release();
                let mut p = resize::orient(resized, info.orientation);
                if let Some(t) = &to_srgb {
                    t.apply(&mut p)?;
                }
                p
            }
            (None, None) => break,
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
    Ok(out.into_iter().map(Option::unwrap_or_default).collect())
}

/// Bytes one source needs at most while its variants are made from a file of `file_len`
/// bytes: the file, a progressive JPEG's coefficient buffer, the decode (at the DCT scale
/// `codec::decode` will pick), the resizer's intermediate (the output's width by the decode's
/// height), two copies of the largest output (resized or upright, and its sRGB copy) with its
/// encoding, and libwebp's working memory when a variant is WebP. Not all of these are held
/// at once, but the allocators do not give back every freed block at once either: checked
/// against the peak resident memory of each of the 32 bench photos built alone: the estimate
/// was 3-87 % above it, never below.
pub fn job_bytes(info: &ImageInfo, variants: &[Variant], file_len: u64) -> u64 {
    let transposed = info.orientation >= 5;
    let (vw, vh) = variants
        .iter()
        .map(|v| {
            if transposed {
                (v.height as u64, v.width as u64)
            } else {
                (v.width as u64, v.height as u64)
            }
        })
        .max()
        .unwrap_or((1, 1));
    let (w, h) = (info.width as u64, info.height as u64);
    let jpeg = info.format == crate::probe::Format::Jpeg;
    let scale = if jpeg {
        codec::dct_denominator(w, h, vw as u32, vh as u32)
    } else {
        1
    };
    let (dw, dh) = (w.div_ceil(scale), h.div_ceil(scale));
    let ch = if info.alpha { 4 } else { 3 };
    // The image crate decodes at the file's own depth (up to 16-bit RGBA) before converting.
    let decode = dw * dh * if jpeg { ch } else { ch + 8 };
    let out = vw * vh * ch;
    // libwebp holds the picture as YUV (1.5 bytes a pixel) and its tokens (~3) while encoding.
    let webp = if variants
        .iter()
        .any(|v| v.format == crate::plan::OutFormat::Webp)
    {
        5 * vw * vh
    } else {
        0
    };
    file_len + info.coefficient_bytes + decode + vw * dh * ch + 2 * out + out / 2 + webp + (1 << 20)
}

/// A memory budget shared by workers, for the whole process's resident memory. What the
/// process holds when the budget is made (code, the site's pages and plan) is counted once;
/// then each job takes its `job_bytes` before it decodes and gives them back when done, and
/// waits while they do not fit beside the running jobs'. A job runs alone whatever its need.
pub struct Budget {
    limit: u64,
    used: Mutex<u64>,
    freed: Condvar,
}

/// What jobs may take of a budget of `limit` bytes when `base` are held: a tenth is left for
/// the allocators, which keep some freed memory for reuse (on the bench photos the largest
/// overshoot without it was 1 MiB over 256).
fn for_jobs(limit: u64, base: u64) -> u64 {
    (limit - limit / 10).saturating_sub(base)
}

/// The process's resident memory in bytes (0 where the system cannot tell).
pub fn resident_bytes() -> u64 {
    memory_stats::memory_stats()
        .map(|m| m.physical_mem as u64)
        .unwrap_or(0)
}

impl Budget {
    /// A budget of `limit` bytes of resident memory, less what the process holds now.
    pub fn new(limit: u64) -> Self {
        Self::with_base(limit, resident_bytes())
    }

    /// A budget of `limit` bytes of which `base` are already held.
    pub fn with_base(limit: u64, base: u64) -> Self {
        Budget {
            limit: for_jobs(limit, base),
            used: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// Wait until `n` more bytes fit, then take them until the lease is dropped.
    pub fn take(&self, n: u64) -> Lease<'_> {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        while *used > 0 && *used + n > self.limit {
            used = self.freed.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used += n;
        Lease { budget: self, n }
    }
}

/// Jobs handed to workers within a memory budget: a worker takes the largest waiting job
/// whose need fits beside the running ones' (so small photos go through while a large one
/// holds memory, and the large ones start early, which keeps the workers finishing together),
/// and waits while none fits. A job runs alone whatever its need. Which worker makes what
/// never changes the outputs.
pub struct Queue<T> {
    limit: u64,
    state: Mutex<(Vec<(u64, T)>, u64)>,
    freed: Condvar,
}

impl<T> Queue<T> {
    /// A queue of `(need, job)` under `limit` bytes, of which `base` are already held.
    pub fn new(limit: u64, base: u64, mut jobs: Vec<(u64, T)>) -> Self {
        jobs.sort_by_key(|j| std::cmp::Reverse(j.0));
        Queue {
            limit: for_jobs(limit, base),
            state: Mutex::new((jobs, 0)),
            freed: Condvar::new(),
        }
    }

    /// The next job and its lease on the budget; `None` when every job has been handed out.
    pub fn next(&self) -> Option<(T, QueueLease<'_, T>)> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let (jobs, used) = &mut *st;
            if jobs.is_empty() {
                return None;
            }
            let fits = jobs
                .iter()
                .position(|(n, _)| *used == 0 || *used + n <= self.limit);
            if let Some(i) = fits {
                let (n, job) = jobs.remove(i);
                *used += n;
                return Some((job, QueueLease { queue: self, n }));
            }
            st = self.freed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Bytes a job holds from a `Queue`, given back on drop.
pub struct QueueLease<'a, T> {
    queue: &'a Queue<T>,
    n: u64,
}

impl<T> Drop for QueueLease<'_, T> {
    fn drop(&mut self) {
        let mut st = self.queue.state.lock().unwrap_or_else(|e| e.into_inner());
        st.1 -= self.n;
        self.queue.freed.notify_all();
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

    /// Decodes a WebP file with libwebp itself: (width, height, RGB bytes).
    fn libwebp_rgb(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let (mut w, mut h) = (0, 0);
        // SAFETY: libwebp reads `bytes.len()` bytes and returns either null or a buffer of
        // w*h*3 bytes, copied here and freed once with libwebp's deallocator.
        unsafe {
            let p = libwebp_sys::WebPDecodeRGB(bytes.as_ptr(), bytes.len(), &mut w, &mut h);
            assert!(!p.is_null(), "libwebp could not decode our WebP");
            let rgb = std::slice::from_raw_parts(p, (w * h * 3) as usize).to_vec();
            libwebp_sys::WebPFree(p.cast());
            (w as u32, h as u32, rgb)
        }
    }

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
                let lib = libwebp_rgb(bytes);
                assert_eq!((lib.0, lib.1), (v.width, v.height));
                let lib = lib.2;
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
    fn the_queue_hands_out_the_largest_job_that_fits() {
        // 100 bytes less a tenth, 5 held: 50 and 30 fit together (80 <= 85), 50 and 40 do not.
        let q = Queue::new(100, 5, vec![(30, "c"), (50, "a"), (40, "b"), (20, "d")]);
        let (a, la) = q.next().unwrap();
        assert_eq!(a, "a", "largest first");
        let (b, lb) = q.next().unwrap();
        assert_eq!(b, "c", "40 does not fit beside 50, 30 does");
        drop(la);
        let (c, _lc) = q.next().unwrap();
        assert_eq!(c, "b", "the 40 once 50 is back");
        drop(lb);
        let (d, _ld) = q.next().unwrap();
        assert_eq!(d, "d");
        assert!(q.next().is_none());
        // One job larger than everything still runs, alone.
        let q = Queue::new(10, 0, vec![(100, 1)]);
        assert_eq!(q.next().map(|j| j.0), Some(1));
    }

    #[test]
    fn budget_lets_one_oversized_job_run_alone() {
        let b = Budget::with_base(10, 0);
        let l = b.take(100);
        drop(l);
        let _a = b.take(6);
        assert_eq!(*b.used.lock().unwrap(), 6);
    }

    #[test]
    fn budget_counts_what_is_held_and_running_jobs() {
        use std::sync::atomic::{AtomicBool, Ordering};
        // 60 bytes held, 100 allowed less a tenth: one 30-byte job fits, a second waits.
        let b = Budget::with_base(100, 60);
        let first = b.take(30);
        let second_ran = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let _l = b.take(30);
                second_ran.store(true, Ordering::SeqCst);
            });
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(
                !second_ran.load(Ordering::SeqCst),
                "60 + 30 + 30 > 100: it waits"
            );
            drop(first);
        });
        assert!(
            second_ran.load(Ordering::SeqCst),
            "it runs once the first is done"
        );
    }

    #[test]
    fn job_bytes_counts_shrink_on_load_and_progressive_coefficients() {
        let src = jpeg(1600, 1200);
        let inf = info(&src, "a.jpg");
        assert_eq!(inf.format, Format::Jpeg);
        assert_eq!(inf.coefficient_bytes, 0, "baseline");
        let small = [Variant {
            width: 400,
            height: 300,
            format: OutFormat::Jpeg,
            quality: 80,
        }];
        let out = 400 * 300 * 3;
        // Decoded at 1/4 scale (400x300): file, decode, intermediate, 2.5 outputs, 1 MiB.
        let expected = src.len() as u64 + out + out + 2 * out + out / 2 + (1 << 20);
        assert_eq!(job_bytes(&inf, &small, src.len() as u64), expected);
        let mut progressive = inf.clone();
        progressive.coefficient_bytes = 1600 * 1200 * 3;
        assert_eq!(
            job_bytes(&progressive, &small, src.len() as u64),
            expected + 1600 * 1200 * 3
        );
    }
}
