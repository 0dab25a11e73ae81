//! The manifest: every source image and the variants made from it, as a Hugo data file.
//!
//! The only module that knows the manifest's file format (YAML via serde_yaml, or JSON). Keys
//! and lists are sorted, paths are site-relative and `/`-separated, so the same build gives
//! the same bytes on every machine.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Manifest format version.
pub const VERSION: u32 = 1;

/// The whole manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version.
    pub version: u32,
    /// Images by the site-relative path of their source.
    pub images: BTreeMap<String, Image>,
}

/// One source image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// Displayed width (after EXIF orientation).
    pub width: u32,
    /// Displayed height.
    pub height: u32,
    /// Source format.
    pub format: String,
    /// First 10 hex digits of blake3 of the source's bytes.
    pub hash: String,
    /// Source size in bytes.
    pub bytes: u64,
    /// `resized`, or `copied` for animations and SVG (published as they are).
    pub treatment: String,
    /// Every variant, by format then width.
    pub variants: Vec<Variant>,
}

/// One output file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Variant {
    /// Site-relative path of the output (in the output tree).
    pub path: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `jpeg`, `png`, `webp` (or the source format when copied).
    pub format: String,
    /// Size in bytes.
    pub bytes: u64,
    /// First 10 hex digits of blake3 of the output's bytes (also in its name).
    pub hash: String,
}

/// Output format of the manifest file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestFormat {
    /// YAML (a Hugo data file).
    Yaml,
    /// JSON.
    Json,
}

impl Manifest {
    /// Serialise.
    pub fn to_string(&self, format: ManifestFormat) -> String {
        match format {
            ManifestFormat::Yaml => serde_yaml::to_string(self).unwrap_or_default(),
            ManifestFormat::Json => {
                let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
                s.push('\n');
                s
            }
        }
    }
    /// Parse a manifest written by `to_string` (either format).
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let t = text.trim_start();
        if t.starts_with('{') {
            serde_json::from_str(t).map_err(|e| e.to_string())
        } else {
            serde_yaml::from_str(text).map_err(|e| e.to_string())
        }
    }
    /// Output path → source path, for recognising our own outputs.
    pub fn outputs(&self) -> BTreeMap<&str, &str> {
        let mut m = BTreeMap::new();
        for (src, img) in &self.images {
            for v in &img.variants {
                m.insert(v.path.as_str(), src.as_str());
            }
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_json_round_trip() {
        let mut m = Manifest {
            version: VERSION,
            images: BTreeMap::new(),
        };
        m.images.insert(
            "content/a/p.jpg".into(),
            Image {
                width: 1600,
                height: 900,
                format: "jpeg".into(),
                hash: "0123456789".into(),
                bytes: 1000,
                treatment: "resized".into(),
                variants: vec![Variant {
                    path: "content/a/p-800w.abcdef0123.jpg".into(),
                    width: 800,
                    height: 450,
                    format: "jpeg".into(),
                    bytes: 99,
                    hash: "abcdef0123".into(),
                }],
            },
        );
        for f in [ManifestFormat::Yaml, ManifestFormat::Json] {
            assert_eq!(Manifest::parse(&m.to_string(f)).unwrap(), m);
        }
        assert!(m
            .to_string(ManifestFormat::Yaml)
            .starts_with("version: 1\nimages:\n  content/a/p.jpg:\n    width: 1600\n"));
    }
}
