//! MetaImage reader and writer against SimpleITK: files SimpleITK writes (every dtype, an
//! oblique direction, zlib .zraw, .mha with LOCAL data) are read by iw; files iw writes are read
//! by SimpleITK.
mod common;
use common::*;
use iw_core::DynVolume;
use iw_io::metaimage::{self, WriteOptions};
use iw_io::read_volume;
use std::path::{Path, PathBuf};

fn assert_matches_sitk(ours: &DynVolume, s: &serde_json::Value, what: &str) {
    assert_eq!(ours.shape_zyx(), shape(&s["shape_zyx"]), "{what}: shape");
    assert_eq!(ours.dtype().name(), s["dtype"].as_str().unwrap(), "{what}: dtype");
    let g = ours.geometry();
    for a in 0..3 {
        assert!(close(g.spacing_xyz_mm[a], f(&s["spacing_xyz"][a]), 1e-9), "{what}: spacing");
        assert!(close(g.origin_xyz_mm[a], f(&s["origin_xyz"][a]), 1e-9), "{what}: origin");
        for c in 0..3 {
            assert!(close(g.direction[a][c], f(&s["direction"][a * 3 + c]), 1e-9), "{what}: direction[{a}][{c}]");
        }
    }
    assert_stats(ours, s, what);
}

fn sitk_files() -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    reference(&["make-mhd", dir.path().to_str().unwrap()]);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("mhd" | "mha")))
        .collect();
    files.sort();
    assert!(files.len() >= 11);
    (dir, files)
}

#[test]
fn reads_what_simpleitk_writes() {
    let (_dir, files) = sitk_files();
    let refs = describe("sitk", &files);
    for (p, s) in files.iter().zip(&refs) {
        let ours = read_volume(p).unwrap_or_else(|e| panic!("{e}"));
        assert_matches_sitk(&ours, s, &p.display().to_string());
    }
}

#[test]
fn simpleitk_reads_what_iw_writes() {
    let (dir, files) = sitk_files();
    let mut pairs = Vec::new();
    for (i, p) in files.iter().enumerate() {
        let v = read_volume(p).unwrap();
        for (name, compress) in
            [(format!("w{i}.mhd"), false), (format!("wz{i}.mhd"), true), (format!("w{i}.mha"), false)]
        {
            let out = dir.path().join(name);
            iw_core::dispatch!(&v, x => metaimage::write(&out, x, WriteOptions { compress }).unwrap());
            pairs.push((p.clone(), out));
        }
    }
    assert!(dir.path().join("wz0.zraw").exists());
    let outs: Vec<PathBuf> = pairs.iter().map(|x| x.1.clone()).collect();
    let refs = describe("sitk", &outs);
    for ((orig, _), s) in pairs.iter().zip(&refs) {
        let ours = read_volume(orig).unwrap();
        assert_matches_sitk(&ours, s, &orig.display().to_string());
    }
}

fn write_text(p: &Path, s: &str) {
    std::fs::write(p, s).unwrap();
}

/// Big-endian data (ElementByteOrderMSB = True) and a detached file in another name.
#[test]
fn big_endian_and_detached_data_file() {
    let dir = tempfile::tempdir().unwrap();
    let vals: [i16; 8] = [1, -2, 300, -400, 5000, -6000, 7, 32767];
    let bytes: Vec<u8> = vals.iter().flat_map(|v| v.to_be_bytes()).collect();
    std::fs::write(dir.path().join("data.bin"), bytes).unwrap();
    let h = dir.path().join("be.mhd");
    write_text(&h, "ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\nElementType = MET_SHORT\nElementSpacing = 1 2 3\nOffset = 4 5 6\nElementByteOrderMSB = True\nElementDataFile = data.bin\n");
    let v = read_volume(&h).unwrap();
    let DynVolume::I16(v) = v else { panic!("int16 expected") };
    assert_eq!(v.data.iter().copied().collect::<Vec<_>>(), vals.to_vec());
    assert_eq!(v.geometry.spacing_xyz_mm, [1.0, 2.0, 3.0]);
    assert_eq!(v.geometry.origin_xyz_mm, [4.0, 5.0, 6.0]);
    // x varies fastest: voxel (x=1, y=0, z=0) is the second value.
    assert_eq!(v.data[[0, 0, 1]], -2);
    assert_eq!(v.data[[1, 0, 0]], 5000);
}

#[test]
fn bad_metaimages_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("short.mhd");
    std::fs::write(dir.path().join("short.raw"), [0u8; 10]).unwrap();
    write_text(&h, "NDims = 3\nDimSize = 4 4 4\nElementType = MET_SHORT\nElementDataFile = short.raw\n");
    let e = read_volume(&h).unwrap_err().to_string();
    assert!(e.contains("short.raw") && e.contains("10 of 128 bytes"), "{e}");

    let h = dir.path().join("type.mhd");
    write_text(&h, "NDims = 3\nDimSize = 1 1 1\nElementType = MET_FLOAT_ARRAY\nElementDataFile = LOCAL\n");
    let e = read_volume(&h).unwrap_err().to_string();
    assert!(e.contains("type.mhd") && e.contains("MET_FLOAT_ARRAY"), "{e}");

    let h = dir.path().join("nodata.mhd");
    write_text(&h, "NDims = 3\nDimSize = 1 1 1\n");
    let e = read_volume(&h).unwrap_err().to_string();
    assert!(e.contains("nodata.mhd") && e.contains("ElementDataFile"), "{e}");

    let h = dir.path().join("missing.mhd");
    write_text(&h, "NDims = 3\nDimSize = 1 1 1\nElementType = MET_UCHAR\nElementDataFile = gone.raw\n");
    let e = read_volume(&h).unwrap_err().to_string();
    assert!(e.contains("gone.raw"), "{e}");

    let h = dir.path().join("zlib.mhd");
    std::fs::write(dir.path().join("zlib.zraw"), b"not zlib at all").unwrap();
    write_text(
        &h,
        "NDims = 3\nDimSize = 2 2 2\nElementType = MET_UCHAR\nCompressedData = True\nElementDataFile = zlib.zraw\n",
    );
    let e = read_volume(&h).unwrap_err().to_string();
    assert!(e.contains("zlib.zraw") && e.contains("zlib"), "{e}");
}
