//! Process: decode each source once and make all its variants from it.
//!
//! `make_variants` is bytes in, encoded bytes out (no file I/O), so it is tested on generated
//! images. The largest variant is made first and each smaller one from the previous output,
//! which is cheaper and, for downscales of at least ~1.25x, indistinguishable. `job_bytes`
//! says what one source needs in memory; `Queue` hands the sources to the workers (of `build`
//! and `gallery`) and keeps the sum of the running jobs' needs within the `--memory` budget.

pub mod codec;
pub mod metadata;
pub mod palette;
pub mod pixels;
pub mod resize;
pub mod scratch;

use crate::locks::lock;
use crate::plan::Variant;
use crate::probe::ImageInfo;
use image::ImageDecoder;
use pixels::Pixels;
use std::io::Cursor;
use std::sync::{Condvar, Mutex};

/// Why a source's variants could not be made: the source's fault (it does not decode) or a
/// later stage's (the pixels could not be turned or resized, an encoder refused them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessError {
    /// The source's pixels could not be decoded.
    #[error("{0}")]
    Decode(String),
    /// Turning the pixels upright, converting them to sRGB or resizing them failed.
    #[error("{0}")]
    Transform(String),
    /// An encoder failed.
    #[error("{0}")]
    Encode(String),
}

/// The embedded ICC profile of an image, if any.
pub fn icc_profile(bytes: &[u8], info: &ImageInfo) -> Option<Vec<u8>> {
    if !info.icc {
        return None;
    }
    if info.format == crate::probe::Format::Avif {
        return crate::avif::icc_profile(bytes);
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

/// Make `variants` of one source, passing through every size of `all` (the source's whole
/// set: see `make_largest`). Returns the encoded bytes in the order of `variants`. With
/// `Metadata::KeepCopyright`, outputs carry the source's Artist and Copyright only. At most
/// `job_bytes` of `all` are held meanwhile, and nothing once it returns.
pub fn make_variants(
    bytes: &[u8],
    info: &ImageInfo,
    variants: &[Variant],
    all: &[Variant],
    max_pixels: u64,
    keep: crate::config::Metadata,
) -> Result<Vec<Vec<u8>>, ProcessError> {
    let mut out = vec![Vec::new(); variants.len()];
    let (made, rest) = make_largest(bytes, info, variants, all, max_pixels, keep)?;
    let rest = rest.map(Rest::finish).transpose()?;
    for (i, b) in made.into_iter().chain(rest.into_iter().flatten()) {
        out[i] = b;
    }
    Ok(out)
}

/// Whether the pixels of a still image decode as `make_variants` decodes them (the deep
/// check's decoder: see `probe::Decoder`). A JPEG is decoded at a small DCT scale (1/8 from
/// 9 px up): the whole entropy-coded data is read at any scale, and that is where damage
/// shows.
pub fn verify_decode(bytes: &[u8], info: &ImageInfo, max_pixels: u64) -> Result<(), String> {
    // A format pixpipe does not decode (HEIF, TIFF) is never built either: nothing to verify.
    if info.format.image_format().is_none() {
        return Ok(());
    }
    codec::decode(bytes, info.format, info.alpha, 1, 1, max_pixels).map(|_| ())
}

/// Variants made, as (index in the source's variant list, encoded bytes).
pub type Encoded = Vec<(usize, Vec<u8>)>;

/// The first part of `make_variants`: decode, make the variants of the largest size, and
/// resize to the next size. Returns the variants made, as (index in `variants`, bytes), and
/// what is left to make, if anything: a `Rest` holds only the next size's pixels (a quarter
/// of the largest or less), so a worker can leave it for later, e.g. for an idle worker at
/// the end of a build.
///
/// The pixels pass through every size of `all` (the source's whole set, of which `variants`
/// are the ones to encode now): each size is resized from the next larger one and the
/// largest sets the decode's scale, so a variant comes out the same bytes whichever others
/// are made with it (see `cache::job_key`).
pub fn make_largest(
    bytes: &[u8],
    info: &ImageInfo,
    variants: &[Variant],
    all: &[Variant],
    max_pixels: u64,
    keep: crate::config::Metadata,
) -> Result<(Encoded, Option<Rest>), ProcessError> {
    let made = largest_of(bytes, info, variants, all, max_pixels, keep);
    release_buffers();
    made
}

/// Free every buffer this thread keeps for the steps of one image: the scratch buffers and
/// the resizer's intermediate ones, so that what a worker holds between images is nothing.
fn release_buffers() {
    scratch::release();
    resize::release();
}

/// What is left of a source's variants after `make_largest`: the pixels of the next size
/// (upright, sRGB, not yet encoded) and the variants of that size and the smaller ones.
pub struct Rest {
    pixels: Pixels,
    /// The sizes to pass through, the pixels' own first.
    sizes: Vec<(u32, u32)>,
    variants: Vec<(usize, Variant)>,
    kept: Option<Vec<u8>>,
}

impl Rest {
    /// Bytes this holds, and about what `finish` needs on top of them.
    pub fn bytes(&self) -> u64 {
        2 * self.pixels.data.len() as u64 + self.kept.as_ref().map_or(0, |k| k.len() as u64)
    }

    /// How many variants are left.
    pub fn len(&self) -> usize {
        self.variants.len()
    }

    /// Whether no variant is left (never, for a `Rest` from `make_largest`).
    pub fn is_empty(&self) -> bool {
        self.variants.is_empty()
    }

    /// Make the variants left: each size from the previous one.
    pub fn finish(self) -> Result<Encoded, ProcessError> {
        let made = self.finish_here();
        release_buffers();
        made
    }

    fn finish_here(self) -> Result<Encoded, ProcessError> {
        let Rest {
            pixels,
            sizes,
            variants,
            kept,
        } = self;
        let mut made = Vec::new();
        let mut prev = pixels;
        for (w, h) in sizes {
            if (prev.width, prev.height) != (w, h) {
                let smaller = resize::resize(&prev, w, h).map_err(ProcessError::Transform)?;
                scratch::give(std::mem::replace(&mut prev, smaller).data);
            }
            encode_size(&prev, &variants, kept.as_deref(), &mut made)?;
        }
        scratch::give(prev.data);
        Ok(made)
    }
}

/// The distinct output sizes of `variants`, largest first: the order they are made in.
pub(crate) fn sizes_of<'a>(variants: impl Iterator<Item = &'a Variant>) -> Vec<(u32, u32)> {
    let mut sizes: Vec<(u32, u32)> = variants.map(|v| (v.width, v.height)).collect();
    sizes.sort_by(|a, b| b.cmp(a));
    sizes.dedup();
    sizes
}

/// Encode `p` as each variant of its size, with the kept metadata, into `made`.
fn encode_size(
    p: &Pixels,
    variants: &[(usize, Variant)],
    kept: Option<&[u8]>,
    made: &mut Encoded,
) -> Result<(), ProcessError> {
    for (i, v) in variants {
        if (v.width, v.height) == (p.width, p.height) {
            let encoded = match kept {
                // libavif writes the Exif item as it encodes.
                Some(tiff) if v.format == crate::plan::OutFormat::Avif => crate::avif::encode(
                    &p.data,
                    (p.width, p.height, p.channels),
                    v.quality,
                    v.effort,
                    Some(tiff),
                ),
                Some(tiff) => codec::encode(p, v.format, v.quality, v.effort)
                    .map(|e| metadata::embed(e, v.format, tiff)),
                None => codec::encode(p, v.format, v.quality, v.effort),
            }
            .map_err(ProcessError::Encode)?;
            made.push((*i, encoded));
        }
    }
    Ok(())
}

fn largest_of(
    bytes: &[u8],
    info: &ImageInfo,
    variants: &[Variant],
    all: &[Variant],
    max_pixels: u64,
    keep: crate::config::Metadata,
) -> Result<(Encoded, Option<Rest>), ProcessError> {
    let kept = match keep {
        crate::config::Metadata::Strip => None,
        crate::config::Metadata::KeepCopyright => exif_of(bytes, info).and_then(|t| {
            let (a, c) = metadata::copyright_of(t);
            metadata::exif_block(a.as_deref(), c.as_deref())
        }),
    };
    let transposed = info.orientation >= 5;
    let stored = |w: u32, h: u32| if transposed { (h, w) } else { (w, h) };
    // Every size down to the smallest one to encode.
    let Some(smallest) = sizes_of(variants.iter()).last().copied() else {
        return Ok((Vec::new(), None));
    };
    let mut sizes = sizes_of(all.iter().chain(variants));
    sizes.retain(|s| *s >= smallest);
    let (w, h) = sizes[0];
    let (sw, sh) = stored(w, h);
    let decoded = codec::decode(bytes, info.format, info.alpha, sw, sh, max_pixels)
        .map_err(ProcessError::Decode)?;
    let to_srgb = icc_profile(bytes, info).and_then(|icc| resize::ToSrgb::new(&icc));
    // The largest output is made from the decode, turned upright and converted to sRGB; each
    // smaller one is resized from the previous output, already upright and in sRGB.
    // At the decode's own size (a full-size original, or a photo no larger than its page
    // asks for), the decode is the largest output: no copy.
    let resized = if (decoded.width, decoded.height) == (sw, sh) {
        decoded
    } else {
        let r = resize::resize(&decoded, sw, sh).map_err(ProcessError::Transform)?;
        // Neither the decode nor the resizer's rows are needed again: free them before
        // the upright copy and the encoding (`job_bytes` counts these as separate stages).
        drop(decoded);
        r
    };
    resize::release();
    let mut upright = resize::orient(resized, info.orientation).map_err(ProcessError::Transform)?;
    if let Some(t) = &to_srgb {
        t.apply(&mut upright).map_err(ProcessError::Transform)?;
    }
    let indexed: Vec<(usize, Variant)> = variants.iter().copied().enumerate().collect();
    let mut made = Vec::new();
    encode_size(&upright, &indexed, kept.as_deref(), &mut made)?;
    let rest = match sizes.get(1) {
        Some(&(nw, nh)) => {
            let pixels = resize::resize(&upright, nw, nh).map_err(ProcessError::Transform)?;
            Some(Rest {
                pixels,
                sizes: sizes[1..].to_vec(),
                variants: indexed
                    .into_iter()
                    .filter(|(_, v)| (v.width, v.height) != (w, h))
                    .collect(),
                kept,
            })
        }
        None => None,
    };
    scratch::give(upright.data);
    Ok((made, rest))
}

/// Bytes one source needs at most while its variants are made from a file of `file_len`
/// bytes. The most held at once is the largest of three stages, plus what is held throughout:
/// - decoding: a progressive JPEG's coefficient buffer beside the decode (at the DCT scale
///   `codec::decode` will pick);
/// - resizing to the largest output: the decode, the resizer's intermediate (the output's
///   width by the decode's height) and the output, and a quarter output more (none of this
///   when the largest output is the decode's own size: then the decode is the output);
/// - encoding the largest output: it and half of it again, and libwebp's working memory
///   for the largest WebP variant or libaom's for the largest AVIF one, whichever is more;
/// - throughout: the file, half an output of encoder buffers, and what the codecs and the
///   allocators hold on top, three outputs' worth up to 20 MiB, and 1 MiB.
///
/// Checked against the peak resident memory of each of the 32 bench photos made alone (as
/// the build's JPEG and WebP jobs, and as a gallery with and without its original): 5-103 %
/// above it, 24 % in the median gallery job, never below. Summing the stages instead, as
/// before, was 4-126 % above (48 % in the median gallery job), so that two 12 MP photos did
/// not fit side by side in the default budget although both together peak at ~250 MB.
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
    // A CMYK or YCCK JPEG goes to the image crate, at full size (see `codec::decode`).
    let jpeg = info.format == crate::probe::Format::Jpeg && !info.cmyk;
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
    let at_decode_size = (vw, vh) == (dw, dh);
    // libwebp holds the picture as YUV (1.5 bytes a pixel) and its tokens (~3) while it
    // encodes the largest WebP variant.
    let webp = variants
        .iter()
        .filter(|v| v.format == crate::plan::OutFormat::Webp)
        .map(|v| 5 * v.width as u64 * v.height as u64)
        .max()
        .unwrap_or(0);
    // libavif holds the picture as YUV and libaom's all-intra encoder its own, by speed:
    // measured with avifenc (libaom 3.14.1, tune=iq, one thread) on 1.5, 6 and 24 MP photos,
    // peak RSS less avifenc's 12 MB at rest and the RGB and YUV counted in `encoding` (4.5
    // bytes a pixel). Speed 6 to 9 left at most 42, 92 and 351 MB (peaks 61, 131 and 471),
    // under 14 bytes a pixel and 24 MiB (46, 109 and 361); 5 and slower search more
    // partitions: 54, 192 and 465 MB (peaks 73, 231 and 585), under 32 and 24 MiB.
    let avif = variants
        .iter()
        .filter(|v| v.format == crate::plan::OutFormat::Avif)
        .map(|v| {
            let per_pixel = if v.effort >= 6 { 14 } else { 32 };
            per_pixel * v.width as u64 * v.height as u64 + (24 << 20)
        })
        .max()
        .unwrap_or(0);
    let decoding = info.coefficient_bytes + decode;
    let resizing = if at_decode_size {
        decode
    } else {
        decode + vw * dh * ch + out + out / 4
    };
    let encoding = out + out / 2 + webp.max(avif);
    let held = file_len + out / 2 + (3 * out).min(20 << 20) + (1 << 20);
    held + decoding.max(resizing).max(encoding)
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

/// Jobs handed to workers within a memory budget: a worker takes the largest waiting job
/// whose need fits beside the running ones' (so small photos go through while a large one
/// holds memory, and the large ones start early, which keeps the workers finishing together),
/// and waits while none fits. A job runs alone whatever its need.
///
/// Near the end, a job may also leave part of its work for later (`defer`), holding a
/// little memory: a worker takes such parts when no job fits or none is left, so the
/// workers share the last photos' small parts instead of one finishing the last photo alone.
/// Which worker makes what never changes the outputs.
pub struct Queue<T> {
    limit: u64,
    /// The most the deferred parts may hold at once.
    pool_limit: u64,
    /// Work is deferred only when this few jobs are left: earlier, the parts would hold
    /// memory for long for no gain.
    tail: usize,
    state: Mutex<QueueState<T>>,
    freed: Condvar,
}

struct QueueState<T> {
    jobs: Vec<(u64, T)>,
    deferred: std::collections::VecDeque<(u64, T)>,
    /// Bytes held by running jobs, running deferred parts and waiting deferred parts.
    used: u64,
    /// Bytes held by waiting deferred parts.
    pooled: u64,
    /// Jobs handed out and not finished: they may still defer work.
    running: usize,
}

impl<T> Queue<T> {
    /// A queue of `(need, job)` for `workers` under `limit` bytes, of which `base` are
    /// already held.
    pub fn new(limit: u64, base: u64, workers: usize, mut jobs: Vec<(u64, T)>) -> Self {
        jobs.sort_by_key(|j| std::cmp::Reverse(j.0));
        Queue::in_order(limit, base, workers, jobs)
    }

    /// [`Queue::new`], handing the jobs out in the order given (where the budget allows).
    pub fn in_order(limit: u64, base: u64, workers: usize, jobs: Vec<(u64, T)>) -> Self {
        let limit = for_jobs(limit, base);
        Queue {
            limit,
            pool_limit: limit / 16,
            tail: 2 * workers,
            state: Mutex::new(QueueState {
                jobs,
                deferred: Default::default(),
                used: 0,
                pooled: 0,
                running: 0,
            }),
            freed: Condvar::new(),
        }
    }

    /// The next job or deferred part, and its lease on the budget; `None` once everything
    /// has been handed out and no running job can defer more.
    pub fn next(&self) -> Option<(T, QueueLease<'_, T>)> {
        let mut st = lock(&self.state);
        loop {
            let used = st.used;
            let fits = st
                .jobs
                .iter()
                .position(|(n, _)| used == 0 || used + n <= self.limit);
            if let Some(i) = fits {
                let (n, job) = st.jobs.remove(i);
                st.used += n;
                st.running += 1;
                return Some((
                    job,
                    QueueLease {
                        queue: self,
                        n,
                        job: true,
                    },
                ));
            }
            if let Some((n, part)) = st.deferred.pop_front() {
                st.pooled -= n;
                return Some((
                    part,
                    QueueLease {
                        queue: self,
                        n,
                        job: false,
                    },
                ));
            }
            if st.jobs.is_empty() && st.running == 0 {
                return None;
            }
            st = self.freed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Leave `part`, which holds `need` bytes, for a worker to take later; it is given back
    /// when the deferred parts already hold their share of the budget or it does not fit.
    pub fn defer(&self, need: u64, part: T) -> Result<(), T> {
        let mut st = lock(&self.state);
        if st.jobs.len() > self.tail
            || st.pooled + need > self.pool_limit
            || st.used + need > self.limit
        {
            return Err(part);
        }
        st.used += need;
        st.pooled += need;
        st.deferred.push_back((need, part));
        self.freed.notify_all();
        Ok(())
    }
}

/// Bytes a job or deferred part holds from a `Queue`, given back on drop.
pub struct QueueLease<'a, T> {
    queue: &'a Queue<T>,
    n: u64,
    job: bool,
}

impl<T> Drop for QueueLease<'_, T> {
    fn drop(&mut self) {
        let mut st = lock(&self.queue.state);
        st.used -= self.n;
        if self.job {
            st.running -= 1;
        }
        self.queue.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::OutFormat;
    use crate::probe::{probe_bytes, Format, ProbeOptions};

    /// A variant at the default quality and effort.
    fn variant(width: u32, height: u32, format: OutFormat) -> Variant {
        Variant::new(width, height, format, &crate::config::Config::default())
    }
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
                decoder: None,
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
            variant(800, 450, OutFormat::Jpeg),
            variant(400, 225, OutFormat::Jpeg),
            variant(400, 225, OutFormat::Webp),
            variant(100, 56, OutFormat::Png),
        ];
        let out = make_variants(
            &src,
            &inf,
            &vs,
            &vs,
            u64::MAX,
            crate::config::Metadata::Strip,
        )
        .unwrap();
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
            variant(200, 150, OutFormat::Jpeg),
            variant(200, 150, OutFormat::Webp),
            variant(100, 75, OutFormat::Png),
        ];
        let out = make_variants(
            &src,
            &inf,
            &vs,
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
        let q = Queue::new(100, 5, 2, vec![(30, "c"), (50, "a"), (40, "b"), (20, "d")]);
        let (a, la) = q.next().unwrap();
        assert_eq!(a, "a", "largest first");
        let (b, lb) = q.next().unwrap();
        assert_eq!(b, "c", "40 does not fit beside 50, 30 does");
        drop(la);
        let (c, lc) = q.next().unwrap();
        assert_eq!(c, "b", "the 40 once 50 is back");
        drop(lb);
        let (d, ld) = q.next().unwrap();
        assert_eq!(d, "d");
        drop((lc, ld));
        assert!(q.next().is_none(), "nothing left and nothing running");
        // One job larger than everything still runs, alone.
        let q = Queue::new(10, 0, 2, vec![(100, 1)]);
        assert_eq!(q.next().map(|j| j.0), Some(1));
    }

    #[test]
    fn deferred_parts_come_after_the_jobs_that_fit_and_only_near_the_end() {
        // Limit 1440 (a tenth off), deferred parts may hold 90, one worker: tail of 2 jobs.
        let q = Queue::new(
            1600,
            0,
            1,
            vec![(100, "a"), (100, "b"), (100, "c"), (90, "d")],
        );
        let (a, la) = q.next().unwrap();
        assert_eq!(a, "a");
        assert_eq!(
            q.defer(50, "a-rest"),
            Err("a-rest"),
            "3 jobs wait: too early"
        );
        drop(la);
        let (b, lb) = q.next().unwrap();
        assert_eq!(b, "b");
        assert_eq!(q.defer(50, "b-rest"), Ok(()));
        assert_eq!(
            q.defer(50, "x"),
            Err("x"),
            "the deferred parts' share (90) is full"
        );
        drop(lb);
        let (c, lc) = q.next().unwrap();
        assert_eq!(c, "c", "a job that fits goes before a deferred part");
        drop(lc);
        let (d, ld) = q.next().unwrap();
        assert_eq!(d, "d");
        let (rest, lr) = q.next().unwrap();
        assert_eq!(rest, "b-rest");
        drop((ld, lr));
        assert!(q.next().is_none());
    }

    #[test]
    fn an_idle_worker_waits_for_what_a_running_job_defers() {
        let q = Queue::new(1000, 0, 2, vec![(100, "a")]);
        let (a, la) = q.next().unwrap();
        assert_eq!(a, "a");
        std::thread::scope(|s| {
            // No job is left, but "a" runs and may still leave work: the worker must wait.
            let idle = s.spawn(|| q.next().map(|(part, _lease)| part));
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(
                !idle.is_finished(),
                "returned while a job could still defer work"
            );
            assert_eq!(q.defer(40, "a-rest"), Ok(()));
            drop(la);
            assert_eq!(idle.join().unwrap(), Some("a-rest"));
        });
        assert!(q.next().is_none());
    }

    /// A JPEG of fine detail everywhere: a zone plate, whose rings get finer away from the
    /// top-left corner up to one cycle every two pixels at the far edges (as signs, text or
    /// fabric do), at quality 95 with full-resolution colour.
    fn zone_plate_jpeg(w: u32, h: u32) -> Vec<u8> {
        let k = 2.0 * w.max(h) as f64;
        let img = RgbImage::from_fn(w, h, |x, y| {
            let (x, y) = (x as f64, y as f64);
            let v = 127.5 + 127.0 * (std::f64::consts::PI * (x * x + y * y) / k).cos();
            image::Rgb([v as u8, v as u8, (255.0 - v) as u8])
        });
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95)
            .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    #[test]
    fn an_output_just_under_half_the_source_is_made_from_the_full_decode() {
        // 2000 -> 960 px: a 1/2-scale decode (1000 px) would cover it, but the blocks and
        // aliasing of that decode would pass through the small 1000 -> 960 resize.
        let src = zone_plate_jpeg(2000, 1500);
        let inf = info(&src, "a.jpg");
        // Lossless PNG without the 256-colour try: the output's pixels are the resize's.
        let mut png = variant(960, 720, OutFormat::Png);
        png.effort = 0;
        let vs = [png];
        let strip = crate::config::Metadata::Strip;
        let out = make_variants(&src, &inf, &vs, &vs, u64::MAX, strip).unwrap();
        let got = image::load_from_memory(&out[0]).unwrap().to_rgb8();
        // The reference: every pixel of the JPEG decoded, then reduced to 960 px.
        let full = codec::decode(&src, Format::Jpeg, false, 2000, 1500, u64::MAX).unwrap();
        assert_eq!((full.width, full.height), (2000, 1500));
        let want = resize::resize(&full, 960, 720).unwrap();
        assert_eq!(got.dimensions(), (960, 720));
        let diff: u64 = got
            .as_raw()
            .iter()
            .zip(&want.data)
            .map(|(a, b)| a.abs_diff(*b) as u64)
            .sum();
        let mean = diff as f64 / want.data.len() as f64;
        assert_eq!(diff, 0, "mean difference {mean:.2} from the full decode");
    }

    #[test]
    fn a_variant_is_the_same_bytes_whichever_others_are_encoded_with_it() {
        let src = jpeg(1600, 1200);
        let inf = info(&src, "a.jpg");
        let v = variant;
        let all = [
            v(1200, 900, OutFormat::Jpeg),
            v(600, 450, OutFormat::Jpeg),
            v(200, 150, OutFormat::Jpeg),
            v(200, 150, OutFormat::Webp),
        ];
        let strip = crate::config::Metadata::Strip;
        let whole = make_variants(&src, &inf, &all, &all, u64::MAX, strip).unwrap();
        // Only the small ones, passing through the larger sizes of the set.
        let part = make_variants(&src, &inf, &all[2..], &all, u64::MAX, strip).unwrap();
        assert_eq!(part, whole[2..].to_vec());
        // Alone, the 200 px one is made from a smaller decode: other bytes, the same size.
        let alone = make_variants(&src, &inf, &all[2..3], &all[2..3], u64::MAX, strip).unwrap();
        assert_ne!(alone[0], whole[2]);
        let img = image::load_from_memory(&alone[0]).unwrap();
        assert_eq!((img.width(), img.height()), (200, 150));
    }

    #[test]
    fn job_bytes_counts_shrink_on_load_and_progressive_coefficients() {
        let src = jpeg(1600, 1200);
        let file = src.len() as u64;
        let inf = info(&src, "a.jpg");
        assert_eq!(inf.format, Format::Jpeg);
        assert_eq!(inf.coefficient_bytes, 0, "baseline");
        let small = [variant(400, 300, OutFormat::Jpeg)];
        let out = 400 * 300 * 3;
        // Held throughout: the file, half an output, three outputs (under 20 MiB), 1 MiB.
        let held = |out: u64| file + out / 2 + (3 * out).min(20 << 20) + (1 << 20);
        // Decoded at 1/2 scale (800x600; 1/4 would be the variant's own size, leaving no
        // reduction): resizing (the decode, the resizer's rows of 400 x 600, the output and a
        // quarter) is the largest stage.
        let half = 800 * 600 * 3;
        let expected = held(out) + half + 400 * 600 * 3 + out + out / 4;
        assert_eq!(job_bytes(&inf, &small, file), expected);
        // At the photo's own size the decode is the output, and encoding it (one and a half
        // outputs) is the largest stage.
        let own = [variant(1600, 1200, OutFormat::Jpeg)];
        let full = 1600 * 1200 * 3;
        assert_eq!(job_bytes(&inf, &own, file), held(full) + full + full / 2);
        // An AVIF at that size adds libaom's memory, by speed: 14 bytes a pixel from speed 6
        // on, 32 below (more partitions searched), and 24 MiB whatever the size.
        for (speed, per_pixel) in [(9, 14), (6, 14), (5, 32), (0, 32)] {
            let mut avif = variant(1600, 1200, OutFormat::Avif);
            avif.effort = speed;
            assert_eq!(
                job_bytes(&inf, &[avif], file),
                held(full) + full + full / 2 + per_pixel * 1600 * 1200 + (24 << 20),
                "speed {speed}"
            );
        }
        // 1000x750 needs the full decode; resizing (the decode, the resizer's rows of
        // 1000 x 1200, the output and a quarter) outweighs encoding, libwebp's memory for the
        // largest WebP variant (400x300) included.
        let mixed = [
            variant(1000, 750, OutFormat::Jpeg),
            variant(400, 300, OutFormat::Webp),
        ];
        let big = 1000 * 750 * 3;
        let resizing = full + 1000 * 1200 * 3 + big + big / 4;
        assert!(resizing > big + big / 2 + 5 * 400 * 300);
        assert_eq!(job_bytes(&inf, &mixed, file), held(big) + resizing);
        // A progressive file's coefficients come beside the decode: here the largest stage.
        let mut progressive = inf.clone();
        progressive.coefficient_bytes = full;
        assert_eq!(
            job_bytes(&progressive, &small, file),
            held(out) + full + half
        );
        // A 6000x4000 photo: to 1400 px WebP decoded at 1/2 (3000x2000); to 2560 px in full,
        // as 3000 px would leave a reduction of less than 1.5x. The codecs' share is capped at
        // 20 MiB, and resizing still outweighs encoding with libwebp's memory.
        let mut large = inf.clone();
        (large.width, large.height) = (6000, 4000);
        let mid = [variant(1400, 933, OutFormat::Webp)];
        let o = 1400 * 933 * 3;
        let resizing = 3000 * 2000 * 3 + 1400 * 2000 * 3 + o + o / 4;
        assert_eq!(job_bytes(&large, &mid, file), held(o) + resizing);
        let webp = [variant(2560, 1707, OutFormat::Webp)];
        let out = 2560 * 1707 * 3;
        let resizing = 6000 * 4000 * 3 + 2560 * 4000 * 3 + out + out / 4;
        let encoding = out + out / 2 + 5 * 2560 * 1707;
        assert!(encoding < resizing && 3 * out > 20 << 20);
        assert_eq!(job_bytes(&large, &webp, file), held(out) + resizing);
        // A CMYK JPEG is decoded at full size by the image crate (up to 8 bytes a pixel
        // more than the output's), whatever the output's size.
        let mut cmyk = large.clone();
        cmyk.cmyk = true;
        let resizing = 6000 * 4000 * (3 + 8) + 1400 * 4000 * 3 + o + o / 4;
        assert_eq!(job_bytes(&cmyk, &mid, file), held(o) + resizing);
    }
}
