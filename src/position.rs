//! Byte offsets ↔ 1-based line and column. Owns nothing else.
//!
//! Lines break at `\n`, `\r\n` (one break) and a lone `\r`, as CommonMark does.
//! Columns count Unicode scalar values, as editors and compilers show them.

/// A byte range inside a page's text (the text after any UTF-8 BOM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
    /// The same span moved `by` bytes later.
    pub fn shifted(self, by: usize) -> Self {
        Span::new(self.start + by, self.end + by)
    }
}

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LineCol {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

/// Where each line of a text starts, for turning offsets into positions.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
    /// How many characters the text has before each multiple of `CHUNK_BYTES`: a column far
    /// along a long line is counted from the chunk it is in, not from the line's start. Counting
    /// from the start made 8,000 positions on one 120 KB line quadratic (issue #17, item 7).
    chars_before_chunk: Vec<usize>,
}

/// Positions of offsets in one text, looked for from the last one found (`LineIndex::cursor`).
#[derive(Debug)]
pub struct Cursor<'a> {
    index: &'a LineIndex,
    text: &'a str,
    /// The 0-based line of the last offset.
    line: usize,
}

impl Cursor<'_> {
    /// The position of byte `offset` (clamped to the text), as `LineIndex::line_col` gives it.
    pub fn line_col(&mut self, offset: usize) -> LineCol {
        let offset = offset.min(self.text.len());
        let starts = &self.index.starts;
        if starts[self.line] > offset {
            self.line = 0;
        }
        // Gallop forward from the last line, then search the last stride.
        let mut step = 1;
        while starts.get(self.line + step).is_some_and(|&s| s <= offset) {
            self.line += step;
            step *= 2;
        }
        let end = (self.line + step).min(starts.len());
        self.line += starts[self.line..end].partition_point(|&s| s <= offset) - 1;
        self.index.position(self.text, self.line, offset)
    }
}

/// The stride of `LineIndex::chars_before_chunk`.
const CHUNK_BYTES: usize = 256;

/// The characters in `b`, a stretch of UTF-8 (its bytes that do not continue a character).
/// ASCII, the common case, is checked a word at a time and counted by its length.
fn char_count(b: &[u8]) -> usize {
    if b.is_ascii() {
        return b.len();
    }
    b.iter().map(|&c| usize::from((c as i8) >= -0x40)).sum()
}

impl LineIndex {
    /// Index the line starts of `text`.
    pub fn new(text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        // `memchr` for the breaks, and a chunk of ASCII counted by its length: the character
        // counts below cost a second pass over every page, and these keep both passes cheaper
        // than the one byte loop they replace.
        for at in memchr::memchr2_iter(b'\n', b'\r', bytes) {
            // `\r\n` is one break, ended by its `\n`.
            if bytes[at] == b'\n' || bytes.get(at + 1) != Some(&b'\n') {
                starts.push(at + 1);
            }
        }
        let mut chars_before_chunk = Vec::with_capacity(bytes.len() / CHUNK_BYTES + 1);
        let mut seen = 0;
        for chunk in bytes.chunks(CHUNK_BYTES) {
            chars_before_chunk.push(seen);
            seen += char_count(chunk);
        }
        LineIndex {
            starts,
            chars_before_chunk,
        }
    }

    /// The characters of `text` before byte `at` (a char boundary).
    fn chars_before(&self, text: &str, at: usize) -> usize {
        let chunk = at / CHUNK_BYTES;
        let before = self.chars_before_chunk.get(chunk).copied().unwrap_or(0);
        before + char_count(&text.as_bytes()[chunk * CHUNK_BYTES..at])
    }

    /// The position of byte `offset` (clamped to the text).
    pub fn line_col(&self, text: &str, offset: usize) -> LineCol {
        let offset = offset.min(text.len());
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        self.position(text, line, offset)
    }

    /// A `line_col` for offsets asked in text order, as a page's references are: each line
    /// is looked for from the one found last, so a page of n references on as many lines costs
    /// O(n) steps, not n searches of the whole index (a tenth of scanning a page that lists
    /// 10,000 images in its front matter).
    pub fn cursor<'a>(&'a self, text: &'a str) -> Cursor<'a> {
        Cursor {
            index: self,
            text,
            line: 0,
        }
    }

    /// The position of byte `offset` (at most the text's length) on 0-based `line`.
    fn position(&self, text: &str, line: usize, offset: usize) -> LineCol {
        let start = self.starts[line];
        let mut end = offset;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let column = if end - start <= 2 * CHUNK_BYTES {
            char_count(&text.as_bytes()[start..end]) + 1
        } else {
            self.chars_before(text, end) - self.chars_before(text, start) + 1
        };
        LineCol {
            line: line + 1,
            column,
        }
    }

    /// The byte offset where 1-based `line` starts (the text's end past the last line).
    pub fn line_start(&self, text: &str, line: usize) -> usize {
        self.starts
            .get(line.wrapping_sub(1))
            .copied()
            .unwrap_or(text.len())
    }

    /// The text of 1-based `line`, without its line break.
    pub fn line_text<'a>(&self, text: &'a str, line: usize) -> &'a str {
        let Some(&start) = self.starts.get(line.wrapping_sub(1)) else {
            return "";
        };
        let end = self.starts.get(line).copied().unwrap_or(text.len());
        text[start..end].trim_end_matches(['\n', '\r'])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_gives_line_col_in_any_order() {
        let t = "ab\r\nc\rdé\n\n\nlast line 日本\nx".repeat(7);
        let ix = LineIndex::new(&t);
        let offsets: Vec<usize> = (0..=t.len() + 2).collect();
        let mut c = ix.cursor(&t);
        for &o in &offsets {
            assert_eq!(c.line_col(o), ix.line_col(&t, o), "offset {o} in order");
        }
        let mut c = ix.cursor(&t);
        for &o in offsets
            .iter()
            .rev()
            .step_by(3)
            .chain(offsets.iter().step_by(7))
        {
            assert_eq!(c.line_col(o), ix.line_col(&t, o), "offset {o} out of order");
        }
    }

    #[test]
    fn crlf_is_one_line_break() {
        let t = "a\r\nb\rc\nd";
        let ix = LineIndex::new(t);
        assert_eq!(ix.line_col(t, 3), LineCol { line: 2, column: 1 });
        assert_eq!(ix.line_col(t, 5), LineCol { line: 3, column: 1 });
        assert_eq!(ix.line_col(t, 7), LineCol { line: 4, column: 1 });
        assert_eq!(ix.line_text(t, 1), "a");
        assert_eq!(ix.line_text(t, 4), "d");
    }

    #[test]
    fn columns_far_along_a_long_line_count_characters() {
        let t = format!("x\n{}é{}!", "日".repeat(5000), "a".repeat(9000));
        let ix = LineIndex::new(&t);
        let off = t.find('!').unwrap();
        assert_eq!(
            ix.line_col(&t, off),
            LineCol {
                line: 2,
                column: 14_002
            }
        );
        let e = t.find('é').unwrap();
        assert_eq!(
            ix.line_col(&t, e),
            LineCol {
                line: 2,
                column: 5001
            }
        );
        assert_eq!(ix.line_start(&t, 2), 2);
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let t = "日本 ![x](y)";
        let ix = LineIndex::new(t);
        let off = t.find('!').unwrap();
        assert_eq!(ix.line_col(t, off), LineCol { line: 1, column: 4 });
    }
}
