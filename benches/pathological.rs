//! Hostile pages (issue #17): each shape generated here, read by the stages of `pixpipe scan`
//! after the disk (extract, resolve, locate, limit, render the diagnostics), and measured in
//! bytes of page per second. A stage that turns superlinear shows up as a drop here; the
//! target is at least 50 MB/s on every shape. The configuration files are parsed the same
//! way, up to their error.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pixpipe::extract::{markdown, yaml};
use pixpipe::{hugo_config, inventory, report, scan, Config};

// The binary's allocator (src/alloc.rs, not library API), set up as `main` sets it (`tune`).
// Unused here: its unit test's import (cargo builds a bench without the harness with
// `cfg(test)` but no tests).
#[path = "../src/alloc.rs"]
#[allow(dead_code, unused_imports)]
mod alloc;

// The same allocator as the pixpipe binary, so the numbers are the ones users get.
#[global_allocator]
static GLOBAL: alloc::Split = alloc::Split;

/// (bench name, page text) for each hostile shape.
fn pages() -> Vec<(&'static str, String)> {
    vec![
        (
            "nested_one_line/100000_levels",
            "{{< note >}}".repeat(100_000) + &"{{< /note >}}".repeat(100_000) + "\n",
        ),
        (
            "nested_lines/100000_levels",
            "{{< note >}}\n".repeat(100_000) + &"{{< /note >}}\n".repeat(100_000),
        ),
        (
            "unclosed_figure_one_line/8000",
            "{{< figure src=".repeat(8_000) + "\n",
        ),
        (
            "open_delimiters_one_line/20000",
            "{{< ".repeat(20_000) + "\n",
        ),
        (
            "code_spans_and_shortcodes_one_line/80000",
            "`x` {{< figure src=\"a.png\" >}} ".repeat(80_000) + "\n",
        ),
        (
            "shortcodes_in_code_spans/80000",
            ("`{{< figure src=a.png >}}` ".repeat(40) + "\n").repeat(2_000),
        ),
        (
            "reference_images_and_links/40000",
            "![i][a] [l][b]\n".repeat(40_000) + "\n[a]: a.png\n[b]: b.html\n",
        ),
        (
            "front_matter_images/10000",
            "---\nimages:\n".to_string() + &"  - a.jpg\n".repeat(10_000) + "---\nbody\n",
        ),
        (
            "front_matter_yaml_deep/100000",
            "---\nimages: ".to_string() + &"[".repeat(100_000) + "\n---\nbody\n",
        ),
        (
            "front_matter_toml_deep/100000",
            "+++\nimages = ".to_string() + &"[".repeat(100_000) + "\n+++\nbody\n",
        ),
        (
            "front_matter_json_deep/100000",
            "{\"images\": ".to_string() + &"[".repeat(100_000) + "\n}\nbody\n",
        ),
    ]
}

/// What `scan` does with a site read from disk, to the text it prints on stderr.
fn scan_stages(site: &scan::Site, config: &Config) -> usize {
    let inv = inventory::take(site, config);
    let mut diags = inv.diagnostics;
    report::sort(&mut diags);
    let shown: String = report::limit(diags)
        .iter()
        .map(|d| report::render_human(d, false))
        .collect();
    shown.len() + inv.refs.len()
}

fn bench_pages(c: &mut Criterion) {
    // As the binary does first: without it glibc gives each large freed block back to the
    // system, and a hostile page's big vectors were faulted in again on every pass (a third
    // of the time on reference images).
    alloc::tune();
    let config = Config::default();
    let mut g = c.benchmark_group("hostile_page");
    g.sample_size(10);
    for (name, text) in pages() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("content")).expect("content");
        std::fs::write(dir.path().join("content/p.md"), &text).expect("page");
        let site = scan::scan(dir.path(), &config).expect("scan");
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(name, |b| b.iter(|| scan_stages(&site, &config)));
    }
    g.finish();
}

fn bench_config_files(c: &mut Criterion) {
    let deep = "[".repeat(100_000);
    let files = [
        (
            "pixpipe_yaml_deep/100000",
            "pixpipe.yaml",
            format!("shortcodes: {deep}\n"),
        ),
        (
            "hugo_yaml_deep/100000",
            "hugo.yaml",
            format!("params: {deep}\n"),
        ),
        (
            "hugo_toml_deep/100000",
            "hugo.toml",
            format!("params = {deep}\n"),
        ),
        (
            "hugo_json_deep/100000",
            "hugo.json",
            format!("{{\"params\": {deep}\n"),
        ),
    ];
    let mut g = c.benchmark_group("hostile_config");
    g.sample_size(10);
    for (name, file, text) in files {
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                if file == "pixpipe.yaml" {
                    Config::default().with_yaml(&text, file).is_err()
                } else {
                    hugo_config::parse(&text, file).is_err()
                }
            })
        });
    }
    g.finish();
}

/// The parsers pixpipe reads the two densest shapes with, alone on the same text: the most
/// the stages above can reach on them (pixpipe's scan also places, resolves and reports each
/// of the 40,000 or 10,000 references).
fn bench_parsers_alone(c: &mut Criterion) {
    let page = |name: &str| {
        pages()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t)
            .expect("a shape of `pages`")
    };
    let markdown = page("reference_images_and_links/40000");
    let front_matter = page("front_matter_images/10000");
    let yaml = front_matter
        .strip_prefix("---\n")
        .and_then(|t| t.split("---\n").next())
        .expect("YAML front matter");
    let mut g = c.benchmark_group("parser_alone");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(markdown.len() as u64));
    g.bench_function("pulldown_cmark/reference_images_and_links/40000", |b| {
        b.iter(|| {
            pulldown_cmark::Parser::new_ext(&markdown, markdown::options())
                .into_offset_iter()
                .count()
        })
    });
    // Throughput in bytes of the whole page, as for `hostile_page`.
    g.throughput(Throughput::Bytes(front_matter.len() as u64));
    // libyaml's events as `yaml::events` collects them, then serde_yaml's Value (what
    // pixpipe read YAML front matter into before).
    g.bench_function("libyaml_events/front_matter_images/10000", |b| {
        b.iter(|| yaml::events(yaml).map_or(0, |e| e.len()))
    });
    g.bench_function("serde_yaml_value/front_matter_images/10000", |b| {
        b.iter(|| serde_yaml::from_str::<serde_json::Value>(yaml).is_ok())
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_pages,
    bench_config_files,
    bench_parsers_alone
);
criterion_main!(benches);
