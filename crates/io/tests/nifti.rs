//! NIfTI-1 reader and writer against nibabel, on real files no one here wrote (nibabel's test
//! data, TotalSegmentator's CT head atlas, nilearn's MNI T1 template) and on files nibabel
//! writes for every datatype, big-endian, scaled, oblique and NaN cases.
mod common;
use common::*;
use iw_core::{DType, DynVolume};
use iw_io::{read_volume, write_dyn_volume};
use std::path::PathBuf;

fn assert_matches_nibabel(ours: &DynVolume, nb: &serde_json::Value, what: &str) {
    assert_eq!(ours.shape_zyx(), shape(&nb["shape_zyx"]), "{what}: shape");
    let a = ours.geometry().affine_ras();
    for r in 0..4 {
        for c in 0..4 {
            let want = f(&nb["affine_ras"][r][c]);
            assert!(close(a[r][c], want, 1e-5), "{what}: affine[{r}][{c}] = {} vs nibabel {want}", a[r][c]);
        }
    }
    let raw = nb["raw_dtype"].as_str().unwrap();
    let want_dtype = if nb["scaled"].as_bool().unwrap() {
        if ["float64", "int32", "uint32", "int64", "uint64"].contains(&raw) {
            "float64"
        } else {
            "float32"
        }
    } else {
        raw
    };
    assert_eq!(ours.dtype().name(), want_dtype, "{what}: dtype");
    assert_stats(ours, nb, what);
}

fn nibabel_generated() -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    reference(&["make-nifti", dir.path().to_str().unwrap()]);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 15, "nibabel wrote {} files", files.len());
    (dir, files)
}

fn real_nifti_files() -> Vec<PathBuf> {
    let p = real_paths();
    let nb = PathBuf::from(p["nibabel_data"].as_str().unwrap());
    let mut files: Vec<PathBuf> =
        ["anatomical.nii", "standard.nii.gz", "reoriented_anat_moved.nii", "resampled_anat_moved.nii"]
            .iter()
            .map(|n| nb.join(n))
            .collect();
    files.push(PathBuf::from(p["totalseg_ct"].as_str().unwrap()));
    files.push(PathBuf::from(p["mni_t1"].as_str().unwrap()));
    for f in &files {
        assert!(f.exists(), "{} missing: run `make setup`", f.display());
    }
    files
}

#[test]
fn real_files_agree_with_nibabel() {
    let files = real_nifti_files();
    let refs = describe("nibabel", &files);
    for (path, nb) in files.iter().zip(&refs) {
        let ours = read_volume(path).unwrap_or_else(|e| panic!("{e}"));
        assert_matches_nibabel(&ours, nb, &path.display().to_string());
    }
    // The CT atlas is stored as int16.
    assert_eq!(read_volume(&files[4]).unwrap().dtype(), DType::I16);
}

#[test]
fn nibabel_written_files_agree() {
    let (_dir, files) = nibabel_generated();
    let refs = describe("nibabel", &files);
    let mut saw = (false, false, false);
    for (path, nb) in files.iter().zip(&refs) {
        let ours = read_volume(path).unwrap_or_else(|e| panic!("{e}"));
        assert_matches_nibabel(&ours, nb, &path.display().to_string());
        saw.0 |= nb["big_endian"].as_bool().unwrap();
        saw.1 |= nb["scaled"].as_bool().unwrap();
        saw.2 |= nb["nan_count"].as_u64().unwrap() > 0;
    }
    assert_eq!(saw, (true, true, true), "big-endian, scaled and NaN cases were all covered");
}

/// Every file read and written back (.nii and .nii.gz) reads the same in nibabel: data, and the
/// qform and sform with their codes.
#[test]
fn round_trip_preserves_qform_sform_and_values() {
    let (dir, mut files) = nibabel_generated();
    files.extend(real_nifti_files().into_iter().take(4));
    let mut written = Vec::new();
    for (i, path) in files.iter().enumerate() {
        let v = read_volume(path).unwrap();
        for ext in ["nii", "nii.gz"] {
            let out = dir.path().join(format!("rt_{i}.{ext}"));
            write_dyn_volume(&out, &v).unwrap();
            written.push((path.clone(), out));
        }
    }
    let originals: Vec<PathBuf> = written.iter().map(|(a, _)| a.clone()).collect();
    let copies: Vec<PathBuf> = written.iter().map(|(_, b)| b.clone()).collect();
    let a = describe("nibabel", &originals);
    let b = describe("nibabel", &copies);
    for ((orig, copy), (ra, rb)) in written.iter().zip(a.iter().zip(&b)) {
        let what = format!("{} -> {}", orig.display(), copy.display());
        for key in ["qform_code", "sform_code", "shape_zyx", "nan_count"] {
            assert_eq!(ra[key], rb[key], "{what}: {key}");
        }
        for key in ["qform", "sform", "affine_ras"] {
            for r in 0..4 {
                for c in 0..4 {
                    assert!(close(f(&rb[key][r][c]), f(&ra[key][r][c]), 1e-6), "{what}: {key}[{r}][{c}]");
                }
            }
        }
        assert!(close(f(&rb["sum"]), f(&ra["sum"]), 1e-6), "{what}: sum");
        // The written copy reads back identically in iw too.
        let (x, y) = (read_volume(orig).unwrap(), read_volume(copy).unwrap());
        assert_eq!(x.dtype(), y.dtype(), "{what}");
        assert_eq!(x.value_stats().sum.to_bits(), y.value_stats().sum.to_bits(), "{what}");
    }
}

#[test]
fn nifti2_and_4d_are_clear_errors() {
    let nb = PathBuf::from(real_paths()["nibabel_data"].as_str().unwrap().to_string());
    let e = read_volume(nb.join("example_nifti2.nii.gz")).unwrap_err().to_string();
    assert!(e.contains("example_nifti2.nii.gz") && e.contains("NIfTI-2"), "{e}");
    let e = read_volume(nb.join("example4d.nii.gz")).unwrap_err().to_string();
    assert!(e.contains("example4d.nii.gz") && e.contains("4-D"), "{e}");
}

/// A geometry that changed (a crop) is written as a fresh qform/sform pair that nibabel reads as
/// the new affine.
#[test]
fn changed_geometry_is_written_to_both_forms() {
    let (dir, files) = nibabel_generated();
    let path = files.iter().find(|p| p.ends_with("oblique_nan.nii.gz")).unwrap();
    let v = read_volume(path).unwrap().to_f32();
    let cropped_geom = v.geometry.cropped([1, 2, 3]);
    let crop = iw_core::Volume {
        data: v.data.slice(ndarray::s![1.., 2.., 3..]).to_owned(),
        geometry: cropped_geom.clone(),
        header: v.header.clone(),
    };
    let out = dir.path().join("crop.nii.gz");
    iw_io::write_volume(&out, &crop).unwrap();
    let nb = &describe("nibabel", std::slice::from_ref(&out))[0];
    let want = cropped_geom.affine_ras();
    for r in 0..3 {
        for c in 0..4 {
            assert!(close(f(&nb["sform"][r][c]), want[r][c], 1e-5), "sform[{r}][{c}]");
            assert!(close(f(&nb["qform"][r][c]), want[r][c], 1e-4), "qform[{r}][{c}]");
        }
    }
}

/// Headers that the `nifti` crate's affine code panics on (a negative pixdim, a qfac that is
/// neither 1 nor -1) are read the way nibabel repairs them on load.
#[test]
fn negative_pixdim_and_bad_qfac_read_like_nibabel() {
    let (dir, files) = nibabel_generated();
    let src = files.iter().find(|p| p.ends_with("qform_only_qfac.nii")).unwrap();
    let mut bytes = std::fs::read(src).unwrap();
    // pixdim[0] (qfac) at byte 76, pixdim[1] at byte 80 (little-endian float32).
    bytes[76..80].copy_from_slice(&0.5f32.to_le_bytes());
    bytes[80..84].copy_from_slice(&(-1.5f32).to_le_bytes());
    let patched = dir.path().join("patched.nii");
    std::fs::write(&patched, bytes).unwrap();
    let nb = &describe("nibabel", std::slice::from_ref(&patched))[0];
    let ours = read_volume(&patched).unwrap();
    assert_matches_nibabel(&ours, nb, "patched pixdim/qfac");
}
