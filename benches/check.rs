//! `check` end to end on the linkerd corpus (218 references, ~600 files: scan, extract,
//! resolve, probe headers in parallel, diagnostics), when `../shared/corpus` is present.

use criterion::{criterion_group, criterion_main, Criterion};
use pixpipe::analyze;
use pixpipe::check::CheckOptions;
use pixpipe::Config;
use std::path::Path;

// The binary's allocator (src/alloc.rs, not library API). Unused here: `tune`, and its unit
// test's import (cargo builds a bench without the harness with `cfg(test)` but no tests).
#[path = "../src/alloc.rs"]
#[allow(dead_code, unused_imports)]
mod alloc;

#[global_allocator]
static GLOBAL: alloc::Split = alloc::Split;

fn bench_check(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/sites/linkerd");
    if !root.is_dir() {
        eprintln!("SKIPPED check/linkerd: ../shared/corpus is not there");
        return;
    }
    let config = Config::default();
    let mut g = c.benchmark_group("check");
    g.sample_size(20);
    g.bench_function("linkerd_end_to_end", |b| {
        b.iter(|| {
            analyze::check_site(&root, &config, CheckOptions::default())
                .expect("check")
                .diagnostics
                .len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_check);
criterion_main!(benches);
