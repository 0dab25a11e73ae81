//! Extract: page text → image references, with the spans diagnostics point at.
//!
//! Pure: takes a page's text and the rules from `Config`, returns values. The order of work
//! follows Hugo: shortcodes are lexed first and hidden from the Markdown parser, then
//! CommonMark decides what is code, raw HTML and images. Nothing here touches the filesystem
//! or knows where a file is; `resolve` does that.

pub mod frontmatter;
pub mod html;
pub mod markdown;
pub mod shortcode;

use crate::config::{Config, ShortcodeRule};
use crate::position::Span;
use std::collections::BTreeMap;
use std::fmt;

/// How a reference is written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Syntax {
    /// `{{< name … >}}`
    Shortcode(String),
    /// `![alt](src)`
    Markdown,
    /// `<img src=…>`
    Html,
}

impl fmt::Display for Syntax {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Syntax::Shortcode(n) => write!(f, "shortcode:{n}"),
            Syntax::Markdown => f.write_str("markdown"),
            Syntax::Html => f.write_str("html"),
        }
    }
}

/// A value written in the page, with where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    /// The value (quotes removed, escapes decoded).
    pub text: String,
    /// Where it is written (without quotes).
    pub span: Span,
    /// The parameter or attribute name it came from.
    pub name: String,
}

/// One image reference in a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// How it is written.
    pub syntax: Syntax,
    /// The whole reference: the shortcode tag, `![…](…)`, or `<img …>`.
    pub span: Span,
    /// The image source as written.
    pub src: Value,
    /// Declared width.
    pub width: Option<Value>,
    /// Declared height.
    pub height: Option<Value>,
    /// Declared ratio (height/width in percent).
    pub ratio: Option<Value>,
    /// Alt text.
    pub alt: Option<Value>,
    /// Title.
    pub title: Option<Value>,
    /// Caption.
    pub caption: Option<Value>,
    /// `srcset` of an `<img>`.
    pub srcset: Option<Value>,
}

/// Something in the page that could not be read as the author meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Stable code.
    pub code: &'static str,
    /// Where.
    pub span: Span,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

/// A shortcode tag that Hugo executes inside a code block (almost always a documentation bug).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeShortcode {
    /// The tag.
    pub span: Span,
    /// Its name.
    pub name: String,
}

/// Everything found in one page.
#[derive(Debug, Default, Clone)]
pub struct Extraction {
    /// Image references, in text order.
    pub refs: Vec<ImageRef>,
    /// Malformed shortcodes, unclosed front matter.
    pub problems: Vec<Problem>,
    /// Image shortcodes inside Markdown code, which Hugo would still execute.
    pub shortcodes_in_code: Vec<CodeShortcode>,
    /// The front matter, if any.
    pub front_matter: Option<frontmatter::FrontMatter>,
}

/// The parts of `Config` that extraction reads.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Image shortcodes.
    pub shortcodes: BTreeMap<String, ShortcodeRule>,
    /// Shortcodes whose body is code on display.
    pub code_shortcodes: Vec<String>,
}

impl Rules {
    /// The extraction rules of `config`.
    pub fn from_config(config: &Config) -> Self {
        Rules {
            shortcodes: config.shortcodes.clone(),
            code_shortcodes: config.code_shortcodes.clone(),
        }
    }
}

fn inside(spans: &[Span], at: usize) -> bool {
    spans.iter().any(|s| s.start <= at && at < s.end)
}

fn mask(bytes: &mut [u8], span: Span) {
    for b in &mut bytes[span.start..span.end] {
        if *b != b'\n' && *b != b'\r' {
            *b = b'x';
        }
    }
}

/// Find every image reference in a page's text (BOM already removed).
pub fn extract(text: &str, rules: &Rules) -> Extraction {
    let mut ex = Extraction::default();
    let body_start = match frontmatter::detect(text) {
        Ok(fm) => {
            let start = fm.as_ref().map(|f| f.span.end).unwrap_or(0);
            ex.front_matter = fm;
            start
        }
        Err(span) => {
            ex.problems.push(Problem {
                code: "bad-front-matter",
                span,
                message: "front matter is never closed".into(),
                help: Some(format!(
                    "end it with a line `{}`",
                    &text[span.start..span.end.min(text.len())]
                )),
            });
            return ex;
        }
    };
    let body = &text[body_start..];
    let lexed = shortcode::lex(body);

    // Hide every live tag from the Markdown parser, and the whole body of code-display
    // shortcodes: what they show is code, not content.
    let mut masked = if lexed.tags.is_empty() {
        Vec::new()
    } else {
        body.as_bytes().to_vec()
    };
    let mut code_bodies: Vec<Span> = Vec::new();
    let tags = &lexed.tags;
    let mut i = 0;
    while i < tags.len() {
        let t = &tags[i];
        mask(&mut masked, t.span);
        if !t.closing && !t.self_closing && rules.code_shortcodes.contains(&t.name) {
            let mut depth = 0;
            let mut j = i + 1;
            let mut close = None;
            while j < tags.len() {
                let u = &tags[j];
                if u.name == t.name {
                    if u.closing {
                        if depth == 0 {
                            close = Some(j);
                            break;
                        }
                        depth -= 1;
                    } else if !u.self_closing {
                        depth += 1;
                    }
                }
                j += 1;
            }
            if let Some(j) = close {
                let span = Span::new(t.span.start, tags[j].span.end);
                mask(&mut masked, span);
                code_bodies.push(span);
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    // Masking replaced whole bytes with ASCII letters, so the text stays valid UTF-8.
    let masked = if tags.is_empty() {
        std::borrow::Cow::Borrowed(body)
    } else {
        String::from_utf8(masked).unwrap_or_default().into()
    };
    let md = markdown::scan(&masked);
    let mut hidden = md.code.clone();
    hidden.extend(md.html.comments.iter().copied());

    for t in tags {
        if t.closing || inside(&code_bodies, t.span.start) {
            continue;
        }
        let Some(rule) = rules.shortcodes.get(&t.name) else {
            continue;
        };
        if inside(&hidden, t.span.start) {
            if inside(&md.code, t.span.start) {
                ex.shortcodes_in_code.push(CodeShortcode {
                    span: t.span.shifted(body_start),
                    name: t.name.clone(),
                });
            }
            continue;
        }
        match shortcode_ref(t, rule) {
            Some(r) => ex.refs.push(shift_ref(r, body_start)),
            None => ex.problems.push(Problem {
                code: "no-source",
                span: t.span.shifted(body_start),
                message: format!("shortcode `{}` names no image", t.name),
                help: Some(format!(
                    "add {}=\"…\" with the image's path",
                    rule.src.first().map(String::as_str).unwrap_or("src")
                )),
            }),
        }
    }
    for p in lexed.problems {
        if inside(&hidden, p.span.start) || inside(&code_bodies, p.span.start) {
            continue;
        }
        ex.problems.push(Problem {
            code: "bad-shortcode",
            span: p.span.shifted(body_start),
            message: p.message,
            help: p.help,
        });
    }
    for img in md.images {
        let src_span = img.dest_span.unwrap_or(img.span);
        let r = ImageRef {
            syntax: Syntax::Markdown,
            span: img.span,
            src: Value {
                text: img.dest,
                span: src_span,
                name: "src".into(),
            },
            width: None,
            height: None,
            ratio: None,
            alt: Some(Value {
                text: img.alt,
                span: img.span,
                name: "alt".into(),
            }),
            title: (!img.title.is_empty()).then(|| Value {
                text: img.title,
                span: img.span,
                name: "title".into(),
            }),
            caption: None,
            srcset: None,
        };
        ex.refs.push(shift_ref(r, body_start));
    }
    for tag in md.html.imgs {
        if inside(&hidden, tag.span.start) {
            continue;
        }
        let Some(src) = tag.attr("src") else { continue };
        let val = |n: &str| {
            tag.attr(n).map(|a| Value {
                text: a.value.clone(),
                span: a.span,
                name: n.to_string(),
            })
        };
        let r = ImageRef {
            syntax: Syntax::Html,
            span: tag.span,
            src: Value {
                text: src.value.clone(),
                span: src.span,
                name: "src".into(),
            },
            width: val("width"),
            height: val("height"),
            ratio: None,
            alt: val("alt"),
            title: val("title"),
            caption: None,
            srcset: val("srcset"),
        };
        ex.refs.push(shift_ref(r, body_start));
    }
    ex.refs.sort_by_key(|r| (r.span.start, r.span.end));
    ex.problems.sort_by_key(|p| p.span.start);
    ex
}

fn shift_ref(mut r: ImageRef, by: usize) -> ImageRef {
    r.span = r.span.shifted(by);
    for v in [
        &mut r.width,
        &mut r.height,
        &mut r.ratio,
        &mut r.alt,
        &mut r.title,
        &mut r.caption,
        &mut r.srcset,
    ]
    .into_iter()
    .flatten()
    {
        v.span = v.span.shifted(by);
    }
    r.src.span = r.src.span.shifted(by);
    r
}

fn shortcode_ref(t: &shortcode::Tag, rule: &ShortcodeRule) -> Option<ImageRef> {
    let named = |n: &Option<String>| {
        n.as_ref().and_then(|n| t.named(n)).map(|p| Value {
            text: p.value.clone(),
            span: p.span,
            name: p.name.clone().unwrap_or_default(),
        })
    };
    let src = rule
        .src
        .iter()
        .find_map(|n| t.named(n))
        .or_else(|| rule.positional_src.and_then(|i| t.positional(i)))?;
    Some(ImageRef {
        syntax: Syntax::Shortcode(t.name.clone()),
        span: t.span,
        src: Value {
            text: src.value.clone(),
            span: src.span,
            name: src.name.clone().unwrap_or_else(|| "0".into()),
        },
        width: named(&rule.width),
        height: named(&rule.height),
        ratio: named(&rule.ratio),
        alt: named(&rule.alt),
        title: named(&rule.title),
        caption: named(&rule.caption),
        srcset: named(&Some("srcset".to_string())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(t: &str) -> Vec<(String, String)> {
        let ex = extract(t, &Rules::from_config(&Config::default()));
        ex.refs
            .iter()
            .map(|r| (r.syntax.to_string(), r.src.text.clone()))
            .collect()
    }

    fn pair(a: &str, b: &str) -> (String, String) {
        (a.to_string(), b.to_string())
    }

    #[test]
    fn shortcode_indented_in_a_list_is_a_reference() {
        let t =
            "1. Step one\n\n    {{< image width=\"40%\"\n        link=\"./a.png\"\n        >}}\n";
        assert_eq!(refs(t), vec![pair("shortcode:image", "./a.png")]);
    }

    #[test]
    fn shortcode_in_fence_or_indented_code_is_not() {
        let t = "```\n{{< image link=\"a.png\" >}}\n```\n\n    {{< figure src=\"b.png\" >}}\n\n`{{< img src=\"c.png\" >}}`\n";
        assert!(refs(t).is_empty());
        let ex = extract(t, &Rules::from_config(&Config::default()));
        assert_eq!(ex.shortcodes_in_code.len(), 3);
    }

    #[test]
    fn escaped_and_code_shortcode_bodies_are_not() {
        let t = "{{< text markdown >}}\n{{</* image link=\"a.png\" */>}}\n![x](b.png)\n{{< image link=\"c.png\" >}}\n{{< /text >}}\n{{< highlight go >}}<img src=d.png>{{< /highlight >}}\n";
        assert!(refs(t).is_empty(), "{:?}", refs(t));
    }

    #[test]
    fn front_matter_is_not_scanned_but_counts_for_lines() {
        let t = "---\nimage: ![x](a.png)\n---\n![y](b.png)\n";
        let ex = extract(t, &Rules::from_config(&Config::default()));
        assert_eq!(ex.refs.len(), 1);
        assert_eq!(ex.refs[0].span.start, t.find("![y]").unwrap());
    }

    #[test]
    fn nested_in_tabs_and_links() {
        let t = "{{< tabset >}}\n{{< tab name=\"a\" >}}\n{{< image link=\"./t.png\" >}}\n![m](m.png)\n{{< /tab >}}\n{{< /tabset >}}\n\n[{{< img src=\"l.png\" >}}](https://x)\n";
        assert_eq!(
            refs(t),
            vec![
                pair("shortcode:image", "./t.png"),
                pair("markdown", "m.png"),
                pair("shortcode:img", "l.png")
            ]
        );
    }

    #[test]
    fn html_comment_hides_shortcodes() {
        let t =
            "<!--\n{{< image link=\"a.png\" >}}\n-->\ntext <!-- {{< img src=b.png >}} --> end\n";
        assert!(refs(t).is_empty(), "{:?}", refs(t));
    }

    #[test]
    fn all_three_syntaxes_in_order() {
        let t = "<img src=\"h.png\" width=\"300\">\n\n![m](m.png)\n\n{{< figure src=\"f.png\" width=\"50%\" >}}\n";
        assert_eq!(
            refs(t),
            vec![
                pair("html", "h.png"),
                pair("markdown", "m.png"),
                pair("shortcode:figure", "f.png")
            ]
        );
    }

    mod prop {
        use super::super::*;
        use crate::position::LineIndex;
        use proptest::prelude::*;

        /// Fragments that exercise every rule, glued in any order with arbitrary text.
        fn fragment() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("{{< image link=\"./a.png\" width=\"40%\" >}}".to_string()),
                Just("{{% figure src=`b c.png` %}}".to_string()),
                Just("{{< img x.png />}}".to_string()),
                Just("{{</* image link=\"x\" */>}}".to_string()),
                Just("{{< text >}}".to_string()),
                Just("{{< /text >}}".to_string()),
                Just("{{<".to_string()),
                Just("\"".to_string()),
                Just("`".to_string()),
                Just("```\n".to_string()),
                Just("    ".to_string()),
                Just("\n\n".to_string()),
                Just("\r\n".to_string()),
                Just("- ".to_string()),
                Just("1. ".to_string()),
                Just("![alt](dest \"t\")".to_string()),
                Just("![r][ref]\n\n[ref]: <x y.png>\n".to_string()),
                Just("<img src=\"i.png\"\n width=3>".to_string()),
                Just("<!-- ".to_string()),
                Just(" -->".to_string()),
                Just("---\n".to_string()),
                Just("+++\n".to_string()),
                Just("\\![".to_string()),
                "[a-z {}<>%/*=\"`!\\[\\]()\n]{0,12}",
                "\\PC{0,6}",
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]
            #[test]
            fn never_panics_and_every_span_is_inside_the_text(parts in proptest::collection::vec(fragment(), 0..24)) {
                let text: String = parts.concat();
                let ex = extract(&text, &Rules::from_config(&Config::default()));
                let lines = LineIndex::new(&text);
                let line_count = text.lines().count().max(1) + 1;
                let check = |sp: Span| {
                    prop_assert!(sp.start <= sp.end && sp.end <= text.len(), "{sp:?} outside {}", text.len());
                    prop_assert!(text.is_char_boundary(sp.start) && text.is_char_boundary(sp.end));
                    let pos = lines.line_col(&text, sp.start);
                    prop_assert!(pos.line >= 1 && pos.line <= line_count && pos.column >= 1);
                    Ok(())
                };
                for r in &ex.refs {
                    check(r.span)?;
                    check(r.src.span)?;
                    for v in [&r.width, &r.height, &r.ratio, &r.alt, &r.title, &r.caption, &r.srcset].into_iter().flatten() {
                        check(v.span)?;
                    }
                }
                for p in &ex.problems {
                    check(p.span)?;
                }
            }
        }
    }
}
