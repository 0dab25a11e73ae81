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
    /// The text of the line at `pos`, for the caret display.
    #[serde(skip)]
    pub source_line: Option<String>,
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
    /// Set the position and the line's text.
    pub fn at(mut self, pos: LineCol, source_line: impl Into<String>) -> Self {
        self.pos = Some(pos);
        self.source_line = Some(source_line.into());
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
            .take(p.column.saturating_sub(1))
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
