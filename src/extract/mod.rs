//! Extract: page text → image references, with the spans diagnostics point at.
//!
//! Pure: takes a page's text and the rules from `Config`, returns values. The order of work
//! follows Hugo: shortcodes are lexed first and hidden from the Markdown parser, then
//! CommonMark decides what is code, raw HTML and images. Nothing here touches the filesystem
//! or knows where a file is; `resolve` does that.

pub mod fmvalues;
pub mod frontmatter;
pub mod html;
pub mod markdown;
pub mod shortcode;
pub mod yaml;

use crate::config::{Config, ShortcodeRule};
use crate::position::Span;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

/// How a reference is written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Syntax {
    /// `{{< name … >}}`
    Shortcode(String),
    /// `![alt](src)`
    Markdown,
    /// `<img src=…>`
    Html,
    /// A front matter value (`cover: x.jpg`), by its dotted key path.
    FrontMatter(String),
}

impl fmt::Display for Syntax {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Syntax::Shortcode(n) => write!(f, "shortcode:{n}"),
            Syntax::Markdown => f.write_str("markdown"),
            Syntax::Html => f.write_str("html"),
            Syntax::FrontMatter(k) => write!(f, "frontmatter:{k}"),
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
    pub width: Option<Box<Value>>,
    /// Declared height.
    pub height: Option<Box<Value>>,
    /// Declared ratio (height/width in percent).
    pub ratio: Option<Box<Value>>,
    /// Alt text.
    pub alt: Option<Box<Value>>,
    /// Title.
    pub title: Option<Box<Value>>,
    /// Caption.
    pub caption: Option<Box<Value>>,
    /// `srcset` of an `<img>`.
    pub srcset: Option<Box<Value>>,
    /// The source is a glob over the page's resources (a gallery's `match`, or a shortcode
    /// that looks its image up by pattern): the pattern to match.
    pub glob: Option<Box<Value>>,
    /// For a reference-style Markdown image, where its definition's destination is written.
    pub definition: Option<Span>,
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
    /// Front matter keys that hold images.
    pub front_matter_keys: Vec<String>,
}

impl Rules {
    /// The extraction rules of `config`.
    pub fn from_config(config: &Config) -> Self {
        Rules {
            shortcodes: config.shortcodes.clone(),
            code_shortcodes: config.code_shortcodes.clone(),
            front_matter_keys: config.front_matter_keys.clone(),
        }
    }
}

/// Spans sorted and merged, so that whether an offset is inside one of them is a binary
/// search: a page can hold 100,000 code spans and as many shortcodes, and a scan of every span
/// for every tag was quadratic (issue #17, item 7).
struct SpanSet(Vec<Span>);

impl SpanSet {
    fn new(mut spans: Vec<Span>) -> SpanSet {
        spans.sort_unstable_by_key(|s| s.start);
        let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
        for s in spans.into_iter().filter(|s| s.start < s.end) {
            match merged.last_mut() {
                Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
                _ => merged.push(s),
            }
        }
        SpanSet(merged)
    }

    /// Whether `at` is inside one of the spans.
    fn contains(&self, at: usize) -> bool {
        let i = self.0.partition_point(|s| s.start <= at);
        i > 0 && at < self.0[i - 1].end
    }
}

/// A copy of `text` with the bytes of `spans` replaced by letters, keeping line breaks and the
/// indentation that starts each continued line: the content disappears as behind one of
/// Hugo's placeholders (no spaces inside, so a masked tag in a link destination is still one
/// word), while the lines keep their indentation for the block structure around them.
///
/// Every span starts at a shortcode's `{{`, so whether a blank is indentation depends on the
/// text only, and overlapping spans are masked as their union. The copy is built run by run
/// as a `String`, so it needs no UTF-8 check afterwards.
///
/// Each of `collapsed` (disjoint from one another, each covering the spans that start in it)
/// is not masked but replaced by a placeholder of at most `PLACEHOLDER_MAX` letters, as Hugo
/// replaces a paired shortcode, body and all, by one placeholder on the line where it starts:
/// the copy stays as long as the document's own text, however deep shortcodes nest. Returns
/// the copy and, for each run after a placeholder, (offset in the copy, offset in `text`).
fn masked_copy(text: &str, spans: &[Span], collapsed: &[Span]) -> (String, Vec<(usize, usize)>) {
    let mut all: Vec<(Span, bool)> = spans
        .iter()
        .map(|&s| (s, false))
        .chain(collapsed.iter().map(|&s| (s, true)))
        .collect();
    // A collapsed region before the tag that opens it.
    all.sort_unstable_by_key(|(s, _)| (s.start, std::cmp::Reverse(s.end)));
    // Room for the document's own text only: a capacity of the whole range, nested documents
    // included, was an allocation as large as the page for each level.
    let hidden: usize = collapsed.iter().map(|s| s.end - s.start).sum();
    let mut out = String::with_capacity(text.len() - hidden + collapsed.len() * PLACEHOLDER_MAX);
    let mut runs = vec![(0, 0)];
    let mut done = 0;
    let mut line_start = false;
    for (s, collapse) in all {
        if s.end <= done {
            continue;
        }
        if s.start > done {
            out.push_str(&text[done..s.start]);
            line_start = false;
        }
        if collapse {
            out.push_str(placeholder(&text[s.start..s.end]));
            runs.push((out.len(), s.end));
            line_start = false;
        } else {
            line_start = mask_into(&mut out, &text[s.start.max(done)..s.end], line_start);
        }
        done = s.end;
    }
    out.push_str(&text[done..]);
    (out, runs)
}

/// The longest placeholder of a collapsed region: the length of Hugo's own
/// (`HAHAHUGOSHORTCODE-s0-HBHB`), rounded up.
const PLACEHOLDER_MAX: usize = 32;

/// Letters standing for `region` (a paired shortcode from `{{` to `}}`): as many as its first
/// line has bytes, up to `PLACEHOLDER_MAX`, so a short one-line region reads as before.
fn placeholder(region: &str) -> &'static str {
    const XS: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    // Only the first bytes are looked at: the rest of the region belongs to deeper levels.
    let head = &region.as_bytes()[..region.len().min(PLACEHOLDER_MAX)];
    let mut n = memchr::memchr2(b'\n', b'\r', head).unwrap_or(head.len());
    // Offsets inside the placeholder map into the region: keep them on its characters.
    while !region.is_char_boundary(n) {
        n -= 1;
    }
    &XS[..n]
}

/// Append `masked` with every byte turned into `x`, except line breaks and the blanks that
/// start a line (`line_start`: what comes before ended a line). Returns whether its end is
/// still at the start of a line (after a break and blanks only). Whole runs are copied, not
/// single bytes.
fn mask_into(out: &mut String, masked: &str, mut line_start: bool) -> bool {
    const XS: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    let is_break = |c: u8| c == b'\n' || c == b'\r';
    let is_blank = |c: u8| c == b' ' || c == b'\t';
    // The end of the run of bytes from `from` that `keep` accepts.
    fn run_end(b: &[u8], from: usize, keep: impl Fn(u8) -> bool) -> usize {
        from + b[from..]
            .iter()
            .position(|&c| !keep(c))
            .unwrap_or(b.len() - from)
    }
    let b = masked.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if is_break(b[i]) || (line_start && is_blank(b[i])) {
            let j = if is_break(b[i]) {
                run_end(b, i, is_break)
            } else {
                run_end(b, i, is_blank)
            };
            line_start = true;
            out.push_str(&masked[i..j]);
            i = j;
        } else {
            let j = run_end(b, i, |c| !is_break(c));
            for n in (i..j).step_by(XS.len()) {
                out.push_str(&XS[..(j - n).min(XS.len())]);
            }
            line_start = false;
            i = j;
        }
    }
    line_start
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
    if let Some(fm) = &ex.front_matter {
        // Front matter nested too deep is reported, and names no image (no parser reads it).
        let images = match crate::nesting::check(&text[fm.inner.start..fm.inner.end]) {
            Ok(()) => fmvalues::images(text, fm, &rules.front_matter_keys),
            Err(deep) => {
                let at = fm.inner.start + deep.offset;
                ex.problems.push(Problem {
                    code: "bad-front-matter",
                    span: Span::new(at, at + 1),
                    message: format!("front matter {}", deep.message()),
                    help: Some(
                        "write the value with fewer lists and maps inside one another".into(),
                    ),
                });
                Vec::new()
            }
        };
        for img in images {
            ex.refs.push(ImageRef {
                syntax: Syntax::FrontMatter(img.key),
                span: img.span,
                src: Value {
                    text: img.src,
                    span: img.span,
                    name: "value".into(),
                },
                width: None,
                height: None,
                ratio: None,
                alt: None,
                title: None,
                caption: None,
                srcset: None,
                glob: None,
                definition: None,
            });
        }
    }
    let fm_refs = ex.refs.len();
    let body = &text[body_start..];
    let mut lexed = shortcode::lex(body);
    // Hugo lexes shortcodes before it reads Markdown: a broken tag breaks the build even
    // inside a code block, so every lexing problem is reported.
    for p in std::mem::take(&mut lexed.problems) {
        ex.problems.push(Problem {
            code: "bad-shortcode",
            span: p.span,
            message: p.message,
            help: p.help,
        });
    }
    scan_documents(body, &lexed, rules, &mut ex);
    for r in ex.refs.iter_mut().skip(fm_refs) {
        shift_ref(r, body_start);
    }
    for p in &mut ex.problems {
        if p.code != "bad-front-matter" {
            p.span = p.span.shifted(body_start);
        }
    }
    for c in &mut ex.shortcodes_in_code {
        c.span = c.span.shifted(body_start);
    }
    ex.refs.sort_by_key(|r| (r.span.start, r.span.end));
    ex.problems.sort_by_key(|p| p.span.start);
    ex.shortcodes_in_code.sort_by_key(|c| c.span.start);
    ex
}

/// A text with leading indentation removed from its lines, and the way back to the original
/// offsets.
struct Dedent {
    text: String,
    /// (offset in `text`, offset in the original) of each line start.
    lines: Vec<(usize, usize)>,
}

impl Dedent {
    /// Remove up to `indent` leading blanks from every line of `src`.
    fn new(src: &str, indent: usize) -> Option<Dedent> {
        if indent == 0 {
            return None;
        }
        let lead = |l: &str| (l.len() - l.trim_start_matches([' ', '\t']).len()).min(indent);
        let mut text = String::with_capacity(src.len());
        let mut lines = Vec::new();
        let mut orig = 0;
        for l in src.split_inclusive('\n') {
            let cut = lead(l);
            lines.push((text.len(), orig + cut));
            text.push_str(&l[cut..]);
            orig += l.len();
        }
        Some(Dedent { text, lines })
    }

    fn original(&self, at: usize) -> usize {
        let i = match self.lines.binary_search_by_key(&at, |(d, _)| *d) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let (d, o) = self.lines.get(i).copied().unwrap_or((0, 0));
        o + (at - d)
    }
}

/// For each tag, the index of the tag closing it (same name, nesting counted), in one pass.
fn closings(tags: &[shortcode::Tag]) -> Vec<Option<usize>> {
    let mut out = vec![None; tags.len()];
    let mut open: BTreeMap<std::borrow::Cow<str>, Vec<usize>> = BTreeMap::new();
    for (j, t) in tags.iter().enumerate() {
        // Names are nearly always lowercase already: borrow them then.
        let name: std::borrow::Cow<str> = if t.name.bytes().any(|b| b.is_ascii_uppercase()) {
            t.name.to_ascii_lowercase().into()
        } else {
            t.name.as_str().into()
        };
        if t.closing {
            if let Some(i) = open.get_mut(&name).and_then(Vec::pop) {
                out[i] = Some(j);
            }
        } else if !t.self_closing {
            open.entry(name).or_default().push(j);
        }
    }
    out
}

/// A Markdown document still to scan: the page body, or the body of a paired `{{< >}}`
/// shortcode, which Hugo renders as a document of its own (an unclosed fence inside it ends
/// with it).
struct Pending {
    /// Its text, as offsets into the body.
    range: Span,
    /// The indentation of the shortcode around it, removed from its lines.
    indent: usize,
    /// Its tags, as indices into the page's tags.
    tags: Range<usize>,
}

/// Scan the page body and every paired `{{< >}}` body in it, each as a document of its own.
///
/// A work list, not recursion: Hugo sets no limit on nesting (its parser and its renderer
/// recurse once per level, bounded only by Go's 1 GB stack), so pixpipe reads any depth too,
/// in constant stack; 800 nested shortcodes overflowed a thread's stack here (issue #17,
/// item 6). Each document reads its own text once and its nested documents as placeholders,
/// so the work is linear in the page, however deep it nests.
fn scan_documents(body: &str, lexed: &shortcode::Lexed, rules: &Rules, ex: &mut Extraction) {
    let tags = &lexed.tags;
    let closes = closings(tags);
    let mut todo = vec![Pending {
        range: Span::new(0, body.len()),
        indent: 0,
        tags: 0..tags.len(),
    }];
    while let Some(doc) = todo.pop() {
        let nested = scan_document(body, &doc, tags, &closes, &lexed.broken, rules, ex);
        // In text order, as recursion visited them.
        todo.extend(nested.into_iter().rev());
    }
}

/// Scan one document (`doc`; spans are offsets into `body`) for references; return the
/// nested documents to scan next, but for those in code or an HTML comment.
fn scan_document(
    body: &str,
    doc: &Pending,
    tags: &[shortcode::Tag],
    closes: &[Option<usize>],
    broken: &[usize],
    rules: &Rules,
    ex: &mut Extraction,
) -> Vec<Pending> {
    let level = Level::of(tags, doc.tags.clone(), closes, rules);
    let broken = {
        let from = broken.partition_point(|&b| b < doc.range.start);
        let to = broken.partition_point(|&b| b + 3 <= doc.range.end);
        &broken[from..to.max(from)]
    };
    let (masked, runs) = masked_level(
        &body[doc.range.start..doc.range.end],
        doc.range.start,
        &level,
        broken,
    );
    // The body of a shortcode indented in a list item is read without that indentation, as
    // Hugo's `.InnerDeindent` gives it to templates; otherwise four spaces make it code.
    let doc = Document {
        body,
        runs,
        dedented: Dedent::new(&masked, doc.indent),
        tags: &level.tags,
    };
    let text = doc
        .dedented
        .as_ref()
        .map(|d| d.text.as_str())
        .unwrap_or(&masked);
    let md = if may_hold_markdown(text) {
        markdown::scan(text)
    } else {
        markdown::MdScan::default()
    };
    let code: Vec<Span> = md.code.iter().map(|s| doc.shift(*s)).collect();
    let mut hidden = code.clone();
    hidden.extend(md.html.comments.iter().map(|s| doc.shift(*s)));
    let (code, hidden) = (SpanSet::new(code), SpanSet::new(hidden));
    for span in markdown::images_broken_by_control_characters(text) {
        let span = doc.shift(span);
        if !hidden.contains(span.start) {
            ex.problems.push(Problem {
                code: "bad-image",
                span,
                message: "this image is shown as text: its destination holds a control character"
                    .into(),
                help: Some("remove the invisible character (such as U+0000) from the path".into()),
            });
        }
    }
    shortcode_refs(&level, &code, &hidden, rules, ex);
    markdown_refs(md.images, &doc, ex);
    html_refs(md.html.imgs, &hidden, &doc, ex);
    level
        .children
        .into_iter()
        .filter(|nested| !hidden.contains(nested.region.start))
        .map(|nested| Pending {
            indent: indent_before(body, nested.region.start),
            range: nested.inner,
            tags: nested.tags,
        })
        .collect()
}

/// Whether `text` may hold code, raw HTML or an image for the Markdown parser to find: none is
/// written without a backtick, a `~` fence, a `<`, a `!`, or indentation (a tab or four
/// spaces). A page of 100,000 nested shortcodes is 100,000 documents holding only
/// placeholders, and starting a parser for each was most of the time it took.
fn may_hold_markdown(text: &str) -> bool {
    let b = text.as_bytes();
    memchr::memchr3(b'`', b'~', b'<', b).is_some()
        || memchr::memchr2(b'!', b'\t', b).is_some()
        || memchr::memmem::find(b, b"    ").is_some()
}

/// The tags of one document sorted out: those at its own level, the regions of code
/// shortcodes, and the paired `{{< >}}` shortcodes whose bodies are documents of their own.
struct Level<'t> {
    /// Tags at this level, in order, closing tags included.
    tags: Vec<&'t shortcode::Tag>,
    /// Each code shortcode from its opening tag to its closing one: code on display.
    code_bodies: Vec<Span>,
    /// Nested documents.
    children: Vec<Nested>,
}

/// A paired `{{< >}}` shortcode whose body is a document of its own.
struct Nested {
    /// From its opening tag to its closing one.
    region: Span,
    /// Between its tags.
    inner: Span,
    /// The tags inside it, as indices into the page's tags.
    tags: Range<usize>,
}

impl<'t> Level<'t> {
    /// Sort out `tags[range]`, a document's: a paired code shortcode or `{{< >}}` shortcode
    /// takes every tag up to its closing one (its body), which then belongs to no level here.
    /// `closes` pairs the page's tags: the pairs inside a range are the ones a pairing of that
    /// range alone would make, so the page is paired once, not once per level.
    fn of(
        tags: &'t [shortcode::Tag],
        range: Range<usize>,
        closes: &[Option<usize>],
        rules: &Rules,
    ) -> Level<'t> {
        let is_code = |t: &shortcode::Tag| {
            rules
                .code_shortcodes
                .iter()
                .any(|c| c.eq_ignore_ascii_case(&t.name))
        };
        let mut level = Level {
            tags: Vec::new(),
            code_bodies: Vec::new(),
            children: Vec::new(),
        };
        let mut i = range.start;
        while i < range.end {
            let t = &tags[i];
            level.tags.push(t);
            let pairs =
                !t.closing && !t.self_closing && (is_code(t) || t.delim == shortcode::Delim::Angle);
            if let Some(j) = pairs
                .then(|| closes[i])
                .flatten()
                .filter(|&j| j < range.end)
            {
                let region = Span::new(t.span.start, tags[j].span.end);
                if is_code(t) {
                    level.code_bodies.push(region);
                } else {
                    level.children.push(Nested {
                        region,
                        inner: Span::new(t.span.end, tags[j].span.start),
                        tags: i + 1..j,
                    });
                }
                level.tags.push(&tags[j]);
                i = j + 1;
                continue;
            }
            i += 1;
        }
        level
    }
}

/// `local`, a document starting at `start` in the body, as its Markdown parser must see it:
/// the level's tags and code bodies masked, its nested documents collapsed; and for each run
/// of it, (offset in the text, offset in the body). Borrowed when there is nothing to hide.
///
/// The opening delimiters of malformed tags (`broken`) are masked too: Hugo fails the page on
/// them, so the Markdown behind them is never rendered, and a line of 20,000 bare `{{< `
/// kept pulldown-cmark reading each `<` as a possible HTML tag (35 MiB/s; masked, 2.5 GiB/s;
/// issue #17, item 7).
fn masked_level<'a>(
    local: &'a str,
    start: usize,
    level: &Level,
    broken: &[usize],
) -> (Cow<'a, str>, Vec<(usize, usize)>) {
    if level.tags.is_empty() && broken.is_empty() {
        return (Cow::Borrowed(local), vec![(0, start)]);
    }
    let local_span = |s: Span| Span::new(s.start - start, s.end - start);
    let spans: Vec<Span> = level
        .tags
        .iter()
        .map(|t| t.span)
        .chain(level.code_bodies.iter().copied())
        .chain(broken.iter().map(|&b| Span::new(b, b + 3)))
        .map(local_span)
        .collect();
    let regions: Vec<Span> = level
        .children
        .iter()
        .map(|c| local_span(c.region))
        .collect();
    let (text, mut runs) = masked_copy(local, &spans, &regions);
    for r in &mut runs {
        r.1 += start;
    }
    (Cow::Owned(text), runs)
}

/// One document as its Markdown parser read it, and the way back to the body.
struct Document<'a> {
    body: &'a str,
    /// (offset in the masked text, offset in `body`) where each run of the masked text starts:
    /// the document's start, then the end of each collapsed nested document.
    runs: Vec<(usize, usize)>,
    /// The text the parser read, when the document's indentation was removed first.
    dedented: Option<Dedent>,
    /// The tags at the document's level, in text order.
    tags: &'a [&'a shortcode::Tag],
}

impl Document<'_> {
    /// `s`, a span in the text the parser read, as a span in the body.
    fn shift(&self, s: Span) -> Span {
        Span::new(self.original(s.start), self.original(s.end))
    }

    /// Offset `at` of the text the parser read, as an offset in the body.
    fn original(&self, at: usize) -> usize {
        let at = match &self.dedented {
            Some(d) => d.original(at),
            None => at,
        };
        let i = self.runs.partition_point(|r| r.0 <= at).max(1);
        let (masked, body) = self.runs[i - 1];
        body + (at - masked)
    }

    /// The body's text at `s` when a shortcode is in it: a value with a shortcode in it
    /// (`![x]({{< param logo >}})`) is a template expression, kept as written. The tags are
    /// disjoint and in order: the first that ends after `s` starts is the only candidate.
    fn written(&self, s: Span) -> Option<String> {
        let i = self.tags.partition_point(|t| t.span.end <= s.start);
        self.tags
            .get(i)
            .is_some_and(|t| t.span.start < s.end)
            .then(|| self.body[s.start..s.end].to_string())
    }
}

/// The references of the image shortcodes at `level`, or a problem for each that names no
/// image or mixes named and positional parameters. A tag in `hidden` (code, an HTML comment)
/// is not executed as an image; one in `code` is reported as a shortcode in code.
fn shortcode_refs(
    level: &Level,
    code: &SpanSet,
    hidden: &SpanSet,
    rules: &Rules,
    ex: &mut Extraction,
) {
    let code_bodies = SpanSet::new(level.code_bodies.clone());
    for t in &level.tags {
        if t.closing || code_bodies.contains(t.span.start) {
            continue;
        }
        let Some(rule) = rules.shortcodes.get(&t.name.to_ascii_lowercase()) else {
            continue;
        };
        if hidden.contains(t.span.start) {
            if code.contains(t.span.start) {
                ex.shortcodes_in_code.push(CodeShortcode {
                    span: t.span,
                    name: t.name.clone(),
                });
            }
            continue;
        }
        match shortcode_ref(t, rule) {
            Some(r) => ex.refs.push(r),
            None => ex.problems.push(Problem {
                code: "no-source",
                span: t.span,
                message: format!("shortcode `{}` names no image", t.name),
                help: Some(format!(
                    "add {}=\"…\" with the image's path",
                    rule.src.first().map(String::as_str).unwrap_or("src")
                )),
            }),
        }
        if t.params.iter().any(|p| p.name.is_some()) && t.params.iter().any(|p| p.name.is_none()) {
            ex.problems.push(Problem {
                code: "bad-shortcode",
                span: t.span,
                message: format!("shortcode `{}` mixes named and positional parameters; Hugo refuses it", t.name),
                help: Some("name every parameter (src=\"…\"), or none; a value with spaces needs double quotes".into()),
            });
        }
    }
}

/// The references of the Markdown images `doc`'s parser found (`![alt](src "title")`).
fn markdown_refs(images: Vec<markdown::MdImage>, doc: &Document, ex: &mut Extraction) {
    for img in images {
        let span = doc.shift(img.span);
        let src_span = img.dest_span.map(|s| doc.shift(s)).unwrap_or(span);
        let text = doc
            .written(src_span)
            .filter(|_| img.dest_span.is_some())
            .unwrap_or(img.dest);
        ex.refs.push(ImageRef {
            syntax: Syntax::Markdown,
            span,
            src: Value {
                text,
                span: src_span,
                name: "src".into(),
            },
            width: None,
            height: None,
            ratio: None,
            alt: Some(Box::new(Value {
                text: img.alt,
                span,
                name: "alt".into(),
            })),
            title: (!img.title.is_empty()).then(|| {
                Box::new(Value {
                    text: img.title,
                    span,
                    name: "title".into(),
                })
            }),
            caption: None,
            srcset: None,
            glob: None,
            definition: img.def_dest_span.map(|s| doc.shift(s)),
        });
    }
}

/// The references of the `<img>` tags with a `src` that `doc`'s parser found, but for those
/// in `hidden` (code, an HTML comment).
fn html_refs(imgs: Vec<html::ImgTag>, hidden: &SpanSet, doc: &Document, ex: &mut Extraction) {
    for tag in imgs {
        let span = doc.shift(tag.span);
        if hidden.contains(span.start) {
            continue;
        }
        let Some(src) = tag.attr("src") else { continue };
        let val = |n: &str| {
            tag.attr(n).map(|a| {
                let s = doc.shift(a.span);
                Box::new(Value {
                    text: doc.written(s).unwrap_or_else(|| a.value.clone()),
                    span: s,
                    name: n.to_string(),
                })
            })
        };
        let src_span = doc.shift(src.span);
        ex.refs.push(ImageRef {
            syntax: Syntax::Html,
            span,
            src: Value {
                text: doc.written(src_span).unwrap_or_else(|| src.value.clone()),
                span: src_span,
                name: "src".into(),
            },
            width: val("width"),
            height: val("height"),
            ratio: None,
            alt: val("alt"),
            title: val("title"),
            caption: None,
            srcset: val("srcset"),
            glob: None,
            definition: None,
        });
    }
}

/// The indentation of a shortcode starting at `at` in `body`: the blanks before it on its
/// line, or 0 when anything else is. Read backwards over blanks only: a search for the line's
/// start was quadratic on a page of shortcodes on one line (issue #17, item 7).
fn indent_before(body: &str, at: usize) -> usize {
    let b = &body.as_bytes()[..at];
    let blanks = b
        .iter()
        .rev()
        .take_while(|&&c| c == b' ' || c == b'\t')
        .count();
    match b.len().checked_sub(blanks + 1).map(|i| b[i]) {
        None | Some(b'\n') => blanks,
        Some(_) => 0,
    }
}

fn shift_ref(r: &mut ImageRef, by: usize) {
    r.span = r.span.shifted(by);
    for v in [
        &mut r.width,
        &mut r.height,
        &mut r.ratio,
        &mut r.alt,
        &mut r.title,
        &mut r.caption,
        &mut r.srcset,
        &mut r.glob,
    ]
    .into_iter()
    .flatten()
    {
        v.span = v.span.shifted(by);
    }
    r.src.span = r.src.span.shifted(by);
}

fn shortcode_ref(t: &shortcode::Tag, rule: &ShortcodeRule) -> Option<ImageRef> {
    let value = |p: &shortcode::Param| {
        Box::new(Value {
            text: p.value.clone(),
            span: p.span,
            name: p.name.clone().unwrap_or_default(),
        })
    };
    let named = |n: &Option<String>| n.as_deref().and_then(|n| t.named(n)).map(value);
    let set = rule.set.as_ref().and_then(|n| t.named(n));
    let src = rule
        .src
        .iter()
        .find_map(|n| t.named(n))
        .or_else(|| rule.positional_src.and_then(|i| t.positional(i)))
        .or(set)?;
    let glob = match (set, &rule.glob) {
        (Some(p), _) => Some(value(p)),
        (None, Some(tpl)) => Some(Box::new(Value {
            text: tpl.replace("{}", &src.value),
            span: src.span,
            name: "glob".into(),
        })),
        _ => None,
    };
    Some(ImageRef {
        syntax: Syntax::Shortcode(t.name.to_ascii_lowercase()),
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
        srcset: t.named("srcset").map(value),
        glob,
        definition: None,
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

    // Hugo fails the page on a malformed tag; its `{{<` is masked from the Markdown pass
    // (fast on a line of 20,000 of them), and everything else on the page is still read.
    #[test]
    fn malformed_tags_are_each_reported_and_the_page_is_still_read() {
        let t = format!(
            "{}`{{{{< ` ![a](a.png) <img src=\"b.png\">\n\n    ![c](c.png)\n",
            "{{< ".repeat(3)
        );
        let ex = extract(&t, &Rules::from_config(&Config::default()));
        let starts: Vec<usize> = ex.problems.iter().map(|p| p.span.start).collect();
        assert_eq!(starts, vec![0, 4, 8, 13]);
        assert!(ex
            .problems
            .iter()
            .all(|p| p.message == "shortcode `{{<` has no name"));
        assert_eq!(
            refs(&t),
            vec![pair("markdown", "a.png"), pair("html", "b.png")]
        );
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

    #[test]
    fn a_paired_shortcode_body_is_a_document_of_its_own() {
        // An unclosed fence or HTML block inside a body ends with the body, as in Hugo.
        let t = "{{< note >}}\n```bash\necho hi\n{{< /note >}}\n\n![after](leak1.png)\n\n{{< note >}}\n<div>\n{{< /note >}}\n![x](leak2.png)\n";
        assert_eq!(
            refs(t),
            vec![pair("markdown", "leak1.png"), pair("markdown", "leak2.png")]
        );
        let t = "```\n{{< note >}}\n```\n{{< /note >}}\n![x](rl1.png)\n```\n\n![x](rl2.png)\n";
        assert_eq!(refs(t), vec![pair("markdown", "rl2.png")]);
    }

    #[test]
    fn an_indented_body_is_read_without_its_common_indentation() {
        let t = "1. Step\n\n    {{< tabset >}}\n    {{< tab name=\"A\" >}}\n    {{< image link=\"n10.png\" >}}\n    ![x](n11.png)\n    {{< /tab >}}\n    {{< /tabset >}}\n";
        assert_eq!(
            refs(t),
            vec![
                pair("shortcode:image", "n10.png"),
                pair("markdown", "n11.png")
            ]
        );
        let ex = extract(t, &Rules::from_config(&Config::default()));
        let img = &ex.refs[1];
        assert_eq!(&t[img.span.start..img.span.end], "![x](n11.png)");
        assert_eq!(&t[img.src.span.start..img.src.span.end], "n11.png");
    }

    #[test]
    fn a_body_is_deindented_by_its_shortcodes_indentation_only() {
        let t = "{{< note >}}\n    ![x](indented-code.png)\n{{< /note >}}\n";
        assert_eq!(refs(t), vec![]);
    }

    #[test]
    fn a_shortcode_in_a_destination_is_a_template_value() {
        let t = "![logo]({{< param logo >}})\n\n<img src=\"{{< param logo >}}\">\n";
        assert_eq!(
            refs(t),
            vec![
                pair("markdown", "{{< param logo >}}"),
                pair("html", "{{< param logo >}}")
            ]
        );
        let t = "{{< image link=\"{{< param logo >}}\" >}}\n";
        let ex = extract(t, &Rules::from_config(&Config::default()));
        assert!(ex.problems.is_empty(), "{:?}", ex.problems);
    }

    #[test]
    fn hugo_rules_for_names_positions_and_repeats() {
        assert_eq!(
            refs("{{< Image link=\"a.png\" >}}\n"),
            vec![pair("shortcode:image", "a.png")]
        );
        assert_eq!(refs("{{< figure \"p27.png\" >}}\n"), vec![]);
        assert_eq!(
            refs("{{< img p.png >}}\n"),
            vec![pair("shortcode:img", "p.png")]
        );
        assert_eq!(
            refs("{{< figure src=\"a.png\" src=\"b.png\" >}}\n"),
            vec![pair("shortcode:figure", "b.png")]
        );
    }

    #[test]
    fn hugo_build_breakers_are_problems_even_in_code() {
        let rules = Rules::from_config(&Config::default());
        let ex = extract("```\n{{< image link=\"bc1.png\"\n```\n", &rules);
        assert_eq!(ex.problems.len(), 1, "{:?}", ex.problems);
        let ex = extract("{{< figure src=\"p.png\" caption=\"a\nb\" >}}\n", &rules);
        assert_eq!(ex.problems[0].message, "quoted value is never closed");
        let ex = extract("{{< img \"a.png\" width=\"40%\" >}}\n", &rules);
        assert_eq!(
            ex.problems[0].message,
            "shortcode `img` mixes named and positional parameters; Hugo refuses it"
        );
    }

    // Issue #17, item 6: nesting was recursion, and 800 levels overflowed a thread's stack.
    #[test]
    fn shortcodes_nested_thousands_deep_are_read_issue_17() {
        let depth = 5_000;
        let t = format!(
            "{}![deep](d.png) {{{{< figure src=\"f.png\" >}}}}{}\n",
            "{{< note >}}".repeat(depth),
            "{{< /note >}}".repeat(depth)
        );
        assert_eq!(
            refs(&t),
            vec![pair("markdown", "d.png"), pair("shortcode:figure", "f.png")]
        );
        let ex = extract(&t, &Rules::from_config(&Config::default()));
        let d = ex.refs[0].src.span;
        assert_eq!(&t[d.start..d.end], "d.png");
    }

    #[test]
    fn a_nested_body_is_one_placeholder_line_in_the_document_around_it() {
        // Hugo replaces a paired shortcode, body and all, by one placeholder: what follows its
        // closing tag is on the line where it starts, whatever lines the body has.
        let t =
            "- item\n  {{< note >}}\n\nx\n  {{< /note >}}\n\n    {{< figure src=\"p.png\" >}}\n";
        assert_eq!(refs(t), vec![pair("shortcode:figure", "p.png")]);
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

        /// Each span masked on its own, one after the other: what `masked_copy` must equal.
        fn mask_each(text: &str, spans: &[Span]) -> String {
            let mut b = text.as_bytes().to_vec();
            for s in spans {
                let mut line_start = false;
                for c in &mut b[s.start..s.end] {
                    match *c {
                        b'\n' | b'\r' => line_start = true,
                        b' ' | b'\t' if line_start => {}
                        _ => {
                            line_start = false;
                            *c = b'x';
                        }
                    }
                }
            }
            String::from_utf8(b).unwrap()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]
            #[test]
            fn overlapping_spans_are_masked_as_each_on_its_own(
                text in "[{aé \t\n\r]{0,40}",
                picks in proptest::collection::vec((0usize..40, 0usize..40), 0..6),
            ) {
                // Spans start at a `{`, as every tag does, and end anywhere after it.
                let opens: Vec<usize> = text.match_indices('{').map(|(i, _)| i).collect();
                let spans: Vec<Span> = picks
                    .iter()
                    .filter(|_| !opens.is_empty())
                    .map(|&(o, len)| {
                        let start = opens[o % opens.len()];
                        let mut end = (start + 1 + len).min(text.len());
                        while !text.is_char_boundary(end) {
                            end += 1;
                        }
                        Span::new(start, end)
                    })
                    .collect();
                prop_assert_eq!(masked_copy(&text, &spans, &[]).0, mask_each(&text, &spans));
            }

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
