//! AVIF: outputs made by libaom through libavif (upright, sRGB, without metadata, at the planned
//! sizes), AVIF sources checked and resized, and `<source type="image/avif">` before WebP.

use crate::support::exif::Exif;
use crate::support::{jpeg_bytes, p3_to_srgb, photo, pixpipe};
use crate::support::{stored_for_orientation, with_icc};
use crate::support::{Run, SiteBuilder};
use std::path::Path;

/// AVIF on, with the WebP at quality 100: the AVIF of a tiny picture (a few hundred bytes of
/// it are the container) is often no smaller than its WebP, and is then left out
/// (`jobs::avif_gains`, tested in `avif_no_smaller_than_the_webp_is_left_out`); a test of
/// the AVIF files themselves needs them served. (Of the 32 bench photos, real ones, every
/// AVIF at the defaults is 43-77 % of the WebP of its width.)
const SERVE_AVIF: &str = "formats: [auto, webp, avif]\nquality: {webp: 100}\n";

fn manifest(root: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(root.join(".pixpipe/site/data/pixpipe.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

fn run(args: &[&str], root: &Path) -> Run {
    let mut all = args.to_vec();
    all.push(root.to_str().unwrap());
    pixpipe(&all)
}

/// The variants of `src` in `format`, as (width, height, bytes of the file).
fn outputs(
    root: &Path,
    m: &serde_json::Value,
    src: &str,
    format: &str,
) -> Vec<(u64, u64, Vec<u8>)> {
    m["images"][src]["variants"]
        .as_array()
        .unwrap_or_else(|| panic!("no {src} in manifest: {m}"))
        .iter()
        .filter(|v| v["format"] == format)
        .map(|v| {
            let path = v["path"].as_str().unwrap();
            let bytes = std::fs::read(root.join(".pixpipe/site").join(path)).unwrap();
            assert_eq!(v["bytes"].as_u64().unwrap(), bytes.len() as u64, "{path}");
            let ext = if format == "jpeg" { "jpg" } else { format };
            assert!(
                path.ends_with(&format!("w.{}.{ext}", &blake3::hash(&bytes).to_hex()[..10])),
                "{path}"
            );
            (
                v["width"].as_u64().unwrap(),
                v["height"].as_u64().unwrap(),
                bytes,
            )
        })
        .collect()
}

fn decode(bytes: &[u8]) -> pixpipe::avif::Image {
    pixpipe::avif::decode(bytes, false, 1 << 26).expect("the AVIF output decodes")
}

fn pixel(i: &pixpipe::avif::Image, x: u32, y: u32) -> [u8; 3] {
    let at = ((y * i.width + x) * i.channels as u32) as usize;
    [i.data[at], i.data[at + 1], i.data[at + 2]]
}

/// The mean colour of `i` over the pixels at `xs` x `ys`.
fn mean(i: &pixpipe::avif::Image, xs: std::ops::Range<u32>, ys: std::ops::Range<u32>) -> [u8; 3] {
    let mut sum = [0u32; 3];
    let n = xs.len() * ys.len();
    for y in ys {
        for x in xs.clone() {
            for (s, v) in sum.iter_mut().zip(pixel(i, x, y)) {
                *s += v as u32;
            }
        }
    }
    sum.map(|s| (s as f64 / n as f64).round() as u8)
}

#[test]
fn avif_outputs_are_upright_srgb_without_gps_at_the_sizes_of_the_other_formats() {
    // Red-ish at the top left, blue-ish at the bottom right, the sun clear of both.
    let upright = photo(120, 80, 0);
    let mut b = SiteBuilder::new().page("pixpipe.yaml", SERVE_AVIF);
    let mut page = String::new();
    for o in 1..=8u8 {
        let exif = Exif {
            orientation: Some(o as u16),
            gps: Some((52.37, 4.89)),
            description: Some("x".into()),
            ..Exif::default()
        };
        let stored = stored_for_orientation(&upright, o);
        b = b.bytes(
            &format!("content/p/o{o}.jpg"),
            exif.insert_into_jpeg(&jpeg_bytes(&stored)),
        );
        page.push_str(&format!("![o{o}](o{o}.jpg)\n\n"));
    }
    let p3 = moxcms::ColorProfile::new_display_p3();
    // One colour, give or take 4 (grain, so that the AVIF is served: see SERVE_AVIF).
    let flat = image::RgbImage::from_fn(64, 64, |x, y| {
        let d = ((x.wrapping_mul(2654435761) ^ y.wrapping_mul(40503)) >> 13) % 9;
        image::Rgb([196 + d as u8, 96 + d as u8, 46 + d as u8])
    });
    b = b.bytes(
        "content/p/p3.jpg",
        with_icc(&jpeg_bytes(&flat), &p3.encode().unwrap()),
    );
    page.push_str("![p3](p3.jpg)\n\n");
    b = b.image("content/p/wide.jpg", 1600, 900);
    page.push_str("{{< image width=\"40%\" link=\"./wide.jpg\" >}}\n");
    let site = b.page("content/p/index.md", &page).build();
    let r = run(&["build"], site.root());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m = manifest(site.root());
    for o in 1..=8u8 {
        let avifs = outputs(site.root(), &m, &format!("content/p/o{o}.jpg"), "avif");
        assert!(!avifs.is_empty(), "orientation {o}: no AVIF");
        for (w, h, bytes) in avifs {
            assert!(
                !bytes.windows(4).any(|x| x == b"Exif"),
                "orientation {o}: an Exif item survived"
            );
            let px = decode(&bytes);
            assert_eq!((px.width as u64, px.height as u64), (w, h));
            assert_eq!((w, h), (120, 80), "orientation {o}");
            let (tl, br) = (pixel(&px, 10, 10), pixel(&px, 110, 70));
            assert!(
                tl[0] > 180 && tl[2] < 80,
                "orientation {o}: top-left {tl:?}"
            );
            assert!(
                br[2] > 180 && br[0] < 80,
                "orientation {o}: bottom-right {br:?}"
            );
        }
    }
    // The P3 colour converted to sRGB, as in the other formats.
    let want = p3_to_srgb([200, 100, 50]);
    let (_, _, bytes) = &outputs(site.root(), &m, "content/p/p3.jpg", "avif")[0];
    assert!(!pixpipe::avif::probe(bytes).unwrap().icc);
    let got = mean(&decode(bytes), 24..40, 24..40);
    for c in 0..3 {
        assert!(
            (got[c] as i32 - want[c] as i32).abs() <= 6,
            "got {got:?}, want {want:?}"
        );
    }
    // Every width of the JPEG is made as AVIF too, and decodes to it.
    let sizes = |f: &str| -> Vec<(u64, u64)> {
        outputs(site.root(), &m, "content/p/wide.jpg", f)
            .into_iter()
            .map(|(w, h, bytes)| {
                if f == "avif" {
                    let px = decode(&bytes);
                    assert_eq!((px.width as u64, px.height as u64), (w, h));
                }
                (w, h)
            })
            .collect()
    };
    assert_eq!(sizes("avif"), sizes("jpeg"));
    assert!(sizes("avif").len() >= 5, "{:?}", sizes("avif"));
    // A page names one file, in a format every browser shows: never the AVIF alone (the
    // templates offer it in a <picture>).
    let page = site.read(".pixpipe/site/content/p/index.md");
    assert!(!page.contains(".avif") && page.contains(".webp"), "{page}");
    // A second build makes nothing.
    let again = run(&["build"], site.root());
    assert!(again.stderr.contains("(0 made, "), "{}", again.stderr);
}

#[test]
fn keep_copyright_writes_an_exif_item_into_the_avif_without_gps() {
    let exif = Exif {
        artist: Some("Ann Example".into()),
        copyright: Some("(c) Ann Example".into()),
        gps: Some((52.37, 4.89)),
        ..Exif::default()
    };
    let site = SiteBuilder::new()
        .page(
            "pixpipe.yaml",
            "formats: [avif]\nmetadata: keep-copyright\nscreens: []\ndensities: [1]\n",
        )
        .photo_with_exif("content/p/a.jpg", 400, 300, &exif)
        .page("content/p/index.md", "![a](a.jpg)\n")
        .build();
    let r = run(&["build"], site.root());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m = manifest(site.root());
    let avifs = outputs(site.root(), &m, "content/p/a.jpg", "avif");
    assert_eq!(avifs.len(), 1, "{m}");
    let bytes = &avifs[0].2;
    // The Exif item's TIFF structure, read as EXIF readers do.
    let at = (bytes.windows(4))
        .position(|w| w == b"MM\0*" || w == b"II*\0")
        .expect("an Exif item");
    let exif = exif::Reader::new()
        .read_raw(bytes[at..].to_vec())
        .expect("a readable Exif item");
    let text = |tag| {
        exif.get_field(tag, exif::In::PRIMARY)
            .map(|f| f.display_value().to_string())
    };
    assert_eq!(text(exif::Tag::Artist).as_deref(), Some("\"Ann Example\""));
    assert_eq!(
        text(exif::Tag::Copyright).as_deref(),
        Some("\"(c) Ann Example\"")
    );
    // GPS never survives.
    assert!(exif.fields().all(|f| f.ifd_num != exif::In::PRIMARY
        || !matches!(f.tag, exif::Tag::GPSInfoIFDPointer | exif::Tag::GPSLatitude)));
    assert_eq!(exif.fields().count(), 2, "only Artist and Copyright");
    assert_eq!(decode(bytes).width, 400);
}

/// An AVIF original, at a quality low enough that the JPEG made of it comes out larger (the
/// test below counts on that).
fn avif_of(img: &image::RgbImage) -> Vec<u8> {
    pixpipe::avif::encode(img.as_raw(), (img.width(), img.height(), 3), 40, 8, None).unwrap()
}

#[test]
fn an_avif_source_is_checked_resized_and_a_broken_one_reported() {
    let good = avif_of(&photo(800, 600, 3));
    let broken = good[..good.len() / 2].to_vec();
    let site = SiteBuilder::new()
        .page("pixpipe.yaml", "screens: []\ndensities: [1]\n")
        .bytes("content/p/a.avif", good)
        .bytes("content/p/b.avif", broken)
        .page(
            "content/p/index.md",
            "{{< image width=\"50%\" link=\"./a.avif\" >}}\n\n![b](b.avif)\n",
        )
        .build();
    let check = run(&["check", "--deep"], site.root());
    assert_eq!(check.code, 1, "{}", check.stderr);
    assert!(
        check.stdout.contains("error[undecodable]")
            && check.stdout.contains("b.avif")
            && !check.stdout.contains("a.avif"),
        "{}",
        check.stdout
    );
    let r = run(&["build"], site.root());
    assert_eq!(r.code, 1, "{}", r.stderr);
    let m = manifest(site.root());
    // 50% of the 1200-px column: 600 px, as JPEG (the source's family) and WebP. The JPEG
    // came out larger than the AVIF original, so it is left out where the WebP serves its
    // width; the original itself is never served in their place (its Exif stays in it).
    let sizes: Vec<(u64, u64, String)> = m["images"]["content/p/a.avif"]["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["width"].as_u64().unwrap(),
                v["height"].as_u64().unwrap(),
                v["format"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(sizes, vec![(600, 450, "webp".to_string())]);
    let (_, _, webp) = &outputs(site.root(), &m, "content/p/a.avif", "webp")[0];
    let img = image::load_from_memory(webp).unwrap();
    assert_eq!((img.width(), img.height()), (600, 450));
    let page = site.read(".pixpipe/site/content/p/index.md");
    assert!(
        page.contains("link=\"./a-600w.") && !page.contains("a.avif"),
        "{page}"
    );
}

/// Every output file of a manifest: (path, bytes).
fn files(root: &Path, m: &serde_json::Value) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for img in m["images"].as_object().unwrap().values() {
        for v in img["variants"].as_array().unwrap() {
            let path = v["path"].as_str().unwrap().to_string();
            let bytes = std::fs::read(root.join(".pixpipe/site").join(&path)).unwrap();
            out.push((path, bytes));
        }
    }
    out.sort();
    out
}

fn budget_site() -> crate::support::Site {
    let mut b = SiteBuilder::new().page(
        "pixpipe.yaml",
        "formats: [auto, webp, avif]\nscreens: []\ndensities: [1, 2]\n",
    );
    let mut page = String::new();
    for (i, w) in [640u32, 900, 1200].into_iter().enumerate() {
        b = b.bytes(
            &format!("content/p/{i}.jpg"),
            jpeg_bytes(&photo(w, w * 2 / 3, i as u32)),
        );
        page.push_str(&format!(
            "{{{{< image width=\"40%\" link=\"./{i}.jpg\" >}}}}\n\n"
        ));
    }
    b.page("content/p/index.md", &page).build()
}

#[test]
fn an_avif_budget_makes_the_other_formats_first_and_the_next_build_the_rest() {
    let site = budget_site();
    // A budget already spent: every JPEG and WebP, no AVIF, and nothing points at one.
    let first = run(&["build", "--avif-budget", "0s"], site.root());
    assert_eq!(first.code, 0, "{}", first.stderr);
    let m = manifest(site.root());
    let made = files(site.root(), &m);
    assert!(made.iter().all(|(p, _)| !p.ends_with(".avif")), "{m}");
    let others = made.len();
    assert_eq!(others, 3 * 2 * 2, "{m}"); // 3 photos x 2 widths x (JPEG, WebP)
    assert!(
        first
            .stderr
            .contains("avif: 6 AVIF variants still to come: the time budget (avif_budget) ran out"),
        "{}",
        first.stderr
    );
    let page = site.read(".pixpipe/site/content/p/index.md");
    let data = site.read(".pixpipe/site/data/pixpipe.yaml");
    assert!(
        !page.contains(".avif") && !data.contains(".avif"),
        "{page}\n{data}"
    );
    // The next build without a budget makes exactly the rest.
    let second = run(&["build"], site.root());
    assert!(
        second.stderr.contains("(6 made, 12 reused)"),
        "{}",
        second.stderr
    );
    assert!(
        !second.stderr.contains("still to come"),
        "{}",
        second.stderr
    );
    let finished = files(site.root(), &manifest(site.root()));
    // The same bytes as a build that never had a budget, and as one with `--avif-budget none`.
    for flags in [&[][..], &["--avif-budget", "none"][..]] {
        let other = budget_site();
        let mut args = vec!["build"];
        args.extend_from_slice(flags);
        let r = run(&args, other.root());
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stderr.contains("(18 made, 0 reused)"), "{}", r.stderr);
        assert_eq!(
            files(other.root(), &manifest(other.root())),
            finished,
            "{flags:?}"
        );
    }
    let bad = run(&["build", "--avif-budget", "soon"], site.root());
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr.contains(
            "--avif-budget: `soon` is not a duration (write `90s`, `10m`, `1h` or `none`)"
        ),
        "{}",
        bad.stderr
    );
}

/// The `type`s of the `<source>`s in `html`, in order.
fn source_types(html: &str) -> Vec<String> {
    html.split("<source ")
        .skip(1)
        .map(|s| {
            let t = &s[s.find("type=\"").expect("a type") + 6..];
            t[..t.find('"').unwrap()].to_string()
        })
        .collect()
}

#[test]
fn html_and_gallery_offer_avif_before_webp_and_check_html_accepts_it() {
    let site = SiteBuilder::new()
        .page(
            "public/index.html",
            "<!doctype html><body>\n<img src=\"/img/photo.jpg\" alt=\"a photo\">\n</body>\n",
        )
        .image("public/img/photo.jpg", 1600, 1000)
        .bytes("photos/a.jpg", jpeg_bytes(&photo(600, 400, 1)))
        .bytes("photos/b.jpg", jpeg_bytes(&photo(400, 600, 2)))
        .build();
    let public = site.path("public");
    let cache = site.path("cache");
    let formats = ["--formats", "auto,webp,avif"];
    let mut args = vec!["html", public.to_str().unwrap(), "-q"];
    args.extend(["--cache", cache.to_str().unwrap()]);
    args.extend(formats);
    let r = pixpipe(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let page = site.read("public/index.html");
    assert_eq!(
        source_types(&page),
        vec!["image/avif", "image/webp"],
        "{page}"
    );
    let check = pixpipe(&["check", "--html", public.to_str().unwrap()]);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    // Each AVIF it lists decodes to the width it says.
    let avif = &page[page.find("image/avif\" srcset=\"").unwrap() + 20..];
    for candidate in avif[..avif.find('"').unwrap()].split(", ") {
        let (url, w) = candidate.split_once(' ').unwrap();
        let bytes = std::fs::read(public.join(url.trim_start_matches('/'))).unwrap();
        assert_eq!(format!("{}w", decode(&bytes).width), w, "{url}");
    }

    let (photos, out) = (site.path("photos"), site.path("gallery"));
    let mut args = vec!["gallery", "-q", photos.to_str().unwrap()];
    args.extend(["--out", out.to_str().unwrap()]);
    args.extend(formats);
    let r = pixpipe(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    let items: Vec<&str> = html.split("<li id=").skip(1).collect();
    assert_eq!(items.len(), 2);
    for item in items {
        assert_eq!(
            source_types(item),
            vec!["image/avif", "image/webp"],
            "{item}"
        );
    }
}

#[test]
fn avif_alone_is_made_whatever_the_budget() {
    let site = SiteBuilder::new()
        .bytes("photos/a.jpg", jpeg_bytes(&photo(600, 400, 1)))
        .bytes("photos/b.jpg", jpeg_bytes(&photo(400, 600, 2)))
        .build();
    let (photos, out) = (site.path("photos"), site.path("gallery"));
    let r = pixpipe(&[
        "gallery",
        "-q",
        photos.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--formats",
        "avif",
        "--avif-budget",
        "0s",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("still to come"), "{}", r.stderr);
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    let items: Vec<&str> = html.split("<li id=").skip(1).collect();
    assert_eq!(items.len(), 2);
    for item in items {
        let src = &item[item.find("<img src=\"").unwrap() + 10..];
        let src = &src[..src.find('"').unwrap()];
        assert!(src.ends_with(".avif"), "{item}");
        decode(&std::fs::read(out.join(src)).unwrap());
    }
}

/// One variant in the manifest: (format, width, bytes).
type Sized = (String, u64, u64);

/// For each source of the manifest, its variants.
fn sizes_by_source(m: &serde_json::Value) -> Vec<(String, Vec<Sized>)> {
    (m["images"].as_object().unwrap().iter())
        .map(|(src, img)| {
            let vs = (img["variants"].as_array().unwrap().iter())
                .map(|v| {
                    let f = v["format"].as_str().unwrap().to_string();
                    (
                        f,
                        v["width"].as_u64().unwrap(),
                        v["bytes"].as_u64().unwrap(),
                    )
                })
                .collect();
            (src.clone(), vs)
        })
        .collect()
}

/// The files under `dir` whose names end in `.avif`, by name.
fn avif_files(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = walkdir(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "avif"))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

/// The AVIF files under `dir`, which must be the photo's (some) and no other's.
fn only_the_photos_avif(dir: &Path) -> Vec<String> {
    let avifs = avif_files(dir);
    assert!(
        !avifs.is_empty() && avifs.iter().all(|n| n.starts_with("photo-")),
        "{}: {avifs:?}",
        dir.display()
    );
    avifs
}

fn walkdir(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn avif_no_smaller_than_the_webp_is_left_out() {
    // A flat disc (a logo: AVIF's fixed overhead and flat colours favour WebP) and a
    // photo-like picture, at the default qualities.
    let site = SiteBuilder::new()
        .page("pixpipe.yaml", "formats: [auto, webp, avif]\n")
        .bytes(
            "content/p/logo.png",
            crate::support::rgba_png_bytes(512, 512),
        )
        .bytes("content/p/photo.jpg", jpeg_bytes(&photo(3200, 2400, 5)))
        .page(
            "content/p/index.md",
            "![logo](logo.png)\n\n{{< image width=\"60%\" link=\"./photo.jpg\" >}}\n",
        )
        .build();
    let r = run(&["build"], site.root());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m = manifest(site.root());
    let by_source = sizes_by_source(&m);
    let left_out = |src: &str| {
        let (_, vs) = by_source.iter().find(|(s, _)| s.ends_with(src)).unwrap();
        let avif: Vec<_> = vs.iter().filter(|v| v.0 == "avif").collect();
        let (mut a_total, mut w_total) = (0, 0);
        for a in &avif {
            a_total += a.2;
            w_total += vs.iter().find(|v| v.0 == "webp" && v.1 == a.1).unwrap().2;
        }
        assert!(avif.is_empty() || a_total < w_total, "{src}: {vs:?}");
        avif.is_empty()
    };
    assert!(left_out("logo.png"), "{m}");
    assert!(!left_out("photo.jpg"), "{m}");
    assert!(
        r.stderr.contains(" of 1 image left out: together no smaller than the files a browser without AVIF gets at the same widths (the WebP, else the fallback), so it is served without AVIF"),
        "{}",
        r.stderr
    );
    // The mirror holds the photo's AVIF files and no other.
    let mirror = site.path(".pixpipe/site");
    let avifs = only_the_photos_avif(&mirror);
    // Again from the cache: the same, nothing made.
    let again = run(&["build"], site.root());
    assert!(again.stderr.contains("(0 made, "), "{}", again.stderr);
    assert!(
        again.stderr.contains(" of 1 image left out"),
        "{}",
        again.stderr
    );
    assert_eq!(manifest(site.root()), m);
    assert_eq!(avif_files(&mirror), avifs);

    // The HTML stage and the gallery alike: no AVIF for the logo, none written.
    let html = SiteBuilder::new()
        .page(
            "public/index.html",
            "<!doctype html><body>\n<img src=\"/img/logo.png\" alt=\"logo\">\n<img src=\"/img/photo.jpg\" alt=\"a photo\">\n</body>\n",
        )
        .bytes("public/img/logo.png", crate::support::rgba_png_bytes(512, 512))
        .bytes("public/img/photo.jpg", jpeg_bytes(&photo(3200, 2400, 5)))
        .bytes("photos/logo.png", crate::support::rgba_png_bytes(512, 512))
        .bytes("photos/photo.jpg", jpeg_bytes(&photo(3200, 2400, 5)))
        .page("pixpipe.yaml", "formats: [auto, webp, avif]\n")
        .build();
    let (public, cache, config) = (
        html.path("public"),
        html.path("cache"),
        html.path("pixpipe.yaml"),
    );
    // `html` and `gallery` with the cache and the configuration.
    let with = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--cache", cache.to_str().unwrap()]);
        all.extend(["--config", config.to_str().unwrap()]);
        pixpipe(&all)
    };
    let r = with(&["html", public.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains(" of 1 image left out"), "{}", r.stderr);
    let page = html.read("public/index.html");
    let pictures: Vec<&str> = page.split("<picture>").skip(1).collect();
    assert_eq!(pictures.len(), 2, "{page}");
    assert_eq!(source_types(pictures[0]), ["image/webp"], "{page}");
    assert_eq!(
        source_types(pictures[1]),
        ["image/avif", "image/webp"],
        "{page}"
    );
    only_the_photos_avif(&public);

    let (photos, out) = (html.path("photos"), html.path("gallery"));
    let r = with(&[
        "gallery",
        photos.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains(" of 1 image left out"), "{}", r.stderr);
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    let items: Vec<&str> = page.split("<li id=").skip(1).collect();
    assert_eq!(items.len(), 2);
    for item in items {
        let want: &[&str] = if item.starts_with("\"photo-logo") {
            &["image/webp"]
        } else {
            &["image/avif", "image/webp"]
        };
        assert_eq!(source_types(item), want, "{item}");
    }
    only_the_photos_avif(&out);
}
