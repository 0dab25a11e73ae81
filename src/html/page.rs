//! A built page's images: read with lol_html's streaming tokenizer, and rewritten by it, so
//! that every byte outside the rewritten `<img>` tags stays as the generator wrote it.
//!
//! Pure: text in, values or text out.

use crate::extract::html::decode_entities;
use crate::position::Span;
use lol_html::html_content::ContentType;
use lol_html::{element, HtmlRewriter, Settings};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// One `<img>` of a page, in document order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Img {
    /// Its start tag, `<img …>`.
    pub span: Span,
    /// Its attributes as written (entities decoded), by lower-case name, for those pixpipe reads.
    pub attrs: BTreeMap<&'static str, String>,
    /// Inside a `<picture>`.
    pub in_picture: bool,
    /// The `<source>`s of its `<picture>` before it (indices in [`PageImages::sources`]).
    pub picture_sources: Vec<usize>,
    /// The CSS width an inline style gives it, its own or its nearest styled ancestor's
    /// (`<figure style="width: 40%">`, as themes print for a declared width): `40%` or `640`.
    pub styled_width: Option<String>,
}

impl Img {
    /// The value of attribute `name`, if written.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }
}

/// A `<source>` of a `<picture>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    /// Its start tag.
    pub span: Span,
    /// `srcset`, `sizes`, `type`, `media`, as written (entities decoded).
    pub attrs: BTreeMap<&'static str, String>,
}

/// What a page shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageImages {
    /// The first `<base href>`, if any.
    pub base: Option<String>,
    /// Every `<img>`, in order.
    pub imgs: Vec<Img>,
    /// Every `<source>` inside a `<picture>`, in order.
    pub sources: Vec<Source>,
}

/// The attributes `read` keeps.
const IMG_ATTRS: [&str; 9] = [
    "src",
    "srcset",
    "sizes",
    "width",
    "height",
    "alt",
    "loading",
    "fetchpriority",
    "decoding",
];
const SOURCE_ATTRS: [&str; 4] = ["srcset", "sizes", "type", "media"];

/// Why a page could not be read or rewritten.
#[derive(Debug, thiserror::Error)]
#[error("the HTML cannot be read: {0}")]
pub struct PageError(String);

fn attrs_of(
    el: &lol_html::html_content::Element,
    names: &[&'static str],
) -> BTreeMap<&'static str, String> {
    names
        .iter()
        .filter_map(|&n| el.get_attribute(n).map(|v| (n, decode_entities(&v))))
        .collect()
}

/// The `width` an inline `style` declares, as `40%` or `640` (pixels); `None` for other
/// units, `auto`, or no width (`max-width` and `min-width` are not the width).
pub fn style_width(style: &str) -> Option<String> {
    let value = style.split(';').rev().find_map(|decl| {
        let (prop, value) = decl.split_once(':')?;
        prop.trim()
            .eq_ignore_ascii_case("width")
            .then(|| value.trim())
    })?;
    let value = value.trim_end_matches("!important").trim();
    let number = |s: &str| {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v > 0.0)
    };
    if let Some(pc) = value.strip_suffix('%') {
        number(pc).map(|_| value.to_string())
    } else if let Some(px) = value.strip_suffix("px") {
        number(px).map(|_| px.trim().to_string())
    } else {
        None
    }
}

fn span_of(el: &lol_html::html_content::Element) -> Span {
    let r = el.source_location().bytes();
    Span::new(r.start, r.end)
}

/// The images of `text`, a page of HTML.
pub fn read(text: &str) -> Result<PageImages, PageError> {
    let out = RefCell::new(PageImages::default());
    // Set by `picture img` just before `img` sees the same element (handlers run in the
    // order they are given), with the sources seen since the last image of a picture: its
    // picture's (sources come before the `<img>`). No handler on `picture` itself: one more
    // selector cost the read pass a third of its speed.
    let in_picture = RefCell::new(false);
    let picture_sources: RefCell<Vec<usize>> = RefCell::new(Vec::new());
    // The widths the inline styles of the open elements give, innermost last.
    let styled: Rc<RefCell<Vec<String>>> = Rc::new(RefCell::new(Vec::new()));
    let mut rw = HtmlRewriter::new(
        Settings::new()
            .append_element_content_handler(element!("[style]", |el| {
                let Some(w) = el
                    .get_attribute("style")
                    .and_then(|s| style_width(&decode_entities(&s)))
                else {
                    return Ok(());
                };
                if el.can_have_content() {
                    let open = styled.clone();
                    open.borrow_mut().push(w);
                    let close = styled.clone();
                    let pop: lol_html::EndTagHandler<'static> = Box::new(move |_| {
                        close.borrow_mut().pop();
                        Ok(())
                    });
                    el.on_end_tag(pop)?;
                }
                Ok(())
            }))
            .append_element_content_handler(element!("base[href]", |el| {
                let mut o = out.borrow_mut();
                if o.base.is_none() {
                    o.base = el.get_attribute("href").map(|h| decode_entities(&h));
                }
                Ok(())
            }))
            .append_element_content_handler(element!("picture source", |el| {
                let mut o = out.borrow_mut();
                picture_sources.borrow_mut().push(o.sources.len());
                o.sources.push(Source {
                    span: span_of(el),
                    attrs: attrs_of(el, &SOURCE_ATTRS),
                });
                Ok(())
            }))
            .append_element_content_handler(element!("picture img", |_el| {
                *in_picture.borrow_mut() = true;
                Ok(())
            }))
            .append_element_content_handler(element!("img", |el| {
                let inside = std::mem::take(&mut *in_picture.borrow_mut());
                let sources = if inside {
                    std::mem::take(&mut *picture_sources.borrow_mut())
                } else {
                    Vec::new()
                };
                let own = el
                    .get_attribute("style")
                    .and_then(|s| style_width(&decode_entities(&s)));
                out.borrow_mut().imgs.push(Img {
                    span: span_of(el),
                    attrs: attrs_of(el, &IMG_ATTRS),
                    in_picture: inside,
                    picture_sources: sources,
                    styled_width: own.or_else(|| styled.borrow().last().cloned()),
                });
                Ok(())
            })),
        |_: &[u8]| {},
    );
    rw.write(text.as_bytes())
        .map_err(|e| PageError(e.to_string()))?;
    rw.end().map_err(|e| PageError(e.to_string()))?;
    Ok(out.into_inner())
}

/// What becomes of one `<img>`: wrapped in a `<picture>` after `sources` (ready HTML), and
/// these attributes set (written escaped). An `<img>` already in a `<picture>` (rewritten
/// with `--force`) is not wrapped again: `sources` go into its picture, before it, in place
/// of the picture's sources listed in `replaces`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edit {
    /// `<source …>` tags to put before the `<img>`.
    pub sources: String,
    /// Attributes to set, (name, value unescaped).
    pub set: Vec<(&'static str, String)>,
    /// The `<img>` is inside a `<picture>` already.
    pub in_picture: bool,
    /// `<source>`s of that picture to remove (indices in [`PageImages::sources`]).
    pub replaces: Vec<usize>,
}

/// Escape `v` for a double-quoted attribute value.
pub fn escape_attr(v: &str) -> String {
    v.replace('&', "&amp;").replace('"', "&quot;")
}

/// `text` with the `<img>` elements numbered in `edits` (their index in `read`'s order)
/// rewritten; every other byte as it was.
pub fn rewrite(text: &str, edits: &BTreeMap<usize, Edit>) -> Result<String, PageError> {
    if edits.is_empty() {
        return Ok(text.to_string());
    }
    let mut out = Vec::with_capacity(text.len() + edits.len() * 512);
    let index = RefCell::new(0usize);
    let source_index = RefCell::new(0usize);
    let removed: std::collections::BTreeSet<usize> = edits
        .values()
        .flat_map(|e| e.replaces.iter().copied())
        .collect();
    let mut failed: Option<String> = None;
    {
        let failed = RefCell::new(&mut failed);
        let mut handlers = vec![element!("img", |el| {
            let i = {
                let mut n = index.borrow_mut();
                *n += 1;
                *n - 1
            };
            let Some(edit) = edits.get(&i) else {
                return Ok(());
            };
            for (name, value) in &edit.set {
                if let Err(e) = el.set_attribute(name, &escape_attr(value)) {
                    **failed.borrow_mut() = Some(e.to_string());
                }
            }
            if edit.in_picture {
                el.before(&edit.sources, ContentType::Html);
            } else {
                el.before(&format!("<picture>{}", edit.sources), ContentType::Html);
                el.after("</picture>", ContentType::Html);
            }
            Ok(())
        })];
        // Counting sources costs a selector on every page; only pages that drop one pay it.
        if !removed.is_empty() {
            handlers.push(element!("picture source", |el| {
                let i = {
                    let mut n = source_index.borrow_mut();
                    *n += 1;
                    *n - 1
                };
                if removed.contains(&i) {
                    el.remove();
                }
                Ok(())
            }));
        }
        let mut rw = HtmlRewriter::new(
            handlers
                .into_iter()
                .fold(Settings::new(), |s, h| s.append_element_content_handler(h)),
            |c: &[u8]| out.extend_from_slice(c),
        );
        rw.write(text.as_bytes())
            .map_err(|e| PageError(e.to_string()))?;
        rw.end().map_err(|e| PageError(e.to_string()))?;
    }
    if let Some(e) = failed {
        return Err(PageError(e));
    }
    String::from_utf8(out).map_err(|e| PageError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "<!doctype html><head><base href=\"/docs/\"></head><body>\n<p><img src=a.jpg class=x alt=\"A &amp; B\">\n<picture><source srcset=\"b.webp 1x\" type=image/webp><img src='b.jpg'></picture>\n<IMG SRC=\"c.png\" WIDTH=300 srcset=\"c.png 1x\"></p>\n<!-- <img src=hidden.jpg> --><script>var s = '<img src=no.jpg>';</script>\n";

    #[test]
    fn images_are_read_in_order_with_their_spans_and_pictures() {
        let p = read(PAGE).unwrap();
        assert_eq!(p.base.as_deref(), Some("/docs/"));
        let got: Vec<(&str, bool, &str)> = p
            .imgs
            .iter()
            .map(|i| {
                (
                    i.attr("src").unwrap(),
                    i.in_picture,
                    &PAGE[i.span.start..i.span.end],
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("a.jpg", false, "<img src=a.jpg class=x alt=\"A &amp; B\">"),
                ("b.jpg", true, "<img src='b.jpg'>"),
                (
                    "c.png",
                    false,
                    "<IMG SRC=\"c.png\" WIDTH=300 srcset=\"c.png 1x\">"
                ),
            ]
        );
        assert_eq!(p.imgs[0].attr("alt"), Some("A & B"));
        assert_eq!(p.imgs[2].attr("width"), Some("300"));
        assert_eq!(p.sources.len(), 1);
        assert_eq!(p.sources[0].attrs["type"], "image/webp");
    }

    #[test]
    fn an_inline_style_width_of_the_image_or_its_nearest_styled_parent_is_read() {
        let t = "<figure style=\"margin:0; width: 40%\"><p><img src=a.jpg></p></figure>\n<div style=\"max-width:900px\"><img src=b.jpg><img src=c.jpg style=\"width:320px\"></div>\n<div style='width:50em'><img src=d.jpg></div><div style=\"width:640px\"><span style=\"width: 25%\"></span><img src=e.jpg></div><img src=f.jpg>";
        let widths: Vec<Option<String>> = read(t)
            .unwrap()
            .imgs
            .into_iter()
            .map(|i| i.styled_width)
            .collect();
        let w = |s: &str| Some(s.to_string());
        assert_eq!(widths, vec![w("40%"), None, w("320"), None, w("640"), None]);
    }

    #[test]
    fn a_rewrite_touches_only_the_edited_tags() {
        let mut edits = BTreeMap::new();
        edits.insert(
            0,
            Edit {
                sources: "<source type=\"image/webp\" srcset=\"a-480w.0123456789.webp 480w\">"
                    .into(),
                set: vec![
                    ("src", "a-480w.0123456789.jpg".into()),
                    (
                        "sizes",
                        "(max-width: 512px) calc(100vw - 32px), 480px".into(),
                    ),
                    ("title", "\"quoted\" & more".into()),
                ],
                ..Default::default()
            },
        );
        let out = rewrite(PAGE, &edits).unwrap();
        let at = PAGE.find("<p>").unwrap() + 3;
        let end = PAGE.find("\n<picture>").unwrap();
        let new_tag = "<picture><source type=\"image/webp\" srcset=\"a-480w.0123456789.webp 480w\"><img src=\"a-480w.0123456789.jpg\" class=x alt=\"A &amp; B\" sizes=\"(max-width: 512px) calc(100vw - 32px), 480px\" title=\"&quot;quoted&quot; &amp; more\"></picture>";
        assert_eq!(out, format!("{}{}{}", &PAGE[..at], new_tag, &PAGE[end..]));
        assert_eq!(rewrite(PAGE, &BTreeMap::new()).unwrap(), PAGE);
    }

    #[test]
    fn an_image_already_in_a_picture_keeps_its_picture_and_its_art_direction() {
        let t = "<picture><source media=\"(max-width: 600px)\" srcset=\"narrow.jpg\"><source type=\"image/webp\" srcset=\"b.webp\"><img src=b.jpg></picture><picture><source srcset=c.webp><img src=c.jpg></picture>";
        let p = read(t).unwrap();
        assert_eq!(p.imgs[0].picture_sources, vec![0, 1]);
        assert_eq!(p.imgs[1].picture_sources, vec![2]);
        let mut edits = BTreeMap::new();
        edits.insert(
            0,
            Edit {
                sources: "<source type=\"image/webp\" srcset=\"b-480w.0123456789.webp 480w\">"
                    .into(),
                set: vec![("src", "b-480w.0123456789.jpg".into())],
                in_picture: true,
                replaces: vec![1],
            },
        );
        assert_eq!(
            rewrite(t, &edits).unwrap(),
            "<picture><source media=\"(max-width: 600px)\" srcset=\"narrow.jpg\"><source type=\"image/webp\" srcset=\"b-480w.0123456789.webp 480w\"><img src=\"b-480w.0123456789.jpg\"></picture><picture><source srcset=c.webp><img src=c.jpg></picture>"
        );
    }
}
