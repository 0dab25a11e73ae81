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
