//! The build pipeline stage by stage, on generated photos: decode (full and DCT-scaled),
//! resize, orient, encode (JPEG, WebP, PNG), hash, and planning a 1,000-reference site.
//! Run: `cargo bench --bench pipeline`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use pixpipe::plan::{OutFormat, Variant};
use pixpipe::probe::{probe_bytes, ProbeOptions};
use pixpipe::process::{self, codec, resize};

/// The photo-like pictures the tests use (tests/support/pixels.rs).
#[path = "../tests/support/pixels.rs"]
mod pixels;
use pixels::{jpeg_bytes as jpeg, photo};

// The binary's allocator (src/alloc.rs, not library API). Unused here: `tune`, and its unit
// test's import (cargo builds a bench without the harness with `cfg(test)` but no tests).
#[path = "../src/alloc.rs"]
#[allow(dead_code, unused_imports)]
mod alloc;

#[global_allocator]
static GLOBAL: alloc::Split = alloc::Split;

fn bench_stages(c: &mut Criterion) {
    let src = jpeg(&photo(4000, 3000, 1));
    let info = probe_bytes(
        "p.jpg",
        &src,
        ProbeOptions {
            max_pixels: u64::MAX,
            deep: false,
            decoder: None,
        },
    )
    .info
    .unwrap();
    let mut g = c.benchmark_group("stage");
    g.sample_size(10);
    g.bench_function("decode/4000x3000_full", |b| {
        b.iter(|| {
            codec::decode(&src, info.format, false, 4000, 3000, u64::MAX)
                .unwrap()
                .width
        })
    });
    g.bench_function("decode/4000x3000_scaled_for_1280", |b| {
        b.iter(|| {
            codec::decode(&src, info.format, false, 1280, 960, u64::MAX)
                .unwrap()
                .width
        })
    });
    let full = codec::decode(&src, info.format, false, 4000, 3000, u64::MAX).unwrap();
    let half = codec::decode(&src, info.format, false, 1280, 960, u64::MAX).unwrap();
    assert_eq!((half.width, half.height), (2000, 1500));
    g.bench_function("resize/4000x3000_to_960", |b| {
        b.iter(|| resize::resize(&full, 960, 720).unwrap().width)
    });
    g.bench_function("resize/2000x1500_to_1920", |b| {
        b.iter(|| resize::resize(&half, 1920, 1440).unwrap().width)
    });
    let p1920 = resize::resize(&half, 1920, 1440).unwrap();
    g.bench_function("orient/1920x1440_rotate90", |b| {
        b.iter_batched(
            || p1920.clone(),
            |p| resize::orient(p, 6).unwrap().width,
            BatchSize::LargeInput,
        )
    });
    g.bench_function("encode/jpeg_q80_1920x1440", |b| {
        b.iter(|| codec::encode(&p1920, OutFormat::Jpeg, 80, 0).unwrap().len())
    });
    // Effort 4 (the default) keeps the name it had before efforts could be chosen.
    for (effort, name) in [
        (4u8, "encode/webp_q80_1920x1440"),
        (2, "encode/webp_q80_effort2_1920x1440"),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                codec::encode(&p1920, OutFormat::Webp, 80, effort)
                    .unwrap()
                    .len()
            })
        });
    }
    // AVIF at the defaults (quality and libaom speed) and at speed 6, the slower speed that
    // beats sharp's DSSIM (README, "AVIF"); 1920x1440 is 2.76 MP, so time per megapixel is the
    // time / 2.76.
    let defaults = pixpipe::config::Config::default();
    for (speed, name) in [
        (defaults.avif_speed, "encode/avif_default_1920x1440"),
        (6, "encode/avif_speed6_1920x1440"),
    ] {
        let q = defaults.quality_of(OutFormat::Avif);
        g.bench_function(name, |b| {
            b.iter(|| {
                codec::encode(&p1920, OutFormat::Avif, q, speed)
                    .unwrap()
                    .len()
            })
        });
    }
    g.bench_function("encode/png_1920x1440", |b| {
        b.iter(|| codec::encode(&p1920, OutFormat::Png, 0, 0).unwrap().len())
    });
    let variants: Vec<Variant> = [480u32, 960, 1920]
        .iter()
        .map(|&w| {
            Variant::new(
                w,
                w * 3 / 4,
                OutFormat::Jpeg,
                &pixpipe::config::Config::default(),
            )
        })
        .collect();
    g.bench_function("make_variants/4000x3000_to_480_960_1920_jpeg", |b| {
        b.iter(|| {
            process::make_variants(
                &src,
                &info,
                &variants,
                &variants,
                u64::MAX,
                pixpipe::config::Metadata::Strip,
            )
            .unwrap()
            .len()
        })
    });
    g.finish();

    let mut h = c.benchmark_group("hash");
    h.throughput(Throughput::Bytes(src.len() as u64));
    h.bench_function("blake3/source_jpeg", |b| b.iter(|| blake3::hash(&src)));
    h.finish();
}

/// Planning a site of 250 bundles with 4 references each (1,000 images at 40 % of the content
/// column, densities 1x and 2x, JPEG + WebP): every variant, name and use decided.
fn bench_plan(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    for p in 0..250 {
        let bundle = dir.path().join(format!("content/post-{p}"));
        std::fs::create_dir_all(&bundle).unwrap();
        let mut page = String::from("---\ntitle: post\n---\n");
        for k in 0..4 {
            page.push_str(&format!(
                "{{{{< image width=\"40%\" link=\"./photo-{k}.jpg\" caption=\"Photo {k}\" >}}}}\n\n"
            ));
            // The plan reads the probe, not the file: an empty file resolves.
            std::fs::write(bundle.join(format!("photo-{k}.jpg")), b"").unwrap();
        }
        std::fs::write(bundle.join("index.md"), page).unwrap();
    }
    let config = pixpipe::Config::default();
    let site = pixpipe::scan::scan(dir.path(), &config).expect("scan");
    let inv = pixpipe::inventory::take(&site, &config);
    let header = jpeg(&photo(64, 48, 1));
    let mut probe = probe_bytes(
        "p.jpg",
        &header,
        ProbeOptions {
            max_pixels: u64::MAX,
            deep: false,
            decoder: None,
        },
    );
    if let Some(info) = probe.info.as_mut() {
        (info.width, info.height) = (4000, 3000);
    }
    let probes: std::collections::BTreeMap<String, _> = inv
        .refs
        .iter()
        .filter_map(|r| r.resolution.resolved())
        .map(|p| (p.to_string(), probe.clone()))
        .collect();
    assert_eq!(probes.len(), 1000, "every reference resolves");
    let mut g = c.benchmark_group("plan");
    g.bench_function("1000_references", |b| {
        b.iter(|| pixpipe::plan::plan(&inv, &probes, &config).sources.len())
    });
    g.finish();
}

criterion_group!(benches, bench_stages, bench_plan);
criterion_main!(benches);
