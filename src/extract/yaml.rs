//! YAML front matter as libyaml's events: the same parser serde_yaml reads it with, so a
//! document's syntax is accepted here exactly when it is there, and each scalar comes with
//! the bytes it is written on. Locating values afterwards in the text was a guess (the first unused
//! occurrence under the nearest key) and most of the time a page listing many images took.
//!
//! The one unsafe part of pixpipe's text handling: a small owner of libyaml's parser state.
//! What it hands out is Rust data: owned, or borrowed from the input text; never libyaml's memory.

use crate::position::Span;
use rustc_hash::FxHashMap as HashMap;
use std::borrow::Cow;
use std::marker::PhantomData;
use std::mem::MaybeUninit;

/// One node boundary or scalar of a YAML document, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    /// A mapping starts; its keys and values follow, then `MappingEnd`.
    MappingStart,
    /// The innermost open mapping ends.
    MappingEnd,
    /// A sequence starts; its items follow, then `SequenceEnd`.
    SequenceStart,
    /// The innermost open sequence ends.
    SequenceEnd,
    /// A scalar: its value (quotes removed, escapes decoded, lines folded), where it is
    /// written (without quotes; a block scalar from its `|` or `>`), and whether that text is
    /// the value byte for byte.
    Scalar {
        /// The value: borrowed from the text when written as it is (no quotes to undo, no
        /// escapes, one line), which most front matter values are.
        value: Cow<'a, str>,
        /// Where it is written, in the text given to `events`.
        span: Span,
        /// The written text equals the value.
        verbatim: bool,
    },
    /// `*name`: the node at this index of the events (its first event) again.
    Alias(usize),
}

/// Parser state over an input it borrows, freed on drop. Boxed: libyaml keeps pointers into
/// it while it parses.
struct Parser<'a>(
    Box<MaybeUninit<unsafe_libyaml::yaml_parser_t>>,
    PhantomData<&'a [u8]>,
);

impl<'a> Parser<'a> {
    /// A parser over `input`.
    fn new(input: &'a [u8]) -> Option<Parser<'a>> {
        let mut p = Parser(Box::new(MaybeUninit::uninit()), PhantomData);
        // SAFETY: initialize fills the state it is given; on failure nothing was allocated
        // and the box is dropped without `Drop` (see below) touching libyaml.
        unsafe {
            if unsafe_libyaml::yaml_parser_initialize(p.0.as_mut_ptr()).fail {
                std::mem::forget(p);
                return None;
            }
            unsafe_libyaml::yaml_parser_set_encoding(
                p.0.as_mut_ptr(),
                unsafe_libyaml::YAML_UTF8_ENCODING,
            );
            unsafe_libyaml::yaml_parser_set_input_string(
                p.0.as_mut_ptr(),
                input.as_ptr(),
                input.len() as u64,
            );
        }
        Some(p)
    }
}

impl Drop for Parser<'_> {
    fn drop(&mut self) {
        // SAFETY: only an initialized parser is ever dropped (`new` forgets a failed one).
        unsafe { unsafe_libyaml::yaml_parser_delete(self.0.as_mut_ptr()) }
    }
}

/// The bytes of a NUL-terminated string libyaml owns, if any.
///
/// SAFETY: `p` is null or points at a NUL-terminated string alive for the returned borrow.
unsafe fn c_bytes<'a>(p: *const u8) -> Option<&'a [u8]> {
    (!p.is_null()).then(|| unsafe { std::ffi::CStr::from_ptr(p.cast()) }.to_bytes())
}

/// The events of `yaml`, which must hold one document (or none: an empty text is an empty
/// mapping's worth of nothing). None when it does not parse, holds more than one document, or
/// names an anchor it never defined: serde_yaml refuses those too.
pub fn events(yaml: &str) -> Option<Vec<Event<'_>>> {
    let input = yaml.as_bytes();
    let mut parser = Parser::new(input)?;
    let mut out: Vec<Event> = Vec::new();
    let mut anchors: HashMap<Vec<u8>, usize> = HashMap::default();
    let mut documents = 0;
    loop {
        let mut raw = MaybeUninit::<unsafe_libyaml::yaml_event_t>::uninit();
        // SAFETY: the parser was initialized over `input`, which outlives it; a successful
        // parse fills `raw`, which is read before `yaml_event_delete` frees what it points to.
        let (kind, anchor, event) = unsafe {
            if unsafe_libyaml::yaml_parser_parse(parser.0.as_mut_ptr(), raw.as_mut_ptr()).fail {
                return None;
            }
            let e = raw.assume_init_mut();
            let mut anchor = None;
            let event = match e.type_ {
                unsafe_libyaml::YAML_DOCUMENT_START_EVENT => {
                    documents += 1;
                    None
                }
                unsafe_libyaml::YAML_MAPPING_START_EVENT => {
                    anchor = c_bytes(e.data.mapping_start.anchor).map(<[u8]>::to_vec);
                    Some(Event::MappingStart)
                }
                unsafe_libyaml::YAML_SEQUENCE_START_EVENT => {
                    anchor = c_bytes(e.data.sequence_start.anchor).map(<[u8]>::to_vec);
                    Some(Event::SequenceStart)
                }
                unsafe_libyaml::YAML_MAPPING_END_EVENT => Some(Event::MappingEnd),
                unsafe_libyaml::YAML_SEQUENCE_END_EVENT => Some(Event::SequenceEnd),
                unsafe_libyaml::YAML_ALIAS_EVENT => {
                    let name = c_bytes(e.data.alias.anchor).unwrap_or_default();
                    match anchors.get(name) {
                        Some(&at) => Some(Event::Alias(at)),
                        None => {
                            unsafe_libyaml::yaml_event_delete(e);
                            return None;
                        }
                    }
                }
                unsafe_libyaml::YAML_SCALAR_EVENT => {
                    let s = &e.data.scalar;
                    anchor = c_bytes(s.anchor).map(<[u8]>::to_vec);
                    let value = std::slice::from_raw_parts(s.value, s.length as usize);
                    let (mut start, mut end) =
                        (e.start_mark.index as usize, e.end_mark.index as usize);
                    // The event starts at the scalar's anchor or tag, when it has one.
                    if anchor.is_some() || !s.tag.is_null() {
                        start = after_properties(input, start, end);
                    }
                    let quoted = matches!(
                        s.style,
                        unsafe_libyaml::YAML_SINGLE_QUOTED_SCALAR_STYLE
                            | unsafe_libyaml::YAML_DOUBLE_QUOTED_SCALAR_STYLE
                    );
                    if quoted && end >= start + 2 {
                        (start, end) = (start + 1, end - 1);
                    }
                    let verbatim = input.get(start..end) == Some(value);
                    let value = match yaml.get(start..end) {
                        Some(written) if verbatim => Cow::Borrowed(written),
                        _ => Cow::Owned(String::from_utf8_lossy(value).into_owned()),
                    };
                    Some(Event::Scalar {
                        value,
                        span: Span::new(start, end),
                        verbatim,
                    })
                }
                _ => None,
            };
            let kind = e.type_;
            unsafe_libyaml::yaml_event_delete(e);
            (kind, anchor, event)
        };
        if documents > 1 {
            return None;
        }
        if let Some(name) = anchor {
            anchors.insert(name, out.len());
        }
        out.extend(event);
        if kind == unsafe_libyaml::YAML_STREAM_END_EVENT {
            return Some(out);
        }
    }
}

/// Where a scalar written from `start` to `end` starts once its properties (`&anchor`,
/// `!tag`), the blanks and comments after them are passed.
fn after_properties(input: &[u8], mut start: usize, end: usize) -> usize {
    let blank = |c: u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    while start < end && matches!(input[start], b'&' | b'!') {
        while start < end && !blank(input[start]) {
            start += 1;
        }
        while start < end && (blank(input[start]) || input[start] == b'#') {
            if input[start] == b'#' {
                while start < end && input[start] != b'\n' {
                    start += 1;
                }
            } else {
                start += 1;
            }
        }
    }
    start
}

/// The index just past the node that starts at `at` (a scalar, an alias, or a whole mapping
/// or sequence), or None if the events end first.
pub fn skip(events: &[Event<'_>], at: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, e) in events.iter().enumerate().skip(at) {
        match e {
            Event::MappingStart | Event::SequenceStart => depth += 1,
            Event::MappingEnd | Event::SequenceEnd => depth = depth.checked_sub(1)?,
            _ => {}
        }
        if depth == 0 {
            return Some(i + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar<'e>(e: &'e Event<'_>) -> Option<(&'e str, usize, usize, bool)> {
        match e {
            Event::Scalar {
                value,
                span,
                verbatim,
            } => Some((value.as_ref(), span.start, span.end, *verbatim)),
            _ => None,
        }
    }

    #[test]
    fn scalars_come_with_where_they_are_written() {
        let y = "cover: a.jpg\nlist: ['b c.png', \"d\\u0041.png\"]\nmulti: &m !!str é.webp\n";
        let ev = events(y).unwrap();
        let s: Vec<_> = ev.iter().filter_map(scalar).collect();
        let written: Vec<&str> = s.iter().map(|(_, a, b, _)| &y[*a..*b]).collect();
        assert_eq!(
            written,
            [
                "cover",
                "a.jpg",
                "list",
                "b c.png",
                "d\\u0041.png",
                "multi",
                "é.webp"
            ]
        );
        assert_eq!(s[4].0, "dA.png");
        assert!(
            !s[4].3,
            "an escape makes the written text differ from the value"
        );
        assert!(s[1].3 && s[3].3 && s[6].3);
    }

    #[test]
    fn aliases_point_at_their_anchor_and_unknown_ones_fail() {
        let ev = events("a: &x [p.png]\nb: *x\n").unwrap();
        let at = ev
            .iter()
            .find_map(|e| match e {
                Event::Alias(i) => Some(*i),
                _ => None,
            })
            .unwrap();
        assert_eq!(ev[at], Event::SequenceStart);
        assert_eq!(skip(&ev, at), Some(at + 3));
        assert_eq!(events("a: *nowhere\n"), None);
    }

    #[test]
    fn what_serde_yaml_refuses_is_refused() {
        assert_eq!(events("a: [b\n"), None);
        assert_eq!(events("a: 1\n---\nb: 2\n"), None);
        assert_eq!(events(""), Some(vec![]));
    }
}
