//! The hub's memory trim gives freed heap pages back to the kernel (glibc only).

#![cfg(all(target_os = "linux", target_env = "gnu"))]

/// Resident set of this process, KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS line")
}

#[test]
fn freed_blocks_below_the_top_of_the_heap_return_to_the_kernel() {
    // 64 KiB blocks sit below glibc's mmap threshold, so they come from the heap; keeping the
    // last one alive pins the top of the heap, so free() alone cannot shrink it.
    const BLOCK: usize = 64 * 1024;
    const BLOCKS: usize = 3200; // 200 MiB
    let mut blocks: Vec<Vec<u8>> = (0..BLOCKS).map(|i| vec![(i % 251) as u8; BLOCK]).collect();
    let pinned = blocks.pop();
    let touched = rss_kib();
    drop(blocks);
    let after_free = rss_kib();
    assert!(
        touched.saturating_sub(after_free) < 100 * 1024,
        "free() alone already returned the memory ({touched} → {after_free} KiB): the test proves nothing"
    );
    assert!(cavs_hub::memory::release_free_memory(), "nothing released");
    let after_trim = rss_kib();
    assert!(
        after_free.saturating_sub(after_trim) > 150 * 1024,
        "trim returned too little: {after_free} → {after_trim} KiB"
    );
    assert!(pinned.is_some_and(|b| b[0] == ((BLOCKS - 1) % 251) as u8));
}
