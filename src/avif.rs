//! AVIF through the system's libavif: encoding with libaom, decoding, and reading a file's
//! header. The calls go through src/avif.c (compiled by build.rs against the installed
//! header), which takes and gives plain numbers and buffers only.
//!
//! A leaf, like `format`: `probe` reads headers with it and `process` encodes and decodes;
//! it names nothing of theirs (pixels go in and out as `Image`).
use std::ffi::{c_char, c_int, CStr};

#[repr(C)]
struct Decoded {
    _private: [u8; 0],
}

extern "C" {
    fn pixpipe_avif_versions(out: *mut c_char, len: usize);
    #[allow(clippy::too_many_arguments)]
    fn pixpipe_avif_encode(
        pixels: *const u8,
        width: u32,
        height: u32,
        channels: u32,
        quantizer: c_int,
        alpha_quantizer: c_int,
        speed: c_int,
        tune: *const c_char,
        exif: *const u8,
        exif_len: usize,
        out: *mut *mut u8,
        out_len: *mut usize,
        err: *mut c_char,
        err_len: usize,
    ) -> c_int;
    fn pixpipe_avif_free(data: *mut u8);
    #[allow(clippy::too_many_arguments)]
    fn pixpipe_avif_decode_open(
        data: *const u8,
        len: usize,
        max_pixels: u32,
        handle: *mut *mut Decoded,
        width: *mut u32,
        height: *mut u32,
        alpha: *mut c_int,
        icc: *mut *const u8,
        icc_len: *mut usize,
        err: *mut c_char,
        err_len: usize,
    ) -> c_int;
    fn pixpipe_avif_decode_pixels(
        d: *mut Decoded,
        pixels: *mut u8,
        channels: u32,
        err: *mut c_char,
        err_len: usize,
    ) -> c_int;
    fn pixpipe_avif_decode_close(d: *mut Decoded);
    fn pixpipe_avif_icc(data: *const u8, len: usize, out: *mut u8, cap: usize) -> usize;
    #[allow(clippy::too_many_arguments)]
    fn pixpipe_avif_probe(
        data: *const u8,
        len: usize,
        width: *mut u32,
        height: *mut u32,
        frames: *mut u32,
        alpha: *mut c_int,
        icc: *mut c_int,
        rotation: *mut c_int,
        mirror: *mut c_int,
        err: *mut c_char,
        err_len: usize,
    ) -> c_int;
}

/// A buffer for the C side's error message.
struct ErrBuf([c_char; 512]);

impl ErrBuf {
    fn new() -> ErrBuf {
        ErrBuf([0; 512])
    }
    fn ptr(&mut self) -> *mut c_char {
        self.0.as_mut_ptr()
    }
    fn message(&self) -> String {
        // SAFETY: the buffer starts zeroed and the C side writes with snprintf, which always
        // ends what it writes with a NUL within the buffer's length.
        unsafe { CStr::from_ptr(self.0.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    }
}

/// libavif's version and its codecs', as they make the bytes (part of every AVIF cache key).
pub fn versions() -> String {
    let mut buf = [0 as c_char; 512];
    // SAFETY: the buffer is as long as said; the C side writes a NUL-terminated string.
    unsafe {
        pixpipe_avif_versions(buf.as_mut_ptr(), buf.len());
        CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned()
    }
}

/// The oldest libaom pixpipe encodes with: its still-image tuning (`tune=iq`) is measured from
/// 3.14 on (README, "AVIF").
pub const MIN_AOM: (u32, u32) = (3, 14);

/// libaom's (major, minor) version in `versions`' text, e.g. `aom [enc/dec]:v3.14.1`.
fn aom_version(versions: &str) -> Option<(u32, u32)> {
    let rest = versions.split("aom [").nth(1)?;
    let v = rest.split_once(':')?.1;
    let v = v.strip_prefix('v').unwrap_or(v);
    let mut parts = v.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Why this libaom cannot encode pixpipe's AVIF, if it cannot: `None` for 3.14 or later.
fn aom_unfit(versions: &str) -> Option<String> {
    match aom_version(versions) {
        Some(v) if v >= MIN_AOM => None,
        found => Some(format!(
            "AVIF output needs libaom {}.{} or later, and the libaom pixpipe loaded is {}: run \
             `make deps-build` (it fetches a current libaom into target/libaom, which pixpipe \
             loads before the system's)",
            MIN_AOM.0,
            MIN_AOM.1,
            match found {
                Some((a, b)) => format!("{a}.{b}"),
                None => format!("unknown ({versions})"),
            }
        )),
    }
}

/// [`versions`], asked once.
pub fn versions_once() -> &'static str {
    static VERSIONS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSIONS.get_or_init(versions)
}

/// Why this process's libaom cannot make pixpipe's AVIF, if it cannot (asked once).
pub fn unfit() -> Option<&'static str> {
    static UNFIT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    UNFIT.get_or_init(|| aom_unfit(versions_once())).as_deref()
}

/// libaom's tuning of the colour plane when it is lossy: `iq`, for still images (measured with
/// 3.14, the oldest pixpipe accepts: on the bench photos at speed 8, quality 42 with it made
/// 10.07 MB at DSSIM 0.00380, quality 50 without it 10.30 MB at 0.00434; README, "AVIF"). The
/// cache key names it.
pub const TUNE: &CStr = c"iq";

/// libavif's quantizer (0 best to 63 worst) for a `quality` of 1-100, as libavif 1.x maps
/// its own `quality` setting.
pub fn quantizer(quality: u8) -> u8 {
    let q = quality.min(100) as u32;
    (((100 - q) * 63 + 50) / 100) as u8
}

/// Encode `data`, `w` x `h` 8-bit sRGB pixels of `channels` (3 or 4) as a still AVIF at
/// `quality` (1-100) and libaom's `speed` (0 slowest to 9 fastest), with `exif` (a TIFF
/// structure) as its Exif item when given. Alpha, if any, is kept losslessly above quality
/// 90, else at half the colour's quantizer.
pub fn encode(
    data: &[u8],
    (w, h, channels): (u32, u32, u8),
    quality: u8,
    speed: u8,
    exif: Option<&[u8]>,
) -> Result<Vec<u8>, String> {
    let ch = channels as u32;
    if !(ch == 3 || ch == 4) || data.len() != (w as usize) * (h as usize) * ch as usize {
        return Err(format!(
            "cannot encode a {w}x{h} image with {ch} channels as AVIF"
        ));
    }
    if w == 0 || h == 0 {
        return Err(format!("cannot encode a {w}x{h} image as AVIF"));
    }
    if let Some(why) = unfit() {
        return Err(why.to_string());
    }
    let q = quantizer(quality) as c_int;
    // Edges of cut-outs show banding sooner than colour does.
    let qa = if quality > 90 { 0 } else { q / 2 };
    let (exif_ptr, exif_len) = match exif {
        Some(e) => (e.as_ptr(), e.len()),
        None => (std::ptr::null(), 0),
    };
    let mut out: *mut u8 = std::ptr::null_mut();
    let mut out_len = 0usize;
    let mut err = ErrBuf::new();
    // SAFETY: `data` holds w*h*ch bytes (checked above) and outlives the call; the out
    // pointers are valid; on success the C side hands over a buffer of `out_len` bytes that
    // is copied and then freed with the matching call.
    unsafe {
        let status = pixpipe_avif_encode(
            data.as_ptr(),
            w,
            h,
            ch,
            q,
            qa,
            speed as c_int,
            TUNE.as_ptr(),
            exif_ptr,
            exif_len,
            &mut out,
            &mut out_len,
            err.ptr(),
            512,
        );
        if status != 0 || out.is_null() {
            return Err(err.message());
        }
        let bytes = std::slice::from_raw_parts(out, out_len).to_vec();
        pixpipe_avif_free(out);
        Ok(bytes)
    }
}

/// 8-bit pixels, rows top to bottom without padding: what `encode` takes and `decode` gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// 3 (RGB) or 4 (RGBA).
    pub channels: u8,
    /// The samples.
    pub data: Vec<u8>,
    /// The embedded ICC profile, for a decoded image that has one.
    pub icc: Option<Vec<u8>>,
}

/// Decode the first image of an AVIF file of at most `max_pixels` pixels to 8-bit RGB (RGBA
/// with `alpha`).
pub fn decode(bytes: &[u8], alpha: bool, max_pixels: u64) -> Result<Image, String> {
    let mut handle: *mut Decoded = std::ptr::null_mut();
    let (mut w, mut h, mut has_alpha) = (0u32, 0u32, 0 as c_int);
    let mut icc: *const u8 = std::ptr::null();
    let mut icc_len = 0usize;
    let mut err = ErrBuf::new();
    let limit = max_pixels.min(u32::MAX as u64) as u32;
    // SAFETY: `bytes` outlives the handle's use (it is closed before returning); the out
    // pointers are valid. The ICC bytes belong to the handle and are copied before it closes.
    unsafe {
        let status = pixpipe_avif_decode_open(
            bytes.as_ptr(),
            bytes.len(),
            limit,
            &mut handle,
            &mut w,
            &mut h,
            &mut has_alpha,
            &mut icc,
            &mut icc_len,
            err.ptr(),
            512,
        );
        if status != 0 || handle.is_null() {
            return Err(err.message());
        }
        let icc = (!icc.is_null() && icc_len > 0)
            .then(|| std::slice::from_raw_parts(icc, icc_len).to_vec());
        let channels: u8 = if alpha { 4 } else { 3 };
        let len = (w as usize)
            .checked_mul(h as usize)
            .and_then(|n| n.checked_mul(channels as usize));
        let result = match len {
            Some(len) if (w as u64) * (h as u64) <= max_pixels => {
                let mut data = vec![0u8; len];
                if pixpipe_avif_decode_pixels(
                    handle,
                    data.as_mut_ptr(),
                    channels as u32,
                    err.ptr(),
                    512,
                ) == 0
                {
                    Ok(Image {
                        width: w,
                        height: h,
                        channels,
                        data,
                        icc,
                    })
                } else {
                    Err(err.message())
                }
            }
            _ => Err(format!("AVIF image of {w}x{h} is too large to decode")),
        };
        pixpipe_avif_decode_close(handle);
        result
    }
}

/// The ICC profile in an AVIF file's header, if it has one (no pixels are decoded).
pub fn icc_profile(bytes: &[u8]) -> Option<Vec<u8>> {
    // SAFETY: `bytes` outlives both calls; the second writes at most `len` bytes into a buffer
    // of that length.
    unsafe {
        let len = pixpipe_avif_icc(bytes.as_ptr(), bytes.len(), std::ptr::null_mut(), 0);
        if len == 0 {
            return None;
        }
        let mut icc = vec![0u8; len];
        let again = pixpipe_avif_icc(bytes.as_ptr(), bytes.len(), icc.as_mut_ptr(), len);
        (again == len).then_some(icc)
    }
}

/// What an AVIF file's header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Width as stored.
    pub width: u32,
    /// Height as stored.
    pub height: u32,
    /// Its number of frames (more than 1: an animation).
    pub frames: u32,
    /// Whether it has an alpha plane.
    pub alpha: bool,
    /// Whether it has an ICC profile.
    pub icc: bool,
    /// How it is shown, as an EXIF orientation (1-8), from its `irot` and `imir` boxes.
    pub orientation: u16,
}

/// Read an AVIF file's header (no pixels are decoded).
pub fn probe(bytes: &[u8]) -> Result<Header, String> {
    let (mut w, mut h, mut frames) = (0u32, 0u32, 1u32);
    let (mut alpha, mut icc, mut rotation, mut mirror) = (0, 0, -1, -1);
    let mut err = ErrBuf::new();
    // SAFETY: `bytes` outlives the call; all out pointers are valid.
    let status = unsafe {
        pixpipe_avif_probe(
            bytes.as_ptr(),
            bytes.len(),
            &mut w,
            &mut h,
            &mut frames,
            &mut alpha,
            &mut icc,
            &mut rotation,
            &mut mirror,
            err.ptr(),
            512,
        )
    };
    if status != 0 {
        return Err(err.message());
    }
    Ok(Header {
        width: w,
        height: h,
        frames,
        alpha: alpha != 0,
        icc: icc != 0,
        orientation: orientation(rotation, mirror),
    })
}

/// The EXIF orientation that shows what HEIF's `irot` (quarter turns anticlockwise, -1 for
/// none) and then `imir` (0: top and bottom exchanged, 1: left and right, -1 for none) show.
pub fn orientation(rotation: i32, mirror: i32) -> u16 {
    match (rotation.max(0) % 4, mirror) {
        (0, 1) | (2, 0) => 2,
        (2, -1) => 3,
        (0, 0) | (2, 1) => 4,
        (1, 0) | (3, 1) => 5,
        (3, -1) => 6,
        (3, 0) | (1, 1) => 7,
        (1, -1) => 8,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32, channels: u8) -> Image {
        let mut data = Vec::with_capacity((w * h) as usize * channels as usize);
        for y in 0..h {
            for x in 0..w {
                data.extend_from_slice(&[(x * 255 / w) as u8, (y * 255 / h) as u8, 128]);
                if channels == 4 {
                    data.push(if x < w / 2 { 255 } else { 0 });
                }
            }
        }
        Image {
            width: w,
            height: h,
            channels,
            data,
            icc: None,
        }
    }

    fn dims(i: &Image) -> (u32, u32, u8) {
        (i.width, i.height, i.channels)
    }

    #[test]
    fn an_encoded_avif_decodes_to_its_size_and_close_to_its_pixels() {
        let p = gradient(96, 64, 3);
        let bytes = encode(&p.data, dims(&p), 80, 8, None).unwrap();
        assert_eq!(&bytes[4..12], b"ftypavif");
        let h = probe(&bytes).unwrap();
        assert_eq!(
            h,
            Header {
                width: 96,
                height: 64,
                frames: 1,
                alpha: false,
                icc: false,
                orientation: 1
            }
        );
        let d = decode(&bytes, false, 1 << 20).unwrap();
        assert_eq!((d.width, d.height), (96, 64));
        let worst = d
            .data
            .iter()
            .zip(&p.data)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        assert!(worst <= 12, "largest difference {worst}");
        // The same pixels and settings give the same bytes.
        assert_eq!(encode(&p.data, dims(&p), 80, 8, None).unwrap(), bytes);
    }

    #[test]
    fn alpha_is_kept_and_quality_changes_the_size() {
        let p = gradient(64, 64, 4);
        let bytes = encode(&p.data, dims(&p), 60, 8, None).unwrap();
        assert!(probe(&bytes).unwrap().alpha);
        let d = decode(&bytes, true, 1 << 20).unwrap();
        let alphas: Vec<u8> = d.data.chunks(4).map(|c| c[3]).collect();
        assert!(
            alphas[0] > 250 && alphas[63] < 5,
            "{} {}",
            alphas[0],
            alphas[63]
        );
        let photo = gradient(256, 256, 3);
        let low = encode(&photo.data, dims(&photo), 30, 8, None)
            .unwrap()
            .len();
        let high = encode(&photo.data, dims(&photo), 90, 8, None)
            .unwrap()
            .len();
        assert!(low < high, "{low} >= {high}");
    }

    #[test]
    fn alpha_is_lossless_above_quality_90() {
        // Every alpha value from 0 to 255 in each row, neighbours far apart, over a colour
        // gradient.
        let mut p = gradient(256, 32, 4);
        for (i, px) in p.data.chunks_mut(4).enumerate() {
            px[3] = (i * 37 % 256) as u8;
        }
        let alphas = |bytes: &[u8]| -> Vec<u8> {
            let d = decode(bytes, true, 1 << 20).unwrap();
            d.data.chunks(4).map(|c| c[3]).collect()
        };
        let want: Vec<u8> = p.data.chunks(4).map(|c| c[3]).collect();
        let exact = encode(&p.data, dims(&p), 91, 8, None).unwrap();
        assert_eq!(alphas(&exact), want);
        // At 90 and below the alpha plane is lossy (at half the colour's quantizer).
        let lossy = encode(&p.data, dims(&p), 60, 8, None).unwrap();
        assert_ne!(alphas(&lossy), want);
        // At 100 the colour is lossless too.
        let all = encode(&p.data, dims(&p), 100, 8, None).unwrap();
        assert_eq!(alphas(&all), want);
    }

    #[test]
    fn broken_files_and_bad_pixels_are_errors() {
        let e = decode(b"\0\0\0\x18ftypavif not really", false, 1 << 20).unwrap_err();
        assert!(e.starts_with("AVIF decoding failed"), "{e}");
        assert!(probe(b"nothing").is_err());
        let bad = Image {
            width: 4,
            height: 4,
            channels: 3,
            data: vec![0; 5],
            icc: None,
        };
        assert_eq!(
            encode(&bad.data, dims(&bad), 50, 8, None).unwrap_err(),
            "cannot encode a 4x4 image with 3 channels as AVIF"
        );
        let g = gradient(64, 64, 3);
        let bytes = encode(&g.data, dims(&g), 50, 8, None).unwrap();
        let e = decode(&bytes, false, 1000).unwrap_err();
        assert!(e.starts_with("AVIF decoding failed: "), "{e}");
    }

    #[test]
    fn irot_and_imir_map_to_exif_orientations() {
        // Every (rotation, mirror) pair: no irot (-1) is no rotation, no imir (-1) no mirror.
        let table = [
            ((-1, -1), 1),
            ((0, -1), 1),
            ((1, -1), 8),
            ((2, -1), 3),
            ((3, -1), 6),
            ((-1, 1), 2),
            ((0, 1), 2),
            ((1, 1), 7),
            ((2, 1), 4),
            ((3, 1), 5),
            ((-1, 0), 4),
            ((0, 0), 4),
            ((1, 0), 5),
            ((2, 0), 2),
            ((3, 0), 7),
        ];
        for ((r, m), o) in table {
            assert_eq!(orientation(r, m), o, "irot {r}, imir {m}");
        }
    }

    #[test]
    fn versions_name_libavif_and_aom() {
        let v = versions();
        assert!(v.starts_with("libavif ") && v.contains("aom"), "{v}");
        // What `make deps` provides, and what every AVIF test here encodes with.
        assert_eq!(aom_unfit(&v), None, "{v}");
    }

    #[test]
    fn an_older_libaom_is_refused_with_the_way_out() {
        let old = "libavif 0.11.1 (dav1d [dec]:1.0.0, aom [enc/dec]:v3.6.0, svt [enc]:v1.4.1)";
        assert_eq!(aom_version(old), Some((3, 6)));
        assert_eq!(
            aom_unfit(old).unwrap(),
            "AVIF output needs libaom 3.14 or later, and the libaom pixpipe loaded is 3.6: run \
             `make deps-build` (it fetches a current libaom into target/libaom, which pixpipe \
             loads before the system's)"
        );
        for fit in [
            "aom [enc/dec]:v3.14.1",
            "aom [enc/dec]:3.15.0",
            "aom [enc/dec]:v4.0.0-rc1",
        ] {
            assert_eq!(aom_unfit(fit), None, "{fit}");
        }
        assert_eq!(aom_version("aom [enc/dec]:v3.13.2"), Some((3, 13)));
        assert!(aom_unfit("aom [enc/dec]:v3.13.2").is_some());
        assert!(aom_unfit("libavif 1.0.0 (dav1d [dec]:1.0.0)")
            .unwrap()
            .contains("is unknown (libavif 1.0.0 (dav1d [dec]:1.0.0))"));
    }
}
