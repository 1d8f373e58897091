//! Real scans: the CT (lung1, lung2) and MR (brain1, brain2, breast1) images with lesion labels
//! that pyradiomics 3.1.0's source distribution ships as NRRD, fetched by `make setup`
//! (scripts/fetch_pyradiomics.sh, pinned sha256) into test-data/ (git-ignored). Against
//! independent references (tests/golden/pyradiomics_reference.py): `iw info` and iw-io's reader
//! see SimpleITK's geometry and voxels in every file; `iw weights` of the real labels is cc3d's
//! components in METHOD.md's formula; `iw records` of the real labels and a blurred prediction
//! are lesion_records.py's (cc3d, vectorised); NRRD -> NIfTI -> NRRD keeps the voxels.
use iw_core::DynVolume;
use iw_test_support::cli::{ok, p, Iw};
use iw_test_support::pyradiomics_scan;
use std::path::{Path, PathBuf};
use std::process::Output;

const FILES: [&str; 10] = [
    "brain1_image",
    "brain1_label",
    "brain2_image",
    "brain2_label",
    "breast1_image",
    "breast1_label",
    "lung1_image",
    "lung1_label",
    "lung2_image",
    "lung2_label",
];
const LABELS: [&str; 5] = ["brain1_label", "brain2_label", "breast1_label", "lung1_label", "lung2_label"];

fn iw(args: &[&str]) -> Output {
    Iw::new(env!("CARGO_BIN_EXE_iw")).run(args)
}

fn reference(args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/pyradiomics_reference.py");
    iw_test_support::run_python(&script, args)
}

fn nums(v: &serde_json::Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn fmt3(v: [f64; 3]) -> String {
    format!("({:.6}, {:.6}, {:.6})", v[0], v[1], v[2])
}

fn line<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("no {key} line in\n{out}"))[14..].trim()
}

#[test]
fn info_and_reader_match_simpleitk_on_every_file() {
    let paths: Vec<PathBuf> = FILES.iter().map(|f| pyradiomics_scan(f)).collect();
    let mut args = vec!["describe"];
    args.extend(paths.iter().map(|x| p(x)));
    let refs: Vec<serde_json::Value> = serde_json::from_str(&reference(&args)).unwrap();
    for (path, s) in paths.iter().zip(&refs) {
        let what = path.display().to_string();
        let (sp, or, dir) = (nums(&s["spacing_xyz"]), nums(&s["origin_xyz"]), nums(&s["direction"]));
        let shape: Vec<usize> =
            s["shape_zyx"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect();
        // The reader: the same geometry to the last bits SimpleITK parses, the same voxels.
        let v = iw_io::read_volume(path).unwrap();
        assert_eq!(v.shape_zyx().to_vec(), shape, "{what}");
        assert_eq!(v.dtype().name(), s["dtype"].as_str().unwrap(), "{what}");
        let g = v.geometry();
        for a in 0..3 {
            assert!(
                (g.spacing_xyz_mm[a] - sp[a]).abs() <= 1e-12 * sp[a],
                "{what}: spacing {:?} vs {sp:?}",
                g.spacing_xyz_mm
            );
            assert!((g.origin_xyz_mm[a] - or[a]).abs() <= 1e-12 * or[a].abs().max(1.0), "{what}: origin");
            for c in 0..3 {
                assert_eq!(g.direction[a][c], dir[a * 3 + c], "{what}: direction");
            }
        }
        let st = v.value_stats();
        assert_eq!((st.min, st.max, st.sum), (f(&s["min"]), f(&s["max"]), f(&s["sum"])), "{what}: values");
        // `iw info`: the same numbers, printed.
        let out = ok(&iw(&["info", p(path)]));
        assert_eq!(line(&out, "format"), "NRRD", "{what}");
        assert_eq!(
            line(&out, "shape"),
            format!("{} x {} x {} (x, y, z; {} voxels)", shape[2], shape[1], shape[0], shape.iter().product::<usize>())
        );
        assert_eq!(line(&out, "spacing"), format!("{} mm (x, y, z)", fmt3([sp[0], sp[1], sp[2]])), "{what}");
        assert_eq!(line(&out, "origin"), format!("{} mm (x, y, z, LPS)", fmt3([or[0], or[1], or[2]])), "{what}");
        let col = |c: usize| fmt3([dir[c], dir[3 + c], dir[6 + c]]);
        assert_eq!(
            line(&out, "direction"),
            format!("x axis {}, y axis {}, z axis {} (LPS)", col(0), col(1), col(2)),
            "{what}"
        );
        assert!(line(&out, "values").starts_with(&format!("min {} max {} ", s["min"], s["max"]).replace(".0 ", " ")));
    }
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap()
}

#[test]
fn weights_of_the_real_labels_are_the_formula_on_cc3d_components() {
    let dir = tempfile::tempdir().unwrap();
    for name in LABELS {
        let out = dir.path().join(format!("{name}_w.nrrd"));
        let printed = ok(&iw(&["weights", p(&pyradiomics_scan(name)), p(&out)]));
        let r: serde_json::Value =
            serde_json::from_str(&reference(&["weights", p(&pyradiomics_scan(name)), p(&out)])).unwrap();
        assert!(r["shape_equal"].as_bool().unwrap(), "{name}");
        let k = r["components"].as_u64().unwrap();
        assert!(k >= 1, "{name}: a real label has a lesion");
        assert!(printed.starts_with(&format!("{k} components;")), "{name}: {printed}");
        // float32 weights of the float64 formula.
        assert!(f(&r["max_rel_diff"]) <= 6e-8, "{name}: {r}");
        // The weight map keeps the label's geometry.
        assert_eq!(
            iw_io::read_volume(&out).unwrap().geometry(),
            iw_io::read_volume(pyradiomics_scan(name)).unwrap().geometry()
        );
    }
}

#[test]
fn records_of_the_real_labels_match_the_cc3d_reference() {
    let dir = tempfile::tempdir().unwrap();
    for name in LABELS {
        let d = |n: &str| dir.path().join(format!("{name}_{n}"));
        reference(&["prediction", p(&pyradiomics_scan(name)), p(&d("prob.nrrd")), p(&d("logit.nrrd"))]);
        ok(&iw(&[
            "records",
            p(&pyradiomics_scan(name)),
            p(&d("prob.nrrd")),
            p(&d("logit.nrrd")),
            "--out",
            p(&d("ours.json")),
        ]));
        reference(&["records", p(&pyradiomics_scan(name)), p(&d("prob.nrrd")), p(&d("logit.nrrd")), p(&d("ref.json"))]);
        let ours = iw_metrics::read_records(&d("ours.json")).unwrap();
        let theirs = iw_metrics::read_records(&d("ref.json")).unwrap();
        let (a, b) = (ours.values().next().unwrap(), &theirs["0"]);
        assert_eq!(a.len(), b.len(), "{name}: records");
        assert!(a.iter().any(|r| !r.is_tum && r.hit_dice == 0.0), "{name}: the false positive");
        for (x, y) in a.iter().zip(b) {
            assert_eq!((&x.obj, x.is_tum, &x.hit_obj), (&y.obj, y.is_tum, &y.hit_obj), "{name}");
            for (k, u, v) in [
                ("diameter", x.diameter, y.diameter),
                ("hit_dice", x.hit_dice, y.hit_dice),
                ("hit_max", x.hit_max, y.hit_max),
                ("hit_median", x.hit_median, y.hit_median),
                ("hit_q95", x.hit_q95, y.hit_q95),
                ("hit_logit", x.hit_logit, y.hit_logit),
                ("self_stat", x.self_stat, y.self_stat),
                ("self_logit", x.self_logit, y.self_logit),
            ] {
                assert!(u == v || (u - v).abs() <= 1e-9 * u.abs().max(v.abs()), "{name} {}: {k} {u} vs {v}", x.obj);
            }
        }
    }
}

/// NRRD -> NIfTI -> NRRD: the voxels and their type exactly; the geometry to NIfTI-1's float32
/// precision (its header stores float32). NRRD -> NRRD keeps the geometry bit for bit.
#[test]
fn nrrd_nifti_nrrd_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    for name in FILES {
        let src = iw_io::read_volume(pyradiomics_scan(name)).unwrap();
        let nii = dir.path().join(format!("{name}.nii.gz"));
        let back = dir.path().join(format!("{name}.nrrd"));
        iw_io::write_dyn_volume(&nii, &src).unwrap();
        let mid = iw_io::read_volume(&nii).unwrap();
        iw_io::write_dyn_volume(&back, &mid).unwrap();
        let end = iw_io::read_volume(&back).unwrap();
        assert_same_voxels(&src, &end, name);
        let (a, b) = (src.geometry(), end.geometry());
        for i in 0..3 {
            assert!((a.spacing_xyz_mm[i] - b.spacing_xyz_mm[i]).abs() <= 1e-6 * a.spacing_xyz_mm[i], "{name}");
            assert!((a.origin_xyz_mm[i] - b.origin_xyz_mm[i]).abs() <= 1e-4, "{name}: {a:?} vs {b:?}");
            for c in 0..3 {
                assert!((a.direction[i][c] - b.direction[i][c]).abs() <= 1e-6, "{name}");
            }
        }
        let direct = dir.path().join(format!("{name}_direct.nrrd"));
        iw_io::write_dyn_volume(&direct, &src).unwrap();
        let again = iw_io::read_volume(&direct).unwrap();
        assert_same_voxels(&src, &again, name);
        assert_eq!(again.geometry(), src.geometry(), "{name}: NRRD -> NRRD");
    }
}

fn assert_same_voxels(a: &DynVolume, b: &DynVolume, what: &str) {
    assert_eq!(a.dtype(), b.dtype(), "{what}");
    assert_eq!(a.shape_zyx(), b.shape_zyx(), "{what}");
    assert!(a.to_f64().data.iter().zip(b.to_f64().data.iter()).all(|(x, y)| x == y), "{what}: voxels differ");
}
