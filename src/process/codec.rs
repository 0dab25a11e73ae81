//! Decode and encode: bytes ↔ 8-bit RGB(A) pixels.
//!
//! JPEG goes through libjpeg-turbo (the turbojpeg crate builds it from source), which can
//! decode at 1/2, 1/4 or 1/8 scale in the DCT domain ("shrink on load") when the scaled
//! size is at least 1.5 times the largest output's; other formats go through the `image`
//! crate. Encoders: libjpeg-turbo (4:2:0, baseline, standard Huffman tables), libwebp
//! (libwebp-sys), and the png crate.
//!
//! Why no Huffman optimisation: on the 32 bench photos (widths 480/960/1920, q80) it saved
//! 1.1 % of the bytes for 19 % more CPU time for the whole build (its statistics pass is plain C
//! in libjpeg-turbo, and it buffers every coefficient of the image).

use super::pixels::Pixels;
use crate::plan::OutFormat;
use crate::probe::Format;
use std::io::Cursor;

/// Decode `bytes` (of `format`), at a DCT scale that keeps at least 1.5 times `min_w` x
/// `min_h` pixels where the format allows it (see `dct_denominator`). `alpha` keeps an alpha
/// channel.
pub fn decode(
    bytes: &[u8],
    format: Format,
    alpha: bool,
    min_w: u32,
    min_h: u32,
    max_pixels: u64,
) -> Result<Pixels, String> {
    if format == Format::Jpeg {
        let decoded = match decode_jpeg_turbo(bytes, min_w, min_h) {
            // Stray bytes between the header's segments (libjpeg skips them, but TurboJPEG
            // then gives no header): read again without them.
            Err(e) if is_libjpeg_warning(e.trim_start_matches("TurboJPEG error: ")) => {
                match without_stray_bytes(bytes) {
                    Some(clean) => decode_jpeg_turbo(&clean, min_w, min_h),
                    None => Err(e),
                }
            }
            other => other,
        };
        match decoded {
            Ok(Some(p)) => return Ok(p),
            Ok(None) => {} // CMYK/YCCK: the image crate converts those.
            Err(e) => return Err(e),
        }
    }
    if format == Format::Avif {
        let i = crate::avif::decode(bytes, alpha, max_pixels)?;
        return Ok(Pixels {
            width: i.width,
            height: i.height,
            channels: i.channels,
            data: i.data,
        });
    }
    let fmt = format
        .image_format()
        .ok_or_else(|| format!("{} images cannot be decoded", format.name()))?;
    let fixed;
    let bytes = match format {
        Format::Png if ends_without_iend(bytes) => {
            fixed = [bytes, &PNG_END[..]].concat();
            &fixed[..]
        }
        Format::Gif => match on_shown_screen(bytes) {
            Some(b) => {
                fixed = b;
                &fixed[..]
            }
            None => bytes,
        },
        _ => bytes,
    };
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), fmt);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(max_pixels.saturating_mul(16));
    reader.limits(limits);
    let img = reader.decode().map_err(|e| e.to_string())?;
    Ok(if alpha {
        let b = img.into_rgba8();
        Pixels {
            width: b.width(),
            height: b.height(),
            channels: 4,
            data: b.into_raw(),
        }
    } else {
        let b = img.into_rgb8();
        Pixels {
            width: b.width(),
            height: b.height(),
            channels: 3,
            data: b.into_raw(),
        }
    })
}

/// A GIF's `bytes` with its logical screen enlarged to the one browsers show it on
/// (`probe::gif_shown_screen`, the size the probe gives), when that is larger: a first frame
/// that reaches past the logical screen is shown whole by browsers and cut by the image crate.
fn on_shown_screen(bytes: &[u8]) -> Option<Vec<u8>> {
    let (w, h) = crate::probe::gif_shown_screen(bytes)?;
    let screen = [w.to_le_bytes(), h.to_le_bytes()].concat();
    if bytes.get(6..10)? == screen {
        return None;
    }
    let mut b = bytes.to_vec();
    b[6..10].copy_from_slice(&screen);
    Some(b)
}

/// A PNG's end chunk (IEND): no data, and the checksum of its type.
const PNG_END: [u8; 12] = [0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82];

/// Whether the PNG `bytes` ends after its last whole chunk, and none of them is IEND. Browsers
/// show such a file (they stop once the last row is decoded), and `check` warns that most
/// decoders do; the png crate reads the chunk after the image data and fails at the end of the
/// file instead, so it is given the end chunk. A file that ends inside a chunk is left to fail.
fn ends_without_iend(bytes: &[u8]) -> bool {
    let mut i = 8;
    while let (Some(len), Some(ty)) = (bytes.get(i..i + 4), bytes.get(i + 4..i + 8)) {
        if ty == b"IEND" {
            return false;
        }
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        i = i.saturating_add(12).saturating_add(len);
    }
    i == bytes.len()
}

/// The DCT scale (1, 2, 4 or 8: decode at 1/n) for a `w` x `h` JPEG whose largest output is
/// `min_w` x `min_h`: the smallest decode that still leaves the resizer a reduction of at
/// least 1.5x (libjpeg-turbo rounds scaled sizes up).
///
/// Why not the smallest decode that covers the output: a scaled IDCT keeps only the low
/// frequencies of each 8x8 block, so its picture is blocky and aliased near its own Nyquist
/// frequency, and a small reduction passes that on. The error falls as the reduction after
/// the scaled decode grows: on the bench's photo of shop signs, DSSIM of a 1/2-scale decode
/// against a full one (both reduced with Lanczos3 by Pillow) is 0.0039 after 1.05x, 0.0023
/// after 1.5x and 0.0014 after 2x; on two ordinary photos 0.0001 or less at any of them.
/// 1.05x is the common case it avoids: a 12 MP phone photo (4032 px) decoded at 2016 px for
/// a 1920 px output. 1.5x still lets a 24 MP photo (6000 px) make its 1920 px output from
/// the 1/2 decode, which keeps it within a 128 MiB memory budget (2x did not: 140 MiB).
/// Measured on the 32 bench photos (JPEG q80, widths 480/960/1920, one interleaved run with
/// the old rule beside it): mean DSSIM 0.00142 -> 0.00131, at 1920 px 0.00133 -> 0.00109,
/// bytes +1 %, wall time 1.34 -> 1.36 s (0.27x sharp's either way; 2x cost 12 %).
pub fn dct_denominator(w: u64, h: u64, min_w: u32, min_h: u32) -> u64 {
    let (min_w, min_h) = (3 * min_w as u64, 3 * min_h as u64);
    [8u64, 4, 2]
        .into_iter()
        .find(|&s| 2 * w.div_ceil(s) >= min_w && 2 * h.div_ceil(s) >= min_h)
        .unwrap_or(1)
}

fn decode_jpeg_turbo(bytes: &[u8], min_w: u32, min_h: u32) -> Result<Option<Pixels>, String> {
    let mut d = turbojpeg::Decompressor::new().map_err(|e| e.to_string())?;
    let header = d.read_header(bytes).map_err(|e| e.to_string())?;
    if matches!(
        header.colorspace,
        turbojpeg::Colorspace::CMYK | turbojpeg::Colorspace::YCCK
    ) {
        return Ok(None);
    }
    let denom = dct_denominator(header.width as u64, header.height as u64, min_w, min_h);
    let scale = turbojpeg::ScalingFactor::new(1, denom as usize);
    d.set_scaling_factor(scale).map_err(|e| e.to_string())?;
    let (w, h) = (scale.scale(header.width), scale.scale(header.height));
    let mut data = super::scratch::take(w * h * 3);
    let image = turbojpeg::Image {
        pixels: data.as_mut_slice(),
        width: w,
        pitch: w * 3,
        height: h,
        format: turbojpeg::PixelFormat::RGB,
    };
    match d.decompress(bytes, image) {
        Ok(()) => {}
        // Damaged data that libjpeg decodes to the end, as browsers (libjpeg-turbo too) show
        // it: the pixels are complete, and `check` has warned about the damage.
        Err(turbojpeg::Error::TurboJpegError(m)) if is_libjpeg_warning(&m) => {}
        Err(e) => return Err(e.to_string()),
    }
    Ok(Some(Pixels {
        width: w as u32,
        height: h as u32,
        channels: 3,
        data,
    }))
}

/// `bytes` without the bytes that stand between a JPEG's header segments (before the first
/// SOS): each segment is copied from its marker, and the entropy-coded data after SOS as it
/// is. `None` when there were none, or the segments cannot be followed.
fn without_stray_bytes(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(bytes.get(..2)?);
    let mut i = 2;
    let mut skipped = 0;
    loop {
        while *bytes.get(i)? != 0xFF {
            i += 1;
            skipped += 1;
        }
        while *bytes.get(i + 1)? == 0xFF {
            i += 1; // fill bytes before a marker
        }
        let marker = *bytes.get(i + 1)?;
        let len = u16::from_be_bytes([*bytes.get(i + 2)?, *bytes.get(i + 3)?]) as usize;
        let end = i + 2 + len;
        if marker == 0xDA {
            out.extend_from_slice(&bytes[i..]);
            return (skipped > 0).then_some(out);
        }
        out.extend_from_slice(bytes.get(i..end)?);
        i = end;
    }
}

/// Whether TurboJPEG's failure is one of libjpeg's warnings (its JWRN_ messages): with
/// TurboJPEG's default (no stop on warning) the decoder went on to the last row, and only
/// reports the warning as a failure.
fn is_libjpeg_warning(message: &str) -> bool {
    const WARNINGS: [&str; 8] = [
        "Corrupt JPEG data",
        "Premature end of JPEG file",
        "Invalid SOS parameters for sequential JPEG",
        "Inconsistent progression sequence",
        "Unknown Adobe color transform code",
        "Warning: unknown JFIF revision number",
        "Application transferred too many scanlines",
        "Warning: thumbnail image size does not match data length",
    ];
    WARNINGS.iter().any(|w| message.starts_with(w))
}

/// Encode `p` as `format` at `quality` (ignored for PNG) and `effort` (WebP's method, AVIF's
/// speed).
pub fn encode(p: &Pixels, format: OutFormat, quality: u8, effort: u8) -> Result<Vec<u8>, String> {
    match format {
        OutFormat::Jpeg => {
            let rgb;
            let (data, pf) = if p.channels == 4 {
                rgb = drop_alpha(&p.data);
                (&rgb[..], turbojpeg::PixelFormat::RGB)
            } else {
                (&p.data[..], turbojpeg::PixelFormat::RGB)
            };
            let mut c = turbojpeg::Compressor::new().map_err(|e| e.to_string())?;
            c.set_quality(quality as i32).map_err(|e| e.to_string())?;
            c.set_subsamp(turbojpeg::Subsamp::Sub2x2)
                .map_err(|e| e.to_string())?;
            c.set_optimize(false).map_err(|e| e.to_string())?;
            let image = turbojpeg::Image {
                pixels: data,
                width: p.width as usize,
                pitch: p.width as usize * 3,
                height: p.height as usize,
                format: pf,
            };
            c.compress_to_vec(image).map_err(|e| e.to_string())
        }
        OutFormat::Webp => encode_webp(p, quality, effort),
        OutFormat::Png => encode_png(p, effort == 1),
        OutFormat::Avif => crate::avif::encode(
            &p.data,
            (p.width, p.height, p.channels),
            quality,
            effort,
            None,
        ),
    }
}

/// oxipng's preset for an image of `pixels`: its most thorough search up to a megapixel,
/// lighter above, so that a large PNG takes seconds, not minutes. Chosen by size, not by a
/// time limit, so that every machine writes the same bytes.
pub fn png_preset(pixels: u64) -> u8 {
    match pixels {
        0..=1_000_000 => 4,
        1_000_001..=4_000_000 => 3,
        _ => 2,
    }
}

/// PNG through oxipng: the smallest of its filter and deflate trials, with the reductions
/// that lose nothing (to a palette, greyscale or a lower bit depth when the pixels allow
/// it); with `palette`, also the image as 256 colours when that looks the same
/// (`palette::indexed`), whichever is smaller.
fn encode_png(p: &Pixels, palette: bool) -> Result<Vec<u8>, String> {
    let colour = if p.channels == 4 {
        oxipng::ColorType::RGBA
    } else {
        oxipng::ColorType::RGB {
            transparent_color: None,
        }
    };
    let mut opts = oxipng::Options::from_preset(png_preset(p.width as u64 * p.height as u64));
    // Fully transparent pixels may take any colour: the one that compresses best.
    opts.optimize_alpha = true;
    let optimise = |colour, data| {
        oxipng::RawImage::new(p.width, p.height, colour, oxipng::BitDepth::Eight, data)
            .and_then(|raw| raw.create_optimized_png(&opts))
            .map_err(|e| e.to_string())
    };
    let full = optimise(colour, p.data.clone())?;
    let Some(ix) = palette.then(|| super::palette::indexed(p)).flatten() else {
        return Ok(full);
    };
    let colours = ix
        .palette
        .iter()
        .map(|c| oxipng::RGBA8::new(c[0], c[1], c[2], 255))
        .collect();
    let indexed = optimise(oxipng::ColorType::Indexed { palette: colours }, ix.indices)?;
    Ok(if indexed.len() < full.len() {
        indexed
    } else {
        full
    })
}

/// Lossy WebP through libwebp: default preset, `quality`, method `effort` (0-6; 4 is cwebp's
/// and sharp's default). The pixels are imported straight into YUV; the webp crate's encoder
/// goes through an ARGB copy first (`use_argb`), which cost an extra pass and buffer per output
/// for the same bytes.
fn encode_webp(p: &Pixels, quality: u8, effort: u8) -> Result<Vec<u8>, String> {
    use libwebp_sys as webp;
    let ch = p.channels as usize;
    let (w, h) = (p.width as usize, p.height as usize);
    if !(ch == 3 || ch == 4) || p.data.len() != w * h * ch || w == 0 || h == 0 {
        return Err(format!(
            "cannot encode a {w}x{h} image with {ch} channels as WebP"
        ));
    }
    let (wi, hi, stride) = (
        i32::try_from(w).map_err(|e| e.to_string())?,
        i32::try_from(h).map_err(|e| e.to_string())?,
        i32::try_from(w * ch).map_err(|e| e.to_string())?,
    );
    // libwebp is built with its SSE4.1 code (Cargo.toml): on an older x86-64 CPU it would
    // stop the process with an illegal instruction, so the image gets an error instead.
    #[cfg(target_arch = "x86_64")]
    if !std::arch::is_x86_feature_detected!("sse4.1") {
        return Err(
            "WebP output needs a CPU with SSE4.1, which this one lacks; \
                    use `formats: [jpeg]` on this machine"
                .into(),
        );
    }
    let mut config =
        webp::WebPConfig::new_with_preset(webp::WebPPreset::WEBP_PRESET_DEFAULT, quality as f32)
            .map_err(|()| format!("libwebp rejected quality {quality}"))?;
    config.method = i32::from(effort);
    // SAFETY: `config` was initialised by libwebp above.
    if unsafe { webp::WebPValidateConfig(&config) } == 0 {
        return Err(format!("libwebp rejected effort {effort} (use 0 to 6)"));
    }
    let mut picture =
        webp::WebPPicture::new().map_err(|()| "libwebp could not set up a picture".to_string())?;
    picture.width = wi;
    picture.height = hi;
    picture.use_argb = 0;
    // SAFETY: a zeroed writer is what WebPMemoryWriterInit makes; it is initialised before use.
    let mut writer: webp::WebPMemoryWriter = unsafe { std::mem::zeroed() };
    // SAFETY: `data` holds exactly h rows of `stride` bytes (checked above), which libwebp only
    // reads into the picture's own YUV planes. The writer outlives the encode that appends to
    // it. The picture's planes and the writer's buffer are freed once, below, whatever
    // happened; the encoded bytes are copied out first.
    unsafe {
        webp::WebPMemoryWriterInit(&mut writer);
        picture.writer = Some(webp::WebPMemoryWrite);
        picture.custom_ptr = (&mut writer as *mut webp::WebPMemoryWriter).cast();
        let imported = if ch == 4 {
            webp::WebPPictureImportRGBA(&mut picture, p.data.as_ptr(), stride)
        } else {
            webp::WebPPictureImportRGB(&mut picture, p.data.as_ptr(), stride)
        };
        let encoded = imported != 0 && webp::WebPEncode(&config, &mut picture) != 0;
        let error = picture.error_code;
        webp::WebPPictureFree(&mut picture);
        let bytes = if encoded && !writer.mem.is_null() && writer.size > 0 {
            Ok(std::slice::from_raw_parts(writer.mem, writer.size).to_vec())
        } else {
            Err(format!("libwebp could not encode the image ({error:?})"))
        };
        webp::WebPMemoryWriterClear(&mut writer);
        bytes
    }
}

fn drop_alpha(rgba: &[u8]) -> Vec<u8> {
    // Composite on white: a transparent area of a photo is shown on a light page.
    rgba.chunks_exact(4)
        .flat_map(|px| {
            let a = px[3] as u32;
            [0, 1, 2].map(|i| ((px[i] as u32 * a + 255 * (255 - a) + 127) / 255) as u8)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A smooth gradient with some texture, `channels` 3 or 4 (alpha varying across).
    fn pixels(width: u32, height: u32, channels: u8) -> Pixels {
        let mut data = Vec::new();
        for y in 0..height {
            for x in 0..width {
                let noise = ((x * 7919 + y * 104_729) % 23) as u8;
                data.extend_from_slice(&[
                    (x * 255 / width) as u8 ^ noise,
                    (y * 255 / height) as u8,
                    ((x + y) % 256) as u8,
                ]);
                if channels == 4 {
                    data.push((x * 255 / width) as u8);
                }
            }
        }
        Pixels {
            width,
            height,
            channels,
            data,
        }
    }

    #[test]
    fn the_dct_scale_leaves_the_resize_at_least_a_1_5x_reduction() {
        // (source, largest output, scale)
        let cases = [
            // A 4032x3024 photo: 1920 px needs the whole decode (2016 would cover it, but
            // only by 1.05x), 1344 px the 1/2 one exactly (2016 = 1.5 x 1344), a pixel more
            // on either side the whole one; 960 px the 1/2 one, 480 the 1/4, 240 the 1/8.
            ((4032, 3024), (1920, 1440), 1),
            ((4032, 3024), (1344, 1008), 2),
            ((4032, 3024), (1345, 1008), 1),
            ((4032, 3024), (1344, 1009), 1),
            ((4032, 3024), (960, 720), 2),
            ((4032, 3024), (480, 360), 4),
            ((4032, 3024), (240, 180), 8),
            // A 24 MP photo keeps its 1920 px output at 1/2 (3000 px, 1.56x).
            ((6000, 4000), (1920, 1280), 2),
            // An exact 1/4 (1600 -> 400) is decoded at 1/2 and reduced 2x by the resizer.
            ((1600, 1200), (400, 300), 2),
            // Scaled sizes round up: 1001 px at 1/4 is 251, which covers 167 by 1.5x.
            ((1001, 1001), (167, 167), 4),
            ((1001, 1001), (168, 168), 2),
            // The taller side decides as well as the wider one.
            ((3024, 4032), (960, 1440), 1),
            // The deep check's smallest decode.
            ((4032, 3024), (1, 1), 8),
        ];
        for ((w, h), (ow, oh), scale) in cases {
            assert_eq!(
                dct_denominator(w, h, ow, oh),
                scale,
                "{w}x{h} for {ow}x{oh}"
            );
        }
    }

    #[test]
    fn a_png_ending_after_its_last_chunk_without_iend_decodes() {
        let png = encode(&pixels(64, 40, 4), OutFormat::Png, 0, 0).unwrap();
        assert_eq!(&png[png.len() - 12..], &PNG_END[..]);
        let decoded = decode(&png[..png.len() - 12], Format::Png, true, 1, 1, 1 << 20).unwrap();
        assert_eq!(
            (decoded.width, decoded.height, decoded.channels),
            (64, 40, 4)
        );
        // Cut inside a chunk: truncated, not ended.
        assert!(decode(&png[..png.len() - 20], Format::Png, true, 1, 1, 1 << 20).is_err());
    }

    #[test]
    fn every_webp_effort_gives_a_webp_of_the_size_and_efforts_differ() {
        let p = pixels(321, 157, 3);
        let outs: Vec<Vec<u8>> = (0..=6)
            .map(|e| encode(&p, OutFormat::Webp, 80, e).unwrap())
            .collect();
        for (e, bytes) in outs.iter().enumerate() {
            let img = image::load_from_memory_with_format(bytes, image::ImageFormat::WebP)
                .unwrap_or_else(|err| panic!("effort {e}: {err}"));
            assert_eq!((img.width(), img.height()), (321, 157), "effort {e}");
            assert!(!img.color().has_alpha(), "effort {e}");
        }
        assert_ne!(outs[0], outs[4]);
        assert_ne!(outs[4], outs[6]);
        // The same input and settings give the same bytes.
        assert_eq!(encode(&p, OutFormat::Webp, 80, 4).unwrap(), outs[4]);
    }

    #[test]
    fn webp_keeps_alpha_from_rgba_pixels() {
        let p = pixels(200, 100, 4);
        let bytes = encode(&p, OutFormat::Webp, 80, 4).unwrap();
        let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::WebP)
            .unwrap()
            .to_rgba8();
        assert_eq!(img.dimensions(), (200, 100));
        // Lossy, but alpha is coded losslessly at libwebp's default alpha quality (100).
        assert_eq!(img.get_pixel(0, 50)[3], 0);
        assert_eq!(img.get_pixel(199, 50)[3], (199 * 255 / 200) as u8);
    }

    #[test]
    fn effort_4_gives_the_bytes_of_libwebps_one_call_encoder() {
        for channels in [3, 4] {
            let p = pixels(160, 90, channels);
            let stride = 160 * i32::from(channels);
            let mut out: *mut u8 = std::ptr::null_mut();
            // SAFETY: `data` holds 90 rows of `stride` bytes; libwebp returns a buffer of
            // `len` bytes that is copied, then freed once with its own deallocator.
            let one_call = unsafe {
                let len = if channels == 4 {
                    libwebp_sys::WebPEncodeRGBA(p.data.as_ptr(), 160, 90, stride, 80.0, &mut out)
                } else {
                    libwebp_sys::WebPEncodeRGB(p.data.as_ptr(), 160, 90, stride, 80.0, &mut out)
                };
                assert!(len > 0 && !out.is_null());
                let v = std::slice::from_raw_parts(out, len).to_vec();
                libwebp_sys::WebPFree(out.cast());
                v
            };
            assert_eq!(
                encode(&p, OutFormat::Webp, 80, 4).unwrap(),
                one_call,
                "{channels} channels"
            );
        }
    }

    #[test]
    fn an_effort_libwebp_does_not_have_is_an_error() {
        assert_eq!(
            encode(&pixels(16, 16, 3), OutFormat::Webp, 80, 7).unwrap_err(),
            "libwebp rejected effort 7 (use 0 to 6)"
        );
    }

    #[test]
    fn a_buffer_that_does_not_hold_its_pixels_is_refused() {
        let mut p = pixels(10, 10, 3);
        p.data.pop();
        assert_eq!(
            encode(&p, OutFormat::Webp, 80, 4).unwrap_err(),
            "cannot encode a 10x10 image with 3 channels as WebP"
        );
    }
}
