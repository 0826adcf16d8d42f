//! The process's allocator: mimalloc, asked for plain blocks wherever
//! their natural alignment does.
//!
//! The `mimalloc` crate's `GlobalAlloc` sends every request through
//! `mi_malloc_aligned`, which costs about three times `mi_malloc` on the
//! small blocks batch paths allocate by the million (a case of `gavel sim`
//! is a dozen strings and lists: 47 instructions a block against 15).
//! `mi_malloc` returns blocks aligned to 16 bytes, and to their size below
//! that, so the aligned entry points are kept for what needs more: the
//! same test the standard library's `System` allocator makes before it
//! calls `malloc`.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The alignment `mi_malloc` gives any block at least this large
/// (`MI_MAX_ALIGN_SIZE`).
const PLAIN_ALIGN: usize = 16;

pub struct Mimalloc;

/// Whether a plain allocation of `layout.size()` bytes is aligned enough.
#[inline(always)]
fn plain(layout: Layout) -> bool {
    layout.align() <= PLAIN_ALIGN && layout.align() <= layout.size()
}

#[allow(
    unsafe_code,
    reason = "the global allocator: calls into mimalloc with the layouts Rust gives"
)]
// SAFETY: each function forwards to mimalloc's counterpart, which returns
// null on failure (as `GlobalAlloc` requires) and memory aligned to the
// layout: to 16 bytes and to the block's size below that for the plain
// calls (checked by `plain`), to `align` for the aligned ones. `dealloc`
// and `realloc` get pointers mimalloc returned (either kind: `mi_free`
// and `mi_realloc_aligned` take both).
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe {
            if plain(layout) {
                mi::mi_malloc(layout.size()).cast()
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe {
            if plain(layout) {
                mi::mi_zalloc(layout.size()).cast()
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe {
            let new = Layout::from_size_align_unchecked(new_size, layout.align());
            if plain(new) {
                mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every size and alignment Rust can ask for small blocks comes back
    /// aligned, whichever entry point serves it (a hundred blocks of each
    /// held at once, so not only the first of a page is looked at), and
    /// keeps its bytes through a reallocation.
    #[test]
    fn blocks_are_aligned_as_asked_and_keep_their_bytes() {
        let a = Mimalloc;
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            for size in [
                1, 2, 3, 4, 7, 8, 12, 15, 16, 17, 24, 31, 48, 100, 224, 1000, 70_000,
            ] {
                let layout = Layout::from_size_align(size, align).unwrap();
                #[allow(unsafe_code, reason = "exercising the allocator")]
                // SAFETY: non-zero sizes; each block freed once with its layout.
                unsafe {
                    let held: Vec<*mut u8> = (0..100).map(|_| a.alloc(layout)).collect();
                    for &p in &held {
                        assert!(!p.is_null());
                        assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    }
                    for p in held {
                        a.dealloc(p, layout);
                    }
                }
                #[allow(unsafe_code, reason = "exercising the allocator")]
                // SAFETY: non-zero sizes; the block is written within its
                // size, reallocated with its own layout, then freed once.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    for i in 0..size {
                        *p.add(i) = i as u8;
                    }
                    let q = a.realloc(p, layout, size * 3);
                    assert_eq!(q as usize % align, 0, "realloc size {size} align {align}");
                    for i in 0..size {
                        assert_eq!(*q.add(i), i as u8);
                    }
                    a.dealloc(q, Layout::from_size_align(size * 3, align).unwrap());
                    let z = a.alloc_zeroed(layout);
                    assert_eq!(z as usize % align, 0);
                    assert!((0..size).all(|i| *z.add(i) == 0));
                    a.dealloc(z, layout);
                }
            }
        }
    }
}
