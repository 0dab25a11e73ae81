//! Diagnostics and their renderings (human, JSON, GitHub annotations).
//!
//! Everything here is pure: it builds strings; the binary decides where they go.
//! Stages create diagnostics; this module never decides what is a problem.

use crate::position::LineCol;
use serde::Serialize;
use std::fmt::Write as _;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something is broken: the command exits 1.
    Error,
    /// Probably wrong; exits 1 only with `--deny warnings`.
    Warning,
    /// Information the user should see once.
    Note,
}

impl Severity {
    /// The lowercase word used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// One finding, located in a user's file where possible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Site-relative path, `/`-separated (absent for site-wide findings).
    pub file: Option<String>,
    /// Where in `file` the user has to change something.
    #[serde(skip)]
    pub pos: Option<LineCol>,
    /// Severity.
    pub severity: Severity,
    /// Stable code, such as `missing-image`.
    pub code: &'static str,
    /// What is wrong, in the user's words.
    pub message: String,
    /// A fix the user can type, when one is known.
    pub help: Option<String>,
    /// The image source as written, when the finding is about one.
    pub src: Option<String>,
    /// The site-relative file the source resolved to.
    pub resolved: Option<String>,
    /// The text of the line at `pos`, for the caret display: the whole line, or a window of
    /// it around `pos` with each cut marked `…`.
    #[serde(skip)]
    pub source_line: Option<String>,
    /// The 1-based column of `source_line` that the caret points at.
    #[serde(skip)]
    pub source_column: usize,
    /// For a summary that stands for diagnostics left out (see `limit`): how many.
    #[serde(skip_serializing_if = "is_zero")]
    pub omitted: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Lines up to this many characters are shown whole; a longer line is shown from
/// `SNIPPET_SIDE_CHARS` before the column to as many after it, as rustc clips a long line to
/// the terminal. One 120 KB line repeated for each of its 8,000 problems wrote 1.44 GB
/// (issue #17, item 7).
pub const SNIPPET_MAX_CHARS: usize = 120;

/// Characters shown on each side of the column in a clipped line.
pub const SNIPPET_SIDE_CHARS: usize = 60;

/// `line` as shown under a diagnostic pointing at byte `at` of it (a char boundary), and the
/// 1-based column of the caret in what is shown. Reads at most a window's worth of the line.
pub fn snippet(line: &str, at: usize) -> (String, usize) {
    let max_bytes = SNIPPET_MAX_CHARS * 4;
    if line.len() <= SNIPPET_MAX_CHARS
        || (line.len() <= max_bytes && line.chars().count() <= SNIPPET_MAX_CHARS)
    {
        return (line.to_string(), line[..at].chars().count() + 1);
    }
    let from = line[..at]
        .char_indices()
        .rev()
        .take(SNIPPET_SIDE_CHARS)
        .last()
        .map_or(at, |(i, _)| i);
    let to = line[at..]
        .char_indices()
        .nth(SNIPPET_SIDE_CHARS)
        .map_or(line.len(), |(i, _)| at + i);
    let mut shown = String::with_capacity(to - from + 6);
    let mut column = line[from..at].chars().count() + 1;
    if from > 0 {
        shown.push('…');
        column += 1;
    }
    shown.push_str(&line[from..to]);
    if to < line.len() {
        shown.push('…');
    }
    (shown, column)
}

impl Diagnostic {
    /// A diagnostic with only a severity, code and message.
    pub fn new(severity: Severity, code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            file: None,
            pos: None,
            severity,
            code,
            message: message.into(),
            help: None,
            src: None,
            resolved: None,
            source_line: None,
            source_column: 0,
            omitted: 0,
        }
    }
    /// An error.
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, message)
    }
    /// A warning.
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, code, message)
    }
    /// A note.
    pub fn note(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Note, code, message)
    }
    /// Set the file.
    pub fn in_file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }
    /// Set the position and the line's text (`pos.column` counts its characters).
    pub fn at(self, pos: LineCol, source_line: impl AsRef<str>) -> Self {
        let line = source_line.as_ref();
        let at = line
            .char_indices()
            .nth(pos.column.saturating_sub(1))
            .map_or(line.len(), |(i, _)| i);
        self.at_byte(pos, line, at)
    }

    /// Set the position and the line's text, the caret at byte `at` of the line: only a
    /// window of a long line around `at` is read and kept.
    pub fn at_byte(mut self, pos: LineCol, line: &str, at: usize) -> Self {
        let mut at = at.min(line.len());
        while !line.is_char_boundary(at) {
            at -= 1;
        }
        let (shown, column) = snippet(line, at);
        self.pos = Some(pos);
        self.source_line = Some(shown);
        self.source_column = column;
        self
    }
    /// Set the help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    /// Set the source and resolved path.
    pub fn with_src(mut self, src: impl Into<String>, resolved: Option<String>) -> Self {
        self.src = Some(src.into());
        self.resolved = resolved;
        self
    }
    /// Sort key: file, position, code.
    pub fn sort_key(&self) -> (Option<&str>, Option<LineCol>, &'static str, &str) {
        (self.file.as_deref(), self.pos, self.code, &self.message)
    }
}

/// Sort diagnostics by file, position and code, so output is the same on every run.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
}

/// Replace control characters (terminal escapes included) so that a file name or
/// caption cannot rewrite the user's terminal.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// Counts per severity.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Errors.
    pub errors: usize,
    /// Warnings.
    pub warnings: usize,
    /// Notes.
    pub notes: usize,
}

/// Count diagnostics per severity.
pub fn count(diags: &[Diagnostic]) -> Counts {
    let mut c = Counts::default();
    for d in diags {
        match d.severity {
            Severity::Error => c.errors += 1,
            Severity::Warning => c.warnings += 1,
            Severity::Note => c.notes += 1,
        }
    }
    c
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// "2 errors, 1 warning" (or "no problems").
pub fn summarize(c: Counts) -> String {
    if c.errors == 0 && c.warnings == 0 {
        return "no problems".to_string();
    }
    format!(
        "{}, {}",
        plural(c.errors, "error"),
        plural(c.warnings, "warning")
    )
}

/// At most this many diagnostics of one code are shown for one file, then one that says how
/// many more there were. Real pages stay whole: the most of one code on one page in the
/// corpus is 36 (`missing-image`, the logos of linkerd's home page) and every one of them is a
/// fix to make, so the limit is well above that rather than clang's 20. A hostile page with
/// 80,000 broken tags then prints 100 clipped snippets, not 80,000 whole lines (issue #17,
/// item 7).
pub const MAX_PER_CODE: usize = 100;

/// `diags` (sorted) with at most `MAX_PER_CODE` of each code for each file (site-wide ones are
/// all kept): the first ones,
/// then a summary at the position of the first left out, saying how many were. Summaries
/// already in `diags` are counted in, so limiting twice changes nothing the second time.
pub fn limit(diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    use std::collections::BTreeMap;
    type Key = (Option<String>, &'static str);
    // (shown, left out, first left out, most severe left out)
    let mut seen: BTreeMap<Key, (usize, usize, Option<LineCol>, Severity)> = BTreeMap::new();
    let mut out = Vec::with_capacity(diags.len().min(1024));
    for d in diags {
        if d.file.is_none() {
            out.push(d);
            continue;
        }
        let e = seen
            .entry((d.file.clone(), d.code))
            .or_insert((0, 0, None, Severity::Note));
        if d.omitted == 0 && e.0 < MAX_PER_CODE {
            e.0 += 1;
            out.push(d);
            continue;
        }
        if e.1 == 0 {
            e.2 = d.pos;
        }
        e.1 += d.omitted.max(1);
        e.3 = e.3.min(d.severity);
    }
    for ((file, code), (_, n, pos, severity)) in seen {
        if let (Some(file), true) = (file, n > 0) {
            out.push(omitted(severity, code, file, pos, n));
        }
    }
    sort(&mut out);
    out
}

/// The summary that stands for `n` diagnostics of `code` in `file` left out, the first at `pos`.
pub fn omitted(
    severity: Severity,
    code: &'static str,
    file: String,
    pos: Option<LineCol>,
    n: usize,
) -> Diagnostic {
    let (kind, verb) = if n == 1 {
        (severity.as_str().to_string(), "is")
    } else {
        (format!("{}s", severity.as_str()), "are")
    };
    let mut d = Diagnostic::new(
        severity,
        code,
        format!("{n} more `{code}` {kind} in this file {verb} not shown"),
    )
    .in_file(file)
    .with_help(format!(
        "pixpipe shows the first {MAX_PER_CODE} of each kind in a file; fix those and run it again"
    ));
    d.pos = pos;
    d.omitted = n;
    d
}

/// Compiler-style text for one diagnostic; `color` adds ANSI colours.
pub fn render_human(d: &Diagnostic, color: bool) -> String {
    let (bold, red, yellow, cyan, blue, reset) = if color {
        (
            "\x1b[1m",
            "\x1b[1;31m",
            "\x1b[1;33m",
            "\x1b[1;36m",
            "\x1b[1;34m",
            "\x1b[0m",
        )
    } else {
        ("", "", "", "", "", "")
    };
    let sev_color = match d.severity {
        Severity::Error => red,
        Severity::Warning => yellow,
        Severity::Note => cyan,
    };
    let mut out = String::new();
    let mut loc = String::new();
    if let Some(f) = &d.file {
        loc.push_str(&clean(f));
        if let Some(p) = d.pos {
            let _ = write!(loc, ":{}:{}", p.line, p.column);
        }
        loc.push_str(": ");
    }
    let _ = writeln!(
        out,
        "{bold}{loc}{reset}{sev_color}{}[{}]{reset}{bold}: {}{reset}",
        d.severity.as_str(),
        d.code,
        clean(&d.message)
    );
    if let (Some(p), Some(line)) = (d.pos, &d.source_line) {
        let gutter = p.line.to_string();
        let pad = " ".repeat(gutter.len());
        let shown = clean(line);
        let caret_pad: String = shown
            .chars()
            .take(d.source_column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let _ = writeln!(out, "{blue}{pad} |{reset}");
        let _ = writeln!(out, "{blue}{gutter} |{reset} {shown}");
        let _ = writeln!(out, "{blue}{pad} |{reset} {caret_pad}{sev_color}^{reset}");
    }
    if let Some(h) = &d.help {
        let _ = writeln!(out, "  {bold}help{reset}: {}", clean(h));
    }
    out
}

/// One JSON object per diagnostic, as `check --format json` prints them.
#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    file: Option<&'a str>,
    line: Option<usize>,
    column: Option<usize>,
    severity: Severity,
    code: &'a str,
    message: &'a str,
    help: Option<&'a str>,
    src: Option<&'a str>,
    resolved: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    omitted: Option<usize>,
}

/// A JSON array of all diagnostics.
pub fn render_json(diags: &[Diagnostic]) -> String {
    let items: Vec<JsonDiagnostic> = diags
        .iter()
        .map(|d| JsonDiagnostic {
            file: d.file.as_deref(),
            line: d.pos.map(|p| p.line),
            column: d.pos.map(|p| p.column),
            severity: d.severity,
            code: d.code,
            message: &d.message,
            help: d.help.as_deref(),
            src: d.src.as_deref(),
            resolved: d.resolved.as_deref(),
            omitted: (d.omitted > 0).then_some(d.omitted),
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".into());
    s.push('\n');
    s
}

fn escape_github_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_github_property(s: &str) -> String {
    escape_github_data(s)
        .replace(':', "%3A")
        .replace(',', "%2C")
}

/// A GitHub Actions workflow command (`::error file=…,line=…,col=…::…`).
pub fn render_github(d: &Diagnostic) -> String {
    let kind = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "notice",
    };
    let mut props = Vec::new();
    if let Some(f) = &d.file {
        props.push(format!("file={}", escape_github_property(f)));
    }
    if let Some(p) = d.pos {
        props.push(format!("line={}", p.line));
        props.push(format!("col={}", p.column));
    }
    props.push(format!(
        "title={}",
        escape_github_property(&format!("pixpipe {}", d.code))
    ));
    let mut msg = d.message.clone();
    if let Some(h) = &d.help {
        msg.push_str("\nhelp: ");
        msg.push_str(h);
    }
    format!(
        "::{kind} {}::{}\n",
        props.join(","),
        escape_github_data(&msg)
    )
}

/// Progress of a long stage, drawn by the binary (or not at all).
pub trait Progress: Sync {
    /// A stage with `total` steps begins.
    fn start(&self, what: &str, total: u64);
    /// `n` more steps are done.
    fn advance(&self, n: u64);
    /// The stage is over.
    fn finish(&self);
    /// Something the user should see while they wait (another run holds a lock).
    fn message(&self, _what: &str) {}
}

/// Progress that draws nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Diagnostic {
        Diagnostic::error("missing-image", "image not found: ./stage.jpg")
            .in_file("content/a/index.md")
            .at(
                LineCol { line: 3, column: 9 },
                "{{< img src=\"./stage.jpg\" >}}",
            )
            .with_help("did you mean ./Stage.jpg?")
    }

    #[test]
    fn human_rendering_points_a_caret_at_the_column() {
        let s = render_human(&sample(), false);
        assert_eq!(
            s,
            "content/a/index.md:3:9: error[missing-image]: image not found: ./stage.jpg\n  |\n3 | {{< img src=\"./stage.jpg\" >}}\n  |         ^\n  help: did you mean ./Stage.jpg?\n"
        );
    }

    #[test]
    fn a_long_line_is_clipped_around_the_caret() {
        let line = format!("{}é\t{}", "a".repeat(200), "b".repeat(200));
        let at = line.find('\t').unwrap();
        let d = Diagnostic::error("x", "y").at_byte(
            LineCol {
                line: 7,
                column: 202,
            },
            &line,
            at,
        );
        let shown = format!("…{}é\t{}…", "a".repeat(59), "b".repeat(59));
        assert_eq!(d.source_line.as_deref(), Some(shown.as_str()));
        assert_eq!(d.source_column, 62);
        let s = render_human(&d, false);
        assert_eq!(
            s.lines().nth(3),
            Some(format!("  | {}^", " ".repeat(61)).as_str())
        );
        // The same from the column alone.
        let by_column = Diagnostic::error("x", "y").at(
            LineCol {
                line: 7,
                column: 202,
            },
            &line,
        );
        assert_eq!(by_column, d);
    }

    #[test]
    fn a_short_line_is_shown_whole() {
        let line = "日本".repeat(50);
        let (shown, column) = snippet(&line, 6);
        assert_eq!((shown.as_str(), column), (line.as_str(), 3));
    }

    #[test]
    fn a_hundred_of_a_code_per_file_then_one_summary() {
        let d = |file: &str, col: usize, code: &'static str| {
            Diagnostic::warning(code, "m").in_file(file).at(
                LineCol {
                    line: 1,
                    column: col,
                },
                "",
            )
        };
        let mut diags: Vec<Diagnostic> = (1..=105).map(|c| d("a.md", c, "x")).collect();
        diags.push(d("a.md", 110, "y"));
        diags.push(d("b.md", 1, "x"));
        sort(&mut diags);
        let limited = limit(diags);
        assert_eq!(limited.len(), 103);
        let summary = &limited[100];
        assert_eq!(
            (summary.pos, summary.omitted, summary.message.as_str()),
            (
                Some(LineCol {
                    line: 1,
                    column: 101
                }),
                5,
                "5 more `x` warnings in this file are not shown"
            )
        );
        assert_eq!(limit(limited.clone()), limited);
    }

    #[test]
    fn github_annotations_escape_commas_colons_and_newlines() {
        let d = Diagnostic::warning("ratio-mismatch", "a,b:c\nd").in_file("x,y.md");
        assert_eq!(
            render_github(&d),
            "::warning file=x%2Cy.md,title=pixpipe ratio-mismatch::a,b:c%0Ad\n"
        );
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(clean("a\x1b[2Jb"), "a\u{FFFD}[2Jb");
    }
}
