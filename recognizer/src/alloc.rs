//! Allocator tuning for the networks' large, short-lived tensors.
//!
//! Every layer output is a fresh buffer. With glibc's default policy every buffer above the
//! (dynamic) mmap threshold is a fresh `mmap`, so each pass over a large frame spends a third
//! of its time in page faults, zeroing memory the previous layer just returned (measured: the
//! fine scan level at 1056×608 went from ~440 ms to ~300 ms with the first three settings).
//! The mmap threshold can be raised to 32 MiB at most, and a 1080p frame's fine level has
//! 49 MB maps, so mmap is switched off altogether (`M_MMAP_MAX = 0`: a 64→128 pointwise layer
//! on 576×336 went from ~150 to ~65 ms). Freed memory stays in the heap (trim threshold, top
//! pad) so the buffers are reused. The price is that a worker's resident memory stays at its
//! peak instead of shrinking between frames.

use std::sync::Once;

static TUNED: Once = Once::new();

/// Applies the tuning once per process (glibc on Linux; a no-op elsewhere). Called by
/// [`crate::Recognizer::new`].
pub fn tune_allocator() {
    TUNED.call_once(apply);
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply() {
    const MMAP_THRESHOLD_MAX: libc::c_int = 32 << 20;
    const TOP_PAD: libc::c_int = 64 << 20;
    let settings = [
        (
            "M_MMAP_THRESHOLD",
            libc::M_MMAP_THRESHOLD,
            MMAP_THRESHOLD_MAX,
        ),
        ("M_TRIM_THRESHOLD", libc::M_TRIM_THRESHOLD, libc::c_int::MAX),
        ("M_TOP_PAD", libc::M_TOP_PAD, TOP_PAD),
        // Above the largest threshold: from the heap too, never a fresh mapping.
        ("M_MMAP_MAX", libc::M_MMAP_MAX, 0),
    ];
    for (name, param, value) in settings {
        // SAFETY: `mallopt` only changes allocator parameters; it is thread-safe in glibc and
        // takes plain integers.
        if unsafe { libc::mallopt(param, value) } != 1 {
            tracing::debug!(setting = name, value, "glibc refused an allocator setting");
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() {}
