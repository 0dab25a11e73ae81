//! Layout: how wide a page shows an image on a given screen, and so which pixel widths a
//! visitor's browser needs and the `sizes` attribute that lets it choose among them.
//!
//! Pure, and a leaf. The page model is the one pixpipe's templates and most documentation
//! themes follow: a content column `content_width` CSS pixels wide, centred, with `margin`
//! CSS pixels beside it in all (both sides together) on screens narrower than the column. An
//! image declared `40%` is shown at 40 % of the column, one declared `640` at 640 px or the
//! whole column when that is narrower, and none is wider than `cap` (its width on a wide
//! screen, which `plan` has already capped at the image's own width).

use crate::declared::DeclaredWidth;

/// A screen: its viewport width in CSS pixels and its device pixel ratio.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Screen {
    /// Viewport width, CSS pixels.
    pub width: u32,
    /// Device pixels per CSS pixel.
    pub density: f64,
}

impl Screen {
    /// Parse `412@1.75` (a viewport 412 CSS px wide at 1.75 device pixels per CSS pixel).
    pub fn parse(s: &str) -> Option<Screen> {
        let (w, d) = s.trim().split_once('@')?;
        let width: u32 = w.trim().parse().ok().filter(|w| *w > 0)?;
        let density: f64 = d.trim().parse().ok()?;
        (density.is_finite() && density > 0.0).then_some(Screen { width, density })
    }
}

impl std::fmt::Display for Screen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.width, self.density)
    }
}

/// The screens pixpipe makes widths for by default: the common phones' viewports at their
/// densities (360 and 390 at 3x, 375 at 2x, 412 at 1.75x and 2.625x, 430 at 3x) and a
/// tablet's (768 at 2x). 412@1.75 is also the phone Lighthouse's mobile preset emulates.
pub const DEFAULT_SCREENS: [&str; 7] = [
    "360@3",
    "375@2",
    "390@3",
    "412@1.75",
    "412@2.625",
    "430@3",
    "768@2",
];

/// A width of the ladder is left out when a width at most this much larger serves it: the
/// browser then fetches at most 21 % more pixels than it shows.
pub const MERGE_WITHIN: f64 = 1.10;

/// The page's column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Column {
    /// CSS width of the column on a wide screen.
    pub width: u32,
    /// CSS pixels beside the column, both sides together, on a narrower screen.
    pub margin: u32,
}

impl Column {
    /// The column's CSS width on a viewport `viewport` CSS pixels wide.
    pub fn at(&self, viewport: u32) -> f64 {
        (viewport.saturating_sub(self.margin).min(self.width)).max(1) as f64
    }

    /// CSS width of an image declared `declared` (the whole column when `None`), at most
    /// `cap`, on a viewport `viewport` wide.
    pub fn shown(&self, declared: Option<DeclaredWidth>, cap: u32, viewport: u32) -> f64 {
        let col = self.at(viewport);
        let w = match declared {
            Some(DeclaredWidth::Percent(p)) => p * col / 100.0,
            Some(DeclaredWidth::Px(px)) => px.min(col),
            None => col,
        };
        w.min(cap as f64).max(1.0)
    }

    /// The `sizes` attribute for an image declared `declared`, at most `cap` CSS pixels wide:
    /// exact on every viewport (the column's share below the viewport where it reaches `cap`,
    /// `cap` above it).
    pub fn sizes(&self, declared: Option<DeclaredWidth>, cap: u32) -> String {
        let share = match declared {
            Some(DeclaredWidth::Percent(p)) => p.min(100.0),
            _ => 100.0,
        };
        // The viewport at which the shown width reaches `cap`.
        let full = (cap as f64 * 100.0 / share + self.margin as f64).ceil() as u32;
        let narrow = if self.margin == 0 {
            format!("{}vw", trim(share))
        } else {
            format!(
                "calc({}vw - {}px)",
                trim(share),
                trim(share * self.margin as f64 / 100.0)
            )
        };
        format!("(max-width: {full}px) {narrow}, {cap}px")
    }
}

/// The pixel widths to make for an image shown at `cap` CSS pixels on a wide screen (`fixed`:
/// `cap` times each density, already capped at the image's width `source_width`), plus one
/// for each screen narrower than that, unless a width at most `MERGE_WITHIN` larger serves
/// it. Never above `source_width`. Ascending.
pub fn ladder(
    column: Column,
    declared: Option<DeclaredWidth>,
    cap: u32,
    screens: &[Screen],
    fixed: &[u32],
    source_width: u32,
) -> Vec<u32> {
    let needs: Vec<u32> = screens
        .iter()
        .map(|s| (column.shown(declared, cap, s.width) * s.density).ceil() as u32)
        .collect();
    merge(needs, fixed, source_width)
}

/// `fixed` and those of `needs` (each capped at `source_width`) that no width at most
/// `MERGE_WITHIN` larger serves, largest first. Ascending, without repeats.
pub fn merge(mut needs: Vec<u32>, fixed: &[u32], source_width: u32) -> Vec<u32> {
    for w in &mut needs {
        *w = (*w).clamp(1, source_width.max(1));
    }
    needs.sort_unstable_by(|a, b| b.cmp(a));
    let mut kept: Vec<u32> = fixed.to_vec();
    for w in needs {
        let served = kept
            .iter()
            .any(|&k| k >= w && (k as f64) <= w as f64 * MERGE_WITHIN);
        if !served {
            kept.push(w);
        }
    }
    kept.sort_unstable();
    kept.dedup();
    kept
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const COL: Column = Column {
        width: 1200,
        margin: 32,
    };

    fn screens() -> Vec<Screen> {
        DEFAULT_SCREENS
            .iter()
            .map(|s| Screen::parse(s).unwrap())
            .collect()
    }

    #[test]
    fn sizes_follow_the_column_and_its_share() {
        let pc = |p| Some(DeclaredWidth::Percent(p));
        assert_eq!(
            COL.sizes(pc(75.0), 900),
            "(max-width: 1232px) calc(75vw - 24px), 900px"
        );
        assert_eq!(
            COL.sizes(None, 1200),
            "(max-width: 1232px) calc(100vw - 32px), 1200px"
        );
        // An image narrower than its share: full size from the viewport where it fits.
        assert_eq!(
            COL.sizes(pc(50.0), 400),
            "(max-width: 832px) calc(50vw - 16px), 400px"
        );
        assert_eq!(
            COL.sizes(Some(DeclaredWidth::Px(640.0)), 640),
            "(max-width: 672px) calc(100vw - 32px), 640px"
        );
        let bare = Column {
            width: 800,
            margin: 0,
        };
        assert_eq!(bare.sizes(pc(40.0), 320), "(max-width: 800px) 40vw, 320px");
    }

    #[test]
    fn the_sizes_breakpoint_is_where_the_shown_width_reaches_the_cap() {
        for (declared, cap) in [
            (Some(DeclaredWidth::Percent(75.0)), 900),
            (Some(DeclaredWidth::Percent(33.0)), 396),
            (Some(DeclaredWidth::Px(500.0)), 500),
            (None, 1200),
        ] {
            let s = COL.sizes(declared, cap);
            let full: u32 = s[12..s.find("px)").unwrap()].parse().unwrap();
            assert!(
                (COL.shown(declared, cap, full) - cap as f64).abs() < 1.0,
                "{s}"
            );
            assert!(COL.shown(declared, cap, full - 2) < cap as f64, "{s}");
        }
    }

    #[test]
    fn a_phone_gets_a_width_close_to_what_it_shows() {
        let declared = Some(DeclaredWidth::Percent(75.0));
        let widths = ladder(COL, declared, 900, &screens(), &[900, 1800], 4000);
        assert_eq!(widths, vec![515, 806, 900, 1104, 1800]);
        // Lighthouse's phone (412 CSS px at 1.75) shows it 285 px wide: 499 pixels.
        let need = COL.shown(declared, 900, 412) * 1.75;
        let pick = widths.iter().find(|&&w| w as f64 >= need).unwrap();
        assert!((*pick as f64) <= need * MERGE_WITHIN, "{pick} for {need}");
        // Every screen gets a width within the merge margin of what it needs.
        for s in screens() {
            let need = (COL.shown(declared, 900, s.width) * s.density).ceil();
            let pick = widths.iter().find(|&&w| w as f64 >= need).unwrap();
            assert!(
                *pick as f64 <= need * MERGE_WITHIN,
                "{s}: {pick} for {need}"
            );
        }
    }

    #[test]
    fn the_ladder_never_upscales_and_keeps_the_fixed_widths() {
        // A 600-px image: nothing above 600, and 600 serves every screen that needs more.
        let widths = ladder(COL, None, 600, &screens(), &[600], 600);
        assert!(widths.iter().all(|&w| w <= 600), "{widths:?}");
        assert!(widths.contains(&600));
        assert_eq!(
            ladder(COL, None, 1200, &[], &[1200, 2400], 4000),
            [1200, 2400]
        );
    }

    #[test]
    fn screens_parse_as_width_at_density() {
        assert_eq!(
            Screen::parse("412@1.75"),
            Some(Screen {
                width: 412,
                density: 1.75
            })
        );
        for bad in ["412", "0@2", "412@0", "412@x", "@2", "412@-1"] {
            assert_eq!(Screen::parse(bad), None, "{bad}");
        }
        assert_eq!(Screen::parse("375@2").unwrap().to_string(), "375@2");
    }
}
