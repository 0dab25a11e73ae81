//! What a visitor downloads, as Lighthouse measures it (issue #18): the demo site built by
//! `pixpipe build` then Hugo with pixpipe's templates, and the demo's HTML gallery, each
//! page in Lighthouse's mobile and desktop presets. No image audit may fail.
//!
//! Lighthouse 12.2.3 comes from npm into target/browser and drives Debian's chromium; `make
//! test` installs both, and Hugo. Without them the test says it was skipped, unless
//! PIXPIPE_REQUIRE_TOOLS=1 (as in `make test`). Run it with `--no-capture` to see the image
//! bytes each page transfers; PIXPIPE_LIGHTHOUSE_BEFORE=1 also measures the demo built by Hugo
//! alone, from the original images.

use crate::hugo::{hugo, hugo_build, pixpipe_then_hugo};
use crate::support::serve::serve;
use crate::support::{copy_tree, demo, pixpipe};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The audits about images, each of which must pass (or not apply).
const AUDITS: [&str; 7] = [
    "uses-responsive-images",
    "modern-image-formats",
    "uses-optimized-images",
    "unsized-images",
    "offscreen-images",
    "lcp-lazy-loaded",
    "prioritize-lcp-image",
];

/// Lighthouse's command line and the browser it drives.
fn tools() -> Option<(PathBuf, PathBuf)> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cli = repo.join("target/browser/node_modules/lighthouse/cli/index.js");
    let chromium =
        PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if node && cli.is_file() && chromium.is_file() {
        return Some((cli, chromium));
    }
    if std::env::var("PIXPIPE_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("node, chromium or lighthouse is missing; `make test` installs them");
    }
    eprintln!("SKIPPED: node, chromium or target/browser/node_modules/lighthouse is missing (make test installs them)");
    None
}

/// What one Lighthouse run found.
struct Measured {
    /// Each image audit that failed, with its numbers.
    failed: Vec<String>,
    /// Bytes of images transferred, and how many images.
    image_bytes: u64,
    images: usize,
}

fn lighthouse(cli: &Path, chromium: &Path, url: &str, desktop: bool) -> Measured {
    let mut cmd = Command::new("node");
    cmd.arg(cli)
        .arg(url)
        .args([
            "--output=json",
            "--output-path=stdout",
            "--only-categories=performance",
            "--quiet",
            "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
        ])
        .env("CHROME_PATH", chromium);
    if desktop {
        cmd.arg("--preset=desktop");
    }
    let out = cmd.output().expect("run lighthouse");
    assert!(
        out.status.success(),
        "lighthouse {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("lighthouse's JSON report");
    let audits = &report["audits"];
    let mut failed = Vec::new();
    for id in AUDITS {
        let a = &audits[id];
        assert!(a.is_object(), "{url}: no audit {id}");
        // The byte audits judged the page's images (a page whose images Lighthouse did not
        // see would pass them all).
        if id == "uses-responsive-images" || id == "modern-image-formats" {
            assert!(a["score"].is_number(), "{url}: {id} was not scored: {a}");
        }
        if let Some(score) = a["score"].as_f64() {
            if score < 1.0 {
                let items: Vec<String> = a["details"]["items"]
                    .as_array()
                    .map(|items| {
                        items
                            .iter()
                            .map(|i| {
                                format!(
                                    "{} ({} of {} bytes)",
                                    i["url"].as_str().unwrap_or("?"),
                                    i["wastedBytes"],
                                    i["totalBytes"]
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                failed.push(format!(
                    "{id}: score {score}, {}: {}",
                    a["displayValue"].as_str().unwrap_or(""),
                    items.join("; ")
                ));
            }
        }
    }
    let requests = audits["network-requests"]["details"]["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let images: Vec<&serde_json::Value> = requests
        .iter()
        .filter(|r| r["resourceType"] == "Image")
        .collect();
    Measured {
        failed,
        image_bytes: images
            .iter()
            .map(|r| r["transferSize"].as_u64().unwrap_or(0))
            .sum(),
        images: images.len(),
    }
}

/// The demo (its pages and templates, and its images at half their camera size) in `dir`.
fn demo_site(dir: &Path) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let site = dir.join("demo");
    copy_tree(&repo.join("assets/demo"), &site);
    copy_tree(&repo.join("assets/hugo"), &dir.join("hugo"));
    assert_eq!(demo::write_images(&site, 2), demo::IMAGES);
    site
}

/// Measure each of `pages` (name, URL) in both presets; the failures, and a line per run.
fn measure(cli: &Path, chromium: &Path, pages: &[(&str, String)]) -> (Vec<String>, Vec<String>) {
    let mut failures = Vec::new();
    let mut lines = Vec::new();
    for (name, url) in pages {
        for desktop in [false, true] {
            let preset = if desktop { "desktop" } else { "mobile" };
            let m = lighthouse(cli, chromium, url, desktop);
            assert!(m.images > 0, "{name} ({preset}): no image was loaded");
            lines.push(format!(
                "{name} ({preset}): {} images, {:.1} KiB",
                m.images,
                m.image_bytes as f64 / 1024.0
            ));
            failures.extend(
                m.failed
                    .into_iter()
                    .map(|f| format!("{name} ({preset}): {f}")),
            );
        }
    }
    (failures, lines)
}

#[test]
fn lighthouse_finds_no_image_to_fix_in_the_demo_on_phones_or_desktops() {
    let Some((cli, chromium)) = tools() else {
        return;
    };
    let Some(hugo) = hugo() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let site = demo_site(tmp.path());
    let public = tmp.path().join("public");
    pixpipe_then_hugo(&hugo, &site, &public);
    let gallery_out = tmp.path().join("gallery");
    let run = pixpipe(&[
        "gallery",
        site.join("events/istio-day-2023").to_str().unwrap(),
        "--out",
        gallery_out.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);

    let (site_port, gallery_port) = (serve(public.clone()), serve(gallery_out));
    let pages = [
        (
            "blog post",
            format!("http://127.0.0.1:{site_port}/blog/2023/kubecon-eu/"),
        ),
        (
            "docs page",
            format!("http://127.0.0.1:{site_port}/docs/architecture/"),
        ),
        ("gallery", format!("http://127.0.0.1:{gallery_port}/")),
    ];
    let (failures, lines) = measure(&cli, &chromium, &pages);
    eprintln!("with pixpipe:\n  {}", lines.join("\n  "));

    if std::env::var("PIXPIPE_LIGHTHOUSE_BEFORE").as_deref() == Ok("1") {
        let before = tmp.path().join("public-before");
        hugo_build(&hugo, &site, "hugo.toml", &before);
        let port = serve(before);
        let pages: Vec<(&str, String)> = pages[..2]
            .iter()
            .map(|(n, u)| (*n, u.replace(&site_port.to_string(), &port.to_string())))
            .collect();
        let (before_failures, lines) = measure(&cli, &chromium, &pages);
        eprintln!(
            "Hugo alone, from the originals:\n  {}\n  {}",
            lines.join("\n  "),
            before_failures.join("\n  ")
        );
        // The same audits do find the originals too large: they can fail.
        assert!(before_failures
            .iter()
            .any(|f| f.contains("uses-responsive-images")));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Run `pixpipe html` on `dir` (with the site's base URL `base`).
fn pixpipe_html(dir: &Path, base: &str) {
    let cache = dir.with_file_name("html-cache");
    let run = pixpipe(&[
        "html",
        dir.to_str().unwrap(),
        "--base-url",
        base,
        "--cache",
        cache.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// A small blog built by `generator` ("eleventy" or "jekyll") into `dir/out`: a page with a
/// camera-sized photo and a second one further down, in a layout with a 1200 px column.
fn generated_blog(generator: &str, dir: &Path) -> Option<PathBuf> {
    use crate::support::{jpeg_bytes, photo};
    let layout = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Day one</title>\n<style>body{max-width:1200px;margin:0 auto;padding:0 16px;font:18px/1.5 sans-serif}img{max-width:100%;height:auto}</style></head>\n<body>\n";
    let text =
        "The first day of the conference opened with a keynote on service meshes. ".repeat(12);
    let page = format!("---\nlayout: LAYOUT\ntitle: Day one\n---\n\n# Day one\n\n![The keynote stage](/img/stage.jpg)\n\n{text}\n\n{text}\n\n![The hallway track](/img/hallway.jpg)\n\n{text}\n");
    std::fs::create_dir_all(dir.join("img")).unwrap();
    std::fs::write(dir.join("img/stage.jpg"), jpeg_bytes(&photo(3000, 2000, 1))).unwrap();
    std::fs::write(
        dir.join("img/hallway.jpg"),
        jpeg_bytes(&photo(3000, 2000, 2)),
    )
    .unwrap();
    let out = dir.join("out");
    let status = match generator {
        "eleventy" => {
            let bin = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target/generators/node_modules/.bin/eleventy");
            if !bin.is_file() {
                return None;
            }
            std::fs::create_dir_all(dir.join("_includes")).unwrap();
            std::fs::write(
                dir.join("_includes/base.njk"),
                format!("{layout}{{{{ content | safe }}}}\n</body></html>\n"),
            )
            .unwrap();
            std::fs::write(
                dir.join("eleventy.config.js"),
                "module.exports = function (c) { c.addPassthroughCopy('img'); };\n",
            )
            .unwrap();
            std::fs::write(dir.join("index.md"), page.replace("LAYOUT", "base.njk")).unwrap();
            Command::new(bin)
                .current_dir(dir)
                .args(["--quiet", "--input=.", "--output=out"])
                .output()
        }
        _ => {
            std::fs::create_dir_all(dir.join("_layouts")).unwrap();
            std::fs::write(
                dir.join("_layouts/default.html"),
                format!("{layout}{{{{ content }}}}\n</body></html>\n"),
            )
            .unwrap();
            std::fs::write(
                dir.join("_config.yml"),
                "markdown: kramdown\nexclude: [out]\n",
            )
            .unwrap();
            std::fs::write(dir.join("index.md"), page.replace("LAYOUT", "default")).unwrap();
            Command::new("jekyll")
                .current_dir(dir)
                .args(["build", "--quiet", "-s", ".", "-d", "out"])
                .output()
        }
    };
    let status = status.ok()?;
    assert!(
        status.status.success(),
        "{generator}: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    Some(out)
}

/// `pixpipe html` on the output of three generators (issue #21): Hugo's demo build from the
/// original images without pixpipe's templates, and small Eleventy and Jekyll blogs. Before,
/// Lighthouse finds images to fix; after, none, on phones and desktops.
#[test]
fn lighthouse_finds_no_image_to_fix_after_pixpipe_html_on_three_generators() {
    let Some((cli, chromium)) = tools() else {
        return;
    };
    let Some(hugo) = hugo() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let site = demo_site(tmp.path());
    let hugo_out = tmp.path().join("hugo-public");
    hugo_build(&hugo, &site, "hugo.toml", &hugo_out);
    let mut sites = vec![("hugo", hugo_out, "/blog/2023/kubecon-eu/")];
    for g in ["eleventy", "jekyll"] {
        let dir = tmp.path().join(g);
        std::fs::create_dir_all(&dir).unwrap();
        match generated_blog(g, &dir) {
            Some(out) => sites.push((g, out, "/")),
            None if std::env::var("PIXPIPE_REQUIRE_TOOLS").as_deref() == Ok("1") => {
                panic!("{g} is not installed; `make test` installs it")
            }
            None => eprintln!("SKIPPED: {g} is not installed (make test installs it)"),
        }
    }
    let mut failures = Vec::new();
    for (name, out, path) in sites {
        let before = out.with_file_name(format!("{name}-before"));
        for (rel, bytes) in crate::support::tree(&out) {
            let dest = before.join(&rel);
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::write(dest, bytes).unwrap();
        }
        let port = serve(before);
        let (was, lines) = measure(
            &cli,
            &chromium,
            &[(name, format!("http://127.0.0.1:{port}{path}"))],
        );
        eprintln!(
            "{name} before pixpipe html:\n  {}\n  {}",
            lines.join("\n  "),
            was.join("\n  ")
        );
        assert!(
            was.iter().any(|f| f.contains("uses-responsive-images") || f.contains("modern-image-formats")),
            "{name}: Lighthouse found nothing to fix before: {was:?}"
        );
        pixpipe_html(&out, "/");
        let port = serve(out);
        let (now, lines) = measure(
            &cli,
            &chromium,
            &[(name, format!("http://127.0.0.1:{port}{path}"))],
        );
        eprintln!("{name} after pixpipe html:\n  {}", lines.join("\n  "));
        failures.extend(now);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
