//! Rows: the HTML gallery's justified layout, decided at build time from the photos' aspect
//! ratios: rows of equal height that fill the width, the last row at the target height
//! rather than stretched. Pure, and a leaf.
//!
//! A layout is made for each screen class (phones, tablets, desktops: `CLASSES`) at a
//! reference width; each photo's place is a share of its row's free width (the row less its
//! gaps), so within a class the rows keep their photos and scale with the viewport. The page
//! writes the shares as CSS (`style`) and the exact `sizes` for each photo, and the widths a
//! browser may need follow from them (`needs`).

/// Gap between photos, CSS px (as gallery.css's `--pp-gap`).
pub const GAP: f64 = 12.0;
/// The gallery's widest content box: `.pp-gallery`'s max-width (1400) less its padding (32).
pub const MAX_CONTENT: f64 = 1368.0;
/// `.pp-gallery`'s horizontal padding, both sides.
pub const PADDING: f64 = 32.0;

/// A screen class: the viewports from `min_viewport` up to the next class's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Class {
    /// The narrowest viewport of the class, CSS px.
    pub min_viewport: u32,
    /// The content width the rows are laid out at.
    pub reference: f64,
    /// The height rows aim at, at the reference width.
    pub row_height: f64,
    /// How much of the grid a first screen of the class shows (its viewport's height less
    /// the page's title), CSS px.
    pub first_screen: f64,
}

/// Phones (below 600 px), tablets (600 to 1099) and desktops (1100 and up), as the media
/// queries of gallery.css.
pub const CLASSES: [Class; 3] = [
    Class {
        min_viewport: 0,
        reference: 360.0 - PADDING,
        row_height: 170.0,
        first_screen: 700.0,
    },
    Class {
        min_viewport: 600,
        reference: 768.0 - PADDING,
        row_height: 220.0,
        first_screen: 900.0,
    },
    Class {
        min_viewport: 1100,
        reference: MAX_CONTENT,
        row_height: 260.0,
        first_screen: 850.0,
    },
];

/// A photo's place in one class's layout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slot {
    /// Photos in its row (so the row's gaps are `(n - 1) * GAP`).
    pub row_len: usize,
    /// Its share of the row's free width, 0 to 1, five decimals (rounded down, so a row
    /// never overflows).
    pub share: f64,
    /// Its row, from 0.
    pub row: usize,
    /// The top of its row at the reference width, CSS px from the top of the grid.
    pub top: f64,
}

/// The content width of the gallery on a viewport `viewport` CSS px wide.
pub fn content_width(viewport: u32) -> f64 {
    (viewport as f64 - PADDING).clamp(1.0, MAX_CONTENT)
}

/// The class of a viewport.
pub fn class_of(viewport: u32) -> usize {
    CLASSES
        .iter()
        .rposition(|c| viewport >= c.min_viewport)
        .unwrap_or(0)
}

/// Lay `aspects` (width / height of each photo, in order) out in rows of about `row_height`
/// at content width `width`.
pub fn justify(aspects: &[f64], width: f64, row_height: f64) -> Vec<Slot> {
    let mut slots = Vec::with_capacity(aspects.len());
    let mut start = 0;
    let mut top = 0.0;
    let mut row = 0;
    while start < aspects.len() {
        let end = row_end(aspects, start, width, row_height);
        let members = &aspects[start..end];
        let free = width - (members.len() - 1) as f64 * GAP;
        let sum: f64 = members.iter().sum();
        let last = end == aspects.len();
        // A full row is as high as fills the width; the last one keeps the target height
        // when filling would make it taller.
        let height = if last {
            (free / sum).min(row_height)
        } else {
            free / sum
        };
        for a in members {
            let share = (a * height / free).min(a / sum);
            slots.push(Slot {
                row_len: members.len(),
                share: (share * 1e5).floor() / 1e5,
                row,
                top,
            });
        }
        top += height + GAP;
        row += 1;
        start = end;
    }
    slots
}

/// Where the row that starts at `start` ends: photos are added while the row is taller
/// than `row_height`, and the one that brings it below is kept when that lands closer (by
/// ratio) to the target.
fn row_end(aspects: &[f64], start: usize, width: f64, row_height: f64) -> usize {
    let height = |end: usize| {
        let n = end - start;
        (width - (n - 1) as f64 * GAP) / aspects[start..end].iter().sum::<f64>()
    };
    let mut end = start + 1;
    while end < aspects.len() && height(end) > row_height {
        end += 1;
    }
    if end > start + 1 && height(end) < row_height {
        let (with, without) = (height(end), height(end - 1));
        if row_height / with > without / row_height {
            end -= 1;
        }
    }
    end
}

/// Whether a photo with `slots` is in the first screen of some class (so it loads at once).
pub fn in_first_screen(slots: &[Slot]) -> bool {
    slots
        .iter()
        .zip(&CLASSES)
        .any(|(s, c)| s.top < c.first_screen)
}

/// The CSS width of a slot on a content box `content` CSS px wide.
pub fn slot_width(slot: Slot, content: f64) -> f64 {
    (content - (slot.row_len - 1) as f64 * GAP) * slot.share
}

/// The CSS `calc()` of a slot's width within the grid.
pub fn css_width(slot: Slot) -> String {
    let gaps = (slot.row_len - 1) as f64 * GAP;
    if gaps == 0.0 {
        format!("calc(100% * {})", slot.share)
    } else {
        format!("calc((100% - {gaps}px) * {})", slot.share)
    }
}

/// The `sizes` attribute of a photo with `slots` (one per class, as `CLASSES`).
pub fn sizes(slots: &[Slot]) -> String {
    let mut parts = Vec::new();
    for (i, slot) in slots.iter().enumerate() {
        let gaps = PADDING + (slot.row_len - 1) as f64 * GAP;
        let calc = format!("calc((100vw - {gaps}px) * {})", slot.share);
        match CLASSES.get(i + 1) {
            Some(next) => parts.push(format!("(max-width: {}px) {calc}", next.min_viewport - 1)),
            None => {
                // The content box stops growing at MAX_CONTENT.
                let widest = (MAX_CONTENT + PADDING) as u32;
                parts.push(format!("(max-width: {}px) {calc}", widest - 1));
                parts.push(format!("{}px", slot_width(*slot, MAX_CONTENT).ceil()));
            }
        }
    }
    parts.join(", ")
}

/// The pixel widths a photo with `slots` needs on each of `screens` ((viewport, density)),
/// each rounded up to a step of `STEPS`.
pub fn needs(slots: &[Slot], screens: &[(u32, f64)]) -> Vec<u32> {
    screens
        .iter()
        .map(|&(v, d)| {
            let slot = slots[class_of(v)];
            step_up((slot_width(slot, content_width(v)) * d).ceil() as u32)
        })
        .collect()
}

/// Thumbnail widths come in steps 10 % apart (100, 110, 121, … px): the rows move when a
/// photo comes or goes, and most of the others' widths stay the same steps, so a rerun
/// reuses them from the cache. A browser fetches at most 21 % more pixels than it shows.
pub fn step_up(width: u32) -> u32 {
    let mut step = 100.0f64;
    while step.round() < width as f64 {
        step *= 1.1;
    }
    step.round() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASPECTS: [f64; 7] = [1.5, 1.5, 0.667, 1.5, 1.333, 0.75, 1.5];

    #[test]
    fn full_rows_fill_the_width_at_one_height_and_the_last_is_not_stretched() {
        let slots = justify(&ASPECTS, 1368.0, 260.0);
        let rows = slots.iter().map(|s| s.row).max().unwrap() + 1;
        for r in 0..rows {
            let members: Vec<(usize, &Slot)> = slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.row == r)
                .collect();
            let widths: f64 = members.iter().map(|(_, s)| slot_width(**s, 1368.0)).sum();
            let gaps = (members.len() - 1) as f64 * GAP;
            let heights: Vec<f64> = members
                .iter()
                .map(|(i, s)| slot_width(**s, 1368.0) / ASPECTS[*i])
                .collect();
            for h in &heights {
                assert!((h - heights[0]).abs() < 0.5, "row {r}: {heights:?}");
            }
            if r + 1 < rows {
                assert!(widths + gaps <= 1368.0 && widths + gaps > 1367.0, "row {r}");
                assert!((200.0..330.0).contains(&heights[0]), "row {r}: {heights:?}");
            } else {
                assert!(heights[0] <= 260.0 + 0.5, "last row: {heights:?}");
            }
        }
    }

    #[test]
    fn a_phone_shows_one_or_two_photos_a_row() {
        let slots = justify(&ASPECTS, CLASSES[0].reference, CLASSES[0].row_height);
        assert!(slots.iter().all(|s| s.row_len <= 2), "{slots:?}");
    }

    #[test]
    fn sizes_name_each_class_and_the_widest_width() {
        let slot = |row_len, share| Slot {
            row_len,
            share,
            row: 0,
            top: 0.0,
        };
        let s = sizes(&[slot(1, 1.0), slot(2, 0.5), slot(4, 0.25)]);
        assert_eq!(
            s,
            "(max-width: 599px) calc((100vw - 32px) * 1), \
             (max-width: 1099px) calc((100vw - 44px) * 0.5), \
             (max-width: 1399px) calc((100vw - 68px) * 0.25), 333px"
        );
    }

    #[test]
    fn needs_follow_the_class_of_each_screen() {
        let slots = [
            Slot {
                row_len: 1,
                share: 1.0,
                row: 0,
                top: 0.0,
            },
            Slot {
                row_len: 2,
                share: 0.5,
                row: 0,
                top: 0.0,
            },
            Slot {
                row_len: 3,
                share: 0.3,
                row: 0,
                top: 0.0,
            },
        ];
        // 412@1.75: 380 px wide, the whole row: 665 pixels. 768@2: (736 - 12) / 2 * 2 = 724.
        // 1920@1: (1368 - 24) * 0.3 = 403.2 -> 404. Each up to its step.
        assert_eq!(
            needs(&slots, &[(412, 1.75), (768, 2.0), (1920, 1.0)]),
            vec![step_up(665), step_up(724), step_up(404)]
        );
        assert_eq!((step_up(665), step_up(724), step_up(404)), (673, 740, 418));
    }

    #[test]
    fn steps_are_ten_percent_apart() {
        assert_eq!(step_up(1), 100);
        assert_eq!(step_up(100), 100);
        assert_eq!(step_up(101), 110);
        assert_eq!(step_up(121), 121);
        let mut w = 100;
        while w < 5000 {
            let next = step_up(w + 1);
            assert!(
                next as f64 <= (w as f64 * 1.1).ceil() + 1.0,
                "{w} -> {next}"
            );
            w = next;
        }
    }
}
