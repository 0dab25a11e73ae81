//! `pixpipe scan`: references found, positions, resolution, diagnostics, exit codes.

use crate::support::{corpus, jsonl, pixpipe, SiteBuilder};
use serde_json::Value;
use std::collections::BTreeSet;

fn scan_jsonl(root: &std::path::Path, extra: &[&str]) -> (Vec<Value>, String, i32) {
    let r = root.to_str().unwrap();
    let mut args = vec!["scan", r, "--format", "jsonl"];
    args.extend_from_slice(extra);
    let run = pixpipe(&args);
    (jsonl(&run.stdout), run.stderr, run.code)
}

/// (syntax, src, glob, resolved, exists)
type GlobRow = (String, String, Option<String>, Option<String>, Option<bool>);

type Row = (
    String,
    i64,
    i64,
    String,
    String,
    Option<String>,
    Option<bool>,
    Option<String>,
);

type Key = (
    String,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<bool>,
);

fn key(v: &Value) -> Key {
    (
        v["page"].as_str().unwrap().to_string(),
        v["line"].as_i64().unwrap(),
        v["syntax"].as_str().unwrap().to_string(),
        v["src"].as_str().unwrap().to_string(),
        v["width"].as_str().map(str::to_string),
        v["resolved"].as_str().map(str::to_string),
        v["exists"].as_bool(),
    )
}

fn corpus_site_matches_ground_truth(site: &str, with_config: bool) {
    let Some(corpus) = corpus() else { return };
    let root = corpus.join("sites").join(site);
    let cfg = format!("{}/tests/corpus/{site}.yaml", env!("CARGO_MANIFEST_DIR"));
    let extra: Vec<&str> = if with_config {
        vec!["--config", &cfg]
    } else {
        vec![]
    };
    let (got, stderr, code) = scan_jsonl(&root, &extra);
    assert_eq!(code, 0, "{stderr}");
    let expected_text =
        std::fs::read_to_string(corpus.join("expected").join(format!("{site}.jsonl"))).unwrap();
    let expected: BTreeSet<Key> = jsonl(&expected_text).iter().map(key).collect();
    // Front matter references are compared with their own ground truth below.
    let got: Vec<Value> = got
        .into_iter()
        .filter(|v| !v["syntax"].as_str().unwrap().starts_with("frontmatter:"))
        .collect();
    let got_keys: Vec<Key> = got.iter().map(key).collect();
    let got_set: BTreeSet<Key> = got_keys.iter().cloned().collect();
    assert_eq!(got_keys.len(), got_set.len(), "duplicate references");
    let missing: Vec<_> = expected.difference(&got_set).collect();
    let extra: Vec<_> = got_set.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing: {missing:#?}\nextra: {extra:#?}"
    );
    // Sorted by page, then position.
    let order: Vec<(String, i64, i64)> = got
        .iter()
        .map(|v| {
            (
                v["page"].as_str().unwrap().to_string(),
                v["line"].as_i64().unwrap(),
                v["column"].as_i64().unwrap(),
            )
        })
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
}

#[test]
fn corpus_hugo_docs_matches_ground_truth() {
    corpus_site_matches_ground_truth("hugo-docs", true);
}

#[test]
fn corpus_linkerd_matches_ground_truth() {
    corpus_site_matches_ground_truth("linkerd", true);
}

#[test]
fn corpus_linkerd_matches_ground_truth_with_no_config() {
    corpus_site_matches_ground_truth("linkerd", false);
}

#[test]
fn corpus_istio_matches_ground_truth() {
    corpus_site_matches_ground_truth("istio", true);
}

#[test]
fn plain_hugo_site_needs_no_config() {
    let site = SiteBuilder::new()
        .page(
            "content/blog/post/index.md",
            "---\ntitle: Post\n---\n\n{{< image width=\"40%\"\n    link=\"./welcome.jpg\"\n    caption=\"Welcome\"\n    >}}\n\n![logo](/images/logo.png \"Logo\")\n\n<img src=\"missing.png\" width=\"300\">\n",
        )
        .page("content/docs/leaf.md", "![a](diagram.png)\n\n{{< figure src=\"/images/logo.png\" >}}\n")
        .image("content/blog/post/welcome.jpg", 64, 48)
        .image("static/images/logo.png", 32, 32)
        .image("content/docs/leaf/diagram.png", 20, 10)
        .build();
    let (got, stderr, code) = scan_jsonl(site.root(), &[]);
    assert_eq!(code, 0, "{stderr}");
    let rows: Vec<Row> = got
        .iter()
        .map(|v| {
            (
                v["page"].as_str().unwrap().into(),
                v["line"].as_i64().unwrap(),
                v["column"].as_i64().unwrap(),
                v["syntax"].as_str().unwrap().into(),
                v["src"].as_str().unwrap().into(),
                v["resolved"].as_str().map(Into::into),
                v["exists"].as_bool(),
                v["width"].as_str().map(Into::into),
            )
        })
        .collect();
    let s = |x: &str| x.to_string();
    assert_eq!(
        rows,
        vec![
            (
                s("content/blog/post/index.md"),
                5,
                1,
                s("shortcode:image"),
                s("./welcome.jpg"),
                Some(s("content/blog/post/welcome.jpg")),
                Some(true),
                Some(s("40%"))
            ),
            (
                s("content/blog/post/index.md"),
                10,
                1,
                s("markdown"),
                s("/images/logo.png"),
                Some(s("static/images/logo.png")),
                Some(true),
                None
            ),
            (
                s("content/blog/post/index.md"),
                12,
                1,
                s("html"),
                s("missing.png"),
                Some(s("content/blog/post/missing.png")),
                Some(false),
                Some(s("300"))
            ),
            (
                s("content/docs/leaf.md"),
                1,
                1,
                s("markdown"),
                s("diagram.png"),
                Some(s("content/docs/leaf/diagram.png")),
                Some(true),
                None
            ),
            (
                s("content/docs/leaf.md"),
                3,
                1,
                s("shortcode:figure"),
                s("/images/logo.png"),
                Some(s("static/images/logo.png")),
                Some(true),
                None
            ),
        ]
    );
    assert_eq!(got[0]["caption"], "Welcome");
}

#[test]
fn bom_and_crlf_keep_lines_and_columns_right() {
    let site = SiteBuilder::new()
        .bytes(
            "content/p/index.md",
            b"\xEF\xBB\xBF---\r\ntitle: x\r\n---\r\n\r\n  text ![a](a.png)\r\n".to_vec(),
        )
        .build();
    let (got, _, code) = scan_jsonl(site.root(), &[]);
    assert_eq!(code, 0);
    assert_eq!(
        (got[0]["line"].as_i64(), got[0]["column"].as_i64()),
        (Some(5), Some(8))
    );
}

#[test]
fn malformed_shortcode_is_reported_with_its_location_and_the_rest_is_scanned() {
    let site = SiteBuilder::new()
        .page(
            "content/a/index.md",
            "intro\n\n{{< image link=\"./x.jpg >}}\n\n{{< image link=\"./y.jpg\" >}}\n",
        )
        .bytes("content/b/index.md", b"ok\n\xff\xfe bad\n".to_vec())
        .page("content/c/index.md", "![c](c.png)\n")
        .build();
    let (got, stderr, code) = scan_jsonl(site.root(), &[]);
    assert_eq!(code, 0);
    let srcs: Vec<&str> = got.iter().map(|v| v["src"].as_str().unwrap()).collect();
    assert_eq!(srcs, vec!["./y.jpg", "c.png"]);
    assert!(
        stderr.contains(
            "content/a/index.md:3:16: error[bad-shortcode]: quoted value is never closed"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("content/b/index.md:2:1: error[bad-encoding]: page is not UTF-8 text"),
        "{stderr}"
    );
}

#[test]
fn link_leaving_the_root_and_symlink_outside_do_not_exist() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.png"), b"x").unwrap();
    let target = outside.path().join("secret.png");
    let site = SiteBuilder::new()
        .page(
            "content/a/index.md",
            "![x](../../../etc/passwd)\n\n![y](linked.png)\n",
        )
        .symlink("content/a/linked.png", target.to_str().unwrap())
        .build();
    let (got, _, _) = scan_jsonl(site.root(), &[]);
    assert_eq!(got[0]["resolved"], Value::Null);
    assert_eq!(got[0]["exists"], false);
    assert_eq!(got[1]["resolved"], "content/a/linked.png");
    assert_eq!(got[1]["exists"], false);
}

#[test]
fn bad_config_is_fatal_with_line_and_column() {
    let site = SiteBuilder::new()
        .page(
            "pixpipe.yaml",
            "content_width: 800\nshortcodes:\n  image:\n    lnk: x\n",
        )
        .build();
    let run = pixpipe(&["scan", site.root().to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("pixpipe.yaml:4:5: shortcodes.image: unknown field `lnk`"),
        "{}",
        run.stderr
    );
}

#[test]
fn missing_site_root_is_fatal() {
    let run = pixpipe(&["scan", "/nonexistent/site"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .starts_with("error: cannot read site root /nonexistent/site"),
        "{}",
        run.stderr
    );
}

#[test]
fn table_output_lists_location_syntax_and_file() {
    let site = SiteBuilder::new()
        .page("content/a/index.md", "![x](x.png)\n")
        .build();
    let run = pixpipe(&["scan", site.root().to_str().unwrap()]);
    assert_eq!(run.code, 0);
    assert_eq!(
        run.stdout,
        "LOCATION                SYNTAX    SRC    FILE\ncontent/a/index.md:1:1  markdown  x.png  MISSING content/a/x.png\n"
    );
}

#[test]
fn corpus_hugo_docs_matches_ground_truth_with_no_config() {
    corpus_site_matches_ground_truth("hugo-docs", false);
}

fn scan_rows(root: &std::path::Path) -> Vec<(String, String, Option<String>, Option<bool>)> {
    let (got, stderr, code) = scan_jsonl(root, &[]);
    assert_eq!(code, 0, "{stderr}");
    got.iter()
        .map(|v| {
            (
                v["page"].as_str().unwrap().to_string(),
                v["src"].as_str().unwrap().to_string(),
                v["resolved"].as_str().map(str::to_string),
                v["exists"].as_bool(),
            )
        })
        .collect()
}

fn row(
    page: &str,
    src: &str,
    resolved: &str,
    exists: bool,
) -> (String, String, Option<String>, Option<bool>) {
    (page.into(), src.into(), Some(resolved.into()), Some(exists))
}

#[test]
fn hugo_config_in_each_format_and_place_sets_the_content_folder() {
    let configs = [
        (
            "hugo.toml",
            "contentDir = 'src'\nstaticDir = ['static', 'public-images']\n",
        ),
        (
            "hugo.yaml",
            "contentDir: src\nstaticDir: [static, public-images]\n",
        ),
        (
            "config.json",
            "{\"contentDir\": \"src\", \"staticDir\": [\"static\", \"public-images\"]}",
        ),
        (
            "config/_default/hugo.toml",
            "contentDir = 'src'\nstaticDir = ['static', 'public-images']\n",
        ),
    ];
    for (file, text) in configs {
        let site = SiteBuilder::new()
            .page(file, text)
            .page("src/post/index.md", "![a](a.png)\n\n![l](/logo.png)\n")
            .image("src/post/a.png", 8, 8)
            .image("public-images/logo.png", 8, 8)
            .build();
        assert_eq!(
            scan_rows(site.root()),
            vec![
                row("src/post/index.md", "a.png", "src/post/a.png", true),
                row(
                    "src/post/index.md",
                    "/logo.png",
                    "public-images/logo.png",
                    true
                )
            ],
            "{file}"
        );
    }
}

#[test]
fn hugo_languages_mounts_and_base_url() {
    let site = SiteBuilder::new()
        .page("config/_default/hugo.yaml", "baseURL: https://example.org/docs/\ndefaultContentLanguage: en\n")
        .page(
            "config/_default/languages.toml",
            "[en]\ncontentDir = 'content/en'\nweight = 1\n[zh]\ncontentDir = 'content/zh'\nweight = 2\n",
        )
        .page("content/en/blog/p/index.md", "![a](./a.png)\n\n![s](/docs/images/s.png)\n")
        .page("content/zh/blog/p/index.md", "![a](./a.png)\n\n![z](/zh/blog/p/a.png)\n")
        .image("content/en/blog/p/a.png", 8, 8)
        .image("static/images/s.png", 8, 8)
        .build();
    assert_eq!(
        scan_rows(site.root()),
        vec![
            row(
                "content/en/blog/p/index.md",
                "./a.png",
                "content/en/blog/p/a.png",
                true
            ),
            row(
                "content/en/blog/p/index.md",
                "/docs/images/s.png",
                "static/images/s.png",
                true
            ),
            // A translation without its own copy finds the default language's file.
            row(
                "content/zh/blog/p/index.md",
                "./a.png",
                "content/en/blog/p/a.png",
                true
            ),
            // Its URL under /zh/ is not: Hugo publishes the file once, at the default
            // language's URL.
            row(
                "content/zh/blog/p/index.md",
                "/zh/blog/p/a.png",
                "content/zh/blog/p/a.png",
                false
            ),
        ]
    );
    let run = pixpipe(&["scan", site.root().to_str().unwrap(), "--explain-config"]);
    assert!(
        run.stdout
            .contains("content: content/zh (language zh, URLs under /zh)\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("from Hugo: base path: /docs (baseURL)\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "outputs: auto (the source's family), webp for a 1200 px column at densities 1, 2; \
             quality jpeg 80, webp 80, avif 43; webp effort 4; avif speed 8; metadata strip\n"
        ),
        "{}",
        run.stdout
    );

    let mounted = SiteBuilder::new()
        .page("hugo.toml", "[[module.mounts]]\nsource = 'docs'\ntarget = 'content/guide'\n[[module.mounts]]\nsource = 'shared-images'\ntarget = 'static'\n")
        .page("docs/install.md", "![x](/guide/install/x.png)\n\n![y](/y.png)\n")
        .image("docs/install/x.png", 8, 8)
        .image("shared-images/y.png", 8, 8)
        .page("content/ignored.md", "![n](n.png)\n")
        .build();
    assert_eq!(
        scan_rows(mounted.root()),
        vec![
            row(
                "docs/install.md",
                "/guide/install/x.png",
                "docs/install/x.png",
                true
            ),
            row("docs/install.md", "/y.png", "shared-images/y.png", true)
        ]
    );
}

/// Front matter images against `expected/<site>.frontmatter.jsonl` (a careful reader's list):
/// every entry whose value is an image path is found with the same resolution. Values that
/// are page paths (linkerd's `feature: /blog/...`) are not images and are not reported.
fn corpus_front_matter_agrees(site: &str, with_config: bool) {
    let Some(corpus) = corpus() else { return };
    let root = corpus.join("sites").join(site);
    let cfg = format!("{}/tests/corpus/{site}.yaml", env!("CARGO_MANIFEST_DIR"));
    let extra: Vec<&str> = if with_config {
        vec!["--config", &cfg]
    } else {
        vec![]
    };
    let (got, _, code) = scan_jsonl(&root, &extra);
    assert_eq!(code, 0);
    let got: Vec<(String, String, String, Option<bool>)> = got
        .iter()
        .filter_map(|v| {
            let key = v["syntax"].as_str().unwrap().strip_prefix("frontmatter:")?;
            Some((
                v["page"].as_str().unwrap().into(),
                key.into(),
                v["src"].as_str().unwrap().into(),
                v["exists"].as_bool(),
            ))
        })
        .collect();
    let text = std::fs::read_to_string(
        corpus
            .join("expected")
            .join(format!("{site}.frontmatter.jsonl")),
    )
    .unwrap();
    let is_image = |s: &str| {
        [".jpg", ".jpeg", ".png", ".gif", ".svg", ".webp"]
            .iter()
            .any(|e| s.to_lowercase().ends_with(e))
    };
    let expected: Vec<(String, String, String, Option<bool>)> = jsonl(&text)
        .iter()
        .filter(|v| is_image(v["src"].as_str().unwrap()))
        .map(|v| {
            (
                v["page"].as_str().unwrap().into(),
                v["key"].as_str().unwrap().into(),
                v["src"].as_str().unwrap().into(),
                v["exists"].as_bool(),
            )
        })
        .collect();
    let mut a = got.clone();
    let mut b = expected.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b, "{site}");
}

#[test]
fn corpus_linkerd_front_matter_images_agree_with_no_config() {
    corpus_front_matter_agrees("linkerd", false);
}

#[test]
fn corpus_istio_front_matter_images_agree() {
    corpus_front_matter_agrees("istio", true);
}

#[test]
fn permalinks_slug_and_url_map_links_to_their_bundles() {
    let site = SiteBuilder::new()
        .page("config/_default/permalinks.yaml", "page:\n  blog: /:year/:month/:day/:slug/\n")
        .page("content/blog/2023/0621-roundup/index.md", "---\ndate: 2023-06-21T00:00:00Z\nslug: the-roundup\n---\n![c](cover.jpg)\n")
        .image("content/blog/2023/0621-roundup/cover.jpg", 8, 8)
        .page("content/docs/moved/index.md", "---\nurl: /elsewhere/page/\n---\n")
        .image("content/docs/moved/d.png", 8, 8)
        .page(
            "content/blog/2024/later/index.md",
            "---\ndate: 2024-01-01\nparams:\n  cover: /2023/06/21/the-roundup/cover.jpg\nimages: [/elsewhere/page/d.png]\n---\n![x](/2023/06/21/the-roundup/cover.jpg)\n",
        )
        .build();
    let rows = scan_rows(site.root());
    let later: Vec<_> = rows
        .iter()
        .filter(|r| r.0 == "content/blog/2024/later/index.md")
        .cloned()
        .collect();
    assert_eq!(
        later,
        vec![
            row(
                "content/blog/2024/later/index.md",
                "/2023/06/21/the-roundup/cover.jpg",
                "content/blog/2023/0621-roundup/cover.jpg",
                true
            ),
            row(
                "content/blog/2024/later/index.md",
                "/elsewhere/page/d.png",
                "content/docs/moved/d.png",
                true
            ),
            row(
                "content/blog/2024/later/index.md",
                "/2023/06/21/the-roundup/cover.jpg",
                "content/blog/2023/0621-roundup/cover.jpg",
                true
            ),
        ]
    );
    let (got, _, _) = scan_jsonl(site.root(), &[]);
    let syntaxes: Vec<&str> = got
        .iter()
        .filter(|v| v["page"] == "content/blog/2024/later/index.md")
        .map(|v| v["syntax"].as_str().unwrap())
        .collect();
    assert_eq!(
        syntaxes,
        vec!["frontmatter:params.cover", "frontmatter:images", "markdown"]
    );
}

#[test]
fn hugo_resource_rules_for_shortcodes_that_look_up_page_resources() {
    let site = SiteBuilder::new()
        // Docsy's imgproc finds `**flux*` among the page's resources, case-insensitively.
        .page("content/blog/flux/index.md", "{{< imgproc flux Fill \"400x450\" >}}Flux{{< /imgproc >}}\n\n{{< imgproc nothing Fit \"10x10\" >}}x{{< /imgproc >}}\n")
        .image("content/blog/flux/Flux+OCI-featured.png", 8, 8)
        // A gallery shows every file its pattern matches: one reference each.
        .page("content/events/day/index.md", "{{< gallery match=\"photos/*\" >}}\n")
        .image("content/events/day/photos/b.jpg", 8, 8)
        .image("content/events/day/photos/a.jpg", 8, 8)
        // figure uses .Resources.Get: case-insensitive. A nested bundle's file is not a
        // resource of the outer page: img (page resource, then assets/) does not find it.
        .page("content/docs/index.md", "{{< figure src=\"PIC.png\" >}}\n\n{{< img src=\"sub/inner.png\" >}}\n")
        .image("content/docs/pic.png", 8, 8)
        .page("content/docs/sub/index.md", "inner\n")
        .image("content/docs/sub/inner.png", 8, 8)
        // A leaf page `guide.md` owns its sibling folder `guide/`.
        .page("content/docs/guide.md", "{{< figure src=\"shot.png\" >}}\n")
        .image("content/docs/guide/shot.png", 8, 8)
        .build();
    let (got, stderr, code) = scan_jsonl(site.root(), &[]);
    assert_eq!(code, 0, "{stderr}");
    let rows: Vec<GlobRow> = got
        .iter()
        .map(|v| {
            (
                v["syntax"].as_str().unwrap().into(),
                v["src"].as_str().unwrap().into(),
                v["glob"].as_str().map(str::to_string),
                v["resolved"].as_str().map(str::to_string),
                v["exists"].as_bool(),
            )
        })
        .collect();
    let s = |x: &str| x.to_string();
    assert_eq!(
        rows,
        vec![
            (
                s("shortcode:imgproc"),
                s("flux"),
                Some(s("**flux*")),
                Some(s("content/blog/flux/Flux+OCI-featured.png")),
                Some(true)
            ),
            (
                s("shortcode:imgproc"),
                s("nothing"),
                Some(s("**nothing*")),
                Some(s("content/blog/flux/**nothing*")),
                Some(false)
            ),
            (
                s("shortcode:figure"),
                s("shot.png"),
                None,
                Some(s("content/docs/guide/shot.png")),
                Some(true)
            ),
            (
                s("shortcode:figure"),
                s("PIC.png"),
                None,
                Some(s("content/docs/pic.png")),
                Some(true)
            ),
            (
                s("shortcode:img"),
                s("sub/inner.png"),
                None,
                Some(s("assets/sub/inner.png")),
                Some(false)
            ),
            (
                s("shortcode:gallery"),
                s("photos/a.jpg"),
                Some(s("photos/*")),
                Some(s("content/events/day/photos/a.jpg")),
                Some(true)
            ),
            (
                s("shortcode:gallery"),
                s("photos/b.jpg"),
                Some(s("photos/*")),
                Some(s("content/events/day/photos/b.jpg")),
                Some(true)
            ),
        ]
    );
}

#[test]
fn translations_share_bundle_files_and_symlinks_in_content_are_ignored() {
    let site = SiteBuilder::new()
        .page("hugo.toml", "defaultContentLanguage = 'en'\n[languages.en]\ncontentDir = 'content/en'\n[languages.fr]\ncontentDir = 'content/fr'\n")
        .page("content/en/p/index.md", "{{< figure src=\"a.png\" >}}\n\n![l](linked.png)\n")
        .page("content/fr/p/index.md", "{{< figure src=\"a.png\" >}}\n")
        .image("content/en/p/a.png", 8, 8)
        .image("content/en/p/real.png", 8, 8)
        .symlink("content/en/p/linked.png", "real.png")
        .build();
    assert_eq!(
        scan_rows(site.root()),
        vec![
            row("content/en/p/index.md", "a.png", "content/en/p/a.png", true),
            row(
                "content/en/p/index.md",
                "linked.png",
                "content/en/p/linked.png",
                false
            ),
            row("content/fr/p/index.md", "a.png", "content/en/p/a.png", true),
        ]
    );
    let run = pixpipe(&["check", site.root().to_str().unwrap()]);
    assert!(run.stdout.contains("error[missing-image]: image is a symbolic link in content, which Hugo never publishes: content/en/p/linked.png"), "{}", run.stdout);
}

#[test]
fn mount_file_filters_decide_what_the_site_sees() {
    let site = SiteBuilder::new()
        .page("hugo.yaml", "module:\n  mounts:\n    - source: content\n      target: content\n      files: ['**', '! drafts/**']\n")
        .page("content/a/index.md", "![x](x.png)\n")
        .page("content/drafts/d/index.md", "![y](y.png)\n")
        .image("content/a/x.png", 8, 8)
        .build();
    assert_eq!(
        scan_rows(site.root()),
        vec![row("content/a/index.md", "x.png", "content/a/x.png", true)]
    );
}
