//! Test fixtures made in code: sites from string literals, images from pixels.
#![allow(dead_code)]

pub mod exif;

use image::{ImageEncoder, Rgb, RgbImage, Rgba, RgbaImage};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A photo-like picture: a sky-to-ground gradient, a sun, stripes and fine texture, so that
/// resizing and orientation both show in the pixels. The top-left quadrant is red-ish and the
/// bottom-right blue-ish, which orientation tests read back.
pub fn photo(w: u32, h: u32, seed: u32) -> RgbImage {
    let (cx, cy, r) = (w as f32 * 0.7, h as f32 * 0.3, (w.min(h) as f32) * 0.12);
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

/// A site in a temporary folder, built from string pages and generated images.
pub struct SiteBuilder {
    files: Vec<(String, Vec<u8>)>,
    links: Vec<(String, String)>,
}

/// A built site; the folder is removed when it is dropped.
pub struct Site {
    pub dir: tempfile::TempDir,
}

impl Site {
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).expect("read")
    }
}

impl SiteBuilder {
    pub fn new() -> Self {
        SiteBuilder {
            files: Vec::new(),
            links: Vec::new(),
        }
    }
    /// A page (or any text file) with `text`.
    pub fn page(mut self, rel: &str, text: &str) -> Self {
        self.files.push((rel.to_string(), text.as_bytes().to_vec()));
        self
    }
    /// A file with raw bytes.
    pub fn bytes(mut self, rel: &str, bytes: Vec<u8>) -> Self {
        self.files.push((rel.to_string(), bytes));
        self
    }
    /// A photo-like image, JPEG or PNG by extension.
    pub fn image(self, rel: &str, w: u32, h: u32) -> Self {
        let img = photo(w, h, rel.len() as u32);
        let bytes = if rel.ends_with(".png") {
            png_bytes(&img)
        } else {
            jpeg_bytes(&img)
        };
        self.bytes(rel, bytes)
    }
    /// A JPEG photo with EXIF.
    pub fn photo_with_exif(self, rel: &str, w: u32, h: u32, exif: &exif::Exif) -> Self {
        let bytes = exif.insert_into_jpeg(&jpeg_bytes(&photo(w, h, 7)));
        self.bytes(rel, bytes)
    }
    /// A symbolic link at `rel` pointing to `target` (as written).
    pub fn symlink(mut self, rel: &str, target: &str) -> Self {
        self.links.push((rel.to_string(), target.to_string()));
        self
    }
    pub fn build(self) -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        for (rel, bytes) in self.files {
            let p = dir.path().join(&rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        }
        for (rel, target) in self.links {
            let p = dir.path().join(&rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(target, p).unwrap();
        }
        Site { dir }
    }
}

/// The output of one pixpipe run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run the pixpipe binary with `args`, without colour.
pub fn pixpipe(args: &[&str]) -> Run {
    pixpipe_in(None, args)
}

/// Run the pixpipe binary in folder `cwd`.
pub fn pixpipe_in(cwd: Option<&Path>, args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pixpipe"));
    cmd.args(args)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE");
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    let out = cmd.output().expect("run pixpipe");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `../shared/corpus` next to the repository (or `$PIXPIPE_CORPUS`), when it is there.
pub fn corpus() -> Option<PathBuf> {
    let p = std::env::var_os("PIXPIPE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    if p.join("expected").is_dir() {
        Some(p)
    } else {
        eprintln!(
            "SKIPPED: {} is not there; this test needs the shared corpus (CI has it)",
            p.display()
        );
        None
    }
}

/// Parse JSON Lines.
pub fn jsonl(s: &str) -> Vec<serde_json::Value> {
    s.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}
