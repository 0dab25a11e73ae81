//! Extraction speed on a generated 10,000-page site, and `scan` end to end on the linkerd
//! corpus when `../shared/corpus` is present.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use pixpipe::extract::{extract, Rules};
use pixpipe::{inventory, scan, Config};
use std::path::Path;

// The binary's allocator (src/alloc.rs, not library API). Unused here: `tune`, and its unit
// test's import (cargo builds a bench without the harness with `cfg(test)` but no tests).
#[path = "../src/alloc.rs"]
#[allow(dead_code, unused_imports)]
mod alloc;

// The same allocator as the pixpipe binary, so the numbers are the ones users get.
#[global_allocator]
static GLOBAL: alloc::Split = alloc::Split;

/// A page like the real ones: front matter, prose, lists with indented shortcodes, Markdown
/// images, a fenced code block with escaped shortcodes, a table.
fn page(i: usize) -> String {
    let mut s = format!(
        "---\ntitle: \"Page {i}\"\ndescription: A generated page for the extraction benchmark.\nweight: {i}\n---\n\n"
    );
    for k in 0..6 {
        s.push_str(&format!(
            "The service mesh routes traffic between workloads; section {k} explains how \
             [the proxy](https://example.com/{k}) handles retries, timeouts and mTLS. \
             Operators use `kubectl` to inspect it, and *metrics* show **latency**.\n\n"
        ));
        s.push_str(&format!(
            "1. Install the control plane.\n\n    {{{{< image width=\"{w}%\"\n        link=\"./diagram-{k}.svg\"\n        caption=\"Architecture, step {k}\"\n        >}}}}\n\n",
            w = 40 + k * 5
        ));
        s.push_str(&format!(
            "![Dashboard {k}](/images/docs/dashboard-{k}.png \"Dashboard\")\n\n"
        ));
        s.push_str(
            "```yaml\napiVersion: v1\nkind: Service\n# {{</* image link=\"x.png\" */>}}\n```\n\n",
        );
        s.push_str("| a | b |\n|---|---|\n| 1 | 2 |\n\n");
    }
    s
}

fn bench_extract(c: &mut Criterion) {
    let pages: Vec<String> = (0..10_000).map(page).collect();
    let bytes: usize = pages.iter().map(String::len).sum();
    let rules = Rules::from_config(&Config::default());
    let mut g = c.benchmark_group("extract");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(10);
    g.bench_function("10000_pages_one_thread", |b| {
        b.iter(|| {
            pages
                .iter()
                .map(|p| extract(p, &rules).refs.len())
                .sum::<usize>()
        })
    });
    g.finish();
}

fn bench_scan_linkerd(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/sites/linkerd");
    if !root.is_dir() {
        eprintln!("SKIPPED scan/linkerd: ../shared/corpus is not there");
        return;
    }
    let config = Config::default();
    c.bench_function("scan/linkerd_end_to_end", |b| {
        b.iter_batched(
            || (),
            |_| {
                let site = scan::scan(&root, &config).expect("scan");
                inventory::take(&site, &config).refs.len()
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, bench_extract, bench_scan_linkerd);
criterion_main!(benches);
