//! The HTML gallery in real headless Chromium (Debian's `chromium`, driven by playwright-core
//! from npm; `make test` installs both), served on 127.0.0.1 by a small file server here.
//! Without them the test says it was skipped, unless PIXPIPE_REQUIRE_TOOLS=1 (as in `make test`).

use crate::support::exif::Exif;
use crate::support::serve::serve;
use crate::support::{jpeg_bytes, photo, pixpipe, SiteBuilder};
use std::path::{Path, PathBuf};
use std::process::Command;

fn tools() -> Option<(PathBuf, PathBuf)> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let modules = repo.join("target/browser/node_modules");
    let chromium =
        PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    let node = Command::new("node")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if node && chromium.is_file() && modules.join("playwright-core").is_dir() {
        return Some((modules, chromium));
    }
    if std::env::var("PIXPIPE_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("chromium, node or playwright-core is missing; `make test` installs them");
    }
    eprintln!("SKIPPED: chromium, node or target/browser/node_modules/playwright-core is missing (make test installs them)");
    None
}

#[test]
fn gallery_works_in_headless_chromium() {
    let Some((modules, chromium)) = tools() else {
        return;
    };
    let mut b = SiteBuilder::new();
    for (i, (w, h, o)) in [
        (2400, 1600, 1),
        (1600, 2400, 1),
        (2400, 1600, 6),
        (2000, 1500, 1),
        (1200, 900, 1),
    ]
    .into_iter()
    .enumerate()
    {
        let exif = Exif {
            orientation: Some(o),
            date_time_original: Some(format!("2023:04:18 1{i}:00:00")),
            description: Some(format!("Photo number {}", i + 1)),
            ..Exif::default()
        };
        b = b.bytes(
            &format!("photos/p{i}.jpg"),
            exif.insert_into_jpeg(&jpeg_bytes(&photo(w, h, i as u32 * 31))),
        );
    }
    let site = b.build();
    let out = site.path("gallery");
    let run = pixpipe(&[
        "gallery",
        site.path("photos").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--originals",
        "--quiet",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let port = serve(out);
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let output = Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/gallery.cjs"))
        .arg(format!("http://127.0.0.1:{port}/index.html"))
        .arg(shots.join("gallery.png"))
        .env("NODE_PATH", &modules)
        .env("CHROMIUM", &chromium)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(r["errors"], serde_json::json!([]), "console errors");
    let grid = r["grid"].as_array().unwrap();
    assert_eq!(grid.len(), 5);
    for img in grid {
        assert!(img["naturalWidth"].as_u64().unwrap() > 0, "{img}");
        assert!(
            img["width"].is_string() && img["height"].is_string(),
            "{img}"
        );
    }
    assert_eq!(
        r["cls"].as_f64().unwrap(),
        0.0,
        "the layout shifted while images loaded"
    );
    // Enter opened the first photo, at a lightbox size (not the thumbnail).
    assert_eq!(r["opened"]["hidden"], false);
    assert_eq!(r["opened"]["caption"], "Photo number 1");
    assert_eq!(r["opened"]["hash"], "#photo-p0");
    // --originals: the lightbox offers the full-size original, which the server has.
    let original = &r["opened"]["original"];
    assert_eq!(original["hidden"], false, "{original}");
    assert_eq!(original["text"], "Download original (2400 \u{d7} 1600)");
    assert_eq!(original["status"], 200, "{original}");
    assert_eq!(original["download"], "p0.jpg", "saved without the hash");
    let href = original["href"].as_str().unwrap();
    assert!(
        href.starts_with("originals/p0.") && href.ends_with(".jpg"),
        "{href}"
    );
    let width_of = |src: &str| -> u32 {
        src.rsplit('-')
            .next()
            .unwrap()
            .split('w')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let first = width_of(r["opened"]["currentSrc"].as_str().unwrap());
    assert!(first >= 1280, "lightbox shows {first} px");
    // → showed the next photo at a larger candidate than its thumbnail.
    assert_eq!(r["next"]["caption"], "Photo number 2");
    assert!(
        width_of(r["next"]["currentSrc"].as_str().unwrap()) > 800,
        "{}",
        r["next"]
    );
    // Esc closed it and gave focus back to the photo that was open.
    assert_eq!(r["closed"]["hidden"], true);
    assert_eq!(r["focus"], "photo-p0");
    // A deep link opens its photo.
    assert_eq!(r["deep"]["hidden"], false);
    assert_eq!(r["deep"]["count"], "3 / 5");
    assert!(shots.join("gallery.png").is_file());
}
