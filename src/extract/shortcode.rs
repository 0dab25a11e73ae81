//! Hugo shortcode lexer: text → shortcode tags with their parameters and spans.
//!
//! It knows Hugo's shortcode syntax only (`{{< … >}}`, `{{% … %}}`, self-closing `/>}}`,
//! escaped `{{</* … */>}}`, named and positional parameters, `"quoted"` with `\"`, `` `raw` ``
//! and bare values). It does not know Markdown: whether a tag sits in a code block is decided
//! by the caller. Malformed tags become problems and lexing goes on after them.

use crate::position::Span;

/// `{{< … >}}` or `{{% … %}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delim {
    /// `{{< … >}}`
    Angle,
    /// `{{% … %}}`
    Percent,
}

/// How a parameter value was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quote {
    /// `"…"`
    Double,
    /// `` `…` ``
    Raw,
    /// Bare, up to whitespace.
    Bare,
}

/// One parameter of a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// The name of a named parameter; `None` for a positional one.
    pub name: Option<String>,
    /// The value with quotes removed and `\"` unescaped.
    pub value: String,
    /// The value as written, without the quotes.
    pub span: Span,
    /// How it was quoted.
    pub quote: Quote,
}

/// One shortcode tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// Name, such as `image` or `tabs/tab`.
    pub name: String,
    /// `{{< /name >}}`.
    pub closing: bool,
    /// `{{< name />}}`.
    pub self_closing: bool,
    /// Which delimiters.
    pub delim: Delim,
    /// From `{{` to `}}` inclusive.
    pub span: Span,
    /// Parameters in order.
    pub params: Vec<Param>,
}

impl Tag {
    /// The value of named parameter `name` (the last one, as in Hugo, when repeated).
    pub fn named(&self, name: &str) -> Option<&Param> {
        self.params
            .iter()
            .rev()
            .find(|p| p.name.as_deref() == Some(name))
    }
    /// The `i`th positional parameter.
    pub fn positional(&self, i: usize) -> Option<&Param> {
        self.params.iter().filter(|p| p.name.is_none()).nth(i)
    }
}

/// A tag that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexProblem {
    /// Where the user must look.
    pub span: Span,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

/// Everything the lexer found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Lexed {
    /// Live tags, in order.
    pub tags: Vec<Tag>,
    /// Escaped tags (`{{</* … */>}}`): displayed as text by Hugo, never executed.
    pub escaped: Vec<Span>,
    /// Malformed tags.
    pub problems: Vec<LexProblem>,
    /// Where each malformed tag's `{{<` or `{{%` is, in order.
    pub broken: Vec<usize>,
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/')
}

fn close_of(d: Delim) -> &'static [u8] {
    match d {
        Delim::Angle => b">}}",
        Delim::Percent => b"%}}",
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn at(&self, s: &[u8]) -> bool {
        self.b[self.i..].starts_with(s)
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
}

/// Lex every shortcode tag in `text`.
pub fn lex(text: &str) -> Lexed {
    let b = text.as_bytes();
    let mut out = Lexed::default();
    let mut from = 0;
    while let Some(start) = next_open(b, from) {
        let delim = match b.get(start + 2) {
            Some(b'<') => Delim::Angle,
            Some(b'%') => Delim::Percent,
            _ => {
                from = start + 2;
                continue;
            }
        };
        match lex_tag(text, start, delim) {
            TagResult::Tag(tag) => {
                from = tag.span.end;
                out.tags.push(tag);
            }
            TagResult::Escaped(span) => {
                from = span.end;
                out.escaped.push(span);
            }
            TagResult::Problem(m) => {
                out.problems.push(m.problem);
                out.broken.push(start);
                from = m.resume.max(start + 3);
            }
        }
    }
    out
}

/// What lexing the text at one `{{<` or `{{%` gave.
enum TagResult {
    Tag(Tag),
    Escaped(Span),
    Problem(Malformed),
}

/// A tag that could not be read: the problem, and the offset to lex on from.
struct Malformed {
    problem: LexProblem,
    resume: usize,
}

impl Malformed {
    /// `problem`, lexing on from `resume`.
    fn new(problem: LexProblem, resume: usize) -> Malformed {
        Malformed { problem, resume }
    }
}

/// The first `{{` at or after `from`. `memchr` on `{` rather than `memmem::find`: a page has
/// few braces, and building a two-byte searcher for every tag cost more than the search.
fn next_open(b: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(rel) = memchr::memchr(b'{', b.get(at..)?) {
        let i = at + rel;
        if b.get(i + 1) == Some(&b'{') {
            return Some(i);
        }
        at = i + 1;
    }
    None
}

fn memfind(h: &[u8], n: &[u8]) -> Option<usize> {
    memchr::memmem::find(h, n)
}

fn problem(start: usize, end: usize, message: impl Into<String>, help: Option<&str>) -> LexProblem {
    LexProblem {
        span: Span::new(start, end),
        message: message.into(),
        help: help.map(str::to_string),
    }
}

/// The opening delimiter as written, for messages.
fn open_text(d: Delim) -> &'static str {
    match d {
        Delim::Angle => "{{<",
        Delim::Percent => "{{%",
    }
}

/// The closing delimiter as written, for messages.
fn close_text(d: Delim) -> &'static str {
    match d {
        Delim::Angle => ">}}",
        Delim::Percent => "%}}",
    }
}

/// Lex the tag whose opening `{{<` or `{{%` (`delim`) is at `start`: an escaped tag, a live
/// one, or the problem that stops it.
fn lex_tag(text: &str, start: usize, delim: Delim) -> TagResult {
    let mut c = Cursor {
        b: text.as_bytes(),
        i: start + 3,
    };
    c.skip_ws();
    if c.at(b"/*") {
        // Escaped: `{{</* … */>}}`. Hugo prints it as text without the comment marks.
        return match escaped_end(c.b, c.i + 2, close_of(delim)) {
            Some(end) => TagResult::Escaped(Span::new(start, end)),
            None => TagResult::Problem(Malformed::new(
                problem(
                    start,
                    start + 3,
                    format!("escaped shortcode `{}/*` is never closed", open_text(delim)),
                    Some(&format!("end it with `*/{}`", close_text(delim))),
                ),
                start + 3,
            )),
        };
    }
    match live_tag(text, start, delim, c) {
        Ok(tag) => TagResult::Tag(tag),
        Err(m) => TagResult::Problem(m),
    }
}

/// The end of an escaped tag whose comment text starts at `from`: just after the closing
/// delimiter (`close`) of the first `*/` followed by it, blanks between allowed.
fn escaped_end(b: &[u8], from: usize, close: &[u8]) -> Option<usize> {
    let mut j = from;
    while let Some(rel) = memfind(&b[j..], b"*/") {
        let mut k = j + rel + 2;
        while k < b.len() && b[k].is_ascii_whitespace() {
            k += 1;
        }
        if b[k..].starts_with(close) {
            return Some(k + close.len());
        }
        j = j + rel + 2;
    }
    None
}

/// A live tag opened at `start`: an optional `/` (a closing tag), the name, the parameters,
/// then `>}}` or a self-closing `/>}}`. `c` is past the opening delimiter and its blanks.
fn live_tag(text: &str, start: usize, delim: Delim, mut c: Cursor) -> Result<Tag, Malformed> {
    let b = c.b;
    let close = close_of(delim);
    let mut closing = false;
    if c.peek() == Some(b'/') {
        closing = true;
        c.i += 1;
        c.skip_ws();
    }
    let name_start = c.i;
    while c.i < b.len() && is_name_byte(b[c.i]) {
        c.i += 1;
    }
    // A trailing `/` belongs to a self-closing `/>}}`, not to the name.
    while c.i > name_start && b[c.i - 1] == b'/' && b[c.i..].starts_with(close) {
        c.i -= 1;
    }
    let name = &text[name_start..c.i];
    if name.is_empty() {
        // Not `format!`: a page can open 20,000 tags without a name (issue #17, item 7).
        let message = match delim {
            Delim::Angle => "shortcode `{{<` has no name",
            Delim::Percent => "shortcode `{{%` has no name",
        };
        return Err(Malformed::new(
            problem(start, start + 3, message, Some("write the shortcode name after the opening delimiter, or escape it as `{{</* … */>}}`")),
            start + 3,
        ));
    }
    let mut params = Vec::new();
    let self_closing = loop {
        c.skip_ws();
        if c.i >= b.len() {
            return Err(Malformed::new(
                problem(
                    start,
                    name_start.max(start + 3),
                    format!("shortcode `{name}` is never closed"),
                    Some(&format!("end it with `{}`", close_text(delim))),
                ),
                start + 3,
            ));
        }
        if c.at(close) {
            c.i += close.len();
            break false;
        }
        if c.peek() == Some(b'/') && b[c.i + 1..].starts_with(close) {
            c.i += 1 + close.len();
            break true;
        }
        if c.at(b"{{") {
            // Another tag begins before this one ended.
            return Err(Malformed::new(
                problem(
                    start,
                    name_start,
                    format!("shortcode `{name}` is never closed"),
                    Some(&format!(
                        "end it with `{}` before the next shortcode",
                        close_text(delim)
                    )),
                ),
                c.i,
            ));
        }
        params.push(read_param(text, &mut c, close, name)?);
    };
    Ok(Tag {
        name: name.to_string(),
        closing,
        self_closing,
        delim,
        span: Span::new(start, c.i),
        params,
    })
}

/// One parameter of shortcode `name` at `c`: `key=value` (blanks around `=` allowed) or a
/// positional value. `c` ends after it.
fn read_param(text: &str, c: &mut Cursor, close: &[u8], name: &str) -> Result<Param, Malformed> {
    let b = c.b;
    let first = match read_value(text, c, close) {
        Ok(v) => v,
        Err(p) => return Err(Malformed::new(p, c.i)),
    };
    let save = c.i;
    c.skip_ws();
    if first.quote == Quote::Bare && c.peek() == Some(b'=') && is_param_name(&first.value) {
        c.i += 1;
        c.skip_ws();
        if c.i >= b.len() || c.at(close) {
            return Err(Malformed::new(
                problem(
                    first.span.start,
                    c.i,
                    format!(
                        "parameter `{}` of shortcode `{name}` has no value",
                        first.value
                    ),
                    Some(&format!("write {}=\"…\"", first.value)),
                ),
                c.i,
            ));
        }
        let v = match read_value(text, c, close) {
            Ok(v) => v,
            Err(p) => return Err(Malformed::new(p, c.i)),
        };
        return Ok(Param {
            name: Some(first.value),
            value: v.value,
            span: v.span,
            quote: v.quote,
        });
    }
    if let Some(eq) = (first.quote == Quote::Bare)
        .then(|| first.value.find('='))
        .flatten()
        .filter(|&eq| eq > 0 && is_param_name(&first.value[..eq]))
    {
        return joined_param(text, c, close, first, eq, save);
    }
    c.i = save;
    Ok(Param {
        name: None,
        value: first.value,
        span: first.span,
        quote: first.quote,
    })
}

/// `key=value` written without spaces: the bare token `first` swallowed the `=` (at `eq` in
/// it), and `c` is back at `save`, its end, when the value is bare. A quoted value
/// (`key="value with spaces"`) is read again from the quote.
fn joined_param(
    text: &str,
    c: &mut Cursor,
    close: &[u8],
    first: Value,
    eq: usize,
    save: usize,
) -> Result<Param, Malformed> {
    let key = first.value[..eq].to_string();
    let vstart = first.span.start + eq + 1;
    if text[vstart..].starts_with(['"', '`']) {
        let mut c2 = Cursor { b: c.b, i: vstart };
        let v = match read_value(text, &mut c2, close) {
            Ok(v) => v,
            Err(p) => return Err(Malformed::new(p, c2.i)),
        };
        c.i = c2.i;
        Ok(Param {
            name: Some(key),
            value: v.value,
            span: v.span,
            quote: v.quote,
        })
    } else {
        c.i = save;
        Ok(Param {
            name: Some(key),
            value: text[vstart..first.span.end].to_string(),
            span: Span::new(vstart, first.span.end),
            quote: Quote::Bare,
        })
    }
}

fn is_param_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

struct Value {
    value: String,
    span: Span,
    quote: Quote,
}

fn read_value(text: &str, c: &mut Cursor, close: &[u8]) -> Result<Value, LexProblem> {
    let b = c.b;
    match c.peek() {
        Some(b'"') => {
            let q = c.i;
            let mut j = q + 1;
            let mut value = String::new();
            let mut seg = j;
            while j < b.len() {
                match b[j] {
                    b'\\' if b.get(j + 1) == Some(&b'"') => {
                        value.push_str(&text[seg..j]);
                        value.push('"');
                        j += 2;
                        seg = j;
                    }
                    b'\n' | b'\r' => {
                        // Hugo ends a quoted value at the line: it was never closed.
                        c.i = j;
                        return Err(problem(
                            q,
                            q + 1,
                            "quoted value is never closed",
                            Some("add the closing `\"` on the same line"),
                        ));
                    }
                    b'"' => {
                        value.push_str(&text[seg..j]);
                        c.i = j + 1;
                        return Ok(Value {
                            value,
                            span: Span::new(q + 1, j),
                            quote: Quote::Double,
                        });
                    }
                    _ => j += 1,
                }
            }
            Err(problem(
                q,
                q + 1,
                "quoted value is never closed",
                Some("add the closing `\"`"),
            ))
        }
        Some(b'`') => {
            let q = c.i;
            match memfind(&b[q + 1..], b"`") {
                Some(rel) => {
                    let end = q + 1 + rel;
                    c.i = end + 1;
                    Ok(Value {
                        value: text[q + 1..end].to_string(),
                        span: Span::new(q + 1, end),
                        quote: Quote::Raw,
                    })
                }
                None => Err(problem(
                    q,
                    q + 1,
                    "raw string value is never closed",
                    Some("add the closing backtick"),
                )),
            }
        }
        _ => {
            let s = c.i;
            let mut j = s;
            while j < b.len() && !b[j].is_ascii_whitespace() && !b[j..].starts_with(close) {
                if b[j] == b'/' && b[j + 1..].starts_with(close) {
                    break;
                }
                if b[j..].starts_with(b"{{") && j > s {
                    break;
                }
                if b[j] == b'=' && j > s {
                    // Let the caller split `key=value`.
                    j += 1;
                    // A quoted value right after `=` is read by the caller.
                    if matches!(b.get(j), Some(b'"') | Some(b'`')) {
                        break;
                    }
                    continue;
                }
                j += 1;
            }
            // Stay on a char boundary (bare values may hold any UTF-8).
            while !text.is_char_boundary(j) {
                j += 1;
            }
            c.i = j;
            Ok(Value {
                value: text[s..j].to_string(),
                span: Span::new(s, j),
                quote: Quote::Bare,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(t: &str) -> Tag {
        let l = lex(t);
        assert!(l.problems.is_empty(), "{:?}", l.problems);
        assert_eq!(l.tags.len(), 1, "{:?}", l.tags);
        l.tags.into_iter().next().unwrap()
    }

    #[test]
    fn named_params_across_lines() {
        let t = "{{< image width=\"40%\"\n    link=\"./a b.jpg\"\n    caption=\"say \\\"hi\\\"\"\n    >}}";
        let tag = one(t);
        assert_eq!(tag.name, "image");
        assert_eq!(tag.named("width").unwrap().value, "40%");
        assert_eq!(tag.named("link").unwrap().value, "./a b.jpg");
        assert_eq!(tag.named("caption").unwrap().value, "say \"hi\"");
        assert_eq!(
            &t[tag.named("link").unwrap().span.start..tag.named("link").unwrap().span.end],
            "./a b.jpg"
        );
        assert_eq!(tag.span, Span::new(0, t.len()));
    }

    #[test]
    fn positional_raw_and_bare_values() {
        let tag = one("{{% img `x y.png` 300 'a' %}}");
        assert_eq!(tag.delim, Delim::Percent);
        assert_eq!(tag.positional(0).unwrap().value, "x y.png");
        assert_eq!(tag.positional(1).unwrap().value, "300");
        assert_eq!(tag.positional(2).unwrap().value, "'a'");
    }

    #[test]
    fn bare_named_values_and_self_closing() {
        let tag = one("{{<img src=a.png width=300/>}}");
        assert!(tag.self_closing);
        assert_eq!(tag.named("src").unwrap().value, "a.png");
        assert_eq!(tag.named("width").unwrap().value, "300");
    }

    #[test]
    fn escaped_shortcodes_are_not_tags() {
        let l = lex("a {{</* image link=\"x\" */>}} b {{%/*gloss*/%}} {{</*gloss envoy*/>}}");
        assert!(l.tags.is_empty());
        assert_eq!(l.escaped.len(), 3);
    }

    #[test]
    fn closing_tags() {
        let l = lex("{{< tab >}}x{{< /tab >}}");
        assert_eq!(l.tags.len(), 2);
        assert!(l.tags[1].closing);
        assert_eq!(l.tags[1].name, "tab");
    }

    #[test]
    fn unterminated_quote_is_a_problem_and_lexing_goes_on() {
        let l = lex("{{< image link=\"x.jpg >}}\n\n{{< image link=\"y.jpg\" >}}");
        assert_eq!(l.problems.len(), 1, "{:?}", l.problems);
        assert_eq!(l.problems[0].message, "quoted value is never closed");
        assert_eq!(l.tags.len(), 1);
        assert_eq!(l.tags[0].named("link").unwrap().value, "y.jpg");
    }

    #[test]
    fn unclosed_tag_before_the_next_one() {
        let l = lex("{{< image link=\"x.jpg\"\n{{< image link=\"y.jpg\" >}}");
        assert_eq!(l.problems.len(), 1);
        assert_eq!(l.problems[0].message, "shortcode `image` is never closed");
        assert_eq!(l.tags.len(), 1);
    }

    #[test]
    fn key_equals_quoted_value_without_spaces() {
        let tag = one("{{< figure src=\"a b.png\" alt=`x`>}}");
        assert_eq!(tag.named("src").unwrap().value, "a b.png");
        assert_eq!(tag.named("alt").unwrap().value, "x");
    }
}
