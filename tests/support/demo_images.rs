//! Generates the demo site's images (photo-like, camera sizes, some with EXIF orientation,
//! capture times and GPS), so that no binary is committed. Run by `make demo`:
//! `cargo run --release --example demo-images -- assets/demo`. Existing files are kept.

mod demo;
mod exif;
mod pixels;

use std::path::Path;

fn main() {
    let root = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "assets/demo".into());
    let made = demo::write_images(Path::new(&root), 1);
    println!(
        "demo images: {made} made, {} already there",
        demo::IMAGES - made
    );
}
