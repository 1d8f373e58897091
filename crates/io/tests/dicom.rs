//! DICOM against pydicom: real single and multi-frame files (pydicom's CT_small and MR_small,
//! pydicom-data's 512x512 CT, multi-frame MR and enhanced CT, RescaleSlope/Intercept stored with
//! VR UN), series that pydicom writes (shuffled file order, mixed series, a missing slice), and
//! the transfer syntaxes the crates cannot decode.
mod common;
use common::*;
use iw_io::read_volume;
use std::path::PathBuf;

fn real_dicom_files() -> Vec<PathBuf> {
    let p = real_paths();
    let store = PathBuf::from(p["pydicom_data"].as_str().unwrap());
    let mut files =
        vec![PathBuf::from(p["ct_small"].as_str().unwrap()), PathBuf::from(p["mr_small"].as_str().unwrap())];
    for n in [
        "693_UNCR.dcm",
        "emri_small.dcm",
        "emri_small_big_endian.dcm",
        "emri_small_RLE.dcm",
        "eCT_Supplemental.dcm",
        "explicit_VR-UN.dcm",
    ] {
        files.push(store.join(n));
    }
    files
}

#[test]
fn single_files_agree_with_pydicom() {
    let files = real_dicom_files();
    let refs = describe("pydicom", &files);
    for (p, r) in files.iter().zip(&refs) {
        let what = p.display().to_string();
        let ours = read_volume(p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ours.shape_zyx(), shape(&r["shape_zyx"]), "{what}: shape");
        if let Some(ps) = r["pixel_spacing_yx"].as_array() {
            let g = ours.geometry();
            assert!(
                close(g.spacing_xyz_mm[0], f(&ps[1]), 1e-9) && close(g.spacing_xyz_mm[1], f(&ps[0]), 1e-9),
                "{what}: spacing"
            );
        }
        if let Some(ipp) = r["ipp"].as_array() {
            if ours.shape_zyx()[0] == 1 {
                for a in 0..3 {
                    assert!(close(ours.geometry().origin_xyz_mm[a], f(&ipp[a]), 1e-9), "{what}: origin");
                }
            }
        }
        assert_stats(&ours, r, &what);
    }
}

/// pydicom-data's explicit_VR-UN.dcm stores RescaleIntercept with VR UN: it must still apply.
#[test]
fn rescale_with_vr_un_is_applied() {
    let p = PathBuf::from(real_paths()["pydicom_data"].as_str().unwrap()).join("explicit_VR-UN.dcm");
    let r = &describe("pydicom", std::slice::from_ref(&p))[0];
    let v = read_volume(&p).unwrap();
    assert!(f(&r["min"]) < 0.0, "the reference applied a negative intercept");
    assert!(close(v.value_stats().min, f(&r["min"]), 1e-9));
}

#[test]
fn series_sorted_by_position_and_bad_series_rejected() {
    let dir = tempfile::tempdir().unwrap();
    reference(&["make-series", dir.path().to_str().unwrap()]);
    let v = read_volume(dir.path().join("good")).unwrap();
    assert_eq!(v.shape_zyx(), [6, 128, 128]);
    let g = v.geometry();
    assert!(close(g.spacing_xyz_mm[2], 2.5, 1e-6), "slice spacing from positions: {:?}", g.spacing_xyz_mm);
    // Slice k was written with pixel values + 10 k, in shuffled file order: sorted by position,
    // the mean rises by 10 per slice.
    let f32v = v.to_f32();
    let means: Vec<f64> = (0..6)
        .map(|k| f32v.data.index_axis(ndarray::Axis(0), k).iter().map(|&x| x as f64).sum::<f64>() / (128.0 * 128.0))
        .collect();
    for k in 1..6 {
        assert!((means[k] - means[k - 1] - 10.0).abs() < 1e-6, "slice order: {means:?}");
    }
    let ct = read_volume(real_paths()["ct_small"].as_str().unwrap()).unwrap();
    assert_eq!(g.origin_xyz_mm, ct.geometry().origin_xyz_mm, "origin = first slice's position");

    let e = read_volume(dir.path().join("mixed")).unwrap_err().to_string();
    assert!(e.contains("mixed") && e.contains("mixed series"), "{e}");
    let e = read_volume(dir.path().join("gap")).unwrap_err().to_string();
    assert!(e.contains("gap") && e.contains("slice spacing varies"), "{e}");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let e = read_volume(&empty).unwrap_err().to_string();
    assert!(e.contains("empty") && e.contains("no DICOM"), "{e}");
}

#[test]
fn undecodable_transfer_syntaxes_are_named() {
    let p = real_paths();
    let store = PathBuf::from(p["pydicom_data"].as_str().unwrap());
    for (file, ts) in [
        (store.join("emri_small_jpeg_ls_lossless.dcm"), "JPEG-LS Lossless (1.2.840.10008.1.2.4.80)"),
        (PathBuf::from(p["jpeg_lossy"].as_str().unwrap()), "JPEG Extended (12-bit lossy) (1.2.840.10008.1.2.4.51)"),
    ] {
        let e = read_volume(&file).unwrap_err().to_string();
        assert!(e.contains(file.file_name().unwrap().to_str().unwrap()) && e.contains(ts), "{e}");
    }
}
