//! Front matter values: parse a page's front matter (YAML, TOML or JSON) and find the image
//! references in it (keys such as `images`, `cover`, `thumbnail` at any depth, and Markdown
//! images inside its strings), with the line each value is written on.
//!
//! YAML values are placed by the parser's own positions (`yaml`); TOML and JSON values are
//! found in the text after parsing (`Locator`).
//!
//! Pure. Also gives the values Hugo builds a page's URL from (date, slug, title, url).

use super::frontmatter::{Format, FrontMatter};
use super::markdown;
use super::yaml;
use crate::position::Span;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
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

/// Whether a value under the mapping key `key` is an image reference: `keys` lists the keys
/// that hold images (any case). One rule for the YAML walk and the TOML/JSON one.
fn holds_images(keys: &[String], key: &str) -> bool {
    keys.iter().any(|k| k.eq_ignore_ascii_case(key))
}

/// What a key path gets for the Markdown images written inside its string value.
const MARKDOWN_SUFFIX: &str = "(markdown)";

fn has_image_extension(s: &str) -> bool {
    let path = memchr::memchr2(b'?', b'#', s.as_bytes()).map_or(s, |end| &s[..end]);
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
    let mut out = match fm.format {
        Format::Yaml => yaml_images(text, fm, keys).unwrap_or_default(),
        Format::Toml | Format::Json => located_images(text, fm, keys),
    };
    out.sort_by(|a, b| (a.span.start, &a.key).cmp(&(b.span.start, &b.key)));
    out
}

/// TOML and JSON front matter: the values from the parsed document, then found in the text.
fn located_images(text: &str, fm: &FrontMatter, keys: &[String]) -> Vec<FmImage> {
    let Some(v) = parse(text, fm) else {
        return Vec::new();
    };
    let mut found: Vec<(String, String, String)> = Vec::new(); // (key path, last key, value)
    walk(&v, "", "", keys, &mut found);
    let mut locator = Locator::new(text, fm.inner);
    let mut out = Vec::new();
    for (key, last, value) in found {
        let span = locator
            .locate(&last, &value)
            .unwrap_or(Span::new(fm.span.start, fm.span.start));
        out.push(FmImage {
            key,
            src: value,
            span,
        });
    }
    out
}

/// How deep `yaml_images` follows mappings, sequences and aliases: serde_yaml's limit, so
/// that what it refuses to read names no image here either.
const YAML_MAX_DEPTH: usize = 128;

/// YAML front matter: each value at the bytes libyaml read it from. None when the document
/// does not parse, has a key that is not a scalar, nests deeper than `YAML_MAX_DEPTH`,
/// follows more aliases than serde_yaml does (a hundred per event) or walks more than a
/// million nodes through them (a "billion laughs"). serde_yaml also refuses values it
/// cannot turn into JSON (a custom `!tag`, an integer past 64 bits); here they are text.
fn yaml_images(text: &str, fm: &FrontMatter, keys: &[String]) -> Option<Vec<FmImage>> {
    // No `nesting::check` here: `extract` reads no image from front matter it fails, and
    // libyaml's parser and this walk (`YAML_MAX_DEPTH`) do not recurse without bound.
    let inner = &text[fm.inner.start..fm.inner.end];
    let events = yaml::events(inner)?;
    let mut walk = YamlWalk {
        events: &events,
        keys,
        text: inner,
        base: fm.inner.start,
        path: Vec::new(),
        out: Vec::new(),
        jumps: events.len().saturating_mul(100),
        nodes: events.len().saturating_mul(100).max(1 << 20),
    };
    if !events.is_empty() {
        walk.node(0, false, 0)?;
    }
    Some(walk.out)
}

/// A step of a key path: a mapping key or a sequence index.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// A walk over a YAML document's events that collects its images.
struct YamlWalk<'a> {
    events: &'a [yaml::Event<'a>],
    keys: &'a [String],
    /// The front matter's text, and where it starts in the page.
    text: &'a str,
    base: usize,
    /// The key path of the node being walked.
    path: Vec<Step<'a>>,
    out: Vec<FmImage>,
    /// How many more aliases may be followed: serde_yaml's limit, a hundred per event.
    jumps: usize,
    /// How many more nodes may be walked (aliases walk their anchor's nodes again): the
    /// jumps' limit, or a million, whichever is more.
    nodes: usize,
}

impl<'a> YamlWalk<'a> {
    /// Walk the node whose first event is at `at`; `image_key`: the nearest mapping key above
    /// it holds images. The index just past the node.
    fn node(&mut self, at: usize, image_key: bool, depth: usize) -> Option<usize> {
        use yaml::Event;
        self.nodes = self.nodes.checked_sub(1)?;
        let events = self.events;
        match events.get(at)? {
            Event::Scalar {
                value,
                span,
                verbatim,
            } => self.scalar(value, *span, *verbatim, image_key),
            Event::Alias(target) => {
                // Counted as serde_yaml counts them: each alias is a jump back.
                self.jumps = self.jumps.checked_sub(1)?;
                self.node(*target, image_key, depth)?;
            }
            Event::MappingStart | Event::SequenceStart if depth >= YAML_MAX_DEPTH => return None,
            Event::MappingStart => {
                // Each key and where its value starts. A key written again replaces what it
                // said before, as in the map serde_yaml builds (so only its last value counts).
                let mut entries: Vec<(&str, usize)> = Vec::new();
                let mut last: HashMap<&str, usize> = HashMap::default();
                let mut i = at + 1;
                while *events.get(i)? != Event::MappingEnd {
                    let key = match events.get(i)? {
                        Event::Scalar { value, .. } => value.as_ref(),
                        Event::Alias(t) => match events.get(*t)? {
                            Event::Scalar { value, .. } => value.as_ref(),
                            _ => return None,
                        },
                        _ => return None,
                    };
                    last.insert(key, entries.len());
                    entries.push((key, i + 1));
                    i = yaml::skip(events, i + 1)?;
                }
                for (n, &(key, value)) in entries.iter().enumerate() {
                    if last.get(key) != Some(&n) {
                        continue;
                    }
                    let image_key = holds_images(self.keys, key);
                    self.path.push(Step::Key(key));
                    self.node(value, image_key, depth + 1)?;
                    self.path.pop();
                }
                return Some(i + 1);
            }
            Event::SequenceStart => {
                let mut i = at + 1;
                let mut n = 0;
                while *events.get(i)? != Event::SequenceEnd {
                    // A list of strings keeps its key; a list of maps numbers its items.
                    let item = match events.get(i)? {
                        Event::Alias(t) => events.get(*t)?,
                        e => e,
                    };
                    let numbered = !matches!(item, Event::Scalar { .. });
                    if numbered {
                        self.path.push(Step::Index(n));
                    }
                    i = self.node(i, image_key, depth + 1)?;
                    if numbered {
                        self.path.pop();
                    }
                    n += 1;
                }
                return Some(i + 1);
            }
            Event::MappingEnd | Event::SequenceEnd => return None,
        }
        Some(at + 1)
    }

    /// A string value: an image if its key holds images and it names an image file; and the
    /// Markdown images written inside it, whatever its key.
    fn scalar(&mut self, value: &str, span: Span, verbatim: bool, image_key: bool) {
        if image_key && has_image_extension(value) {
            // A value written otherwise (a block scalar, escapes) is looked for in its text.
            let written = &self.text.as_bytes()[span.start..span.end];
            let at = match verbatim {
                true => Some(0),
                false => memchr::memmem::find(written, value.as_bytes()),
            };
            let span = match at {
                Some(at) => Span::new(span.start + at, span.start + at + value.len()),
                None => span,
            };
            let key = self.path_text("");
            self.out.push(FmImage {
                key,
                src: value.to_string(),
                span: self.in_page(span),
            });
        }
        if !value.contains("![") {
            return;
        }
        let written = &self.text[span.start..span.end];
        for img in markdown::scan(value).images {
            // Where the destination is written: exact when the scalar is written as its value
            // is, else its first occurrence in the scalar, else the scalar's start.
            let at = match img.dest_span {
                Some(d) if verbatim => Some(d.start),
                _ => memchr::memmem::find(written.as_bytes(), img.dest.as_bytes()),
            };
            let dest = match at {
                Some(at) => Span::new(span.start + at, span.start + at + img.dest.len()),
                None => Span::new(span.start, span.start),
            };
            let key = self.path_text(MARKDOWN_SUFFIX);
            self.out.push(FmImage {
                key,
                src: img.dest,
                span: self.in_page(dest),
            });
        }
    }

    /// The dotted key path of the node being walked, then `suffix`.
    fn path_text(&self, suffix: &str) -> String {
        let mut out = String::new();
        for (i, step) in self.path.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            match step {
                Step::Key(k) => out.push_str(k),
                Step::Index(n) => out.push_str(&n.to_string()),
            }
        }
        out.push_str(suffix);
        out
    }

    fn in_page(&self, s: Span) -> Span {
        Span::new(self.base + s.start, self.base + s.end)
    }
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
            if holds_images(keys, last) && has_image_extension(s) {
                out.push((path.to_string(), last.to_string(), s.clone()));
            }
            if s.contains("![") {
                for img in markdown::scan(s).images {
                    out.push((
                        format!("{path}{MARKDOWN_SUFFIX}"),
                        last.to_string(),
                        img.dest,
                    ));
                }
            }
        }
        _ => {}
    }
}

/// Finds where front matter values are written, each occurrence used once.
///
/// A value goes at its first unused occurrence whose nearest key is the value's own: named
/// before it on its line, or on the nearest of the 64 lines above that holds a `:` or `=`;
/// failing that, at its first unused occurrence anywhere (a Markdown image in a multi-line
/// string). Searches go on from where the last one for the same key and value stopped, and
/// what a line says is worked out once per key: 5,000 images listed in front matter took 25 s
/// when every value searched from the start (issue #17, item 7). The nearest line with a `:`
/// or `=` above each line is known from the start, not looked for over 64 lines per value.
struct Locator<'a> {
    /// The front matter's text.
    fm: &'a str,
    /// Where it starts in the page.
    start: usize,
    /// Where each of its lines starts.
    lines: Vec<usize>,
    /// Per line: the nearest line at or above it that holds a `:` or `=`, if any.
    key_line: Vec<Option<usize>>,
    /// Occurrences already given to a value.
    used: HashSet<usize>,
    /// Per key: what is known of it.
    keys: HashMap<String, KeyLines>,
    /// Per value, where the search for its next unused occurrence anywhere goes on.
    anywhere: HashMap<String, usize>,
    /// Per value, its searcher (built once: building one per search was 6 % of a page
    /// listing 10,000 images).
    finders: HashMap<String, std::rc::Rc<memchr::memmem::Finder<'static>>>,
}

/// What the `Locator` knows of one key.
#[derive(Default)]
struct KeyLines {
    /// Per value found under the key, where the search for its next occurrence goes on.
    cursor: HashMap<String, usize>,
    /// Per line: where the key first occurs on it, if it does.
    on_line: HashMap<usize, Option<usize>>,
    /// Per line with a `:` or `=`: whether it names the key.
    named: HashMap<usize, bool>,
}

impl<'a> Locator<'a> {
    fn new(text: &'a str, inner: Span) -> Locator<'a> {
        let fm = &text[inner.start..inner.end];
        let lines: Vec<usize> = std::iter::once(0)
            .chain(memchr::memchr_iter(b'\n', fm.as_bytes()).map(|i| i + 1))
            .collect();
        let mut locator = Locator {
            fm,
            start: inner.start,
            lines,
            key_line: Vec::new(),
            used: HashSet::default(),
            keys: HashMap::default(),
            anywhere: HashMap::default(),
            finders: HashMap::default(),
        };
        let mut nearest = None;
        locator.key_line = (0..locator.lines.len())
            .map(|n| {
                if locator.line(n).contains([':', '=']) {
                    nearest = Some(n);
                }
                nearest
            })
            .collect();
        locator
    }

    /// Where `value`, found under `key`, is written.
    fn locate(&mut self, key: &str, value: &str) -> Option<Span> {
        // An empty value (`![]()`) is written nowhere in particular.
        if value.is_empty() {
            return None;
        }
        if !self.keys.contains_key(key) {
            self.keys.insert(key.to_string(), KeyLines::default());
        }
        let finder = match self.finders.get(value) {
            Some(f) => f.clone(),
            None => {
                let f =
                    std::rc::Rc::new(memchr::memmem::Finder::new(value.as_bytes()).into_owned());
                self.finders.insert(value.to_string(), f.clone());
                f
            }
        };
        let from = self.keys[key].cursor.get(value).copied().unwrap_or(0);
        let (found, from) = self.next_unused(&finder, from, |l, at| l.key_here(key, at));
        if let Some(known) = self.keys.get_mut(key) {
            set_cursor(&mut known.cursor, value, from);
        }
        let found = found.or_else(|| {
            let from = self.anywhere.get(value).copied().unwrap_or(0);
            let (found, from) = self.next_unused(&finder, from, |_, _| true);
            set_cursor(&mut self.anywhere, value, from);
            found
        });
        found.map(|at| self.take(at, value))
    }

    /// The first unused occurrence of `value` from `from` that `fits`, and where a search for
    /// the next one goes on.
    fn next_unused(
        &mut self,
        finder: &memchr::memmem::Finder<'_>,
        mut from: usize,
        mut fits: impl FnMut(&mut Self, usize) -> bool,
    ) -> (Option<usize>, usize) {
        let step = finder.needle().len().max(1);
        while let Some(rel) = self.fm.as_bytes().get(from..).and_then(|t| finder.find(t)) {
            let at = from + rel;
            from = at + step;
            // A match of valid UTF-8 starts on a character boundary; checked all the same,
            // since `key_here` slices the text there.
            if self.fm.is_char_boundary(at) && !self.used.contains(&at) && fits(self, at) {
                return (Some(at), from);
            }
        }
        (None, from)
    }

    fn take(&mut self, at: usize, value: &str) -> Span {
        self.used.insert(at);
        Span::new(self.start + at, self.start + at + value.len())
    }

    /// The text of line `n`, without its line break.
    fn line(&self, n: usize) -> &'a str {
        let end = self.lines.get(n + 1).map_or(self.fm.len(), |&e| e - 1);
        self.fm[self.lines[n]..end].trim_end_matches('\r')
    }

    /// Whether the nearest key before offset `at` is `key` (known to `keys`).
    fn key_here(&mut self, key: &str, at: usize) -> bool {
        let n = self.lines.partition_point(|&s| s <= at) - 1;
        let line_start = self.lines[n];
        let line = self.line(n);
        let Some(known) = self.keys.get_mut(key) else {
            return false;
        };
        let first = *known
            .on_line
            .entry(n)
            .or_insert_with(|| line.find(key).map(|i| line_start + i));
        if first.is_some_and(|f| f + key.len() <= at) {
            return true;
        }
        if n == 0 {
            return false;
        }
        // The line so far counts as one of the 64 lines looked at, when it is not empty; if
        // it names another key, that one is the nearest.
        let partial = &self.fm[line_start..at];
        if partial.contains([':', '=']) {
            return false;
        }
        let look = if partial.is_empty() { 64 } else { 63 };
        let Some(above) = self.key_line[n - 1].filter(|&i| i >= n.saturating_sub(look)) else {
            return false;
        };
        let line = self.line(above);
        self.keys.get_mut(key).is_some_and(|known| {
            *known
                .named
                .entry(above)
                .or_insert_with(|| line.contains(key))
        })
    }
}

/// Set where the search for `value` goes on, copying `value` only the first time.
fn set_cursor(cursors: &mut HashMap<String, usize>, value: &str, to: usize) {
    match cursors.get_mut(value) {
        Some(c) => *c = to,
        None => {
            cursors.insert(value.to_string(), to);
        }
    }
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
        // Hugo's default: `date`, else `publishDate`, else `lastmod`.
        date: get("date")
            .or_else(|| get("publishdate"))
            .or_else(|| get("lastmod")),
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
    fn each_of_many_equal_values_is_located_on_its_own_line() {
        let t = format!(
            "---\nimages:\n{}cover: a.jpg\n---\n",
            "  - a.jpg\n".repeat(3000)
        );
        let fm = detect(&t).unwrap().unwrap();
        let lines: Vec<usize> = images(&t, &fm, &keys())
            .iter()
            .map(|i| t[..i.span.start].matches('\n').count() + 1)
            .collect();
        assert_eq!(lines, (3..=3003).collect::<Vec<usize>>());
    }

    // TOML and JSON values are found in the text: the nearest key line is looked for among
    // the 63 lines above a list item (64 for a value that starts its line); past that, the
    // value goes to its first unused occurrence.
    #[test]
    fn a_toml_value_belongs_to_a_key_at_most_64_lines_above() {
        let line_of = |items: usize| {
            let t = format!(
                "+++\ntitle = 'a.jpg'\nimages = [\n{}  'a.jpg',\n]\n+++\n",
                "  'b.jpg',\n".repeat(items)
            );
            let fm = detect(&t).unwrap().unwrap();
            let a = images(&t, &fm, &keys())
                .into_iter()
                .find(|i| i.src == "a.jpg")
                .unwrap();
            t[..a.span.start].matches('\n').count() + 1
        };
        assert_eq!(line_of(62), 66);
        assert_eq!(line_of(63), 2);
    }

    // YAML values are where the parser read them, however far from their key.
    #[test]
    fn a_yaml_value_is_where_it_is_written() {
        for items in [0, 63, 5000] {
            let t = format!(
                "---\ntitle: a.jpg\nimages:\n{}  - 'a.jpg'\n---\n",
                "  - b.jpg\n".repeat(items)
            );
            let fm = detect(&t).unwrap().unwrap();
            let found = images(&t, &fm, &keys());
            assert_eq!(found.len(), items + 1, "the title is no image key");
            let a = found.iter().find(|i| i.src == "a.jpg").unwrap();
            assert_eq!(a.key, "images");
            assert_eq!(
                t[..a.span.start].matches('\n').count() + 1,
                items + 4,
                "line of a.jpg after {items} items"
            );
            assert_eq!(&t[a.span.start..a.span.end], "a.jpg", "without its quotes");
        }
    }

    #[test]
    fn yaml_aliases_name_their_anchors_images() {
        let t =
            "---\ncover: &c a.jpg\nparams:\n  thumbnail: *c\n  list: &l [p.png]\nimages: *l\n---\n";
        let fm = detect(t).unwrap().unwrap();
        let got: Vec<(String, String, &str)> = images(t, &fm, &keys())
            .into_iter()
            .map(|i| (i.key, i.src, &t[i.span.start..i.span.end]))
            .collect();
        let s = |x: &str| x.to_string();
        assert_eq!(
            got,
            vec![
                (s("cover"), s("a.jpg"), "a.jpg"),
                (s("params.thumbnail"), s("a.jpg"), "a.jpg"),
                (s("images"), s("p.png"), "p.png"),
            ]
        );
    }

    #[test]
    fn a_yaml_key_written_twice_keeps_its_last_value() {
        let t = "---\ncover: old.jpg\nparams: {image: a.png}\ncover: new.jpg\n---\n";
        let fm = detect(t).unwrap().unwrap();
        let got: Vec<String> = images(t, &fm, &keys()).into_iter().map(|i| i.src).collect();
        assert_eq!(got, ["a.png", "new.jpg"]);
    }

    #[test]
    fn a_yaml_block_scalar_is_placed_on_its_own_line() {
        let t = "---\ncover: |-\n  a.jpg\nthumbnail: \"b\\x2Ejpg\"\n---\n";
        let fm = detect(t).unwrap().unwrap();
        let got: Vec<(String, usize, &str)> = images(t, &fm, &keys())
            .into_iter()
            .map(|i| {
                let line = t[..i.span.start].matches('\n').count() + 1;
                (i.src, line, &t[i.span.start..i.span.end])
            })
            .collect();
        let s = |x: &str| x.to_string();
        assert_eq!(
            got,
            vec![(s("a.jpg"), 3, "a.jpg"), (s("b.jpg"), 4, "b\\x2Ejpg")]
        );
    }

    #[test]
    fn many_aliases_to_one_anchor_are_read_as_serde_yaml_reads_them() {
        // 200 jumps into a list of 1,000: 200,000 nodes, more than a hundred per event.
        let list: Vec<String> = (0..1000).map(|i| format!("p{i}.png")).collect();
        let mut t = format!("---\ngallery: &g [{}]\nposts:\n", list.join(", "));
        t.push_str(&"  - images: *g\n".repeat(200));
        t.push_str("---\n");
        let fm = detect(&t).unwrap().unwrap();
        assert_eq!(images(&t, &fm, &keys()).len(), 200 * 1000);
    }

    #[test]
    fn yaml_that_expands_without_end_names_no_image() {
        // A "billion laughs": 10 levels of 10 aliases each, 10^10 nodes once expanded.
        let mut y = String::from("---\nl0: &l0 [a.jpg]\n");
        for i in 1..=10 {
            let refs = vec![format!("*l{}", i - 1); 10].join(", ");
            y.push_str(&format!("l{i}: &l{i} [{refs}]\n"));
        }
        y.push_str("images: *l10\n---\n");
        let fm = detect(&y).unwrap().unwrap();
        assert!(images(&y, &fm, &keys()).is_empty());
        // An alias inside its own anchor.
        let t = "---\nimages: &x [a.jpg, *x]\n---\n";
        let fm = detect(t).unwrap().unwrap();
        assert!(images(t, &fm, &keys()).is_empty());
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

    #[test]
    fn an_empty_markdown_image_after_multibyte_text_is_no_panic() {
        let t = "---\nauthor: \"José Ñandú\"\nsummary: \"Intro ![]() and ![x](b.png)\"\n---\n";
        let fm = detect(t).unwrap().unwrap();
        let got: Vec<(String, usize)> = images(t, &fm, &keys())
            .into_iter()
            .map(|i| (i.src, t[..i.span.start].matches('\n').count() + 1))
            .collect();
        // Both at the line they are written on: the empty one too.
        assert_eq!(got, vec![(String::new(), 3), ("b.png".to_string(), 3)]);
    }
}
