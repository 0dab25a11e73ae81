//! Generates photo-like JPEGs for the memory and scaling benchmarks (benches/peers/memory.sh),
//! so that no large binary is committed:
//! `cargo run --release --example bench-photos -- DIR COUNT WIDTHxHEIGHT [progressive]`.
//! Each is a different picture (the sun moves), quality 90, 4:2:0; existing files are kept.

mod pixels;

use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: bench-photos DIR COUNT WIDTHxHEIGHT [progressive]";
    let (Some(dir), Some(count), Some(size)) = (args.first(), args.get(1), args.get(2)) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let count: u32 = count.parse().unwrap_or_else(|_| panic!("{usage}"));
    let (w, h) = size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
        .unwrap_or_else(|| panic!("{usage}"));
    let progressive = args.get(3).is_some_and(|a| a == "progressive");
    let dir = Path::new(dir);
    std::fs::create_dir_all(dir).expect("create the photo folder");
    let mut made = 0;
    for i in 0..count {
        let path = dir.join(format!("photo-{i:03}.jpg"));
        if path.exists() {
            continue;
        }
        let img = pixels::photo(w, h, i + 1);
        let mut c = turbojpeg::Compressor::new().expect("libjpeg-turbo");
        c.set_quality(90).expect("quality");
        c.set_subsamp(turbojpeg::Subsamp::Sub2x2)
            .expect("subsampling");
        c.set_progressive(progressive).expect("progressive");
        let bytes = c
            .compress_to_vec(turbojpeg::Image {
                pixels: img.as_raw().as_slice(),
                width: w as usize,
                pitch: w as usize * 3,
                height: h as usize,
                format: turbojpeg::PixelFormat::RGB,
            })
            .expect("encode");
        let tmp = path.with_extension("tmp-bench");
        std::fs::write(&tmp, &bytes).expect("write");
        std::fs::rename(&tmp, &path).expect("rename");
        made += 1;
    }
    println!("bench photos: {made} made in {}", dir.display());
}
