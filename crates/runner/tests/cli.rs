//! The `iw` binary end to end: doctor, info, label, weights, and the bad-input contract (one
//! line naming the file, exit code 2, no panic, no output file left behind).
use iw_core::{DynVolume, Geometry, Volume};
use iw_io::{read_volume, write_volume};
use iw_test_support::cli::{stdout, Iw};
use ndarray::Array3;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn iw(args: &[&str]) -> Output {
    Iw::new(env!("CARGO_BIN_EXE_iw")).run(args)
}

fn mask_volume() -> Volume<u8> {
    let mut m = Array3::<u8>::zeros((6, 7, 8));
    m[[1, 1, 1]] = 1; // a 1-voxel lesion
    for z in 3..5 {
        for y in 3..6 {
            for x in 4..7 {
                m[[z, y, x]] = 2; // an 18-voxel lesion
            }
        }
    }
    let g = Geometry { spacing_xyz_mm: [0.8, 0.9, 2.5], origin_xyz_mm: [-10.0, 20.0, 30.0], ..Geometry::default() };
    Volume::new(m, g)
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

#[test]
fn doctor_reports_torch_and_cuda() {
    let o = iw(&["doctor"]);
    assert!(o.status.success());
    let s = stdout(&o);
    assert!(s.contains("libtorch      2.13.0"), "{s}");
    assert!(s.contains("cpu threads"), "{s}");
    // iw-torch asks libtorch; the test asks the driver's device nodes (no libtorch here).
    let cuda = iw_run::resources::nvidia_devices() > 0;
    assert!(s.contains(if cuda { "cuda          available" } else { "cuda          not available" }), "{s}");
    if !cuda {
        iw_test_support::announce(
            "doctor_reports_torch_and_cuda: skipped: no CUDA (device names are printed only on a GPU machine)",
        );
    }
}

/// The binary finds libtorch through its rpath: no LD_LIBRARY_PATH, no environment at all.
#[test]
fn runs_with_an_empty_environment() {
    let o = Command::new(env!("CARGO_BIN_EXE_iw")).arg("doctor").env_clear().output().expect("running iw");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains("libtorch      2.13.0"));
}

#[test]
fn info_label_weights_on_a_mask() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mask.nii.gz");
    write_volume(&input, &mask_volume()).unwrap();

    let o = iw(&["info", input.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = stdout(&o);
    assert!(s.contains("shape         8 x 7 x 6 (x, y, z"), "{s}");
    assert!(s.contains("spacing       (0.800000, 0.900000, 2.500000) mm (x, y, z)"), "{s}");
    assert!(s.contains("2 components (26-connected)") && s.contains("[18, 1]"), "{s}");

    for (ext, conn) in [("nii.gz", "26"), ("mhd", "6"), ("mha", "18")] {
        let out = dir.path().join(format!("labels.{ext}"));
        let o = iw(&["label", input.to_str().unwrap(), out.to_str().unwrap(), "--connectivity", conn]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(stdout(&o).contains("2 components"));
        let DynVolume::U8(l) = read_volume(&out).unwrap() else { panic!("uint8 labels expected") };
        assert_eq!(l.data[[1, 1, 1]], 1);
        assert_eq!(l.data[[4, 5, 6]], 2);
        assert_eq!(l.data.iter().filter(|&&v| v == 2).count(), 18);
        assert!((l.geometry.spacing_xyz_mm[2] - 2.5).abs() < 1e-6 && (l.geometry.origin_xyz_mm[1] - 20.0).abs() < 1e-6);
    }

    let out = dir.path().join("weights.nii");
    let o = iw(&["weights", input.to_str().unwrap(), out.to_str().unwrap(), "--w-max", "100"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let DynVolume::F32(w) = read_volume(&out).unwrap() else { panic!("float32 weights expected") };
    let n = 6.0 * 7.0 * 8.0;
    assert_eq!(w.data[[1, 1, 1]], 100.0); // n / (3 * 1) = 112 clipped to 100
    assert!((w.data[[4, 5, 6]] - (n / (3.0 * 18.0)) as f32).abs() < 1e-5);
    assert_eq!(w.data[[0, 0, 0]], 1.0); // background 336 / (3 * 317) < 1, clipped up to 1
}

/// Runs a failing command and checks the contract: exit 2, one stderr line naming `names`,
/// and no file (not even a temporary one) added to `dir`.
fn assert_clean_failure(args: &[&str], names: &str, dir: &Path) {
    let before = files_in(dir);
    let o = iw(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("iw: error: ") && err.contains(names), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(files_in(dir), before, "{args:?} left files behind");
}

fn nifti_bytes() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.nii");
    write_volume(&p, &mask_volume()).unwrap();
    std::fs::read(p).unwrap()
}

#[test]
fn bad_input_is_one_line_exit_2_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = nifti_bytes();
    let write = |name: &str, bytes: &[u8]| {
        let p = d.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_string()
    };
    let out = d.join("out.nii.gz");
    let out = out.to_str().unwrap();

    let missing = d.join("missing.nii");
    assert_clean_failure(&["label", missing.to_str().unwrap(), out], "missing.nii: no such file", d);

    let truncated_header = write("trunc_header.nii", &good[..100]);
    assert_clean_failure(&["label", &truncated_header, out], "trunc_header.nii: truncated header: 100 of 348 bytes", d);

    let mut bad = good.clone();
    bad[0..4].copy_from_slice(&1234i32.to_le_bytes());
    let corrupt = write("corrupt.nii", &bad);
    assert_clean_failure(&["weights", &corrupt, out], "corrupt.nii: not a NIfTI-1 file", d);

    let mut cplx = good.clone();
    cplx[70..72].copy_from_slice(&32i16.to_le_bytes()); // datatype = complex64
    let cplx = write("complex.nii", &cplx);
    assert_clean_failure(&["label", &cplx, out], "complex.nii: unsupported: NIfTI datatype code 32 (complex64)", d);

    let short = write("short.nii", &good[..good.len() - 10]);
    assert_clean_failure(&["label", &short, out], "short.nii: data ends after", d);

    let gz = write("bad.nii.gz", b"\x1f\x8b\x08\x00garbage that is not deflate");
    assert_clean_failure(&["info", &gz], "bad.nii.gz: corrupt gzip stream", d);

    std::fs::write(d.join("short.raw"), [0u8; 7]).unwrap();
    let mhd =
        write("short.mhd", b"NDims = 3\nDimSize = 2 2 2\nElementType = MET_USHORT\nElementDataFile = short.raw\n");
    assert_clean_failure(&["weights", &mhd, out], "short.raw: data ends after 7 of 16 bytes", d);

    let truncated_mhd = write("cut.mhd", b"NDims = 3\nDimSize = 2 2");
    assert_clean_failure(&["info", &truncated_mhd], "cut.mhd: no ElementDataFile", d);

    let unknown = write("volume.xyz", b"whatever");
    assert_clean_failure(&["info", &unknown], "volume.xyz: unknown format", d);

    let good_path = write("good.nii", &good);
    assert_clean_failure(
        &["label", &good_path, d.join("labels.png").to_str().unwrap()],
        "labels.png: unknown format",
        d,
    );
    assert_clean_failure(&["weights", &good_path, out, "--w-min", "5", "--w-max", "1"], "w_min <= w_max", d);
}
