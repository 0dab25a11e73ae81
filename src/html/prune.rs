//! `pixpipe html --prune-originals`: remove the originals no file of the site names any more.
//!
//! An original is removed only when all hold: pixpipe's variants of it sit beside it (so
//! the pages that showed it show those now), its name is spelled one way in any URL
//! (letters, digits, `.`, `_`, `-`, `~`: no encoding can hide it), and that name appears,
//! in any letter case, in no file of the site that could hold a URL (pages, feeds,
//! sitemaps, CSS, scripts, JSON, …). The test is a name, not a parsed
//! URL: a link to the full-size photo, an RSS feed's copy of the post, a `data-src` for a
//! script or a CSS background keeps the file, and a name shared by two files keeps both.
//! A file of the site that cannot be read stops the pruning: nothing is removed.

use crate::naming::{clean_stem, is_output_name};
use crate::site_path;
use aho_corasick::AhoCorasick;
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Extensions of files that hold no URL a browser follows: they are not searched.
const BINARY: [&str; 26] = [
    "jpg", "jpeg", "png", "webp", "avif", "gif", "ico", "bmp", "tif", "tiff", "heic", "woff",
    "woff2", "ttf", "otf", "eot", "mp4", "webm", "mov", "mp3", "ogg", "wav", "pdf", "zip", "gz",
    "br",
];

fn extension(path: &str) -> String {
    site_path::file_name(path)
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Whether `name` is a variant pixpipe names after the stem `stem`: `<stem>-<width>w.<hash>.<ext>`.
fn is_variant_of(name: &str, stem: &str) -> bool {
    is_output_name(name)
        && name
            .strip_prefix(stem)
            .and_then(|r| r.strip_prefix('-'))
            .and_then(|r| r.split_once("w."))
            .is_some_and(|(w, _)| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether every way of writing `name` in a page, a feed, a script or JSON spells it the
/// same (letters, digits, `.`, `_`, `-`, `~`): only such names are searched for, since a
/// name with a space, parentheses, `&` or `'` has spellings (`%28`, `&#39;`, `\u0026`, and
/// their mixtures) that a search could miss, and its file would be removed while linked.
fn spelled_one_way(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'~'))
}

/// The originals of `files` (site paths) that have pixpipe's variants beside them and a name
/// spelled one way. Pure. Two originals of one folder whose names clean to the same stem
/// (`a.jpg`, `a.png`, `a.fr.png`) are not candidates: the variants cannot say which one they
/// came from.
pub fn candidates(files: &BTreeSet<String>, is_source: impl Fn(&str) -> bool) -> Vec<String> {
    // (folder, cleaned stem) -> originals with that stem.
    let mut originals: BTreeMap<(&str, String), Vec<&String>> = BTreeMap::new();
    let mut variants: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for f in files {
        let name = site_path::file_name(f);
        if is_output_name(name) {
            variants.entry(site_path::parent(f)).or_default().push(name);
        } else if is_source(f) && spelled_one_way(name) {
            // Named as its variants are: without a language (`x.fr.png` → `x`), so that
            // `x.png` beside it shares the key and neither is taken for the other's.
            let stem = crate::naming::stem_and_language(f).0;
            originals
                .entry((site_path::parent(f), clean_stem(stem)))
                .or_default()
                .push(f);
        }
    }
    originals
        .into_iter()
        .filter(|((dir, stem), of)| {
            of.len() == 1
                && variants
                    .get(dir)
                    .is_some_and(|v| v.iter().any(|n| is_variant_of(n, stem)))
        })
        .map(|(_, of)| of[0].clone())
        .collect()
}

/// What pruning did.
#[derive(Debug, Default, serde::Serialize)]
pub struct Pruned {
    /// The originals removed (site paths).
    pub removed: Vec<String>,
    /// Their bytes.
    pub bytes: u64,
    /// Originals kept because a file names them.
    pub kept: usize,
    /// Originals that could not be removed, and why.
    pub failed: Vec<(String, String)>,
}

/// Why nothing was pruned.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}; no original was removed")]
pub struct PruneError {
    /// The file.
    pub path: String,
    /// What happened.
    pub source: std::io::Error,
}

/// Remove from `root` the `candidates` that no file of `files` names.
pub fn prune(
    root: &Path,
    files: &BTreeSet<String>,
    candidates: &[String],
) -> Result<Pruned, PruneError> {
    let mut out = Pruned::default();
    if candidates.is_empty() {
        return Ok(out);
    }
    let mut patterns = Vec::new();
    let mut owner = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        patterns.push(site_path::file_name(c).to_string());
        owner.push(i);
    }
    let ac = AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(&patterns)
        .map_err(|e| PruneError {
            path: String::new(),
            source: std::io::Error::other(e),
        })?;
    let searched: Vec<&String> = files
        .iter()
        .filter(|f| !BINARY.contains(&extension(f).as_str()))
        .collect();
    let found: Vec<Result<BTreeSet<usize>, PruneError>> = searched
        .par_iter()
        .map(|f| {
            let bytes = std::fs::read(root.join(f)).map_err(|source| PruneError {
                path: (*f).clone(),
                source,
            })?;
            Ok(ac
                .find_overlapping_iter(&bytes)
                .map(|m| owner[m.pattern().as_usize()])
                .collect())
        })
        .collect();
    let mut named = BTreeSet::new();
    for f in found {
        named.extend(f?);
    }
    for (i, c) in candidates.iter().enumerate() {
        if named.contains(&i) {
            out.kept += 1;
            continue;
        }
        let path = root.join(c);
        // Never through a link: `candidates` come from a walk that lists files, not links,
        // but the folder may have changed since. A failure is reported and the rest go on.
        let removed = std::fs::symlink_metadata(&path).and_then(|meta| {
            if meta.file_type().is_file() {
                std::fs::remove_file(&path).map(|()| Some(meta.len()))
            } else {
                Ok(None)
            }
        });
        match removed {
            Ok(Some(bytes)) => {
                out.bytes += bytes;
                out.removed.push(c.clone());
            }
            Ok(None) => {}
            Err(e) => out.failed.push((c.clone(), e.to_string())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn candidates_are_originals_with_variants_beside_them_and_an_unshared_stem() {
        let files = set(&[
            "a/photo.jpg",
            "a/photo-480w.0123456789.webp",
            "a/photo-480w.0123456789.jpg",
            "a/lonely.jpg",
            "b/x.jpg",
            "b/x.png",
            "b/x-320w.abcdef0123.webp",
            "c/photo.jpg",
            "d/MyPhoto.JPG",
            "d/MyPhoto-1024w.abcdef0123.jpg",
            "f/team (2019).jpg",
            "f/team--2019--1024w.abcdef0123.jpg",
            "e/photo-2.jpg",
            "e/photo-2x.0123456789.jpg",
            // Named for a language: its variants keep the language before the extension.
            "g/flag.fr.png",
            "g/flag-480w.0123456789.fr.webp",
            // Beside a plain file of the same stem, neither is taken for the other's.
            "h/flag.png",
            "h/flag.fr.png",
            "h/flag-480w.0123456789.fr.webp",
        ]);
        let raster =
            |f: &str| !extension(f).is_empty() && BINARY[..6].contains(&extension(f).as_str());
        assert_eq!(
            candidates(&files, raster),
            vec![
                "a/photo.jpg".to_string(),
                "d/MyPhoto.JPG".to_string(),
                "g/flag.fr.png".to_string()
            ]
        );
    }

    #[test]
    fn a_name_in_any_file_keeps_the_original_and_the_rest_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let w = |p: &str, b: &[u8]| {
            let p = dir.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b).unwrap();
        };
        w(
            "index.html",
            b"<picture><img src=\"a-480w.0123456789.jpg\"></picture>",
        );
        w("index.xml", b"&lt;img src=&#34;/Linked.jpg&#34;&gt;");
        w("style.css", b"body{background:url(BG.PNG)}");
        for f in ["a.jpg", "linked.jpg", "bg.png", "gone.jpg"] {
            w(f, b"\xff\xd8 pixels");
        }
        let files = set(&[
            "index.html",
            "index.xml",
            "style.css",
            "a.jpg",
            "linked.jpg",
            "bg.png",
            "gone.jpg",
            "a-480w.0123456789.jpg",
        ]);
        let c: Vec<String> = ["a.jpg", "linked.jpg", "bg.png", "gone.jpg"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let p = prune(dir.path(), &files, &c).unwrap();
        assert_eq!(p.removed, vec!["a.jpg".to_string(), "gone.jpg".to_string()]);
        assert_eq!(p.kept, 2);
        assert_eq!(p.bytes, 18);
        assert!(!dir.path().join("a.jpg").exists());
        assert!(dir.path().join("linked.jpg").exists());
        assert!(dir.path().join("bg.png").exists());
    }

    #[test]
    fn an_unreadable_file_removes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.jpg"), b"x").unwrap();
        let files = set(&["a.jpg", "missing.html"]);
        let e = prune(dir.path(), &files, &["a.jpg".to_string()]).unwrap_err();
        assert_eq!(e.path, "missing.html");
        assert!(dir.path().join("a.jpg").exists());
    }
}
