//! `pixpipe build`: output sizes, orientation, metadata, colour, cache, determinism, rewrite.

use crate::support::exif::Exif;
use crate::support::{
    corpus, jpeg_bytes, photo, photo_site, pixpipe, png_bytes, quadrants, stored_for_orientation,
    tree, with_icc, Run, SiteBuilder,
};
use std::path::Path;

fn build(root: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["build", root.to_str().unwrap()];
    args.extend_from_slice(extra);
    pixpipe(&args)
}

fn manifest(root: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(root.join(".pixpipe/site/data/pixpipe.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

fn variants_of(m: &serde_json::Value, src: &str) -> Vec<(u64, u64, String)> {
    m["images"][src]["variants"]
        .as_array()
        .unwrap_or_else(|| panic!("no {src} in manifest: {m}"))
        .iter()
        .map(|v| {
            (
                v["width"].as_u64().unwrap(),
                v["height"].as_u64().unwrap(),
                v["format"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The summary's counts of variants made and reused.
fn made_and_reused(run: &Run) -> (u64, u64) {
    (
        count_in_summary(&run.stderr, "made"),
        count_in_summary(&run.stderr, "reused"),
    )
}

fn count_in_summary(stderr: &str, what: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("build: "))
        .unwrap_or_else(|| panic!("{stderr}"));
    crate::support::number_before(line, what)
}

#[test]
fn outputs_have_the_planned_sizes_and_are_never_upscaled() {
    let site = SiteBuilder::new()
        .page("content/a/index.md", "{{< image width=\"40%\" link=\"./wide.jpg\" >}}\n\n![small](small.png)\n\n<img src=\"wide.jpg\" width=\"1000\">\n")
        .image("content/a/wide.jpg", 1600, 900)
        .image("content/a/small.png", 300, 200)
        .build();
    let run = build(site.root(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let m = manifest(site.root());
    // 40% of 1200 = 480 → 480 and 960; <img width=1000> → 1000, and 2000 is above 1600: 1600.
    // Phones and a tablet (the default `screens`) get widths of their own, unless one at most
    // 10 % larger serves them: 40% is 137-294 CSS px there → 275, 430, 589 (266, 394, 399 and
    // 478 are served by 275, 430, 430 and 480); the <img> is 343-736 px → 686, 1074, 1194.
    let s = |x: &str| x.to_string();
    let widths = [
        (275, 155),
        (430, 242),
        (480, 270),
        (589, 331),
        (686, 386),
        (960, 540),
        (1000, 563),
        (1074, 604),
        (1194, 672),
        (1600, 900),
    ];
    let expected: Vec<(u64, u64, String)> = ["jpeg", "webp"]
        .iter()
        .flat_map(|f| widths.iter().map(move |&(w, h)| (w, h, s(f))))
        .collect();
    assert_eq!(variants_of(&m, "content/a/wide.jpg"), expected);
    // The <img> offers every width made for it, with the sizes of the layout: the whole
    // column less its 32-px margin on screens narrower than 1032 px, else 1000 px.
    let page = site.read(".pixpipe/site/content/a/index.md");
    assert!(
        page.contains("1074w, ")
            && page.contains(" sizes=\"(max-width: 1032px) calc(100vw - 32px), 1000px\""),
        "{page}"
    );
    // No declared width: the column (1200) is capped at the image's 300 px.
    assert_eq!(
        variants_of(&m, "content/a/small.png"),
        vec![(300, 200, s("png")), (300, 200, s("webp"))]
    );
    for v in m["images"]["content/a/wide.jpg"]["variants"]
        .as_array()
        .unwrap()
    {
        let bytes =
            std::fs::read(site.path(&format!(".pixpipe/site/{}", v["path"].as_str().unwrap())))
                .unwrap();
        let img = image::load_from_memory(&bytes).unwrap();
        assert_eq!(
            (img.width() as u64, img.height() as u64),
            (v["width"].as_u64().unwrap(), v["height"].as_u64().unwrap())
        );
        assert_eq!(v["bytes"].as_u64().unwrap(), bytes.len() as u64);
        let hash = blake3::hash(&bytes).to_hex()[..10].to_string();
        assert_eq!(v["hash"].as_str().unwrap(), hash);
        assert!(v["path"].as_str().unwrap().ends_with(&format!(
            "w.{hash}.{}",
            if v["format"] == "jpeg" { "jpg" } else { "webp" }
        )));
    }
}

#[test]
fn all_eight_exif_orientations_come_out_upright_without_metadata() {
    let upright = quadrants(120, 80);
    let mut b = SiteBuilder::new();
    let mut page = String::new();
    for o in 1..=8u8 {
        let stored = stored_for_orientation(&upright, o);
        let exif = Exif {
            orientation: Some(o as u16),
            gps: Some((52.37, 4.89)),
            description: Some("x".into()),
            ..Exif::default()
        };
        b = b.bytes(
            &format!("content/p/o{o}.jpg"),
            exif.insert_into_jpeg(&jpeg_bytes(&stored)),
        );
        page.push_str(&format!("![o{o}](o{o}.jpg)\n\n"));
    }
    let site = b.page("content/p/index.md", &page).build();
    let run = build(site.root(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let m = manifest(site.root());
    for o in 1..=8u8 {
        let img = &m["images"][format!("content/p/o{o}.jpg")];
        assert_eq!(
            (img["width"].as_u64(), img["height"].as_u64()),
            (Some(120), Some(80)),
            "orientation {o}"
        );
        for v in img["variants"].as_array().unwrap() {
            let bytes =
                std::fs::read(site.path(&format!(".pixpipe/site/{}", v["path"].as_str().unwrap())))
                    .unwrap();
            assert!(
                !bytes.windows(6).any(|w| w == b"Exif\0\0"),
                "EXIF survived in {}",
                v["path"]
            );
            assert!(
                !bytes.windows(4).any(|w| w == b"EXIF"),
                "WebP EXIF chunk in {}",
                v["path"]
            );
            let px = image::load_from_memory(&bytes).unwrap().to_rgb8();
            assert_eq!(px.dimensions(), (120, 80), "orientation {o}");
            let tl = px.get_pixel(10, 10).0;
            let br = px.get_pixel(110, 70).0;
            assert!(
                tl[0] > 180 && tl[2] < 80,
                "orientation {o}: top-left is {tl:?}"
            );
            assert!(
                br[2] > 180 && br[0] < 80,
                "orientation {o}: bottom-right is {br:?}"
            );
        }
    }
}

#[test]
fn wide_gamut_photo_is_converted_to_srgb() {
    let p3 = moxcms::ColorProfile::new_display_p3();
    let icc = p3.encode().unwrap();
    let flat = image::RgbImage::from_pixel(64, 64, image::Rgb([200, 100, 50]));
    let site = SiteBuilder::new()
        .page("content/p/index.md", "![p3](p3.jpg)\n")
        .bytes("content/p/p3.jpg", with_icc(&jpeg_bytes(&flat), &icc))
        .build();
    let run = build(site.root(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let m = manifest(site.root());
    let v = &m["images"]["content/p/p3.jpg"]["variants"][0];
    let out = image::load_from_memory(
        &std::fs::read(site.path(&format!(".pixpipe/site/{}", v["path"].as_str().unwrap())))
            .unwrap(),
    )
    .unwrap()
    .to_rgb8();
    let got = out.get_pixel(32, 32).0;
    // The same colour converted by moxcms directly: P3 (200,100,50) is a more saturated sRGB.
    let want = crate::support::p3_to_srgb([200, 100, 50]);
    assert!(
        want[0] > 205,
        "the conversion must change the colour: {want:?}"
    );
    for c in 0..3 {
        assert!(
            (got[c] as i32 - want[c] as i32).abs() <= 4,
            "got {got:?}, want {want:?}"
        );
    }
}

#[test]
fn second_build_processes_nothing_and_changes_exactly_what_changed() {
    let site = SiteBuilder::new()
        .page("content/a/index.md", "![a](a.jpg)\n\n![b](b.jpg)\n")
        // The column's widths only (the ladder for phones is tested on its own).
        .page("pixpipe.yaml", "screens: []\n")
        .image("content/a/a.jpg", 800, 600)
        .image("content/a/b.jpg", 700, 500)
        .build();
    let first = build(site.root(), &["--jobs", "2"]);
    assert_eq!(count_in_summary(&first.stderr, "made"), 4);
    let before = tree(&site.path(".pixpipe/site"));
    let second = build(site.root(), &[]);
    assert_eq!(
        (
            count_in_summary(&second.stderr, "made"),
            count_in_summary(&second.stderr, "sources decoded")
        ),
        (0, 0),
        "{}",
        second.stderr
    );
    assert_eq!(tree(&site.path(".pixpipe/site")), before);
    // A changed photo rebuilds exactly its own variants; the old ones are removed.
    std::fs::write(
        site.path("content/a/b.jpg"),
        jpeg_bytes(&photo(700, 500, 99)),
    )
    .unwrap();
    let third = build(site.root(), &[]);
    assert_eq!(made_and_reused(&third), (2, 2), "{}", third.stderr);
    assert!(
        count_in_summary(&third.stderr, "stale files removed") >= 2,
        "{}",
        third.stderr
    );
    // A moved photo reuses its outputs.
    std::fs::rename(
        site.path("content/a/a.jpg"),
        site.path("content/a/moved.jpg"),
    )
    .unwrap();
    std::fs::write(
        site.path("content/a/index.md"),
        "![a](moved.jpg)\n\n![b](b.jpg)\n",
    )
    .unwrap();
    let fourth = build(site.root(), &[]);
    assert_eq!(
        count_in_summary(&fourth.stderr, "made"),
        0,
        "{}",
        fourth.stderr
    );
    // A changed setting rebuilds the affected variants only (JPEG quality; WebP stays).
    std::fs::write(
        site.path("pixpipe.yaml"),
        "screens: []\nquality: {jpeg: 70}\n",
    )
    .unwrap();
    let fifth = build(site.root(), &[]);
    assert_eq!(made_and_reused(&fifth), (2, 2), "{}", fifth.stderr);
    // So does libwebp's effort: the WebP outputs are other bytes at the same size.
    let webps = |m: &serde_json::Value| -> Vec<(u64, u64, String)> {
        m["images"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|i| i["variants"].as_array().unwrap().clone())
            .filter(|v| v["format"] == "webp")
            .map(|v| {
                let path = v["path"].as_str().unwrap().to_string();
                let img = image::open(site.path(".pixpipe/site").join(&path)).unwrap();
                assert_eq!(
                    (u64::from(img.width()), u64::from(img.height())),
                    (v["width"].as_u64().unwrap(), v["height"].as_u64().unwrap())
                );
                (
                    v["width"].as_u64().unwrap(),
                    v["height"].as_u64().unwrap(),
                    path,
                )
            })
            .collect()
    };
    let at_4 = webps(&manifest(site.root()));
    std::fs::write(
        site.path("pixpipe.yaml"),
        "screens: []\nquality: {jpeg: 70}\nwebp_effort: 0\n",
    )
    .unwrap();
    let sixth = build(site.root(), &[]);
    assert_eq!(made_and_reused(&sixth), (2, 2), "{}", sixth.stderr);
    let at_0 = webps(&manifest(site.root()));
    assert_eq!((at_4.len(), at_0.len()), (2, 2));
    for (a, b) in at_4.iter().zip(&at_0) {
        assert_eq!((a.0, a.1), (b.0, b.1));
        assert_ne!(a.2, b.2, "the output's name follows its bytes");
    }
}

#[test]
fn jobs_1_and_jobs_2_give_identical_outputs() {
    let make = || {
        SiteBuilder::new()
            .page(
                "content/a/index.md",
                "![a](a.jpg)\n\n{{< figure src=\"b.png\" width=\"50%\" >}}\n\n![c](c.jpg)\n",
            )
            .image("content/a/a.jpg", 1300, 700)
            .image("content/a/b.png", 900, 900)
            .image("content/a/c.jpg", 2000, 1000)
            .build()
    };
    let (one, two) = (make(), make());
    assert_eq!(build(one.root(), &["--jobs", "1"]).code, 0);
    assert_eq!(build(two.root(), &["--jobs", "2"]).code, 0);
    assert_eq!(
        tree(&one.path(".pixpipe/site")),
        tree(&two.path(".pixpipe/site"))
    );
}

#[test]
fn in_place_twice_changes_nothing_the_second_time() {
    let site = SiteBuilder::new()
        .bytes("content/a/index.md", b"\xEF\xBB\xBF{{< image width=\"50%\"\r\n    link=\"./p.jpg\"\r\n    >}}\r\n\r\n![x](p.jpg)\r\n".to_vec())
        .image("content/a/p.jpg", 1000, 500)
        .build();
    let first = build(site.root(), &["--in-place"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let page = std::fs::read(site.path("content/a/index.md")).unwrap();
    let text = String::from_utf8(page.clone()).unwrap();
    assert!(text.starts_with('\u{feff}'), "BOM kept");
    assert!(!text.replace("\r\n", "").contains('\n'), "CRLF kept");
    assert!(text.contains("link=\"./p-600w."), "{text}");
    assert!(text.contains("ratio=\"50%\""), "{text}");
    let before = tree(site.root());
    let second = build(site.root(), &["--in-place"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(
        count_in_summary(&second.stderr, "pages written"),
        0,
        "{}",
        second.stderr
    );
    let after = tree(site.root());
    let changed: Vec<&String> = after
        .keys()
        .filter(|k| !k.starts_with(".pixpipe/cache") && before.get(*k) != after.get(*k))
        .collect();
    assert!(changed.is_empty(), "{changed:?}");
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
}

#[test]
fn broken_image_keeps_its_reference_and_the_rest_is_built() {
    let good = jpeg_bytes(&photo(800, 600, 1));
    let site = SiteBuilder::new()
        .page(
            "content/a/index.md",
            "![ok](ok.jpg)\n\n![bad](bad.jpg)\n\n![gone](gone.jpg)\n",
        )
        .bytes("content/a/ok.jpg", good.clone())
        .bytes("content/a/bad.jpg", good[..good.len() / 3].to_vec())
        .build();
    let run = build(site.root(), &[]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("content/a/index.md:3:8: error[undecodable]: content/a/bad.jpg: JPEG image is truncated"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("content/a/index.md:5:9: error[missing-image]"),
        "{}",
        run.stderr
    );
    let page = site.read(".pixpipe/site/content/a/index.md");
    assert!(page.contains("![ok](ok-800w."), "{page}");
    assert!(
        page.contains("![bad](bad.jpg)\n\n![gone](gone.jpg)\n"),
        "{page}"
    );
    assert_eq!(
        site.read("content/a/index.md"),
        "![ok](ok.jpg)\n\n![bad](bad.jpg)\n\n![gone](gone.jpg)\n",
        "sources untouched"
    );
}

#[test]
fn a_build_killed_midway_then_rerun_equals_a_clean_build() {
    let make = || {
        let mut b = SiteBuilder::new();
        let mut page = String::new();
        for i in 0..12 {
            b = b.image(&format!("content/a/p{i}.jpg"), 1800, 1200);
            page.push_str(&format!("![p{i}](p{i}.jpg)\n\n"));
        }
        b.page("content/a/index.md", &page).build()
    };
    let clean = make();
    assert_eq!(build(clean.root(), &["--jobs", "2"]).code, 0);
    let killed = make();
    for delay_ms in [30u64, 120, 400] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pixpipe"))
            .args(["build", killed.root().to_str().unwrap(), "--quiet"])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
    }
    let rerun = build(killed.root(), &["--jobs", "2"]);
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    assert_eq!(
        tree(&killed.path(".pixpipe/site")),
        tree(&clean.path(".pixpipe/site"))
    );
}

#[test]
fn animated_gif_and_svg_are_copied_under_a_hashed_name() {
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" width="120" height="60"><rect width="120" height="60"/></svg>"#;
    let site = SiteBuilder::new()
        .page("content/a/index.md", "![d](d.svg)\n")
        .bytes("content/a/d.svg", svg.to_vec())
        .build();
    let run = build(site.root(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let hash = blake3::hash(svg).to_hex()[..10].to_string();
    assert_eq!(
        site.read(".pixpipe/site/content/a/index.md"),
        format!("![d](d.{hash}.svg)\n")
    );
    let m = manifest(site.root());
    assert_eq!(m["images"]["content/a/d.svg"]["treatment"], "copied");
    assert_eq!(m["images"]["content/a/d.svg"]["width"], 120);
    assert!(
        run.stderr
            .contains("note[copied]: content/a/d.svg: SVG published as it is (not resized)"),
        "{}",
        run.stderr
    );
}

#[test]
fn output_folder_with_foreign_files_is_refused() {
    let site = SiteBuilder::new()
        .page("content/a/index.md", "x\n")
        .page("public/index.html", "mine")
        .build();
    let run = build(
        site.root(),
        &["--out", site.path("public").to_str().unwrap()],
    );
    assert_eq!(run.code, 2);
    let line = format!(
        "error: cannot write {}: the output folder is not empty and was not made by pixpipe; \
         choose an empty or new folder\n",
        site.path("public").display()
    );
    assert!(run.stderr.contains(&line), "{}", run.stderr);
    assert_eq!(
        run.stderr.matches("choose an empty").count(),
        1,
        "said once"
    );
    assert_eq!(site.read("public/index.html"), "mine");
}

#[test]
fn an_output_folder_holding_only_a_killed_builds_temp_file_is_taken() {
    // A build killed while it wrote its first file leaves only a temporary file behind: the
    // folder is still pixpipe's to use, and the leftover goes.
    let site = SiteBuilder::new()
        .image("content/a/p.jpg", 640, 480)
        .page("content/a/index.md", "![p](p.jpg)\n")
        .page(".pixpipe/site/.pixpipe-tmp-Ab12Cd", "This folder is writ")
        .build();
    let run = build(site.root(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!site.path(".pixpipe/site/.pixpipe-tmp-Ab12Cd").exists());
    assert!(site.path(".pixpipe/site/.pixpipe-mirror").exists());
    let page = site.read(".pixpipe/site/content/a/index.md");
    let name = page
        .strip_prefix("![p](")
        .and_then(|r| r.strip_suffix(")\n"))
        .unwrap_or_else(|| panic!("{page}"));
    assert!(name.starts_with("p-640w."), "{page}");
    assert!(site.path(".pixpipe/site/content/a").join(name).exists());
}

#[test]
fn corpus_orientation_photos_come_out_upright() {
    let Some(corpus) = corpus() else { return };
    let dir = corpus.join("photos/orientation");
    let mut b = SiteBuilder::new();
    let mut page = String::new();
    for o in 1..=8 {
        let name = format!("Landscape_{o}.jpg");
        b = b.bytes(
            &format!("content/p/{name}"),
            std::fs::read(dir.join(&name)).unwrap(),
        );
        page.push_str(&format!("![]({name})\n\n"));
    }
    let site = b.page("content/p/index.md", &page).build();
    assert_eq!(build(site.root(), &[]).code, 0);
    let m = manifest(site.root());
    // Every Landscape_N shows the same upright picture: compare each output with orientation 1's.
    let load = |o: u32| {
        let v = &m["images"][format!("content/p/Landscape_{o}.jpg")]["variants"][0];
        image::load_from_memory(
            &std::fs::read(site.path(&format!(".pixpipe/site/{}", v["path"].as_str().unwrap())))
                .unwrap(),
        )
        .unwrap()
        .to_rgb8()
    };
    let reference = load(1);
    for o in 2..=8 {
        let img = load(o);
        assert_eq!(img.dimensions(), reference.dimensions(), "Landscape_{o}");
        let diff: u64 = img
            .as_raw()
            .iter()
            .zip(reference.as_raw())
            .map(|(a, b)| (*a as i64 - *b as i64).unsigned_abs())
            .sum();
        let mean = diff as f64 / img.as_raw().len() as f64;
        assert!(
            mean < 12.0,
            "Landscape_{o} differs from Landscape_1 by {mean:.1} per sample"
        );
    }
}

/// Real odd files: every good one in photos/formats, photos/color and photos/camera builds to
/// outputs that decode at their planned sizes; every broken one gets its diagnostic and
/// keeps its reference; nothing panics.
#[test]
fn corpus_photos_build_or_get_their_diagnostic() {
    let Some(corpus) = corpus() else { return };
    let site = photo_site(&corpus, &["formats", "color", "camera", "broken"]);
    let run = build(site.root(), &[]);
    assert_eq!(run.code, 1, "broken files are errors: {}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let m = manifest(site.root());
    let images = m["images"].as_object().unwrap();
    for (src, img) in images {
        for v in img["variants"].as_array().unwrap() {
            let bytes =
                std::fs::read(site.path(&format!(".pixpipe/site/{}", v["path"].as_str().unwrap())))
                    .unwrap();
            if img["treatment"] == "copied" {
                continue;
            }
            let out = image::load_from_memory(&bytes)
                .unwrap_or_else(|e| panic!("{src} -> {}: {e}", v["path"]));
            assert_eq!(
                (out.width() as u64, out.height() as u64),
                (v["width"].as_u64().unwrap(), v["height"].as_u64().unwrap()),
                "{src}"
            );
        }
    }
    // Every web-format good file was published; broken ones were not, and stay as written.
    for must in [
        "formats/pngsuite-basn6a16.png",
        "formats/p_trns_single.png",
        "formats/hopper_orientation_6.webp",
        "color/pil_sample_cmyk.jpg",
        "color/xmp_test.jpg",
        "camera/Canon_40D.jpg",
        "formats/chi.gif",
    ] {
        assert!(
            images.contains_key(&format!("content/p/{must}")),
            "{must} missing from the manifest"
        );
    }
    assert_eq!(images["content/p/formats/chi.gif"]["treatment"], "copied");
    let page = site.read(".pixpipe/site/content/p/index.md");
    for broken in [
        "broken/empty.jpg",
        "broken/truncated_jpeg.jpg",
        "broken/bomb-65535x65535.png",
        "broken/decompression_bomb.gif",
    ] {
        assert!(
            page.contains(&format!("![]({broken})")),
            "{broken} was rewritten"
        );
        assert!(!images.contains_key(&format!("content/p/{broken}")));
    }
    // The CMYK JPEG (Adobe, inverted) comes out as RGB with the colours libjpeg-turbo's djpeg
    // and Pillow give it: a dark picture, mean sample 14.4 (an un-inverted decode gives ~240).
    let cmyk = &images["content/p/color/pil_sample_cmyk.jpg"]["variants"][0];
    let px = image::load_from_memory(
        &std::fs::read(site.path(&format!(".pixpipe/site/{}", cmyk["path"].as_str().unwrap())))
            .unwrap(),
    )
    .unwrap()
    .to_rgb8();
    let mean = px.as_raw().iter().map(|&v| v as f64).sum::<f64>() / px.as_raw().len() as f64;
    assert!((mean - 14.4).abs() < 3.0, "CMYK output mean {mean}");
}

#[test]
fn the_same_photo_under_two_names_is_decoded_once() {
    let bytes = jpeg_bytes(&photo(900, 600, 5));
    let site = SiteBuilder::new()
        .page("content/a/index.md", "![a](a.jpg)\n")
        .page("content/b/index.md", "![b](copy-of-a.jpg)\n")
        .bytes("content/a/a.jpg", bytes.clone())
        .bytes("content/b/copy-of-a.jpg", bytes)
        .build();
    let run = build(site.root(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let m = manifest(site.root());
    let variants = variants_of(&m, "content/a/a.jpg");
    assert_eq!(variants, variants_of(&m, "content/b/copy-of-a.jpg"));
    // Made once, for both names.
    assert_eq!(
        (
            count_in_summary(&run.stderr, "sources decoded"),
            count_in_summary(&run.stderr, "made")
        ),
        (1, variants.len() as u64),
        "{}",
        run.stderr
    );
}

// Found in review: a manifest is a file users can edit, and a cache is restored from CI.

#[test]
fn in_place_never_deletes_what_a_tampered_manifest_lists() {
    let site = SiteBuilder::new()
        .page("content/post/index.md", "![p](photo.jpg)\n")
        .image("content/post/photo.jpg", 900, 600)
        .page("hugo-backup.toml", "keep")
        .build();
    assert_eq!(build(site.root(), &["--in-place"]).code, 0);
    let outside = site
        .dir
        .path()
        .parent()
        .unwrap()
        .join(format!("victim-{}.txt", std::process::id()));
    std::fs::write(&outside, "keep").unwrap();
    let manifest = site.path("data/pixpipe.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let evil = format!(
        "{text}  content/other.jpg:\n    width: 1\n    height: 1\n    format: jpeg\n    hash: '0000000000'\n    bytes: 1\n    treatment: resized\n    variants:\n    - {{path: ../{}, width: 1, height: 1, format: jpeg, bytes: 1, hash: '0000000000'}}\n    - {{path: hugo-backup.toml, width: 1, height: 1, format: jpeg, bytes: 1, hash: '0000000000'}}\n    - {{path: content/post/photo.jpg, width: 1, height: 1, format: jpeg, bytes: 1, hash: '0000000000'}}\n",
        outside.file_name().unwrap().to_str().unwrap()
    );
    std::fs::write(&manifest, evil).unwrap();
    assert_eq!(build(site.root(), &["--in-place"]).code, 0);
    assert!(
        outside.exists()
            && site.path("hugo-backup.toml").exists()
            && site.path("content/post/photo.jpg").exists()
    );
    std::fs::remove_file(outside).unwrap();
}

#[test]
fn in_place_keeps_outputs_a_page_uses_when_their_source_breaks_or_goes() {
    let good = jpeg_bytes(&photo(900, 600, 3));
    let site = SiteBuilder::new()
        .page("content/post/index.md", "![p](photo.jpg)\n")
        .bytes("content/post/photo.jpg", good.clone())
        .build();
    assert_eq!(build(site.root(), &["--in-place"]).code, 0);
    let page = site.read("content/post/index.md");
    let used = page
        .trim()
        .trim_start_matches("![p](")
        .trim_end_matches(')')
        .to_string();
    // A cut-short upload: the page keeps its working image, the build says what is wrong.
    std::fs::write(site.path("content/post/photo.jpg"), &good[..3000]).unwrap();
    assert_eq!(build(site.root(), &["--in-place"]).code, 1);
    assert_eq!(site.read("content/post/index.md"), page);
    assert!(site.path(&format!("content/post/{used}")).is_file());
    // The original back: the same outputs again.
    std::fs::write(site.path("content/post/photo.jpg"), &good).unwrap();
    assert_eq!(build(site.root(), &["--in-place"]).code, 0);
    assert_eq!(site.read("content/post/index.md"), page);
    // The original deleted: the page and its output stay exactly as they are, run after run.
    std::fs::remove_file(site.path("content/post/photo.jpg")).unwrap();
    for _ in 0..2 {
        assert_eq!(build(site.root(), &["--in-place"]).code, 0);
        assert_eq!(site.read("content/post/index.md"), page);
        assert!(site.path(&format!("content/post/{used}")).is_file());
    }
}

#[test]
fn a_tampered_cache_index_is_not_trusted() {
    let site = SiteBuilder::new()
        .page("content/post/index.md", "![p](photo.jpg)\n")
        .image("content/post/photo.jpg", 900, 600)
        .build();
    assert_eq!(build(site.root(), &[]).code, 0);
    let index = site.path(".pixpipe/cache/index.json");
    let text = std::fs::read_to_string(&index).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut v = v.clone();
    for (_, e) in v["outputs"].as_object_mut().unwrap() {
        e["hash"] = serde_json::json!("/../../../../../../../../tmp/pixpipe-victim");
    }
    for (_, st) in v["stats"].as_object_mut().unwrap() {
        st["hash"] = serde_json::json!("abc");
    }
    std::fs::write(&index, v.to_string()).unwrap();
    std::fs::remove_dir_all(site.path(".pixpipe/site")).unwrap();
    let run = build(site.root(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!Path::new("/tmp/pixpipe-victim.jpg").exists());
    assert!(site
        .read(".pixpipe/site/content/post/index.md")
        .starts_with("![p](photo-900w."));
}

#[test]
fn out_inside_the_sites_own_folders_is_refused_and_a_manifest_inside_the_mirror_stays() {
    let site = SiteBuilder::new()
        .page("content/post/index.md", "![p](photo.jpg)\n")
        .image("content/post/photo.jpg", 300, 200)
        .page("static/favicon.ico", "icon")
        .build();
    for out in ["content/mirror", "static", "."] {
        let run = crate::support::pixpipe_in(Some(site.root()), &["build", ".", "--out", out]);
        assert_eq!(run.code, 2, "--out {out}: {}", run.stderr);
    }
    assert!(!site.path("content/mirror").exists() && site.path("static/favicon.ico").exists());
    let out = tempfile::tempdir().unwrap();
    let mirror = out.path().join("m");
    let manifest = mirror.join("manifest.yaml");
    let run = pixpipe(&[
        "build",
        site.root().to_str().unwrap(),
        "--out",
        mirror.to_str().unwrap(),
        "--manifest",
        manifest.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(manifest.is_file(), "the manifest was pruned");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&manifest).unwrap().permissions().mode() & 0o777,
        0o644,
        "published files are readable"
    );
}

#[test]
fn a_build_on_a_warm_cache_equals_a_clean_build_when_widths_come_and_go() {
    // Each size is made from the next larger one and the largest sets the decode's scale,
    // so a width added or removed on one page changes the bytes of the smaller sizes: the
    // cache must never serve the old ones.
    let page = |widths: &[u32]| {
        let mut p = String::new();
        for w in widths {
            p.push_str(&format!("{{{{< img src=\"p.jpg\" width=\"{w}\" >}}}}\n"));
        }
        p
    };
    let site = |widths: &[u32]| {
        SiteBuilder::new()
            .bytes("content/a/p.jpg", jpeg_bytes(&photo(2400, 1600, 5)))
            .page("content/a/index.md", &page(widths))
            .page("pixpipe.yaml", "densities: [1]\nformats: [jpeg]\n")
            .build()
    };
    let warm = site(&[300]);
    assert_eq!(build(warm.root(), &[]).code, 0);
    for widths in [&[300u32, 1200][..], &[300][..], &[300, 600, 1200][..]] {
        std::fs::write(warm.path("content/a/index.md"), page(widths)).unwrap();
        let run = build(warm.root(), &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let clean = site(widths);
        assert_eq!(build(clean.root(), &[]).code, 0);
        let (got, want) = (
            tree(&warm.path(".pixpipe/site")),
            tree(&clean.path(".pixpipe/site")),
        );
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "widths {widths:?}"
        );
        assert!(got == want, "widths {widths:?}: same bytes");
    }
}

#[test]
fn a_cache_that_cannot_store_an_output_is_a_warning_and_the_outputs_are_placed() {
    // Issue #16 (and #17, item 3): a cache write failure was reported as `undecodable … re-export
    // the image`, and the source's references were left pointing at the original. The cache
    // failing is not the image's fault: its outputs are placed all the same, the cause is a
    // warning, and the build succeeds, in a mirror and in place.
    let bytes = jpeg_bytes(&photo(2400, 1600, 5));
    let site = SiteBuilder::new()
        .bytes("content/a/p.jpg", bytes.clone())
        .page(
            "content/a/index.md",
            "{{< img src=\"p.jpg\" width=\"1200\" >}}\n{{< img src=\"p.jpg\" width=\"300\" >}}\n",
        )
        .page(
            "pixpipe.yaml",
            "densities: [1]\nscreens: []\nformats: [jpeg]\nquality: {jpeg: 80}\n",
        )
        .build();
    let variant = |width, height| {
        pixpipe::plan::Variant::new(
            width,
            height,
            pixpipe::plan::OutFormat::Jpeg,
            &pixpipe::config::Config::default(),
        )
    };
    let all = [variant(300, 200), variant(1200, 800)];
    let key = pixpipe::cache::job_key(
        blake3::hash(&bytes).to_hex().as_str(),
        &all[0],
        &all,
        pixpipe::config::Metadata::default(),
    );
    // A fresh cache for each build, with a folder where the 300-px output's object goes.
    let blocked_cache = |name: &str| {
        let cache = site.path(name);
        std::fs::create_dir_all(cache.join("objects").join(&key[..2]).join(&key)).unwrap();
        cache.to_str().unwrap().to_string()
    };
    let warning = "warning[cache]: cannot store 1 output in the cache";

    let run = build(site.root(), &["--cache", &blocked_cache("cache1")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains(warning), "{}", run.stderr);
    assert!(!run.stderr.contains("undecodable"), "{}", run.stderr);
    let page = site.read(".pixpipe/site/content/a/index.md");
    assert!(
        page.contains("src=\"p-1200w.") && page.contains("src=\"p-300w."),
        "{page}"
    );
    let small = page
        .split("src=\"")
        .nth(2)
        .and_then(|r| r.split('"').next())
        .unwrap();
    let img = image::open(site.path(&format!(".pixpipe/site/content/a/{small}"))).unwrap();
    assert_eq!((img.width(), img.height()), (300, 200));

    let run = build(
        site.root(),
        &["--in-place", "--cache", &blocked_cache("cache2")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains(warning), "{}", run.stderr);
    let page = site.read("content/a/index.md");
    let small = page
        .split("src=\"")
        .nth(2)
        .and_then(|r| r.split('"').next())
        .unwrap();
    assert!(small.starts_with("p-300w."), "{page}");
    assert!(site.path(&format!("content/a/{small}")).is_file());
}

#[test]
fn four_builds_at_once_share_one_cache_and_a_fifth_makes_nothing() {
    // Issue #16: any number of builds may use one cache at once. Four builds of one site
    // into four outputs, started together on one cache, each end as a clean build alone
    // does, and the index keeps every entry: a fifth build into a new folder makes, decodes
    // and hashes nothing.
    let mut b =
        SiteBuilder::new().page("pixpipe.yaml", "densities: [1, 2]\nformats: [jpeg, webp]\n");
    for i in 0..6 {
        b = b
            .bytes(
                &format!("content/p{i}/p.jpg"),
                jpeg_bytes(&photo(1400 + 40 * i, 900, i + 1)),
            )
            .page(
                &format!("content/p{i}/index.md"),
                "{{< figure src=\"p.jpg\" width=\"40%\" >}}\n",
            );
    }
    let site = b.build();
    let out = |name: &str| site.path(name).to_string_lossy().into_owned();
    let clean = build(
        site.root(),
        &["--out", &out("clean"), "--cache", &out("clean-cache")],
    );
    assert_eq!(clean.code, 0, "{}", clean.stderr);
    let runs: Vec<Run> = (0..4)
        .map(|i| {
            let (root, o, c) = (
                site.root().to_path_buf(),
                out(&format!("out{i}")),
                out("cache"),
            );
            std::thread::spawn(move || build(&root, &["--out", &o, "--cache", &c]))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let without_mounts = |dir: &str| {
        let mut t = tree(&site.path(dir));
        t.remove("hugo-mounts.toml");
        t
    };
    let want = without_mounts("clean");
    assert!(
        want.keys().any(|k| k.ends_with(".webp")),
        "{:?}",
        want.keys()
    );
    for (i, run) in runs.iter().enumerate() {
        assert_eq!(run.code, 0, "{}", run.stderr);
        let got = without_mounts(&format!("out{i}"));
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>()
        );
        assert!(got == want, "out{i} is byte-identical to the clean build");
    }
    let fifth = build(
        site.root(),
        &["--out", &out("out4"), "--cache", &out("cache")],
    );
    assert_eq!(fifth.code, 0, "{}", fifth.stderr);
    assert_eq!(made_and_reused(&fifth).0, 0, "{}", fifth.stderr);
    assert_eq!(count_in_summary(&fifth.stderr, "sources decoded"), 0);
    assert_eq!(count_in_summary(&fifth.stderr, "sources hashed"), 0);
    assert!(without_mounts("out4") == want);
}

#[test]
fn a_gallery_on_the_builds_cache_leaves_the_next_build_a_no_op() {
    // Issue #16: a gallery run that shared the build's cache saved it with no stat entries,
    // so the next build re-hashed every source. Each command's entries survive the other's.
    let site = SiteBuilder::new()
        .image("content/a/p.jpg", 1600, 1000)
        .page("content/a/index.md", "![p](p.jpg)\n")
        .bytes("photos/g.jpg", jpeg_bytes(&photo(900, 600, 1)))
        .build();
    let cache = site.path("cache").to_string_lossy().into_owned();
    let first = build(site.root(), &["--cache", &cache]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(count_in_summary(&first.stderr, "sources hashed"), 1);
    let g = pixpipe(&[
        "gallery",
        site.path("photos").to_str().unwrap(),
        "--out",
        site.path("gallery").to_str().unwrap(),
        "--cache",
        &cache,
    ]);
    assert_eq!(g.code, 0, "{}", g.stderr);
    let second = build(site.root(), &["--cache", &cache]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(made_and_reused(&second).0, 0);
    assert_eq!(count_in_summary(&second.stderr, "sources decoded"), 0);
    assert_eq!(
        count_in_summary(&second.stderr, "sources hashed"),
        0,
        "{}",
        second.stderr
    );
}

#[test]
fn a_damaged_manifest_stops_an_in_place_build_and_names_the_file() {
    // Issue #16: an unreadable manifest was taken as empty, and the next run planned the
    // pages' current outputs as new sources.
    let site = SiteBuilder::new()
        .image("content/a/p.jpg", 1600, 1000)
        .page("content/a/index.md", "![p](p.jpg)\n")
        .build();
    assert_eq!(build(site.root(), &["--in-place"]).code, 0);
    let page = site.read("content/a/index.md");
    std::fs::write(site.path("data/pixpipe.yaml"), "images: [unclosed\n").unwrap();
    let run = build(site.root(), &["--in-place"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("error: cannot read the manifest ")
            && run.stderr.contains("data/pixpipe.yaml"),
        "{}",
        run.stderr
    );
    assert_eq!(
        site.read("content/a/index.md"),
        page,
        "the page is as it was"
    );
}

#[test]
fn a_second_build_into_the_same_folder_waits_for_the_first() {
    // Issue #16: two builds into one --out interleaved their files. The folder is locked
    // while a build writes it: here the test holds the lock, and the build waits, says so,
    // and runs once the lock is released.
    let site = SiteBuilder::new()
        .image("content/a/p.jpg", 800, 600)
        .page("content/a/index.md", "![p](p.jpg)\n")
        .build();
    let out = site.path("out");
    std::fs::create_dir_all(&out).unwrap();
    let held = std::fs::File::open(&out).unwrap();
    held.lock().unwrap();
    let root = site.root().to_path_buf();
    let o = out.to_string_lossy().into_owned();
    let waiting = std::thread::spawn(move || build(&root, &["--out", &o]));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(!waiting.is_finished(), "the build waits for the lock");
    assert!(!out.join("content").exists(), "and has written nothing");
    drop(held);
    let run = waiting.join().unwrap();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("waiting for another pixpipe that is writing"),
        "{}",
        run.stderr
    );
    assert!(out.join("content/a/index.md").is_file());
}

#[test]
fn a_content_folder_outside_the_site_is_mirrored_inside_the_output() {
    // Issue #17, item 1: with `contentDir = "../shared/content"` (a monorepo) the mirror path
    // of a page was OUT/../shared/content, the source folder itself: the build rewrote the
    // source page and wrote its outputs beside the originals. Such a folder is mirrored as
    // OUT/_mounts/0, and the mounts point Hugo there.
    let site = SiteBuilder::new()
        .page("site/hugo.toml", "contentDir = \"../shared/content\"\n")
        .image("shared/content/a/p.jpg", 1600, 1000)
        .page("shared/content/a/index.md", "![p](p.jpg)\n")
        .build();
    let before = tree(&site.path("shared"));
    let out = site.path("out");
    let run = build(&site.path("site"), &["--out", out.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        before == tree(&site.path("shared")),
        "the sources are untouched"
    );
    let page = site.read("out/_mounts/0/a/index.md");
    let name = page
        .trim()
        .trim_start_matches("![p](")
        .trim_end_matches(')');
    // The smallest 1x output: the WebP.
    assert!(
        name.starts_with("p-1200w.") && name.ends_with(".webp"),
        "{page}"
    );
    assert!(out.join("_mounts/0/a").join(name).is_file());
    let mounts = site.read("out/hugo-mounts.toml");
    assert!(
        mounts.contains("source = \"../out/_mounts/0\"\ntarget = \"content\""),
        "{mounts}"
    );
}

#[test]
fn a_symlinked_folder_inside_the_mirror_is_never_written_through() {
    // Issue #17, item 2: a folder of the mirror replaced by a symlink to another folder had
    // the page and its outputs written through the link, then the link removed.
    let site = SiteBuilder::new()
        .image("content/b0/p.jpg", 1600, 1000)
        .page("content/b0/index.md", "![p](p.jpg)\n")
        .build();
    assert_eq!(build(site.root(), &[]).code, 0);
    let elsewhere = site.path("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let link = site.path(".pixpipe/site/content/b0");
    std::fs::remove_dir_all(&link).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
    // A changed page, so that the build has something to write there.
    std::fs::write(site.path("content/b0/index.md"), "![p](p.jpg)\n\nmore\n").unwrap();
    let run = build(site.root(), &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "is a symbolic link, and pixpipe never writes through one inside its output; remove it"
        ),
        "{}",
        run.stderr
    );
    assert!(
        std::fs::read_dir(&elsewhere).unwrap().next().is_none(),
        "nothing written there"
    );
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link stays"
    );
}

#[test]
fn a_broken_upload_keeps_the_mirrors_last_good_outputs() {
    // Issue #17, item 3: in a mirror, a source that could not be made any more had its page
    // point at the broken original, published as it was (with its metadata). An output is
    // never replaced by something worse: the last good outputs stay referenced.
    let good = jpeg_bytes(&photo(900, 600, 3));
    let site = SiteBuilder::new()
        .page("content/post/index.md", "![p](photo.jpg)\n")
        .bytes("content/post/photo.jpg", good.clone())
        .build();
    assert_eq!(build(site.root(), &[]).code, 0);
    let page = site.read(".pixpipe/site/content/post/index.md");
    let manifest_before = site.read(".pixpipe/site/data/pixpipe.yaml");
    std::fs::write(site.path("content/post/photo.jpg"), &good[..3000]).unwrap();
    let run = build(site.root(), &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("the outputs of its last good version stay published"),
        "{}",
        run.stderr
    );
    assert_eq!(site.read(".pixpipe/site/content/post/index.md"), page);
    let used = page
        .trim()
        .trim_start_matches("![p](")
        .trim_end_matches(')');
    assert!(site
        .path(&format!(".pixpipe/site/content/post/{used}"))
        .is_file());
    assert!(
        !site.path(".pixpipe/site/content/post/photo.jpg").exists(),
        "the broken original is not published"
    );
    assert_eq!(
        site.read(".pixpipe/site/data/pixpipe.yaml"),
        manifest_before
    );
    // The original back: the same outputs, nothing else.
    std::fs::write(site.path("content/post/photo.jpg"), &good).unwrap();
    let run = build(site.root(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(site.read(".pixpipe/site/content/post/index.md"), page);
}

#[test]
fn a_stat_entry_of_another_site_is_never_trusted() {
    // Issue #17, item 4: the stat index was keyed by site-relative path, size and mtime, so
    // site B's file with the same relative path, size and mtime as site A's was taken for
    // A's bytes, and B published A's image.
    let a_bytes = jpeg_bytes(&photo(900, 600, 3));
    // The same length, other pixels: one value of the quantisation table changed.
    let mut b_bytes = a_bytes.clone();
    let dqt = b_bytes.windows(2).position(|w| w == [0xFF, 0xDB]).unwrap();
    b_bytes[dqt + 10] = b_bytes[dqt + 10].wrapping_add(7).max(1);
    let site = SiteBuilder::new()
        .bytes("a/content/p/a.jpg", a_bytes)
        .page("a/content/p/index.md", "![p](a.jpg)\n")
        .bytes("b/content/p/a.jpg", b_bytes.clone())
        .page("b/content/p/index.md", "![p](a.jpg)\n")
        .build();
    let mtime = std::fs::metadata(site.path("a/content/p/a.jpg"))
        .unwrap()
        .modified()
        .unwrap();
    std::fs::File::options()
        .write(true)
        .open(site.path("b/content/p/a.jpg"))
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let cache = site.path("cache").to_string_lossy().into_owned();
    assert_eq!(build(&site.path("a"), &["--cache", &cache]).code, 0);
    let run = build(&site.path("b"), &["--cache", &cache]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(count_in_summary(&run.stderr, "sources hashed"), 1);
    let m = manifest(&site.path("b"));
    let want = &blake3::hash(&b_bytes).to_hex()[..10];
    assert_eq!(
        m["images"]["content/p/a.jpg"]["hash"], *want,
        "B's own bytes"
    );
    assert_ne!(
        site.read("a/.pixpipe/site/content/p/index.md"),
        site.read("b/.pixpipe/site/content/p/index.md"),
        "B's outputs are made from B's bytes"
    );
}

#[test]
fn outputs_left_in_the_cache_by_a_killed_build_are_found_without_its_index() {
    // Issue #17, item 5: a build killed before it saved the cache's index left its objects on
    // disk, and the rerun made them all again. An object is found by its key alone.
    let site = SiteBuilder::new()
        .image("content/a/p.jpg", 1600, 1000)
        .page("content/a/index.md", "![p](p.jpg)\n")
        .build();
    let first = build(site.root(), &["--out", site.path("one").to_str().unwrap()]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    std::fs::remove_file(site.path(".pixpipe/cache/index.json")).unwrap();
    let again = build(site.root(), &["--out", site.path("two").to_str().unwrap()]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(made_and_reused(&again), (0, made_and_reused(&first).0));
    assert_eq!(count_in_summary(&again.stderr, "sources decoded"), 0);
}

#[test]
fn an_unreadable_content_folder_is_an_error_and_its_mirror_files_stay() {
    // Issue #17, item 9: a content folder that could not be read was a warning (exit 0), and
    // its files vanished from the mirror as stale. Root reads any folder, so as root the
    // builds run as `nobody` (setpriv), in a tree opened to it.
    let site = SiteBuilder::new()
        .image("content/a/p.jpg", 800, 600)
        .page("content/a/index.md", "![p](p.jpg)\n")
        .image("content/b/q.jpg", 800, 600)
        .page("content/b/index.md", "![q](q.jpg)\n")
        .page("pixpipe.yaml", "screens: []\n")
        .build();
    let as_root = unsafe { libc::geteuid() } == 0;
    let setpriv = Path::new("/usr/bin/setpriv");
    if as_root && !setpriv.exists() {
        eprintln!("SKIPPED: running as root without setpriv, no folder is unreadable");
        return;
    }
    let run = || {
        let bin = env!("CARGO_BIN_EXE_pixpipe");
        let mut cmd = if as_root {
            let mut c = std::process::Command::new(setpriv);
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", bin]);
            c
        } else {
            std::process::Command::new(bin)
        };
        let out = cmd
            .args(["build", site.root().to_str().unwrap()])
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let open_to_all = |mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        for e in walkdir::WalkDir::new(site.root()).into_iter().flatten() {
            let m = if e.file_type().is_dir() {
                mode | 0o111
            } else {
                mode
            };
            std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(m)).unwrap();
        }
    };
    if as_root {
        open_to_all(0o666);
    }
    let (code, stderr) = run();
    if as_root && (code == 126 || code == 127) {
        // `nobody` cannot reach the binary (a checkout under a private folder).
        eprintln!("SKIPPED: the pixpipe binary cannot be run as nobody here: {stderr}");
        return;
    }
    assert_eq!(code, 0, "{stderr}");
    let mirror_b = tree(&site.path(".pixpipe/site/content/b"));
    assert_eq!(mirror_b.len(), 3, "{:?}", mirror_b.keys());
    let manifest_before = manifest(site.root());
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        site.path("content/b"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    let (code, stderr) = run();
    std::fs::set_permissions(
        site.path("content/b"),
        std::fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("error[unreadable]: cannot read content/b"),
        "{stderr}"
    );
    assert!(
        tree(&site.path(".pixpipe/site/content/b")) == mirror_b,
        "its mirror files stay as they were"
    );
    assert_eq!(
        manifest(site.root())["images"]["content/b/q.jpg"],
        manifest_before["images"]["content/b/q.jpg"]
    );
}

#[test]
fn a_reference_style_image_has_its_definition_rewritten() {
    // Issue #17, item 9: `![x][r1]` was rewritten inline while `[r1]:` kept pointing at the
    // original. A definition that only images showing the same output use is rewritten
    // (its title kept) and the images stay as written; one a link also uses is left alone,
    // and its images are rewritten inline.
    let site = SiteBuilder::new()
        .image("content/a/p.jpg", 1600, 1000)
        .image("content/a/q.jpg", 1600, 1000)
        .page(
            "content/a/index.md",
            "Text ![x][r1] and ![y][R1].\n\n[![z][q]][q]\n\n[r1]: p.jpg \"A title\"\n[q]: q.jpg\n",
        )
        .build();
    let run = build(site.root(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let page = site.read(".pixpipe/site/content/a/index.md");
    let lines: Vec<&str> = page.lines().collect();
    assert_eq!(lines[0], "Text ![x][r1] and ![y][R1].", "{page}");
    assert!(
        lines[4].starts_with("[r1]: p-1200w.") && lines[4].ends_with(".webp \"A title\""),
        "{page}"
    );
    assert!(
        lines[2].starts_with("[![z](q-1200w.") && lines[2].ends_with(")][q]"),
        "{page}"
    );
    assert_eq!(
        lines[5], "[q]: q.jpg",
        "the link still leads to the original: {page}"
    );
    assert!(
        !site.path(".pixpipe/site/content/a/p.jpg").exists(),
        "no page names p.jpg any more"
    );
    assert!(site.path(".pixpipe/site/content/a/q.jpg").is_file());
    // Rewriting the rewritten page changes nothing.
    let again = build(site.root(), &[]);
    assert_eq!(
        count_in_summary(&again.stderr, "pages written"),
        0,
        "{}",
        again.stderr
    );
}

/// A small tmpfs mounted at `dir` for the life of the guard, to fill a disk in a test; `None`
/// (with a SKIPPED message) where mounting is not allowed (not root, or no permission).
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = unsafe { libc::geteuid() } == 0
            && std::process::Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                .arg(dir)
                .status()
                .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("SKIPPED: cannot mount a tmpfs here (the disk-full test needs root)");
        }
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_cache_disk_is_a_warning_and_a_full_output_disk_loses_no_work() {
    // Issue #17, items 3 and 5, on real full disks: a cache on a full filesystem made good
    // outputs disappear and pages point at the originals; after a full --out, the objects
    // made were on disk but not indexed, and the rerun made them all again.
    let site = SiteBuilder::new()
        .image("content/a/p.jpg", 2000, 1400)
        .image("content/b/q.jpg", 2000, 1400)
        .page("content/a/index.md", "![p](p.jpg)\n")
        .page("content/b/index.md", "![q](q.jpg)\n")
        .build();
    let Some(_full_cache) = Tmpfs::mount(&site.path("small-cache"), "16k") else {
        return;
    };
    let run = build(
        site.root(),
        &["--cache", site.path("small-cache").to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("warning[cache]: cannot store"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("No space left on device"),
        "{}",
        run.stderr
    );
    for (page, stem) in [("a", "p"), ("b", "q")] {
        let text = site.read(&format!(".pixpipe/site/content/{page}/index.md"));
        assert!(text.contains(&format!("({stem}-1200w.")), "{text}");
    }

    let Some(_full_out) = Tmpfs::mount(&site.path("small-out"), "64k") else {
        return;
    };
    let cache = site.path("cache").to_string_lossy().into_owned();
    let full = build(
        site.root(),
        &[
            "--out",
            site.path("small-out").to_str().unwrap(),
            "--cache",
            &cache,
        ],
    );
    assert_eq!(full.code, 2, "{}", full.stderr);
    assert!(
        full.stderr.contains("No space left on device"),
        "{}",
        full.stderr
    );
    let rerun = build(
        site.root(),
        &[
            "--out",
            site.path("roomy-out").to_str().unwrap(),
            "--cache",
            &cache,
        ],
    );
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    assert_eq!(made_and_reused(&rerun).0, 0, "{}", rerun.stderr);
}

/// `check` and `check --deep` both pass the site, each with `warning`.
fn check_warns_with_and_without_deep(site: &crate::support::Site, warning: &str) {
    for deep in [&[][..], &["--deep"][..]] {
        let mut args = vec!["check", site.root().to_str().unwrap()];
        args.extend_from_slice(deep);
        let run = pixpipe(&args);
        assert_eq!(run.code, 0, "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(run.stdout.contains(warning), "{args:?}: {}", run.stdout);
    }
}

#[test]
fn a_jpeg_that_browsers_show_despite_stray_bytes_is_built_as_check_says() {
    // Issue #17, item 8: stray bytes between a JPEG's segments are a warning in check
    // ("decoders skip them"), and build failed on them ("TurboJPEG error: Corrupt JPEG data:
    // 5 extraneous bytes before marker 0xdb"). One decision per file: both accept it, as
    // browsers do, and check --deep decodes it as build does.
    let mut bytes = jpeg_bytes(&photo(900, 600, 2));
    let dqt = bytes.windows(2).position(|w| w == [0xFF, 0xDB]).unwrap();
    bytes.splice(dqt..dqt, [1, 2, 3, 4, 5]);
    let site = SiteBuilder::new()
        .bytes("content/a/p.jpg", bytes)
        .page("content/a/index.md", "![p](p.jpg)\n")
        .build();
    check_warns_with_and_without_deep(
        &site,
        "warning[damaged-data]: content/a/p.jpg: JPEG has 5 stray bytes between segments",
    );
    let run = build(site.root(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let page = site.read(".pixpipe/site/content/a/index.md");
    let name = page
        .trim()
        .trim_start_matches("![p](")
        .trim_end_matches(')');
    let img = image::open(site.path(&format!(".pixpipe/site/content/a/{name}"))).unwrap();
    assert_eq!((img.width(), img.height()), (900, 600));
}

#[test]
fn an_original_shown_as_it_is_goes_without_its_metadata() {
    // Issue #17, item 3: an image that cannot be made is shown as it is, and the mirror
    // published it with its EXIF, GPS coordinates included. It now goes without them.
    let exif = Exif {
        gps: Some((52.34, 4.89)),
        ..Exif::default()
    };
    let site = SiteBuilder::new()
        .photo_with_exif("content/a/p.jpg", 900, 600, &exif)
        .page("content/a/index.md", "![p](p.jpg)\n")
        .build();
    let whole = std::fs::read(site.path("content/a/p.jpg")).unwrap();
    let cut = &whole[..whole.len() - 2000];
    std::fs::write(site.path("content/a/p.jpg"), cut).unwrap();
    let run = build(site.root(), &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("error[undecodable]: content/a/p.jpg: JPEG image is truncated"),
        "{}",
        run.stderr
    );
    assert_eq!(
        site.read(".pixpipe/site/content/a/index.md"),
        "![p](p.jpg)\n"
    );
    let published = std::fs::read(site.path(".pixpipe/site/content/a/p.jpg")).unwrap();
    let has_exif = |b: &[u8]| b.windows(6).any(|w| w == b"Exif\0\0");
    assert!(has_exif(cut), "the source keeps its EXIF");
    assert!(!has_exif(&published), "the published copy has none");
    assert!(published.starts_with(&[0xFF, 0xD8]) && published.len() < cut.len());
    assert!(
        cut.ends_with(&published[published.len() - 1000..]),
        "the image data is as it was"
    );
}

#[test]
fn a_size_webp_cannot_hold_is_made_in_the_sources_format_only() {
    // Issue #17, item 8 (found by the mutation test): a picture taller than 16,383 pixels
    // passed check --deep, then failed in build: libwebp refuses it
    // (VP8_ENC_ERROR_BAD_DIMENSION). Such a size is not made in WebP.
    let site = SiteBuilder::new()
        .bytes("content/a/strip.jpg", jpeg_bytes(&photo(300, 17000, 4)))
        .page(
            "content/a/index.md",
            "{{< img src=\"strip.jpg\" width=\"300\" >}}\n",
        )
        .page("pixpipe.yaml", "densities: [1]\n")
        .build();
    let run = build(site.root(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let m = manifest(site.root());
    assert_eq!(
        variants_of(&m, "content/a/strip.jpg"),
        vec![(300, 17000, "jpeg".to_string())]
    );
}

#[test]
fn a_png_without_its_end_chunk_is_built_as_browsers_show_it() {
    // Issue #17, item 8, found by the mutation test: check warns that most decoders show a PNG
    // that ends right after its image data, without its end chunk (IEND), as browsers do; but
    // check --deep and build both failed on it ("unexpected end of file": the png crate reads
    // the chunk after the image data). Both decode it now.
    let png = png_bytes(&photo(300, 200, 3));
    let site = SiteBuilder::new()
        .bytes("content/a/p.png", png[..png.len() - 12].to_vec())
        .page("content/a/index.md", "![p](p.png)\n")
        .build();
    check_warns_with_and_without_deep(
        &site,
        "warning[damaged-data]: content/a/p.png: PNG has no end chunk (IEND); most decoders show it anyway",
    );
    let run = build(site.root(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let m = manifest(site.root());
    assert_eq!(
        variants_of(&m, "content/a/p.png"),
        [(300, 200, "png".into()), (300, 200, "webp".into())]
    );
    for v in m["images"]["content/a/p.png"]["variants"]
        .as_array()
        .unwrap()
    {
        let out = site.path(&format!(".pixpipe/site/{}", v["path"].as_str().unwrap()));
        let img = image::open(out).unwrap();
        assert_eq!((img.width(), img.height()), (300, 200));
    }
}

/// A GIF of `frames`, each at its (left, top) offset; the logical screen is the first's size.
fn gif_of(frames: Vec<(image::RgbaImage, u32, u32)>) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut e = image::codecs::gif::GifEncoder::new(&mut out);
        let delay = image::Delay::from_numer_denom_ms(100, 1);
        e.encode_frames(
            frames
                .into_iter()
                .map(|(f, left, top)| image::Frame::from_parts(f, left, top, delay)),
        )
        .unwrap();
    }
    out
}

#[test]
fn a_gif_whose_frames_pass_its_screen_is_sized_and_built_as_browsers_show_it() {
    // Issue #17, item 8, found by `make fuzz`: the probe sized a GIF by the largest reach of
    // any frame, and the image crate decodes on the logical screen alone. Chromium (156,
    // measured) shows a first frame that reaches past the screen whole, on a screen enlarged
    // to hold it, and cuts later frames to the screen. Before, a still GIF whose frame is
    // wider than its screen was decoded cut and stretched back to the frame's width, and an
    // animation whose second frame reaches past the screen was published with a size no
    // browser shows.
    let (red, blue) = (
        image::Rgba([220, 20, 20, 255]),
        image::Rgba([20, 20, 220, 255]),
    );
    let halves = image::RgbaImage::from_fn(40, 30, |x, _| if x < 20 { red } else { blue });
    let mut still = gif_of(vec![(halves, 0, 0)]);
    still[6..8].copy_from_slice(&20u16.to_le_bytes()); // a 20x30 screen
    let square = |c| image::RgbaImage::from_pixel(30, 30, c);
    let animation = gif_of(vec![(square(red), 0, 0), (square(blue), 20, 0)]);
    let site = SiteBuilder::new()
        .bytes("content/a/still.gif", still)
        .bytes("content/a/anim.gif", animation)
        .page("content/a/index.md", "![s](still.gif)\n\n![a](anim.gif)\n")
        .build();
    let run = pixpipe(&["check", "--deep", site.root().to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let run = build(site.root(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let m = manifest(site.root());
    // Made on the GIF's 40x30 screen; the WebP came out larger than the GIF and the PNG
    // serves that width, so it is left out (issue #18: never more bytes than the original).
    assert_eq!(
        variants_of(&m, "content/a/still.gif"),
        [(40, 30, "png".into())]
    );
    let png = &m["images"]["content/a/still.gif"]["variants"][0]["path"];
    let out = image::open(site.path(&format!(".pixpipe/site/{}", png.as_str().unwrap())))
        .unwrap()
        .to_rgba8();
    assert_eq!(out.get_pixel(5, 15), &red, "the left half");
    assert_eq!(
        out.get_pixel(35, 15),
        &blue,
        "the right half, not red stretched"
    );
    assert_eq!(
        variants_of(&m, "content/a/anim.gif"),
        [(30, 30, "gif".into())],
        "the screen, as browsers show it"
    );
}

/// `webp` with `chunk` (a RIFF chunk: type, length, data) inserted at `at`, its RIFF size
/// made whole again.
fn with_webp_chunk(webp: &[u8], at: usize, chunk: &[u8]) -> Vec<u8> {
    let mut out = webp.to_vec();
    out.splice(at..at, chunk.iter().copied());
    let riff = (out.len() - 8) as u32;
    out[4..8].copy_from_slice(&riff.to_le_bytes());
    out
}

#[test]
fn a_webp_is_sized_by_the_chunks_browsers_read_and_refused_with_two_headers() {
    // Issue #17, item 8, found by `make fuzz`: an animated WebP with its chunks duplicated
    // was published at the size of its second VP8X header (65589x43), though it decodes at
    // that of its first (53x43), and Chromium (156, measured) shows no file with a second
    // VP8X. The probe took every VP8X for the size, also one after a simple file's image,
    // which decoders ignore: a 40x30 picture was built stretched to 53x43.
    use pixpipe::process::{codec, pixels::Pixels};
    let encode = |channels: u8| {
        let data = (0..40 * 30)
            .flat_map(|i| {
                [
                    (i % 40 * 6) as u8,
                    90,
                    (i / 40 * 8) as u8,
                    (i % 40 * 6) as u8,
                ]
            })
            .enumerate()
            .filter(|(k, _)| channels == 4 || k % 4 != 3)
            .map(|(_, b)| b)
            .collect();
        let p = Pixels {
            width: 40,
            height: 30,
            channels,
            data,
        };
        codec::encode(&p, pixpipe::plan::OutFormat::Webp, 80, 4).unwrap()
    };
    let (simple, extended) = (encode(3), encode(4));
    assert_eq!(
        (&simple[12..16], &extended[12..16]),
        (&b"VP8 "[..], &b"VP8X"[..])
    );
    // A VP8X chunk for a 53x43 canvas, after the simple file's image.
    let mut stray = b"VP8X\x0a\0\0\0\0\0\0\0".to_vec();
    stray.extend_from_slice(&[52, 0, 0, 42, 0, 0]);
    let trailing = with_webp_chunk(&simple, simple.len(), &stray);
    let twice = with_webp_chunk(&extended, 30, &extended[12..30]);
    let site = SiteBuilder::new()
        .bytes("content/a/trailing.webp", trailing)
        .bytes("content/a/twice.webp", twice)
        .page(
            "content/a/index.md",
            "![t](trailing.webp)\n\n![w](twice.webp)\n",
        )
        .build();
    let run = pixpipe(&["check", "--deep", site.root().to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "3:6: error[undecodable]: content/a/twice.webp: not a readable WebP image: its VP8X header chunk is repeated"
        ),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("trailing.webp"), "{}", run.stdout);
    let run = build(site.root(), &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let m = manifest(site.root());
    // Sized 40x30 as browsers read it; the JPEG came out larger than the WebP original, so
    // only the WebP is served (issue #18).
    assert_eq!(
        variants_of(&m, "content/a/trailing.webp"),
        [(40, 30, "webp".into())]
    );
    assert!(m["images"]["content/a/twice.webp"].is_null(), "{m}");
}

#[test]
fn no_output_a_page_serves_is_larger_than_its_original() {
    // Issue #18, item 1: a 1702-px screenshot of 257 KB became a 1200-px PNG of 319 KB. Here
    // a grey, noisy 1700x900 PNG: noise does not compress, so its full-width output (the 2x)
    // comes out larger than the original, which is served in its place; the WebP and the
    // smaller PNGs are smaller, so they stay.
    let mut state = 0x2545_f491_u32;
    let grey = image::GrayImage::from_fn(1700, 900, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        image::Luma([(state >> 24) as u8])
    });
    let mut original = Vec::new();
    grey.write_to(
        &mut std::io::Cursor::new(&mut original),
        image::ImageFormat::Png,
    )
    .unwrap();
    let site = SiteBuilder::new()
        .bytes("content/a/shot.png", original.clone())
        .page("content/a/index.md", "![shot](shot.png)\n")
        .build();
    let run = build(site.root(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("content/a/index.md:1:9: note[original-smaller]: content/a/shot.png: 1 output(s) came out ")
            && run.stderr.contains(&format!(
                "larger than the original ({} bytes), which is served in their place",
                original.len()
            )),
        "{}",
        run.stderr
    );
    let m = manifest(site.root());
    let variants = m["images"]["content/a/shot.png"]["variants"]
        .as_array()
        .unwrap()
        .clone();
    for v in &variants {
        let bytes =
            std::fs::read(site.path(&format!(".pixpipe/site/{}", v["path"].as_str().unwrap())))
                .unwrap();
        assert_eq!(bytes.len() as u64, v["bytes"].as_u64().unwrap());
        assert!(
            bytes.len() <= original.len(),
            "{v} is larger than the original ({} bytes)",
            original.len()
        );
    }
    // The original, full size, under the hash of its bytes (it has no metadata to strip).
    let served = variants
        .iter()
        .find(|v| v["format"] == "png" && v["width"] == 1700)
        .expect("the original among the PNGs");
    let hash = blake3::hash(&original).to_hex()[..10].to_string();
    assert_eq!(served["path"], format!("content/a/shot.{hash}.png"));
    assert!(variants
        .iter()
        .any(|v| v["format"] == "webp" && v["width"] == 1200));
    assert!(variants
        .iter()
        .any(|v| v["format"] == "png" && v["width"].as_u64() < Some(1200)));
    // Nothing larger than the original is left in the mirror either (the outputs left out
    // had been placed as soon as they were made).
    for (name, bytes) in tree(&site.path(".pixpipe/site/content/a")) {
        assert!(bytes.len() <= original.len(), "{name} stays in the mirror");
    }
    // The page names the smallest 1x: the WebP.
    let page = site.read(".pixpipe/site/content/a/index.md");
    assert!(
        page.starts_with("![shot](shot-1200w.") && page.contains(".webp)"),
        "{page}"
    );
    // A rebuild decides the same and does nothing.
    let again = build(site.root(), &[]);
    assert_eq!(
        count_in_summary(&again.stderr, "made"),
        0,
        "{}",
        again.stderr
    );
    assert_eq!(manifest(site.root()), m);
}

/// Every output in the manifest at `root` that is larger than its source: (source, output).
fn larger_than_their_sources(manifest: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for (src, img) in manifest["images"].as_object().unwrap() {
        let original = img["bytes"].as_u64().unwrap();
        for v in img["variants"].as_array().unwrap() {
            if v["bytes"].as_u64().unwrap() > original {
                out.push(format!("{src} ({original} bytes): {v}"));
            }
        }
    }
    out
}

#[test]
fn corpus_no_output_is_larger_than_its_original() {
    // Issue #18's proof on real files: the screenshots and diagrams of linkerd.io (PNG, GIF
    // and WebP) and the corpus's camera, colour and format photos.
    let Some(corpus) = corpus() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("linkerd");
    let run = build(
        &corpus.join("sites/linkerd"),
        &[
            "--out",
            out.to_str().unwrap(),
            "--cache",
            tmp.path().join("cache").to_str().unwrap(),
        ],
    );
    assert!(run.code <= 1, "{}", run.stderr);
    let text = std::fs::read_to_string(out.join("data/pixpipe.yaml")).unwrap();
    let m: serde_json::Value = serde_yaml::from_str(&text).unwrap();
    assert!(m["images"].as_object().unwrap().len() > 150);
    assert_eq!(larger_than_their_sources(&m), Vec::<String>::new());

    let site = photo_site(&corpus, &["camera", "color", "formats"]);
    let run = build(site.root(), &[]);
    assert!(run.code <= 1, "{}", run.stderr);
    let m = manifest(site.root());
    assert!(m["images"].as_object().unwrap().len() > 10);
    assert_eq!(larger_than_their_sources(&m), Vec::<String>::new());
}

#[test]
fn the_summary_and_report_say_what_a_visitor_downloads_before_and_after() {
    // Issue #18, item 5: "60.2 MB -> 115.3 MB" summed every file written. A photo shown
    // twice on one page and once on another: two images on two pages, each at the column
    // (1200 px at 1x; 2x is capped at the photo's 2000 px), in WebP.
    let bytes = jpeg_bytes(&photo(2000, 1500, 5));
    let site = SiteBuilder::new()
        .bytes("content/a/p.jpg", bytes.clone())
        .page("content/a/index.md", "![p](p.jpg)\n\n![again](p.jpg)\n")
        .page("content/b/index.md", "![p](../a/p.jpg)\n")
        .build();
    let report = site.path("report.json");
    let run = build(site.root(), &["--report", report.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let m = manifest(site.root());
    let webp = |w: u64| {
        m["images"]["content/a/p.jpg"]["variants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["format"] == "webp" && v["width"] == w)
            .unwrap_or_else(|| panic!("no {w}w WebP"))["bytes"]
            .as_u64()
            .unwrap()
    };
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(
        r["visitor"],
        serde_json::json!({
            "images": 2,
            "pages": 2,
            "before": 2 * bytes.len() as u64,
            "after_1x": 2 * webp(1200),
            "after_2x": 2 * webp(2000),
        })
    );
    assert_eq!(r["made"], count_in_summary(&run.stderr, "made"));
    assert!(
        run.stderr.contains("\nvisitors: 2 images on 2 pages: "),
        "{}",
        run.stderr
    );
}

/// A screenshot-like RGB image: flat boxes on white and anti-aliased round marks over them
/// (each edge pixel a blend), hundreds of colours.
fn screenshot(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        let under = match (x / 80 + y / 50) % 3 {
            0 => [66.0, 133.0, 244.0],
            1 => [251.0, 188.0, 5.0],
            _ => [255.0, 255.0, 255.0],
        };
        let jitter = ((x / 12 * 7 + y / 12 * 13) % 17) as f32 / 17.0;
        let (cx, cy) = (
            (x / 12 * 12) as f32 + 5.5 + jitter,
            (y / 12 * 12) as f32 + 6.2 - jitter / 2.0,
        );
        let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
        let cover = (4.2 - d).clamp(0.0, 1.5) / 1.5;
        image::Rgb(under.map(|u: f32| (32.0 * cover + u * (1.0 - cover)).round() as u8))
    })
}

#[test]
fn a_screenshot_becomes_a_palette_png_unless_the_configuration_says_never() {
    // Issue #18, item 1: `png: {palette: auto}` (the default) writes 256 colours where
    // SSIMULACRA2 scores them visually lossless; `never` keeps every colour.
    let mut bytes = Vec::new();
    screenshot(600, 400)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    let colour_type = |png: &[u8]| png[25];
    let made = |config: &str| {
        let site = SiteBuilder::new()
            .bytes("content/a/shot.png", bytes.clone())
            .page("content/a/index.md", "![s](shot.png)\n")
            .page("pixpipe.yaml", config)
            .build();
        let run = build(site.root(), &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let m = manifest(site.root());
        let v = m["images"]["content/a/shot.png"]["variants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["format"] == "png" && v["width"] == 600)
            .unwrap()
            .clone();
        let png =
            std::fs::read(site.path(&format!(".pixpipe/site/{}", v["path"].as_str().unwrap())))
                .unwrap();
        let decoded = image::load_from_memory(&png).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (600, 400));
        png
    };
    let auto = made("screens: []\n");
    let never = made("screens: []\npng: {palette: never}\n");
    assert_eq!(colour_type(&auto), 3, "a palette PNG");
    assert_eq!(colour_type(&never), 2, "an RGB PNG");
    assert!(
        auto.len() < never.len(),
        "{} vs {}",
        auto.len(),
        never.len()
    );
}
