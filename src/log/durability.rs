//! fsync that is never ignored, and how a full disk is recognised.
//!
//! PostgreSQL's "fsyncgate": after a failed fsync, Linux may drop the dirty pages it could not
//! write and report success to the next fsync, so a process that retries believes data durable
//! that is gone. Brooklet does not retry: a failed fsync of the log, of committed offsets or of
//! a checkpoint stops the process at once (exit status 70) with the file and the error; a
//! restart recovers from what is really on disk (checksums find a torn tail).
//!
//! Tests inject a failure with the environment variable `BROOKLET_FAULT_FSYNC_AFTER=N` (the
//! N+1-th fsync fails with EIO), read only by debug builds.

use std::fs::File;
use std::path::Path;

/// The exit status of a process stopped by a failed fsync (EX_SOFTWARE).
pub const FSYNC_FAILED_EXIT: i32 = 70;

/// Forces `file`'s data to disk, or stops the process.
pub fn fsync(file: &File, what: &Path) {
    if let Err(e) = injected().map_or_else(|| file.sync_data(), Err) {
        fatal(what, &e)
    }
}

/// [`fsync`] of the file or directory at `path` (a directory, after a rename in it).
pub fn fsync_path(path: &Path) {
    match File::open(path) {
        Ok(f) => fsync(&f, path),
        Err(e) => fatal(path, &e),
    }
}

fn fatal(what: &Path, e: &std::io::Error) -> ! {
    let msg = format!(
        "fsync of {} failed: {e}; stopping rather than risk acknowledging data the disk may have \
         dropped (a restart recovers from what is on disk)",
        what.display()
    );
    tracing::error!("{msg}");
    eprintln!("brooklet: {msg}");
    std::process::exit(FSYNC_FAILED_EXIT)
}

#[cfg(debug_assertions)]
fn injected() -> Option<std::io::Error> {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LEFT: AtomicI64 = AtomicI64::new(i64::MIN);
    let mut left = LEFT.load(Ordering::SeqCst);
    if left == i64::MIN {
        left = std::env::var("BROOKLET_FAULT_FSYNC_AFTER")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1);
        LEFT.store(left, Ordering::SeqCst);
    }
    if left < 0 {
        return None;
    }
    if LEFT.fetch_sub(1, Ordering::SeqCst) == 0 {
        return Some(std::io::Error::from_raw_os_error(5)); // EIO
    }
    None
}

#[cfg(not(debug_assertions))]
fn injected() -> Option<std::io::Error> {
    None
}

/// Whether an I/O error means the disk (or a quota) is full: the write can succeed later.
pub fn is_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}
