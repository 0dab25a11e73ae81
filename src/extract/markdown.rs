//! The CommonMark pass: code, raw HTML and images, with byte spans, from pulldown-cmark.
//!
//! It runs on page text whose shortcodes were masked (replaced byte for byte by letters), as
//! Hugo hides shortcodes behind placeholders before Goldmark sees the page. It decides what is
//! code and what is raw HTML; it does not know shortcodes.

use crate::extract::html::{self, HtmlScan};
use crate::position::Span;
use pulldown_cmark::{Event, LinkType, Options, Parser, Tag, TagEnd};
use rustc_hash::{FxHashMap, FxHashSet};

/// A Markdown image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdImage {
    /// From `!` to the end of the image (`)` or `]`).
    pub span: Span,
    /// The destination (for a reference image, its definition's).
    pub dest: String,
    /// Where the destination is written, when it can be found in the text.
    pub dest_span: Option<Span>,
    /// For a reference image, where its definition's destination is written (`[r]: here`).
    pub def_dest_span: Option<Span>,
    /// The title, if any.
    pub title: String,
    /// The alt text.
    pub alt: String,
}

/// What the CommonMark pass found.
#[derive(Debug, Default, Clone)]
pub struct MdScan {
    /// Fenced and indented code blocks and inline code spans.
    pub code: Vec<Span>,
    /// Images, in order.
    pub images: Vec<MdImage>,
    /// `<img>` tags and comments in raw HTML (blocks and inline).
    pub html: HtmlScan,
}

/// Goldmark's defaults in Hugo, except tables: a table changes no answer this pass gives
/// (cells hold the same images and code spans as a paragraph would), and parsing them costs
/// 9 % of extraction time (measured in benches/extract.rs).
pub fn options() -> Options {
    Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_DEFINITION_LIST
}

/// For a reference image: where its definition starts, and where the definition's
/// destination is written (None for an inline image).
type Def = Option<(usize, Option<Span>)>;

/// Parse `text` (shortcodes already masked).
pub fn scan(text: &str) -> MdScan {
    let mut out = MdScan::default();
    // Images being read: (span, dest, title, inline). Only the outermost one is kept: an image
    // inside another image's alt text is only text when Hugo renders the outer one.
    let mut open: Vec<(Span, String, String, Def)> = Vec::new();
    // Where the definition of each image of `out.images` starts, for reference images.
    let mut def_starts: Vec<Option<usize>> = Vec::new();
    let mut alt = String::new();
    let mut events = Parser::new_ext(text, options()).into_offset_iter();
    // Where the definitions that links use start.
    let mut linked: FxHashSet<usize> = FxHashSet::default();
    // Each label's definition as met the first time: where it starts and where its
    // destination is written. Looked up in pulldown-cmark and then in the text for every
    // image and link, the same few definitions were a fifth of a page of 40,000 reference
    // images and links (issue #17, item 7).
    let mut defs: FxHashMap<String, Option<(usize, Option<Span>)>> = FxHashMap::default();
    let mut definition = |events: &pulldown_cmark::OffsetIter<'_, _>, id: &str, dest: &str| {
        if let Some(known) = defs.get(id) {
            return *known;
        }
        let def = events.reference_definitions().get(id).map(|d| {
            let span = Span::new(d.span.start, d.span.end);
            (d.span.start, def_dest(text, span, dest))
        });
        defs.insert(id.to_string(), def);
        def
    };
    while let Some((ev, range)) = events.next() {
        let span = Span::new(range.start, range.end);
        match ev {
            Event::Start(Tag::CodeBlock(_)) => out.code.push(span),
            Event::Code(t) => {
                out.code.push(span);
                if !open.is_empty() {
                    alt.push_str(&t);
                }
            }
            Event::Start(Tag::HtmlBlock) => html::scan(text, span, &mut out.html),
            Event::InlineHtml(_) => html::scan(text, span, &mut out.html),
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                if open.is_empty() {
                    alt.clear();
                }
                // Inline: the destination is in the image; else in its definition.
                let def = match link_type {
                    LinkType::Inline => None,
                    _ => definition(&events, &id, &dest_url),
                };
                open.push((span, dest_url.into_string(), title.into_string(), def));
            }
            // A definition a link also uses is not the images' alone (see `def_dest_span`).
            Event::Start(Tag::Link {
                link_type,
                id,
                dest_url,
                ..
            }) if link_type != LinkType::Inline => {
                if let Some((start, _)) = definition(&events, &id, &dest_url) {
                    linked.insert(start);
                }
            }
            Event::Text(t) if !open.is_empty() => alt.push_str(&t),
            Event::End(TagEnd::Image) => {
                if let Some((span, dest, title, def)) = open.pop() {
                    if open.is_empty() {
                        let dest_span = match def {
                            None => find_dest(text, span, &dest),
                            Some(_) => None,
                        };
                        def_starts.push(def.map(|d| d.0));
                        out.images.push(MdImage {
                            span,
                            dest,
                            dest_span,
                            def_dest_span: def.and_then(|d| d.1),
                            title,
                            alt: std::mem::take(&mut alt),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    for (img, def) in out.images.iter_mut().zip(&def_starts) {
        if def.is_some_and(|d| linked.contains(&d)) {
            img.def_dest_span = None;
        }
    }
    out.images.sort_by_key(|i| i.span.start);
    out
}

/// Find the destination as written inside an inline image's text: its first occurrence after
/// the last `](`. It nearly always starts right there or after a `<`, so those two places
/// are tried before a search (building a substring searcher per image cost 3 % of extraction
/// time, measured in benches/extract.rs).
fn find_dest(text: &str, span: Span, dest: &str) -> Option<Span> {
    let s = &text.as_bytes()[span.start..span.end];
    let paren = s.windows(2).rposition(|w| w == b"](")? + 2;
    let tail = &s[paren..];
    let d = dest.as_bytes();
    let off = if tail.starts_with(d) {
        0
    } else if tail.first() == Some(&b'<') && tail[1..].starts_with(d) {
        1
    } else {
        memchr::memmem::find(tail, d)?
    };
    let start = span.start + paren + off;
    Some(Span::new(start, start + dest.len()))
}

/// Find the destination as written in a reference definition `[label]: dest "title"`: its
/// first occurrence after the `]:` (or inside `<…>`).
fn def_dest(text: &str, def: Span, dest: &str) -> Option<Span> {
    let s = text.as_bytes().get(def.start..def.end)?;
    let colon = s.windows(2).position(|w| w == b"]:")? + 2;
    let off = memchr::memmem::find(&s[colon..], dest.as_bytes())?;
    let start = def.start + colon + off;
    Some(Span::new(start, start + dest.len()))
}

/// The spans of what is written as an image, `![alt](dest)`, but is text for CommonMark
/// (and so for Hugo) because its destination holds an ASCII control character (a NUL from a
/// bad copy and paste, say): reported instead of silently dropped. One pass over the bytes;
/// lines without a control character cost nothing more.
pub fn images_broken_by_control_characters(text: &str) -> Vec<Span> {
    let b = text.as_bytes();
    let control = |c: u8| (c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r')) || c == 0x7f;
    let mut out: Vec<Span> = Vec::new();
    for (at, _) in b.iter().enumerate().filter(|(_, c)| control(**c)) {
        if out.last().is_some_and(|s| s.end > at) {
            continue;
        }
        let line_start = b[..at]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |i| i + 1);
        let line_end = b[at..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(b.len(), |i| at + i);
        let before = &b[line_start..at];
        let Some(open) = before.windows(2).rposition(|w| w == b"![") else {
            continue;
        };
        // The control character is in the destination: after `](`, before any `)`.
        let Some(paren) = before[open..].windows(2).rposition(|w| w == b"](") else {
            continue;
        };
        if before[open + paren..].contains(&b')') {
            continue;
        }
        let end = b[at..line_end]
            .iter()
            .position(|&c| c == b')')
            .map_or(line_end, |i| at + i + 1);
        out.push(Span::new(line_start + open, end));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_whose_destination_holds_a_control_character_is_found() {
        // Issue #17, item 9: `![b](ok\0.jpg)` is text for CommonMark, and was dropped silently.
        let t = "a ![b](ok\0.jpg) c\n![d](fine.jpg)\n![e](x\x01y\x02z.png)\nno \0 image\n";
        assert!(scan(t).images.len() == 1, "only the clean one is an image");
        let spans = images_broken_by_control_characters(t);
        let written: Vec<&str> = spans.iter().map(|s| &t[s.start..s.end]).collect();
        assert_eq!(written, ["![b](ok\0.jpg)", "![e](x\x01y\x02z.png)"]);
    }

    #[test]
    fn code_blocks_and_spans_are_found() {
        let t = "a `![x](y)` b\n\n```\n![x](z)\n```\n\n    ![x](w)\n";
        let s = scan(t);
        assert!(s.images.is_empty(), "{:?}", s.images);
        assert_eq!(s.code.len(), 3);
    }

    #[test]
    fn indented_content_in_list_items_is_not_code() {
        let t = "1. Step\n\n    ![a](one.png)\n\n- b\n\n    - c\n\n        ![b](two.png)\n\n- d\n\n        ![c](code.png)\n";
        let s = scan(t);
        let dests: Vec<_> = s.images.iter().map(|i| i.dest.as_str()).collect();
        assert_eq!(dests, vec!["one.png", "two.png"]);
    }

    #[test]
    fn reference_images_and_images_in_links() {
        let t = "[![alt](in.png)](https://x)\n\n![r][ref] ![ref]\n\n[ref]: <a b.png> 'T'\n";
        let s = scan(t);
        let dests: Vec<_> = s
            .images
            .iter()
            .map(|i| (i.dest.as_str(), i.title.as_str()))
            .collect();
        assert_eq!(
            dests,
            vec![("in.png", ""), ("a b.png", "T"), ("a b.png", "T")]
        );
        assert_eq!(s.images[0].alt, "alt");
        let d = s.images[0].dest_span.unwrap();
        assert_eq!(&t[d.start..d.end], "in.png");
    }

    #[test]
    fn comments_and_escapes_hide_images() {
        let t = "<!-- ![a](x.png) -->\n\ntext <!-- ![b](y.png) --> \\![c](z.png)\n";
        let s = scan(t);
        assert!(s.images.is_empty(), "{:?}", s.images);
        assert_eq!(s.html.comments.len(), 2);
    }

    #[test]
    fn an_image_in_an_images_alt_text_is_not_an_image() {
        let s = scan("![![inner](ii1.png)](ii2.png)\n");
        let dests: Vec<_> = s
            .images
            .iter()
            .map(|i| (i.dest.as_str(), i.alt.as_str()))
            .collect();
        assert_eq!(dests, vec![("ii2.png", "inner")]);
    }

    #[test]
    fn raw_img_in_html_block_and_inline() {
        let t = "<p>\n<img src=\"a.png\" width=10>\n</p>\n\nsee <img\n src=b.png> here\n";
        let s = scan(t);
        let srcs: Vec<_> = s
            .html
            .imgs
            .iter()
            .map(|i| i.attr("src").unwrap().value.clone())
            .collect();
        assert_eq!(srcs, vec!["a.png", "b.png"]);
    }
}
