//! Palette PNGs (issue #18): a screenshot or diagram with more than 256 colours (as its
//! anti-aliased edges give it) often looks the same with a palette of 256, at a third of the
//! bytes. The colours are chosen by quantette (Wu's method in Oklab, no dithering, which
//! would cost bytes and add noise to flat areas) and the result is kept only when
//! SSIMULACRA2 scores it at least `VISUALLY_LOSSLESS` against the full-colour pixels.
//! Deterministic: the same pixels give the same palette and indices on every machine.

use super::pixels::Pixels;
use quantette::deps::palette::Srgb;
use quantette::{ImageRef, Pipeline};

/// SSIMULACRA2's score for "visually lossless": on its published scale 90 is "very high
/// quality, likely impossible to distinguish from the original in a side-by-side comparison
/// at 1:1", and 70 "high quality". A palette image below it keeps its full colours.
pub const VISUALLY_LOSSLESS: f64 = 90.0;

/// An image as a palette of at most 256 colours and one index per pixel.
pub struct Indexed {
    /// The colours.
    pub palette: Vec<[u8; 3]>,
    /// One index into `palette` per pixel, row by row.
    pub indices: Vec<u8>,
    /// SSIMULACRA2 of the palette image against the full-colour one.
    pub score: f64,
}

/// `p` as a palette image, when it is opaque, at least 8x8 and scores at least
/// `VISUALLY_LOSSLESS`; `None` otherwise (including images of 256 colours or fewer, which
/// the lossless encoder already writes as a palette).
pub fn indexed(p: &Pixels) -> Option<Indexed> {
    if p.channels != 3 || p.width < 8 || p.height < 8 || few_colours(&p.data) {
        return None;
    }
    let pixels: &[Srgb<u8>] = quantette::deps::palette::cast::from_component_slice(&p.data);
    let image = ImageRef::new(p.width, p.height, pixels).ok()?;
    let (palette, indices) = Pipeline::new()
        .ditherer(None)
        .input_image(image)
        .output_srgb8_indexed_image()
        .into_parts();
    let palette: Vec<[u8; 3]> = palette.iter().map(|c| [c.red, c.green, c.blue]).collect();
    let score = ssimulacra2(p, &palette, &indices)?;
    (score >= VISUALLY_LOSSLESS).then_some(Indexed {
        palette,
        indices,
        score,
    })
}

/// Whether the RGB `data` has 256 colours or fewer.
fn few_colours(data: &[u8]) -> bool {
    let mut seen = std::collections::HashSet::new();
    for px in data.chunks_exact(3) {
        if seen.insert([px[0], px[1], px[2]]) && seen.len() > 256 {
            return false;
        }
    }
    true
}

/// SSIMULACRA2 of the palette image against `p`.
fn ssimulacra2(p: &Pixels, palette: &[[u8; 3]], indices: &[u8]) -> Option<f64> {
    use ssimulacra2::{ColorPrimaries, Rgb, TransferCharacteristic};
    let to_f32 = |c: [u8; 3]| c.map(|v| v as f32 / 255.0);
    let rgb = |data: Vec<[f32; 3]>| {
        Rgb::new(
            data,
            p.width as usize,
            p.height as usize,
            TransferCharacteristic::SRGB,
            ColorPrimaries::BT709,
        )
        .ok()
    };
    let original = rgb(p
        .data
        .chunks_exact(3)
        .map(|c| to_f32([c[0], c[1], c[2]]))
        .collect())?;
    let quantized = rgb(indices
        .iter()
        .map(|&i| to_f32(palette.get(i as usize).copied().unwrap_or([0, 0, 0])))
        .collect())?;
    ssimulacra2::compute_frame_ssimulacra2(original, quantized).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A diagram: four flat boxes on white, and round marks drawn over them with anti-aliased
    /// edges (each edge pixel a blend of the mark's colour and what is under it): hundreds
    /// of colours, as a screenshot's text gives it.
    fn diagram(w: u32, h: u32) -> Pixels {
        const BOXES: [[f32; 3]; 4] = [
            [66.0, 133.0, 244.0],
            [52.0, 168.0, 83.0],
            [251.0, 188.0, 5.0],
            [234.0, 67.0, 53.0],
        ];
        let mut data = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            for x in 0..w {
                let under = if (x / 80 + y / 50) % 3 == 0 {
                    BOXES[((x / 80 + y / 50) % 4) as usize]
                } else {
                    [255.0, 255.0, 255.0]
                };
                // Marks every 12 px: coverage falls from 1 to 0 over the 1.5 px of the edge.
                // Centres off the pixel grid, each mark its own way, as glyphs are.
                let jitter = ((x / 12 * 7 + y / 12 * 13) % 17) as f32 / 17.0;
                let (cx, cy) = (
                    (x / 12 * 12) as f32 + 5.5 + jitter,
                    (y / 12 * 12) as f32 + 6.2 - jitter / 2.0,
                );
                let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
                let cover = (4.2 - d).clamp(0.0, 1.5) / 1.5;
                let ink = 32.0;
                for u in under {
                    data.push((ink * cover + u * (1.0 - cover)).round() as u8);
                }
            }
        }
        Pixels {
            width: w,
            height: h,
            channels: 3,
            data,
        }
    }

    #[test]
    fn a_diagram_gets_a_palette_that_scores_visually_lossless() {
        let p = diagram(320, 200);
        let ix = indexed(&p).expect("a palette");
        assert!(ix.palette.len() <= 256);
        assert_eq!(ix.indices.len(), 320 * 200);
        assert!(ix.score >= VISUALLY_LOSSLESS, "{}", ix.score);
        // The same pixels, the same palette.
        let again = indexed(&p).unwrap();
        assert_eq!((again.palette, again.indices), (ix.palette, ix.indices));
    }

    #[test]
    fn noise_keeps_its_colours_and_few_colours_need_no_palette() {
        let mut state = 7u32;
        let noise: Vec<u8> = (0..64 * 64 * 3)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (state >> 16) as u8
            })
            .collect();
        let p = Pixels {
            width: 64,
            height: 64,
            channels: 3,
            data: noise,
        };
        assert!(indexed(&p).is_none(), "noise does not survive 256 colours");
        let flat = Pixels {
            width: 64,
            height: 64,
            channels: 3,
            data: vec![200; 64 * 64 * 3],
        };
        assert!(indexed(&flat).is_none());
    }
}
