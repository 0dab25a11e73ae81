//! The sizes a page declares for an image, as written in a shortcode or tag: a width (`640`,
//! `640px`, `40%`) and istio's `ratio` (`56.25%`), parsed into numbers.
//!
//! Pure, and a leaf: `check` says where a value does not parse or does not fit the image, and
//! `plan` turns a parsed width into pixels; this module knows neither.

/// A declared width.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DeclaredWidth {
    /// CSS pixels.
    Px(f64),
    /// Percent of the content column.
    Percent(f64),
}

/// Parse `640`, `640px` or `40%`; `None` for anything else.
pub fn parse_width(s: &str) -> Option<DeclaredWidth> {
    let t = s.trim();
    if let Some(p) = t.strip_suffix('%') {
        let v: f64 = p.parse().ok()?;
        return (v > 0.0 && v.is_finite() && !p.ends_with(' '))
            .then_some(DeclaredWidth::Percent(v));
    }
    let v: f64 = t.strip_suffix("px").unwrap_or(t).parse().ok()?;
    (v > 0.0 && v.is_finite()).then_some(DeclaredWidth::Px(v))
}

/// Parse a ratio, height/width in percent: `56.25%` (or `56.25`).
pub fn parse_ratio(s: &str) -> Option<f64> {
    let t = s.trim();
    let v: f64 = t.strip_suffix('%').unwrap_or(t).parse().ok()?;
    (v > 0.0 && v.is_finite()).then_some(v)
}
