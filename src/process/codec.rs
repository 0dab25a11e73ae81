//! Decode and encode: bytes ↔ 8-bit RGB(A) pixels.
//!
//! JPEG goes through libjpeg-turbo (the turbojpeg crate builds it from source), which can
//! decode at 1/2, 1/4 or 1/8 scale in the DCT domain ("shrink on load") when the largest
//! output still fits; other formats go through the `image` crate. Encoders: libjpeg-turbo
//! (4:2:0, baseline, standard Huffman tables), libwebp (libwebp-sys), and the png crate.
//!
//! Why no Huffman optimisation: on the 32 bench photos (widths 480/960/1920, q80) it saved
//! 1.1 % of the bytes for 19 % more CPU time for the whole build (its statistics pass is plain C
//! in libjpeg-turbo, and it buffers every coefficient of the image).

use crate::plan::OutFormat;
use crate::probe::Format;
use image::ImageEncoder;
use std::io::Cursor;

/// Decoded pixels, rows top to bottom, no padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pixels {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// 3 (RGB) or 4 (RGBA).
    pub channels: u8,
    /// The samples.
    pub data: Vec<u8>,
}

/// Decode `bytes` (of `format`), at a DCT scale that keeps at least `min_w` x `min_h` pixels
/// where the format allows it. `alpha` keeps an alpha channel.
pub fn decode(
    bytes: &[u8],
    format: Format,
    alpha: bool,
    min_w: u32,
    min_h: u32,
    max_pixels: u64,
) -> Result<Pixels, String> {
    if format == Format::Jpeg {
        match decode_jpeg_turbo(bytes, min_w, min_h) {
            Ok(Some(p)) => return Ok(p),
            Ok(None) => {} // CMYK/YCCK: the image crate converts those.
            Err(e) => return Err(e),
        }
    }
    let fmt = format
        .image_format()
        .ok_or_else(|| format!("{} images cannot be decoded", format.name()))?;
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

/// The DCT scale (1, 2, 4 or 8: decode at 1/n) at which a `w` x `h` JPEG still covers
/// `min_w` x `min_h`: the smallest, as libjpeg-turbo rounds scaled sizes up.
pub fn dct_denominator(w: u64, h: u64, min_w: u32, min_h: u32) -> u64 {
    [8u64, 4, 2]
        .into_iter()
        .find(|&s| w.div_ceil(s) >= min_w as u64 && h.div_ceil(s) >= min_h as u64)
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
    d.decompress(bytes, image).map_err(|e| e.to_string())?;
    Ok(Some(Pixels {
        width: w as u32,
        height: h as u32,
        channels: 3,
        data,
    }))
}

/// Encode `p` as `format` at `quality` (ignored for PNG).
pub fn encode(p: &Pixels, format: OutFormat, quality: u8) -> Result<Vec<u8>, String> {
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
        OutFormat::Webp => encode_webp(p, quality),
        OutFormat::Png => {
            let mut out = Vec::new();
            let ct = if p.channels == 4 {
                image::ExtendedColorType::Rgba8
            } else {
                image::ExtendedColorType::Rgb8
            };
            image::codecs::png::PngEncoder::new_with_quality(
                &mut out,
                image::codecs::png::CompressionType::Default,
                image::codecs::png::FilterType::Adaptive,
            )
            .write_image(&p.data, p.width, p.height, ct)
            .map_err(|e| e.to_string())?;
            Ok(out)
        }
    }
}

/// Lossy WebP through libwebp's one-call API: default preset, method 4, `quality`. It imports
/// the pixels straight into YUV; the webp crate's encoder goes through an ARGB copy first
/// (`use_argb`), which cost an extra pass and buffer per output for the same bytes.
fn encode_webp(p: &Pixels, quality: u8) -> Result<Vec<u8>, String> {
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
    let mut out: *mut u8 = std::ptr::null_mut();
    // SAFETY: `data` holds exactly h rows of `stride` bytes (checked above); libwebp only reads
    // them and returns a buffer it allocated (or null and 0), which is freed below.
    let len = unsafe {
        if ch == 4 {
            libwebp_sys::WebPEncodeRGBA(p.data.as_ptr(), wi, hi, stride, quality as f32, &mut out)
        } else {
            libwebp_sys::WebPEncodeRGB(p.data.as_ptr(), wi, hi, stride, quality as f32, &mut out)
        }
    };
    if out.is_null() || len == 0 {
        return Err("libwebp could not encode the image".into());
    }
    // SAFETY: libwebp returned `len` initialised bytes at `out`; they are copied, then freed
    // with libwebp's own deallocator, once.
    let bytes = unsafe {
        let v = std::slice::from_raw_parts(out, len).to_vec();
        libwebp_sys::WebPFree(out.cast());
        v
    };
    Ok(bytes)
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
