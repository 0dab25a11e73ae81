//! Hostile pages and configuration files (issue #17, "hostile pages stay linear"): each is
//! read to the end with a bounded, exact report. How fast is measured in
//! benches/pathological.rs, never here.

use crate::support::{jsonl, pixpipe, SiteBuilder};

fn scan(root: &std::path::Path) -> crate::support::Run {
    pixpipe(&["scan", root.to_str().unwrap(), "--format", "jsonl"])
}

// Issue #17, item 6: nested paired shortcodes on one line overflowed the stack (800 on the
// issue's machine; 5,000 with the release binary here, and with the binary these tests run).
#[test]
fn shortcodes_nested_5000_deep_on_one_line_are_read_issue_17() {
    let depth = 5_000;
    let page = format!(
        "{}![inner](p.jpg){}\n",
        "{{< note >}}".repeat(depth),
        "{{< /note >}}".repeat(depth)
    );
    let site = SiteBuilder::new()
        .page("content/a/index.md", &page)
        .image("content/a/p.jpg", 64, 48)
        .build();
    let run = scan(site.root());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "");
    let refs = jsonl(&run.stdout);
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0]["column"], 12 * depth as u64 + 1);
    assert_eq!(refs[0]["resolved"], "content/a/p.jpg");
    let out = tempfile::tempdir().unwrap();
    let out = out.path().join("site");
    let run = pixpipe(&[
        "build",
        site.root().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

// Issue #17, item 7: 8,000 broken tags on one 120 KB line printed 8,000 diagnostics, each
// with the whole line (1.44 GB).
#[test]
fn broken_tags_on_one_long_line_print_a_hundred_clipped_then_a_summary_issue_17() {
    let page = "{{< figure src=".repeat(8_000) + "\n";
    let site = SiteBuilder::new().page("content/p.md", &page).build();
    let run = scan(site.root());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let headers: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("content/"))
        .collect();
    assert_eq!(headers.len(), 101, "{}", run.stderr);
    assert_eq!(
        headers[100],
        "content/p.md:1:1501: error[bad-shortcode]: 7900 more `bad-shortcode` errors in this file are not shown"
    );
    let first = "content/p.md:1:1: error[bad-shortcode]: shortcode `figure` is never closed\n  |\n1 | {{< figure src={{< figure src={{< figure src={{< figure src=…\n  | ^\n  help: end it with `>}}` before the next shortcode\n";
    assert!(run.stderr.starts_with(first), "{}", run.stderr);
    // The sixth tag starts at column 76: 60 characters on each side, both cuts marked.
    let sixth = format!(
        "content/p.md:1:76: error[bad-shortcode]: shortcode `figure` is never closed\n  |\n1 | …{}…\n  | {}^\n",
        &page[15..135],
        " ".repeat(61)
    );
    assert!(run.stderr.contains(&sixth), "{}", run.stderr);
    assert!(run.stderr.ends_with(
        "  help: pixpipe shows the first 100 of each kind in a file; fix those and run it again\n"
    ));
    assert!(run.stderr.len() < 60_000, "{} bytes", run.stderr.len());
}

// Issue #17, item 7: every shortcode in code is a warning of `check`; past a hundred, one
// says how many more there are.
#[test]
fn shortcodes_in_code_are_a_hundred_warnings_then_a_summary_issue_17() {
    let page = "`{{< figure src=\"a.png\" >}}`\n\n".repeat(110);
    let site = SiteBuilder::new().page("content/p.md", &page).build();
    let run = pixpipe(&["check", site.root().to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let headers: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("content/"))
        .collect();
    assert_eq!(headers.len(), 101, "{}", run.stdout);
    assert_eq!(
        headers[100],
        "content/p.md:201:2: warning[shortcode-in-code]: 10 more `shortcode-in-code` warnings in this file are not shown"
    );
}

// Issue #17, item 7: front matter nested 100,000 `[` deep took 49 s to be refused.
#[test]
fn front_matter_nested_too_deep_is_an_error_at_the_bracket_issue_17() {
    // The 33rd bracket open at once: in JSON the object's own `{` is the first.
    let deep = "[".repeat(20_000);
    for (page, line, column) in [
        (format!("---\nimages: {deep}\n---\nbody\n"), 2, 41),
        (format!("+++\nimages = {deep}\n+++\nbody\n"), 2, 42),
        (format!("{{\"images\": {deep}\n}}\nbody\n"), 1, 43),
    ] {
        let site = SiteBuilder::new().page("content/p.md", &page).build();
        let run = pixpipe(&["check", site.root().to_str().unwrap()]);
        assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
        assert_eq!(
            run.stdout.lines().next().unwrap(),
            format!("content/p.md:{line}:{column}: error[bad-front-matter]: front matter lists and maps are nested more than 32 deep here"),
            "{page:.20}"
        );
        assert_eq!(
            run.stdout
                .lines()
                .filter(|l| l.starts_with("content/"))
                .count(),
            1
        );
    }
}

// Issue #17, item 7: the same in pixpipe.yaml took 50 s before its error.
#[test]
fn configuration_nested_too_deep_is_an_error_at_the_bracket_issue_17() {
    let deep = "[".repeat(20_000);
    for (file, text, column) in [
        ("pixpipe.yaml", format!("shortcodes: {deep}\n"), 45),
        ("hugo.yaml", format!("params: {deep}\n"), 41),
        ("hugo.toml", format!("params = {deep}\n"), 42),
        ("hugo.json", format!("{{\"params\": {deep}\n"), 43),
    ] {
        let site = SiteBuilder::new()
            .page("content/p.md", "text\n")
            .page(file, &text)
            .build();
        let run = scan(site.root());
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert_eq!(
            run.stderr,
            format!("error: {file}:1:{column}: lists and maps are nested more than 32 deep here\n")
        );
    }
}
