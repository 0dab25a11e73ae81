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
}

impl OutFormat {
    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            OutFormat::Jpeg => "jpg",
            OutFormat::Png => "png",
            OutFormat::Webp => "webp",
        }
    }
    /// Name in `pixpipe.yaml` and the manifest.
    pub fn name(self) -> &'static str {
        match self {
            OutFormat::Jpeg => "jpeg",
            OutFormat::Png => "png",
            OutFormat::Webp => "webp",
        }
    }
    /// Whether a `width` x `height` picture can be encoded in this format: WebP's sides stop
    /// at 16,383 pixels (libwebp refuses larger), JPEG's at 65,500 (libjpeg-turbo's limit).
    pub fn fits(self, width: u32, height: u32) -> bool {
        let max = match self {
            OutFormat::Jpeg => 65_500,
            OutFormat::Png => u32::MAX,
            OutFormat::Webp => 16_383,
        };
        width <= max && height <= max
    }
    /// The format named `name` in a manifest (`jpeg`, `png`, `webp`).
    pub fn from_name(name: &str) -> Option<OutFormat> {
        [OutFormat::Jpeg, OutFormat::Png, OutFormat::Webp]
            .into_iter()
            .find(|f| f.name() == name)
    }
    /// The MIME type, for `<source type=…>`.
    pub fn mime(self) -> &'static str {
        match self {
            OutFormat::Jpeg => "image/jpeg",
            OutFormat::Png => "image/png",
            OutFormat::Webp => "image/webp",
        }
    }
}
