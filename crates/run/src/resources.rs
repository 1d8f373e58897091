//! What this machine can hold, and the checks that refuse, with an estimate, work that cannot
//! fit instead of letting the kernel kill it halfway (issue 18: a 512^3 training patch grew to
//! 23.5 GB before the OOM killer ended it without a word).
//!
//! The memory a command may use is the smallest of: the kernel's `MemAvailable`, the memory
//! cgroup's limit (v2 `memory.max`, v1 `memory.limit_in_bytes`) and the address-space limit
//! (`ulimit -v`). Where none can be read the checks pass.

/// Bytes as `12.3 GiB`.
pub fn human(bytes: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", units[i])
}

fn meminfo_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn cgroup_limit() -> Option<u64> {
    for f in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
        if let Ok(t) = std::fs::read_to_string(f) {
            // "max" (v2) or a huge number (v1, no limit) parse to None / a value above RAM.
            if let Ok(v) = t.trim().parse::<u64>() {
                return Some(v);
            }
        }
    }
    None
}

#[cfg(unix)]
fn address_space_limit() -> Option<u64> {
    let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we pass and has no other effect.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut r) } == 0;
    (ok && r.rlim_cur != libc::RLIM_INFINITY).then_some(r.rlim_cur)
}

#[cfg(not(unix))]
fn address_space_limit() -> Option<u64> {
    None
}

/// The memory this process may still use, if the system says.
pub fn available_memory() -> Option<u64> {
    [meminfo_available(), cgroup_limit(), address_space_limit()].into_iter().flatten().min()
}

/// An error naming `what` (a key or option), the estimate and what is available, when `need`
/// bytes exceed the memory available; `fix` says what to change.
pub fn check_fits(what: &str, need: f64, fix: &str) -> anyhow::Result<()> {
    check_fits_within(what, need, available_memory(), fix)
}

/// [`check_fits`] against a given amount (`None`: unknown, passes).
pub fn check_fits_within(what: &str, need: f64, available: Option<u64>, fix: &str) -> anyhow::Result<()> {
    match available {
        Some(a) if need > a as f64 => anyhow::bail!(
            "{what}: needs about {} of memory, this machine has {} available; {fix}",
            human(need),
            human(a as f64)
        ),
        _ => Ok(()),
    }
}

/// Keeps freed heap memory in the process for reuse (glibc `mallopt`): libtorch's CPU kernels
/// allocate and free the same large buffers (im2col, activations) at every step, and with glibc's
/// defaults each of them is a fresh `mmap` whose pages fault in again and are given back at
/// `free`. With a 1 GiB mmap threshold and no trimming the pages stay mapped. Measured on the CPU
/// scale's training (one thread, 80 steps): 9.5 s -> 8.8 s wall, system time 0.65 s -> 0.23 s
/// (BENCHMARKS.md). Numbers are unchanged: only where the bytes live differs. The resident size
/// stays at the peak, which training reaches at every step anyway. No effect off glibc. `iw-torch`
/// calls it first thing in `main`.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called before any other thread
    // starts and glibc serialises it against concurrent allocation.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_TOP_PAD, 256 << 20);
    }
}

/// The NVIDIA GPUs this process may use, found without libtorch: the driver's device nodes
/// `/dev/nvidia<N>`, limited by `CUDA_VISIBLE_DEVICES` as CUDA reads it (unset: all; empty or
/// starting with `-1`: none; else the entries before the first invalid one). A GPU libtorch
/// then cannot use (a driver too old for its CUDA) still counts; `iw doctor` tells.
pub fn nvidia_devices() -> usize {
    let nodes = std::fs::read_dir("/dev")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| {
                    let n = e.file_name();
                    let n = n.to_string_lossy();
                    n.strip_prefix("nvidia").is_some_and(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
                })
                .count()
        })
        .unwrap_or(0);
    match std::env::var("CUDA_VISIBLE_DEVICES") {
        Err(_) => nodes,
        Ok(v) => {
            let visible = v.split(',').map(str::trim).take_while(|e| !e.is_empty() && !e.starts_with('-')).count();
            visible.min(nodes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_does_not_fit_and_names_it() {
        let e = check_fits_within("training.patch", 3.0 * 1024f64.powi(4), Some(24 << 30), "use a smaller patch")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("training.patch: needs about 3.0 TiB of memory, this machine has 24.0 GiB"), "{e}");
        assert!(e.ends_with("use a smaller patch"));
        check_fits_within("x", 1e9, Some(2 << 30), "").unwrap();
        check_fits_within("x", 1e30, None, "").unwrap();
    }

    #[test]
    fn this_machine_reports_some_memory() {
        let a = available_memory().expect("Linux has /proc/meminfo");
        assert!(a > 1 << 20, "{a}");
    }
}
