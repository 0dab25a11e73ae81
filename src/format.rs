//! The formats pixpipe writes: `OutFormat`, with the file extension, name and MIME type of
//! each.
//!
//! A leaf: `config` (which formats to make, at which quality), `plan` and `process` all name
//! these, and this module names nothing of theirs. The formats pixpipe reads are
//! `probe::Format`.

use serde::Serialize;

/// An encoded output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutFormat {
    /// JPEG.
    Jpeg,
    /// PNG (lossless).
    Png,
    /// Lossy WebP.
    Webp,
    /// AVIF (AV1 still image, libaom through libavif).
    Avif,
}

impl OutFormat {
    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            OutFormat::Jpeg => "jpg",
            OutFormat::Png => "png",
            OutFormat::Webp => "webp",
            OutFormat::Avif => "avif",
        }
    }
    /// Name in `pixpipe.yaml` and the manifest.
    pub fn name(self) -> &'static str {
        match self {
            OutFormat::Jpeg => "jpeg",
            OutFormat::Png => "png",
            OutFormat::Webp => "webp",
            OutFormat::Avif => "avif",
        }
    }
    /// Whether a `width` x `height` picture can be encoded in this format: WebP's sides stop
    /// at 16,383 pixels (libwebp refuses larger), JPEG's at 65,500 (libjpeg-turbo's limit),
    /// AVIF's at 32,768 (the largest side libavif decodes by default, as browsers use it).
    pub fn fits(self, width: u32, height: u32) -> bool {
        let max = match self {
            OutFormat::Jpeg => 65_500,
            OutFormat::Png => u32::MAX,
            OutFormat::Webp => 16_383,
            OutFormat::Avif => 32_768,
        };
        width <= max && height <= max
    }
    /// The format named `name` in a manifest (`jpeg`, `png`, `webp`, `avif`).
    pub fn from_name(name: &str) -> Option<OutFormat> {
        [
            OutFormat::Jpeg,
            OutFormat::Png,
            OutFormat::Webp,
            OutFormat::Avif,
        ]
        .into_iter()
        .find(|f| f.name() == name)
    }
    /// Where this format's `<source>` goes in a `<picture>`: browsers take the first one they
    /// support, so the format that is smallest where it is supported comes first (AVIF, then
    /// WebP, then the rest).
    pub fn source_rank(self) -> u8 {
        match self {
            OutFormat::Avif => 0,
            OutFormat::Webp => 1,
            OutFormat::Jpeg | OutFormat::Png => 2,
        }
    }
    /// `formats` in the order of their `<source>`s (`source_rank`; stable).
    pub fn in_source_order(formats: &[OutFormat]) -> Vec<OutFormat> {
        let mut f = formats.to_vec();
        f.sort_by_key(|f| f.source_rank());
        f
    }
    /// The MIME type, for `<source type=…>`.
    pub fn mime(self) -> &'static str {
        match self {
            OutFormat::Jpeg => "image/jpeg",
            OutFormat::Png => "image/png",
            OutFormat::Webp => "image/webp",
            OutFormat::Avif => "image/avif",
        }
    }
}
