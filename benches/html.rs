//! The HTML pass of `pixpipe html` (issue #21): reading a built page's images with lol_html
//! and rewriting them into `<picture>`, in bytes of HTML per second on one core. Pages are
//! generated like a documentation theme's output: head with styles and scripts, navigation,
//! prose, four images (one already responsive), code, footer.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pixpipe::html::page::{self, Edit};
use std::collections::BTreeMap;

// The binary's allocator (src/alloc.rs, not library API), set up as `main` sets it (`tune`).
// Unused here: its unit test's import.
#[path = "../src/alloc.rs"]
#[allow(dead_code, unused_imports)]
mod alloc;

// The same allocator as the pixpipe binary, so the numbers are the ones users get.
#[global_allocator]
static GLOBAL: alloc::Split = alloc::Split;

/// One built page of about 14 KB.
fn built_page(i: usize) -> String {
    let mut s = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Page {i}</title>\n\
         <link rel=\"stylesheet\" href=\"/css/main.min.css\"><script src=\"/js/main.js\" defer></script>\n\
         <style>body{{font:16px/1.5 system-ui}} .hero img{{max-width:100%}}</style></head>\n<body>\n\
         <header><a href=\"/\"><img src=\"/img/logo.png\" alt=\"Logo\" width=\"120\" height=\"40\"></a>\n<nav><ul>"
    );
    for k in 0..40 {
        s.push_str(&format!(
            "<li><a href=\"/docs/section-{k}/\">Section {k}</a></li>"
        ));
    }
    s.push_str("</ul></nav></header>\n<main><article>\n");
    for k in 0..16 {
        s.push_str(&format!(
            "<p>The service mesh routes traffic between workloads; section {k} explains how \
             <a href=\"https://example.com/{k}\">the proxy</a> handles retries, timeouts and mTLS. \
             Operators use <code>kubectl</code> to inspect it, and <em>metrics</em> show <strong>latency</strong>.</p>\n"
        ));
        match k {
            3 => s.push_str(&format!("<p><img src=\"diagram-{i}.png\" alt=\"Architecture\" class=\"wide\"></p>\n")),
            7 => s.push_str("<figure><img src=\"../shared/photo.jpg\" alt=\"The team\" width=\"640\"><figcaption>The team</figcaption></figure>\n"),
            11 => s.push_str("<img src=\"/img/set.jpg\" srcset=\"/img/set-480.jpg 480w, /img/set.jpg 960w\" sizes=\"100vw\" alt=\"set\">\n"),
            13 => s.push_str("<pre><code class=\"language-yaml\">apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n</code></pre>\n"),
            _ => {}
        }
    }
    s.push_str("</article></main>\n<footer><p>&copy; The authors</p></footer>\n</body></html>\n");
    s
}

/// The edit `pixpipe html` makes of an image: a WebP source, five widths each.
fn edit(stem: &str) -> Edit {
    let set = |ext: &str| {
        [480, 686, 960, 1200, 1472]
            .iter()
            .map(|w| format!("{stem}-{w}w.0123456789.{ext} {w}w"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let sizes = "(max-width: 1232px) calc(100vw - 32px), 1200px";
    Edit {
        sources: format!(
            "<source type=\"image/webp\" srcset=\"{}\" sizes=\"{sizes}\">",
            set("webp")
        ),
        set: vec![
            ("src", format!("{stem}-1200w.0123456789.jpg")),
            ("srcset", set("jpg")),
            ("sizes", sizes.to_string()),
            ("width", "1200".into()),
            ("height", "800".into()),
            ("loading", "lazy".into()),
            ("decoding", "async".into()),
        ],
        ..Default::default()
    }
}

fn bench_html(c: &mut Criterion) {
    alloc::tune();
    let pages: Vec<String> = (0..200).map(built_page).collect();
    let bytes: usize = pages.iter().map(String::len).sum();
    let edits: BTreeMap<usize, Edit> = [
        (0, edit("/img/logo")),
        (1, edit("diagram")),
        (2, edit("../shared/photo")),
    ]
    .into_iter()
    .collect();
    let mut g = c.benchmark_group("html_pass");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("read/200_pages", |b| {
        b.iter(|| {
            pages
                .iter()
                .map(|p| page::read(p).unwrap().imgs.len())
                .sum::<usize>()
        })
    });
    g.bench_function("rewrite/200_pages", |b| {
        b.iter(|| {
            pages
                .iter()
                .map(|p| page::rewrite(p, &edits).unwrap().len())
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_html);
criterion_main!(benches);
