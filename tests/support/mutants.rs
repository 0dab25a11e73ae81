//! Mutants: damaged copies of small generated images, for the test that `check --deep` predicts
//! `build` (issue #17, item 8) and for `make fuzz`, which share this generator.
//!
//! Every mutant comes from a seed image (JPEG baseline, progressive, greyscale, with EXIF or an
//! ICC profile; PNG RGB, RGBA, 16-bit grey, palette, with an ICC profile, animated; WebP lossy,
//! with alpha, lossless, animated; GIF still and animated) and one or two mutations: bits
//! flipped or a byte replaced, a run of bytes zeroed or randomised, a truncation, junk between
//! segments or chunks, a well-formed segment or chunk that no decoder needs, a segment or
//! chunk duplicated, dropped or swapped with the next. A PNG's checksums and a WebP's RIFF
//! size are repaired afterwards half of the time, so that damage reaches the decoders instead
//! of stopping at the container check. Everything follows from one number: mutant `i` of
//! batch `seed` is the same bytes on every machine, so a finding is replayed from the two.
#![allow(dead_code)]

use super::exif::Exif;
use super::pixels::{jpeg_bytes, photo, with_icc};
use image::{ImageEncoder, Rgba, RgbaImage};

/// A xorshift64* generator: small, fast and the same everywhere; no dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value; mixed first so that nearby seeds differ).
    pub fn new(seed: u64) -> Rng {
        // splitmix64's finaliser: seeds 1, 2, 3 start far apart; never the stuck state 0.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    /// True `num` times in `den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.next_u64() % den < num
    }
    /// A random byte.
    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }
}

/// The container a seed image is in: how its bytes split into parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Jpeg,
    Png,
    WebP,
    Gif,
}

/// An intact generated image that mutants are made from.
#[derive(Debug, Clone)]
pub struct Seed {
    /// What it is, e.g. `jpeg-progressive`.
    pub kind: &'static str,
    /// Its file extension.
    pub ext: &'static str,
    pub container: Container,
    pub bytes: Vec<u8>,
}

/// A damaged copy of a seed image.
#[derive(Debug, Clone)]
pub struct Mutant {
    /// The seed's kind.
    pub kind: &'static str,
    /// The file extension (the seed's).
    pub ext: &'static str,
    /// What was done, in order, e.g. `drop DQT at 20..89; truncate at 400 of 611`.
    pub mutation: String,
    pub bytes: Vec<u8>,
}

/// The seed images of batch `seed`: every kind once, at sizes drawn from `seed` (16 to 96
/// pixels a side, so that a build of hundreds takes seconds).
pub fn seeds(seed: u64) -> Vec<Seed> {
    let mut rng = Rng::new(seed ^ 0x5EED);
    let mut size = || (rng.range(16, 96) as u32, rng.range(16, 72) as u32);
    let mut out = Vec::new();
    let mut add = |kind, ext, container, bytes| {
        out.push(Seed {
            kind,
            ext,
            container,
            bytes,
        })
    };
    use Container::*;
    let (w, h) = size();
    add("jpeg-baseline", "jpg", Jpeg, jpeg_bytes(&photo(w, h, 1)));
    let (w, h) = size();
    add(
        "jpeg-progressive",
        "jpg",
        Jpeg,
        turbo_jpeg(w, h, turbojpeg::Subsamp::Sub2x2, true),
    );
    let (w, h) = size();
    add(
        "jpeg-444",
        "jpg",
        Jpeg,
        turbo_jpeg(w, h, turbojpeg::Subsamp::None, false),
    );
    let (w, h) = size();
    add(
        "jpeg-grey-progressive",
        "jpg",
        Jpeg,
        turbo_jpeg(w, h, turbojpeg::Subsamp::Gray, true),
    );
    let (w, h) = size();
    let exif = Exif {
        orientation: Some(6),
        artist: Some("Ann".into()),
        gps: Some((48.85, 2.35)),
        ..Exif::default()
    };
    add(
        "jpeg-exif",
        "jpg",
        Jpeg,
        exif.insert_into_jpeg(&jpeg_bytes(&photo(w, h, 2))),
    );
    let p3 = moxcms::ColorProfile::new_display_p3()
        .encode()
        .expect("encode a P3 profile");
    let (w, h) = size();
    add(
        "jpeg-icc",
        "jpg",
        Jpeg,
        with_icc(&jpeg_bytes(&photo(w, h, 3)), &p3),
    );
    let (w, h) = size();
    add("png-rgb", "png", Png, png(&photo(w, h, 4), None));
    let (w, h) = size();
    add("png-rgba", "png", Png, png_rgba(&disc(w, h)));
    let (w, h) = size();
    add("png-icc", "png", Png, png(&photo(w, h, 5), Some(&p3)));
    let (w, h) = size();
    add("png-grey16", "png", Png, png_grey16(w, h));
    let (w, h) = size();
    add("png-palette", "png", Png, png_palette(w, h));
    let (w, h) = size();
    add("png-animated", "png", Png, apng(w, h));
    let (w, h) = size();
    add("webp-lossy", "webp", WebP, webp_lossy(&disc(w, h), false));
    let (w, h) = size();
    add("webp-alpha", "webp", WebP, webp_lossy(&disc(w, h), true));
    let (w, h) = size();
    add("webp-lossless", "webp", WebP, webp_lossless(&disc(w, h)));
    let (w, h) = size();
    add("webp-animated", "webp", WebP, webp_animated(w, h));
    let (w, h) = size();
    add("gif", "gif", Gif, gif(&[disc(w, h)]));
    let (w, h) = size();
    add(
        "gif-animated",
        "gif",
        Gif,
        gif(&[disc(w, h), photo_rgba(w, h, 6), disc(w, h)]),
    );
    out
}

/// `count` mutants of batch `seed`, drawn in turn from each of `seeds`.
pub fn batch(seed: u64, seeds: &[Seed], count: usize) -> Vec<Mutant> {
    (0..count).map(|i| mutant(seed, i, seeds)).collect()
}

/// Mutant `i` of batch `seed`: the same whatever the batch's size.
pub fn mutant(seed: u64, i: usize, seeds: &[Seed]) -> Mutant {
    let mut rng = Rng::new(seed ^ (i as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
    let s = &seeds[i % seeds.len()];
    let mut bytes = s.bytes.clone();
    let mut done = vec![mutate(s.container, &mut bytes, &mut rng)];
    if rng.chance(1, 4) {
        done.push(mutate(s.container, &mut bytes, &mut rng));
    }
    if rng.chance(1, 2) {
        done.extend(repair(s.container, &mut bytes));
    }
    Mutant {
        kind: s.kind,
        ext: s.ext,
        mutation: done.join("; "),
        bytes,
    }
}

/// Apply one random mutation to `d`; returns what it did.
fn mutate(container: Container, d: &mut Vec<u8>, rng: &mut Rng) -> String {
    if d.len() < 2 {
        let b = rng.byte();
        d.push(b);
        return format!("append {b:#04x}");
    }
    let parts = parts(container, d);
    let part = |rng: &mut Rng| &parts[rng.below(parts.len())];
    // A position: anywhere, or inside a random part, so that the small header segments are
    // hit as often as the large compressed data.
    let at = |rng: &mut Rng, d: &[u8]| {
        if rng.chance(1, 2) {
            rng.below(d.len())
        } else {
            let p = part(rng);
            p.start + rng.below(p.end - p.start)
        }
    };
    match rng.below(9) {
        0 => {
            let n = rng.range(1, 4);
            let mut where_ = Vec::new();
            for _ in 0..n {
                let i = at(rng, d);
                d[i] ^= 1 << rng.below(8);
                where_.push(i.to_string());
            }
            format!("flip a bit at {}", where_.join(","))
        }
        1 => {
            let i = at(rng, d);
            let b = rng.byte();
            let old = std::mem::replace(&mut d[i], b);
            format!("byte at {i}: {old:#04x} -> {b:#04x}")
        }
        2 | 3 => {
            let start = at(rng, d);
            let n = rng.range(1, 64).min(d.len() - start);
            let zero = rng.chance(1, 2);
            for b in &mut d[start..start + n] {
                *b = if zero { 0 } else { rng.byte() };
            }
            let what = if zero { "zero" } else { "randomise" };
            format!("{what} {n} bytes at {start}")
        }
        4 => {
            let n = rng.range(1, d.len() - 1);
            let len = d.len();
            d.truncate(n);
            format!("truncate at {n} of {len}")
        }
        5 => {
            // Junk at a part boundary: random bytes, zeros, or 0xFF (a JPEG's fill bytes).
            let p = part(rng);
            let n = rng.range(1, 16);
            let fill = rng.below(3);
            let junk: Vec<u8> = (0..n)
                .map(|_| match fill {
                    0 => rng.byte(),
                    1 => 0,
                    _ => 0xFF,
                })
                .collect();
            d.splice(p.start..p.start, junk);
            let what = ["random", "zero", "0xFF"][fill];
            format!("insert {n} {what} bytes before {} at {}", p.name, p.start)
        }
        6 => {
            let p = part(rng);
            let range = p.start..p.end;
            if rng.chance(1, 2) {
                let copy = d[range.clone()].to_vec();
                d.splice(p.end..p.end, copy);
                format!("duplicate {} at {}..{}", p.name, p.start, p.end)
            } else {
                d.drain(range);
                format!("drop {} at {}..{}", p.name, p.start, p.end)
            }
        }
        7 => {
            // A well-formed segment or chunk the decoders do not need, at a part boundary.
            let p = part(rng);
            let (extra, what) = well_formed_part(container, rng);
            d.splice(p.start..p.start, extra);
            if container == Container::WebP && d.len() >= 12 {
                let size = (d.len() - 8) as u32;
                d[4..8].copy_from_slice(&size.to_le_bytes());
            }
            format!("insert {what} before {} at {}", p.name, p.start)
        }
        _ => {
            let k = rng.below(parts.len());
            match parts.get(k + 1) {
                Some(next) => {
                    let (a, b) = (&parts[k], next);
                    let moved: Vec<u8> = d[b.start..b.end]
                        .iter()
                        .chain(&d[a.start..a.end])
                        .copied()
                        .collect();
                    d.splice(a.start..b.end, moved);
                    format!("swap {} and {} at {}..{}", a.name, b.name, a.start, b.end)
                }
                None => {
                    let p = &parts[k];
                    d.drain(p.start..p.end);
                    format!("drop {} at {}..{}", p.name, p.start, p.end)
                }
            }
        }
    }
}

/// A segment, chunk or block of `container` that is well formed but that no decoder needs
/// (metadata, a comment, or an unknown type), with random contents; and what it is.
fn well_formed_part(container: Container, rng: &mut Rng) -> (Vec<u8>, String) {
    let payload: Vec<u8> = (0..rng.range(0, 40)).map(|_| rng.byte()).collect();
    let n = payload.len();
    match container {
        Container::Jpeg => {
            let marker = if rng.chance(1, 4) {
                0xFE
            } else {
                0xE0 + rng.below(16) as u8
            };
            let mut seg = vec![0xFF, marker];
            seg.extend_from_slice(&(n as u16 + 2).to_be_bytes());
            seg.extend(payload);
            (
                seg,
                format!("a {} segment of {n} bytes", marker_name(marker)),
            )
        }
        Container::Png => {
            // Ancillary (lower-case first letter) unless it is an unknown critical chunk,
            // which decoders must refuse.
            let ty: [u8; 4] = match rng.below(4) {
                0 => *b"tEXt",
                1 => {
                    let mut t = [0; 4];
                    t.iter_mut().for_each(|b| *b = b'A' + rng.below(26) as u8);
                    t[2] = t[2].to_ascii_uppercase();
                    t
                }
                _ => {
                    let mut t = [0; 4];
                    t.iter_mut().for_each(|b| *b = b'a' + rng.below(26) as u8);
                    t[2] = t[2].to_ascii_uppercase();
                    t
                }
            };
            let name = String::from_utf8_lossy(&ty).into_owned();
            (chunk(&ty, &payload), format!("a {name} chunk of {n} bytes"))
        }
        Container::WebP => {
            let mut ty = [0; 4];
            ty.iter_mut().for_each(|b| *b = b'A' + rng.below(26) as u8);
            let name = String::from_utf8_lossy(&ty).into_owned();
            (
                riff_chunk(&ty, &payload),
                format!("a {name} chunk of {n} bytes"),
            )
        }
        Container::Gif => {
            // A comment extension: its text in sub-blocks of up to 255 bytes, then 0.
            let mut block = vec![0x21, 0xFE];
            for sub in payload.chunks(255) {
                block.push(sub.len() as u8);
                block.extend_from_slice(sub);
            }
            block.push(0);
            (block, format!("a comment extension of {n} bytes"))
        }
    }
}

/// Make the container consistent again where its own checks would stop the damage: a PNG's
/// chunk checksums, a WebP's RIFF size. Returns what it repaired.
fn repair(container: Container, d: &mut [u8]) -> Option<String> {
    match container {
        Container::Png => {
            let mut fixed = 0;
            for p in parts(container, d).iter().filter(|p| p.name != "signature") {
                let Some(len) = be32(d, p.start) else { break };
                let end = p.start + 8 + len as usize;
                if end + 4 > d.len() || end + 4 != p.end {
                    break;
                }
                let crc = crc32fast::hash(&d[p.start + 4..end]).to_be_bytes();
                if d[end..end + 4] != crc {
                    d[end..end + 4].copy_from_slice(&crc);
                    fixed += 1;
                }
            }
            (fixed > 0).then(|| format!("repair {fixed} chunk checksums"))
        }
        Container::WebP if d.len() >= 12 => {
            let size = (d.len() - 8) as u32;
            (d[4..8] != size.to_le_bytes()).then(|| {
                d[4..8].copy_from_slice(&size.to_le_bytes());
                format!("repair the RIFF size to {size}")
            })
        }
        _ => None,
    }
}

/// A segment, chunk or block of a file.
#[derive(Debug, Clone)]
struct Part {
    name: String,
    start: usize,
    end: usize,
}

/// The parts of `d` as its container splits it, as far as they can be followed; whatever is
/// left is one more part, so that the parts always cover the whole file.
fn parts(container: Container, d: &[u8]) -> Vec<Part> {
    let mut out = Vec::new();
    let mut push = |name: String, start: usize, end: usize| {
        if start < end {
            out.push(Part { name, start, end });
        }
    };
    let end = match container {
        Container::Jpeg => jpeg_parts(d, &mut push),
        Container::Png => png_parts(d, &mut push),
        Container::WebP => webp_parts(d, &mut push),
        Container::Gif => gif_parts(d, &mut push),
    };
    push("the rest".into(), end.min(d.len()), d.len());
    if out.is_empty() {
        out.push(Part {
            name: "the file".into(),
            start: 0,
            end: d.len(),
        });
    }
    out
}

/// JPEG: SOI, each marker segment, each scan's entropy-coded data, EOI.
fn jpeg_parts(d: &[u8], push: &mut impl FnMut(String, usize, usize)) -> usize {
    if !d.starts_with(&[0xFF, 0xD8]) {
        return 0;
    }
    push("SOI".into(), 0, 2);
    let mut i = 2;
    while i + 1 < d.len() && d[i] == 0xFF {
        let m = d[i + 1];
        if m == 0xD9 {
            push("EOI".into(), i, i + 2);
            return i + 2;
        }
        let Some(len) = be16(d, i + 2) else { return i };
        let end = i + 2 + len as usize;
        if end > d.len() {
            return i;
        }
        push(marker_name(m), i, end);
        i = end;
        if m == 0xDA {
            // The entropy-coded data: up to the next marker that is not a stuffed byte or a
            // restart marker.
            let start = i;
            let ends_scan = |i: usize| d[i] == 0xFF && !matches!(d[i + 1], 0x00 | 0xD0..=0xD7);
            while i + 1 < d.len() && !ends_scan(i) {
                i += 1;
            }
            push("scan data".into(), start, i);
        }
    }
    i
}

fn marker_name(m: u8) -> String {
    match m {
        0xC0..=0xC3 => format!("SOF{}", m - 0xC0),
        0xC4 => "DHT".into(),
        0xDA => "SOS".into(),
        0xDB => "DQT".into(),
        0xDD => "DRI".into(),
        0xE0..=0xEF => format!("APP{}", m - 0xE0),
        0xFE => "COM".into(),
        _ => format!("marker {m:#04x}"),
    }
}

/// PNG: the signature, then each chunk (length, type, data, checksum).
fn png_parts(d: &[u8], push: &mut impl FnMut(String, usize, usize)) -> usize {
    if d.len() < 8 {
        return 0;
    }
    push("signature".into(), 0, 8);
    let mut i = 8;
    while let (Some(len), Some(ty)) = (be32(d, i), d.get(i + 4..i + 8)) {
        let end = i + 12 + len as usize;
        if end > d.len() {
            break;
        }
        push(format!("{} chunk", String::from_utf8_lossy(ty)), i, end);
        i = end;
    }
    i
}

/// WebP: the RIFF header, then each chunk (with its padding byte).
fn webp_parts(d: &[u8], push: &mut impl FnMut(String, usize, usize)) -> usize {
    if d.len() < 12 {
        return 0;
    }
    push("RIFF header".into(), 0, 12);
    let mut i = 12;
    while let (Some(len), Some(ty)) = (le32(d, i), d.get(i..i + 4)) {
        let end = i + 8 + len as usize + (len as usize & 1);
        if end > d.len() {
            break;
        }
        push(format!("{} chunk", String::from_utf8_lossy(ty)), i, end);
        i = end;
    }
    i
}

/// GIF: the header with its colour table, each extension and frame block, the trailer.
fn gif_parts(d: &[u8], push: &mut impl FnMut(String, usize, usize)) -> usize {
    let Some(&flags) = d.get(10) else { return 0 };
    let mut i = 13
        + if flags & 0x80 != 0 {
            3 << ((flags & 7) + 1)
        } else {
            0
        };
    if i > d.len() {
        return 0;
    }
    push("header".into(), 0, i);
    let sub_blocks = |mut j: usize| -> Option<usize> {
        loop {
            let n = *d.get(j)? as usize;
            j += 1 + n;
            if n == 0 {
                return (j <= d.len()).then_some(j);
            }
        }
    };
    loop {
        let start = i;
        let (name, end) = match d.get(i) {
            Some(0x21) => {
                let label = d.get(i + 1).copied().unwrap_or(0);
                let name = match label {
                    0xF9 => "graphic control extension".to_string(),
                    0xFF => "application extension".to_string(),
                    _ => format!("extension {label:#04x}"),
                };
                (name, sub_blocks(i + 2))
            }
            Some(0x2C) => {
                let ff = d.get(i + 9).copied().unwrap_or(0);
                let table = if ff & 0x80 != 0 {
                    3 << ((ff & 7) + 1)
                } else {
                    0
                };
                // Descriptor, local colour table, LZW code size, then the data's sub-blocks.
                ("frame".to_string(), sub_blocks(i + 10 + table + 1))
            }
            Some(0x3B) => ("trailer".to_string(), Some(i + 1)),
            _ => return i,
        };
        let Some(end) = end else { return start };
        push(name, start, end);
        i = end;
        if d[start] == 0x3B {
            return i;
        }
    }
}

fn be16(d: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes(d.get(i..i + 2)?.try_into().ok()?))
}
fn be32(d: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(i..i + 4)?.try_into().ok()?))
}
fn le32(d: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(i..i + 4)?.try_into().ok()?))
}

// The seed images.

fn turbo_jpeg(w: u32, h: u32, sub: turbojpeg::Subsamp, progressive: bool) -> Vec<u8> {
    let img = photo(w, h, w ^ h);
    let mut c = turbojpeg::Compressor::new().expect("libjpeg-turbo");
    c.set_quality(85).expect("quality");
    c.set_subsamp(sub).expect("subsampling");
    c.set_progressive(progressive).expect("progressive");
    c.compress_to_vec(turbojpeg::Image {
        pixels: img.as_raw().as_slice(),
        width: w as usize,
        pitch: w as usize * 3,
        height: h as usize,
        format: turbojpeg::PixelFormat::RGB,
    })
    .expect("encode jpeg")
}

/// An opaque disc on a transparent background, with a gradient inside.
fn disc(w: u32, h: u32) -> RgbaImage {
    RgbaImage::from_fn(w, h, |x, y| {
        let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
        let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
        if d < w.min(h) as f32 / 2.5 {
            Rgba([(x * 255 / w) as u8, 60, (y * 255 / h) as u8, 255])
        } else {
            Rgba([0, 0, 0, 0])
        }
    })
}

fn photo_rgba(w: u32, h: u32, seed: u32) -> RgbaImage {
    let p = photo(w, h, seed);
    RgbaImage::from_fn(w, h, |x, y| {
        let [r, g, b] = p.get_pixel(x, y).0;
        Rgba([r, g, b, 255])
    })
}

fn png(img: &image::RgbImage, icc: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut e = image::codecs::png::PngEncoder::new(&mut out);
    if let Some(icc) = icc {
        e.set_icc_profile(icc.to_vec())
            .expect("PNG takes an ICC profile");
    }
    e.write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgb8,
    )
    .expect("encode png");
    out
}

fn png_rgba(img: &RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgba8,
        )
        .expect("encode png");
    out
}

fn png_grey16(w: u32, h: u32) -> Vec<u8> {
    let data: Vec<u8> = (0..w * h)
        .flat_map(|i| (((i % w) * 65535 / w) as u16 ^ (i / w) as u16).to_ne_bytes())
        .collect();
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(&data, w, h, image::ExtendedColorType::L16)
        .expect("encode png");
    out
}

/// A PNG chunk: length, type, data, checksum.
fn chunk(ty: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(ty);
    out.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(ty);
    crc.update(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
    out
}

fn ihdr(w: u32, h: u32, depth: u8, color: u8) -> Vec<u8> {
    let mut d = w.to_be_bytes().to_vec();
    d.extend_from_slice(&h.to_be_bytes());
    d.extend_from_slice(&[depth, color, 0, 0, 0]);
    chunk(b"IHDR", &d)
}

/// An 8-bit palette PNG with a transparent entry (the image crate writes none).
fn png_palette(w: u32, h: u32) -> Vec<u8> {
    let palette: Vec<u8> = (0..16u8)
        .flat_map(|i| [i * 16, 255 - i * 16, 128])
        .collect();
    let mut raw = Vec::new();
    for y in 0..h {
        raw.push(0); // filter: none
        raw.extend((0..w).map(|x| ((x / 4 + y / 4) % 16) as u8));
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(ihdr(w, h, 8, 3));
    out.extend(chunk(b"PLTE", &palette));
    out.extend(chunk(b"tRNS", &[0]));
    out.extend(chunk(
        b"IDAT",
        &miniz_oxide::deflate::compress_to_vec_zlib(&raw, 6),
    ));
    out.extend(chunk(b"IEND", &[]));
    out
}

/// The zlib stream of a PNG: its IDAT chunks' data, joined.
fn idat_of(png: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 8;
    while let (Some(len), Some(ty)) = (be32(png, i), png.get(i + 4..i + 8)) {
        let len = len as usize;
        if ty == b"IDAT" {
            out.extend_from_slice(&png[i + 8..i + 8 + len]);
        }
        i += 12 + len;
    }
    out
}

/// An animated PNG of two frames (acTL, fcTL, IDAT, fcTL, fdAT), made by hand: the image
/// crate writes none.
fn apng(w: u32, h: u32) -> Vec<u8> {
    let frames = [png_rgba(&disc(w, h)), png_rgba(&photo_rgba(w, h, 7))];
    let fctl = |seq: u32| {
        let mut d = seq.to_be_bytes().to_vec();
        for v in [w, h, 0, 0] {
            d.extend_from_slice(&v.to_be_bytes());
        }
        d.extend_from_slice(&[0, 10, 0, 100, 0, 0]); // 10/100 s, no disposal, no blending
        chunk(b"fcTL", &d)
    };
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(ihdr(w, h, 8, 6));
    out.extend(chunk(b"acTL", &[0, 0, 0, 2, 0, 0, 0, 0]));
    out.extend(fctl(0));
    out.extend(chunk(b"IDAT", &idat_of(&frames[0])));
    out.extend(fctl(1));
    let mut fdat = 2u32.to_be_bytes().to_vec();
    fdat.extend(idat_of(&frames[1]));
    out.extend(chunk(b"fdAT", &fdat));
    out.extend(chunk(b"IEND", &[]));
    out
}

fn webp_lossy(img: &RgbaImage, alpha: bool) -> Vec<u8> {
    let pixels = if alpha {
        pixpipe::process::pixels::Pixels {
            width: img.width(),
            height: img.height(),
            channels: 4,
            data: img.as_raw().clone(),
        }
    } else {
        let rgb = image::DynamicImage::ImageRgba8(img.clone()).into_rgb8();
        pixpipe::process::pixels::Pixels {
            width: img.width(),
            height: img.height(),
            channels: 3,
            data: rgb.into_raw(),
        }
    };
    pixpipe::process::codec::encode(&pixels, pixpipe::plan::OutFormat::Webp, 80, 4)
        .expect("encode webp")
}

fn webp_lossless(img: &RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut out)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgba8,
        )
        .expect("encode webp");
    out
}

/// A WebP chunk: type, little-endian length, data, a padding byte to an even length.
fn riff_chunk(ty: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = ty.to_vec();
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
    out
}

fn le24(v: u32) -> [u8; 3] {
    let b = v.to_le_bytes();
    [b[0], b[1], b[2]]
}

/// An animated WebP of two lossy frames (VP8X, ANIM, ANMF, ANMF), made by hand: the image
/// crate writes none.
fn webp_animated(w: u32, h: u32) -> Vec<u8> {
    let mut body = b"WEBP".to_vec();
    let mut vp8x = vec![0x02, 0, 0, 0]; // the animation flag
    vp8x.extend(le24(w - 1));
    vp8x.extend(le24(h - 1));
    body.extend(riff_chunk(b"VP8X", &vp8x));
    body.extend(riff_chunk(b"ANIM", &[255, 255, 255, 255, 0, 0]));
    for frame in [photo_rgba(w, h, 8), photo_rgba(w, h, 9)] {
        let still = webp_lossy(&frame, false);
        let mut anmf = [le24(0), le24(0), le24(w - 1), le24(h - 1), le24(100)].concat();
        anmf.push(0);
        anmf.extend_from_slice(&still[12..]); // its VP8 chunk
        body.extend(riff_chunk(b"ANMF", &anmf));
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend(body);
    out
}

fn gif(frames: &[RgbaImage]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut e = image::codecs::gif::GifEncoder::new_with_speed(&mut out, 10);
        if frames.len() > 1 {
            e.set_repeat(image::codecs::gif::Repeat::Infinite)
                .expect("repeat");
        }
        let delay = image::Delay::from_numer_denom_ms(100, 1);
        e.encode_frames(
            frames
                .iter()
                .map(|f| image::Frame::from_parts(f.clone(), 0, 0, delay)),
        )
        .expect("encode gif");
    }
    out
}
