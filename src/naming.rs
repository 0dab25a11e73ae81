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
    short_of(&blake3::hash(bytes))
}

/// [`short_hash`] of bytes whose blake3 is `hash`.
pub fn short_of(hash: &blake3::Hash) -> String {
    hash.to_hex()[..10].to_string()
}

/// The stem of the source at `source` and the language its name carries, if any
/// (`flag.fr.png` → `flag`, `fr`): a last segment of two lower-case letters, with an optional
/// region (`pt-br`, `zh-hans`). Hugo reads a file's language there, so an output keeps it
/// just before its extension and is published under the same language as its source.
pub fn stem_and_language(source: &str) -> (&str, Option<&str>) {
    let file = file_name(source);
    let stem = file.rsplit_once('.').map(|(s, _)| s).unwrap_or(file);
    match stem.rsplit_once('.') {
        Some((base, lang)) if !base.is_empty() && is_language_code(lang) => (base, Some(lang)),
        _ => (stem, None),
    }
}

/// `fr`, `pt-br`, `zh-hans`: two lower-case ASCII letters, then optionally `-` and 2 to 8
/// letters or digits.
fn is_language_code(s: &str) -> bool {
    let (main, region) = s.split_once('-').map_or((s, None), |(m, r)| (m, Some(r)));
    main.len() == 2
        && main.bytes().all(|b| b.is_ascii_lowercase())
        && region.is_none_or(|r| {
            (2..=8).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// `.<lang>` for a source whose name carries a language, else nothing.
fn language_suffix(lang: Option<&str>) -> String {
    lang.map(|l| format!(".{l}")).unwrap_or_default()
}

/// `<stem>-<width>w.<hash>.<ext>` for a variant of the source at `source`
/// (`<stem>-<width>w.<hash>.<lang>.<ext>` when its name carries a language).
pub fn variant_name(source: &str, v: &Variant, hash: &str) -> String {
    let (stem, lang) = stem_and_language(source);
    format!(
        "{}-{}w.{hash}{}.{}",
        clean_stem(stem),
        v.width,
        language_suffix(lang),
        v.format.extension()
    )
}

/// `<stem>.<hash>.<ext>`: a copy of the source at `source` (its own extension, lowercased).
pub fn copy_name(source: &str, hash: &str) -> String {
    let file = file_name(source);
    let ext = file.rsplit_once('.').map_or("bin", |(_, e)| e);
    let (stem, lang) = stem_and_language(source);
    format!(
        "{}.{hash}{}.{}",
        clean_stem(stem),
        language_suffix(lang),
        ext.to_ascii_lowercase()
    )
}

/// `welcome.jpg` → `welcome.<hash>.jpg`: a full-size original in the variant's format.
pub fn original_name(source: &str, v: &Variant, hash: &str) -> String {
    let (stem, lang) = stem_and_language(source);
    format!(
        "{}.{hash}{}.{}",
        clean_stem(stem),
        language_suffix(lang),
        v.format.extension()
    )
}

/// Whether `name` looks like one of pixpipe's outputs: `<stem>-<width>w.<10 hex>.<ext>` or
/// `<stem>.<10 hex>.<ext>`, with `.<lang>` before the extension for a source named for a
/// language.
pub fn is_output_name(name: &str) -> bool {
    let is_hash = |h: &str| {
        h.len() == 10
            && h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    let parts: Vec<&str> = name.rsplitn(4, '.').collect();
    match parts[..] {
        [_ext, hash, _stem, ..] if is_hash(hash) => true,
        [_ext, lang, hash, _stem] => is_language_code(lang) && is_hash(hash),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::OutFormat;

    /// A 480 px WebP variant.
    fn webp_480() -> Variant {
        Variant {
            width: 480,
            height: 320,
            format: OutFormat::Webp,
            quality: 80,
            effort: 4,
        }
    }

    #[test]
    fn names_keep_the_stem_and_carry_the_hash() {
        let v = webp_480();
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

    #[test]
    fn a_language_in_the_sources_name_stays_just_before_the_extension() {
        let v = webp_480();
        assert_eq!(
            variant_name("content/p/flag.fr.png", &v, "0123456789"),
            "flag-480w.0123456789.fr.webp"
        );
        assert_eq!(
            copy_name("content/p/flag.pt-br.svg", "abcdefabcd"),
            "flag.abcdefabcd.pt-br.svg"
        );
        assert_eq!(
            original_name("x/welcome.zh-hans.jpg", &v, "0123456789"),
            "welcome.0123456789.zh-hans.webp"
        );
        // Not languages: kept in the stem.
        assert_eq!(
            variant_name("a/logo.min.png", &v, "0123456789"),
            "logo.min-480w.0123456789.webp"
        );
        assert_eq!(
            variant_name("a/v.2.png", &v, "0123456789"),
            "v.2-480w.0123456789.webp"
        );
        assert_eq!(
            variant_name("a/.fr.png", &v, "0123456789"),
            ".fr-480w.0123456789.webp"
        );
        assert!(is_output_name("flag-480w.0123456789.fr.webp"));
        assert!(is_output_name("flag.abcdefabcd.pt-br.svg"));
        assert!(!is_output_name("flag.fr.webp"));
        assert!(!is_output_name("flag.0123456789.french.webp"));
    }
}
