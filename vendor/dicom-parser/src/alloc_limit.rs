//! iw patch (not upstream): a per-thread bound on value allocations.
//!
//! dicom-parser 0.10.1 and dicom-object 0.10.1 reserve the length an element *declares* before
//! reading it, so a 73-byte file can make them allocate 4 GiB (upstream's fix, dicom-rs PR
//! #819, is not released in 0.10.x). A reader that knows how many bytes its input holds calls
//! [`with_limit`]; inside it, every allocation sized by a declared length goes through
//! [`bounded`], which turns a count above the limit into `usize::MAX`, so the following
//! `try_reserve_exact` fails (capacity overflow) without allocating and the parser returns its
//! ordinary allocation error. No value can be longer than the input it is read from.
use std::cell::Cell;

thread_local! {
    static LIMIT: Cell<u64> = const { Cell::new(u64::MAX) };
}

/// Runs `f` with value allocations limited to `max_bytes` elements each on this thread.
pub fn with_limit<R>(max_bytes: u64, f: impl FnOnce() -> R) -> R {
    struct Restore(u64);
    impl Drop for Restore {
        fn drop(&mut self) {
            LIMIT.with(|l| l.set(self.0));
        }
    }
    let _restore = Restore(LIMIT.with(|l| l.replace(max_bytes)));
    f()
}

/// `n` when it is within the current limit, else `usize::MAX` (which no reservation satisfies).
pub fn bounded(n: usize) -> usize {
    if (n as u64) <= LIMIT.with(Cell::get) {
        n
    } else {
        usize::MAX
    }
}
