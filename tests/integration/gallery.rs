//! `pixpipe gallery`: order, captions, excludes, orientation, metadata, the Hugo bundle, cache.

use crate::support::exif::Exif;
use crate::support::{
    jpeg_bytes, photo, pixpipe, quadrants, stored_for_orientation, tree, Run, SiteBuilder,
};
use std::path::Path;

fn shot(when: &str, offset: &str, description: Option<&str>, orientation: u16) -> Exif {
    Exif {
        orientation: Some(orientation),
        description: description.map(str::to_string),
        date_time_original: Some(when.into()),
        offset_time_original: Some(offset.into()),
        gps: Some((52.34, 4.89)),
        ..Exif::default()
    }
}

fn gallery(dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["gallery", dir.to_str().unwrap(), "--quiet"];
    args.extend_from_slice(extra);
    pixpipe(&args)
}

fn event() -> crate::support::Site {
    SiteBuilder::new()
        // 10:00 in Amsterdam (+02:00) is 08:00 UTC: earlier than 09:00 UTC in London.
        .photo_with_exif("photos/b-london.jpg", 900, 600, &shot("2023:04:18 10:00:00", "+01:00", Some("From London"), 1))
        .photo_with_exif("photos/a-amsterdam.jpg", 900, 600, &shot("2023:04:18 10:00:00", "+02:00", Some("From Amsterdam"), 1))
        .photo_with_exif("photos/c-first.jpg", 900, 600, &shot("2023:04:19 12:00:00", "+00:00", None, 1))
        .photo_with_exif("photos/d-blurry.jpg", 900, 600, &shot("2023:04:17 08:00:00", "+00:00", None, 1))
        .image("photos/e-undated.png", 500, 500)
        .page("photos/notes.txt", "not a photo")
        .page(
            "photos/gallery.yaml",
            "title: Istio Day\ndate: 2023-04-18\ncover: a-amsterdam.jpg\norder: [c-first.jpg]\nexclude: [d-blurry.jpg]\nphotos:\n  c-first.jpg:\n    caption: The first talk\n    alt: A speaker at a lectern\n",
        )
        .build()
}

#[test]
fn photos_are_ordered_captioned_and_excluded_as_asked() {
    let site = event();
    let out = site.path("out");
    let run = gallery(&site.path("photos"), &["--out", out.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("note[skipped]: notes.txt: not a JPEG, PNG or WebP photo; skipped"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("gallery: 4 photos (1 with neither caption nor alt text)"),
        "{}",
        run.stderr
    );
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    let ids: Vec<&str> = html
        .match_indices("<li id=\"")
        .map(|(i, _)| &html[i + 8..i + 8 + html[i + 8..].find('"').unwrap()])
        .collect();
    assert_eq!(
        ids,
        vec![
            "photo-c-first",
            "photo-a-amsterdam",
            "photo-b-london",
            "photo-e-undated"
        ]
    );
    assert!(
        html.contains("alt=\"A speaker at a lectern\""),
        "alt from gallery.yaml"
    );
    assert!(
        html.contains("data-caption=\"From Amsterdam\""),
        "caption from EXIF"
    );
    assert!(
        html.contains("alt=\"From London\""),
        "the caption is the alt text when there is none"
    );
    assert!(!html.contains("d-blurry"), "excluded");
    // Every grid image has its size (no layout shift); all four are in the first screen, so
    // none waits for the scroll, and the first (the likely LCP) is fetched first.
    for (i, tag) in html.split("<img ").skip(1).take(4).enumerate() {
        assert!(
            tag.contains("width=\"")
                && tag.contains("height=\"")
                && tag.contains("loading=\"eager\""),
            "{tag}"
        );
        assert_eq!(tag.contains("fetchpriority=\"high\""), i == 0, "{tag}");
    }
    assert!(out.join("gallery.js").is_file() && out.join("gallery.css").is_file());
}

#[test]
fn outputs_are_upright_and_carry_no_metadata() {
    let upright = quadrants(120, 80);
    let stored = stored_for_orientation(&upright, 6);
    let site = SiteBuilder::new()
        .bytes(
            "photos/turned.jpg",
            shot("2023:04:18 10:00:00", "+02:00", Some("Turned"), 6)
                .insert_into_jpeg(&jpeg_bytes(&stored)),
        )
        .build();
    let out = site.path("out");
    assert_eq!(
        gallery(
            &site.path("photos"),
            &["--out", out.to_str().unwrap(), "--originals"]
        )
        .code,
        0
    );
    let mut seen = 0;
    for dir in ["images", "originals"] {
        for e in std::fs::read_dir(out.join(dir)).unwrap() {
            let bytes = std::fs::read(e.unwrap().path()).unwrap();
            assert!(
                !bytes.windows(6).any(|w| w == b"Exif\0\0")
                    && !bytes.windows(4).any(|w| w == b"EXIF"),
                "metadata survived"
            );
            let img = image::load_from_memory(&bytes).unwrap().to_rgb8();
            assert_eq!(
                img.width() * 2,
                img.height() * 3,
                "upright: wider than tall"
            );
            let tl = img.get_pixel(img.width() / 8, img.height() / 8).0;
            assert!(tl[0] > 150 && tl[2] < 100, "top-left is red: {tl:?}");
            seen += 1;
        }
    }
    assert!(seen >= 3, "{seen}");
}

#[test]
fn the_hugo_bundle_passes_check_with_no_finding() {
    let site = event();
    let bundle = site.path("site/content/events/istio-day");
    std::fs::create_dir_all(site.path("site/content")).unwrap();
    std::fs::write(
        site.path("site/pixpipe.yaml"),
        "content_width: 1200\nlint: {caption_period: error}\n",
    )
    .unwrap();
    let run = gallery(
        &site.path("photos"),
        &["--format", "hugo", "--out", bundle.to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let md = std::fs::read_to_string(bundle.join("index.md")).unwrap();
    assert!(
        md.starts_with("---\ntitle: \"Istio Day\"\ndate: 2023-04-18\ncover: a-amsterdam-900w."),
        "{md}"
    );
    assert_eq!(md.matches("{{< image link=\"./").count(), 4, "{md}");
    assert!(md.contains("width=\"900\" ratio=\"66.67%\"\n    caption=\"The first talk\"\n    alt=\"A speaker at a lectern\" >}}"), "{md}");
    let check = pixpipe(&[
        "check",
        site.path("site").to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(check.code, 0, "{}", check.stdout);
    assert_eq!(check.stdout.trim(), "[]", "{}", check.stdout);
}

#[test]
fn the_hugo_bundle_links_each_original_under_its_photo() {
    let site = event();
    let bundle = site.path("site/content/events/istio-day");
    std::fs::create_dir_all(site.path("site/content")).unwrap();
    let run = gallery(
        &site.path("photos"),
        &[
            "--format",
            "hugo",
            "--originals",
            "--out",
            bundle.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let md = std::fs::read_to_string(bundle.join("index.md")).unwrap();
    let links: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with("[Download original "))
        .collect();
    assert_eq!(links.len(), 4, "{md}");
    // Each link follows its photo's shortcode, with the size shown and a file that is there.
    for (stem, (w, h)) in [
        ("c-first", (900, 600)),
        ("a-amsterdam", (900, 600)),
        ("b-london", (900, 600)),
        ("e-undated", (500, 500)),
    ] {
        let line = links
            .iter()
            .find(|l| l.contains(&format!("](originals/{stem}.")))
            .unwrap_or_else(|| panic!("no link to {stem}'s original: {md}"));
        assert!(
            line.starts_with(&format!("[Download original ({w} \u{d7} {h})](originals/")),
            "{line}"
        );
        let file = &line[line.find("](").unwrap() + 2..line.len() - 1];
        assert_eq!(
            image::image_dimensions(bundle.join(file)).unwrap(),
            (w, h),
            "{file}"
        );
        let shortcode = md.find(&format!("link=\"./{stem}-")).unwrap();
        assert!(md.find(*line).unwrap() > shortcode, "{md}");
    }
    let check = pixpipe(&[
        "check",
        site.path("site").to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(check.stdout.trim(), "[]", "{}", check.stdout);
}

#[test]
fn adding_one_photo_processes_only_that_photo() {
    let site = event();
    let out = site.path("out");
    let first = gallery(&site.path("photos"), &["--out", out.to_str().unwrap()]);
    assert!(
        first.stderr.contains("(") && first.stderr.contains("made, 0 reused"),
        "{}",
        first.stderr
    );
    std::fs::write(
        site.path("photos/f-new.jpg"),
        jpeg_bytes(&photo(900, 600, 42)),
    )
    .unwrap();
    let before = tree(&out.join("images"));
    let second = gallery(&site.path("photos"), &["--out", out.to_str().unwrap()]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    let after = tree(&out.join("images"));
    let new: Vec<&String> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    // The new photo ends the last row: what is made is its sizes, and those of the photos
    // whose row it joined (their thumbnails are wider now). The first row is untouched.
    let made = count_made(&second.stderr);
    assert_eq!(made, new.len(), "{}\n{new:?}", second.stderr);
    assert!(new.iter().any(|n| n.starts_with("f-new-")), "{new:?}");
    assert!(after
        .keys()
        .filter(|k| k.starts_with("f-new-"))
        .all(|k| new.contains(&k)));
    assert!(!new.iter().any(|n| n.starts_with("c-first-")), "{new:?}");
    assert!(
        before
            .keys()
            .all(|k| after.contains_key(k) || !k.starts_with("c-first-")),
        "the first photo keeps its files"
    );
}

/// `N made` in a gallery's summary.
fn count_made(stderr: &str) -> usize {
    let at = stderr.find(" made, ").expect("a summary");
    let start = stderr[..at].rfind('(').expect("(N made") + 1;
    stderr[start..at].parse().expect("a count")
}

#[test]
fn the_grid_is_justified_rows_of_pictures_and_only_the_first_screen_loads_at_once() {
    // Issue #18, item 4: 40 photos of three shapes.
    let mut b = SiteBuilder::new();
    for i in 0..40u32 {
        let (w, h) = [(900, 600), (600, 900), (800, 800)][(i % 3) as usize];
        b = b.bytes(
            &format!("photos/p{i:02}.jpg"),
            jpeg_bytes(&photo(w / 3, h / 3, i)),
        );
    }
    let site = b.build();
    let out = site.path("out");
    let run = gallery(&site.path("photos"), &["--out", out.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    let items: Vec<&str> = html.split("<li id=").skip(1).collect();
    assert_eq!(items.len(), 40);
    let mut lazy = 0;
    for (i, item) in items.iter().enumerate() {
        // A WebP <source> before the JPEG <img>, both with the same sizes.
        let source = &item[item.find("<source type=\"image/webp\" srcset=\"").unwrap()..];
        let img = &item[item.find("<img ").unwrap()..];
        assert!(
            source.find("<img ").is_some(),
            "the source comes first: {item}"
        );
        let sizes = |tag: &str| {
            tag[tag.find(" sizes=\"").unwrap() + 8..]
                .split('"')
                .next()
                .unwrap()
                .to_string()
        };
        assert_eq!(sizes(source), sizes(img), "{item}");
        assert!(
            sizes(img).starts_with("(max-width: 599px) calc((100vw - "),
            "{item}"
        );
        assert!(img.contains(".jpg ") && source.contains(".webp "), "{item}");
        // Its width in each class.
        assert!(
            item.contains("--pp-ws: calc(")
                && item.contains("--pp-wm: calc(")
                && item.contains("--pp-wl: calc("),
            "{item}"
        );
        assert_eq!(img.contains("fetchpriority=\"high\""), i == 0);
        if img.contains("loading=\"lazy\"") {
            lazy += 1;
        } else {
            assert_eq!(lazy, 0, "photos after a lazy one are lazy too: #{i}");
        }
    }
    // A desktop's first screen shows four rows of about five photos: those load at once.
    assert!((10..=30).contains(&lazy), "{lazy} of 40 lazy");
    // Every file the page names is there.
    for src in html.split("images/").skip(1) {
        let name = &src[..src.find([' ', '"']).unwrap()];
        assert!(out.join("images").join(name).is_file(), "{name}");
    }
}

#[test]
fn a_rerun_rewrites_an_image_a_power_cut_left_short() {
    let site = event();
    let out = site.path("out");
    assert_eq!(
        gallery(&site.path("photos"), &["--out", out.to_str().unwrap()]).code,
        0
    );
    let before = tree(&out);
    // Written without waiting for the disk, a file can survive a power cut renamed but
    // empty or cut short: the name alone must not make the rerun trust it.
    let mut images: Vec<_> = std::fs::read_dir(out.join("images"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    images.sort();
    let (empty, short) = (&images[0], &images[1]);
    std::fs::write(empty, b"").unwrap();
    let bytes = std::fs::read(short).unwrap();
    std::fs::write(short, &bytes[..bytes.len() / 2]).unwrap();
    let rerun = gallery(&site.path("photos"), &["--out", out.to_str().unwrap()]);
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    assert!(rerun.stderr.contains("(0 made, "), "{}", rerun.stderr);
    assert_eq!(tree(&out), before);
}

#[test]
fn a_typo_in_gallery_yaml_is_an_error_with_its_position() {
    let site = SiteBuilder::new()
        .image("photos/a.jpg", 100, 80)
        .page("photos/gallery.yaml", "title: x\nordr: [a.jpg]\n")
        .build();
    let run = gallery(
        &site.path("photos"),
        &["--out", site.path("out").to_str().unwrap()],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("gallery.yaml:2:1: unknown field `ordr`"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_gallery_never_overwrites_someone_elses_folder() {
    let site = event();
    let taken = site.path("existing");
    std::fs::create_dir_all(&taken).unwrap();
    std::fs::write(taken.join("index.md"), "mine").unwrap();
    let run = gallery(&site.path("photos"), &["--out", taken.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(taken.join("index.md")).unwrap(),
        "mine"
    );
    let run = gallery(
        &site.path("photos"),
        &["--out", site.path("photos").to_str().unwrap()],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn a_rerun_removes_what_it_no_longer_writes_and_nothing_else() {
    let mut b = SiteBuilder::new();
    for i in 0..3 {
        b = b.bytes(
            &format!("photos/p{i}.jpg"),
            jpeg_bytes(&photo(1200, 800, i)),
        );
    }
    let site = b.page("victim.txt", "not the gallery's").build();
    let out = site.path("out");
    let first = gallery(
        &site.path("photos"),
        &["--out", out.to_str().unwrap(), "--originals"],
    );
    assert_eq!(first.code, 0, "{}", first.stderr);
    let names = |dir: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(out.join(dir))
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    // The images folder holds exactly what the page uses: per photo, the widths its grid
    // thumbnail needs and the lightbox's (never above 1200), in JPEG and WebP.
    let used = |html: &str| -> Vec<String> {
        let mut v: Vec<String> = html
            .split("images/")
            .skip(1)
            .map(|s| s[..s.find([' ', '"']).unwrap()].to_string())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let first_html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert_eq!(names("images"), used(&first_html));
    for i in 0..3 {
        for ext in ["jpg", "webp"] {
            let of = |n: &&String| n.starts_with(&format!("p{i}-")) && n.ends_with(ext);
            assert!(
                names("images").iter().filter(of).count() >= 2,
                "{:?}",
                names("images")
            );
        }
        // The lightbox's largest size is the photo's own width: never upscaled.
        let largest = |n: &String| n.starts_with(&format!("p{i}-1200w.")) && n.ends_with(".jpg");
        assert!(names("images").iter().any(largest), "{:?}", names("images"));
    }
    let originals = names("originals");
    assert_eq!(originals.len(), 3, "{originals:?}");
    assert!(originals[0].starts_with("p0.") && originals[0].ends_with(".jpg"));
    let original =
        image::load_from_memory(&std::fs::read(out.join("originals").join(&originals[0])).unwrap())
            .unwrap();
    assert_eq!((original.width(), original.height()), (1200, 800));
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        html.contains(&format!(
            "data-original=\"originals/{}\" data-original-name=\"p0.jpg\" data-original-size=\"1200 \u{d7} 800\"",
            originals[0]
        )),
        "the lightbox offers the original"
    );

    // Someone's own file in the gallery folder, a killed run's leftover, and a mark edited
    // to name a file outside the folder.
    std::fs::write(out.join("README.txt"), "mine").unwrap();
    std::fs::write(out.join("images/.pixpipe-tmp-Zz9"), "half").unwrap();
    let mark = out.join(".pixpipe-gallery");
    let listed = std::fs::read_to_string(&mark).unwrap();
    assert!(listed.contains("\nimages/p2-"), "{listed}");
    // A listed name that is the same file as one this run keeps (as a differently spelt
    // name is on a case-insensitive file system) is never removed.
    let kept = names("images")
        .into_iter()
        .find(|n| n.starts_with("p1-1200w."))
        .unwrap();
    std::fs::hard_link(
        out.join("images").join(&kept),
        out.join("images/P1-SAME.jpg"),
    )
    .unwrap();
    std::fs::write(
        &mark,
        format!("{listed}../victim.txt\nimages/P1-SAME.jpg\n"),
    )
    .unwrap();

    // p2 leaves the folder, and the originals are no longer asked for.
    std::fs::remove_file(site.path("photos/p2.jpg")).unwrap();
    let second = gallery(&site.path("photos"), &["--out", out.to_str().unwrap()]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        second.stderr.contains("stale files removed"),
        "{}",
        second.stderr
    );
    let images: Vec<String> = names("images")
        .into_iter()
        .filter(|n| n != "P1-SAME.jpg")
        .collect();
    assert!(
        out.join("images/P1-SAME.jpg").exists(),
        "same file as a kept one"
    );
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert_eq!(images, used(&html), "exactly what the page uses stays");
    assert!(
        !out.join("images/.pixpipe-tmp-Zz9").exists(),
        "the leftover goes"
    );
    assert!(
        images
            .iter()
            .all(|n| n.starts_with("p0-") || n.starts_with("p1-")),
        "{images:?}"
    );
    assert!(
        !out.join("originals").exists(),
        "the emptied originals folder goes too"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("README.txt")).unwrap(),
        "mine"
    );
    assert_eq!(
        std::fs::read_to_string(site.path("victim.txt")).unwrap(),
        "not the gallery's"
    );
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        !html.contains("p2") && !html.contains("pp-original"),
        "no download link now"
    );
    // Every file the page uses is there.
    for src in html.split("images/").skip(1) {
        let name = &src[..src.find([' ', '"']).unwrap()];
        assert!(out.join("images").join(name).is_file(), "{name}");
    }
}

#[test]
fn a_rerun_never_removes_files_through_a_symlinked_folder() {
    let site = SiteBuilder::new()
        .bytes("photos/p0.jpg", jpeg_bytes(&photo(1200, 800, 7)))
        .page("elsewhere/keep.txt", "someone's")
        .build();
    let out = site.path("out");
    let o = out.to_str().unwrap();
    let first = gallery(&site.path("photos"), &["--out", o, "--originals"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    // Someone moves the originals elsewhere and leaves a symlink in their place.
    let elsewhere = site.path("elsewhere");
    let mut moved = Vec::new();
    for e in std::fs::read_dir(out.join("originals")).unwrap().flatten() {
        std::fs::rename(e.path(), elsewhere.join(e.file_name())).unwrap();
        moved.push(elsewhere.join(e.file_name()));
    }
    assert_eq!(moved.len(), 1);
    std::fs::remove_dir(out.join("originals")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, out.join("originals")).unwrap();
    // A file there named like a killed run's temporary file is not swept either.
    std::fs::write(elsewhere.join(".pixpipe-tmp-Zz9"), "theirs").unwrap();

    // The originals are no longer asked for: the listed one is not removed through the link.
    let second = gallery(&site.path("photos"), &["--out", o]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(moved[0].is_file(), "{} was removed", moved[0].display());
    assert_eq!(site.read("elsewhere/keep.txt"), "someone's");
    assert_eq!(site.read("elsewhere/.pixpipe-tmp-Zz9"), "theirs");
    assert!(out.join("originals").is_symlink());
}

#[test]
fn a_gallery_killed_midway_then_rerun_on_changed_photos_equals_a_clean_one() {
    // Whatever moment a run is killed at, every file it may have written is listed in the
    // mark first, so a rerun on changed photos leaves nothing of it behind.
    let make = |n: u32| {
        let mut b = SiteBuilder::new();
        for i in 0..n {
            b = b.bytes(
                &format!("photos/p{i}.jpg"),
                jpeg_bytes(&photo(1600, 1000, i)),
            );
        }
        b.build()
    };
    // Every photo changes (and one goes): whatever the killed run placed is stale.
    let change = |site: &crate::support::Site| {
        std::fs::remove_file(site.path("photos/p0.jpg")).unwrap();
        for i in 1..8 {
            let p = site.path(&format!("photos/p{i}.jpg"));
            std::fs::write(p, jpeg_bytes(&photo(1600, 1000, 100 + i))).unwrap();
        }
    };
    let clean = make(8);
    change(&clean);
    let args = |s: &crate::support::Site| {
        vec![
            s.path("photos").to_str().unwrap().to_string(),
            "--out".into(),
            s.path("out").to_str().unwrap().to_string(),
            "--cache".into(),
            s.path("cache").to_str().unwrap().to_string(),
            "--originals".into(),
        ]
    };
    let a = args(&clean);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let run = gallery(Path::new(a[0]), &a[1..]);
    assert_eq!(run.code, 0, "{}", run.stderr);

    let killed = make(8);
    let k = args(&killed);
    // Killed as soon as its first images are in place.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pixpipe"))
        .arg("gallery")
        .args(&k)
        .arg("--quiet")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let placed = || {
        std::fs::read_dir(killed.path("out/images")).is_ok_and(|r| {
            r.flatten()
                .any(|e| !e.file_name().to_string_lossy().starts_with('.'))
        })
    };
    let started = std::time::Instant::now();
    while !placed() && started.elapsed() < std::time::Duration::from_secs(120) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(placed(), "the run placed images before it was killed");
    change(&killed);
    let k: Vec<&str> = k.iter().map(String::as_str).collect();
    let rerun = gallery(Path::new(k[0]), &k[1..]);
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    let (got, want) = (tree(&killed.path("out")), tree(&clean.path("out")));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    assert!(got == want, "same bytes");
}

#[test]
fn switching_a_gallery_to_hugo_removes_the_html_pages_files() {
    let site = SiteBuilder::new()
        .bytes("photos/p0.jpg", jpeg_bytes(&photo(900, 600, 1)))
        .build();
    let out = site.path("out");
    let o = out.to_str().unwrap();
    assert_eq!(gallery(&site.path("photos"), &["--out", o]).code, 0);
    assert!(out.join("index.html").is_file() && out.join("images").is_dir());
    let run = gallery(&site.path("photos"), &["--out", o, "--format", "hugo"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left.len(), 3, "{left:?}");
    assert_eq!(left[0], ".pixpipe-gallery");
    assert_eq!(left[1], "index.md");
    assert!(
        left[2].starts_with("p0-900w.") && left[2].ends_with(".jpg"),
        "{left:?}"
    );
}

#[test]
fn the_shown_sizes_are_the_same_bytes_with_or_without_originals() {
    // 8000 px wide: the shown sizes (up to 2560) come from a half-scale decode (4000 px, 1.5x
    // of 2560 or more), the original from a full one; asking for the original must not
    // change the others.
    let site = SiteBuilder::new()
        .bytes("photos/wide.jpg", jpeg_bytes(&photo(8000, 1600, 3)))
        .build();
    let images = |extra: &[&str], name: &str| {
        let out = site.path(name);
        let cache = site.path(&format!("{name}-cache"));
        let mut args = vec![
            "--out",
            out.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let run = gallery(&site.path("photos"), &args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        tree(&out.join("images"))
    };
    let with = images(&["--originals"], "with");
    let without = images(&[], "without");
    // The thumbnails' widths and the lightbox's up to 2560, in JPEG and WebP.
    assert!(
        with.keys().any(|k| k.starts_with("wide-2560w.")) && with.len() >= 8,
        "{:?}",
        with.keys()
    );
    assert!(with == without, "{:?} vs {:?}", with.keys(), without.keys());
}

#[test]
fn a_gallery_yaml_that_is_not_text_is_an_error_naming_it() {
    // Issue #16: an unreadable or non-UTF-8 gallery.yaml was taken as "no spec", and the
    // gallery was made without its titles, order and captions.
    let site = SiteBuilder::new()
        .bytes("photos/p0.jpg", jpeg_bytes(&photo(900, 600, 1)))
        .bytes("photos/gallery.yaml", b"title: Caf\xe9\n".to_vec())
        .build();
    let out = site.path("out");
    let run = gallery(&site.path("photos"), &["--out", out.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("gallery.yaml: not UTF-8 text"),
        "{}",
        run.stderr
    );
    assert!(
        !out.join("index.html").exists(),
        "no gallery without its spec"
    );
}
