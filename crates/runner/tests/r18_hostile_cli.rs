//! Issue 18 end to end: `iw info` on every hostile input of `crates/io/tests/regressions` exits 2
//! with one line naming the file (no panic, no abort), under an address-space limit (`ulimit -v`)
//! only a little above what `iw info` needs for a tiny valid volume. Before the fix, the
//! 32767^3 NIfTI and the zlib bomb aborted (exit 134) and the 73-byte DICOM allocated 4.6 GB.
//! The per-read heap bound is measured exactly in crates/io/tests/r18_hostile.rs; this test
//! checks what a user sees.
use iw_test_support::cli::Iw;
use std::path::{Path, PathBuf};
use std::process::Output;

fn regressions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../io/tests/regressions")
}

fn iw() -> Iw {
    Iw::new(env!("CARGO_BIN_EXE_iw"))
}

/// `iw info PATH` under `ulimit -v limit_kib`.
fn info_limited(path: &Path, limit_kib: u64) -> Output {
    iw().run_limited(&[Path::new("info"), path], limit_kib)
}

#[test]
fn r18_hostile_inputs_exit_2_with_one_line_under_a_memory_limit() {
    // The smallest limit (on this grid) at which iw starts and reads a tiny volume (iw links no
    // libtorch: a few hundred MiB of address space at most).
    let dir = tempfile::tempdir().unwrap();
    let tiny = dir.path().join("tiny.nii");
    let v = iw_core::Volume::new(ndarray::Array3::<u8>::zeros((2, 2, 2)), iw_core::Geometry::default());
    iw_io::write_volume(&tiny, &v).unwrap();
    let base = iw().smallest_limit_kib(&[Path::new("info"), &tiny]);
    // 512 MiB of headroom: far below the gigabytes the inputs declare.
    let limit = base + 512 * 1024;
    let mut n = 0;
    for entry in std::fs::read_dir(regressions()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".py") || name.starts_with("fuzz-") {
            continue;
        }
        let o = info_limited(&path, limit);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: exit {:?} under ulimit -v {limit} KiB: {stderr}", o.status);
        assert_eq!(stderr.lines().count(), 1, "{name}: one line expected: {stderr}");
        assert!(stderr.starts_with("iw: error: ") && stderr.contains(&name), "{name}: {stderr}");
        n += 1;
    }
    assert!(n >= 15, "only {n} regression inputs found");
    println!("{n} hostile inputs: exit 2, one line, under ulimit -v {limit} KiB (iw needs {base} KiB)");
}

// See: issue 18, "'No such file or directory' printed twice".
#[test]
fn r18_missing_file_is_said_once() {
    let o = iw().run(&["info", "/nonexistent/r18.nii"]);
    let stderr = String::from_utf8_lossy(&o.stderr).to_ascii_lowercase();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr.matches("no such file").count(), 1, "{stderr}");
}
