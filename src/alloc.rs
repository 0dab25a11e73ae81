//! The allocator of the `pixpipe` binary (and its benchmarks): mimalloc for small blocks, the
//! system allocator for large ones.
//!
//! A module of the binary, not of the library: an allocator is chosen once for the whole
//! process, by the program, so a program that links the library keeps its own. The benchmarks
//! include this file with `#[path]` to measure with what users get.
//!
//! Scanning and planning make millions of small strings and vectors, where mimalloc is fast
//! (12 % faster extraction than glibc's malloc, `benches/extract.rs`). Image work makes a few
//! multi-megabyte buffers per photo, where mimalloc keeps freed memory committed for reuse:
//! on the 32 bench photos its resident memory stayed at 310-370 MB whatever `--memory` said.
//! glibc gives large blocks back to the system when they are freed, so resident memory follows
//! what the workers hold (240-260 MB with a 256 MiB budget, 142-147 MB with `--memory 128`),
//! and the memory budget means what it says.
//!
//! `tune` then sets glibc to one arena, blocks under 32 MiB from the heap (not a fresh mapping
//! each, which the kernel must zero), and the heap kept: freed blocks are reused, never given
//! back (no trimming; the heap grows 64 MiB at a time). Giving the heap's free top back past
//! 64 MiB, as before, made each photo fault its buffers in again, for little: peak RSS is
//! bounded by the most the workers hold at once (the budget) either way. On the 32 bench
//! photos, JPEG job: wall 1.16-1.24 -> 1.05-1.14 s, system CPU 0.38-0.49 -> 0.14-0.25 s, page
//! faults 160-221 k -> 43-44 k, peak RSS 192-209 -> 219-241 MB (free holes stay resident);
//! WebP job: wall -1.5 %, faults 107-149 k -> 35-39 k, peak RSS unchanged (171-201 MB).
//! `make bench-memory`: peak RSS still under every `--memory` (78 MiB at 128).

use std::alloc::{GlobalAlloc, Layout, System};

/// Set glibc's malloc for image work (see the module's text); a no-op elsewhere. Call once at
/// start, before any thread.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets glibc's allocation parameters; no thread allocates yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        // -1: never trim (mallopt(3)).
        libc::mallopt(libc::M_TRIM_THRESHOLD, -1);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}

/// Blocks of this size and more go to the system allocator.
pub const LARGE: usize = 256 << 10;

/// mimalloc below `LARGE` bytes, the system allocator from there on.
pub struct Split;

// SAFETY: every block is freed (and reallocated) by the allocator that made it, since a
// block's layout size, which picks the allocator, is the same at `alloc` and at `dealloc` as
// `GlobalAlloc` requires; a `realloc` that crosses `LARGE` moves the block between the two.
unsafe impl GlobalAlloc for Split {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE {
            System.alloc(layout)
        } else {
            mimalloc::MiMalloc.alloc(layout)
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE {
            System.alloc_zeroed(layout)
        } else {
            mimalloc::MiMalloc.alloc_zeroed(layout)
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() >= LARGE {
            System.dealloc(ptr, layout)
        } else {
            mimalloc::MiMalloc.dealloc(ptr, layout)
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        match (layout.size() >= LARGE, new_size >= LARGE) {
            (true, true) => System.realloc(ptr, layout, new_size),
            (false, false) => mimalloc::MiMalloc.realloc(ptr, layout, new_size),
            _ => {
                // SAFETY: `realloc`'s contract gives a valid alignment and a non-zero size
                // that does not overflow when rounded up to it.
                let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
                let new = self.alloc(new_layout);
                if !new.is_null() {
                    std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                new
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_keep_their_bytes_across_the_threshold() {
        let a = Split;
        unsafe {
            let small = Layout::from_size_align(1000, 8).unwrap();
            let p = a.alloc(small);
            assert!(!p.is_null());
            for i in 0..1000 {
                *p.add(i) = i as u8;
            }
            // Small -> large -> small: every move keeps the bytes that fit.
            let q = a.realloc(p, small, LARGE * 2);
            assert!(!q.is_null());
            assert!((0..1000).all(|i| *q.add(i) == i as u8));
            let large = Layout::from_size_align(LARGE * 2, 8).unwrap();
            let r = a.realloc(q, large, 500);
            assert!(!r.is_null());
            assert!((0..500).all(|i| *r.add(i) == i as u8));
            a.dealloc(r, Layout::from_size_align(500, 8).unwrap());
            let z = a.alloc_zeroed(large);
            assert!((0..LARGE * 2).step_by(4096).all(|i| *z.add(i) == 0));
            a.dealloc(z, large);
        }
    }
}
