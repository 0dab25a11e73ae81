//! Raw HTML inside Markdown: `<img>` tags and comments, with byte spans.
//!
//! Only what pixpipe needs of HTML: tags are read attribute by attribute (across lines,
//! any quoting), comments are skipped, character references in attribute values decoded.
//! A full HTML5 parser would lose the byte offsets that diagnostics point at.

use crate::position::Span;

/// One attribute of a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    /// Lowercased name.
    pub name: String,
    /// Decoded value (empty for a bare attribute).
    pub value: String,
    /// The value as written, without quotes.
    pub span: Span,
}

/// An `<img>` tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImgTag {
    /// From `<` to `>`.
    pub span: Span,
    /// Attributes in order.
    pub attrs: Vec<Attr>,
}

impl ImgTag {
    /// The attribute `name` (lowercase).
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.name == name)
    }
}

/// What a stretch of raw HTML holds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HtmlScan {
    /// `<img>` tags outside comments.
    pub imgs: Vec<ImgTag>,
    /// Comments, `<!--` to `-->`.
    pub comments: Vec<Span>,
}

/// Scan `text[range]` for `<img>` tags and comments. Spans are offsets into `text`. Every
/// tag is read whole, so an `<img` inside another tag's attribute value is not a tag, and the
/// contents of `<script>`, `<style>` and `<textarea>` are skipped as the browser does.
pub fn scan(text: &str, range: Span, out: &mut HtmlScan) {
    let b = text.as_bytes();
    let end = range.end.min(b.len());
    let mut i = range.start;
    while i < end {
        match memchr::memchr(b'<', &b[i..end]) {
            Some(r) => i += r,
            None => break,
        }
        if b[i..end].starts_with(b"<!--") {
            let close = find(&b[i + 4..end], b"-->")
                .map(|r| i + 4 + r + 3)
                .unwrap_or(end);
            out.comments.push(Span::new(i, close));
            i = close;
            continue;
        }
        if !b.get(i + 1).is_some_and(u8::is_ascii_alphabetic) {
            i += 1;
            continue;
        }
        let name_end = (i + 1..end)
            .find(|&k| !b[k].is_ascii_alphanumeric())
            .unwrap_or(end);
        let name = text[i + 1..name_end].to_ascii_lowercase();
        let Some(tag) = parse_tag(text, i, name_end, end) else {
            i += 1;
            continue;
        };
        i = tag.span.end;
        if name == "img" {
            out.imgs.push(tag);
        } else if matches!(name.as_str(), "script" | "style" | "textarea" | "title") {
            let close = format!("</{name}");
            let lower = text[i..end].to_ascii_lowercase();
            i = lower.find(&close).map(|r| i + r).unwrap_or(end);
        }
    }
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    memchr::memmem::find(h, n)
}

fn parse_tag(text: &str, start: usize, name_end: usize, end: usize) -> Option<ImgTag> {
    let b = text.as_bytes();
    let mut i = name_end;
    let mut attrs = Vec::new();
    loop {
        while i < end && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= end {
            return None;
        }
        if b[i] == b'>' {
            return Some(ImgTag {
                span: Span::new(start, i + 1),
                attrs,
            });
        }
        if b[i..end].starts_with(b"/>") {
            return Some(ImgTag {
                span: Span::new(start, i + 2),
                attrs,
            });
        }
        let ns = i;
        while i < end && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'"' | b'\'')
        {
            if b[i..end].starts_with(b"/>") {
                break;
            }
            i += 1;
        }
        if i == ns {
            // A stray quote: not a tag we can read.
            return None;
        }
        let name = text[ns..i].to_ascii_lowercase();
        let mut j = i;
        while j < end && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if j < end && b[j] == b'=' {
            j += 1;
            while j < end && b[j].is_ascii_whitespace() {
                j += 1;
            }
            if j >= end {
                return None;
            }
            let (vs, ve, next) = match b[j] {
                q @ (b'"' | b'\'') => {
                    let close = b[j + 1..end].iter().position(|&c| c == q)? + j + 1;
                    (j + 1, close, close + 1)
                }
                _ => {
                    let mut k = j;
                    while k < end && !b[k].is_ascii_whitespace() && b[k] != b'>' {
                        k += 1;
                    }
                    (j, k, k)
                }
            };
            attrs.push(Attr {
                name,
                value: decode_entities(&text[vs..ve]),
                span: Span::new(vs, ve),
            });
            i = next;
        } else {
            attrs.push(Attr {
                name,
                value: String::new(),
                span: Span::new(i, i),
            });
        }
    }
}

/// Decode the character references that occur in real attribute values.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        rest = &rest[p..];
        let Some(semi) = rest
            .char_indices()
            .take(12)
            .find(|(_, c)| *c == ';')
            .map(|(i, _)| i)
        else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let ent = &rest[1..semi];
        let ch = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            _ if ent.starts_with("#x") || ent.starts_with("#X") => {
                u32::from_str_radix(&ent[2..], 16)
                    .ok()
                    .and_then(char::from_u32)
            }
            _ if ent.starts_with('#') => ent[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_all(t: &str) -> HtmlScan {
        let mut out = HtmlScan::default();
        scan(t, Span::new(0, t.len()), &mut out);
        out
    }

    #[test]
    fn img_attributes_across_lines_and_quotes() {
        let t = "<div><IMG\n  src='a.png'\n  width=300 alt=\"x &amp; y\" data-x></div>";
        let s = scan_all(t);
        assert_eq!(s.imgs.len(), 1);
        let img = &s.imgs[0];
        assert_eq!(img.attr("src").unwrap().value, "a.png");
        assert_eq!(img.attr("width").unwrap().value, "300");
        assert_eq!(img.attr("alt").unwrap().value, "x & y");
        assert_eq!(
            &t[img.attr("src").unwrap().span.start..img.attr("src").unwrap().span.end],
            "a.png"
        );
        assert_eq!(&t[img.span.start..img.span.end], &t[5..t.len() - 6]);
    }

    #[test]
    fn imgs_in_comments_are_not_imgs() {
        let s = scan_all("<!-- <img src=a.png> --><img src=\"b.png\"/>");
        assert_eq!(s.comments.len(), 1);
        assert_eq!(s.imgs.len(), 1);
        assert_eq!(s.imgs[0].attr("src").unwrap().value, "b.png");
    }

    #[test]
    fn img_in_scripts_styles_and_attribute_values_is_not_an_img() {
        let s = scan_all("<script>var s='<img src=\"a.png\">';</script><style>x{}</style><a title=\"<img src=b.png>\">x</a><img src=c.png>");
        let srcs: Vec<_> = s
            .imgs
            .iter()
            .map(|i| i.attr("src").unwrap().value.clone())
            .collect();
        assert_eq!(srcs, vec!["c.png"]);
    }

    #[test]
    fn an_unfinished_entity_before_multibyte_text_is_kept() {
        assert_eq!(decode_entities("&aaaaaaaaaaé x"), "&aaaaaaaaaaé x");
        assert_eq!(
            decode_entities("Tom & Jérôme’s café"),
            "Tom & Jérôme’s café"
        );
    }

    #[test]
    fn image_is_not_img() {
        assert!(scan_all("<image src=a.png>").imgs.is_empty());
    }
}
