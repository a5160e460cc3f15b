//! glibc `malloc` settings for streaming decode.
//!
//! Every file visit opens fresh FFmpeg decoders whose frame pools allocate a few MB and free
//! them when the file is done. With glibc's defaults, large blocks are `mmap`ed and unmapped
//! or the heap top is trimmed after each visit, so the next visit page-faults and zeroes the
//! same memory again (kernel `clear_page`, `malloc_consolidate` in the profiles). A fixed
//! 32 MiB `mmap` threshold and a 256 MiB trim threshold keep that memory in the heap for reuse:
//! the pipeline's samples per CPU-second rose ~10 % (docs/benchmarks.md, issue #5), and the
//! resident set stays bounded (by the trim threshold), not growing with files or epochs.
//! A user's `MALLOC_*`/`GLIBC_TUNABLES` environment still takes precedence.
#![allow(unsafe_code)]

/// Applies the settings unless the environment already tunes malloc.
pub fn tune() {
    let user_tuned = std::env::vars_os().any(|(k, _)| {
        let k = k.to_string_lossy();
        k.starts_with("MALLOC_") || k == "GLIBC_TUNABLES"
    });
    if user_tuned {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes allocator parameters; called once at start-up, before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
}
