//! Issue 18, "start-up proportional to the work": `iw` links no libtorch, so the commands that
//! need no tensors start with a few MB; the commands that do are handed to `iw-torch` beside it
//! (by exec: the same process, arguments and exit code).
use iw_test_support::cli::{stderr, Iw};
use std::path::Path;
use std::process::Command;

fn iw() -> Iw {
    Iw::new(env!("CARGO_BIN_EXE_iw"))
}

fn tiny_nifti(dir: &Path) -> std::path::PathBuf {
    let tiny = dir.join("tiny.nii");
    let v = iw_core::Volume::new(ndarray::Array3::<u8>::from_elem((8, 8, 8), 1), iw_core::Geometry::default());
    iw_io::write_volume(&tiny, &v).unwrap();
    tiny
}

#[test]
fn iw_links_no_libtorch_and_iw_torch_does() {
    let ldd = |exe: &Path| {
        let o = Command::new("ldd").arg(exe).output().expect("running ldd");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let iw_libs = ldd(iw().exe());
    for lib in ["libtorch", "libc10", "libcuda", "libcudart"] {
        assert!(!iw_libs.contains(lib), "iw must not link {lib}:\n{iw_libs}");
    }
    let torch = iw().exe().with_file_name("iw-torch");
    assert!(torch.is_file(), "{} is built beside iw", torch.display());
    let torch_libs = ldd(&torch);
    assert!(torch_libs.contains("libtorch_cpu") && !torch_libs.contains("not found"), "{torch_libs}");
}

#[test]
fn iw_info_runs_in_a_256_mib_address_space() {
    // libtorch alone maps more than 2 GiB of address space at start-up: the iw of before this
    // change could not start under 2 GiB at all.
    let dir = tempfile::tempdir().unwrap();
    let tiny = tiny_nifti(dir.path());
    for args in [vec!["info", tiny.to_str().unwrap()], vec!["--help"], vec!["--version"]] {
        let o = iw().run_limited(&args, 262144);
        assert!(o.status.success(), "iw {args:?} under ulimit -v 256 MiB: {}", stderr(&o));
    }
}

#[test]
fn tensor_commands_are_handed_to_iw_torch() {
    let o = iw()
        .command()
        .args(["model", "summary", "--width", "0.25", "--depth", "2", "--patch", "16,16,16"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("total parameters"));
    // Its errors keep iw's form and exit code.
    let o = iw().command().args(["train", "/nonexistent/e.yaml"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).starts_with("iw: error: ") && stderr(&o).contains("/nonexistent/e.yaml"), "{}", stderr(&o));
    // `--help` of a tensor command needs no libtorch: iw answers it.
    let o = iw().command().args(["train", "--help"]).env("IW_TORCH_EXE", "/nonexistent/iw-torch").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_missing_iw_torch_is_one_line_and_exit_2() {
    let o = iw().command().arg("doctor").env("IW_TORCH_EXE", "/nonexistent/iw-torch").output().unwrap();
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains("/nonexistent/iw-torch: not found") && e.contains("make build"), "{e}");
}
