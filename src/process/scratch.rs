//! Pixel buffers handed from step to step of one image on a worker thread.
//!
//! Making the variants of one photo frees and allocates the same few multi-megabyte buffers:
//! the decode, each resized output, its upright copy, its sRGB copy. Fresh ones cost page
//! faults (the kernel zeroes every page); handing a freed one to the next step does not.
//! `release` frees them all when the image is done, so that what a worker holds between
//! images is nothing, and the memory budget can count each image's need alone.

use std::cell::RefCell;

/// Buffers kept per thread; more are freed.
const KEEP: usize = 4;

thread_local! {
    static FREE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of `len` bytes (zeroed if new, else holding old pixels): the smallest kept one
/// that fits, else the largest kept one grown, else a new one.
pub fn take(len: usize) -> Vec<u8> {
    let mut v = FREE.with(|f| {
        let mut free = f.borrow_mut();
        let fit = free
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= len)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i);
        let largest = || {
            free.iter()
                .enumerate()
                .max_by_key(|(_, b)| b.capacity())
                .map(|(i, _)| i)
        };
        match fit.or_else(largest) {
            Some(i) => free.swap_remove(i),
            None => Vec::new(),
        }
    });
    v.resize(len, 0);
    v
}

/// Keep `buf` for a later `take` on this thread.
pub fn give(buf: Vec<u8>) {
    if buf.capacity() == 0 {
        return;
    }
    FREE.with(|f| {
        let mut free = f.borrow_mut();
        free.push(buf);
        if free.len() > KEEP {
            // Free the smallest: the large ones are the expensive ones to fault in again.
            if let Some(i) = free
                .iter()
                .enumerate()
                .min_by_key(|(_, b)| b.capacity())
                .map(|(i, _)| i)
            {
                free.swap_remove(i);
            }
        }
    });
}

/// Free every buffer this thread keeps. The resizer keeps its own intermediate buffers,
/// which `resize::release` frees: this module depends on no other step of `process`.
pub fn release() {
    FREE.with(|f| f.borrow_mut().clear());
}

/// Bytes this thread keeps.
#[cfg(test)]
fn kept() -> usize {
    FREE.with(|f| f.borrow().iter().map(Vec::capacity).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_buffer_is_handed_out_again_at_the_asked_length() {
        let b = take(1000);
        assert_eq!(b.len(), 1000);
        let p = b.as_ptr();
        give(b);
        let again = take(500);
        assert_eq!(again.len(), 500);
        assert_eq!(again.as_ptr(), p, "the kept buffer is reused");
        give(again);
        let bigger = take(4000);
        assert_eq!(bigger.len(), 4000);
        give(bigger);
        assert!(kept() >= 4000);
        release();
        assert_eq!(kept(), 0);
    }

    #[test]
    fn at_most_four_buffers_are_kept_the_largest_ones() {
        let bufs: Vec<Vec<u8>> = (1..=6).map(|i| take(i * 100)).collect();
        for b in bufs {
            give(b);
        }
        assert_eq!(FREE.with(|f| f.borrow().len()), KEEP);
        assert!(FREE.with(|f| f.borrow().iter().all(|b| b.capacity() >= 300)));
    }
}
