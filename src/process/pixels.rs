//! The pixels every step of `process` hands to the next: decoded by `codec`, turned and
//! resized by `resize`, encoded by `codec` again. A leaf: it depends on no other step, so
//! the steps depend on it and not on each other.

/// Decoded pixels, rows top to bottom, no padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pixels {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// 3 (RGB) or 4 (RGBA).
    pub channels: u8,
    /// The samples.
    pub data: Vec<u8>,
}
