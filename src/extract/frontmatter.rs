//! Front matter at the top of a page: YAML (`---`), TOML (`+++`) or JSON (`{`).
//!
//! Only its extent is found here; the Markdown scanner starts after it. Its values are not
//! parsed by this module.

use crate::position::Span;

/// The front matter's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `---` … `---`
    Yaml,
    /// `+++` … `+++`
    Toml,
    /// `{` … `}`
    Json,
}

/// Where the front matter is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontMatter {
    /// Its format.
    pub format: Format,
    /// From the first delimiter to the end of the closing delimiter's line.
    pub span: Span,
    /// Between the delimiters (for JSON, the whole object).
    pub inner: Span,
}

/// Lines of `text` with their start offsets and their text without the line break.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str, usize)> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= text.len() {
            return None;
        }
        let start = pos;
        let rest = &text[start..];
        // Bytes rather than `str::find` with a char set: this runs on every page, and the
        // char-by-char search was 1 % of extraction time (measured in benches/extract.rs).
        let (line, adv) = match rest.bytes().position(|b| b == b'\n' || b == b'\r') {
            Some(i) => {
                let brk = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                (&rest[..i], i + brk)
            }
            None => (rest, rest.len()),
        };
        pos = start + adv;
        Some((start, line, pos))
    })
}

/// Find the front matter at the start of `text`. `Err` holds the span of an opening
/// delimiter that is never closed.
pub fn detect(text: &str) -> Result<Option<FrontMatter>, Span> {
    // Hugo skips blank lines before the opening delimiter.
    let mut it = lines(text).skip_while(|(_, l, _)| l.trim().is_empty());
    let Some((first_start, first, first_end)) = it.next() else {
        return Ok(None);
    };
    let (format, delim) = match first.trim_end() {
        "---" => (Format::Yaml, "---"),
        "+++" => (Format::Toml, "+++"),
        // `{{` opens a shortcode or template, not a JSON object.
        _ if first.starts_with('{') && !first.starts_with("{{") => (Format::Json, ""),
        _ => return Ok(None),
    };
    if format == Format::Json {
        return match json_end(&text[first_start..]).map(|e| e + first_start) {
            Some(end) => {
                let line_end = lines(text)
                    .find(|(_, _, e)| *e >= end)
                    .map(|(_, _, e)| e)
                    .unwrap_or(end);
                Ok(Some(FrontMatter {
                    format,
                    span: Span::new(0, line_end),
                    inner: Span::new(0, end),
                }))
            }
            None => Err(Span::new(0, 1)),
        };
    }
    for (start, line, end) in it {
        let l = line.trim_end();
        if l == delim {
            return Ok(Some(FrontMatter {
                format,
                span: Span::new(0, end),
                inner: Span::new(first_end, start),
            }));
        }
    }
    Err(Span::new(first_start, first_start + 3))
}

fn json_end(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_str = false;
    let mut esc = false;
    for (i, c) in text.char_indices() {
        if in_str {
            match c {
                _ if esc => esc = false,
                '\\' => esc = true,
                '"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' => depth += 1,
            '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_toml_and_json() {
        let y = "---\ntitle: x\n---\nbody";
        let f = detect(y).unwrap().unwrap();
        assert_eq!((f.format, &y[f.span.end..]), (Format::Yaml, "body"));
        assert_eq!(&y[f.inner.start..f.inner.end], "title: x\n");
        let t = "+++\r\ntitle = 'x'\r\n+++\r\nbody";
        let f = detect(t).unwrap().unwrap();
        assert_eq!((f.format, &t[f.span.end..]), (Format::Toml, "body"));
        let j = "{\n \"title\": \"}\"\n}\nbody";
        let f = detect(j).unwrap().unwrap();
        assert_eq!((f.format, &j[f.span.end..]), (Format::Json, "body"));
    }

    #[test]
    fn no_front_matter_and_unclosed() {
        assert_eq!(detect("# Title\n---\n"), Ok(None));
        assert_eq!(detect("{{< text >}}\n{{< /text >}}\n"), Ok(None));
        // `...` does not end Hugo's YAML front matter; blank lines before it are skipped.
        let t = "\n---\ntitle: x\n...\nmore: y\n---\nbody";
        let f = detect(t).unwrap().unwrap();
        assert_eq!(&t[f.span.end..], "body");
        assert_eq!(detect("---\ntitle: x\n"), Err(Span::new(0, 3)));
    }
}
