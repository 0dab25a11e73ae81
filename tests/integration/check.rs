//! `pixpipe check`: exact diagnostics, formats and exit codes, on generated sites and on the
//! shared corpus when it is there.

use crate::support::exif::Exif;
use crate::support::{
    corpus, jpeg_bytes, jsonl, photo, photo_site, pixpipe, png_bytes, SiteBuilder,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

fn check(root: &std::path::Path, extra: &[&str]) -> crate::support::Run {
    let mut args = vec!["check", root.to_str().unwrap()];
    args.extend_from_slice(extra);
    pixpipe(&args)
}

fn check_json(root: &std::path::Path, extra: &[&str]) -> (Vec<Value>, i32) {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    let run = check(root, &args);
    let v: Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    (v.as_array().unwrap().clone(), run.code)
}

fn codes(diags: &[Value]) -> Vec<(String, i64, String)> {
    diags
        .iter()
        .map(|d| {
            (
                d["file"].as_str().unwrap_or("").to_string(),
                d["line"].as_i64().unwrap_or(0),
                d["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn missing_image_points_at_the_attribute_and_suggests_the_case() {
    // istio.io's `image` links to the URL (a page resource lookup ignores case, as Hugo's
    // .Resources.Get does, and works on Linux).
    let site = SiteBuilder::new()
        .page(
            "pixpipe.yaml",
            "shortcodes:\n  image: {link: page-dir, lookup: [url]}\n",
        )
        .page(
            "content/events/spring-fair/index.md",
            "# Fair\n\n{{< image width=\"40%\"\n    link=\"./stage.jpg\"\n    >}}\n",
        )
        .image("content/events/spring-fair/Stage.jpg", 600, 400)
        .build();
    let run = check(site.root(), &[]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stdout,
        "content/events/spring-fair/index.md:4:11: error[missing-image]: image not found: ./stage.jpg\n  |\n4 |     link=\"./stage.jpg\"\n  |           ^\n  help: did you mean ./Stage.jpg? names are case-sensitive on Linux, and the file is `Stage.jpg`\n"
    );
    assert_eq!(
        run.stderr,
        "check: 1 error, 0 warnings (1 references in 1 pages, 0 image files)\n"
    );
}

#[test]
fn typo_missing_extension_and_file_in_another_root_get_fixes() {
    let site = SiteBuilder::new()
        .page(
            "content/a/index.md",
            "![a](./stage.jpeg)\n\n![b](./booth-2jpg)\n\n![c](./logo.png)\n",
        )
        .image("content/a/stage.jpg", 10, 10)
        .image("content/a/booth-2.jpg", 10, 10)
        .image("static/logo.png", 10, 10)
        .build();
    let (diags, code) = check_json(site.root(), &[]);
    assert_eq!(code, 1);
    let helps: Vec<&str> = diags
        .iter()
        .map(|d| d["help"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        helps,
        vec![
            "did you mean ./stage.jpg?",
            "did you mean ./booth-2.jpg?",
            "did you mean /logo.png? the file is static/logo.png",
        ]
    );
}

#[test]
fn nfd_file_name_is_explained() {
    let nfd = "les-mise\u{301}rables.png";
    let site = SiteBuilder::new()
        .page("content/a/index.md", "![a](./les-mis\u{e9}rables.png)\n")
        .image(&format!("content/a/{nfd}"), 10, 10)
        .build();
    let (diags, _) = check_json(site.root(), &[]);
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0]["code"], "missing-image");
    assert!(
        diags[0]["help"]
            .as_str()
            .unwrap()
            .contains("Unicode NFD form"),
        "{}",
        diags[0]["help"]
    );
}

#[test]
fn ratio_mismatch_gives_the_right_value_and_too_small_the_pixels_needed() {
    let site = SiteBuilder::new()
        .page(
            "content/p/index.md",
            "{{< image width=\"75%\" ratio=\"50%\" link=\"./wide.jpg\" caption=\"Wide\" >}}\n\n{{< image width=\"40 %\" link=\"./wide.jpg\" >}}\n\n<img src=\"wide.jpg\" width=\"1000\">\n",
        )
        .image("content/p/wide.jpg", 800, 450)
        .build();
    let (diags, code) = check_json(site.root(), &[]);
    assert_eq!(code, 1, "bad-width is an error");
    let got: Vec<(String, i64, i64, String, String)> = diags
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().into(),
                d["line"].as_i64().unwrap(),
                d["column"].as_i64().unwrap(),
                d["message"].as_str().unwrap().into(),
                d["help"].as_str().unwrap().into(),
            )
        })
        .collect();
    let s = |x: &str| x.to_string();
    assert_eq!(
        got,
        vec![
            (s("too-small"), 1, 18, s("image is 800 px wide, but width=\"75%\" (75% of content_width 1200) shows it 900 px wide"), s("use an original at least 900 px wide (1800 px for 2x screens), or declare a smaller width")),
            (s("ratio-mismatch"), 1, 30, s("declared ratio 50% does not match the image: 800x450 is 56.25%"), s("write ratio=\"56.25%\"")),
            (s("bad-width"), 3, 18, s("shortcode `image` has width=\"40 %\""), s("write a percentage without a space (width=\"40%\")")),
            (s("too-small"), 5, 28, s("image is 800 px wide, but width=\"1000\" shows it 1000 px wide"), s("use an original at least 1000 px wide (2000 px for 2x screens), or declare a smaller width")),
        ]
    );
}

#[test]
fn ratio_uses_the_displayed_size_after_exif_orientation() {
    let rotated = Exif {
        orientation: Some(6),
        ..Exif::default()
    };
    let site = SiteBuilder::new()
        .page("content/p/index.md", "{{< image ratio=\"75%\" link=\"./portrait.jpg\" >}}\n\n{{< image ratio=\"133.33%\" link=\"./portrait.jpg\" >}}\n")
        .photo_with_exif("content/p/portrait.jpg", 400, 300, &rotated)
        .build();
    let (diags, _) = check_json(site.root(), &[]);
    assert_eq!(
        codes(&diags),
        vec![(s("content/p/index.md"), 1, s("ratio-mismatch"))]
    );
    assert_eq!(diags[0]["help"], "write ratio=\"133.33%\"");
}

fn s(x: &str) -> String {
    x.to_string()
}

#[test]
fn broken_files_get_their_codes_and_nothing_panics() {
    let good = jpeg_bytes(&photo(64, 48, 1));
    let mut bad_crc = png_bytes(&photo(16, 16, 2));
    let idat = bad_crc.windows(4).position(|w| w == b"IDAT").unwrap();
    bad_crc[idat + 6] ^= 0x55;
    let mut bomb = png_bytes(&photo(1, 1, 3));
    bomb[16..20].copy_from_slice(&65535u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&65535u32.to_be_bytes());
    let crc = crc32(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    let site = SiteBuilder::new()
        .page(
            "content/p/index.md",
            "![](truncated.jpg)\n![](empty.png)\n![](crc.png)\n![](bomb.png)\n![](misnamed.jpg)\n![](good.jpg)\n![](../../../outside.png)\n",
        )
        .bytes("content/p/truncated.jpg", good[..good.len() / 2].to_vec())
        .bytes("content/p/empty.png", vec![])
        .bytes("content/p/crc.png", bad_crc)
        .bytes("content/p/bomb.png", bomb)
        .bytes("content/p/misnamed.jpg", png_bytes(&photo(8, 8, 4)))
        .bytes("content/p/good.jpg", good)
        .build();
    let (diags, code) = check_json(site.root(), &[]);
    assert_eq!(code, 1);
    let got: Vec<(i64, String, String)> = diags
        .iter()
        .map(|d| {
            (
                d["line"].as_i64().unwrap(),
                d["code"].as_str().unwrap().into(),
                d["message"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (1, s("undecodable"), s("content/p/truncated.jpg: JPEG image is truncated: its image data ends early (no end-of-image marker)")),
            (2, s("undecodable"), s("content/p/empty.png: file is empty (0 bytes)")),
            (3, s("undecodable"), s("content/p/crc.png: not a readable PNG image: the checksum (CRC) of its IDAT chunk is wrong")),
            (4, s("too-large"), s("content/p/bomb.png: image is 65535x65535 (4294 megapixels), over the limit of 268 megapixels")),
            (5, s("wrong-extension"), s("content/p/misnamed.jpg: file is a PNG image but its name says JPEG")),
            (7, s("outside-root"), s("image path leaves the site root: ../../../outside.png")),
        ]
    );
}

fn crc32(b: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(b);
    h.finalize()
}

#[test]
fn symlink_to_outside_the_root_is_never_read() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("x.jpg"), jpeg_bytes(&photo(8, 8, 1))).unwrap();
    let site = SiteBuilder::new()
        .page("content/p/index.md", "![](x.jpg)\n")
        .symlink(
            "content/p/x.jpg",
            outside.path().join("x.jpg").to_str().unwrap(),
        )
        .build();
    let (diags, code) = check_json(site.root(), &[]);
    assert_eq!(code, 1);
    assert_eq!(diags[0]["code"], "outside-root");
    assert_eq!(
        diags[0]["message"],
        "image is a symbolic link to a file outside the site root: content/p/x.jpg"
    );
}

#[test]
fn lints_are_off_by_default_and_on_when_configured() {
    let gps = Exif {
        gps: Some((52.37, 4.89)),
        ..Exif::default()
    };
    let builder = || {
        SiteBuilder::new()
            .page(
                "content/p/index.md",
                "{{< image link=\"./a.jpg\" caption=\"Welcome.\" >}}\n\n![](./a.jpg)\n",
            )
            .photo_with_exif("content/p/a.jpg", 64, 48, &gps)
            .image("content/p/unused.png", 8, 8)
    };
    let site = builder().build();
    let (diags, code) = check_json(site.root(), &[]);
    assert_eq!((diags.len(), code), (0, 0));
    let site = builder()
        .page("pixpipe.yaml", "lint:\n  caption_period: error\n  missing_alt: warning\n  gps: warning\n  orphans: note\n  max_bytes: 100\n")
        .build();
    let (diags, code) = check_json(site.root(), &[]);
    assert_eq!(code, 1);
    assert_eq!(
        codes(&diags),
        vec![
            (s("content/p/index.md"), 1, s("gps")),
            (s("content/p/index.md"), 1, s("max-bytes")),
            (s("content/p/index.md"), 1, s("caption-period")),
            (s("content/p/index.md"), 3, s("missing-alt")),
            (s("content/p/index.md"), 3, s("gps")),
            (s("content/p/index.md"), 3, s("max-bytes")),
            (s("content/p/unused.png"), 0, s("orphan")),
        ]
    );
    let period = diags
        .iter()
        .find(|d| d["code"] == "caption-period")
        .unwrap();
    assert_eq!(period["help"], "write caption=\"Welcome\"");
}

#[test]
fn warnings_fail_only_with_deny_warnings() {
    let site = SiteBuilder::new()
        .page("content/p/index.md", "![](x.jpg)\n")
        .bytes("content/p/x.jpg", png_bytes(&photo(8, 8, 1)))
        .build();
    assert_eq!(check(site.root(), &[]).code, 0);
    assert_eq!(check(site.root(), &["--deny", "warnings"]).code, 1);
}

#[test]
fn github_format_is_escaped_annotations() {
    let site = SiteBuilder::new()
        .page("content/p/index.md", "![](a,b.jpg)\n")
        .build();
    let run = check(site.root(), &["--format", "github"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stdout,
        "::error file=content/p/index.md,line=1,col=5,title=pixpipe missing-image::image not found: a,b.jpg\n"
    );
}

#[test]
fn shortcode_in_a_code_block_is_a_warning_with_the_escape() {
    let site = SiteBuilder::new()
        .page(
            "content/p/index.md",
            "```\n{{< image link=\"x.png\" >}}\n```\n",
        )
        .build();
    let (diags, code) = check_json(site.root(), &[]);
    assert_eq!(code, 0);
    assert_eq!(diags[0]["code"], "shortcode-in-code");
    assert_eq!(
        diags[0]["help"],
        "to show it as code, escape it: {{</* image … */>}}"
    );
}

/// The corpus sites: `missing-image` exactly where the ground truth says the file does not
/// exist, and no other error except those listed (each shown to be really broken).
#[test]
fn corpus_sites_report_exactly_the_missing_images() {
    let Some(corpus) = corpus() else { return };
    for site in ["hugo-docs", "linkerd", "istio"] {
        let cfg = format!("{}/tests/corpus/{site}.yaml", env!("CARGO_MANIFEST_DIR"));
        let (diags, _) = check_json(&corpus.join("sites").join(site), &["--config", &cfg]);
        let expected_text =
            std::fs::read_to_string(corpus.join("expected").join(format!("{site}.jsonl"))).unwrap();
        let body_missing: Vec<(String, i64)> = jsonl(&expected_text)
            .iter()
            .filter(|r| r["exists"] == false)
            .map(|r| {
                (
                    r["page"].as_str().unwrap().to_string(),
                    r["line"].as_i64().unwrap(),
                )
            })
            .collect();
        // Front matter images are checked too (page paths in `feature:` are not images).
        let fm_text = std::fs::read_to_string(
            corpus
                .join("expected")
                .join(format!("{site}.frontmatter.jsonl")),
        )
        .unwrap();
        let is_image = |s: &str| {
            [".jpg", ".png", ".svg", ".gif", ".webp"]
                .iter()
                .any(|e| s.ends_with(e))
        };
        let fm_missing: Vec<(String, i64)> = jsonl(&fm_text)
            .iter()
            .filter(|r| r["exists"] == false && is_image(r["src"].as_str().unwrap()))
            .map(|r| {
                (
                    r["page"].as_str().unwrap().to_string(),
                    r["line"].as_i64().unwrap(),
                )
            })
            .collect();
        let count = body_missing.len() + fm_missing.len();
        let expected: BTreeSet<(String, i64)> =
            body_missing.into_iter().chain(fm_missing).collect();
        // A diagnostic points at the value, which may sit a few lines below the reference.
        let missing: Vec<&Value> = diags
            .iter()
            .filter(|d| d["code"] == "missing-image")
            .collect();
        assert_eq!(missing.len(), count, "{site}");
        for d in &missing {
            let (file, line) = (
                d["file"].as_str().unwrap().to_string(),
                d["line"].as_i64().unwrap(),
            );
            assert!(
                (0..=6).any(|k| expected.contains(&(file.clone(), line - k))),
                "{site}: unexpected {d}"
            );
        }
        let other_errors: BTreeMap<String, String> = diags
            .iter()
            .filter(|d| d["severity"] == "error" && d["code"] != "missing-image")
            .map(|d| {
                (
                    d["file"].as_str().unwrap().to_string(),
                    d["message"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(other_errors.is_empty(), "{site}: {other_errors:#?}");
    }
}

/// Every file in photos/broken/ gets the diagnostic its damage deserves; the good files in
/// formats/ and orientation/ get no error.
#[test]
fn corpus_broken_photos_each_get_their_diagnostic() {
    let Some(corpus) = corpus() else { return };
    let site = photo_site(&corpus, &["broken", "formats", "orientation"]);
    let (diags, code) = check_json(site.root(), &["--deep"]);
    assert_eq!(code, 1);
    let mut by_file: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for d in &diags {
        let file = d["resolved"]
            .as_str()
            .unwrap()
            .trim_start_matches("content/p/")
            .to_string();
        by_file.entry(file).or_default().insert(format!(
            "{}:{}",
            d["severity"].as_str().unwrap(),
            d["code"].as_str().unwrap()
        ));
    }
    let want: BTreeMap<&str, &[&str]> = [
        ("broken/bomb-65535x65535.png", &["error:too-large"][..]),
        ("broken/broken.png", &["error:undecodable"]),
        ("broken/corrupted.jpg", &["warning:damaged-data"]),
        ("broken/decompression_bomb.gif", &["error:too-large"]),
        ("broken/empty.jpg", &["error:undecodable"]),
        ("broken/hopper_bad_exif.jpg", &["warning:damaged-metadata"]),
        ("broken/jpeg-named-as.png", &["warning:wrong-extension"]),
        ("broken/junk_jpeg_header.jpg", &["warning:damaged-data"]),
        ("broken/png-named-as.jpg", &["warning:wrong-extension"]),
        (
            "broken/png_decompression_dos.png",
            &["warning:damaged-metadata"],
        ),
        ("broken/pngsuite-xcsn0g01.png", &["error:undecodable"]),
        ("broken/pngsuite-xd0n2c08.png", &["error:undecodable"]),
        ("broken/pngsuite-xdtn0g01.png", &["error:undecodable"]),
        ("broken/pngsuite-xhdn0g08.png", &["error:undecodable"]),
        ("broken/pngsuite-xs1n0g01.png", &["error:undecodable"]),
        ("broken/truncated_end_chunk.png", &["error:undecodable"]),
        ("broken/truncated_image.png", &["error:undecodable"]),
        ("broken/truncated_jpeg.jpg", &["error:undecodable"]),
        ("broken/zero_width.gif", &["error:undecodable"]),
        ("formats/Arbitro.tiff", &["warning:unsupported-format"]),
        ("formats/sample.heif", &["warning:unsupported-format"]),
    ]
    .into_iter()
    .collect();
    let got: BTreeMap<&str, Vec<&str>> = by_file
        .iter()
        .map(|(k, v)| (k.as_str(), v.iter().map(String::as_str).collect()))
        .collect();
    let want: BTreeMap<&str, Vec<&str>> = want.into_iter().map(|(k, v)| (k, v.to_vec())).collect();
    assert_eq!(got, want);
}

#[test]
fn an_image_broken_by_a_nul_byte_is_reported_not_dropped() {
    // Issue #17, item 9: `![b](ok\0.jpg)` is text for CommonMark (and Hugo), and check said
    // nothing about it.
    let site = SiteBuilder::new()
        .image("content/a/ok.jpg", 640, 480)
        .page(
            "content/a/index.md",
            "Intro.\n\n![b](ok\0.jpg)\n\n![c](ok.jpg)\n",
        )
        .build();
    let run = check(site.root(), &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stdout.contains(
            "content/a/index.md:3:1: error[bad-image]: this image is shown as text: its destination holds a control character"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("help: remove the invisible character"),
        "{}",
        run.stdout
    );
}

#[test]
fn dangling_and_looping_symlinks_are_not_called_outside_the_root() {
    // Issue #17, item 9: a dangling or looping symlink was reported as "a symbolic link to a
    // file outside the site root", which sends the user looking in the wrong place.
    let site = SiteBuilder::new()
        .page(
            "content/a/index.md",
            "![d](/img/dangling.jpg)\n![l](/img/loop.jpg)\n![o](/img/out.jpg)\n",
        )
        .symlink("static/img/dangling.jpg", "gone.jpg")
        .symlink("static/img/loop.jpg", "loop.jpg")
        .symlink("static/img/out.jpg", "/etc/hostname")
        .build();
    let run = check(site.root(), &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let broken = "error[missing-image]: image is a symbolic link that leads to no file (its target is missing or not a file, or the links loop)";
    assert!(
        run.stdout.contains(&format!(
            "content/a/index.md:1:6: {broken}: static/img/dangling.jpg"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "content/a/index.md:2:6: {broken}: static/img/loop.jpg"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("content/a/index.md:3:6: error[outside-root]: image is a symbolic link to a file outside the site root: static/img/out.jpg"),
        "{}",
        run.stdout
    );
}
