//! Front matter values: parse a page's front matter (YAML, TOML or JSON) and find the image
//! references in it (keys such as `images`, `cover`, `thumbnail` at any depth, and Markdown
//! images inside its strings), with the line each value is written on.
//!
//! Pure. Also gives the values Hugo builds a page's URL from (date, slug, title, url).

use super::frontmatter::{Format, FrontMatter};
use super::markdown;
use crate::position::Span;
use serde_json::Value;

/// An image named in front matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FmImage {
    /// Dotted path of the key (`params.cover`, `images`; list items of maps add an index);
    /// `(markdown)` is appended for a Markdown image inside a string.
    pub key: String,
    /// The value.
    pub src: String,
    /// Where the value is written in the page (best effort: its first occurrence after the
    /// key), or the front matter's start.
    pub span: Span,
}

/// Parse the front matter of `text` into a JSON value (keys as written); none when it does
/// not parse, or nests too deep to be parsed in time (`extract` reports that).
pub fn parse(text: &str, fm: &FrontMatter) -> Option<Value> {
    let inner = &text[fm.inner.start..fm.inner.end];
    crate::nesting::check(inner).ok()?;
    match fm.format {
        Format::Yaml => serde_yaml::from_str(inner).ok(),
        Format::Toml => toml::from_str::<toml::Value>(inner)
            .ok()
            .map(crate::hugo_config::toml_to_json),
        Format::Json => serde_json::from_str(inner).ok(),
    }
}

fn has_image_extension(s: &str) -> bool {
    let path = s.split(['?', '#']).next().unwrap_or(s);
    crate::probe::Format::from_extension(path).is_some()
}

/// Whether `needle` (not empty) occurs in `hay`, ASCII case ignored. Candidates are found
/// with `memchr2` on the first byte's two cases: a scan of every window was 4 % of
/// extraction time (measured in benches/extract.rs).
fn contains_ignore_ascii_case(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, _)) = needle.split_first() else {
        return false;
    };
    let (lower, upper) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    memchr::memchr2_iter(lower, upper, hay).any(|at| {
        hay.get(at..at + needle.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(needle))
    })
}

/// Image references in the front matter of `text`. `keys` are the key names that hold images.
pub fn images(text: &str, fm: &FrontMatter, keys: &[String]) -> Vec<FmImage> {
    // Most front matter names no image: parse it only when a key or a Markdown image occurs.
    let inner = &text.as_bytes()[fm.inner.start..fm.inner.end];
    let names = |k: &String| contains_ignore_ascii_case(inner, k.as_bytes());
    if memchr::memmem::find(inner, b"![").is_none() && !keys.iter().any(names) {
        return Vec::new();
    }
    let Some(v) = parse(text, fm) else {
        return Vec::new();
    };
    let mut found: Vec<(String, String, String)> = Vec::new(); // (key path, last key, value)
    walk(&v, "", "", keys, &mut found);
    let inner = fm.inner;
    let mut used: Vec<usize> = Vec::new();
    let mut out = Vec::new();
    for (key, last, value) in found {
        let span = locate(text, inner, &last, &value, &mut used)
            .unwrap_or(Span::new(fm.span.start, fm.span.start));
        out.push(FmImage {
            key,
            src: value,
            span,
        });
    }
    out.sort_by_key(|i| (i.span.start, i.key.clone()));
    out
}

fn walk(
    v: &Value,
    path: &str,
    last: &str,
    keys: &[String],
    out: &mut Vec<(String, String, String)>,
) {
    let join = |p: &str, k: &str| {
        if p.is_empty() {
            k.to_string()
        } else {
            format!("{p}.{k}")
        }
    };
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                walk(x, &join(path, k), k, keys, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                // A list of strings keeps its key; a list of maps numbers its items.
                let p = if x.is_string() {
                    path.to_string()
                } else {
                    join(path, &i.to_string())
                };
                walk(x, &p, last, keys, out);
            }
        }
        Value::String(s) => {
            let is_key = keys.iter().any(|k| k.eq_ignore_ascii_case(last));
            if is_key && has_image_extension(s) {
                out.push((path.to_string(), last.to_string(), s.clone()));
            }
            if s.contains("![") {
                for img in markdown::scan(s).images {
                    out.push((format!("{path}(markdown)"), last.to_string(), img.dest));
                }
            }
        }
        _ => {}
    }
}

/// The first unused occurrence of `value` in the front matter at or after a line naming `key`.
fn locate(text: &str, inner: Span, key: &str, value: &str, used: &mut Vec<usize>) -> Option<Span> {
    let fm = &text[inner.start..inner.end];
    let mut from = 0;
    while let Some(rel) = fm[from..].find(value) {
        let at = from + rel;
        from = at + value.len().max(1);
        if used.contains(&at) {
            continue;
        }
        // The nearest key before the value must be `key` (the value's own line counts).
        let line_start = fm[..at].rfind('\n').map(|i| i + 1).unwrap_or(0);
        let before = &fm[..at];
        let key_here = before[line_start..].contains(key)
            || before.rfind(['\n']).is_some_and(|_| {
                before
                    .lines()
                    .rev()
                    .take(64)
                    .find(|l| l.contains(':') || l.contains('='))
                    .is_some_and(|l| l.contains(key))
            });
        if key_here {
            used.push(at);
            return Some(Span::new(inner.start + at, inner.start + at + value.len()));
        }
    }
    // A value inside a block of text (a Markdown image in a multi-line string): its first
    // unused occurrence anywhere.
    let mut from = 0;
    while let Some(rel) = fm[from..].find(value) {
        let at = from + rel;
        from = at + value.len().max(1);
        if !used.contains(&at) {
            used.push(at);
            return Some(Span::new(inner.start + at, inner.start + at + value.len()));
        }
    }
    None
}

/// The front matter values Hugo builds a page's URL from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlParts {
    /// `date` as `YYYY-MM-DD...`.
    pub date: Option<String>,
    /// `slug`.
    pub slug: Option<String>,
    /// `title`.
    pub title: Option<String>,
    /// `url` (replaces the whole URL).
    pub url: Option<String>,
}

/// Date, slug, title and url from `text`'s front matter.
pub fn url_parts(text: &str, fm: &FrontMatter) -> UrlParts {
    let Some(v) = parse(text, fm) else {
        return UrlParts::default();
    };
    let get = |k: &str| {
        v.as_object()
            .and_then(|m| m.iter().find(|(key, _)| key.eq_ignore_ascii_case(k)))
            .and_then(|(_, x)| match x {
                Value::String(s) => Some(s.trim().to_string()),
                other if !other.is_null() => Some(other.to_string().trim_matches('"').to_string()),
                _ => None,
            })
    };
    UrlParts {
        date: get("date"),
        slug: get("slug"),
        title: get("title"),
        url: get("url"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::frontmatter::detect;

    fn keys() -> Vec<String> {
        crate::config::Config::default().front_matter_keys
    }

    #[test]
    fn image_keys_at_any_depth_with_their_lines() {
        let t = "---\ntitle: x\nparams:\n  cover: /a/cover.jpg\n  items:\n    - image: one.png\n    - image: two.png\nimages: [social.jpg, other.webp]\nfeature: /blog/some-page\nbody: \"see ![x](inline.png)\"\n---\ntext\n";
        let fm = detect(t).unwrap().unwrap();
        let got: Vec<(String, String, usize)> = images(t, &fm, &keys())
            .into_iter()
            .map(|i| (i.key, i.src, t[..i.span.start].matches('\n').count() + 1))
            .collect();
        let s = |x: &str| x.to_string();
        assert_eq!(
            got,
            vec![
                (s("params.cover"), s("/a/cover.jpg"), 4),
                (s("params.items.0.image"), s("one.png"), 6),
                (s("params.items.1.image"), s("two.png"), 7),
                (s("images"), s("social.jpg"), 8),
                (s("images"), s("other.webp"), 8),
                (s("body(markdown)"), s("inline.png"), 10),
            ]
        );
    }

    #[test]
    fn a_key_is_found_in_any_case_and_only_in_full() {
        assert!(contains_ignore_ascii_case(
            b"title: x\nCOVER: a.jpg",
            b"cover"
        ));
        assert!(contains_ignore_ascii_case(
            b"featuredImage: a",
            b"featuredimage"
        ));
        assert!(!contains_ignore_ascii_case(b"cove", b"cover"));
        assert!(!contains_ignore_ascii_case(b"anything", b""));
    }

    #[test]
    fn toml_front_matter_and_url_parts() {
        let t = "+++\ntitle = 'Hello World'\ndate = 2023-06-21T00:00:00Z\nslug = 'hi'\ncover = 'c.jpg'\n+++\n";
        let fm = detect(t).unwrap().unwrap();
        assert_eq!(images(t, &fm, &keys())[0].src, "c.jpg");
        let u = url_parts(t, &fm);
        assert_eq!(
            (
                u.date.unwrap().get(..10),
                u.slug.as_deref(),
                u.title.as_deref()
            ),
            (Some("2023-06-21"), Some("hi"), Some("Hello World"))
        );
    }
}
