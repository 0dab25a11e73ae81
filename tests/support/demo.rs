//! The demo site's images (assets/demo), generated: photo-like JPEGs at camera sizes, some
//! with EXIF orientation, capture times and GPS, and PNG diagrams and a logo. Written by
//! `make demo` (the demo-images example) and by the Lighthouse test.
#![allow(dead_code)]

use super::exif::Exif;
use super::pixels;
use std::path::Path;

struct Photo {
    rel: &'static str,
    w: u32,
    h: u32,
    exif: Exif,
}

fn exif(orientation: u16, when: &str, description: Option<&str>, gps: bool) -> Exif {
    Exif {
        orientation: Some(orientation),
        description: description.map(str::to_string),
        artist: Some("Demo Photographer".into()),
        copyright: Some("CC BY 4.0 Demo Photographer".into()),
        date_time_original: Some(when.into()),
        offset_time_original: Some("+02:00".into()),
        gps: gps.then_some((52.3421, 4.8890)),
    }
}

/// How many images the demo has.
pub const IMAGES: usize = 15;

/// Write the demo's images under `root` (the demo site's folder), each `1 / shrink` of its
/// camera size; files already there are kept. Returns how many were written.
pub fn write_images(root: &Path, shrink: u32) -> usize {
    let post = "content/blog/2023/kubecon-eu";
    let photos = vec![
        Photo {
            rel: "istio-day-welcome.jpg",
            w: 4000,
            h: 3000,
            exif: exif(1, "2023:04:18 09:02:11", None, true),
        },
        Photo {
            rel: "opening-keynote.jpg",
            w: 4000,
            h: 3000,
            exif: exif(1, "2023:04:18 09:15:40", None, false),
        },
        Photo {
            rel: "istioday-hall.jpg",
            w: 3264,
            h: 2448,
            exif: exif(1, "2023:04:18 11:30:05", None, false),
        },
        Photo {
            rel: "istio-booth.jpg",
            w: 4032,
            h: 3024,
            exif: exif(6, "2023:04:19 14:12:00", None, true),
        },
    ];
    let mut made = 0;
    for p in &photos {
        made += write_jpeg(
            &root.join(post).join(p.rel),
            p.w / shrink,
            p.h / shrink,
            &p.exif,
        );
    }
    let event = root.join("events/istio-day-2023");
    let gallery = [
        (
            "welcome.jpg",
            4000,
            3000,
            1,
            "2023:04:18 09:01:00",
            Some("The welcome slide on the big screen"),
        ),
        (
            "opening-keynote.jpg",
            4000,
            3000,
            1,
            "2023:04:18 09:15:40",
            None,
        ),
        (
            "hallway-track.jpg",
            3264,
            2448,
            6,
            "2023:04:18 10:45:00",
            Some("Hallway track between sessions"),
        ),
        (
            "lightning-talks.jpg",
            4032,
            3024,
            1,
            "2023:04:18 13:20:00",
            Some("Lightning talks"),
        ),
        (
            "panel.jpg",
            4000,
            3000,
            8,
            "2023:04:18 15:05:30",
            Some("The closing panel"),
        ),
        (
            "booth-crowd.jpg",
            4032,
            3024,
            3,
            "2023:04:19 11:00:00",
            None,
        ),
        (
            "team-photo.jpg",
            6000,
            4000,
            1,
            "2023:04:19 17:30:00",
            Some("The programme committee"),
        ),
        ("badge.jpg", 3024, 4032, 1, "2023:04:17 18:00:00", None),
    ];
    for (name, w, h, o, when, desc) in gallery {
        made += write_jpeg(
            &event.join(name),
            w / shrink,
            h / shrink,
            &exif(o, when, desc, true),
        );
    }
    made += write_png(
        &root.join("content/docs/architecture/arch.png"),
        1600,
        900,
        false,
    );
    made += write_png(
        &root.join("content/docs/architecture/traffic.png"),
        1400,
        700,
        false,
    );
    made += write_png(&root.join("static/images/pixpipe-logo.png"), 512, 512, true);
    made
}

fn write_jpeg(path: &Path, w: u32, h: u32, exif: &Exif) -> usize {
    if path.exists() {
        return 0;
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let seed = path.to_string_lossy().len() as u32;
    let bytes = exif.insert_into_jpeg(&pixels::jpeg_bytes(&pixels::photo(w, h, seed)));
    write_atomically(path, &bytes);
    1
}

fn write_png(path: &Path, w: u32, h: u32, alpha: bool) -> usize {
    if path.exists() {
        return 0;
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let bytes = if alpha {
        pixels::rgba_png_bytes(w, h)
    } else {
        pixels::png_bytes(&pixels::photo(w, h, 3))
    };
    write_atomically(path, &bytes);
    1
}

fn write_atomically(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp-demo");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}
