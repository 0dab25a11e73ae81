//! Rewrite: page text + edits → new text. Only the bytes of the references change.
//!
//! Pure. Edits are computed per reference from the plan's outputs: a shortcode's source
//! parameter points at the 1x variant and gains `srcset` (and `ratio` where the shortcode has
//! one and it was missing); a Markdown image points at the 1x variant; an `<img>` gets `src`,
//! `srcset`, `sizes`, `width` and `height`. Rewriting a rewritten page changes nothing.

use crate::extract::{ImageRef, Syntax, Value};
use crate::position::Span;

/// Replace `span` with `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// What to replace (an empty span inserts).
    pub span: Span,
    /// The new text.
    pub text: String,
}

/// Apply non-overlapping `edits` to `text`. Overlapping edits (which the callers never make)
/// keep the first and drop the rest.
pub fn apply(text: &str, mut edits: Vec<Edit>) -> String {
    edits.sort_by_key(|e| (e.span.start, e.span.end));
    let mut out = String::with_capacity(text.len() + 256);
    let mut at = 0;
    for e in edits {
        if e.span.start < at || e.span.end > text.len() {
            continue;
        }
        out.push_str(&text[at..e.span.start]);
        out.push_str(&e.text);
        at = e.span.end;
    }
    out.push_str(&text[at..]);
    out
}

/// What a reference should point at after the build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The new `src` (the 1x variant of the primary format), written like the original.
    pub src: String,
    /// `url 480w, url 960w` in the format of `src` (empty for a copied image).
    pub srcset: String,
    /// The `sizes` attribute for `srcset` (empty for a copied image).
    pub sizes: String,
    /// CSS width shown.
    pub css_width: u32,
    /// Height at `css_width`.
    pub css_height: u32,
    /// `ratio` to fill in: height/width in percent, formatted.
    pub ratio: String,
}

/// The source as written with its file name replaced by `name` (same folder, so it resolves
/// the same way), query and fragment dropped.
pub fn sibling_src(written: &str, name: &str) -> String {
    let w = written.trim();
    let w = w.split(['#', '?']).next().unwrap_or(w);
    let dir = crate::site_path::parent_prefix(w);
    format!("{dir}{name}")
}

/// The edit that points the reference definition whose destination is written at `def` to
/// `t`'s source, for reference-style images that all show the same output: the images stay
/// as written, and the definition keeps its title.
pub fn definition_edit(text: &str, def: Span, t: &Target) -> Option<Edit> {
    let bracketed = def.start > 0 && text.as_bytes().get(def.start - 1) == Some(&b'<');
    let dest = if bracketed {
        t.src.clone()
    } else {
        markdown_dest(&t.src)
    };
    (text.get(def.start..def.end)? != dest).then_some(Edit {
        span: def,
        text: dest,
    })
}

fn markdown_dest(url: &str) -> String {
    if url.contains([' ', '(', ')', '<', '>']) {
        format!("<{url}>")
    } else {
        url.to_string()
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('"', "&quot;")
}

/// Insert ` name="value"` after the last parameter of a shortcode tag or attribute of an
/// `<img>`: before the closing delimiter and the whitespace that precedes it.
fn insertion_point(text: &str, tag: Span) -> usize {
    let t = &text[tag.start..tag.end];
    let mut end = t.len();
    for close in ["/>}}", ">}}", "%}}", "/>", ">"] {
        if t.ends_with(close) {
            end -= close.len();
            break;
        }
    }
    let trimmed = t[..end].trim_end();
    tag.start + trimmed.len()
}

fn set_or_insert(
    text: &str,
    tag: Span,
    existing: Option<&Value>,
    name: &str,
    value: &str,
    edits: &mut Vec<Edit>,
) {
    match existing {
        Some(v) => {
            if text[v.span.start..v.span.end] != *value {
                edits.push(Edit {
                    span: v.span,
                    text: value.to_string(),
                });
            }
        }
        None => {
            let at = insertion_point(text, tag);
            edits.push(Edit {
                span: Span::new(at, at),
                text: format!(" {name}=\"{value}\""),
            });
        }
    }
}

/// The edits that make reference `r` in `text` point at `t`. `ratio_param` names the
/// shortcode's ratio parameter, when it has one.
pub fn edits_for(text: &str, r: &ImageRef, t: &Target, ratio_param: Option<&str>) -> Vec<Edit> {
    let mut edits = Vec::new();
    match &r.syntax {
        Syntax::Shortcode(_) => {
            if text[r.src.span.start..r.src.span.end] != t.src {
                edits.push(Edit {
                    span: r.src.span,
                    text: t.src.clone(),
                });
            }
            // Named parameters can be added only when the tag uses named parameters.
            let named = r.src.name.parse::<usize>().is_err();
            if named && !t.srcset.is_empty() && !t.srcset.contains('"') {
                set_or_insert(
                    text,
                    r.span,
                    r.srcset.as_deref(),
                    "srcset",
                    &t.srcset,
                    &mut edits,
                );
            }
            if let (true, Some(rp), None) = (named, ratio_param, &r.ratio) {
                set_or_insert(text, r.span, None, rp, &t.ratio, &mut edits);
            }
        }
        Syntax::Markdown => {
            let inline = r.src.span != r.span;
            if inline {
                let dest = markdown_dest(&t.src);
                if text[r.src.span.start..r.src.span.end] != dest {
                    edits.push(Edit {
                        span: r.src.span,
                        text: dest,
                    });
                }
            } else {
                // A reference-style image: its definition may serve other images, so this one
                // becomes an inline image.
                let alt = r
                    .alt
                    .as_ref()
                    .map(|a| a.text.replace(']', "\\]"))
                    .unwrap_or_default();
                let title = r
                    .title
                    .as_ref()
                    .map(|v| format!(" \"{}\"", v.text.replace('"', "\\\"")))
                    .unwrap_or_default();
                edits.push(Edit {
                    span: r.span,
                    text: format!("![{alt}]({}{title})", markdown_dest(&t.src)),
                });
            }
        }
        // Front matter is read by templates: left as written.
        Syntax::FrontMatter(_) => {}
        Syntax::Html => {
            let src = html_escape(&t.src);
            if text[r.src.span.start..r.src.span.end] != src {
                edits.push(Edit {
                    span: r.src.span,
                    text: src,
                });
            }
            if !t.srcset.is_empty() {
                set_or_insert(
                    text,
                    r.span,
                    r.srcset.as_deref(),
                    "srcset",
                    &html_escape(&t.srcset),
                    &mut edits,
                );
                // `sizes` is not extracted; look for it in the tag text.
                let tag = &text[r.span.start..r.span.end];
                if !tag.to_ascii_lowercase().contains(" sizes=") {
                    set_or_insert(text, r.span, None, "sizes", &t.sizes, &mut edits);
                }
            }
            if r.width.is_none() {
                set_or_insert(
                    text,
                    r.span,
                    None,
                    "width",
                    &t.css_width.to_string(),
                    &mut edits,
                );
            }
            if r.height.is_none() {
                let h = match r
                    .width
                    .as_ref()
                    .and_then(|w| w.text.trim().parse::<f64>().ok())
                {
                    Some(w) if t.css_width > 0 => {
                        (w * t.css_height as f64 / t.css_width as f64).round() as u32
                    }
                    _ => t.css_height,
                };
                set_or_insert(text, r.span, None, "height", &h.to_string(), &mut edits);
            }
        }
    }
    edits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::extract::{extract, Rules};

    fn target() -> Target {
        Target {
            src: "./p-480w.0123456789.jpg".into(),
            srcset: "./p-480w.0123456789.jpg 480w, ./p-960w.abcdefabcd.jpg 960w".into(),
            sizes: "(max-width: 512px) calc(100vw - 32px), 480px".into(),
            css_width: 480,
            css_height: 270,
            ratio: "56.25%".into(),
        }
    }

    fn rewrite(text: &str) -> String {
        let ex = extract(text, &Rules::from_config(&Config::default()));
        let mut edits = Vec::new();
        for r in &ex.refs {
            let ratio =
                matches!(&r.syntax, Syntax::Shortcode(n) if n == "image").then_some("ratio");
            edits.extend(edits_for(text, r, &target(), ratio));
        }
        apply(text, edits)
    }

    #[test]
    fn shortcode_gets_src_srcset_and_ratio_before_its_closing_line() {
        let t = "{{< image width=\"40%\"\n    link=\"./p.jpg\"\n    caption=\"Hi\"\n    >}}\n";
        assert_eq!(
            rewrite(t),
            "{{< image width=\"40%\"\n    link=\"./p-480w.0123456789.jpg\"\n    caption=\"Hi\" srcset=\"./p-480w.0123456789.jpg 480w, ./p-960w.abcdefabcd.jpg 960w\" ratio=\"56.25%\"\n    >}}\n"
        );
    }

    #[test]
    fn rewriting_twice_changes_nothing_the_second_time() {
        let t = "{{< image link=\"./p.jpg\" >}}\n\n![a](p.jpg)\n\n<img src=p.jpg>\n";
        let once = rewrite(t);
        assert_ne!(once, t);
        assert_eq!(rewrite(&once), once);
    }

    #[test]
    fn markdown_and_html() {
        assert_eq!(
            rewrite("![a](p.jpg \"T\")\n"),
            "![a](./p-480w.0123456789.jpg \"T\")\n"
        );
        assert_eq!(
            rewrite("![a][r]\n\n[r]: p.jpg\n"),
            "![a](./p-480w.0123456789.jpg)\n\n[r]: p.jpg\n"
        );
        assert_eq!(
            rewrite("<img src=\"p.jpg\" alt=\"x\">\n"),
            "<img src=\"./p-480w.0123456789.jpg\" alt=\"x\" srcset=\"./p-480w.0123456789.jpg 480w, ./p-960w.abcdefabcd.jpg 960w\" sizes=\"(max-width: 512px) calc(100vw - 32px), 480px\" width=\"480\" height=\"270\">\n"
        );
    }

    #[test]
    fn sibling_keeps_the_folder_as_written() {
        assert_eq!(
            sibling_src("/images/a b.png?v=2", "a-b-480w.1.png"),
            "/images/a-b-480w.1.png"
        );
        assert_eq!(sibling_src("x.jpg", "x-1w.2.jpg"), "x-1w.2.jpg");
    }
}
