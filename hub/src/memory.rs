//! Hands memory the allocator keeps but no longer uses back to the kernel.
//!
//! Frames come in bursts (every camera re-sends its spool when the broker comes back), and each
//! frame's decode and detector pyramid allocate tens of MiB across the worker threads. glibc keeps
//! what those bursts free inside its arenas: measured by `soak` (20 cameras, link cut every
//! 2 min), RSS stepped from 210 to 1277 MiB in 7 min while the bytes actually allocated stayed
//! flat; with a trim after each minute it stayed at 250-300 MiB. So the hub trims on a timer.
//! Elsewhere than glibc this is a no-op: other allocators return memory on their own terms.

use std::time::Duration;

/// How often the hub returns freed memory to the kernel.
pub const TRIM_EVERY: Duration = Duration::from_secs(30);

/// Returns the allocator's free pages to the kernel; true when any were returned.
///
/// Walks every arena under its lock, so it takes a few milliseconds on a large heap: call it
/// from a blocking thread, not from an async task.
pub fn release_free_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only gives free pages back; it touches no live allocation.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// Runs [`release_free_memory`] every [`TRIM_EVERY`] on a blocking thread, for the life of the
/// runtime.
pub fn spawn_periodic_trim() {
    tokio::spawn(async {
        let mut every = tokio::time::interval(TRIM_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match tokio::task::spawn_blocking(release_free_memory).await {
                Ok(released) => tracing::trace!(released, "freed memory returned to the kernel"),
                Err(error) => tracing::warn!(%error, "memory trim task failed"),
            }
        }
    });
}
