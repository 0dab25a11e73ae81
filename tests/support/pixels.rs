//! Generated pixels: photo-like pictures and their encodings, for tests and the demo.
#![allow(dead_code)]

use image::{ImageEncoder, Rgb, RgbImage, Rgba, RgbaImage};

/// A photo-like picture: a sky-to-ground gradient, a sun, stripes and fine texture, so that
/// resizing and orientation both show in the pixels. The top-left quadrant is red-ish and the
/// bottom-right blue-ish, which orientation tests read back.
pub fn photo(w: u32, h: u32, seed: u32) -> RgbImage {
    // The sun moves with the seed, so that every generated photo is a different picture.
    let sx = 0.2 + 0.6 * ((seed.wrapping_mul(37) % 100) as f32 / 100.0);
    let sy = 0.2 + 0.5 * ((seed.wrapping_mul(53) % 100) as f32 / 100.0);
    let (cx, cy, r) = (w as f32 * sx, h as f32 * sy, (w.min(h) as f32) * 0.12);
    RgbImage::from_fn(w, h, |x, y| {
        let fx = x as f32 / w as f32;
        let fy = y as f32 / h as f32;
        let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
        let noise = ((x.wrapping_mul(2654435761) ^ y.wrapping_mul(40503) ^ seed.wrapping_mul(97))
            >> 13)
            % 16;
        if d < r {
            return Rgb([250, 220, 120]);
        }
        let stripe = if (x / 37 + y / 53) % 2 == 0 { 12 } else { 0 };
        let red = (230.0 * (1.0 - fx) * (1.0 - fy)) as u32 + 20;
        let blue = (230.0 * fx * fy) as u32 + 20;
        let green = (120.0 * (1.0 - (fx - fy).abs())) as u32 + stripe + noise;
        Rgb([
            red.min(255) as u8,
            green.min(255) as u8,
            blue.min(255) as u8,
        ])
    })
}

/// Encode as JPEG at quality 90.
pub fn jpeg_bytes(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("encode jpeg");
    out
}

/// Encode as PNG.
pub fn png_bytes(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("encode png");
    out
}

/// A PNG with an alpha channel: an opaque disc on a transparent background.
pub fn rgba_png_bytes(w: u32, h: u32) -> Vec<u8> {
    let img = RgbaImage::from_fn(w, h, |x, y| {
        let d = ((x as f32 - w as f32 / 2.0).powi(2) + (y as f32 - h as f32 / 2.0).powi(2)).sqrt();
        if d < w.min(h) as f32 / 3.0 {
            Rgba([200, 40, 40, 255])
        } else {
            Rgba([0, 0, 0, 0])
        }
    });
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgba8)
        .expect("encode png");
    out
}

/// `jpeg` with an ICC profile inserted as one APP2 segment right after SOI.
pub fn with_icc(jpeg: &[u8], icc: &[u8]) -> Vec<u8> {
    let mut payload = b"ICC_PROFILE\0\x01\x01".to_vec();
    payload.extend_from_slice(icc);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE2]);
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// `rgb` in Display P3 converted to sRGB by moxcms directly (what an output of a P3 photo
/// should show).
pub fn p3_to_srgb(rgb: [u8; 3]) -> [u8; 3] {
    let t = moxcms::ColorProfile::new_display_p3()
        .create_transform_8bit(
            moxcms::Layout::Rgb,
            &moxcms::ColorProfile::new_srgb(),
            moxcms::Layout::Rgb,
            moxcms::TransformOptions::default(),
        )
        .unwrap();
    let mut out = [0u8; 3];
    t.transform(&rgb, &mut out).unwrap();
    out
}

/// An upright picture whose top-left quadrant is red, bottom-right blue, the rest green.
pub fn quadrants(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let (left, top) = (x < w / 2, y < h / 2);
        match (left, top) {
            (true, true) => Rgb([230, 20, 20]),
            (false, false) => Rgb([20, 20, 230]),
            _ => Rgb([20, 200, 20]),
        }
    })
}

/// What a camera stores for upright picture `img` when it writes EXIF orientation `o`.
pub fn stored_for_orientation(img: &RgbImage, o: u8) -> RgbImage {
    use image::imageops;
    match o {
        2 => imageops::flip_horizontal(img),
        3 => imageops::rotate180(img),
        4 => imageops::flip_vertical(img),
        5 => imageops::flip_horizontal(&imageops::rotate90(img)),
        6 => imageops::rotate270(img),
        7 => imageops::flip_horizontal(&imageops::rotate270(img)),
        8 => imageops::rotate90(img),
        _ => img.clone(),
    }
}
