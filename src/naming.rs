//! Naming: the file names of pixpipe's outputs, shared by every command.
//!
//! An output is named by its source's stem and a hash of its own bytes, so an edited photo
//! gets a new URL and an unchanged one keeps its name on every machine. Pure: names in, names
//! out; where the files go is `output`'s business.

use crate::plan::Variant;
use crate::site_path::file_name;

/// Characters kept in output names; others become `-` (names end up in URLs and Markdown).
pub fn clean_stem(stem: &str) -> String {
    let s: String = stem
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() {
        "image".into()
    } else {
        s
    }
}

/// The first 10 hex digits of blake3 of `bytes`: the hash in an output's name.
pub fn short_hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex()[..10].to_string()
}

/// `<stem>-<width>w.<hash>.<ext>` for a variant of the source at `source`.
pub fn variant_name(source: &str, v: &Variant, hash: &str) -> String {
    let file = file_name(source);
    let stem = file.rsplit_once('.').map(|(s, _)| s).unwrap_or(file);
    format!(
        "{}-{}w.{hash}.{}",
        clean_stem(stem),
        v.width,
        v.format.extension()
    )
}

/// `<stem>.<hash>.<ext>`: a copy of the source at `source` (its own extension, lowercased).
pub fn copy_name(source: &str, hash: &str) -> String {
    let file = file_name(source);
    let (stem, ext) = file.rsplit_once('.').unwrap_or((file, "bin"));
    format!("{}.{hash}.{}", clean_stem(stem), ext.to_ascii_lowercase())
}

/// `welcome.jpg` → `welcome.<hash>.jpg`: a full-size original in the variant's format.
pub fn original_name(source: &str, v: &Variant, hash: &str) -> String {
    let file = file_name(source);
    let stem = file.rsplit_once('.').map(|(s, _)| s).unwrap_or(file);
    format!("{}.{hash}.{}", clean_stem(stem), v.format.extension())
}

/// Whether `name` looks like one of pixpipe's outputs: `<stem>-<width>w.<10 hex>.<ext>` or
/// `<stem>.<10 hex>.<ext>`.
pub fn is_output_name(name: &str) -> bool {
    let parts: Vec<&str> = name.rsplitn(3, '.').collect();
    parts.len() == 3
        && parts[1].len() == 10
        && parts[1]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::OutFormat;

    #[test]
    fn names_keep_the_stem_and_carry_the_hash() {
        let v = Variant {
            width: 480,
            height: 320,
            format: OutFormat::Webp,
            quality: 80,
            effort: 4,
        };
        assert_eq!(
            variant_name("content/a/Istio Day!.JPG", &v, "0123456789"),
            "Istio-Day--480w.0123456789.webp"
        );
        assert_eq!(
            copy_name("static/logo.SVG", "abcdefabcd"),
            "logo.abcdefabcd.svg"
        );
        assert_eq!(
            original_name("x/welcome.jpg", &v, "0123456789"),
            "welcome.0123456789.webp"
        );
        assert!(is_output_name("welcome-480w.0123456789.webp"));
        assert!(!is_output_name("welcome.jpg"));
        assert!(!is_output_name("welcome.0123456ABC.jpg"));
        assert_eq!(clean_stem(""), "image");
    }
}
